"""Metrics of Appendix H: accuracy trade-offs, confidence bounds, FLOPs, CSR disk size, memory (inference time:
``measure.network.inference_seconds``, the one timing protocol)."""

from __future__ import annotations

import math
import resource
import sys
from collections.abc import Sequence

import torch
from torch import nn

from prunekit.core.masks import PRUNABLE_TYPES, effective_weight
from prunekit.core.flops import layer_macs

CSR_FLOAT_TO_INDEX_RATIO = 16  # Appendix H: nonzero floats stored at 16× the precision of indices
FLOAT_BITS = 32


def harmonic_mean(accuracy: float, sparsity: float) -> float:
    """Harmonic mean of accuracy and sparsity (both fractions), the paper's HM; 0 if either is 0."""
    for name, value in (("accuracy", accuracy), ("sparsity", sparsity)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be a fraction in [0, 1], got {value!r}")
    if accuracy == 0 or sparsity == 0:
        return 0.0
    return 2 * accuracy * sparsity / (accuracy + sparsity)


def confidence_bound(values: Sequence[float]) -> float:
    """The paper's bound ``1.96·σ/√n`` with the sample standard deviation (0 for one value)."""
    n = len(values)
    if n == 0:
        raise ValueError("confidence_bound needs at least one value")
    if n == 1:
        return 0.0
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return 1.96 * std / math.sqrt(n)


def inference_flops(model: nn.Module, input_shape: Sequence[int], sparse: bool = True) -> int:
    """FLOPs of one forward pass of one sample (2 per multiply-accumulate of Linear/Conv layers)."""
    return 2 * sum(layer_macs(model, input_shape, sparse).values())


TRAINING_PASSES = 3  # forward, input-gradient and weight-gradient GEMMs


def training_flops(model: nn.Module, input_shape: Sequence[int], samples: int, sparse: bool = True) -> int:
    """FLOPs of one training pass over ``samples`` samples: forward plus two backward GEMMs (3×)."""
    return TRAINING_PASSES * inference_flops(model, input_shape, sparse) * samples


def dense_size_bits(model: nn.Module) -> int:
    """Bits to store every Linear/Conv weight densely as float32."""
    return sum(m.weight.numel() * FLOAT_BITS for m in model.modules() if isinstance(m, PRUNABLE_TYPES))


def csr_size_bits(model: nn.Module, ratio: int = CSR_FLOAT_TO_INDEX_RATIO) -> float:
    """Appendix H's CSR estimate of the Linear/Conv weights: the nonzero values of the weight each layer computes
    with (its mask applied) at 32 bits, their column indices and the row pointers at 32/ratio bits. Counting
    values, not mask entries, gives the same size with masks folded in and for networks pruned elsewhere."""
    bits = 0.0
    for module in model.modules():
        if isinstance(module, PRUNABLE_TYPES):
            weight = effective_weight(module).detach()
            nonzero = int(weight.count_nonzero())
            bits += nonzero * FLOAT_BITS + (nonzero + weight.shape[0] + 1) * FLOAT_BITS / ratio
    return bits


def peak_memory_bytes(device: torch.device | str = "cpu") -> int:
    """Peak CUDA memory allocated on a GPU, else the process's peak resident set size."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)
