"""The equivalence sample can vouch for every committed record: it holds a run of every family a store uses."""

from pathlib import Path

from prunekit.experiments.freshness import family, stale_records
from prunekit.experiments.record import source_hash
from prunekit.experiments.store import ResultStore

RESULTS = Path(__file__).resolve().parents[2] / "results"


def _families(store: ResultStore) -> set[str]:
    return {family(r.config) for r in store.records()}


def test_every_family_of_a_committed_store_has_a_run_in_the_equivalence_sample():
    sample = _families(ResultStore(RESULTS / "equivalence"))
    stores = [p for p in sorted(RESULTS.iterdir()) if p.is_dir() and p.name != "equivalence"]
    assert stores, "no committed stores found"
    missing = {p.name: sorted(_families(ResultStore(p)) - sample) for p in stores}
    assert not any(missing.values()), f"families no check of results/equivalence can vouch for: {missing}"


def test_todays_package_reproduces_the_equivalence_sample():
    # A change to the package (outside paper/) must be checked before it lands: otherwise every committed record
    # would silently count as stale (or, worse, a change of numbers would go unnoticed).
    store = ResultStore(RESULTS / "equivalence")
    stale = stale_records(store.records(), store)
    assert not stale, (f"{len(stale)} sample runs are not checked against today's code ({source_hash()}): run "
                       f"`prunekit results --results-dir results/equivalence --verify 1` and commit its ledger")
