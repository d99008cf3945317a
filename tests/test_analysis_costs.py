"""Facts of the cost reductions: baseline / method per run, the baseline itself is 1×, half the cost is 2×."""

from __future__ import annotations

import pytest

from prunekit.analysis.costs import COST_METRICS, cost_reductions
from prunekit.experiments import RunConfig
from prunekit.store import ResultStore, aggregate
from tests.sweep_helpers import fake_record

BASE_COSTS = {"training_flops": 3000, "inference_flops": 100, "csr_bits": 64.0}
BASE_RESOURCES = {"total_seconds": 10.0, "train_seconds": 8.0, "peak_memory_bytes": 4096}


def _record(criterion: str = "none", sparsity: float = 0.0, seed: int = 0, scale: float = 1.0, **config):
    fields = dict(model="mlp5", dataset="mnist", criterion=criterion, sparsity=sparsity, seed=seed, epochs=1)
    cfg = RunConfig(**{**fields, **config})
    record = fake_record(cfg)
    record.metrics.update({k: v * scale for k, v in BASE_COSTS.items()})
    record.resources.update({k: v * scale for k, v in BASE_RESOURCES.items()})
    return record


def _frame(tmp_path, records):
    store = ResultStore(tmp_path / "results")
    for record in records:
        store.put(record)
    return store.to_frame()


REDUCTIONS = [f"{name}_reduction" for name in ("training_flops", "inference_flops", "disk", "run_time",
                                                "train_time", "memory")]


def test_the_baseline_is_1x_and_half_the_cost_is_2x(tmp_path):
    frame = _frame(tmp_path, [_record(), _record("snip-it", 0.9, scale=0.5), _record("snip", 0.9, scale=4.0)])
    out = cost_reductions(frame).set_index("criterion")
    assert list(out.columns[-len(REDUCTIONS):]) == REDUCTIONS  # inference_seconds is not recorded: left out
    assert out.loc["none", REDUCTIONS].tolist() == [1.0] * len(REDUCTIONS)
    assert out.loc["snip-it", REDUCTIONS].tolist() == [2.0] * len(REDUCTIONS)
    assert out.loc["snip", REDUCTIONS].tolist() == [0.25] * len(REDUCTIONS)


def test_the_baseline_is_the_mean_over_its_seeds_and_runs_keep_their_seed(tmp_path):
    frame = _frame(tmp_path, [_record(seed=0, scale=1.0), _record(seed=1, scale=3.0),
                              _record("random", 0.9, seed=0, scale=1.0), _record("random", 0.9, seed=1, scale=0.5)])
    out = cost_reductions(frame, metrics=["inference_flops"])
    pruned = out[out.criterion == "random"].set_index("seed")
    assert pruned["inference_flops_reduction"].to_dict() == {0: 2.0, 1: 4.0}  # baseline mean: 2 × 100 FLOPs
    agg = aggregate(pruned.reset_index(), by=["criterion"], values=["inference_flops_reduction"])
    assert agg["inference_flops_reduction_mean"].iloc[0] == 3.0


def test_runs_pair_only_with_the_baseline_of_their_setup(tmp_path):
    records = [_record(), _record("snip", 0.9, scale=0.5, batch_size=64), _record(batch_size=64, scale=2.0)]
    out = cost_reductions(_frame(tmp_path, records), metrics=["disk"])
    assert out.set_index(["criterion", "key"]).loc["snip", "disk_reduction"].tolist() == [4.0]


def test_a_run_without_a_baseline_of_its_setup_is_refused_unless_setup_is_narrowed(tmp_path):
    frame = _frame(tmp_path, [_record(), _record("snip", 0.9, scale=0.5, epochs=2)])
    with pytest.raises(ValueError, match="no baseline run .* epochs=2"):
        cost_reductions(frame)
    out = cost_reductions(frame, setup=("model", "dataset"))
    assert out.set_index("criterion").loc["snip", "training_flops_reduction"] == 2.0


def test_unknown_metrics_and_frames_without_a_baseline_are_refused(tmp_path):
    frame = _frame(tmp_path, [_record("snip", 0.9)])
    with pytest.raises(ValueError, match="no baseline run"):
        cost_reductions(frame)
    with pytest.raises(ValueError, match="unknown cost metric"):
        cost_reductions(frame, metrics=["energy"])
    with pytest.raises(ValueError, match="inference_seconds"):
        cost_reductions(frame, metrics=["inference_time"])
    assert set(COST_METRICS) >= {"training_flops", "inference_flops", "disk", "run_time", "inference_time", "memory"}
