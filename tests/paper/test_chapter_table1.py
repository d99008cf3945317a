"""Facts of the structured chapter (Tables 1 and 4): which levels it sweeps, and that its checks, claims and
observations follow the numbers they are given."""

import pandas as pd
import pytest

from prunekit.experiments.profiles import get_profile
from prunekit.paper.chapters import table1 as chapter


def _best(rows: dict[str, tuple[float, float, float]]) -> pd.DataFrame:
    """Best points: criterion -> (harmonic mean, inference FLOPs reduction, training FLOPs reduction)."""
    return pd.DataFrame([{"criterion": c, "level": 0.9, "hm_mean": hm, "accuracy_mean": 0.95, "node_sparsity_mean": 0.9,
                          "inference_flops_reduction_mean": inf, "training_flops_reduction_mean": train,
                          "train_memory_reduction_mean": 2.0} for c, (hm, inf, train) in rows.items()])


def _curve(points: list[tuple[str, float, float, float, float]]) -> pd.DataFrame:
    """Accuracy curve rows: (criterion, level, accuracy, bound, node sparsity)."""
    return pd.DataFrame(points, columns=["criterion", "level", "accuracy_mean", "accuracy_bound", "node_sparsity_mean"])


def _timed(rows: dict[str, tuple[float, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"criterion": c, "level": 0.9, "inference_time_reduction_mean": i,
                          "training_time_reduction_mean": t} for c, (i, t) in rows.items()])


def _results() -> chapter.ModelResults:
    best = _best({"snap-it": (0.94, 20.0, 18.0), "random": (0.93, 25.0, 22.0), "gatedecorators": (0.95, 30.0, 0.7),
                  "l0": (0.2, 1.2, 0.5)})
    curve = _curve([("snap-it", 0.5, 0.97, 0.01, 0.5), ("snap-it", 0.8, 0.96, 0.01, 0.8),
                    ("random", 0.5, 0.96, 0.01, 0.5), ("random", 0.8, 0.95, 0.01, 0.8),
                    ("gatedecorators", 0.5, 0.98, 0.01, 0.5), ("gatedecorators", 0.8, 0.97, 0.01, 0.8),
                    ("group-hs", 5.0, 0.93, 0.04, 0.55), ("group-hs", 1.0, 0.97, 0.01, 0.2),
                    ("l0", 0.5, 0.97, 0.01, 0.0), ("l0", 5.0, 0.4, 0.2, 0.2)])
    timed = _timed({"snap-it": (3.0, 2.5), "random": (4.0, 0.9)})
    return chapter.ModelResults("mlp5", best, curve, timed, pd.Series([0.98, 0.98]),
                                pd.Series({0.5: 0.97, 5.0: 0.93}))


def test_smoke_sweeps_only_its_own_levels_and_the_strongest_lambda():
    levels = chapter.swept_levels(get_profile("smoke"), (0.5, 0.9, 0.98), (0.5, 0.8), {"l0": (0.5, 5.0)})
    assert levels.nodes == [0.9, 0.98]
    assert levels.baselines == [0.9]  # none of the baselines' levels is a smoke level: its lowest
    assert levels.lambdas == {"l0": [5.0]}
    full = chapter.swept_levels(get_profile("cpu"), (0.5, 0.9), (0.5,), {"l0": (0.5, 5.0)})
    assert full.nodes == [0.5, 0.9] and full.lambdas == {"l0": [0.5, 5.0]}


def test_accuracy_differences_use_only_levels_both_methods_ran():
    curve = _curve([("snap-it", 0.5, 0.9, 0, 0.5), ("snap-it", 0.9, 0.8, 0, 0.9), ("efficientconvnets", 0.9, 0.85, 0, 0.9),
                    ("efficientconvnets", 0.95, 0.5, 0, 0.95)])
    shared, diff = chapter.accuracy_differences(curve, "efficientconvnets")
    assert shared == [0.9] and diff == [pytest.approx(-0.05)]


def test_checks_and_claims_follow_the_numbers_in_ledger_order():
    checks, claims = chapter.chapter_checks([_results()], "mnist", ("snap-it", "random"))
    # SNAP-it vs Random and vs the after-training baselines, L0's and Group-HS's statements are registered claims
    # (decided on the summary page): shown as checks, not recorded
    assert [c.id for c in claims] == ["shrunk-fewer-flops", "structured-time"]
    assert checks["mlp5: SNAP-it's best trade-off (HM) is at least Random's"]  # HM 94.0 vs 93.0
    by_id = {c.id: c for c in claims}
    assert not checks["mlp5: SNAP-it's mean accuracy is at least GateDecorators's at every node sparsity both ran"]
    assert not by_id["structured-time"].holds  # Random trains slower than dense (0.9×)
    assert checks["mlp5: no after/during-training baseline trains with even 1.5× fewer FLOPs than one dense run"]
    assert checks["mlp5: wherever L0 removes nodes, its test accuracy is 10+ points below dense while its training "
                  "accuracy stays above 90 %"]


def test_a_missing_method_skips_its_claims():
    r = _results()
    only_snap = chapter.ModelResults("mlp5", r.best[r.best["criterion"] == "snap-it"],
                                     r.curve[r.curve["criterion"] == "snap-it"], r.timed.iloc[:0], r.dense,
                                     r.l0_train_accuracy)
    _, claims = chapter.chapter_checks([only_snap], "mnist", ("snap-it",))
    assert [c.id for c in claims] == ["shrunk-fewer-flops"]


def test_observations_are_written_from_the_numbers():
    text = chapter.observations(_results(), "mnist")
    assert text.startswith("On MNIST with **MLP5** (dense 98.00 %)")
    assert "SNAP-it is less accurate at every node sparsity (50%: -1.00 pp, 80%: -1.00 pp)" in text
    assert "reaches at most 55.0 % node sparsity (λ = 5)" in text
    assert "removes nodes at λ = 5 (20.0 % nodes, 40.0 %)" in text and "93.0–93.0 %" in text
    assert "inference SNAP-it 3.0×, Random 4.0× faster" in text


def test_l0_gap_table_is_none_without_l0_runs():
    costs = pd.DataFrame({"key": ["a"], "model": ["mlp5"], "criterion": ["snap-it"], "level": [0.9],
                          "accuracy": [0.9], "node_sparsity": [0.9]})
    runs = pd.DataFrame({"key": ["a"], "train_accuracy": [0.95]})
    assert chapter.l0_gap_table(costs, runs, "mlp5") is None


def test_best_point_lines_name_every_model_and_method():
    lines = chapter.best_point_lines({"mlp5": _best({"snap-it": (0.94, 20.0, 18.0)})}).splitlines()
    assert lines == ["- MLP5, SNAP-it (before): 95.00 % at 90.0 % node sparsity (HM 94.0), 20.0× fewer inference "
                     "FLOPs, 18.00× fewer training FLOPs than one dense run, 2.00× less memory at the start of training."]
