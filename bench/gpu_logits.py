#!/usr/bin/env python3
"""Logits of Llama(n_gpu_layers=-1) against the CPU path for TQ models.

usage: gpu_logits.py [--split-mode none|layer|row|tensor] MODEL.gguf...
(needs llama_cpp importable and LLAMA_CPP_LIB_PATH set)
Prints, per model: positions compared, top-1 agreement, max |gpu-cpu| / max |cpu| and the mean of
the per-position relative L2 difference.

--split-mode: how the GPU run spreads the model over the visible GPUs (llama.cpp's split modes; default
none: one GPU). tensor (ggml's meta backend: each matrix split by rows or along K in whole blocks) needs
flash attention, so that run uses it; the CPU reference is the same in every mode.

The CPU reference runs in a child process with CUDA_VISIBLE_DEVICES="" (no CUDA device at all): with
a device present, n_gpu_layers=0 is not a CPU run, because llama.cpp offloads large-batch matrix
products of host weights to the GPU (op_offload) and keeps the KV cache there (offload_kqv). The CPU
path is upstream's CPU backend with our CPU kernels; the GPU path is ggml-cuda with the TQ kernels
(everything but the token embedding on the GPU).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import llama_cpp
from llama_cpp import Llama

TOKENS = [1] + [int(x) for x in np.random.default_rng(0).integers(3, 32000, 299)]
# Batches that reach every GPU path for the TQ matrices: 272 tokens (>= 256: dequantize + cuBLAS),
# 16 (int8 MMQ tiles), then 12 single tokens (decode mat-vec).
BATCHES = [TOKENS[:272], TOKENS[272:288]] + [[t] for t in TOKENS[288:]]


SPLIT_MODES = {"none": llama_cpp.LLAMA_SPLIT_MODE_NONE, "layer": llama_cpp.LLAMA_SPLIT_MODE_LAYER,
               "row": llama_cpp.LLAMA_SPLIT_MODE_ROW, "tensor": llama_cpp.LLAMA_SPLIT_MODE_TENSOR}


def run(path, ngl, split_mode="none"):
    llm = Llama(model_path=path, n_gpu_layers=ngl, n_ctx=512, n_batch=512, n_ubatch=512, logits_all=True,
                verbose=False, seed=0, split_mode=SPLIT_MODES[split_mode], flash_attn=split_mode == "tensor")
    for batch in BATCHES:
        llm.eval(batch)
    scores = np.array(llm.scores[: len(TOKENS)], dtype=np.float64)
    del llm
    return scores


def run_cpu(path):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cpu.npy")
        subprocess.run([sys.executable, __file__, "--cpu", path, out], check=True,
                       env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
        return np.load(out)


if __name__ == "__main__":
    if sys.argv[1] == "--cpu":
        np.save(sys.argv[3], run(sys.argv[2], 0))
        sys.exit(0)
    args = sys.argv[1:]
    split_mode = "none"
    if args[:1] == ["--split-mode"]:
        split_mode, args = args[1], args[2:]
        if split_mode not in SPLIT_MODES:
            sys.exit(f"gpu_logits.py: --split-mode {split_mode}: expected one of {', '.join(SPLIT_MODES)}")
    for path in args:
        cpu = run_cpu(path)
        gpu = run(path, -1, split_mode)
        top1 = float(np.mean(cpu.argmax(-1) == gpu.argmax(-1)))
        maxrel = float(np.abs(gpu - cpu).max() / np.abs(cpu).max())
        l2 = float(np.mean(np.linalg.norm(gpu - cpu, axis=-1) / np.linalg.norm(cpu, axis=-1)))
        top1_decode = float(np.mean(cpu[288:].argmax(-1) == gpu[288:].argmax(-1)))
        print(f"logits {path.split('/')[-1]} split={split_mode}: positions={len(TOKENS)} top1_agree={top1:.4f} "
              f"(single-token decode: {top1_decode:.4f}) max_rel_diff={maxrel:.3e} mean_rel_l2={l2:.3e}",
              flush=True)
