"""Benchmark: converter throughput and peak memory on a 1B-class synthetic TriLM.

    python bench/bench_convert.py [--layers 22] [--workdir /tmp/tqbench] [--out bench/results/convert-<date>.md]

Writes a synthetic checkpoint (fp16 safetensors, ternary-times-scale linear
weights with 2 model-parallel scale groups) shaped like a 1.1B Llama
(hidden 2048, intermediate 5632, 32 heads, vocab 32000), then measures, each
in its own process so peak RSS is that process's own:

1. packing: all linear weights, storage array -> TQ2_0 / TQ1_0 bytes,
   tq_gguf (exact trit/scale recovery + vectorised packing) against gguf-py's
   ``quants.quantize`` on the same weights as float32 (its own path);
2. the full conversion ``python -m tq_gguf.convert`` (wall time, peak RSS)
   against the largest tensor of the checkpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]

SHAPE = dict(hidden=2048, intermediate=5632, heads=32, kv_heads=32, vocab=32000)


def tensor_shapes(layers: int) -> dict[str, tuple[int, ...]]:
    h, f, v = SHAPE["hidden"], SHAPE["intermediate"], SHAPE["vocab"]
    kv = h * SHAPE["kv_heads"] // SHAPE["heads"]
    shapes = {"model.embed_tokens.weight": (v, h)}
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes.update({
            p + "input_layernorm.weight": (h,), p + "post_attention_layernorm.weight": (h,),
            p + "self_attn.q_proj.weight": (h, h), p + "self_attn.k_proj.weight": (kv, h),
            p + "self_attn.v_proj.weight": (kv, h), p + "self_attn.o_proj.weight": (h, h),
            p + "mlp.gate_proj.weight": (f, h), p + "mlp.up_proj.weight": (f, h), p + "mlp.down_proj.weight": (h, f),
        })
    shapes["model.norm.weight"] = (h,)
    shapes["lm_head.weight"] = (v, h)
    return shapes


def write_checkpoint(folder: Path, layers: int) -> None:
    """Stream a safetensors file tensor by tensor (never the whole model in memory)."""
    folder.mkdir(parents=True, exist_ok=True)
    shapes = tensor_shapes(layers)
    header, offset = {}, 0
    for name, shape in shapes.items():
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "F16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    rng = np.random.default_rng(0)
    with open(folder / "model.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for name, shape in shapes.items():
            if len(shape) == 1:
                data = np.ones(shape, dtype=np.float16)
            elif "embed" in name or "lm_head" in name:
                data = rng.standard_normal(shape, dtype=np.float32).astype(np.float16)
            else:
                trits = rng.integers(-1, 2, size=shape, dtype=np.int8)
                scales = np.repeat(rng.uniform(0.01, 0.03, size=2), shape[0] // 2).astype(np.float16)
                data = trits.astype(np.float16) * scales[:, None]
            f.write(data.tobytes())
    h = SHAPE["hidden"]
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": h,
        "intermediate_size": SHAPE["intermediate"], "num_hidden_layers": layers,
        "num_attention_heads": SHAPE["heads"], "num_key_value_heads": SHAPE["kv_heads"],
        "vocab_size": SHAPE["vocab"], "max_position_embeddings": 2048, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "torch_dtype": "float16",
    }
    (folder / "config.json").write_text(json.dumps(config))
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from convert_helpers import write_bpe_tokenizer

    write_bpe_tokenizer(folder, 1024)  # the vocab is padded to 32000 [PAD] tokens


PACK_SCRIPT = r"""
import json, sys, time
import numpy as np
from pathlib import Path
from tq_gguf.convert.checkpoint import index_tensors
impl, qname, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
sources = [s for s in index_tensors(folder).values() if s.name.endswith("proj.weight")]
n_weights = sum(s.n_elements for s in sources)
if impl == "gguf-py":
    from gguf import quants
    from gguf.constants import GGMLQuantizationType as T
    qtype = T[qname.upper()]
    start = time.perf_counter()
    for s in sources:
        packed = quants.quantize(s.load().astype(np.float32), qtype)
        s.release()
