"""The memory chapter (Appendix C, Figure 8): memory at the start of training against accuracy, per structured method.

The page reads back the structured chapter's runs; everything it computes from them (the grid it makes sure of,
the points of Figure 8, the per-level table, the checked statements and the generated prose) is here.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from prunekit.experiments.methods import STRUCTURED_METHODS, add_structured_columns
from prunekit.experiments.stats import aggregate
from prunekit.paper.checks import CheckedClaim, check
from prunekit.paper.plots import percent_label
from prunekit.paper.plots.structured import MIB, structured_label, structured_order
from prunekit.paper.chapters.table1 import grid, swept_levels
from prunekit.paper.chapters.table1 import requests as table1_requests
from prunekit.paper.tables import structured_costs

BEFORE_TRAINING: tuple[str, ...] = ("snap-it", "random")  # the paper's "two methods" that prune before training
POINT_VALUES: tuple[str, ...] = ("accuracy", "node_sparsity", "train_memory_bytes", "train_memory_reduction")


# The page's parameters, levels and grid are table1's (the same structured sweep read for memory): one
# swept_levels(), grid() and requests() serve both pages.
requests = table1_requests


def memory_costs(runs: pd.DataFrame) -> pd.DataFrame:
    """Per dense or structured run: its memory at the start of training and the reduction against dense."""
    runs = runs[(runs["criterion"] == "none") | (runs["structured"] == True)]  # noqa: E712
    costs = structured_costs(runs, ("train_memory",))
    return add_structured_columns(costs.merge(runs[["key", "structured", "criterion_options", "epochs",
                                                    "train_memory_bytes"]], on="key"))


def dense_memory(costs: pd.DataFrame) -> dict[str, float]:
    """Per model, the dense runs' mean memory at the start of training."""
    return costs[costs["criterion"] == "none"].groupby("model")["train_memory_bytes"].mean().to_dict()


def memory_points(costs: pd.DataFrame, model: str) -> pd.DataFrame:
    """Figure 8's points of one model: each pruning method at each level, mean and bound over seeds."""
    return aggregate(costs[(costs["model"] == model) & (costs["criterion"] != "none")], by=["criterion", "level"],
                     values=list(POINT_VALUES))


def level_label(criterion: str, level: float) -> str:
    """'λ = 0.5' for a method swept over λ, 'κ = 90 %' for one with a target node sparsity."""
    return f"λ = {level:g}" if STRUCTURED_METHODS[criterion].sweeps_lambda else f"κ = {percent_label(level)}"


def reduction_table(points: pd.DataFrame) -> pd.DataFrame:
    """Per method (paper order) and level: node sparsity, memory at start, reduction against dense, accuracy."""
    order = {m: i for i, m in enumerate(structured_order(points["criterion"]))}
    rows = points.assign(rank=points["criterion"].map(order)).sort_values(["rank", "level"])
    return pd.DataFrame({
        "method": [structured_label(c, timing=False) for c in rows["criterion"]],
        "prunes": [STRUCTURED_METHODS[c].prune_at for c in rows["criterion"]],
        "level": [level_label(c, v) for c, v in zip(rows["criterion"], rows["level"])],
        "node sparsity (%)": [f"{100 * v:.1f}" for v in rows["node_sparsity_mean"]],
        "memory at start (MiB)": [f"{v / MIB:.2f}" for v in rows["train_memory_bytes_mean"]],
        "reduction (×)": [f"{v:.2f}" for v in rows["train_memory_reduction_mean"]],
        "accuracy (%)": [f"{100 * m:.2f} ± {100 * b:.2f}" for m, b in zip(rows["accuracy_mean"], rows["accuracy_bound"])],
        "n": rows["accuracy_n"].astype(int).to_numpy(),
    })


