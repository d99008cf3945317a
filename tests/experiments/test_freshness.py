"""Stale means 'would compute differently': a code version is fresh once a sample of its records reproduces."""

from __future__ import annotations

import dataclasses
import json

import pytest

from prunekit.experiments.config import RunConfig

from prunekit.experiments.record import source_hash

from prunekit.experiments.run import run
from prunekit.experiments.freshness import (
    differences,
    equivalent_sources,
    family,
    read_ledger,
    stale_note,
    stale_records,
    verification_sample,
    verify,
)
from prunekit.experiments.store import ResultStore


@pytest.fixture(scope="module")
def smoke_record(mnist_data_root_session):
    config = RunConfig.from_profile("smoke", model="mlp5", dataset="mnist", criterion="snip", sparsity=0.9,
                                    device="cpu")
    return run(config, progress=False, data_root=mnist_data_root_session)


def _store(tmp_path) -> ResultStore:
    """A store in its own folder, so tests' tmp folders are not sibling stores sharing equivalence checks."""
    (tmp_path / "store").mkdir(exist_ok=True)
    return ResultStore(tmp_path / "store")


def _from_version(record, version: str, **metrics):
    provenance = {**record.provenance, "source_hash": version}
    return dataclasses.replace(record, provenance=provenance, metrics={**record.metrics, **metrics})


def test_a_record_of_todays_code_is_fresh_and_one_of_other_code_is_stale(tmp_path, smoke_record):
    store = _store(tmp_path)
    assert smoke_record.provenance["source_hash"] == source_hash()
    old = _from_version(smoke_record, "0123456789abcdef")
    assert stale_records([smoke_record], store) == []
    assert stale_records([old], store) == [old]
    assert "1 of the 1 records" in stale_note([old], store)


def test_records_without_a_source_hash_are_stale(tmp_path, smoke_record):
    legacy = dataclasses.replace(smoke_record, provenance={k: v for k, v in smoke_record.provenance.items()
                                                           if k != "source_hash"})
    assert stale_records([legacy], _store(tmp_path)) == [legacy]


def test_a_version_whose_sample_reproduces_exactly_becomes_fresh(tmp_path, smoke_record, mnist_data_root_session):
    store = _store(tmp_path)
    old = _from_version(smoke_record, "0123456789abcdef")
    assert verification_sample([old, smoke_record]) == [old]  # today's records need no check
    [check] = verify(store, [old], data_root=mnist_data_root_session)
    assert check.reproduced == (old.key,) and check.mismatched == {}
    assert check.families == {"reproduced": [family(old.config)], "mismatched": []}
    assert stale_records([old], store) == []
    assert read_ledger(store)[0]["checked_under"] == source_hash()


def test_a_version_whose_sample_differs_stays_stale_and_says_where(tmp_path, smoke_record, mnist_data_root_session):
    store = _store(tmp_path)
    drifted = _from_version(smoke_record, "fedcba9876543210", accuracy=smoke_record.accuracy + 1e-9)
    [check] = verify(store, [drifted], data_root=mnist_data_root_session)
    assert check.mismatched == {drifted.key: ["metrics.accuracy"]}
    assert check.families == {"reproduced": [], "mismatched": [family(drifted.config)]}
    assert stale_records([drifted], store) == [drifted]


def _check(a: str, b: str, reproduced=(), mismatched=()) -> dict:
    """A ledger entry between versions a and b with the families it reproduced and mismatched."""
    return {"source_hash": a, "checked_under": b, "reproduced": [], "mismatched": {},
            "families": {"reproduced": list(reproduced), "mismatched": list(mismatched)}}


def test_equivalence_is_transitive_within_a_family_only():
    ledger = [_check("a", "b", reproduced=["F"]), _check("b", "c", reproduced=["F", "G"]),
              _check("d", "c", reproduced=["G"])]
    assert equivalent_sources(ledger, "c", "F") == {"a", "b", "c"}
    assert equivalent_sources(ledger, "c", "G") == {"b", "c", "d"}  # a's F check says nothing of G
    assert equivalent_sources(ledger, "c", "H") == {"c"}


def test_a_mismatch_outweighs_any_success_between_the_same_versions():
    ledger = [_check("a", "c", reproduced=["F", "G"]), _check("a", "c", reproduced=["G"], mismatched=["F"])]
    assert equivalent_sources(ledger, "c", "F") == {"c"}
    assert equivalent_sources(ledger, "c", "G") == {"a", "c"}  # the check's other family still links


def test_a_version_that_differs_from_todays_is_not_fresh_through_a_detour():
    # a ~ b ~ c for F, but a was measured to differ from c itself: a cannot count (b was checked against c)
    ledger = [_check("a", "b", reproduced=["F"]), _check("b", "c", reproduced=["F"]),
              _check("a", "c", mismatched=["F"])]
    assert equivalent_sources(ledger, "c", "F") == {"b", "c"}
    # two linked versions measured to differ from each other: neither computes today's numbers for sure
    ledger = [_check("a", "c", reproduced=["F"]), _check("b", "c", reproduced=["F"]),
              _check("a", "b", mismatched=["F"])]
    assert equivalent_sources(ledger, "c", "F") == {"c"}
    # a version differing from one that does compute today's numbers is simply not linked
    ledger = [_check("b", "c", reproduced=["F"]), _check("a", "b", mismatched=["F"])]
    assert equivalent_sources(ledger, "c", "F") == {"b", "c"}


