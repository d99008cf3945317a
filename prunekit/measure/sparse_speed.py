"""``prunekit bench --sparse-kernels``: how much epoch time sparse-kernel training saves (issue #16).

One process trains three copies of a network for whole epochs, in alternation: the unpruned network,
the SNIP-it-masked one (masked dense tensors, what every pruning library trains) and the same masked
network with :mod:`prunekit.training.sparse_kernels`'s CSR kernels. The speed-up is best unpruned epoch over
best sparse-kernel epoch; the spread of the per-round ratios shows how noisy the machine was.
:func:`product_timings` times each of a layer's three products dense and sparse, to say which one
limits the speed-up.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn

from prunekit.data import dataset_info, make_batches
from prunekit.measure.interleave import Spread, check_positive_int, interleaved_times, paired_ratios, timed
from prunekit.core.masks import apply_masks, get_masks, weight_sparsity
from prunekit.models import build_model
from prunekit.pruning.before import DEFAULT_SAMPLES, prune
from prunekit.core.schedule import check_sparsity
from prunekit.training.sparse_kernels import CsrPattern, sparse_kernels
from prunekit.training.loop import TrainConfig, make_optimizer, resolve_device, seed_everything, train_epoch

log = logging.getLogger(__name__)

COSTS_SPARSITIES = (0.9, 0.95, 0.98, 0.995)  # the costs chapter's operating points


@dataclass(frozen=True)
class SparseEpochResult:
    """Every timed epoch of the unpruned, masked-dense and sparse-kernel copies of one network."""

    model: str
    dataset: str
    criterion: str
    sparsity: float
    samples: int
    threads: int
    device: str
    sparse_layers: tuple[str, ...]
    dense_s: tuple[float, ...]
    masked_s: tuple[float, ...]
    sparse_s: tuple[float, ...]

    @property
    def speedup(self) -> float:
        """Best unpruned epoch over best sparse-kernel epoch."""
        return min(self.dense_s) / min(self.sparse_s)

    @property
    def speedup_vs_masked(self) -> float:
        """Best masked-dense epoch over best sparse-kernel epoch."""
        return min(self.masked_s) / min(self.sparse_s)

    @property
    def spread(self) -> Spread:
        """Spread of the per-round unpruned / sparse-kernel ratios."""
        return Spread.of(paired_ratios(self.dense_s, self.sparse_s))

    def as_dict(self) -> dict:
        """Measurements plus the derived ratios."""
        return {**asdict(self), "speedup": self.speedup, "speedup_vs_masked": self.speedup_vs_masked,
                "spread": asdict(self.spread)}


def _masked_twin(model_name: str, info, masked: nn.Module, seed: int, device: torch.device) -> nn.Module:
    """A second copy of ``masked``: the same initialisation (same seed) and the same masks."""
    seed_everything(seed)
    twin = build_model(model_name, info.input_shape, info.num_classes).to(device)
    apply_masks(twin, get_masks(masked))
    return twin


def snip_it_masked(model_name: str, dataset: str, sparsity: float, criterion: str = "snip-it",
                   limit: int | None = None, device: torch.device | str = "cpu", seed: int = 0) -> nn.Module:
    """A freshly initialised network pruned by ``criterion`` (scoring budget capped by the data it may use)."""
    info = dataset_info(dataset)
    seed_everything(seed)
    model = build_model(model_name, info.input_shape, info.num_classes).to(device)
    scoring = make_batches(dataset, train=True, device=device, limit=limit, seed=seed + 1)
    prune(model, criterion, sparsity, data=scoring, samples=min(DEFAULT_SAMPLES, scoring.num_samples), seed=seed)
    return model


def sparse_epoch_speedup(model_name: str = "mlp5", dataset: str = "mnist", sparsity: float = 0.98,
                         criterion: str = "snip-it", repeats: int = 3, limit: int | None = None,
                         device: str | None = "cpu", seed: int = 0, warmup: int = 1) -> SparseEpochResult:
    """Time unpruned, masked-dense and sparse-kernel epochs of one network, interleaved in one process."""
    kappa = check_sparsity(sparsity, "sparsity")
    check_positive_int(repeats, "repeats")
    dev = resolve_device(device)
    info = dataset_info(dataset)
    batches = make_batches(dataset, train=True, device=dev, limit=limit, seed=seed)
    seed_everything(seed)
    dense = build_model(model_name, info.input_shape, info.num_classes).to(dev)
    masked = snip_it_masked(model_name, dataset, kappa, criterion, limit, dev, seed)
    sparse = _masked_twin(model_name, info, masked, seed, dev)
    config = TrainConfig(epochs=1, progress=False)
    with contextlib.ExitStack() as stack:
        names = stack.enter_context(sparse_kernels(sparse))
        tasks = []
        for net in (dense, masked, sparse):
            optimizer = make_optimizer(net, config)
            tasks.append(timed(lambda n=net, o=optimizer: train_epoch(n, batches, o, config, dev), dev))
        dense_s, masked_s, sparse_s = interleaved_times(tasks, repeats, warmup)
    log.info("%s at %.1f%% (%s): sparse kernels on %s", model_name, 100 * weight_sparsity(masked), criterion, names)
    return SparseEpochResult(model_name, dataset, criterion, kappa, batches.num_samples, torch.get_num_threads(),
                             str(dev), tuple(names), tuple(dense_s), tuple(masked_s), tuple(sparse_s))


def sparse_speedup_curve(sparsities: Sequence[float] = COSTS_SPARSITIES, **kwargs) -> list[SparseEpochResult]:
    """:func:`sparse_epoch_speedup` at each sparsity (the costs chapter's training-time column)."""
    return [sparse_epoch_speedup(sparsity=s, **kwargs) for s in sparsities]


@dataclass(frozen=True)
class ProductTiming:
    """Best seconds of one layer's products, dense GEMM against the CSR kernel (per batch)."""

    layer: str
    shape: tuple[int, int]
    density: float
    product: str
    dense_s: float
    sparse_s: float

    @property
    def speedup(self) -> float:
        """Dense seconds over sparse seconds."""
        return self.dense_s / self.sparse_s


def _products(weight: torch.Tensor, pattern: CsrPattern, values: torch.Tensor, x: torch.Tensor,
              grad: torch.Tensor) -> dict[str, tuple]:
    """Each product as (dense call, sparse call); the forward in both CSR layouts."""
    w_csr, wt_csr = pattern.weight(values), pattern.weight_t(values)
    grad_t = grad.t().contiguous()
    return {
        "forward W_csr @ x^T": (lambda: x @ weight.t(), lambda: torch.sparse.mm(w_csr, x.t().contiguous()).t()),
        "forward x @ (W^T)_csr": (lambda: x @ weight.t(), lambda: x @ wt_csr),
        "input grad (W^T)_csr @ dy^T": (lambda: grad @ weight, lambda: torch.sparse.mm(wt_csr, grad_t)),
        "weight grad sampled_addmm": (lambda: grad_t @ x,
                                      lambda: torch.sparse.sampled_addmm(w_csr, grad_t, x, beta=0.0)),
    }


def product_timings(model: nn.Module, batch_size: int = 512, repeats: int = 5) -> list[ProductTiming]:
    """Per sparse masked Linear layer of ``model``: each product's best time, dense and CSR, interleaved."""
    check_positive_int(batch_size, "batch_size")
    rows = []
    with sparse_kernels(model) as names:
        for name in names:
            layer = model.get_submodule(name)
            weight = layer.dense_weight()
            x = torch.randn(batch_size, layer.in_features, device=weight.device)
            grad = torch.randn(batch_size, layer.out_features, device=weight.device)
            for product, (dense_fn, sparse_fn) in _products(weight, layer.pattern, layer.values.detach(), x,
                                                            grad).items():
                dense_t, sparse_t = interleaved_times([timed(dense_fn, weight.device), timed(sparse_fn, weight.device)],
                                                      repeats)
                rows.append(ProductTiming(name, tuple(weight.shape), layer.pattern.nnz / weight.numel(), product,
                                          min(dense_t), min(sparse_t)))
    return rows


def format_result(result: SparseEpochResult) -> str:
    """The epoch times, the spread and the headline line ``sparse-kernel epoch speed-up over dense``."""
    return "\n".join([
        f"{result.model} on {result.dataset}, {result.criterion} {result.sparsity:.1%}, "
        f"{result.samples} samples/epoch, device {result.device}, {result.threads} threads, "
        f"best of {len(result.dense_s)} interleaved epochs",
        f"  sparse-kernel layers      : {', '.join(result.sparse_layers) or 'none'}",
        f"  unpruned epoch            : {min(result.dense_s):8.3f} s",
        f"  masked dense epoch        : {min(result.masked_s):8.3f} s",
        f"  sparse-kernel epoch       : {min(result.sparse_s):8.3f} s  "
        f"({result.speedup_vs_masked:.2f}x over masked dense)",
        f"  per-round ratio min / median / max: {result.spread.format()}",
        f"sparse-kernel epoch speed-up over dense: {result.speedup:.2f}×",
    ])


def format_products(rows: Sequence[ProductTiming]) -> str:
    """One line per layer and product: dense and CSR milliseconds and their ratio."""
    lines = ["per-product times (ms per batch, best of repeats): dense GEMM vs CSR kernel"]
    for r in rows:
        lines.append(f"  {r.layer:<16} {str(r.shape):<12} {r.density:6.2%}  {r.product:<30} "
                     f"{1e3 * r.dense_s:8.3f} {1e3 * r.sparse_s:8.3f}  {r.speedup:6.2f}x")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    """``prunekit bench --sparse-kernels``: the speed-up at ``--sparsity`` (or each of ``--sparsities``)."""
    levels = args.sparsities or [args.sparsity]
    results = sparse_speedup_curve(levels, model_name=args.model, dataset=args.dataset, repeats=args.repeats,
                                   limit=args.limit, device=args.device or "cpu")
    for result in results:
        sys.stdout.write(format_result(result) + "\n")
    if args.products:
        model = snip_it_masked(args.model, args.dataset, levels[-1], limit=args.limit)
        sys.stdout.write(format_products(product_timings(model, repeats=max(args.repeats, 10))) + "\n")
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as fh:
            json.dump([r.as_dict() for r in results], fh, indent=2)
    return 0
