#!/usr/bin/env python3
"""Logits of Llama(n_gpu_layers=-1) against the CPU path (n_gpu_layers=0) for TQ models.

usage: gpu_logits.py MODEL.gguf...    (needs llama_cpp importable and LLAMA_CPP_LIB_PATH set)
Prints, per model: positions compared, top-1 agreement, max |gpu-cpu| / max |cpu| and the mean of
the per-position relative L2 difference. The CPU path is upstream's CPU backend (+ our CPU kernels);
the GPU path is ggml-cuda with the TQ kernels: everything but the token embedding runs on the GPU.
"""
import sys
import numpy as np
from llama_cpp import Llama

TOKENS = [1] + [int(x) for x in np.random.default_rng(0).integers(3, 32000, 95)]


def run(path, ngl):
    llm = Llama(model_path=path, n_gpu_layers=ngl, n_ctx=256, n_batch=128, logits_all=True,
                verbose=False, seed=0)
    llm.eval(TOKENS)
    scores = np.array(llm.scores[: len(TOKENS)], dtype=np.float64)
    del llm
    return scores


for path in sys.argv[1:]:
    cpu = run(path, 0)
    gpu = run(path, -1)
    top1 = float(np.mean(cpu.argmax(-1) == gpu.argmax(-1)))
    maxrel = float(np.abs(gpu - cpu).max() / np.abs(cpu).max())
    l2 = float(np.mean(np.linalg.norm(gpu - cpu, axis=-1) / np.linalg.norm(cpu, axis=-1)))
    print(f"logits {path.split('/')[-1]}: positions={len(TOKENS)} top1_agree={top1:.4f} "
          f"max_rel_diff={maxrel:.3e} mean_rel_l2={l2:.3e}", flush=True)
