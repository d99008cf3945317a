"""Sparse-kernel training: the CSR path computes the masked dense path's function and gradients, trains the same
loss curve, keeps pruned weights at zero, and leaves convolutions alone."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from prunekit.core.masks import apply_mask, effective_weight, prunable_layers
from prunekit.training.sparse_kernels import CsrPattern, SparseLinear, sparse_candidates, sparse_kernels
from prunekit.pruning.shrink import detach_masked_attributes
from prunekit.training.loop import TrainConfig, make_optimizer, train, train_epoch
from tests.helpers import tiny_cnn, tiny_mlp, toy_data


def _random_masks(model: nn.Module, density: float, seed: int = 0) -> None:
    """Mask every Linear/Conv layer, keeping about ``density`` of its weights (at least one per layer)."""
    g = torch.Generator().manual_seed(seed)
    for module in prunable_layers(model).values():
        mask = torch.rand(module.weight.shape, generator=g) < density
        mask.view(-1)[0] = True
        apply_mask(module, mask.to(module.weight.dtype))
    detach_masked_attributes(model)  # lets copy.deepcopy copy the masked model


def test_pattern_orders_values_row_major_and_permutes_them_for_the_transpose():
    mask = torch.tensor([[1, 0, 1], [0, 1, 1]], dtype=torch.bool)
    weight = torch.tensor([[1.0, 0.0, 2.0], [0.0, 3.0, 4.0]])
    pattern = CsrPattern.from_mask(mask)
    values = weight[mask]
    assert torch.equal(pattern.dense(values), weight)
    assert torch.equal(pattern.weight_t(values).to_dense(), weight.t())


@pytest.mark.parametrize("input_grad", [True, False])
def test_gradients_equal_the_masked_dense_path_at_the_surviving_positions(input_grad):
    torch.manual_seed(0)
    dense = nn.Linear(30, 17).double()
    mask = torch.rand(17, 30) < 0.15
    apply_mask(dense, mask.double())
    detach_masked_attributes(dense)
    sparse = SparseLinear.from_linear(copy.deepcopy(dense))
    x = torch.randn(9, 30, dtype=torch.float64, requires_grad=input_grad)
    x2 = x.detach().clone().requires_grad_(input_grad)
    upstream = torch.randn(9, 17, dtype=torch.float64)
    (dense(x) * upstream).sum().backward()
    out = sparse(x2)
    (out * upstream).sum().backward()
    torch.testing.assert_close(out, x.detach() @ effective_weight(dense).detach().t() + dense.bias.detach())
    torch.testing.assert_close(sparse.values.grad, dense.weight_orig.grad[mask], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(sparse.bias.grad, dense.bias.grad, rtol=1e-12, atol=1e-12)
    if input_grad:
        torch.testing.assert_close(x2.grad, x.grad, rtol=1e-12, atol=1e-12)
    else:
        assert x2.grad is None


def test_only_sparse_masked_linear_layers_are_swapped_and_convolutions_are_untouched():
    model = tiny_cnn()
    _random_masks(model, density=0.1)
    convs = {name: m for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    with sparse_kernels(model, min_weights=1) as names:
        assert names == ["8"]
        assert isinstance(model[8], SparseLinear)
        assert {name: m for name, m in model.named_modules() if isinstance(m, nn.Conv2d)} == convs
        assert all(hasattr(m, "weight_mask") for m in convs.values())
    assert type(model[8]) is nn.Linear and hasattr(model[8], "weight_mask")


def test_dense_layers_and_layers_below_the_threshold_stay_dense():
    model = tiny_mlp()
    apply_mask(model[1], (torch.rand(32, 64) < 0.05).float())
    apply_mask(model[5], (torch.rand(32, 32) < 0.5).float())
    assert sparse_candidates(model, min_sparsity=0.8, min_weights=1) == ["1"]
    assert sparse_candidates(model, min_sparsity=0.8, min_weights=64 * 32 + 1) == []
    with pytest.raises(ValueError, match="min_sparsity"):
        sparse_candidates(model, min_sparsity=1.0)


def _step_losses(model: nn.Module, batches: list, sparse: bool, seed: int = 0) -> list[float]:
    """Training loss of every step of one epoch (dropout drawn from the same seed in both paths)."""
    config = TrainConfig(epochs=1, progress=False)
    losses = []
    torch.manual_seed(seed)
    context = sparse_kernels(model, min_sparsity=0.5, min_weights=1) if sparse else _nothing()
    with context:
        optimizer = make_optimizer(model, config)
        for batch in batches:
            losses.append(train_epoch(model, [batch], optimizer, config, torch.device("cpu"))[0])
    return losses


class _nothing:
    def __enter__(self):
        return []

    def __exit__(self, *exc):
        return False


def test_one_epoch_gives_the_masked_dense_loss_curve_and_pruned_weights_stay_zero():
    model, twin, dense_losses, sparse_losses = _dense_and_sparse_twins(tiny_mlp())
    assert sparse_losses == pytest.approx(dense_losses, rel=1e-4, abs=1e-5)
    assert dense_losses[-1] < dense_losses[0]
    for name, layer in prunable_layers(twin).items():
        mask = layer.weight_mask.bool()
        assert torch.count_nonzero(effective_weight(layer)[~mask]) == 0, name
        torch.testing.assert_close(effective_weight(layer), effective_weight(prunable_layers(model)[name]),
                                   rtol=1e-4, atol=1e-5)


def test_train_with_sparse_kernels_restores_the_layers_and_rejects_callbacks(monkeypatch):
    monkeypatch.setattr("prunekit.training.sparse_kernels.MIN_WEIGHTS", 1)
    model = tiny_mlp()
    _random_masks(model, density=0.05)
    before = model[1].weight_orig.detach().clone()
    x, y = toy_data(256)
    batches = [(x[i:i + 64], y[i:i + 64]) for i in range(0, 256, 64)]
    history = train(model, batches, batches, TrainConfig(epochs=1, progress=False, device="cpu", sparse_kernels=True))
    assert history.final_test_acc is not None
    assert type(model[1]) is nn.Linear
    mask = model[1].weight_mask.bool()
    assert not torch.equal(model[1].weight_orig[mask], before[mask])  # trained
    assert torch.equal(model[1].weight_orig[~mask], before[~mask])  # pruned entries never touched
    with pytest.raises(ValueError, match="callbacks"):
        from prunekit.training.loop import Callback

        train(model, batches, None, TrainConfig(epochs=1, progress=False, sparse_kernels=True), [Callback()])


def test_one_mnist_epoch_of_mlp5_at_98_percent_follows_the_masked_dense_loss_curve(mnist_data_root):
    from prunekit.data import make_batches
    from prunekit.models import build_model
    from prunekit.pruning.before import prune

    batches = make_batches("mnist", train=True, root=mnist_data_root, limit=2048, seed=0)
    torch.manual_seed(0)
    model = build_model("mlp5", (1, 28, 28), 10)
    prune(model, "random", 0.98, data=batches, seed=0)
    detach_masked_attributes(model)
    twin = copy.deepcopy(model)
    steps = list(batches)
    dense_losses = _step_losses(model, steps, sparse=False)
    sparse_losses = _step_losses(twin, steps, sparse=True)
    assert sparse_losses == pytest.approx(dense_losses, rel=1e-4)


def _fast_dropout_mlp(seed: int = 0) -> nn.Module:
    """MLP5's block structure: Linear → BatchNorm1d → LeakyReLU → FastDropout, twice, then a Linear head."""
    from prunekit.core.ops import FastDropout

    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.LeakyReLU(0.05), FastDropout(0.3),
        nn.Linear(32, 32), nn.BatchNorm1d(32), nn.LeakyReLU(0.05), FastDropout(0.3), nn.Linear(32, 10),
    )


