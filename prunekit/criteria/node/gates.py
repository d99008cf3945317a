"""Trainable per-node gates for the structured baselines that learn them (GateDecorators, L0), and their folding.

A gate multiplies one node's normalised pre-activation, at the place SNAP-it's auxiliary gate sits
(:attr:`prunekit.core.node_masks.NodeSite.gate_module`: the BatchNorm output if one follows the
layer, else the layer output). It is a parameter registered on that module and applied by a forward
hook, so the optimiser, gradient clipping and ``state_dict`` see it, and nothing in the user's
module code changes. After training, :meth:`NodeGates.fold` multiplies each node's deterministic
gate value into the BatchNorm affine (or the layer's weight row and bias) and removes the gate: the
network computes the same function without it, and :func:`prunekit.pruning.shrink` can remove
the nodes whose gate is 0.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from prunekit.core.node_masks import NodeSite

# Hard-concrete stretch interval (γ, ζ), temperature β and the clamp of the uniform noise (Louizos et al. 2018).
STRETCH_LOW, STRETCH_HIGH = -0.1, 1.1
DEFAULT_TEMPERATURE = 2.0 / 3.0
DEFAULT_DROPRATE_INIT = 0.5
LOG_ALPHA_RANGE = (math.log(1e-2), math.log(1e2))  # the L0 authors' clamp of log α after every step
_NOISE_EPS = 1e-6


def _channel_dim(module: nn.Module, output: torch.Tensor) -> int:
    """The dimension of ``output`` that indexes nodes: features last for Linear, channels (dim 1) otherwise."""
    return output.dim() - 1 if isinstance(module, nn.Linear) else 1


def _broadcast(values: torch.Tensor, output: torch.Tensor, dim: int) -> torch.Tensor:
    """``values`` (one per node) shaped to multiply ``output`` along ``dim``."""
    shape = [1] * output.dim()
    shape[dim] = -1
    return values.reshape(shape).to(output.dtype)


@torch.no_grad()
def _scale_rows(module: nn.Module, name: str, scale: torch.Tensor) -> None:
    """Multiply row ``j`` of ``module.<name>`` (its ``_orig`` parameter when masked) by ``scale[j]``."""
    orig = getattr(module, f"{name}_orig", None)
    target = orig if orig is not None else getattr(module, name)
    target.mul_(scale.reshape(-1, *([1] * (target.dim() - 1))).to(target))
    if orig is not None:  # the masked attribute is recomputed at the next forward anyway; keep it current now
        setattr(module, name, orig * getattr(module, f"{name}_mask"))


def fold_node_scale(site: NodeSite, scale: torch.Tensor) -> None:
    """Fold a per-node factor on the site's gate position into its parameters (exact: both are linear in it)."""
    if scale.shape != (site.size,):
        raise ValueError(f"scale for {site.name} has shape {tuple(scale.shape)}, expected ({site.size},)")
    owner = site.norm if site.norm is not None else site.layer
    for name in ("weight", "bias"):
        if getattr(owner, name, None) is not None:
            _scale_rows(owner, name, scale)


class NodeGates:
    """One trainable gate parameter per hidden node, applied by forward hooks; subclasses say how it scales."""

    attribute = "node_gate"

    def __init__(self, sites: dict[str, NodeSite]) -> None:
        if not sites:
            raise ValueError("NodeGates needs at least one hidden-node site")
        self.sites = dict(sites)
        self.params: dict[str, nn.Parameter] = {}
        self._handles: list = []

    def initial(self, site: NodeSite) -> torch.Tensor:
        """The gate parameter's starting value for one site."""
        return torch.ones(site.size)

    def factor(self, name: str, training: bool) -> torch.Tensor:
        """What the node outputs of site ``name`` are multiplied by (in training or in eval mode)."""
        return self.params[name]

    def value(self, name: str) -> torch.Tensor:
        """The deterministic (eval-mode) factor of every node of site ``name``."""
        return self.factor(name, training=False).detach()

    def attach(self, optimizer: torch.optim.Optimizer | None = None, weight_decay: float = 0.0) -> None:
        """Register the gates on their modules (and in ``optimizer`` as one group without weight decay)."""
        if self.params:
            raise RuntimeError("these gates are attached already")
        for name, site in self.sites.items():
            module = site.gate_module
            if hasattr(module, self.attribute):
                raise ValueError(f"{name} already carries a {self.attribute!r}; remove the other gates first")
            device = next(module.parameters(), torch.empty(0)).device
            param = nn.Parameter(self.initial(site).to(device))
            module.register_parameter(self.attribute, param)
            self.params[name] = param
            self._handles.append(module.register_forward_hook(self._hook(name)))
        if optimizer is not None:
            optimizer.add_param_group({"params": list(self.params.values()), "weight_decay": weight_decay})

    def _hook(self, name: str):
        def gate(module: nn.Module, _inputs: tuple, output: torch.Tensor) -> torch.Tensor:
            return output * _broadcast(self.factor(name, module.training), output, _channel_dim(module, output))

        return gate

    def detach_from_model(self) -> None:
        """Remove hooks and gate parameters from the modules (the gate values are kept in ``params``)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        for site in self.sites.values():
            if self.attribute in site.gate_module._parameters:
                delattr(site.gate_module, self.attribute)

    def fold(self) -> dict[str, torch.Tensor]:
        """Fold every node's deterministic factor into the network, detach the gates; the factors folded."""
        values = {name: self.value(name) for name in self.params}
        self.detach_from_model()
        for name, value in values.items():
            fold_node_scale(self.sites[name], value)
        return values


