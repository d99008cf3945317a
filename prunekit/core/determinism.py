"""What makes two runs of one config compute the same numbers: scoring pinned to one thread, cuDNN switches.

Float sums are not associative, and a multi-threaded GEMM splits its reductions by thread count, so
gradients (and hence elasticity scores) differ in their last bits between 1 and 2 threads. Seven rounds
of ranking amplify such differences into different masks. Scoring is therefore always run on one CPU
thread: a mask found before training is the same on any thread count. Training keeps the caller's thread
count (it is recorded in every run's provenance); with the same thread count a CPU run repeats bit for bit.

On a GPU, cuDNN autotuning and atomic-add kernels make training differ in its last bits between two
executions; ``RunConfig(deterministic=True)`` runs with :func:`deterministic_algorithms` (slower), so a run
repeats bit for bit on the same GPU model, driver and library versions.
"""

from __future__ import annotations

import contextlib
import os
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


CUBLAS_WORKSPACE = ":4096:8"  # what cuBLAS needs for deterministic GEMMs (CUBLAS_WORKSPACE_CONFIG)


def set_deterministic(enabled: bool = True) -> None:
    """Ask PyTorch for deterministic kernels (cuDNN included) or give the choice back to it.

    On CUDA this makes a run repeat bit for bit on the same GPU model, driver and library versions, at
    some cost in speed; it needs ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` in the environment before CUDA starts.
    """
    torch.backends.cudnn.deterministic = enabled
    torch.backends.cudnn.benchmark = not enabled
    torch.use_deterministic_algorithms(enabled, warn_only=False)


@contextlib.contextmanager
def deterministic_algorithms(enabled: bool = True) -> Iterator[None]:
    """Run the block with deterministic kernels (:func:`set_deterministic`) and restore the caller's switches
    (cuDNN's, ``torch.use_deterministic_algorithms``'s and ``CUBLAS_WORKSPACE_CONFIG``) afterwards;
    ``enabled=False`` leaves everything as it is."""
    if not enabled:
        yield
        return
    saved = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark,
             torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    workspace = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    if workspace is None:  # read when cuBLAS first runs a GEMM; set here for a process that has not yet
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE
    set_deterministic(True)
    try:
        yield
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[0], saved[1]
        torch.use_deterministic_algorithms(saved[2], warn_only=saved[3])
        if workspace is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)


__all__ = ["CUBLAS_WORKSPACE", "SCORING_THREADS", "deterministic_algorithms", "set_deterministic", "single_threaded"]
