"""Memory during training, sampled: Figure 21 reports the *median* RAM footprint over training (Appendix H).

A run's peak alone says little: the paper notes that "the epoch that measuring takes place can play
a role" and documents "both point-measurements and median values over longer periods of time".
:class:`MemorySampler` is a training-loop callback that reads the memory every ``every`` optimiser
steps (and once before the first). On CUDA a sample is the peak of torch's allocated bytes since the
previous sample (``max_memory_allocated``, then ``reset_peak_memory_stats``), so the activations of
the steps in between count although they are freed by the time a step ends; the first sample holds
the peak since the run reset the counter (pruning before training included). Elsewhere a sample is
the process's current resident set size: weights, optimiser state, data and framework, while a
step's activations are mostly freed by the time it ends. ``median_bytes`` and ``peak_bytes``
summarise the samples; ``as_resources()`` gives them under the names run records use.

On CUDA the sampler resets torch's peak counter: after training, ``torch.cuda.max_memory_allocated``
covers only what followed the last sample, and the run's overall peak is the larger of that and
``peak_bytes``.
"""

from __future__ import annotations

import numbers
import os
import resource
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from prunekit.training.loop import Callback, TrainState

STATM = Path("/proc/self/statm")
DEFAULT_EVERY = 10


def current_rss_bytes() -> int:
    """The process's resident set size now (Linux ``/proc/self/statm``); elsewhere its peak RSS (``getrusage``)."""
    try:
        resident_pages = int(STATM.read_text().split()[1])
    except (OSError, IndexError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)  # bytes on macOS, KiB on Linux
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


def cuda_window_peak_reader(device: torch.device) -> Callable[[], int]:
    """A reader of the peak bytes torch allocated on the CUDA ``device`` since the previous read (it resets the peak)."""
    def read() -> int:
        peak = int(torch.cuda.max_memory_allocated(device))
        torch.cuda.reset_peak_memory_stats(device)
        return peak
    return read


def memory_kind(device: torch.device) -> str:
    """What a sampler reads on ``device``: 'cuda_allocated_window_peak' or 'process_rss'."""
    return "cuda_allocated_window_peak" if torch.device(device).type == "cuda" else "process_rss"


def default_reader(device: torch.device) -> Callable[[], int]:
    """Per-window peak of CUDA allocated bytes on a GPU, the current process RSS on any other device."""
    device = torch.device(device)
    return cuda_window_peak_reader(device) if device.type == "cuda" else current_rss_bytes


class MemorySampler(Callback):
    """Samples the memory in use at the start of training and every ``every`` optimiser steps.

    ``reader`` (a function returning bytes) replaces the device's default reader, e.g. in tests.
    Each ``on_train_start`` starts a fresh series, so one sampler can serve consecutive runs.
    """

    def __init__(self, every: int = DEFAULT_EVERY, reader: Callable[[], int] | None = None) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive number of optimiser steps, got {every!r}")
        if reader is not None and not callable(reader):
            raise TypeError(f"reader must be a callable returning bytes, got {type(reader).__name__}")
        self.every = every
        self._given_reader = reader
        self._reader: Callable[[], int] | None = reader
        self.kind: str | None = None
        self._samples: list[int] = []
        self._steps: list[int] = []

    def _sample(self, step: int) -> None:
        value = self._reader()
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"the memory reader must return a non-negative int of bytes, got {value!r}")
        self._samples.append(int(value))
        self._steps.append(step)

    def on_train_start(self, state: TrainState) -> None:
        """Choose the reader for the run's device and take the first sample (before any step)."""
        self._samples, self._steps = [], []
        self.kind = "custom" if self._given_reader is not None else memory_kind(state.device)
        self._reader = self._given_reader or default_reader(state.device)
        self._sample(state.step)

    def on_step_end(self, state: TrainState) -> None:
        """Sample after every ``every``-th optimiser step."""
        if state.step % self.every == 0:
            self._sample(state.step)

    @property
    def samples(self) -> tuple[int, ...]:
        """Every sample in bytes, in the order taken."""
        return tuple(self._samples)

    @property
    def steps(self) -> tuple[int, ...]:
        """The optimiser step count at each sample (0: before the first step)."""
        return tuple(self._steps)

    def _require_samples(self) -> None:
        if not self._samples:
            raise ValueError("the sampler holds no sample yet: register it with prunekit.training.loop.train(callbacks=...) "
                             "and train first")

    @property
    def median_bytes(self) -> int:
        """The median sample (the lower of the two middle ones for an even count: a value actually seen)."""
        self._require_samples()
        return int(statistics.median_low(self._samples))

    @property
    def peak_bytes(self) -> int:
        """The largest sample (on CPU a peak between two samples is not seen; on CUDA every window's peak is)."""
        self._require_samples()
        return max(self._samples)

    @property
    def start_bytes(self) -> int:
        """The first sample, before the first step (CPU: RSS with data and model loaded; CUDA: the peak so far)."""
        self._require_samples()
        return self._samples[0]

    def as_resources(self) -> dict[str, int | str | None]:
        """The summary under run-record names: median, sampled peak, count and what was read."""
        return {"median_memory_bytes": self.median_bytes, "sampled_peak_memory_bytes": self.peak_bytes,
                "memory_samples": len(self._samples), "memory_kind": self.kind}


__all__ = ["DEFAULT_EVERY", "MemorySampler", "current_rss_bytes", "cuda_window_peak_reader", "default_reader",
           "memory_kind"]
