"""The summary page: verdicts counted over registered claims only, each state shown, chapter checks apart."""

import pandas as pd
import pytest

from prunekit.paper.chapters import summary
from prunekit.paper.registry import CLAIMS


def _claims(*verdicts):
    return pd.DataFrame({"verdict": list(verdicts)})


def test_counts_cover_every_state_including_contradicted_and_awaiting():
    counts = summary.verdict_counts(_claims("holds", "contradicted", "contradicted", "inconclusive", "awaiting runs",
                                            "awaiting data"))
    assert counts == {"holds": 1, "contradicted": 2, "inconclusive": 1, "awaiting runs": 1, "awaiting data": 1}


def test_counts_sentence_names_contradicted_claims_and_the_total():
    text = summary.counts_sentence(summary.verdict_counts(_claims("holds", "contradicted", "awaiting runs")))
    assert "Of the 3 registered claims, 1 hold, 1 are contradicted" in text and "1 await their runs" in text
    assert "await" not in summary.counts_sentence(summary.verdict_counts(_claims("holds")))
    both = summary.counts_sentence(summary.verdict_counts(_claims("holds", "awaiting runs", "awaiting data")))
    assert both.endswith("1 await their runs and 1 await their chapter's data.") and "Of the 3 " in both


def test_without_stores_every_registered_claim_awaits_its_runs_or_its_chapters_data():
    claims = summary.registered_claims({})
    assert len(claims) == len(CLAIMS) and set(claims["verdict"]) == {summary.AWAITING_RUNS, summary.AWAITING_DATA}
    assert list(summary.claims_table(claims).columns) == list(summary.CLAIM_COLUMNS.values())


def test_claim_profiles_are_the_registry_profiles():
    assert set(summary.claim_profiles()) == {c.profile for c in CLAIMS}


def test_chapter_checks_are_listed_apart_and_counted_as_stated_or_not(tmp_path):
    from prunekit.paper.checks import check, record_claims

    record_claims("table2", [check("table2", "before-beats-snip", "SNIP-it 93 % vs SNIP 92 %", True),
                             check("table2", "snip-input-layer", "input layer kept", False)], tmp_path)
    checks = summary.chapter_checks(tmp_path, ["method", "table2"])
    assert list(checks["outcome"]) == ["as stated", "not as stated"]
    assert summary.checks_sentence(checks, ["method", "table2"]) == (
        "1 of the chapters' 2 checks come out as stated. Chapters that record no checks: method.")


@pytest.mark.parametrize("missing", ["cpu", "mnist-paper"])
def test_a_missing_store_leaves_its_claims_awaiting(tmp_path, missing):
    assert missing not in summary.records_by_profile(tmp_path)


def test_units_files_are_found_per_profile_and_a_missing_one_is_left_out(tmp_path):
    from prunekit.paper.checks import record_units

    entry = {"model": "mlp5", "dataset": "mnist", "method": "none", "metric": "share_elasticity_ge_1", "level": None,
             "values": [0.0, 0.0, 0.0]}
    record_units("elasticity", "seed", [entry], tmp_path / "cpu")
    units = summary.units_by_profile(tmp_path, ["cpu", "mnist-paper"])
    assert set(units["cpu"]) == {"elasticity"} and units["mnist-paper"] == {}
    claims = summary.registered_claims({}, units).set_index("id")
    assert claims.loc["cpu-mlp5-elasticity-few-unit-elastic", "verdict"] in ("holds", "contradicted", "inconclusive")
    assert claims.loc["cpu-lenet5-elasticity-few-unit-elastic", "verdict"] == "awaiting data"  # no entry for LeNet5


def test_each_claim_says_how_many_of_the_runs_it_reads_are_stale():
    from tests.paper.test_registry import _records

    during = _records("snip-it", "during", 0.98, [0.97, 0.972, 0.971])
    imp = _records("imp-global", "during", 0.98, [0.96, 0.961, 0.962])
    unread = _records("snip-it", "before", 0.5, [0.1, 0.1])  # stale too, but no Table 3 claim reads it
    records = {"mnist-paper": during + imp + unread}
    stale = {"mnist-paper": {during[0].key, unread[0].key}}
    claims = summary.registered_claims(records, None, stale).set_index("id")
    assert claims.loc["t3-during-beats-imp-global", "stale"] == "1 of 6"
    assert claims.loc["t3-during-beats-snip", "stale"] == "1 of 3"  # SNIP's runs are missing: only SNIP-it's read
    assert claims.loc["cpu-fig3-snip-more-concentrated-than-grasp", "stale"] == "—"  # decided on a units file


def test_the_stale_sentence_counts_decided_claims_that_read_stale_runs():
    claims = pd.DataFrame({"verdict": ["holds", "contradicted", "awaiting runs", "inconclusive"],
                           "stale": ["2 of 6", "0 of 6", "3 of 3", "—"]})
    assert summary.stale_sentence(claims).startswith("1 of the 3 decided claims read stale runs")
    assert summary.stale_sentence(claims.assign(stale="0 of 6")).startswith("Every one of the 3 decided claims")


def test_verdicts_by_location_count_each_part_of_the_paper_in_the_papers_order():
    claims = pd.DataFrame({"where": ["Appendix E", "Section 5, Table 1", "Section 5, Table 1 (Figure 1)", "Abstract"],
                           "verdict": ["holds", "contradicted", "holds", "inconclusive"]})
    table = summary.verdicts_by_location(claims)
    assert list(table["where in the paper"]) == ["Abstract", "Section 5, Table 1", "Appendix E"]
    row = table.set_index("where in the paper").loc["Section 5, Table 1"]
    assert (row["holds"], row["contradicted"], row["inconclusive"], row["claims"]) == (1, 1, 0, 2)


def test_the_papers_formulas_are_shown_as_plain_text_in_the_claims_table():
    from prunekit.paper.prose import plain_math

    assert plain_math("recommended  $10^{-4}$ , we") == "recommended  10⁻⁴ , we"
    assert plain_math("for  $\\ell_0$ -regularisation and any $\\lambda$") == "for  ℓ₀ -regularisation and any λ"
    assert plain_math("no formula, 5 $") == "no formula, 5 $"  # a lone dollar sign is left alone


def test_the_pages_stale_line_counts_the_runs_the_claims_read():
    from prunekit.experiments.config import RunConfig
    from prunekit.experiments.record import RunRecord
    from prunekit.paper.chapters.summary import claims_reads

    base = RunConfig(model="mlp5", dataset="mnist", criterion="snip-it", prune_at="during", sparsity=0.98, epochs=6,
                     prune_interval=0.3)
    read = [RunRecord(base.replace(seed=s), {"accuracy": 0.9}, {}, [], [], {}, {}) for s in range(3)]
    unread = RunRecord(base.replace(criterion="magnitude", prune_at="before"), {"accuracy": 0.9}, {}, [], [], {}, {})
    keys = claims_reads({"cpu": read + [unread]}, "cpu").keys()
    assert {r.key for r in read} <= keys and unread.key not in keys
