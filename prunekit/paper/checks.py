"""The paper's claims and whether our runs bear them out: a catalogue and a ledger the book summarises.

Each chapter checks the claims it can test from its own runs and records the outcome with
:func:`record_claims` (one JSON file per chapter beside the result records, written atomically);
the book's summary page reads them all back with :func:`load_claims`. What the paper says is
written once, in :data:`PAPER_CLAIMS`; what we observed is written by the chapter from its numbers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from prunekit.paper.tables import shared_level_means
from prunekit.experiments.store import _atomic_write

CLAIMS_FOLDER = "claims"
COLUMNS = ("chapter", "id", "section", "claim", "paper", "ours", "holds")
UNITS_SUFFIX = "-units.json"  # <chapter>-units.json: the per-unit values registered claims are decided on
UNIT_KINDS = ("image", "seed")
ENTRY_KEYS = ("model", "dataset", "method", "metric", "values")


@dataclass(frozen=True)
class PaperClaim:
    """A statement of the paper: where it is made, what it says and the paper's own evidence."""

    section: str
    claim: str
    paper: str


# Transcribed from the paper (../shared/paper/snip-it-paper.md); the id is how chapters refer to a claim.
PAPER_CLAIMS: dict[str, PaperClaim] = {
    "criterion-is-elasticity": PaperClaim(
        "Section 3", "SNIP's gate derivative equals the loss elasticity times L, so both rank weights alike",
        "derived analytically (Formula 3)"),
    "schedule": PaperClaim(
        "Algorithm 1", "SNIP-it's sparsity schedule is κ_i = κ − (κ − ½)·½^i, then κ",
        "0.5, 0.74, 0.86, 0.92, 0.95, 0.965, 0.98 for κ = 0.98"),
    "before-beats-snip": PaperClaim(
        "Section 5, Figure 2", "SNIP-it (before training) significantly surpasses SNIP in the high-sparsity regime",
        "Figures 2, 10, 12, 14: SNIP's accuracy falls away first as κ grows"),
    "during-beats-imp": PaperClaim(
        "Section 5, Table 2", "SNIP-it (during training) is Pareto-optimal against IMP-global",
        "Table 3 (MNIST, MLP5): SNIP-it 97 ± 0.1 % vs IMP-global 97 ± 0.2 % at 98 %"),
    "during-beats-snip": PaperClaim(
        "Section 5, Table 2", "SNIP-it (during training) is Pareto-optimal against SNIP",
        "Table 3: SNIP-it during 97 % at 98 % vs SNIP 96 ± 0.3 % at 95 %"),
    "during-beats-before": PaperClaim(
        "Section 5, Table 2", "SNIP-it during training beats SNIP-it before training",
        "Table 3: 97 % at 98 % (during) vs 95 ± 0.2 % at 97 % (before)"),
    "snip-input-layer": PaperClaim(
        "Section 5, Figure 4", "SNIP prunes the earlier layers hardest (its known bias)",
        "Figure 4: SNIP keeps the smallest fraction of the input layer"),
    "snip-it-parabola": PaperClaim(
        "Section 5, Figure 4", "SNIP-it prunes the middle layers harder than the outer ones (a parabola-like profile)",
        "Figure 4 at κ = 0.99"),
    "snip-saliency-few-pixels": PaperClaim(
        "Section 5, Figure 3", "SNIP over-fits on a few input pixels, unlike GraSP and SNIP-it",
        "Figure 3: saliency maps at κ = 0.99"),
    "snip-it-robustness": PaperClaim(
        "Section 5, Figure 5", "SNIP-it is at least as robust to ℓ2 Carlini–Wagner attacks as SNIP",
        "Figure 5: lower attack success than SNIP"),
    "snap-it-beats-random": PaperClaim(
        "Section 5, Figure 1", "SNAP-it reaches a better sparsity–accuracy trade-off than structured Random",
        "Table 1 (Imagenette, VGG16): SNAP-it HM above Random's; 'Random forms a strong baseline'"),
    "snap-it-beats-baselines": PaperClaim(
        "Section 5, Figure 1", "SNAP-it outperforms the structured baselines in sparsity and accuracy, even though it "
        "prunes before training", "Figure 1 (CIFAR10, VGG16) and Table 1 (Imagenette)"),
    "l0-poor": PaperClaim(
        "Section 5, Figure 1", "L0-regularisation performs notably poorly outside its own paper's settings",
        "Figure 1; Figure 11 shows it doing better in its native settings"),
    "group-hs-variance": PaperClaim(
        "Section 5, Figure 1", "Group-HS has high variance in accuracy and sparsity and collapses occasionally",
        "Figure 1"),
    "shrunk-fewer-flops": PaperClaim(
        "Section 5, Table 1", "Structured pruning before training reduces inference and training FLOPs",
        "Table 1: SNAP-it 16× inference FLOPs (VGG16, Imagenette)"),
    "before-memory": PaperClaim(
        "Appendix C, Figure 8", "Structured pruning before training lowers the memory at the start of training",
        "Figure 8 (VGG16, CIFAR10)"),
    "cnip-weight-sparsity": PaperClaim(
        "Appendix B, Figure 7", "CNIP-it reaches very high weight sparsity without much loss in accuracy, higher "
        "weight sparsity than SNAP-it", "Figure 7a (VGG16, CIFAR10); stated without numbers"),
    "cnip-low-node-sparsity": PaperClaim(
        "Appendix B, Figure 7", "CNIP-it's node sparsity is rather low, notably lower than SNAP-it's",
        "Figure 7b (VGG16, CIFAR10); stated without numbers"),
    "cnip-fewer-flops": PaperClaim(
        "Appendix B", "CNIP-it does not lead to the same speed-ups as SNAP-it",
        "stated without numbers; the reason given: it prunes few nodes"),
    "elasticity-mostly-tiny": PaperClaim(
        "Appendix A, Figure 6", "Most weights are nearly inelastic at initialisation; very few approach elasticity 1",
        "Figure 6, stated without numbers (the page's share thresholds are ours)"),
    "grasp-it-revives": PaperClaim(
        "Appendix E", "GraSP applied iteratively (pruned weights may return) reactivates already-pruned weights in "
        "a far greater proportion than it prunes the remaining ones", "stated without numbers"),
    "grasp-it-disconnects": PaperClaim(
        "Appendix E", "GraSP applied iteratively with pruned weights left out disconnects the network",
        "stated without numbers"),
    "grasp-it-ineffective": PaperClaim(
        "Appendix E", "GraSP's criterion does not work as SNIP-it's criterion (the approach was abandoned)",
        "stated without numbers"),
    "snap-it-during-on-par": PaperClaim(
        "Appendix E", "SNAP-it during training performs on par with SNAP-it before training",
        "stated without numbers"),
    "snap-it-during-delays": PaperClaim(
        "Appendix E", "SNAP-it during training delays the benefits of structured pruning (it trains larger first)",
        "stated without numbers; the reason the variant was dropped"),
    "training-flops-before": PaperClaim(
        "Section 5, App. K.4", "Pruning before training saves training FLOPs from the start; pruning during or after "
        "training saves less", "Table 1: SNAP-it's training-FLOPs advantage; Figure 16"),
    "longer-training-costs": PaperClaim(
        "App. K.4, Figure 16", "Methods that need more epochs (GateDecorators, L0) or prune after training spend more "
        "training FLOPs", "Figure 16's caption"),
    "structured-time": PaperClaim(
        "Section 5, App. K.6", "Structured pruning reduces training and inference time",
        "Table 1: SNAP-it 5–6× inference time; Figures 19, 20"),
    "unstructured-no-speedup": PaperClaim(
        "beyond the paper", "Unstructured (masked) sparsity does not make dense kernels faster",
        "not stated; the paper reports time only for structured methods"),
    "structured-median-memory": PaperClaim(
        "Section 5, App. K.7", "Structured pruning reduces the (median) memory during training",
        "Table 1: SNAP-it 16–156× RAM; Figure 21"),
    "mask-sanity": PaperClaim(
        "beyond the paper (Frankle et al. 2021)", "A mask found before training carries information beyond its "
        "layer-wise sparsities", "not tested by the paper"),
}


