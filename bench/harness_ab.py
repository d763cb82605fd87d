"""Compare harness runs (bench/cuda_mmv_harness.cu tables) side by side.

usage: harness_ab.py LOG...   where each LOG is named harness-SIDE-*.log; prints, per type, shape and
batch, the fastest quantize+mat-vec and mat-vec-only times of each side and the mat-vec-only speedup of
every side against the first side named on the command line.
"""
import collections
import sys


def main() -> None:
    res = collections.defaultdict(lambda: collections.defaultdict(list))
    sides = []
    for path in sys.argv[1:]:
        side = path.rsplit("/", 1)[-1].split("-")[1]
        if side not in sides:
            sides.append(side)
        for line in open(path):
            cols = [c.strip() for c in line.strip().strip("|").split("|")]
            if not line.startswith("| TQ") or len(cols) < 8:
                continue  # not a row of the per-shape table
            res[(cols[0], cols[1], cols[2])][side].append((float(cols[3]), float(cols[6])))
    base = sides[0]
    print("| type | shape | n | " + " | ".join(f"{s}: quant+mv / mv us" for s in sides)
          + " | " + " | ".join(f"mv {s} vs {base}" for s in sides[1:]) + " |")
    print("|---" * (3 + 2*len(sides) - 1) + "|")
    for key, by_side in res.items():
        best = lambda s, i: min(x[i] for x in by_side[s]) if by_side.get(s) else float("nan")
        cells = [f"{best(s, 0):.2f} / {best(s, 1):.2f}" for s in sides]
        ratios = [f"{best(base, 1)/best(s, 1):.2f}x" for s in sides[1:]]
        print(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(cells + ratios) + " |")


if __name__ == "__main__":
    main()
