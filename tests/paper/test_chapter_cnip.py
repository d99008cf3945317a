"""Facts of the CNIP-it chapter (Appendix B): the pairing of CNIP-it with SNAP-it at shared κ, the reading of
Figure 7a at equal weight sparsity, and that checks, claims and prose follow the numbers."""

import pandas as pd
import pytest

from prunekit.paper.chapters import cnip as chapter


def _curve() -> pd.DataFrame:
    """SNAP-it removes more nodes and weights at each κ; CNIP-it's weight sparsity sits near κ."""
    rows = [  # criterion, κ, accuracy, bound, weight sparsity, node sparsity, FLOPs ×, parameters ×
        ("snap-it", 0.5, 0.97, 0.01, 0.75, 0.5, 4.0, 4.0),
        ("snap-it", 0.9, 0.95, 0.01, 0.99, 0.9, 90.0, 90.0),
        ("cnip-it", 0.5, 0.98, 0.01, 0.5, 0.05, 2.0, 1.1),
        ("cnip-it", 0.9, 0.96, 0.01, 0.9, 0.3, 10.0, 1.5),
        ("cnip-it", 0.98, 0.5, 0.01, 0.98, 0.6, 50.0, 2.0),  # a κ SNAP-it did not run
    ]
    frame = pd.DataFrame(rows, columns=["criterion", "level", "accuracy_mean", "accuracy_bound", "weight_sparsity_mean",
                                        "node_sparsity_mean", "inference_flops_reduction_mean",
                                        "parameters_reduction_mean"])
    frame["weight_sparsity_bound"] = frame["node_sparsity_bound"] = 0.0
    frame["accuracy_n"] = 3
    return frame


def test_pair_keeps_shared_kappa_and_matches_cnip_on_snaps_curve():
    p = chapter.pair("mlp5", _curve(), [0.5, 0.9, 0.98])
    assert list(p.snap.index) == list(p.cnip.index) == [0.5, 0.9]
    # CNIP-it at 50 % weights lies below SNAP-it's sparsest-to-densest span (75–99 %): only 90 % is matched
    assert list(p.matched["level"]) == [0.9]
    # SNAP-it interpolated at 90 % weights between (75 %, 97 %) and (99 %, 95 %)
    assert p.matched["snap"].iloc[0] == pytest.approx(0.97 - 0.02 * (0.9 - 0.75) / (0.99 - 0.75))
    assert chapter.pair("mlp5", _curve(), [0.98]) is None


def test_verdicts_follow_the_numbers():
    p = chapter.pair("mlp5", _curve(), [0.5, 0.9])
    assert chapter.node_sparsity_lower(p) and chapter.fewer_flops_saved(p) and chapter.more_parameters_kept(p)
    assert not chapter.weight_sparsity_higher(p)  # SNAP-it's node pruning removes more weights
    assert chapter.never_less_accurate(p)


def test_claims_keep_the_ledger_ids_and_order():
    p = chapter.pair("mlp5", _curve(), [0.5, 0.9])
    checks, claims = chapter.chapter_checks([p], "mnist")
    # the weight- and node-sparsity comparisons are registered claims (decided on the summary page): checks only
    assert [c.id for c in claims] == ["cnip-weight-sparsity", "cnip-fewer-flops"]
    assert claims[0].claim == "At equal weight sparsity CNIP-it is at least as accurate as SNAP-it, within the bounds (Figure 7a)"
    assert [c.holds for c in claims] == [True, True]
    assert len(checks) == 5 and checks["mlp5: SNAP-it's weight sparsity is above CNIP-it's at every κ"]


def test_observations_and_conclusion_are_written_from_the_numbers():
    p = chapter.pair("mlp5", _curve(), [0.5, 0.9])
    text = chapter.observations(p, "mnist", 3, 0.98)
    assert text.startswith("**MLP5 on MNIST** (3 seed(s) per point, dense 98.00 %)")
    assert "removes only 5.0 % of the nodes at κ = 50% and 30.0 % at κ = 90%" in text
    assert "Weight sparsity at the same κ is higher for SNAP-it**, by 9.0 to 25.0 points" in text
    end = chapter.conclusion([p])
    assert end.startswith("So the appendix's conclusion carries over") and "literal comparison" in end
    assert chapter.conclusion([]) == "No model has both CNIP-it and SNAP-it runs at a shared κ."


def test_kappa_table_orders_rows_by_kappa_then_criteria():
    table = chapter.kappa_table(_curve(), ("snap-it", "cnip-it"))
    assert list(table["κ"]) == ["50%", "50%", "90%", "90%", "98%"]
    assert table["method"].iloc[0].startswith("SNAP-it") and table["method"].iloc[1].startswith("CNIP-it")
