"""Targets in the user's units: keep at most a fraction of the inference FLOPs or of the parameters.

``prune(..., target=Target(flops=0.1))`` and ``prune_nodes(..., target=Target(params=0.05))`` find the
sparsity κ by bisection: every probe prunes a fresh copy of the unpruned network at one κ and measures it;
the least pruned probe that meets the target wins and its masks go onto the caller's network. What
counts:

- weight pruning (masked network): FLOPs are the multiply-accumulates of kept Linear/Conv weights
  (2 per MAC, :func:`prunekit.core.flops.layer_macs`); parameters are all parameters less the masked-out ones;
- node pruning: both are measured on the physically shrunk network (:func:`prunekit.pruning.shrink`),
  FLOPs with FlopCounterMode, parameters as stored.

The achieved fraction is reported beside the request, in total and per layer (:class:`TargetReport`).
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from torch import nn

from prunekit.pruning.artifact import masked_tensors
from prunekit.core.masks import current_mask, prunable_layers
from prunekit.core.flops import layer_macs

log = logging.getLogger(__name__)

KINDS = ("flops", "params", "sparsity")
KAPPA_MAX = 0.999  # the most pruning a probe tries; a target this cannot meet is unreachable
MAX_PROBES = 10
RELATIVE_TOLERANCE = 0.05  # stop once the achieved fraction lies within 5 % below the target


@dataclass(frozen=True)
class Target:
    """What to keep: at most ``flops`` or ``params`` (fractions in (0, 1]) of the dense network, or a ``sparsity``."""

    flops: float | None = None
    params: float | None = None
    sparsity: float | None = None

    def __post_init__(self) -> None:
        given = [(k, getattr(self, k)) for k in KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"a Target takes exactly one of {', '.join(KINDS)}, got {dict(given) or 'none'}")
        kind, value = given[0]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise ValueError(f"Target {kind} must be a number, got {value!r}")
        if kind == "sparsity" and not 0 <= value < 1:
            raise ValueError(f"Target sparsity must lie in [0, 1) (the fraction pruned), got {value!r}")
        if kind != "sparsity" and not 0 < value <= 1:
            raise ValueError(f"Target {kind} must lie in (0, 1] (the fraction of the dense network's {kind} to keep), "
                             f"got {value!r}")

    @property
    def kind(self) -> str:
        """Which quantity the target bounds: flops, params or sparsity."""
        return next(k for k in KINDS if getattr(self, k) is not None)

    @property
    def value(self) -> float:
        """The requested fraction."""
        return float(getattr(self, self.kind))

    @classmethod
    def parse(cls, text: str) -> Target:
        """``"flops=0.1"``, ``"params=0.05"`` or ``"sparsity=0.9"`` as a Target."""
        kind, sep, raw = text.partition("=")
        kind = kind.strip().lower()
        if not sep or kind not in KINDS:
            raise ValueError(f"a target looks like flops=F, params=F or sparsity=F, got {text!r}")
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"the value of target {text!r} is not a number") from None
        return cls(**{kind: value})


@dataclass(frozen=True)
class TargetReport:
    """The request, what was achieved (total and per layer, as fractions kept) and the probes that found it."""

    kind: str
    requested: float
    achieved: float
    sparsity: float
    per_layer: dict[str, float]
    probes: list[tuple[float, float]] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable lines: the total beside the request, then each layer."""
        what = {"flops": "inference FLOPs", "params": "parameters", "sparsity": "sparsity"}[self.kind]
        head = (f"target: sparsity {self.requested:.4f}; achieved {self.achieved:.4f}" if self.kind == "sparsity" else
                f"target: keep <= {self.requested:.2%} of the {what}; achieved {self.achieved:.2%} at sparsity "
                f"{self.sparsity:.4f} ({len(self.probes)} probes)")
        width = max((len(n) for n in self.per_layer), default=5)
        return [head, f"  {'layer'.ljust(width)}  kept {self.kind}"] + [
            f"  {name.ljust(width)}  {kept:.2%}" for name, kept in self.per_layer.items()]


class TargetResult(NamedTuple):
    """The pruned model (masks attached), the record of its pruning rounds and the target report."""

    model: nn.Module
    steps: list
    report: TargetReport


