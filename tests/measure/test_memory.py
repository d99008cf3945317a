"""Facts of the memory sampler: when it samples, what its median and peak are, and what it reads per device."""

from __future__ import annotations

import os

import pytest
import torch
from torch import nn

from prunekit.measure import memory
from prunekit.measure.memory import MemorySampler, current_rss_bytes, cuda_window_peak_reader, default_reader, memory_kind
from prunekit.training.loop import TrainConfig, TrainState, train


class Pattern:
    """A fake allocation pattern: each read returns the next value, and the reads are counted."""

    def __init__(self, values):
        self.values = list(values)
        self.reads = 0

    def __call__(self) -> int:
        value = self.values[self.reads % len(self.values)]
        self.reads += 1
        return value


def _batches(n: int, size: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    return [(torch.randn(size, 3, generator=generator), torch.randint(0, 2, (size,), generator=generator))
            for _ in range(n)]


def _state(step: int = 0, device: str = "cpu") -> TrainState:
    model = nn.Linear(2, 2)
    return TrainState(model, torch.optim.SGD(model.parameters(), lr=0.1), TrainConfig(epochs=1, device=device), torch.device(device),
                      history=None, step=step)


def test_it_samples_before_the_first_step_and_after_every_nth_step_of_a_real_training_loop():
    pattern = Pattern([100])
    sampler = MemorySampler(every=3, reader=pattern)
    train(nn.Linear(3, 2), _batches(5), config=TrainConfig(epochs=2, amp=False, device="cpu", progress=False),
          callbacks=[sampler])
    assert sampler.steps == (0, 3, 6, 9)  # 2 epochs x 5 steps
    assert pattern.reads == 4


def test_median_peak_and_start_of_a_fake_allocation_pattern():
    sampler = MemorySampler(every=1, reader=Pattern([100, 300, 200, 900, 250]))
    sampler.on_train_start(_state())
    for step in range(1, 5):
        sampler.on_step_end(_state(step))
    assert sampler.samples == (100, 300, 200, 900, 250)
    assert (sampler.median_bytes, sampler.peak_bytes, sampler.start_bytes) == (250, 900, 100)
    assert sampler.as_resources() == {"median_memory_bytes": 250, "sampled_peak_memory_bytes": 900,
                                      "memory_samples": 5, "memory_kind": "custom"}


def test_the_median_of_an_even_count_is_the_lower_middle_sample_a_value_actually_seen():
    sampler = MemorySampler(every=1, reader=Pattern([1, 4, 2, 3]))
    sampler.on_train_start(_state())
    for step in range(1, 4):
        sampler.on_step_end(_state(step))
    assert sampler.median_bytes == 2


def test_a_one_off_spike_moves_the_peak_but_not_the_median():
    sampler = MemorySampler(every=1, reader=Pattern([500] * 9 + [5000]))
    sampler.on_train_start(_state())
    for step in range(1, 10):
        sampler.on_step_end(_state(step))
    assert (sampler.median_bytes, sampler.peak_bytes) == (500, 5000)


def test_a_new_training_run_starts_a_fresh_series():
    sampler = MemorySampler(every=1, reader=Pattern([7, 8]))
    sampler.on_train_start(_state())
    sampler.on_step_end(_state(1))
    sampler.on_train_start(_state())
    assert sampler.samples == (7,) and sampler.steps == (0,)


def test_on_cpu_it_reads_the_current_rss_from_proc_statm(tmp_path, monkeypatch):
    statm = tmp_path / "statm"
    statm.write_text("1000 250 30 1 0 100 0\n")  # size, resident pages, shared, …
    monkeypatch.setattr(memory, "STATM", statm)
    assert current_rss_bytes() == 250 * os.sysconf("SC_PAGE_SIZE")
    assert default_reader(torch.device("cpu")) is current_rss_bytes
    assert memory_kind(torch.device("cpu")) == "process_rss"
    sampler = MemorySampler()
    sampler.on_train_start(_state())
    assert sampler.samples == (250 * os.sysconf("SC_PAGE_SIZE"),) and sampler.kind == "process_rss"


def test_without_proc_statm_it_falls_back_to_the_peak_rss(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "STATM", tmp_path / "missing")
    monkeypatch.setattr(memory.resource, "getrusage", lambda _who: type("R", (), {"ru_maxrss": 2048})())
    monkeypatch.setattr(memory.sys, "platform", "linux")
    assert current_rss_bytes() == 2048 * 1024  # KiB on Linux


def test_on_cuda_each_sample_is_the_peak_allocated_since_the_previous_one(monkeypatch):
    allocated = {"peak": 0}
    resets = []

    def allocate(nbytes: int) -> None:
        allocated["peak"] = max(allocated["peak"], nbytes)

    def reset(device) -> None:
        resets.append(device)
        allocated["peak"] = 0

    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device: allocated["peak"])
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", reset)
    device = torch.device("cuda", 0)
    read = cuda_window_peak_reader(device)
    allocate(800)  # a step's activations come and go
    allocate(300)
    assert read() == 800
    allocate(200)
    assert read() == 200  # the earlier peak was reset by the first read
    assert resets == [device, device]
    assert memory_kind(device) == "cuda_allocated_window_peak"
    sampler = MemorySampler(every=2)
    allocate(1234)
    sampler.on_train_start(_state_on(device))
    assert sampler.samples == (1234,) and sampler.kind == "cuda_allocated_window_peak"


def _state_on(device: torch.device) -> TrainState:
    """A state that names ``device`` without moving anything to it (the test has no GPU)."""
    state = _state()
    state.device = device
    return state


def test_bad_settings_and_readers_are_refused():
    with pytest.raises(ValueError, match="every must be a positive"):
        MemorySampler(every=0)
    with pytest.raises(ValueError, match="every must be a positive"):
        MemorySampler(every=True)
    with pytest.raises(TypeError, match="reader must be a callable"):
        MemorySampler(reader=123)
    with pytest.raises(ValueError, match="non-negative int of bytes"):
        MemorySampler(reader=lambda: -1).on_train_start(_state())
    with pytest.raises(ValueError, match="no sample yet"):
        MemorySampler().median_bytes
