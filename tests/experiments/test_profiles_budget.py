"""Smoke budgets stay small on every dataset: per-run weights, training FLOPs × samples and scoring FLOPs × samples
are bounded, the MNIST/CIFAR10 limits (and so the stored smoke runs) are unchanged, other profiles are untouched."""

from __future__ import annotations

import pytest

from prunekit.data import DATASET_NAMES, dataset_info
from prunekit.experiments.config import RunConfig
from prunekit.experiments.profiles import SCORING_ROUNDS, Profile, get_profile, network_cost


@pytest.mark.parametrize("dataset", DATASET_NAMES)
@pytest.mark.parametrize("structured", [False, True])
def test_every_smoke_run_is_bounded_on_every_dataset(dataset, structured):
    smoke = get_profile("smoke")
    for model in smoke.models_for(dataset, structured=structured):
        weights, flops = network_cost(model, dataset_info(dataset).input_shape)
        config = RunConfig.from_profile(smoke, model=model, dataset=dataset)
        assert weights <= smoke.max_weights, (model, dataset)
        assert 3 * flops * config.epochs * config.train_limit <= smoke.max_train_flops, (model, dataset)
        assert 3 * flops * config.epochs * config.test_limit <= smoke.max_train_flops, (model, dataset)
        assert 3 * flops * SCORING_ROUNDS * config.samples <= smoke.max_scoring_flops, (model, dataset)


def test_on_imagenette_mlp5_gives_way_to_lenet5_because_its_first_layer_grows_with_the_input():
    smoke = get_profile("smoke")
    assert network_cost("mlp5", (3, 128, 128))[0] > 20 * network_cost("mlp5", (1, 28, 28))[0]
    assert smoke.models_for("imagenette") == ("lenet5",)
    assert smoke.models_for("mnist") == smoke.models_for("cifar10") == ("mlp5",)


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist", "cifar10"])
def test_small_inputs_keep_the_smoke_limits(dataset):
    config = RunConfig.from_profile("smoke", model="mlp5", dataset=dataset)
    assert (config.train_limit, config.test_limit, config.samples, config.scoring_batch_size) == (2048, 1024, 512, 512)


def test_explicit_limits_win_and_profiles_without_caps_are_untouched():
    assert RunConfig.from_profile("smoke", model="lenet5", dataset="imagenette", train_limit=600).train_limit == 600
    for name in ("cpu", "mnist-paper", "paper"):
        profile = get_profile(name)
        assert profile.models_for("imagenette") == profile.models
        assert profile.limits_for("mlp5", "imagenette")["train_limit"] == profile.train_limit


def test_bad_caps_are_rejected():
    base = dict(name="x", description="", epochs=1, seeds=1, train_limit=None, test_limit=None, samples=1,
                scoring_batch_size=1, sparsities=(0.5,))
    with pytest.raises(ValueError, match="max_weights"):
        Profile(**base, max_weights=0)
    with pytest.raises(ValueError, match="max_train_flops"):
        Profile(**base, max_train_flops=-1.0)
