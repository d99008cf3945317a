"""Fixed sample budgets drawn from any batch source, for criteria that score on data."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch

Batch = tuple[torch.Tensor, torch.Tensor]


def _as_batches(data: object, batch_size: int) -> Iterable[Batch]:
    """Turn a ``(inputs, targets)`` pair of tensors into batches; pass any other iterable through."""
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(t, torch.Tensor) for t in data):
        inputs, targets = data
        if len(inputs) != len(targets):
            raise ValueError(f"inputs ({len(inputs)}) and targets ({len(targets)}) differ in length")
        return [(inputs[i : i + batch_size], targets[i : i + batch_size]) for i in range(0, len(inputs), batch_size)]
    if isinstance(data, torch.utils.data.Dataset) and not isinstance(data, torch.utils.data.IterableDataset):
        return torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False)
    if isinstance(data, Iterable):
        return data
    raise TypeError(
        "data must be an iterable of (inputs, targets) batches (a DataLoader, prunekit TensorBatches, "
        f"a list), a map-style Dataset, or an (inputs, targets) tuple of tensors; got {type(data).__name__}"
    )


class SampleStream:
    """Draws exactly ``samples`` samples per call from a data source, cycling it when exhausted."""

    def __init__(self, data: object, samples: int, batch_size: int = 512) -> None:
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise ValueError(f"samples must be a positive integer, got {samples!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.samples = samples
        self.batch_size = batch_size
        self._source = _as_batches(data, batch_size)
        self._iterator: Iterator[Batch] | None = None
        self._pass_count = 0

    def _next_batch(self) -> Batch:
        if self._iterator is None:
            self._iterator = iter(self._source)
        try:
            return self._split(next(self._iterator))
        except StopIteration:
            if self._pass_count < self.samples:
                raise ValueError(
                    f"the data source holds only {self._pass_count} samples, fewer than the scoring "
                    f"budget samples={self.samples}; pass more data or a smaller `samples`"
                ) from None
            self._iterator, self._pass_count = iter(self._source), 0
            try:
                return self._split(next(self._iterator))
            except StopIteration:
                raise ValueError(
                    "the data source is exhausted and cannot be iterated again (a generator?); pass a "
                    "re-iterable source such as a DataLoader, prunekit TensorBatches or a list"
                ) from None

    def _split(self, batch: object) -> Batch:
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TypeError(f"each batch must be an (inputs, targets) pair, got {type(batch).__name__}")
        inputs, targets = batch[0], batch[1]
        if len(inputs) != len(targets):
            raise ValueError(f"a batch has {len(inputs)} inputs but {len(targets)} targets")
        self._pass_count += len(inputs)
        return inputs, targets

    def draw(self) -> list[Batch]:
        """Return chunks of at most ``batch_size`` samples that total exactly ``samples``."""
        chunks: list[Batch] = []
        missing = self.samples
        while missing > 0:
            inputs, targets = self._next_batch()
            for start in range(0, min(len(inputs), missing), self.batch_size):
                stop = min(start + self.batch_size, missing)
                chunks.append((inputs[start:stop], targets[start:stop]))
            missing -= min(len(inputs), missing)
        return chunks
