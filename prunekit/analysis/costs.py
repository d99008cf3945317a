"""Appendix K.4–K.7 (Figures 16–21): costs of each run as a reduction w.r.t. the unpruned baseline.

Direction. Every ratio is a *reduction factor* ``baseline / method``, as the paper reports them
(Appendix H: "always only reported … as a reduction w.r.t. the unpruned baseline"; Table 1's
"49×"): above 1 the method is cheaper, 2 means half the cost, below 1 it costs more (e.g. the
2×-epoch methods' training FLOPs). The baseline itself scores exactly 1.

Baseline. For each run the baseline is the mean over seeds of the dense runs (criterion
``none``) with the same setup columns (model, dataset, epochs, data limits, optimiser…), so the
noisy time and memory measurements are not paired seed by seed. Pass ``setup`` without
``epochs`` to compare methods trained longer against the standard baseline, as the paper does.
Disk compares CSR size with the baseline's CSR size (like with like). Time and memory depend on
the machine (CPU runs record the process's peak RSS): compare runs measured on one machine only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from prunekit.experiments import NO_CRITERION

# reduction name → record column (metrics or resources) it divides
COST_METRICS: dict[str, str] = {
    "training_flops": "training_flops",
    "inference_flops": "inference_flops",
    "disk": "csr_bits",
    "run_time": "total_seconds",
    "train_time": "train_seconds",
    "inference_time": "inference_seconds",
    "memory": "peak_memory_bytes",
}
SETUP_COLUMNS: tuple[str, ...] = ("model", "dataset", "epochs", "batch_size", "train_limit", "test_limit", "lr",
                                  "weight_decay", "grad_clip", "amp")
RUN_COLUMNS: tuple[str, ...] = ("key", "model", "dataset", "criterion", "prune_at", "sparsity", "seed",
                                "weight_sparsity", "node_sparsity", "accuracy")
SUFFIX = "_reduction"


def _chosen_metrics(df: pd.DataFrame, metrics: Mapping[str, str] | Sequence[str] | None) -> dict[str, str]:
    """The reductions to compute: all of ``COST_METRICS`` the frame has by default, else exactly those asked."""
    if metrics is None:
        return {name: col for name, col in COST_METRICS.items() if col in df.columns}
    if isinstance(metrics, Mapping):
        chosen = dict(metrics)
    else:
        unknown = [m for m in metrics if m not in COST_METRICS]
        if unknown:
            raise ValueError(f"unknown cost metric(s) {unknown}; accepted: {', '.join(COST_METRICS)}")
        chosen = {m: COST_METRICS[m] for m in metrics}
    missing = [col for col in chosen.values() if col not in df.columns]
    if missing:
        raise ValueError(f"the frame lacks column(s) {missing}; it has {list(df.columns)}")
    return chosen


def _plain(value: object) -> object:
    """A NumPy scalar as the Python value; None and NaN (a frame holds unset limits as either) as None."""
    value = value.item() if isinstance(value, np.generic) else value
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def setup_keys(df: pd.DataFrame, setup: Sequence[str]) -> pd.Series:
    """One hashable key per row from its ``setup`` values, None and NaN counted as the same missing value."""
    keys = [repr(tuple(_plain(v) for v in row)) for row in df[list(setup)].itertuples(index=False)]
    return pd.Series(keys, index=df.index, dtype=object)


def baseline_costs(df: pd.DataFrame, columns: Sequence[str], setup: Sequence[str],
                   baseline_criterion: str = NO_CRITERION) -> pd.DataFrame:
    """Mean of ``columns`` over the baseline runs (seeds) of each setup, indexed by :func:`setup_keys`."""
    base = df[df["criterion"] == baseline_criterion]
    if base.empty:
        raise ValueError(f"the frame has no baseline run (criterion {baseline_criterion!r}); criteria present: "
                         f"{sorted(df['criterion'].astype(str).unique())}")
    numeric = pd.DataFrame({c: pd.to_numeric(base[c], errors="coerce") for c in columns}, index=base.index)
    return numeric.groupby(setup_keys(base, setup), sort=True).mean()


def _setup_label(row: pd.Series, setup: Sequence[str]) -> str:
    """'model=mlp5, dataset=mnist, …' for error messages."""
    return ", ".join(f"{c}={_plain(row[c])!r}" for c in setup)


def cost_reductions(
    df: pd.DataFrame,
    metrics: Mapping[str, str] | Sequence[str] | None = None,
    setup: Sequence[str] = SETUP_COLUMNS,
    baseline_criterion: str = NO_CRITERION,
) -> pd.DataFrame:
    """Per run, ``<metric>_reduction = baseline / run`` for each cost of ``COST_METRICS`` the frame has.

    ``df`` is a :func:`prunekit.store.records_frame` (one row per run). ``metrics`` names which
    reductions to compute (names of ``COST_METRICS``, or a name → column mapping); by default
    every one whose column is present. ``setup`` columns pair runs with their baseline (only
    those present in ``df`` are used). Returns the identifying columns of each run (model,
    dataset, criterion, prune_at, sparsity, seed …, baseline rows included) and the reductions.
    Aggregate over seeds with ``prunekit.store.aggregate(out, values=[…])``.
    """
    if "criterion" not in df.columns:
        raise ValueError(f"the frame lacks the column 'criterion'; it has {list(df.columns)}")
    chosen = _chosen_metrics(df, metrics)
    if not chosen:
        raise ValueError(f"the frame has none of the cost columns {sorted(COST_METRICS.values())}")
    setup = [c for c in setup if c in df.columns]
    runs = df.reset_index(drop=True)
    base = baseline_costs(runs, list(dict.fromkeys(chosen.values())), setup, baseline_criterion)
    keys = setup_keys(runs, setup)
    lacking = ~keys.isin(base.index)
    if lacking.any():
        raise ValueError(f"no baseline run (criterion {baseline_criterion!r}) shares the setup "
                         f"{_setup_label(runs[lacking].iloc[0], setup)} of {int(lacking.sum())} run(s); run the "
                         f"dense baseline of that setup or narrow `setup`")
    out = runs[[c for c in RUN_COLUMNS if c in runs.columns]].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, col in chosen.items():
            method = pd.to_numeric(runs[col], errors="coerce").to_numpy(dtype=float)
            out[f"{name}{SUFFIX}"] = base[col].reindex(keys).to_numpy(dtype=float) / method
    return out


__all__ = ["COST_METRICS", "SETUP_COLUMNS", "SUFFIX", "baseline_costs", "cost_reductions", "setup_keys"]
