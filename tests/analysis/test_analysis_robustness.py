"""Facts of the Carlini–Wagner analysis: same success as foolbox itself, the model sees what it was trained on,
and bad input is refused before any attack runs."""

from __future__ import annotations

import foolbox as fb
import pandas as pd
import pytest
import torch

from prunekit.analysis.robustness import (
    InputSpec,
    attack_each,
    attack_success,
    compare_success,
    cw_attack,
    denormalise,
    first_test_images,
    fooled_images,
    foolbox_model,
    normalise,
)
from prunekit.data import TensorBatches, dataset_info, load_split
from tests.helpers import FoolsFirst, tiny_mlp

SPEC = InputSpec((1, 8, 8), (0.0, 1.0), (0.5,), (0.25,))
EPSILONS = [0.0, 0.5, 2.0, 8.0]


def _setup():
    model = tiny_mlp().eval()
    images = torch.rand(16, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    labels = model((images - 0.5) / 0.25).argmax(1)
    labels[:4] = (labels[:4] + 1) % 10  # four inputs start misclassified
    return model, images, labels


class _NoAttack:
    def __call__(self, *args, **kwargs):
        pytest.fail("the attack ran although the input is invalid")


def test_success_rate_equals_foolbox_own_for_the_same_attack_and_inputs():
    model, images, labels = _setup()
    ours = attack_success(model, images, labels, EPSILONS, SPEC, cw_attack(steps=30, binary_search_steps=3))
    assert all(p.grad is None and p.requires_grad for p in model.parameters())  # the attack leaves no trace
    fmodel = fb.PyTorchModel(model, bounds=(0, 1), preprocessing=dict(mean=[0.5], std=[0.25], axis=-3))
    attack = fb.attacks.L2CarliniWagnerAttack(binary_search_steps=3, steps=30)
    _, _, success = attack(fmodel, images, labels, epsilons=EPSILONS)
    assert ours["success_rate"].tolist() == success.float().mean(dim=-1).tolist()
    assert ours["epsilon"].tolist() == EPSILONS and (ours["n"] == 16).all()
    assert ours["success_rate"].iloc[0] == 4 / 16  # at ε = 0 only the misclassified inputs count
    assert ours["success_rate"].iloc[-1] > ours["success_rate"].iloc[0]


def test_per_image_outcomes_are_what_the_success_rate_counts():
    model, images, labels = _setup()
    fooled = fooled_images(model, images, labels, EPSILONS, SPEC, cw_attack(steps=30, binary_search_steps=3))
    assert fooled.shape == (len(EPSILONS), 16) and set(fooled.ravel().tolist()) <= {0, 1}
    assert fooled[0].tolist() == [1] * 4 + [0] * 12  # at ε = 0: exactly the four misclassified inputs
    assert (fooled[1:] >= fooled[:-1]).all()  # a larger budget never saves an image the smaller one fooled
    rate = attack_success(model, images, labels, EPSILONS, SPEC, cw_attack(steps=30, binary_search_steps=3))
    assert rate["fooled"].tolist() == fooled.sum(axis=1).tolist()


def test_the_wrapped_model_receives_the_normalised_images():
    model, images, _ = _setup()
    torch.testing.assert_close(foolbox_model(model, SPEC)(images), model((images - 0.5) / 0.25))


def test_denormalise_inverts_the_tensor_batches_normalisation_to_raw_unit_images():
    info = dataset_info("cifar10")
    raw = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    batches = TensorBatches(raw, torch.zeros(4, dtype=torch.long), info, 4, shuffle=False, augment=False)
    spec = InputSpec.for_dataset("cifar10")
    assert spec.shape == (3, 32, 32) and spec.bounds == (0.0, 1.0)
    torch.testing.assert_close(denormalise(batches.normalise(raw), spec), raw.float() / 255)


@pytest.mark.parametrize("dataset", ["mnist", "cifar10", "imagenette"])
def test_every_denormalised_pixel_value_lies_within_the_bounds(dataset):
    info = dataset_info(dataset)
    channels = len(info.mean)
    raw = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16).expand(2, channels, 16, 16).contiguous()
    batches = TensorBatches(raw, torch.zeros(2, dtype=torch.long), info, 2, shuffle=False, augment=False)
    back = denormalise(batches.normalise(raw), InputSpec((channels, 16, 16), (0.0, 1.0), info.mean, info.std))
    assert 0.0 <= float(back.min()) and float(back.max()) <= 1.0
    torch.testing.assert_close(back, raw.float() / 255)


