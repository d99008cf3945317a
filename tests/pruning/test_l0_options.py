"""Facts of L0's options in the authors' own setting: the per-weight expected-L0 penalty (per-site λ, weight
prior, 1/N), the parameter average (EMA) loaded at the end, and their validation; the default is unchanged."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from prunekit.criteria.node.gates import LOG_ALPHA_RANGE, HardConcreteGates, prob_nonzero
from prunekit.criteria.node.l0 import per_weight_penalty
from prunekit.pruning.nodes_after import L0Regularisation, ParameterAverage
from prunekit.structured import get_node_criterion, node_sites
from prunekit.training.loop import History, TrainConfig, TrainState, train
from tests.helpers import tiny_mlp, toy_data
from tests.sweep_helpers import single_thread, tiny_config  # noqa: F401

T = 2 / 3  # the default temperature β


def _p_nonzero(log_alpha: float) -> float:
    """P(z ≠ 0) of a hard-concrete gate, written out: sigmoid(log α − β·log(0.1/1.1))."""
    return 1 / (1 + math.exp(-(log_alpha - T * math.log(0.1 / 1.1))))


def _two_layer_mlp() -> nn.Module:
    """Hidden sites "0" (3 → 2, with bias) and "2" (2 → 2, no bias) with known weights; "4" is the output layer."""
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 2, bias=False), nn.ReLU(), nn.Linear(2, 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]]))
        model[0].bias.copy_(torch.tensor([0.5, -1.0]))
        model[2].weight.copy_(torch.tensor([[2.0, 1.0], [-1.0, 0.25]]))
    return model


LOG_ALPHA = {"0": [0.3, -1.2], "2": [2.0, -0.5]}


def _state(model: nn.Module, samples: int | None, steps_per_epoch: int | None = None, epochs: int = 1) -> TrainState:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    return TrainState(model, optimizer, TrainConfig(epochs=epochs, device="cpu", progress=False), torch.device("cpu"),
                      History(), steps_per_epoch=steps_per_epoch, train_samples=samples)


def _pruner(model: nn.Module, samples: int | None = 100, steps_per_epoch: int | None = None, epochs: int = 1,
            **options: object) -> tuple[L0Regularisation, TrainState]:
    pruner = L0Regularisation(get_node_criterion("l0", **options), seed=0)
    state = _state(model, samples, steps_per_epoch, epochs)
    pruner.on_train_start(state)
    with torch.no_grad():
        for name, values in LOG_ALPHA.items():
            if name in pruner.gates.params:
                pruner.gates.params[name].copy_(torch.tensor(values))
    return pruner, state


# ------------------------------------------------------------------------------------------ per-weight penalty


def test_the_per_weight_penalty_equals_the_authors_formula_by_hand_with_layer_lams_prior_and_one_over_n():
    model = _two_layer_mlp()
    pruner, state = _pruner(model, samples=100, lam=0.5, penalty="per-weight", layer_lams="10,0.2", prior=0.01)
    # site "0": n_j = 3 weights + 1 bias, ‖θ_j‖² = row² + bias²; site "2": n_j = 2 weights, no bias
    n = {"0": [4, 4], "2": [2, 2]}
    sq = {"0": [1 + 4 + 0.25 + 0.25, 0 + 9 + 1 + 1], "2": [4 + 1, 1 + 0.0625]}
    lams = {"0": 0.5 * 10, "2": 0.5 * 0.2}
    expected = sum(_p_nonzero(LOG_ALPHA[s][j]) * (lams[s] * n[s][j] + 0.5 * 0.01 * sq[s][j])
                   for s in ("0", "2") for j in range(2)) / 100
    assert pruner.penalty(state).item() == pytest.approx(expected, rel=1e-6)
    # the same value from the function itself (counts read off the masks each call)
    value = per_weight_penalty(pruner.gates, lams, 0.01, 100)
    assert value.item() == pytest.approx(expected, rel=1e-6)


def test_the_prior_term_pulls_each_weight_by_its_gates_probability_times_prior_over_n():
    model = _two_layer_mlp()
    pruner, state = _pruner(model, samples=50, lam=1.0, penalty="per-weight", prior=0.3)
    pruner.penalty(state).backward()
    # ∂/∂θ of (1/N)·P_j·½·prior·‖θ_j‖² is (1/N)·P_j·prior·θ_j; the λ·n_j term does not depend on θ
    p = torch.tensor([_p_nonzero(v) for v in LOG_ALPHA["0"]])
    expected = p[:, None] * 0.3 * model[0].weight.detach() / 50
    assert torch.allclose(model[0].weight.grad, expected, rtol=1e-6)
    assert torch.allclose(model[0].bias.grad, p * 0.3 * model[0].bias.detach() / 50, rtol=1e-6)
    assert model[4].weight.grad is None  # the output layer is not gated


def test_a_masked_weight_neither_counts_nor_enters_the_norm_of_its_node():
    model = _two_layer_mlp()
    prune.custom_from_mask(model[0], "weight", torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]]))
    pruner, state = _pruner(model, samples=10, lam=1.0, penalty="per-weight", prior=1.0)
    p = [_p_nonzero(v) for v in LOG_ALPHA["0"]] + [_p_nonzero(v) for v in LOG_ALPHA["2"]]
    costs = [3 + 0.5 * (1 + 0.25 + 0.25), 4 + 0.5 * (9 + 1 + 1), 2 + 0.5 * 5, 2 + 0.5 * 1.0625]  # −2.0 is masked
    assert pruner.penalty(state).item() == pytest.approx(sum(a * b for a, b in zip(p, costs)) / 10, rel=1e-6)


def test_without_a_prior_or_any_lambda_the_per_weight_penalty_is_off():
    pruner, state = _pruner(_two_layer_mlp(), lam=0.0, penalty="per-weight")
    assert pruner.penalty(state) is None


def test_the_default_penalty_is_still_lambda_times_the_expected_share_of_nodes_in_value_and_gradient():
    model = _two_layer_mlp()
    pruner, state = _pruner(model, lam=0.7)
    assert get_node_criterion("l0", lam=0.7).penalty == "node-share"
    mine = pruner.penalty(state)
    params = list(pruner.gates.params.values())
    old = 0.7 * torch.stack([prob_nonzero(p).sum() for p in params]).sum() / 4  # 4 hidden nodes
    assert torch.equal(mine, old)
    assert all(torch.equal(a, b) for a, b in zip(torch.autograd.grad(mine, params), torch.autograd.grad(old, params)))


def test_per_weight_mode_takes_n_from_the_training_batches_and_refuses_batches_that_do_not_say_it():
    model = tiny_mlp()
    x, y = toy_data(96)
    seen = []

    class Spy(L0Regularisation):
        def on_train_start(self, state):
            super().on_train_start(state)
            seen.append(self._samples)

    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 96, 32)]
    train(model, batches, None, TrainConfig(epochs=1, device="cpu", progress=False),
          [Spy(get_node_criterion("l0", penalty="per-weight"))])
    assert seen == [96]
    with pytest.raises(ValueError, match="number of training samples N"):
        _pruner(tiny_mlp(), samples=None, penalty="per-weight")


# ------------------------------------------------------------------------------------------------------ EMA


def test_the_parameter_average_loads_the_bias_corrected_average_of_the_iterates():
    param = nn.Parameter(torch.zeros(3))
    average = ParameterAverage([param], beta=0.9)
    iterates = [torch.tensor([float(i), -2.0 * i, 5.0]) for i in range(1, 6)]
    for value in iterates:
        with torch.no_grad():
            param.copy_(value)
        average.update()
    expected = sum(0.1 * 0.9 ** (5 - i) * v for i, v in enumerate(iterates, start=1)) / (1 - 0.9 ** 5)
    average.load()
    assert torch.allclose(param.detach(), expected, rtol=1e-6)
    assert param.detach()[2].item() == pytest.approx(5.0)  # a constant parameter stays itself: no bias towards 0


def test_l0_averages_every_parameter_after_the_clamp_loads_it_after_the_last_step_and_leaves_batchnorm_stats():
    model = tiny_mlp()
    pruner, state = _pruner(model, steps_per_epoch=3, epochs=1, ema=0.8)
    params = [p for p in model.parameters()]
    assert len(pruner.average.params) == len(params)  # the gates too
    assert all(a.device == p.device for a, p in zip(pruner.average.averages, params))
    with torch.no_grad():
        model[2].running_mean.fill_(0.25)
    gate = pruner.gates.params["1"]
    history = {id(p): [] for p in params}
    for step in range(1, 4):
        with torch.no_grad():
            for p in params:
                p.add_(1.0 if p is not gate else 10.0)  # the gate leaves the clamp's range: averaged clamped
            for p in params:  # what the average should see: the step's values, the gate's after the clamp
                history[id(p)].append(p.clamp(*LOG_ALPHA_RANGE) if p is gate else p.clone())
        state.step = step
        pruner.on_step_end(state)
    for p in params:  # loaded after step 3 of 3: Σ (1−β)·β^(3−i)·θ_i / (1 − β³)
        expected = sum(0.2 * 0.8 ** (3 - i) * v for i, v in enumerate(history[id(p)], start=1)) / (1 - 0.8 ** 3)
        assert torch.allclose(p.detach(), expected, rtol=1e-5, atol=1e-6)
    assert float(gate.detach().max()) == pytest.approx(math.log(100.0))
    assert torch.equal(model[2].running_mean, torch.full((32,), 0.25))
    loaded = [p.detach().clone() for p in params]
    pruner._load_average()  # finalize does not load it a second time
    assert all(torch.equal(a, p.detach()) for a, p in zip(loaded, params))


def test_without_steps_per_epoch_finalize_loads_the_average_before_folding_the_gates():
    model = tiny_mlp()
    pruner, state = _pruner(model, ema=0.5)
    with torch.no_grad():
        pruner.gates.params["1"].fill_(-4.0)  # test-time gate 0 now...
    pruner.on_step_end(state)
    with torch.no_grad():
        pruner.gates.params["1"].fill_(4.0)  # ...and 1 afterwards; the average of one step is the first value
    pruner.finalize(model)
    assert not any(hasattr(m, "node_log_alpha") for m in model.modules())
    assert not node_sites(model)["1"].layer.weight.any()  # the averaged gate (−4) removed every node of site "1"


def test_ema_zero_leaves_the_parameters_as_trained():
    model = tiny_mlp()
    pruner, state = _pruner(model, steps_per_epoch=1, epochs=1)
    assert pruner.average is None
    with torch.no_grad():
        model[1].weight.add_(1.0)
    trained = model[1].weight.detach().clone()
    state.step = 1
    pruner.on_step_end(state)
    assert torch.equal(model[1].weight, trained)


# --------------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("options, match", [
    ({"penalty": "per-node"}, r"penalty must be one of 'node-share', 'per-weight'; got 'per-node'"),
    ({"penalty": "per-weight", "prior": -1e-4}, r"prior .* >= 0, got -0.0001"),
    ({"ema": 1.0}, r"ema .* in \[0, 1\), got 1.0"),
    ({"ema": -0.1}, r"ema .* in \[0, 1\), got -0.1"),
    ({"penalty": "per-weight", "layer_lams": "1,x"}, r"layer_lams .* got 'x' in '1,x'"),
    ({"penalty": "per-weight", "layer_lams": "1,-2"}, r"layer_lams .* >= 0 .* got '-2'"),
    ({"penalty": "per-weight", "layer_lams": 3.0}, r"layer_lams must be a comma-separated string"),
    ({"layer_lams": "1,2"}, r"act only with penalty='per-weight'.*layer_lams='1,2'"),
    ({"prior": 5e-4}, r"act only with penalty='per-weight'.*prior=0.0005"),
])
def test_bad_l0_options_raise_a_value_error_naming_the_value_and_what_is_accepted(options, match):
    with pytest.raises(ValueError, match=match):
        get_node_criterion("l0", **options)


def test_layer_lams_of_the_wrong_length_name_both_counts_and_the_sites_when_the_gates_are_attached():
    crit = get_node_criterion("l0", penalty="per-weight", layer_lams="10,0.5,0.1")
    with pytest.raises(ValueError, match=r"gives 3 factors but the network has 2 gated sites: 0, 2"):
        L0Regularisation(crit).on_train_start(_state(_two_layer_mlp(), 100))


def test_node_share_mode_takes_ema_and_per_weight_options_only_with_their_defaults():
    assert get_node_criterion("l0", ema=0.999).ema == 0.999
    crit = get_node_criterion("l0", penalty="node-share", layer_lams=None, prior=0.0)
    assert (crit.penalty, crit.layer_factors, crit.prior) == ("node-share", None, 0.0)


# ---------------------------------------------------------------------------------------------- a real run


@pytest.mark.slow
def test_lenet5_trains_with_the_authors_l0_setting_and_returns_the_network_its_gates_kept(
        monkeypatch, mnist_data_root, single_thread):
    from prunekit.experiments.loading import load_run_data
    from prunekit.experiments.run import run
    from prunekit.training.loop import evaluate

    folded = []
    fold = HardConcreteGates.fold
    monkeypatch.setattr(HardConcreteGates, "fold", lambda self: folded.append(fold(self)) or folded[-1])
    options = {"lam": 1.0, "penalty": "per-weight", "layer_lams": "10,0.5,0.1,10", "prior": 5e-4, "ema": 0.999}
    config = tiny_config(model="lenet5", criterion="l0", sparsity=0.0, structured=True, criterion_options=options,
                         epochs=1, amp=False)
    record = run(config, progress=False, data_root=mnist_data_root, keep_model=True)
    assert 0.0 <= record.metrics["node_sparsity"] <= 1.0
    assert not any(name.endswith("node_log_alpha") for name, _ in record.model.named_parameters())
    [values] = folded
    kept = sum(int((v > 0).sum()) for v in values.values())
    total = sum(v.numel() for v in values.values())
    assert record.metrics["node_sparsity"] == pytest.approx(1 - kept / total)
    widths = [m.out_channels for m in record.model.features if isinstance(m, nn.Conv2d)]
    widths.append(record.model.classifier[1].out_features)
    assert widths == [int((v > 0).sum()) for v in values.values()]  # exactly the nodes whose gate was > 0
    # the average is loaded before the last evaluation: the record's accuracy is the returned network's
    data = load_run_data(record.config, torch.device("cpu"), mnist_data_root)
    assert record.metrics["accuracy"] == pytest.approx(evaluate(record.model, data.test, torch.device("cpu"),
                                                                amp=False)[1], abs=1e-9)


@pytest.mark.gpu
def test_on_cuda_the_average_and_the_per_weight_penalty_live_on_the_parameters_device():
    x, y = toy_data(128)
    batches = [(x[i:i + 64], y[i:i + 64]) for i in (0, 64)]
    pruner = L0Regularisation(get_node_criterion("l0", penalty="per-weight", prior=5e-4, ema=0.9))
    train(tiny_mlp(), batches, None, TrainConfig(epochs=1, device="cuda", progress=False), [pruner])
    assert pruner.average.steps == 2 and all(a.device.type == "cuda" for a in pruner.average.averages)
    assert pruner.penalty(None).device.type == "cuda"
