"""Facts of the structured baselines that prune during or after training: Group-HS, L0, GateDecorators,
EfficientConvNets, their gates and their training-loop callbacks (on toy data, no MNIST needed)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from prunekit.measure.metrics import inference_flops
from prunekit.structured import get_node_criterion, node_masks, node_sites, prune_nodes, shrink
from prunekit.pruning.nodes_after import (
    GroupHoyerSquarePruning,
    L0Regularisation,
    ScheduledNodePruning,
    clear_masked_optimizer_state,
    structured_pruner,
)
from prunekit.criteria.node.gates import (
    STRETCH_HIGH,
    STRETCH_LOW,
    HardConcreteGates,
    ScaleGates,
    fold_node_scale,
    hard_concrete_mean,
    hard_concrete_sample,
    prob_nonzero,
)
from prunekit.criteria.node.grouphoyer import (
    COLUMNS,
    ROWS,
    group_hoyer_square,
    group_hoyer_square_penalty,
    layer_group_hoyer_square,
)
from prunekit.measure.network import node_flops
from prunekit.core.node_masks import apply_node_mask
from prunekit.pruning.nodes import node_scoring_context
from prunekit.training.loop import TrainConfig, train
from tests.helpers import tiny_cnn, tiny_mlp, toy_data


def _plain_group_hoyer(weight: torch.Tensor, dim: int) -> torch.Tensor:
    """The formula written out with autograd-differentiable ops: (Σ_g ‖w_g‖)² / Σ w²."""
    norms = weight.movedim(dim, 0).reshape(weight.shape[dim], -1).square().sum(1).sqrt()
    return norms.sum().square() / weight.square().sum()


# -------------------------------------------------------------------------------------------------- Group-HS


@pytest.mark.parametrize("shape", [(6, 5), (4, 3, 3, 3)])
@pytest.mark.parametrize("dim", [ROWS, COLUMNS])
def test_group_hoyer_square_value_and_gradient_match_autograd_of_the_plain_formula(shape, dim):
    weight = torch.randn(*shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    mine = weight.clone().requires_grad_(True)
    plain = weight.clone().requires_grad_(True)
    value = group_hoyer_square(mine, dim)
    expected = _plain_group_hoyer(plain, dim)
    value.backward()
    expected.backward()
    assert value.item() == pytest.approx(expected.item(), rel=1e-12)
    assert torch.allclose(mine.grad, plain.grad, rtol=1e-10, atol=1e-12)


def test_group_hoyer_square_is_one_for_a_single_group_and_the_group_count_for_equal_groups():
    one = torch.zeros(5, 4)
    one[2] = torch.tensor([1.0, -2.0, 0.5, 3.0])
    assert group_hoyer_square(one, ROWS).item() == pytest.approx(1.0)
    equal = torch.ones(5, 4)
    assert group_hoyer_square(equal, ROWS).item() == pytest.approx(5.0)
    assert group_hoyer_square(equal, COLUMNS).item() == pytest.approx(4.0)
    w = torch.randn(5, 4)
    assert group_hoyer_square(3.7 * w, ROWS).item() == pytest.approx(group_hoyer_square(w, ROWS).item())  # scale-free


def test_group_hoyer_square_gradient_is_zero_on_an_all_zero_group_and_finite_everywhere():
    weight = torch.randn(4, 3, dtype=torch.float64)
    weight[1] = 0.0
    weight.requires_grad_(True)
    group_hoyer_square(weight, ROWS).backward()
    assert torch.isfinite(weight.grad).all() and torch.equal(weight.grad[1], torch.zeros(3, dtype=torch.float64))
    zero = torch.zeros(3, 3, requires_grad=True)
    value = group_hoyer_square(zero, ROWS)
    value.backward()
    assert value.item() == 0.0 and torch.equal(zero.grad, torch.zeros(3, 3))


def test_the_group_hs_penalty_sums_rows_and_columns_over_every_layer():
    model = tiny_mlp()
    layers = {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear)}
    expected = sum(_plain_group_hoyer(m.weight, ROWS) + _plain_group_hoyer(m.weight, COLUMNS) for m in layers.values())
    assert group_hoyer_square_penalty(layers).item() == pytest.approx(expected.item(), rel=1e-5)
    w = layers["1"].weight
    expected = _plain_group_hoyer(w, 0) + _plain_group_hoyer(w, 1)
    assert layer_group_hoyer_square(w).item() == pytest.approx(expected.item(), rel=1e-5)


def test_group_hs_cut_keeps_exactly_the_rows_with_a_weight_above_the_threshold_and_one_per_layer():
    model = tiny_mlp()
    sites = node_sites(model)
    with torch.no_grad():
        model[1].weight[:20] *= 1e-6  # 20 rows now entirely below 1e-3
        model[5].weight.mul_(1e-6)  # every row of the second hidden layer below it
    keep = get_node_criterion("group-hs", lam=1e-3).threshold_keep(sites)
    assert keep["1"].tolist() == [False] * 20 + [True] * 12
    assert int(keep["5"].sum()) == 1 and bool(keep["5"][int(model[5].weight.abs().amax(1).argmax())])


# ------------------------------------------------------------------------------------------------------ L0


def test_hard_concrete_gates_lie_in_zero_one_with_exact_zeros_and_ones():
    torch.manual_seed(0)
    z = hard_concrete_sample(torch.zeros(100_000))
    assert float(z.min()) == 0.0 and float(z.max()) == 1.0
    assert 0.0 < float((z == 0).float().mean()) < 0.5 and 0.0 < float((z == 1).float().mean()) < 0.5


@pytest.mark.parametrize("log_alpha", [-2.0, 0.0, 1.5])
def test_the_expected_l0_term_is_the_probability_that_a_gate_is_nonzero(log_alpha):
    torch.manual_seed(1)
    z = hard_concrete_sample(torch.full((200_000,), log_alpha))
    expected = float(prob_nonzero(torch.tensor(log_alpha)))
    assert float((z > 0).float().mean()) == pytest.approx(expected, abs=0.005)
    # closed form: sigmoid(log α − β·log(−γ/ζ)) with β = 2/3, γ = −0.1, ζ = 1.1
    assert expected == pytest.approx(1 / (1 + math.exp(-(log_alpha - 2 / 3 * math.log(0.1 / 1.1)))))


def test_the_test_time_gate_is_the_clamped_stretched_sigmoid_and_zero_below_log_one_eleventh():
    log_alpha = torch.tensor([-5.0, math.log(1 / 11) - 1e-3, 0.0, 5.0])
    gate = hard_concrete_mean(log_alpha)
    assert gate[0] == 0.0 and gate[1] == 0.0 and gate[3] == 1.0
    assert gate[2].item() == pytest.approx(0.5 * (STRETCH_HIGH - STRETCH_LOW) + STRETCH_LOW)


def test_l0_gates_sum_the_expected_l0_and_clamp_log_alpha():
    model = tiny_mlp()
    gates = HardConcreteGates(node_sites(model), generator=torch.Generator().manual_seed(0))
    gates.attach()
    expected = sum(prob_nonzero(p).sum() for p in gates.params.values())
    assert gates.expected_l0().item() == pytest.approx(expected.item())
    assert 0.5 * 64 < gates.expected_l0().item() < 64  # drop rate 0.5 at init: log α ≈ 0, P(z≠0) ≈ 0.81
    with torch.no_grad():
        gates.params["1"].fill_(50.0)
    gates.clamp()
    assert float(gates.params["1"].detach().max()) == pytest.approx(math.log(100.0))


def test_l0_removes_the_nodes_whose_test_time_gate_is_zero_and_keeps_the_function():
    model = tiny_mlp().eval()
    crit = get_node_criterion("l0", lam=1.0)
    pruner = L0Regularisation(crit, seed=0)
    pruner.sites = node_sites(model)
    pruner.gates = crit.gates(pruner.sites, torch.Generator().manual_seed(0))
    pruner.gates.attach()
    with torch.no_grad():
        pruner.gates.params["1"][:5] = -4.0  # test-time gate 0
        pruner.gates.params["5"].uniform_(-1.0, 3.0)
    x = torch.randn(16, 1, 8, 8)
    before = model(x)
    pruner.finalize(model)
    assert not any(hasattr(m, "node_log_alpha") for m in model.modules())
    assert torch.allclose(model(x), before, atol=1e-5)
    alive = node_masks(model)["1"]
    assert alive[:5].sum() == 0 and alive[5:].all()
    assert node_flops(model, (1, 8, 8)) < inference_flops(model, (1, 8, 8), sparse=False)


# ----------------------------------------------------------------------------------------- GateDecorators


def test_gatedecorators_score_is_gate_times_its_gradient_accumulated_over_the_scoring_batches():
    model = tiny_mlp().eval()
    gates = ScaleGates(node_sites(model))
    gates.attach()
    with torch.no_grad():
        for p in gates.params.values():
            p.uniform_(0.5, 1.5)
    x, y = toy_data(256)
    crit = get_node_criterion("gatedecorators")
    ctx = node_scoring_context(model, crit, (x, y), samples=256, batch_size=64)
    scores = crit.score(ctx)
    # the same batches again: the mean loss over the 256 samples, differentiated w.r.t. φ
    loss = sum(F.cross_entropy(model(x[i:i + 64]), y[i:i + 64]) * 64 for i in range(0, 256, 64)) / 256
    grads = torch.autograd.grad(loss, list(gates.params.values()))
    for (name, phi), grad in zip(gates.params.items(), grads):
        assert torch.allclose(scores[name], (phi * grad).abs(), rtol=1e-4, atol=1e-7)


def test_gatedecorators_prunes_one_percent_then_every_five_percent_then_kappa_after_the_dense_half():
    crit = get_node_criterion("gatedecorators")
    assert crit.schedule(0.3) == pytest.approx([0.01, 0.06, 0.11, 0.16, 0.21, 0.26, 0.3])
    epochs = crit.round_epochs(0.3, 16)
    assert len(epochs) == 7 and epochs[0] > 8 and epochs[-1] == pytest.approx(14.0)  # 16 · 70/80
    assert all(b > a for a, b in zip(epochs, epochs[1:]))


@pytest.mark.parametrize("make", [tiny_mlp, tiny_cnn])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_folding_gates_into_batchnorm_computes_the_same_function(make, mode):
    model = make()
    x = torch.randn(8, 1, 8, 8)
    sites = node_sites(model)
    first = next(iter(sites.values()))
    apply_node_mask(first, torch.arange(first.size) % 3 != 0)  # folding also works through masked parameters
    gates = ScaleGates(sites)
    gates.attach()
    with torch.no_grad():
        for p in gates.params.values():
            p.uniform_(-2.0, 2.0)
    getattr(model, mode)()
    torch.manual_seed(0)
    gated = model(x)
    gates.fold()
    assert not any(hasattr(m, "node_gate") for m in model.modules())
    torch.manual_seed(0)  # the same dropout masks
    assert torch.allclose(model(x), gated, atol=1e-5)


def test_fold_node_scale_without_batchnorm_scales_the_layer_rows_and_bias():
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.LeakyReLU(0.05), nn.Linear(3, 2))
    site = node_sites(model)["1"]
    x = torch.randn(5, 1, 2, 2)
    scale = torch.tensor([0.5, 2.0, 0.0])
    expected = model[3](model[2](model[1](model[0](x)) * scale))
    fold_node_scale(site, scale)
    assert torch.allclose(model(x), expected, atol=1e-6)


# --------------------------------------------------------------------------------------- EfficientConvNets


def test_efficientconvnets_keeps_the_largest_l1_rows_of_every_layer():
    model = tiny_mlp()
    norms = {name: model[int(name)].weight.detach().abs().sum(1) for name in ("1", "5")}
    prune_nodes(model, "efficientconvnets", 0.25)
    for name, alive in node_masks(model).items():
        assert int(alive.sum()) == 24  # 32 − round(0.25 · 32) in every layer
        assert set(alive.nonzero().squeeze(1).tolist()) == set(norms[name].argsort(descending=True)[:24].tolist())


# ----------------------------------------------------------------------------------------- node FLOPs


@pytest.mark.parametrize("make", [tiny_mlp, tiny_cnn])
def test_node_flops_of_a_masked_network_equal_the_flops_of_the_network_shrunk_from_it(make):
    model = make()
    for site in node_sites(model).values():
        apply_node_mask(site, torch.arange(site.size) % 2 == 0)
    small = shrink(model, torch.randn(2, 1, 8, 8))
    assert node_flops(model, (1, 8, 8)) == inference_flops(small, (1, 8, 8), sparse=False)
    assert node_flops(model, (1, 8, 8)) < inference_flops(model, (1, 8, 8), sparse=True)


# -------------------------------------------------------------------------------------- in the loop


def _toy_loop(pruner, epochs: int = 4, seed: int = 0):
    torch.manual_seed(seed)
    model = tiny_mlp(seed)
    x, y = toy_data(512)
    batches = [(x[i:i + 64], y[i:i + 64]) for i in range(0, 512, 64)]
    history = train(model, batches, batches[:2], TrainConfig(epochs=epochs, device="cpu", progress=False), [pruner])
    return model, history


def test_efficientconvnets_cuts_once_on_the_planned_step_and_pruned_nodes_stay_exactly_zero():
    x, y = toy_data(512)
    crit = get_node_criterion("efficientconvnets")
    pruner = ScheduledNodePruning(crit, 0.5, None, samples=64, batch_size=64)
    model, _ = _toy_loop(pruner)
    [step] = pruner.steps_done
    assert step.epoch == pytest.approx(3.5)  # 70/80 of 4 epochs, on step 28 of 8 per epoch
    assert step.node_sparsity == pytest.approx(0.5)
    for name, site in node_sites(model).items():
        dead = ~node_masks(model)[name]
        assert torch.equal(site.layer.weight[dead], torch.zeros_like(site.layer.weight[dead]))
        assert torch.equal(site.norm.weight[dead], torch.zeros(int(dead.sum())))


def test_gatedecorators_prunes_iteratively_in_its_second_half_with_masks_that_only_shrink():
    x, y = toy_data(512)
    crit = get_node_criterion("gatedecorators")
    pruner = structured_pruner(crit, 0.5, (x, y), samples=128, batch_size=64)
    model, _ = _toy_loop(pruner, epochs=8)
    steps = pruner.steps_done
    assert [s.target for s in steps] == pytest.approx(crit.schedule(0.5))
    assert steps[0].epoch > 4.0 and steps[-1].epoch == pytest.approx(7.0)
    assert all(b.node_sparsity >= a.node_sparsity for a, b in zip(steps, steps[1:]))
    assert steps[-1].node_sparsity == pytest.approx(0.5)
    assert pruner.version == len(steps)
    pruner.finalize(model)
    assert not any(hasattr(m, "node_gate") for m in model.modules())


def test_group_hs_regularises_until_the_cut_then_stops():
    crit = get_node_criterion("group-hs", lam=1e-2)
    pruner = GroupHoyerSquarePruning(crit)
    model, _ = _toy_loop(pruner)
    assert pruner.pruned and len(pruner.steps_done) == 1 and pruner.steps_done[0].epoch == pytest.approx(3.5)
    assert pruner.penalty(None) is None


def test_clearing_masked_state_zeroes_every_masked_parameter_and_its_adam_moments():
    model = tiny_mlp()
    optimizer = torch.optim.Adam(model.parameters())
    F.cross_entropy(model(torch.randn(8, 1, 8, 8)), torch.zeros(8, dtype=torch.long)).backward()
    optimizer.step()
    site = node_sites(model)["1"]
    apply_node_mask(site, torch.arange(32) >= 4)
    optimizer = torch.optim.Adam(model.parameters())
    F.cross_entropy(model(torch.randn(8, 1, 8, 8)), torch.zeros(8, dtype=torch.long)).backward()
    optimizer.step()
    assert clear_masked_optimizer_state(optimizer, model) == 4  # weight, bias, BatchNorm weight and bias
    for param in (site.layer.weight_orig, site.layer.bias_orig, site.norm.weight_orig, site.norm.bias_orig):
        assert torch.equal(param[:4], torch.zeros_like(param[:4]))
        assert torch.equal(optimizer.state[param]["exp_avg"][:4], torch.zeros_like(param[:4]))


def test_structured_pruner_refuses_a_criterion_that_prunes_before_training():
    with pytest.raises(ValueError, match="prunes before training"):
        structured_pruner("snap-it", 0.5, samples=64, batch_size=64)
    with pytest.raises(ValueError, match="node sparsity in"):
        structured_pruner("efficientconvnets", 0.0, samples=64, batch_size=64)


@pytest.mark.parametrize("name, options, match", [
    ("group-hs", {"lam": -1.0}, "Group-HS's lam"),
    ("l0", {"lam": float("nan")}, "L0's lam"),
    ("l0", {"droprate_init": 1.0}, "droprate_init"),
    ("gatedecorators", {"step": 0.0}, "step"),
    ("efficientconvnets", {"scope": "net"}, "scope must be one of"),
    ("group-hs", {"threshold": 0}, "threshold must be a positive number"),
])
def test_bad_options_of_the_structured_baselines_raise_a_value_error_naming_them(name, options, match):
    with pytest.raises(ValueError, match=match):
        get_node_criterion(name, **options)


def test_l0_scores_need_gates():
    model = tiny_mlp()
    crit = get_node_criterion("l0")
    with pytest.raises(ValueError, match="hard-concrete gates"):
        crit.score(node_scoring_context(model, crit, None))


def test_snap_it_during_training_prunes_along_its_schedule_every_tau_epochs():
    x, y = toy_data(512)
    crit = get_node_criterion("snap-it")
    pruner = structured_pruner(crit, 0.9, (x, y), samples=128, batch_size=64, interval=0.5)
    model, _ = _toy_loop(pruner, epochs=4)
    steps = pruner.steps_done
    assert [s.target for s in steps] == pytest.approx(crit.schedule(0.9))
    assert [s.epoch for s in steps] == pytest.approx([0.5 * (i + 1) for i in range(len(steps))])
    assert all(b.node_sparsity >= a.node_sparsity for a, b in zip(steps, steps[1:]))
    assert len(steps) > 1 and steps[-1].node_sparsity == pytest.approx(0.9, abs=0.02)
    for name, site in node_sites(model).items():  # a node removed in training stays exactly zero to the end
        dead = ~node_masks(model)[name]
        assert torch.equal(site.layer.weight[dead], torch.zeros_like(site.layer.weight[dead]))


def test_snap_it_during_training_refuses_a_schedule_longer_than_the_training():
    x, y = toy_data(512)
    pruner = structured_pruner("snap-it", 0.9, (x, y), samples=128, batch_size=64, interval=2.0)
    with pytest.raises(ValueError, match="beyond the 4 training epochs"):
        _toy_loop(pruner, epochs=4)


def test_only_snap_it_takes_an_interval():
    for name in ("cnip-it", "efficientconvnets", "l0"):
        with pytest.raises(ValueError, match="does not take an interval"):
            structured_pruner(name, 0.5, samples=64, batch_size=64, interval=1.0)
