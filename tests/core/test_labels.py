"""Labels outside the model's classes are a ValueError naming the range and the outputs, at every entry point."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import prunekit
from prunekit.data import TensorBatches, dataset_info
from prunekit.experiments.run import run
from prunekit.core.labels import check_labels, output_width, peek_labels
from prunekit.models import build_model
from prunekit.structured import prune_nodes
from prunekit.training.loop import TrainConfig, train
from tests.data_fixtures import MNIST_FILES, write_idx
from tests.sweep_helpers import tiny_config

RANGE_ERROR = r"labels run from 10 to 19, but MLP5 has 10 outputs"


def mlp5() -> torch.nn.Module:
    return build_model("mlp5", (1, 28, 28), 10)


def shifted(n: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST-shaped inputs whose labels are 10..19, i.e. outside a 10-class model."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, 1, 28, 28, generator=generator)
    y = 10 + torch.arange(n) % 10
    return x, y


def test_prune_rejects_labels_beyond_the_outputs():
    with pytest.raises(ValueError, match=RANGE_ERROR):
        prunekit.prune(mlp5(), "snip", 0.9, data=shifted(), samples=128)


def test_prune_nodes_rejects_labels_beyond_the_outputs():
    with pytest.raises(ValueError, match=RANGE_ERROR):
        prune_nodes(mlp5(), "snap-it", 0.5, shifted(), samples=128)


def test_train_rejects_labels_beyond_the_outputs():
    x, y = shifted()
    with pytest.raises(ValueError, match=RANGE_ERROR):
        train(mlp5(), [(x, y)], config=TrainConfig(epochs=1, device="cpu", progress=False))


def test_run_rejects_a_dataset_whose_labels_exceed_the_classes(tmp_path, monkeypatch):
    raw = tmp_path / "MNIST" / "raw"
    rng = np.random.default_rng(0)
    for name, n in zip(MNIST_FILES, (256, 256, 128, 128)):
        shape = (n, 28, 28) if "images" in name else (n,)
        array = rng.integers(0, 256, shape) if "images" in name else 10 + np.arange(n) % 10
        write_idx(raw / name, array)
    monkeypatch.setenv("PRUNEKIT_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ValueError, match=RANGE_ERROR):
        run(tiny_config(), progress=False, data_root=tmp_path)


def test_a_custom_loss_or_float_targets_are_not_checked():
    x, y = shifted()
    check_labels(mlp5(), (x, y), loss_fn=torch.nn.functional.mse_loss)
    check_labels(mlp5(), (x, y.float()))


def test_labels_in_range_pass_and_negative_ones_fail():
    x, y = shifted()
    check_labels(mlp5(), (x, y - 10))
    with pytest.raises(ValueError, match=r"labels run from -1 to 8.*must lie in 0\.\.9"):
        check_labels(mlp5(), (x, y - 11))


def test_cross_entropys_ignore_index_is_not_a_label():
    x, y = shifted()
    y = (y - 10).clone()
    y[0] = -100
    check_labels(mlp5(), (x, y))


def test_output_width_is_the_last_layers():
    assert output_width(mlp5()) == 10
    assert output_width(build_model("conv6", (3, 32, 32), 7)) == 7


def test_peeking_reads_every_source_without_consuming_it():
    x, y = shifted()
    info = dataset_info("mnist")
    batches = TensorBatches((x.clamp(0, 1) * 255).to(torch.uint8), y, info, 64, shuffle=True, augment=False)
    assert torch.equal(peek_labels(batches), y) and batches.epoch == 0  # no epoch drawn: the shuffle is unchanged
    assert torch.equal(peek_labels((x, y)), y)
    assert torch.equal(peek_labels([(x[:8], y[:8]), (x[8:], y[8:])]), y[:8])
    assert torch.equal(peek_labels(DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)), y)
    one_shot = iter([(x, y)])
    assert peek_labels(one_shot) is None and next(one_shot)[1] is y


def test_peeking_a_loader_without_stored_labels_leaves_the_random_state_alone():
    class Pairs(torch.utils.data.Dataset):
        def __len__(self):
            return 16

        def __getitem__(self, i):
            return torch.zeros(2), torch.tensor(10 + i % 10)

    generator = torch.Generator().manual_seed(3)
    loader = DataLoader(Pairs(), batch_size=4, shuffle=True, generator=generator)
    torch.manual_seed(0)
    before, generator_before = torch.get_rng_state(), generator.get_state()
    assert int(peek_labels(loader).min()) >= 10
    assert torch.equal(torch.get_rng_state(), before) and torch.equal(generator.get_state(), generator_before)
