"""Appendix A: the sorted (Lorenz-like) curve of weight elasticities at initialisation and its inelastic shares.

Normalisation. Each weight's elasticity is the paper's ``ε = |θ·∂L/∂θ| / L`` (Formula 1–3, via
:func:`prunekit.criteria.weight.sensitivity.weight_elasticity`): it is already divided by the loss, so it
is dimensionless and its scale is absolute, where ``ε ≥ 1`` means unit-elastic (a 1 % change of
the weight moves the loss by at least 1 %). As in Figure 6 the values are *not* renormalised to sum
to one ("sorted like a Lorentz-curve, yet don't sum up to 1"); only the horizontal axis is
normalised, to the rank fraction of the weight in ``(0, 1]``. The thresholds of
:func:`inelastic_fractions` therefore apply to ``ε`` itself. A Lorenz share of the total
elasticity (``cumulative_share``) is given beside it for readers who want the classic curve.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from prunekit.criteria.base import LossFn
from prunekit.criteria.weight.sensitivity import scoring_mode, weight_elasticity
from prunekit.core.masks import current_mask, prunable_layers
from prunekit.core.sampling import Batch

DEFAULT_THRESHOLDS: tuple[float, ...] = (1e-3, 1e-2, 1.0)
DEFAULT_POINTS = 2000


def elasticities(
    model: nn.Module,
    batches: Sequence[Batch],
    loss_fn: LossFn = F.cross_entropy,
    score_mode: str = "eval",
    layers: dict[str, nn.Module] | None = None,
) -> np.ndarray:
    """Elasticity ``|θ·∂L/∂θ| / L`` of every kept prunable weight on ``batches``, flat and unsorted.

    ``score_mode`` is the BatchNorm mode of :func:`scoring_mode` (``eval`` as the criteria use);
    the model's modes and BatchNorm statistics are restored afterwards. Pruned weights are left
    out (they score exactly zero, which a log-scale curve cannot show). For the paper's
    accumulated batch of 2560 samples pass ``SampleStream(scoring_data, 2560, 512).draw()``.
    """
    if not batches:
        raise ValueError("elasticities needs at least one (inputs, targets) batch")
    layers = prunable_layers(model) if layers is None else layers
    with scoring_mode(model, score_mode):
        scores, _loss = weight_elasticity(model, layers, list(batches), loss_fn)
    kept = [scores[name][current_mask(m) != 0] for name, m in layers.items()]
    return torch.cat([k.flatten() for k in kept]).detach().cpu().double().numpy()


def _as_scores(scores: np.ndarray | torch.Tensor) -> np.ndarray:
    """A flat float64 array of finite, non-negative elasticities (else ValueError)."""
    if isinstance(scores, torch.Tensor):
        scores = scores.detach().cpu().double().numpy()
    values = np.asarray(scores, dtype=float).ravel()
    if values.size == 0:
        raise ValueError("no elasticity values given")
    if not np.all(np.isfinite(values)) or values.min() < 0:
        raise ValueError(f"elasticities must be finite and >= 0, got range [{values.min()}, {values.max()}]")
    return values


def elasticity_curve(scores: np.ndarray | torch.Tensor, points: int | None = DEFAULT_POINTS) -> pd.DataFrame:
    """The ascending sorted elasticities against the rank fraction of the weight (Figure 6).

    Columns: ``rank_fraction`` (``i / N`` for the i-th smallest, in ``(0, 1]``), ``elasticity``
    (``ε``, not renormalised) and ``cumulative_share`` (the Lorenz share of the total elasticity
    held by the weights up to this rank). ``points`` keeps that many evenly spaced ranks, the
    smallest and largest included (None keeps every weight).
    """
    values = np.sort(_as_scores(scores))
    n = values.size
    if points is not None and (isinstance(points, bool) or not isinstance(points, int) or points < 2):
        raise ValueError(f"points must be an int >= 2 or None, got {points!r}")
    ranks = np.arange(1, n + 1)
    if points is not None and points < n:
        ranks = np.unique(np.linspace(1, n, points).round().astype(int))
    total = values.sum()
    cumulative = np.cumsum(values)[ranks - 1] / total if total > 0 else np.zeros(len(ranks))
    return pd.DataFrame({"rank_fraction": ranks / n, "elasticity": values[ranks - 1],
                         "cumulative_share": cumulative})


def inelastic_fractions(
    scores: np.ndarray | torch.Tensor, thresholds: Sequence[float] = DEFAULT_THRESHOLDS
) -> pd.DataFrame:
    """Fraction of weights whose elasticity ``ε`` is strictly below each threshold (``ε`` itself, see module doc)."""
    values = _as_scores(scores)
    thresholds = [float(t) for t in thresholds]
    if not thresholds or any(not np.isfinite(t) or t <= 0 for t in thresholds):
        raise ValueError(f"thresholds must be positive finite numbers, got {thresholds!r}")
    return pd.DataFrame({"threshold": thresholds,
                         "fraction_below": [float(np.mean(values < t)) for t in thresholds]})


__all__ = ["DEFAULT_THRESHOLDS", "elasticities", "elasticity_curve", "inelastic_fractions"]
