"""HoyerSquare and Group-HS are one algorithm: a penalty until one planned optimiser step, one cut, fine-tuning."""

from __future__ import annotations

import pytest
import torch

from prunekit.criteria.node.base import get_node_criterion
from prunekit.criteria.weight.hoyersquare import HoyerSquare
from prunekit.pruning.after import RegularisedThresholdPruning
from prunekit.pruning.nodes_after import GroupHoyerSquarePruning
from prunekit.pruning.regularised import PenaltyThenCut
from prunekit.training.loop import Callback, TrainConfig, train
from tests.helpers import tiny_mlp, toy_data


def _pruners():
    return [RegularisedThresholdPruning(HoyerSquare(lam=1e-3, threshold=1e-3, finetune_fraction=1 / 8)),
            GroupHoyerSquarePruning(get_node_criterion("group-hs", lam=1e-2))]


class _PenaltyLog(Callback):
    """Whether the pruner's penalty was active at each step, and the step of the cut."""

    def __init__(self, pruner):
        self.pruner, self.active, self.cut_step = pruner, [], None

    def on_step_end(self, state):
        self.active.append(self.pruner.penalty(state) is not None)
        if self.pruner.pruned and self.cut_step is None:
            self.cut_step = state.step


@pytest.mark.parametrize("pruner", _pruners(), ids=["hoyersquare", "group-hs"])
def test_both_penalise_until_the_planned_step_then_cut_once_and_stop(pruner):
    assert isinstance(pruner, PenaltyThenCut)
    x, y = toy_data(512)
    batches = [(x[i:i + 64], y[i:i + 64]) for i in range(0, 512, 64)]
    log = _PenaltyLog(pruner)
    train(tiny_mlp(0), batches, None, TrainConfig(epochs=4, device="cpu", progress=False, weight_decay=0),
          [pruner, log])
    assert log.cut_step == 28  # 7/8 of 4 epochs of 8 steps: after step 28, once
    assert len(pruner.steps_done) == 1 and pruner.steps_done[0].epoch == pytest.approx(3.5)
    assert log.active == [True] * 27 + [False] * 5  # probed after the pruner at each step: step 28 has cut
    assert pruner.penalty(None) is None


@pytest.mark.parametrize("pruner", _pruners(), ids=["hoyersquare", "group-hs"])
def test_a_fractional_cut_with_unsized_batches_is_refused_not_moved(pruner):
    x, y = toy_data(128)

    def unsized():
        yield from ((x[i:i + 64], y[i:i + 64]) for i in range(0, 128, 64))

    with pytest.raises(ValueError, match="not a whole epoch"):
        train(tiny_mlp(0), unsized(), None, TrainConfig(epochs=4, device="cpu", progress=False), [pruner])


@pytest.mark.parametrize("pruner", _pruners(), ids=["hoyersquare", "group-hs"])
def test_no_penalty_at_lambda_zero(pruner):
    pruner.criterion.lam = 0.0
    pruner.layers = {"0": torch.nn.Linear(2, 2)}
    assert pruner.penalty(None) is None
