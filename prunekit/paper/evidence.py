"""One statistical rule for every claim, and the typed tests a claim may use; verdicts have three values.

The rule (stated once, on the summary page): per-unit values, Welch's t-test (unequal variances) at
α = 0.05, Holm-corrected across the levels a claim spans. The unit is the seed for trained runs (and for a
network at initialisation), the input image for a measurement on one kept network (attack success 0/1,
saliency share); a level is a sparsity, an attack distance or one part of a layer-profile shape.
Equivalence ("on par") and non-inferiority ("at least as good as") use the same Welch statistics with a
margin δ taken from the paper's own error bars, never from our numbers (two one-sided tests, each at α).

A claim over several levels holds when it holds at every level; it is contradicted when the opposite is
significant at any level; otherwise it is inconclusive. With fewer than two units on a side no test is
possible and the verdict is inconclusive (a quantity that cannot vary by unit, such as a FLOP count, may
declare itself deterministic and is then read off directly).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

ALPHA = 0.05
HOLDS, CONTRADICTED, INCONCLUSIVE = "holds", "contradicted", "inconclusive"
VERDICTS = (HOLDS, CONTRADICTED, INCONCLUSIVE)
RULE = (f"Per-unit values, where the unit is the seed for trained runs and networks at initialisation, and the input "
        f"image for a measurement on one kept network (attack success 0 or 1 per image, saliency share per image); "
        f"Welch's t-test at α = {ALPHA}, Holm-corrected across the levels a claim spans (sparsities, attack "
        f"distances, or the parts of a layer-profile shape); 'on par' and 'at least as good' use two one-sided Welch "
        f"tests against a margin δ from the paper's own error bars; 'a grid's best lies among S' compares every other "
        f"grid point with S (Bonferroni over S for the claim, every point of S for its opposite). A claim holds when "
        f"it holds at every level, is contradicted when the opposite is significant at any level, and is "
        f"inconclusive otherwise (a tie is inconclusive).")


@dataclass(frozen=True)
class LevelResult:
    """The outcome at one level: the estimate, the p-values for and against the claim (Holm-adjusted), n."""

    level: float | str  # a sparsity, or a label (an attack distance, a part of a shape)
    estimate: float  # mean difference A − B (or value − threshold), in the metric's units
    p_for: float
    p_against: float
    n: tuple[int, ...]
    verdict: str


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict and the per-level evidence behind it."""

    verdict: str
    levels: tuple[LevelResult, ...] = field(default_factory=tuple)
    reason: str = ""

    def summary(self) -> str:
        """One line: estimates, Holm-adjusted p-values and n per level."""
        if not self.levels:
            return self.reason
        return "; ".join(f"{_level(r.level)}Δ = {r.estimate:+.4g} (p = {r.p_for:.3g}, against {r.p_against:.3g}, "
                         f"n = {'/'.join(map(str, r.n))})" for r in self.levels)


def _level(level: float | str) -> str:
    if isinstance(level, str):
        return f"{level}: "
    return "" if math.isnan(level) else f"{100 * level:g} %: "


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error ≤ α); scipy has no Holm, and it is six lines."""
    order = np.argsort(p_values)
    adjusted = np.empty(len(p_values))
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted.tolist()


def welch_one_sided(a: Sequence[float], b: Sequence[float], shift: float = 0.0) -> float:
    """p-value of H0: mean(a) − mean(b) ≤ shift against mean(a) − mean(b) > shift (Welch)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if _constant(a) and _constant(b):  # no spread at all: the difference is exact
        return 0.0 if a.mean() - b.mean() > shift else 1.0
    with warnings.catch_warnings():
        # scipy warns on near-identical samples (e.g. accuracies equal to the last digit stored); the
        # statistic is still defined and the verdict's inputs are shown beside it, so the warning adds nothing.
        warnings.filterwarnings("ignore", "Precision loss occurred", RuntimeWarning)
        return float(stats.ttest_ind(a - shift, b, equal_var=False, alternative="greater").pvalue)


def _constant(values: np.ndarray) -> bool:
    return bool(np.all(values == values[0]))


def _enough(*samples: Sequence[float]) -> bool:
    return all(len(s) >= 2 for s in samples)


def _combine(results: list[LevelResult]) -> str:
    """Every level holds → holds; any level contradicted → contradicted; else inconclusive."""
    if any(r.verdict == CONTRADICTED for r in results):
        return CONTRADICTED
    return HOLDS if results and all(r.verdict == HOLDS for r in results) else INCONCLUSIVE