def test_denormalise_keeps_values_that_were_never_normalised_out_of_bounds():
    assert float(denormalise(torch.full((1, 1, 8, 8), 3.0), SPEC).max()) == 3.0 * 0.25 + 0.5


def test_a_model_in_training_mode_is_refused():
    model, images, labels = _setup()
    model.train()
    with pytest.raises(ValueError, match="eval mode"):
        attack_success(model, images, labels, EPSILONS, SPEC, _NoAttack())


def test_images_outside_the_bounds_are_refused_naming_their_range():
    model, images, labels = _setup()
    normalised = (images - 0.5) / 0.25
    lo, hi = float(normalised.min()), float(normalised.max())
    with pytest.raises(ValueError, match=rf"span \[{lo:.4g}, {hi:.4g}\], outside the declared bounds \(0.0, 1.0\)"):
        attack_success(model, normalised, labels, EPSILONS, SPEC, _NoAttack())


def test_images_of_the_wrong_shape_and_bad_labels_or_epsilons_are_refused():
    model, images, labels = _setup()
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\)"):
        attack_success(model, images.view(16, 1, 4, 16), labels, EPSILONS, SPEC, _NoAttack())
    with pytest.raises(ValueError, match=r"\(N, 1, 8, 8\)"):
        attack_success(model, images.view(16, 64), labels, EPSILONS, SPEC, _NoAttack())
    with pytest.raises(ValueError, match="labels"):
        attack_success(model, images, labels[:3], EPSILONS, SPEC, _NoAttack())
    with pytest.raises(ValueError, match="epsilons"):
        attack_success(model, images, labels, [-1.0], SPEC, _NoAttack())


def test_specs_are_validated():
    with pytest.raises(ValueError, match="one value per channel"):
        InputSpec((3, 8, 8), mean=(0.5,), std=(0.25,))
    with pytest.raises(ValueError, match="bounds"):
        InputSpec((1, 8, 8), bounds=(1.0, 0.0))


def test_normalise_is_the_inverse_of_denormalise_and_what_the_model_receives():
    info = dataset_info("mnist")
    raw = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    batches = TensorBatches(raw, torch.zeros(3, dtype=torch.long), info, 3, shuffle=False, augment=False)
    spec = InputSpec.for_dataset("mnist")
    torch.testing.assert_close(normalise(raw.float() / 255, spec), batches.normalise(raw))
    images = torch.rand(2, 1, 8, 8)
    torch.testing.assert_close(denormalise(normalise(images, SPEC), SPEC), images)


def test_first_test_images_are_the_raw_first_images_of_the_test_split(mnist_data_root):
    images, labels = first_test_images("mnist", 5, root=mnist_data_root)
    raw, expected = load_split("mnist", False, root=mnist_data_root, limit=5)
    assert images.dtype == torch.float32 and 0.0 <= float(images.min()) and float(images.max()) <= 1.0
    torch.testing.assert_close(images * 255, raw.float())
    assert torch.equal(labels, expected)
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        first_test_images("mnist", 0)


def test_attack_each_labels_each_models_rows_and_compare_success_reads_them_per_epsilon():
    model, images, labels = _setup()
    weak = attack_each({"snip-it": model}, images, labels, [0.0, 1.0, 2.0], SPEC, FoolsFirst(2))
    strong = attack_each({"snip": model}, images, labels, [0.0, 1.0, 2.0], SPEC, FoolsFirst(4))
    frame = pd.concat([weak, strong], ignore_index=True)
    assert frame[frame["method"] == "snip"]["success_rate"].tolist() == [0.0, 4 / 16, 8 / 16]
    out = compare_success(frame, "snip-it", "snip").set_index("epsilon")
    assert out.loc[1.0, "snip-it"] == 2 / 16 and out.loc["mean", "snip"] == pytest.approx(4 / 16)
    assert out["a_at_most_b"].all()
    assert not compare_success(frame, "snip", "snip-it")["a_at_most_b"].iloc[1:].any()
    with pytest.raises(ValueError, match=r"\['grasp'\] are not in the frame"):
        compare_success(frame, "snip", "grasp")
    with pytest.raises(ValueError, match="at least one model"):
        attack_each({}, images, labels, [0.0], SPEC)
