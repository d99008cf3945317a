"""The robustness chapter (Section 5, Figures 3–5): which stored network stands for each method at each sparsity,
and the per-checkpoint measurements (saliency concentration, attack success) collected into frames.

A *checkpoint* is the trained network of one run kept in the results store
(:meth:`prunekit.experiments.store.ResultStore.load_model`). A method that targets a sparsity is represented at a
level by its run at that level; HoyerSquare, whose sparsity follows from its regulariser strength λ,
by the λ run whose stored sparsity is closest to the level (the paper: "we had to interpolate to 99 %
sparsity from the closest point"), so its network may sit a little below or above the level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import foolbox as fb
import pandas as pd
import torch
from torch import nn

from prunekit.analysis.robustness import InputSpec, attack_each
from prunekit.analysis.saliency import TOP_FRACTION, region_share, saliency_maps, top_share
from prunekit.criteria.weight.hoyersquare import LAMBDA_GRID
from prunekit.experiments.config import RunConfig
from prunekit.experiments.methods import PAPER_UNSTRUCTURED, get_method, method_configs
from prunekit.experiments.profiles import Profile, get_profile
from prunekit.experiments.store import ResultStore

PAPER_LEVELS: tuple[float, ...] = (0.98, 0.99, 0.995)  # the checkpoints kept around the paper's κ = 0.99
PAPER_KAPPA = 0.99  # Figures 3, 4 and 5b are drawn at this sparsity
Checkpoint = tuple[str, float]  # (method key, sparsity level)
EPSILONS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)  # ℓ2 caps in raw [0, 1] pixel units
FIGURE_5A_EPSILON = 0.5  # Figure 5a: success against sparsity at ℓ2 distance ≤ 0.5


@dataclass(frozen=True)
class AttackBudget:
    """How many test images the chapter attacks, and the Carlini–Wagner optimisation budget per image batch."""

    images: int
    steps: int
    binary_search_steps: int


# foolbox's own defaults are 10 000 steps and 9 binary-search steps; on a 2-core CPU one MLP5 takes about 8 s
# for 100 images at 200 × 5, so the cpu chapter attacks its 21 networks in about three minutes.
ATTACK_BUDGETS: dict[str, AttackBudget] = {
    "smoke": AttackBudget(images=16, steps=20, binary_search_steps=2),
    "cpu": AttackBudget(images=100, steps=200, binary_search_steps=5),
    "paper": AttackBudget(images=1000, steps=1000, binary_search_steps=9),
}


def attack_budget(profile: str | Profile) -> AttackBudget:
    """The attack budget of a profile (the cpu one for a profile without its own)."""
    return ATTACK_BUDGETS.get(get_profile(profile).name, ATTACK_BUDGETS["cpu"])


def chapter_levels(profile: str | Profile, levels: Sequence[float] | None = None,
                   kappa: float = PAPER_KAPPA) -> tuple[list[float], float]:
    """The checkpoint levels and the focus sparsity of a profile: ``levels`` (default: the paper's 98, 99 and
    99.5 % that the profile sweeps, else its highest level) and ``kappa`` if among them, else the closest one."""
    chosen = get_profile(profile)
    if levels is None:
        levels = [s for s in PAPER_LEVELS if any(abs(s - p) < 1e-9 for p in chosen.sparsities)]
        levels = levels or [max(chosen.sparsities)]
    levels = sorted(float(s) for s in levels)
    if not levels or not all(0.0 < s < 1.0 for s in levels):
        raise ValueError(f"levels must be sparsities in (0, 1), got {levels!r}")
    focus = min(levels, key=lambda s: abs(s - kappa))
    return levels, focus


def lambda_configs(profile: str | Profile, *, model: str, dataset: str, seed: int = 0,
                   methods: Sequence[str] = PAPER_UNSTRUCTURED, lambdas: Sequence[float] = LAMBDA_GRID
                   ) -> list[RunConfig]:
    """The λ runs (one seed) of the methods whose sparsity follows from λ: their records pick the checkpoints."""
    return [c for key in methods if get_method(key).sweeps_lambda
            for c in method_configs(key, profile, model=model, dataset=dataset, seeds=[seed], lambdas=lambdas)]


def checkpoint_configs(store: ResultStore, profile: str | Profile, *, model: str, dataset: str,
                       levels: Sequence[float], seed: int = 0, methods: Sequence[str] = PAPER_UNSTRUCTURED,
                       lambdas: Sequence[float] = LAMBDA_GRID) -> dict[Checkpoint, RunConfig]:
    """Per (method, level), the run whose network represents the method there (one seed).

    A λ method takes the λ run whose stored weight sparsity is closest to the level, so its λ runs'
    records must be in ``store`` (sweep :func:`lambda_configs` first); missing ones raise ValueError.
    """
    chosen: dict[Checkpoint, RunConfig] = {}
    for key in methods:
        method = get_method(key)
        if not method.sweeps_lambda:
            for level in levels:
                (config,) = method_configs(method, profile, model=model, dataset=dataset, seeds=[seed],
                                           sparsities=[level])
                chosen[(key, float(level))] = config
            continue
        runs = method_configs(method, profile, model=model, dataset=dataset, seeds=[seed], lambdas=lambdas)
        stored = {c.key: store.get(c) for c in runs}
        absent = [dict(c.criterion_options)["lam"] for c in runs if stored[c.key] is None]
        if absent:
            raise ValueError(f"{key}: the records of λ = {absent} (seed {seed}) are not in {store.root}; sweep "
                             f"lambda_configs(...) first, their sparsities pick the checkpoints")
        for level in levels:
            chosen[(key, float(level))] = min(
                runs, key=lambda c: abs(stored[c.key].metrics["weight_sparsity"] - level))
    return chosen


def checkpoint_table(store: ResultStore, checkpoints: Mapping[Checkpoint, RunConfig]) -> pd.DataFrame:
    """One row per checkpoint: method, level, key, λ (HoyerSquare), the run's weight sparsity and test accuracy."""
    rows = []
    for (method, level), config in checkpoints.items():
        record = store.get(config)
        if record is None:
            raise ValueError(f"checkpoint {method} at {level:g} ({config.key}) has no record in {store.root}")
        rows.append({"method": method, "level": level, "key": config.key,
                     "lam": dict(config.criterion_options).get("lam"),
                     "weight_sparsity": float(record.metrics["weight_sparsity"]), "accuracy": record.accuracy})
    return pd.DataFrame(rows)