def _decide(levels: Sequence[float], estimates: Sequence[float], p_for: Sequence[float],
            p_against: Sequence[float], ns: Sequence[tuple[int, ...]]) -> Verdict:
    """Holm-adjust the two families of p-values and read each level, then the claim."""
    adj_for, adj_against = holm(p_for), holm(p_against)
    results = [LevelResult(lv, est, pf, pa, n,
                           HOLDS if pf < ALPHA else CONTRADICTED if pa < ALPHA else INCONCLUSIVE)
               for lv, est, pf, pa, n in zip(levels, estimates, adj_for, adj_against, ns)]
    return Verdict(_combine(results), tuple(results))


PerLevel = Mapping[float | str, Sequence[float]]


def _paired_levels(a: PerLevel, b: PerLevel) -> list[float]:
    levels = sorted(set(a) & set(b))
    if not levels:
        raise ValueError(f"the two sides share no level: {sorted(a)} vs {sorted(b)}")
    return levels


def better(a: PerLevel, b: PerLevel, *, higher: bool = True) -> Verdict:
    """A better than B at every level (higher values, or lower with ``higher=False``); contradicted where B is
    significantly better. The estimate is always mean(A) − mean(B)."""
    levels = _paired_levels(a, b)
    if not all(_enough(a[lv], b[lv]) for lv in levels):
        return Verdict(INCONCLUSIVE, reason="fewer than two units on a side")
    first, second = (a, b) if higher else (b, a)
    return _decide(levels, [float(np.mean(a[lv]) - np.mean(b[lv])) for lv in levels],
                   [welch_one_sided(first[lv], second[lv]) for lv in levels],
                   [welch_one_sided(second[lv], first[lv]) for lv in levels],
                   [(len(a[lv]), len(b[lv])) for lv in levels])


SHAPES = ("earlier-hardest", "output-hardest", "parabola")


def shape(profiles: Mapping[float | str, Sequence[Sequence[float]]], kind: str) -> Verdict:
    """A layer-profile shape over seeds: per level, each seed's kept fraction per layer (input layer first).

    ``earlier-hardest``: the input layer keeps a smaller fraction than the mean of the middle layers (one part);
    ``output-hardest``: the output layer keeps a smaller fraction than the mean of the middle layers (one part);
    ``parabola`` (downward, in the pruned fraction): the input layer and the output layer each keep a larger
    fraction than the mean of the middle layers (two parts, both must hold). Each part is a Welch test over
    seeds of the end layer's fraction against the middle layers' mean, Holm-corrected across the parts and
    levels; it fails (contradicted) where the opposite is significant.
    """
    if kind not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}, got {kind!r}")
    if not profiles:
        raise ValueError("shape() needs the per-seed profiles of one level at least")
    a: dict[str, list[float]] = {}
    b: dict[str, list[float]] = {}
    for level in sorted(profiles):
        seeds = [np.asarray(p, dtype=float) for p in profiles[level]]
        if any(len(p) < 3 for p in seeds) or len({len(p) for p in seeds}) > 1:
            raise ValueError(f"every profile needs the same number (≥ 3) of layers, got {[len(p) for p in seeds]}")
        middle = [float(p[1:-1].mean()) for p in seeds]
        at = _level(level)
        if kind == "earlier-hardest":  # the middle keeps more than the input layer
            a[f"{at}middle − input"], b[f"{at}middle − input"] = middle, [float(p[0]) for p in seeds]
        elif kind == "output-hardest":  # the middle keeps more than the output layer
            a[f"{at}middle − output"], b[f"{at}middle − output"] = middle, [float(p[-1]) for p in seeds]
        else:
            a[f"{at}input − middle"], b[f"{at}input − middle"] = [float(p[0]) for p in seeds], middle
            a[f"{at}output − middle"], b[f"{at}output − middle"] = [float(p[-1]) for p in seeds], middle
    return better(a, b)


def spread(a: PerLevel, b: PerLevel) -> Verdict:
    """A's values vary more between units than B's: per unit, its absolute deviation from its level's mean, pooled
    over each side's levels, compared by :func:`better` (a Brown–Forsythe-type test under the one rule)."""
    if not a or not b:
        raise ValueError("spread() needs values at one level at least on each side")
    deviations = {}
    for name, side in (("A", a), ("B", b)):
        if not all(_enough(v) for v in side.values()):
            return Verdict(INCONCLUSIVE, reason="fewer than two units at a level")
        deviations[name] = [abs(float(x) - float(np.mean(v))) for v in side.values() for x in v]
    return better({"pooled deviation": deviations["A"]}, {"pooled deviation": deviations["B"]})


def at_least(a: PerLevel, b: PerLevel, margin: float) -> Verdict:
    """A at least as good as B: non-inferior by margin δ (A − B > −δ significant); contradicted where B is
    significantly better (no margin: 'at least as good' fails as soon as B is really better)."""
    _check_margin(margin)
    levels = _paired_levels(a, b)
    if not all(_enough(a[lv], b[lv]) for lv in levels):
        return Verdict(INCONCLUSIVE, reason="fewer than two units on a side")
    return _decide(levels, [float(np.mean(a[lv]) - np.mean(b[lv])) for lv in levels],
                   [welch_one_sided(a[lv], b[lv], shift=-margin) for lv in levels],
                   [welch_one_sided(b[lv], a[lv]) for lv in levels],
                   [(len(a[lv]), len(b[lv])) for lv in levels])


