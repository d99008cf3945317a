"""Benchmark (issue #5): a shrunk network's measured inference speed-up against its FLOP reduction.

``python -m prunekit.measure.shrink_speed --model vgg16 --model conv6`` builds each paper network for
CIFAR10 shapes (3×32×32, 10 classes), node-prunes it to 90 % (structured Random by default: it
needs no data and, being uniform in expectation, keeps every layer about equally thin; ``snap-it``
scores on synthetic Gaussian inputs with random labels, which is enough to exercise the pipeline
but not a trained ranking), shrinks it physically and times an eval-mode forward pass of a batch of
512 for both networks. The efficiency ``speed-up / FLOP reduction`` is 1 when time falls exactly in
proportion to FLOPs; the issue's target is ≥ 0.8.

Three options probe why a thin network runs below the FLOP-proportional ideal:

- ``channel_multiple=m`` un-prunes, per hidden layer, the best pruned nodes (largest L1 norm of
  their original weight row, a data-free proxy) until the kept count is a multiple of ``m``, so the
  shrunk layers have vector-friendly widths; the result is reported against its own, smaller FLOP
  reduction;
- ``fold_batchnorm`` folds every eval-mode BatchNorm into the preceding Conv/Linear (both networks),
  removing one memory-bound pass per layer, which weighs more in a thin network;
- ``channels_last`` runs both networks in NHWC layout, sparing oneDNN the NCHW ↔ blocked reorders
  around every convolution (memory-bound work that scales with channels, not FLOPs).

Why the ideal is out of reach at high node sparsity: removing a fraction s of the nodes of
consecutive layers cuts a hidden convolution's FLOPs by about 1/(1−s)² but its feature maps, and
so every memory-bound pass (BatchNorm, activation, pooling, layout reorders), only by 1/(1−s).
The result therefore also reports the feature-map reduction, the speed-up of a purely
memory-bound network; measured speed-ups fall between the two.

Timing: dense and shrunk forward passes alternate (after a warm-up each), so a load change on the
machine hits both; each network's time is the median of its ``repeats``.
"""

from __future__ import annotations

import argparse
import copy
import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.fx.experimental.optimization import fuse

from prunekit.models import available_models, build_model
from prunekit.core.schedule import check_sparsity
from prunekit.measure.network import (
    activation_count,
    batch_seconds,
    flops_per_sample,
    interleaved_medians,
    parameter_count,
    random_batch,
)
from prunekit.core.node_masks import check_channel_multiple, pruned_node_sparsity, round_kept_channels
from prunekit.pruning.nodes import prune_nodes
from prunekit.pruning.shrink import detach_masked_attributes, shrink

log = logging.getLogger(__name__)

CIFAR10_SHAPE = (3, 32, 32)
SCORING_SAMPLES = 512  # synthetic samples per snap-it round: enough to rank, cheap on a CPU
EFFICIENCY_TARGET = 0.8


@dataclass(frozen=True)
class SpeedupResult:
    """FLOPs and measured batch seconds of an unpruned network and its shrunk copy."""

    model: str
    criterion: str
    target_sparsity: float
    node_sparsity: float
    channel_multiple: int
    fold_batchnorm: bool
    channels_last: bool
    batch_size: int
    repeats: int
    threads: int
    device: str
    dense_parameters: int
    shrunk_parameters: int
    dense_flops: int
    shrunk_flops: int
    dense_activations: int
    shrunk_activations: int
    dense_seconds: float
    shrunk_seconds: float

    @property
    def flop_reduction(self) -> float:
        """Inference FLOPs per sample, dense / shrunk (FlopCounterMode)."""
        return self.dense_flops / self.shrunk_flops

    @property
    def activation_reduction(self) -> float:
        """Feature-map elements per sample, dense / shrunk: what memory-bound passes scale with."""
        return self.dense_activations / self.shrunk_activations

    @property
    def speedup(self) -> float:
        """Measured batch inference seconds, dense / shrunk."""
        return self.dense_seconds / self.shrunk_seconds

    @property
    def efficiency(self) -> float:
        """Measured speed-up as a fraction of the FLOP-proportional ideal (target ≥ 0.8)."""
        return self.speedup / self.flop_reduction

    def as_dict(self) -> dict:
        """Measurements plus the derived ratios."""
        return {**asdict(self), "flop_reduction": self.flop_reduction,
                "activation_reduction": self.activation_reduction, "speedup": self.speedup,
                "efficiency": self.efficiency}


def _check_model_name(name: str) -> str:
    """Return the lower-case model name, or raise ValueError listing the accepted ones."""
    key = name.lower() if isinstance(name, str) else None
    if key not in available_models():
        raise ValueError(f"unknown model {name!r}; accepted models: {', '.join(available_models())}")
    return key


