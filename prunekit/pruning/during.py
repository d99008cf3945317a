"""Pruning during training (Algorithm 1 with τ > 0) and IMP's rewinding: train τ epochs, prune to κ_i, repeat.

``PruneDuringTraining`` is a training-loop callback. After (fractional) epochs τ, 2τ, …, L·τ (L the length
of the criterion's schedule, e.g. the κ_i of ``snip_it_schedule`` for SNIP-it) it re-scores the live model
on fresh batches from its scoring source and prunes to the next target with the shared driver of
``prunekit.pruning.before`` (global ranking, masks only shrink). τ may be a fraction of an epoch, so a reduced
budget (6 epochs instead of the paper's 80) keeps the paper's proportions: a step fires after the optimiser
step ``round(t · steps_per_epoch)``. After each step the optimiser's state for the pruned weights is cleared,
so Adam's running moments cannot resurrect them.

With ``rewind_epoch`` (IMP, Frankle et al.) the callback also snapshots every parameter and buffer once
training reaches that epoch, and after each later pruning step resets the surviving weights to the snapshot
and the optimiser's state to empty, as the lottery-ticket procedure with rewinding prescribes.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch
from torch import nn

from prunekit.criteria.base import Criterion, ScoringBudget, ScoringContext, scoring_budget
from prunekit.pruning.before import (
    PruneStep,
    check_data,
    prune_round,
    resolve_criterion,
    scoring_context,
)
from prunekit.core.schedule import DEFAULT_STEPS, check_sparsity
from prunekit.training.loop import Callback, TrainState

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 4  # τ: epochs of training before each pruning step (the paper's, Appendix F)
DEFAULT_REWIND_EPOCH = 6  # IMP's rewind point e_k (the paper's, Appendix F)
_EPS = 1e-9


@dataclass(frozen=True)
class DuringStep(PruneStep):
    """A pruning round taken during training: ``PruneStep`` plus the (fractional) epoch after which it ran."""

    epoch: float = 0.0
    rewound: bool = False


def check_interval(interval: object) -> float:
    """Return τ as a positive finite float (epochs, fractions allowed), else raise ValueError naming it."""
    ok = isinstance(interval, (int, float)) and not isinstance(interval, bool) and math.isfinite(interval)
    if not ok or interval <= 0:
        raise ValueError(f"prune interval τ must be a positive number of epochs (fractions allowed), got {interval!r}")
    return float(interval)


def check_rewind_epoch(epoch: object) -> float | None:
    """Return the rewind epoch as a float >= 0 (or None: no rewinding), else raise ValueError naming it."""
    if epoch is None:
        return None
    ok = isinstance(epoch, (int, float)) and not isinstance(epoch, bool) and math.isfinite(epoch)
    if not ok or epoch < 0:
        raise ValueError(f"rewind_epoch must be None or a number of epochs >= 0, got {epoch!r}")
    return float(epoch)


def pruning_epochs(sparsity: float, steps: int = DEFAULT_STEPS, interval: float = DEFAULT_INTERVAL,
                   criterion: str | Criterion = "snip-it") -> list[float]:
    """Epochs after which the rounds run: τ, 2τ, …, one per target of the criterion's schedule."""
    kappa = check_sparsity(sparsity)
    tau = check_interval(interval)
    return step_epochs(len(resolve_criterion(criterion, steps).schedule(kappa)), tau)


def step_epochs(n_steps: int, interval: float) -> list[float]:
    """τ, 2τ, …, n·τ: the epochs after which the n pruning rounds run."""
    return [interval * (i + 1) for i in range(n_steps)]


def epochs_for_rounds(n_steps: int, interval: float) -> int:
    """Fewest whole training epochs in which ``n_steps`` rounds, one every τ epochs, all run: ``⌈n · τ⌉``."""
    return math.ceil(step_epochs(n_steps, interval)[-1] - _EPS) if n_steps else 0


def required_epochs(sparsity: float, steps: int = DEFAULT_STEPS, interval: float = DEFAULT_INTERVAL,
                    criterion: str | Criterion = "snip-it") -> int:
    """Fewest whole training epochs that reach the final pruning step (to κ): ``⌈len(schedule) · τ⌉``."""
    return epochs_for_rounds(len(pruning_epochs(sparsity, steps, interval, criterion)), interval)


