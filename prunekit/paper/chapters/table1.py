"""Section 5's structured results (Tables 1 and 4, Figures 1, 11, 13, 15): the grid the page runs, its tables,
its generated observations and its checked claims."""

from __future__ import annotations

import hashlib

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from prunekit.experiments.methods import STRUCTURED_METHODS, add_structured_columns, baseline_seed_list, structured_grid
from prunekit.experiments.profiles import Profile
from prunekit.experiments.config import RunConfig
from prunekit.experiments.record import RunRecord
from prunekit.experiments.stats import aggregate
from prunekit.experiments.store import ResultStore, records_frame
from prunekit.paper.checks import CheckedClaim, check
from prunekit.paper.plots import percent_label
from prunekit.paper.plots.structured import structured_label
from prunekit.paper.runs import profile_levels
from prunekit.paper.measurements import cached_frame
from prunekit.paper.structured_timing import structured_times
from prunekit.paper.tables import structured_best, structured_costs
from prunekit.paper.prologue import Page, page_models
from prunekit.paper.runs import Requests, requesting
from prunekit.reference import paper_table

REDUCTIONS = ("inference_flops", "training_flops", "disk", "train_memory")
TIME_VALUES = ["inference_time_reduction", "training_time_reduction", "inference_flops_reduction"]
DEFAULT_LAMBDAS = {"group-hs": (0.01, 0.1, 1.0, 5.0), "l0": (0.5, 2.0, 3.5, 5.0)}  # the notebook's λ sweep
BEFORE = ("snap-it", "random")  # the before-training methods the observations compare


@dataclass(frozen=True)
class Levels:
    """What the page sweeps: node sparsities before training, the target-κ baselines' and the λ baselines'."""

    nodes: list[float]
    baselines: list[float]
    lambdas: dict[str, list[float]]


def swept_levels(profile: Profile, node_sparsities: Sequence[float], baseline_sparsities: Sequence[float],
                 lambdas: Mapping[str, Sequence[float]]) -> Levels:
    """The levels the page runs; the smoke profile keeps only its own sparsities and the strongest λ."""
    smoke = profile.name == "smoke"
    return Levels(nodes=profile_levels(profile, node_sparsities, "max"),
                  baselines=profile_levels(profile, baseline_sparsities, "min"),
                  lambdas={name: list(values[-1:] if smoke else values) for name, values in lambdas.items()})


def baseline_seeds_of(profile: Profile, baseline_seeds: int | Mapping[str, int] | None) -> int | dict[str, int]:
    """The baselines' seed choice: the profile's per-model counts when ``baseline_seeds`` is None."""
    return dict(profile.structured_baseline_seeds) if baseline_seeds is None else baseline_seeds


def grid(profile: Profile, models: Sequence[str], dataset: str, seeds: Sequence[int], criteria: Sequence[str],
         levels: Levels, baselines: Sequence[str], baseline_seeds: int | Mapping[str, int]) -> list[RunConfig]:
    """Every run the page needs, model by model (see :func:`prunekit.experiments.methods.structured_grid`)."""
    return [c for model in models for c in structured_grid(
        profile, model=model, dataset=dataset, seeds=seeds, criteria=criteria, sparsities=levels.nodes,
        baselines=baselines, baseline_sparsities=levels.baselines, lambdas=levels.lambdas,
        baseline_seeds=baseline_seeds)]


def requests(page: Page, *, models: str | Sequence[str] | None = None, criteria: Sequence[str] = ("snap-it", "cnip-it", "random"),
             node_sparsities: Sequence[float] = (0.5, 0.8, 0.9, 0.95, 0.98),
             baselines: Sequence[str] = ("efficientconvnets", "gatedecorators"),
             baseline_sparsities: Sequence[float] = (0.5, 0.8, 0.9, 0.95),
             lambdas: Mapping[str, Sequence[float]] | None = None,
             baseline_seeds: int | Mapping[str, int] | None = None) -> Requests:
    """The runs the page reads, from its notebook parameters."""
    levels = swept_levels(page.profile, node_sparsities, baseline_sparsities, dict(lambdas or DEFAULT_LAMBDAS))
    return requesting(grid(page.profile, page_models(page, models, structured=True), page.dataset, page.seeds,
                           criteria, levels, baselines, baseline_seeds_of(page.profile, baseline_seeds)))


