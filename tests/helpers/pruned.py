"""Pruned and dead heads in a tiny timm ViT (docs/method.md#inactive-modes), shared by the tiers.

``prune_heads`` edits the model's own fused ``qkv`` Linear (rows ``[q; k; v]``, head ``h`` owning rows
``h·d_h … (h+1)·d_h`` of each part), as a pruned checkpoint would hold it. On the 2-layer, 3-head
(``d_h = 16``) model of ``TINY_OVERRIDES``:

- L0 H0: ``W_q`` and ``b_q`` zeroed (a pruned head): no active mode, uniform attention.
- L0 H1: ``W_k`` zeroed, ``b_k`` kept: no active mode; the logit is constant over keys.
- L1 H0: ``W_q`` zeroed, ``b_q`` kept (a dead head): no active mode, yet it attends by the key-only
  term ``b_q · (W_k x_j + b_k)``, which no mode holds.
- L1 H1: ``W_q`` of rank 5 (five rows repeated, so exactly in float32 too) with ``b_q`` in its range:
  5 active modes.
- L1 H2: six query rows and their biases pruned: 10 active modes.
"""

from __future__ import annotations

from typing import cast

import torch
from timm.layers.attention import Attention
from timm.models.vision_transformer import Block, VisionTransformer

#: Active modes per [layer][head] after ``prune_heads`` (the rank of ``W_q^T W_k``).
ACTIVE_MODES = [[0, 0, 16], [0, 5, 10]]
#: The dead head whose attention the modes do not rebuild (its logit is key-only).
DEAD_WITH_BIAS = (1, 0)


def prune_heads(module: torch.nn.Module, seed: int = 0) -> None:
    assert isinstance(module, VisionTransformer)
    gen = torch.Generator().manual_seed(seed)
    attentions = [cast(Attention, cast(Block, block).attn) for block in module.blocks[:2]]
    first, second = (attention.qkv for attention in attentions)
    width = first.in_features
    d_head = width // attentions[0].num_heads

    def rows(part: int, head: int) -> slice:  # part 0 = query, 1 = key
        start = part * width + head * d_head
        return slice(start, start + d_head)

    with torch.no_grad():
        first.weight[rows(0, 0)] = 0.0
        first.bias[rows(0, 0)] = 0.0
        first.weight[rows(1, 1)] = 0.0
        second.weight[rows(0, 0)] = 0.0
        base = 0.02 * torch.randn(5, width, generator=gen)  # the scale of timm's initialisation
        repeat = torch.arange(d_head) % 5
        second.weight[rows(0, 1)] = base[repeat]
        second.bias[rows(0, 1)] = (base @ torch.randn(width, generator=gen))[repeat]
        pruned = rows(0, 2).start + torch.arange(6)
        second.weight[pruned] = 0.0
        second.bias[pruned] = 0.0


def randomize_biases_and_norms(module: torch.nn.Module) -> None:
    """Random-init checkpoints often have zero biases and unit γ; make every term of the logit count."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in module.named_parameters():
            if name.endswith("bias") or "norm" in name.lower():
                param.add_(0.3 * torch.randn(param.shape, generator=gen))
