"""What makes two runs of one config compute the same numbers: scoring pinned to one thread, cuDNN switches.

Float sums are not associative, and a multi-threaded GEMM splits its reductions by thread count, so
gradients (and hence elasticity scores) differ in their last bits between 1 and 2 threads. Seven rounds
of ranking amplify such differences into different masks. Scoring is therefore always run on one CPU
thread: a mask found before training is the same on any thread count. Training keeps the caller's thread
count (it is recorded in every run's provenance); with the same thread count a CPU run repeats bit for bit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

SCORING_THREADS = 1  # scoring is a small share of a run; one thread makes masks thread-count invariant


@contextlib.contextmanager
def single_threaded(threads: int = SCORING_THREADS) -> Iterator[None]:
    """Run the block with ``threads`` intra-op CPU threads, restoring the caller's count afterwards."""
    before = torch.get_num_threads()
    if before == threads:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def set_deterministic(enabled: bool = True) -> None:
    """Ask PyTorch for deterministic kernels (cuDNN included) or give the choice back to it.

    On CUDA this makes a run repeat bit for bit on the same GPU model, driver and library versions, at
    some cost in speed; it needs ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` in the environment before CUDA starts.
    """
    torch.backends.cudnn.deterministic = enabled
    torch.backends.cudnn.benchmark = not enabled
    torch.use_deterministic_algorithms(enabled, warn_only=False)


__all__ = ["SCORING_THREADS", "set_deterministic", "single_threaded"]
