"""Appendix-H measurements of a pruned network, as reductions with respect to the unpruned one.

Every quantity is measured on the module as it is, with no knowledge of masks, so a physically
smaller network (:func:`prunekit.pruning.shrink`) shows its savings and a masked network shows
the dense work it still does:

- parameters: ``Σ numel`` of every parameter (a masked network still stores all of them);
- FLOPs per sample: counted by :class:`torch.utils.flop_counter.FlopCounterMode` on a real forward
  pass in eval mode. Its convention is **2 FLOPs per multiply-accumulate** of matmuls and
  convolutions (bias additions, BatchNorm, activations and pooling are not counted), the same as
  :func:`prunekit.measure.metrics.inference_flops`. On a shrunk Linear/Conv network both give the same
  number; on a *masked* network FlopCounterMode counts the dense work, while the mask-based
  estimate ``metrics.inference_flops(masked)`` (kept in :attr:`NetworkCost.mask_flops`) counts only
  kept weights: it drops a pruned node's own row but still counts the next layer's weights that
  read the (zero) node, so it lies between the shrunk and the dense count;
- disk: the CSR estimate of Appendix H (32-bit nonzero values, indices at 1/16 of that precision)
  over the nonzero entries of every Linear/Conv weight;
- feature-map elements per sample: ``Σ numel`` of every leaf module's output in one forward pass,
  a proxy for the activation memory behind Table 1's RAM footprint and for the memory-bound work
  (BatchNorm, activations, pooling) that scales with the number of channels, not with FLOPs;
- inference time: median wall time of a forward pass of one batch (512 by default), eval mode,
  ``torch.inference_mode``, after warm-up;
- memory at the start of training (Figure 8), device-independent: :func:`training_memory_bytes` =
  the bytes of the parameters, their gradients and Adam's two moments, plus the bytes of every tensor
  autograd saves for the backward pass of one training-mode forward pass of a batch (counted once per
  storage, parameters and buffers excluded; a masked layer's ``weight_orig·mask`` product is such a
  tensor, so single-weight masks cost memory rather than save it); a process's RSS on CPU mixes in
  everything else the process holds, and CUDA's peak counts allocator slack;
- node-aware FLOPs of a masked network (:func:`node_flops`): the FLOPs of the shrunk network it
  equals, counted without shrinking it (a weight counts only when its node and its input are alive).
"""

from __future__ import annotations

import logging
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from prunekit.measure.interleave import interleaved_times
from prunekit.core.masks import PRUNABLE_TYPES, current_mask
from prunekit.measure.metrics import csr_size_bits, inference_flops
from prunekit.pruning.before import DEFAULT_BATCH_SIZE
from prunekit.core.timing import model_device, timed_call
from prunekit.training.loop import eval_mode

log = logging.getLogger(__name__)



def _check_positive(value: object, name: str) -> int:
    """Return ``value`` if it is a positive int, else raise ValueError naming it."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def parameter_count(model: nn.Module) -> int:
    """Number of stored parameter entries: ``Σ numel`` over ``model.parameters()``."""
    return sum(p.numel() for p in model.parameters())


def counted_flops(model: nn.Module, inputs: torch.Tensor) -> int:
    """FLOPs that FlopCounterMode counts for one eval-mode forward pass of ``inputs`` (2 per MAC)."""
    with eval_mode(model), torch.inference_mode(), FlopCounterMode(display=False) as counter:
        model(inputs)
    return int(counter.get_total_flops())


def flops_per_sample(model: nn.Module, input_shape: Sequence[int]) -> int:
    """FlopCounterMode FLOPs of one forward pass of one sample of shape ``input_shape``."""
    return counted_flops(model, torch.zeros(1, *input_shape, device=model_device(model)))


def activation_count(model: nn.Module, input_shape: Sequence[int]) -> int:
    """Feature-map elements of one sample: ``Σ numel`` of every leaf module's tensor output."""
    total = 0

    def count(_module: nn.Module, _inputs: object, output: object) -> None:
        nonlocal total
        if isinstance(output, torch.Tensor):
            total += output.numel()

    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    hooks = [m.register_forward_hook(count) for m in leaves]
    try:
        with eval_mode(model), torch.inference_mode():
            model(torch.zeros(1, *input_shape, device=model_device(model)))
    finally:
        for hook in hooks:
            hook.remove()
    return total


ADAM_STATE_TENSORS = 2  # Adam keeps two moments (exp_avg, exp_avg_sq) per parameter


def _storage_key(tensor: torch.Tensor) -> tuple[str, int]:
    """Identity of the memory a tensor lives in (views of one tensor share it)."""
    return tensor.device.type, tensor.untyped_storage().data_ptr()


