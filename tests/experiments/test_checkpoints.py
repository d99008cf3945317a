"""Model files beside run records: compact, exact round trips, clear errors, and sweeps that keep models."""

from __future__ import annotations

import io
import shutil

import pytest
import torch

from prunekit.experiments import sweep as sweep_module
from prunekit.data import dataset_info
from prunekit.experiments.config import RunConfig
from prunekit.experiments.loading import load_run_data
from prunekit.experiments.record import mask_digest
from prunekit.experiments.run import run
from prunekit.core.masks import apply_mask, prunable_layers, weight_sparsity
from prunekit.models import build_model
from prunekit.experiments.store import MODEL_SUFFIX, ResultStore, encode_state
from prunekit.experiments.sweep import grid, missing, sweep
from prunekit.training.loop import evaluate
from tests.sweep_helpers import fake_record, single_thread, tiny_config  # noqa: F401

CONFIG = RunConfig(model="mlp5", dataset="mnist", criterion="snip-it", sparsity=0.99, epochs=1, device="cpu")


@pytest.fixture
def store(tmp_path) -> ResultStore:
    return ResultStore(tmp_path / "results")


def trained_like(config: RunConfig = CONFIG, sparsity: float | None = 0.99, seed: int = 0) -> torch.nn.Module:
    """The config's network with random masks at ``sparsity`` and BatchNorm statistics that are not the defaults."""
    info = dataset_info(config.dataset)
    torch.manual_seed(seed)
    model = build_model(config.model, info.input_shape, info.num_classes)
    model.train()
    with torch.no_grad():  # a few batches move the running statistics away from 0 / 1
        for _ in range(3):
            model(torch.randn(32, *info.input_shape))
    if sparsity is not None:
        g = torch.Generator().manual_seed(seed)
        for module in prunable_layers(model).values():
            apply_mask(module, (torch.rand(module.weight.shape, generator=g) >= sparsity).float())
    return model.eval()


def record_of(config: RunConfig, model: torch.nn.Module):
    """A synthetic record of ``config`` whose masks are ``model``'s."""
    record = fake_record(config)
    record.metrics["mask_digest"] = mask_digest(model)
    return record


def inputs(config: RunConfig = CONFIG, n: int = 16) -> torch.Tensor:
    return torch.randn(n, *dataset_info(config.dataset).input_shape, generator=torch.Generator().manual_seed(1))


def dense_bytes() -> int:
    """Size of the plain ``torch.save`` of the unpruned network's state dict."""
    buffer = io.BytesIO()
    torch.save(build_model("mlp5", (1, 28, 28), 10).state_dict(), buffer)
    return len(buffer.getvalue())


# ------------------------------------------------------------------------------------------------ round trips


def test_a_loaded_model_computes_the_same_outputs_with_the_same_masks(store):
    model = trained_like()
    first = next(iter(prunable_layers(model).values()))
    kept = first.weight_mask.nonzero()[0]
    with torch.no_grad():  # a kept weight that is exactly zero must stay kept (the mask is stored, not inferred)
        first.weight_orig[tuple(kept)] = 0.0
    store.put_model(record_of(CONFIG, model), model)
    loaded = store.load_model(CONFIG)
    assert mask_digest(loaded) == mask_digest(model)
    assert not loaded.training and next(loaded.parameters()).device.type == "cpu"
    x = inputs()
    assert torch.equal(loaded(x), model(x))
    assert weight_sparsity(loaded) == weight_sparsity(model)


def test_an_unpruned_network_round_trips_without_masks(store):
    config = RunConfig(model="mlp5", dataset="mnist", epochs=1, device="cpu")
    model = trained_like(config, sparsity=None)
    store.put_model(config, model)
    loaded = store.load_model(config)
    assert not any(hasattr(m, "weight_mask") for m in loaded.modules())
    assert torch.equal(loaded(inputs()), model(inputs()))


def test_a_conv_network_round_trips(store):
    config = RunConfig(model="lenet5", dataset="mnist", criterion="snip", sparsity=0.9, epochs=1, device="cpu")
    model = trained_like(config, sparsity=0.9)
    store.put_model(record_of(config, model), model)
    loaded = store.load_model(config)
    assert mask_digest(loaded) == mask_digest(model)
    assert torch.equal(loaded(inputs(config)), model(inputs(config)))


def test_a_99_percent_sparse_mlp5_file_is_a_small_fraction_of_the_dense_one(store):
    model = trained_like(sparsity=0.99)
    path = store.put_model(record_of(CONFIG, model), model)
    assert path == store.root / f"{CONFIG.key}{MODEL_SUFFIX}"
    # 1 % of the weights at 8 bytes (int32 position + float32 value) plus the dense biases and BatchNorm
    assert path.stat().st_size < 0.05 * dense_bytes()


def test_the_file_holds_no_mask_buffers_and_the_masked_weights_only_where_kept():
    model = trained_like(sparsity=0.99)
    state = encode_state(model)
    names = set(state["tensors"])
    assert not any(n.endswith(("weight_mask", "weight_orig")) for n in names)
    assert names == set(build_model("mlp5", (1, 28, 28), 10).state_dict())
    for layer, module in prunable_layers(model).items():
        entry = state["tensors"][f"{layer}.weight"]
        assert entry["indices"].dtype == torch.int32
        assert len(entry["values"]) == int(module.weight_mask.count_nonzero())
    assert state["masked"] == sorted(prunable_layers(model))


def test_writing_a_model_leaves_no_temporary_file(store):
    model = trained_like()
    store.put_model(record_of(CONFIG, model), model)
    store.put_model(record_of(CONFIG, model), model)  # overwriting is atomic too
    assert sorted(p.name for p in store.root.iterdir()) == [f"{CONFIG.key}{MODEL_SUFFIX}"]


