"""Train a small TriLM on the CPython standard library and export it in Hugging Face layout.

    python -m tq_gguf.trilm.train --out DIR [--steps N] [--threads 2] ...

Recipe (Spectra / TriLM, scaled down): latent fp32 weights, block linears ternarized on the
fly (absmean, STE), AdamW (betas 0.9/0.95), linear warm-up then cosine decay to 10% of the
peak learning rate, weight decay 0.1 on 2-D weights for the first two thirds of training and
0 afterwards (as Spectra drops weight decay late in training). Batches are random windows of
`context_length + 1` tokens of the training stream.

Writes to DIR: the checkpoint (see export.py), heldout.txt (the held-out text the
perplexities are measured on) and train_summary.json (timings, losses, perplexities).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import torch

from . import corpus as corpus_mod
from .evaluate import token_windows, transformers_perplexity
from .export import export_checkpoint
from .model import TriLMShape, build_trilm
from .tokenizer import encode_stream, train_bpe_tokenizer


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tq_gguf.trilm.train", description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, type=Path, help="output checkpoint directory")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate")
    p.add_argument("--warmup", type=float, default=0.05, help="warm-up fraction of steps")
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--vocab-size", type=int, default=2048)
    p.add_argument("--hidden-size", type=int, default=256)
    p.add_argument("--intermediate-size", type=int, default=512)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--context", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu", help="torch device (the recipe is sized for 2 CPU cores; cuda also works)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--stdlib-dir", type=Path, default=None, help="default: this interpreter's stdlib")
    p.add_argument("--max-files", type=int, default=None, help="use only the first N modules (tests)")
    p.add_argument("--heldout-chars", type=int, default=48000, help="size of the shipped held-out text")
    p.add_argument("--eval-windows", type=int, default=0, help="0: all held-out windows")
    p.add_argument("--log-every", type=int, default=10)
    return p.parse_args(argv)


def lr_at(step: int, args) -> float:
    warm = max(1, int(args.warmup * args.steps))
    if step < warm:
        return args.lr * (step + 1) / warm
    progress = (step - warm) / max(1, args.steps - warm)
    return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def make_optimizer(model, args):
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() != 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.95), eps=1e-8,
    )


def heldout_text(heldout_files, max_chars: int) -> str:
    text = corpus_mod.join_documents(heldout_files)
    if len(text) > max_chars:  # cut at a line boundary
        text = text[: text.rfind("\n", 0, max_chars) + 1]
    return text


def train(args) -> dict:
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t_start = time.time()
    log = lambda msg: print(f"[{time.time() - t_start:7.1f}s] {msg}", flush=True)

    files = corpus_mod.read_stdlib_modules(args.stdlib_dir, args.max_files)
    train_files, heldout_files = corpus_mod.split_train_heldout(files)
    log(f"corpus: {len(train_files)} train files, {len(heldout_files)} held-out files "
        f"({sum(len(f.text) for f in train_files)} train chars)")
    tok = train_bpe_tokenizer((f.text for f in train_files), args.vocab_size)
    stream = torch.tensor(encode_stream(tok, [f.text for f in train_files]), dtype=torch.long)
    held_text = heldout_text(heldout_files, args.heldout_chars)
    held_ids = tok.encode(held_text).ids
    windows = token_windows(held_ids, args.context)
    if args.eval_windows:
        windows = windows[: args.eval_windows]
    log(f"tokenizer: vocab {tok.get_vocab_size()}; train stream {len(stream)} tokens; "
        f"held-out {len(held_ids)} tokens in {len(windows)} windows of {args.context}")

    shape = TriLMShape(args.vocab_size, args.hidden_size, args.intermediate_size, args.layers,
                       args.heads, args.kv_heads, args.context)
    model = build_trilm(shape, seed=args.seed).to(args.device)
    n_params = sum(p.numel() for p in model.parameters())
    ppl_untrained = transformers_perplexity(model, windows)
    log(f"model: {n_params} parameters; untrained held-out perplexity {ppl_untrained:.1f}")

    opt = make_optimizer(model, args)
    gen = torch.Generator().manual_seed(args.seed)
    span = args.context + 1
    losses = []
    t_train = time.time()
    model.train()
    for step in range(args.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args)
        if step == (2 * args.steps) // 3:
            opt.param_groups[0]["weight_decay"] = 0.0
        starts = torch.randint(0, len(stream) - span, (args.batch_size,), generator=gen)
        batch = torch.stack([stream[s : s + span] for s in starts.tolist()]).to(args.device)
        out = model(input_ids=batch[:, :-1], labels=batch[:, :-1].clone())
        # HF shifts labels internally: labels == inputs gives next-token prediction over the window
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(out.loss.item())
        if step % args.log_every == 0 or step == args.steps - 1:
            recent = sum(losses[-args.log_every:]) / len(losses[-args.log_every:])
            rate = (step + 1) / (time.time() - t_train)
            log(f"step {step:5d}/{args.steps} loss {recent:.3f} lr {lr_at(step, args):.2e} ({rate:.2f} steps/s)")
    train_seconds = time.time() - t_train

    export_checkpoint(model.cpu(), tok, args.out)
    (args.out / "heldout.txt").write_text(held_text, encoding="utf-8")
    # held-out perplexity of the *exported* checkpoint, loaded back by plain transformers
    from transformers import LlamaForCausalLM

    exported = LlamaForCausalLM.from_pretrained(args.out, dtype=torch.float32)
    ppl_trained = transformers_perplexity(exported, windows)
    tail = losses[-max(1, args.steps // 20):]
    summary = {
        "shape": asdict(shape),
        "parameters": n_params,
        "steps": args.steps,
        "batch_size": args.batch_size,
        "tokens_seen": args.steps * args.batch_size * args.context,
        "peak_lr": args.lr,
        "threads": args.threads,
        "seed": args.seed,
        "train_files": len(train_files),
        "train_tokens": len(stream),
        "heldout_tokens": len(held_ids),
        "heldout_windows": len(windows),
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.time() - t_start, 1),
        "first_loss": losses[0],
        "final_train_loss": sum(tail) / len(tail),
        "heldout_ppl_untrained": ppl_untrained,
        "heldout_ppl_trained": ppl_trained,
        "heldout_loss_trained": math.log(ppl_trained),
        "loss_curve": {step: round(sum(losses[step:step + args.log_every]) / len(losses[step:step + args.log_every]), 4)
                       for step in range(0, args.steps, args.log_every)},
    }
    (args.out / "train_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    summary["losses"] = losses
    log(f"done: train loss {losses[0]:.3f} -> {summary['final_train_loss']:.3f}; held-out perplexity "
        f"{ppl_untrained:.1f} (untrained) -> {ppl_trained:.2f} (trained); wrote {args.out}")
    return summary


def main(argv=None) -> dict:
    return train(parse_args(argv))


if __name__ == "__main__":
    main()
