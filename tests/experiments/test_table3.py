"""Table 3 at the paper's budget: its grid, the λ rule fixed before the runs, and the interval reading."""

from __future__ import annotations

import pytest

from prunekit.experiments.config import RunConfig

from prunekit.experiments.record import RunRecord
from prunekit.experiments.sweep import worker_share
from prunekit.experiments.table3 import (
    HOYERSQUARE_TARGET,
    LAMBDA_CANDIDATES,
    TABLE3_POINTS,
    choose_lambda,
    chosen_lambda,
    lambda_configs,
    paper_interval_overlaps,
    table3_configs,
    table3_frame,
    table3_runs,
)


def _record(config: RunConfig, accuracy: float, sparsity: float) -> RunRecord:
    return RunRecord(config, {"accuracy": accuracy, "weight_sparsity": sparsity}, {}, [], [], {}, {})


def test_table3_grid_is_eight_rows_by_five_seeds_at_the_papers_budget():
    configs = table3_configs(1e-4)
    assert len(configs) == 40 and len({c.key for c in configs}) == 40
    assert [c.seed for c in configs[:8]] == [0] * 8  # seed-major: a stopped sweep leaves whole seeds
    assert all(c.epochs == 80 and c.train_limit is None and c.samples == 2560 for c in configs)
    imp = next(c for c in configs if c.criterion == "imp-global")
    during = next(c for c in configs if c.criterion == "snip-it" and c.prune_at == "during")
    assert (imp.rewind_epoch, imp.prune_interval, during.prune_interval) == (6.0, 4.0, 4.0)
    points = {(c.criterion, c.prune_at): c.sparsity for c in configs if c.criterion not in ("none", "hoyersquare")}
    assert points == {(c, w): s for c, w, s in TABLE3_POINTS.values()}


def test_lambda_is_chosen_on_the_validation_split_by_distance_to_the_papers_sparsity():
    configs = lambda_configs()
    assert all(c.validation == 0.2 and c.epochs == 80 for c in configs) and len(configs) == len(LAMBDA_CANDIDATES)
    sparsities = [0.43, 0.70, 0.80, 0.886, 0.97]
    assert len(configs) == len(sparsities)  # 3.1e-5 … 5.3e-3, and 2.9e-2 since the amendment
    records = [_record(c, 0.95, s) for c, s in zip(configs, sparsities)]
    closest = min(zip(configs, sparsities), key=lambda cs: abs(cs[1] - HOYERSQUARE_TARGET))[0]
    assert choose_lambda(records) == dict(closest.criterion_options)["lam"]


def test_lambda_is_never_chosen_on_test_accuracy():
    config = lambda_configs()[0].replace(validation=0.0)
    with pytest.raises(ValueError, match="validation-split runs only"):
        choose_lambda([_record(config, 0.9, 0.94)])


def test_interval_reading_allows_for_the_papers_whole_percent_rounding():
    assert paper_interval_overlaps(97, 96.4, 0.1)  # 96.5 .. 97.5 meets 96.3 .. 96.5
    assert not paper_interval_overlaps(97, 96.2, 0.1)
    assert not paper_interval_overlaps(96, 97.0, 0.4)


def test_table3_frame_aggregates_seeds_with_the_papers_bound():
    base = table3_configs(1e-4)
    snip = [c for c in base if c.criterion == "snip"][:2]
    frame = table3_frame([_record(snip[0], 0.96, 0.96), _record(snip[1], 0.98, 0.96)])
    row = frame.iloc[0]
    assert (row["method"], row["n"]) == ("snip", 2)
    assert row["accuracy"] == pytest.approx(97.0) and row["bound"] == pytest.approx(1.96 * 2 ** 0.5 / 2 ** 0.5)


