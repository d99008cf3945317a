"""SNAP-it, CNIP-it and the structured baselines: schedule, exact node counts and the pruning rules."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from prunekit.core.masks import current_mask, prunable_layers, weight_sparsity
from prunekit.core.schedule import snip_it_schedule
from prunekit.structured import (
    NodeCriterion,
    available_node_criteria,
    get_node_criterion,
    keep_nodes,
    node_masks,
    node_sites,
    prune_nodes,
    pruned_node_sparsity,
)
from prunekit.criteria.node.snap import SNAPit
from prunekit.pruning.nodes import combined_prune_sets, combined_sparsity
from tests.helpers import tiny_cnn, tiny_mlp, toy_data

DATA = toy_data(256, (1, 8, 8))
FAST = {"samples": 64, "batch_size": 32}


class RecordingSNAPit(SNAPit):
    """SNAP-it that remembers the node masks and the data it saw at every scoring round."""

    def __init__(self, steps: int = 5) -> None:
        super().__init__(steps)
        self.masks: list[dict[str, torch.Tensor]] = []
        self.first_inputs: list[torch.Tensor] = []

    def score(self, ctx):
        self.masks.append({n: m.clone() for n, m in node_masks(ctx.model, ctx.sites).items()})
        original = ctx.draw
        ctx.draw = lambda: self._remember(original())
        try:
            return super().score(ctx)
        finally:
            del ctx.draw

    def _remember(self, batches):
        self.first_inputs.append(batches[0][0][0].clone())
        return batches


def alive_per_layer(model: nn.Module) -> dict[str, int]:
    return {name: int(a.sum()) for name, a in node_masks(model).items()}


def test_registry_lists_the_node_criteria_and_rejects_unknown_names():
    assert {"snap-it", "snap", "cnip-it", "random", "efficientconvnets"} <= set(available_node_criteria())
    assert get_node_criterion("SNAP-it").name == "snap-it"
    with pytest.raises(ValueError, match="known node criteria: .*snap-it"):
        get_node_criterion("snip-it")
    with pytest.raises(TypeError, match="NodeCriterion"):
        get_node_criterion(3)


@pytest.mark.parametrize("kappa", [0.3, 0.6, 0.9])
def test_snap_it_prunes_exactly_round_kappa_n_hidden_nodes(kappa):
    model = tiny_mlp()
    result = prune_nodes(model, "snap-it", kappa, DATA, **FAST)
    n_hidden = 64
    assert sum(alive_per_layer(model).values()) == n_hidden - round(kappa * n_hidden)
    assert result.steps[-1].node_sparsity == pytest.approx(round(kappa * n_hidden) / n_hidden)
    assert pruned_node_sparsity(model) == pytest.approx(result.steps[-1].node_sparsity)


def test_snap_it_follows_the_snip_it_schedule_and_rescores_every_round_on_fresh_data():
    model = tiny_cnn()
    crit = RecordingSNAPit()
    result = prune_nodes(model, crit, 0.8, DATA, **FAST)
    targets = snip_it_schedule(0.8, 5)
    assert [s.target for s in result.steps] == targets
    assert len(crit.masks) == len(targets)
    for step in result.steps:
        assert step.nodes_total == 10
        assert step.nodes_alive == max(10 - round(step.target * 10), 2)
    # Fresh samples each round (the stream walks on through the data).
    assert not torch.equal(crit.first_inputs[0], crit.first_inputs[1])


def test_masks_only_shrink_from_round_to_round():
    model = tiny_mlp()
    crit = RecordingSNAPit()
    prune_nodes(model, crit, 0.95, DATA, **FAST)
    history = [*crit.masks, node_masks(model)]
    for before, after in zip(history, history[1:]):
        for name in before:
            assert not torch.any(after[name] & ~before[name])


def test_never_prunes_the_output_layer_and_never_empties_a_layer():
    model = tiny_mlp()
    prune_nodes(model, "snap-it", 0.99, DATA, **FAST)
    assert alive_per_layer(model) == {"1": 1, "5": 1}  # round(0.99·64) = 63 is capped at 62
    assert not hasattr(model[8], "weight_mask")  # the class outputs are untouched
    assert torch.all(current_mask(model[1])[node_masks(model)["1"]] == 1)  # no input is cut off


def test_the_best_node_of_each_layer_survives():
    alive = {"a": torch.ones(3, dtype=torch.bool), "b": torch.ones(3, dtype=torch.bool)}
    scores = {"a": torch.tensor([1.0, 2.0, 3.0]), "b": torch.tensor([0.1, 0.3, 0.2])}
    keep = keep_nodes(alive, scores, 0.99)
    assert keep["a"].tolist() == [False, False, True]
    assert keep["b"].tolist() == [False, True, False]


def test_ranking_is_global_across_layers():
    alive = {"a": torch.ones(4, dtype=torch.bool), "b": torch.ones(4, dtype=torch.bool)}
    scores = {"a": torch.tensor([5.0, 6.0, 7.0, 8.0]), "b": torch.tensor([1.0, 2.0, 3.0, 9.0])}
    keep = keep_nodes(alive, scores, 0.5)
    assert keep["a"].tolist() == [False, True, True, True]
    assert keep["b"].tolist() == [False, False, False, True]


def test_already_pruned_nodes_rank_last_and_stay_pruned():
    alive = {"a": torch.tensor([True, False, True, True])}
    scores = {"a": torch.tensor([1.0, 100.0, 2.0, 3.0])}
    keep = keep_nodes(alive, scores, 0.5)
    assert keep["a"].tolist() == [False, False, True, True]


def test_efficientconvnets_with_global_scope_prunes_the_nodes_with_the_smallest_l1_filter_norm():
    model = tiny_cnn()
    prune_nodes(model, get_node_criterion("efficientconvnets", scope="global"), 0.4)
    norms = torch.cat([model[0].weight_orig.abs().flatten(1).sum(1), model[3].weight_orig.abs().flatten(1).sum(1)])
    pruned = ~torch.cat(list(node_masks(model).values()))
    # The four smallest norms, except that each layer keeps its best node (index 0..3 | 4..9).
    candidates = [i for i in norms.argsort().tolist() if i not in (int(norms[:4].argmax()), 4 + int(norms[4:].argmax()))]
    assert set(pruned.nonzero().squeeze(1).tolist()) == set(candidates[:4])


def test_structured_random_is_reproducible_from_the_seed():
    masks = []
    for seed in (0, 0, 1):
        model = tiny_mlp()
        prune_nodes(model, "random", 0.5, seed=seed)
        masks.append(torch.cat(list(node_masks(model).values())))
    assert torch.equal(masks[0], masks[1])
    assert not torch.equal(masks[0], masks[2])
    assert int((~masks[0]).sum()) == 32


def test_cnip_it_ranks_weights_and_nodes_together_to_the_union_sparsity():
    model = tiny_cnn()
    result = prune_nodes(model, "cnip-it", 0.8, DATA, **FAST)
    layers = prunable_layers(model)
    n_weights = sum(current_mask(m).numel() for m in layers.values())
    union = n_weights + 10
    widest_row = max(math.prod(current_mask(m).shape[1:]) for m in layers.values())
    assert [s.target for s in result.steps] == snip_it_schedule(0.8, 5)
    for step in result.steps:
        pruned = step.sparsity * union
        assert round(step.target * union) <= round(pruned) <= round(step.target * union) + widest_row
    last = result.steps[-1]
    assert 0 < last.node_sparsity < 0.8 < last.weight_sparsity  # weights go more readily than nodes
    assert all(n >= 1 for n in alive_per_layer(model).values())
    assert combined_sparsity(layers, {}) == pytest.approx(weight_sparsity(model))


def test_result_records_node_and_weight_sparsity_per_round():
    model = tiny_mlp()
    model.train()
    result = prune_nodes(model, "snap-it", 0.75, DATA, **FAST)
    assert model.training  # the mode the model was given
    assert result.model is model
    first = result.steps[0].as_dict()
    assert set(first) >= {"round", "target", "node_sparsity", "weight_sparsity", "loss", "seconds"}
    assert math.isfinite(first["loss"]) and first["loss"] > 0
    assert result.steps[-1].weight_sparsity == pytest.approx(weight_sparsity(model))


@pytest.mark.parametrize("sparsity", [1.0, -0.1, 1.5, float("nan")])
def test_sparsity_outside_the_unit_interval_is_rejected(sparsity):
    with pytest.raises(ValueError, match=r"node_sparsity must lie in \[0, 1\)"):
        prune_nodes(tiny_mlp(), "random", sparsity)


def test_bad_inputs_name_the_bad_value():
    with pytest.raises(TypeError, match="node_sparsity"):
        prune_nodes(tiny_mlp(), "random", "0.5")
    with pytest.raises(ValueError, match="unknown node criterion 'snip'.*snap-it"):
        prune_nodes(tiny_mlp(), "snip", 0.5)
    with pytest.raises(ValueError, match="no prunable layer"):
        prune_nodes(nn.Sequential(nn.ReLU()), "random", 0.5)
    with pytest.raises(ValueError, match="scores on data"):
        prune_nodes(tiny_mlp(), "snap-it", 0.5)
    with pytest.raises(ValueError, match="score_mode"):
        prune_nodes(tiny_mlp(), "snap-it", 0.5, DATA, score_mode="test")


def test_a_custom_node_criterion_plugs_in():
    class Widest(NodeCriterion):
        name = "index"
        needs_data = False

        def score(self, ctx):
            return {n: torch.arange(s.size, dtype=torch.float) for n, s in ctx.sites.items()}

    model = tiny_mlp()
    prune_nodes(model, Widest(), 0.5)
    assert node_masks(model)["1"].tolist() == [False] * 16 + [True] * 16


def test_cnip_it_counts_a_pruned_node_together_with_its_row_of_weights():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    layers, sites = prunable_layers(model), node_sites(model)
    weight_scores = {"0": torch.tensor([[5.0, 6.0], [7.0, 8.0]]), "2": torch.tensor([[9.0, 1.0]])}
    node_scores = {"0": torch.tensor([0.5, 10.0])}
    # |U| = 6 weights + 2 nodes; κ = ½ asks for 4 items. Node 0 (least elastic) takes its row of two
    # weights along (3 items), then the output weight scoring 1 makes 4. Node 1, the layer's best,
    # and its best weight (8) are protected.
    prune = combined_prune_sets(layers, sites, weight_scores, node_scores, 0.5)
    weights, nodes = prune[:6], prune[6:]
    assert nodes.tolist() == [True, False]
    assert weights.tolist() == [False, False, False, False, False, True]


def test_channel_multiple_rounds_every_hidden_width_up_and_shrink_keeps_those_widths():
    from prunekit.structured import shrink

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                          nn.Conv2d(16, 24, 3, padding=1), nn.BatchNorm2d(24), nn.ReLU(),
                          nn.Flatten(), nn.Linear(24 * 64, 10))
    widths = {name: site.size for name, site in node_sites(model).items()}
    result = prune_nodes(model, "snap-it", 0.8, DATA, channel_multiple=4, **FAST)
    kept = alive_per_layer(model)
    assert all(alive % 4 == 0 and alive < widths[name] for name, alive in kept.items()), kept
    *rounds, rounding = result.steps
    assert rounding.target == rounds[-1].target == 0.8
    assert rounding.node_sparsity <= rounds[-1].node_sparsity  # rounding only gives nodes back
    assert rounding.nodes_alive == sum(kept.values())
    small = shrink(model, DATA[0][:4])
    hidden = [m.out_channels for m in small.modules() if isinstance(m, nn.Conv2d)]
    assert hidden == [kept[name] for name in kept if isinstance(dict(model.named_modules())[name], nn.Conv2d)]


@pytest.mark.parametrize("multiple", [0, -8, 2.0, True])
def test_channel_multiple_must_be_a_positive_int(multiple):
    with pytest.raises(ValueError, match="channel_multiple must be a positive int"):
        prune_nodes(tiny_mlp(), "random", 0.5, channel_multiple=multiple)
