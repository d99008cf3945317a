"""The one wall-clock timer of prunekit: it waits for the device's queued work before reading the clock.

CUDA kernels run asynchronously: without a synchronisation a timer stops when the work is queued, and the
work is charged to whatever phase next waits for it (the next ``.item()``, the next timer). Every timing in
the package (prune rounds, training epochs, inference passes, benchmarks) goes through :class:`Stopwatch`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import nn

Device = torch.device | str | None


def synchronize(device: Device) -> None:
    """Wait until every kernel queued on ``device`` has finished (a no-op on CPU and for ``None``)."""
    if device is None:
        return
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def model_device(model: nn.Module) -> torch.device:
    """Device of the model's first parameter (CPU for a parameter-less module)."""
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


class Stopwatch:
    """Wall seconds of a block, the device's queued work included: synchronise, read the clock, run, synchronise,
    read it again. Use as ``with Stopwatch(device) as watch: ...; watch.seconds``, or ``start()``/``elapsed()``."""

    def __init__(self, device: Device = None) -> None:
        self.device = torch.device(device) if device is not None else None
        self.seconds = float("nan")
        self._start: float | None = None

    def start(self) -> Stopwatch:
        """Wait for the device, then start the clock."""
        synchronize(self.device)
        self._start = time.perf_counter()
        return self

    def elapsed(self) -> float:
        """Seconds since ``start()``, after waiting for the device (the watch keeps running)."""
        if self._start is None:
            raise RuntimeError("Stopwatch.elapsed() called before start()")
        synchronize(self.device)
        return time.perf_counter() - self._start

    def stop(self) -> float:
        """Wait for the device, stop the clock and return (and keep in ``seconds``) the elapsed seconds."""
        self.seconds = self.elapsed()
        return self.seconds

    def __enter__(self) -> Stopwatch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def timed_call(fn: Callable[[], object], device: Device) -> float:
    """Wall seconds of one call of ``fn``, the device's queued work included."""
    with Stopwatch(device) as watch:
        fn()
    return watch.seconds


__all__ = ["Stopwatch", "model_device", "synchronize", "timed_call"]
