"""One timing protocol for the speed reports (issue #16): tasks timed in alternation, every repeat kept.

Each round runs every task once, in turn, so a load change on the machine hits all of them alike;
untimed warm-up rounds come first. Reports take the best (least disturbed) or the median of the
repeats and print the spread of their ratios, so a reader sees how noisy the machine was.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch


def check_positive_int(value: object, name: str) -> int:
    """Return ``value`` if it is a positive int (not a bool), else raise ValueError naming it."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def synchronize(device: torch.device | str) -> None:
    """Wait for queued CUDA work so wall-clock times cover it."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device | str = "cpu") -> Callable[[], float]:
    """A task that runs ``fn`` once and returns its wall-clock seconds (CUDA work included)."""
    def task() -> float:
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        return time.perf_counter() - start
    return task


def interleaved_times(tasks: Sequence[Callable[[], float]], repeats: int, warmup: int = 1) -> list[list[float]]:
    """Every timed repeat of each task (a call returning its seconds), the tasks run in alternation."""
    check_positive_int(repeats, "repeats")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative int, got {warmup!r}")
    for _ in range(warmup):
        for task in tasks:
            task()
    times: list[list[float]] = [[] for _ in tasks]
    for _ in range(repeats):
        for task, record in zip(tasks, times):
            record.append(task())
    return times


@dataclass(frozen=True)
class Spread:
    """Minimum, median and maximum of a set of repeated measurements."""

    low: float
    median: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        """The spread of ``values`` (at least one)."""
        if not values:
            raise ValueError("a spread needs at least one value")
        return cls(min(values), statistics.median(values), max(values))

    def format(self, unit: str = "x") -> str:
        """``min / median / max`` with two decimals and ``unit``."""
        return f"{self.low:.2f}{unit} / {self.median:.2f}{unit} / {self.high:.2f}{unit}"


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Ratio of the i-th repeat of one task to the i-th of another (the same round, so the same load)."""
    if len(numerators) != len(denominators):
        raise ValueError(f"paired ratios need equal repeat counts, got {len(numerators)} and {len(denominators)}")
    return [n / d for n, d in zip(numerators, denominators)]
