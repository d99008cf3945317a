"""Section 5's unstructured results (Tables 2 and 3, Figures 2, 10, 12, 14): the sweep, its tables, the paper's
ordering claims, the mask sanity checks and connectivity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from prunekit.analysis.turnover import mask_connectivity
from prunekit.core.connectivity import is_disconnected
from prunekit.data import DatasetInfo
from prunekit.experiments.methods import (UNSTRUCTURED_METHODS, add_method_columns, dense_configs, method_configs,
                                          record_method)
from prunekit.experiments.profiles import Profile
from prunekit.experiments.config import RunConfig
from prunekit.experiments.record import RunRecord
from prunekit.experiments.run import pruned_at_init
from prunekit.experiments.stats import add_harmonic_mean, aggregate
from prunekit.experiments.store import ResultStore, records_frame
from prunekit.experiments.table3 import lambda_note, row_findings
from prunekit.experiments.table3 import table3_comparison  # noqa: F401  (the page calls it as chapter.table3_comparison)
from prunekit.paper.checks import CheckedClaim, check, ordering_evidence
from prunekit.paper.plots import method_label, percent_label
from prunekit.paper.tables import best_point_comparison, best_points, layer_frame, ordering_holds
from prunekit.paper.prologue import Page, page_models
from prunekit.paper.runs import Requests, requesting
from prunekit.reference import paper_table

ABLATIONS = ("shuffle", "reinit", "invert")
# the paper's ordering claims: (ledger id, better method, worse method, lowest κ compared, statement)
ORDERING_CLAIMS = (
    ("during-beats-imp", "snip-it-during", "imp-global", 0.9, "SNIP-it (during) ≥ IMP-global at equal sparsity κ ≥ 90 %"),
    ("during-beats-snip", "snip-it-during", "snip", 0.9, "SNIP-it (during) ≥ SNIP at equal sparsity κ ≥ 90 %"),
    ("before-beats-snip", "snip-it", "snip", 0.98, "SNIP-it (before) ≥ SNIP at κ ≥ 98 %"),
    ("during-beats-before", "snip-it-during", "snip-it", 0.9, "SNIP-it (during) ≥ SNIP-it (before) at κ ≥ 90 %"),
)


def paper_table_id(dataset: str) -> int:
    """The paper's table for ``dataset``: Table 3 for MNIST, Table 2 for CIFAR10 and Imagenette."""
    return 3 if dataset == "mnist" else 2


def produced_by_details(profile: Profile, models: Sequence[str], seeds: Sequence[int], dataset: str,
                        info: DatasetInfo) -> str:
    """What the page ran, for the produced-by line, with the paper's epoch budgets scaled to the profile."""
    interval = RunConfig.from_profile(profile, model="mlp5", dataset=dataset).prune_interval
    rewind = RunConfig.from_profile(profile, model="mlp5", dataset=dataset, criterion="imp-global",
                                    sparsity=0.9).rewind_epoch
    text = (f"{profile.train_limit or info.train_size} training / {profile.test_limit or info.test_size} test images, "
            f"model(s) {', '.join(m.upper() for m in models)}, seeds {list(seeds)}, {profile.epochs} epoch(s) per run "
            f"(the paper: 80 epochs, 5 seeds). Budgets given in epochs by the paper scale with the profile: τ = 4 of "
            f"80 epochs becomes {interval:g} epochs, IMP's rewind point 6 of 80 becomes {rewind:g}, HoyerSquare's "
            f"70 + 10 epochs become {profile.epochs * 7 / 8:g} + {profile.epochs / 8:g}")
    if dataset == "mnist":
        text += (". The paper's CIFAR10 and Imagenette blocks (Table 2) are shown for reference below; this page's "
                 "own runs are on the data this machine has")
    return text


def ablation_levels(profile: Profile, ablation_sparsities: Sequence[float]) -> list[float]:
    """The profile's sparsities the mask ablations run at; its highest when none of ``ablation_sparsities`` is one."""
    return [s for s in profile.sparsities if any(np.isclose(s, a) for a in ablation_sparsities)] or [max(profile.sparsities)]


