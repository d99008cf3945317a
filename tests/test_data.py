"""Facts about prunekit.data: real MNIST, on-disk formats, the Imagenette cache and the batch iterator."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from prunekit import data as D

try:  # tests/ as a plain folder (rootdir-relative imports) or as a package
    from data_fixtures import imagenette_root, isolated_env, mnist_root, write_cifar_batch, write_idx
except ImportError:  # pragma: no cover
    from tests.data_fixtures import imagenette_root, isolated_env, mnist_root, write_cifar_batch, write_idx

__all__ = ["imagenette_root", "isolated_env", "mnist_root"]  # fixtures used by name

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
CIFAR = D.dataset_info("cifar10")
MNIST = D.dataset_info("mnist")


def reference_normalise(images: torch.Tensor, info: D.DatasetInfo) -> torch.Tensor:
    """(x/255 - mean)/std in float64, the textbook definition."""
    mean = torch.tensor(info.mean, dtype=torch.float64).view(1, -1, 1, 1)
    std = torch.tensor(info.std, dtype=torch.float64).view(1, -1, 1, 1)
    return (images.double() / 255.0 - mean) / std


# ------------------------------------------------------------------------------------------------- info and paths


def test_dataset_info_constants():
    assert D.DATASET_NAMES == ("mnist", "fashion-mnist", "cifar10", "imagenette")
    m, f, c, i = (D.dataset_info(n) for n in D.DATASET_NAMES)
    assert (m.input_shape, m.mean, m.std, m.flip_p, m.batch_size) == ((1, 28, 28), (0.1307,), (0.3081,), 0.0, 512)
    assert (m.train_size, m.test_size) == (60000, 10000)
    assert (f.mean, f.std, f.flip_p, f.batch_size, f.train_size, f.test_size) == (
        (0.2860,), (0.3530,), 0.0, 512, 60000, 10000
    )
    assert c.input_shape == (3, 32, 32) and c.flip_p == 0.2 and c.batch_size == 512
    assert (c.mean, c.std) == ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
    assert (c.train_size, c.test_size) == (50000, 10000)
    assert i.input_shape == (3, 128, 128) and i.flip_p == 0.2 and i.batch_size == 128
    assert (i.mean, i.std) == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert all(d.num_classes == 10 for d in (m, f, c, i))
    assert D.dataset_info("MNIST") is m and D.dataset_info("Fashion-MNIST") is f and D.dataset_info("CIFAR10") is c
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.batch_size = 1  # frozen


def test_dataset_info_unknown_lists_names():
    with pytest.raises(ValueError) as err:
        D.dataset_info("svhn")
    for name in D.DATASET_NAMES + ("svhn",):
        assert name in str(err.value)


def test_data_root_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("PRUNEKIT_DATA", str(tmp_path / "env"))
    assert D.data_root(tmp_path / "arg") == tmp_path / "arg"
    assert D.data_root(str(tmp_path / "arg")) == tmp_path / "arg"
    assert D.data_root() == tmp_path / "env"
    monkeypatch.delenv("PRUNEKIT_DATA")
    assert D.data_root() == Path("data")


def test_cache_dir_from_env_created_on_demand(monkeypatch, tmp_path):
    target = tmp_path / "a" / "b"
    monkeypatch.setenv("PRUNEKIT_CACHE", str(target))
    assert not target.exists()
    assert D.cache_dir() == target and target.is_dir()


# ------------------------------------------------------------------------------------------------------ real MNIST


def test_real_mnist_facts(mnist_root, isolated_env):
    x, y = D.load_split("mnist", train=True, root=mnist_root)
    assert x.shape == (60000, 1, 28, 28) and x.dtype == torch.uint8
    assert y.shape == (60000,) and y.dtype == torch.int64
    assert torch.bincount(y, minlength=10).tolist() == MNIST_TRAIN_COUNTS
    assert int(x.max()) == 255 and int(x.min()) == 0
    assert y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    xt, yt = D.load_split("mnist", train=False, root=mnist_root)
    assert xt.shape == (10000, 1, 28, 28)
    assert torch.bincount(yt, minlength=10).tolist() == MNIST_TEST_COUNTS
    xl, yl = D.load_split("mnist", train=True, root=mnist_root, limit=100)
    assert torch.equal(xl, x[:100]) and torch.equal(yl, y[:100])


def test_real_mnist_normalised_moments(mnist_root, isolated_env):
    batches = D.make_batches("mnist", train=True, root=mnist_root)
    assert batches.batch_size == 512 and len(batches) == 118 and batches.num_samples == 60000
    total, total_sq, count, seen = 0.0, 0.0, 0, 0
    for x, y in batches:
        assert x.dtype == torch.float32 and y.dtype == torch.int64
        flat = x.reshape(-1)
        total += float(flat.sum(dtype=torch.float64))
        total_sq += float(torch.dot(flat, flat))
        count += x.numel()
        seen += len(y)
    mean = total / count
    std = (total_sq / count - mean**2) ** 0.5
    assert seen == 60000
    assert abs(mean) < 0.02 and abs(std - 1.0) < 0.02


# ------------------------------------------------------------------------------------- IDX / CIFAR on-disk formats


@pytest.mark.parametrize("name,folder", [("fashion-mnist", "FashionMNIST"), ("mnist", "MNIST")])
def test_idx_round_trip_raw_and_gz(name, folder, tmp_path, isolated_env):
    rng = np.random.default_rng(0)
    raw = tmp_path / folder / "raw"
    train_x = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    train_y = rng.integers(0, 10, 7, dtype=np.uint8)
    test_x = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    test_y = np.array([9, 0, 4], dtype=np.uint8)
    write_idx(raw / "train-images-idx3-ubyte", train_x, gz=True)
    write_idx(raw / "train-labels-idx1-ubyte", train_y, gz=True)
    write_idx(raw / "t10k-images-idx3-ubyte", test_x)
    write_idx(raw / "t10k-labels-idx1-ubyte", test_y)
    x, y = D.load_split(name, train=True, root=tmp_path)
    assert x.shape == (7, 1, 28, 28) and x.dtype == torch.uint8 and y.dtype == torch.int64
    assert np.array_equal(x[:, 0].numpy(), train_x) and y.tolist() == train_y.tolist()
    x, y = D.load_split(name, train=False, root=tmp_path)
    assert np.array_equal(x[:, 0].numpy(), test_x) and y.tolist() == [9, 0, 4]
    x, y = D.load_split(name, train=True, root=tmp_path, limit=2)
    assert np.array_equal(x[:, 0].numpy(), train_x[:2]) and y.tolist() == train_y[:2].tolist()


def test_idx_bad_magic_rejected(tmp_path, isolated_env):
    raw = tmp_path / "FashionMNIST" / "raw"
    write_idx(raw / "train-images-idx3-ubyte", np.zeros((2, 28, 28), np.uint8), magic=2049)
    write_idx(raw / "train-labels-idx1-ubyte", np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match="train-images-idx3-ubyte"):
        D.load_split("fashion-mnist", train=True, root=tmp_path)


def test_cifar_round_trip(tmp_path, isolated_env):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-10-batches-py"
    sizes = [3, 2, 4, 1, 2]
    datas, labels = [], []
    for i, n in enumerate(sizes, start=1):
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        lab = rng.integers(0, 10, n).tolist()
        write_cifar_batch(folder / f"data_batch_{i}", data, lab)
        datas.append(data)
        labels += lab
    test_data = rng.integers(0, 256, (5, 3072), dtype=np.uint8)
    write_cifar_batch(folder / "test_batch", test_data, [1, 2, 3, 4, 5])
    x, y = D.load_split("cifar10", train=True, root=tmp_path)
    full = np.concatenate(datas)
    assert x.shape == (12, 3, 32, 32) and x.dtype == torch.uint8 and y.dtype == torch.int64
    assert y.tolist() == labels
    # channel-major rows: pixel (c, h, w) is column c*1024 + h*32 + w
    assert int(x[4, 2, 5, 7]) == int(full[4, 2 * 1024 + 5 * 32 + 7])
    assert np.array_equal(x.reshape(12, -1).numpy(), full)
    xt, yt = D.load_split("cifar10", train=False, root=tmp_path)
    assert np.array_equal(xt.reshape(5, -1).numpy(), test_data) and yt.tolist() == [1, 2, 3, 4, 5]
    xl, yl = D.load_split("cifar10", train=True, root=tmp_path, limit=4)
    assert torch.equal(xl, x[:4]) and yl.tolist() == labels[:4]


# ---------------------------------------------------------------------------------------------------- missing files


def test_missing_mnist_names_each_file(tmp_path, isolated_env):
    with pytest.raises(FileNotFoundError) as err:
        D.load_split("mnist", train=True, root=tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte") in msg
    assert str(tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte") in msg
    assert not (tmp_path / "MNIST").exists()  # nothing written into the data root


def test_missing_only_the_absent_file_is_named(tmp_path, isolated_env):
    raw = tmp_path / "FashionMNIST" / "raw"
    write_idx(raw / "t10k-images-idx3-ubyte", np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(FileNotFoundError) as err:
        D.load_split("fashion-mnist", train=False, root=tmp_path)
    assert str(raw / "t10k-labels-idx1-ubyte") in str(err.value)
    assert "t10k-images" not in str(err.value)


def test_missing_cifar_and_imagenette(tmp_path, isolated_env):
    with pytest.raises(FileNotFoundError) as err:
        D.load_split("cifar10", train=True, root=tmp_path)
    for i in range(1, 6):
        assert str(tmp_path / "cifar-10-batches-py" / f"data_batch_{i}") in str(err.value)
    with pytest.raises(FileNotFoundError, match="test_batch"):
        D.load_split("cifar10", train=False, root=tmp_path)
    with pytest.raises(FileNotFoundError) as err:
        D.load_split("imagenette", train=False, root=tmp_path)
    assert str(tmp_path / "imagenette2-320" / "val") in str(err.value)


def test_missing_data_root_from_env(tmp_path, isolated_env, monkeypatch):
    monkeypatch.setenv("PRUNEKIT_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nowhere")):
        D.make_batches("mnist", train=False)


def test_load_split_rejects_bad_limit_and_name(tmp_path, isolated_env):
    for bad in (0, -3):
        with pytest.raises(ValueError, match=str(bad)):
            D.load_split("mnist", train=True, root=tmp_path, limit=bad)
    with pytest.raises(ValueError, match="svhn"):
        D.load_split("svhn", train=True, root=tmp_path)


# -------------------------------------------------------------------------------------------------------- Imagenette


def test_imagenette_decode_and_cache(imagenette_root, isolated_env, monkeypatch):
    x, y = D.load_split("imagenette", train=True, root=imagenette_root)
    assert x.shape == (5, 3, 128, 128) and x.dtype == torch.uint8
    # sorted wnids -> class index, files sorted inside a class; the .txt is ignored
    assert y.tolist() == [0, 0, 0, 1, 1] and y.dtype == torch.int64
    red = x[0].int()  # n01440764/x.JPEG: solid red
    assert (red[0] > 245).all() and (red[1] < 10).all() and (red[2] < 10).all()
    gray = x[3].int()  # n02102040/a_gray.JPEG: grayscale -> 3 identical channels
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[1], gray[2])
    assert (gray - 200).abs().max() <= 3
    blue = x[4].int()
    assert (blue[2] > 245).all() and (blue[0] < 10).all()

    caches = sorted(isolated_env.glob("*.pt"))
    assert len(caches) == 1 and not list(isolated_env.glob("*.tmp"))

    def boom(path):
        raise AssertionError(f"decoded {path} despite a valid cache")

    monkeypatch.setattr(D, "_decode_imagenette_image", boom)
    x2, y2 = D.load_split("imagenette", train=True, root=imagenette_root)
    assert torch.equal(x, x2) and torch.equal(y, y2)

    caches[0].write_bytes(b"this is not a torch file")
    with pytest.raises(RuntimeError, match="decoded"):  # corrupt cache -> the decoder is called again
        D.load_split("imagenette", train=True, root=imagenette_root)
    monkeypatch.undo()
    monkeypatch.setenv("PRUNEKIT_CACHE", str(isolated_env))
    x3, y3 = D.load_split("imagenette", train=True, root=imagenette_root)
    assert torch.equal(x, x3) and torch.equal(y, y3)
    assert torch.equal(torch.load(caches[0], weights_only=True)["images"], x)  # rewritten intact


def test_imagenette_resize_matches_paper_pipeline(imagenette_root, isolated_env):
    from PIL import Image
    import torchvision.transforms as T

    x, _ = D.load_split("imagenette", train=True, root=imagenette_root)
    path = imagenette_root / "imagenette2-320" / "train" / "n01440764" / "y.JPEG"  # 64x48: upsampled
    pipeline = T.Compose([T.Resize(320), T.Resize((128, 128)), T.PILToTensor()])
    with Image.open(path) as im:
        expected = pipeline(im.convert("RGB"))
    assert torch.equal(x[1], expected)


def test_imagenette_val_split_limit_and_folder_name(imagenette_root, isolated_env):
    x, y = D.load_split("imagenette", train=False, root=imagenette_root)
    assert x.shape == (2, 3, 128, 128) and y.tolist() == [0, 1]
    # a limited subset is stratified over classes and cached separately
    xl, yl = D.load_split("imagenette", train=True, root=imagenette_root, limit=2)
    assert yl.tolist() == [0, 1]
    assert len(list(isolated_env.glob("*.pt"))) == 2
    (imagenette_root / "imagenette2-320").rename(imagenette_root / "imagenette2")
    x2, y2 = D.load_split("imagenette", train=False, root=imagenette_root)
    assert torch.equal(x, x2) and torch.equal(y, y2)


# ------------------------------------------------------------------------------------------------------ TensorBatches


def make_ids(n: int, info: D.DatasetInfo, hw: int = 6, seed: int = 0):
    """Random asymmetric images whose label is the sample index, so batches reveal which samples they hold."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, len(info.mean), hw, hw), dtype=torch.uint8, generator=g)
    assert not (images == images.flip(3)).flatten(1).all(1).any()
    return images, torch.arange(n)


