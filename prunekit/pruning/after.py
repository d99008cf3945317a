"""Pruning after training (HoyerSquare): a regulariser in the loss, one threshold cut, fine-tuning to the end.

``RegularisedThresholdPruning`` is a training-loop callback on :class:`PenaltyThenCut` (the algorithm
Group-HS shares). Until ``(1 − finetune_fraction)`` of the epoch budget it adds ``λ·Σ H_S(w)`` to every
step's loss; then it prunes every weight with ``|w| ≤ threshold`` once, clears the optimiser state of the
pruned weights and trains the survivors without the regulariser for the rest of the budget.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import torch
from torch import nn

from prunekit.criteria.weight.hoyersquare import HoyerSquare, hoyer_square_penalty
from prunekit.pruning.during import DuringStep, clear_pruned_optimizer_state
from prunekit.pruning.regularised import PenaltyThenCut
from prunekit.core.masks import apply_mask, current_mask, prunable_layers, weight_sparsity
from prunekit.training.loop import Callback, TrainState
from prunekit.core.timing import Stopwatch

log = logging.getLogger(__name__)


class RegularisedThresholdPruning(PenaltyThenCut, Callback):
    """HoyerSquare's schedule: regularise, cut at the threshold after ``1 − finetune_fraction`` of training."""

    def __init__(self, criterion: HoyerSquare | None = None, *, include_first: bool = True,
                 include_last: bool = True) -> None:
        criterion = HoyerSquare() if criterion is None else criterion
        if not isinstance(criterion, HoyerSquare):
            raise TypeError(f"pruning after training supports the HoyerSquare criterion, got {criterion!r}")
        self.criterion = criterion
        self._layer_options = dict(include_first=include_first, include_last=include_last)
        self.layers: dict[str, nn.Module] = {}
        self.pruned = False
        self.steps_done: list[DuringStep] = []

    def cut_epoch(self, epochs: int) -> float:
        """The (fractional) epoch after which the threshold cut happens."""
        return (1.0 - self.criterion.finetune_fraction) * epochs

    def on_train_start(self, state: TrainState) -> None:
        """Pick the regularised layers and place the cut on an optimiser step."""
        if state.config.epochs < 1:
            raise ValueError("pruning after training needs at least one training epoch, got epochs=0")
        self.layers = prunable_layers(state.model, **self._layer_options)
        self.steps_done = []
        self.plan_cut(state, self.cut_epoch(state.config.epochs))

    def regularisation(self) -> tuple[float, Callable[[Mapping[str, nn.Module]], torch.Tensor]]:
        """λ and ``Σ H_S(w)`` over the layers."""
        return self.criterion.lam, hoyer_square_penalty

    def cut(self, state: TrainState) -> None:
        """Prune every weight with ``|w| ≤ threshold`` and clear their optimiser state."""
        watch = Stopwatch(state.device).start()
        masks = self.criterion.threshold_masks(self.layers)
        for name, module in self.layers.items():
            apply_mask(module, masks[name])
        clear_pruned_optimizer_state(state.optimizer, state.model)
        achieved = weight_sparsity(state.model, self.layers)
        total = sum(current_mask(m).numel() for m in self.layers.values())
        self.steps_done.append(DuringStep(round=0, target=achieved, sparsity=achieved,
                                          kept=total - int(round(achieved * total)), total=total, loss=float("nan"),
                                          seconds=watch.stop(), epoch=state.epochs_done))
        log.info("epoch %.2f: HoyerSquare (λ=%g) cut |w| <= %g: weight sparsity %.4f", state.epochs_done,
                 self.criterion.lam, self.criterion.threshold, achieved)


__all__ = ["RegularisedThresholdPruning"]
