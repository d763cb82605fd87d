"""Compare layer-harness runs (bench/cuda_layer_harness.cu tables) side by side.

usage: layer_ab.py LOG...   where each LOG is named layer-harness-SIDE-ROUND.log (SIDE: A, B0, B1, ..);
prints, per type, batch and row (the sequence, each step alone, the read ceiling), the best time of each side
over its rounds in us per layer and each side's speed against side A. The environment of each B side is in the
summary lines of gpu_bench.sh's harness-layer stage.
"""
import collections
import sys


def main() -> None:
    res = collections.defaultdict(lambda: collections.defaultdict(list))
    sides = []
    for path in sys.argv[1:]:
        side = path.rsplit("/", 1)[-1].split("-")[2]
        if side not in sides:
            sides.append(side)
        for line in open(path):
            cols = [c.strip() for c in line.strip().strip("|").split("|")]
            if not line.startswith("| TQ") or len(cols) < 5:
                continue
            res[(cols[0], cols[1], cols[2])][side].append(float(cols[3]))
    base = sides[0]
    print("| type | n | row | " + " | ".join(f"{s} us" for s in sides)
          + " | " + " | ".join(f"{s} vs {base}" for s in sides[1:]) + " |")
    print("|---" * (3 + 2*len(sides) - 1) + "|")
    for key, by_side in res.items():
        best = {s: min(by_side[s]) for s in sides if by_side.get(s)}
        cells = [f"{best[s]:.2f}" if s in best else "-" for s in sides]
        ratios = [f"{best[base]/best[s]:.3f}x" if s in best and base in best else "-" for s in sides[1:]]
        print(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(cells + ratios) + " |")


if __name__ == "__main__":
    main()