def test_old_ledger_entries_get_their_families_from_their_keys(tmp_path, smoke_record):
    store = _store(tmp_path)
    old = _from_version(smoke_record, "0123456789abcdef")
    store.put(old)
    entry = {"source_hash": "0123456789abcdef", "checked_under": source_hash(), "reproduced": [old.key],
             "mismatched": {"ffffffffffffffff": ["metrics.accuracy"]}}  # a key whose record is gone names no family
    (store.root / "equivalences.json").write_text(json.dumps([entry]))
    assert read_ledger(store)[0]["families"] == {"reproduced": ["weight/snip/before@mlp5"], "mismatched": []}
    assert stale_records([old], store) == []
    other_family = _from_version(dataclasses.replace(old, config=dataclasses.replace(old.config, criterion="random")),
                                 "0123456789abcdef")
    assert stale_records([other_family], store) == [other_family]


def test_the_family_names_granularity_criterion_timing_ablation_and_model(smoke_record):
    config = smoke_record.config
    assert family(config) == "weight/snip/before@mlp5"
    assert family(dataclasses.replace(config, ablation="shuffle")) == "weight/snip/before/shuffle@mlp5"
    assert family(dataclasses.replace(config, model="lenet5")) == "weight/snip/before@lenet5"


def test_the_verification_sample_takes_the_cheapest_record_of_each_version_and_family(smoke_record):
    def at(version, seconds, **changes):
        record = _from_version(smoke_record, version)
        return dataclasses.replace(record, config=dataclasses.replace(record.config, **changes),
                                   resources={"total_seconds": seconds})
    slow, fast = at("v1", 9.0), at("v1", 1.0, seed=1)
    other = at("v1", 5.0, criterion="random")
    later = at("v2", 3.0)
    assert verification_sample([slow, fast, other, later, smoke_record]) == [other, fast, later]  # by version, family
    assert verification_sample([slow, fast], per_family=2) == [fast, slow]


def test_differences_ignore_timing_and_provenance_only(smoke_record):
    timed = dataclasses.replace(smoke_record, resources={"total_seconds": 1.0}, provenance={"date": "x"})
    assert differences(smoke_record, timed) == []
    changed = dataclasses.replace(smoke_record, layer_sparsity={**smoke_record.layer_sparsity, "extra": 0.5})
    assert differences(smoke_record, changed) == ["layer_sparsity.extra"]


def test_cli_lists_stale_records_and_counts_them(tmp_path, smoke_record, capsys):
    from prunekit.cli import main

    store = _store(tmp_path)
    store.put(_from_version(smoke_record, "0123456789abcdef"))
    assert main(["results", "--results-dir", str(tmp_path / "store"), "--stale"]) == 0
    out = capsys.readouterr().out
    assert smoke_record.key in out and "1 of 1 records" in out and "code 0123456789abcdef" in out
    assert main(["results", "--results-dir", str(tmp_path / "store"), "--refresh", "--worker", "2", "--workers", "2"]) != 0


def test_a_check_made_in_a_sibling_store_freshens_every_store_of_the_folder(tmp_path, smoke_record):
    old = _from_version(smoke_record, "0123456789abcdef")
    table3, sample = ResultStore(tmp_path / "mnist-paper"), ResultStore(tmp_path / "equivalence")
    for store in (table3, sample):
        store.root.mkdir()
    assert stale_records([old], table3) == [old]
    entry = {"source_hash": "0123456789abcdef", "checked_under": source_hash(), "reproduced": ["k"], "mismatched": {},
             "families": {"reproduced": [family(old.config)], "mismatched": []}}
    (sample.root / "equivalences.json").write_text(json.dumps([entry]))
    assert stale_records([old], table3) == []
    elsewhere = ResultStore(tmp_path / "other-folder" / "cpu")
    elsewhere.root.mkdir(parents=True)
    assert stale_records([old], elsewhere) == [old]  # only stores of the same results folder share checks


def test_the_source_hash_covers_the_whole_package_but_not_the_book_code():
    from pathlib import Path

    import prunekit
    from prunekit.experiments.record import PACKAGE_DIR, source_files

    assert PACKAGE_DIR == Path(prunekit.__file__).resolve().parent
    names = {p.relative_to(PACKAGE_DIR).as_posix() for p in source_files()}
    assert {"core/masks.py", "experiments/run.py", "pruning/before.py"} <= names
    assert not any(name.startswith("paper/") for name in names)


def test_cli_narrows_stale_records_to_what_a_chapter_reads(tmp_path, smoke_record, mnist_data_root_session, capsys):
    from prunekit.cli import main
    from prunekit.paper.coverage import chapter_requests

    store = ResultStore(tmp_path / "smoke")  # a chapter's store is named after its profile
    store.root.mkdir()
    read = next(c for c in chapter_requests("metrics", "smoke", results_dir=store.root).runs)
    assert read.key != smoke_record.key
    store.put(_from_version(run(read, progress=False, data_root=mnist_data_root_session), "0123456789abcdef"))
    store.put(_from_version(smoke_record, "0123456789abcdef"))  # stale too, but no chapter of this test reads it
    assert main(["results", "--results-dir", str(store.root), "--stale", "--chapter", "metrics"]) == 0
    out = capsys.readouterr().out
    assert read.key in out and smoke_record.key not in out and "1 of 1 records" in out
    assert main(["results", "--results-dir", str(store.root), "--stale", "--chapter", "setup"]) != 0


def test_refresh_skips_a_record_another_worker_refreshed_meanwhile(tmp_path, smoke_record, mnist_data_root_session):
    from prunekit.experiments.freshness import refresh

    store = _store(tmp_path)
    old = _from_version(smoke_record, "0123456789abcdef")
    store.put(old)
    store.put(smoke_record)  # another worker got there first: the stored record is today's
    assert refresh(store, [old], data_root=mnist_data_root_session) == 0
    store.put(old)
    assert refresh(store, [old], data_root=mnist_data_root_session) == 1
    assert stale_records(store.records(), store) == []
