"""Facts of the book's tables: per-layer means over seeds, best-HM points beside the paper's rows."""

from __future__ import annotations

import pandas as pd
import pytest

from prunekit.experiments.config import RunConfig

from prunekit.experiments.record import RunRecord
from prunekit.reference import paper_table
from prunekit.paper.tables import layer_frame, paper_comparison, sweep_table
from prunekit.experiments.stats import add_harmonic_mean, aggregate
from prunekit.experiments.store import records_frame


def _record(criterion: str, sparsity: float, seed: int, accuracy: float, layers: dict[str, float]) -> RunRecord:
    config = RunConfig(model="mlp5", dataset="mnist", criterion=criterion, sparsity=sparsity, seed=seed, epochs=1,
                       device="cpu")
    metrics = {"accuracy": accuracy, "weight_sparsity": sparsity, "node_sparsity": 0.0}
    return RunRecord(config, metrics, layers, [], [], {}, {})


@pytest.fixture
def records() -> list[RunRecord]:
    out = [_record("none", 0.0, s, 0.98 + 0.001 * s, {"a": 0.0, "b": 0.0}) for s in (0, 1)]
    for seed in (0, 1):
        out.append(_record("snip", 0.9, seed, 0.97, {"a": 0.95, "b": 0.5}))
        out.append(_record("snip", 0.99, seed, 0.60 + 0.1 * seed, {"a": 0.999, "b": 0.7}))
        out.append(_record("snip-it", 0.9, seed, 0.975, {"a": 0.9, "b": 0.8}))
        out.append(_record("snip-it", 0.99, seed, 0.95, {"a": 0.99, "b": 0.9}))
    return out


def test_layer_frame_keeps_remaining_fractions_in_layer_order(records):
    frame = layer_frame([r for r in records if r.config.criterion != "none"])
    row = frame[(frame.criterion == "snip") & (frame.sparsity == 0.99)]
    assert list(row.layer) == ["a", "b"] and list(row.position) == [0, 1]
    assert list(row.remaining) == pytest.approx([0.001, 0.3])
    assert set(row.n) == {2}


def test_sweep_table_shows_mean_and_bound_in_percent(records):
    runs = add_harmonic_mean(records_frame(records))
    agg = aggregate(runs[runs.criterion != "none"], by=["criterion", "sparsity"],
                    values=["accuracy", "weight_sparsity", "hm"])
    table = sweep_table(agg)
    assert list(table.method) == ["SNIP", "SNIP", "SNIP-it", "SNIP-it"]
    assert list(table["target κ"]) == ["90%", "99%", "90%", "99%"]
    # SNIP at 99 %: accuracies 0.60 and 0.70 → mean 65.00, bound 1.96·0.0707/√2 = 0.098 → 9.80 points
    assert table.loc[1, "accuracy (%)"] == "65.00 ± 9.80"


def test_paper_comparison_puts_best_hm_points_beside_the_papers_rows(records):
    runs = add_harmonic_mean(records_frame(records))
    table = paper_comparison(runs, paper_table(3), prune_at="before")
    ours = table[table.source == "ours"].set_index("method")
    # best HM: SNIP at 90 % (HM 93.3 beats 65 % @ 99 %), SNIP-it at 99 % (97.0)
    assert ours.loc["SNIP (before)", "sparsity (%)"] == "90.0"
    assert ours.loc["SNIP-it (before)", "sparsity (%)"] == "99.0"
    paper = table[table.source == "paper"].set_index("method")
    assert paper.loc["SNIP-it (before)", "accuracy (%)"] == "95 ± 0.2"
    assert paper.loc["Baseline (dense)", "accuracy (%)"] == "98"
    assert ours.loc["Baseline (dense)", "accuracy (%)"].startswith("98.0")


def test_accuracy_is_interpolated_at_the_papers_sparsity_and_flagged_outside_the_bounds():
    import pandas as pd

    from prunekit.experiments.methods import UNSTRUCTURED_METHODS
    from prunekit.paper.tables import accuracy_at, best_point_comparison

    curves = pd.DataFrame({"method": ["snip"] * 2, "level": [0.95, 0.98], "weight_sparsity_mean": [0.95, 0.98],
                           "accuracy_mean": [0.96, 0.93], "accuracy_bound": [0.002, 0.004]})
    acc, bound = accuracy_at(curves, 0.96)
    assert acc == pytest.approx(0.95) and bound == pytest.approx(0.002 + 0.002 / 3)
    assert accuracy_at(curves, 0.99) != accuracy_at(curves, 0.99)  # NaN outside the measured range
    best = curves.iloc[[0]].assign(hm_mean=0.955)
    paper = pd.DataFrame({"method": ["snip"], "prune_at": ["before"], "accuracy": [96.0], "bound": [0.3],
                          "sparsity": [96.0], "hm": [96.0]})
    row = best_point_comparison(best, paper, UNSTRUCTURED_METHODS, curves=curves).iloc[0]
    assert row["Δ accuracy (pp)"] == "-1.00" and row["outside bounds"]
    paper["accuracy"] = 95.2
    assert not best_point_comparison(best, paper, UNSTRUCTURED_METHODS, curves=curves).iloc[0]["outside bounds"]


