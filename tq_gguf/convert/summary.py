"""What a conversion produced, for the closing report and for callers."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} GiB"


@dataclass
class ConversionSummary:
    out_path: Path
    outtype: str
    tensor_types: dict[str, str] = field(default_factory=dict)  # GGUF tensor name -> GGML type name
    file_size: int = 0
    ternary_weights: int = 0  # weights stored in TQ1_0/TQ2_0
    ternary_bytes: int = 0
    seconds: float = 0.0
    fallbacks: dict[str, str] = field(default_factory=dict)  # GGUF tensor name -> "TYPE: reason"
    ternarized: list[str] = field(default_factory=list)  # tensors that went through --ternarize
    notes: list[str] = field(default_factory=list)

    @property
    def n_tensors(self) -> int:
        return len(self.tensor_types)

    @property
    def tensors_per_type(self) -> dict[str, int]:
        return dict(sorted(Counter(self.tensor_types.values()).items()))

    @property
    def ternary_bits_per_weight(self) -> float:
        return 8 * self.ternary_bytes / self.ternary_weights if self.ternary_weights else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["out_path"] = str(self.out_path)
        d.update(
            n_tensors=self.n_tensors,
            tensors_per_type=self.tensors_per_type,
            ternary_bits_per_weight=self.ternary_bits_per_weight,
        )
        return d

    def __getitem__(self, key: str):  # dict-style access for callers
        return self.to_dict()[key]

    def format(self) -> str:
        per_type = ", ".join(f"{t} {n}" for t, n in self.tensors_per_type.items())
        lines = [
            f"wrote {self.out_path} ({_human_bytes(self.file_size)}) in {self.seconds:.1f} s",
            f"  tensors: {self.n_tensors} ({per_type})",
        ]
        if self.ternary_weights:
            lines.append(
                f"  ternary part: {self.ternary_weights:,} weights in {_human_bytes(self.ternary_bytes)}"
                f" = {self.ternary_bits_per_weight:.4f} bits/weight"
            )
        if self.ternarized:
            lines.append(f"  ternarized with the absmean rule (--ternarize): {len(self.ternarized)} tensors")
        if self.fallbacks:
            lines.append(f"  fell back from {self.outtype}: {len(self.fallbacks)} tensors")
            lines += [f"    {name}: {why}" for name, why in self.fallbacks.items()]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)