def _check_run(batch_size: object, repeats: object, input_shape: Sequence[int], channels_last: bool) -> None:
    """Raise ValueError for a non-positive batch size or repeat count, or channels-last on non-images."""
    for name, value in (("batch_size", batch_size), ("repeats", repeats)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if channels_last and len(input_shape) != 3:
        raise ValueError(f"channels_last needs image inputs (C, H, W), got input_shape {tuple(input_shape)!r}")


def _resolve_device(device: str | torch.device | None) -> torch.device:
    """The issue's benchmark is on the CPU: ``None`` means CPU; CUDA must be available if named."""
    resolved = torch.device("cpu" if device is None else device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available; use 'cpu'")
    return resolved


def synthetic_data(input_shape: Sequence[int], num_classes: int, samples: int = SCORING_SAMPLES,
                   seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian inputs and uniform random labels for data-driven criteria in a benchmark."""
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(samples, *input_shape, generator=generator)
    return inputs, torch.randint(0, num_classes, (samples,), generator=generator)


def node_prune(model: nn.Module, criterion: str, node_sparsity: float, input_shape: Sequence[int],
               num_classes: int, seed: int = 0) -> nn.Module:
    """Node-prune ``model`` in place with ``criterion``, scoring data-driven ones on synthetic data."""
    data = synthetic_data(input_shape, num_classes, seed=seed)
    prune_nodes(model, criterion, node_sparsity, data, samples=SCORING_SAMPLES, batch_size=SCORING_SAMPLES,
                seed=seed)
    return model


def fold_batchnorms(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` with every BatchNorm folded into its preceding Conv/Linear."""
    return fuse(copy.deepcopy(model).eval())


def paired_seconds(models: Sequence[nn.Module], inputs: torch.Tensor, repeats: int) -> list[float]:
    """Median seconds per model of a forward pass of ``inputs``, the models' runs interleaved."""
    return interleaved_medians([lambda m=m: batch_seconds(m, inputs, repeats=1, warmup=0) for m in models], repeats)


def _variant(masked: nn.Module, multiple: int, example: torch.Tensor) -> tuple[nn.Module, float]:
    """The shrunk copy of ``masked`` (kept channels first rounded up to ``multiple`` if > 1) and its node sparsity."""
    if multiple > 1:
        detach_masked_attributes(masked)  # a masked tensor with autograd history cannot be deep-copied
        masked = copy.deepcopy(masked)
        round_kept_channels(masked, multiple)
    return shrink(masked, example), pruned_node_sparsity(masked)


def _unpruned(model: str | nn.Module, input_shape: Sequence[int], num_classes: int, seed: int) -> tuple[str, nn.Module]:
    """The benchmark's unpruned network: a paper model built by name, or a copy of a given module."""
    if isinstance(model, nn.Module):
        return type(model).__name__.lower(), copy.deepcopy(model).eval()
    key = _check_model_name(model)
    torch.manual_seed(seed)
    return key, build_model(key, tuple(input_shape), num_classes).eval()


def _prepared(net: nn.Module, device: torch.device, fold_batchnorm: bool, channels_last: bool) -> nn.Module:
    """``net`` in eval mode on ``device``, BatchNorm folded and/or in channels-last layout if asked."""
    net = fold_batchnorms(net) if fold_batchnorm else net
    net = net.to(device).eval()
    return net.to(memory_format=torch.channels_last) if channels_last else net


def shrink_speedups(model: str | nn.Module, node_sparsity: float = 0.9, input_shape: Sequence[int] = CIFAR10_SHAPE,
                    num_classes: int = 10, batch_size: int = 512, criterion: str = "random", repeats: int = 5,
                    device: str | torch.device | None = None, *, channel_multiples: Sequence[int] = (1,),
                    fold_batchnorm: bool = False, channels_last: bool = False, seed: int = 0) -> list[SpeedupResult]:
    """Speed-up vs FLOP reduction of one pruned network, shrunk once per channel multiple (1 = as pruned).

    ``model`` is a paper network's name (built with :func:`build_model`) or any unpruned module.
    Folding and layout options apply to the unpruned and the shrunk networks alike.
    """
    kappa = check_sparsity(node_sparsity, "node_sparsity")
    multiples = [check_channel_multiple(m) for m in channel_multiples]
    _check_run(batch_size, repeats, input_shape, channels_last)
    dev = _resolve_device(device)
    name, dense = _unpruned(model, input_shape, num_classes, seed)
    masked = node_prune(copy.deepcopy(dense), criterion, kappa, input_shape, num_classes, seed)
    example = random_batch(input_shape, 2, seed=seed + 1)
    variants, sparsities = zip(*(_variant(masked, m, example) for m in multiples))
    nets = [_prepared(net, dev, fold_batchnorm, channels_last) for net in (dense, *variants)]
    flops = [flops_per_sample(net, input_shape) for net in nets]
    activations = [activation_count(net, input_shape) for net in nets]
    inputs = random_batch(input_shape, batch_size, dev, seed=seed + 2)
    if channels_last:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    seconds = paired_seconds(nets, inputs, repeats)
    common = dict(model=name, criterion=criterion, target_sparsity=kappa, fold_batchnorm=fold_batchnorm,
                  channels_last=channels_last, batch_size=batch_size, repeats=repeats,
                  threads=torch.get_num_threads(), device=str(dev), dense_parameters=parameter_count(nets[0]),
                  dense_flops=flops[0], dense_activations=activations[0], dense_seconds=seconds[0])
    return [
        SpeedupResult(**common, node_sparsity=sparsities[i], channel_multiple=multiples[i],
                      shrunk_parameters=parameter_count(nets[i + 1]), shrunk_flops=flops[i + 1],
                      shrunk_activations=activations[i + 1], shrunk_seconds=seconds[i + 1])
        for i in range(len(multiples))
    ]


def shrink_speedup(model_name: str | nn.Module, node_sparsity: float = 0.9, input_shape: Sequence[int] = CIFAR10_SHAPE,
                   num_classes: int = 10, batch_size: int = 512, criterion: str = "random", repeats: int = 5,
                   device: str | torch.device | None = None, *, channel_multiple: int = 1,
                   fold_batchnorm: bool = False, channels_last: bool = False, seed: int = 0) -> SpeedupResult:
    """Build, node-prune and shrink a network; measure its speed-up against its FLOP reduction."""
    return shrink_speedups(model_name, node_sparsity, input_shape, num_classes, batch_size, criterion, repeats,
                           device, channel_multiples=(channel_multiple,), fold_batchnorm=fold_batchnorm,
                           channels_last=channels_last, seed=seed)[0]


def _setup(result: SpeedupResult) -> str:
    """The options that shaped the measured networks, as a phrase."""
    parts = [f"kept channels rounded up to x{result.channel_multiple}"] if result.channel_multiple > 1 else []
    parts += ["BatchNorm folded"] if result.fold_batchnorm else []
    parts += ["channels-last"] if result.channels_last else []
    return "".join(f", {p}" for p in parts)


def format_speedup(result: SpeedupResult) -> str:
    """Human-readable block: FLOPs, feature maps, seconds, speed-up and efficiency against the 0.8 target."""
    verdict = "meets" if result.efficiency >= EFFICIENCY_TARGET else "below"
    return "\n".join([
        f"{result.model}: {result.criterion} node pruning to {result.node_sparsity:.1%} node sparsity "
        f"(target {result.target_sparsity:.0%}){_setup(result)}",
        f"  device {result.device}, {result.threads} threads, batch {result.batch_size}, "
        f"median of {result.repeats} interleaved runs",
        f"  parameters        : {result.dense_parameters:>14,} -> {result.shrunk_parameters:>12,}",
        f"  FLOPs per sample  : {result.dense_flops:>14,} -> {result.shrunk_flops:>12,}  "
        f"reduction {result.flop_reduction:8.2f}x",
        f"  feature maps/smpl : {result.dense_activations:>14,} -> {result.shrunk_activations:>12,}  "
        f"reduction {result.activation_reduction:8.2f}x",
        f"  seconds per batch : {result.dense_seconds:>14.4f} -> {result.shrunk_seconds:>12.4f}  "
        f"speed-up  {result.speedup:8.2f}x",
        f"  efficiency (speed-up / FLOP reduction): {result.efficiency:.3f}  ({verdict} the "
        f"{EFFICIENCY_TARGET:.0%} target)",
    ])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Options of ``python -m prunekit.measure.shrink_speed``."""
    parser = argparse.ArgumentParser(prog="python -m prunekit.measure.shrink_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=None, help="network (repeatable; default vgg16, conv6)")
    parser.add_argument("--node-sparsity", type=float, default=0.9, help="fraction of hidden nodes pruned")
    parser.add_argument("--criterion", default="random", help="node criterion: random (default) or snap-it")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per network; the median counts")
    parser.add_argument("--device", default=None, help="cpu (default) or cuda")
    parser.add_argument("--channel-multiple", type=int, action="append", default=None, metavar="M",
                        help="also report the kept channels rounded up to a multiple of M (repeatable)")
    parser.add_argument("--fold-batchnorm", action="store_true", help="fold BatchNorm into Conv/Linear in both nets")
    parser.add_argument("--channels-last", action="store_true", help="run both nets in channels-last layout")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark for every requested model and write one block per result to stdout."""
    args = parse_args(argv)
    multiples = [1, *(args.channel_multiple or [])]
    for name in args.model or ["vgg16", "conv6"]:
        results = shrink_speedups(name, args.node_sparsity, CIFAR10_SHAPE, 10, args.batch_size, args.criterion,
                                  args.repeats, args.device, channel_multiples=multiples,
                                  fold_batchnorm=args.fold_batchnorm, channels_last=args.channels_last,
                                  seed=args.seed)
        for result in results:
            sys.stdout.write(format_speedup(result) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