def test_activations_stay_feature_major_only_between_layout_safe_modules():
    mlp5_like, stock = _fast_dropout_mlp(), tiny_mlp()
    for model in (mlp5_like, stock):
        _random_masks(model, density=0.1, seed=1)
    with sparse_kernels(mlp5_like, min_sparsity=0.5, min_weights=1):
        # the head's output goes to the loss: batch-major, as any module outside a Linear-to-Linear chain sees it
        assert [m.feature_major for m in mlp5_like if isinstance(m, SparseLinear)] == [True, True, False]
        assert sum(type(m).__name__ == "FeatureMajorNorm" for m in mlp5_like) == 2
        out = mlp5_like[1](torch.randn(8, 64))
        assert not out.is_contiguous() and out.t().is_contiguous()  # no transposing copy
    with sparse_kernels(stock, min_sparsity=0.5, min_weights=1):
        # stock nn.Dropout draws its mask in memory order: a feature-major input would get other draws
        assert [m.feature_major for m in stock if isinstance(m, SparseLinear)] == [False, True, False]
    assert [type(m) for m in mlp5_like] == [type(m) for m in _fast_dropout_mlp()]  # every module put back


def _dense_and_sparse_twins(model: nn.Module) -> tuple[nn.Module, nn.Module, list[float], list[float]]:
    """``model`` masked at 10 % density and its twin, trained step by step masked-dense and with sparse kernels."""
    _random_masks(model, density=0.1, seed=1)
    twin = copy.deepcopy(model)
    x, y = toy_data(640)
    batches = [(x[i:i + 64], y[i:i + 64]) for i in range(0, 640, 64)]
    return model, twin, _step_losses(model, batches, sparse=False), _step_losses(twin, batches, sparse=True)


def test_the_feature_major_path_gives_the_masked_dense_loss_curve():
    model, twin, dense_losses, sparse_losses = _dense_and_sparse_twins(_fast_dropout_mlp())
    assert sparse_losses == pytest.approx(dense_losses, rel=1e-4, abs=1e-5)
    assert dense_losses[-1] < dense_losses[0]
    for (name, a), b in zip(model.named_buffers(), twin.buffers()):  # BatchNorm's running statistics too
        assert torch.allclose(a.float(), b.float(), rtol=1e-3, atol=1e-4), (name, float((a.float() - b.float()).abs().max()))
