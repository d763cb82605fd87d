#!/usr/bin/env python3
"""Write a synthetic Llama-architecture F16 GGUF (random weights) for speed benchmarks;
quantize it with llama-quantize to each type under test.

usage: make_synth_model.py PRESET OUT.gguf

Presets (synth_llama.SHAPES): trilm-1.1b, trilm-3.9b (Spectra TriLM shapes, CPU tables);
3b = 3072 / 8192 / 28 layers / 24 heads / 8 kv heads (3.02 B params), 8b = 4096 / 14336 / 32 /
32 / 8 (7.24 B), 13b = 5120 / 13824 / 40 / 40 / 40 (GPU tables, as in the baseline logs);
tiny. Vocab 32000. Random values come from one pool of N(0, 0.02) halves sliced at random
offsets: fast, and the kernels' speed does not depend on the values.
"""
import sys
from pathlib import Path

import gguf
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth_llama import SHAPES, write_llama  # noqa: E402

PRESETS = SHAPES  # callers may add presets here before main() (bench/gpu_bench.sh does)
N_VOCAB = 32000


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] not in PRESETS:
        sys.exit(f"usage: make_synth_model.py {{{','.join(PRESETS)}}} OUT.gguf")
    preset, out = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    pool = (rng.standard_normal(1 << 26, dtype=np.float32) * 0.02).astype(np.float16)

    def random_f16(w: gguf.GGUFWriter, name: str, rows: int, k: int, is_edge: bool) -> None:
        n = rows * k
        reps = -(-n // pool.size)
        off = int(rng.integers(0, pool.size))
        src = np.roll(pool, -off) if reps == 1 else np.tile(pool, reps)
        # a copy of the n values: a view would keep the whole rolled pool alive until the file is written
        w.add_tensor(name, np.array(src[:n].reshape(rows, k)))

    write_llama(Path(out), PRESETS[preset], f"synthetic-{preset}", N_VOCAB, random_f16,
                gguf.LlamaFileType.MOSTLY_F16)
    print("wrote", out)


if __name__ == "__main__":
    main()
