"""The one timer: on CUDA it waits for the device before each clock read, so queued work is charged to its phase."""

from __future__ import annotations

import pytest
import torch

from prunekit.core import timing
from prunekit.core.timing import Stopwatch, synchronize, timed_call


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record CUDA synchronisations and clock reads in order (no GPU needed); the clock ticks 1 s per read."""
    log: list[str] = []
    ticks = iter(range(100))

    def fake_sync(device=None) -> None:
        log.append(f"sync {device}")

    def fake_clock() -> float:
        log.append("clock")
        return float(next(ticks))

    monkeypatch.setattr(torch.cuda, "synchronize", fake_sync)
    monkeypatch.setattr(timing.time, "perf_counter", fake_clock)
    return log


def test_cuda_stopwatch_synchronises_before_each_clock_read(events: list[str]) -> None:
    with Stopwatch("cuda:0") as watch:
        events.append("work queued")
    assert events == ["sync cuda:0", "clock", "work queued", "sync cuda:0", "clock"]
    assert watch.seconds == 1.0


def test_timed_call_charges_the_call_after_waiting_for_it(events: list[str]) -> None:
    seconds = timed_call(lambda: events.append("kernel"), torch.device("cuda", 1))
    assert events == ["sync cuda:1", "clock", "kernel", "sync cuda:1", "clock"]
    assert seconds == 1.0


def test_cpu_and_unknown_devices_never_call_cuda(events: list[str]) -> None:
    synchronize("cpu")
    synchronize(None)
    with Stopwatch("cpu"):
        pass
    with Stopwatch():
        pass
    assert "sync" not in " ".join(events)


def test_elapsed_keeps_running_and_stop_records(events: list[str]) -> None:
    watch = Stopwatch("cuda").start()
    assert watch.elapsed() == 1.0  # clock read 0 at start, 1 now
    assert watch.stop() == 2.0 and watch.seconds == 2.0
    assert events.count("sync cuda") == 3


def test_elapsed_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="before start"):
        Stopwatch("cpu").elapsed()


def test_prune_round_timer_waits_for_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pruning rounds use the synchronising timer with the model's device (here CPU, mocked as CUDA)."""
    from prunekit.pruning import before as pruning

    devices: list[torch.device | None] = []
    real = Stopwatch.__init__

    def spy(self, device=None) -> None:
        devices.append(device)
        real(self, device)

    monkeypatch.setattr(Stopwatch, "__init__", spy)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.Linear(8, 4))
    data = [(torch.randn(8, 1, 4, 4), torch.randint(0, 4, (8,)))]
    result = pruning.prune(model, "snip", 0.5, data=data, samples=8, batch_size=8)
    assert devices == [torch.device("cpu")] * len(result.steps)
    assert all(step.seconds >= 0 for step in result.steps)
