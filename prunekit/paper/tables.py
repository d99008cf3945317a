"""The book's tables: result records and aggregates turned into what a chapter shows.

Store frames hold fractions; tables shown to readers use percent like the paper.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from prunekit.paper.chapters.costs import SETUP_COLUMNS, cost_reductions
from prunekit.experiments.record import RunRecord
from prunekit.paper.plots import method_label, method_order, percent_label
from prunekit.experiments.methods import structured_label, structured_order, structured_timing
from prunekit.experiments.stats import add_harmonic_mean, aggregate, best_hm


def layer_frame(records: Sequence[RunRecord], method_of: Callable[[RunRecord], str] | None = None,
                column: str = "criterion") -> pd.DataFrame:
    """Fraction of weights each prunable layer keeps, mean over seeds, per method and target sparsity.

    Columns: ``column`` (the criterion, or ``method_of(record)``), ``sparsity`` (target), ``layer`` (name),
    ``position`` (0 = input layer), ``remaining`` (mean kept fraction), ``weight_sparsity`` (the runs' mean
    global sparsity, to interpolate methods whose sparsity is not set directly), ``n`` (seeds).
    """
    rows = []
    for record in records:
        name = method_of(record) if method_of is not None else record.config.criterion
        for position, (layer, sparsity) in enumerate(record.layer_sparsity.items()):
            rows.append({column: name, "sparsity": record.config.sparsity,
                         "weight_sparsity": float(record.metrics["weight_sparsity"]),
                         "layer": layer, "position": position, "remaining": 1.0 - float(sparsity)})
    if not rows:
        return pd.DataFrame(columns=[column, "sparsity", "position", "layer", "remaining", "weight_sparsity", "n"])
    frame = pd.DataFrame(rows)
    grouped = frame.groupby([column, "sparsity", "position", "layer"], sort=True)
    return grouped.agg(remaining=("remaining", "mean"), weight_sparsity=("weight_sparsity", "mean"),
                       n=("remaining", "count")).reset_index()


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


def best_points(runs: pd.DataFrame, method: str = "method", level: str = "level") -> pd.DataFrame:
    """Per method, the aggregated runs of its HM-best level (a frame from ``prunekit.experiments.methods.add_method_columns``)."""
    pruned = runs[runs[method] != "none"]
    if pruned.empty:
        raise ValueError("best_points needs at least one pruned run")
    return best_hm(pruned, by=[method], level=level)


def outside_bounds(ours_mean: float, ours_bound: float, paper_mean: float, paper_bound: float) -> bool:
    """True when two means differ by more than the sum of their 1.96·σ/√n bounds (all in the same unit)."""
    return abs(ours_mean - paper_mean) > ours_bound + paper_bound


def accuracy_at(curve: pd.DataFrame, sparsity: float) -> tuple[float, float]:
    """Mean accuracy and its bound at ``sparsity``, interpolated linearly between the two stored levels whose mean
    weight sparsity brackets it (fractions; NaN outside the measured range)."""
    points = curve.sort_values("weight_sparsity_mean")
    xs = points["weight_sparsity_mean"].to_numpy(float)
    if len(xs) == 0 or not xs[0] - 1e-9 <= sparsity <= xs[-1] + 1e-9:
        return float("nan"), float("nan")
    acc = float(np.interp(sparsity, xs, points["accuracy_mean"].to_numpy(float)))
    bound = float(np.interp(sparsity, xs, points["accuracy_bound"].to_numpy(float)))
    return acc, bound


def best_point_comparison(best: pd.DataFrame, paper: pd.DataFrame, methods: dict, dense: pd.Series | None = None,
                          curves: pd.DataFrame | None = None, method: str = "method") -> pd.DataFrame:
    """The paper's HM-best row beside ours for every method; with ``curves`` (an aggregate per method and level),
    also our accuracy interpolated at the paper's sparsity, its difference from the paper's and a flag where
    that difference exceeds the two confidence bounds together.

    ``best`` comes from :func:`best_points`; ``paper`` is a :func:`prunekit.reference.paper_table` frame for one
    dataset and model; ``methods`` maps our method keys to ``prunekit.experiments.methods.Method``; ``dense`` holds our
    dense accuracies (one per seed).
    """
    rows = []
    base = paper[paper["method"] == "baseline"]
    if dense is not None and len(dense):
        acc = dense.astype(float)
        bound = 1.96 * acc.std(ddof=1) / len(acc) ** 0.5 if len(acc) > 1 else 0.0
        row = _comparison_row("Baseline (dense)", "—", [float("nan")] * 4, 100 * acc.mean(), 100 * bound,
                              float("nan"), float("nan"), (float("nan"), float("nan")))
        row["paper accuracy (%)"] = f"{base['accuracy'].iloc[0]:.0f}" if not base.empty else ""
        rows.append(row)
    present = list(dict.fromkeys(best[method]))
    for key in [k for k in methods if k in present] + [k for k in method_order(present) if k not in methods]:
        m = methods.get(key)
        mine = best[best[method] == key].iloc[0]
        ref = paper[(paper["method"] == m.paper_method) & (paper["prune_at"] == m.prune_at)] if m and m.paper_method \
            else paper.iloc[0:0]
        paper_vals = (ref.iloc[0][["accuracy", "bound", "sparsity", "hm"]].astype(float).tolist() if not ref.empty
                      else [float("nan")] * 4)
        at = (float("nan"), float("nan"))
        if curves is not None and not ref.empty:
            at = accuracy_at(curves[curves[method] == key], paper_vals[2] / 100.0)
            at = (100 * at[0], 100 * at[1])
        rows.append(_comparison_row(method_label(key), m.prune_at if m else "", paper_vals,
                                    100 * mine["accuracy_mean"], 100 * mine["accuracy_bound"],
                                    100 * mine["weight_sparsity_mean"], 100 * mine["hm_mean"], at))
    return pd.DataFrame(rows)


def _comparison_row(label: str, prune_at: str, paper_vals: list[float], acc: float, bound: float, sparsity: float,
                    hm: float, at_paper: tuple[float, float]) -> dict:
    """One row of :func:`best_point_comparison` (percent values)."""
    p_acc, p_bound, p_sparsity, p_hm = paper_vals

    def fmt(value: float, digits: int = 1) -> str:
        return "" if value != value else f"{value:.{digits}f}"

    at_acc, at_bound = at_paper
    checked = at_acc == at_acc and p_acc == p_acc
    return {
        "method": label, "prunes": prune_at,
        "paper accuracy (%)": "" if p_acc != p_acc else f"{p_acc:.0f} ± {p_bound:.1f}",
        "paper sparsity (%)": fmt(p_sparsity, 0), "paper HM": fmt(p_hm, 0),
        "our accuracy (%)": f"{acc:.2f} ± {bound:.2f}", "our sparsity (%)": fmt(sparsity), "our HM": fmt(hm),
        "ours at the paper's sparsity (%)": f"{at_acc:.2f} ± {at_bound:.2f}" if at_acc == at_acc else "",
        "Δ accuracy (pp)": fmt(at_acc - p_acc, 2) if checked else "",
        "outside bounds": bool(checked and outside_bounds(at_acc, at_bound, p_acc, p_bound)),
    }


def shared_level_means(runs: pd.DataFrame, better: str, worse: str, minimum: float = 0.0,
                       method: str = "method", level: str = "level") -> pd.DataFrame:
    """Mean accuracy over seeds of two methods (columns ``better``, ``worse``) at every level ≥ ``minimum``
    where both ran, in level order."""
    means = {m: runs[runs[method] == m].groupby(level)["accuracy"].mean() for m in (better, worse)}
    shared = [s for s in means[better].index if s in means[worse].index and s >= minimum]
    return pd.DataFrame({m: [means[m][s] for s in shared] for m in (better, worse)}, index=pd.Index(shared, name=level))


def ordering_holds(runs: pd.DataFrame, better: str, worse: str, minimum: float = 0.0,
                   method: str = "method", level: str = "level") -> tuple[list[float], bool]:
    """The levels ≥ ``minimum`` where both methods ran, and whether ``better``'s mean accuracy over seeds is at
    least ``worse``'s at every one of them (a frame from ``prunekit.experiments.methods.add_method_columns``)."""
    means = shared_level_means(runs, better, worse, minimum, method, level)
    return list(means.index), bool((means[better] >= means[worse]).all())


