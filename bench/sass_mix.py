"""Static SASS opcode mix of the TQ mat-vec kernels in a `cuobjdump -sass` or `nvdisasm -c` listing.

usage: sass_mix.py LISTING [NAME_REGEX]   (default: tq_mmv_kernel instantiations)
Prints one table row per kernel (mangled name, instruction count) with its most frequent opcodes
(opcode without modifiers: IMAD.WIDE.U32 counts as IMAD), so that two decode variants can be
compared instruction by instruction. Static counts: the executed mix comes from ncu's
sass__inst_executed_per_opcode (gpu_bench.sh profile).
"""
import collections
import re
import sys


def main() -> None:
    name_re = re.compile(sys.argv[2] if len(sys.argv) > 2 else r"tq_mmv_kernel")
    kernels = {}
    current = None
    for line in open(sys.argv[1], errors="replace"):
        # a kernel starts at "Function : NAME" (cuobjdump) or ".text.NAME:" (nvdisasm)
        m = re.match(r"\s*Function : (\S+)", line) or re.match(r"\.text\.(\S+):", line)
        if m:
            current = m.group(1) if name_re.search(m.group(1)) else None
            if current:
                kernels[current] = collections.Counter()
            continue
        m = re.match(r"\s*/\*[0-9a-f]{4,}\*/\s+(@!?U?P\w+\s+)?([A-Z][A-Z0-9_]*)", line)
        if current and m:
            kernels[current][m.group(2)] += 1
    print("| kernel | instructions | top opcodes |")
    print("|---|---|---|")
    for name, ops in kernels.items():
        top = ", ".join(f"{op} {n}" for op, n in ops.most_common(16))
        print(f"| {name} | {sum(ops.values())} | {top} |")


if __name__ == "__main__":
    main()
