"""Structured baselines that prune while or after the network trains, as training-loop callbacks.

Each callback masks whole nodes inside the loop (weight row, bias and BatchNorm entries, see
:func:`prunekit.structured.apply_node_mask`), so a masked node is exactly zero for the rest of
training, and ``finalize(model)`` leaves a plain masked network (learned gates folded in) that
:func:`prunekit.pruning.shrink` turns into a physically smaller one computing the same function:

- ``efficientconvnets``: train the dense network; after ``1 − finetune_fraction`` of the budget
  (the paper's 70 of 80 epochs) remove the κ share of every layer's nodes with the smallest L1 row
  norm; fine-tune the rest.
- ``gatedecorators`` (2× budget): dense training for the first half; then gates φ = 1 are attached
  and trained, and nodes are pruned by ``|φ·∂L/∂φ|`` along 1 %, 6 %, … κ, spread over the second
  half up to ``1 − finetune_fraction``; fine-tune the rest.
- ``group-hs``: ``λ·Σ H_G`` joins the loss until the cut at ``1 − finetune_fraction``; nodes whose
  every weight has ``|w| ≤ threshold`` are removed; fine-tune without the regulariser.
- ``l0`` (2× budget): hard-concrete gates with ``λ·E[L0] / N_nodes`` (or the authors' per-weight
  expected L0) in the loss for the whole budget; at the end (after loading the parameter average, with
  ``ema``) the nodes whose test-time gate is 0 are removed.
- ``snap-it`` with ``prune_at="during"`` (Appendix E's abandoned variant): node elasticity of the
  network *in training*, re-scored after epochs τ, 2τ, … along the κ_i schedule, as SNIP-it during.

``version`` counts the changes of the node masks, so a meter can re-measure the training cost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass

import torch
from torch import nn

from prunekit.criteria.base import ScoringBudget, scoring_budget
from prunekit.pruning.during import check_interval, event_step, step_epochs
from prunekit.core.masks import prunable_layers, weight_sparsity
from prunekit.criteria.node.base import NodeCriterion, NodeScoringContext, get_node_criterion
from prunekit.criteria.node.efficientconvnets import EfficientConvNets
from prunekit.criteria.node.gatedecorators import GateDecorators
from prunekit.criteria.node.gates import NodeGates, ScaleGates
from prunekit.criteria.node.grouphoyer import GroupHoyerSquare, group_hoyer_square_penalty
from prunekit.criteria.node.l0 import L0, node_parameter_counts, per_weight_penalty
from prunekit.criteria.node.snap import SNAPit
from prunekit.core.node_masks import NodeSite, apply_node_mask, node_alive, node_sites
from prunekit.pruning.regularised import PenaltyThenCut
from prunekit.pruning.nodes import NodePruneStep, node_scoring_context, prune_nodes_round
from prunekit.training.loop import Callback, TrainState
from prunekit.core.timing import Stopwatch, model_device

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NodeTrainingStep(NodePruneStep):
    """A node-pruning round taken in the training loop: ``NodePruneStep`` plus the (fractional) epoch it ran after."""

    epoch: float = 0.0


@torch.no_grad()
def clear_masked_optimizer_state(optimizer: torch.optim.Optimizer, model: nn.Module) -> int:
    """Zero every masked parameter (weights, biases, BatchNorm affine) and its optimiser state where its mask is 0,
    so a removed node stays exactly zero; returns how many parameters were cleared."""
    cleared = 0
    for module in model.modules():
        for name, param in list(module.named_parameters(recurse=False)):
            mask = getattr(module, f"{name[:-len('_orig')]}_mask", None) if name.endswith("_orig") else None
            if mask is None:
                continue
            pruned = mask == 0
            param.masked_fill_(pruned, 0.0)
            for value in optimizer.state.get(param, {}).values():
                if isinstance(value, torch.Tensor) and value.shape == param.shape:
                    value.masked_fill_(pruned.to(value.device), 0)
            cleared += 1
    return cleared


def _node_counts(sites: dict[str, NodeSite]) -> tuple[int, int]:
    """Alive and total hidden nodes."""
    alive = [node_alive(site) for site in sites.values()]
    return sum(int(a.sum()) for a in alive), sum(a.numel() for a in alive)


class StructuredPruner(Callback):
    """What the structured baselines share: their sites, a record of rounds, a mask version and ``finalize``."""

    def __init__(self, criterion: NodeCriterion) -> None:
        self.criterion = criterion
        self.sites: dict[str, NodeSite] = {}
        self.steps_done: list[NodeTrainingStep] = []
        self.version = 0  # bumped whenever node masks change
        self.gates: NodeGates | None = None

    def on_train_start(self, state: TrainState) -> None:
        """Find the hidden-node sites of the network about to train."""
        if state.config.epochs < 1:
            raise ValueError(f"{self.criterion.name} prunes in the training loop and needs at least one training "
                             f"epoch, got epochs=0")
        self.sites = node_sites(state.model)
        self.steps_done, self.version = [], 0

    def _masks_changed(self, state: TrainState) -> None:
        """After new node masks: pruned parameters and their optimiser state go to zero; meters re-measure."""
        clear_masked_optimizer_state(state.optimizer, state.model)
        self.version += 1

    def _record(self, step: NodePruneStep, epoch: float) -> None:
        """Keep one round's record, with the epoch it ran after."""
        self.steps_done.append(NodeTrainingStep(**asdict(step), epoch=epoch))
        log.info("epoch %.2f: %s pruned to node sparsity %.4f (target %.4f)", epoch, self.criterion.name,
                 step.node_sparsity, step.target)

    def _step_from_masks(self, index: int, target: float, model: nn.Module, seconds: float) -> NodePruneStep:
        """A round's record read off the masks as they are now."""
        alive, total = _node_counts(self.sites)
        layers = prunable_layers(model)
        return NodePruneStep(round=index, target=target, sparsity=1.0 - alive / total,
                             node_sparsity=1.0 - alive / total, nodes_alive=alive, nodes_total=total,
                             weight_sparsity=weight_sparsity(model, layers), loss=float("nan"), seconds=seconds)

    def finalize(self, model: nn.Module) -> None:
        """Leave ``model`` a plain masked network after training (gates folded in); shrink it next."""
        if self.gates is not None:
            self.gates.fold()
            self.gates = None


