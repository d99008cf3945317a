"""The Appendix A chapter: weight elasticities at initialisation of several networks, per seed, summarised.

Each network is the one a run of :func:`prunekit.experiments.run.run` with the same model, dataset,
profile and seed starts from (:func:`~prunekit.experiments.run.initial_model`), and it is scored on the
first accumulated batch that run's criterion would draw from its scoring stream (training data only,
``profile.samples`` samples in chunks of ``profile.scoring_batch_size``), with the model in the
criteria's scoring mode (``eval``: dropout off, BatchNorm on its running statistics). The values
are therefore exactly what SNIP and the first SNIP-it round rank. Only summaries and thinned curves
are kept, never the raw per-weight arrays (VGG16 alone has about 5·10⁷ weights).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from prunekit.analysis.elasticity import DEFAULT_POINTS, DEFAULT_THRESHOLDS, elasticities, elasticity_curve
from prunekit.criteria.weight.sensitivity import scoring_mode
from prunekit.experiments.config import RunConfig
from prunekit.experiments.loading import load_run_data
from prunekit.experiments.run import initial_model
from prunekit.core.masks import prunable_layers
from prunekit.models import available_models
from prunekit.experiments.profiles import Profile, get_profile
from prunekit.core.sampling import SampleStream
from prunekit.training.loop import resolve_device

# Scoring all six networks is cheap on a GPU but takes minutes per seed on a 2-core CPU (VGG16 and
# AlexNet hold 5·10⁷ and 3·10⁷ weights); the three small networks take about a minute per seed.
SMALL_MODELS: tuple[str, ...] = ("mlp5", "lenet5", "conv6")
ALL_MODELS_PROFILES: tuple[str, ...] = ("paper",)
TOP_SHARE_FRACTION = 0.1


def chapter_models(profile: str | Profile, models: str | Sequence[str] | None = None) -> list[str]:
    """The networks the chapter scores: ``models`` if given (a list, or one string of comma-separated names, as
    ``papermill -p models mlp5,vgg16`` passes it), else all six in the paper profile and MLP5, LeNet5 and Conv6
    in the cheaper profiles."""
    accepted = available_models()
    if models is None:
        return list(accepted) if get_profile(profile).name in ALL_MODELS_PROFILES else list(SMALL_MODELS)
    chosen = [m.strip() for m in models.split(",")] if isinstance(models, str) else list(models)
    unknown = [m for m in chosen if not isinstance(m, str) or m.lower() not in accepted]
    if not chosen or unknown:
        raise ValueError(f"models must be a non-empty list of {accepted}, got {models!r}")
    return list(dict.fromkeys(m.lower() for m in chosen))


def threshold_label(threshold: float) -> str:
    """The column name of the share of weights strictly below ``threshold``: 0.01 → '< 0.01'."""
    return f"< {threshold:g}"


def format_share(share: float, decimals: int = 2) -> str:
    """A share as a percentage that never rounds to 0 % or 100 % unless it is exactly that: 0.99999 → '> 99.99%'."""
    share = float(share)
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"a share must lie in [0, 1], got {share!r}")
    if share in (0.0, 1.0):
        return f"{share:.0%}"
    step = 10.0 ** -(decimals + 2)
    if share <= step / 2:
        return f"< {step:.{decimals}%}"
    if share >= 1.0 - step / 2:
        return f"> {1.0 - step:.{decimals}%}"
    return f"{share:.{decimals}%}"


def elasticity_summary(scores: np.ndarray, thresholds: Sequence[float] = DEFAULT_THRESHOLDS) -> dict[str, float]:
    """Size, median, maximum, exact-zero share, spread in decades, shares below each threshold and the top-10 % share."""
    values = np.asarray(scores, dtype=float).ravel()
    if values.size == 0:
        raise ValueError("no elasticity values given")
    ordered = np.sort(values)
    top = int(np.ceil(TOP_SHARE_FRACTION * values.size))
    total = float(ordered.sum())
    positive = ordered[ordered > 0]
    summary: dict[str, float] = {
        "weights": int(values.size),
        "median": float(np.median(ordered)),
        "max": float(ordered[-1]),
        "zero": float(np.mean(values == 0)),
        # orders of magnitude between the median non-zero elasticity and the largest one
        "decades": float(np.log10(positive[-1] / np.median(positive))) if positive.size else 0.0,
    }
    for threshold in thresholds:
        summary[threshold_label(threshold)] = float(np.mean(values < threshold))
    summary["n >= 1"] = int(np.sum(values >= 1.0))
    summary["top 10% share"] = float(ordered[-top:].sum() / total) if total > 0 else 0.0
    return summary


@dataclass(frozen=True)
class ElasticitySurvey:
    """Per (model, seed) summaries (one row each, see :func:`elasticity_summary`) and thinned sorted curves."""

    summary: pd.DataFrame
    curves: dict[str, dict[int, pd.DataFrame]]

    def fraction_table(self) -> pd.DataFrame:
        """One row per model: the mean over seeds of every share and of the spread, the largest elasticity over seeds."""
        shares = [c for c in self.summary.columns if c.startswith("<")] + ["zero", "top 10% share"]
        grouped = self.summary.groupby("model", sort=False)
        table = grouped[shares].mean()
        table.insert(0, "weights", grouped["weights"].first())
        table["decades"] = grouped["decades"].mean()
        table["max"] = grouped["max"].max()
        table["n >= 1"] = grouped["n >= 1"].sum()
        table.insert(0, "seeds", grouped["seed"].count())
        return table

    def worst(self, column: str, lowest: bool = True) -> pd.Series:
        """The (model, seed) row with the lowest (or highest) value of ``column``."""
        if column not in self.summary.columns:
            raise ValueError(f"unknown column {column!r}; columns: {list(self.summary.columns)}")
        index = self.summary[column].idxmin() if lowest else self.summary[column].idxmax()
        return self.summary.loc[index]


def initial_elasticities(config: RunConfig, data_root: str | None = None) -> tuple[np.ndarray, float]:
    """Weight elasticities of ``config``'s network at initialisation on its first scoring batch, and that batch's loss."""
    device = resolve_device(config.device)
    data = load_run_data(config, device, data_root)
    model = initial_model(config, data, device)
    batches = SampleStream(data.scoring, config.samples, config.scoring_batch_size).draw()
    layers = prunable_layers(model, include_first=config.include_first, include_last=config.include_last)
    scores = elasticities(model, batches, F.cross_entropy, score_mode=config.score_mode, layers=layers)
    with scoring_mode(model, config.score_mode), torch.no_grad():
        loss = sum(float(F.cross_entropy(model(x), y, reduction="sum")) for x, y in batches)
    return scores, loss / sum(len(y) for _, y in batches)


def survey_elasticities(
    models: Sequence[str],
    dataset: str,
    profile: str | Profile,
    seeds: Sequence[int],
    *,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    points: int = DEFAULT_POINTS,
    device: str = "auto",
    data_root: str | None = None,
) -> ElasticitySurvey:
    """Score every model at initialisation for every seed (see module doc); keep summaries and ``points``-point curves."""
    chosen = get_profile(profile)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("survey_elasticities needs at least one seed")
    rows, curves = [], {}
    for model in models:
        curves[model] = {}
        for seed in seeds:
            config = RunConfig.from_profile(chosen, model=model, dataset=dataset, criterion="snip", sparsity=0.5,
                                            seed=seed, device=device)
            scores, loss = initial_elasticities(config, data_root)
            rows.append({"model": model, "seed": seed, "loss": loss, **elasticity_summary(scores, thresholds)})
            curves[model][seed] = elasticity_curve(scores, points)
            del scores
    return ElasticitySurvey(pd.DataFrame(rows), curves)


__all__ = [
    "ALL_MODELS_PROFILES",
    "SMALL_MODELS",
    "ElasticitySurvey",
    "chapter_models",
    "format_share",
    "elasticity_summary",
    "initial_elasticities",
    "survey_elasticities",
    "threshold_label",
]
