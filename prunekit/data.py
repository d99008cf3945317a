"""Datasets for SNIP-it: raw-file loaders, an on-disk decode cache and a device-resident batch iterator."""

from __future__ import annotations

import gzip
import hashlib
import logging
import math
import os
import pickle
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch import Tensor, nn

logger = logging.getLogger(__name__)

__all__ = [
    "DATASET_NAMES",
    "DatasetInfo",
    "dataset_info",
    "data_root",
    "cache_dir",
    "load_split",
    "require_dataset",
    "validation_split",
    "TensorBatches",
    "make_batches",
    "ScoringData",
    "dataset_samples",
    "first_conv_channels",
    "channels_fitted",
    "fit_channels",
]

DATASET_NAMES: tuple[str, ...] = ("mnist", "fashion-mnist", "cifar10", "imagenette")

IMAGENETTE_SIZE = 128
IMAGENETTE_SHORT_SIDE = 320
_IMAGENETTE_FOLDERS = ("imagenette2-320", "imagenette2")
_IMAGENETTE_EXTENSIONS = (".jpeg", ".jpg")
_CACHE_FORMAT = "prunekit-imagenette-v1"

_IDX_IMAGES_MAGIC = 2051  # 0x00000803: uint8, 3 dims
_IDX_LABELS_MAGIC = 2049  # 0x00000801: uint8, 1 dim


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about one dataset: shape, classes, normalisation, augmentation and the paper's batch size."""

    name: str
    input_shape: tuple[int, int, int]
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    flip_p: float
    batch_size: int
    train_size: int
    test_size: int


_INFOS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo("mnist", (1, 28, 28), 10, (0.1307,), (0.3081,), 0.0, 512, 60000, 10000),
    "fashion-mnist": DatasetInfo("fashion-mnist", (1, 28, 28), 10, (0.2860,), (0.3530,), 0.0, 512, 60000, 10000),
    "cifar10": DatasetInfo(
        "cifar10", (3, 32, 32), 10, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), 0.2, 512, 50000, 10000
    ),
    "imagenette": DatasetInfo(
        "imagenette",
        (3, IMAGENETTE_SIZE, IMAGENETTE_SIZE),
        10,
        (0.485, 0.456, 0.406),
        (0.229, 0.224, 0.225),
        0.2,
        128,
        9469,
        3925,
    ),
}

_ALIASES = {
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "fmnist": "fashion-mnist",
    "cifar-10": "cifar10",
    "cifar_10": "cifar10",
}

# torchvision folder layouts of the IDX datasets: dataset -> folder under the data root.
_IDX_FOLDERS = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST"}


def _canonical_name(name: str) -> str:
    """Return the canonical dataset name for a case-insensitive name or alias, else raise ValueError."""
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a str, got {name!r} ({type(name).__name__})")
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _INFOS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(DATASET_NAMES)}")
    return key


