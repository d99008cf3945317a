"""Labels against the model's outputs: a clear error at the public boundary instead of PyTorch's
``IndexError: Target 12 is out of bounds`` from deep inside the loss.

The labels are read without drawing a batch wherever the source holds them (``TensorBatches``, an
``(x, y)`` tuple, a list of batches, a DataLoader over a ``TensorDataset``/torchvision dataset), so a
check changes no shuffle and no random state. A DataLoader over any other dataset gives its first
batch with the random state restored; one-shot iterators and other iterables are not read at all.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from prunekit.data import TensorBatches
from prunekit.core.masks import prunable_layers

IGNORE_INDEX = -100  # cross-entropy's default ignore_index: such targets count for nothing


def output_width(model: nn.Module) -> int:
    """The number of outputs: the width of the model's last Linear/Conv layer (its output layer)."""
    name, last = list(prunable_layers(model).items())[-1]
    width = getattr(last, "out_features", None) or getattr(last, "out_channels", None)
    if not isinstance(width, int):
        raise TypeError(f"cannot tell the output width of {type(model).__name__}'s last layer {name!r}")
    return width


def _is_pair(data: object) -> bool:
    """Whether ``data`` is an ``(inputs, targets)`` pair of tensors (the rule of ``prunekit.core.sampling``)."""
    return isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, Tensor) for t in data)


def _dataset_labels(dataset: object) -> Tensor | None:
    """All labels of a dataset that holds them as a whole (TensorDataset, ``.targets``, a Subset of those)."""
    if isinstance(dataset, Subset):
        parent = _dataset_labels(dataset.dataset)
        return None if parent is None else parent[torch.as_tensor(dataset.indices, dtype=torch.long)]
    if isinstance(dataset, TensorDataset) and len(dataset.tensors) >= 2:
        return dataset.tensors[1]
    targets = getattr(dataset, "targets", None)
    if isinstance(targets, (Tensor, list)) and len(targets) > 0:
        return torch.as_tensor(targets)
    return None


def _first_batch_labels(loader: DataLoader) -> Tensor | None:
    """The labels of a DataLoader's first batch, leaving every random state the loader draws from as it was."""
    generators = [g for g in (loader.generator, getattr(loader.sampler, "generator", None)) if g is not None]
    states = [g.get_state() for g in generators]
    with torch.random.fork_rng(devices=[]):
        batch = next(iter(loader), None)
    for generator, state in zip(generators, states):
        generator.set_state(state)
    return batch[1] if isinstance(batch, (tuple, list)) and len(batch) >= 2 else None


def peek_labels(data: object) -> Tensor | None:
    """Labels of ``data`` read without consuming it; None where they cannot be read so."""
    if isinstance(data, TensorBatches):
        return data.labels
    if _is_pair(data):
        return data[1]
    if isinstance(data, (tuple, list)) and data and isinstance(data[0], (tuple, list)) and len(data[0]) >= 2:
        return data[0][1]  # a list of batches: the first one
    if isinstance(data, DataLoader):
        labels = _dataset_labels(data.dataset)
        return labels if labels is not None else _first_batch_labels(data)
    if isinstance(data, Dataset):
        return _dataset_labels(data)
    return None


def _label_range(labels: Tensor) -> tuple[int, int] | None:
    """(smallest, largest) class label, ignoring cross-entropy's ignore_index; None for non-class targets."""
    if not isinstance(labels, Tensor) or labels.dtype.is_floating_point or labels.dtype.is_complex:
        return None
    used = labels[labels != IGNORE_INDEX]
    if used.numel() == 0:
        return None
    return int(used.min()), int(used.max())


def check_labels(model: nn.Module, *sources: object, loss_fn: object = None) -> None:
    """Raise ValueError if a source's class labels fall outside ``0 .. outputs - 1`` of ``model``.

    Only the default cross-entropy indexes the outputs by label, so a custom ``loss_fn`` skips the check.
    """
    if loss_fn is not None:
        return
    for data in sources:
        found = _label_range(peek_labels(data)) if data is not None else None
        if found is None:
            continue
        width = output_width(model)
        low, high = found
        if low < 0 or high >= width:
            raise ValueError(
                f"labels run from {low} to {high}, but {type(model).__name__} has {width} outputs, so the labels "
                f"must lie in 0..{width - 1}; map the labels to 0..{width - 1} or build the model with "
                f"{max(high + 1, width)} outputs"
            )


__all__ = ["check_labels", "output_width", "peek_labels"]
