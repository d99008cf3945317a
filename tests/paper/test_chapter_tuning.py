"""Facts of the tuning chapter's verdicts and prose (Appendix F), on small hand-built grids."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from prunekit.paper.chapters import tuning as chapter


def _grid(best=(4.0, 6.0)):
    grid = pd.DataFrame(0.90, index=pd.Index([4.0, 6.0, 10.0], name="tau"),
                        columns=pd.Index([0.0, 2.0, 4.0, 6.0], name="rewind"))
    grid.loc[4.0, 6.0] = 0.95
    grid.loc[best] = 0.97 if best != (4.0, 6.0) else 0.95
    return grid


def _sweep(hm_paper=0.9, hm_original=0.8):
    return pd.DataFrame({"threshold": [1e-5, 1e-4, 1e-3, 1e-2], "accuracy": [0.9] * 4,
                         "weight_sparsity": [0.5] * 4, "hm": [0.5, hm_original, hm_paper, 0.3]})


def test_the_imp_verdict_agrees_where_the_peak_is_at_tau_4_or_6_and_rewind_5_or_6():
    imp = chapter.imp_verdict(_grid())
    assert (imp["best_tau"], imp["best_rewind"], imp["agrees"]) == (4.0, 6.0, True)
    assert imp["paper_acc"] == pytest.approx(0.95) and (imp["low"], imp["high"]) == (0.90, 0.95)


def test_a_peak_elsewhere_disagrees_with_the_paper():
    imp = chapter.imp_verdict(_grid(best=(10.0, 0.0)))
    assert (imp["best_tau"], imp["best_rewind"], imp["agrees"]) == (10.0, 0.0, False)
    text = chapter.observations_text(imp, chapter.threshold_verdict(_sweep()), epochs=6)
    assert "This is not where the paper found its optimum" in text and "97.00 %" in text


def test_a_grid_without_the_papers_cell_has_no_paper_accuracy():
    imp = chapter.imp_verdict(_grid().drop(columns=6.0))
    assert imp["paper_cell"] is None and math.isnan(imp["paper_acc"])


def test_the_threshold_verdict_compares_the_papers_1e_3_with_the_originals_1e_4():
    assert chapter.threshold_verdict(_sweep(0.9, 0.8))["agrees"] is True
    worse = chapter.threshold_verdict(_sweep(0.7, 0.8))
    assert worse["agrees"] is False and worse["best_t"] == 1e-4
    missing = chapter.threshold_verdict(_sweep().iloc[[0, 2, 3]])
    assert missing["has_both"] is False and missing["agrees"] is False


def test_the_ledger_holds_both_findings_with_their_evidence():
    entries = chapter.ledger_entries(chapter.imp_verdict(_grid()), chapter.threshold_verdict(_sweep()), model="mlp5",
                                     sparsity=0.98)
    assert [e.id for e in entries] == ["imp-tuning", "hoyer-threshold"] and all(e.holds for e in entries)
    assert "best at τ = 4, e_k = 6 (95.00 %)" in entries[0].ours
    assert entries[1].ours.endswith("HM 90.00 at 1e-3 vs 80.00 at 1e-4")
