"""Facts of the memory chapter (Appendix C, Figure 8), on small hand-built runs and points."""

from __future__ import annotations

import pandas as pd
import pytest

from prunekit.paper.chapters import memory as chapter

MIB = 2**20
DENSE = 10 * MIB


def _points(snap=(2.0, 4.0), cnip=(0.9, 3.0), late=1.0):
    rows = []
    for criterion, reductions in (("snap-it", snap), ("random", (2.0, 4.0)), ("cnip-it", cnip)):
        for level, r in zip((0.5, 0.9), reductions):
            rows.append({"criterion": criterion, "level": level, "train_memory_reduction_mean": r,
                         "train_memory_bytes_mean": DENSE / r, "node_sparsity_mean": level, "accuracy_mean": 0.9,
                         "accuracy_bound": 0.01, "accuracy_n": 3})
    rows.append({"criterion": "gatedecorators", "level": 0.5, "train_memory_reduction_mean": late,
                 "train_memory_bytes_mean": DENSE / late, "node_sparsity_mean": 0.6, "accuracy_mean": 0.8,
                 "accuracy_bound": 0.02, "accuracy_n": 3})
    return pd.DataFrame(rows)


def _costs(points):
    return pd.DataFrame({"model": "mlp5", "criterion": points["criterion"],
                         "train_memory_bytes": points["train_memory_bytes_mean"],
                         "train_memory_reduction": points["train_memory_reduction_mean"]})


def test_the_statements_hold_when_before_training_methods_start_smaller_and_late_ones_dense():
    points = _points()
    checks, claims = chapter.memory_checks(_costs(points), points, "mlp5", "mnist")
    assert all(checks.values()) and len(checks) == 5
    # the first half of Appendix C's sentence is a registered claim: only the bookkeeping half is a check here
    assert [c.id for c in claims] == ["before-memory"] and all(c.holds for c in claims)
    assert claims[0].claim.startswith("The methods that prune after or during training still hold the full network")


def test_a_late_method_that_starts_smaller_than_dense_contradicts_the_statement():
    points = _points(late=5.0)  # smaller than SNAP-it's and Random's 2× runs
    checks, claims = chapter.memory_checks(_costs(points), points, "mlp5", "mnist")
    assert not checks["mlp5: every after/during-training run starts with the dense network's memory"]
    assert not checks["mlp5: every SNAP-it and Random run starts with less memory than any after/during-training run"]
    assert [c.holds for c in claims] == [False]


def test_a_saving_that_falls_with_kappa_and_cnip_saving_more_are_reported():
    points = _points(snap=(4.0, 2.0), cnip=(5.0, 3.0))
    checks, _ = chapter.memory_checks(_costs(points), points, "mlp5", "mnist")
    assert not checks["mlp5: SNAP-it's and Random's memory saving grows with κ"]
    assert not checks["mlp5: CNIP-it saves less memory than SNAP-it at every κ"]


def test_the_reduction_table_orders_methods_and_labels_levels():
    table = chapter.reduction_table(_points())
    assert list(table["method"]) == ["GateDecorators", "Random", "Random", "SNAP-it", "SNAP-it", "CNIP-it", "CNIP-it"]
    assert list(table["level"][:3]) == ["κ = 50%", "κ = 50%", "κ = 90%"]  # levels ascending within a method
    assert list(table["reduction (×)"][-2:]) == ["0.90", "3.00"]


def test_observations_name_the_cnip_level_that_needs_more_memory_than_dense():
    text = chapter.observations_text(_points(), DENSE, "MLP5 on MNIST")
    assert text.startswith("**MLP5 on MNIST** (dense: 10.0 MiB at the start of training):")
    assert "it needs *more* memory than dense (11.1 MiB)" in text
    assert "all start with the full network" in text


def test_the_trend_slope_is_accuracy_per_decade_of_memory():
    points = pd.DataFrame({"train_memory_bytes_mean": [MIB, 10 * MIB, 100 * MIB], "accuracy_mean": [0.5, 0.6, 0.7]})
    assert chapter.trend_slope(points) == pytest.approx(0.1)


def test_the_memory_page_sweeps_exactly_table1s_grid():
    # one structured sweep read by two pages: the memory page must not drift to a grid of its own
    from prunekit.paper.chapters import table1

    assert (chapter.swept_levels, chapter.grid, chapter.requests) == (table1.swept_levels, table1.grid,
                                                                     table1.requests)
