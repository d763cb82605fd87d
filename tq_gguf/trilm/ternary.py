"""Absmean ternarization (Spectra / TriLM) with a straight-through estimator.

For a weight matrix W (out_features x in_features, the nn.Linear layout) split into
`groups` equal scale groups along `group_dim`:
    gamma_g = eps + mean(|W_g|)                      (one scale per group, rounded to fp16)
    Q_g     = round(clip(W_g / gamma_g, -1, 1)) * gamma_g
Forward uses Q; backward passes the gradient straight through to the latent W
(Q = W + (Q - W).detach()).

Scale groups mimic model-parallel training: a column-parallel layer (q/k/v/gate/up) shards
its *output* rows (group_dim=0); a row-parallel layer (o/down) shards its *input* columns
(group_dim=1), and each shard computes its own absmean. The scale is rounded to fp16 in the
forward pass too, so the exported fp16 checkpoint is exactly what was trained.
"""

from __future__ import annotations

import torch
from torch import nn

EPS = 1e-5


def ternary_scales(weight: torch.Tensor, groups: int = 1, group_dim: int = 0, eps: float = EPS) -> torch.Tensor:
    """Per-group absmean scales, shape (groups,), fp16-representable float32."""
    if weight.shape[group_dim] % groups:
        raise ValueError(f"dim {group_dim} of {tuple(weight.shape)} not divisible into {groups} groups")
    chunks = weight.detach().abs().float().chunk(groups, dim=group_dim)
    gamma = torch.stack([eps + c.mean() for c in chunks])
    return gamma.half().float()


def expand_scales(gamma: torch.Tensor, shape: torch.Size, group_dim: int) -> torch.Tensor:
    """Broadcast per-group scales to a full (out, in) tensor."""
    groups = gamma.numel()
    size = shape[group_dim] // groups
    per_index = gamma.repeat_interleave(size)
    return per_index.view(-1, 1).expand(shape) if group_dim == 0 else per_index.view(1, -1).expand(shape)


def ternarize(weight: torch.Tensor, groups: int = 1, group_dim: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(trits in {-1,0,1} as float, full-shape scale tensor); trits * scale is the quantized weight."""
    gamma = expand_scales(ternary_scales(weight, groups, group_dim), weight.shape, group_dim)
    trits = torch.round(torch.clamp(weight.float() / gamma, -1.0, 1.0))
    return trits, gamma


class TernaryLinear(nn.Linear):
    """nn.Linear whose forward uses the ternarized latent weight (STE in backward)."""

    def __init__(self, in_features: int, out_features: int, groups: int = 1, group_dim: int = 0, **kw):
        super().__init__(in_features, out_features, bias=False, **kw)
        self.groups, self.group_dim = groups, group_dim

    def quantized_weight(self) -> torch.Tensor:
        trits, gamma = ternarize(self.weight, self.groups, self.group_dim)
        return (trits * gamma).to(self.weight.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        w_q = w + (self.quantized_weight() - w).detach()
        return nn.functional.linear(x, w_q)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", groups={self.groups}, group_dim={self.group_dim}"