class ScaleGates(NodeGates):
    """GateDecorators' gates φ: a plain trainable factor per node, starting at 1."""

    attribute = "node_gate"


def hard_concrete_sample(log_alpha: torch.Tensor, temperature: float = DEFAULT_TEMPERATURE) -> torch.Tensor:
    """One hard-concrete draw per entry: ``min(1, max(0, sigmoid((log u − log(1−u) + log α)/β)·(ζ−γ) + γ))``."""
    u = torch.rand_like(log_alpha).clamp(_NOISE_EPS, 1 - _NOISE_EPS)
    s = torch.sigmoid((u.log() - (1 - u).log() + log_alpha) / temperature)
    return (s * (STRETCH_HIGH - STRETCH_LOW) + STRETCH_LOW).clamp(0.0, 1.0)


def hard_concrete_mean(log_alpha: torch.Tensor) -> torch.Tensor:
    """The test-time gate of Louizos et al.: ``min(1, max(0, sigmoid(log α)·(ζ−γ) + γ))``."""
    return (torch.sigmoid(log_alpha) * (STRETCH_HIGH - STRETCH_LOW) + STRETCH_LOW).clamp(0.0, 1.0)


def prob_nonzero(log_alpha: torch.Tensor, temperature: float = DEFAULT_TEMPERATURE) -> torch.Tensor:
    """``P(z ≠ 0) = sigmoid(log α − β·log(−γ/ζ))``: each gate's share of the expected L0 norm."""
    return torch.sigmoid(log_alpha - temperature * math.log(-STRETCH_LOW / STRETCH_HIGH))


class HardConcreteGates(NodeGates):
    """L0 regularisation's gates: log α per node; a hard-concrete sample in training, its test-time value in eval."""

    attribute = "node_log_alpha"

    def __init__(self, sites: dict[str, NodeSite], droprate_init: float = DEFAULT_DROPRATE_INIT,
                 temperature: float = DEFAULT_TEMPERATURE, generator: torch.Generator | None = None) -> None:
        super().__init__(sites)
        self.droprate_init = droprate_init
        self.temperature = temperature
        self.generator = generator

    def initial(self, site: NodeSite) -> torch.Tensor:
        """``log(1 − p) − log p`` plus N(0, 0.01²) noise, p the initial drop rate (the authors' initialisation)."""
        p = self.droprate_init
        noise = torch.randn(site.size, generator=self.generator) * 1e-2
        return noise + math.log(1 - p) - math.log(p)

    def factor(self, name: str, training: bool) -> torch.Tensor:
        """A fresh sample per forward pass in training (shared by the batch), the test-time gate in eval."""
        log_alpha = self.params[name]
        return hard_concrete_sample(log_alpha, self.temperature) if training else hard_concrete_mean(log_alpha)

    def expected_l0(self) -> torch.Tensor:
        """``Σ_j P(z_j ≠ 0)`` over every gated node (differentiable in log α)."""
        return torch.stack([prob_nonzero(p, self.temperature).sum() for p in self.params.values()]).sum()

    @torch.no_grad()
    def clamp(self) -> None:
        """Keep log α in the authors' range after an optimiser step."""
        for param in self.params.values():
            param.clamp_(*LOG_ALPHA_RANGE)


__all__ = [
    "DEFAULT_DROPRATE_INIT",
    "DEFAULT_TEMPERATURE",
    "HardConcreteGates",
    "NodeGates",
    "ScaleGates",
    "STRETCH_HIGH",
    "STRETCH_LOW",
    "fold_node_scale",
    "hard_concrete_mean",
    "hard_concrete_sample",
    "prob_nonzero",
]