def collect(batches):
    xs, ys = zip(*list(batches))
    return torch.cat(xs), torch.cat(ys)


def test_every_sample_once_and_lengths(isolated_env):
    images, ids = make_ids(1030, CIFAR)
    tb = D.TensorBatches(images, ids, CIFAR, 100, shuffle=True, augment=True)
    assert len(tb) == 11 and tb.num_samples == 1030 and tb.batch_size == 100
    sizes = [len(y) for _, y in tb]
    assert sizes == [100] * 10 + [30]
    for _ in range(2):
        _, y = collect(tb)
        assert torch.equal(torch.sort(y).values, ids)
    dl = D.TensorBatches(images, ids, CIFAR, 100, shuffle=True, augment=False, drop_last=True)
    assert len(dl) == 10 and [len(y) for _, y in dl] == [100] * 10
    assert len(set(collect(dl)[1].tolist())) == 1000


def test_same_seed_same_order_new_epoch_new_order(isolated_env):
    images, ids = make_ids(500, CIFAR)
    a = D.TensorBatches(images, ids, CIFAR, 64, shuffle=True, augment=True, seed=3)
    b = D.TensorBatches(images, ids, CIFAR, 64, shuffle=True, augment=True, seed=3)
    c = D.TensorBatches(images, ids, CIFAR, 64, shuffle=True, augment=True, seed=4)
    xa0, ya0 = collect(a)
    xa1, ya1 = collect(a)
    xb0, yb0 = collect(b)
    xb1, yb1 = collect(b)
    assert torch.equal(ya0, yb0) and torch.equal(xa0, xb0)  # same seed, same epoch -> identical (flips too)
    assert torch.equal(ya1, yb1) and torch.equal(xa1, xb1)
    assert not torch.equal(ya0, ya1)  # next epoch reshuffles
    assert not torch.equal(ya0, torch.arange(500))
    assert not torch.equal(collect(c)[1], ya0)  # other seed, other order
    b.set_epoch(1)
    assert torch.equal(collect(b)[1], ya1)


