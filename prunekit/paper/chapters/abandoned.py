"""Appendix E, re-run: GraSP on SNIP-it's schedule (with and without regrowth) and SNAP-it during training —
the runs, their tables, the generated observations and the checked claims."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from prunekit.analysis.turnover import mask_connectivity, round_turnover
from prunekit.experiments.methods import add_structured_columns, dense_configs, method_configs, structured_method_configs
from prunekit.experiments.profiles import Profile
from prunekit.experiments.config import RunConfig
from prunekit.experiments.record import RunRecord
from prunekit.experiments.stats import aggregate
from prunekit.experiments.store import ResultStore, records_frame
from prunekit.paper.checks import CheckedClaim, check
from prunekit.paper.checks import record_units as write_units
from prunekit.paper.plots import percent_label
from prunekit.paper.prologue import Page
from prunekit.paper.registry import claim_verdicts
from prunekit.paper.runs import Requests, profile_levels, requesting
from prunekit.paper.tables import structured_costs

STAY_OUT = "GraSP-it (pruned weights stay out)"
REGROW = "GraSP-it (pruned weights may return)"
VARIANTS: dict[str, dict[str, bool]] = {STAY_OUT: {"regrow": False}, REGROW: {"regrow": True}}
REFERENCES = {"grasp": "GraSP (one shot)", "snip-it": "SNIP-it (before)"}  # method key -> row label
TURNOVER_COLUMNS = ["target", "removed", "revived", "removed_share", "revived_share"]


def _variant_configs(profile: Profile, model: str, dataset: str, seeds: Sequence[int], sparsity: float,
                     options: Mapping[str, bool]) -> list[RunConfig]:
    return [RunConfig.from_profile(profile, model=model, dataset=dataset, criterion="grasp-it", sparsity=sparsity,
                                   seed=seed, criterion_options=options) for seed in seeds]


def grasp_groups(profile: Profile, model: str, dataset: str, seeds: Sequence[int],
                 levels: Sequence[float]) -> dict[str, list[RunConfig]]:
    """The trained runs per row label: both GraSP-it variants, one-shot GraSP and SNIP-it before training."""
    groups = {name: [c for s in levels for c in _variant_configs(profile, model, dataset, seeds, s, options)]
              for name, options in VARIANTS.items()}
    for key, label in REFERENCES.items():
        groups[label] = method_configs(key, profile, model=model, dataset=dataset, seeds=seeds, sparsities=levels)
    return groups


def label_of(groups: Mapping[str, Sequence[RunConfig]]) -> dict[str, str]:
    """Run key -> its row label."""
    return {c.key: name for name, group in groups.items() for c in group}


def round_table(records: Mapping[str, RunRecord], groups: Mapping[str, Sequence[RunConfig]],
                top: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Round-by-round turnover of both GraSP-it variants at κ = ``top``: per run, and averaged over seeds."""
    turnover = round_turnover([records[c.key] for name in VARIANTS for c in groups[name] if c.sparsity == top])
    turnover["variant"] = turnover["key"].map(label_of(groups))
    per_round = turnover.groupby(["variant", "round"])[TURNOVER_COLUMNS].mean().reset_index()
    return turnover, per_round


def connectivity_configs(profile: Profile, model: str, dataset: str, seed: int,
                         sparsities: Sequence[float]) -> tuple[list[RunConfig], list[str]]:
    """The masks checked for disconnection (every method at every level, one seed) and their row labels."""
    configs, labels = [], []
    for s in sorted(float(x) for x in sparsities):
        level = {name: _variant_configs(profile, model, dataset, [seed], s, options)
                 for name, options in VARIANTS.items()}
        level |= {label: method_configs(key, profile, model=model, dataset=dataset, seeds=[seed], sparsities=[s])
                  for key, label in REFERENCES.items()}
        for label, group in level.items():
            configs += group
            labels += [label] * len(group)
    return configs, labels


def connectivity(configs: Sequence[RunConfig], labels: Sequence[str], store: ResultStore) -> pd.DataFrame:
    """Surviving input→output paths and disconnection of each mask, with its row label as ``method``."""
    conn = mask_connectivity(list(configs), store)
    conn["method"] = list(labels)
    return conn


def connectivity_table(conn: pd.DataFrame) -> pd.DataFrame:
    """Surviving paths, one row per method and one column per sparsity."""
    table = conn.pivot(index="method", columns="sparsity", values="surviving_paths")
    table.columns = [percent_label(s) for s in table.columns]
    return table


