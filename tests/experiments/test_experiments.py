"""RunConfig identity and validation, RunRecord round trips, and facts of a real smoke run on MNIST MLP5."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime

import pytest
import torch

import prunekit
from prunekit.criteria import base as criteria_base
from prunekit.criteria.weight.random import RandomCriterion
from prunekit.experiments.config import KEYLESS_FIELDS, RunConfig
from prunekit.experiments.loading import load_run_data
from prunekit.experiments.record import SCHEMA_VERSION, RunRecord
from prunekit.experiments.run import run
from tests.sweep_helpers import data_root_or_skip, fake_record, one_thread, single_thread, tiny_config  # noqa: F401

BASE = dict(model="mlp5", dataset="mnist", criterion="snip-it", sparsity=0.98, epochs=10, device="cpu")


class OptionCriterion(RandomCriterion):
    """A criterion with one option, to test criterion_options."""

    name = "option-test"

    def __init__(self, steps: int = 5, shuffle: bool = False) -> None:
        super().__init__(steps)
        self.shuffle = shuffle


@pytest.fixture
def option_criterion(monkeypatch):
    """Register OptionCriterion for one test only."""
    monkeypatch.setitem(criteria_base._REGISTRY, ("weight", OptionCriterion.name), OptionCriterion)
    return OptionCriterion.name


# ------------------------------------------------------------------------------------------------ identity

# One changed value per field that defines the experiment.
CHANGES = {
    "model": "lenet5", "dataset": "fashion-mnist", "criterion": "snip", "sparsity": 0.95, "prune_at": "before",
    "epochs": 11, "seed": 1, "batch_size": 256, "train_limit": 1000, "test_limit": 500, "samples": 512,
    "scoring_batch_size": 256, "steps": 3, "include_first": False, "include_last": False, "score_mode": "train",
    "lr": 1e-3, "weight_decay": 0.0, "grad_clip": 5.0, "amp": False,
    "prune_interval": 2,  # in the key only when prune_at is "during" (tests/pruning/test_during.py)
    "rewind_epoch": 1.0,  # only with prune_at "during" (tests/criteria/test_unstructured_methods.py)
    "ablation": "shuffle",
    "structured": True,  # needs a node criterion (tests/criteria/test_unstructured_methods.py)
    "validation": 0.2,  # evaluate on a held-out share of the training set (Appendix F tuning)
    "deterministic": True,  # deterministic kernels: another kernel choice on a GPU
}


def test_same_fields_give_the_same_16_hex_key():
    a, b = RunConfig(**BASE), RunConfig(**BASE)
    assert a == b and hash(a) == hash(b)
    assert a.key == b.key
    assert re.fullmatch(r"[0-9a-f]{16}", a.key)


def test_every_experiment_field_is_covered_by_the_change_test():
    defining = {f.name for f in dataclasses.fields(RunConfig)} - set(KEYLESS_FIELDS)
    assert defining == set(CHANGES) | {"criterion_options"}


@pytest.mark.parametrize("field", [f for f in CHANGES if f not in ("prune_at", "prune_interval", "rewind_epoch", "structured")])
def test_changing_an_experiment_field_changes_the_key(field):
    assert RunConfig(**BASE).key != RunConfig(**{**BASE, field: CHANGES[field]}).key


def test_prune_at_and_criterion_options_are_in_the_key(option_criterion):
    dense = RunConfig(model="mlp5", dataset="mnist")
    assert dense.prune_at == "none"
    assert RunConfig(**{**BASE, "criterion": option_criterion}).key != RunConfig(
        **{**BASE, "criterion": option_criterion, "criterion_options": {"shuffle": True}}).key
    assert "prune_at" in dense.to_dict() and json.dumps(dense.to_dict())  # serialisable identity


@pytest.mark.parametrize("field, value", [("device", "auto"), ("profile", "paper")])
def test_device_name_and_profile_do_not_change_the_key(field, value, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # "auto" is the CPU here
    assert RunConfig(**BASE).key == RunConfig(**{**BASE, field: value}).key


def test_the_cuda_device_index_does_not_change_the_key():
    cuda = {**BASE, "precision": "bf16"}
    assert RunConfig(**{**cuda, "device": "cuda:0"}).key == RunConfig(**{**cuda, "device": "cuda:1"}).key


def test_equivalent_spellings_normalise_to_one_key():
    a = RunConfig(**BASE)
    b = RunConfig(**{**BASE, "model": "MLP5", "dataset": "MNIST", "criterion": " SNIP-it", "batch_size": 512,
                     "prune_at": "before"})
    assert a == b and a.key == b.key
    assert RunConfig(model="mlp5", dataset="mnist", sparsity=0).sparsity == 0.0
    assert RunConfig(**{**BASE, "lr": 1}).key == RunConfig(**{**BASE, "lr": 1.0}).key


def test_batch_size_defaults_to_the_datasets_paper_batch_size():
    assert RunConfig(**BASE).batch_size == 512
    assert RunConfig(**{**BASE, "model": "conv6", "dataset": "imagenette"}).batch_size == 128


# ------------------------------------------------------------------------------------------------ validation

INVALID = [
    ("model", "resnet50", "mlp5"),
    ("dataset", "svhn", "mnist"),
    ("criterion", "magic", "snip-it"),
    ("sparsity", 1.0, r"\[0, 1\)"),
    ("sparsity", 1.5, r"\[0, 1\)"),
    ("sparsity", -0.1, r"\[0, 1\)"),
    ("sparsity", "0.9", r"\[0, 1\)"),
    ("prune_at", "after", "before"),
    ("epochs", -1, ">= 0"),
    ("epochs", 1.5, ">= 0"),
    ("seed", -1, ">= 0"),
    ("batch_size", 0, ">= 1"),
    ("train_limit", 0, ">= 1"),
    ("test_limit", -5, ">= 1"),
    ("samples", 0, ">= 1"),
    ("scoring_batch_size", 0, ">= 1"),
    ("steps", -1, ">= 0"),
    ("include_first", "yes", "True or False"),
    ("include_last", 1, "True or False"),
    ("score_mode", "half", "eval"),
    ("lr", 0, "> 0"),
    ("weight_decay", -1e-5, ">= 0"),
    ("grad_clip", float("nan"), ">= 0"),
    ("amp", None, "True or False"),
    ("criterion_options", {"k": [1, 2]}, "str/int/float/bool/None"),
    ("device", "tpu:0", "auto"),
    ("profile", 3, "profile name"),
]


@pytest.mark.parametrize("field, value, accepted", INVALID, ids=[f"{f}={v!r}" for f, v, _ in INVALID])
def test_invalid_field_raises_naming_field_value_and_accepted(field, value, accepted):
    with pytest.raises(ValueError) as err:
        RunConfig(**{**BASE, field: value})
    message = str(err.value)
    assert field in message and repr(value) in message
    assert re.search(accepted, message)


@pytest.mark.parametrize("changes, field", [
    ({"criterion": "none", "sparsity": 0.5}, "sparsity"),
    ({"criterion": "snip", "sparsity": 0.0}, "sparsity"),
    ({"criterion": "none", "sparsity": 0.0, "prune_at": "before"}, "prune_at"),
    ({"criterion": "snip", "prune_at": "none"}, "prune_at"),
    ({"criterion": "none", "sparsity": 0.0, "criterion_options": {"a": 1}}, "criterion_options"),
    ({"criterion": "snip", "criterion_options": {"unknown_option": 1}}, "criterion_options"),
])
def test_inconsistent_fields_are_rejected(changes, field):
    with pytest.raises(ValueError, match=field):
        RunConfig(**{**BASE, **changes})


def test_from_dict_rejects_unknown_fields():
    with pytest.raises(ValueError, match="colour"):
        RunConfig.from_dict({**RunConfig(**BASE).to_dict(), "colour": "red"})


# ------------------------------------------------------------------------------------------------ round trips


def test_to_dict_from_dict_round_trips_through_json(option_criterion):
    config = RunConfig(**{**BASE, "criterion": option_criterion, "criterion_options": {"shuffle": True},
                          "profile": "cpu", "device": "cpu", "train_limit": 100})
    back = RunConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert back == config and back.key == config.key
    assert back.criterion_options == (("shuffle", True),)
    assert config.make_criterion().shuffle is True


def test_from_profile_takes_budgets_and_overrides_win():
    config = RunConfig.from_profile("smoke", model="mlp5", dataset="mnist", criterion="snip", sparsity=0.9)
    assert (config.epochs, config.train_limit, config.test_limit, config.samples, config.profile) == (
        1, 2048, 1024, 512, "smoke")
    assert RunConfig.from_profile("paper", model="mlp5", dataset="mnist", epochs=3).epochs == 3
    with pytest.raises(ValueError, match="'nope'"):
        RunConfig.from_profile("nope", model="mlp5", dataset="mnist")


def test_replace_rederives_prune_at_between_dense_and_pruned():
    dense = RunConfig(model="mlp5", dataset="mnist")
    pruned = dense.replace(criterion="snip", sparsity=0.9)
    assert pruned.prune_at == "before"
    assert pruned.replace(criterion="none", sparsity=0.0).prune_at == "none"


def test_record_round_trips_and_checks_schema_and_key():
    record = fake_record(RunConfig(**BASE))
    data = json.loads(json.dumps(record.to_dict()))
    assert data["schema"] == SCHEMA_VERSION and data["key"] == record.key
    assert RunRecord.from_dict(data).to_dict() == record.to_dict()
    with pytest.raises(ValueError, match="schema"):
        RunRecord.from_dict({**data, "schema": SCHEMA_VERSION + 1})
    with pytest.raises(ValueError, match="does not match"):
        RunRecord.from_dict({**data, "key": "0123456789abcdef"})
    with pytest.raises(ValueError, match="lacks metrics"):
        RunRecord.from_dict({k: v for k, v in data.items() if k != "metrics"})


def test_comparable_drops_only_what_varies_between_executions():
    a = fake_record(RunConfig(**BASE))
    b = fake_record(RunConfig(**{**BASE, "device": "cpu", "profile": "cpu"}))
    b.resources["total_seconds"] = 99.0
    b.provenance["hostname"] = "elsewhere"
    b.history[0]["seconds"] = 12.0
    assert a.comparable() == b.comparable()
    b.metrics["accuracy"] = 0.75
    assert a.comparable() != b.comparable()


# ------------------------------------------------------------------------------------------------ real runs


@pytest.fixture(scope="module")
def smoke_config() -> RunConfig:
    return RunConfig.from_profile("smoke", model="mlp5", dataset="mnist", criterion="snip-it", sparsity=0.9,
                                  train_limit=1024, test_limit=512, samples=256, scoring_batch_size=256,
                                  device="cpu")


@pytest.fixture(scope="module")
def smoke_record(smoke_config) -> RunRecord:
    root = data_root_or_skip()
    with one_thread():
        return run(smoke_config, progress=False, data_root=root)


def test_smoke_run_reaches_the_target_weight_sparsity(smoke_record):
    assert smoke_record.metrics["weight_sparsity"] == pytest.approx(0.9, abs=1e-3)
    assert smoke_record.metrics["accuracy"] > 0.0 and smoke_record.metrics["accuracy"] <= 1.0
    assert 0.0 <= smoke_record.metrics["node_sparsity"] < 1.0


def test_smoke_run_records_one_history_entry_per_epoch(smoke_record, smoke_config):
    assert len(smoke_record.history) == smoke_config.epochs
    assert smoke_record.history[-1]["test_acc"] == smoke_record.metrics["accuracy"]


def test_smoke_run_follows_the_snip_it_schedule(smoke_record):
    targets = [s["target"] for s in smoke_record.prune_steps]
    assert len(targets) == 7 and targets[0] == 0.5 and targets[-1] == pytest.approx(0.9)
    assert all(a < b for a, b in zip(targets, targets[1:]))
    assert smoke_record.resources["prune_seconds"] > 0 and smoke_record.resources["train_seconds"] > 0


def test_smoke_run_flops_and_size_shrink(smoke_record, smoke_config):
    m = smoke_record.metrics
    assert 0 < m["inference_flops"] < m["dense_inference_flops"]
    assert m["inference_flops"] == pytest.approx(0.1 * m["dense_inference_flops"], rel=0.01)
    # The mask is fixed during training, so training FLOPs are 3 × forward FLOPs × samples seen.
    assert m["training_flops"] == 3 * m["inference_flops"] * m["train_samples"] * smoke_config.epochs
    assert m["training_flops"] < m["dense_training_flops"]
    assert m["csr_bits"] < m["dense_bits"]
    assert (m["train_samples"], m["test_samples"]) == (1024, 512)
    assert set(smoke_record.layer_sparsity) == {f"classifier.{i}" for i in (0, 4, 8, 12, 16)}


def test_smoke_run_provenance_is_filled(smoke_record):
    p = smoke_record.provenance
    assert p["prunekit_version"] == prunekit.__version__
    assert p["torch_version"] == torch.__version__
    assert p["device_type"] == "cpu" and p["device_name"] and p["hostname"]
    assert datetime.fromisoformat(p["date"]).utcoffset().total_seconds() == 0
    assert p["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", p["git_commit"])
    assert smoke_record.resources["peak_memory_bytes"] > 0


def test_smoke_record_is_strict_json(smoke_record):
    text = json.dumps(smoke_record.to_dict(), allow_nan=False)
    assert RunRecord.from_dict(json.loads(text)).to_dict() == smoke_record.to_dict()


def test_same_config_twice_gives_identical_accuracy_and_masks(smoke_record, smoke_config, mnist_data_root,
                                                              single_thread):
    again = run(smoke_config, progress=False, data_root=mnist_data_root)
    assert again.metrics["accuracy"] == smoke_record.metrics["accuracy"]
    assert again.metrics["mask_digest"] == smoke_record.metrics["mask_digest"]
    assert again.comparable() == smoke_record.comparable()


def test_another_seed_gives_another_mask(mnist_data_root, single_thread):
    a, b = (run(tiny_config(seed=s), progress=False, data_root=mnist_data_root) for s in (0, 1))
    assert a.metrics["weight_sparsity"] == b.metrics["weight_sparsity"] == pytest.approx(0.9, abs=1e-3)
    assert a.metrics["mask_digest"] != b.metrics["mask_digest"]


def test_dense_baseline_prunes_nothing(mnist_data_root, single_thread):
    record = run(tiny_config(criterion="none", sparsity=0.0), progress=False, data_root=mnist_data_root)
    assert record.prune_steps == [] and record.metrics["weight_sparsity"] == 0.0
    assert record.metrics["inference_flops"] == record.metrics["dense_inference_flops"]


def test_scoring_draws_from_training_data_not_test_data(mnist_data_root):
    data = load_run_data(tiny_config(), torch.device("cpu"), mnist_data_root)
    assert data.scoring.images.data_ptr() == data.train.images.data_ptr()
    assert data.scoring.num_samples == data.train.num_samples == 256
    assert data.test.images.data_ptr() != data.train.images.data_ptr() and data.test.num_samples == 128
    assert data.scoring.seed != data.train.seed and data.scoring.shuffle
    assert data.scoring.batch_size == 128


# ------------------------------------------------------------------ structured baselines in the training loop


def test_before_training_structured_keys_are_those_of_the_committed_cpu_records():
    snap = RunConfig.from_profile("cpu", model="mlp5", dataset="mnist", criterion="snap-it", sparsity=0.9, seed=0,
                                  structured=True, device="cpu")
    cnip = RunConfig.from_profile("cpu", model="mlp5", dataset="mnist", criterion="cnip-it", sparsity=0.5, seed=1,
                                  structured=True, device="cpu")
    assert (snap.key, cnip.key) == ("f3a55118f5ba43c4", "8cfa2e2806e3f5c0")  # results/cpu/<key>.json


@pytest.mark.parametrize("criterion, sparsity, prune_at, epochs", [
    ("efficientconvnets", 0.5, "after", 6),
    ("gatedecorators", 0.5, "after", 12),  # twice the budget (Section 4)
    ("group-hs", 0.0, "after", 6),
    ("l0", 0.0, "during", 12),  # the paper's Table 1 lists L0 as pruning during training
])
def test_structured_baselines_take_their_timing_and_budget_from_the_method(criterion, sparsity, prune_at, epochs):
    config = RunConfig.from_profile("cpu", model="mlp5", dataset="mnist", criterion=criterion, sparsity=sparsity,
                                    structured=True)
    assert (config.prune_at, config.epochs) == (prune_at, epochs)
    assert RunConfig.from_profile("cpu", model="mlp5", dataset="mnist", criterion=criterion, sparsity=sparsity,
                                  structured=True, epochs=3).epochs == 3


@pytest.mark.parametrize("changes, match", [
    (dict(criterion="efficientconvnets", sparsity=0.5, prune_at="before"),
     "structured criterion 'efficientconvnets' prunes after training: prune_at must be 'after'"),
    (dict(criterion="snap-it", sparsity=0.5, prune_at="after"), "'snap-it' prunes before training"),
    (dict(criterion="l0", prune_at="after"), "'l0' prunes during training"),
    (dict(criterion="group-hs", sparsity=0.5), "sparsity must be 0 for structured criterion 'group-hs'"),
    (dict(criterion="l0", sparsity=0.9), "sparsity must be 0 for structured criterion 'l0'"),
    (dict(criterion="gatedecorators", sparsity=0.0), "sparsity must be in \\(0, 1\\)"),
    (dict(criterion="efficientconvnets", sparsity=0.5, criterion_options={"lam": 1e-3}),
     "are not accepted by node criterion 'efficientconvnets'"),
    (dict(criterion="snap-it", sparsity=0.5, criterion_options={"lam": 1e-3}), "not accepted by node criterion"),
    (dict(criterion="group-hs", criterion_options={"lam": -1.0}), "Group-HS's lam"),
    (dict(criterion="efficientconvnets", sparsity=0.5, epochs=0), "needs epochs >= 1"),
    (dict(criterion="cnip-it", sparsity=0.5, prune_at="during"), "'cnip-it' prunes before training"),
    (dict(criterion="snap-it", sparsity=0.9, prune_at="during", epochs=6, prune_interval=1.0),
     "epochs=6 is too few for structured snap-it during training"),
])
def test_structured_configs_reject_bad_combinations_with_a_clear_message(changes, match):
    fields = {"model": "mlp5", "dataset": "mnist", "structured": True, "sparsity": 0.0, **changes}
    with pytest.raises(ValueError, match=match):
        RunConfig(**fields)


def test_replace_picks_the_new_node_criterions_timing():
    base = RunConfig(model="mlp5", dataset="mnist", criterion="snap-it", sparsity=0.5, structured=True)
    assert base.replace(criterion="efficientconvnets").prune_at == "after"
    assert base.replace(criterion="l0", sparsity=0.0).prune_at == "during"


def _evaluate_shrunk(record, data_root):
    from prunekit.experiments.loading import load_run_data
    from prunekit.training.loop import evaluate

    data = load_run_data(record.config, torch.device("cpu"), data_root)
    return evaluate(record.model, data.test, torch.device("cpu"), amp=False)[1]


@pytest.mark.parametrize("criterion, sparsity, options", [
    ("efficientconvnets", 0.5, {}),
    ("gatedecorators", 0.5, {}),
    ("group-hs", 0.0, {"lam": 0.05}),
    ("l0", 0.0, {"lam": 2.0}),
])
def test_a_structured_baseline_trains_prunes_and_returns_the_shrunk_network_it_scored(
        criterion, sparsity, options, mnist_data_root, single_thread):
    config = tiny_config(criterion=criterion, sparsity=sparsity, structured=True, criterion_options=options,
                         epochs=2, amp=False)
    record = run(config, progress=False, data_root=mnist_data_root, keep_model=True)
    m = record.metrics
    # the record's accuracy (the masked network at the last epoch) is the shrunk network's
    assert m["accuracy"] == pytest.approx(_evaluate_shrunk(record, mnist_data_root), abs=1e-9)
    widths = [layer.out_features for layer in record.model.modules() if isinstance(layer, torch.nn.Linear)][:-1]
    assert m["node_sparsity"] == pytest.approx(1 - sum(widths) / (4 * 512))
    if criterion in ("efficientconvnets", "gatedecorators"):
        assert m["node_sparsity"] == pytest.approx(0.5, abs=0.01)
        assert m["inference_flops"] < m["dense_inference_flops"] and m["parameters"] < 1199114  # MLP5 on MNIST unpruned
    # it started training dense; the dense phase counts dense FLOPs, so training costs at most the dense run's
    assert m["train_memory_bytes"] == m["dense_train_memory_bytes"]
    assert m["training_flops"] <= m["dense_training_flops"]
    assert record.prune_steps and all("epoch" in step for step in record.prune_steps)
    assert not any(name.endswith(("node_gate", "node_log_alpha")) for name, _ in record.model.named_parameters())


def test_snap_it_during_training_prunes_its_schedule_in_the_loop_and_returns_the_shrunk_network(
        mnist_data_root, single_thread):
    config = tiny_config(criterion="snap-it", sparsity=0.8, structured=True, prune_at="during", prune_interval=0.25,
                         epochs=2, amp=False, batch_size=64)
    record = run(config, progress=False, data_root=mnist_data_root, keep_model=True)
    m = record.metrics
    # 256 samples in batches of 64: 4 optimiser steps per epoch, so τ = 0.25 epochs is exactly one step, and
    # SNAP-it's 7 rounds (steps 5 + 2) fall on steps 1..7
    assert [step["epoch"] for step in record.prune_steps] == [0.25 * (i + 1) for i in range(7)]
    assert m["node_sparsity"] == pytest.approx(0.8, abs=0.01)
    assert m["accuracy"] == pytest.approx(_evaluate_shrunk(record, mnist_data_root), abs=1e-9)
    # it starts dense and shrinks in training: the first step's memory is the dense one's, FLOPs fall below it
    assert m["train_memory_bytes"] == m["dense_train_memory_bytes"]
    assert m["training_flops"] < m["dense_training_flops"]


def test_a_structured_run_before_training_starts_with_less_training_memory(mnist_data_root, single_thread):
    record = run(tiny_config(criterion="random", sparsity=0.5, structured=True, epochs=1), progress=False,
                 data_root=mnist_data_root)
    assert record.metrics["train_memory_bytes"] < record.metrics["dense_train_memory_bytes"]


def test_measuring_training_memory_changes_nothing_a_run_computes(mnist_data_root, single_thread, monkeypatch):
    from prunekit.experiments import outcome

    config = tiny_config(criterion="snap-it", sparsity=0.5, structured=True, epochs=1)
    measured = run(config, progress=False, data_root=mnist_data_root).comparable()
    monkeypatch.setattr(outcome, "training_memory_bytes", lambda *args, **kwargs: 0)
    unmeasured = run(config, progress=False, data_root=mnist_data_root).comparable()
    for record in (measured, unmeasured):
        record["metrics"].pop("train_memory_bytes"), record["metrics"].pop("dense_train_memory_bytes")
    assert measured == unmeasured
