"""Appendix F's tuning grids, run on a held-out validation share of the training set (never the test set)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

from prunekit.criteria.weight.hoyersquare import LAMBDA_GRID
from prunekit.experiments.config import RunConfig, scaled_epochs
from prunekit.measure.metrics import harmonic_mean
from prunekit.experiments.profiles import Profile, get_profile
from prunekit.paper.prologue import Page
from prunekit.paper.runs import Requests, requesting

VALIDATION_SHARE = 0.2  # Appendix F: "a random held-out validation set, consisting of 20% of the training set"
PAPER_INTERVALS = (4, 6, 10)  # τ in epochs of 80 (the paper searched [1, 10] and found 4 or 6 best)
PAPER_REWINDS = (0, 2, 4, 6)  # e_k in epochs of 80 (the paper searched [0, 6] and settled on 6)
PAPER_THRESHOLDS = tuple(float(f"{t:.3g}") for t in np.logspace(-5, -2, 7))  # 7 log steps in [1e-5, 1e-2]
THRESHOLD_LAMBDA = LAMBDA_GRID[4]  # ≈ 9.5e-4, the middle of the λ sweep


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


def requests(page: Page, *, model: str = "mlp5", sparsity: float = 0.98,
             intervals: Sequence[float] = PAPER_INTERVALS, rewinds: Sequence[float] = PAPER_REWINDS,
             thresholds: Sequence[float] | None = None) -> Requests:
    """The runs the page reads, from its notebook parameters: both grids on the first seed."""
    chosen = PAPER_THRESHOLDS if thresholds is None else tuple(float(t) for t in thresholds)
    seed = page.seeds[0]
    return requesting(imp_grid(page.profile, model=model, dataset=page.dataset, sparsity=sparsity, intervals=intervals,
                               rewinds=rewinds, seed=seed)
                      + hoyersquare_threshold_grid(page.profile, model=model, dataset=page.dataset, thresholds=chosen,
                                                   seed=seed))


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

PAPER_IMP_CHOICE = (4.0, 6.0)  # the paper's τ and e_k (of 80 epochs)
PAPER_BEST_TAUS = (4.0, 6.0)  # "τ = 4 or 6"
PAPER_BEST_REWINDS = (5.0, 6.0)  # "e_k = 5 or 6"
PAPER_THRESHOLD, ORIGINAL_THRESHOLD = 1e-3, 1e-4  # the paper's HoyerSquare threshold and the original's


def imp_verdict(grid: pd.DataFrame) -> dict:
    """Where the IMP grid peaks, the accuracy at the paper's choice, and whether the peak is where the paper's was."""
    best_tau, best_rewind = grid.stack().idxmax()
    paper_cell = PAPER_IMP_CHOICE if PAPER_IMP_CHOICE[0] in grid.index and PAPER_IMP_CHOICE[1] in grid.columns else None
    return {"best_tau": float(best_tau), "best_rewind": float(best_rewind), "best_acc": float(grid.stack().max()),
            "paper_cell": paper_cell, "paper_acc": float(grid.loc[paper_cell]) if paper_cell else float("nan"),
            "low": float(grid.min().min()), "high": float(grid.max().max()),
            "agrees": bool(best_tau in PAPER_BEST_TAUS and best_rewind in PAPER_BEST_REWINDS)}


def threshold_verdict(sweep_table: pd.DataFrame) -> dict:
    """The threshold with the best harmonic mean, and whether the paper's 1e-3 beats the original 1e-4 here."""
    by_t = sweep_table.set_index("threshold")
    has_both = PAPER_THRESHOLD in by_t.index and ORIGINAL_THRESHOLD in by_t.index
    return {"best_t": float(by_t["hm"].idxmax()), "has_both": has_both,
            "hm_paper": float(by_t.loc[PAPER_THRESHOLD, "hm"]) if has_both else float("nan"),
            "hm_original": float(by_t.loc[ORIGINAL_THRESHOLD, "hm"]) if has_both else float("nan"),
            "agrees": bool(has_both and by_t.loc[PAPER_THRESHOLD, "hm"] >= by_t.loc[ORIGINAL_THRESHOLD, "hm"])}


def observations_text(imp: dict, hoyer: dict, epochs: int) -> str:
    """The page's "What we observe" list, every number computed from the two grids."""
    imp_text = ("This agrees with the paper's finding (τ 4 or 6, e_k 5 or 6)." if imp["agrees"] else
                f"This is not where the paper found its optimum (τ 4 or 6, e_k 5 or 6); with a {epochs}-epoch budget "
                f"τ and e_k are fractions of an epoch, so the grid is compressed into the first "
                f"{scaled_epochs(10, epochs):g} epoch(s).")
    hoyer_text = (f"; at the paper's 10⁻³ it is {100 * hoyer['hm_paper']:.2f}, at the original 10⁻⁴ "
                  f"{100 * hoyer['hm_original']:.2f}, so " + ("10⁻³ is the better of the two here too, as the paper "
                                                             "found." if hoyer["agrees"] else
                                                             "10⁻⁴ does better here, unlike in the paper.")
                  if hoyer["has_both"] else ".")
    return (f"- **IMP**: the best validation accuracy, {100 * imp['best_acc']:.2f} %, is at τ = {imp['best_tau']:g} and "
            f"e_k = {imp['best_rewind']:g} (of 80 epochs); the paper's choice τ = 4, e_k = 6 reaches "
            f"{100 * imp['paper_acc']:.2f} %. The whole grid spans {100 * imp['low']:.2f}–{100 * imp['high']:.2f} %. "
            + imp_text + "\n"
            f"- **HoyerSquare**: the best harmonic mean of validation accuracy and sparsity is at t = "
            f"{hoyer['best_t']:g}" + hoyer_text)


def ledger_entries(imp: dict, hoyer: dict, *, model: str, sparsity: float) -> list:
    """The two checked findings of Appendix F, for the book's summary page."""
    from prunekit.paper.checks import check

    return [
        check("tuning", "imp-tuning",
              f"{model.upper()}, κ = {sparsity:.0%}, 20 % validation: best at τ = {imp['best_tau']:g}, "
              f"e_k = {imp['best_rewind']:g} ({100 * imp['best_acc']:.2f} %); paper's τ = 4, e_k = 6: "
              f"{100 * imp['paper_acc']:.2f} %", imp["agrees"]),
        check("tuning", "hoyer-threshold",
              f"{model.upper()}, λ = {THRESHOLD_LAMBDA:.2g}: best HM at t = {hoyer['best_t']:g}"
              + (f"; HM {100 * hoyer['hm_paper']:.2f} at 1e-3 vs {100 * hoyer['hm_original']:.2f} at 1e-4"
                 if hoyer["has_both"] else ""), hoyer["agrees"]),
    ]
