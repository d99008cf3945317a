"""Facts of the cost reductions: baseline / method per run, the baseline itself is 1×, half the cost is 2×."""

from __future__ import annotations

import pandas as pd
import pytest

from prunekit.paper.chapters.costs import COST_METRICS, cost_reductions
from prunekit.experiments.config import RunConfig
from prunekit.experiments.stats import aggregate
from prunekit.experiments.store import ResultStore
from tests.sweep_helpers import fake_record

BASE_COSTS = {"training_flops": 3000, "inference_flops": 100, "csr_bits": 64.0}
BASE_RESOURCES = {"total_seconds": 10.0, "train_seconds": 8.0, "peak_memory_bytes": 4096}


def _record(criterion: str = "none", sparsity: float = 0.0, seed: int = 0, scale: float = 1.0, **config):
    fields = dict(model="mlp5", dataset="mnist", criterion=criterion, sparsity=sparsity, seed=seed, epochs=1,
                  device="cpu")
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


# ------------------------------------------------------------------------------ chapter helpers

import dataclasses  # noqa: E402

import numpy as np  # noqa: E402

from prunekit.paper.chapters.costs import (  # noqa: E402
    add_family_columns,
    at_sparsity,
    cumulative_training_flops,
    epoch_training_flops,
    fill_missing_baseline,
    lacking,
    masked_inference_reference,
    metric_coverage,
    preferred_memory_metric,
    run_family,
    summarise_reductions,
    training_state_bytes,
)


def test_every_cost_of_the_unpruned_baseline_is_1x_and_a_run_with_half_of_each_is_2x(tmp_path):
    frame = _frame(tmp_path, [_record(), _record("snip-it", 0.98, scale=0.5)])
    frame["median_memory_bytes"] = frame["peak_memory_bytes"] / 2  # as a sampler would record it
    frame["inference_seconds"] = frame["total_seconds"] / 100
    out = cost_reductions(frame).set_index("criterion")
    names = [c for c in out.columns if c.endswith("_reduction")]
    assert set(names) == {f"{n}_reduction" for n in COST_METRICS}
    assert out.loc["none", names].tolist() == [1.0] * len(names)
    assert out.loc["snip-it", names].tolist() == [2.0] * len(names)


def test_families_tell_structured_random_from_unstructured_random_and_name_ablations(tmp_path):
    frame = _frame(tmp_path, [_record(), _record("random", 0.9), _record("random", 0.9, structured=True),
                              _record("snap-it", 0.9, structured=True), _record("snip-it", 0.9, ablation="shuffle"),
                              _record("snip-it", 0.9, prune_at="during", prune_interval=0.1)])
    labelled = add_family_columns(frame).set_index("key")
    pairs = sorted(zip(labelled["family"], labelled["method"]))
    assert pairs == [("ablation", "snip-it+shuffle"), ("dense", "none"), ("structured", "random"),
                     ("structured", "snap-it"), ("unstructured", "random"), ("unstructured", "snip-it-during")]
    assert run_family("none", True) == "dense" and run_family("snip", float("nan"), float("nan")) == "unstructured"


def test_coverage_counts_the_runs_that_record_each_cost_and_lacking_names_the_others(tmp_path):
    old = _record("snip", 0.9)
    new = _record("snap-it", 0.9, structured=True)
    new.resources["inference_seconds"] = 0.01
    frame = add_family_columns(_frame(tmp_path, [_record(), old, new]))
    coverage = metric_coverage(frame, ["inference_seconds", "total_seconds"])
    assert coverage.set_index("method")["inference_seconds"].to_dict() == {"none": 0, "snap-it": 1, "snip": 0}
    assert (coverage["total_seconds"] == coverage["runs"]).all()
    short = lacking(coverage, "inference_seconds")
    assert sorted(zip(short["method"], short["lacking"])) == [("none", 1), ("snip", 1)]
    with pytest.raises(ValueError, match="no column 'energy'"):
        lacking(coverage, "energy")


