"""Structured GraSP: GraSP's Hessian-gradient product on the node gates c = 1, keeping the highest c·Hg."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from prunekit.criteria import get_criterion
from prunekit.criteria.node.grasp import StructuredGraSP
from prunekit.criteria.weight.grasp import GraSP
from prunekit.experiments.config import RunConfig
from prunekit.experiments.methods import get_structured_method
from prunekit.pruning.nodes import node_scoring_context
from prunekit.structured import available_node_criteria, get_node_criterion, node_masks, node_sites, prune_nodes
from tests.helpers import toy_data
from tests.sweep_helpers import single_thread, tiny_config  # noqa: F401


def toy_net() -> nn.Sequential:
    """Linear → BatchNorm → Tanh → Linear → Tanh → Linear: 4 + 3 hidden nodes, 2 outputs, fixed weights."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    with torch.no_grad():
        model[1].running_mean.copy_(torch.tensor([0.3, -0.2, 0.1, 0.0]))
        model[1].running_var.copy_(torch.tensor([1.5, 0.7, 1.0, 2.0]))
        model[1].weight.copy_(torch.tensor([1.2, 0.8, -0.5, 1.0]))
        model[1].bias.copy_(torch.tensor([0.1, -0.3, 0.2, 0.0]))
    return model.eval()


def toy_batch(n: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, 5, generator=g) * 2
    return x, torch.randint(0, 2, (n,), generator=g)


def gated_loss(model: nn.Sequential, c: torch.Tensor, x: torch.Tensor, y: torch.Tensor, temperature: float):
    """The toy net's mean tempered loss with explicit gates c (4 after the BatchNorm, then 3 on the second layer)."""
    bn = model[1]
    z1 = F.batch_norm(model[0](x), bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
    h1 = torch.tanh(z1 * c[:4])
    h2 = torch.tanh(model[3](h1) * c[4:])
    return F.cross_entropy(model[5](h2) / temperature, y)


def explicit_hg(model: nn.Sequential, x: torch.Tensor, y: torch.Tensor, temperature: float) -> torch.Tensor:
    """``H g`` at c = 1, H built in full by torch.autograd.functional.hessian."""
    c = torch.ones(7)
    g = torch.autograd.grad(gated_loss(model, c.requires_grad_(), x, y, temperature), c)[0]
    hessian = torch.autograd.functional.hessian(lambda v: gated_loss(model, v, x, y, temperature), torch.ones(7))
    return hessian @ g


def scores_of(model: nn.Module, crit: StructuredGraSP, data) -> dict[str, torch.Tensor]:
    ctx = node_scoring_context(model, crit, data, samples=len(data[0]), batch_size=16)
    return crit.score(ctx)


@pytest.mark.parametrize("temperature", [1.0, 200.0])
def test_node_scores_are_the_gate_hessian_times_the_gate_gradient(temperature):
    model, data = toy_net(), toy_batch()
    expected = explicit_hg(model, *data, temperature)
    scores = scores_of(model, get_node_criterion("grasp", temperature=temperature), data)
    assert list(scores) == ["0", "3"]  # the output layer "5" is never scored
    got = torch.cat([scores["0"], scores["3"]])
    assert expected.abs().max() > 0
    torch.testing.assert_close(got, expected, rtol=1e-3, atol=1e-4 * float(expected.abs().max()))


def test_the_default_temperature_is_weight_grasps_and_scoring_leaves_no_gates_behind():
    model, data = toy_net(), toy_batch()
    before = [name for name, _ in model.named_parameters()]
    crit = get_node_criterion("grasp")
    assert crit.temperature == GraSP().temperature == 200.0
    scores_of(model, crit, data)
    assert [name for name, _ in model.named_parameters()] == before
    assert all(not m._forward_hooks for m in model.modules())
    assert all(p.grad is None for p in model.parameters())


def test_pruning_removes_round_kappa_n_nodes_those_with_the_lowest_hg_and_no_output():
    model, data = toy_net(), toy_batch()
    hg = explicit_hg(model, *data, 200.0)
    kappa = 0.4
    n_pruned = round(kappa * 7)
    prune_nodes(model, "grasp", kappa, data, samples=len(data[0]), batch_size=16)
    masks = node_masks(model)
    kept = torch.cat([masks["0"], masks["3"]])
    # GraSP removes the highest S = −Hg, i.e. the lowest Hg
    expected = torch.ones(7, dtype=torch.bool)
    expected[torch.argsort(hg)[:n_pruned]] = False
    assert expected[:4].any() and expected[4:].any()  # the keep-one-per-layer rule does not interfere
    assert int((~kept).sum()) == n_pruned
    assert torch.equal(kept, expected)
    assert set(masks) == {"0", "3"} and torch.all(model[5].weight != 0)


def test_the_same_seed_gives_the_same_node_mask():
    x, y = toy_data(256, (1, 8, 8))

    def mask() -> dict[str, torch.Tensor]:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 24), nn.BatchNorm1d(24), nn.ReLU(), nn.Linear(24, 16),
                              nn.ReLU(), nn.Linear(16, 10))
        prune_nodes(model, "grasp", 0.5, (x, y), samples=192, batch_size=64, seed=0)
        return node_masks(model)

    first, second = mask(), mask()
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)
    assert sum(int((~m).sum()) for m in first.values()) == round(0.5 * 40)