def test_flips_fraction_deterministic_and_exact(isolated_env):
    n = 4000
    images, ids = make_ids(n, CIFAR)
    tb = D.TensorBatches(images, ids, CIFAR, 512, shuffle=True, augment=True, seed=11)
    x, y = collect(tb)
    plain = reference_normalise(images[y], CIFAR).float()
    flipped = plain.flip(3)
    is_plain = torch.isclose(x, plain, atol=1e-5).flatten(1).all(1)
    is_flipped = torch.isclose(x, flipped, atol=1e-5).flatten(1).all(1)
    assert bool((is_plain ^ is_flipped).all())  # each sample is exactly itself or its mirror image
    frac = float(is_flipped.double().mean())
    assert abs(frac - CIFAR.flip_p) < 0.03, frac
    again = D.TensorBatches(images, ids, CIFAR, 512, shuffle=True, augment=True, seed=11)
    assert torch.equal(collect(again)[0], x)
    # without augmentation nothing is flipped
    noaug = D.TensorBatches(images, ids, CIFAR, 512, shuffle=True, augment=False, seed=11)
    x2, y2 = collect(noaug)
    assert torch.allclose(x2, reference_normalise(images[y2], CIFAR).float(), atol=1e-5)


def test_mnist_never_flipped_even_with_augment(isolated_env):
    images, ids = make_ids(1000, MNIST, hw=28)
    tb = D.TensorBatches(images, ids, MNIST, 128, shuffle=True, augment=True)
    x, y = collect(tb)
    assert torch.allclose(x, reference_normalise(images[y], MNIST).float(), atol=1e-5)