def structured_best(runs: pd.DataFrame, reductions: Sequence[str], method: str = "criterion",
                    level: str = "sparsity") -> pd.DataFrame:
    """Per node criterion, the swept level (target node sparsity; λ for Group-HS and L0, see
    ``prunekit.experiments.methods.add_structured_columns``) with the best harmonic mean of accuracy and node sparsity,
    with the mean (and bound) of accuracy, both sparsities and every ``<name>_reduction`` column over seeds."""
    pruned = runs[runs[method] != "none"]
    if pruned.empty:
        raise ValueError("structured_best needs at least one pruned run")
    scored = add_harmonic_mean(pruned, sparsity="node_sparsity")
    values = ["accuracy", "weight_sparsity", "node_sparsity", "hm", *[f"{r}_reduction" for r in reductions]]
    levels = aggregate(scored, by=[method, level], values=values)
    return levels.loc[levels.groupby(method, sort=True)["hm_mean"].idxmax()].reset_index(drop=True)


def _level_label(method: str, value: float) -> str:
    """'κ = 90%' for a method with a target node sparsity, 'λ = 0.1' for one whose sparsity follows from λ."""
    from prunekit.structured import available_node_criteria, get_node_criterion

    targets = method not in available_node_criteria() or get_node_criterion(method).targets_sparsity
    return f"κ = {percent_label(value)}" if targets else f"λ = {value:g}"


