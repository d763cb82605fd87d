"""``convert_checkpoint``: checkpoint folder -> GGUF file, tensor by tensor.

Everything that can be validated cheaply (config, tensor names and shapes,
shard files, safetensors headers, tokenizer, output folder) is validated
before the first byte is written. The GGUF goes to a temporary file next to
the output and is renamed over it only once complete, so a failure or Ctrl-C
never leaves a partial output.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import gguf
import numpy as np
from gguf.constants import GGMLQuantizationType as T

from .checkpoint import index_tensors, load_config
from .errors import ConversionError
from .llama import LlamaParams, Role, plan_tensors
from .summary import ConversionSummary
from .tensors import TERNARY_TYPES, TensorConverter, TensorJob, choose_type
from .vocab import load_vocab

OUTTYPES: dict[str, T] = {
    "f32": T.F32,
    "f16": T.F16,
    "bf16": T.BF16,
    "q8_0": T.Q8_0,
    "tq1_0": T.TQ1_0,
    "tq2_0": T.TQ2_0,
}
EMBEDDING_TYPES: dict[str, T] = {k: OUTTYPES[k] for k in ("f32", "f16", "bf16", "q8_0")}
_FILE_TYPES = {
    T.F32: gguf.LlamaFileType.ALL_F32,
    T.F16: gguf.LlamaFileType.MOSTLY_F16,
    T.BF16: gguf.LlamaFileType.MOSTLY_BF16,
    T.Q8_0: gguf.LlamaFileType.MOSTLY_Q8_0,
    T.TQ1_0: gguf.LlamaFileType.MOSTLY_TQ1_0,
    T.TQ2_0: gguf.LlamaFileType.MOSTLY_TQ2_0,
}


def _default_embedding_type(outtype: T) -> T:
    # ternary files keep token_embd/output in F16 unless asked otherwise
    return T.F16 if outtype in TERNARY_TYPES else outtype


def _add_metadata(writer: gguf.GGUFWriter, params: LlamaParams, outtype: T) -> None:
    writer.add_name(params.name)
    writer.add_context_length(params.n_ctx)
    writer.add_embedding_length(params.n_embd)
    writer.add_block_count(params.n_layer)
    writer.add_feed_forward_length(params.n_ff)
    writer.add_head_count(params.n_head)
    writer.add_head_count_kv(params.n_head_kv)
    writer.add_layer_norm_rms_eps(params.rms_eps)
    writer.add_rope_freq_base(params.rope_theta)
    writer.add_vocab_size(params.n_vocab)
    writer.add_rope_dimension_count(params.head_dim)
    if params.head_dim_explicit:
        writer.add_key_length(params.head_dim)
        writer.add_value_length(params.head_dim)
    scaling = params.rope_scaling or {}
    if scaling.get("rope_type", scaling.get("type")) == "linear" and scaling.get("factor"):
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(scaling["factor"]))
    writer.add_file_type(_FILE_TYPES[outtype])
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


def _check_output_path(out_path: Path) -> None:
    if out_path.is_dir():
        raise ConversionError(f"{out_path}: output path is a directory")
    parent = out_path.parent
    if not parent.is_dir():
        raise ConversionError(f"{out_path}: output folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConversionError(f"{out_path}: output folder {parent} is not writable")
    if out_path.exists() and not os.access(out_path, os.W_OK):
        raise ConversionError(f"{out_path}: output file exists and is not writable")


def _write_tensor(writer: gguf.GGUFWriter, job: TensorJob, chunks, out_path: Path) -> None:
    """Append one tensor's data, chunk by chunk, where the tensor info written by
    GGUFWriter puts it: every tensor starts at a multiple of the data alignment."""
    assert writer.fout is not None and len(writer.fout) == 1
    fout = writer.fout[0]
    alignment = writer.data_alignment
    try:
        fout.write(bytes(-fout.tell() % alignment))
        written = 0
        for chunk in chunks:
            chunk = np.ascontiguousarray(chunk)
            fout.write(chunk.data.cast("B"))
            written += chunk.nbytes
        fout.write(bytes(-written % alignment))
    except OSError as e:
        raise ConversionError(f"{out_path}: write failed ({e.strerror})") from None
    if written != job.out_nbytes:
        raise AssertionError(f"{job.plan.gguf_name}: wrote {written} bytes, tensor info says {job.out_nbytes}")


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="converting", disable=not enabled, leave=False)


def convert_checkpoint(
    ckpt_dir: str | os.PathLike,
    out_path: str | os.PathLike,
    outtype: str = "tq2_0",
    progress: bool = True,
    *,
    embedding_type: str | None = None,
    ternarize: bool = False,
    mp_shards: int = 1,
) -> ConversionSummary:
    """Convert a Llama-architecture TriLM checkpoint folder into one GGUF file.

    outtype: type of the seven linear projections of every block (tq2_0,
    tq1_0, or a float/Q8_0 type for reference files). embedding_type: type
    of token_embd/output (f16 for ternary outtypes by default). ternarize:
    apply TriLM's absmean rule to linear weights that are not already ternary
    times a scale (otherwise they are refused), with one scale per each of
    ``mp_shards`` row groups. Raises ConversionError for bad input."""
    start = time.perf_counter()
    ckpt_dir, out_path = Path(ckpt_dir), Path(out_path)
    if outtype not in OUTTYPES:
        raise ConversionError(f"unknown outtype {outtype!r} (choose from {', '.join(OUTTYPES)})")
    qtype = OUTTYPES[outtype]
    if embedding_type is not None and embedding_type not in EMBEDDING_TYPES:
        raise ConversionError(f"unknown embedding type {embedding_type!r} (choose from {', '.join(EMBEDDING_TYPES)})")
    embd_qtype = EMBEDDING_TYPES[embedding_type] if embedding_type else _default_embedding_type(qtype)
    if mp_shards < 1:
        raise ConversionError(f"--mp-shards must be at least 1, got {mp_shards}")
    if ternarize and qtype not in TERNARY_TYPES:
        raise ConversionError("--ternarize only applies to the ternary outtypes tq1_0 and tq2_0")

    config = load_config(ckpt_dir)
    params = LlamaParams.from_config(config, str(ckpt_dir / "config.json"), ckpt_dir.resolve().name)
    sources = index_tensors(ckpt_dir)
    plans = plan_tensors(params, list(sources), {name: s.shape for name, s in sources.items()})
    vocab = load_vocab(ckpt_dir, params.n_vocab)
    _check_output_path(out_path)

    summary = ConversionSummary(out_path=out_path, outtype=outtype, notes=list(vocab.notes))
    jobs: list[TensorJob] = []
    for plan in plans:
        source = sources[plan.hf_name]
        tensor_qtype, reason = choose_type(plan, source.shape, qtype, embd_qtype)
        jobs.append(TensorJob(plan, source, tensor_qtype, reason))
        summary.tensor_types[plan.gguf_name] = tensor_qtype.name
        if reason is not None and plan.role is Role.LINEAR:
            summary.fallbacks[plan.gguf_name] = f"{tensor_qtype.name}: {reason}"

    writer = gguf.GGUFWriter(None, gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA])
    _add_metadata(writer, params, qtype)
    vocab.add_to_gguf(writer)
    for job in jobs:
        # the dtype argument only matters without raw_dtype (and uint8 would mean "byte shape")
        writer.add_tensor_info(job.plan.gguf_name, job.shape, np.dtype(np.float32), job.out_nbytes, raw_dtype=job.qtype)

    converter = TensorConverter(ternary_output=qtype in TERNARY_TYPES, ternarize=ternarize, mp_shards=mp_shards)
    try:
        fd, tmp_name = tempfile.mkstemp(dir=out_path.parent, prefix=f".{out_path.name}.", suffix=".partial")
        os.close(fd)
    except OSError as e:
        raise ConversionError(f"{out_path}: cannot create a file in {out_path.parent} ({e.strerror})") from None
    tmp_path = Path(tmp_name)
    try:
        try:
            writer.write_header_to_file(path=tmp_path)
            writer.write_kv_data_to_file()
            writer.write_ti_data_to_file()
        except OSError as e:
            raise ConversionError(f"{out_path}: write failed ({e.strerror})") from None
        bar = _progress_bar(sum(job.source.nbytes for job in jobs), progress)
        try:
            for i, job in enumerate(jobs):
                bar.set_postfix_str(f"tensor {i + 1}/{len(jobs)} {job.plan.gguf_name}", refresh=False)
                how, chunks = converter.convert(job)
                if how == "ternarized":
                    summary.ternarized.append(job.plan.gguf_name)
                if job.qtype in TERNARY_TYPES:
                    summary.ternary_weights += job.source.n_elements
                    summary.ternary_bytes += job.out_nbytes
                _write_tensor(writer, job, chunks, out_path)
                job.source.release()
                bar.update(job.source.nbytes)
        finally:
            bar.close()
        writer.close()
        os.replace(tmp_path, out_path)
    except BaseException:
        writer.close()
        tmp_path.unlink(missing_ok=True)
        raise
    summary.file_size = out_path.stat().st_size
    summary.seconds = time.perf_counter() - start
    return summary