def dataset_info(name: str) -> DatasetInfo:
    """Return the DatasetInfo for a dataset name (case-insensitive)."""
    return _INFOS[_canonical_name(name)]


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Return the data root: the argument, else env PRUNEKIT_DATA, else ./data."""
    if root is None:
        root = os.environ.get("PRUNEKIT_DATA") or "data"
    return Path(root).expanduser()


def cache_dir() -> Path:
    """Return (creating it) the cache folder: env PRUNEKIT_CACHE, else ~/.cache/prunekit."""
    env = os.environ.get("PRUNEKIT_CACHE")
    path = Path(env).expanduser() if env else Path.home() / ".cache" / "prunekit"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _offline() -> bool:
    """Return True when env PRUNEKIT_OFFLINE forbids downloads (set to anything but '', '0', 'false', 'no')."""
    value = os.environ.get("PRUNEKIT_OFFLINE")
    return value is not None and value.strip().lower() not in ("", "0", "false", "no")


def _try_download(name: str, root: Path) -> bool:
    """Try to download a dataset into root with torchvision; return True on success, False if offline or failing."""
    if _offline():
        logger.info("PRUNEKIT_OFFLINE is set: not downloading %s into %s", name, root)
        return False
    try:
        import torchvision.datasets as tvd

        root.mkdir(parents=True, exist_ok=True)
        logger.info("downloading %s into %s with torchvision", name, root)
        if name == "mnist":
            tvd.MNIST(str(root), train=True, download=True)
        elif name == "fashion-mnist":
            tvd.FashionMNIST(str(root), train=True, download=True)
        elif name == "cifar10":
            tvd.CIFAR10(str(root), train=True, download=True)
        elif name == "imagenette":
            tvd.Imagenette(str(root), split="train", size="320px", download=True)
        else:  # pragma: no cover - guarded by _canonical_name
            return False
    except Exception as exc:  # network, permission and archive errors all mean "not available"
        logger.warning("could not download %s into %s: %s", name, root, exc)
        return False
    return True


def _check_limit(limit: int | None) -> None:
    """Raise if limit is neither None nor a positive int."""
    if limit is None:
        return
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)):
        raise TypeError(f"limit must be a positive int or None, got {limit!r}")
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit!r}")


# ----------------------------------------------------------------------------------------------- IDX (MNIST-likes)


def _read_bytes(path: Path) -> bytearray:
    """Read a file (gunzipping *.gz) into a writable buffer."""
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as fh:
            return bytearray(fh.read())
    with open(path, "rb") as fh:
        buf = bytearray(os.fstat(fh.fileno()).st_size)
        read = fh.readinto(buf)
    if read != len(buf):
        raise OSError(f"{path}: short read ({read} of {len(buf)} bytes)")
    return buf


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """Parse a uint8 IDX file (raw or gzipped) with the expected magic number into a numpy array."""
    buf = _read_bytes(path)
    if len(buf) < 4:
        raise ValueError(f"{path}: too short to be an IDX file ({len(buf)} bytes)")
    found = int.from_bytes(buf[:4], "big")
    if found != magic:
        raise ValueError(f"{path}: IDX magic number {found} (0x{found:08x}), expected {magic} (0x{magic:08x})")
    ndim = buf[3]
    header = 4 + 4 * ndim
    dims = tuple(int.from_bytes(buf[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + math.prod(dims)
    if len(buf) != expected:
        raise ValueError(f"{path}: {len(buf)} bytes but header {dims} implies {expected}")
    return np.frombuffer(buf, dtype=np.uint8, offset=header).reshape(dims)


def _idx_paths(name: str, root: Path, train: bool) -> tuple[Path, Path]:
    """Return the raw (uncompressed) IDX image and label paths of a split under the torchvision layout."""
    raw = root / _IDX_FOLDERS[name] / "raw"
    prefix = "train" if train else "t10k"
    return raw / f"{prefix}-images-idx3-ubyte", raw / f"{prefix}-labels-idx1-ubyte"


def _existing(path: Path) -> Path | None:
    """Return path if it exists, else its .gz sibling if that exists, else None."""
    if path.is_file():
        return path
    gz = path.with_name(path.name + ".gz")
    return gz if gz.is_file() else None


def _find_files(name: str, root: Path, wanted: list[Path], layout: str) -> list[Path]:
    """Locate files (raw or .gz), downloading once if allowed; raise FileNotFoundError naming every missing one."""
    found = [_existing(p) for p in wanted]
    if any(f is None for f in found) and _try_download(name, root):
        found = [_existing(p) for p in wanted]
    missing = [p for p, f in zip(wanted, found) if f is None]
    if missing:
        listing = "\n  ".join(str(p) for p in missing)
        raise FileNotFoundError(
            f"{name}: missing file(s) under data root {root}:\n  {listing}\n"
            f"Put them there using torchvision's layout ({layout}), point PRUNEKIT_DATA or root= at a folder that "
            f"has them, or unset PRUNEKIT_OFFLINE and go online to let torchvision download them."
        )
    return [f for f in found if f is not None]


def _load_idx(name: str, train: bool, root: Path, limit: int | None) -> tuple[Tensor, Tensor]:
    """Load an MNIST-like split from its IDX files."""
    wanted = list(_idx_paths(name, root, train))
    layout = f"{_IDX_FOLDERS[name]}/raw/{{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte, optionally .gz"
    images_path, labels_path = _find_files(name, root, wanted, layout)
    images = _read_idx(images_path, _IDX_IMAGES_MAGIC)
    labels = _read_idx(labels_path, _IDX_LABELS_MAGIC)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(
            f"{name}: inconsistent IDX files {images_path} (shape {images.shape}) and {labels_path} "
            f"(shape {labels.shape})"
        )
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    x = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1)
    y = torch.from_numpy(labels.astype(np.int64))
    if limit is not None:
        x = x.clone()  # do not pin the whole file's buffer
    return x, y


# ----------------------------------------------------------------------------------------------------------- CIFAR10

_CIFAR_FOLDER = "cifar-10-batches-py"


def _cifar_paths(root: Path, train: bool) -> list[Path]:
    """Return the CIFAR10 pickle paths of a split under the torchvision layout."""
    folder = root / _CIFAR_FOLDER
    if train:
        return [folder / f"data_batch_{i}" for i in range(1, 6)]
    return [folder / "test_batch"]


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse one CIFAR10 python pickle into (N,3,32,32) uint8 images and int64 labels."""
    with open(path, "rb") as fh:
        entry = pickle.load(fh, encoding="bytes")
    data = entry.get(b"data", entry.get("data"))
    labels = entry.get(b"labels", entry.get("labels"))
    if data is None or labels is None:
        raise ValueError(f"{path}: not a CIFAR10 batch (keys {sorted(map(repr, entry))}, need b'data' and b'labels')")
    data = np.asarray(data, dtype=np.uint8)
    labels = np.asarray(labels, dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise ValueError(f"{path}: data shape {data.shape} / {len(labels)} labels, expected (N, 3072) / N")
    return data.reshape(-1, 3, 32, 32), labels


def _load_cifar(train: bool, root: Path, limit: int | None) -> tuple[Tensor, Tensor]:
    """Load a CIFAR10 split from its python pickles."""
    layout = f"{_CIFAR_FOLDER}/data_batch_1..5 and {_CIFAR_FOLDER}/test_batch"
    paths = _find_files("cifar10", root, _cifar_paths(root, train), layout)
    images, labels, count = [], [], 0
    for path in paths:
        x, y = _read_cifar_batch(path)
        images.append(x)
        labels.append(y)
        count += len(y)
        if limit is not None and count >= limit:
            break
    x = np.concatenate(images)[:limit]
    y = np.concatenate(labels)[:limit]
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))


