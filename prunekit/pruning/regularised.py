"""Penalty, then one cut: the algorithm HoyerSquare (weights) and Group-HS (nodes) share.

Until the cut, ``λ · regulariser(layers)`` joins every step's loss. The cut happens once, after the optimiser
step of epoch ``(1 − finetune_fraction) · epochs`` (:func:`prunekit.pruning.during.event_position`; training
batches without a length can only cut at the end of a whole epoch, and a fractional cut epoch is refused rather
than moved). Afterwards the survivors are fine-tuned without the penalty. What the cut removes (weights at or
below a threshold, or nodes whose group norm is) is each method's own ``cut``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import nn

from prunekit.pruning.during import current_position, event_position
from prunekit.training.loop import TrainState


class PenaltyThenCut:
    """Mixin for a training-loop callback: ``penalty`` until the planned step, then ``cut`` once."""

    layers: dict[str, nn.Module]
    pruned: bool = False
    _cut_at: int | None = None

    def regularisation(self) -> tuple[float, Callable[[Mapping[str, nn.Module]], torch.Tensor]]:
        """λ and the regulariser of the layers (a subclass's criterion supplies both)."""
        raise NotImplementedError

    def cut(self, state: TrainState) -> None:
        """Prune once (a subclass's rule)."""
        raise NotImplementedError

    def plan_cut(self, state: TrainState, cut_epoch: float) -> None:
        """Place the cut on the optimiser step of ``cut_epoch`` (or the end of that whole epoch)."""
        self.pruned = False
        self._cut_at = event_position(cut_epoch, state.steps_per_epoch)

    def penalty(self, state: TrainState | None) -> torch.Tensor | None:
        """``λ · regulariser(layers)`` until the cut, nothing afterwards (nor with λ = 0)."""
        lam, regulariser = self.regularisation()
        if self.pruned or lam == 0:
            return None
        return lam * regulariser(self.layers)

    def on_step_end(self, state: TrainState) -> None:
        """Cut when the planned optimiser step is reached."""
        if not self.pruned and self._cut_at == current_position(state, epoch_end=False):
            self._cut_now(state)

    def on_epoch_end(self, state: TrainState) -> None:
        """Only for batches without a length: a cut planned on a whole epoch happens here."""
        if not self.pruned and self._cut_at == current_position(state, epoch_end=True):
            self._cut_now(state)

    def _cut_now(self, state: TrainState) -> None:
        self.cut(state)
        self.pruned = True


__all__ = ["PenaltyThenCut"]