def produced_by_details(profile: Profile, models: Sequence[str], seeds: Sequence[int],
                        baseline_seeds: int | Mapping[str, int], levels: Levels, train_images: int,
                        test_images: int) -> str:
    """What the page ran, for the produced-by line: data, models, seeds, epochs and levels."""
    base = "; ".join(f"{m.upper()} {baseline_seed_list(list(seeds), baseline_seeds, m)}" for m in models)
    return (f"{train_images} training / {test_images} test images, model(s) {', '.join(m.upper() for m in models)}. "
            f"SNAP-it, CNIP-it and Random ran seeds {list(seeds)}; the four baselines ran seeds {base} (each table "
            f"row states its n). Every method trains {profile.epochs} epoch(s) except GateDecorators and L0, which "
            f"train {2 * profile.epochs} (the paper: 80 and 160); the after-training cut at 70/80 of the budget falls "
            f"after {profile.epochs * 7 / 8:g} epochs. Node sparsities swept: {[percent_label(s) for s in levels.nodes]}"
            f" before training, {[percent_label(s) for s in levels.baselines]} for EfficientConvNets and "
            f"GateDecorators; λ for Group-HS {levels.lambdas.get('group-hs')} and for L0 {levels.lambdas.get('l0')}. "
            f"The paper's Tables 1 and 4 are for VGG16 and AlexNet on Imagenette and CIFAR10, on a GPU: shown for "
            f"reference, not for a like-for-like comparison")


