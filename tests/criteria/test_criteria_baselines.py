"""Facts of the magnitude, GraSP and SynFlow baselines (sign conventions, exact scores, schedules)."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

import prunekit
from prunekit.core.connectivity import path_count_fraction
from prunekit.criteria import ScoringContext, available_criteria, get_criterion
from prunekit.experiments.config import RunConfig
from prunekit.criteria.weight.synflow import synaptic_flow, synflow_schedule
from prunekit.core.masks import get_masks, layer_counts, prunable_layers
from prunekit.pruning.before import kept_count
from prunekit.core.sampling import SampleStream
from tests.helpers import tiny_cnn, tiny_mlp, toy_data


def context(model, data=None, samples=256, batch_size=64):
    """A ScoringContext like prune() builds, for calling a criterion's score directly."""
    return ScoringContext(
        model=model, layers=prunable_layers(model), loss_fn=F.cross_entropy,
        stream=SampleStream(data, samples, batch_size) if data is not None else None,
        generator=torch.Generator().manual_seed(0), device=torch.device("cpu"),
    )


def bias_free_mlp(seed=0):
    """64-32-32-10 ReLU MLP without biases: SynFlow's no-layer-collapse theory applies exactly."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32, bias=False), nn.ReLU(), nn.Linear(32, 32, bias=False),
                         nn.ReLU(), nn.Linear(32, 10, bias=False))


def test_registry_knows_the_three_baselines_and_their_data_needs():
    assert {"magnitude", "grasp", "synflow"} <= set(available_criteria())
    assert not get_criterion("magnitude").needs_data
    assert get_criterion("grasp").needs_data
    assert not get_criterion("synflow").needs_data
    assert get_criterion("synflow", steps=3, rounds=7, input_shape=[1, 8, 8]).input_shape == (1, 8, 8)


@pytest.mark.parametrize("criterion", ["magnitude", "grasp", "synflow"])
@pytest.mark.parametrize("kappa", [0.5, 0.9, 0.98])
def test_every_round_keeps_exactly_round_of_one_minus_kappa_times_n(criterion, kappa):
    model = tiny_mlp()
    result = prunekit.prune(model, criterion, kappa, data=toy_data(), samples=256, batch_size=128)
    n = sum(m.weight.numel() for m in prunable_layers(model).values())
    assert all(step.kept == kept_count(step.target, n) for step in result.steps)
    assert sum(int(m.weight_mask.sum()) for m in prunable_layers(model).values()) == round((1 - kappa) * n)
    assert result.steps[-1].target == kappa


# --- magnitude -------------------------------------------------------------------------------

def test_magnitude_keeps_exactly_the_global_top_k_of_absolute_weights():
    model = tiny_cnn()
    weights = torch.cat([m.weight.detach().abs().reshape(-1) for m in prunable_layers(model).values()])
    k = kept_count(0.9, weights.numel())
    expected = torch.zeros_like(weights, dtype=torch.bool)
    expected[torch.topk(weights, k).indices] = True
    prunekit.prune(model, "magnitude", 0.9)
    kept = torch.cat([m.weight_mask.reshape(-1) for m in prunable_layers(model).values()]).bool()
    assert torch.equal(kept, expected)


def test_magnitude_scores_the_masked_weight_and_pruning_only_shrinks_masks():
    model = prunekit.prune(tiny_mlp(), "random", 0.5, seed=1).model
    before = get_masks(model)
    scores = get_criterion("magnitude").score(context(model))
    for name, m in prunable_layers(model).items():
        torch.testing.assert_close(scores[name], (m.weight_orig * m.weight_mask).abs())
    prunekit.prune(model, "magnitude", 0.8)
    assert all(torch.all(get_masks(model)[n] <= before[n]) for n in before)


# --- GraSP -----------------------------------------------------------------------------------

def reference_hg(model, x, y, temperature=200.0):
    """θ and H g of the mean loss of model(x)/T at the layers' weights, via torch.autograd.functional.hvp."""
    layers = prunable_layers(model)
    keys = [f"{name}.weight" for name in layers]
    theta = tuple(m.weight.detach().clone() for m in layers.values())

    def loss(*weights):
        return F.cross_entropy(functional_call(model, dict(zip(keys, weights)), (x,)) / temperature, y)

    theta_req = tuple(t.clone().requires_grad_() for t in theta)
    g = torch.autograd.grad(loss(*theta_req), theta_req)
    _, hg = torch.autograd.functional.hvp(loss, theta, tuple(t.detach() for t in g))
    return dict(zip(layers, theta)), dict(zip(layers, hg))


