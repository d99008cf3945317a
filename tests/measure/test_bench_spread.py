"""``prunekit bench``: the GEMM bound and the epochs are timed round by round in one process; the report prints
the spread of the per-round ratios (no timing is asserted)."""

from __future__ import annotations

import pytest

from prunekit.measure.bench import BenchResult, format_result, run_benchmark


def _result() -> BenchResult:
    return BenchResult("mlp5", "mnist", "cpu", "fp32", 2, 1024, 1000, 100.0, 1.0, 1.2, 1.3, 0.5, 6,
                       bound_rounds_s=(1.0, 1.1, 1.3), dense_rounds_s=(1.2, 1.4, 1.3), masked_rounds_s=(1.3, 1.65, 1.3))


def test_the_spread_pairs_each_epoch_with_its_own_rounds_bound():
    result = _result()
    spread = result.masked_spread
    assert (spread.low, spread.median, spread.high) == pytest.approx((1.0, 1.3, 1.5))
    assert result.dense_spread.low == pytest.approx(1.0)
    assert "masked 1.00x / 1.30x / 1.50x (3 interleaved rounds)" in format_result(result)


def test_a_tiny_benchmark_keeps_every_round(mnist_data_root, monkeypatch):
    import prunekit.measure.bench as bench
    from prunekit.pruning.before import prune

    # data-free Random pruning instead of SNIP-it's 6 scoring rounds: this test is about the timing loop
    monkeypatch.setattr(bench, "prune", lambda model, _crit, sparsity, data, seed: prune(model, "random", sparsity,
                                                                                       data=data, seed=seed))
    result = run_benchmark("mlp5", "mnist", 0.9, device="cpu", repeats=2, limit=512)
    assert len(result.bound_rounds_s) == len(result.dense_rounds_s) == len(result.masked_rounds_s) == 2
    assert result.gemm_bound_s == min(result.bound_rounds_s)
    assert result.masked_epoch_s == min(result.masked_rounds_s)
    assert "per-round ratio to bound" in format_result(result)
