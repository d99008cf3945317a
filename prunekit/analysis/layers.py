"""Figure 4: the fraction of weights each prunable layer keeps; interpolation of a metric to a target sparsity.

Methods whose sparsity is not set directly (HoyerSquare's threshold) land near, not on, a target
such as 99 %; the paper interpolated them "to 99 % sparsity from the closest point".
:func:`interpolate_at` does this linearly between the two stored points that bracket the target.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from torch import nn

from prunekit.masks import layer_counts, prunable_layers

LAYER_COLUMNS = ("position", "layer", "kept", "count", "remaining")


def layer_remaining(model: nn.Module, layers: dict[str, nn.Module] | None = None) -> pd.DataFrame:
    """One row per prunable layer (input → output): ``position``, ``layer`` name, ``kept``, ``count``, ``remaining``.

    ``remaining`` is ``kept / count``, the fraction of the layer's weights that is not pruned;
    ``count`` is the layer's number of weights (biases and BatchNorm excluded, as ``weight_sparsity``).
    """
    layers = prunable_layers(model) if layers is None else layers
    rows = [
        {"position": i, "layer": name, "kept": c.kept, "count": c.total, "remaining": c.kept / c.total}
        for i, (name, c) in enumerate(layer_counts(model, layers).items())
    ]
    return pd.DataFrame(rows, columns=list(LAYER_COLUMNS))


def _bracket(xs: np.ndarray, target: float) -> tuple[int, int]:
    """Indices of the two points of sorted ``xs`` whose segment holds ``target`` (the nearest segment outside)."""
    right = int(np.searchsorted(xs, target))
    right = min(max(right, 1), len(xs) - 1)
    return right - 1, right


def _interpolate_group(part: pd.DataFrame, target: float, x: str, values: Sequence[str],
                       extrapolate: bool, label: object) -> dict[str, float]:
    """Interpolated ``values`` of one group at ``x = target``."""
    part = part.sort_values(x)
    xs = part[x].to_numpy(dtype=float)
    if len(xs) < 2:
        raise ValueError(f"group {label!r} has {len(xs)} point(s); interpolation needs two distinct {x} values")
    if np.any(np.diff(xs) == 0):
        raise ValueError(f"group {label!r} repeats {x} values {xs.tolist()}; aggregate seeds first "
                         f"(prunekit.store.aggregate) or add the seed to `by`")
    if not extrapolate and not xs[0] <= target <= xs[-1]:
        raise ValueError(f"target {x}={target} lies outside the stored range [{xs[0]}, {xs[-1]}] of group "
                         f"{label!r}; pass extrapolate=True to extend the closest segment")
    lo, hi = _bracket(xs, target)
    weight = (target - xs[lo]) / (xs[hi] - xs[lo])
    return {v: float((1 - weight) * part[v].iloc[lo] + weight * part[v].iloc[hi]) for v in values}


def interpolate_at(
    frame: pd.DataFrame,
    target: float,
    *,
    x: str = "weight_sparsity",
    values: Sequence[str] = ("accuracy",),
    by: Sequence[str] = ("criterion",),
    extrapolate: bool = False,
) -> pd.DataFrame:
    """Per group of ``by``, ``values`` linearly interpolated to ``x = target`` from the two stored points around it.

    Each group needs at least two distinct ``x`` values (aggregate seeds first). A target outside
    a group's range raises ValueError unless ``extrapolate``, which extends the closest segment.
    Returns one row per group: the ``by`` columns, ``x`` (= target) and the interpolated ``values``.
    For per-layer fractions use ``by=("criterion", "position")`` and ``values=("remaining",)``.
    """
    by, values = list(by), list(values)
    missing = [c for c in [*by, x, *values] if c not in frame.columns]
    if missing:
        raise ValueError(f"the frame lacks column(s) {missing}; it has {list(frame.columns)}")
    if not np.isfinite(target):
        raise ValueError(f"target must be a finite number, got {target!r}")
    rows = []
    for label, part in frame.groupby(by, sort=True, dropna=False) if by else [((), frame)]:
        key = label if isinstance(label, tuple) else (label,)
        row = dict(zip(by, key))
        row[x] = float(target)
        row.update(_interpolate_group(part, float(target), x, values, extrapolate, label))
        rows.append(row)
    return pd.DataFrame(rows, columns=[*by, x, *values])


__all__ = ["LAYER_COLUMNS", "interpolate_at", "layer_remaining"]