else:
    from gguf.constants import GGMLQuantizationType as T
    from tq_gguf.convert.llama import Role, TensorPlan
    from tq_gguf.convert.tensors import TensorConverter, TensorJob
    converter = TensorConverter(ternary_output=True)
    start = time.perf_counter()
    for s in sources:
        how, chunks = converter.convert(TensorJob(TensorPlan(s.name, s.name, Role.LINEAR, None), s, T[qname.upper()]))
        n_bytes = sum(chunk.nbytes for chunk in chunks)  # streamed: what the converter writes
        assert how == "exact"
        s.release()
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "weights": n_weights}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=22, help="number of blocks (22: 1.1B-class)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per measurement, best kept (default: 2)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/tq_gguf_bench_convert"))
    parser.add_argument("--out", type=Path, default=None, help="markdown report (default: bench/results/convert-<date>.md)")
    args = parser.parse_args()

    ckpt = args.workdir / f"synthetic-{args.layers}l"
    if not (ckpt / "model.safetensors").is_file():
        print(f"writing synthetic checkpoint to {ckpt} ...", flush=True)
        write_checkpoint(ckpt, args.layers)
    shapes = tensor_shapes(args.layers)
    n_params = sum(int(np.prod(s)) for s in shapes.values())
    largest = max(int(np.prod(s)) * 2 for s in shapes.values())

    rows = []
    for qname in ("tq2_0", "tq1_0"):
        results = {}
        for impl in ("gguf-py", "tq_gguf"):
            best = (0.0, 0)
            for _ in range(args.repeat):  # the machine is shared: keep each side's best run
                stdout, _, rss = run_with_rusage([sys.executable, "-c", PACK_SCRIPT, impl, qname, str(ckpt)])
                r = json.loads(stdout.strip().splitlines()[-1])
                best = max(best, (r["weights"] / r["seconds"], rss))
            results[impl] = best
            print(f"pack {qname} {impl}: {r['weights'] / r['seconds'] / 1e6:.1f} M weights/s, peak RSS {rss / 2**20:.0f} MiB", flush=True)
        rows.append((qname, results))

    out_gguf = args.workdir / "out.gguf"
    conv = {}
    for qname in ("tq2_0", "tq1_0"):
        runs = [
            run_with_rusage([sys.executable, "-m", "tq_gguf.convert", str(ckpt), str(out_gguf), "--outtype", qname, "--no-progress"])
            for _ in range(args.repeat)
        ]
        _, wall, rss = min(runs, key=lambda run: run[1])
        conv[qname] = (wall, rss, out_gguf.stat().st_size)
        print(f"convert {qname}: {wall:.1f} s, peak RSS {rss / 2**20:.0f} MiB, file {out_gguf.stat().st_size / 2**20:.0f} MiB", flush=True)
    out_gguf.unlink(missing_ok=True)

    report = args.out or REPO_ROOT / "bench" / "results" / f"convert-{time.strftime('%Y%m%d')}.md"
    lines = [
        "# Converter benchmark",
        "",
        f"Synthetic 1B-class TriLM checkpoint: {args.layers} blocks, hidden {SHAPE['hidden']}, intermediate "
        f"{SHAPE['intermediate']}, vocab {SHAPE['vocab']}, {n_params / 1e9:.2f} B parameters, fp16 safetensors "
        f"({(ckpt / 'model.safetensors').stat().st_size / 2**30:.2f} GiB); largest tensor {largest / 2**20:.0f} MiB.",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs, so numbers are noisy); "
        f"Python {platform.python_version()}, numpy {np.__version__}. Best of {args.repeat} runs each. Command: `python bench/bench_convert.py --layers {args.layers} --repeat {args.repeat}`.",
        "",
        "## Packing the linear weights (each run in its own process, file pages dropped after each tensor)",
        "",
        "| type | gguf-py `quants.quantize` (float32 in) | tq_gguf (exact recovery + pack) | speed-up | peak RSS gguf-py | peak RSS tq_gguf |",
        "|---|---|---|---|---|---|",
    ]
    for qname, results in rows:
        (g_rate, g_rss), (t_rate, t_rss) = results["gguf-py"], results["tq_gguf"]
        lines.append(
            f"| {qname.upper()} | {g_rate / 1e6:.1f} M weights/s | {t_rate / 1e6:.1f} M weights/s | {t_rate / g_rate:.1f}x "
            f"| {g_rss / 2**20:.0f} MiB | {t_rss / 2**20:.0f} MiB |"
        )
    lines += [
        "",
        "## Full conversion (`python -m tq_gguf.convert`, incl. vocab, embeddings to F16, writing)",
        "",
        "| type | wall time | throughput | peak RSS | peak RSS / largest tensor | output |",
        "|---|---|---|---|---|---|",
    ]
    for qname, (wall, rss, size) in conv.items():
        lines.append(
            f"| {qname.upper()} | {wall:.1f} s | {n_params / wall / 1e6:.0f} M params/s | {rss / 2**20:.0f} MiB "
            f"| {rss / largest:.2f} | {size / 2**20:.0f} MiB |"
        )
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("\n".join(lines) + "\n")
    print(f"report: {report}")


# Runs a module or script, then prints the process's own peak RSS (VmHWM, which
# exec resets, unlike getrusage's ru_maxrss that inherits the forking parent's).
MEASURE_WRAPPER = r"""
import runpy, sys
mode, target, *rest = sys.argv[1:]
sys.argv = [target, *rest]
try:
    if mode == "-m":
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        exec(compile(target, "<bench>", "exec"), {"__name__": "__main__"})
except SystemExit as e:
    if e.code not in (None, 0):
        raise
finally:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            print("PEAK_RSS_KIB", line.split()[1], file=sys.stderr)
"""


def run_with_rusage(cmd: list[str]) -> tuple[str, float, int]:
    """stdout, wall seconds and peak RSS in bytes of `python -m MOD ...` or `python -c CODE ...`."""
    env = dict(os.environ, TQ_GGUF_NO_ENV_CHECK="1", PYTHONPATH=str(REPO_ROOT))
    start = time.perf_counter()
    proc = subprocess.run([cmd[0], "-c", MEASURE_WRAPPER, *cmd[1:]], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[1:3])} failed:\n{proc.stderr}")
    peak = [int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("PEAK_RSS_KIB")]
    return proc.stdout, wall, peak[-1] * 1024


if __name__ == "__main__":
    main()
