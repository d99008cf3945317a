"""Facts of the elasticity criterion and of the SNIP / SNIP-it / Random pruners."""


import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune as torch_prune

import prunekit
from prunekit.criteria import Criterion, ScoringContext, available_criteria, get_criterion, weight_elasticity
from prunekit.core.masks import get_masks, prunable_layers
from prunekit.pruning.before import global_keep_masks, kept_count
from tests.helpers import tiny_cnn, tiny_mlp, toy_data


def gated_loss_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[dict, float]:
    """∂L/∂c at c = 1 for explicit gates multiplying every Linear/Conv weight (Formula 1's definition)."""
    layers = prunable_layers(model)
    gates = {n: torch.ones_like(m.weight, requires_grad=True) for n, m in layers.items()}
    originals = {n: m.weight for n, m in layers.items()}
    for n, m in layers.items():
        del m.weight
        m.weight = originals[n].detach() * gates[n]
    try:
        loss = F.cross_entropy(model(x), y)
        grads = torch.autograd.grad(loss, list(gates.values()))
    finally:
        for n, m in layers.items():
            del m.weight
            m.weight = originals[n]
    return dict(zip(gates, grads)), float(loss.detach())


@pytest.mark.parametrize("make_model, shape", [(tiny_mlp, (1, 8, 8)), (tiny_cnn, (1, 8, 8))])
def test_elasticity_equals_the_gate_derivative_over_the_loss(make_model, shape):
    model = make_model().eval()
    x, y = toy_data(256, shape)
    gate_grads, loss = gated_loss_gradient(model, x, y)
    scores, mean_loss = weight_elasticity(model, prunable_layers(model), [(x[:100], y[:100]), (x[100:], y[100:])],
                                          F.cross_entropy)
    assert mean_loss == pytest.approx(loss, rel=1e-5)
    for name, grad in gate_grads.items():
        torch.testing.assert_close(scores[name], grad.abs() / loss, rtol=1e-4, atol=1e-9)


def test_elasticity_of_a_pruned_weight_is_zero_and_of_kept_weights_matches_masked_gate():
    model = tiny_mlp().eval()
    x, y = toy_data(128)
    mask = torch.rand(32, 64, generator=torch.Generator().manual_seed(1)) > 0.5
    torch_prune.custom_from_mask(model[1], "weight", mask)
    scores, _ = weight_elasticity(model, prunable_layers(model), [(x, y)], F.cross_entropy)
    assert torch.all(scores["1"][~mask] == 0)
    assert torch.all(scores["1"][mask] > 0)


def test_registry_names_are_case_insensitive_and_unknown_names_list_the_known_ones():
    assert {"snip", "snip-it", "random"} <= set(available_criteria())
    assert get_criterion("SNIP-it").name == "snip-it"
    with pytest.raises(ValueError, match=r"unknown criterion 'snipper'.*snip-it"):
        get_criterion("snipper")
    with pytest.raises(ValueError, match="unknown criterion"):
        prunekit.prune(tiny_mlp(), "nope", 0.5, data=toy_data())


@pytest.mark.parametrize("criterion", ["snip", "snip-it", "random"])
@pytest.mark.parametrize("kappa", [0.5, 0.9, 0.98, 0.995])
def test_global_ranking_keeps_exactly_round_of_one_minus_kappa_times_n(criterion, kappa):
    model = tiny_mlp()
    result = prunekit.prune(model, criterion, kappa, data=toy_data(), samples=512, batch_size=128)
    n = sum(m.weight.numel() for m in prunable_layers(model).values())
    for step in result.steps:
        assert step.kept == kept_count(step.target, n)
    kept = sum(int(m.weight_mask.sum()) for m in prunable_layers(model).values())
    assert kept == round((1 - kappa) * n)
    assert result.steps[-1].target == kappa


def test_snip_it_runs_the_schedule_and_snip_a_single_step():
    data = toy_data()
    snip_it = prunekit.prune(tiny_mlp(), "snip-it", 0.98, data=data, samples=256)
    assert [round(s.target, 6) for s in snip_it.steps] == [0.5, 0.74, 0.86, 0.92, 0.95, 0.965, 0.98]
    snip = prunekit.prune(tiny_mlp(), "snip", 0.98, data=data, samples=256)
    assert len(snip.steps) == 1


class ReviveCriterion(Criterion):
    """An adversarial criterion that scores pruned weights highest, to test that masks only shrink."""

    name = "revive-test"
    needs_data = False

    def score(self, ctx: ScoringContext) -> dict:
        return {n: 1.0 - getattr(m, "weight_mask", torch.zeros_like(m.weight)) + 1e-3 * torch.rand(m.weight.shape)
                for n, m in ctx.layers.items()}

    def schedule(self, sparsity):
        return [0.3, 0.6, sparsity]


def test_masks_are_anded_so_a_pruned_weight_never_revives():
    model = tiny_mlp()
    prunekit.prune(model, "random", 0.4, seed=3)
    first = get_masks(model)
    prunekit.prune(model, ReviveCriterion(), 0.8)
    second = get_masks(model)
    for name in first:
        assert torch.all(second[name] <= first[name])
    assert prunekit.weight_sparsity(model) == pytest.approx(0.8, abs=1e-3)


