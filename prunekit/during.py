"""Pruning during training (Algorithm 1 with τ > 0): train τ epochs, prune to κ_i, repeat, train on.

``PruneDuringTraining`` is a training-loop callback. At the end of epochs τ, 2τ, …, L·τ (L the length of
the criterion's schedule, e.g. the κ_i of ``snip_it_schedule`` for SNIP-it) it re-scores the live model on
fresh batches from its scoring source and prunes to the next target with the shared driver of
``prunekit.pruning`` (global ranking, masks only shrink). After each step the optimiser's state for the
pruned weights is cleared, so Adam's running moments cannot resurrect them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import nn

from prunekit.criteria.base import Criterion, LossFn, ScoringContext
from prunekit.pruning import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_SAMPLES,
    PruneStep,
    check_data,
    prune_round,
    resolve_criterion,
    scoring_context,
)
from prunekit.schedule import DEFAULT_STEPS, check_sparsity
from prunekit.train import Callback, TrainState

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 4  # τ: epochs of training before each pruning step


@dataclass(frozen=True)
class DuringStep(PruneStep):
    """A pruning round taken during training: ``PruneStep`` plus the epoch after which it ran."""

    epoch: int = 0


def check_interval(interval: object) -> int:
    """Return τ as an int >= 1, else raise ValueError naming it."""
    if isinstance(interval, bool) or not hasattr(interval, "__index__") or int(interval) < 1:
        raise ValueError(f"prune interval τ must be an integer >= 1 (epochs between pruning steps), got {interval!r}")
    return int(interval)


def pruning_epochs(sparsity: float, steps: int = DEFAULT_STEPS, interval: int = DEFAULT_INTERVAL,
                   criterion: str | Criterion = "snip-it") -> list[int]:
    """Epochs after which the rounds run: τ, 2τ, …, one per target of the criterion's schedule."""
    kappa = check_sparsity(sparsity)
    tau = check_interval(interval)
    return _step_epochs(len(resolve_criterion(criterion, steps).schedule(kappa)), tau)


def _step_epochs(n_steps: int, interval: int) -> list[int]:
    """τ, 2τ, …, n·τ: the epochs after which the n pruning rounds run."""
    return [interval * (i + 1) for i in range(n_steps)]


def required_epochs(sparsity: float, steps: int = DEFAULT_STEPS, interval: int = DEFAULT_INTERVAL,
                    criterion: str | Criterion = "snip-it") -> int:
    """Fewest training epochs that reach the final pruning step (to κ): ``len(schedule) · τ``."""
    return pruning_epochs(sparsity, steps, interval, criterion)[-1]


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


class PruneDuringTraining(Callback):
    """Prune to the criterion's schedule during training, one step every ``interval`` epochs."""

    def __init__(
        self,
        criterion: str | Criterion = "snip-it",
        sparsity: float = 0.98,
        data: object = None,
        *,
        interval: int = DEFAULT_INTERVAL,
        samples: int = DEFAULT_SAMPLES,
        batch_size: int = DEFAULT_BATCH_SIZE,
        steps: int = DEFAULT_STEPS,
        loss_fn: LossFn | None = None,
        include_first: bool = True,
        include_last: bool = True,
        score_mode: str = "eval",
        seed: int = 0,
    ) -> None:
        self.criterion = resolve_criterion(criterion, steps)
        self.sparsity = check_sparsity(sparsity)
        self.interval = check_interval(interval)
        check_data(self.criterion, data)
        self.targets = self.criterion.schedule(self.sparsity)
        self.epochs = _step_epochs(len(self.targets), self.interval)
        self.data = data
        self._options = dict(samples=samples, batch_size=batch_size, loss_fn=loss_fn, include_first=include_first,
                             include_last=include_last, score_mode=score_mode, seed=seed)
        self.ctx: ScoringContext | None = None
        self.steps_done: list[DuringStep] = []

    @property
    def required_epochs(self) -> int:
        """Fewest epochs that reach the final step."""
        return self.epochs[-1]

    def records(self) -> list[dict]:
        """Plain dicts of the rounds taken, each with its ``epoch``."""
        return [s.as_dict() for s in self.steps_done]

    def on_train_start(self, state: TrainState) -> None:
        """Check the epoch budget and build the scoring context on the model's device."""
        if state.config.epochs < self.required_epochs:
            raise ValueError(
                f"epochs={state.config.epochs} is too few to prune during training: {len(self.targets)} steps every "
                f"interval={self.interval} epochs need at least {self.required_epochs} epochs (sparsity "
                f"{self.sparsity}, steps {self.criterion.steps})")
        self.steps_done = []
        self.ctx = scoring_context(state.model, self.criterion, self.data, **self._options)

    def on_epoch_end(self, state: TrainState) -> None:
        """At epochs τ, 2τ, …: score, prune to the next target and clear the pruned weights' optimiser state."""
        if self.ctx is None or state.epoch not in self.epochs:
            return
        index = self.epochs.index(state.epoch)
        model = state.model
        was_training = model.training
        try:
            step = prune_round(self.ctx, self.criterion, index, self.targets[index])
        finally:
            model.train(was_training)
        clear_pruned_optimizer_state(state.optimizer, model)
        fields = {k: getattr(step, k) for k in PruneStep.__dataclass_fields__}
        self.steps_done.append(DuringStep(**fields, epoch=state.epoch))
        log.info("epoch %d: %s pruned to %.4f (target %.4f)", state.epoch, self.criterion.name, step.sparsity,
                 step.target)


__all__ = [
    "DEFAULT_INTERVAL",
    "DuringStep",
    "PruneDuringTraining",
    "check_interval",
    "clear_pruned_optimizer_state",
    "pruning_epochs",
    "required_epochs",
]
