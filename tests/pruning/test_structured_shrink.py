"""Physical shrinking: the smaller network computes the masked network's function with fewer parameters."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from prunekit.models import MLP5, AlexNet, Conv6, LeNet5, ResNet18, VGG16
from prunekit.structured import apply_node_masks, node_masks, prune_nodes, pruned_node_counts, shrink
from prunekit.pruning.shrink import dependency_graph


def randomise_batchnorms(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm non-trivial statistics and affine parameters, so eval mode is not identity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return model


def narrow_vgg11_bn(num_classes: int) -> nn.Module:
    """torchvision vgg11_bn with a narrow classifier head (its 4096-wide head would only cost time)."""
    model = torchvision.models.vgg11_bn(num_classes=num_classes)
    model.classifier = nn.Sequential(
        nn.Linear(512 * 7 * 7, 64), nn.ReLU(True), nn.Dropout(), nn.Linear(64, 64), nn.ReLU(True),
        nn.Dropout(), nn.Linear(64, num_classes),
    )
    return model


# The paper models are built from their classes (PyTorch's default init) rather than build_model():
# its orthogonal init of the 4096-wide heads alone costs seconds and plays no part in shrinking.
MODELS = {
    "mlp5": (lambda: MLP5((1, 28, 28), 10), (1, 28, 28), "snap-it"),
    "lenet5": (lambda: LeNet5((1, 28, 28), 10), (1, 28, 28), "snap-it"),
    "conv6": (lambda: Conv6((3, 32, 32), 10), (3, 32, 32), "snap-it"),
    "resnet18": (lambda: ResNet18((3, 32, 32), 10), (3, 32, 32), "snap-it"),
    "vgg16": (lambda: VGG16((3, 16, 16), 10), (3, 16, 16), "random"),
    "alexnet": (lambda: AlexNet((3, 32, 32), 10), (3, 32, 32), "random"),
    "tv_resnet18": (lambda: torchvision.models.resnet18(num_classes=5), (3, 32, 32), "snap-it"),
    "tv_vgg11_bn": (lambda: narrow_vgg11_bn(5), (3, 32, 32), "random"),
    "tv_mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(num_classes=5), (3, 32, 32), "snap-it"),
}


def pruned(name: str, kappa: float = 0.5) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """A model of the zoo, node-pruned to κ, with a fixed batch of inputs and targets."""
    build, shape, criterion = MODELS[name]
    torch.manual_seed(0)
    model = randomise_batchnorms(build())
    g = torch.Generator().manual_seed(1)
    x = torch.randn(16, *shape, generator=g)
    y = torch.randint(0, 5, (16,), generator=g)
    prune_nodes(model, criterion, kappa, (x, y), samples=16, batch_size=16)
    return model, x, y


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


FAST_MODELS = ("mlp5", "lenet5")  # the others take tens of seconds to a few minutes on a CPU: marked slow


@pytest.mark.parametrize("name", [n if n in FAST_MODELS else pytest.param(n, marks=pytest.mark.slow) for n in MODELS])
def test_shrunk_network_computes_the_masked_function_with_plain_smaller_weights_and_trains(name):
    model, x, y = pruned(name)
    small = shrink(model, x[:2], check=False)
    model.eval()
    small.eval()
    with torch.no_grad():
        expected, got = model(x), small(x)
    scale = float(expected.abs().max())
    assert scale > 1e-3  # a degenerate all-zero output would prove nothing
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * scale)
    assert n_params(small) < n_params(model) * 0.8
    # The masks are gone: plain parameters and no prune pre-hooks.
    assert not any(n.endswith(("_orig", "_mask")) for n, _ in small.named_parameters())
    assert not any(n.endswith("_mask") for n, _ in small.named_buffers())
    assert all(not m._forward_pre_hooks for m in small.modules())
    # The masked model is left as it was.
    assert any(n.endswith("weight_mask") for n, _ in model.named_buffers())
    small.train()
    F.cross_entropy(small(x), y).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in small.parameters())


def mlp5_expected_parameters(alive: list[int], inputs: int, classes: int) -> int:
    """Linear weights + biases and BatchNorm weight + bias per hidden node, then the output layer."""
    total, fan_in = 0, inputs
    for width in alive:
        total += fan_in * width + width + 2 * width
        fan_in = width
    return total + fan_in * classes + classes


def conv6_expected_parameters(alive: list[int], in_channels: int, classes: int) -> int:
    """Six 3×3 conv-BN layers, a (3, 3) pool flattened into two Linear-BN layers and the output layer."""
    convs, heads = alive[:6], alive[6:]
    total, fan_in = 0, in_channels
    for width in convs:
        total += fan_in * width * 9 + width + 2 * width
        fan_in = width
    fan_in *= 3 * 3
    for width in heads:
        total += fan_in * width + width + 2 * width
        fan_in = width
    return total + fan_in * classes + classes


def test_mlp5_shrinks_to_exactly_the_parameters_of_its_alive_nodes():
    model, x, y = pruned("mlp5", 0.7)
    alive = [c.alive for c in pruned_node_counts(model).values()]
    assert sum(alive) == 2048 - round(0.7 * 2048)
    small = shrink(model, x[:2])
    assert n_params(small) == mlp5_expected_parameters(alive, 784, 10)


@pytest.mark.slow
def test_conv6_shrinks_to_exactly_the_parameters_of_its_alive_nodes():
    model, x, y = pruned("conv6", 0.6)
    alive = [c.alive for c in pruned_node_counts(model).values()]
    small = shrink(model, x[:2])
    assert n_params(small) == conv6_expected_parameters(alive, 3, 10)
    small.eval()
    loss = F.cross_entropy(small(x), y)
    loss.backward()
    with torch.no_grad():
        for p in small.parameters():
            p -= 1e-2 * p.grad
    assert F.cross_entropy(small(x), y) < loss  # one gradient step on a fixed batch lowers its loss


@pytest.mark.slow
def test_residual_channels_stay_while_any_coupled_producer_keeps_them():
    model, x, _ = pruned("tv_resnet18", 0.5)
    masks = node_masks(model)
    # conv1 (stem) and the last convs of layer1's two blocks all write the 64-channel residual stream.
    stream = masks["conv1"] | masks["layer1.0.conv2"] | masks["layer1.1.conv2"]
    assert not torch.equal(masks["conv1"], masks["layer1.0.conv2"])  # the producers do disagree
    small = shrink(model, x[:2])
    assert small.conv1.out_channels == int(stream.sum())
    assert small.layer1[1].conv2.out_channels == int(stream.sum())
    # An inner channel of a block is not coupled: it goes exactly when its node was pruned.
    assert small.layer1[0].conv1.out_channels == int(masks["layer1.0.conv1"].sum())


def test_a_zero_row_whose_bias_survives_is_kept():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    with torch.no_grad():
        model[0].weight[1] = 0  # unstructured zeros: the node still emits relu(bias)
    small = shrink(model, torch.randn(2, 6))
    assert small[0].out_features == 5
    apply_node_masks(model, {"0": torch.tensor([True, False, True, True, True])})
    assert shrink(model, torch.randn(2, 6))[0].out_features == 4


def test_shrinking_refuses_to_change_the_function():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.Sigmoid(), nn.Linear(5, 3))  # sigmoid(0) = ½, not 0
    apply_node_masks(model, {"0": torch.tensor([True, False, True, True, True])})
    with pytest.raises(RuntimeError, match="differs from the masked one"):
        shrink(model, torch.randn(2, 6))


class Unused(nn.Module):
    """A model with a Linear layer that never takes part in the forward pass."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Linear(4, 4)
        self.spare = nn.Linear(4, 4)
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        return self.out(torch.relu(self.first(x)))


