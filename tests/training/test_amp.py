"""The training loop's autocast and GradScaler branches, run on CPU (the same code path CUDA takes)."""

from __future__ import annotations

import importlib
import math

import pytest
import torch

from prunekit.training.loop import TrainConfig, grad_scaler, make_optimizer, resolve_precision, train, train_epoch
from tests.helpers import tiny_mlp, toy_data

CPU = torch.device("cpu")


def _batches(n: int = 128, size: int = 32) -> list[tuple[torch.Tensor, torch.Tensor]]:
    x, y = toy_data(n)
    return [(x[i:i + size], y[i:i + size]) for i in range(0, n, size)]


def _linear_output_dtypes(model: torch.nn.Module) -> list[torch.dtype]:
    """Record the dtype of every Linear layer's output while the model runs."""
    seen: list[torch.dtype] = []
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            module.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
    return seen


class SpyScaler(torch.amp.GradScaler):
    """A real CPU GradScaler that records which of its methods the loop calls, in order."""

    def __init__(self) -> None:
        super().__init__("cpu")
        self.calls: list[str] = []

    def scale(self, outputs):
        self.calls.append("scale")
        return super().scale(outputs)

    def unscale_(self, optimizer):
        self.calls.append("unscale_")
        return super().unscale_(optimizer)

    def step(self, optimizer, *args, **kwargs):
        self.calls.append("step")
        return super().step(optimizer, *args, **kwargs)

    def update(self, new_scale=None):
        self.calls.append("update")
        return super().update(new_scale)


def test_bf16_epoch_computes_in_bf16_and_keeps_fp32_master_weights():
    model = tiny_mlp()
    dtypes = _linear_output_dtypes(model)
    config = TrainConfig(epochs=1, progress=False, device="cpu", precision="bf16")
    before = [p.detach().clone() for p in model.parameters()]
    loss, acc = train_epoch(model, _batches(), make_optimizer(model, config), config, CPU)
    assert math.isfinite(loss) and 0.0 <= acc <= 1.0
    assert dtypes and set(dtypes) == {torch.bfloat16}  # the GEMMs ran in bf16 inside autocast
    assert all(p.dtype == torch.float32 for p in model.parameters())  # the optimiser updates fp32 weights
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_fp32_epoch_never_autocasts():
    model = tiny_mlp()
    dtypes = _linear_output_dtypes(model)
    config = TrainConfig(epochs=1, progress=False, device="cpu", precision="fp32")
    train_epoch(model, _batches(), make_optimizer(model, config), config, CPU)
    assert set(dtypes) == {torch.float32}


def test_fp16_epoch_scales_the_loss_unscales_before_clipping_and_steps_through_the_scaler():
    model = tiny_mlp()
    dtypes = _linear_output_dtypes(model)
    config = TrainConfig(epochs=1, progress=False, device="cpu", precision="fp16")
    scaler = SpyScaler()
    batches = _batches()
    loss, _ = train_epoch(model, batches, make_optimizer(model, config), config, CPU, scaler)
    assert math.isfinite(loss)
    assert set(dtypes) == {torch.float16}
    # per step: scale the loss, unscale before the gradient-norm clip, step (skipped on inf), update the scale
    assert scaler.calls == ["scale", "unscale_", "step", "update"] * len(batches)
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_an_overflowing_fp16_step_is_skipped_and_the_scale_backs_off():
    model = tiny_mlp()
    config = TrainConfig(epochs=1, progress=False, device="cpu", precision="fp16", grad_clip=0.0)
    scaler = SpyScaler()
    scaler._init_scale = 2.0 ** 120  # scaled gradients overflow: the step must not touch the weights
    before = [p.detach().clone() for p in model.parameters()]
    train_epoch(model, _batches(32), make_optimizer(model, config), config, CPU, scaler)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert scaler.get_scale() < 2.0 ** 120


@pytest.mark.parametrize("precision, scaled", [("fp16", True), ("bf16", False), ("fp32", False)])
def test_train_hands_a_scaler_to_the_loop_only_for_fp16(precision, scaled, monkeypatch):
    train_module = importlib.import_module("prunekit.training.loop")  # the package exports a function of that name

    given = []
    real = train_module.train_epoch

    def spy(*args, **kwargs):
        given.append(args[5] if len(args) > 5 else kwargs.get("scaler"))
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_epoch", spy)
    history = train(tiny_mlp(), _batches(), _batches(64), TrainConfig(epochs=2, progress=False, device="cpu",
                                                                       precision=precision))
    assert len(history.epochs) == 2 and all(math.isfinite(e.train_loss) for e in history.epochs)
    assert [isinstance(s, torch.amp.GradScaler) for s in given] == [scaled, scaled]
    assert len({id(s) for s in given}) == 1  # one scaler for the whole run: its scale carries over epochs
    assert (grad_scaler(CPU, precision) is not None) == scaled


def test_auto_precision_picks_bf16_on_ampere_and_fp16_with_a_scaler_before(monkeypatch):
    cuda = torch.device("cuda", 0)
    for capability, expected in (((8, 0), "bf16"), ((7, 5), "fp16")):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None, c=capability: c)
        assert resolve_precision(cuda, amp=True) == expected
    assert resolve_precision(cuda, amp=False) == "fp32"