def test_make_batches_test_split_in_order_unaugmented(tmp_path, isolated_env):
    rng = np.random.default_rng(2)
    folder = tmp_path / "cifar-10-batches-py"
    test_data = rng.integers(0, 256, (37, 3072), dtype=np.uint8)
    labels = rng.integers(0, 10, 37).tolist()
    write_cifar_batch(folder / "test_batch", test_data, labels)
    tb = D.make_batches("cifar10", train=False, batch_size=10, root=tmp_path)
    assert not tb.shuffle and not tb.augment and len(tb) == 4
    for _ in range(2):  # same every epoch
        x, y = collect(tb)
        assert y.tolist() == labels
        expected = reference_normalise(torch.from_numpy(test_data).view(37, 3, 32, 32), CIFAR).float()
        assert torch.allclose(x, expected, atol=1e-5)
    assert D.make_batches("cifar10", train=False, root=tmp_path).batch_size == 512


def test_make_batches_train_split_shuffles_and_augments(tmp_path, isolated_env):
    raw = tmp_path / "MNIST" / "raw"
    write_idx(raw / "train-images-idx3-ubyte", np.random.default_rng(0).integers(0, 256, (50, 28, 28), np.uint8))
    write_idx(raw / "train-labels-idx1-ubyte", np.arange(50, dtype=np.uint8))
    tb = D.make_batches("mnist", train=True, batch_size=8, root=tmp_path, limit=40, seed=5)
    assert tb.shuffle and tb.augment and tb.flip_p == 0.0 and tb.num_samples == 40 and len(tb) == 5
    _, y = collect(tb)
    assert sorted(y.tolist()) == list(range(40)) and y.tolist() != list(range(40))


