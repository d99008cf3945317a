"""Figure 4: the fraction of weights each prunable layer keeps; interpolation of a metric to a target sparsity.

Methods whose sparsity is not set directly (HoyerSquare's threshold) land near, not on, a target
such as 99 %; the paper interpolated them "to 99 % sparsity from the closest point".
:func:`interpolate_at` does this linearly between the two stored points that bracket the target;
:func:`remaining_at` applies it per method to the stored runs' per-layer fractions, and takes the
closest point where no two points bracket the target. :func:`earliest_hardest` and
:func:`parabola_like` name the two shapes Section 5 describes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from torch import nn

from prunekit.experiments.record import RunRecord
from prunekit.core.masks import layer_counts, prunable_layers
from prunekit.experiments.methods import add_method_columns
from prunekit.experiments.store import records_frame

LAYER_COLUMNS = ("position", "layer", "kept", "count", "remaining")
RUN_LAYER_COLUMNS = ("key", "method", "level", "seed", "weight_sparsity", "position", "layer", "remaining")
SOURCES = ("stored", "interpolated", "closest")  # how remaining_at found a method's fractions at the target
EARLIEST_RATIO = 0.5  # earliest_hardest: the input layer keeps at most half of what any other layer keeps


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
                         f"(prunekit.experiments.stats.aggregate) or add the seed to `by`")
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


# ------------------------------------------------------------------------------------- per method at a target


def run_layers(records: Sequence[RunRecord]) -> pd.DataFrame:
    """One row per stored run and prunable layer: ``key``, ``method``, ``level`` (sparsity or λ), ``seed``, the
    run's ``weight_sparsity``, the layer's ``position`` (0 = input layer) and name, and its ``remaining`` fraction."""
    runs = add_method_columns(records_frame(records))
    rows = [{"key": r.key, "position": i, "layer": name, "remaining": 1.0 - float(sparsity)}
            for r in records for i, (name, sparsity) in enumerate(r.layer_sparsity.items())]
    if not rows:
        return pd.DataFrame(columns=list(RUN_LAYER_COLUMNS))
    runs = runs[["key", "method", "level", "seed", "weight_sparsity"]].astype({"weight_sparsity": float})
    return runs.merge(pd.DataFrame(rows), on="key")[list(RUN_LAYER_COLUMNS)]


def _seed_means(part: pd.DataFrame) -> pd.DataFrame:
    """Per level and layer: the mean remaining fraction and run sparsity over seeds, and the number of seeds."""
    return (part.groupby(["level", "position", "layer"], sort=True)
            .agg(remaining=("remaining", "mean"), weight_sparsity=("weight_sparsity", "mean"), n=("seed", "nunique"))
            .reset_index())


def _neighbours(sparsity: pd.Series, target: float) -> tuple[float | None, float | None]:
    """The levels whose mean sparsity is the closest at or below ``target`` and the closest above it."""
    below, above = sparsity[sparsity <= target], sparsity[sparsity > target]
    return (below.idxmax() if len(below) else None), (above.idxmin() if len(above) else None)


def _method_at(means: pd.DataFrame, target: float, tolerance: float) -> tuple[pd.DataFrame, str, list[float]]:
    """One method's per-layer fractions at ``target``: its stored level, an interpolation, or its closest level."""
    stored = means[np.isclose(means["level"].astype(float), target, rtol=0.0, atol=tolerance)]
    if len(stored):
        return stored, "stored", [float(stored["level"].iloc[0])]
    sparsity = means.groupby("level")["weight_sparsity"].mean()
    low, high = _neighbours(sparsity, target)
    if low is not None and high is not None:
        pair = means[means["level"].isin([low, high])]
        out = interpolate_at(pair, target, values=("remaining",), by=("position", "layer"))
        out["n"] = int(pair["n"].min())
        return out, "interpolated", [float(low), float(high)]
    closest = float((sparsity - target).abs().idxmin())
    return means[means["level"] == closest], "closest", [closest]