def test_structured_best_picks_the_best_accuracy_node_sparsity_harmonic_mean():
    import pandas as pd

    from prunekit.paper.tables import structured_best, structured_table

    rows = []
    for level, acc, node in ((0.5, 0.98, 0.5), (0.9, 0.95, 0.9), (0.98, 0.60, 0.98)):
        for seed in (0, 1):
            rows.append({"criterion": "snap-it", "sparsity": level, "seed": seed, "accuracy": acc,
                         "weight_sparsity": node, "node_sparsity": node, "disk_reduction": 1 / (1 - node)})
    rows.append({"criterion": "none", "sparsity": 0.0, "seed": 0, "accuracy": 0.98, "weight_sparsity": 0.0,
                 "node_sparsity": 0.0, "disk_reduction": 1.0})
    best = structured_best(pd.DataFrame(rows), ["disk"])
    assert list(best["criterion"]) == ["snap-it"] and best["sparsity"].iloc[0] == 0.9
    assert best["disk_reduction_mean"].iloc[0] == pytest.approx(10.0)
    table = structured_table(best, ["disk"])
    assert table.iloc[0]["method"] == "SNAP-it" and table.iloc[0]["disk (×)"] == "10.0"


def test_ordering_holds_compares_seed_means_at_shared_levels_from_the_minimum():
    import pandas as pd

    from prunekit.paper.tables import ordering_holds

    runs = pd.DataFrame({"method": ["a", "a", "b", "b", "a", "b", "b"],
                         "level": [0.5, 0.5, 0.5, 0.5, 0.9, 0.9, 0.99],
                         "accuracy": [0.90, 0.96, 0.94, 0.94, 0.80, 0.85, 0.50]})
    assert ordering_holds(runs, "a", "b") == ([0.5, 0.9], False)  # 0.93 < 0.94 and 0.80 < 0.85
    assert ordering_holds(runs, "b", "a", minimum=0.6) == ([0.9], True)


def test_paper_points_name_rows_by_our_method_keys():
    from prunekit.experiments.methods import paper_points
    from prunekit.reference import paper_table

    points = paper_points(paper_table(3))
    assert "baseline" not in set(points["method"]) and "prune_at" not in points.columns
    assert {"snip-it", "snip-it-during", "imp-global", "hoyersquare"} <= set(points["method"])


def _structured_runs():
    """Store-like rows: dense runs at 6 epochs, SNAP-it at two node sparsities, L0 (12 epochs) at two λ."""
    import pandas as pd

    setup = dict(model="mlp5", dataset="mnist", batch_size=512, train_limit=None, test_limit=None, lr=2e-3,
                 weight_decay=5e-5, grad_clip=10.0, amp=True)
    rows = []
    for seed in (0, 1):
        base = dict(setup, seed=seed, criterion_options="{}")
        rows.append(dict(base, criterion="none", prune_at="none", sparsity=0.0, epochs=6, accuracy=0.98,
                         weight_sparsity=0.0, node_sparsity=0.0, inference_flops=100.0, training_flops=600.0,
                         train_memory_bytes=1000.0, key=f"d{seed}"))
        for level, acc in ((0.5, 0.97), (0.9, 0.95)):
            rows.append(dict(base, criterion="snap-it", prune_at="before", sparsity=level, epochs=6, accuracy=acc,
                             weight_sparsity=level, node_sparsity=level, inference_flops=100.0 * (1 - level),
                             training_flops=600.0 * (1 - level), train_memory_bytes=1000.0 * (1 - level),
                             key=f"s{seed}{level}"))
        for lam, node, acc in ((0.1, 0.2, 0.97), (1.0, 0.6, 0.9)):
            rows.append(dict(base, criterion="l0", prune_at="during", sparsity=0.0, epochs=12, accuracy=acc,
                             weight_sparsity=node, node_sparsity=node, inference_flops=100.0 * (1 - node),
                             training_flops=1200.0, train_memory_bytes=1000.0, key=f"l{seed}{lam}",
                             criterion_options=f'{{"lam": {lam}}}'))
    return pd.DataFrame(rows)