@dataclass(frozen=True)
class CheckedClaim:
    """One claim as a chapter checked it: the paper's statement, our evidence, and whether it holds."""

    chapter: str
    id: str
    section: str
    claim: str
    paper: str
    ours: str
    holds: bool


def check(chapter: str, claim_id: str, ours: str, holds: bool, claim: str | None = None) -> CheckedClaim:
    """A catalogue claim with our evidence; ``claim`` rewords the statement for the setting tested."""
    if claim_id not in PAPER_CLAIMS:
        raise ValueError(f"unknown claim id {claim_id!r}; known: {', '.join(PAPER_CLAIMS)}")
    if not isinstance(holds, (bool, np.bool_)):
        raise TypeError(f"holds must be a bool, got {type(holds).__name__}")
    paper = PAPER_CLAIMS[claim_id]
    return CheckedClaim(chapter, claim_id, paper.section, claim or paper.claim, paper.paper, ours, bool(holds))


def claims_folder(results_root: str | os.PathLike) -> Path:
    """Where the claim files of a profile's results live: ``<results>/claims``."""
    return Path(results_root) / CLAIMS_FOLDER


def record_claims(chapter: str, claims: Iterable[CheckedClaim], results_root: str | os.PathLike) -> Path:
    """Write the chapter's checked claims atomically to ``<results>/claims/<chapter>.json`` (replacing earlier ones)."""
    items = list(claims)
    if not chapter or not chapter.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"chapter must be a notebook name (letters, digits, - or _), got {chapter!r}")
    wrong = [c for c in items if not isinstance(c, CheckedClaim) or c.chapter != chapter]
    if wrong:
        raise ValueError(f"record_claims({chapter!r}) got claims of other chapters or types: {wrong[:3]}")
    folder = claims_folder(results_root)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{chapter}.json"
    _atomic_write(path, json.dumps([asdict(c) for c in items], indent=1, ensure_ascii=False) + "\n")
    return path


