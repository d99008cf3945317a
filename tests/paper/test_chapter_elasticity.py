"""Facts of the Appendix A page functions (prose, the paper-beside table, the checks and the ledger), on
hand-built survey summaries."""

from __future__ import annotations

import pandas as pd
import pytest

from prunekit.paper.chapters import elasticity as chapter


def _row(model="mlp5", seed=0, nearly=0.7, very=0.99, below_one=1.0, n_unit=0, top=0.6, zero=0.0, largest=0.02,
         weights=1000, decades=3.0):
    return {"model": model, "seed": seed, "weights": weights, "loss": 2.3, "median": 1e-5, "max": largest,
            "zero": zero, "decades": decades, "< 0.001": nearly, "< 0.01": very, "< 1": below_one, "n >= 1": n_unit,
            "top 10% share": top}


def _summary(*rows):
    return pd.DataFrame(list(rows) or [_row(), _row(seed=1, nearly=0.8, top=0.7), _row("lenet5", nearly=0.6)])


def test_every_check_holds_on_a_summary_of_tiny_skewed_elasticities():
    assert all(chapter.elasticity_checks(_summary()).values())


@pytest.mark.parametrize("change, failing", [
    ({"below_one": 0.98, "n_unit": 20}, ["at least 99% of the weights have elasticity below 1",
                                         "at most 0.1% of the weights reach elasticity 1"]),
    ({"very": 0.94}, ["at least 95% of the weights have elasticity below 1e-2"]),
    ({"nearly": 0.5}, ["more than half of the weights have elasticity below 1e-3"]),
    ({"top": 0.3}, ["the top 10% of the weights hold more than a third of the summed elasticity"]),
])
def test_one_network_and_seed_outside_a_threshold_fails_that_check_only(change, failing):
    checks = chapter.elasticity_checks(_summary(_row(), _row("lenet5", **change)))
    assert [name for name, holds in checks.items() if not holds] == failing


def test_the_ledger_records_only_the_checks_no_registered_claim_decides():
    summary = _summary()
    checks = chapter.elasticity_checks(summary)
    entries = chapter.ledger(summary, "mnist", checks)
    assert len(entries) == len(checks) - len(chapter.registered_checks()) == 2
    assert set(chapter.registered_checks()) < set(checks)  # each names a check of the page
    assert all(e.id == "elasticity-mostly-tiny" and "our threshold" in e.claim for e in entries)
    assert [e.claim.split(" (")[0] for e in entries] == ["at least 95% of the weights have elasticity below 1e-2",
                                                         "the top 10% of the weights hold more than a third of the "
                                                         "summed elasticity"]
    failing = chapter.elasticity_checks(_summary(_row(), _row("lenet5", very=0.94)))
    assert [e.holds for e in chapter.ledger(summary, "mnist", failing)] == [False, True]


def test_the_units_hold_one_value_per_seed_for_each_registered_share():
    summary = _summary()
    entries = chapter.unit_entries(summary, "mnist")
    assert [(e["model"], e["metric"]) for e in entries] == [
        ("mlp5", "share_elasticity_ge_1"), ("mlp5", "share_elasticity_below_1e-3"),
        ("lenet5", "share_elasticity_ge_1"), ("lenet5", "share_elasticity_below_1e-3")]
    mlp5 = summary[summary["model"] == "mlp5"].sort_values("seed")
    assert entries[0]["values"] == (1 - mlp5["< 1"]).tolist() and entries[1]["values"] == mlp5["< 0.001"].tolist()
    assert entries[0]["seeds"] == mlp5["seed"].tolist() and entries[0]["method"] == "none"


def test_the_observations_give_the_range_over_networks_and_seeds_and_the_fewest_case():
    text = chapter.observations(_summary(), "mnist", (1, 28, 28))
    assert "Across the 2 network(s) × 2 seed(s) on MNIST" in text
    assert "between 60.0% and 80.0% have ε < 10⁻³ (fewest: LENET5, seed 0)" in text
    assert "So more than half of the weights are nearly completely inelastic in every case" in text
    assert "between 60% and 70% of the summed elasticity (most skewed: MLP5, seed 1)" in text


def test_the_observations_say_so_when_half_or_fewer_are_nearly_completely_inelastic():
    text = chapter.observations(_summary(_row(), _row("lenet5", nearly=0.4)), "mnist", (1, 28, 28))
    assert "So in some case no more than half of the weights are nearly completely inelastic" in text


def test_unit_elastic_weights_are_counted_or_the_largest_elasticity_named_when_there_are_none():
    none = chapter.observations(_summary(), "mnist", (1, 28, 28))
    assert "here none does: the largest elasticity of any weight is 0.02 (MLP5, seed 0)" in none
    some = chapter.observations(_summary(_row(), _row("lenet5", below_one=0.999, n_unit=1)), "mnist", (1, 28, 28))
    assert "here 1 weight(s) do over all networks and seeds, at most 0.100% of a network's weights" in some


def test_exactly_zero_elasticities_are_counted_and_explained_where_they_are_common():
    rare = chapter.observations(_summary(_row(), _row("lenet5", zero=0.002)), "mnist", (1, 28, 28))
    assert "Some weights have an elasticity of exactly zero: 0.2% (2 weight(s)) of LENET5, seed 0." in rare
    assert "zero padding" not in rare
    common = chapter.observations(_summary(_row(zero=0.05), _row("lenet5", zero=0.02), _row("conv6", zero=0.03)),
                                  "mnist", (1, 28, 28))
    assert "In CONV6, LENET5 and MLP5 they sit in the last convolutions, where the 28 × 28 input" in common
    assert "exactly zero" not in chapter.observations(_summary(), "mnist", (1, 28, 28))


def test_the_paper_beside_table_has_one_row_per_statement_of_appendix_a():
    table = chapter.paper_beside(_summary(), "mnist")
    lines = table.splitlines()
    assert lines[:2] == ["| Appendix A says | what we observe |", "| --- | --- |"] and len(lines) == 7
    assert "| virtually all weights are in the inelastic category | in each of the 2 network(s) × 2 seed(s), " \
           "every weight has ε < 1 |" in lines
    assert "0 weight(s) reach ε ≥ 1; the largest elasticity is 0.02 (MLP5, seed 0)" in table


def test_the_check_list_states_the_thresholds_the_checks_use():
    text = chapter.checks_explained()
    assert "at least 99% have ε < 1, and at most 0.1% have ε ≥ 1" in text
    assert "more than 50% have ε < 10<sup>-3</sup>" in text and "would give them 10%" in text


def test_the_budget_names_the_dataset_networks_seeds_and_scoring_samples():
    from prunekit.data import dataset_info
    from prunekit.experiments.profiles import get_profile
    profile = get_profile("cpu")
    label = chapter.budget_label(profile, dataset_info("mnist"), ["mlp5", "lenet5"], [0, 1, 2])
    assert label == f"MNIST, 2 network(s), 3 seed(s), {profile.samples} scoring samples"