@pytest.mark.parametrize("make_model", [tiny_mlp, tiny_cnn])
def test_grasp_score_is_theta_times_hessian_gradient_product_at_temperature_200(make_model):
    model = make_model().eval()
    x, y = toy_data(256)
    theta, hg = reference_hg(model, x, y)  # one batch of 256 ...
    scores = get_criterion("grasp").score(context(model, (x, y), samples=256, batch_size=48))  # ... chunked 48
    for name in theta:
        expected = theta[name] * hg[name]
        assert expected.abs().max() > 0
        torch.testing.assert_close(scores[name], expected, rtol=1e-3, atol=1e-4 * float(expected.abs().max()))


def test_grasp_hessian_gradient_product_matches_finite_differences():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 5)).double()
    x, y = torch.randn(40, 1, 4, 4, dtype=torch.float64), torch.randint(0, 5, (40,))
    layers = prunable_layers(model)
    params = [m.weight for m in layers.values()]

    def grad_at(delta, eps):
        with torch.no_grad():
            for p, d in zip(params, delta):
                p.add_(eps * d)
        try:
            return torch.autograd.grad(F.cross_entropy(model(x) / 200.0, y), params)
        finally:
            with torch.no_grad():
                for p, d in zip(params, delta):
                    p.sub_(eps * d)

    g = grad_at([torch.zeros_like(p) for p in params], 0.0)
    eps = 1e-4 / max(float(t.abs().max()) for t in g)
    plus, minus = grad_at(g, eps), grad_at(g, -eps)
    scores = get_criterion("grasp").score(context(model, (x, y), samples=40, batch_size=16))
    for (name, m), gp, gm in zip(layers.items(), plus, minus):
        finite_difference_hg = (gp - gm) / (2 * eps)
        torch.testing.assert_close(scores[name], m.weight.detach() * finite_difference_hg, rtol=1e-4,
                                   atol=1e-6 * float(scores[name].abs().max()))


def test_grasp_keeps_the_lowest_minus_theta_hg_i_e_removes_the_highest_grasp_score():
    model = tiny_mlp().eval()
    x, y = toy_data(256)
    theta, hg = reference_hg(model, x, y)
    grasp_s = torch.cat([(-theta[n] * hg[n]).reshape(-1) for n in theta])  # GraSP's S(θ) = −θ ⊙ Hg
    prunekit.prune(model, "grasp", 0.7, data=(x, y), samples=256, batch_size=64)
    kept = torch.cat([m.weight_mask.reshape(-1) for m in prunable_layers(model).values()]).bool()
    assert int(kept.sum()) == kept_count(0.7, kept.numel())
    assert grasp_s[kept].max() <= grasp_s[~kept].min()  # every removed weight has a higher S than every kept one
    assert kept[grasp_s.argmin()] and not kept[grasp_s.argmax()]
    magnitude_of_s = torch.zeros_like(kept)
    magnitude_of_s[torch.topk(grasp_s.abs(), int(kept.sum())).indices] = True
    assert not torch.equal(kept, magnitude_of_s)  # the sign matters: not a ranking by |θ ⊙ Hg|


def test_grasp_scores_are_zero_on_pruned_weights_and_need_data():
    model = prunekit.prune(tiny_mlp(), "random", 0.5, seed=2).model
    scores = get_criterion("grasp").score(context(model.eval(), toy_data(), samples=128))
    for name, m in prunable_layers(model).items():
        assert torch.all(scores[name][m.weight_mask == 0] == 0)
    with pytest.raises(ValueError, match="data"):
        prunekit.prune(tiny_mlp(), "grasp", 0.5)
    with pytest.raises(ValueError, match="temperature"):
        get_criterion("grasp", temperature=0)


# --- SynFlow ---------------------------------------------------------------------------------

def test_synflow_schedule_is_exponential_in_density_with_a_hundred_rounds():
    targets = get_criterion("synflow").schedule(0.98)
    assert len(targets) == 100
    assert targets[0] == pytest.approx(1 - 0.02 ** (1 / 100), rel=1e-12)
    assert targets[49] == pytest.approx(1 - 0.02 ** 0.5, rel=1e-12)
    assert targets[-1] == 0.98
    assert all(a < b for a, b in zip(targets, targets[1:]))
    assert len(get_criterion("synflow", rounds=7).schedule(0.9)) == 7
    assert synflow_schedule(0.9, 1) == [0.9]
    with pytest.raises(ValueError, match="rounds"):
        get_criterion("synflow", rounds=0)