def test_a_missing_baseline_value_is_filled_per_model_and_recorded_values_are_kept(tmp_path):
    run = _record("snap-it", 0.9, structured=True)
    run.resources["inference_seconds"] = 0.5
    frame = _frame(tmp_path, [_record(seed=0), _record(seed=1), run])
    frame.loc[frame["seed"] == 1, "inference_seconds"] = 3.0  # one dense seed recorded it
    filled = fill_missing_baseline(frame, "inference_seconds", {"mlp5": 1.0})
    dense = filled[filled["criterion"] == "none"].set_index("seed")["inference_seconds"]
    assert dense.to_dict() == {0: 1.0, 1: 3.0}
    assert filled.loc[filled["criterion"] == "snap-it", "inference_seconds"].tolist() == [0.5]
    out = cost_reductions(filled, metrics=["inference_time"]).set_index("criterion")
    assert out.loc["snap-it", "inference_time_reduction"] == 4.0  # mean baseline (1 + 3) / 2 over 0.5
    with pytest.raises(ValueError, match=r"baseline model\(s\) \['mlp5'\]"):
        fill_missing_baseline(frame, "inference_seconds", {"lenet5": 1.0})


def test_the_memory_figure_prefers_the_median_only_where_every_run_records_it(tmp_path):
    frame = _frame(tmp_path, [_record(), _record("snip", 0.9)])
    assert preferred_memory_metric(frame) == "memory"
    frame["median_memory_bytes"] = [1.0, np.nan]
    assert preferred_memory_metric(frame) == "memory"
    frame["median_memory_bytes"] = [1.0, 2.0]
    assert preferred_memory_metric(frame) == "median_memory"


def test_summaries_take_the_median_over_seeds_and_kappa_is_the_reached_sparsity_where_lambda_is_swept(tmp_path):
    records = [_record(), *[_record("snip-it", 0.9, seed=s, scale=1 / f) for s, f in enumerate((1.0, 2.0, 10.0))],
               _record("hoyersquare", 0.0, prune_at="after", criterion_options={"lam": 1e-4})]
    records[-1].metrics["weight_sparsity"] = 0.97
    reductions = cost_reductions(add_family_columns(_frame(tmp_path, records)), metrics=["run_time"],
                                 keep=["family", "method", "level"])
    summary = summarise_reductions(reductions).set_index("method")
    snip_it = summary.loc["snip-it"]
    assert (snip_it["run_time_reduction_median"], snip_it["run_time_reduction_min"],
            snip_it["run_time_reduction_max"], snip_it["n"]) == (2.0, 1.0, 10.0, 3)
    assert snip_it["kappa"] == 0.9
    assert summary.loc["hoyersquare", "kappa"] == 0.97 and summary.loc["none", "kappa"] == 0.0


def test_at_sparsity_picks_each_methods_nearest_level_in_decades_and_drops_far_ones():
    summary = pd.DataFrame({"family": "unstructured", "method": ["a", "a", "b", "c"],
                            "kappa": [0.95, 0.98, 0.99, 0.5]})
    nearest = at_sparsity(summary, 0.98).set_index("method")
    assert nearest["kappa"].to_dict() == {"a": 0.98, "b": 0.99, "c": 0.5}
    assert nearest.loc["b", "decades_off"] == pytest.approx(np.log10(2))  # 2 % kept vs 1 %
    close = at_sparsity(summary, 0.98, tolerance=0.35)
    assert sorted(close["method"]) == ["a", "b"]
    with pytest.raises(ValueError, match="kappa must be a sparsity"):
        at_sparsity(summary, 1.0)


def _linear_record(prune_at: str, steps: list[tuple[float, int]], epochs: int = 3, total: int = 100):
    """A record of a network whose FLOPs are proportional to its kept weights (1 FLOP per weight and sample)."""
    kinds = {"before": dict(criterion="snip-it", sparsity=0.75),
             "during": dict(criterion="snip-it", sparsity=0.75, prune_interval=0.1),
             "after": dict(criterion="hoyersquare", sparsity=0.0)}
    config = RunConfig(model="mlp5", dataset="mnist", prune_at=prune_at, epochs=epochs, device="cpu", **kinds[prune_at])
    record = fake_record(config)
    final = steps[-1][1] if steps else total
    record.metrics.update({"train_samples": 1, "inference_flops": final, "dense_training_flops": 3 * total * epochs})
    prune_steps = [{"round": i, "epoch": e, "kept": k, "total": total} for i, (e, k) in enumerate(steps)]
    # what the run's meter books: 3 passes over the weights each epoch starts with (an event at epoch e counts
    # from the first epoch starting at or after e)
    starts = [min([k for e, k in steps if e <= start], default=total) if prune_at != "before" else final
              for start in range(epochs)]
    record.metrics["training_flops"] = 3 * sum(starts)
    if prune_at == "before":
        prune_steps = [{k: v for k, v in s.items() if k != "epoch"} for s in prune_steps]
    return dataclasses.replace(record, prune_steps=prune_steps)


