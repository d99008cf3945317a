"""How a run prunes (prunekit.experiments.plan): one plan per (weights or nodes, timing), chosen from the config."""

from __future__ import annotations

import pytest
import torch

from prunekit.criteria import available_criteria, get_criterion
from prunekit.experiments.config import NO_CRITERION, RunConfig, prunes_nodes_in_rounds
from prunekit.experiments.plan import PLANS, NodesBefore, NodesInTraining, PruningPlan, pruning_plan
from prunekit.experiments.run import initial_model
from prunekit.structured import available_node_criteria, get_node_criterion

TINY = dict(model="mlp5", dataset="mnist", epochs=2, device="cpu")


def test_every_timing_a_criterion_declares_has_a_plan():
    declared = {(False, t) for name in available_criteria() for t in get_criterion(name).timings}
    declared |= {(True, t) for name in available_node_criteria() for t in get_node_criterion(name).timings}
    assert declared <= set(PLANS)
    assert PLANS[(False, NO_CRITERION)] is PruningPlan  # the dense baseline prunes at no moment


def test_only_node_criteria_that_can_prune_at_initialisation_prune_in_rounds_during_training():
    assert prunes_nodes_in_rounds(get_node_criterion("snap-it"))
    assert not prunes_nodes_in_rounds(get_node_criterion("l0"))  # learns its gates while it trains


def test_the_plan_follows_the_timing_of_a_structured_run():
    assert isinstance(pruning_plan(RunConfig(criterion="random", sparsity=0.5, structured=True, **TINY)), NodesBefore)
    during = RunConfig(criterion="snap-it", sparsity=0.3, structured=True, prune_at="during", **{**TINY, "epochs": 8})
    assert isinstance(pruning_plan(during), NodesInTraining)


def test_a_dense_run_leaves_the_network_untouched():
    config = RunConfig(**TINY)
    model = initial_model(config, None, torch.device("cpu"))
    plan = pruning_plan(config)
    assert plan.at_start(model, None) == (model, []) and plan.callback(None) is None
    assert plan.at_finish(model, None) is model


def test_pruning_nodes_before_training_starts_training_with_a_physically_smaller_network():
    config = RunConfig(criterion="random", sparsity=0.5, structured=True, **TINY)  # data-free: no scoring stream
    model = initial_model(config, None, torch.device("cpu"))
    start, steps = pruning_plan(config).at_start(model, None)
    assert steps and sum(p.numel() for p in start.parameters()) < sum(p.numel() for p in model.parameters())


def test_a_structured_run_without_a_node_criterion_is_refused_by_name():
    with pytest.raises(ValueError, match="node criterion"):
        pruning_plan(RunConfig(structured=True, **TINY))
