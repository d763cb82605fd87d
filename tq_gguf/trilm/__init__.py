"""Train, export and evaluate a small ternary Llama (TriLM) the way the Spectra papers describe.

Modules:
  corpus     -- offline text (the CPython standard library's modules), split into train / held-out
  tokenizer  -- byte-level BPE trained with `tokenizers`, saved in Hugging Face layout
  ternary    -- absmean ternarization with a straight-through estimator, `TernaryLinear`
  model      -- a `LlamaForCausalLM` whose block linears are `TernaryLinear`
  export     -- Hugging Face checkpoint with every block linear stored as trit * scale in fp16
  evaluate   -- windowed perplexity shared by transformers and llama.cpp evaluations
  train      -- the training loop and CLI: `python -m tq_gguf.trilm.train --out DIR`
  compare    -- the same token ids through llama_cpp.Llama and transformers (perplexity,
                greedy decoding, timings); SHIPPED_CHECKPOINT points at tq_gguf/models/tiny-trilm
"""