def test_it_is_a_node_criterion_beside_weight_grasp_pruning_once_before_training():
    assert "grasp" in available_node_criteria()
    assert isinstance(get_node_criterion("GraSP"), StructuredGraSP) and isinstance(get_criterion("grasp"), GraSP)
    crit = get_node_criterion("grasp", steps=7)
    assert crit.timings == ("before",) and crit.schedule(0.6) == [0.6]
    assert RunConfig(model="mlp5", dataset="mnist", criterion="grasp", sparsity=0.5, structured=True).prune_at == "before"
    method = get_structured_method("grasp")
    assert (method.criterion, method.prune_at, method.in_paper, method.structured) == ("grasp", "before", False, True)


def test_bad_sparsity_temperature_and_options_raise_value_errors():
    model, data = toy_net(), toy_batch()
    for kappa in (-0.1, 1.0):
        with pytest.raises(ValueError, match="node_sparsity"):
            prune_nodes(model, "grasp", kappa, data, samples=48)
    with pytest.raises(ValueError, match="temperature must be a positive number, got 0"):
        get_node_criterion("grasp", temperature=0)
    with pytest.raises(ValueError, match="not accepted by node criterion 'grasp'"):
        RunConfig(model="mlp5", dataset="mnist", criterion="grasp", sparsity=0.5, structured=True,
                  criterion_options={"regrow": True})
    with pytest.raises(ValueError, match="sparsity"):
        RunConfig(model="mlp5", dataset="mnist", criterion="grasp", sparsity=1.0, structured=True)


@pytest.mark.slow
def test_lenet5_run_reaches_the_node_sparsity_and_trains_the_shrunk_network(mnist_data_root, single_thread):
    from prunekit.experiments.run import run
    from prunekit.models import build_model

    config = tiny_config(model="lenet5", criterion="grasp", sparsity=0.5, structured=True, epochs=1, amp=False,
                         train_limit=1024)
    record = run(config, progress=False, data_root=mnist_data_root, keep_model=True)
    dense = build_model("lenet5", (1, 28, 28), 10)
    dense_nodes = sum(site.size for site in node_sites(dense).values())
    kept_nodes = sum(site.size for site in node_sites(record.model).values())
    [step] = record.prune_steps  # one shot
    assert step["node_sparsity"] == pytest.approx(round(0.5 * dense_nodes) / dense_nodes)
    # physically smaller, as SNAP-it's runs: the hidden layers lost the pruned nodes, the classes stay
    assert kept_nodes == dense_nodes - round(0.5 * dense_nodes)
    assert record.metrics["node_sparsity"] == pytest.approx(1 - kept_nodes / dense_nodes)
    assert record.metrics["parameters"] < sum(p.numel() for p in dense.parameters())
    assert [m for m in record.model.modules() if isinstance(m, nn.Linear)][-1].out_features == 10
    assert not any(name.endswith("node_gate") for name, _ in record.model.named_parameters())
