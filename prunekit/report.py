"""The book's tables: result records and aggregates turned into what a chapter shows.

Store frames hold fractions; tables shown to readers use percent like the paper.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from prunekit.experiments import RunRecord
from prunekit.plots import method_label, method_order, percent_label
from prunekit.store import best_hm


def layer_frame(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Fraction of weights each prunable layer keeps, mean over seeds, per criterion and target sparsity.

    Columns: ``criterion``, ``sparsity`` (target), ``layer`` (name), ``position`` (0 = input layer),
    ``remaining`` (mean kept fraction), ``n`` (seeds).
    """
    rows = []
    for record in records:
        for position, (layer, sparsity) in enumerate(record.layer_sparsity.items()):
            rows.append({"criterion": record.config.criterion, "sparsity": record.config.sparsity,
                         "layer": layer, "position": position, "remaining": 1.0 - float(sparsity)})
    if not rows:
        return pd.DataFrame(columns=["criterion", "sparsity", "layer", "position", "remaining", "n"])
    frame = pd.DataFrame(rows)
    grouped = frame.groupby(["criterion", "sparsity", "position", "layer"], sort=True)["remaining"]
    return grouped.agg(remaining="mean", n="count").reset_index()


def _pm(mean: float, bound: float, digits: int = 1) -> str:
    """'97.1 ± 0.2' from fractions."""
    return f"{100 * mean:.{digits}f} ± {100 * bound:.{digits}f}"


def sweep_table(agg: pd.DataFrame, method: str = "criterion") -> pd.DataFrame:
    """Every (method, target sparsity) of an aggregate as readable percent strings, HM included."""
    needed = [method, "sparsity", "accuracy_mean", "accuracy_bound", "weight_sparsity_mean", "accuracy_n"]
    missing = [c for c in needed if c not in agg.columns]
    if missing:
        raise ValueError(f"the aggregate lacks column(s) {missing}; it has {list(agg.columns)}")
    rank = {name: i for i, name in enumerate(method_order(agg[method]))}
    agg = agg.assign(_rank=agg[method].astype(str).map(rank)).sort_values(["_rank", "sparsity"])
    out = pd.DataFrame({
        "method": agg[method].map(method_label),
        "target κ": [percent_label(s) for s in agg["sparsity"]],
        "weight sparsity (%)": [f"{100 * s:.2f}" for s in agg["weight_sparsity_mean"]],
        "accuracy (%)": [_pm(m, b, 2) for m, b in zip(agg["accuracy_mean"], agg["accuracy_bound"])],
        "seeds": agg["accuracy_n"].astype(int),
    })
    if "hm_mean" in agg.columns:
        out["HM"] = [f"{100 * h:.1f}" for h in agg["hm_mean"]]
    return out.reset_index(drop=True)


def paper_comparison(runs: pd.DataFrame, paper: pd.DataFrame, prune_at: str = "before",
                     method: str = "criterion") -> pd.DataFrame:
    """Per method, the paper's best-HM row beside ours (best-HM sparsity level over the same methods).

    ``runs`` has one row per run (a store frame); ``paper`` is a :func:`prunekit.reference.paper_table`
    frame. Our dense baseline (criterion ``none``) is shown beside the paper's baseline when present.
    """
    pruned = runs[runs[method] != "none"]
    ours = best_hm(pruned, by=[method]) if not pruned.empty else pd.DataFrame(columns=[method])
    rows = []
    dense = runs[runs[method] == "none"]
    base = paper[paper["method"] == "baseline"]
    if not base.empty or not dense.empty:
        rows.append({"method": "Baseline (dense)", "source": "paper",
                     "accuracy (%)": f"{base['accuracy'].iloc[0]:.0f}" if not base.empty else "",
                     "sparsity (%)": "", "HM": ""})
        if not dense.empty:
            acc = dense["accuracy"].astype(float)
            bound = 1.96 * acc.std(ddof=1) / len(acc) ** 0.5 if len(acc) > 1 else 0.0
            rows.append({"method": "Baseline (dense)", "source": "ours", "accuracy (%)": _pm(acc.mean(), bound),
                         "sparsity (%)": "", "HM": ""})
    for name in method_order(pruned[method]):
        ref = paper[(paper["method"] == name) & (paper["prune_at"] == prune_at)]
        for _, row in ref.iterrows():
            rows.append({"method": f"{method_label(name)} ({prune_at})", "source": "paper",
                         "accuracy (%)": f"{row['accuracy']:.0f} ± {row['bound']:.1f}",
                         "sparsity (%)": f"{row['sparsity']:.0f}", "HM": f"{row['hm']:.0f}"})
        mine = ours[ours[method] == name]
        for _, row in mine.iterrows():
            rows.append({"method": f"{method_label(name)} ({prune_at})", "source": "ours",
                         "accuracy (%)": _pm(row["accuracy_mean"], row["accuracy_bound"]),
                         "sparsity (%)": f"{100 * row['weight_sparsity_mean']:.1f}",
                         "HM": f"{100 * row['hm_mean']:.1f}"})
    return pd.DataFrame(rows, columns=["method", "source", "accuracy (%)", "sparsity (%)", "HM"])


__all__ = ["layer_frame", "paper_comparison", "sweep_table"]