def saved_activation_bytes(model: nn.Module, inputs: torch.Tensor) -> int:
    """Bytes of the tensors autograd saves for backward in one forward pass of ``inputs`` (each storage once,
    the model's parameters and buffers excluded); the model's mode is used as it is."""
    owned = {_storage_key(t) for t in (*model.parameters(), *model.buffers())}
    seen: dict[tuple[str, int], int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        key = _storage_key(tensor)
        if key not in owned:
            seen[key] = max(seen.get(key, 0), tensor.untyped_storage().nbytes())
        return tensor

    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(inputs)
    return sum(seen.values())


def parameter_state_bytes(model: nn.Module) -> int:
    """Bytes of every parameter, its gradient and Adam's two moments: ``(2 + 2)·Σ numel·itemsize``."""
    per_copy = sum(p.numel() * p.element_size() for p in model.parameters())
    return (2 + ADAM_STATE_TENSORS) * per_copy


def training_memory_bytes(model: nn.Module, input_shape: Sequence[int], batch_size: int, seed: int = 0) -> int:
    """Memory one Adam training step of ``batch_size`` samples needs: parameters, gradients, Adam state and the
    activations saved for backward (training mode). The model, its BatchNorm statistics and the RNG are left as
    they were."""
    _check_positive(batch_size, "batch_size")
    inputs = random_batch(input_shape, batch_size, model_device(model), seed)
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    devices = [inputs.device] if inputs.device.type == "cuda" else []
    was_training = model.training
    try:
        with torch.random.fork_rng(devices=devices):
            model.train()
            activations = saved_activation_bytes(model, inputs)
    finally:
        model.train(was_training)
        with torch.no_grad():
            for name, buffer in model.named_buffers():
                buffer.copy_(buffers[name])
    return parameter_state_bytes(model) + activations


def _live_channels(tensor: torch.Tensor, dim: int) -> torch.Tensor:
    """Flags per channel of ``tensor`` along ``dim``: does any entry of it differ from zero?"""
    return tensor.detach().movedim(dim, 0).reshape(tensor.shape[dim], -1).ne(0).any(1)


def node_flops(model: nn.Module, input_shape: Sequence[int], seed: int = 0) -> int:
    """Inference FLOPs per sample of a node-masked network as if shrunk: every Linear/Conv counts 2 FLOPs per
    kept weight whose node (row) is alive and whose input feature / channel is not identically zero, per output
    position. A node is alive when its weight-mask row is nonzero; an input is dead when it is exactly zero for a
    random sample (what a pruned node feeds forward)."""
    counts: dict[str, int] = {}
    hooks = []

    def hook_for(name: str):
        def count(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            mask = current_mask(module) != 0
            rows = mask.reshape(mask.shape[0], -1).any(1)
            live_in = _live_channels(inputs[0], inputs[0].dim() - 1 if isinstance(module, nn.Linear) else 1)
            if not isinstance(module, nn.Linear) and getattr(module, "groups", 1) != 1:
                live_in = torch.ones(mask.shape[1], dtype=torch.bool, device=mask.device)  # grouped: keep columns
            rest = [1] * (mask.dim() - 2)
            kept = mask & rows.reshape(-1, 1, *rest) & live_in.reshape(1, -1, *rest)
            if isinstance(module, nn.Linear):
                positions = output.numel() // output.shape[-1]
            else:
                positions = math.prod(output.shape[2:]) * output.shape[0]
            counts[name] = int(kept.sum()) * positions
        return count

    for name, module in model.named_modules():
        if isinstance(module, PRUNABLE_TYPES):
            hooks.append(module.register_forward_hook(hook_for(name)))
    try:
        with eval_mode(model), torch.no_grad():
            model(random_batch(input_shape, 1, model_device(model), seed))
    finally:
        for handle in hooks:
            handle.remove()
    return 2 * sum(counts.values())


def batch_seconds(model: nn.Module, inputs: torch.Tensor, repeats: int = 5, warmup: int = 1) -> float:
    """Median wall seconds of an eval-mode, inference-mode forward pass of ``inputs`` after ``warmup`` passes."""
    _check_positive(repeats, "repeats")
    if not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be an int >= 0, got {warmup!r}")
    with eval_mode(model), torch.inference_mode():
        for _ in range(warmup):
            model(inputs)
        times = [timed_call(lambda: model(inputs), inputs.device) for _ in range(repeats)]
    return statistics.median(times)


def interleaved_medians(tasks: Sequence[Callable[[], float]], repeats: int, warmup: int = 2) -> list[float]:
    """Median of each timing task (a call returning its seconds) over ``repeats`` rounds that run every task once,
    in turn, so a load change on the machine hits all of them alike; ``warmup`` untimed rounds come first."""
    return [statistics.median(record) for record in interleaved_times(tasks, repeats, warmup)]


def random_batch(input_shape: Sequence[int], batch_size: int, device: torch.device | str = "cpu",
                 seed: int = 0) -> torch.Tensor:
    """A reproducible standard-normal batch of ``batch_size`` samples of ``input_shape``."""
    _check_positive(batch_size, "batch_size")
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch_size, *input_shape, generator=generator).to(device)


def inference_seconds(model: nn.Module, input_shape: Sequence[int], batch_size: int = DEFAULT_BATCH_SIZE,
                      repeats: int = 5, warmup: int = 1) -> float:
    """Median seconds of one eval-mode forward pass of a random batch of ``batch_size`` samples."""
    inputs = random_batch(input_shape, batch_size, model_device(model))
    return batch_seconds(model, inputs, repeats, warmup)


@dataclass(frozen=True)
class NetworkCost:
    """Absolute Appendix-H quantities of one network (FLOPs per sample, seconds per batch)."""

    parameters: int
    flops: int
    mask_flops: int
    activations: int
    csr_bits: float
    seconds: float


def network_cost(model: nn.Module, input_shape: Sequence[int], batch_size: int = DEFAULT_BATCH_SIZE,
                 repeats: int = 5, warmup: int = 1) -> NetworkCost:
    """Measure parameters, counted and mask-estimated FLOPs, CSR size and batch inference time."""
    return NetworkCost(
        parameters=parameter_count(model),
        flops=flops_per_sample(model, input_shape),
        mask_flops=inference_flops(model, input_shape, sparse=True),
        activations=activation_count(model, input_shape),
        csr_bits=csr_size_bits(model),
        seconds=inference_seconds(model, input_shape, batch_size, repeats, warmup),
    )


def _ratio(dense: float, pruned: float) -> float:
    """dense / pruned, infinite when the pruned quantity is zero."""
    return dense / pruned if pruned else float("inf")


@dataclass(frozen=True)
class StructuredReport:
    """Costs of the unpruned and the pruned network and their reductions (dense / pruned)."""

    dense: NetworkCost
    pruned: NetworkCost
    batch_size: int
    threads: int

    @property
    def parameter_reduction(self) -> float:
        """Stored parameters, dense / pruned."""
        return _ratio(self.dense.parameters, self.pruned.parameters)

    @property
    def flop_reduction(self) -> float:
        """FlopCounterMode inference FLOPs, dense / pruned (1 for a masked, unshrunk network)."""
        return _ratio(self.dense.flops, self.pruned.flops)

    @property
    def mask_flop_reduction(self) -> float:
        """Mask-based FLOP estimate (``metrics.inference_flops``), dense / pruned."""
        return _ratio(self.dense.mask_flops, self.pruned.mask_flops)

    @property
    def activation_reduction(self) -> float:
        """Feature-map elements per sample, dense / pruned."""
        return _ratio(self.dense.activations, self.pruned.activations)

    @property
    def disk_reduction(self) -> float:
        """CSR disk size, dense / pruned."""
        return _ratio(self.dense.csr_bits, self.pruned.csr_bits)

    @property
    def time_reduction(self) -> float:
        """Measured inference seconds per batch, dense / pruned (the speed-up)."""
        return _ratio(self.dense.seconds, self.pruned.seconds)

    def as_dict(self) -> dict:
        """Flat dict: ``dense_*`` and ``pruned_*`` absolute values plus every ``*_reduction``."""
        flat = {f"dense_{k}": v for k, v in asdict(self.dense).items()}
        flat |= {f"pruned_{k}": v for k, v in asdict(self.pruned).items()}
        flat |= {"batch_size": self.batch_size, "threads": self.threads}
        for name in ("parameter", "flop", "mask_flop", "activation", "disk", "time"):
            flat[f"{name}_reduction"] = getattr(self, f"{name}_reduction")
        return flat


def structured_report(dense: nn.Module, shrunk: nn.Module, input_shape: Sequence[int],
                      batch_size: int = DEFAULT_BATCH_SIZE, repeats: int = 5, warmup: int = 1) -> StructuredReport:
    """Appendix-H costs of ``dense`` and ``shrunk`` (or masked) and their reductions."""
    _check_positive(batch_size, "batch_size")
    report = StructuredReport(
        dense=network_cost(dense, input_shape, batch_size, repeats, warmup),
        pruned=network_cost(shrunk, input_shape, batch_size, repeats, warmup),
        batch_size=batch_size,
        threads=torch.get_num_threads(),
    )
    log.info("structured report: %.2fx FLOPs, %.2fx parameters, %.2fx disk, %.2fx time", report.flop_reduction,
             report.parameter_reduction, report.disk_reduction, report.time_reduction)
    return report


__all__ = [
    "ADAM_STATE_TENSORS",
    "NetworkCost",
    "node_flops",
    "parameter_state_bytes",
    "saved_activation_bytes",
    "training_memory_bytes",
    "activation_count",
    "StructuredReport",
    "batch_seconds",
    "counted_flops",
    "flops_per_sample",
    "inference_seconds",
    "network_cost",
    "parameter_count",
    "random_batch",
    "structured_report",
]
