"""Helpers for the experiment-layer tests: tiny configs, synthetic records, and the kill -9 sweep child.

Run as a script (``python tests/sweep_helpers.py STORE DATA_ROOT``) it sweeps ``kill_grid()`` into
STORE, pausing inside each run so that the parent can SIGKILL it while a run is in flight.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

if __name__ == "__main__":  # make `prunekit` importable when run as a script from anywhere
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prunekit.experiments import sweep as sweep_module
from prunekit.experiments.config import RunConfig  # noqa: E402
from prunekit.experiments.record import RunRecord, provenance  # noqa: E402

RUN_PAUSE_SECONDS = 0.5  # the child's pause inside each run: the parent's kill lands mid-sweep


def tiny_config(**overrides: object) -> RunConfig:
    """A seconds-long MLP5/MNIST config in the smoke profile (smaller data than smoke itself)."""
    fields: dict[str, object] = dict(model="mlp5", dataset="mnist", criterion="random", sparsity=0.9,
                                     train_limit=256, test_limit=128, samples=128, scoring_batch_size=128,
                                     batch_size=128, device="cpu")  # pinned: the same test on a GPU host
    fields.update(overrides)
    return RunConfig.from_profile("smoke", **fields)


def kill_grid() -> list[RunConfig]:
    """Five tiny runs for the kill -9 test."""
    return sweep_module.grid(tiny_config(), seed=range(5))


def fake_record(config: RunConfig, accuracy: float = 0.5, weight_sparsity: float | None = None,
                node_sparsity: float = 0.1) -> RunRecord:
    """A synthetic, schema-valid record of ``config`` (no computation)."""
    sparsity = config.sparsity if weight_sparsity is None else weight_sparsity
    metrics = {"mask_digest": "0" * 64, "accuracy": accuracy, "test_loss": 1.0, "train_accuracy": accuracy,
               "train_loss": 1.0, "weight_sparsity": sparsity, "node_sparsity": node_sparsity, "inference_flops": 10,
               "dense_inference_flops": 100, "csr_bits": 1.0, "dense_bits": 2, "training_flops": 30,
               "dense_training_flops": 300, "train_samples": 256, "test_samples": 128}
    history = [{"epoch": 1, "train_loss": 1.0, "train_acc": accuracy, "test_loss": 1.0, "test_acc": accuracy,
                "seconds": 0.1}]
    resources = {"prune_seconds": 0.1, "train_seconds": 0.2, "eval_seconds": 0.0, "total_seconds": 0.3,
                 "peak_memory_bytes": 1, "peak_memory_kind": "process_rss"}
    return RunRecord(config, metrics, {"classifier.0": sparsity}, history, [], resources,
                     provenance(torch.device("cpu")))


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """One torch thread: on a shared 2-core machine two threads per process run several times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def single_thread() -> Iterator[None]:
    """``one_thread`` for one test."""
    with one_thread():
        yield


def data_root_or_skip() -> Path:
    """The MNIST data root for module-scoped fixtures (skips, or fails when PRUNEKIT_REQUIRE_DATA=1)."""
    from tests.helpers import mnist_root

    root = mnist_root()
    if root is None:
        pytest.skip("real MNIST not found under $PRUNEKIT_DATA/MNIST/raw")
    return root


def _child(store_dir: str, data_root: str) -> None:
    """Sweep ``kill_grid()`` into ``store_dir``, pausing inside each run."""
    from prunekit.experiments.store import ResultStore

    real_run = sweep_module.run

    def slow_run(config: RunConfig, **kwargs: object) -> RunRecord:
        time.sleep(RUN_PAUSE_SECONDS)
        return real_run(config, **kwargs)

    sweep_module.run = slow_run
    sweep_module.sweep(kill_grid(), ResultStore(store_dir), progress=False, data_root=data_root)


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2])