def test_comparison_puts_the_papers_row_beside_ours_and_reads_the_interval():
    from prunekit.experiments.table3 import table3_comparison

    snip = [c for c in table3_configs(1e-4) if c.criterion == "snip"][:3]
    frame = table3_comparison([_record(c, a, 0.96) for c, a in zip(snip, (0.962, 0.963, 0.961))])
    assert list(frame["method"]) == ["dense", "hoyersquare", "imp-global", "snip-it-during", "grasp", "random",
                                     "snip", "snip-it"]
    row = frame.set_index("method").loc["snip"]
    assert (row["paper accuracy"], row["n"], bool(row["paper inside"])) == (96, 3, True)
    assert frame.set_index("method").loc["grasp"].isna()["accuracy"]  # no runs yet: no numbers, no verdict


def test_findings_are_written_from_the_numbers():
    from prunekit.experiments.table3 import lambda_note, row_findings, table3_comparison

    snip = [c for c in table3_configs(1e-4) if c.criterion == "snip"][:2]
    lines = row_findings(table3_comparison([_record(c, a, 0.96) for c, a in zip(snip, (0.90, 0.92))]))
    assert "SNIP: 91.00 ± 1.96 % at 96.0 % sparsity (n = 2) against the paper's 96 % at 96 %: the paper's value is " \
           "outside our interval." in lines
    assert "GraSP: no runs yet." in lines
    lam = [_record(c, 0.98, s) for c, s in zip(lambda_configs(), (0.78, 0.84, 0.86, 0.886, 0.90))]
    note = lambda_note(lam)
    assert "No candidate reached 94 %" in note and f"{dict(lambda_configs()[-1].criterion_options)['lam']:.2g}" in note


def test_the_amended_candidates_add_the_grids_next_lambda_and_nothing_else():
    from prunekit.criteria.weight.hoyersquare import LAMBDA_GRID

    assert LAMBDA_CANDIDATES == LAMBDA_GRID[2:7] and LAMBDA_CANDIDATES[-1] == pytest.approx(2.9e-2, rel=0.01)


def test_table3_reads_only_the_chosen_lambda_and_its_own_points():
    validation = [_record(c, 0.95, s) for c, s in zip(lambda_configs(), [0.43, 0.70, 0.80, 0.886, 0.97])]
    assert chosen_lambda(validation) == LAMBDA_CANDIDATES[-1]  # 97 % is closer to 94 % than 88.6 %
    assert chosen_lambda(validation[:-1]) is None  # the rule needs every candidate's run
    grid = [_record(c, 0.9, 0.9) for lam in LAMBDA_CANDIDATES[-2:] for c in table3_configs(lam)]
    extra = [_record(table3_configs(1.0)[1].replace(sparsity=0.995), 0.9, 0.995)]  # a high-sparsity run, not Table 3
    runs = table3_runs(validation + grid + extra)
    assert len(runs) == 40 and {dict(r.config.criterion_options).get("lam") for r in runs} == {None,
                                                                                               LAMBDA_CANDIDATES[-1]}
    assert len(table3_runs(validation[:-1] + grid)) == 35  # λ not chosen yet: every row but HoyerSquare's


def test_workers_share_the_grid_without_overlap_and_split_hoyersquares_rows():
    configs = table3_configs(1e-4)
    shares = [worker_share(configs, w, 2) for w in range(2)]
    assert sorted(c.key for share in shares for c in share) == sorted(c.key for c in configs)
    assert all(any(c.criterion == "hoyersquare" for c in share) for share in shares)


def test_the_high_sparsity_grid_is_figure_10s_end_seed_by_seed_with_the_claims_methods_first():
    from prunekit.experiments.table3 import high_sparsity_configs
    from prunekit.paper.registry import claims_by_id

    configs = high_sparsity_configs()
    assert len(configs) == 4 * 3 * 5 and len({c.key for c in configs}) == len(configs)
    assert [c.seed for c in configs[:12]] == [0] * 12 and all(c.epochs == 80 for c in configs)
    first = {(c.criterion, c.prune_at) for c in configs[:9]}
    claim = claims_by_id()["hs-before-beats-snip"]
    assert first == {("snip-it", "before"), ("snip", "before"), ("grasp", "before")}
    assert {c.sparsity for c in configs} == set(claim.test.a.levels)


def test_a_worker_outside_the_pool_is_refused():
    with pytest.raises(ValueError, match=r"worker must be in \[0, 2\), got 2"):
        worker_share(table3_configs(1e-4), 2, 2)
