"""Tokenizer -> GGUF vocabulary.

Two kinds, as TriLM and Llama checkpoints ship them:

* ``tokenizer.json`` with a byte-level BPE model (GPT-2 style): tokens in id
  order (already in byte-level unicode form), merges, added tokens (special
  ones as CONTROL, others USER_DEFINED), and a pre-tokenizer name llama.cpp
  understands, read off the tokenizer's pre-tokenizer definition.
* ``tokenizer.model`` (SentencePiece): pieces, scores and piece types, plus
  ``added_tokens.json``.

Ids past the tokenizer's last id up to the config's ``vocab_size`` (padded
embedding matrices) become ``[PAD<id>]`` UNUSED tokens. Special token ids,
add-BOS/EOS flags and the chat template come from gguf-py's ``SpecialVocab``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import gguf

from .errors import ConversionError

# The GPT-2 split regex, as used by tokenizers' ByteLevel(use_regex=True).
_GPT2_REGEX = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
_LLAMA3_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# llama.cpp pre-tokenizer names for known split patterns
_PRE_OF_REGEX = {_GPT2_REGEX: "gpt-2", _LLAMA3_REGEX: "llama-bpe"}


@dataclass
class Vocab:
    model: str  # "gpt2" or "llama"
    pre: str
    tokens: list[str]
    types: list[int]
    scores: list[float] | None = None
    notes: list[str] = field(default_factory=list)
    special: gguf.SpecialVocab | None = None

    def add_to_gguf(self, writer: gguf.GGUFWriter) -> None:
        writer.add_tokenizer_model(self.model)
        writer.add_tokenizer_pre(self.pre)
        writer.add_token_list(self.tokens)
        if self.scores is not None:
            writer.add_token_scores(self.scores)
        writer.add_token_types(self.types)
        if self.special is not None:
            self.special.add_to_gguf(writer, quiet=True)


def _pre_tokenizer_name(pre: dict | None, path: Path) -> tuple[str, str | None]:
    """llama.cpp pre-tokenizer name for a tokenizers pre_tokenizer definition,
    plus a note when it had to guess."""
    if pre is None:
        return "default", f"{path}: no pre_tokenizer, using llama.cpp's default splitting"
    steps = pre["pretokenizers"] if pre.get("type") == "Sequence" else [pre]
    splits = [s for s in steps if s.get("type") == "Split"]
    byte_level = [s for s in steps if s.get("type") == "ByteLevel"]
    if len(steps) == 1 and byte_level and byte_level[0].get("use_regex", True):
        if byte_level[0].get("add_prefix_space"):
            return "gpt-2", f"{path}: ByteLevel add_prefix_space=true is not reproduced by llama.cpp"
        return "gpt-2", None
    if len(splits) == 1 and len(steps) == 2 and byte_level and not byte_level[0].get("use_regex", True):
        regex = splits[0].get("pattern", {}).get("Regex")
        if regex in _PRE_OF_REGEX:
            return _PRE_OF_REGEX[regex], None
    return "default", f"{path}: unrecognised pre-tokenizer, using llama.cpp's default splitting (tokenization may differ)"


def _special_vocab(folder: Path, n_vocab: int, load_merges: bool) -> gguf.SpecialVocab:
    """Special token ids, add-BOS/EOS flags, chat template (and merges) via gguf-py."""
    try:
        return gguf.SpecialVocab(folder, load_merges=load_merges, n_vocab=n_vocab)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise ConversionError(f"{folder}: unreadable tokenizer files ({type(e).__name__}: {e})") from None


def _looks_special(token: str) -> bool:
    return (token.startswith("<|") and token.endswith("|>")) or (token.startswith("<") and token.endswith(">") and " " not in token)


def _load_byte_level_bpe(folder: Path, data: dict, n_vocab: int) -> Vocab:
    path = folder / "tokenizer.json"
    model = data["model"]
    if "ByteLevel" not in json.dumps([data.get("pre_tokenizer"), data.get("decoder")]):
        raise ConversionError(f"{path}: BPE tokenizer is not byte-level (GPT-2 style) and there is no tokenizer.model")
    vocab: dict[str, int] = model["vocab"]
    added = {t["id"]: t for t in data.get("added_tokens", [])}
    by_id: dict[int, str] = {i: tok for tok, i in vocab.items()}
    for i, t in added.items():
        by_id[i] = t["content"]
    last = max(by_id) if by_id else -1
    if last >= n_vocab:
        raise ConversionError(f"{path}: token id {last} does not fit vocab_size {n_vocab} of config.json")
    tokens: list[str] = []
    types: list[int] = []
    for i in range(n_vocab):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
        elif i in added and (added[i].get("special") or _looks_special(added[i]["content"])):
            tokens.append(by_id[i])
            types.append(gguf.TokenType.CONTROL)
        elif i in added and by_id[i] not in vocab:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.USER_DEFINED)
        else:
            tokens.append(by_id[i])
            types.append(gguf.TokenType.NORMAL)
    pre, note = _pre_tokenizer_name(data.get("pre_tokenizer"), path)
    special = _special_vocab(folder, n_vocab, load_merges=True)
    if not special.merges:
        raise ConversionError(f"{path}: BPE tokenizer without merges")
    return Vocab("gpt2", pre, tokens, types, notes=[note] if note else [], special=special)


def _load_sentencepiece(folder: Path, n_vocab: int) -> Vocab:
    path = folder / "tokenizer.model"
    try:
        from sentencepiece import SentencePieceProcessor
    except ImportError:
        raise ConversionError(f"{path}: reading a SentencePiece tokenizer needs the sentencepiece package") from None
    processor = SentencePieceProcessor()
    try:
        processor.LoadFromFile(str(path))
    except (OSError, RuntimeError) as e:
        raise ConversionError(f"{path}: not a readable SentencePiece model ({str(e).splitlines()[0]})") from None
    n_pieces = processor.vocab_size()
    if n_pieces > n_vocab:
        raise ConversionError(f"{path}: {n_pieces} pieces do not fit vocab_size {n_vocab} of config.json")
    tokens, scores, types = [], [], []
    for i in range(n_pieces):
        tokens.append(processor.id_to_piece(i))
        scores.append(processor.get_score(i))
        if processor.is_unknown(i):
            types.append(gguf.TokenType.UNKNOWN)
        elif processor.is_control(i):
            types.append(gguf.TokenType.CONTROL)
        elif processor.is_unused(i):
            types.append(gguf.TokenType.UNUSED)
        elif processor.is_byte(i):
            types.append(gguf.TokenType.BYTE)
        else:
            types.append(gguf.TokenType.NORMAL)
    added_path = folder / "added_tokens.json"
    if added_path.is_file():
        try:
            added = json.loads(added_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConversionError(f"{added_path}: unreadable ({e})") from None
        for piece, i in sorted(added.items(), key=lambda kv: kv[1]):
            if i >= n_vocab:
                raise ConversionError(f"{added_path}: token id {i} does not fit vocab_size {n_vocab}")
            while len(tokens) <= i:
                tokens.append(f"[PAD{len(tokens)}]")
                scores.append(-1000.0)
                types.append(gguf.TokenType.UNUSED)
            tokens[i], scores[i], types[i] = piece, -1000.0, gguf.TokenType.USER_DEFINED
    for i in range(len(tokens), n_vocab):
        tokens.append(f"[PAD{i}]")
        scores.append(-1000.0)
        types.append(gguf.TokenType.UNUSED)
    special = _special_vocab(folder, n_vocab, load_merges=False)
    return Vocab("llama", "default", tokens, types, scores=scores, special=special)


def load_vocab(folder: Path, n_vocab: int) -> Vocab:
    """The checkpoint's tokenizer; byte-level BPE ``tokenizer.json`` first, else SentencePiece."""
    json_path = folder / "tokenizer.json"
    if json_path.is_file():
        try:
            data = json.loads(json_path.read_text(encoding="utf-8"))
            model_type = data["model"].get("type")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise ConversionError(f"{json_path}: unreadable tokenizer ({type(e).__name__}: {e})") from None
        if model_type == "BPE" and not (folder / "tokenizer.model").is_file():
            return _load_byte_level_bpe(folder, data, n_vocab)
    if (folder / "tokenizer.model").is_file():
        return _load_sentencepiece(folder, n_vocab)
    if json_path.is_file():
        raise ConversionError(f"{json_path}: tokenizer model type {model_type!r} is not supported (BPE or SentencePiece)")
    raise ConversionError(f"{folder}: no tokenizer found (tokenizer.json or tokenizer.model)")