class ScheduledNodePruning(StructuredPruner):
    """Node-pruning rounds at planned points of training: EfficientConvNets (one round), GateDecorators (many)."""

    def __init__(self, criterion: EfficientConvNets | GateDecorators, sparsity: float, data: object = None, *,
                 budget: ScoringBudget | None = None, **budget_changes: object) -> None:
        super().__init__(criterion)
        if not 0.0 < sparsity < 1.0:
            raise ValueError(f"{criterion.name} prunes to a node sparsity in (0, 1), got {sparsity!r}")
        self.sparsity = sparsity
        self.data = data
        self.budget = scoring_budget(budget, **budget_changes)
        self.targets = criterion.schedule(sparsity)
        self.round_epochs: list[float] = []
        self._ctx: NodeScoringContext | None = None

    def plan_rounds(self, epochs: int) -> list[float]:
        """The (fractional) epochs after which the rounds run, as the criterion plans them on the budget."""
        return self.criterion.round_epochs(self.sparsity, epochs)

    def on_train_start(self, state: TrainState) -> None:
        """Plan the rounds on the budget and build the scoring context (gates come with the first round)."""
        super().on_train_start(state)
        self.round_epochs = self.plan_rounds(state.config.epochs)
        if self.round_epochs and self.round_epochs[-1] > state.config.epochs + 1e-9:
            raise ValueError(f"{self.criterion.name}'s last pruning round falls after epoch {self.round_epochs[-1]:g}, "
                             f"beyond the {state.config.epochs} training epochs; train longer or shorten τ")
        data = self.data if self.criterion.needs_data else None
        self._ctx = node_scoring_context(state.model, self.criterion, data, self.budget)
        self._ctx.sites = self.sites
        self._gate_epoch = (state.config.epochs / self.criterion.epoch_factor
                            if isinstance(self.criterion, GateDecorators) else None)

    def _due(self, index: int, state: TrainState, epoch_end: bool) -> bool:
        """Whether round ``index`` is due now (on its optimiser step, or at the end of its epoch if unsized)."""
        epoch = self.round_epochs[index]
        if state.steps_per_epoch is None:
            return epoch_end and epoch <= state.epoch + 1e-9
        return not epoch_end and event_step(epoch, state.steps_per_epoch) <= state.step

    def _gates_due(self, state: TrainState, epoch_end: bool) -> bool:
        """Whether GateDecorators' gates should be attached now (end of the dense half)."""
        if self._gate_epoch is None or self.gates is not None:
            return False
        if state.steps_per_epoch is None:
            return epoch_end and self._gate_epoch <= state.epoch + 1e-9
        return not epoch_end and event_step(self._gate_epoch, state.steps_per_epoch) <= state.step

    def on_step_end(self, state: TrainState) -> None:
        """Attach the gates and run every round that is due."""
        self._advance(state, epoch_end=False)

    def on_epoch_end(self, state: TrainState) -> None:
        """For batches without a length: the same, once per epoch."""
        self._advance(state, epoch_end=True)

    def _advance(self, state: TrainState, epoch_end: bool) -> None:
        if self._gates_due(state, epoch_end):
            self.gates = ScaleGates(self.sites)
            self.gates.attach(state.optimizer)
            log.info("epoch %.2f: GateDecorators attached gates to %d layers", state.epochs_done, len(self.sites))
        while len(self.steps_done) < len(self.targets) and self._due(len(self.steps_done), state, epoch_end):
            index = len(self.steps_done)
            step = prune_nodes_round(self._ctx, self.criterion, index, self.targets[index])
            self._masks_changed(state)
            self._record(step, state.epochs_done)