def grid(profile: Profile, models: Sequence[str], dataset: str, seeds: Sequence[int], methods: Sequence[str],
         ablation_sparsities: Sequence[float], beyond_paper_from: float) -> list[RunConfig]:
    """Every run the page needs: dense, every method at its levels, and SNIP-it's three mask ablations."""
    configs: list[RunConfig] = []
    for model in models:
        configs += dense_configs(profile, model=model, dataset=dataset, seeds=seeds)
        for key in methods:
            levels = (None if UNSTRUCTURED_METHODS[key].in_paper
                      else [s for s in profile.sparsities if s >= beyond_paper_from])
            configs += method_configs(key, profile, model=model, dataset=dataset, seeds=seeds, sparsities=levels or None)
        snip_it = method_configs("snip-it", profile, model=model, dataset=dataset, seeds=seeds,
                                 sparsities=ablation_levels(profile, ablation_sparsities))
        configs += [c.replace(ablation=ablation) for ablation in ABLATIONS for c in snip_it]
    return configs


def requests(page: Page, *, models: str | Sequence[str] | None = None, methods: Sequence[str] | None = None,
             ablation_sparsities: Sequence[float] = (0.98, 0.99), beyond_paper_from: float = 0.9) -> Requests:
    """The runs the page reads, from its notebook parameters (the paper-budget Table 3 is read as it is stored)."""
    chosen = list(UNSTRUCTURED_METHODS if methods is None else methods)
    return requesting(grid(page.profile, page_models(page, models), page.dataset, page.seeds, chosen,
                           ablation_sparsities, beyond_paper_from))


def run_frame(records: Sequence[RunRecord]) -> pd.DataFrame:
    """The runs with method, level and harmonic-mean columns."""
    return add_harmonic_mean(add_method_columns(records_frame(list(records))))


def method_counts(plain: pd.DataFrame, n_records: int) -> str:
    """'N runs: <method> n, …' over the runs without an ablation."""
    return f"{n_records} runs: " + ", ".join(f"{method_label(m)} {n}" for m, n in plain["method"].value_counts().items())


def comparison(plain: pd.DataFrame, paper: pd.DataFrame, dataset: str, model: str) -> pd.DataFrame:
    """Each method's best-HM point beside the paper's row, accuracy compared at the paper's sparsity."""
    mine = plain[plain["model"] == model]
    ref = paper[(paper["dataset"] == dataset) & (paper["model"] == model)]
    dense = mine.loc[mine["method"] == "none", "accuracy"]
    curves = aggregate(mine[mine["method"] != "none"], by=["method", "level"], values=["accuracy", "weight_sparsity"])
    return best_point_comparison(best_points(mine), ref, UNSTRUCTURED_METHODS, dense=dense, curves=curves)


def paper_table2_view() -> pd.DataFrame:
    """The paper's Table 2 (CIFAR10 and Imagenette) as accuracy per method and network."""
    full = paper_table(2).fillna({"prune_at": "—"})
    view = full.assign(**{"accuracy (%)": [f"{a:.0f} ± {b:.1f}" if b == b else f"{a:.0f}"
                                           for a, b in zip(full["accuracy"], full["bound"])]})
    return view.pivot_table(index=["label", "prune_at"], columns=["dataset", "model"], values="accuracy (%)",
                            aggfunc="first", dropna=False, sort=False).fillna("")


def tradeoff_curve(plain: pd.DataFrame, model: str) -> tuple[pd.DataFrame, float]:
    """Every method's accuracy, sparsities and HM per level of ``model``, and the dense accuracy."""
    mine = plain[plain["model"] == model]
    agg = aggregate(mine[mine["method"] != "none"], by=["method", "level"],
                    values=["accuracy", "weight_sparsity", "node_sparsity", "hm"]).rename(columns={"level": "sparsity"})
    return agg, float(mine.loc[mine["method"] == "none", "accuracy"].mean())