def remaining_at(runs: pd.DataFrame, target: float, *, tolerance: float = 1e-9) -> pd.DataFrame:
    """Per method and layer of :func:`run_layers` rows, the fraction kept at weight sparsity ``target`` (seed means).

    A method with a stored level equal to ``target`` (a target sparsity) gives that level's mean. Otherwise
    (HoyerSquare, whose level is λ; or a level that was not run) the two levels whose mean sparsities lie
    closest below and above the target are interpolated linearly in sparsity; where the target lies outside
    the method's range, its closest level stands in. Columns: ``method``, ``position``, ``layer``,
    ``remaining``, ``weight_sparsity`` (the target, or where the closest level sits), ``source`` (one of
    ``stored``, ``interpolated``, ``closest``), ``levels`` (the levels used) and ``n`` (seeds).
    """
    missing = [c for c in RUN_LAYER_COLUMNS[1:] if c not in runs.columns]
    if missing:
        raise ValueError(f"the frame lacks column(s) {missing}; it has {list(runs.columns)} (see run_layers)")
    if not isinstance(target, (int, float)) or not 0.0 <= target < 1.0:
        raise ValueError(f"target must be a sparsity in [0, 1), got {target!r}")
    parts = []
    for method, part in runs.groupby("method", sort=True):
        found, source, levels = _method_at(_seed_means(part), float(target), tolerance)
        found = found.assign(method=method, source=source, levels=[tuple(levels)] * len(found))
        if source != "closest":
            found["weight_sparsity"] = float(target)
        parts.append(found)
    columns = ["method", "position", "layer", "remaining", "weight_sparsity", "source", "levels", "n"]
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns].sort_values(["method", "position"], ignore_index=True)


# ------------------------------------------------------------------------------------------------ shapes


def _profile(remaining: Sequence[float], minimum: int) -> np.ndarray:
    """``remaining`` (input → output) as a float array of at least ``minimum`` fractions in [0, 1]."""
    values = np.asarray(remaining, dtype=float)
    if values.ndim != 1 or len(values) < minimum:
        raise ValueError(f"a layer profile needs at least {minimum} layers' remaining fractions, got {values.tolist()}")
    if not np.all((values >= 0.0) & (values <= 1.0)):
        raise ValueError(f"remaining fractions must lie in [0, 1], got {values.tolist()}")
    return values


def earliest_hardest(remaining: Sequence[float], ratio: float = EARLIEST_RATIO) -> bool:
    """True when the first (input) layer keeps at most ``ratio`` times the fraction every other layer keeps (by
    default half: pruned hardest by a clear margin, not by the noise of an evenly pruned network)."""
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0.0 < ratio <= 1.0:
        raise ValueError(f"ratio must be in (0, 1], got {ratio!r}")
    values = _profile(remaining, 2)
    return bool(values[0] <= ratio * values[1:].min())


def parabola_like(remaining: Sequence[float]) -> bool:
    """True when both outermost layers keep a larger fraction than every middle layer (the middle is pruned
    hardest: the pruned fraction is a downward parabola over depth, Section 5)."""
    values = _profile(remaining, 3)
    return bool(min(values[0], values[-1]) > values[1:-1].max())


def input_conservation(remaining: Sequence[float]) -> float:
    """The first layer's remaining fraction over the mean of the middle layers' (1: pruned alike; < 1: harder)."""
    values = _profile(remaining, 3)
    middle = values[1:-1].mean()
    if middle == 0.0:
        raise ValueError(f"the middle layers keep no weight, so the ratio is undefined: {values.tolist()}")
    return float(values[0] / middle)


__all__ = ["EARLIEST_RATIO", "LAYER_COLUMNS", "RUN_LAYER_COLUMNS", "SOURCES", "earliest_hardest", "input_conservation",
           "interpolate_at", "layer_remaining", "parabola_like", "remaining_at", "run_layers"]