def test_tensor_batches_validation(isolated_env):
    images, ids = make_ids(10, CIFAR)
    with pytest.raises(ValueError, match="0"):
        D.TensorBatches(images, ids, CIFAR, 0, shuffle=False, augment=False)
    with pytest.raises(ValueError, match="-2"):
        D.TensorBatches(images, ids, CIFAR, -2, shuffle=False, augment=False)
    with pytest.raises(TypeError, match="float32"):
        D.TensorBatches(images.float(), ids, CIFAR, 4, shuffle=False, augment=False)
    with pytest.raises(ValueError, match=r"\(10, 3, 36\)"):
        D.TensorBatches(images.flatten(2), ids, CIFAR, 4, shuffle=False, augment=False)
    with pytest.raises(ValueError, match="10 images vs 9 labels"):
        D.TensorBatches(images, ids[:9], CIFAR, 4, shuffle=False, augment=False)
    with pytest.raises(ValueError, match="3 channels"):
        D.TensorBatches(images, ids, MNIST, 4, shuffle=False, augment=False)


def test_tensor_batches_device_and_dtypes(isolated_env):
    images, ids = make_ids(10, CIFAR)
    tb = D.TensorBatches(images, ids.int(), CIFAR, 4, shuffle=True, augment=True, device="cpu")
    assert tb.images.dtype == torch.uint8 and tb.labels.dtype == torch.int64
    x, y = next(iter(tb))
    assert x.dtype == torch.float32 and x.shape == (4, 3, 6, 6) and y.dtype == torch.int64
    assert x.device.type == "cpu" and y.device.type == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_tensor_batches_on_cuda(isolated_env):
    images, ids = make_ids(300, CIFAR)
    cpu = D.TensorBatches(images, ids, CIFAR, 64, shuffle=True, augment=True, seed=2)
    gpu = D.TensorBatches(images, ids, CIFAR, 64, shuffle=True, augment=True, seed=2, device="cuda")
    assert gpu.images.is_cuda and gpu.labels.is_cuda
    xc, yc = collect(cpu)
    xg, yg = collect(gpu)
    assert xg.is_cuda and torch.equal(yc, yg.cpu()) and torch.allclose(xc, xg.cpu(), atol=1e-5)


