"""Which stored records today's code would compute differently: stale means *would compute differently*.

Every record carries the hash of the package source that made it (``provenance.source_hash``). A record is
fresh when that hash is today's, or when its code version was shown to compute exactly what today's code
computes **for the record's method family** (``family``: node or weight, criterion, when it prunes, ablation,
model).
Such a check re-runs a sample of a version's records under today's code with each record's own thread count
and compares masks, metrics and per-epoch history exactly (timing, memory and provenance may differ); it is
kept in the store's ledger (``equivalences.json``) with the families it reproduced and those it did not.
Two versions are linked *for a family F* when some check between them reproduced F and none mismatched F;
links are read transitively per family (a refactor checked against the version before it inherits that
version's checks for the same family), and a version with a mismatch of F against any version linked to
today's is never fresh for F. So one reproduced family never vouches for another, and a mismatch is never
outweighed by an older success. Equivalence is a property of two code versions, not of one store, so the
checks of every store in the same results folder count for all of them: ``results/equivalence`` holds one
tiny run of every method family, cheap to re-run after each refactor. A refactor that changes no number thus
leaves the stores fresh without re-running them. A record without a source hash (made before hashes were
recorded) is stale until it is re-run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from prunekit.core.determinism import single_threaded
from prunekit.experiments.config import RunConfig
from prunekit.experiments.record import RunRecord, source_hash
from prunekit.experiments.run import run
from prunekit.experiments.store import ResultStore, _atomic_write

log = logging.getLogger(__name__)

LEDGER_NAME = "equivalences.json"
NO_HASH = "unknown"  # the code version of records made before source hashes were recorded


def record_source(record: RunRecord) -> str:
    """The source hash of the code that made ``record`` (``unknown`` for records older than the hash)."""
    return record.provenance.get("source_hash") or NO_HASH


def ledger_path(store: ResultStore) -> Path:
    """Where a store keeps its equivalence checks."""
    return store.root / LEDGER_NAME


def family(config: RunConfig) -> str:
    """A run's method family, the unit a check vouches for: node or weight, criterion, when it prunes, ablation,
    on which model (a check on an MLP says nothing of the convolution code paths), e.g. 'weight/snip/before@mlp5'."""
    parts = ["node" if config.structured else "weight", config.criterion, config.prune_at]
    return "/".join(parts + ([config.ablation] if config.ablation != "none" else [])) + f"@{config.model}"


def read_ledger(store: ResultStore) -> list[dict[str, Any]]:
    """The store's equivalence checks, oldest first ([] when none was made), each with its ``families``
    (entries written before families were recorded get them from their keys' configs, which never change)."""
    path = ledger_path(store)
    if not path.is_file():
        return []
    entries = json.loads(path.read_text())
    if not isinstance(entries, list):
        raise ValueError(f"{path} must hold a JSON list of checks, got {type(entries).__name__}")
    return [entry if "families" in entry else {**entry, "families": _families_from_keys(store, entry)}
            for entry in entries]


def _families_from_keys(store: ResultStore, entry: Mapping[str, Any]) -> dict[str, list[str]]:
    """The families of an entry's reproduced and mismatched keys; a key whose record is gone names none."""
    def of(keys: Iterable[str]) -> list[str]:
        return sorted({family(r.config) for r in map(store.get, keys) if r is not None})
    return {"reproduced": of(entry["reproduced"]), "mismatched": of(entry["mismatched"])}


def equivalent_sources(ledger: Iterable[Mapping[str, Any]], current: str, family: str) -> set[str]:
    """Every code version that computes what ``current`` computes for ``family``: linked to it through checks
    that reproduced the family and never mismatched it, and with no mismatch of it against a linked version."""
    linked, clashing = set(), set()
    for entry in ledger:
        pair = frozenset((entry["source_hash"], entry["checked_under"]))
        if NO_HASH in pair or len(pair) < 2:
            continue
        if family in entry["families"]["mismatched"]:
            clashing.add(pair)
        elif family in entry["families"]["reproduced"]:
            linked.add(pair)
    linked -= clashing
    excluded: set[str] = set()
    while True:
        fresh = _component(current, {p for p in linked if not p & excluded})
        # two versions that differ cannot both compute today's numbers: when links join a clashing pair,
        # neither counts (unless one is today's own)
        newly = {v for pair in clashing if pair <= fresh for v in pair if v != current} - excluded
        if not newly:
            return fresh
        excluded |= newly


def _component(start: str, pairs: Iterable[frozenset[str]]) -> set[str]:
    """The versions reachable from ``start`` over ``pairs``."""
    neighbours: dict[str, set[str]] = {}
    for a, b in (tuple(p) for p in pairs):
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    seen, todo = {start}, [start]
    while todo:
        for other in neighbours.get(todo.pop(), ()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def shared_ledger(store: ResultStore) -> list[dict[str, Any]]:
    """The checks of ``store`` and of every other store in its results folder (equivalence is about code)."""
    siblings = sorted(p.parent for p in store.root.parent.glob(f"*/{LEDGER_NAME}") if p.parent != store.root)
    return [*read_ledger(store), *(entry for root in siblings for entry in read_ledger(ResultStore(root)))]


def stale_records(records: Iterable[RunRecord], store: ResultStore, current: str | None = None) -> list[RunRecord]:
    """The records whose code version is not today's nor checked equivalent to it for the record's family
    (by any store's checks in the same results folder)."""
    fresh = FreshVersions(shared_ledger(store), current or source_hash())
    return [r for r in records if not fresh.covers(r)]


class FreshVersions:
    """Per family, the code versions that compute today's numbers (worked out once per family)."""

    def __init__(self, ledger: Sequence[Mapping[str, Any]], current: str) -> None:
        self.ledger, self.current = ledger, current
        self._by_family: dict[str, set[str]] = {}

    def covers(self, record: RunRecord) -> bool:
        """True when ``record``'s code version computes today's numbers for its family."""
        name = family(record.config)
        if name not in self._by_family:
            self._by_family[name] = equivalent_sources(self.ledger, self.current, name)
        return record_source(record) in self._by_family[name]


def differences(stored: RunRecord, rerun: RunRecord) -> list[str]:
    """Where a re-run differs from the stored record, as dotted paths (timing, memory and provenance ignored)."""
    return _diff(stored.comparable(), rerun.comparable(), "")


def _diff(a: Any, b: Any, path: str) -> list[str]:
    """Dotted paths at which two JSON-like values differ (exactly: floats must be bit-identical)."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return [d for k in sorted(set(a) | set(b)) for d in _diff(a.get(k), b.get(k), f"{path}.{k}" if path else k)]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _diff(x, y, f"{path}[{i}]")]
    return [] if a == b else [path or "<root>"]


def verification_sample(records: Sequence[RunRecord], per_family: int = 1, current: str | None = None
                        ) -> list[RunRecord]:
    """Up to ``per_family`` records of every method family of every other code version that has a hash,
    cheapest first (a check vouches only for the families it re-ran)."""
    current = current or source_hash()
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    for r in records:
        if record_source(r) not in (current, NO_HASH):
            groups.setdefault((record_source(r), family(r.config)), []).append(r)
    cheapest_first = (sorted(groups[g], key=lambda r: r.resources.get("total_seconds", float("inf")))
                      for g in sorted(groups))
    return [r for ranked in cheapest_first for r in ranked[:per_family]]


def rerun(record: RunRecord, data_root: str | None = None) -> RunRecord:
    """``record``'s config run again under today's code with the thread count the record was made with."""
    threads = int(record.provenance.get("torch_threads") or 1)
    with single_threaded(threads):
        return run(record.config, progress=False, data_root=data_root)


def refresh(store: ResultStore, records: Sequence[RunRecord], data_root: str | None = None) -> int:
    """Re-run ``records`` under today's code (this process's thread count) and overwrite them, with their
    trained networks where the store keeps one; a record another process refreshed meanwhile is skipped (workers
    whose shares were drawn from different stale lists do not repeat each other). Returns how many ran."""
    ran = 0
    fresh = FreshVersions(shared_ledger(store), source_hash())
    for record in tqdm(records, desc="refresh", unit="run"):
        now = store.get(record.config)
        if now is not None and fresh.covers(now):
            log.info("skipped %s: refreshed meanwhile", record.key)
            continue
        ran += 1
        keep = store.has_model(record.config)
        new = run(record.config, progress=False, data_root=data_root, keep_model=keep)
        store.put(new)
        if keep:
            store.put_model(new, new.model)
        log.info("refreshed %s: %s", record.key, "same numbers" if not differences(record, new) else "new numbers")
    return ran


@dataclass(frozen=True)
class Check:
    """One code version's check against today's code: which sampled records (and so which of their method
    families) reproduced, which did not."""

    source_hash: str
    checked_under: str
    reproduced: tuple[str, ...]
    mismatched: dict[str, list[str]]
    families: dict[str, list[str]]

    def as_entry(self) -> dict[str, Any]:
        """The ledger's JSON form, dated."""
        return {"source_hash": self.source_hash, "checked_under": self.checked_under,
                "reproduced": list(self.reproduced), "mismatched": self.mismatched, "families": self.families,
                "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def verify(store: ResultStore, sample: Sequence[RunRecord], data_root: str | None = None) -> list[Check]:
    """Re-run ``sample`` under today's code, compare exactly, and append one check per code version to the
    store's ledger (written atomically after every version, so an interrupted check keeps what it found)."""
    current = source_hash()
    versions: dict[str, list[RunRecord]] = {}
    for r in sample:
        versions.setdefault(record_source(r), []).append(r)
    checks = []
    for version, records in versions.items():
        if version == NO_HASH:
            raise ValueError("records without a source hash cannot vouch for a code version: re-run them instead")
        mismatched, reproduced, families = {}, [], {"reproduced": set(), "mismatched": set()}
        for record in records:
            diff = differences(record, rerun(record, data_root))
            if diff:
                mismatched[record.key] = diff[:20]
            else:
                reproduced.append(record.key)
            families["mismatched" if diff else "reproduced"].add(family(record.config))
            log.info("verify %s (%s): %s", record.key, version, "identical" if not diff else f"{len(diff)} differences")
        check = Check(version, current, tuple(reproduced), mismatched, {k: sorted(v) for k, v in families.items()})
        _atomic_write(ledger_path(store), json.dumps([*read_ledger(store), check.as_entry()], indent=1))
        checks.append(check)
    return checks


def stale_note(records: Sequence[RunRecord], store: ResultStore, scope: str | None = None) -> str:
    """One line for the top of a page: how many of ``records`` (the store's, or those ``scope`` names, e.g.
    'this page reads') today's code would compute anew."""
    stale = stale_records(records, store)
    where = f"`results/{store.root.name}/`"
    which = f"records {scope} (from {where})" if scope else f"records in {where}"
    if not stale:
        return (f"All {len(records)} {which} were computed by today's code or by code checked to compute "
                f"the same numbers for their method family.")
    return (f"**{len(stale)} of the {len(records)} {which} are stale**: computed by a code version not "
            f"checked to give today's numbers for their method family (`prunekit results --stale` lists them, "
            f"`--refresh` re-runs them); the numbers on this page come from them.")


__all__ = [
    "LEDGER_NAME",
    "FreshVersions",
    "family",
    "shared_ledger",
    "Check",
    "differences",
    "equivalent_sources",
    "read_ledger",
    "record_source",
    "refresh",
    "rerun",
    "stale_note",
    "stale_records",
    "verification_sample",
    "verify",
]