def _in_structured_order(frame: pd.DataFrame, method: str) -> pd.DataFrame:
    """``frame``'s rows in the paper's table order of their methods (after-training methods first), stably."""
    rank = {name: i for i, name in enumerate(structured_order(frame[method]))}
    return frame.iloc[np.argsort([rank[str(m)] for m in frame[method]], kind="stable")]


def structured_table(best: pd.DataFrame, reductions: Sequence[str], method: str = "criterion",
                     level: str | None = None) -> pd.DataFrame:
    """:func:`structured_best` as the paper's Table 1 shows it (after-training methods first): percent and
    reduction factors (×); with ``level``, the chosen level (κ or λ) and the number of seeds n as well."""
    best = _in_structured_order(best, method)
    out = pd.DataFrame({
        "method": [structured_label(m, timing=False) for m in best[method]],
        "prunes": [structured_timing(m) or "" for m in best[method]],
        "accuracy (%)": [_pm(m, b) for m, b in zip(best["accuracy_mean"], best["accuracy_bound"])],
        "weight sparsity (%)": [f"{100 * v:.1f}" for v in best["weight_sparsity_mean"]],
        "node sparsity (%)": [f"{100 * v:.1f}" for v in best["node_sparsity_mean"]],
    })
    if level is not None:
        out.insert(2, "level", [_level_label(str(m), float(v)) for m, v in zip(best[method], best[level])])
    for name in reductions:
        out[f"{name.replace('_', ' ')} (×)"] = [f"{v:.1f}" for v in best[f"{name}_reduction_mean"]]
    if level is not None:
        out["n"] = best["accuracy_n"].astype(int).to_numpy()
    return out


# Table 1 / Table 4 cost columns: our reduction name → (record column, the paper's column, heading)
STRUCTURED_COSTS: dict[str, tuple[str, str, str]] = {
    "inference_flops": ("inference_flops", "flops_inference", "FLOPs inference (×)"),
    "training_flops": ("training_flops", "flops_train", "FLOPs train (×)"),
    "inference_time": ("inference_seconds", "time_inference", "time inference (×)"),
    "train_time": ("train_seconds", "time_train", "time train (×)"),
    "disk": ("csr_bits", "disk", "disk (×)"),
    "train_memory": ("train_memory_bytes", "ram", "RAM (×)"),
}


def structured_costs(runs: pd.DataFrame, reductions: Sequence[str] = tuple(STRUCTURED_COSTS),
                     setup: Sequence[str] = tuple(c for c in SETUP_COLUMNS if c != "epochs")) -> pd.DataFrame:
    """Per run, every ``<name>_reduction`` of :data:`STRUCTURED_COSTS` against the mean dense run of its setup.

    By default the setup leaves out ``epochs``, so the 2×-epoch methods (L0, GateDecorators) are compared
    with the standard dense run, as the paper does; ``train_memory`` compares the memory at the start of
    training (:func:`prunekit.measure.network.training_memory_bytes`).
    """
    unknown = [r for r in reductions if r not in STRUCTURED_COSTS]
    if unknown:
        raise ValueError(f"unknown structured cost(s) {unknown}; accepted: {', '.join(STRUCTURED_COSTS)}")
    return cost_reductions(runs, metrics={r: STRUCTURED_COSTS[r][0] for r in reductions}, setup=setup)


def _times(value: float) -> str:
    """A reduction factor as the paper prints it: '15.3' below 100, '6e+02' above."""
    if value != value:
        return ""
    return f"{value:.1f}" if value < 100 else f"{value:.0e}"


