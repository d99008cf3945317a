"""Multiply-accumulates per layer, counted with forward hooks: the FLOP count every report and target uses."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from prunekit.core.masks import PRUNABLE_TYPES, current_mask
from prunekit.core.timing import model_device


def layer_macs(model: nn.Module, input_shape: Sequence[int], sparse: bool = True) -> dict[str, int]:
    """Multiply-accumulates per sample of every Linear/Conv layer, counting only kept weights if ``sparse``."""
    counts: dict[str, int] = {}
    hooks = []

    def hook_for(name: str):
        def hook(module: nn.Module, _inputs, output: torch.Tensor) -> None:
            weights = int(current_mask(module).count_nonzero()) if sparse else module.weight.numel()
            if isinstance(module, nn.Linear):
                positions = output.numel() // output.shape[-1]
            else:  # convolution: each kept weight fires once per output position
                positions = math.prod(output.shape[2:]) * output.shape[0]
            counts[name] = weights * positions
        return hook

    for name, module in model.named_modules():
        if isinstance(module, PRUNABLE_TYPES):
            hooks.append(module.register_forward_hook(hook_for(name)))
    device = model_device(model)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device=device))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return counts