def test_ties_are_broken_by_position_deterministically():
    layers = prunable_layers(tiny_mlp())
    scores = {n: torch.ones_like(m.weight) for n, m in layers.items()}
    masks = global_keep_masks(layers, scores, 0.5)
    flat = torch.cat([masks[n].reshape(-1) for n in layers])
    k = kept_count(0.5, flat.numel())
    assert torch.all(flat[:k]) and not torch.any(flat[k:])


def test_same_seed_gives_bit_identical_masks_on_cpu():
    def masks_for(seed):
        model = tiny_mlp(seed=seed)
        x, y = toy_data(1024, seed=seed)
        prunekit.prune(model, "snip-it", 0.95, data=(x, y), samples=512, batch_size=128)
        return get_masks(model)

    a, b, c = masks_for(0), masks_for(0), masks_for(1)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert any(not torch.equal(a[n], c[n]) for n in a)


def test_random_masks_depend_on_the_seed_only():
    a = get_masks(prunekit.prune(tiny_mlp(), "random", 0.9, seed=5).model)
    b = get_masks(prunekit.prune(tiny_mlp(), "random", 0.9, seed=5).model)
    c = get_masks(prunekit.prune(tiny_mlp(), "random", 0.9, seed=6).model)
    assert all(torch.equal(a[n], b[n]) for n in a)
    assert any(not torch.equal(a[n], c[n]) for n in a)


@pytest.mark.parametrize("bad", [-0.01, 1.0, 2.0])
def test_sparsity_outside_range_names_the_value(bad):
    with pytest.raises(ValueError, match=str(bad)):
        prunekit.prune(tiny_mlp(), "snip", bad, data=toy_data())


def test_model_without_prunable_layers_is_rejected():
    model = nn.Sequential(nn.Flatten(), nn.BatchNorm1d(64), nn.ReLU())
    with pytest.raises(ValueError, match="no prunable layer"):
        prunekit.prune(model, "snip", 0.5, data=toy_data())


def test_too_little_data_for_the_scoring_budget_names_both_numbers():
    x, y = toy_data(1000)
    with pytest.raises(ValueError, match=r"only 1000 samples.*samples=2560"):
        prunekit.prune(tiny_mlp(), "snip", 0.5, data=(x, y))


def test_data_criteria_need_data_and_generators_that_run_dry_are_reported():
    with pytest.raises(ValueError, match="data"):
        prunekit.prune(tiny_mlp(), "snip", 0.5)
    x, y = toy_data(600)
    one_shot = ((x[i:i + 100], y[i:i + 100]) for i in range(0, 600, 100))
    with pytest.raises(ValueError, match="re-iterable"):
        prunekit.prune(tiny_mlp(), "snip-it", 0.9, data=one_shot, samples=500)


@pytest.mark.parametrize("training", [True, False])
def test_model_comes_back_in_the_mode_it_was_given(training):
    model = tiny_mlp().train(training)
    prunekit.prune(model, "snip-it", 0.9, data=toy_data(), samples=256)
    assert all(m.training == training for m in model.modules())


def test_scoring_in_train_mode_leaves_batchnorm_statistics_untouched():
    model = tiny_mlp()
    before = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    prunekit.prune(model, "snip", 0.5, data=toy_data(), samples=256, score_mode="train")
    after = {k: v for k, v in model.state_dict().items() if "running" in k}
    assert all(torch.equal(before[k], after[k]) for k in before)
    with pytest.raises(ValueError, match="score_mode"):
        prunekit.prune(tiny_mlp(), "snip", 0.5, data=toy_data(), samples=256, score_mode="bogus")


def test_masks_follow_the_torch_prune_convention():
    model = prunekit.prune(tiny_cnn(), "snip", 0.8, data=toy_data(), samples=256).model
    conv = model[0]
    assert torch_prune.is_pruned(model)
    assert hasattr(conv, "weight_orig") and hasattr(conv, "weight_mask")
    torch.testing.assert_close(conv.weight, conv.weight_orig * conv.weight_mask)
    prunekit.make_permanent(model)
    assert not torch_prune.is_pruned(model)
    assert prunekit.weight_sparsity(model) == pytest.approx(0.0)  # no masks left to count ...
    zeros = sum(int((m.weight == 0).sum()) for m in prunable_layers(model).values())
    total = sum(m.weight.numel() for m in prunable_layers(model).values())
    assert zeros == total - kept_count(0.8, total)  # ... but the zeros are in the weights


def test_outer_layers_can_be_excluded():
    model = tiny_mlp()
    prunekit.prune(model, "snip", 0.9, data=toy_data(), samples=256, include_first=False, include_last=False)
    sparsity = prunekit.layer_sparsity(model)
    assert sparsity["1"] == 0.0 and sparsity["8"] == 0.0
    assert sparsity["5"] == pytest.approx(0.9, abs=1e-3)


def test_dataloader_and_tuple_sources_give_the_same_scores():
    x, y = toy_data(512)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=100)
    a = get_masks(prunekit.prune(tiny_mlp(), "snip", 0.9, data=loader, samples=512).model)
    b = get_masks(prunekit.prune(tiny_mlp(), "snip", 0.9, data=(x, y), samples=512).model)
    assert all(torch.equal(a[n], b[n]) for n in a)