class NodePruningDuringTraining(ScheduledNodePruning):
    """SNAP-it during training: the κ_i rounds of its schedule after epochs τ, 2τ, … of training (as SNIP-it's)."""

    def __init__(self, criterion: SNAPit, sparsity: float, data: object = None, *, interval: float,
                 budget: ScoringBudget | None = None, **budget_changes: object) -> None:
        super().__init__(criterion, sparsity, data, budget=budget, **budget_changes)
        self.interval = check_interval(interval)

    def plan_rounds(self, epochs: int) -> list[float]:
        """τ, 2τ, …: one round per target of the schedule."""
        return step_epochs(len(self.targets), self.interval)


class GroupHoyerSquarePruning(PenaltyThenCut, StructuredPruner):
    """Group-HS: ``λ·Σ H_G`` in the loss until the cut; then nodes at or below the threshold go; fine-tune."""

    def __init__(self, criterion: GroupHoyerSquare, *, include_first: bool = True, include_last: bool = True) -> None:
        super().__init__(criterion)
        self._layer_options = dict(include_first=include_first, include_last=include_last)
        self.layers: dict[str, nn.Module] = {}
        self.pruned = False

    def on_train_start(self, state: TrainState) -> None:
        """Pick the regularised layers and plan the cut."""
        super().on_train_start(state)
        self.layers = prunable_layers(state.model, **self._layer_options)
        self.plan_cut(state, self.criterion.cut_epoch(state.config.epochs))

    def regularisation(self) -> tuple[float, Callable[[Mapping[str, nn.Module]], torch.Tensor]]:
        """λ and ``Σ H_G`` over the layers' node groups."""
        return self.criterion.lam, group_hoyer_square_penalty

    def cut(self, state: TrainState) -> None:
        """Remove the nodes whose group norm is at or below the threshold; clear their optimiser state."""
        watch = Stopwatch(state.device).start()
        for name, keep in self.criterion.threshold_keep(self.sites).items():
            apply_node_mask(self.sites[name], keep)
        self._masks_changed(state)
        self._record(self._step_from_masks(0, float("nan"), state.model, watch.stop()), state.epochs_done)


class ParameterAverage:
    """Exponential moving average (β) of trainable parameters, loaded bias-corrected as ``avg / (1 − β^steps)``."""

    def __init__(self, params: Iterable[nn.Parameter], beta: float) -> None:
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"the average's β must be in [0, 1), got {beta!r}")
        self.beta = beta
        self.params = [p for p in params if p.requires_grad]
        self.averages = [torch.zeros_like(p) for p in self.params]  # zeros, so the bias correction is exact
        self.steps = 0

    @torch.no_grad()
    def update(self) -> None:
        """``avg ← β·avg + (1 − β)·θ`` for every parameter."""
        self.steps += 1
        for average, param in zip(self.averages, self.params):
            average.mul_(self.beta).add_(param, alpha=1.0 - self.beta)

    @torch.no_grad()
    def load(self) -> None:
        """Replace every parameter by its bias-corrected average (nothing before the first update)."""
        if self.steps == 0:
            return
        correction = 1.0 - self.beta ** self.steps
        for average, param in zip(self.averages, self.params):
            param.copy_(average / correction)