def structured_frames(records: Sequence[RunRecord]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The structured and dense runs as a store frame, and their cost reductions with method and level columns."""
    runs = records_frame(list(records))
    runs = runs[(runs["criterion"] == "none") | (runs["structured"] == True)]  # noqa: E712
    costs = structured_costs(runs, REDUCTIONS)
    costs = add_structured_columns(costs.merge(runs[["key", "structured", "criterion_options", "epochs",
                                                     "train_memory_bytes"]], on="key"))
    return runs, costs


def dense_accuracies(costs: pd.DataFrame, model: str) -> pd.Series:
    """The dense runs' accuracies of ``model``, one per seed."""
    return costs.loc[(costs["model"] == model) & (costs["criterion"] == "none"), "accuracy"]


def best_tables(costs: pd.DataFrame, models: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Per model, each method's best level by harmonic mean, with its cost reductions (Tables 1 and 4)."""
    return {model: structured_best(costs[costs["model"] == model], REDUCTIONS, level="level") for model in models}


def paper_sources() -> dict[str, pd.DataFrame]:
    """The paper's rows shown beside ours: Table 4 (CIFAR10) and Table 1 (Imagenette), VGG16 and AlexNet."""
    paper4, paper1 = paper_table(4), paper_table(1)
    sources = {f"paper T4: CIFAR10 {m.upper()}": paper4[paper4["model"] == m] for m in ("vgg16", "alexnet")}
    return sources | {f"paper T1: Imagenette {m.upper()}": paper1[paper1["model"] == m] for m in ("vgg16", "alexnet")}


def paper_times() -> pd.DataFrame:
    """The paper's time columns shown beside ours: Table 1, VGG16 on Imagenette."""
    paper1 = paper_table(1)
    return paper1[paper1["model"] == "vgg16"]


def best_runs(costs: pd.DataFrame, model: str, best: pd.DataFrame) -> pd.DataFrame:
    """The runs (every seed) of ``model`` at each method's best level."""
    chosen = costs.set_index(["criterion", "level"]).index.isin(list(zip(best["criterion"], best["level"])))
    return costs[(costs["model"] == model) & chosen]


def time_table(costs: pd.DataFrame, model: str, best: pd.DataFrame, records: Sequence[RunRecord],
               dense_epochs: int, repeats: int, store: ResultStore) -> pd.DataFrame:
    """The best points' final networks timed beside the dense one, reductions averaged over seeds.

    Timings are measured once and kept beside the records (``paper.measurements``), so rebuilding the book
    from the same store shows the same times; another set of runs or repeats is another measurement."""
    chosen = best_runs(costs, model, best)
    by_key = {r.key: r for r in records}
    keys = sorted(chosen["key"])
    name = "table1-times-" + hashlib.sha256(f"{keys}|{dense_epochs}|{repeats}".encode()).hexdigest()[:12]
    times = cached_frame(store, name, lambda: structured_times([by_key[k] for k in keys], dense_epochs=dense_epochs,
                                                               repeats=repeats))
    return aggregate(chosen.merge(times, on="key"), by=["criterion", "level"], values=TIME_VALUES)


def tradeoff_curve(costs: pd.DataFrame, model: str) -> pd.DataFrame:
    """Every pruned method's accuracy and sparsities per level of ``model``, aggregated over seeds."""
    pruned = costs[(costs["model"] == model) & (costs["criterion"] != "none")]
    return aggregate(pruned, by=["criterion", "level"], values=["accuracy", "weight_sparsity", "node_sparsity"])


def _l0_runs(costs: pd.DataFrame, runs: pd.DataFrame, model: str) -> pd.DataFrame:
    """L0's runs of ``model`` with their last epoch's training accuracy."""
    return costs[(costs["model"] == model) & (costs["criterion"] == "l0")].merge(runs[["key", "train_accuracy"]],
                                                                                   on="key")


def l0_gap_table(costs: pd.DataFrame, runs: pd.DataFrame, model: str) -> pd.DataFrame | None:
    """L0's training accuracy (sampled gates) beside its test accuracy (test-time gates) per λ; None without L0."""
    l0 = _l0_runs(costs, runs, model)
    if l0.empty:
        return None
    gap = aggregate(l0, by=["level"], values=["train_accuracy", "accuracy", "node_sparsity"])
    return pd.DataFrame({"λ": [f"{v:g}" for v in gap["level"]],
                         "node sparsity (%)": [f"{100 * v:.1f}" for v in gap["node_sparsity_mean"]],
                         "training accuracy, sampled gates (%)": [f"{100 * v:.2f}" for v in gap["train_accuracy_mean"]],
                         "test accuracy, test-time gates (%)": [f"{100 * m:.2f} ± {100 * b:.2f}" for m, b in
                                                                zip(gap["accuracy_mean"], gap["accuracy_bound"])],
                         "n": gap["accuracy_n"].astype(int)})


def _pct(value: float, digits: int = 1) -> str:
    return f"{100 * value:.{digits}f}"


def _late_methods(at: pd.DataFrame) -> list[str]:
    """The methods of a best table (indexed by criterion) that prune after or during training."""
    return [c for c in at.index if STRUCTURED_METHODS[c].prune_at in ("after", "during")]


def _versus_random(at: pd.DataFrame, curve: pd.DataFrame) -> str:
    s, r = curve.loc["snap-it"], curve.loc["random"]
    shared = [k for k in s.index if k in r.index]
    return (f"- **SNAP-it against structured Random before training**: best harmonic mean "
            f"{_pct(at.loc['snap-it', 'hm_mean'])} vs {_pct(at.loc['random', 'hm_mean'])}; mean accuracy "
            + ", ".join(f"{percent_label(k)}: {_pct(s.loc[k, 'accuracy_mean'], 2)} vs "
                        f"{_pct(r.loc[k, 'accuracy_mean'], 2)} %" for k in shared) + ". At their best points "
            f"SNAP-it's network needs {at.loc['snap-it', 'inference_flops_reduction_mean']:.1f}× fewer inference "
            f"FLOPs than dense and Random's {at.loc['random', 'inference_flops_reduction_mean']:.1f}×: at equal node "
            f"sparsity the FLOPs saved depend on which layers lose their nodes (a convolution's channel costs "
            f"far more FLOPs than a fully connected neuron).")


def accuracy_differences(curve: pd.DataFrame, rival: str) -> tuple[list[float], list[float]]:
    """The node sparsities both SNAP-it and ``rival`` ran, and SNAP-it's mean accuracy minus the rival's there."""
    by_level = curve.set_index(["criterion", "level"])["accuracy_mean"]
    snap, other = by_level["snap-it"], by_level[rival]
    shared = [k for k in other.index if k in snap.index]
    return shared, [snap[k] - other[k] for k in shared]


def _versus_rival(curve: pd.DataFrame, rival: str) -> str:
    shared, diff = accuracy_differences(curve, rival)
    verdict = ("at least as accurate at every node sparsity" if all(d >= 0 for d in diff) else
               "less accurate at every node sparsity" if all(d < 0 for d in diff) else "ahead at some levels only")
    return (f"- **SNAP-it against {structured_label(rival, False)}** (after training): SNAP-it is {verdict} "
            "(" + ", ".join(f"{percent_label(k)}: {100 * d:+.2f} pp" for k, d in zip(shared, diff)) + ").")


def _group_hs_line(curve: pd.DataFrame) -> str:
    hs = curve.loc["group-hs"]
    top = hs.loc[hs["node_sparsity_mean"].idxmax()]
    return (f"- **Group-HS** reaches at most {_pct(top['node_sparsity_mean'])} % node sparsity (λ = "
            f"{hs['node_sparsity_mean'].idxmax():g}) at {_pct(top['accuracy_mean'], 1)} ± "
            f"{_pct(top['accuracy_bound'], 1)} %.")


def _l0_line(curve: pd.DataFrame, train_accuracy: pd.Series) -> str:
    l0 = curve.loc["l0"]
    pruning = l0[l0["node_sparsity_mean"] > 0.01]
    if pruning.empty:
        return "- **L0** removes no node at any λ."
    trained = train_accuracy[list(pruning.index)]
    return ("- **L0** removes nodes at λ = " + ", ".join(
        f"{lam:g} ({_pct(row['node_sparsity_mean'])} % nodes, {_pct(row['accuracy_mean'])} %)"
        for lam, row in pruning.iterrows()) + f"; its training accuracy with sampled gates there is "
        f"{_pct(trained.min())}–{_pct(trained.max())} % (the test-time gates, some between 0 and 1, are not what "
        "the following BatchNorm layers saw in training).")


def _costs_lines(at: pd.DataFrame, timed: pd.DataFrame) -> list[str]:
    before = [c for c in BEFORE if c in at.index]
    late = _late_methods(at)
    lines = []
    if before and late:
        lines.append("- **Training FLOPs** at each method's best point, reduction against one dense run: "
                     + ", ".join(f"{structured_label(c, False)} {at.loc[c, 'training_flops_reduction_mean']:.2f}×"
                                 for c in before + late) + ".")
    timed = timed.set_index("criterion")
    shown = [c for c in before + late if c in timed.index and not np.isnan(timed.loc[c, "inference_time_reduction_mean"])]
    if shown:
        lines.append("- **Time**, final networks side by side: inference "
                     + ", ".join(f"{structured_label(c, False)} {timed.loc[c, 'inference_time_reduction_mean']:.1f}×"
                                 for c in shown) + " faster than dense.")
    return lines


def best_point_lines(tables: Mapping[str, pd.DataFrame]) -> str:
    """One markdown line per model and method: its best point's accuracy, sparsity and cost reductions."""
    return "\n".join(
        f"- {model.upper()}, {structured_label(name)}: {100 * row['accuracy_mean']:.2f} % at "
        f"{100 * row['node_sparsity_mean']:.1f} % node sparsity (HM {100 * row['hm_mean']:.1f}), "
        f"{row['inference_flops_reduction_mean']:.1f}× fewer inference FLOPs, "
        f"{row['training_flops_reduction_mean']:.2f}× fewer training FLOPs than one dense run, "
        f"{row['train_memory_reduction_mean']:.2f}× less memory at the start of training."
        for model, best in tables.items() for name, row in best.set_index("criterion").iterrows())


@dataclass(frozen=True)
class ModelResults:
    """One model's numbers the checks read: best points, accuracy curve, timed best points, dense and L0 runs."""

    model: str
    best: pd.DataFrame
    curve: pd.DataFrame
    timed: pd.DataFrame
    dense: pd.Series
    l0_train_accuracy: pd.Series  # L0's mean training accuracy per λ


def model_results(model: str, costs: pd.DataFrame, runs: pd.DataFrame, best: pd.DataFrame, curve: pd.DataFrame,
                  timed: pd.DataFrame) -> ModelResults:
    """Collect one model's numbers for :func:`chapter_checks`."""
    trained = _l0_runs(costs, runs, model).groupby("level")["train_accuracy"].mean()
    return ModelResults(model, best, curve, timed, dense_accuracies(costs, model), trained)


def observations(r: ModelResults, dataset: str) -> str:
    """What the page observes for one model, written from its numbers (markdown)."""
    at = r.best.set_index("criterion")
    by_level = r.curve.set_index(["criterion", "level"])
    present = set(by_level.index.get_level_values(0))
    text = [f"On {dataset.upper()} with **{r.model.upper()}** (dense {_pct(r.dense.mean(), 2)} %), from the numbers "
            "above:", ""]
    if {"snap-it", "random"} <= present:
        text.append(_versus_random(at, by_level))
    text += [_versus_rival(r.curve, rival) for rival in ("efficientconvnets", "gatedecorators")
             if {"snap-it", rival} <= present]
    if "group-hs" in present:
        text.append(_group_hs_line(by_level))
    if "l0" in present:
        text.append(_l0_line(by_level, r.l0_train_accuracy))
    return "\n".join(text + _costs_lines(at, r.timed))


Checks = dict[str, bool]
_CheckFn = Callable[[ModelResults, str, Sequence[str], Checks], list[CheckedClaim]]


def _random_check(r: ModelResults, dataset: str, criteria: Sequence[str], checks: Checks) -> list[CheckedClaim]:
    at = r.best.set_index("criterion")
    if not {"snap-it", "random"} <= set(at.index):
        return []
    holds = bool(at.loc["snap-it", "hm_mean"] >= at.loc["random", "hm_mean"])
    checks[f"{r.model}: SNAP-it's best trade-off (HM) is at least Random's"] = holds
    return []  # "SNAP-it outperforms baselines" against Random is a registered claim (cpu-<model>-snap-beats-random)


def _flops_checks(r: ModelResults, dataset: str, criteria: Sequence[str], checks: Checks) -> list[CheckedClaim]:
    at = r.best.set_index("criterion")
    before = [c for c in criteria if c in at.index]
    after = _late_methods(at)
    claims = []
    if before:
        holds = bool((at.loc[before, "inference_flops_reduction_mean"] > 1).all()
                     and (at.loc[before, "training_flops_reduction_mean"] > 1).all())
        checks[f"{r.model}: every method that prunes before training needs fewer inference and training FLOPs"] = holds
        reductions = ", ".join(f"{structured_label(c, False)} {at.loc[c, 'training_flops_reduction_mean']:.1f}×"
                               for c in before)
        claims.append(check("table1", "shrunk-fewer-flops", f"{r.model.upper()}, {dataset.upper()}: training FLOPs "
                            f"reduced {reductions}", holds))
    if "snap-it" in at.index and after:
        checks[f"{r.model}: SNAP-it's training FLOPs reduction beats every after/during-training baseline's"] = bool(
            (at.loc["snap-it", "training_flops_reduction_mean"] > at.loc[after, "training_flops_reduction_mean"]).all())
        checks[f"{r.model}: no after/during-training baseline trains with even 1.5× fewer FLOPs than one dense "
               "run"] = bool((at.loc[after, "training_flops_reduction_mean"] < 1.5).all())
    return claims


def _rival_checks(r: ModelResults, dataset: str, criteria: Sequence[str], checks: Checks) -> list[CheckedClaim]:
    present = set(r.curve["criterion"])
    for rival in ("efficientconvnets", "gatedecorators"):
        if {"snap-it", rival} <= present:
            shared, diff = accuracy_differences(r.curve, rival)
            checks[f"{r.model}: SNAP-it's mean accuracy is at least {structured_label(rival, False)}'s at every node "
                   f"sparsity both ran"] = bool(shared) and all(d >= 0 for d in diff)
    return []  # SNAP-it against EfficientConvNets and GateDecorators are registered claims (cpu-<model>-snap-beats-*)


def _time_check(r: ModelResults, dataset: str, criteria: Sequence[str], checks: Checks) -> list[CheckedClaim]:
    timed = r.timed.set_index("criterion")
    fast = [c for c in BEFORE if c in timed.index]
    if not fast:
        return []
    holds = bool((timed.loc[fast, "inference_time_reduction_mean"] > 1).all()
                 and (timed.loc[fast, "training_time_reduction_mean"] > 1).all())
    checks[f"{r.model}: SNAP-it's and Random's final networks infer and train faster than dense"] = holds
    return [check("table1", "structured-time", f"{r.model.upper()}, {dataset.upper()}, best points timed side "
                  f"by side: " + ", ".join(f"{structured_label(c, False)} inference "
                                           f"{timed.loc[c, 'inference_time_reduction_mean']:.1f}×, training "
                                           f"{timed.loc[c, 'training_time_reduction_mean']:.1f}×" for c in fast),
                  holds)]


def _l0_check(r: ModelResults, dataset: str, criteria: Sequence[str], checks: Checks) -> list[CheckedClaim]:
    l0 = r.curve[r.curve["criterion"] == "l0"]
    if l0.empty:
        return []
    pruning = l0[l0["node_sparsity_mean"] > 0.01]
    poor = bool(len(pruning)) and bool((pruning["accuracy_mean"] < r.dense.mean() - 0.10).all())
    checks[f"{r.model}: wherever L0 removes nodes, its test accuracy is 10+ points below dense while its training "
           f"accuracy stays above 90 %"] = poor and bool((r.l0_train_accuracy[pruning["level"]] > 0.90).all())
    return []  # "L0 performs notably poor" is a registered claim (cpu-<model>-l0-poor): not counted again


def _group_hs_checks(r: ModelResults, dataset: str, criteria: Sequence[str], checks: Checks) -> list[CheckedClaim]:
    present = set(r.curve["criterion"])
    if not {"group-hs", "snap-it"} <= present:
        return []
    hs = r.curve[r.curve["criterion"] == "group-hs"]
    top = hs.loc[hs["node_sparsity_mean"].idxmax()]
    snap_at = r.curve[r.curve["criterion"] == "snap-it"].set_index("level")["accuracy_mean"]
    checks[f"{r.model}: Group-HS's sparsest point (λ = {top['level']:g}) stays below 80 % node sparsity and below "
           f"SNAP-it's accuracy at 80 %"] = bool(top["node_sparsity_mean"] < 0.8
                                                 and top["accuracy_mean"] < snap_at.get(0.8, np.nan))
    above = r.curve[r.curve["accuracy_mean"] > 0.9]
    widest = bool(top["accuracy_bound"] >= above["accuracy_bound"].max())
    checks[f"{r.model}: Group-HS's sparsest point has the widest accuracy bound of any point above 90 %"] = widest
    return []  # Group-HS's "high variance" is a registered claim (cpu-<model>-group-hs-high-variance)


_CHECKS: tuple[_CheckFn, ...] = (_random_check, _flops_checks, _rival_checks, _time_check, _l0_check,
                                 _group_hs_checks)


def chapter_checks(results: Sequence[ModelResults], dataset: str,
                   criteria: Sequence[str]) -> tuple[Checks, list[CheckedClaim]]:
    """The page's checks (statement → holds) and the paper's claims it tests, model by model, in the ledger's order."""
    checks: Checks = {}
    claims: list[CheckedClaim] = []
    for r in results:
        for fn in _CHECKS:
            claims += fn(r, dataset, criteria, checks)
    return checks, claims


__all__ = ["REDUCTIONS", "Levels", "ModelResults", "accuracy_differences", "baseline_seeds_of", "best_point_lines",
           "best_runs", "best_tables", "chapter_checks", "dense_accuracies",
           "grid", "l0_gap_table", "model_results", "observations", "paper_sources", "paper_times",
           "produced_by_details", "structured_frames", "swept_levels", "time_table", "tradeoff_curve"]