def kept_weights(records: Sequence[RunRecord], model: str) -> pd.DataFrame:
    """Per layer, the weights each method's runs of ``model`` keep (HoyerSquare, which targets no κ, left out)."""
    return layer_frame([r for r in records if r.config.model == model and r.config.ablation == "none"
                        and r.config.criterion not in ("none", "hoyersquare")], method_of=record_method, column="method")


def ordering_claims(plain: pd.DataFrame, models: Sequence[str], methods: Sequence[str]) -> pd.DataFrame:
    """The paper's ordering claims per model where both methods ran: statement, levels, holds, id, evidence."""
    rows = []
    for model in models:
        runs = plain[plain["model"] == model]
        for claim_id, a, b, minimum, text in ORDERING_CLAIMS:
            if a in methods and b in methods:
                shared, holds = ordering_holds(runs, a, b, minimum)
                rows.append({"model": model, "claim": text, "levels": ", ".join(percent_label(s) for s in shared),
                             "holds": holds, "id": claim_id, "evidence": ordering_evidence(runs, a, b, minimum)})
    return pd.DataFrame(rows)


# Ordering checks whose claim the registry tests under its one rule (registered id in brackets): the page still
# shows them, the chapters' checks no longer count them, so nothing is counted twice.
REGISTERED: dict[str, str] = {"during-beats-imp": "cpu-during-beats-imp", "before-beats-snip": "cpu-before-beats-snip",
                              "during-beats-snip": "cpu-during-beats-snip"}


def ledger(claims: pd.DataFrame, dataset: str) -> list[CheckedClaim]:
    """The ordering claims the registry does not test, as the chapters' checks record them."""
    return [check("table2", c["id"], f"{c['model'].upper()}, {dataset.upper()}: {c['evidence']}", c["holds"],
                  claim=c["claim"]) for _, c in claims.iterrows() if c["id"] not in REGISTERED]


def summary(tables: Mapping[str, pd.DataFrame], claims: pd.DataFrame) -> str:
    """Per model its best harmonic mean and how many methods leave the paper's bounds; then each claim's verdict."""
    lines = []
    for model, best in tables.items():
        top = best.iloc[1:].assign(hm=best["our HM"].iloc[1:].astype(float)).sort_values("hm", ascending=False).iloc[0]
        lines.append(f"- {model.upper()}: the best harmonic mean is {top['hm']:.1f} ({top['method']}, "
                     f"{top['our accuracy (%)']} % at {top['our sparsity (%)']} % sparsity); "
                     f"{int(best['outside bounds'].sum())} of {len(best) - 1} methods leave the paper's bounds.")
    for _, c in claims.iterrows():
        lines.append(f"- {c['model'].upper()}: *{c['claim']}* — {'holds' if c['holds'] else 'does not hold'} "
                     f"here ({c['levels']}).")
    return "\n".join(lines)


def ablation_means(runs: pd.DataFrame) -> pd.DataFrame:
    """SNIP-it before training's mean accuracy and bound per ablation and sparsity, at the ablated sparsities."""
    abl = runs[(runs["method"].str.startswith("snip-it")) & (runs["prune_at"] == "before")]
    abl = abl[abl["sparsity"].isin(abl.loc[abl["ablation"] != "none", "sparsity"].unique())]
    return aggregate(abl, by=["ablation", "sparsity"], values=["accuracy"])


def ablation_table(means: pd.DataFrame) -> pd.DataFrame:
    """The ablations as 'mean ± bound' per κ, the real mask first."""
    view = means.pivot(index="ablation", columns="sparsity", values="accuracy_mean")
    bounds = means.pivot(index="ablation", columns="sparsity", values="accuracy_bound")
    table = view.copy().astype(object)
    for s in view.columns:
        table[s] = [f"{100 * m:.2f} ± {100 * b:.2f}" for m, b in zip(view[s], bounds[s])]
    table.columns = [f"κ = {percent_label(s)}" for s in view.columns]
    return table.reindex(["none", *ABLATIONS]).rename(index={"none": "SNIP-it mask"})


