"""One ScoringBudget holds the scoring settings that prune(), prune_nodes() and the training callbacks share."""

import inspect
from dataclasses import fields

import pytest
import torch
from torch import nn

from prunekit.criteria import ScoringBudget
from prunekit.criteria.base import scoring_budget
from prunekit.pruning import before
from prunekit.pruning.before import DEFAULT_BATCH_SIZE, DEFAULT_SAMPLES, prune, scoring_context
from prunekit.pruning.during import PruneDuringTraining
from prunekit.pruning.nodes import node_scoring_context, prune_nodes
from prunekit.structured import get_node_criterion


def _defaults(function) -> dict[str, object]:
    return {name: p.default for name, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty}


def test_a_default_budget_is_what_prune_uses_by_default():
    budget, defaults = ScoringBudget(), _defaults(prune)
    assert {f.name: getattr(budget, f.name) for f in fields(budget)} == {f.name: defaults[f.name] for f in fields(budget)}
    assert (budget.samples, budget.batch_size) == (DEFAULT_SAMPLES, DEFAULT_BATCH_SIZE) == (2560, 512)


def test_prune_nodes_defaults_are_those_of_the_budget():
    defaults, budget = _defaults(prune_nodes), ScoringBudget()
    assert all(defaults[f.name] == getattr(budget, f.name) for f in fields(budget) if f.name in defaults)


def test_a_budget_is_frozen_and_changes_only_the_named_fields():
    changed = scoring_budget(ScoringBudget(samples=64), seed=3)
    assert (changed.samples, changed.seed, changed.batch_size) == (64, 3, DEFAULT_BATCH_SIZE)
    with pytest.raises(AttributeError):
        changed.seed = 4
    with pytest.raises(TypeError, match=r"unknown scoring setting\(s\) \['sample'\]; accepted: .*samples"):
        scoring_budget(sample=10)


def test_the_context_draws_the_budget_of_samples_from_the_seeded_generator():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    data = (torch.randn(40, 4), torch.randint(0, 3, (40,)))
    ctx = scoring_context(model, before.resolve_criterion("snip"), data, ScoringBudget(samples=24, batch_size=8, seed=5,
                                                                                        include_first=False))
    assert [len(x) for x, _ in ctx.draw()] == [8, 8, 8]
    assert list(ctx.layers) == ["2"]
    assert torch.equal(torch.rand(3, generator=ctx.generator), torch.rand(3, generator=torch.Generator().manual_seed(5)))


def test_node_contexts_score_with_every_prunable_layer_whatever_the_weight_switches_say():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    ctx = node_scoring_context(model, get_node_criterion("random"), None, ScoringBudget(include_first=False))
    assert list(ctx.layers) == ["0", "2"] and list(ctx.sites) == ["0"]


def test_a_callback_takes_a_budget_or_its_fields_by_keyword():
    by_budget = PruneDuringTraining("imp-global", 0.9, None, budget=ScoringBudget(samples=64, steps=2))
    by_keyword = PruneDuringTraining("imp-global", 0.9, None, samples=64, steps=2)
    assert by_budget.budget == by_keyword.budget and by_keyword.criterion.steps == 2
