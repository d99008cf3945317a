"""The CUDA peak-memory path of ``run``, checked with a fake CUDA allocator: the peak a record reports is the
pruned network's training, not the dense network's memory probes that run before it."""

from __future__ import annotations

import importlib

import pytest
import torch

from prunekit.experiments import outcome
from prunekit.measure.metrics import peak_memory_bytes
from prunekit.measure.network import training_memory_bytes
from tests.sweep_helpers import single_thread, tiny_config  # noqa: F401

run_module = importlib.import_module("prunekit.experiments.run")  # the module: prunekit.experiments.run is run()


class FakeCudaMemory:
    """torch.cuda's peak counter: allocations raise it, ``reset_peak_memory_stats`` clears it."""

    def __init__(self) -> None:
        self.peak = 0
        self.events: list[str] = []

    def allocate(self, what: str, nbytes: int) -> None:
        self.events.append(what)
        self.peak = max(self.peak, nbytes)

    def reset_peak_memory_stats(self, device=None) -> None:
        self.events.append("reset")
        self.peak = 0

    def max_memory_allocated(self, device=None) -> int:
        return self.peak


@pytest.fixture
def fake_cuda(monkeypatch: pytest.MonkeyPatch) -> FakeCudaMemory:
    fake = FakeCudaMemory()
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", fake.reset_peak_memory_stats)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", fake.max_memory_allocated)
    return fake


def test_peak_memory_reads_and_resets_the_cuda_counter(fake_cuda):
    fake_cuda.allocate("probe", 1000)
    assert peak_memory_bytes("cuda:0") == 1000
    run_module._reset_peak_memory(torch.device("cuda", 0))
    assert peak_memory_bytes("cuda:0") == 0
    run_module._reset_peak_memory(torch.device("cpu"))  # CPU has no counter to reset
    assert fake_cuda.events == ["probe", "reset"]


@pytest.mark.needs_data("mnist")
def test_the_peak_counter_is_reset_after_the_dense_probes_so_it_reads_the_pruned_training(
        fake_cuda, monkeypatch, mnist_data_root, single_thread):
    # The run computes on CPU; its memory probes and its training are booked on the fake CUDA counter, and its
    # reset is the CUDA one, as on a GPU.
    def probe(model, *args, **kwargs):
        nbytes = training_memory_bytes(model, *args, **kwargs)
        fake_cuda.allocate("probe", nbytes)
        return nbytes

    real_train = run_module.train
    trained = {}

    def train(model, batches, *args, **kwargs):
        trained["bytes"] = training_memory_bytes(model, (1, 28, 28), batches.batch_size)
        fake_cuda.allocate("train", trained["bytes"])
        return real_train(model, batches, *args, **kwargs)

    real_reset = run_module._reset_peak_memory
    monkeypatch.setattr(outcome, "training_memory_bytes", probe)
    monkeypatch.setattr(run_module, "train", train)
    monkeypatch.setattr(run_module, "_reset_peak_memory", lambda device: real_reset(torch.device("cuda")))

    config = tiny_config(criterion="random", sparsity=0.5, structured=True, epochs=1, device="cpu")
    record = run_module.run(config, progress=False, data_root=mnist_data_root)
    assert fake_cuda.events == ["probe", "probe", "reset", "train"]
    dense, pruned = record.metrics["dense_train_memory_bytes"], record.metrics["train_memory_bytes"]
    assert pruned < dense
    # what the record's CUDA peak would read: the shrunk network's training, not the dense probe
    assert peak_memory_bytes("cuda") == trained["bytes"] == pruned