def ablation_text(means: pd.DataFrame) -> str:
    """The accuracy each ablation loses against the real mask, and what that says about the mask (markdown)."""
    view = means.pivot(index="ablation", columns="sparsity", values="accuracy_mean")
    drops = {a: float((view.loc["none"] - view.loc[a]).mean()) for a in ABLATIONS}
    worst = max(drops.values())
    verdict = ("so, as Frankle et al. found for SNIP and GraSP, at these sparsities SNIP-it's mask carries little "
               "beyond its layer-wise sparsities: any mask with the same per-layer ratios trains about as well."
               if worst < 0.01 else
               "so SNIP-it's mask carries information beyond its layer-wise sparsities: destroying it costs accuracy.")
    return ("Mean accuracy lost against the real mask (averaged over the κ shown): "
            + ", ".join(f"{a} {100 * d:.2f} pp" for a, d in drops.items())
            + f"; the largest loss is {100 * worst:.2f} pp, " + verdict)


def connectivity(profile: Profile, models: Sequence[str], dataset: str, seed: int, store: ResultStore) -> pd.DataFrame:
    """Surviving paths of SNIP's, SNIP-it's and Random's masks from 99 % up (and 99.9 %), rebuilt and compared
    with the stored run's mask digest; on MLP5 when the page runs it, else its first model."""
    model = "mlp5" if "mlp5" in models else models[0]
    levels = sorted({*[s for s in profile.sparsities if s >= 0.99], 0.999})
    configs = [RunConfig.from_profile(profile, model=model, dataset=dataset, criterion=crit, sparsity=level, seed=seed)
               for crit in ("snip", "snip-it", "random") for level in levels]
    found = mask_connectivity(configs, store)
    return pd.DataFrame({"criterion": found["criterion"].map(method_label),
                         "κ": found["sparsity"].map(percent_label),
                         "surviving paths": found["surviving_paths"],
                         "disconnected": found["disconnected"],
                         "same mask as the stored run": found["same_mask_as_stored"]})


DISCONNECTION_LEVEL = 0.999  # the connectivity table's level beyond the sweep, where masks can cut every path


def disconnection_units(profile: Profile, model: str, dataset: str, seeds: Sequence[int],
                        info: DatasetInfo) -> list[dict]:
    """Per seed, whether SNIP's and SNIP-it's masks at 99.9 % leave no input→output path (1) or some (0): the values
    the registered connectivity claim is decided on (networks at initialisation; nothing is trained)."""
    entries = []
    for crit in ("snip", "snip-it"):
        values = []
        for seed in seeds:
            config = RunConfig.from_profile(profile, model=model, dataset=dataset, criterion=crit,
                                            sparsity=DISCONNECTION_LEVEL, seed=seed)
            values.append(int(is_disconnected(pruned_at_init(config), info.input_shape)))
        entries.append({"model": model, "dataset": dataset, "method": crit, "metric": "disconnected",
                        "level": DISCONNECTION_LEVEL, "values": values})
    return entries


__all__ = ["ABLATIONS", "ORDERING_CLAIMS", "ablation_levels", "ablation_means", "ablation_table", "ablation_text",
           "comparison", "connectivity", "disconnection_units", "grid", "kept_weights", "ledger", "method_counts",
           "ordering_claims", "paper_table2_view", "paper_table_id", "produced_by_details", "run_frame", "summary",
           "tradeoff_curve"]


# ------------------------------------------------------------------------------- Table 3 at the paper's budget

TABLE3_STORE = "mnist-paper"  # the profile whose store holds Table 3's runs at 80 epochs × 5 seeds


def table3_records(results_root: str | Path) -> tuple[list[RunRecord], list[RunRecord]]:
    """Table 3's test-set runs (at the chosen λ, none of the store's other runs) and HoyerSquare's λ-selection runs
    (validation split) from the paper-budget store."""
    from prunekit.experiments.table3 import lambda_configs, table3_runs

    store = ResultStore(Path(results_root) / TABLE3_STORE)
    records = store.records() if store.root.is_dir() else []
    candidates = {c.key for c in lambda_configs()}
    return table3_runs(records), [r for r in records if r.key in candidates]