def event_step(epoch: float, steps_per_epoch: int) -> int:
    """The optimiser step after which something planned for (fractional) ``epoch`` happens (at least step 1)."""
    return max(1, int(math.floor(epoch * steps_per_epoch + 0.5)))


def event_position(epoch: float, steps_per_epoch: int | None) -> int:
    """Where an event planned for ``epoch`` fires: its optimiser step (``event_step``), or, for training batches
    without a length, ``-epoch`` for the end of that whole epoch (see :func:`current_position`)."""
    if steps_per_epoch is not None:
        return event_step(epoch, steps_per_epoch)
    if abs(epoch - round(epoch)) > _EPS:
        raise ValueError(f"epoch {epoch:g} is not a whole epoch: placing it on an optimiser step needs training "
                         f"batches with a length (len()); pass a sized iterable or whole-epoch settings")
    return -int(round(epoch))


def current_position(state: TrainState, epoch_end: bool) -> int | None:
    """The position (as :func:`event_position` numbers them) the loop has reached in ``on_step_end`` (the step)
    or ``on_epoch_end`` (``-epoch``, only when the batches have no length); None where nothing can be due."""
    if not epoch_end:
        return state.step
    return -state.epoch if state.steps_per_epoch is None else None


@torch.no_grad()
def clear_pruned_optimizer_state(optimizer: torch.optim.Optimizer, model: nn.Module) -> int:
    """Zero the optimiser state (Adam's exp_avg/exp_avg_sq: any tensor shaped like the parameter) at pruned
    positions of every masked layer's ``weight_orig``, and ``weight_orig`` itself there; returns how many
    parameters were cleared."""
    cleared = 0
    for module in model.modules():
        mask = getattr(module, "weight_mask", None)
        param = getattr(module, "weight_orig", None)
        if mask is None or param is None:
            continue
        pruned = mask == 0
        param.masked_fill_(pruned, 0.0)  # a dead weight then stays exactly 0 (zero gradient, zero decay)
        for value in optimizer.state.get(param, {}).values():
            if isinstance(value, torch.Tensor) and value.shape == param.shape:
                value.masked_fill_(pruned.to(value.device), 0)
        cleared += 1
    return cleared