def test_synflow_scores_equal_the_closed_form_flow_of_a_linear_chain():
    """Bias-free ReLU chain: ∂R/∂W_l[i, j] = (1ᵀ|W_L|…|W_{l+1}|)_i · (|W_{l-1}|…|W_1| 1)_j, no autograd."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(6, 5, bias=False), nn.ReLU(), nn.Linear(5, 4, bias=False), nn.ReLU(),
                          nn.Linear(4, 3, bias=False))
    w = [m.weight.detach().double().abs() for m in prunable_layers(model).values()]
    scores = get_criterion("synflow", input_shape=(6,)).score(context(model))
    for idx, name in enumerate(prunable_layers(model)):
        after = torch.ones(1, 3, dtype=torch.float64)
        for later in reversed(w[idx + 1:]):
            after = after @ later
        before = torch.ones(6, 1, dtype=torch.float64)
        for earlier in w[:idx]:
            before = earlier @ before
        expected = w[idx] * (after.T @ before.T)
        torch.testing.assert_close(scores[name], expected.float(), rtol=1e-6, atol=0)


def test_synflow_scores_match_autograd_through_eval_batchnorm_with_absolute_parameters():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Flatten(), nn.Linear(8, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3))
    bn = model[2]
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(6) * 0.1)
        bn.running_var.copy_(torch.rand(6) + 0.5)
        bn.weight.copy_(torch.randn(6))
        bn.bias.copy_(torch.randn(6))
    p = {k: v.detach().double().abs().requires_grad_() for k, v in model.state_dict().items()}
    ones = torch.ones(1, 8, dtype=torch.float64)
    hidden = ones @ p["1.weight"].T + p["1.bias"]
    hidden = (hidden - p["2.running_mean"]) / torch.sqrt(p["2.running_var"] + bn.eps) * p["2.weight"] + p["2.bias"]
    flow = (hidden.relu() @ p["4.weight"].T + p["4.bias"]).sum()
    g1, g4 = torch.autograd.grad(flow, [p["1.weight"], p["4.weight"]])
    scores = get_criterion("synflow", input_shape=(1, 8)).score(context(model))
    torch.testing.assert_close(scores["1"], (p["1.weight"] * g1).detach().float(), rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(scores["4"], (p["4.weight"] * g4).detach().float(), rtol=1e-6, atol=1e-9)


def test_synflow_leaves_the_users_model_untouched_apart_from_masks():
    model = tiny_cnn().train()
    prunekit.prune(model, "random", 0.3, seed=0)
    model(torch.randn(2, 1, 8, 8))  # a forward pass leaves a non-leaf `weight` on pruned layers
    before = {k: v.clone() for k, v in model.state_dict().items()}
    prunekit.prune(model, get_criterion("synflow", input_shape=(1, 8, 8), rounds=5), 0.9)
    after = model.state_dict()
    assert set(before) == set(after)
    for key, value in before.items():
        assert after[key].dtype == value.dtype
        if not key.endswith("weight_mask"):
            assert torch.equal(after[key], value), key
    assert all(m.training for m in model.modules())
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_synflow_is_data_independent_and_sign_invariant():
    def scores_for(model, data=None, input_shape=None):
        return get_criterion("synflow", input_shape=input_shape).score(context(model, data, samples=64))

    reference = scores_for(tiny_cnn(), input_shape=(1, 8, 8))
    x, y = toy_data(64, seed=1)
    for data in [(x, y), (torch.randn_like(x) * 100, y.flip(0))]:
        inferred = scores_for(tiny_cnn(), data=data)
        assert all(torch.equal(inferred[n], reference[n]) for n in reference)
    flipped = tiny_cnn()
    with torch.no_grad():
        for p in flipped.parameters():
            p.mul_(torch.where(torch.rand(p.shape) < 0.5, -1.0, 1.0))
    flipped_scores = scores_for(flipped, input_shape=(1, 8, 8))
    assert all(torch.equal(flipped_scores[n], reference[n]) for n in reference)


def test_synflow_without_input_shape_or_data_names_input_shape():
    with pytest.raises(ValueError, match="input_shape"):
        prunekit.prune(tiny_mlp(), "synflow", 0.9)


def test_synflow_avoids_layer_collapse_where_magnitude_empties_a_layer():
    """SynFlow's claim (bias-free net): iterative synaptic flow reaches maximal compression, one path."""
    for seed in range(2):
        synflow = prunekit.prune(bias_free_mlp(seed), get_criterion("synflow", input_shape=(1, 8, 8)), 0.999).model
        magnitude = prunekit.prune(bias_free_mlp(seed), "magnitude", 0.999).model
        assert [c.kept for c in layer_counts(synflow).values()] == [1, 1, 1]  # 3 weights: one full path
        assert path_count_fraction(synflow, (1, 8, 8)) == pytest.approx(1 / (64 * 32 * 32 * 10))
        assert min(c.kept for c in layer_counts(magnitude).values()) == 0


