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
