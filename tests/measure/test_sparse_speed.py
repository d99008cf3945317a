"""The sparse-kernel benchmark: its ratios, its report and a tiny real run (no timing is asserted)."""

from __future__ import annotations

import argparse

import pytest

from prunekit.measure import bench
from prunekit.measure import sparse_speed
from prunekit.measure.interleave import Spread, interleaved_times, paired_ratios
from prunekit.measure.sparse_speed import SparseEpochResult, format_result


def _result(dense=(2.0, 3.0), masked=(2.2, 3.1), sparse=(0.8, 1.0)) -> SparseEpochResult:
    return SparseEpochResult("mlp5", "mnist", "snip-it", 0.98, 1024, 2, "cpu", ("classifier.0",),
                             dense, masked, sparse)


def test_speedups_are_ratios_of_the_best_epochs_and_the_spread_pairs_rounds():
    result = _result()
    assert result.speedup == pytest.approx(2.0 / 0.8)
    assert result.speedup_vs_masked == pytest.approx(2.2 / 0.8)
    assert result.spread == Spread(2.5, 2.75, 3.0)


def test_the_report_ends_with_the_headline_line():
    text = format_result(_result())
    assert text.splitlines()[-1] == "sparse-kernel epoch speed-up over dense: 2.50×"
    assert "2.50x / 2.75x / 3.00x" in text


def test_interleaved_times_alternate_the_tasks_after_warm_up():
    calls = []
    tasks = [lambda: calls.append("a") or 1.0, lambda: calls.append("b") or 2.0]
    times = interleaved_times(tasks, repeats=2, warmup=1)
    assert calls == ["a", "b"] * 3
    assert times == [[1.0, 1.0], [2.0, 2.0]]
    assert paired_ratios([2.0, 4.0], [1.0, 1.0]) == [2.0, 4.0]
    with pytest.raises(ValueError, match="repeats"):
        interleaved_times(tasks, repeats=0)


def test_bad_sparsity_is_rejected_before_any_work():
    with pytest.raises(ValueError, match="sparsity"):
        sparse_speed.sparse_epoch_speedup(sparsity=1.0)


def test_bench_sparse_kernels_prints_the_headline_on_a_tiny_run(mnist_data_root, capsys):
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(["--sparse-kernels", "--limit", "1024", "--repeats", "1"])
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1].startswith("sparse-kernel epoch speed-up over dense: ")
    assert "classifier.0" in out
