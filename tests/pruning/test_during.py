"""Pruning during training (Algorithm 1 with τ > 0): when masks change, to what, and what stays zero."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from prunekit.pruning.during import (
    PruneDuringTraining,
    clear_pruned_optimizer_state,
    pruning_epochs,
    required_epochs,
)
from prunekit.experiments.config import RunConfig
from prunekit.experiments.record import RunRecord
from prunekit.experiments.run import run
from prunekit.measure.training_flops import FlopsMeter
from prunekit.core.masks import prunable_layers, weight_sparsity
from prunekit.pruning.before import PruneStep, kept_count
from prunekit.core.schedule import snip_it_schedule
from prunekit.training.loop import Callback, TrainConfig, train
from tests.helpers import tiny_mlp, toy_data
from tests.sweep_helpers import single_thread, tiny_config  # noqa: F401

KAPPA, STEPS, TAU, EPOCHS = 0.9, 2, 2, 10
RESULTS = Path(__file__).resolve().parents[2] / "results" / "cpu"


def batches(x, y, size=100):
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(x), size)]


class Watch(Callback):
    """Registered after the pruner: snapshots masks, Adam state and weights at every epoch end."""

    def __init__(self):
        self.masks: dict[int, dict[str, torch.Tensor]] = {}
        self.problems: list[str] = []

    def on_epoch_end(self, state):
        layers = prunable_layers(state.model)
        self.masks[state.epoch] = {n: m.weight_mask.clone() for n, m in layers.items() if hasattr(m, "weight_mask")}
        for n, m in layers.items():
            if not hasattr(m, "weight_mask"):
                continue
            dead = m.weight_mask == 0
            if torch.any(m.weight[dead] != 0) or torch.any(m.weight_orig[dead] != 0):
                self.problems.append(f"epoch {state.epoch}: pruned weight of {n} is not zero")
            for key, value in state.optimizer.state[m.weight_orig].items():
                if value.shape == m.weight_orig.shape and torch.any(value[dead] != 0):
                    self.problems.append(f"epoch {state.epoch}: optimizer {key} of {n} is not zero where pruned")


def run_during(seed=0, epochs=EPOCHS):
    x, y = toy_data(800, seed=1)
    torch.manual_seed(seed)
    model = tiny_mlp(seed)
    pruner = PruneDuringTraining("snip-it", KAPPA, (x, y), interval=TAU, samples=256, batch_size=128, steps=STEPS,
                                 seed=seed)
    watch = Watch()
    watch.meter = FlopsMeter((1, 8, 8), len(x))
    train(model, batches(x, y), None, TrainConfig(epochs=epochs, progress=False, device="cpu"),
          [pruner, watch, watch.meter])
    return model, pruner, watch


@pytest.fixture(scope="module")
def during_run():
    return run_during()


def test_masks_change_only_at_the_end_of_epochs_tau_2tau_with_the_schedule_targets(during_run):
    model, pruner, watch = during_run
    targets = snip_it_schedule(KAPPA, STEPS)
    assert [s.epoch for s in pruner.steps_done] == [TAU * (i + 1) for i in range(len(targets))] == [2, 4, 6, 8]
    assert [s.target for s in pruner.steps_done] == targets
    assert all(isinstance(s, PruneStep) for s in pruner.steps_done)
    total = sum(m.weight.numel() for m in prunable_layers(model).values())
    for step in pruner.steps_done:
        kept = sum(int(mask.count_nonzero()) for mask in watch.masks[step.epoch].values())
        assert kept == step.kept == kept_count(step.target, total)
        assert step.total == total
    assert watch.masks[1] == {}  # nothing pruned before epoch τ
    for epoch in range(2, EPOCHS + 1):  # between steps the masks do not move
        if epoch not in {s.epoch for s in pruner.steps_done}:
            prev = watch.masks[epoch - 1]
            assert all(torch.equal(prev[n], watch.masks[epoch][n]) for n in prev)
    assert weight_sparsity(model) == pytest.approx(KAPPA, abs=1e-3)
    assert all("epoch" in r for r in pruner.records())


def test_masks_only_shrink(during_run):
    _, pruner, watch = during_run
    epochs = [s.epoch for s in pruner.steps_done]
    for before, after in zip(epochs, epochs[1:]):
        for name, mask in watch.masks[after].items():
            assert torch.all(mask <= watch.masks[before][name])


def test_pruned_weights_and_adam_state_stay_zero_through_training(during_run):
    _, _, watch = during_run
    assert watch.problems == []


def test_clear_pruned_optimizer_state_zeroes_exp_avg_at_pruned_positions():
    x, y = toy_data(400)
    model = tiny_mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    layer = prunable_layers(model)["1"]
    mask = torch.ones_like(layer.weight)
    mask[:, :10] = 0
    torch.nn.utils.prune.custom_from_mask(layer, "weight", mask)
    assert clear_pruned_optimizer_state(optimizer, model) == 1
    state = optimizer.state[layer.weight_orig]
    assert torch.all(state["exp_avg"][:, :10] == 0) and torch.all(state["exp_avg_sq"][:, :10] == 0)
    assert torch.any(state["exp_avg"][:, 10:] != 0)


def test_training_flops_fall_after_each_pruning_step(during_run):
    _, pruner, watch = during_run
    per_epoch = watch.meter.per_epoch
    assert len(per_epoch) == EPOCHS
    assert all(b <= a for a, b in zip(per_epoch, per_epoch[1:]))
    for step in pruner.steps_done:
        if step.epoch < EPOCHS:  # the epoch after a step runs with the smaller mask
            assert per_epoch[int(step.epoch)] < per_epoch[int(step.epoch) - 1]


def test_same_seed_gives_the_same_masks(during_run):
    model, pruner, _ = during_run
    again, pruner2, _ = run_during()
    for (n, a), (_, b) in zip(prunable_layers(model).items(), prunable_layers(again).items()):
        assert torch.equal(a.weight_mask, b.weight_mask), n
    assert [s.kept for s in pruner.steps_done] == [s.kept for s in pruner2.steps_done]


def test_required_epochs_and_bad_settings_raise_naming_the_values():
    assert required_epochs(KAPPA, STEPS, TAU) == 8 == pruning_epochs(KAPPA, STEPS, TAU)[-1]
    assert required_epochs(0.98, 5, 4) == 4 * len(snip_it_schedule(0.98, 5))
    with pytest.raises(ValueError, match="0"):
        PruneDuringTraining("snip-it", 0.9, toy_data(100), interval=0)
    with pytest.raises(ValueError, match="interval.*got 0"):
        PruneDuringTraining("snip-it", 0.9, toy_data(100), interval=0)
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match=str(bad)):
            PruneDuringTraining("snip-it", bad, toy_data(100))
    with pytest.raises(ValueError, match="epochs=7.*8"):
        run_during(epochs=7)
    with pytest.raises(ValueError, match="epochs=7.*prune_interval=2.*8"):
        tiny_config(criterion="snip-it", prune_at="during", steps=STEPS, prune_interval=2, sparsity=KAPPA, epochs=7)
    with pytest.raises(ValueError, match="prune_interval"):
        tiny_config(criterion="snip-it", prune_at="during", prune_interval=0, epochs=100)


def test_prune_interval_is_in_the_key_only_when_pruning_during_training():
    before = tiny_config(criterion="snip-it", epochs=20)
    assert before.key == before.replace(prune_interval=2).key
    during = tiny_config(criterion="snip-it", prune_at="during", epochs=40)
    assert during.key != during.replace(prune_interval=2).key != before.key


def test_committed_before_training_records_keep_their_keys():
    files = sorted(RESULTS.glob("*.json"))
    if not files:
        pytest.skip("no committed records in results/cpu")
    for path in files[:5]:
        data = json.loads(path.read_text())
        assert RunConfig.from_dict(data["config"]).key == path.stem
        assert RunRecord.from_dict(data).key == path.stem


def test_real_mnist_run_prunes_during_training_to_kappa(mnist_data_root, single_thread):
    epochs = required_epochs(0.9, 1, 1)
    config = tiny_config(criterion="snip-it", sparsity=0.9, steps=1, prune_at="during", prune_interval=1,
                         epochs=epochs)
    record = run(config, progress=False, data_root=mnist_data_root)
    assert record.metrics["weight_sparsity"] == pytest.approx(0.9, abs=1e-3)
    assert [s["epoch"] for s in record.prune_steps] == list(range(1, epochs + 1))
    assert [s["target"] for s in record.prune_steps] == snip_it_schedule(0.9, 1)
    flops = record.metrics["training_flops"]
    assert flops < record.metrics["dense_training_flops"]
    json.dumps(record.to_dict(), allow_nan=False)
    assert RunRecord.from_dict(json.loads(json.dumps(record.to_dict()))).key == config.key


def test_cli_accepts_prune_at_during_and_prune_interval_for_run_and_sweep():
    from prunekit import cli

    parser = cli.build_parser()
    args = parser.parse_args(["run", "--model", "mlp5", "--criterion", "snip-it", "--sparsity", "0.9", "--steps", "1",
                              "--prune-at", "during", "--prune-interval", "2", "--epochs", "6", "--profile", "smoke"])
    config = cli._run_config(args)
    assert (config.prune_at, config.prune_interval, config.epochs) == ("during", 2, 6)
    args = parser.parse_args(["sweep", "--model", "mlp5", "--criteria", "none,snip-it", "--sparsities", "0.9",
                              "--seeds", "1", "--steps", "1", "--prune-at", "during", "--prune-interval", "1",
                              "--epochs", "3", "--profile", "smoke"])
    configs = cli._sweep_configs(args)
    assert sorted((c.criterion, c.prune_at, c.prune_interval) for c in configs) == [
        ("none", "none", 1), ("snip-it", "during", 1)]


class Unsized:
    """Re-iterable batches without a length: events can only sit on whole epochs."""

    def __init__(self, items):
        self.items = items

    def __iter__(self):
        return iter(self.items)


def test_unsized_batches_prune_at_whole_epoch_ends_and_refuse_fractions():
    x, y = toy_data(400, seed=2)
    pruner = PruneDuringTraining("snip-it", KAPPA, (x, y), interval=1, samples=128, batch_size=64, steps=1)
    train(tiny_mlp(0), Unsized(batches(x, y)), None, TrainConfig(epochs=4, progress=False, device="cpu"), [pruner])
    assert [s.epoch for s in pruner.steps_done] == [1, 2, 3]
    fractional = PruneDuringTraining("snip-it", KAPPA, (x, y), interval=0.5, samples=128, batch_size=64, steps=1)
    with pytest.raises(ValueError, match="epoch 0.5 is not a whole epoch"):
        train(tiny_mlp(0), Unsized(batches(x, y)), None, TrainConfig(epochs=4, progress=False, device="cpu"),
              [fractional])
