"""Sparsity schedules: how much is pruned at each step (the criteria decide what)."""

from __future__ import annotations

import math

DEFAULT_STEPS = 5


def check_sparsity(sparsity: float, name: str = "sparsity") -> float:
    """Return ``sparsity`` as a float if it lies in [0, 1), else raise ValueError naming it."""
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)):
        raise TypeError(f"{name} must be a number in [0, 1), got {sparsity!r}")
    value = float(sparsity)
    if not (0.0 <= value < 1.0) or math.isnan(value):
        raise ValueError(f"{name} must lie in [0, 1) (fraction of weights removed), got {sparsity!r}")
    return value


def snip_it_schedule(sparsity: float, steps: int = DEFAULT_STEPS) -> list[float]:
    """Algorithm 1's targets: ``κ_i = κ − (κ − ½)·½^i`` for i = 0..steps, then κ itself.

    With κ = 0.98 and 5 steps this is 0.5, 0.74, 0.86, 0.92, 0.95, 0.965, 0.98 (seven rounds).
    For κ ≤ ½ the rule would overshoot κ, so the schedule is the single step κ.
    """
    kappa = check_sparsity(sparsity)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    targets = [kappa - (kappa - 0.5) * 0.5**i for i in range(steps + 1)] + [kappa]
    monotone: list[float] = []
    for target in targets:
        target = min(target, kappa)
        if not monotone or target > monotone[-1] + 1e-12:
            monotone.append(target)
    return monotone


def exponential_schedule(sparsity: float, rounds: int) -> list[float]:
    """Targets exponential in density, ``κ_i = 1 − (1 − κ)^((i+1)/rounds)``, the last exactly κ
    (SynFlow's and FORCE's schedule)."""
    kappa = check_sparsity(sparsity)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be a positive integer, got {rounds!r}")
    targets = [1.0 - (1.0 - kappa) ** ((i + 1) / rounds) for i in range(rounds)]
    targets[-1] = kappa
    return targets


def one_shot_schedule(sparsity: float) -> list[float]:
    """A single pruning step straight to ``sparsity`` (SNIP, GraSP, Random)."""
    return [check_sparsity(sparsity)]