def paper_ram_table(paper: pd.DataFrame) -> pd.DataFrame:
    """The paper's RAM column (Tables 1 and 4), one row per method, one column per network and dataset."""
    from prunekit.paper.chapters.architectures import model_label

    paper = paper[paper["method"] != "baseline"].assign(
        source=lambda t: t["dataset"].str.upper() + " " + t["model"].map(model_label))
    return (paper.pivot_table(index=["label", "prune_at"], columns="source", values="ram", sort=False)
            .rename_axis(index=["method", "prunes"], columns=None).reset_index())


def _mib(value: float) -> str:
    return f"{value / MIB:.1f} MiB"


def _late(criteria) -> list[str]:
    return [c for c in structured_order(criteria) if STRUCTURED_METHODS[c].prune_at in ("after", "during")]


def observations_text(points: pd.DataFrame, dense: float, name: str) -> str:
    """The "What we observe" list of one network (``name``: 'MLP5 on MNIST'), every number computed."""
    agg = points.set_index(["criterion", "level"])
    methods = set(agg.index.get_level_values(0))
    late = _late(methods)
    text = [f"**{name}** (dense: {_mib(dense)} at the start of training):", ""]
    for method in [c for c in BEFORE_TRAINING if c in methods]:
        curve = agg.loc[method]
        text.append(
            f"- **{structured_label(method, timing=False)} starts small**: "
            f"{curve['train_memory_reduction_mean'].iloc[0]:.1f}× less memory than dense at κ = "
            f"{percent_label(curve.index[0])} ({_mib(curve['train_memory_bytes_mean'].iloc[0])}) to "
            f"{curve['train_memory_reduction_mean'].iloc[-1]:.1f}× at κ = {percent_label(curve.index[-1])} "
            f"({_mib(curve['train_memory_bytes_mean'].iloc[-1])})"
            + (", the saving growing with every step up in κ." if curve["train_memory_reduction_mean"].is_monotonic_increasing
               else "."))
    if late:
        late_points = points[points["criterion"].isin(late)]
        at_dense = bool(np.allclose(late_points["train_memory_reduction_mean"], 1.0))
        text.append(
            f"- **{', '.join(structured_label(c, timing=False) for c in late[:-1])}"
            f"{' and ' if len(late) > 1 else ''}{structured_label(late[-1], timing=False)} "
            + ("all start with the full network" if at_dense else "do not all start with the full network")
            + f"** (memory reduction {late_points['train_memory_reduction_mean'].min():.2f}×"
            + ("" if at_dense else f" to {late_points['train_memory_reduction_mean'].max():.2f}×")
            + f"), whatever node sparsity they reach later (up to "
            f"{100 * late_points['node_sparsity_mean'].max():.1f} %): the paper's 'the others still have the full "
            f"network in memory at that point'.")
    if "cnip-it" in methods:
        cnip = agg.loc["cnip-it"]
        low = cnip.iloc[0]
        text.append(
            f"- **CNIP-it, which also prunes before training, saves less**: {low['train_memory_reduction_mean']:.2f}× "
            f"at κ = {percent_label(cnip.index[0])} to {cnip['train_memory_reduction_mean'].iloc[-1]:.1f}× at "
            f"κ = {percent_label(cnip.index[-1])}, since it removes few nodes (Appendix B: "
            f"{100 * low['node_sparsity_mean']:.1f} % to {100 * cnip['node_sparsity_mean'].iloc[-1]:.1f} %)"
            + (f"; at κ = {percent_label(cnip.index[0])} it needs *more* memory than dense "
               f"({_mib(low['train_memory_bytes_mean'])}): a masked layer still trains its full weight tensor, and the "
               "product weight · mask that autograd saves for backward is one more copy of it."
               if low["train_memory_reduction_mean"] < 1 else "."))
    text.append(_trend_text(points))
    return "\n".join(text)


def trend_slope(points: pd.DataFrame) -> float:
    """The figure's trend line: least-squares slope of mean accuracy on log10(memory in MiB), over all points."""
    return float(np.polyfit(np.log10(points["train_memory_bytes_mean"] / MIB), points["accuracy_mean"], 1)[0])


