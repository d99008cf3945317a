"""Appendix-H measurements of shrunk networks and the shrink speed-up benchmark (issue #5).

FLOP convention: ``torch.utils.flop_counter.FlopCounterMode`` counts 2 FLOPs per multiply-accumulate
of a matmul or convolution and nothing for bias, BatchNorm, activations or pooling.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from prunekit.measure import metrics
from prunekit.structured import node_masks, prune_nodes, shrink
from prunekit.measure.network import (
    activation_count,
    counted_flops,
    flops_per_sample,
    network_cost,
    parameter_count,
    saved_activation_bytes,
    structured_report,
    training_memory_bytes,
)
from prunekit.core.node_masks import round_kept_channels
from prunekit.measure.shrink_speed import (
    format_speedup,
    main,
    shrink_speedup,
)
from tests.helpers import tiny_mlp

IN, HIDDEN, OUT = 20, 16, 4
IMAGE = (3, 8, 8)


def one_hidden_mlp(seed: int = 0) -> nn.Module:
    """A Linear-only MLP with one hidden layer: its FLOPs are linear in the hidden width."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(IN, HIDDEN), nn.LeakyReLU(0.05), nn.Linear(HIDDEN, OUT))


def tiny_convnet(seed: int = 0) -> nn.Module:
    """Conv-BN-LeakyReLU twice, pooled, and a Linear head: a few channels, fast everywhere."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 12, 3, padding=1), nn.BatchNorm2d(12), nn.LeakyReLU(0.05),
        nn.Conv2d(12, 12, 3, padding=1), nn.BatchNorm2d(12), nn.LeakyReLU(0.05),
        nn.AdaptiveAvgPool2d((2, 2)), nn.Flatten(), nn.Linear(48, 10),
    )


def half_pruned(model: nn.Module, shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """The model with half of its hidden nodes masked (structured Random) and its shrunk copy."""
    prune_nodes(model, "random", 0.5, steps=0)
    return model, shrink(model, torch.randn(2, *shape))


def test_flop_counter_counts_two_flops_per_multiply_accumulate_of_an_mlp() -> None:
    batch = 5
    assert counted_flops(one_hidden_mlp(), torch.randn(batch, IN)) == 2 * (IN * HIDDEN + HIDDEN * OUT) * batch


def test_removing_half_the_hidden_nodes_halves_the_counted_flops() -> None:
    masked, small = half_pruned(one_hidden_mlp(), (IN,))
    assert small[0].out_features == HIDDEN // 2
    inputs = torch.randn(3, IN)
    assert counted_flops(small, inputs) * 2 == counted_flops(one_hidden_mlp(), inputs)


def test_a_masked_network_counts_dense_flops_and_the_mask_estimate_lies_between() -> None:
    dense = tiny_convnet()
    masked, small = half_pruned(tiny_convnet(), IMAGE)
    shrunk_flops, dense_flops = flops_per_sample(small, IMAGE), flops_per_sample(dense, IMAGE)
    assert flops_per_sample(masked, IMAGE) == dense_flops
    # The mask estimate drops pruned rows but still counts the next layer's weights reading zeros.
    assert shrunk_flops < metrics.inference_flops(masked, IMAGE) < dense_flops


def test_counted_flops_of_a_shrunk_network_equal_the_dense_mac_estimate() -> None:
    _, small = half_pruned(tiny_convnet(), IMAGE)
    assert flops_per_sample(small, IMAGE) == metrics.inference_flops(small, IMAGE, sparse=False)


def test_a_shrunk_network_counts_exactly_the_parameters_of_its_alive_nodes() -> None:
    masked, small = half_pruned(tiny_convnet(), IMAGE)
    a, b = (int(alive.sum()) for alive in node_masks(masked).values())
    # conv 3→a (3×3, bias), BN a, conv a→b (3×3, bias), BN b, Linear 4b→10 after the 2×2 pooling
    assert parameter_count(small) == (27 * a + a) + 2 * a + (9 * a * b + b) + 2 * b + (4 * b * 10 + 10)
    assert parameter_count(masked) == parameter_count(tiny_convnet()) == 27 * 12 + 12 + 24 + 9 * 144 + 12 + 24 + 490


def test_the_network_cost_uses_the_one_csr_rule_on_masked_and_shrunk_networks() -> None:
    masked, small = half_pruned(tiny_convnet(), IMAGE)
    assert network_cost(small, IMAGE, repeats=1, warmup=0).csr_bits == metrics.csr_size_bits(small)
    assert metrics.csr_size_bits(small) < metrics.csr_size_bits(tiny_convnet())


def test_activation_count_sums_every_leaf_output() -> None:
    assert activation_count(one_hidden_mlp(), (IN,)) == HIDDEN + HIDDEN + OUT


def test_an_unpruned_network_against_itself_has_unit_reductions() -> None:
    model = tiny_convnet()
    report = structured_report(model, model, IMAGE, batch_size=4, repeats=1, warmup=0)
    for name in ("parameter", "flop", "mask_flop", "activation", "disk"):
        assert getattr(report, f"{name}_reduction") == 1.0
    assert report.time_reduction > 0
    assert report.as_dict()["dense_flops"] == report.as_dict()["pruned_flops"]


def test_structured_report_of_a_shrunk_network_matches_its_parts() -> None:
    dense = tiny_convnet()
    _, small = half_pruned(tiny_convnet(), IMAGE)
    report = structured_report(dense, small, IMAGE, batch_size=4, repeats=1, warmup=0).as_dict()
    assert report["flop_reduction"] == flops_per_sample(dense, IMAGE) / flops_per_sample(small, IMAGE) > 1
    assert report["parameter_reduction"] == parameter_count(dense) / parameter_count(small)
    assert report["batch_size"] == 4 and report["pruned_seconds"] > 0


def test_measuring_keeps_each_modules_training_flag() -> None:
    model = tiny_convnet().train()
    structured_report(model, model, IMAGE, batch_size=2, repeats=1, warmup=0)
    assert all(m.training for m in model.modules())


def test_rounding_revives_nodes_up_to_a_multiple_and_shrink_keeps_them() -> None:
    model = tiny_convnet()
    prune_nodes(model, "random", 0.75, steps=0)
    before = {name: int(alive.sum()) for name, alive in node_masks(model).items()}
    revived = round_kept_channels(model, 8)
    after = {name: int(alive.sum()) for name, alive in node_masks(model).items()}
    for name in before:
        assert after[name] == min(12, math.ceil(before[name] / 8) * 8) == before[name] + revived[name]
    small = shrink(model, torch.randn(2, *IMAGE))
    assert [m.out_channels for m in small if isinstance(m, nn.Conv2d)] == list(after.values())


def test_shrink_speedup_fields_are_consistent() -> None:
    result = shrink_speedup(tiny_convnet(), 0.5, IMAGE, batch_size=8, repeats=1)
    assert result.flop_reduction == result.dense_flops / result.shrunk_flops > 1
    assert result.dense_flops == flops_per_sample(tiny_convnet(), IMAGE)
    assert result.shrunk_parameters < result.dense_parameters == parameter_count(tiny_convnet())
    assert result.shrunk_activations < result.dense_activations
    assert result.dense_seconds > 0 and result.shrunk_seconds > 0
    assert result.node_sparsity == 0.5 and result.threads == torch.get_num_threads()
    assert "efficiency" in format_speedup(result)


def test_shrink_speedup_with_rounding_and_folding_reports_its_setup() -> None:
    result = shrink_speedup(tiny_convnet(), 0.75, IMAGE, batch_size=4, repeats=1, channel_multiple=8,
                            fold_batchnorm=True, channels_last=True)
    assert result.node_sparsity < 0.75 and result.flop_reduction > 1
    assert "rounded up to x8" in format_speedup(result) and "BatchNorm folded" in format_speedup(result)


@pytest.mark.parametrize("kwargs, message", [
    ({"model_name": "vgg17"}, "unknown model 'vgg17'"),
    ({"model_name": "lenet5", "node_sparsity": 1.0}, "node_sparsity must lie in"),
    ({"model_name": "lenet5", "node_sparsity": -0.1}, "node_sparsity must lie in"),
    ({"model_name": "lenet5", "channel_multiple": 0}, "channel_multiple must be a positive int"),
    ({"model_name": "lenet5", "repeats": 0}, "repeats must be a positive int"),
    ({"model_name": "lenet5", "batch_size": 0}, "batch_size must be a positive int"),
])
def test_shrink_speedup_rejects_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        shrink_speedup(**kwargs)


def test_main_prints_one_block_per_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--model", "lenet5", "--batch-size", "2", "--repeats", "1", "--node-sparsity", "0.5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("lenet5: random node pruning") and out.count("efficiency") == 1


# ------------------------------------------------------------------------------ memory at the start of training


def test_training_memory_of_a_tiny_mlp_matches_a_hand_count() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.LeakyReLU(0.05), nn.Linear(3, 2))
    # 23 parameters (4·3 + 3 + 3·2 + 2), each with a gradient and Adam's two moments: 4 copies of 4 bytes
    state = 23 * 4 * 4
    # saved for backward, batch 5: the first Linear's input (5·4 floats), LeakyReLU's input (5·3) and the second
    # Linear's input (5·3); weights are parameters and are not counted again
    activations = (5 * 4 + 5 * 3 + 5 * 3) * 4
    assert training_memory_bytes(model, (1, 2, 2), batch_size=5) == state + activations == 568


def test_training_memory_counts_a_tensor_two_operations_save_once() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    # ReLU saves its output and the next Linear saves the same tensor as its input: counted once
    assert saved_activation_bytes(model, torch.randn(5, 4)) == (5 * 4 + 5 * 3) * 4


def test_training_memory_leaves_the_model_its_statistics_and_the_rng_untouched() -> None:
    model = tiny_mlp().eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(5)
    expected_draw = torch.rand(3)
    torch.manual_seed(5)
    training_memory_bytes(model, (1, 8, 8), batch_size=16)
    assert torch.equal(torch.rand(3), expected_draw)
    assert not model.training
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_a_shrunk_network_needs_less_training_memory_than_the_dense_one() -> None:
    dense = tiny_mlp()
    pruned = tiny_mlp()
    prune_nodes(pruned, "random", 0.5)
    small = shrink(pruned, torch.randn(2, 1, 8, 8))
    assert training_memory_bytes(small, (1, 8, 8), 64) < training_memory_bytes(dense, (1, 8, 8), 64)


def test_interleaved_medians_runs_every_task_in_turn_after_the_warm_up_and_returns_each_median() -> None:
    from prunekit.measure.network import interleaved_medians

    calls: list[str] = []
    values = {"a": iter([9.0, 9.0, 3.0, 1.0, 2.0]), "b": iter([9.0, 9.0, 5.0, 7.0, 6.0])}

    def task(name: str):
        return lambda: (calls.append(name), next(values[name]))[1]

    assert interleaved_medians([task("a"), task("b")], repeats=3) == [2.0, 6.0]  # the warm-up values don't count
    assert calls == ["a", "b"] * 5
    with pytest.raises(ValueError, match="repeats"):
        interleaved_medians([task("a")], repeats=0)