def table3_view(comparison: pd.DataFrame) -> pd.DataFrame:
    """Our Table 3 beside the paper's, one row per method, as the page shows it (percent)."""
    def cell(mean: float, bound: float, digits: int) -> str:
        return "—" if pd.isna(mean) else f"{mean:.{digits}f} ± {bound:.{digits}f}" if not pd.isna(bound) else \
            f"{mean:.{digits}f}"
    rows = [{"method": _row_label(r["method"], r["paper label"]),
             "paper accuracy": cell(r["paper accuracy"], r["paper bound"], 1),
             "paper sparsity": "—" if pd.isna(r["paper sparsity"]) else f"{r['paper sparsity']:.0f}",
             "paper HM": "—" if pd.isna(r["paper HM"]) else f"{r['paper HM']:.0f}",
             "our accuracy": cell(r.get("accuracy"), r.get("bound"), 2),
             "our sparsity": "—" if pd.isna(r.get("sparsity")) else f"{r['sparsity']:.1f}",
             "our HM": "—" if pd.isna(r.get("HM")) else f"{r['HM']:.1f}",
             "n": "—" if pd.isna(r.get("n")) else str(int(r["n"])),
             "paper inside our interval": "" if pd.isna(r.get("paper inside")) else
             ("yes" if r["paper inside"] else "no")} for r in comparison.to_dict("records")]
    return pd.DataFrame(rows)


ROW_LABELS = {"snip-it": "SNIP-it before training", "snip-it-during": "SNIP-it during training"}


def _row_label(method: str, paper_label: str) -> str:
    return ROW_LABELS.get(method, paper_label)


def table3_discussion(comparison: pd.DataFrame) -> str:
    """What the rows outside the paper's interval have in common: direction, size, the cost of pruning, ranking."""
    ran = comparison.dropna(subset=["accuracy"])
    if ran.empty:
        return ""
    outside = ran[~ran["paper inside"].astype(bool)]
    if outside.empty:
        return "Every row's interval contains the paper's value."
    labels = {m: _row_label(m, lab) for m, lab in zip(comparison["method"], comparison["paper label"])}
    gaps = outside["accuracy"] - outside["paper accuracy"]
    direction = "above" if (gaps > 0).all() else "below" if (gaps < 0).all() else "on both sides of"
    text = (f"{len(outside)} of the {len(ran)} rows fall outside the paper's interval, {direction} it by "
            f"{abs(gaps).min():.1f} to {abs(gaps).max():.1f} points (the paper prints whole percent, read as "
            f"±0.5 points). ")
    dense = ran[ran["method"] == "dense"]
    pruned = ran[ran["method"] != "dense"]
    if len(dense) and len(pruned):
        ours_cost = dense["accuracy"].iloc[0] - pruned["accuracy"]
        paper_cost = dense["paper accuracy"].iloc[0] - pruned["paper accuracy"]
        agrees = "agrees with" if bool(dense["paper inside"].iloc[0]) else "differs from"
        text += (f"Our dense baseline {agrees} the paper's, so the gap lies in what pruning costs: against their own "
                 f"dense network our pruned rows lose {ours_cost.min():.2f} to {ours_cost.max():.2f} points, the "
                 f"paper's {paper_cost.min():.0f} to {paper_cost.max():.0f}. Comparisons between methods, which the "
                 f"claims rest on, are made within our runs (summary page). ")
    ranked = " > ".join(labels[m] for m in pruned.sort_values("accuracy", ascending=False)["method"])
    by_value = pruned.groupby("paper accuracy", sort=False)["method"].apply(list).sort_index(ascending=False)
    paper_levels = "; ".join(f"{value:.0f} %: {', '.join(labels[m] for m in methods)}"
                             for value, methods in by_value.items())
    return text + f"By accuracy our pruned rows rank {ranked}; the paper's values, to whole percent, are {paper_levels}."


def table3_text(comparison: pd.DataFrame, validation: Sequence[RunRecord]) -> str:
    """The section's prose: the λ selection, one finding per row, and the discussion of rows outside the paper's."""
    findings = "\n".join(f"- {line}" for line in row_findings(comparison))
    return f"{lambda_note(validation)}\n\n{findings}\n\n{table3_discussion(comparison)}"