def on_par(a: PerLevel, b: PerLevel, margin: float) -> Verdict:
    """A on par with B within ±δ (both one-sided tests significant, TOST); contradicted where |A − B| > δ is
    significant."""
    _check_margin(margin)
    levels = _paired_levels(a, b)
    if not all(_enough(a[lv], b[lv]) for lv in levels):
        return Verdict(INCONCLUSIVE, reason="fewer than two units on a side")
    p_for = [max(welch_one_sided(a[lv], b[lv], shift=-margin), welch_one_sided(b[lv], a[lv], shift=-margin))
             for lv in levels]
    p_against = [min(welch_one_sided(a[lv], b[lv], shift=margin), welch_one_sided(b[lv], a[lv], shift=margin))
                 for lv in levels]
    return _decide(levels, [float(np.mean(a[lv]) - np.mean(b[lv])) for lv in levels], p_for, p_against,
                   [(len(a[lv]), len(b[lv])) for lv in levels])


def beyond(values: PerLevel, threshold: float, *, above: bool = True, deterministic: bool = False) -> Verdict:
    """A quantity beyond a threshold the paper states (above, or below with ``above=False``) at every level."""
    levels = sorted(values)
    if not levels:
        raise ValueError("beyond() needs values at one level at least")
    sign = 1.0 if above else -1.0
    if not deterministic and not all(len(values[lv]) >= 2 for lv in levels):
        return Verdict(INCONCLUSIVE, reason="fewer than two units")
    shifted = {lv: [sign * (v - threshold) for v in values[lv]] for lv in levels}
    return _decide(levels, [float(np.mean(values[lv])) - threshold for lv in levels],
                   [_one_sample(shifted[lv], deterministic) for lv in levels],
                   [_one_sample([-v for v in shifted[lv]], deterministic) for lv in levels],
                   [(len(values[lv]),) for lv in levels])


def _one_sample(values: Sequence[float], deterministic: bool) -> float:
    """p-value of H0: mean ≤ 0 against mean > 0 (a deterministic quantity is read off: 0 or 1)."""
    arr = np.asarray(values, dtype=float)
    if deterministic or _constant(arr):
        return 0.0 if arr.mean() > 0 else 1.0
    return float(stats.ttest_1samp(arr, 0.0, alternative="greater").pvalue)


def best_in(values: PerLevel, chosen: Sequence[float | str]) -> Verdict:
    """A grid's best lies among the ``chosen`` levels: every level outside them is significantly worse than some
    chosen level; contradicted where an outside level is significantly better than every chosen one.

    Per outside level o the p-value for the claim is Bonferroni's over the chosen levels (some s beats o:
    ``|S| · min_s p(s > o)``), against it the largest over them (o beats every s: an intersection-union test
    needs no correction); both families are then Holm-corrected across the outside levels, as every claim's
    levels are. The estimate is the best chosen level's mean minus o's.
    """
    chosen = list(dict.fromkeys(chosen))
    missing = [lv for lv in chosen if lv not in values]
    if not chosen or missing:
        raise ValueError(f"best_in() needs chosen levels that the grid holds; missing {missing or 'all'} of "
                         f"{sorted(map(str, values))}")
    outside = [lv for lv in values if lv not in chosen]
    if not outside:
        raise ValueError("best_in() needs one level outside the chosen ones at least, or it cannot fail")
    if not all(_enough(v) for v in values.values()):
        return Verdict(INCONCLUSIVE, reason="fewer than two units at a level")
    best = max(chosen, key=lambda lv: float(np.mean(values[lv])))
    return _decide(outside, [float(np.mean(values[best]) - np.mean(values[o])) for o in outside],
                   [min(1.0, len(chosen) * min(welch_one_sided(values[s], values[o]) for s in chosen))
                    for o in outside],
                   [max(welch_one_sided(values[o], values[s]) for s in chosen) for o in outside],
                   [(len(values[best]), len(values[o])) for o in outside])


def _check_margin(margin: float) -> None:
    if not isinstance(margin, (int, float)) or not margin > 0 or not math.isfinite(margin):
        raise ValueError(f"margin must be a positive number taken from the paper's error bars, got {margin!r}")


__all__ = [
    "ALPHA",
    "CONTRADICTED",
    "HOLDS",
    "INCONCLUSIVE",
    "RULE",
    "SHAPES",
    "VERDICTS",
    "LevelResult",
    "Verdict",
    "at_least",
    "better",
    "best_in",
    "beyond",
    "holm",
    "on_par",
    "shape",
    "spread",
    "welch_one_sided",
]
