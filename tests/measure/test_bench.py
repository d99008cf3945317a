"""``prunekit bench``'s behaviour (never its speed): GEMM shapes and FLOPs, and one numeric mode for bound and epochs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from prunekit.measure import bench
from prunekit.core.masks import prunable_layers
from prunekit.models import build_model


def test_gemm_shapes_are_the_forward_gemms_of_linear_and_im2col_conv_layers():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
    assert bench.gemm_shapes(model, (1, 8, 8), batch=2) == [(2 * 6 * 6, 1 * 3 * 3, 4), (2, 144, 10)]
    assert model.training  # the probe restores the mode


def test_gemm_rate_counts_six_flops_per_multiply_add_of_every_shape(monkeypatch):
    timed = []

    def fake_best_time(fn, device, repeats):
        fn()  # the GEMMs run on real operands
        timed.append(repeats)
        return 0.5

    monkeypatch.setattr(bench, "_best_time", fake_best_time)
    shapes = [(8, 16, 4), (8, 4, 2)]
    assert bench.gemm_rate(shapes, torch.device("cpu"), repeats=3) == 6 * (8 * 16 * 4 + 8 * 4 * 2) / 0.5
    assert timed == [3]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_gemm_operands_have_each_shape_in_the_requested_dtype(dtype):
    (x, w, g), = bench.gemm_operands([(5, 3, 2)], torch.device("cpu"), dtype)
    assert (x.shape, w.shape, g.shape) == ((5, 3), (3, 2), (5, 2))
    assert {x.dtype, w.dtype, g.dtype} == {dtype}
    assert math.isfinite(bench.gemm_rate([(5, 3, 2)], torch.device("cpu"), repeats=1, dtype=dtype))


@pytest.mark.slow
@pytest.mark.needs_data("mnist")
@pytest.mark.parametrize("precision, dtype, scaled", [("bf16", torch.bfloat16, False), ("fp16", torch.float16, True),
                                                      ("auto", torch.float32, False)])
def test_bound_and_epochs_run_in_one_numeric_mode(precision, dtype, scaled, monkeypatch, mnist_data_root):
    monkeypatch.setenv("PRUNEKIT_DATA", str(mnist_data_root))
    seen = {"gemm": [], "epochs": []}
    real_rate, real_epoch = bench.gemm_rate, bench.train_epoch

    def rate(shapes, device, repeats=5, dtype=torch.float32):
        seen["gemm"].append(dtype)
        return real_rate(shapes, device, 1, dtype)

    def epoch(model, batches, optimizer, config, device, scaler=None, **kwargs):
        seen["epochs"].append((config.precision, scaler is not None))
        return real_epoch(model, batches, optimizer, config, device, scaler, **kwargs)

    real_prune = bench.prune
    monkeypatch.setattr(bench, "prune", lambda *args, **kwargs: real_prune(*args, samples=256, batch_size=128, **kwargs))
    monkeypatch.setattr(bench, "gemm_rate", rate)
    monkeypatch.setattr(bench, "train_epoch", epoch)
    result = bench.run_benchmark("mlp5", "mnist", 0.9, device="cpu", repeats=1, limit=256, precision=precision)
    mode = "fp32" if precision == "auto" else precision  # auto on CPU: fp32, as a run resolves it
    assert result.precision == mode and result.device == "cpu"
    assert seen["gemm"] == [dtype] * 2  # bound, dense and masked epochs interleaved: one warm-up and one timed round
    assert seen["epochs"] == [(mode, scaled)] * 4  # dense and masked: one warm-up and one timed epoch each
    dense = build_model("mlp5", (1, 28, 28), 10)
    assert result.weights == sum(m.weight.numel() for m in prunable_layers(dense).values())
    assert result.samples == 256 and result.scoring_rounds == 7  # SNIP-it's schedule: 7 rounds
    assert result.gemm_bound_s == pytest.approx(6 * result.weights * 256 / (result.gemm_gflops_per_s * 1e9))
    assert all(math.isfinite(v) and v > 0 for v in result.as_dict().values() if isinstance(v, float))
    assert f"device cpu ({mode})" in bench.format_result(result)