def _trend_text(points: pd.DataFrame) -> str:
    slope = trend_slope(points)
    lowest = points.nsmallest(3, "accuracy_mean")
    return (f"- **The trend line** through all points {'rises' if slope > 0 else 'falls'} by {100 * abs(slope):.1f} "
            f"accuracy points per tenfold memory; the least accurate points, which weigh most on it, are "
            + ", ".join(f"{structured_label(r['criterion'], timing=False)} at {level_label(r['criterion'], r['level'])}"
                        f" ({100 * r['accuracy_mean']:.1f} %, {_mib(r['train_memory_bytes_mean'])})"
                        for _, r in lowest.iterrows()) + ".")


def memory_checks(costs: pd.DataFrame, points: pd.DataFrame, model: str,
                  dataset: str) -> tuple[dict[str, bool], list[CheckedClaim]]:
    """Appendix C's statements tested on one network's runs: named outcomes, and the checks for the ledger (only the
    bookkeeping half; the other half is a registered claim)."""
    checks: dict[str, bool] = {}
    claims: list[CheckedClaim] = []
    mine = costs[costs["model"] == model]
    where = f"{model.upper()}, {dataset.upper()}"
    late = [c for c in points["criterion"].unique() if STRUCTURED_METHODS[c].prune_at in ("after", "during")]
    pruned_before = mine[mine["criterion"].isin(list(BEFORE_TRAINING))]
    started_dense = mine[mine["criterion"].isin(late)]
    early = points[points["criterion"].isin(list(BEFORE_TRAINING))]
    if not pruned_before.empty and not started_dense.empty:
        # Appendix C's first half is a registered claim (cpu-<model>-{snap-it,random}-less-memory-at-start), decided
        # per seed on the summary page: shown here, not recorded again as a check.
        holds = bool(pruned_before["train_memory_bytes"].max() < started_dense["train_memory_bytes"].min())
        checks[f"{model}: every SNAP-it and Random run starts with less memory than any after/during-training run"] = holds
    if not started_dense.empty:  # bookkeeping: a method that prunes later starts from the dense network
        holds = bool(np.allclose(started_dense["train_memory_reduction"], 1.0))
        checks[f"{model}: every after/during-training run starts with the dense network's memory"] = holds
        claims.append(check("memory", "before-memory", f"{where}: {', '.join(structured_label(c, False) for c in late)}: "
                            f"{started_dense['train_memory_reduction'].min():.2f}× to "
                            f"{started_dense['train_memory_reduction'].max():.2f}× at the start of training", holds,
                            claim="The methods that prune after or during training still hold the full network in "
                                  "memory when training starts"))
    if not early.empty:
        checks[f"{model}: SNAP-it's and Random's memory saving grows with κ"] = all(
            early[early["criterion"] == c].sort_values("level")["train_memory_reduction_mean"].is_monotonic_increasing
            for c in early["criterion"].unique())
        checks[f"{model}: SNAP-it and Random start with less memory than dense at every κ"] = bool(
            (early["train_memory_reduction_mean"] > 1.0).all())
    snap, cnip = (points[points["criterion"] == c].set_index("level")["train_memory_reduction_mean"]
                  for c in ("snap-it", "cnip-it"))
    shared = [k for k in snap.index if k in cnip.index]
    if shared:
        checks[f"{model}: CNIP-it saves less memory than SNAP-it at every κ"] = bool((cnip[shared] < snap[shared]).all())
    return checks, claims


def checks_table(checks: Mapping[str, bool]) -> pd.DataFrame:
    """One row per tested statement and whether it holds here."""
    return pd.DataFrame({"statement": list(checks), "holds here": list(checks.values())})


__all__ = ["BEFORE_TRAINING", "POINT_VALUES", "checks_table", "dense_memory", "level_label", "memory_checks",
           "memory_costs", "memory_points", "observations_text", "grid", "swept_levels", "paper_ram_table",
           "reduction_table", "trend_slope"]