class L0Regularisation(StructuredPruner):
    """L0 on nodes: hard-concrete gates and the criterion's expected-L0 penalty in the loss; zero test-time gates
    removed at the end (after the parameter average is loaded, with ``ema``)."""

    def __init__(self, criterion: L0, seed: int = 0) -> None:
        super().__init__(criterion)
        self.seed = seed
        self._epochs = 0
        self.average: ParameterAverage | None = None
        self._average_loaded = False

    def on_train_start(self, state: TrainState) -> None:
        """Attach the gates (their own optimiser group, no weight decay) and start the parameter average."""
        super().on_train_start(state)
        self._epochs = state.config.epochs
        if self.criterion.per_weight:
            self._start_per_weight(state)
        self.gates = self.criterion.gates(self.sites, torch.Generator().manual_seed(self.seed))
        self.gates.attach(state.optimizer)
        self._total = sum(site.size for site in self.sites.values())
        self.average = ParameterAverage(state.model.parameters(), self.criterion.ema) if self.criterion.ema else None
        self._average_loaded = False

    def _start_per_weight(self, state: TrainState) -> None:
        """λ_s per site, n_j per node and N for the per-weight penalty (masks do not change while L0 trains)."""
        if not state.train_samples:
            raise ValueError("L0's per-weight penalty divides by the number of training samples N, and these "
                             "training batches do not say it (give TensorBatches or a list of (x, y) batches)")
        self._lams = self.criterion.site_lams(self.sites)
        self._counts = {name: node_parameter_counts(site) for name, site in self.sites.items()}
        self._samples = state.train_samples

    def penalty(self, state: TrainState) -> torch.Tensor | None:
        """Node share: ``λ · Σ_j P(z_j ≠ 0) / N_nodes``; per-weight: :func:`per_weight_penalty` (None when zero)."""
        if self.criterion.per_weight:
            if not any(self._lams.values()) and self.criterion.prior == 0:
                return None
            return per_weight_penalty(self.gates, self._lams, self.criterion.prior, self._samples, self._counts)
        if self.criterion.lam == 0:
            return None
        return self.criterion.lam * self.gates.expected_l0() / self._total

    def on_step_end(self, state: TrainState) -> None:
        """Keep log α in range after every step, then average; the last step loads the average, so the last
        epoch's evaluation (the record's accuracy) sees the network that ``finalize`` shrinks."""
        self.gates.clamp()
        if self.average is None:
            return
        self.average.update()
        if state.steps_per_epoch and state.step == self._epochs * state.steps_per_epoch:
            self._load_average()

    def _load_average(self) -> None:
        if self.average is not None and not self._average_loaded:
            self.average.load()
            self._average_loaded = True

    def finalize(self, model: nn.Module) -> None:
        """Load the parameter average (if not yet), remove the nodes whose test-time gate is 0, fold the others."""
        if self.gates is None:
            return
        watch = Stopwatch(model_device(model)).start()
        self._load_average()
        values = self.gates.fold()
        self.gates = None
        for name, value in values.items():
            apply_node_mask(self.sites[name], value > 0)
        self.version += 1
        self._record(self._step_from_masks(0, float("nan"), model, watch.stop()), float(self._epochs))


def _scheduled(crit: NodeCriterion, sparsity: float, data: object, budget: ScoringBudget) -> StructuredPruner:
    return ScheduledNodePruning(crit, sparsity, data, budget=budget)


# Which training-loop callback carries each structured baseline (looked up along the criterion's class hierarchy).
_PRUNER_OF: dict[type, Callable[[NodeCriterion, float, object, ScoringBudget], StructuredPruner]] = {
    EfficientConvNets: _scheduled,
    GateDecorators: _scheduled,
    GroupHoyerSquare: lambda crit, sparsity, data, budget: GroupHoyerSquarePruning(
        crit, include_first=budget.include_first, include_last=budget.include_last),
    L0: lambda crit, sparsity, data, budget: L0Regularisation(crit, seed=budget.seed),
}


def structured_pruner(criterion: str | NodeCriterion, sparsity: float = 0.0, data: object = None, *,
                      interval: float | None = None, budget: ScoringBudget | None = None,
                      **budget_changes: object) -> StructuredPruner:
    """The training-loop callback that prunes nodes during or after training: a structured baseline, or SNAP-it
    during training when ``interval`` (τ, epochs between its rounds) is given. Scoring settings: a
    :class:`ScoringBudget` (``budget=``), any of whose fields may also be given by keyword (``samples=…``)."""
    crit = get_node_criterion(criterion)
    budget = scoring_budget(budget, **budget_changes)
    if interval is not None:
        if not isinstance(crit, SNAPit) or crit.combined:
            raise ValueError(f"pruning nodes every τ epochs during training is SNAP-it's variant (Appendix E); "
                             f"node criterion {crit.name!r} does not take an interval")
        return NodePruningDuringTraining(crit, sparsity, data, interval=interval, budget=budget)
    make = next((_PRUNER_OF[cls] for cls in type(crit).__mro__ if cls in _PRUNER_OF), None)
    if make is not None:
        return make(crit, sparsity, data, budget)
    raise ValueError(f"node criterion {crit.name!r} prunes before training (prune_nodes); the structured baselines "
                     f"that prune during or after training are efficientconvnets, gatedecorators, group-hs and l0 "
                     f"(and snap-it with an interval τ)")


__all__ = [
    "GroupHoyerSquarePruning",
    "L0Regularisation",
    "NodePruningDuringTraining",
    "NodeTrainingStep",
    "ParameterAverage",
    "ScheduledNodePruning",
    "StructuredPruner",
    "clear_masked_optimizer_state",
    "structured_pruner",
]
