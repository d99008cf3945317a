"""SynFlow (Tanaka et al. 2020): iterative, data-free pruning by synaptic flow ``|θ ⊙ ∂R/∂θ|``.

``R = 1ᵀ f(1; |θ|)``: the summed output of the network on an all-ones input with every floating
parameter and buffer (biases and BatchNorm included) replaced by its absolute value. As in the
authors' code (github.com/ganguli-lab/Synaptic-Flow) the model is in eval mode, so BatchNorm uses
its (absolute) running statistics and affine parameters and dropout is off; the batch is one
sample. Biases feed flow into later layers, so on networks with biases an early layer can still
collapse at extreme sparsity; the no-collapse guarantee is the paper's, for bias-free networks.
The pass runs on a float64 deep copy, so the user's model (values, dtype, mode) is never touched
and large flows do not overflow. Scores come back as float32, the precision the driver ranks in;
flows that would not fit are first rescaled by a power of two (exact, so the order is unchanged).
Pruning follows ``rounds`` (100) steps ``κ_i = 1 − (1 − κ)^((i+1)/rounds)``, the last exactly κ.
"""

from __future__ import annotations

import logging
import math

import torch
from torch import nn

from prunekit.core.connectivity import detached_deepcopy
from prunekit.criteria.base import Criterion, ScoringContext, register
from prunekit.criteria.weight.sensitivity import scored_parameter
from prunekit.core.schedule import DEFAULT_STEPS, exponential_schedule

log = logging.getLogger(__name__)

DEFAULT_ROUNDS = 100
_FLOAT32_SAFE = 2.0**100  # rescale above this so float32 ranking keeps ample headroom


def synflow_schedule(sparsity: float, rounds: int = DEFAULT_ROUNDS) -> list[float]:
    """Exponential-in-density targets ``κ_i = 1 − (1 − κ)^((i+1)/rounds)``, the last exactly κ."""
    return exponential_schedule(sparsity, rounds)


def synaptic_flow(
    model: nn.Module, layers: dict[str, nn.Module], input_shape: tuple[int, ...]
) -> dict[str, torch.Tensor]:
    """``|θ ⊙ ∂R/∂θ|`` (float64) for every layer, computed on an absolute-valued float64 copy of ``model``."""
    twin = detached_deepcopy(model).double().eval()
    with torch.no_grad():
        for tensor in list(twin.parameters()) + list(twin.buffers()):
            if tensor.is_floating_point():
                tensor.abs_()
    modules = dict(twin.named_modules())
    twin_layers = [modules[name] for name in layers]
    params = [scored_parameter(m).requires_grad_() for m in twin_layers]
    device = params[0].device
    ones = torch.ones((1, *input_shape), dtype=torch.float64, device=device)
    flow = twin(ones).sum()
    grads = torch.autograd.grad(flow, params, allow_unused=True)
    scores = {}
    for name, m, p, g in zip(layers, twin_layers, params, grads):
        theta = p.detach() * m.weight_mask if hasattr(m, "weight_mask") else p.detach()
        scores[name] = torch.zeros_like(theta) if g is None else (theta * g).abs_()
    return scores


@register
class SynFlow(Criterion):
    """SynFlow: data-free, re-scored over ``rounds`` exponential steps; needs the model's input shape."""

    name = "synflow"
    needs_data = False
    description = "iterative data-free synaptic flow |θ·∂R/∂θ| over 100 exponential rounds"

    def __init__(
        self, steps: int = DEFAULT_STEPS, rounds: int = DEFAULT_ROUNDS, input_shape: tuple[int, ...] | None = None
    ) -> None:
        super().__init__(steps)
        synflow_schedule(0.5, rounds)  # validates rounds
        self.rounds = rounds
        self.input_shape = tuple(int(d) for d in input_shape) if input_shape is not None else None
        self._inferred: tuple[object, tuple[int, ...]] | None = None

    def schedule(self, sparsity: float) -> list[float]:
        """``rounds`` targets exponential in density, ending exactly at κ."""
        return synflow_schedule(sparsity, self.rounds)

    def _input_shape(self, ctx: ScoringContext) -> tuple[int, ...]:
        """The constructor's ``input_shape``, else the shape of one sample drawn from ``ctx.stream``."""
        if self.input_shape is not None:
            return self.input_shape
        if ctx.stream is None:
            raise ValueError(
                "synflow needs the model's input shape: pass get_criterion('synflow', input_shape=(1, 28, 28)) "
                "(one sample, no batch dimension) or give prune() data to infer it from"
            )
        if self._inferred is None or self._inferred[0] is not ctx.stream:
            inputs = ctx.stream.draw()[0][0]
            self._inferred = (ctx.stream, tuple(inputs.shape[1:]))
            log.debug("synflow inferred input shape %s from the data", self._inferred[1])
        return self._inferred[1]

    def score(self, ctx: ScoringContext) -> dict[str, torch.Tensor]:
        """Synaptic-flow scores as float32 (the driver ranks in float32), power-of-two rescaled if too large."""
        scores = synaptic_flow(ctx.model, ctx.layers, self._input_shape(ctx))
        peak = max((float(s.max()) for s in scores.values() if s.numel()), default=0.0)
        if not math.isfinite(peak):
            raise ValueError("synaptic flow overflowed even in float64: the network is too deep "
                             "or its weights too large")
        scale = 2.0 ** -math.ceil(math.log2(peak / _FLOAT32_SAFE)) if peak > _FLOAT32_SAFE else 1.0
        return {name: (s * scale).float() for name, s in scores.items()}

    def __repr__(self) -> str:
        return f"SynFlow(rounds={self.rounds}, input_shape={self.input_shape})"
