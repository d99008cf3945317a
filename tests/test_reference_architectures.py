"""Facts of the transcription of Section 4, Appendix J and Appendix L (prunekit/reference/architectures.json)."""

from __future__ import annotations

from prunekit.models import available_models
from prunekit.reference import paper_architectures, paper_datasets, paper_training_setup

# Pooled positions where a network's last convolution meets its first Linear layer (AdaptiveAvgPool2d sizes).
POOLED = {"lenet5": 3 * 3, "conv6": 3 * 3, "resnet18": 2 * 2, "vgg16": 2 * 2, "alexnet": 2 * 2}


def test_every_registered_network_is_transcribed():
    layers = paper_architectures()
    assert set(layers["model"]) == set(available_models())
    assert layers.groupby("model")["position"].apply(lambda p: list(p) == list(range(len(p)))).all()


def test_each_network_starts_at_the_input_and_ends_at_the_classes():
    layers = paper_architectures()
    for _, rows in layers.groupby("model"):
        assert rows["in"].iloc[0] == "I"
        assert rows["out"].iloc[-1] == "K"
        assert rows["type"].iloc[-1] == "Linear" and not rows["batchnorm"].iloc[-1]


def test_each_layer_reads_what_the_previous_one_writes():
    layers = paper_architectures()
    for model, rows in layers.groupby("model"):
        rows = rows.reset_index(drop=True)
        for i in range(1, len(rows)):
            previous, current = rows.iloc[i - 1], rows.iloc[i]
            factor = POOLED[model] if previous["type"] != "Linear" and current["type"] == "Linear" else 1
            assert current["in"] == previous["out"] * factor, (model, i)


def test_the_optimisation_budget_is_section_4s():
    setup = paper_training_setup()
    assert (setup["optimiser"], setup["lr"], setup["weight_decay"], setup["grad_clip"]) == ("Adam", 2e-3, 5e-5, 10.0)
    assert setup["batch_size"] == {"mnist": 512, "cifar10": 512, "imagenette": 128}
    assert setup["epochs"] == sum(setup["epochs_after_training"].values()) == 80
    assert (setup["prune_interval_during"], setup["imp_rewind_epoch"], setup["schedule_steps"]) == (4, 6, 5)


def test_the_training_setup_is_a_copy():
    paper_training_setup()["batch_size"]["mnist"] = 1
    assert paper_training_setup()["batch_size"]["mnist"] == 512


def test_appendix_js_datasets():
    data = paper_datasets().set_index("dataset")
    assert data.loc["mnist", "input_shape"] == (1, 28, 28)
    assert (data.loc["mnist", "train_size"], data.loc["mnist", "test_size"]) == (60000, 10000)
    assert (data.loc["imagenette", "train_size"], data.loc["imagenette", "test_size"]) == (13000, 500)
    assert data["flip_p"].to_dict() == {"mnist": 0.0, "cifar10": 0.2, "imagenette": 0.2}
