"""Facts of the metrics chapter's by-hand recomputations (Appendix H), on tiny hand-built networks and masks."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from prunekit.paper.chapters import metrics as chapter


def _masked_chain():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    first = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0], [1, 0, 0, 1]], dtype=torch.float32)  # node 1 has no input
    second = torch.tensor([[1, 0, 1], [1, 0, 0]], dtype=torch.float32)  # node 1 has no output either
    prune.custom_from_mask(net[0], "weight", first)
    prune.custom_from_mask(net[2], "weight", second)
    return net


def _record(**metrics):
    return SimpleNamespace(metrics=metrics, layer_sparsity={"0": 1 - 4 / 12, "2": 1 - 3 / 6})


def test_a_hidden_node_is_dead_without_a_kept_incoming_or_outgoing_weight():
    first = torch.tensor([[1, 0], [0, 0], [1, 1]])  # node 1: no incoming weight
    second = torch.tensor([[1, 1, 0], [0, 1, 0]])  # node 2: no outgoing weight
    assert chapter.dead_nodes([first, second]) == (2, 3)


def test_csr_at_16_to_1_is_32_bits_per_nonzero_plus_2_per_index_and_row_pointer():
    w = torch.tensor([[0.0, 1.5, 0.0], [0.0, 0.0, -2.0]])
    assert chapter.csr_by_hand([w]) == 2 * 32 + (2 + 2 + 1) * 2


def test_a_disagreement_stops_the_page_naming_both_values():
    checks = chapter.MetricChecks()
    checks.add("same", 1, 1, True)
    with pytest.raises(chapter.MetricMismatch, match="package 2, by hand 3"):
        checks.add("different", 2, 3, False)
    assert list(checks.table()["agree"]) == [True, False]


def test_only_mlp5_has_by_hand_formulas():
    chapter.require_hand_model("mlp5")
    with pytest.raises(ValueError, match="lenet5"):
        chapter.require_hand_model("lenet5")


def test_weight_sparsity_by_hand_is_one_minus_kept_over_all_mask_entries():
    net, checks = _masked_chain(), chapter.MetricChecks()
    table = chapter.check_weight_sparsity(checks, _record(weight_sparsity=1 - 7 / 18), net)
    assert list(table["kept"]) == [4, 3] and list(table["weights"]) == [12, 6]
    assert checks.table()["agree"].all() and len(checks.rows) == 3
    with pytest.raises(chapter.MetricMismatch):
        chapter.check_weight_sparsity(chapter.MetricChecks(), _record(weight_sparsity=0.5), net)


def test_node_sparsity_counts_the_dead_hidden_node():
    net, checks = _masked_chain(), chapter.MetricChecks()
    assert chapter.check_node_sparsity(checks, _record(node_sparsity=1 / 3), net) == (1, 3)


def test_sparse_inference_flops_are_twice_the_kept_weights_dense_twice_all():
    net, checks = _masked_chain(), chapter.MetricChecks()
    table = chapter.check_inference_flops(checks, _record(inference_flops=14, dense_inference_flops=36), net, (4,))
    assert table["per sample"].tolist() == [14, 36, 36]


def test_the_by_hand_evaluation_counts_correct_argmax_and_sums_the_loss():
    net = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        net.weight.copy_(torch.eye(2))
    x, y = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0]]), torch.tensor([0, 0, 1])
    correct, seen, loss = chapter.test_metrics_by_hand(net, [(x, y)])
    assert (correct, seen) == (1, 3)
    assert loss == pytest.approx(float(nn.functional.cross_entropy(x, y, reduction="sum")))


def test_vmhwm_is_read_in_kibibytes_and_absent_without_proc(tmp_path):
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmHWM:\t  1234 kB\nVmRSS:\t 1000 kB\n")
    assert chapter.vmhwm_bytes(status) == 1234 * 1024
    assert chapter.vmhwm_bytes(tmp_path / "absent") is None