# ------------------------------------------------------------------------------------------------ measuring


def example_inputs_of(data: object) -> torch.Tensor:
    """One sample of ``data`` (an ``(inputs, targets)`` pair or an iterable of such batches), batch size 1."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        return data[0][:1]
    if data is None:
        raise ValueError("a FLOPs or parameter target measures the network on an input: pass data=(inputs, targets) "
                         "or batches of them")
    inputs = next(iter(data))[0]
    return inputs[:1]


def _fraction(kept: float, total: float) -> float:
    return kept / total if total else 1.0


def masked_param_fraction(model: nn.Module) -> tuple[float, dict[str, float]]:
    """Kept fraction of all parameters (masked-out entries count as gone) and of each Linear/Conv weight."""
    total = sum(p.numel() for p in model.parameters())
    gone = sum(int((getattr(m, f"{name.rpartition('.')[2]}_mask") == 0).sum()) for name, m in masked_tensors(model).items())
    layers = {n: _fraction(int(current_mask(m).count_nonzero()), current_mask(m).numel())
              for n, m in prunable_layers(model).items()}
    return _fraction(total - gone, total), layers


def masked_flop_fraction(model: nn.Module, inputs: torch.Tensor) -> tuple[float, dict[str, float]]:
    """Kept fraction of the Linear/Conv multiply-accumulates, counting kept weights only, in total and per layer."""
    shape = tuple(inputs.shape[1:])
    sparse, dense = layer_macs(model, shape, sparse=True), layer_macs(model, shape, sparse=False)
    return _fraction(sum(sparse.values()), sum(dense.values())), {n: _fraction(sparse[n], dense[n]) for n in dense}


def _layer_param_counts(model: nn.Module) -> dict[str, int]:
    return {n: sum(p.numel() for p in m.parameters()) for n, m in prunable_layers(model).items()}


def shrunk_fraction(dense: nn.Module, masked: nn.Module, inputs: torch.Tensor, kind: str) -> tuple[float, dict[str, float]]:
    """Kept fraction of FLOPs or parameters of the shrunk ``masked`` network against ``dense``, total and per layer."""
    from prunekit.pruning.prunability import module_flops
    from prunekit.pruning.shrink import shrink

    small = shrink(masked, inputs, check=False)
    if kind == "params":
        before, after = _layer_param_counts(dense), _layer_param_counts(small)
        total = _fraction(sum(p.numel() for p in small.parameters()), sum(p.numel() for p in dense.parameters()))
    else:
        before, after = module_flops(dense, inputs), module_flops(small, inputs)
        total = _fraction(after.pop(""), before.pop(""))
    return total, {n: _fraction(after[n], before[n]) for n in _layer_param_counts(dense)}


# ------------------------------------------------------------------------------------------------ searching


def transfer_masks(source: nn.Module, destination: nn.Module) -> None:
    """AND every mask of ``source`` into the same tensor of ``destination`` (same architecture)."""
    from prunekit.core.node_masks import and_parameter_mask

    modules = dict(destination.named_modules())
    for name, module in masked_tensors(source).items():
        layer, _, tensor = name.rpartition(".")
        and_parameter_mask(modules[layer], tensor, getattr(module, f"{tensor}_mask").detach().clone())


Probe = Callable[[nn.Module, float], list]
Measure = Callable[[nn.Module], tuple[float, dict[str, float]]]


def _unreachable(target: Target, achieved: float) -> ValueError:
    return ValueError(f"target {target.kind}={target.value:g} is unreachable: even at sparsity {KAPPA_MAX} the network "
                      f"keeps {achieved:.2%} of its {target.kind} (layers that are never pruned, such as the output "
                      f"layer and normalisation, set a floor); ask for at least {achieved:.4f}")


def search(model: nn.Module, target: Target, probe: Probe, measure: Measure, *,
           max_probes: int = MAX_PROBES, rtol: float = RELATIVE_TOLERANCE) -> TargetResult:
    """Bisect κ in [0, KAPPA_MAX] (on the log scale of 1 − κ) for the least pruning that keeps at most ``target``;
    prune ``model`` so."""
    pristine = copy.deepcopy(model)
    probes: list[tuple[float, float]] = []

    def run(kappa: float) -> tuple[nn.Module, list, float, dict[str, float]]:
        trial = copy.deepcopy(pristine)
        steps = probe(trial, kappa)
        achieved, layers = measure(trial)
        probes.append((kappa, achieved))
        log.info("target %s<=%.4f: probe %d at sparsity %.4f keeps %.4f", target.kind, target.value, len(probes),
                 kappa, achieved)
        return trial, steps, achieved, layers

    best = run(KAPPA_MAX)
    if best[2] > target.value:
        raise _unreachable(target, best[2])
    low, high = 0.0, KAPPA_MAX
    while len(probes) < max_probes and best[2] < target.value * (1 - rtol):
        middle = 1 - math.sqrt((1 - low) * (1 - high))  # halve on the log scale of the density 1 − κ
        trial = run(middle)
        if trial[2] <= target.value:
            high, best = middle, trial
        else:
            low = middle
    trial, steps, achieved, layers = best
    transfer_masks(trial, model)
    report = TargetReport(target.kind, target.value, achieved, high, layers, probes)
    for line in report.lines()[:1]:
        log.info("%s", line)
    return TargetResult(model, steps, report)



# ------------------------------------------------------------------------------------------------ entry points


def _reach(model: nn.Module, target: Target, probe: Probe, sparsity_of: Callable[[nn.Module], float],
           measure: Callable[[], Measure]) -> TargetResult:
    """Prune ``model`` at a sparsity target directly, else search the sparsity that meets the target."""
    if target.kind == "sparsity":
        steps = probe(model, target.value)
        achieved = sparsity_of(model)
        return TargetResult(model, steps, TargetReport("sparsity", target.value, achieved, target.value, {},
                                                       [(target.value, achieved)]))
    return search(model, target, probe, measure())


def prune_weights_to_target(model: nn.Module, criterion: object, data: object, target: Target,
                            **options: object) -> TargetResult:
    """``prune`` to a :class:`Target`: the least weight sparsity that keeps at most the requested fraction."""
    from prunekit.core.masks import weight_sparsity
    from prunekit.pruning.before import prune

    def probe(network: nn.Module, kappa: float) -> list:
        return prune(network, criterion, kappa, data, **options).steps

    def measure() -> Measure:
        if target.kind == "params":
            return masked_param_fraction
        inputs = example_inputs_of(data)
        return lambda network: masked_flop_fraction(network, inputs)

    return _reach(model, target, probe, weight_sparsity, measure)


def prune_nodes_to_target(model: nn.Module, criterion: object, data: object, target: Target,
                          **options: object) -> TargetResult:
    """``prune_nodes`` to a :class:`Target`, measured on the shrunk network: the least node sparsity that meets it."""
    from prunekit.core.node_masks import pruned_node_sparsity
    from prunekit.pruning.nodes import prune_nodes

    def probe(network: nn.Module, kappa: float) -> list:
        return prune_nodes(network, criterion, kappa, data, **options).steps

    def measure() -> Measure:
        inputs, dense = example_inputs_of(data), copy.deepcopy(model)
        return lambda network: shrunk_fraction(dense, network, inputs, target.kind)

    return _reach(model, target, probe, pruned_node_sparsity, measure)


def check_one_of(sparsity: float | None, target: Target | None, name: str = "sparsity") -> None:
    """Raise ValueError when both a sparsity and a target are given, TypeError when the target is not a Target."""
    if target is not None and not isinstance(target, Target):
        raise TypeError(f"target must be a prunekit.Target (e.g. Target(flops=0.1)), got {type(target).__name__}")
    if target is not None and sparsity is not None:
        raise ValueError(f"pass either {name}= or target=, not both (got {name}={sparsity!r} and {target!r})")


__all__ = ["KAPPA_MAX", "Target", "TargetReport", "TargetResult", "check_one_of", "example_inputs_of", "masked_flop_fraction",
           "masked_param_fraction", "prune_nodes_to_target", "prune_weights_to_target", "search", "shrunk_fraction",
           "transfer_masks"]
