"""The claims registry: verbatim sentences, typed tests, verdicts decided on the runs the claim names."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from prunekit.experiments.config import RunConfig

from prunekit.experiments.record import RunRecord
from prunekit.experiments.methods import record_method
from prunekit.paper.evidence import CONTRADICTED, HOLDS, INCONCLUSIVE
from prunekit.paper.registry import CLAIMS, ClaimTest, Side, amendments_frame, claims_by_id, claims_frame, decide, normalise
from prunekit.experiments.store import ResultStore

PAPER = Path(__file__).resolve().parents[3] / "shared" / "paper" / "snip-it-paper.md"


@pytest.mark.skipif(not PAPER.is_file(), reason="the paper's text lives in ../shared/paper")
def test_every_sentence_is_quoted_verbatim_from_the_paper():
    text = normalise(PAPER.read_text())
    assert [c.id for c in CLAIMS if normalise(c.sentence) not in text] == []


def test_ids_are_unique_and_every_claim_has_a_reading_and_a_setting():
    assert len(claims_by_id()) == len(CLAIMS)
    assert all(c.reading and c.location and c.profile for c in CLAIMS)


def test_the_papers_grasp_and_random_comparisons_are_registered():
    tested = {(c.test.a.method, c.test.b.method) for c in CLAIMS if c.test.b is not None}
    assert ("snip-it", "grasp") in tested and ("snip-it", "random") in tested


def test_a_test_refuses_a_margin_without_its_source_and_unpaired_levels():
    with pytest.raises(ValueError, match="margin"):
        ClaimTest("on_par", Side("a", (0.9,)), Side("b", (0.9,)), margin=0.01)
    with pytest.raises(ValueError, match="pair level for level"):
        ClaimTest("better", Side("a", (0.9, 0.95)), Side("b", (0.9,)))
    with pytest.raises(ValueError, match="kind"):
        ClaimTest("looks-better", Side("a", (0.9,)), Side("b", (0.9,)))


def _records(criterion: str, prune_at: str, sparsity: float, accuracies: list[float]) -> list[RunRecord]:
    base = RunConfig(model="mlp5", dataset="mnist", criterion=criterion, prune_at=prune_at, sparsity=sparsity,
                     epochs=80)
    return [RunRecord(base.replace(seed=i), {"accuracy": a}, {}, [], [], {}, {}) for i, a in enumerate(accuracies)]


@pytest.mark.parametrize("during, imp, verdict", [([0.971, 0.972, 0.970], [0.960, 0.961, 0.962], HOLDS),
                                                  ([0.950, 0.951, 0.952], [0.960, 0.961, 0.962], CONTRADICTED),
                                                  ([0.950, 0.990, 0.970], [0.960, 0.961, 0.962], INCONCLUSIVE)])
def test_a_claim_is_decided_on_the_runs_it_names(during, imp, verdict):
    claim = claims_by_id()["t3-during-beats-imp-global"]
    records = _records("snip-it", "during", 0.98, during) + _records("imp-global", "during", 0.98, imp)
    records += _records("snip-it", "before", 0.98, [0.1, 0.1, 0.1])  # another method: never read
    assert decide(claim, records).verdict == verdict


def test_a_claim_without_its_runs_awaits_them_and_validation_runs_never_decide():
    claim = claims_by_id()["t3-during-beats-hoyersquare"]
    validation = [dataclasses.replace(r, config=r.config.replace(validation=0.2))
                  for r in _records("snip-it", "during", 0.98, [0.97, 0.97])]
    assert decide(claim, validation) is None
    frame = claims_frame({})
    assert set(frame["verdict"]) == {"awaiting runs"} and len(frame) == len(CLAIMS)
    assert list(amendments_frame().columns) == ["claim", "old test", "new test", "date", "reason"]


def test_every_pre_registered_claim_is_older_than_every_run_that_decides_it():
    results = Path(__file__).resolve().parents[2] / "results"
    for claim in (c for c in CLAIMS if not c.data_existed):
        store = ResultStore(results / claim.profile)
        records = store.records() if store.root.is_dir() else []
        methods = {claim.test.a.method} | ({claim.test.b.method} if claim.test.b else set())
        deciding = [r for r in records if record_method(r) in methods and r.config.validation == 0.0]
        assert all(r.provenance["date"] > claim.registered for r in deciding), claim.id
