"""Writers of tiny datasets in their real on-disk formats, and fixtures for tests/test_data.py."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

REPO_DATA = Path(__file__).resolve().parents[1] / "data"  # the Makefile's default PRUNEKIT_DATA
MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def write_idx(path: Path, array: np.ndarray, *, gz: bool = False, magic: int | None = None) -> Path:
    """Write a uint8 array as an IDX file (big-endian magic 0x0000 08 <ndim>, dims, data); gzipped if gz."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    if magic is None:
        magic = 0x0800 | array.ndim
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    blob = header + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as fh:
            fh.write(blob)
    else:
        path.write_bytes(blob)
    return path


def write_cifar_batch(path: Path, data: np.ndarray, labels: list[int]) -> Path:
    """Write a CIFAR10 python pickle with b'data' (N, 3072) uint8 and b'labels' (list of int), as the real files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {b"batch_label": b"test batch", b"labels": list(labels), b"data": data, b"filenames": []}
    with open(path, "wb") as fh:
        pickle.dump(entry, fh, protocol=2)
    return path


def write_jpeg(path: Path, size: tuple[int, int], *, mode: str = "RGB", color=None, seed: int = 0) -> Path:
    """Write a JPEG of size (width, height): a solid colour if given, else smooth random content."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    if color is not None:
        image = Image.new(mode, size, color)
    else:
        rng = np.random.default_rng(seed)
        channels = 3 if mode == "RGB" else 1
        small = rng.integers(0, 256, size=(4, 4, channels), dtype=np.uint8)
        image = Image.fromarray(small.squeeze(-1) if channels == 1 else small, mode).resize(size)
    image.save(path, format="JPEG", quality=95)
    return path


def real_mnist_root() -> Path | None:
    """Return the first of $PRUNEKIT_DATA and the repository's data/ that holds MNIST/raw (raw or .gz), else None."""
    candidates = [Path(os.environ["PRUNEKIT_DATA"])] if os.environ.get("PRUNEKIT_DATA") else []
    candidates.append(REPO_DATA)
    for root in candidates:
        raw = root / "MNIST" / "raw"
        if all((raw / f).is_file() or (raw / (f + ".gz")).is_file() for f in MNIST_FILES):
            return root
    return None


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point PRUNEKIT_CACHE at tmp_path/cache, forbid downloads, and return the cache folder."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("PRUNEKIT_CACHE", str(cache))
    monkeypatch.setenv("PRUNEKIT_OFFLINE", "1")
    return cache


@pytest.fixture
def mnist_root() -> Path:
    """Root of the real MNIST files; skip if absent, fail instead when PRUNEKIT_REQUIRE_DATA=1."""
    root = real_mnist_root()
    if root is None:
        where = f"$PRUNEKIT_DATA ({os.environ.get('PRUNEKIT_DATA')}) or {REPO_DATA}"
        if os.environ.get("PRUNEKIT_REQUIRE_DATA") == "1":
            pytest.fail(f"PRUNEKIT_REQUIRE_DATA=1 but no MNIST/raw IDX files under {where}")
        pytest.skip(f"real MNIST not found under {where}/MNIST/raw")
    return root


@pytest.fixture
def imagenette_root(tmp_path: Path) -> Path:
    """A tiny imagenette2-320 tree: 2 class folders (unsorted creation), JPEGs of several sizes and a grayscale one."""
    root = tmp_path / "data"
    train = root / "imagenette2-320" / "train"
    # class "n02" created first to check labels come from the sorted folder names, not creation order
    write_jpeg(train / "n02102040" / "b.JPEG", (320, 480), color=(0, 0, 255))
    write_jpeg(train / "n02102040" / "a_gray.JPEG", (500, 320), mode="L", color=200)
    write_jpeg(train / "n01440764" / "x.JPEG", (426, 320), color=(255, 0, 0))
    write_jpeg(train / "n01440764" / "y.JPEG", (64, 48), seed=1)
    write_jpeg(train / "n01440764" / "z.JPEG", (320, 320), seed=2)
    (train / "n01440764" / "notes.txt").write_text("not an image")
    val = root / "imagenette2-320" / "val"
    write_jpeg(val / "n01440764" / "v.JPEG", (330, 320), seed=3)
    write_jpeg(val / "n02102040" / "w.JPEG", (320, 350), seed=4)
    return root
