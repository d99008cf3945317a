"""Facts of the structured time columns: the final network a record describes is rebuilt exactly, and the
training-time reduction follows the run's history (no timing is asserted: speed is the benchmarks' job)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from torch import nn

from prunekit.experiments.run import run
from prunekit.models import build_model
from prunekit.measure.network import parameter_count
from prunekit.paper.structured_timing import (
    build_architecture,
    chain_widths,
    record_architecture,
    structured_times,
    training_time_reduction,
)
from tests.sweep_helpers import single_thread, tiny_config  # noqa: F401


def _linear_widths(model: nn.Module) -> list[int]:
    return [layer.out_features for layer in model.modules() if isinstance(layer, nn.Linear)][:-1]


@pytest.mark.parametrize("criterion, sparsity, options", [("snap-it", 0.7, {}), ("efficientconvnets", 0.5, {})])
def test_a_records_final_network_is_rebuilt_with_its_exact_widths(criterion, sparsity, options, mnist_data_root,
                                                                  single_thread):
    record = run(tiny_config(criterion=criterion, sparsity=sparsity, structured=True, epochs=1, amp=False),
                 progress=False, data_root=mnist_data_root, keep_model=True)
    arch = record_architecture(record)
    assert list(arch.widths.values()) == _linear_widths(record.model)
    rebuilt = build_architecture("mlp5", "mnist", arch.widths)
    assert parameter_count(rebuilt) == parameter_count(record.model) == record.metrics["parameters"]


def test_a_run_that_also_pruned_single_weights_is_refused_by_name(mnist_data_root, single_thread):
    record = run(tiny_config(criterion="cnip-it", sparsity=0.7, structured=True, epochs=1, amp=False),
                 progress=False, data_root=mnist_data_root)
    with pytest.raises(ValueError, match=f"run {record.key} \\(cnip-it\\).*not a chain"):
        record_architecture(record)
    times = structured_times([record], dense_epochs=1, repeats=1)
    assert list(times["key"]) == [record.key] and math.isnan(times["inference_time_reduction"].iloc[0])


def test_chain_widths_follow_from_layer_sparsities_in_order():
    # MLP5 on MNIST: 4 hidden layers of 512; keeping 256, 128, 128, 64 nodes leaves f_in * f_out of each layer
    kept = [0.5, 0.25, 0.25, 0.125]
    names = ["classifier.0", "classifier.4", "classifier.8", "classifier.12", "classifier.16"]
    fractions = [kept[0]] + [a * b for a, b in zip(kept, kept[1:])] + [kept[-1]]
    widths = chain_widths(build_model("mlp5", (1, 28, 28), 10), {n: 1 - f for n, f in zip(names, fractions)})
    assert widths == dict(zip(names[:4], [256, 128, 128, 64]))
    with pytest.raises(ValueError, match="no weight sparsity for layer"):
        chain_widths(build_model("mlp5", (1, 28, 28), 10), {"classifier.0": 0.5})


def _history(prune_at: str, criterion: str, epochs: int, cut_epochs: list[float]) -> SimpleNamespace:
    config = SimpleNamespace(prune_at=prune_at, criterion=criterion, epochs=epochs)
    return SimpleNamespace(config=config, prune_steps=[{"epoch": e} for e in cut_epochs])


def test_training_time_follows_the_runs_history():
    # before training: the final network throughout
    assert training_time_reduction(_history("before", "snap-it", 6, [0.0]), 4.0, 1.0, 6) == pytest.approx(4.0)
    # one cut after 5.25 of 6 epochs: dense until it, the final network after it
    expected = 6 * 4.0 / (5.25 * 4.0 + 0.75 * 1.0)
    assert training_time_reduction(_history("after", "efficientconvnets", 6, [5.25]), 4.0, 1.0, 6) == pytest.approx(
        expected)
    # twice the budget before training halves the reduction
    assert training_time_reduction(_history("before", "snap-it", 12, [0.0]), 4.0, 1.0, 6) == pytest.approx(2.0)
    for gradual in (_history("after", "gatedecorators", 12, [7.0, 8.0]), _history("during", "l0", 12, [12.0]),
                    _history("during", "snap-it", 6, [0.3, 0.6])):
        assert math.isnan(training_time_reduction(gradual, 4.0, 1.0, 6))


def test_a_stored_records_final_network_is_timed_beside_the_unpruned_one(mnist_data_root, single_thread, monkeypatch):
    import prunekit.paper.structured_timing as timing
    from prunekit.experiments.record import RunRecord

    done = run(tiny_config(criterion="snap-it", sparsity=0.5, structured=True, epochs=1, amp=False), progress=False,
               data_root=mnist_data_root)
    stored = RunRecord.from_dict(done.to_dict())  # as the store gives it back: no network attached
    timed = []
    real = timing.interleaved_seconds

    def spy(models, inputs, repeats, num_classes):
        timed.append(([parameter_count(m) for m in models], tuple(inputs.shape), repeats))
        return real(models, inputs, repeats, num_classes)

    monkeypatch.setattr(timing, "interleaved_seconds", spy)
    times = structured_times([stored], dense_epochs=1, batch_size=16, repeats=2)
    dense = parameter_count(build_model("mlp5", (1, 28, 28), 10))
    assert timed == [([dense, stored.metrics["parameters"]], (16, 1, 28, 28), 2)]  # one group, timed side by side
    (row,) = times.to_dict("records")
    assert row["key"] == stored.key
    seconds = ("inference_seconds", "train_step_seconds", "dense_inference_seconds", "dense_train_step_seconds")
    assert all(math.isfinite(row[c]) and row[c] > 0 for c in seconds)
    # pruned before training, it trained its final network throughout: the reduction is the per-step one
    assert row["training_time_reduction"] == pytest.approx(row["train_step_time_reduction"])
