"""Facts of the training loop: it learns, masks hold, seeds repeat, bad settings are refused."""

import pytest
import torch
from torch import nn

import prunekit
from prunekit.core.masks import prunable_layers
from prunekit.training.loop import Callback, TrainConfig, evaluate, resolve_device, seed_everything, train
from tests.helpers import tiny_mlp, toy_data


def batches(x, y, size=100):
    return [(x[i:i + size], y[i:i + size]) for i in range(0, len(x), size)]


def test_training_reduces_the_loss_and_records_every_epoch():
    x, y = toy_data(1000)
    model = tiny_mlp()
    history = train(model, batches(x, y), batches(x, y), TrainConfig(epochs=15, progress=False, device="cpu"))
    losses = [e.train_loss for e in history.epochs]
    assert [e.epoch for e in history.epochs] == list(range(1, 16))
    assert losses[-1] < 0.7 * losses[0]
    assert history.final_test_acc > 0.5
    assert all(e.seconds > 0 for e in history.epochs)


def test_pruned_weights_get_zero_gradient_and_stay_zero_through_training():
    x, y = toy_data(1000)
    model = prunekit.prune(tiny_mlp(), "snip-it", 0.9, data=(x, y), samples=512).model
    masks = {n: m.weight_mask.clone() for n, m in prunable_layers(model).items()}

    class CheckGradients(Callback):
        def on_epoch_end(self, state):
            for n, m in prunable_layers(state.model).items():
                assert torch.all(m.weight_orig.grad[masks[n] == 0] == 0)

    train(model, batches(x, y), None, TrainConfig(epochs=3, progress=False, device="cpu"), [CheckGradients()])
    for n, m in prunable_layers(model).items():
        assert torch.all(m.weight[masks[n] == 0] == 0)
        assert torch.equal(m.weight_mask, masks[n])
    assert prunekit.weight_sparsity(model) == pytest.approx(0.9, abs=1e-3)


def test_same_seed_trains_bit_identically_on_cpu():
    x, y = toy_data(600)

    def run():
        seed_everything(7)
        model = tiny_mlp(seed=7)
        train(model, batches(x, y), None, TrainConfig(epochs=2, progress=False, device="cpu"))
        return [p.detach().clone() for p in model.parameters()]

    assert all(torch.equal(a, b) for a, b in zip(run(), run()))


def test_evaluate_restores_mode_and_counts_accuracy():
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.copy_(torch.arange(10.0))  # always predicts class 9
    x = torch.randn(50, 1, 8, 8)
    y = torch.tensor([9] * 20 + [0] * 30)
    model.train()
    _, acc = evaluate(model, batches(x, y, 16))
    assert acc == pytest.approx(0.4)
    assert model.training


@pytest.mark.parametrize("field, value", [("epochs", -1), ("lr", 0), ("weight_decay", -1.0), ("grad_clip", -2)])
def test_bad_training_settings_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_cuda_request_without_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")
    assert resolve_device(None).type == "cpu"
