"""Facts of the tuning chapter's verdicts and prose (Appendix F), on small hand-built grids."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from prunekit.experiments.record import RunRecord
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


def test_the_imp_summary_finds_the_peak_and_the_papers_cell():
    imp = chapter.imp_summary(_grid(best=(10.0, 0.0)))
    assert (imp["best_tau"], imp["best_rewind"], imp["best_acc"]) == (10.0, 0.0, 0.97)
    assert imp["paper_acc"] == pytest.approx(0.95) and (imp["low"], imp["high"]) == (0.90, 0.97)
    text = chapter.observations_text(imp, chapter.threshold_summary(_sweep()), epochs=6)
    assert "97.00 %" in text and "first 0.75 epoch(s)" in text
    assert "agree" not in text  # one seed: the page describes, the registered claims decide


def test_a_grid_without_the_papers_cell_has_no_paper_accuracy():
    imp = chapter.imp_summary(_grid().drop(columns=6.0))
    assert imp["paper_cell"] is None and math.isnan(imp["paper_acc"])


def test_the_threshold_summary_reads_the_papers_1e_3_and_the_originals_1e_4():
    summary = chapter.threshold_summary(_sweep(0.7, 0.8))
    assert (summary["best_t"], summary["hm_paper"], summary["hm_original"]) == (1e-4, 0.7, 0.8)
    missing = chapter.threshold_summary(_sweep().iloc[[0, 2, 3]])
    assert missing["has_both"] is False and math.isnan(missing["hm_paper"])


def test_the_claim_grid_is_the_registered_claims_grid_on_every_seed():
    from prunekit.experiments.config import scaled_epochs
    from prunekit.paper import registry

    configs = chapter.claim_grid("cpu", seeds=(0, 1, 2))
    imp = [c for c in configs if c.criterion == "imp-global"]
    # rewinds 0..6 at τ = 4 and τ 1..10 at e_k = 6 share the point (τ 4, e_k 6): 7 + 6 - 1 points
    assert len(imp) == 3 * (len(registry.REWIND_GRID) + len(registry.INTERVAL_GRID) - 1)
    budget = [c for c in configs if c.criterion in ("l0", "gatedecorators")]
    assert {c.validation for c in configs if c not in budget} == {0.2} and {c.seed for c in configs} == {0, 1, 2}
    # the budget claims compare test-split runs: the table1 page's at twice the epochs, new ones at the common budget
    assert {c.validation for c in budget} == {0.0} and sorted({c.epochs for c in budget}) == [6, 12]
    assert len(budget) == 2 * 2 * 3
    assert {c.rewind_epoch for c in imp if c.prune_interval == scaled_epochs(4, 6)} == {
        scaled_epochs(e, 6) for e in registry.REWIND_GRID}
    hoyer = [dict(c.criterion_options) for c in configs if c.criterion == "hoyersquare"]
    assert sorted(h["threshold"] for h in hoyer) == sorted(registry.THRESHOLD_PAIR * 3)
    # every run the claims read is one the page requests, and nothing else
    records = [RunRecord(c, {"accuracy": 0.9, "weight_sparsity": 0.9}, {}, [], [], {}, {}) for c in configs]
    for claim_id in chapter.CLAIM_IDS:
        claim = registry.claims_by_id()[claim_id]
        assert registry.decide(claim, records) is not None, claim_id
    assert {len(registry.deciding_records(registry.claims_by_id()[i], records)) for i in chapter.CLAIM_IDS} == {
        3 * len(registry.REWIND_GRID), 3 * len(registry.INTERVAL_GRID), 6}


def test_the_claim_tables_show_each_point_with_its_seeds_and_the_verdict():
    configs = chapter.claim_grid("cpu", seeds=(0, 1, 2))
    records = [RunRecord(c, {"accuracy": 0.9 + 0.001 * c.seed, "weight_sparsity": 0.5}, {}, [], [], {}, {})
               for c in configs]
    points = chapter.claim_points("appF-imp-rewind-best-5-or-6", records)
    assert list(points["point"]) == [f"e_k = {e:g}" for e in range(7)] and (points["seeds"] == 3).all()
    assert list(points["chosen by the paper"]) == [False] * 5 + [True] * 2
    assert points["accuracy"].iloc[0] == pytest.approx(90.1)
    verdicts = chapter.claim_verdicts(records)
    assert list(verdicts["claim"]) == list(chapter.CLAIM_IDS)
    assert set(verdicts["verdict"]) == {"inconclusive"}  # identical grid points: no point is better than another
    assert chapter.claim_verdicts(records[:5])["verdict"].eq("awaiting runs").all()


@pytest.mark.parametrize("profile", ["smoke", "cpu"])
def test_every_profile_reads_its_own_claim_grid_for_every_claim_on_the_page(profile):
    from prunekit.experiments.profiles import get_profile

    seeds = tuple(range(get_profile(profile).seeds))
    records = [RunRecord(c, {"accuracy": 0.9, "weight_sparsity": 0.5}, {}, [], [], {}, {})
               for c in chapter.claim_grid(profile, seeds=seeds)]
    for claim_id in chapter.CLAIM_IDS:  # the budget claims read "twice the profile's epochs", not a fixed count
        points = chapter.claim_points(claim_id, records)
        assert (points["seeds"] == len(seeds)).all(), (profile, claim_id)