def test_library_has_no_print():
    source = Path(D.__file__).read_text()
    assert "print(" not in source
    assert os.path.basename(D.__file__) == "data.py"


def test_validation_split_holds_out_a_fixed_disjoint_fraction():
    from prunekit.data import validation_split

    images = torch.arange(100).reshape(100, 1, 1, 1).to(torch.uint8)
    labels = torch.arange(100) % 10
    tr_x, tr_y, va_x, va_y = validation_split(images, labels, 0.2)
    assert len(va_x) == 20 and len(tr_x) == 80
    ids_train, ids_val = set(tr_x.flatten().tolist()), set(va_x.flatten().tolist())
    assert not ids_train & ids_val and len(ids_train | ids_val) == 100
    assert torch.equal(tr_y, tr_x.flatten().long() % 10)  # labels travel with their images
    again = validation_split(images, labels, 0.2)
    assert torch.equal(again[2], va_x)  # the same held-out set on every call
    assert not torch.equal(validation_split(images, labels, 0.2, seed=1)[2], va_x)
    for bad in (0.0, 1.0, -0.1, True):
        with pytest.raises(ValueError, match="validation fraction"):
            validation_split(images, labels, bad)
    with pytest.raises(ValueError, match="differ in length"):
        validation_split(images, labels[:5], 0.2)
