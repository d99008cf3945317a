"""Facts of the claims ledger: catalogue ids only, one file per chapter, atomic replacement, strict reading."""

from __future__ import annotations

import json

import numpy as np
import pytest

from prunekit.paper.checks import COLUMNS, PAPER_CLAIMS, check, claims_folder, load_claims, record_claims


def test_check_carries_the_papers_words_and_our_evidence():
    claim = check("table2", "during-beats-imp", "95.5 vs 93.9 % at 98 %", np.bool_(True))
    assert claim.paper == PAPER_CLAIMS["during-beats-imp"].paper
    assert claim.section == PAPER_CLAIMS["during-beats-imp"].section
    assert claim.holds is True and claim.ours == "95.5 vs 93.9 % at 98 %"


def test_unknown_claim_and_non_bool_outcome_are_errors():
    with pytest.raises(ValueError, match="unknown claim id 'nope'"):
        check("table2", "nope", "", True)
    with pytest.raises(TypeError, match="holds must be a bool"):
        check("table2", "during-beats-imp", "", "yes")


def test_recording_again_replaces_the_chapters_claims(tmp_path):
    record_claims("table2", [check("table2", "during-beats-imp", "a", True),
                             check("table2", "during-beats-before", "b", False)], tmp_path)
    record_claims("method", [check("method", "schedule", "c", True)], tmp_path)
    record_claims("table2", [check("table2", "during-beats-imp", "a2", False)], tmp_path)
    frame = load_claims(tmp_path)
    assert list(frame.columns) == list(COLUMNS)
    assert sorted(frame["chapter"]) == ["method", "table2"]
    assert frame.set_index("chapter").loc["table2", "ours"] == "a2"
    assert list(load_claims(tmp_path, ["table2", "missing", "method"])["chapter"]) == ["table2", "method"]
    assert not list(claims_folder(tmp_path).glob("*.tmp"))


def test_a_claim_of_another_chapter_or_a_bad_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="other chapters"):
        record_claims("table2", [check("method", "schedule", "", True)], tmp_path)
    with pytest.raises(ValueError, match="notebook name"):
        record_claims("../x", [], tmp_path)


def test_a_damaged_claims_file_is_reported_by_name(tmp_path):
    claims_folder(tmp_path).mkdir()
    (claims_folder(tmp_path) / "bad.json").write_text(json.dumps([{"claim": "x"}]))
    with pytest.raises(ValueError, match="bad.json"):
        load_claims(tmp_path)


def test_an_empty_or_absent_ledger_is_an_empty_frame(tmp_path):
    assert load_claims(tmp_path).empty


def test_ordering_evidence_names_the_failing_levels_or_the_closest_one():
    import pandas as pd

    runs = pd.DataFrame({"method": ["a", "a", "b", "b", "a", "b"], "level": [0.9, 0.99, 0.9, 0.99, 0.5, 0.5],
                         "accuracy": [0.95, 0.90, 0.94, 0.92, 0.1, 0.9]})
    from prunekit.paper.checks import ordering_evidence

    assert ordering_evidence(runs, "a", "b", 0.9) == "fails at 99 %: 90.00 vs 92.00 %"
    assert ordering_evidence(runs, "b", "a", 0.99) == "holds at all 1 levels; closest at 99 %: 92.00 vs 90.00 %"
    assert ordering_evidence(runs, "a", "b", 0.995) == "no common sparsity level ≥ 99.5 %"


def test_units_files_round_trip_and_are_not_read_as_checks(tmp_path):
    from prunekit.paper.checks import load_units, record_units, units_path

    entry = {"model": "mlp5", "dataset": "mnist", "method": "snip", "metric": "attack_success", "level": 0.99,
             "epsilon": 0.5, "values": [1, 0, 1]}
    assert record_units("robustness", "image", [{**entry, "values": [0.1234567891]}], tmp_path).read_text().count(
        "0.123457") == 1  # shares are rounded to 6 significant digits, outcomes stay 0/1
    path = record_units("robustness", "image", [entry], tmp_path)
    assert path == units_path("robustness", tmp_path) and path.name == "robustness-units.json"
    data = load_units("robustness", tmp_path)
    assert data["unit"] == "image" and data["entries"] == [entry]
    record_claims("robustness", [check("robustness", "snip-input-layer", "x", True)], tmp_path)
    assert list(load_claims(tmp_path)["chapter"]) == ["robustness"]  # the units file is no checks file
    assert load_units("elasticity", tmp_path) is None


def test_units_need_their_keys_finite_values_and_a_known_unit(tmp_path):
    from prunekit.paper.checks import record_units

    good = {"model": "mlp5", "dataset": "mnist", "method": "snip", "metric": "top_share", "values": [0.5]}
    with pytest.raises(ValueError, match="unit must be one of"):
        record_units("robustness", "network", [good], tmp_path)
    with pytest.raises(ValueError, match="lacks"):
        record_units("robustness", "image", [{k: v for k, v in good.items() if k != "metric"}], tmp_path)
    with pytest.raises(ValueError, match="finite"):
        record_units("robustness", "image", [{**good, "values": [float("nan")]}], tmp_path)