def snapshot_weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of every parameter and buffer except the masks, keyed as in ``state_dict``."""
    return {k: v.detach().clone() for k, v in model.state_dict().items() if not k.endswith("_mask")}


@torch.no_grad()
def rewind_weights(model: nn.Module, snapshot: dict[str, torch.Tensor]) -> int:
    """Copy ``snapshot`` back into the model (a weight pruned since the snapshot goes into ``weight_orig``);
    returns how many tensors were restored."""
    live = model.state_dict(keep_vars=True)
    restored = 0
    for key, value in snapshot.items():
        target = live.get(key)
        if target is None and key.endswith(".weight"):
            target = live.get(key + "_orig")  # the layer was pruned after the snapshot
        if target is None:
            raise ValueError(f"cannot rewind {key!r}: the model has no such parameter or buffer any more")
        target.copy_(value)
        restored += 1
    return restored


class PruneDuringTraining(Callback):
    """Prune to the criterion's schedule during training, one step every ``interval`` epochs (optionally
    rewinding the weights to their values at ``rewind_epoch`` after each step, as IMP does).

    The scoring settings are a :class:`ScoringBudget` (``budget=``), any of whose fields may also be given by
    keyword (``samples=256, batch_size=128, steps=3, loss_fn=…, include_first=…, score_mode=…, seed=…``).
    """

    def __init__(
        self,
        criterion: str | Criterion = "snip-it",
        sparsity: float = 0.98,
        data: object = None,
        *,
        interval: float = DEFAULT_INTERVAL,
        rewind_epoch: float | None = None,
        budget: ScoringBudget | None = None,
        **budget_changes: object,
    ) -> None:
        self.budget = scoring_budget(budget, **budget_changes)
        self.criterion = resolve_criterion(criterion, self.budget.steps)
        self.sparsity = check_sparsity(sparsity)
        self.interval = check_interval(interval)
        self.rewind_epoch = check_rewind_epoch(rewind_epoch)
        check_data(self.criterion, data)
        self.targets = self.criterion.schedule(self.sparsity)
        self.epochs = step_epochs(len(self.targets), self.interval)
        self.data = data
        self.ctx: ScoringContext | None = None
        self.steps_done: list[DuringStep] = []
        self.snapshot: dict[str, torch.Tensor] | None = None
        self._prune_at: list[int] = []
        self._rewind_at: int | None = None

    @property
    def required_epochs(self) -> int:
        """Fewest whole epochs that reach the final step."""
        return math.ceil(self.epochs[-1] - _EPS)

    def records(self) -> list[dict]:
        """Plain dicts of the rounds taken, each with its ``epoch``."""
        return [s.as_dict() for s in self.steps_done]

    def on_train_start(self, state: TrainState) -> None:
        """Check the epoch budget, place the events on optimiser steps and build the scoring context."""
        if state.config.epochs < self.required_epochs:
            raise ValueError(
                f"epochs={state.config.epochs} is too few to prune during training: {len(self.targets)} steps every "
                f"interval={self.interval:g} epochs need at least {self.required_epochs} epochs (sparsity "
                f"{self.sparsity}, steps {self.criterion.steps})")
        self._place_events(state.steps_per_epoch)
        self.steps_done, self.snapshot = [], None
        self.ctx = scoring_context(state.model, self.criterion, self.data, self.budget)

    def _place_events(self, steps_per_epoch: int | None) -> None:
        """Positions of the pruning rounds and of the rewind snapshot."""
        self._prune_at = [event_position(e, steps_per_epoch) for e in self.epochs]
        self._rewind_at = (event_position(self.rewind_epoch, steps_per_epoch) if self.rewind_epoch is not None
                           else None)

    def on_step_end(self, state: TrainState) -> None:
        """Run the rounds placed on this optimiser step, then take the rewind snapshot if it is due."""
        self._fire(state, current_position(state, epoch_end=False))

    def on_epoch_end(self, state: TrainState) -> None:
        """Only for unsized batches: events placed on whole epochs fire here."""
        self._fire(state, current_position(state, epoch_end=True))

    def _fire(self, state: TrainState, when: int | None) -> None:
        if self.ctx is None or when is None:
            return
        # rounds run in schedule order; several may share one position
        while len(self.steps_done) < len(self._prune_at) and self._prune_at[len(self.steps_done)] == when:
            self._prune(state, len(self.steps_done))
        if self._rewind_at == when and self.snapshot is None:
            self.snapshot = snapshot_weights(state.model)
            log.info("epoch %.2f: weights saved as the rewind point", state.epochs_done)

    def _prune(self, state: TrainState, index: int) -> None:
        """One scheduled round: score, prune, clear the dead weights' optimiser state, rewind if set up."""
        model = state.model
        was_training = model.training
        try:
            step = prune_round(self.ctx, self.criterion, index, self.targets[index])
        finally:
            model.train(was_training)
        rewound = self.snapshot is not None
        if rewound:
            rewind_weights(model, self.snapshot)
            state.optimizer.state.clear()  # moments of the discarded trajectory would steer the rewound weights
        clear_pruned_optimizer_state(state.optimizer, model)
        fields = {k: getattr(step, k) for k in PruneStep.__dataclass_fields__}
        self.steps_done.append(DuringStep(**fields, epoch=state.epochs_done, rewound=rewound))
        log.info("epoch %.2f: %s pruned to %.4f (target %.4f)%s", state.epochs_done, self.criterion.name,
                 step.sparsity, step.target, ", weights rewound" if rewound else "")


__all__ = [
    "DEFAULT_INTERVAL",
    "DEFAULT_REWIND_EPOCH",
    "DuringStep",
    "PruneDuringTraining",
    "check_interval",
    "check_rewind_epoch",
    "clear_pruned_optimizer_state",
    "current_position",
    "event_position",
    "event_step",
    "pruning_epochs",
    "required_epochs",
    "rewind_weights",
    "snapshot_weights",
]
