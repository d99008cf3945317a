"""Portable artifacts: masked and shrunk networks leave as safetensors + JSON and come back computing the same."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
import torchvision
from torch import nn

import prunekit
from prunekit.pruning.artifact import SPEC_FILE, WEIGHTS_FILE, read_spec
from prunekit.structured import shrink
from tests.pruning.test_structured_shrink import MODELS, pruned


def outputs(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(x)


def round_trip(model: nn.Module, build, tmp_path, x: torch.Tensor, **spec) -> nn.Module:
    """Save ``model``, load it onto a fresh ``build()`` and assert both give identical outputs."""
    expected = outputs(model, x)
    prunekit.save(model, tmp_path / "artifact", spec=spec or None)
    loaded = prunekit.load(tmp_path / "artifact", model=build())
    assert not loaded.training
    assert torch.equal(outputs(loaded, x), expected)
    return loaded


@pytest.mark.parametrize("name", list(MODELS))
def test_masked_and_shrunk_networks_give_identical_outputs_after_load(name, tmp_path):
    build = MODELS[name][0]
    model, x, _ = pruned(name)  # node masks: weight rows, biases and BatchNorm affine entries
    loaded = round_trip(model, build, tmp_path / "masked", x)
    assert prunekit.structured.node_masks(loaded).keys() == prunekit.structured.node_masks(model).keys()
    assert all(torch.equal(a, b) for a, b in zip(prunekit.structured.node_masks(loaded).values(),
                                                  prunekit.structured.node_masks(model).values()))
    small = shrink(model, x[:2], check=False)
    loaded_small = round_trip(small, build, tmp_path / "shrunk", x)
    assert [p.shape for p in loaded_small.parameters()] == [p.shape for p in small.parameters()]


@pytest.mark.parametrize("name", ["lenet5", "tv_resnet18"])
def test_weight_masks_survive_as_masks(name, tmp_path):
    build, shape, _ = MODELS[name]
    torch.manual_seed(0)
    model = build()
    prunekit.prune(model, "random", 0.9)
    x = torch.randn(4, *shape)
    loaded = round_trip(model, build, tmp_path, x, criterion="random", sparsity=0.9)
    assert prunekit.weight_sparsity(loaded) == pytest.approx(prunekit.weight_sparsity(model))
    spec = read_spec(tmp_path / "artifact")
    assert spec["pruning"] == {"criterion": "random", "sparsity": 0.9}
    assert spec["shrunk"] is None and len(spec["masks"]) == len(prunekit.prunable_layers(model))


def test_the_spec_is_small_json_and_loading_unpickles_nothing(tmp_path, monkeypatch):
    model, x, _ = pruned("conv6")
    small = shrink(model, x[:2], check=False)
    prunekit.save(small, tmp_path / "a", spec={"criterion": "snap-it", "run_config": {"seed": 0}})
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted([WEIGHTS_FILE, SPEC_FILE])
    spec = json.loads((tmp_path / "a" / SPEC_FILE).read_text())
    assert spec["model"]["class"] == "prunekit.models.conv6.Conv6"
    assert (tmp_path / "a" / SPEC_FILE).stat().st_size < (tmp_path / "a" / WEIGHTS_FILE).stat().st_size / 50

    def refuse(*args, **kwargs):
        raise AssertionError("load must not unpickle")

    for module, name in ((pickle, "load"), (pickle, "loads"), (torch, "load")):
        monkeypatch.setattr(module, name, refuse)
    loaded = prunekit.load(tmp_path / "a", model=MODELS["conv6"][0]())
    assert torch.equal(outputs(loaded, x), outputs(small, x))


def test_a_spec_for_other_widths_names_the_first_mismatching_layer(tmp_path):
    model = torchvision.models.resnet18(num_classes=5)
    prunekit.save(model, tmp_path / "a")
    with pytest.raises(ValueError, match=r"layer 'fc' has fc.weight of shape \[7, 512\], the spec expects \[5, 512\]"):
        prunekit.load(tmp_path / "a", model=torchvision.models.resnet18(num_classes=7))


def test_a_spec_for_another_class_names_the_first_mismatching_layer(tmp_path):
    model, x, _ = pruned("tv_resnet18")
    prunekit.save(shrink(model, x[:2], check=False), tmp_path / "a")
    with pytest.raises(ValueError, match=r"layer 'conv1'"):
        prunekit.load(tmp_path / "a", model=torchvision.models.vgg11_bn(num_classes=5))


def test_a_subclass_with_equal_shapes_is_refused_by_class(tmp_path):
    class Other(nn.Sequential):
        pass

    prunekit.save(nn.Sequential(nn.Linear(3, 2)), tmp_path / "a")
    with pytest.raises(ValueError, match=r"the spec is for a torch.nn.modules.container.Sequential, got a .*Other"):
        prunekit.load(tmp_path / "a", model=Other(nn.Linear(3, 2)))


def test_saving_over_a_folder_that_is_not_an_artifact_is_refused(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="non-empty folder that holds no artifact"):
        prunekit.save(nn.Linear(2, 2), tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