@pytest.mark.parametrize("kappa", [0.99, 0.995])
def test_on_the_tiny_mlp_synflow_keeps_every_layer_where_magnitude_and_grasp_empty_one(kappa):
    data = toy_data(1024)
    emptied = {}
    for name in ["synflow", "magnitude", "grasp", "snip"]:
        criterion = get_criterion(name, input_shape=(1, 8, 8)) if name == "synflow" else name
        model = prunekit.prune(tiny_mlp(), criterion, kappa, data=data, samples=512, batch_size=256).model
        emptied[name] = sum(c.kept == 0 for c in layer_counts(model).values())
    assert (emptied["synflow"], emptied["magnitude"], emptied["grasp"]) == (0, 1, 1)
    if kappa == 0.995:
        assert emptied["snip"] == 1  # at 0.99 SNIP keeps every layer here yet disconnects (test_connectivity)


def test_synflow_rescales_flows_beyond_float32_without_changing_the_ranking():
    torch.manual_seed(5)
    model = nn.Sequential(*[nn.Linear(24, 24, bias=False) for _ in range(30)])
    with torch.no_grad():
        for m in model:
            m.weight.uniform_(1.0, 5.0)
    crit = get_criterion("synflow", input_shape=(24,))
    layers = prunable_layers(model)
    exact = synaptic_flow(model, layers, (24,))
    assert max(float(s.max()) for s in exact.values()) > torch.finfo(torch.float32).max
    scores = crit.score(context(model))
    assert all(torch.isfinite(s).all() and s.dtype == torch.float32 for s in scores.values())
    flat64 = torch.cat([s.reshape(-1) for s in exact.values()])
    flat32 = torch.cat([s.reshape(-1) for s in scores.values()])
    scale = 2.0 ** round(math.log2(float(flat32.max()) / float(flat64.max())))
    torch.testing.assert_close(flat32, (flat64 * scale).float(), rtol=0, atol=0)  # an exact power of two ...
    assert torch.all(flat32[torch.argsort(flat64)].diff() >= 0)  # ... so float32 rounding keeps the order


# --- GraSP on SNIP-it's schedule (Appendix E) ------------------------------------------------

def test_grasp_it_runs_snip_its_schedule_and_counts_what_each_round_removes():
    model = tiny_mlp().eval()
    result = prunekit.prune(model, "grasp-it", 0.9, data=toy_data(), samples=256, batch_size=128, steps=3)
    assert [s.target for s in result.steps] == pytest.approx(prunekit.snip_it_schedule(0.9, 3))
    n = result.steps[0].total
    alive = n
    for step in result.steps:
        assert step.revived == 0  # without regrowth a pruned weight stays pruned
        assert alive - step.removed == step.kept
        alive = step.kept


def test_grasp_it_with_regrowth_revives_pruned_weights():
    model = tiny_mlp().eval()
    result = prunekit.prune(model, get_criterion("grasp-it", steps=3, regrow=True), 0.9, data=toy_data(),
                            samples=256, batch_size=128)
    assert any(s.revived > 0 for s in result.steps[1:])
    for before, step in zip(result.steps, result.steps[1:]):
        assert before.kept - step.removed + step.revived == step.kept
    with pytest.raises(TypeError, match="regrow must be a bool"):
        get_criterion("grasp-it", regrow="yes")
    with pytest.raises(ValueError, match="does not prune during training|prune_at"):
        RunConfig(model="mlp5", dataset="mnist", criterion="grasp-it", sparsity=0.9, prune_at="during")


def test_grasp_it_regrowth_scores_leave_the_model_untouched_and_equal_grasp_on_an_unpruned_net():
    dense = tiny_mlp().eval()
    plain = get_criterion("grasp").score(context(dense, toy_data(), samples=128))
    again = get_criterion("grasp-it", regrow=True).score(context(dense, toy_data(), samples=128))
    assert all(torch.allclose(plain[n], again[n], rtol=1e-5, atol=1e-9) for n in plain)
    model = prunekit.prune(tiny_mlp(), "random", 0.5, seed=2).model.eval()
    before = {n: (m.weight_orig.detach().clone(), m.weight_mask.clone()) for n, m in prunable_layers(model).items()}
    scores = get_criterion("grasp-it", regrow=True).score(context(model, toy_data(), samples=128))
    for name, m in prunable_layers(model).items():
        assert torch.equal(m.weight_orig, before[name][0]) and torch.equal(m.weight_mask, before[name][1])
        assert torch.equal(m.weight, m.weight_orig * m.weight_mask)
        assert (scores[name][m.weight_mask == 0] != 0).any()  # pruned weights compete
