"""Training-FLOP meters: training-loop callbacks that book each epoch's FLOPs with the masks it trains."""

from __future__ import annotations

from torch import nn

from prunekit.measure.metrics import TRAINING_PASSES, training_flops
from prunekit.measure.network import node_flops
from prunekit.pruning.nodes_after import StructuredPruner
from prunekit.training.loop import Callback, TrainState


class FlopsMeter(Callback):
    """Training FLOPs of each epoch, with the masks the epoch starts with (register it last)."""

    def __init__(self, input_shape: tuple[int, ...], samples_per_epoch: int) -> None:
        self.input_shape = input_shape
        self.samples_per_epoch = samples_per_epoch
        self.per_epoch: list[int] = []
        self._upcoming = 0

    def _measure(self, model: nn.Module) -> int:
        return training_flops(model, self.input_shape, self.samples_per_epoch, sparse=True)

    def on_train_start(self, state: TrainState) -> None:
        """Measure the masks of the first epoch."""
        self._upcoming = self._measure(state.model)

    def on_epoch_end(self, state: TrainState) -> None:
        """Book the epoch just run and measure the masks of the next one."""
        self.per_epoch.append(self._upcoming)
        self._upcoming = self._measure(state.model)


class NodeFlopsMeter(FlopsMeter):
    """Training FLOPs of a network whose nodes are masked while it trains, counted per optimiser step as the
    shrunk network it equals (:func:`prunekit.measure.network.node_flops`), re-measured whenever the pruner
    changes the masks (register it after the pruner): the dense phase counts dense."""

    def __init__(self, input_shape: tuple[int, ...], samples_per_epoch: int, pruner: StructuredPruner) -> None:
        super().__init__(input_shape, samples_per_epoch)
        self.pruner = pruner
        self._seen = 0
        self._epoch_flops = 0.0

    def _measure(self, model: nn.Module) -> int:
        return TRAINING_PASSES * node_flops(model, self.input_shape)  # per sample

    def _refresh(self, state: TrainState) -> None:
        if self.pruner.version != self._seen:
            self._upcoming, self._seen = self._measure(state.model), self.pruner.version

    def on_train_start(self, state: TrainState) -> None:
        """Measure the network the first step trains."""
        self._upcoming, self._seen, self._epoch_flops = self._measure(state.model), self.pruner.version, 0.0

    def on_step_end(self, state: TrainState) -> None:
        """Book the step just taken, then re-measure if the masks changed."""
        if state.steps_per_epoch:
            self._epoch_flops += self._upcoming * self.samples_per_epoch / state.steps_per_epoch
        self._refresh(state)

    def on_epoch_end(self, state: TrainState) -> None:
        """Close the epoch's account (a whole epoch at once for batches without a length)."""
        if not state.steps_per_epoch:
            self._epoch_flops = self._upcoming * self.samples_per_epoch
        self.per_epoch.append(int(round(self._epoch_flops)))
        self._epoch_flops = 0.0
        self._refresh(state)


__all__ = ["FlopsMeter", "NodeFlopsMeter"]