def structured_comparison(best: pd.DataFrame, paper: Mapping[str, pd.DataFrame], methods: Mapping[str, object],
                          reductions: Sequence[str], ours: str, dense: pd.Series | None = None,
                          method: str = "criterion") -> pd.DataFrame:
    """Table 1 / Table 4 rows: per structured method our HM-best point beside the paper's rows.

    ``best`` comes from :func:`structured_best` (with ``<name>_reduction_mean`` for every name of
    ``reductions``); ``paper`` maps a source label (e.g. "paper T4: CIFAR10 VGG16") to the rows of one
    dataset and model of a :func:`prunekit.reference.paper_table`; ``methods`` maps our method keys to
    ``prunekit.experiments.methods.Method`` (for the paper's id and timing); ``ours`` labels our rows; ``dense``
    holds our dense accuracies (one per seed). Percent values, reductions as factors (×).
    """
    heads = [STRUCTURED_COSTS[r][2] for r in reductions]
    columns = ["method", "prunes", "source", "accuracy (%)", "weight sparsity (%)", "node sparsity (%)", *heads]
    rows = []
    if dense is not None and len(dense):
        acc = dense.astype(float)
        bound = 1.96 * acc.std(ddof=1) / len(acc) ** 0.5 if len(acc) > 1 else 0.0
        rows.append({"method": "Baseline (dense)", "prunes": "", "source": ours,
                     "accuracy (%)": _pm(acc.mean(), bound)})
    for label, table in paper.items():
        base = table[table["method"] == "baseline"]
        if not base.empty:
            rows.append({"method": "Baseline (dense)", "prunes": "", "source": label,
                         "accuracy (%)": f"{base['accuracy'].iloc[0]:.0f}"})
    present = list(dict.fromkeys(best[method]))
    for key in [k for k in methods if k in present] + [k for k in structured_order(present) if k not in methods]:
        m = methods.get(key)
        mine = best[best[method] == key].iloc[0]
        row = {"method": structured_label(key, timing=False), "prunes": getattr(m, "prune_at", ""), "source": ours,
               "accuracy (%)": _pm(mine["accuracy_mean"], mine["accuracy_bound"]),
               "weight sparsity (%)": f"{100 * mine['weight_sparsity_mean']:.1f}",
               "node sparsity (%)": f"{100 * mine['node_sparsity_mean']:.1f}"}
        row |= {STRUCTURED_COSTS[r][2]: _times(float(mine[f"{r}_reduction_mean"])) for r in reductions}
        rows.append(row)
        for label, table in paper.items():
            ref = table[table["method"] == getattr(m, "paper_method", None)] if m is not None else table.iloc[0:0]
            for _, p in ref.iterrows():
                entry = {"method": structured_label(key, timing=False), "prunes": p["prune_at"], "source": label,
                         "accuracy (%)": f"{p['accuracy']:.0f} ± {p['bound']:.1f}",
                         "weight sparsity (%)": f"{p['weight_sparsity']:.0f}",
                         "node sparsity (%)": f"{p['node_sparsity']:.0f}"}
                entry |= {STRUCTURED_COSTS[r][2]: _times(float(p[STRUCTURED_COSTS[r][1]])) for r in reductions}
                rows.append(entry)
    return pd.DataFrame(rows, columns=columns).fillna("")


def structured_time_table(timed: pd.DataFrame, paper: pd.DataFrame | None = None, methods: Mapping[str, object] = {},
                          method: str = "criterion", level: str = "level") -> pd.DataFrame:
    """Per method: the final network's inference-time and training-time reductions measured side by side
    (:func:`prunekit.paper.structured_timing.structured_times`, aggregated over seeds) beside its inference-FLOPs
    reduction and, with ``paper`` (one model's rows of a paper table), the paper's time reductions."""
    timed = _in_structured_order(timed, method)
    flops = timed["inference_flops_reduction_mean"].astype(float)
    inference = timed["inference_time_reduction_mean"].astype(float)
    out = pd.DataFrame({
        "method": [structured_label(m, timing=False) for m in timed[method]],
        "level": [_level_label(str(m), float(v)) for m, v in zip(timed[method], timed[level])],
        "FLOPs inference (×)": [_times(v) for v in flops],
        "time inference (×)": [_times(v) or "—" for v in inference],
        "time ÷ FLOPs": [f"{t / f:.2f}" if t == t else "—" for t, f in zip(inference, flops)],
        "time train (×)": [_times(float(v)) or "—" for v in timed["training_time_reduction_mean"]],
    })
    if paper is not None:
        rows = {str(r["method"]): r for _, r in paper.iterrows()}
        ids = [getattr(methods.get(str(m)), "paper_method", None) for m in timed[method]]
        out["paper: time inference (×)"] = [_times(float(rows[i]["time_inference"])) if i in rows else "" for i in ids]
        out["paper: time train (×)"] = [_times(float(rows[i]["time_train"])) if i in rows else "" for i in ids]
    return out.fillna("")


__all__ = ["STRUCTURED_COSTS", "accuracy_at", "best_point_comparison", "best_points", "layer_frame", "ordering_holds",
           "outside_bounds", "paper_comparison", "structured_best", "structured_comparison", "structured_costs",
           "structured_table", "structured_time_table", "sweep_table"]
