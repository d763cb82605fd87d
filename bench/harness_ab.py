"""Compare kernel-harness runs side by side: the mat-vec harness (bench/cuda_mmv_harness.cu) or the layer
harness (bench/cuda_layer_harness.cu).

usage: harness_ab.py LOG...   where each LOG is named [layer-]harness-SIDE-ROUND.log (SIDE: A, B, B0, B1, ..);
prints, per table row (mat-vec: type, shape and batch; layer: type, batch and what ran), the best time of each side
over its rounds and every side's speed against the first side named on the command line. Mat-vec rows give the
quantize + mat-vec and the mat-vec-only times, and a speed for each (an A/B of the quantization shows only in the
first); layer rows the us per layer.
"""
import collections
import sys


def side_of(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    for prefix in ("layer-harness-", "harness-"):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    return name.split("-")[0]


def main() -> None:
    # row key -> side -> [(times)]; a mat-vec row has 2 times (quant + mv, mv), a layer row 1
    res = collections.defaultdict(lambda: collections.defaultdict(list))
    sides = []
    for path in sys.argv[1:]:
        side = side_of(path)
        if side not in sides:
            sides.append(side)
        layer = path.rsplit("/", 1)[-1].startswith("layer-harness-")
        for line in open(path):
            cols = [c.strip() for c in line.strip().strip("|").split("|")]
            if not line.startswith("| TQ") or len(cols) < 5:
                continue  # not a row of a timing table
            if layer:
                # the sequence table (type, n, what, us, GB/s) or the step table (type, n, step, alone, ...): the
                # step's time alone
                key = (cols[0], cols[1], cols[2] if len(cols) == 5 else "alone: " + cols[2])
                res[key][side].append((float(cols[3]),))
                continue
            times = (float(cols[3]), float(cols[6])) if len(cols) >= 8 else (float(cols[3]),)
            res[(cols[0], cols[1], cols[2])][side].append(times)
    base = sides[0]
    matvec = any(len(t[0]) == 2 for by_side in res.values() for t in by_side.values())
    head = ["type", "shape", "n"] if matvec else ["type", "n", "row"]
    unit = "quant+mv / mv us" if matvec else "us"
    speed = " (quant+mv / mv)" if matvec else ""
    print("| " + " | ".join(head) + " | " + " | ".join(f"{s}: {unit}" for s in sides)
          + " | " + " | ".join(f"{s} vs {base}{speed}" for s in sides[1:]) + " |")
    print("|---" * (3 + 2*len(sides) - 1) + "|")
    for key, by_side in res.items():
        best = {s: [min(t[i] for t in by_side[s]) for i in range(len(by_side[s][0]))] for s in sides if by_side.get(s)}
        cells = [" / ".join(f"{x:.2f}" for x in best[s]) if s in best else "-" for s in sides]
        ratios = [" / ".join(f"{a/b:.3f}x" for a, b in zip(best[base], best[s])) if s in best and base in best else "-"
                  for s in sides[1:]]
        print(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(cells + ratios) + " |")


if __name__ == "__main__":
    main()