def test_a_layer_outside_the_traced_graph_is_named_in_the_error():
    with pytest.raises(ValueError, match=r"cannot handle layers \['spare'\]"):
        dependency_graph(Unused(), torch.randn(2, 4))


def test_shrink_never_removes_the_class_outputs_or_empties_a_layer():
    model, x, _ = pruned("mlp5", 0.999)
    small = shrink(model, x[:2])
    widths = [m.out_features for m in small.modules() if isinstance(m, nn.Linear)]
    assert widths == [1, 1, 1, 1, 10]
    with torch.no_grad():
        assert math.isfinite(float(small.eval()(x).sum()))


@pytest.mark.slow
def test_cnip_it_networks_shrink_by_their_pruned_nodes_and_keep_their_weight_masks_as_zeros():
    torch.manual_seed(0)
    model = randomise_batchnorms(Conv6((1, 8, 8), 10))
    x = torch.randn(16, 1, 8, 8)
    y = torch.randint(0, 10, (16,))
    prune_nodes(model, "cnip-it", 0.9, (x, y), samples=16, batch_size=16)
    alive = [c.alive for c in pruned_node_counts(model).values()]
    small = shrink(model, x[:2])  # check=True: raises unless the function is unchanged
    convs = [m.out_channels for m in small.modules() if isinstance(m, nn.Conv2d)]
    assert convs == alive[:6]
    assert float((small.features[0].weight == 0).float().mean()) > 0  # unstructured zeros stay zeros


def test_the_equality_check_runs_with_tf32_off_and_restores_the_callers_switches():
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True  # a caller that wants speed
    try:
        seen = []
        model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
        model[2].register_forward_hook(
            lambda *_: seen.append((torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)))
        apply_node_masks(model, {"0": torch.tensor([True, False, True, True, True])})
        small = shrink(model, torch.randn(2, 6))
        assert small[0].out_features == 4
        assert seen[-2:] == [(False, False), (False, False)]  # the masked and the shrunk network, compared exactly
        assert (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32) == (True, True)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def test_the_equality_tolerance_follows_the_output_dtype():
    from prunekit.pruning.shrink import EPS_FACTOR, equality_tolerance

    assert equality_tolerance(torch.float32, 1e-4) == 1e-4  # fp32 rounding (1.2e-7) is far below rtol
    assert equality_tolerance(torch.bfloat16, 1e-4) == EPS_FACTOR * 2.0 ** -7
    assert equality_tolerance(torch.float16, 1e-4) == EPS_FACTOR * 2.0 ** -10


def test_a_bf16_conv_network_shrinks_and_still_refuses_a_changed_function():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 4 * 4, 3)).to(torch.bfloat16)
    apply_node_masks(model, {"0": torch.tensor([True, False, True, True])})
    x = torch.randn(2, 1, 8, 8, dtype=torch.bfloat16)
    assert shrink(model, x)[0].out_channels == 3
    broken = nn.Sequential(nn.Linear(6, 5), nn.Sigmoid(), nn.Linear(5, 3)).to(torch.bfloat16)
    apply_node_masks(broken, {"0": torch.tensor([True, False, True, True, True])})
    with pytest.raises(RuntimeError, match="differs from the masked one"):
        shrink(broken, torch.randn(2, 6, dtype=torch.bfloat16))