def test_a_run_pruned_before_training_costs_its_final_network_from_the_first_epoch():
    record = _linear_record("before", [(0.0, 50), (0.0, 25)])
    assert epoch_training_flops(record) == [75.0, 75.0, 75.0]  # 3 passes x 25 kept weights
    cumulative = cumulative_training_flops([record])
    assert cumulative["reduction"].tolist()[1:] == [4.0, 4.0, 4.0]
    assert np.isnan(cumulative["reduction"].iloc[0])


def test_a_run_pruned_during_training_starts_dense_and_steps_down_at_each_event():
    # half the weights at epoch 0.5 (inside the first epoch), a quarter at exactly epoch 2.0
    record = _linear_record("during", [(0.5, 50), (2.0, 25)])
    assert epoch_training_flops(record) == [300.0, 150.0, 75.0]  # epoch starts see 100, 50 and 25 weights
    cumulative = cumulative_training_flops([record]).set_index("epoch")
    assert cumulative.loc[1, "reduction"] == 1.0  # the first epoch ran dense
    assert cumulative.loc[3, "cumulative_flops"] == 525.0 and cumulative.loc[3, "dense_cumulative_flops"] == 900.0


def test_a_run_pruned_after_its_last_epoch_started_spent_the_dense_budget():
    record = _linear_record("after", [(2.6, 5)])
    assert epoch_training_flops(record) == [300.0, 300.0, 300.0]


def test_a_during_record_without_event_positions_is_refused():
    record = _linear_record("during", [(0.5, 50)])
    record = dataclasses.replace(record, prune_steps=[{"round": 0, "kept": 50, "total": 100}])
    with pytest.raises(ValueError, match="carry no 'epoch' position"):
        epoch_training_flops(record)


def test_training_state_is_weights_gradients_and_optimizer_slots_in_float32():
    assert training_state_bytes(1000) == 16_000  # Adam: weight, gradient, two moments
    assert training_state_bytes(1000, optimizer_slots=0) == 8_000
    with pytest.raises(ValueError, match="weights must be a non-negative integer"):
        training_state_bytes(-1)


def test_the_masked_inference_reference_is_the_median_of_unstructured_runs_per_model(tmp_path):
    records = []
    for seed, seconds in enumerate((0.2, 0.3, 0.9)):
        records.append(_record("snip", 0.9, seed=seed))
        records[-1].resources["inference_seconds"] = seconds
    shrunk = _record("snap-it", 0.9, structured=True)
    shrunk.resources["inference_seconds"] = 0.01  # a smaller network: no stand-in for the dense one
    frame = add_family_columns(_frame(tmp_path, [_record(), *records, shrunk, _record("random", 0.9, seed=5)]))
    assert masked_inference_reference(frame) == {"mlp5": 0.3}
    with pytest.raises(ValueError, match="no unstructured run records"):
        masked_inference_reference(frame[frame["family"] != "unstructured"])


def test_the_papers_cost_ranges_span_its_setups_per_method():
    from prunekit.paper.chapters.costs import paper_cost_ranges
    from prunekit.reference import paper_table

    paper = pd.concat([paper_table(1), paper_table(4)])
    ranges = paper_cost_ranges(paper, ["snap-it", "random"]).set_index(["method", "cost"])
    assert ranges.loc[("snap-it", "training_flops"), ["low", "high", "setups"]].tolist() == [9.0, 16.0, 4]
    assert ranges.loc[("random", "memory"), ["low", "high"]].tolist() == [4.0, 109.0]  # Table 1 (7×, 4×), Table 4
    with pytest.raises(ValueError, match="no method"):
        paper_cost_ranges(paper, ["snip-it"])


