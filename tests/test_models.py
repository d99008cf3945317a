"""Facts about the six Appendix-L networks in ``prunekit.models``."""

from __future__ import annotations

import functools
from unittest import mock

import pytest
import torch
from torch import nn

from prunekit.models import (
    MODEL_NAMES,
    AlexNet,
    Conv6,
    LeNet5,
    MLP5,
    ResNet18,
    VGG16,
    available_models,
    build_model,
    init_orthogonal_,
)

K = 10
SHAPES = {
    "mnist": (1, 28, 28),
    "cifar10": (3, 32, 32),
    "imagenette": (3, 128, 128),
}
CLASSES = {
    "mlp5": MLP5,
    "lenet5": LeNet5,
    "conv6": Conv6,
    "resnet18": ResNet18,
    "vgg16": VGG16,
    "alexnet": AlexNet,
}
GAIN = nn.init.calculate_gain("leaky_relu", 0.05)
ALL = [(name, ds) for name in MODEL_NAMES for ds in SHAPES]
ALL_IDS = [f"{name}-{ds}" for name, ds in ALL]


def _cheap_orthogonal_stand_in(tensor: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    """Scaled Gaussian in place of the (slow, 4096x4096 QR) orthogonal init."""
    fan_in = tensor[0].numel()
    with torch.no_grad():
        return tensor.normal_(0.0, gain / fan_in**0.5)


@functools.lru_cache(maxsize=None)
def fast_built(name: str, ds: str) -> nn.Module:
    """``build_model`` with the QR replaced: for shape/structure tests only (never init facts)."""
    torch.manual_seed(0)
    with mock.patch.object(nn.init, "orthogonal_", _cheap_orthogonal_stand_in):
        return build_model(name, SHAPES[ds], K)


@functools.lru_cache(maxsize=None)
def built(name: str) -> nn.Module:
    """Real seed-0 CIFAR-10-shaped build shared between tests (they must not modify it)."""
    torch.manual_seed(0)
    return build_model(name, SHAPES["cifar10"], K)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --- hand-arithmetic parameter formulas (Appendix L) ------------------------------------


def conv(i: int, o: int, k: int, bias: bool = True) -> int:
    return i * o * k * k + (o if bias else 0)


def lin(i: int, o: int) -> int:
    return i * o + o


def bn(n: int) -> int:
    return 2 * n


def mlp5_count(c: int, h: int, w: int, k: int) -> int:
    return lin(c * h * w, 512) + 3 * lin(512, 512) + 4 * bn(512) + lin(512, k)


def lenet5_count(c: int, k: int) -> int:
    features = conv(c, 6, 5) + bn(6) + conv(6, 16, 5) + bn(16) + conv(16, 120, 5) + bn(120)
    return features + lin(120 * 9, 84) + bn(84) + lin(84, k)


def conv6_count(c: int, k: int) -> int:
    widths = [c, 64, 64, 128, 128, 256, 256]
    features = sum(conv(a, b, 3) + bn(b) for a, b in zip(widths, widths[1:]))
    return features + lin(256 * 9, 256) + bn(256) + lin(256, 256) + bn(256) + lin(256, k)


def basic_block_count(i: int, o: int, down: bool) -> int:
    main = conv(i, o, 3, bias=False) + bn(o) + conv(o, o, 3, bias=False) + bn(o)
    return main + ((conv(i, o, 1, bias=False) + bn(o)) if down else 0)


def resnet18_count(c: int, k: int) -> int:
    stem = conv(c, 64, 7, bias=False) + bn(64)
    blocks = [(64, 64, False), (64, 64, False), (64, 128, True), (128, 128, False),
              (128, 256, True), (256, 256, False), (256, 512, True), (512, 512, False)]  # fmt: skip
    body = sum(basic_block_count(*b) for b in blocks)
    return stem + body + lin(2048, 256) + bn(256) + lin(256, k)


def vgg16_count(c: int, k: int) -> int:
    widths = [c, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 1024]
    features = sum(conv(a, b, 3) + bn(b) for a, b in zip(widths, widths[1:]))
    head = lin(1024 * 4, 4096) + bn(4096) + lin(4096, 4096) + bn(4096) + lin(4096, k)
    return features + head


def alexnet_count(c: int, k: int) -> int:
    features = (
        conv(c, 64, 5) + bn(64) + conv(64, 192, 5) + bn(192) + conv(192, 384, 3) + bn(384)
        + conv(384, 256, 3) + bn(256) + conv(256, 512, 3) + bn(512)
    )  # fmt: skip
    head = lin(512 * 4, 4096) + bn(4096) + lin(4096, 4096) + bn(4096) + lin(4096, k)
    return features + head


def expected_count(name: str, shape: tuple[int, int, int], k: int) -> int:
    c, h, w = shape
    if name == "mlp5":
        return mlp5_count(c, h, w, k)
    return {
        "lenet5": lenet5_count,
        "conv6": conv6_count,
        "resnet18": resnet18_count,
        "vgg16": vgg16_count,
        "alexnet": alexnet_count,
    }[name](c, k)


# --- registry ----------------------------------------------------------------------------


def test_registry_names() -> None:
    assert MODEL_NAMES == ("mlp5", "lenet5", "conv6", "resnet18", "vgg16", "alexnet")
    assert available_models() == list(MODEL_NAMES)


def test_mlp5_mnist_count_matches_brief_arithmetic() -> None:
    brief = 784 * 512 + 512 + 3 * (512 * 512 + 512) + 4 * 2 * 512 + 512 * 10 + 10
    assert mlp5_count(1, 28, 28, 10) == brief == 1_199_114


@pytest.mark.parametrize(("name", "ds"), ALL, ids=ALL_IDS)
def test_parameter_count_matches_formula(name: str, ds: str) -> None:
    shape = SHAPES[ds]
    with torch.device("meta"):  # no memory, no QR: counting needs no real weights
        model = build_model(name, shape, K)
    assert n_params(model) == expected_count(name, shape, K)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_parameter_count_depends_on_num_classes(name: str) -> None:
    with torch.device("meta"):
        model = build_model(name, SHAPES["cifar10"], 100)
    assert n_params(model) == expected_count(name, SHAPES["cifar10"], 100)


@pytest.mark.parametrize(("name", "ds"), ALL, ids=ALL_IDS)
def test_forward_shape_train_and_eval(name: str, ds: str) -> None:
    # covers building every model (VGG16/AlexNet/ResNet18 included) at Imagenette size
    model = fast_built(name, ds)
    x = torch.randn(4, *SHAPES[ds])
    model.train()
    with torch.no_grad():
        out_train = model(x)
    model.eval()
    with torch.no_grad():
        out_eval = model(x)
    assert out_train.shape == (4, K) and out_eval.shape == (4, K)
    assert out_train.dtype == torch.float32
    assert torch.isfinite(out_eval).all()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_is_plain_module_with_standard_layers(name: str) -> None:
    model = built(name)
    assert type(model) is CLASSES[name]
    mods = list(model.modules())
    weighted = [m for m in mods if isinstance(m, (nn.Conv2d, nn.Linear))]
    bns = [m for m in mods if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    # BatchNorm (of matching width) right after every Linear/Conv except the output layer
    assert len(bns) == len(weighted) - 1
    leaves = [m for m in mods if not list(m.children())]
    for i, layer in enumerate(leaves[:-1]):
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            follower = leaves[i + 1]
            assert isinstance(follower, (nn.BatchNorm1d, nn.BatchNorm2d)), (layer, follower)
            width = layer.out_channels if isinstance(layer, nn.Conv2d) else layer.out_features
            assert follower.num_features == width
    assert leaves[-1] is weighted[-1]
    last_linear = [m for m in mods if isinstance(m, nn.Linear)][-1]
    assert last_linear.out_features == K


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_activation_and_dropout_hyperparameters(name: str) -> None:
    model = built(name)
    mods = list(model.modules())
    acts = [m for m in mods if isinstance(m, nn.LeakyReLU)]
    drops = [m for m in mods if isinstance(m, nn.Dropout)]
    assert acts and drops
    assert all(m.negative_slope == 0.05 and not m.inplace for m in acts)
    assert all(m.p == 0.3 and not m.inplace for m in drops)
    others = (nn.ReLU, nn.ReLU6, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.PReLU)
    assert not any(isinstance(m, others) for m in mods)
    # no module object is registered twice (a shared activation would confuse forward hooks)
    all_with_dups = [m for _, m in model.named_modules(remove_duplicate=False)]
    assert len(all_with_dups) == len(mods)


def test_expected_number_of_dropouts_and_activations() -> None:
    counts = {
        name: (
            sum(isinstance(m, nn.LeakyReLU) for m in built(name).modules()),
            sum(isinstance(m, nn.Dropout) for m in built(name).modules()),
        )
        for name in MODEL_NAMES
    }
    assert counts == {
        "mlp5": (4, 4),
        "lenet5": (4, 2),
        "conv6": (8, 3),
        "resnet18": (1 + 8 * 2 + 1, 2),
        "vgg16": (13 + 2, 3),
        "alexnet": (5 + 2, 3),
    }


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_orthogonal_init(name: str) -> None:
    model = built(name)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            w = m.weight.detach().reshape(m.weight.shape[0], -1)
            if w.shape[0] > w.shape[1]:  # tall: the columns are orthonormal instead
                w = w.T
            # W Wᵀ = gain² I; on big layers check a random principal 512x512 block of it
            if w.shape[0] > 512:
                w = w[torch.randperm(w.shape[0], generator=torch.Generator().manual_seed(0))[:512]]
            gram = w @ w.T
            eye = torch.eye(gram.shape[0], dtype=gram.dtype)
            torch.testing.assert_close(gram, GAIN**2 * eye, atol=1e-4, rtol=0)
            if m.bias is not None:
                assert torch.count_nonzero(m.bias) == 0
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)


def test_orthogonal_init_linear_fact() -> None:
    layer = nn.Linear(64, 16)
    init_orthogonal_(layer)
    w = layer.weight.detach().double()
    torch.testing.assert_close(w @ w.T, GAIN**2 * torch.eye(16, dtype=w.dtype), atol=1e-6, rtol=0)
    assert GAIN == pytest.approx((2.0 / (1 + 0.05**2)) ** 0.5)


def test_init_orthogonal_returns_model_and_respects_slope() -> None:
    layer = nn.Linear(32, 8)
    assert init_orthogonal_(layer, negative_slope=0.2) is layer
    w = layer.weight.detach().double()
    g = nn.init.calculate_gain("leaky_relu", 0.2)
    torch.testing.assert_close(w @ w.T, g**2 * torch.eye(8, dtype=w.dtype), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_same_seed_gives_identical_weights(name: str) -> None:
    reference = built(name)  # seed 0
    torch.manual_seed(0)
    again = build_model(name, SHAPES["cifar10"], K)
    ref_params = dict(reference.named_parameters())
    assert ref_params.keys() == dict(again.named_parameters()).keys()
    for key, p in again.named_parameters():
        assert torch.equal(p, ref_params[key]), key


def test_different_seed_gives_different_weights() -> None:
    torch.manual_seed(1)
    other = build_model("lenet5", SHAPES["cifar10"], K)
    assert not torch.equal(other.features[0].weight, built("lenet5").features[0].weight)


@pytest.mark.parametrize(("name", "ds"), ALL, ids=ALL_IDS)
def test_fx_trace_matches_eager(name: str, ds: str) -> None:
    model = fast_built(name, ds).eval()
    traced = torch.fx.symbolic_trace(model)
    x = torch.randn(2, *SHAPES[ds])
    with torch.no_grad():
        torch.testing.assert_close(traced(x), model(x))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_torch_pruning_dependency_graph(name: str) -> None:
    tp = pytest.importorskip("torch_pruning")
    shape = SHAPES["cifar10"]
    model = CLASSES[name](shape, K).eval()  # fresh: this test prunes in place
    example = torch.randn(2, *shape)
    dg = tp.DependencyGraph().build_dependency(model, example_inputs=example)
    first = next(m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    is_conv = isinstance(first, nn.Conv2d)
    fn = tp.prune_conv_out_channels if is_conv else tp.prune_linear_out_channels
    group = dg.get_pruning_group(first, fn, idxs=[0, 1])
    assert dg.check_pruning_group(group)
    group.prune()
    with torch.no_grad():
        assert model(example).shape == (2, K)


def test_case_insensitive_name() -> None:
    torch.manual_seed(0)
    a = build_model("LeNet5", (1, 28, 28), K)
    torch.manual_seed(0)
    b = build_model("lenet5", (1, 28, 28), K)
    assert type(a) is LeNet5
    assert torch.equal(a.features[0].weight, b.features[0].weight)


def test_unknown_name_raises() -> None:
    with pytest.raises(ValueError, match="resnet50") as info:
        build_model("resnet50", (3, 32, 32), K)
    assert all(n in str(info.value) for n in MODEL_NAMES)


@pytest.mark.parametrize(
    "shape",
    [(28, 28), (1, 28, 28, 1), (0, 28, 28), (1, -28, 28), (1, 28, 28.0), (True, 28, 28), "1x28",
     None],
)  # fmt: skip
def test_bad_input_shape_raises(shape: object) -> None:
    with pytest.raises(ValueError) as info:
        build_model("mlp5", shape, K)  # type: ignore[arg-type]
    assert repr(shape) in str(info.value)


@pytest.mark.parametrize("num_classes", [1, 0, -3, 2.5, True])
def test_bad_num_classes_raises(num_classes: object) -> None:
    with pytest.raises(ValueError) as info:
        build_model("lenet5", (1, 28, 28), num_classes)  # type: ignore[arg-type]
    assert repr(num_classes) in str(info.value)


def test_two_classes_is_allowed() -> None:
    assert build_model("lenet5", (1, 28, 28), 2)(torch.randn(2, 1, 28, 28)).shape == (2, 2)


MIN_SIDE = {"mlp5": 1, "lenet5": 28, "conv6": 4, "resnet18": 1, "vgg16": 16, "alexnet": 7}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_minimum_spatial_size(name: str) -> None:
    side = MIN_SIDE[name]
    model = CLASSES[name]((3, side, side), K).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 3, side, side)).shape == (2, K)
    if side > 1:
        small = (3, side - 1, side)
        with pytest.raises(ValueError, match=r"too small") as info:
            build_model(name, small, K)
        assert repr(small) in str(info.value)
        # the limit is tight: the raw network really fails one pixel below it
        raw = CLASSES[name]((3, side - 1, side - 1), K).eval()
        with pytest.raises(RuntimeError), torch.no_grad():
            raw(torch.zeros(2, 3, side - 1, side - 1))
