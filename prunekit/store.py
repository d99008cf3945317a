"""Results store: one JSON record per config key, written atomically; loading, aggregation and HM selection."""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import pandas as pd

from prunekit.experiments import KEYLESS_FIELDS, RunConfig, RunRecord, json_safe
from prunekit.metrics import harmonic_mean

log = logging.getLogger(__name__)

DEFAULT_ROOT = "results"
CORRUPT_SUFFIX = ".corrupt"
CONFIG_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(RunConfig))
# Config fields that define a method (grouping key of tables); seeds and budgets collapse under them.
METHOD_COLUMNS: tuple[str, ...] = ("model", "dataset", "criterion", "prune_at")
DEFAULT_VALUES: tuple[str, ...] = ("accuracy", "weight_sparsity", "node_sparsity")
CONFIDENCE_Z = 1.96  # the paper's bound: 1.96·σ/√n


class ResultStore:
    """A directory of ``<key>.json`` run records; bad files are reported, kept aside and recomputed."""

    def __init__(self, root: str | os.PathLike = DEFAULT_ROOT) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"ResultStore({str(self.root)!r})"

    def path_for(self, config: RunConfig | str) -> Path:
        """Where the record of ``config`` (or of a key) lives."""
        key = config if isinstance(config, str) else config.key
        return self.root / f"{key}.json"

    def get(self, config: RunConfig) -> RunRecord | None:
        """The stored record of ``config``, or None if absent or unusable (then moved aside)."""
        path = self.path_for(config)
        if not path.exists():
            return None
        return self._load(path)

    def has(self, config: RunConfig) -> bool:
        """True when a valid record of ``config`` is stored."""
        return self.get(config) is not None

    def put(self, record: RunRecord) -> Path:
        """Write ``record`` atomically (temp file in the same folder, fsync, rename); return its path."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.path_for(record.key)
        text = json.dumps(json_safe(record.to_dict()), indent=1, allow_nan=False)
        _atomic_write(path, text)
        log.debug("stored %s", path)
        return path

    def records(self) -> list[RunRecord]:
        """Every valid record in the store, in key order (unusable files are moved aside)."""
        return list(self._iter_records())

    def _iter_records(self) -> Iterator[RunRecord]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob("*.json")):
            record = self._load(path)
            if record is not None:
                yield record

    def to_frame(self) -> pd.DataFrame:
        """One row per record: config fields, metrics, resources and provenance (fractions, not percent)."""
        return records_frame(self.records())

    def _load(self, path: Path) -> RunRecord | None:
        """Parse and check one file; on any defect warn, move it aside and return None."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:  # moved aside by a concurrent reader
            return None
        try:
            record = RunRecord.from_dict(json.loads(raw))
        except (ValueError, TypeError, KeyError) as err:  # bad UTF-8 and bad JSON are ValueErrors too
            self._quarantine(path, f"{type(err).__name__}: {err}")
            return None
        if record.key != path.stem:
            self._quarantine(path, f"it holds the record of key {record.key}, not {path.stem}")
            return None
        return record

    def _quarantine(self, path: Path, reason: str) -> None:
        """Rename an unusable record to ``<file>.corrupt`` (never deleting anything) and warn."""
        target = _free_name(path.with_name(path.name + CORRUPT_SUFFIX))
        try:
            os.replace(path, target)
        except FileNotFoundError:
            log.warning("result record %s is unusable (%s); another process already moved it aside", path, reason)
            return
        log.warning("result record %s is unusable (%s); moved it to %s and the run will be recomputed",
                    path, reason, target.name)


def _free_name(path: Path) -> Path:
    """``path`` if unused, else ``path.1``, ``path.2``, … so nothing earlier is overwritten."""
    candidate, n = path, 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.{n}")
    return candidate