def test_reduction_at_reads_one_methods_median_at_a_level_and_is_nan_where_the_store_lacks_it():
    from prunekit.paper.chapters.costs import reduction_at

    summary = pd.DataFrame({"family": ["structured", "unstructured", "unstructured"],
                            "method": ["random", "random", "random"], "kappa": [0.9, 0.9, 0.98],
                            "disk_reduction_median": [25.0, 10.0, 50.0]})
    assert reduction_at(summary, "disk", 0.9, family="structured", method="random") == 25.0
    assert reduction_at(summary, "disk_reduction", 0.98, family="unstructured", method="random") == 50.0
    assert np.isnan(reduction_at(summary, "disk", 0.95, family="unstructured", method="random"))
    with pytest.raises(ValueError, match="2 summary rows match"):
        reduction_at(summary, "disk", 0.9, method="random")


def test_a_regularised_method_is_swept_over_lambda_and_placed_at_the_sparsity_it_reached(tmp_path):
    from prunekit.paper.chapters.costs import swept_level

    l0 = _record("l0", 0.0, prune_at="during", structured=True, criterion_options={"lam": 0.5}, epochs=2)
    l0.metrics["node_sparsity"] = 0.4
    frame = add_family_columns(_frame(tmp_path, [_record(), l0]))
    assert frame.set_index("method").loc["l0", ["family", "level"]].tolist() == ["structured", 0.5]
    summary = summarise_reductions(cost_reductions(frame, metrics=["disk"], setup=("model", "dataset"),
                                                   keep=["family", "method", "level"]))
    assert summary.set_index("method").loc["l0", "kappa"] == 0.4  # nodes, for a structured method
    assert swept_level("snip", 0.9, {"lam": 1.0}) == 0.9 and swept_level("none", 0.0, {}) == 0.0


def test_stretches_between_dense_and_final_are_scaled_to_the_recorded_total_where_flops_are_not_linear():
    record = _linear_record("during", [(0.5, 50), (1.5, 25)])
    assert epoch_training_flops(record) == [300.0, 150.0, 75.0]  # linear: the recorded total (525) already fits
    record.metrics["training_flops"] = 575  # e.g. a conv network: the half-pruned epoch cost 200, not 150
    assert epoch_training_flops(record) == pytest.approx([300.0, 200.0, 75.0])  # dense and final stay exact


def _structured_steps(record):
    steps = [{"round": s["round"], "epoch": s["epoch"], "nodes_alive": s["kept"], "nodes_total": s["total"]}
             for s in record.prune_steps]
    config = RunConfig(model="mlp5", dataset="mnist", criterion="l0", sparsity=0.0, prune_at="during", structured=True,
                       epochs=record.config.epochs, criterion_options={"lam": 0.1}, device="cpu")
    return dataclasses.replace(record, prune_steps=steps, config=config)


def test_structured_runs_book_every_step_so_a_cut_inside_an_epoch_saves_from_there():
    record = _structured_steps(_linear_record("during", [(0.5, 50), (2.5, 25)]))
    record.metrics["training_flops"] = 487.5  # what a per-step meter books: 225 + 150 + 112.5
    # each optimiser step is booked with the network it trained: the cut at 0.5 halves the second half of epoch 1
    assert epoch_training_flops(record) == pytest.approx([225.0, 150.0, 112.5])


def test_kept_columns_ride_along_and_unknown_ones_are_refused(tmp_path):
    frame = add_family_columns(_frame(tmp_path, [_record(), _record("snip", 0.9, scale=0.5)]))
    out = cost_reductions(frame, metrics=["disk"], keep=["family", "method"])
    assert sorted(out[["family", "method", "disk_reduction"]].values.tolist()) == [["dense", "none", 1.0],
                                                                                   ["unstructured", "snip", 2.0]]
    assert "family" not in cost_reductions(frame, metrics=["disk"]).columns  # the default output is unchanged
    with pytest.raises(ValueError, match=r"keep names column\(s\) \['colour'\]"):
        cost_reductions(frame, metrics=["disk"], keep=["colour"])
