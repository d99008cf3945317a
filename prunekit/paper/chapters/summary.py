"""The summary page: the registered claims with their three-valued verdicts, the amendments, and the chapters' checks.

Registered claims (``prunekit.paper.registry``) are the paper's empirical statements with a test fixed in
advance; only they are counted. The chapters' own checks (``prunekit.paper.checks``: identities, bookkeeping,
statements not yet registered) are listed apart as checks of this edition.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from prunekit.experiments.freshness import stale_records
from prunekit.experiments.record import RunRecord
from prunekit.experiments.store import ResultStore
from prunekit.paper.checks import load_claims
from prunekit.paper.evidence import RULE, VERDICTS
from prunekit.paper.registry import (AWAITING_DATA, AWAITING_RUNS, CLAIMS, amendments_frame, claims_by_id,
                                     claims_frame, deciding_records, load_profile_units, normalise)
from prunekit.paper.prose import plain_math
from prunekit.paper.runs import Requests, requesting

AWAITING = AWAITING_RUNS
VERDICT_ORDER = (*VERDICTS, AWAITING_RUNS, AWAITING_DATA)
PAPER_PARTS = ("Abstract", "Section", "Appendix")  # the paper's order, by a location's first word
# Seven columns fit the page's full width: the location joins the sentence, the unit joins the test.
CLAIM_COLUMNS = {"sentence": "the paper says (where)", "reading": "our reading", "test": "test (unit)",
                 "evidence": "our numbers (n per side)", "verdict": "verdict", "stale": "stale runs",
                 "setting": "our setting"}


def claim_profiles() -> list[str]:
    """The profiles whose stores decide registered claims, in first-use order."""
    return list(dict.fromkeys(c.profile for c in CLAIMS))


def records_by_profile(results_root: str | Path) -> dict[str, list[RunRecord]]:
    """The records of every store a registered claim is decided on (a missing store gives no entry)."""
    root = Path(results_root)
    return {p: ResultStore(root / p).records() for p in claim_profiles() if (root / p).is_dir()}


def units_by_profile(results_root: str | Path, profiles: Iterable[str]) -> dict[str, dict[str, dict]]:
    """Per profile, the chapters' per-unit files its claims need (written by the chapters' pages, by chapter)."""
    return {p: load_profile_units(results_root, p) for p in profiles}


def registered_claims(records: dict[str, Sequence[RunRecord]],
                      units: dict[str, dict[str, dict]] | None = None,
                      stale: dict[str, set[str]] | None = None) -> pd.DataFrame:
    """One row per registered claim, verdicts decided on each claim's own profile's records and units files, and
    how many of the runs it reads are stale (``stale``: per profile, the stale records' keys)."""
    frame = claims_frame(records, units)
    by_id = claims_by_id()
    frame["stale"] = [_stale_share(by_id[i], records.get(p, []), (stale or {}).get(p, set()))
                      for i, p in zip(frame["id"], frame["profile"])]
    return frame


def claims_reads(records: dict[str, Sequence[RunRecord]], profile: str) -> Requests:
    """The runs of ``profile``'s store that the registered claims read: what the page's stale line counts."""
    return requesting(r.config for c in CLAIMS if c.profile == profile
                      for r in deciding_records(c, records.get(profile, [])))


def _stale_share(claim, records: Sequence[RunRecord], stale: set[str]) -> str:
    """'k of n' over the runs a claim reads ('—' for a claim on a chapter's units file or without runs yet)."""
    read = deciding_records(claim, records)
    return f"{sum(r.key in stale for r in read)} of {len(read)}" if read else "—"


def stale_sentence(claims: pd.DataFrame) -> str:
    """How many decided claims rest, wholly or in part, on runs today's code would compute differently."""
    decided = claims[claims["verdict"].isin(VERDICTS)]
    on_stale = [s for s in decided["stale"] if s != "—" and not s.startswith("0 of")]
    if not on_stale:
        return f"Every one of the {len(decided)} decided claims reads runs computed by today's code (or code checked to match)."
    return (f"{len(on_stale)} of the {len(decided)} decided claims read stale runs (column 'stale runs'): their verdicts "
            f"may move when those runs are refreshed.")


def stale_keys_by_profile(records: dict[str, Sequence[RunRecord]], results_root: str | Path) -> dict[str, set[str]]:
    """Per store, the keys of the records today's code would compute differently."""
    root = Path(results_root)
    return {p: {r.key for r in stale_records(rs, ResultStore(root / p))} for p, rs in records.items()}


def verdict_counts(claims: pd.DataFrame) -> dict[str, int]:
    """How many registered claims hold, are contradicted, inconclusive or still await their runs or data."""
    counts = claims["verdict"].value_counts()
    return {verdict: int(counts.get(verdict, 0)) for verdict in VERDICT_ORDER}


def verdicts_by_location(claims: pd.DataFrame) -> pd.DataFrame:
    """How many claims of each part of the paper hold, are contradicted, inconclusive or await runs or data."""
    table = pd.crosstab(claims["where"].str.split(" (", n=1, regex=False).str[0], claims["verdict"])
    table = table.reindex(columns=[v for v in VERDICT_ORDER if v in table.columns], fill_value=0)
    table["claims"] = table.sum(axis=1)
    order = sorted(table.index, key=lambda where: (PAPER_PARTS.index(where.split()[0]) if where.split()[0] in PAPER_PARTS
                                                   else len(PAPER_PARTS), where))
    return table.loc[order].rename_axis(index="where in the paper", columns=None).reset_index()


def counts_sentence(counts: dict[str, int]) -> str:
    """The ledger in one sentence, contradicted claims named as plainly as those that hold."""
    total = sum(counts.values())
    text = (f"Of the {total} registered claims, {counts['holds']} hold, "
            f"{counts['contradicted']} are contradicted by our runs and {counts['inconclusive']} are inconclusive")
    waiting = [f"{counts[state]} {what}" for state, what in ((AWAITING_RUNS, "await their runs"),
                                                             (AWAITING_DATA, "await their chapter's data"))
               if counts.get(state)]
    return text + (f"; {' and '.join(waiting)}." if waiting else ".")


def claims_table(claims: pd.DataFrame) -> pd.DataFrame:
    """The registered claims as the page shows them, columns renamed for readers."""
    shown = claims.assign(setting=[f"{s} (store: {p})" for s, p in zip(claims["setting"], claims["profile"])],
                          sentence=[f"“{normalise(plain_math(s))}” ({w})"
                                    for s, w in zip(claims["sentence"], claims["where"])],
                          test=[f"{t} (unit: {u})" for t, u in zip(claims["test"], claims["unit"])])
    return shown[list(CLAIM_COLUMNS)].rename(columns=CLAIM_COLUMNS)


def stale_lines(records: dict[str, Sequence[RunRecord]], stale: dict[str, set[str]]) -> list[str]:
    """Per store a claim reads, how many of its records today's code would compute differently (``stale``: the
    keys :func:`stale_keys_by_profile` found)."""
    return [f"`results/{p}`: {len(stale[p])} of {len(rs)} records stale" for p, rs in records.items()]


def chapter_checks(results_root: str | Path, chapters: Iterable[str]) -> pd.DataFrame:
    """The chapters' own checks (not counted as claims), as recorded under ``<results_root>/claims``."""
    ledger = load_claims(results_root, list(chapters))
    shown = ledger.assign(outcome=ledger["holds"].map({True: "as stated", False: "not as stated"}))
    return shown[["chapter", "section", "claim", "paper", "ours", "outcome"]].rename(columns={
        "section": "where in the paper", "claim": "statement checked", "paper": "the paper's evidence"})


def checks_sentence(checks: pd.DataFrame, chapters: Sequence[str]) -> str:
    """How many chapter checks came out as stated, and which chapters record none."""
    as_stated = int((checks["outcome"] == "as stated").sum())
    text = f"{as_stated} of the chapters' {len(checks)} checks come out as stated."
    silent = [c for c in chapters if c not in set(checks["chapter"])]
    return text + (f" Chapters that record no checks: {', '.join(silent)}." if silent else "")


__all__ = ["AWAITING", "AWAITING_DATA", "AWAITING_RUNS", "RULE", "amendments_frame", "chapter_checks", "claims_reads", "checks_sentence", "claim_profiles",
           "claims_table", "counts_sentence", "records_by_profile", "registered_claims", "stale_lines",
           "units_by_profile", "verdict_counts", "verdicts_by_location"]
