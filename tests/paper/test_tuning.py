"""Facts of Appendix F's tuning grids: validation split, the paper's grids scaled to the budget, the tables."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from prunekit.paper.chapters.tuning import (PAPER_INTERVALS, PAPER_REWINDS, PAPER_THRESHOLDS, hoyersquare_threshold_grid, imp_grid,
                             imp_table, in_paper_epochs, threshold_table)


def test_imp_grid_scales_tau_and_rewind_to_the_profile_and_holds_out_a_fifth():
    grid = imp_grid("cpu")
    assert len(grid) == len(PAPER_INTERVALS) * len(PAPER_REWINDS)
    assert {c.validation for c in grid} == {0.2} and {c.criterion for c in grid} == {"imp-global"}
    assert sorted({c.prune_interval for c in grid}) == [0.3, 0.45, 0.75]  # 4, 6, 10 of 80 epochs at 6 epochs
    assert sorted({c.rewind_epoch for c in grid}) == [0.0, 0.15, 0.3, 0.45]
    assert in_paper_epochs(0.45, 6) == 6.0


def test_threshold_grid_is_seven_log_steps_from_1e5_to_1e2_at_one_lambda():
    grid = hoyersquare_threshold_grid("cpu")
    thresholds = [dict(c.criterion_options)["threshold"] for c in grid]
    assert thresholds == list(PAPER_THRESHOLDS) and thresholds[0] == 1e-5 and thresholds[-1] == 1e-2
    assert len({dict(c.criterion_options)["lam"] for c in grid}) == 1 and len({c.key for c in grid}) == 7


def test_tables_put_validation_accuracy_on_the_grid_and_score_thresholds_by_hm():
    runs = pd.DataFrame({"prune_interval": [0.3, 0.3, 0.45], "rewind_epoch": [0.0, 0.45, 0.0],
                         "accuracy": [0.9, 0.8, 0.7]})
    table = imp_table(runs, 6)
    assert table.loc[4.0, 6.0] == 0.8 and table.loc[6.0, 0.0] == 0.7
    hoyer = pd.DataFrame({"criterion_options": [json.dumps({"lam": 1, "threshold": 1e-3}), '{"lam": 1, "threshold": 0.01}'],
                          "accuracy": [0.9, 0.5], "weight_sparsity": [0.9, 0.99]})
    scored = threshold_table(hoyer).set_index("threshold")
    assert scored.loc[1e-3, "hm"] == pytest.approx(0.9) and scored.loc[0.01, "hm"] < 0.9
    with pytest.raises(ValueError, match="at least one"):
        imp_table(runs.iloc[:0], 6)
