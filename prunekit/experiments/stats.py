"""Statistics over run records: per-group mean, spread and the paper's 1.96·σ/√n bound, the harmonic mean of
accuracy and sparsity, and the level a table reports per method."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from prunekit.experiments.config import CONFIG_COLUMNS, KEYLESS_FIELDS
from prunekit.measure.metrics import harmonic_mean

# Config fields that define a method (grouping key of tables); seeds and budgets collapse under them.
METHOD_COLUMNS: tuple[str, ...] = ("model", "dataset", "criterion", "prune_at")
DEFAULT_VALUES: tuple[str, ...] = ("accuracy", "weight_sparsity", "node_sparsity")
CONFIDENCE_Z = 1.96  # the paper's bound: 1.96·σ/√n


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
    "CONFIDENCE_Z",
    "METHOD_COLUMNS",
    "add_harmonic_mean",
    "aggregate",
    "best_hm",
    "seed_group_columns",
]
