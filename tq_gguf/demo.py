"""The whole pipeline on the shipped tiny TriLM, with nothing downloaded:

    train-time checkpoint (tq_gguf/models/tiny-trilm) -> converter -> GGUF (F16, TQ2_0, TQ1_0)
    -> llama_cpp.Llama -> text, perplexity and speed, side by side with transformers.

Entry point: main(argv) (wired as `python -m tq_gguf demo`). Perplexity is measured on the
shipped held-out text (heldout.txt, never trained on) with identical token ids and windows
on both back ends (see tq_gguf.trilm.evaluate). tokens/s: "prompt" is batched evaluation of
the perplexity windows, "gen" is one-token-at-a-time greedy decoding.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_TYPES = ("f16", "tq2_0", "tq1_0")
DEFAULT_PROMPT = "    def __init__(self"


def parse_args(argv) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tq_gguf demo", description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", type=Path, default=None, help="TriLM checkpoint folder (default: the shipped tiny TriLM)")
    p.add_argument("--out-dir", type=Path, default=None, help="where the GGUF files go (default: a temporary folder, removed afterwards)")
    p.add_argument("--types", default=",".join(DEFAULT_TYPES), help="comma-separated GGUF types to build and compare")
    p.add_argument("--prompt", default=DEFAULT_PROMPT)
    p.add_argument("--max-tokens", type=int, default=32, help="tokens to generate greedily")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for llama.cpp and torch (default: all)")
    p.add_argument("--heldout", type=Path, default=None, help="text for perplexity (default: the checkpoint's heldout.txt)")
    p.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    return p.parse_args(argv)


def step(i: int, n: int, msg: str) -> None:
    print(f"[{i}/{n}] {msg}", flush=True)


def progress_bar(desc: str):
    from tqdm import tqdm

    return lambda items: tqdm(items, desc=f"      {desc}", unit="window", leave=False, file=sys.stdout)


def human_size(n: int) -> str:
    return f"{n / 2**20:.2f} MiB" if n >= 2**20 else f"{n / 1024:.0f} KiB"


def show(tok, ids: list[int]) -> str:
    return repr(tok.decode(ids))


def format_table(rows: list[dict], ref_ppl: float) -> str:
    head = ("model", "file size", "bpw lin", "bpw all", "prompt tok/s", "gen tok/s", "perplexity", "vs HF")
    lines = [head]
    for r in rows:
        rel = (r["ppl"] - ref_ppl) / ref_ppl
        lines.append((r["name"], human_size(r["size"]), f"{r['bpw_linear']:.2f}", f"{r['bpw_all']:.2f}",
                      f"{r['prompt_tps']:.0f}", f"{r['gen_tps']:.1f}", f"{r['ppl']:.3f}",
                      "ref" if r["name"].startswith("transformers") else f"{rel:+.2%}"))
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    fmt = lambda row: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
    return "\n".join([fmt(lines[0]), "  ".join("-" * w for w in widths)] + [fmt(r) for r in lines[1:]])


def run(args) -> dict:
    import torch
    from tokenizers import Tokenizer

    from tq_gguf.convert import convert_checkpoint
    from tq_gguf.trilm import compare
    from tq_gguf.trilm.evaluate import load_heldout_ids, token_windows

    types = [t.strip() for t in args.types.split(",") if t.strip()]
    ckpt = args.checkpoint or compare.SHIPPED_CHECKPOINT
    n_steps = 3 + len(types)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = json.loads((ckpt / "config.json").read_text())
    n_ctx = cfg["max_position_embeddings"]
    tok = Tokenizer.from_file(str(ckpt / "tokenizer.json"))
    ids = load_heldout_ids(ckpt, args.heldout)
    windows = token_windows(ids, n_ctx)
    prompt_ids = tok.encode(args.prompt).ids

    step(1, n_steps, f"checkpoint {ckpt}: {cfg['num_hidden_layers']} layers, hidden {cfg['hidden_size']}, "
         f"vocab {cfg['vocab_size']}; held-out text {len(ids)} tokens -> {len(windows)} windows of {n_ctx}")
    model = compare.load_transformers(ckpt)
    n_params = sum(p.numel() for p in model.parameters())
    n_linear = sum(p.numel() for n, p in model.named_parameters() if ".layers." in n and p.dim() == 2)

    out_dir = args.out_dir or Path(tempfile.mkdtemp(prefix="tq_gguf_demo_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    step(2, n_steps, f"converting to {', '.join(t.upper() for t in types)} in {out_dir}")
    ggufs = {}
    for t in types:
        path = out_dir / f"tiny-trilm.{t}.gguf"
        summary = convert_checkpoint(ckpt, path, outtype=t, progress=True)
        ggufs[t] = (path, summary)
        print(f"      {t.upper():6s} {human_size(path.stat().st_size):>10s}  ({summary.seconds:.1f} s)", flush=True)

    step(3, n_steps, "transformers (float32) on the checkpoint: perplexity and greedy generation")
    ppl_hf, tps_hf = compare.transformers_perplexity_timed(model, windows, progress_bar("transformers"))
    gen_hf, gen_tps_hf = compare.transformers_greedy(model, prompt_ids, args.max_tokens)
    st = ckpt / "model.safetensors"
    rows = [dict(name="transformers (HF ckpt)", size=st.stat().st_size, bpw_linear=16.0,
                 bpw_all=8 * st.stat().st_size / n_params, prompt_tps=tps_hf, gen_tps=gen_tps_hf, ppl=ppl_hf,
                 generation=gen_hf)]
    print(f"      perplexity {ppl_hf:.3f}; continuation: {show(tok, gen_hf)}", flush=True)

    for i, t in enumerate(types):
        path, summary = ggufs[t]
        step(4 + i, n_steps, f"llama.cpp Llama(model_path={path.name!r}): perplexity and greedy generation")
        llm = compare.load_llama(path, n_ctx, args.threads)
        same_tokens = llm.tokenize(args.prompt.encode(), add_bos=True, special=False) == prompt_ids
        ppl, tps = compare.llama_perplexity(llm, windows, progress_bar(t.upper()))
        gen, gen_tps = compare.llama_greedy(llm, prompt_ids, args.max_tokens)
        size = path.stat().st_size
        bpw_linear = summary.ternary_bits_per_weight if summary.ternary_weights else 16.0
        rows.append(dict(name=f"llama.cpp {t.upper()}", size=size, bpw_linear=bpw_linear, bpw_all=8 * size / n_params,
                         prompt_tps=tps, gen_tps=gen_tps, ppl=ppl, generation=gen,
                         same_as_hf=gen == gen_hf, llama_tokenizer_agrees=same_tokens))
        agree = sum(a == b for a, b in zip(gen, gen_hf))
        print(f"      perplexity {ppl:.3f} ({(ppl - ppl_hf) / ppl_hf:+.2%} vs transformers); greedy tokens equal to "
              f"transformers: {agree}/{len(gen)}; continuation: {show(tok, gen)}", flush=True)
        del llm

    print()
    print(f"Tiny TriLM ({n_params / 1e6:.2f} M parameters, {n_linear / 1e6:.2f} M of them ternary), "
          f"held-out perplexity over {sum(len(w) - 1 for w in windows)} tokens, context {n_ctx}:")
    print(format_table(rows, ppl_hf))
    print(f"\nprompt {args.prompt!r} -> greedy {args.max_tokens} tokens:")
    for r in rows:
        print(f"  {r['name']:24s} {show(tok, r['generation'])}")
    result = {"checkpoint": str(ckpt), "n_ctx": n_ctx, "windows": len(windows), "prompt": args.prompt, "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    if args.out_dir is None:
        shutil.rmtree(out_dir, ignore_errors=True)
    else:
        print(f"\nGGUF files kept in {out_dir}")
    return result


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    t0 = time.perf_counter()
    try:
        run(args)
    except ImportError as exc:
        print(f"demo needs {exc.name}: {exc}", file=sys.stderr)
        return 1
    print(f"done in {time.perf_counter() - t0:.1f} s")
    return 0
