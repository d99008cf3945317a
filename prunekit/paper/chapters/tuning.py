"""Appendix F's tuning grids, run on a held-out validation share of the training set (never the test set)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

from prunekit.experiments.config import RunConfig, scaled_epochs
from prunekit.experiments.record import RunRecord
from prunekit.measure.metrics import harmonic_mean
from prunekit.experiments.profiles import Profile, get_profile
from prunekit.paper import registry
from prunekit.paper.prologue import Page
from prunekit.paper.runs import Requests, requesting

VALIDATION_SHARE = registry.TUNING_SPLIT  # Appendix F: "a random held-out validation set, … 20% of the training set"
PAPER_INTERVALS = (4, 6, 10)  # τ in epochs of 80 (the paper searched [1, 10] and found 4 or 6 best)
PAPER_REWINDS = (0, 2, 4, 6)  # e_k in epochs of 80 (the paper searched [0, 6] and settled on 6)
PAPER_THRESHOLDS = tuple(float(f"{t:.3g}") for t in np.logspace(-5, -2, 7))  # 7 log steps in [1e-5, 1e-2]
THRESHOLD_LAMBDA = registry.THRESHOLD_LAMBDA  # ≈ 9.5e-4, the middle of the λ sweep
# The registered Appendix F claims (prunekit.paper.registry), decided over every seed of the profile.
CLAIM_IDS = tuple(c.id for c in registry.APPENDIX_F_CLAIMS + registry.BUDGET_CLAIMS)


def imp_grid(profile: str | Profile, *, model: str = "mlp5", dataset: str = "mnist", sparsity: float = 0.98,
             intervals: Sequence[float] = PAPER_INTERVALS, rewinds: Sequence[float] = PAPER_REWINDS, seed: int = 0,
             validation: float = VALIDATION_SHARE) -> list[RunConfig]:
    """IMP-global runs over τ × rewind epoch (both given in the paper's epochs of 80, scaled to the profile)."""
    P = get_profile(profile)
    return [RunConfig.from_profile(P, model=model, dataset=dataset, criterion="imp-global", sparsity=sparsity,
                                   seed=seed, prune_interval=scaled_epochs(t, P.epochs),
                                   rewind_epoch=scaled_epochs(e, P.epochs), validation=validation)
            for t in intervals for e in rewinds]


def hoyersquare_threshold_grid(profile: str | Profile, *, model: str = "mlp5", dataset: str = "mnist",
                               thresholds: Sequence[float] = PAPER_THRESHOLDS, lam: float = THRESHOLD_LAMBDA,
                               seed: int = 0, validation: float = VALIDATION_SHARE) -> list[RunConfig]:
    """HoyerSquare runs at one λ over the pruning threshold."""
    P = get_profile(profile)
    return [RunConfig.from_profile(P, model=model, dataset=dataset, criterion="hoyersquare", seed=seed,
                                   criterion_options={"lam": float(lam), "threshold": float(t)},
                                   validation=validation) for t in thresholds]


def claim_grid(profile: str | Profile, *, model: str = "mlp5", dataset: str = "mnist",
               seeds: Sequence[int] = (0,)) -> list[RunConfig]:
    """The runs the registered Appendix F claims read, on every seed: IMP's rewind epochs at τ = 4 and intervals at
    e_k = 6 (κ = 98 %), HoyerSquare and Group-HS at the paper's and the original threshold, and L0 and
    GateDecorators at their doubled and at the common budget."""
    runs: dict[str, RunConfig] = {}
    for seed in seeds:
        imp = (imp_grid(profile, model=model, dataset=dataset, sparsity=registry.TUNING_SPARSITY, intervals=(4.0,),
                        rewinds=registry.REWIND_GRID, seed=seed)
               + imp_grid(profile, model=model, dataset=dataset, sparsity=registry.TUNING_SPARSITY,
                          intervals=registry.INTERVAL_GRID, rewinds=(6.0,), seed=seed))
        hoyer = hoyersquare_threshold_grid(profile, model=model, dataset=dataset, thresholds=registry.THRESHOLD_PAIR,
                                           seed=seed)
        runs.update((c.key, c) for c in imp + hoyer + group_hs_threshold_grid(profile, model=model, dataset=dataset,
                                                                             seed=seed))
    runs.update((c.key, c) for c in budget_grid(profile, model=model, dataset=dataset, seeds=seeds))
    return list(runs.values())


def budget_grid(profile: str | Profile, *, model: str = "mlp5", dataset: str = "mnist",
                seeds: Sequence[int] = (0,)) -> list[RunConfig]:
    """L0 and GateDecorators at one point each, at twice the profile's epochs (their budget, as on the table1 page)
    and at the profile's own epochs (everyone else's): the runs of the registered budget claims."""
    from prunekit.experiments.methods import structured_method_configs

    chosen = get_profile(profile)
    runs = []
    for method, (_, level) in registry.BUDGET_POINTS.items():
        name = method.split("-")[0]
        points = {"lambdas": (level,)} if method == "l0-during" else {"sparsities": (level,)}
        doubled = structured_method_configs(name, chosen, model=model, dataset=dataset, seeds=seeds, **points)
        runs += doubled + [c.replace(epochs=chosen.epochs) for c in doubled]
    return runs


def group_hs_threshold_grid(profile: str | Profile, *, model: str = "mlp5", dataset: str = "mnist", seed: int = 0,
                            thresholds: Sequence[float] = registry.THRESHOLD_PAIR,
                            lam: float = registry.GROUP_HS_THRESHOLD_LAMBDA) -> list[RunConfig]:
    """Group-HS (nodes cut after training) at one λ over the cut threshold, on the validation split."""
    from prunekit.experiments.methods import structured_method_configs

    (base,) = structured_method_configs("group-hs", profile, model=model, dataset=dataset, seeds=(seed,),
                                        lambdas=(lam,), validation=VALIDATION_SHARE)
    return [base.replace(criterion_options={"lam": float(lam), "threshold": float(t)}) for t in thresholds]


def requests(page: Page, *, model: str = "mlp5", sparsity: float = 0.98,
             intervals: Sequence[float] = PAPER_INTERVALS, rewinds: Sequence[float] = PAPER_REWINDS,
             thresholds: Sequence[float] | None = None) -> Requests:
    """The runs the page reads, from its notebook parameters: both grids on the first seed, and the registered
    claims' grids on every seed."""
    chosen = PAPER_THRESHOLDS if thresholds is None else tuple(float(t) for t in thresholds)
    seed = page.seeds[0]
    return requesting(imp_grid(page.profile, model=model, dataset=page.dataset, sparsity=sparsity, intervals=intervals,
                               rewinds=rewinds, seed=seed)
                      + hoyersquare_threshold_grid(page.profile, model=model, dataset=page.dataset, thresholds=chosen,
                                                   seed=seed)
                      + claim_grid(page.profile, model=model, dataset=page.dataset, seeds=page.seeds))


def in_paper_epochs(value: float, epochs: int) -> float:
    """A point of a ``epochs``-long budget expressed in the paper's epochs of 80 (inverse of ``scaled_epochs``)."""
    return round(value / scaled_epochs(1.0, epochs), 6)


def _options(value: object) -> dict:
    """Criterion options from a records frame (JSON text) or a config (pairs or a dict)."""
    return json.loads(value) if isinstance(value, str) else dict(value)


def imp_table(runs: pd.DataFrame, epochs: int) -> pd.DataFrame:
    """Validation accuracy of the IMP grid: rows τ, columns rewind epoch (both in the paper's epochs of 80)."""
    if runs.empty:
        raise ValueError("imp_table needs at least one IMP run")
    frame = runs.assign(tau=[in_paper_epochs(v, epochs) for v in runs["prune_interval"]],
                        rewind=[in_paper_epochs(v, epochs) for v in runs["rewind_epoch"]])
    return frame.pivot_table(index="tau", columns="rewind", values="accuracy", aggfunc="mean")


def threshold_table(runs: pd.DataFrame) -> pd.DataFrame:
    """HoyerSquare's threshold sweep: validation accuracy, weight sparsity and their harmonic mean per threshold."""
    if runs.empty:
        raise ValueError("threshold_table needs at least one HoyerSquare run")
    thresholds = [_options(value)["threshold"] for value in runs["criterion_options"]]
    frame = runs.assign(threshold=thresholds).groupby("threshold")[["accuracy", "weight_sparsity"]].mean()
    frame["hm"] = [harmonic_mean(a, s) for a, s in zip(frame["accuracy"], frame["weight_sparsity"])]
    return frame.reset_index()


# ------------------------------------------------------------------------------------------ the chapter page

PAPER_IMP_CHOICE = (4.0, 6.0)  # the paper's τ and e_k (of 80)
PAPER_THRESHOLD, ORIGINAL_THRESHOLD = registry.THRESHOLD_PAIR  # the paper's HoyerSquare threshold and the original's


def imp_summary(grid: pd.DataFrame) -> dict:
    """Where the one-seed IMP grid peaks, its range, and the accuracy at the paper's choice (if the grid has it)."""
    best_tau, best_rewind = grid.stack().idxmax()
    paper_cell = PAPER_IMP_CHOICE if PAPER_IMP_CHOICE[0] in grid.index and PAPER_IMP_CHOICE[1] in grid.columns else None
    return {"best_tau": float(best_tau), "best_rewind": float(best_rewind), "best_acc": float(grid.stack().max()),
            "paper_cell": paper_cell, "paper_acc": float(grid.loc[paper_cell]) if paper_cell else float("nan"),
            "low": float(grid.min().min()), "high": float(grid.max().max())}


def threshold_summary(sweep_table: pd.DataFrame) -> dict:
    """The threshold with the best harmonic mean in the one-seed sweep, and the HM at the paper's and the original's."""
    by_t = sweep_table.set_index("threshold")
    has_both = PAPER_THRESHOLD in by_t.index and ORIGINAL_THRESHOLD in by_t.index
    return {"best_t": float(by_t["hm"].idxmax()), "has_both": has_both,
            "hm_paper": float(by_t.loc[PAPER_THRESHOLD, "hm"]) if has_both else float("nan"),
            "hm_original": float(by_t.loc[ORIGINAL_THRESHOLD, "hm"]) if has_both else float("nan")}


def observations_text(imp: dict, hoyer: dict, epochs: int) -> str:
    """The page's "What we observe" list for the one-seed grids, every number computed; no verdict (the registered
    claims below decide the paper's statements over every seed)."""
    compressed = (f" With a {epochs}-epoch budget τ and e_k are fractions of an epoch: the whole grid lies in the "
                  f"first {scaled_epochs(10, epochs):g} epoch(s)." if epochs < 80 else "")
    hoyer_text = (f"; at the paper's 10⁻³ it is {100 * hoyer['hm_paper']:.2f}, at the original 10⁻⁴ "
                  f"{100 * hoyer['hm_original']:.2f}." if hoyer["has_both"] else ".")
    return (f"- **IMP** (one seed): the best validation accuracy, {100 * imp['best_acc']:.2f} %, is at τ = "
            f"{imp['best_tau']:g} and e_k = {imp['best_rewind']:g} (of 80 epochs); the paper's choice τ = 4, e_k = 6 "
            f"reaches {100 * imp['paper_acc']:.2f} %. The whole grid spans {100 * imp['low']:.2f}–"
            f"{100 * imp['high']:.2f} %.{compressed}\n"
            f"- **HoyerSquare** (one seed): the best harmonic mean of validation accuracy and sparsity is at t = "
            f"{hoyer['best_t']:g}" + hoyer_text)


def claim_points(claim_id: str, records: Sequence[RunRecord]) -> pd.DataFrame:
    """One registered Appendix F claim's grid as read for its verdict: per point its mean, spread and seeds."""
    claim = registry.claims_by_id()[claim_id]
    sides = [claim.test.a] + ([claim.test.b] if claim.test.b is not None else [])
    rows = []
    for side in sides:
        for level, values in registry.side_values(side, records, claim).items():
            budget = "".join(f", {registry.condition(k, v)}" for k, v in side.at if k == registry.BUDGET_AXIS)
            rows.append({"point": f"{side.key(level)}{budget}", "chosen by the paper": level in claim.test.chosen or
                         (claim.test.kind == "better" and side is claim.test.a),
                         side.metric: 100 * float(np.mean(values)) if values else float("nan"),
                         "sd": 100 * float(np.std(values, ddof=1)) if len(values) > 1 else float("nan"),
                         "seeds": len(values)})
    return pd.DataFrame(rows)


def claim_verdicts(records: Sequence[RunRecord]) -> pd.DataFrame:
    """The registered Appendix F and budget claims with their tests and verdicts on ``records``."""
    return registry.claim_verdicts(CLAIM_IDS, records)
