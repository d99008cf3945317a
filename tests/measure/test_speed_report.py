"""``prunekit speed``: the table, the per-layer diagnosis and the verdict from injected timings; input checks."""

from __future__ import annotations

import pytest

from prunekit import cli
from prunekit.measure.roofline import LayerWork, MachineRates, ShapeClass, roofline
from prunekit.measure.speed import (
    SpeedReport,
    build_network,
    diagnose,
    format_report,
    missing_layers,
    network_row,
    plot_layer_times,
    speed_report,
    verdict,
)

RATES = MachineRates.uniform(flops_per_s=1e9, bytes_per_s=1e9, call_overhead_s=1e-6)


def _works(width: int, masked: float = 0.0) -> list[LayerWork]:
    """A two-Linear network's work: 784→width→10 at batch 512, plus a BatchNorm between."""
    fc1 = LayerWork("fc1", "Linear", 2 * 512 * 784 * width, 4 * (512 * 784 + 784 * width + 512 * width), 1,
                    ShapeClass("linear", 512, 784, 16 * -(-width // 16)), 784, width, masked)
    bn = LayerWork("bn", "BatchNorm1d", 0, 4 * 2 * 512 * width, 1)
    fc2 = LayerWork("fc2", "Linear", 2 * 512 * width * 10, 4 * (512 * width + width * 10 + 5120), 1,
                    ShapeClass("linear", 512, 16 * -(-width // 16), 16), width, 10, masked)
    return [fc1, bn, fc2]


def _row(variant: str, width: int, slowdown: dict[str, float], masked: float = 0.0):
    bound = roofline(_works(width, masked), RATES)
    measured = {layer.work.name: layer.seconds * slowdown.get(layer.work.name, 1.0) for layer in bound.layers}
    return network_row(variant, 512, sum(measured.values()), bound, measured)


def _report(shrunk_slowdown: dict[str, float]) -> SpeedReport:
    rows = (_row("dense", 512, {}), _row("masked", 512, {"fc1": 1.2}, masked=0.9),
            _row("shrunk", 51, shrunk_slowdown))
    return SpeedReport("toy", "random", 0.9, (1, 28, 28), "cpu", 2, rows)


def test_the_table_reports_speed_up_flop_reduction_and_the_ratio_line_last():
    report = _report({})
    shrunk, dense = report.row("shrunk", 512), report.row("dense", 512)
    assert report.flop_reduction(shrunk) == pytest.approx(dense.flops / shrunk.flops)
    assert report.speedup(shrunk) == pytest.approx(dense.seconds / shrunk.seconds)
    assert report.flop_reduction(report.row("masked", 512)) == 1.0
    text = format_report(report)
    assert text.splitlines()[-1] == "time / roofline: 1.00×"
    assert "masked" in text and "shrunk" in text


def test_layers_that_miss_are_named_with_the_reason():
    report = _report({"fc1": 3.0})
    row = report.row("shrunk", 512)
    assert [layer.name for layer in missing_layers(row)] == ["fc1"]
    lines = verdict(report).splitlines()
    assert lines[-1] == f"time / roofline: {row.ratio:.2f}×" and row.ratio > 1.5
    assert any(line.strip().startswith("fc1:") and "not a multiple of 8" in line and "misses 1.5x" in line
               for line in lines)
    fc1 = next(layer for layer in row.layers if layer.name == "fc1")
    busy = fc1.measured_s - fc1.bound.overhead_s  # the kernel's own time against the machine's measured rate
    limit = {"arithmetic": ("GFLOP/s", fc1.bound.work.flops / busy / 1e9),
             "memory": ("GB/s", fc1.bound.work.bytes / busy / 1e9)}.get(fc1.bound.limit)
    if limit is not None:
        assert any(f", {limit[1]:.3g} {limit[0]} of the" in note for note in fc1.notes)


def test_diagnosis_names_the_limit_odd_widths_and_masked_zeros():
    masked = _row("masked", 512, {}, masked=0.9)
    notes = dict((layer.name, layer.notes) for layer in masked.layers)
    assert "90% of its weights are zeros still multiplied" in notes["fc1"]
    assert notes["bn"][0] in ("memory-bound", "overhead-bound")
    shrunk = _row("shrunk", 51, {})
    fc1 = next(layer for layer in shrunk.layers if layer.name == "fc1")
    assert "channels 784→51 not a multiple of 8" in fc1.notes  # 784 (the data) is not judged, 51 is
    first_only = diagnose(fc1.bound, None, first=True, last=True)
    assert not any("multiple" in note for note in first_only)


def test_plot_returns_a_figure():
    from matplotlib.figure import Figure

    fig = plot_layer_times(_report({}).row("shrunk", 512))
    assert isinstance(fig, Figure)


def test_bad_inputs_are_rejected_with_the_accepted_values():
    with pytest.raises(ValueError, match="accepted: mlp5"):
        build_network("mlp7", (1, 28, 28))
    with pytest.raises(ValueError, match="resnet18"):
        build_network("torchvision:resnet19", (3, 32, 32))
    with pytest.raises(ValueError, match="batch size"):
        speed_report("mlp5", batch_sizes=(0,))
    with pytest.raises(ValueError, match="node_sparsity"):
        speed_report("mlp5", node_sparsity=1.0)
    assert cli.main(["speed", "--model", "nope"]) == 2


def test_a_torchvision_cnn_builds_by_name():
    net = build_network("torchvision:resnet18", (3, 32, 32), num_classes=10)
    assert net.fc.out_features == 10 and not net.training


def test_a_tiny_end_to_end_report_of_mlp5():
    report = speed_report("mlp5", 0.9, batch_sizes=(4,), repeats=1, layer_repeats=1)
    assert {r.variant for r in report.rows} == {"dense", "masked", "shrunk"}
    shrunk = report.row("shrunk", 4)
    assert report.flop_reduction(shrunk) > 10  # 90 % of the nodes of consecutive layers: ~1/(0.1·0.1) in the middle
    assert any(layer.work.masked_fraction > 0.5 for layer in report.row("masked", 4).bound.layers)
    assert format_report(report).splitlines()[-1].startswith("time / roofline: ")
