"""Convert TriLM (ternary Llama) checkpoints into TQ1_0 / TQ2_0 GGUF files.

    from tq_gguf.convert import convert_checkpoint
    summary = convert_checkpoint("TriLM_99M", "trilm-99m.tq2_0.gguf", outtype="tq2_0")

or ``python -m tq_gguf.convert CKPT_DIR OUT.gguf --outtype tq2_0``.
"""

from .errors import ConversionError
from .pipeline import EMBEDDING_TYPES, OUTTYPES, convert_checkpoint
from .summary import ConversionSummary

__all__ = ["convert_checkpoint", "ConversionError", "ConversionSummary", "OUTTYPES", "EMBEDDING_TYPES"]
