#!/usr/bin/env python3
"""Where a generated token's GPU time goes, from a trace of `llama-bench -p 0 -n N`.

usage: gpu_timeline.py nsys TRACE.csv TOKENS   (nsys stats -r cuda_gpu_trace -f csv, or the same columns
                                               from bench/cupti_trace.cpp)
       gpu_timeline.py ncu  METRICS.csv TOKENS (ncu --csv --metrics gpu__time_duration.sum)

nsys: a token ends with the device-to-host copy of its logits, so the last TOKENS-1 copies delimit
TOKENS-1 whole tokens; per token it prints the wall span, the time the GPU ran kernels (union of
kernel intervals), the idle rest, and by kernel name (top 15) the kernel time and the critical-path
time: how far each kernel moved the end of the busy time past every kernel before it (with
programmatic dependent launch a kernel starts before its predecessor ends, so its duration includes
waiting; the critical-path times add up to the busy time). Then the kernels of one layer of the last
token in order: start, duration and the gap after the previous kernel's end. ncu serialises kernels,
so there only the kernel time per token (all kernels / TOKENS) and its split by name are printed.
"""
import csv
import os
import re
import sys
from collections import defaultdict


def short(name: str) -> str:
    name = re.sub(r"\(.*", "", name)         # drop argument lists
    name = re.sub(r"^void ", "", name)
    name = re.sub(r"<.*", "", name)          # drop template arguments
    return name.split("::")[-1][:48]


def report(per_name: dict, ntok: int, total_ns: float, crit: dict = None) -> None:
    head = f"{'kernel':48s} {'us/token':>9s} {'calls/token':>11s} {'share':>6s}"
    print(head + (f" {'critical us/token':>17s}" if crit else ""))
    for name, (ns, calls) in sorted(per_name.items(), key=lambda kv: -kv[1][0])[:15]:
        row = f"{name:48s} {ns/ntok/1e3:9.1f} {calls/ntok:11.1f} {100*ns/total_ns:5.1f}%"
        print(row + (f" {crit[name]/ntok/1e3:17.1f}" if crit else ""))


def layer_sequence(seg: list, count: int) -> None:
    """The `count` kernels from the middle of the last token: start (us, from the first), duration and
    the gap to the end of every kernel before it (negative: it started before that end, PDL)."""
    kernels = [e for e in seg if not e[2].startswith("[CUDA")]
    mid = len(kernels) // 2
    part = kernels[mid:mid + count]
    if not part:
        return
    t0, end = part[0][0], kernels[mid - 1][0] + kernels[mid - 1][1] if mid > 0 else part[0][0]
    print(f"\n{count} kernels from the middle of the last token (us): start, duration, gap after the previous end")
    for s, d, name in part:
        print(f"  {(s - t0)/1e3:8.2f} {d/1e3:7.2f} {(s - end)/1e3:+7.2f}  {short(name)}")
        end = max(end, s + d)


def from_nsys(path: str, ntok: int) -> None:
    rows = list(csv.DictReader(open(path)))
    start_k = next(k for k in rows[0] if k.startswith("Start"))
    dur_k = next(k for k in rows[0] if k.startswith("Duration"))
    ev = sorted((float(r[start_k]), float(r[dur_k]), r["Name"]) for r in rows)
    d2h = [i for i, e in enumerate(ev) if "Device-to-Host" in e[2] or "DtoH" in e[2]]
    if len(d2h) < ntok:
        sys.exit(f"only {len(d2h)} device-to-host copies for {ntok} tokens")
    first, last = d2h[-ntok], d2h[-1]  # whole tokens: after copy `first` up to and including `last`
    seg = ev[first + 1:last + 1]
    n = ntok - 1
    span = seg[-1][0] + seg[-1][1] - (ev[first][0] + ev[first][1])
    busy, end = 0.0, -1.0
    per_name = defaultdict(lambda: [0.0, 0])
    crit = defaultdict(float)
    ktotal = 0.0
    for s, d, name in seg:
        if name.startswith("[CUDA"):
            continue
        busy += max(0.0, s + d - max(s, end))
        crit[short(name)] += max(0.0, s + d - max(s, end))
        end = max(end, s + d)
        per_name[short(name)][0] += d
        per_name[short(name)][1] += 1
        ktotal += d
    print(f"per token: {span/n/1e3:.1f} us wall, {busy/n/1e3:.1f} us GPU busy, {ktotal/n/1e3:.1f} us kernel sum, "
          f"{sum(c for _, c in per_name.values())/n:.0f} kernels")
    print(f"idle: {(span - busy)/n/1e3:.1f} us per token ({100*(span - busy)/span:.0f}% of the wall span)")
    report(per_name, n, ktotal, crit)
    layer_sequence(ev[d2h[-2] + 1:last], int(os.environ.get("TL_SEQ", "40")))


def from_ncu(path: str, ntok: int) -> None:
    lines = [l for l in open(path) if l.startswith('"')]
    rows = list(csv.DictReader(lines))
    per_name = defaultdict(lambda: [0.0, 0])
    total = 0.0
    for r in rows:
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        v = float(r["Metric Value"].replace(",", ""))
        scale = {"nsecond": 1, "usecond": 1e3, "msecond": 1e6}.get(r.get("Metric Unit", "nsecond"), 1)
        name = short(r["Kernel Name"])
        per_name[name][0] += v*scale
        per_name[name][1] += 1
        total += v*scale
    print(f"per token: {total/ntok/1e3:.1f} us kernel sum (ncu: kernels serialised, no idle time)")
    report(per_name, ntok, total)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("nsys", "ncu"):
        sys.exit(__doc__)
    (from_nsys if sys.argv[1] == "nsys" else from_ncu)(sys.argv[2], int(sys.argv[3]))