def _read(path: Path) -> list[Mapping]:
    """The claims of one file; a file that is not a list of claims raises ValueError naming it."""
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"claims file {path} is not valid JSON: {err}") from None
    if not isinstance(items, list) or any(not isinstance(i, dict) or set(i) != set(COLUMNS) for i in items):
        raise ValueError(f"claims file {path} must hold a list of objects with the fields {', '.join(COLUMNS)}")
    return items


def load_claims(results_root: str | os.PathLike, chapters: Iterable[str] | None = None) -> pd.DataFrame:
    """Every recorded claim (of ``chapters``, in that order, if given) as a frame with :data:`COLUMNS`."""
    folder = claims_folder(results_root)
    if chapters is None:
        paths = sorted(p for p in folder.glob("*.json") if not p.name.endswith(UNITS_SUFFIX)) if folder.is_dir() else []
    else:
        paths = [folder / f"{c}.json" for c in chapters if (folder / f"{c}.json").is_file()]
    rows = [item for path in paths for item in _read(path)]
    return pd.DataFrame(rows, columns=list(COLUMNS))




def units_path(chapter: str, results_root: str | os.PathLike) -> Path:
    """Where a chapter's per-unit values live: ``<results>/claims/<chapter>-units.json``."""
    return claims_folder(results_root) / f"{chapter}{UNITS_SUFFIX}"


def record_units(chapter: str, unit: str, entries: Iterable[Mapping], results_root: str | os.PathLike) -> Path:
    """Write the per-unit values a chapter measured for registered claims (one value per ``unit``: image or seed).

    Each entry names ``model``, ``dataset``, ``method``, ``metric`` and its ``values`` (finite numbers, one per
    unit), plus the conditions it was measured at (e.g. ``level``: the sparsity, ``epsilon``: an attack distance).
    """
    if unit not in UNIT_KINDS:
        raise ValueError(f"unit must be one of {', '.join(UNIT_KINDS)}, got {unit!r}")
    if not chapter or not chapter.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"chapter must be a notebook name (letters, digits, - or _), got {chapter!r}")
    items = [_unit_entry(dict(e)) for e in entries]
    path = units_path(chapter, results_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ",\n".join(json.dumps(e, ensure_ascii=False) for e in items)  # one entry a line: diffs stay readable
    _atomic_write(path, f'{{"chapter": {json.dumps(chapter)}, "unit": {json.dumps(unit)}, "entries": [\n{lines}\n]}}\n')
    return path


def _unit_entry(entry: dict) -> dict:
    """An entry checked for its keys and finite values; whole numbers kept whole (0/1 outcomes), other values rounded
    to 6 significant digits."""
    missing = [k for k in ENTRY_KEYS if k not in entry]
    if missing:
        raise ValueError(f"a units entry needs {', '.join(ENTRY_KEYS)}; {entry.get('method')!r} lacks {missing}")
    values = [float(v) for v in entry["values"]]
    if not all(np.isfinite(values)):
        raise ValueError(f"units values must be finite numbers; {entry['method']!r} {entry['metric']!r} has "
                         f"{[v for v in values if not np.isfinite(v)][:3]}")
    return {**entry, "values": [int(v) if v.is_integer() else float(f"{v:.6g}") for v in values]}


def load_units(chapter: str, results_root: str | os.PathLike) -> dict | None:
    """A chapter's per-unit values (``chapter``, ``unit``, ``entries``), or None while it has written none."""
    path = units_path(chapter, results_root)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"units file {path} is not valid JSON: {err}") from None
    if not isinstance(data, dict) or data.get("unit") not in UNIT_KINDS or not isinstance(data.get("entries"), list):
        raise ValueError(f"units file {path} must hold an object with 'chapter', 'unit' ({UNIT_KINDS}) and 'entries'")
    return data


def ordering_evidence(runs: pd.DataFrame, better: str, worse: str, minimum: float = 0.0,
                      method: str = "method", level: str = "level") -> str:
    """Our numbers behind 'better ≥ worse at every level ≥ minimum': the closest level, or where it fails."""
    means = shared_level_means(runs, better, worse, minimum, method, level)
    if means.empty:
        return f"no common sparsity level ≥ {100 * minimum:g} %"
    margins = means[better] - means[worse]
    failing = list(margins.index[margins < 0])
    shown = failing or [margins.idxmin()]
    head = "fails at" if failing else f"holds at all {len(means)} levels; closest at"
    return f"{head} " + ", ".join(f"{100 * s:g} %: {100 * means.loc[s, better]:.2f} vs {100 * means.loc[s, worse]:.2f} %"
                                  for s in shown)


__all__ = ["CLAIMS_FOLDER", "PAPER_CLAIMS", "UNITS_SUFFIX", "CheckedClaim", "PaperClaim", "check", "claims_folder",
           "load_claims", "load_units", "ordering_evidence", "record_claims", "record_units", "units_path"]