def _default_file_mode() -> int:
    """0666 less the process umask, the mode ``open()`` would give a new file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _default_file_mode()


def _atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so readers see the old file or the whole new one, never a part."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; records are shared (and committed)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Persist a rename by syncing its directory (where the platform allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open directories; the rename itself is still atomic
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------------------------ data frames


def record_row(record: RunRecord) -> dict[str, Any]:
    """One flat row of a record: key, config fields, metrics, resources and provenance."""
    config = record.config.to_dict()
    config["criterion_options"] = json.dumps(config["criterion_options"], sort_keys=True)
    return {"key": record.key, **config, **record.metrics, **record.resources, **record.provenance}


def records_frame(records: Sequence[RunRecord]) -> pd.DataFrame:
    """A DataFrame of ``record_row`` rows (with the config columns even when empty)."""
    if not records:
        return pd.DataFrame(columns=["key", *CONFIG_COLUMNS, "accuracy", "weight_sparsity", "node_sparsity"])
    return pd.DataFrame([record_row(r) for r in records])


def seed_group_columns(df: pd.DataFrame) -> list[str]:
    """The columns that define an experiment except the seed: grouping by them collapses seeds only."""
    return [c for c in CONFIG_COLUMNS if c not in ("seed", *KEYLESS_FIELDS) and c in df.columns]


def aggregate(
    df: pd.DataFrame,
    by: Sequence[str] | None = None,
    values: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Mean, sample std, n and the bound ``1.96·σ/√n`` of ``values`` per group (default: all but the seed).

    ``values`` defaults to whichever of accuracy, weight and node sparsity ``df`` has. Columns come
    out as ``<value>_mean``, ``<value>_std``, ``<value>_n``, ``<value>_bound``; a group
    of one run has std and bound 0, as ``metrics.confidence_bound``.
    """
    by = list(seed_group_columns(df) if by is None else by)
    values = [v for v in DEFAULT_VALUES if v in df.columns] if values is None else list(values)
    _require_columns(df, [*by, *values])
    grouped = df.groupby(by, dropna=False, sort=True)
    parts = []
    for value in values:
        stats = grouped[value].agg(["mean", "std", "count"])
        stats["std"] = stats["std"].fillna(0.0)
        stats["bound"] = CONFIDENCE_Z * stats["std"] / stats["count"].map(math.sqrt)
        stats.columns = [f"{value}_{s}" for s in ("mean", "std", "n", "bound")]
        parts.append(stats)
    return pd.concat(parts, axis=1).reset_index()


def add_harmonic_mean(df: pd.DataFrame, accuracy: str = "accuracy", sparsity: str = "weight_sparsity",
                      column: str = "hm") -> pd.DataFrame:
    """A copy of ``df`` with the harmonic mean of accuracy and sparsity per row in ``column``."""
    _require_columns(df, [accuracy, sparsity])
    out = df.copy()
    out[column] = [harmonic_mean(float(a), float(s)) for a, s in zip(out[accuracy], out[sparsity])]
    return out


def best_hm(df: pd.DataFrame, by: Sequence[str] = METHOD_COLUMNS, sparsity: str = "weight_sparsity",
            level: str = "sparsity") -> pd.DataFrame:
    """Per method, the swept level (target sparsity; λ for a regularised method) whose mean HM over seeds is
    highest (how the paper's tables pick points).

    ``df`` has one row per run; the result has one row per method with the aggregated accuracy,
    sparsity and HM (mean, std, n, bound) of the chosen level.
    """
    runs = df if "hm" in df.columns else add_harmonic_mean(df, sparsity=sparsity)
    by = list(by)
    values = [v for v in ("accuracy", sparsity, "node_sparsity", "hm") if v in runs.columns]
    levels = aggregate(runs, by=[*by, level], values=values)
    best = levels.loc[levels.groupby(by, dropna=False, sort=True)["hm_mean"].idxmax()]
    return best.reset_index(drop=True)


def _require_columns(df: pd.DataFrame, columns: Sequence[str]) -> None:
    """Raise ValueError naming the columns ``df`` lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"the frame lacks column(s) {missing}; it has {list(df.columns)}")


__all__ = [
    "CORRUPT_SUFFIX",
    "ResultStore",
    "add_harmonic_mean",
    "aggregate",
    "best_hm",
    "record_row",
    "records_frame",
    "seed_group_columns",
]
