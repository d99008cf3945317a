"""Appendix B (Figure 7): CNIP-it beside SNAP-it — the runs, the per-κ table, the generated observations and
the checked claims."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from prunekit.data import DatasetInfo
from prunekit.experiments.methods import add_structured_columns, structured_grid
from prunekit.experiments.profiles import Profile
from prunekit.experiments.config import RunConfig
from prunekit.experiments.record import RunRecord
from prunekit.experiments.stats import aggregate
from prunekit.experiments.store import records_frame
from prunekit.measure.network import parameter_count
from prunekit.models import build_model
from prunekit.paper.checks import CheckedClaim, check
from prunekit.paper.plots import percent_label
from prunekit.paper.plots.structured import structured_label
from prunekit.paper.prologue import Page, page_models
from prunekit.paper.runs import Requests, profile_levels, requesting
from prunekit.paper.tables import accuracy_at, outside_bounds, structured_costs

CURVE_VALUES = ["accuracy", "weight_sparsity", "node_sparsity", "inference_flops_reduction", "parameters_reduction"]


def grid(profile: Profile, models: Sequence[str], dataset: str, seeds: Sequence[int], criteria: Sequence[str],
         levels: Sequence[float]) -> list[RunConfig]:
    """The dense runs and every criterion at every κ and seed, model by model (the structured chapter's runs)."""
    return [c for model in models for c in structured_grid(profile, model=model, dataset=dataset, seeds=seeds,
                                                           criteria=criteria, sparsities=levels)]


def requests(page: Page, *, models: str | Sequence[str] | None = None,
             criteria: Sequence[str] = ("snap-it", "cnip-it"),
             node_sparsities: Sequence[float] = (0.5, 0.8, 0.9, 0.95, 0.98)) -> Requests:
    """The runs the page reads, from its notebook parameters."""
    return requesting(grid(page.profile, page_models(page, models, structured=True), page.dataset, page.seeds,
                           criteria, profile_levels(page.profile, node_sparsities, "max")))


def cost_frame(records: Sequence[RunRecord], models: Sequence[str], info: DatasetInfo) -> pd.DataFrame:
    """The structured and dense runs with their inference-FLOPs and parameter reductions against the dense network."""
    runs = records_frame(list(records))
    runs = runs[(runs["criterion"] == "none") | (runs["structured"] == True)]  # noqa: E712
    if "parameters" not in runs:
        runs["parameters"] = np.nan
    costs = structured_costs(runs, ("inference_flops",))
    costs = add_structured_columns(costs.merge(runs[["key", "structured", "criterion_options", "parameters"]],
                                               on="key"))
    # what the trained network stores, against the unpruned network (the shrunk net; CNIP-it's masked weights count)
    dense_parameters = {m: parameter_count(build_model(m, info.input_shape, info.num_classes)) for m in models}
    costs["parameters_reduction"] = costs["model"].map(dense_parameters) / costs["parameters"]
    return costs


def dense_accuracies(costs: pd.DataFrame) -> dict[str, float]:
    """Each model's mean dense accuracy."""
    return costs[costs["criterion"] == "none"].groupby("model")["accuracy"].mean().to_dict()


def tradeoff_curve(costs: pd.DataFrame, model: str) -> pd.DataFrame:
    """Every pruned criterion's accuracy, sparsities and reductions per κ of ``model``, aggregated over seeds."""
    pruned = costs[(costs["model"] == model) & (costs["criterion"] != "none")]
    return aggregate(pruned, by=["criterion", "level"], values=CURVE_VALUES)


def _pm(mean: float, bound: float, digits: int) -> str:
    return f"{100 * mean:.{digits}f} ± {100 * bound:.{digits}f}"


def kappa_table(curve: pd.DataFrame, criteria: Sequence[str]) -> pd.DataFrame:
    """Per κ and criterion (in ``criteria``'s order): sparsities, accuracy, FLOPs and parameter reductions, n."""
    rank = {c: i for i, c in enumerate(criteria)}
    rows = curve.assign(rank=curve["criterion"].map(rank)).sort_values(["level", "rank"])
    return pd.DataFrame({
        "κ": [percent_label(k) for k in rows["level"]],
        "method": [structured_label(c, timing=False) for c in rows["criterion"]],
        "weight sparsity (%)": [_pm(m, b, 1) for m, b in zip(rows["weight_sparsity_mean"], rows["weight_sparsity_bound"])],
        "node sparsity (%)": [_pm(m, b, 1) for m, b in zip(rows["node_sparsity_mean"], rows["node_sparsity_bound"])],
        "accuracy (%)": [_pm(m, b, 2) for m, b in zip(rows["accuracy_mean"], rows["accuracy_bound"])],
        "inference FLOPs (×)": [f"{v:.1f}" for v in rows["inference_flops_reduction_mean"]],
        "parameters (×)": [f"{v:.1f}" for v in rows["parameters_reduction_mean"]],
        "n": rows["accuracy_n"].astype(int).to_numpy(),
    })


@dataclass(frozen=True)
class Pair:
    """One model's SNAP-it and CNIP-it points at the κ both ran, and CNIP-it's points matched on SNAP-it's curve."""

    model: str
    snap: pd.DataFrame  # indexed by κ
    cnip: pd.DataFrame  # indexed by κ
    matched: pd.DataFrame  # level, weight_sparsity, cnip, cnip_bound, snap, snap_bound


def pair(model: str, curve: pd.DataFrame, levels: Sequence[float]) -> Pair | None:
    """SNAP-it against CNIP-it at the shared κ of ``levels``; None when they share none."""
    snap = curve[curve["criterion"] == "snap-it"].set_index("level")
    cnip = curve[curve["criterion"] == "cnip-it"].set_index("level")
    shared = [k for k in levels if k in snap.index and k in cnip.index]
    if not shared:
        return None
    s, c = snap.loc[shared], cnip.loc[shared]
    # Figure 7a read at equal weight sparsity: SNAP-it's curve interpolated at each CNIP-it point it spans
    matched = pd.DataFrame([(k, w, a, b, *accuracy_at(snap, w)) for k, w, a, b in
                            zip(shared, c["weight_sparsity_mean"], c["accuracy_mean"], c["accuracy_bound"])],
                           columns=["level", "weight_sparsity", "cnip", "cnip_bound", "snap", "snap_bound"]).dropna()
    return Pair(model, s, c, matched)


def _pct(value: float, digits: int = 1) -> str:
    return f"{100 * value:.{digits}f}"


def node_sparsity_lower(p: Pair) -> bool:
    """CNIP-it removes fewer nodes than SNAP-it at every shared κ."""
    return bool((p.cnip["node_sparsity_mean"] < p.snap["node_sparsity_mean"]).all())


def weight_sparsity_higher(p: Pair) -> bool:
    """CNIP-it reaches a higher weight sparsity than SNAP-it at every shared κ."""
    return bool((p.cnip["weight_sparsity_mean"] > p.snap["weight_sparsity_mean"]).all())


def never_less_accurate(p: Pair) -> bool:
    """At equal weight sparsity, CNIP-it is never below SNAP-it beyond the two points' bounds (and some point matched)."""
    m = p.matched
    return bool(len(m)) and bool((m["cnip"] >= m["snap"] - m["cnip_bound"] - m["snap_bound"]).all())


def fewer_flops_saved(p: Pair) -> bool:
    """CNIP-it's inference-FLOPs reduction is below SNAP-it's at every shared κ."""
    return bool((p.cnip["inference_flops_reduction_mean"] < p.snap["inference_flops_reduction_mean"]).all())


def more_parameters_kept(p: Pair) -> bool:
    """CNIP-it's trained network keeps more parameters than SNAP-it's at every shared κ."""
    return bool((p.cnip["parameters_reduction_mean"] < p.snap["parameters_reduction_mean"]).all())


def _effective_kappa_line(p: Pair) -> str:
    c, lo, hi = p.cnip, p.cnip.index[0], p.cnip.index[-1]
    near = 100 * (c["weight_sparsity_mean"] - c.index.to_numpy()).abs().max()
    return (f"- **CNIP-it's κ is in effect a weight sparsity.** Its weight sparsity lies within {near:.1f} points of κ "
            f"at every κ ({_pct(c['weight_sparsity_mean'].iloc[0])} % at κ = {percent_label(lo)}, "
            f"{_pct(c['weight_sparsity_mean'].iloc[-1])} % at κ = {percent_label(hi)}), while it removes only "
            f"{_pct(c['node_sparsity_mean'].iloc[0])} % of the nodes at κ = {percent_label(lo)} and "
            f"{_pct(c['node_sparsity_mean'].iloc[-1])} % at κ = {percent_label(hi)}.")


def _node_line(p: Pair) -> str:
    node_gap = 100 * (p.snap["node_sparsity_mean"] - p.cnip["node_sparsity_mean"])
    below = bool((node_gap > 0).all())
    return (f"- **Node sparsity**: CNIP-it's is {'below' if below else 'not always below'} SNAP-it's at "
            f"every κ, by {node_gap.min():.1f} to {node_gap.max():.1f} points, "
            + ("as in the paper's Figure 7b. Ranked on one scale with single weights, few nodes are among the least "
               "elastic items, which fits the paper's explanation that most nodes matter more to the loss than most "
               "single weights." if below else "unlike the paper's Figure 7b."))


def _weight_line(p: Pair) -> str:
    s, c, lo, hi = p.snap, p.cnip, p.cnip.index[0], p.cnip.index[-1]
    weight_gap = 100 * (s["weight_sparsity_mean"] - c["weight_sparsity_mean"])
    if not (weight_gap > 0).all():
        return ("- **Weight sparsity at the same κ**: CNIP-it minus SNAP-it "
                + ", ".join(f"{-v:+.1f}" for v in weight_gap) + " points.")
    return (f"- **Weight sparsity at the same κ is higher for SNAP-it**, by {weight_gap.min():.1f} to "
            f"{weight_gap.max():.1f} points ({_pct(s['weight_sparsity_mean'].iloc[0])} vs "
            f"{_pct(c['weight_sparsity_mean'].iloc[0])} % at κ = {percent_label(lo)}, "
            f"{_pct(s['weight_sparsity_mean'].iloc[-1])} vs {_pct(c['weight_sparsity_mean'].iloc[-1])} % at "
            f"κ = {percent_label(hi)}): a pruned node takes all of its incoming weights and the next layer's weights "
            f"that read it, so a node sparsity κ removes more than a fraction κ of the weights. Read as 'at equal "
            f"targets', the paper's 'CNIP-it has higher weight-sparsity than SNAP-it' does not hold here.")


def _accuracy_line(p: Pair, dense: float) -> str:
    matched, s = p.matched, p.snap
    lead = 100 * (matched["cnip"] - matched["snap"])
    better = bool((lead >= 0).all())
    verdict = ("CNIP-it is the better curve" if better else
               "CNIP-it is on par with SNAP-it (never below it beyond the two points' bounds)" if never_less_accurate(p)
               else "CNIP-it's curve is not always above SNAP-it's")
    beyond = sum(outside_bounds(r["cnip"], r["cnip_bound"], r["snap"], r["snap_bound"]) for _, r in matched.iterrows())
    top = matched.iloc[-1]
    return (f"- **At equal weight sparsity (Figure 7a's reading) {verdict}**: at each of CNIP-it's weight sparsities "
            f"that SNAP-it's curve spans ({', '.join(_pct(w) + ' %' for w in matched['weight_sparsity'])}), CNIP-it is "
            + (f"{lead.min():.2f} to {lead.max():.2f} points more accurate than" if better else
               f"{lead.min():+.2f} to {lead.max():+.2f} points off") +
            f" SNAP-it (interpolated linearly between its two neighbouring points); the gap exceeds the sum of both "
            f"points' bounds at {beyond} of these {len(matched)} weight sparsities. At "
            f"{_pct(top['weight_sparsity'])} % of the weights CNIP-it keeps {_pct(top['cnip'])} % accuracy, "
            f"{100 * (dense - top['cnip']):.1f} points below dense, against SNAP-it's "
            f"{_pct(top['snap'])} % there; SNAP-it's own sparsest point ({_pct(s['weight_sparsity_mean'].iloc[-1])} % of "
            f"the weights) reaches {_pct(s['accuracy_mean'].iloc[-1])} %.")


def _speed_line(p: Pair) -> str:
    flops_c, flops_s = p.cnip["inference_flops_reduction_mean"], p.snap["inference_flops_reduction_mean"]
    par_c, par_s = p.cnip["parameters_reduction_mean"], p.snap["parameters_reduction_mean"]
    return (f"- **Speed-ups are smaller**: counted over kept weights, CNIP-it's inference FLOPs fall "
            f"{flops_c.iloc[0]:.1f}× to {flops_c.iloc[-1]:.1f}× against SNAP-it's {flops_s.iloc[0]:.1f}× to "
            f"{flops_s.iloc[-1]:.1f}× ({'lower at every κ' if fewer_flops_saved(p) else 'not lower at every κ'}); "
            f"the network CNIP-it trains is only {par_c.iloc[0]:.1f}× to {par_c.iloc[-1]:.1f}× smaller than the dense "
            f"one against SNAP-it's {par_s.iloc[0]:.1f}× to {par_s.iloc[-1]:.1f}×, and that smaller factor is what a "
            f"dense kernel, which multiplies masked weights at full cost, can save: the speed-ups the paper says "
            f"CNIP-it misses.")


def observations(p: Pair, dataset: str, n_seeds: int, dense: float) -> str:
    """What the page observes for one model, written from its numbers (markdown)."""
    text = [f"**{p.model.upper()} on {dataset.upper()}** ({n_seeds} seed(s) per point, dense {_pct(dense, 2)} %):", "",
            _effective_kappa_line(p), _node_line(p), _weight_line(p)]
    if len(p.matched):
        text.append(_accuracy_line(p, dense))
    text.append(_speed_line(p))
    return "\n".join(text)


def conclusion(pairs: Sequence[Pair]) -> str:
    """Whether the appendix's conclusion carries over on every network, and which literal reading does not."""
    if not pairs:
        return "No model has both CNIP-it and SNAP-it runs at a shared κ."
    structured_savings = all(node_sparsity_lower(p) and more_parameters_kept(p) for p in pairs)
    keeps_accuracy = all(never_less_accurate(p) for p in pairs)
    text = ("So the appendix's conclusion carries over on every network here: CNIP-it spends its budget on single "
            "weights and leaves most nodes in place, which keeps accuracy at high weight sparsity but not the "
            "structured savings SNAP-it was built for." if structured_savings and keeps_accuracy else
            "The appendix's conclusion does not carry over on every network here: see the statements above, which "
            "say where CNIP-it keeps more nodes or less accuracy than the paper describes.")
    if not any(weight_sparsity_higher(p) for p in pairs):
        text += (" The literal comparison at equal targets does not carry over: SNAP-it's node pruning removes more "
                 "weights than CNIP-it's κ allows.")
    return text


def chapter_checks(pairs: Sequence[Pair], dataset: str) -> tuple[dict[str, bool], list[CheckedClaim]]:
    """The page's checks (statement → holds) and the paper's claims it tests, model by model, in the ledger's order."""
    checks: dict[str, bool] = {}
    claims: list[CheckedClaim] = []
    for p in pairs:
        claims += _model_checks(p, dataset, checks)
    return checks, claims


def _pairs_text(p: Pair, column: str, scale: float = 100, unit: str = " %") -> str:
    return "; ".join(f"κ = {percent_label(k)}: {scale * p.cnip.loc[k, column]:.1f} vs "
                     f"{scale * p.snap.loc[k, column]:.1f}{unit}" for k in p.cnip.index)


def _model_checks(p: Pair, dataset: str, checks: dict[str, bool]) -> list[CheckedClaim]:
    where, model = f"{p.model.upper()}, {dataset.upper()}", p.model
    checks[f"{model}: CNIP-it's node sparsity is below SNAP-it's at every κ"] = node_sparsity_lower(p)
    checks[f"{model}: SNAP-it's weight sparsity is above CNIP-it's at every κ"] = bool(
        (p.snap["weight_sparsity_mean"] > p.cnip["weight_sparsity_mean"]).all())
    checks[f"{model}: at equal weight sparsity CNIP-it is never less accurate than SNAP-it (interpolated) beyond "
           f"the two points' bounds, wherever SNAP-it's curve reaches"] = never_less_accurate(p)
    checks[f"{model}: CNIP-it's inference FLOPs reduction is below SNAP-it's at every κ"] = fewer_flops_saved(p)
    checks[f"{model}: CNIP-it's trained network keeps more parameters than SNAP-it's at every κ"] = more_parameters_kept(p)
    matched = p.matched
    return [
        # CNIP-it's higher weight and lower node sparsity are registered claims (cpu-<model>-cnip-*): not counted here
        check("cnip", "cnip-weight-sparsity",
              f"{where}: accuracy CNIP-it vs SNAP-it (interpolated) at equal weight sparsity, " + (
                  "; ".join(f"{100 * r['weight_sparsity']:.1f} % weights: {100 * r['cnip']:.2f} vs {100 * r['snap']:.2f} %"
                            for _, r in matched.iterrows()) if len(matched) else
                  "no CNIP-it point within SNAP-it's range"),
              never_less_accurate(p),
              claim="At equal weight sparsity CNIP-it is at least as accurate as SNAP-it, within the bounds (Figure 7a)"),
        check("cnip", "cnip-fewer-flops",
              f"{where}: inference FLOPs reduction (kept weights) CNIP-it vs SNAP-it, "
              f"{_pairs_text(p, 'inference_flops_reduction_mean', 1, '×')}; "
              f"parameters reduction {_pairs_text(p, 'parameters_reduction_mean', 1, '×')}",
              fewer_flops_saved(p) and more_parameters_kept(p)),
    ]


__all__ = ["Pair", "chapter_checks", "conclusion", "cost_frame", "dense_accuracies",
           "fewer_flops_saved", "grid", "kappa_table", "more_parameters_kept", "never_less_accurate",
           "node_sparsity_lower", "observations", "pair", "tradeoff_curve", "weight_sparsity_higher"]