# ------------------------------------------------------------------------------------------------ errors


def test_a_missing_model_file_names_the_key_and_how_to_create_it(store):
    with pytest.raises(FileNotFoundError, match=rf"{CONFIG.key}.*keep_models=True"):
        store.load_model(CONFIG)


def test_a_file_of_another_key_is_rejected(store):
    model = trained_like()
    other = CONFIG.replace(seed=7)
    store.put_model(record_of(CONFIG, model), model)
    shutil.copy(store.model_path_for(CONFIG), store.model_path_for(other))
    with pytest.raises(ValueError, match=f"key '{CONFIG.key}', not '{other.key}'"):
        store.load_model(other)


def test_a_file_whose_shapes_do_not_match_the_architecture_is_rejected(store):
    cifar = trained_like(CONFIG.replace(dataset="cifar10"))  # MLP5 with a 3072-wide input layer
    payload = {"format": 1, "key": CONFIG.key, "model": "mlp5", "dataset": "mnist",
               "mask_digest": mask_digest(cifar), **encode_state(cifar)}
    store.root.mkdir(parents=True)
    torch.save(payload, store.model_path_for(CONFIG))
    with pytest.raises(ValueError, match=r"shapes do not match mlp5 on mnist.*classifier\.0\.weight"):
        store.load_model(CONFIG)


def test_a_network_of_another_architecture_is_not_saved(store):
    with pytest.raises(ValueError, match="do not match mlp5 on mnist"):
        store.put_model(CONFIG, build_model("lenet5", (1, 28, 28), 10))


def test_a_model_whose_masks_are_not_the_records_is_not_saved(store):
    record = record_of(CONFIG, trained_like(seed=0))
    with pytest.raises(ValueError, match="not those of record"):
        store.put_model(record, trained_like(seed=1))


def test_a_model_file_older_than_its_record_is_reported_stale(store):
    model = trained_like(seed=0)
    store.put_model(CONFIG, model)
    store.put(record_of(CONFIG, trained_like(seed=1)))  # the run was recomputed without keeping its model
    with pytest.raises(ValueError, match="stale"):
        store.load_model(CONFIG)


def test_structured_runs_are_refused_with_the_reason(store):
    config = RunConfig(model="mlp5", dataset="mnist", criterion="snap-it", sparsity=0.5, structured=True, epochs=1,
                       device="cpu")
    with pytest.raises(ValueError, match="structured.*physically shrunk"):
        store.put_model(config, trained_like(sparsity=None))
    with pytest.raises(ValueError, match="structured"):
        store.load_model(config)
    with pytest.raises(ValueError, match="structured"):
        sweep([config], store, keep_models=True, progress=False)


# ------------------------------------------------------------------------------------------------ sweeps


@pytest.fixture
def fake_runs(monkeypatch) -> list[RunConfig]:
    """An instant run() that returns a synthetic record (with a network when asked); the list collects configs."""
    calls: list[RunConfig] = []

    def fake_run(config, *, keep_model=False, **kwargs):
        calls.append(config)
        model = trained_like(config, seed=config.seed)
        record = record_of(config, model)
        record.model = model if keep_model else None
        return record

    monkeypatch.setattr(sweep_module, "run", fake_run)
    return calls


def test_keep_models_reruns_stored_records_that_lack_a_model_file(store, fake_runs):
    configs = grid(CONFIG, seed=range(4))
    store.put(fake_record(configs[0], accuracy=0.25))  # record only
    model = trained_like(configs[1], seed=1)
    store.put(record_of(configs[1], model))  # record and model
    store.put_model(configs[1], model)
    assert missing(configs, store) == configs[2:]
    assert missing(configs, store, keep_models=True) == [configs[0], *configs[2:]]

    records = sweep(configs, store, progress=False, keep_models=True)
    assert [c.seed for c in fake_runs] == [0, 2, 3]
    assert store.get(configs[0]).accuracy == 0.5  # the record was overwritten by the re-run
    assert all(store.has_model(c) for c in configs) and missing(configs, store, keep_models=True) == []
    assert all(r.model is None for r in records)  # the networks are in the store, not held in memory
    for config, record in zip(configs, records):
        assert mask_digest(store.load_model(config)) == record.metrics["mask_digest"]


def test_without_keep_models_no_model_file_is_written(store, fake_runs):
    sweep(grid(CONFIG, seed=range(2)), store, progress=False)
    assert len(fake_runs) == 2 and not list(store.root.glob(f"*{MODEL_SUFFIX}"))


def test_keep_models_needs_the_local_backend(store):
    with pytest.raises(ValueError, match="keep_models=True needs the local backend.*'ray'"):
        sweep([CONFIG], store, backend="ray", keep_models=True, progress=False)


def test_keep_models_must_be_a_bool(store):
    with pytest.raises(ValueError, match="keep_models must be True or False"):
        missing([CONFIG], store, keep_models="yes")


def test_a_real_run_reloads_with_its_recorded_accuracy_and_masks(store, mnist_data_root, single_thread):
    config = tiny_config(criterion="snip-it", sparsity=0.99)
    (record,) = sweep([config], store, progress=False, data_root=mnist_data_root, keep_models=True)
    loaded = store.load_model(config)
    assert mask_digest(loaded) == record.metrics["mask_digest"]
    data = load_run_data(config, torch.device("cpu"), mnist_data_root)
    _loss, accuracy = evaluate(loaded, data.test, torch.device("cpu"), config.amp)
    assert accuracy == record.accuracy
    again = run(config, progress=False, data_root=mnist_data_root, keep_model=True)
    x = next(iter(data.test))[0]
    assert torch.equal(loaded(x), again.model.eval()(x))