def load_checkpoints(store: ResultStore, checkpoints: Mapping[Checkpoint, RunConfig]) -> dict[Checkpoint, nn.Module]:
    """Every checkpoint's trained network from ``store`` (eval mode, CPU)."""
    return {name: store.load_model(config) for name, config in checkpoints.items()}


def at_level(models: Mapping[Checkpoint, nn.Module], level: float) -> dict[str, nn.Module]:
    """The networks of one level, keyed by method."""
    found = {method: model for (method, lvl), model in models.items() if abs(lvl - level) < 1e-9}
    if not found:
        raise ValueError(f"no checkpoint at level {level!r}; levels: {sorted({lvl for _, lvl in models})}")
    return found


def saliency_by_method(models: Mapping[str, nn.Module], inputs: torch.Tensor) -> dict[str, torch.Tensor]:
    """The (N, H, W) saliency maps of the same (normalised) inputs under each method's network."""
    return {method: saliency_maps(model, inputs) for method, model in models.items()}


def blank_pixels(images: torch.Tensor) -> torch.Tensor:
    """The (H, W) pixels that are zero in every one of the raw ``images`` (N, C, H, W), in every channel."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ValueError(f"images must be a (N, C, H, W) tensor, got {getattr(images, 'shape', type(images))}")
    return (images == 0).all(dim=0).all(dim=0)


def concentration_table(models: Mapping[Checkpoint, nn.Module], inputs: torch.Tensor,
                        fraction: float = TOP_FRACTION, blank: torch.Tensor | None = None) -> pd.DataFrame:
    """Per checkpoint, the share of total saliency on the top ``fraction`` of pixels: mean, std and n over the
    inputs whose map is not all zero, and ``blind``, the number of inputs whose predicted class score does not
    depend on the input at all (an all-zero map, see :func:`top_share`). With a ``blank`` pixel mask
    (:func:`blank_pixels`), ``blank_share`` is the mean share of saliency on those pixels."""
    rows = []
    for (method, level), model in models.items():
        maps = saliency_maps(model, inputs)
        shares = top_share(maps, fraction)
        seen = ~torch.isnan(shares)
        row = {"method": method, "level": level,
               "top_share": float(shares[seen].mean()) if seen.any() else float("nan"),
               "top_share_std": float(shares[seen].std()) if int(seen.sum()) > 1 else 0.0, "n": int(seen.sum()),
               "blind": int((~seen).sum())}
        if blank is not None:
            row["blank_share"] = float(region_share(maps, blank)[seen].mean()) if seen.any() else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def attack_checkpoints(models: Mapping[Checkpoint, nn.Module], images: torch.Tensor, labels: torch.Tensor,
                       epsilons: Sequence[float], spec: InputSpec,
                       attack: fb.attacks.Attack | None = None) -> pd.DataFrame:
    """Attack success per checkpoint and ε on the same images: ``method``, ``level``, ``epsilon``,
    ``success_rate``, ``fooled``, ``n``."""
    levels = sorted({level for _, level in models})
    frames = [attack_each(at_level(models, level), images, labels, epsilons, spec, attack).assign(level=level)
              for level in levels]
    return pd.concat(frames, ignore_index=True)


__all__ = [
    "ATTACK_BUDGETS",
    "EPSILONS",
    "FIGURE_5A_EPSILON",
    "PAPER_KAPPA",
    "PAPER_LEVELS",
    "AttackBudget",
    "at_level",
    "attack_budget",
    "attack_checkpoints",
    "blank_pixels",
    "chapter_levels",
    "checkpoint_configs",
    "checkpoint_table",
    "concentration_table",
    "lambda_configs",
    "load_checkpoints",
    "saliency_by_method",
]
