"""Static SASS opcode mix of the TQ mat-vec kernels in a `cuobjdump -sass` or `nvdisasm -c` listing.

usage: sass_mix.py LISTING [NAME_REGEX]   (default: tq_mmv_kernel instantiations)
Prints one table row per kernel (mangled name, instruction count) with its most frequent opcodes
(opcode without modifiers: IMAD.WIDE.U32 counts as IMAD), so that two decode variants can be
compared instruction by instruction, and the kernel's mma loop: the smallest loop (a backward branch)
that holds the most IMMA / HMMA instructions, i.e. the code a work item runs: where the block loop is
unrolled (the chunk-of-8 kernels), its count is the static proxy of the executed instructions per item;
where the compiler kept an inner loop (chunks of 4), it is not. Static counts: the executed mix comes from
ncu's sass__inst_executed_per_opcode (gpu_bench.sh profile).
"""
import collections
import re
import sys

INSTR = re.compile(r"\s*/\*([0-9a-f]{4,})\*/\s+(@!?U?P\w+\s+)?([A-Z][A-Z0-9_]*)(.*)")
LABEL = re.compile(r"\s*(\.L_x_\d+):")
# a branch target: an nvdisasm label `(.L_x_12) or a cuobjdump address 0x1230
TARGET = re.compile(r"`\((\.L_x_\d+)\)|\b(0x[0-9a-f]+)\b")


def mma_loop(code, labels):
    """(instructions, mma count) of the smallest backward-branch loop with the most mma instructions."""
    where = {addr: i for i, (addr, _, _) in enumerate(code)}
    best = (0, 0)
    for i, (_, op, rest) in enumerate(code):
        m = TARGET.search(rest) if op == "BRA" else None
        if not m:
            continue
        start = labels.get(m.group(1)) if m.group(1) else where.get(int(m.group(2), 16))
        if start is None or start > i:
            continue
        n_mma = sum(1 for _, o, _ in code[start:i + 1] if o in ("IMMA", "HMMA"))
        if n_mma > best[1] or (n_mma == best[1] and n_mma and i + 1 - start < best[0]):
            best = (i + 1 - start, n_mma)
    return best


def main() -> None:
    name_re = re.compile(sys.argv[2] if len(sys.argv) > 2 else r"tq_mmv_kernel")
    kernels = {}  # name -> (code [(address, opcode, rest)], labels {label: index})
    current = None
    for line in open(sys.argv[1], errors="replace"):
        # a kernel starts at "Function : NAME" (cuobjdump) or ".text.NAME:" (nvdisasm)
        m = re.match(r"\s*Function : (\S+)", line) or re.match(r"\.text\.(\S+):", line)
        if m:
            current = m.group(1) if name_re.search(m.group(1)) else None
            if current:
                kernels[current] = ([], {})
            continue
        if not current:
            continue
        code, labels = kernels[current]
        m = LABEL.match(line)
        if m:
            labels[m.group(1)] = len(code)
            continue
        m = INSTR.match(line)
        if m:
            code.append((int(m.group(1), 16), m.group(3), m.group(4)))
    print("| kernel | instructions | mma loop: instructions / mma | top opcodes |")
    print("|---|---|---|---|")
    for name, (code, labels) in kernels.items():
        ops = collections.Counter(op for _, op, _ in code)
        top = ", ".join(f"{op} {n}" for op, n in ops.most_common(16))
        n_loop, n_mma = mma_loop(code, labels)
        print(f"| {name} | {len(code)} | {n_loop} / {n_mma} | {top} |")


if __name__ == "__main__":
    main()