def test_structured_costs_compare_the_doubled_budget_with_the_standard_dense_run():
    from prunekit.paper.tables import structured_costs

    costs = structured_costs(_structured_runs(), ["training_flops", "train_memory"])
    l0 = costs[costs["criterion"] == "l0"]
    assert (l0["training_flops_reduction"] == 0.5).all()  # twice the dense run's epochs at dense cost
    assert (l0["train_memory_reduction"] == 1.0).all()  # L0 starts training the dense network
    snap = costs[(costs["criterion"] == "snap-it") & (costs["sparsity"] == 0.9)]
    assert snap["train_memory_reduction"].to_numpy() == pytest.approx([10.0, 10.0])
    with pytest.raises(ValueError, match="unknown structured cost"):
        structured_costs(_structured_runs(), ["ram"])


def test_structured_best_picks_a_lambda_for_the_regularised_methods_and_the_comparison_sets_the_paper_beside():
    from prunekit.experiments.methods import STRUCTURED_METHODS, add_structured_columns
    from prunekit.paper.tables import structured_best, structured_comparison, structured_costs

    runs = _structured_runs()
    costs = add_structured_columns(structured_costs(runs, ["inference_flops", "train_memory"]).merge(
        runs[["key", "criterion_options"]], on="key"))
    best = structured_best(costs, ["inference_flops", "train_memory"], level="level").set_index("criterion")
    assert best.loc["l0", "level"] == 1.0 and best.loc["snap-it", "level"] == 0.9  # HM of accuracy, node sparsity
    paper = paper_table(4)
    table = structured_comparison(best.reset_index(), {"paper T4: CIFAR10 VGG16": paper[paper["model"] == "vgg16"]},
                                  STRUCTURED_METHODS, ["inference_flops", "train_memory"], ours="ours",
                                  dense=runs.loc[runs["criterion"] == "none", "accuracy"])
    assert list(table["method"][:2]) == ["Baseline (dense)"] * 2
    l0 = table[table["method"] == "L0"]
    assert list(l0["source"]) == ["ours", "paper T4: CIFAR10 VGG16"] and list(l0["prunes"]) == ["during"] * 2
    assert list(l0["accuracy (%)"]) == ["90.0 ± 0.0", "57 ± 4.2"]
    snap = table[(table["method"] == "SNAP-it")].set_index("source")
    assert snap.loc["ours", "FLOPs inference (×)"] == "10.0" and snap.loc["ours", "RAM (×)"] == "10.0"
    assert snap.loc["paper T4: CIFAR10 VGG16", "RAM (×)"] == "2e+02"  # the paper's 156×


def test_structured_table_names_the_chosen_level_as_kappa_or_lambda_and_counts_seeds():
    from prunekit.experiments.methods import add_structured_columns
    from prunekit.paper.tables import structured_best, structured_costs, structured_table

    runs = _structured_runs()
    costs = add_structured_columns(structured_costs(runs, ["inference_flops"])
                                   .merge(runs[["key", "criterion_options"]], on="key"))
    best = structured_best(costs, ["inference_flops"], level="level")
    table = structured_table(best, ["inference_flops"], level="level").set_index("method")
    assert table.loc["L0", "level"] == "λ = 1" and table.loc["SNAP-it", "level"] == "κ = 90%"
    assert list(table.index) == ["L0", "SNAP-it"] and list(table["n"]) == [2, 2]
    assert list(table["prunes"]) == ["during", "before"]


def test_structured_time_table_puts_measured_times_beside_flops_and_the_papers_columns():
    from prunekit.experiments.methods import STRUCTURED_METHODS
    from prunekit.reference import paper_table
    from prunekit.paper.tables import structured_time_table

    timed = pd.DataFrame({"criterion": ["snap-it", "cnip-it", "efficientconvnets"], "level": [0.9, 0.9, 0.9],
                          "inference_flops_reduction_mean": [40.0, 30.0, 50.0],
                          "inference_time_reduction_mean": [10.0, float("nan"), 20.0],
                          "training_time_reduction_mean": [8.0, float("nan"), 1.1]})
    paper = paper_table(1)
    table = structured_time_table(timed, paper[paper["model"] == "vgg16"], STRUCTURED_METHODS).set_index("method")
    assert table.loc["SNAP-it", "time ÷ FLOPs"] == "0.25" and table.loc["EfficientConvNets", "time ÷ FLOPs"] == "0.40"
    assert table.loc["CNIP-it", "time inference (×)"] == table.loc["CNIP-it", "time train (×)"] == "—"
    assert (table.loc["SNAP-it", "paper: time inference (×)"], table.loc["SNAP-it", "paper: time train (×)"]) == (
        "5.0", "4.0")  # Table 1, VGG16 on Imagenette
    assert table.loc["CNIP-it", "paper: time inference (×)"] == ""  # not in the paper's tables
    assert list(table.index)[:1] == ["EfficientConvNets"]  # the paper's order: after-training methods first