def disconnected_note(conn: pd.DataFrame) -> str:
    """Which masks have no input→output path left."""
    cut = conn[conn["disconnected"]]
    return "disconnected masks: " + (", ".join(f"{m} at {percent_label(s)}" for m, s in zip(cut["method"], cut["sparsity"]))
                                     or "none")


def accuracy_table(records: Mapping[str, RunRecord], labels: Mapping[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean accuracy per method and trained sparsity, and the same as 'mean ± bound' text (percent)."""
    frame = records_frame(list(records.values()))
    frame["method"] = frame["key"].map(labels)
    agg = aggregate(frame, by=["method", "sparsity"], values=["accuracy"])
    table = agg.pivot(index="method", columns="sparsity", values="accuracy_mean")
    bounds = agg.pivot(index="method", columns="sparsity", values="accuracy_bound")
    shown = pd.DataFrame({percent_label(s): [f"{100 * table.loc[m, s]:.2f} ± {100 * bounds.loc[m, s]:.2f}"
                                             for m in table.index] for s in table.columns}, index=table.index)
    return table, shown.rename_axis("test accuracy (%), mean ± 1.96·σ/√n")


def snap_configs(profile: Profile, model: str, dataset: str, seeds: Sequence[int],
                 node_levels: Sequence[float]) -> list[RunConfig]:
    """The dense runs, SNAP-it before training and SNAP-it during training at every node sparsity and seed."""
    return (dense_configs(profile, model=model, dataset=dataset, seeds=seeds)
            + [c for key in ("snap-it", "snap-it-during") for c in structured_method_configs(
                key, profile, model=model, dataset=dataset, seeds=seeds, sparsities=node_levels)])


# Appendix E's "GraSP applied to a structured setting": the registered claims (SNAP-it beats structured GraSP).
STRUCTURED_GRASP_CLAIMS = ("cpu-mlp5-snap-beats-structured-grasp", "cpu-lenet5-snap-beats-structured-grasp")
NODE_METHODS = {"snap-it": "SNAP-it", "grasp": "structured GraSP"}  # structured method key -> column label


def structured_grasp_configs(profile: Profile, models: Sequence[str], dataset: str, seeds: Sequence[int],
                             node_levels: Sequence[float]) -> list[RunConfig]:
    """SNAP-it and GraSP's score on the node gates, both before training, per model, node sparsity and seed."""
    return [c for m in models for key in NODE_METHODS for c in structured_method_configs(
        key, profile, model=m, dataset=dataset, seeds=seeds, sparsities=node_levels)]


def structured_grasp_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Test accuracy (%, mean ± 1.96·σ/√n) of SNAP-it and structured GraSP per model and node sparsity, the gap
    and the seeds behind each mean."""
    runs = add_structured_columns(records_frame(list(records)))
    agg = aggregate(runs, by=["model", "method", "level"], values=["accuracy"]).set_index(["model", "level", "method"])
    rows = []
    for model, level in sorted({(m, lv) for m, lv, _ in agg.index}):
        snap, grasp = (agg.loc[(model, level, key)] for key in NODE_METHODS)
        rows.append({"model": model.upper(), "node sparsity κ": percent_label(level),
                     **{f"{label} (%)": _pm(found["accuracy_mean"], found["accuracy_bound"])
                        for label, found in zip(NODE_METHODS.values(), (snap, grasp))},
                     "SNAP-it − GraSP (pp)": f"{100 * (snap['accuracy_mean'] - grasp['accuracy_mean']):+.2f}",
                     "seeds": int(grasp["accuracy_n"])})
    return pd.DataFrame(rows)


def structured_grasp_verdicts(records: Sequence[RunRecord]) -> pd.DataFrame:
    """The registered structured-GraSP claims decided on the page's runs (the summary page's rule)."""
    return claim_verdicts(STRUCTURED_GRASP_CLAIMS, records)


def structured_grasp_text(table: pd.DataFrame) -> str:
    """Where SNAP-it's mean is above structured GraSP's, and the widest gap, from :func:`structured_grasp_table`."""
    gaps = table["SNAP-it − GraSP (pp)"].astype(float)
    ahead = int((gaps > 0).sum())
    widest = table.loc[gaps.abs().idxmax()]
    return (f"SNAP-it's mean accuracy is above structured GraSP's at {ahead} of {len(table)} (network, node sparsity) "
            f"points; the widest gap is {widest['SNAP-it − GraSP (pp)']} pp ({widest['model']} at "
            f"{widest['node sparsity κ']}). Whether that is more than seed noise is the registered claims' verdict "
            f"above.")


def requests(page: Page, *, model: str = "mlp5", sparsities: Sequence[float] = (0.98, 0.99),
             connectivity_sparsities: Sequence[float] = (0.99, 0.995, 0.999),
             node_sparsities: Sequence[float] = (0.5, 0.8, 0.9, 0.95, 0.98)) -> Requests:
    """The runs the page reads, from its notebook parameters (the connectivity masks are rebuilt, not read)."""
    levels = sorted(float(s) for s in sparsities)
    node_levels = profile_levels(page.profile, sorted(float(k) for k in node_sparsities), "max")
    groups = grasp_groups(page.profile, model, page.dataset, list(page.seeds), levels)
    return requesting([c for group in groups.values() for c in group]
                      + snap_configs(page.profile, model, page.dataset, list(page.seeds), node_levels)
                      + structured_grasp_configs(page.profile, page.profile.structured_model_list, page.dataset,
                                                 list(page.seeds), node_levels))


def snap_frames(records: Sequence[RunRecord]) -> tuple[pd.DataFrame, float]:
    """SNAP-it before and during training aggregated per method and level, and the dense accuracy."""
    runs = records_frame(list(records))
    costs = add_structured_columns(structured_costs(runs, ("inference_flops", "training_flops"))
                                   .merge(runs[["key", "criterion_options"]], on="key"))
    dense = float(costs.loc[costs["method"] == "none", "accuracy"].mean())
    snap = aggregate(costs[costs["method"] != "none"], by=["method", "level"],
                     values=["accuracy", "node_sparsity", "training_flops_reduction", "inference_flops_reduction"])
    return snap, dense


@dataclass(frozen=True)
class DuringBefore:
    """SNAP-it before (``before``) and during (``during``) training at the node sparsities both ran."""

    shared: list[float]
    before: pd.DataFrame
    during: pd.DataFrame

    @property
    def gap(self) -> pd.Series:
        """During minus before, mean accuracy."""
        return self.during["accuracy_mean"] - self.before["accuracy_mean"]

    @property
    def within(self) -> pd.Series:
        """Whether the gap lies within the two points' bounds together."""
        return self.gap.abs() <= self.before["accuracy_bound"] + self.during["accuracy_bound"]

    @property
    def outside(self) -> list[str]:
        """The node sparsities where the gap exceeds the bounds."""
        return [percent_label(k) for k, w in zip(self.shared, self.within) if not w]

    @property
    def on_par(self) -> bool:
        return bool(len(self.shared)) and bool(self.within.all())

    @property
    def during_ahead(self) -> bool:
        return bool(len(self.shared)) and bool((self.gap >= 0).all())

    @property
    def delays(self) -> bool:
        """Pruning during training saves less training FLOPs than pruning before, at every level."""
        return bool(len(self.shared)) and bool(
            (self.during["training_flops_reduction_mean"] < self.before["training_flops_reduction_mean"]).all())


def during_vs_before(snap: pd.DataFrame, node_levels: Sequence[float]) -> DuringBefore:
    """Pair SNAP-it before and during training at the node sparsities both ran."""
    by = {m: snap[snap["method"] == m].set_index("level") for m in ("snap-it", "snap-it-during")}
    shared = [k for k in node_levels if k in by["snap-it"].index and k in by["snap-it-during"].index]
    return DuringBefore(shared, by["snap-it"].loc[shared], by["snap-it-during"].loc[shared])


def _pm(mean: float, bound: float) -> str:
    return f"{100 * mean:.2f} ± {100 * bound:.2f}"


def during_table(cmp: DuringBefore) -> pd.DataFrame:
    """SNAP-it before beside during training per node sparsity: accuracy, gap, bounds, FLOPs, n."""
    b, d = cmp.before, cmp.during
    return pd.DataFrame({
        "node sparsity κ": [percent_label(k) for k in cmp.shared],
        "before: accuracy (%)": [_pm(m, e) for m, e in zip(b["accuracy_mean"], b["accuracy_bound"])],
        "during: accuracy (%)": [_pm(m, e) for m, e in zip(d["accuracy_mean"], d["accuracy_bound"])],
        "during − before (pp)": [f"{100 * g:+.2f}" for g in cmp.gap],
        "within the bounds": ["yes" if w else "no" for w in cmp.within],
        "before: training FLOPs (×)": [f"{v:.1f}" for v in b["training_flops_reduction_mean"]],
        "during: training FLOPs (×)": [f"{v:.1f}" for v in d["training_flops_reduction_mean"]],
        "inference FLOPs (×), both": [f"{u:.1f} / {v:.1f}" for u, v in zip(b["inference_flops_reduction_mean"],
                                                                           d["inference_flops_reduction_mean"])],
        "n": b["accuracy_n"].astype(int).to_numpy(),
    })


@dataclass(frozen=True)
class GraspIt:
    """What the GraSP-it experiments found: per-round turnover, connectivity and accuracy after training."""

    per_round: pd.DataFrame
    conn: pd.DataFrame
    accuracy: pd.DataFrame  # mean accuracy, method × trained sparsity

    @property
    def regrow(self) -> pd.DataFrame:
        """The regrowing variant's rounds after the first."""
        later = self.per_round[self.per_round["round"] >= 1]
        return later[later["variant"] == REGROW]

    @property
    def revives_more(self) -> bool:
        """In every round after the first, it revives a larger share of the pruned than it prunes of the kept."""
        return bool((self.regrow["revived_share"] > self.regrow["removed_share"]).all())

    @property
    def paths_at_top(self) -> pd.Series:
        return self.conn[self.conn["sparsity"] == self.conn["sparsity"].max()].set_index("method")["surviving_paths"]

    @property
    def stay_out_cut(self) -> pd.DataFrame:
        return self.conn[(self.conn["method"] == STAY_OUT) & self.conn["disconnected"]]

    @property
    def disconnects(self) -> bool:
        """The variant without regrowth disconnects the network somewhere SNIP-it never does."""
        snip_it_cut = self.conn[(self.conn["method"] == REFERENCES["snip-it"]) & self.conn["disconnected"]]
        return bool(len(self.stay_out_cut) > 0 and len(snip_it_cut) == 0)

    @property
    def variants(self) -> list[str]:
        return [n for n in VARIANTS if n in self.accuracy.index]

    @property
    def references(self) -> pd.DataFrame:
        return self.accuracy.drop(index=self.variants)

    @property
    def worse(self) -> bool:
        """Both GraSP-it variants end below both references at every trained level."""
        return bool((self.accuracy.loc[self.variants].max() < self.references.min()).all())


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


def grasp_it_text(g: GraspIt, model: str) -> str:
    """What the GraSP-it experiments show, written from their numbers (markdown)."""
    regrow, paths, top = g.regrow, g.paths_at_top, g.conn["sparsity"].max()
    ratio = float(regrow["revived"].sum() / regrow["removed"].sum())
    best = g.accuracy.idxmax()
    return (
        f"- **With regrowth**, after the first round the variant revives {_pct(regrow['revived_share'].min())}–"
        f"{_pct(regrow['revived_share'].max())} % of the weights pruned so far in each round, while it prunes "
        f"{_pct(regrow['removed_share'].min())}–{_pct(regrow['removed_share'].max())} % of the surviving ones; "
        f"in weights, it brings back {ratio:.2f} for every one it removes. "
        + ("So it revives a larger share of the pruned weights than it prunes of the remaining ones in every round, "
           "as the paper says." if g.revives_more else
           "So revival is real but smaller than the paper describes: in no round after the first does it revive a "
           "larger share of the pruned weights than it prunes of the surviving ones.") + "\n"
        f"- **Without regrowth**, its mask at {percent_label(top)} leaves "
        f"{paths[STAY_OUT]:.2e} of the input→output paths (SNIP-it: {paths[REFERENCES['snip-it']]:.2e}, "
        f"one-shot GraSP: {paths[REFERENCES['grasp']]:.2e}); "
        + (f"it cuts the network at {', '.join(percent_label(s) for s in g.stay_out_cut['sparsity'])} where SNIP-it "
           "does not, the disconnection the paper reports." if g.disconnects else
           f"it does not disconnect {model.upper()} at these levels, so the paper's disconnection is not reproduced "
           "here.") + "\n"
        "- After training, the best method at each trained level: "
        + ", ".join(f"{percent_label(s)}: {m}" for s, m in best.items()) + ". "
        + ("Both GraSP-it variants end below one-shot GraSP and below SNIP-it at every trained level (by "
           + ", ".join(f"{100 * (g.references[s].min() - g.accuracy.loc[g.variants, s].max()):.2f}"
                       for s in g.accuracy.columns)
           + " percentage points at least), which bears out the paper's decision to drop it."
           if g.worse else "GraSP-it is not below both references at every trained level here."))


def snap_during_text(cmp: DuringBefore, model: str) -> str:
    """SNAP-it during against before training, written from the numbers (markdown)."""
    b, d = cmp.before, cmp.during
    return (
        f"- **SNAP-it during vs before training** ({model.upper()}, node sparsity "
        f"{', '.join(percent_label(k) for k in cmp.shared)}): during minus before is "
        + ", ".join(f"{100 * g:+.2f}" for g in cmp.gap) + " percentage points of accuracy; "
        + ("every difference lies within the two runs' bounds, so the variants are on par, as the paper found. "
           if cmp.on_par else
           f"SNAP-it during training is never less accurate and is ahead beyond the two runs' bounds at "
           f"{', '.join(cmp.outside)}: not on par as the paper found, but better here. " if cmp.during_ahead else
           f"the difference exceeds the two runs' bounds at {', '.join(cmp.outside)}, so they are not on par "
           f"everywhere here. ")
        + "Training costs differ as the paper says: before training the network trains "
        + "/".join(f"{v:.1f}" for v in b["training_flops_reduction_mean"]) + "× cheaper than one dense run, during "
        + "training only " + "/".join(f"{v:.1f}" for v in d["training_flops_reduction_mean"]) + "× "
        + ("(lower at every level): pruning during training delays the savings." if cmp.delays else
           "(not lower at every level)."))


def unit_entries(turnover: pd.DataFrame, model: str, dataset: str, top: float) -> list[dict]:
    """Per seed, the regrowing GraSP-it's revived and removed shares at κ = ``top``, each the mean over the rounds
    after the first: the values the registered claim cpu-grasp-it-revives-more-than-it-prunes is decided on."""
    later = turnover[(turnover["variant"] == REGROW) & (turnover["round"] >= 1)]
    per_seed = later.groupby("key")[["revived_share", "removed_share"]].mean()
    return [{"model": model, "dataset": dataset, "method": "grasp-it-regrow", "metric": metric, "level": float(top),
             "values": [float(v) for v in per_seed[metric]]} for metric in ("revived_share", "removed_share")]


def stay_out_units(profile: Profile, model: str, dataset: str, seeds: Sequence[int], level: float,
                   store: ResultStore) -> list[dict]:
    """Per seed, whether GraSP-it without regrowth leaves no input→output path at κ = ``level`` (1: disconnected):
    the values the registered claim cpu-grasp-it-stay-out-disconnects is decided on (masks rebuilt, not trained)."""
    configs = [c for seed in seeds for c in _variant_configs(profile, model, dataset, [seed], level, VARIANTS[STAY_OUT])]
    conn = mask_connectivity(configs, store)
    return [{"model": model, "dataset": dataset, "method": "grasp-it-stay-out", "metric": "disconnected",
             "level": float(level), "values": [float(v) for v in conn["disconnected"]]}]


def record_units(entries: Sequence[Mapping], results_root: str | os.PathLike) -> Path:
    """Write the chapter's per-seed values (:func:`unit_entries`, :func:`stay_out_units`) to
    ``<results_root>/claims/abandoned-units.json``."""
    return write_units("abandoned", "seed", entries, results_root)


def chapter_claims(model: str, top: float, g: GraspIt, cmp: DuringBefore) -> list[CheckedClaim]:
    """The paper's Appendix E statements checked on this page's runs, in the ledger's order. Revival, GraSP-it's
    failure and SNAP-it during ≈ before are registered claims (decided on the summary page), not counted here."""
    paths, m = g.paths_at_top, model.upper()
    return [
        check("abandoned", "grasp-it-disconnects",
              f"{m}: surviving paths at {percent_label(g.conn['sparsity'].max())}: {paths[STAY_OUT]:.1e} "
              f"(SNIP-it {paths[REFERENCES['snip-it']]:.1e}); disconnected at "
              f"{', '.join(percent_label(s) for s in g.stay_out_cut['sparsity']) or 'no level'}", g.disconnects),
        check("abandoned", "snap-it-during-delays",
              f"{m}: training FLOPs reduction before vs during: " + ", ".join(
                  f"{percent_label(k)}: {u:.1f}× vs {v:.1f}×" for k, u, v in
                  zip(cmp.shared, cmp.before["training_flops_reduction_mean"],
                      cmp.during["training_flops_reduction_mean"])), cmp.delays),
    ]


__all__ = ["DuringBefore", "GraspIt", "REFERENCES", "REGROW", "STAY_OUT", "VARIANTS", "accuracy_table", "record_units", "stay_out_units", "unit_entries",
           "chapter_claims", "connectivity", "connectivity_configs", "connectivity_table", "disconnected_note",
           "during_table", "during_vs_before", "grasp_groups", "grasp_it_text", "label_of", "round_table",
           "snap_configs", "snap_during_text", "snap_frames", "NODE_METHODS", "STRUCTURED_GRASP_CLAIMS",
           "structured_grasp_configs", "structured_grasp_table", "structured_grasp_text", "structured_grasp_verdicts"]