# -------------------------------------------------------------------------------------------------------- Imagenette


def _imagenette_dir(root: Path, train: bool) -> Path | None:
    """Return the first existing Imagenette split folder (imagenette2-320 preferred), or None."""
    split = "train" if train else "val"
    for folder in _IMAGENETTE_FOLDERS:
        path = root / folder / split
        if path.is_dir():
            return path
    return None


def _imagenette_files(split_dir: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    """List (sorted wnid classes, [(file, class index)]) of an Imagenette split folder."""
    classes = sorted(p.name for p in split_dir.iterdir() if p.is_dir())
    files: list[tuple[Path, int]] = []
    for index, wnid in enumerate(classes):
        members = sorted(
            p for p in (split_dir / wnid).iterdir() if p.is_file() and p.suffix.lower() in _IMAGENETTE_EXTENSIONS
        )
        files.extend((p, index) for p in members)
    return classes, files


def _stratified_subset(files: list[tuple[Path, int]], limit: int) -> list[tuple[Path, int]]:
    """Pick `limit` files round-robin over classes (deterministic), kept in (class, name) order."""
    if limit >= len(files):
        return files
    by_class: dict[int, list[int]] = {}
    for i, (_, label) in enumerate(files):
        by_class.setdefault(label, []).append(i)
    chosen: list[int] = []
    rank = 0
    while len(chosen) < limit:
        for label in sorted(by_class):
            members = by_class[label]
            if rank < len(members) and len(chosen) < limit:
                chosen.append(members[rank])
        rank += 1
    return [files[i] for i in sorted(chosen)]


def _decode_imagenette_image(path: str | os.PathLike) -> np.ndarray:
    """Decode one image as the paper does: RGB, shortest side to 320 (aspect kept), then 128x128; (H, W, 3) uint8."""
    from PIL import Image
    import torchvision.transforms.functional as TF

    with Image.open(path) as im:
        rgb = im.convert("RGB")
    rgb = TF.resize(rgb, IMAGENETTE_SHORT_SIDE)
    rgb = TF.resize(rgb, [IMAGENETTE_SIZE, IMAGENETTE_SIZE])
    return np.asarray(rgb, dtype=np.uint8)


def _decode_all(paths: list[Path], desc: str) -> np.ndarray:
    """Decode images with a thread pool (PIL releases the GIL) behind a tqdm bar; return (N, H, W, 3) uint8."""
    from tqdm.auto import tqdm

    out = np.empty((len(paths), IMAGENETTE_SIZE, IMAGENETTE_SIZE, 3), dtype=np.uint8)
    decode = _decode_imagenette_image  # looked up at call time so it can be patched

    def work(i: int) -> int:
        """Decode image i into its row of out."""
        try:
            out[i] = decode(paths[i])
        except Exception as exc:
            raise RuntimeError(f"could not decode {paths[i]}: {exc}") from exc
        return i

    workers = max(1, min(32, os.cpu_count() or 1, len(paths)))
    with tqdm(total=len(paths), desc=desc, unit="img", leave=False) as bar:
        if workers == 1:
            for i in range(len(paths)):
                work(i)
                bar.update()
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for _ in pool.map(work, range(len(paths)), chunksize=16):
                    bar.update()
    return out


def _imagenette_cache_key(split_dir: Path, train: bool, files: list[tuple[Path, int]]) -> str:
    """Hash (format, resolved root, split, file list with sizes and labels) into a cache key."""
    digest = hashlib.sha256()
    digest.update(f"{_CACHE_FORMAT}\n{split_dir.resolve()}\n{'train' if train else 'val'}\n".encode())
    for path, label in files:
        rel = path.relative_to(split_dir).as_posix()
        digest.update(f"{rel}\t{path.stat().st_size}\t{label}\n".encode())
    return digest.hexdigest()


def _read_cache(path: Path, key: str, n: int) -> tuple[Tensor, Tensor] | None:
    """Return cached (images, labels) if the cache file is intact and matches key, else None."""
    if not path.is_file():
        return None
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        images, labels = blob["images"], blob["labels"]
        ok = (
            blob.get("key") == key
            and isinstance(images, Tensor)
            and isinstance(labels, Tensor)
            and images.dtype == torch.uint8
            and tuple(images.shape) == (n, 3, IMAGENETTE_SIZE, IMAGENETTE_SIZE)
            and labels.dtype == torch.int64
            and tuple(labels.shape) == (n,)
        )
    except Exception as exc:
        logger.warning("ignoring unreadable Imagenette cache %s: %s", path, exc)
        return None
    if not ok:
        logger.warning("ignoring stale or malformed Imagenette cache %s", path)
        return None
    return images, labels


def _write_cache(path: Path, key: str, images: Tensor, labels: Tensor, classes: list[str]) -> None:
    """Write the decoded split atomically (temp file + os.replace); failures are logged, not raised."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        torch.save({"key": key, "images": images, "labels": labels, "classes": classes}, tmp)
        os.replace(tmp, path)
        logger.info("cached decoded Imagenette split in %s", path)
    except OSError as exc:
        logger.warning("could not write Imagenette cache %s: %s", path, exc)
        tmp.unlink(missing_ok=True)


def _load_imagenette(train: bool, root: Path, limit: int | None) -> tuple[Tensor, Tensor]:
    """Load an Imagenette split, decoding once and caching the uint8 tensor under cache_dir()."""
    split_dir = _imagenette_dir(root, train)
    if split_dir is None and _try_download("imagenette", root):
        split_dir = _imagenette_dir(root, train)
    split = "train" if train else "val"
    if split_dir is None:
        expected = root / _IMAGENETTE_FOLDERS[0] / split
        raise FileNotFoundError(
            f"imagenette: missing folder {expected} (or {root / _IMAGENETTE_FOLDERS[1] / split}). Expected layout "
            f"<root>/imagenette2-320/{{train,val}}/<wnid>/*.JPEG; point PRUNEKIT_DATA or root= at a folder that has "
            f"it, or unset PRUNEKIT_OFFLINE and go online to let torchvision download it."
        )
    classes, files = _imagenette_files(split_dir)
    if not files:
        raise FileNotFoundError(f"imagenette: no *.JPEG files in class folders under {split_dir}")
    if limit is not None:
        files = _stratified_subset(files, limit)
    key = _imagenette_cache_key(split_dir, train, files)
    cache_path = cache_dir() / f"imagenette-{split}-{len(files)}-{key[:20]}.pt"
    cached = _read_cache(cache_path, key, len(files))
    if cached is not None:
        logger.debug("loaded Imagenette %s split from cache %s", split, cache_path)
        return cached
    logger.info("decoding %d Imagenette %s images from %s", len(files), split, split_dir)
    pixels = _decode_all([p for p, _ in files], desc=f"imagenette {split}")
    images = torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor([label for _, label in files], dtype=torch.int64)
    _write_cache(cache_path, key, images, labels, classes)
    return images, labels


# ------------------------------------------------------------------------------------------------------ public entry


def load_split(
    name: str, train: bool, root: str | os.PathLike | None = None, limit: int | None = None
) -> tuple[Tensor, Tensor]:
    """Load a split as (uint8 images (N,C,H,W), int64 labels (N,)); limit keeps a deterministic subset of that size."""
    key = _canonical_name(name)
    _check_limit(limit)
    base = data_root(root)
    if key in _IDX_FOLDERS:
        images, labels = _load_idx(key, bool(train), base, limit)
    elif key == "cifar10":
        images, labels = _load_cifar(bool(train), base, limit)
    else:
        images, labels = _load_imagenette(bool(train), base, limit)
    logger.debug("loaded %s %s: %s images", key, "train" if train else "test", tuple(images.shape))
    return images, labels


VALIDATION_SEED = 0  # one held-out set for every run and seed, so tuned settings are compared on the same images


def validation_split(images: Tensor, labels: Tensor, fraction: float,
                     seed: int = VALIDATION_SEED) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Split a training set into (train images, train labels, validation images, validation labels): a seeded
    random ``fraction`` of it held out (Appendix F: 20 %), the same for every call with the same seed."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 < fraction < 1.0:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction!r}")
    if len(images) != len(labels):
        raise ValueError(f"images and labels differ in length: {len(images)} vs {len(labels)}")
    held = round(fraction * len(images))
    if not 0 < held < len(images):
        raise ValueError(f"a validation fraction of {fraction} of {len(images)} images leaves an empty split")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed)).to(images.device)
    train_idx, val_idx = order[held:].sort().values, order[:held].sort().values
    return images[train_idx], labels[train_idx], images[val_idx], labels[val_idx]


def require_dataset(name: str, root: str | os.PathLike | None = None) -> None:
    """Check that both splits of a dataset are on disk (one sample of each is read); raise FileNotFoundError
    naming the missing files otherwise, before any experiment starts."""
    for train in (True, False):
        load_split(name, train, root=root, limit=1)


def _epoch_seed(seed: int, epoch: int) -> int:
    """Mix (seed, epoch) into one 63-bit generator seed without collisions between nearby pairs."""
    digest = hashlib.blake2b(f"prunekit:{int(seed)}:{int(epoch)}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)


class TensorBatches:
    """Iterates (x, y) batches of a dataset held as tensors on one device; normalises (and flips) per batch there."""

    def __init__(
        self,
        images: Tensor,
        labels: Tensor,
        info: DatasetInfo,
        batch_size: int,
        *,
        shuffle: bool,
        augment: bool,
        device: str | torch.device = "cpu",
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        """Validate and move uint8 images and int64 labels to the device once; precompute the normalisation."""
        if not isinstance(images, Tensor):
            raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
        if images.dtype != torch.uint8:
            raise TypeError(f"images must be uint8, got dtype {images.dtype}")
        if images.dim() != 4:
            raise ValueError(f"images must be 4-D (N, C, H, W), got shape {tuple(images.shape)}")
        if not isinstance(labels, Tensor):
            raise TypeError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
        if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
            raise TypeError(f"labels must be an integer tensor, got dtype {labels.dtype}")
        if labels.dim() != 1:
            raise ValueError(f"labels must be 1-D, got shape {tuple(labels.shape)}")
        if len(images) != len(labels):
            raise ValueError(f"images and labels differ in length: {len(images)} images vs {len(labels)} labels")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        channels = images.shape[1]
        if channels != len(info.mean) or channels != len(info.std):
            raise ValueError(f"images have {channels} channels but {info.name} normalises {len(info.mean)}")
        self.info = info
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.num_samples = int(len(images))
        self.shuffle = bool(shuffle)
        self.augment = bool(augment)
        self.drop_last = bool(drop_last)
        self.seed = int(seed)
        self.epoch = 0
        self.flip_p = float(info.flip_p) if self.augment else 0.0
        self.images = images.to(self.device).contiguous()
        self.labels = labels.to(self.device, torch.int64)
        mean = torch.tensor(info.mean, dtype=torch.float64).view(1, channels, 1, 1)
        std = torch.tensor(info.std, dtype=torch.float64).view(1, channels, 1, 1)
        # (x / 255 - mean) / std  ==  x * scale + shift
        self._scale = (1.0 / (255.0 * std)).to(self.device, torch.float32)
        self._shift = (-mean / std).to(self.device, torch.float32)

    def __len__(self) -> int:
        """Return the number of batches per epoch."""
        if self.drop_last:
            return self.num_samples // self.batch_size
        return -(-self.num_samples // self.batch_size)

    def __repr__(self) -> str:
        """Summarise the iterator."""
        return (
            f"TensorBatches({self.info.name}, n={self.num_samples}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, augment={self.augment}, device={self.device}, seed={self.seed})"
        )

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch counter used to seed the next iteration's permutation and flips."""
        self.epoch = int(epoch)

    def normalise(self, images: Tensor) -> Tensor:
        """Convert uint8 images (on this device) to normalised float32."""
        return images.to(torch.float32).mul_(self._scale).add_(self._shift)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        """Start an epoch: draw its permutation and flip mask from a generator seeded by (seed, epoch)."""
        epoch = self.epoch
        self.epoch += 1
        order: Tensor | None = None
        flips: Tensor | None = None
        if self.shuffle or self.flip_p > 0.0:
            gen = torch.Generator().manual_seed(_epoch_seed(self.seed, epoch))
            if self.shuffle:
                order = torch.randperm(self.num_samples, generator=gen).to(self.device)
            if self.flip_p > 0.0:
                mask = torch.rand(self.num_samples, generator=gen) < self.flip_p
                flips = mask.to(self.device).view(-1, 1, 1, 1)
        return self._batches(order, flips)

    def _batches(self, order: Tensor | None, flips: Tensor | None) -> Iterator[tuple[Tensor, Tensor]]:
        """Yield the epoch's batches for a given permutation (None: in order) and flip mask (None: no flips)."""
        n, bs = self.num_samples, self.batch_size
        for b in range(len(self)):
            start, stop = b * bs, min((b + 1) * bs, n)
            if order is None:
                xb = self.images[start:stop]
                yb = self.labels[start:stop].clone()
            else:
                idx = order[start:stop]
                xb = self.images.index_select(0, idx)
                yb = self.labels.index_select(0, idx)
            if flips is not None:
                xb = torch.where(flips[start:stop], xb.flip(3), xb)
            yield self.normalise(xb), yb


def make_batches(
    name: str,
    *,
    train: bool,
    batch_size: int | None = None,
    device: str | torch.device = "cpu",
    root: str | os.PathLike | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> TensorBatches:
    """Load a split and wrap it: train shuffles and flips with the dataset's flip_p, test runs in order unaugmented."""
    info = dataset_info(name)
    images, labels = load_split(info.name, train, root=root, limit=limit)
    return TensorBatches(
        images,
        labels,
        info,
        info.batch_size if batch_size is None else batch_size,
        shuffle=bool(train),
        augment=bool(train),
        device=device,
        seed=seed,
    )


# ------------------------------------------------------------------------------------------- scoring data for any model


@dataclass
class ScoringData:
    """Scoring samples (normalised float inputs, labels), what they are and how many classes they have."""

    inputs: Tensor
    labels: Tensor
    source: str
    num_classes: int


def dataset_samples(name: str, samples: int, root: str | os.PathLike | None) -> ScoringData:
    """The first ``samples`` training images of a dataset of the four, normalised as its training loop does."""
    info = dataset_info(name)
    images, labels = load_split(info.name, True, root=root, limit=samples)
    batches = TensorBatches(images, labels, info, samples, shuffle=False, augment=False)
    return ScoringData(batches.normalise(batches.images), batches.labels, info.name, info.num_classes)


def first_conv_channels(model: nn.Module) -> int | None:
    """Input channels of the model's first convolution, or None without one."""
    return next((m.in_channels for m in model.modules() if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d))), None)


def channels_fitted(inputs: Tensor, expected: int | None, source: str) -> Tensor:
    """``inputs`` (N, C, ...) with a single channel repeated to the three a model expects; as they are when they fit."""
    have = inputs.shape[1]
    if expected is None or expected == have:
        return inputs
    if have == 1 and expected == 3:
        return inputs.repeat(1, 3, *([1] * (inputs.dim() - 2)))
    raise ValueError(f"{source} has {have} input channels but the model's first convolution expects {expected}")


def fit_channels(data: ScoringData, model: nn.Module, say: Callable[[str], None]) -> ScoringData:
    """Repeat a one-channel input three times for a model whose first convolution expects three."""
    expected = first_conv_channels(model)
    inputs = channels_fitted(data.inputs, expected, data.source)
    if inputs is data.inputs:
        return data
    say(f"note: {data.source} has 1 channel; repeating it to the {expected} channels the model's first convolution "
        f"expects")
    return ScoringData(inputs, data.labels, data.source, data.num_classes)
