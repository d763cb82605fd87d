"""Command line: ``python -m tq_gguf.convert CKPT_DIR OUT.gguf [--outtype ...]``."""

from __future__ import annotations

import argparse
import os
import sys

from .errors import ConversionError
from .pipeline import EMBEDDING_TYPES, OUTTYPES, convert_checkpoint


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tq_gguf.convert",
        description=(
            "Convert a TriLM (ternary LlamaForCausalLM) checkpoint folder into a GGUF file for llama.cpp. "
            "The seven linear projections of every block are stored in a ternary type using the checkpoint's "
            "own trits and scales, exactly; embeddings, output head and norms stay in floats."
        ),
        epilog=(
            "Input folder: config.json, weights as *.safetensors (optionally sharded with "
            "model.safetensors.index.json) or pytorch_model*.bin, and tokenizer.json (byte-level BPE) or "
            "tokenizer.model (SentencePiece). Bad input prints one line and exits with status 1; "
            "the output is written to a temporary file and only appears when complete."
        ),
    )
    parser.add_argument("ckpt_dir", metavar="CKPT_DIR", help="checkpoint folder (config.json, weights, tokenizer)")
    parser.add_argument("out_path", metavar="OUT.gguf", help="GGUF file to write (replaced only on success)")
    parser.add_argument(
        "--outtype",
        choices=list(OUTTYPES),
        default="tq2_0",
        help=(
            "type of the linear projections: tq2_0 (2.06 bits/weight, fastest), tq1_0 (1.69 bits/weight), "
            "or f32/f16/bf16/q8_0 for non-ternary reference files (default: %(default)s). A linear weight whose "
            "row length does not fit the type's block size falls back to F16 and is listed in the summary."
        ),
    )
    parser.add_argument(
        "--embedding-type",
        choices=list(EMBEDDING_TYPES),
        default=None,
        help=(
            "type of token_embd and output: f16 for ternary outtypes, else the outtype, by default; q8_0 gives "
            "smaller files (Q6_K/Q4_K are not offered: gguf-py cannot write them)"
        ),
    )
    parser.add_argument(
        "--ternarize",
        action="store_true",
        help=(
            "for latent (not yet ternary) checkpoints: apply TriLM's absmean rule, scale = mean |W| and "
            "trit = clip(round(W / scale), -1, 1). Without it, non-ternary linear weights are refused. "
            "Weights that already are ternary times a scale are never re-ternarized."
        ),
    )
    parser.add_argument(
        "--mp-shards",
        type=int,
        default=1,
        metavar="N",
        help="with --ternarize: compute one absmean scale per each of N equal row groups (default: %(default)s)",
    )
    parser.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        summary = convert_checkpoint(
            args.ckpt_dir,
            args.out_path,
            outtype=args.outtype,
            progress=not args.no_progress,
            embedding_type=args.embedding_type,
            ternarize=args.ternarize,
            mp_shards=args.mp_shards,
        )
    except ConversionError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: no output written", file=sys.stderr)
        return 130
    except Exception as e:  # a bug, not bad input: still one line (TQ_GGUF_DEBUG=1 shows the traceback)
        if os.environ.get("TQ_GGUF_DEBUG"):
            raise
        print(f"error: internal error {type(e).__name__}: {e} (no output written; TQ_GGUF_DEBUG=1 shows details)", file=sys.stderr)
        return 1
    print(summary.format())
    return 0


if __name__ == "__main__":
    sys.exit(main())
