"""tq_gguf: ternary (TQ1_0 / TQ2_0) language models in the llama.cpp / GGUF ecosystem."""

__version__ = "0.1.0"
