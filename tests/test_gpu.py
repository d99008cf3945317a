"""The CUDA paths on a real card (marked ``gpu``: skipped without CUDA, run by ``make gpu-check``).

Each test is the on-GPU counterpart of a CPU test that mocks the CUDA API (tests/core/test_timing.py,
training/test_amp.py, measure/test_cuda_memory.py, pruning/test_structured_shrink.py, core/test_determinism.py,
measure/test_bench.py).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from prunekit.experiments.run import run
from prunekit.structured import apply_node_masks, shrink
from prunekit.core.timing import Stopwatch
from prunekit.training.loop import TrainConfig, autocast_for, resolve_precision, train
from tests.helpers import tiny_mlp, toy_data
from tests.sweep_helpers import tiny_config

pytestmark = pytest.mark.gpu
CUDA = torch.device("cuda")


def test_the_stopwatch_returns_only_when_the_queued_kernels_have_run():
    a = torch.randn(2048, 2048, device=CUDA)
    torch.cuda.synchronize(CUDA)
    with Stopwatch(CUDA) as watch:
        for _ in range(30):
            a = torch.tanh(a @ a)
    assert torch.cuda.current_stream(CUDA).query()  # nothing left in the queue to charge to a later phase
    assert watch.seconds > 0


def test_auto_precision_is_what_the_card_computes_natively():
    major, _ = torch.cuda.get_device_capability(CUDA)
    mode = resolve_precision(CUDA, amp=True)
    assert mode == ("bf16" if major >= 8 else "fp16")
    with autocast_for(CUDA, mode):
        out = nn.Linear(8, 4).to(CUDA)(torch.randn(2, 8, device=CUDA))
    assert out.dtype == {"bf16": torch.bfloat16, "fp16": torch.float16}[mode]


@pytest.mark.parametrize("precision", ["bf16", "fp16", "fp32"])
def test_training_on_cuda_lowers_the_loss_in_every_numeric_mode(precision):
    x, y = toy_data(512)
    batches = [(x[i:i + 64], y[i:i + 64]) for i in range(0, 512, 64)]
    model = tiny_mlp()
    history = train(model, batches, batches, TrainConfig(epochs=8, progress=False, device="cuda",
                                                         precision=precision))
    losses = [e.train_loss for e in history.epochs]
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    assert all(p.device.type == "cuda" and p.dtype == torch.float32 for p in model.parameters())


def test_a_shrunk_run_peaks_below_the_dense_run_on_cuda(mnist_data_root):
    dense = run(tiny_config(criterion="none", sparsity=0.0, epochs=1, device="cuda"), progress=False,
                data_root=mnist_data_root)
    pruned = run(tiny_config(criterion="random", sparsity=0.5, structured=True, epochs=1, device="cuda"),
                 progress=False, data_root=mnist_data_root)
    for record in (dense, pruned):
        assert record.resources["peak_memory_kind"] == "cuda_allocated"
        assert record.config.precision == resolve_precision(CUDA, amp=True)
    # the counter is reset after the dense probes: the pruned run's peak is its own, smaller network's
    assert pruned.resources["peak_memory_bytes"] < dense.resources["peak_memory_bytes"]


def test_shrink_on_cuda_convolutions_passes_its_check_with_tf32_allowed():
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
                              nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(),
                              nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10)).to(CUDA).eval()
        keep = torch.ones(64, dtype=torch.bool)
        keep[::2] = False
        apply_node_masks(model, {"0": keep})
        small = shrink(model, torch.randn(16, 3, 32, 32, device=CUDA))
        assert small[0].out_channels == 32
        assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == (True, True)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def test_a_deterministic_cuda_run_repeats_bit_for_bit(mnist_data_root):
    config = tiny_config(criterion="snip-it", sparsity=0.9, epochs=2, device="cuda", deterministic=True)
    first, second = (run(config, progress=False, data_root=mnist_data_root) for _ in range(2))
    assert first.comparable() == second.comparable()
    assert not torch.are_deterministic_algorithms_enabled()  # restored after each run


def test_bench_on_cuda_reports_its_numeric_mode(mnist_data_root, monkeypatch):
    monkeypatch.setenv("PRUNEKIT_DATA", str(mnist_data_root))
    from prunekit.measure.bench import run_benchmark

    result = run_benchmark("mlp5", "mnist", 0.9, device="cuda", repeats=1, limit=4096)
    assert result.precision == resolve_precision(CUDA, amp=True)
    assert all(math.isfinite(v) and v > 0 for v in result.as_dict().values() if isinstance(v, float))
