"""The structured methods as recipes (prunekit.experiments.methods) and their figures (prunekit.paper.plots.structured)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from prunekit.experiments.methods import (  # noqa: E402
    STRUCTURED_METHODS,
    structured_method_key,
    add_structured_columns,
    get_structured_method,
    structured_method_configs,
)
from prunekit.paper.plots.structured import (  # noqa: E402
    memory_accuracy_plot,
    structured_label,
    structured_order,
    structured_tradeoff_plot,
)
from prunekit.structured import get_node_criterion  # noqa: E402


def test_every_structured_method_prunes_when_its_node_criterion_does():
    for key, method in STRUCTURED_METHODS.items():
        timings = get_node_criterion(method.criterion).timings
        assert method.structured and method.prune_at in timings, key
        # a method keyed by its criterion prunes at the criterion's own time; another time gets its own key
        assert (key == method.criterion) == (method.prune_at == timings[0]), key
    assert structured_method_key("snap-it", "during") == "snap-it-during"
    assert structured_method_key("snap-it", "before") == "snap-it"
    assert {k for k, m in STRUCTURED_METHODS.items() if m.sweeps_lambda} == {"group-hs", "l0"}


def test_structured_recipes_sweep_node_sparsity_or_lambda_with_the_methods_budget():
    gate = structured_method_configs("gatedecorators", "cpu", model="mlp5", dataset="mnist", seeds=[0, 1],
                                     sparsities=[0.5, 0.9])
    assert [(c.sparsity, c.seed, c.epochs, c.prune_at, c.structured) for c in gate] == [
        (0.5, 0, 12, "after", True), (0.5, 1, 12, "after", True), (0.9, 0, 12, "after", True),
        (0.9, 1, 12, "after", True)]
    hs = structured_method_configs("group-hs", "cpu", model="mlp5", dataset="mnist", seeds=[0], lambdas=[0.1, 1.0])
    assert [(c.sparsity, dict(c.criterion_options), c.epochs) for c in hs] == [(0.0, {"lam": 0.1}, 6),
                                                                               (0.0, {"lam": 1.0}, 6)]
    with pytest.raises(ValueError, match="unknown structured method 'snip'"):
        get_structured_method("snip")


def test_structured_columns_name_the_method_by_criterion_and_the_level_by_sparsity_or_lambda():
    frame = pd.DataFrame([
        {"criterion": "snap-it", "sparsity": 0.9, "criterion_options": "{}"},
        {"criterion": "group-hs", "sparsity": 0.0, "criterion_options": '{"lam": 0.3}'},
        {"criterion": "none", "sparsity": 0.0, "criterion_options": "{}"},
    ])
    out = add_structured_columns(frame)
    assert list(out["method"]) == ["snap-it", "group-hs", "none"] and list(out["level"]) == [0.9, 0.3, 0.0]
    with pytest.raises(ValueError, match="lacks column"):
        add_structured_columns(frame.drop(columns="criterion_options"))


def test_labels_say_when_a_method_prunes_and_the_order_puts_after_training_first():
    assert structured_label("gatedecorators") == "GateDecorators (after)"
    assert structured_label("l0") == "L0 (during)" and structured_label("snap-it", timing=False) == "SNAP-it"
    assert structured_order(["snap-it", "l0", "efficientconvnets", "random"]) == [
        "efficientconvnets", "l0", "random", "snap-it"]


def _agg():
    rows = []
    for name, points in {"snap-it": [(0.5, 0.97), (0.9, 0.95)], "group-hs": [(0.1, 0.98), (0.4, 0.96)]}.items():
        for node, acc in points:
            rows.append({"criterion": name, "node_sparsity_mean": node, "node_sparsity_bound": 0.01,
                         "accuracy_mean": acc, "accuracy_bound": 0.002})
    return pd.DataFrame(rows)


def test_the_tradeoff_figure_draws_one_line_with_bounds_per_method():
    fig = structured_tradeoff_plot(_agg(), baseline=0.98, highlight=0.9)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(labels) == ["Group-HS (after)", "SNAP-it (before)", "dense (ours)"]
    with pytest.raises(ValueError, match="lacks column"):
        structured_tradeoff_plot(_agg().drop(columns="accuracy_mean"))


def test_the_memory_figure_plots_seed_means_and_a_trend_through_them():
    runs = pd.DataFrame([
        {"criterion": c, "level": lvl, "seed": s, "accuracy": a + 0.001 * s, "train_memory_bytes": m}
        for c, lvl, a, m in (("snap-it", 0.5, 0.97, 2**22), ("snap-it", 0.9, 0.95, 2**20), ("l0", 1.0, 0.9, 2**24),
                             ("none", 0.0, 0.98, 2**24))
        for s in (0, 1)])
    fig = memory_accuracy_plot(runs, dense_memory=2**24)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(labels) == ["L0 (during)", "SNAP-it (before)", "dense network", "trend (all points)"]
    assert ax.get_xscale() == "log"
    with pytest.raises(ValueError, match="at least one pruned run"):
        memory_accuracy_plot(runs[runs["criterion"] == "none"])


def test_the_cli_runs_a_structured_baseline_with_its_timing_budget_and_lambda():
    from prunekit.cli import _run_config, build_parser

    parse = build_parser().parse_args
    hs = _run_config(parse(["run", "--model", "mlp5", "--criterion", "group-hs", "--structured", "--option", "lam=0.1",
                            "--profile", "cpu"]))
    assert (hs.structured, hs.prune_at, hs.sparsity, hs.epochs, dict(hs.criterion_options)) == (
        True, "after", 0.0, 6, {"lam": 0.1})
    gate = _run_config(parse(["run", "--model", "mlp5", "--criterion", "gatedecorators", "--structured",
                              "--sparsity", "0.9", "--profile", "cpu"]))
    assert (gate.prune_at, gate.sparsity, gate.epochs) == ("after", 0.9, 12)
    with pytest.raises(ValueError, match="sparsity must be 0 for structured criterion 'l0'"):
        _run_config(parse(["run", "--model", "mlp5", "--criterion", "l0", "--structured", "--sparsity", "0.5"]))


def test_the_structured_grid_is_dense_before_training_criteria_and_baselines_with_their_own_seeds():
    from prunekit.experiments.methods import baseline_seed_list, structured_grid

    grid = structured_grid("cpu", model="lenet5", dataset="mnist", seeds=[0, 1, 2], criteria=["snap-it"],
                           sparsities=[0.5, 0.9], baselines=["efficientconvnets"], baseline_sparsities=[0.5],
                           lambdas={"l0": [2.0]}, baseline_seeds={"lenet5": 1})
    kinds = [(c.criterion, c.sparsity, c.seed) for c in grid]
    assert kinds[:3] == [("none", 0.0, 0), ("none", 0.0, 1), ("none", 0.0, 2)]
    assert kinds[3:9] == [("snap-it", k, s) for k in (0.5, 0.9) for s in (0, 1, 2)]
    assert kinds[9:] == [("efficientconvnets", 0.5, 0), ("l0", 0.0, 0)]  # one baseline seed for LeNet5
    assert all(c.structured for c in grid[3:]) and grid[10].epochs == 12
    assert baseline_seed_list([0, 1, 2], {"lenet5": 1}, "mlp5") == [0, 1, 2]  # a model not named runs all
    assert baseline_seed_list([0, 1, 2], 2, "mlp5") == [0, 1]
    with pytest.raises(ValueError, match="baseline_seeds must be"):
        baseline_seed_list([0, 1, 2], 0, "mlp5")
