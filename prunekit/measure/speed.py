"""``prunekit speed``: why a pruned network is (or is not) faster, against a roofline bound (issue #16).

For a network — one of the paper's six (``vgg16``), any torchvision CNN (``torchvision:resnet18``, no
weights) — the report node-prunes a copy (``prunekit.structured.prune_nodes``; ``random`` needs no data,
``snap-it`` scores synthetic Gaussian inputs with random labels), shrinks it physically
(``prunekit.pruning.shrink``) and, at batch sizes 1, 32 and 512, times the dense, the masked and the
shrunk network in eval mode, interleaved in one process with the probes that measure this machine's
rates (:mod:`prunekit.measure.roofline`). Per network and batch it gives the best time, the roofline bound,
time ÷ bound, speed-up over dense and FLOP reduction; per layer the measured time (a separate pass with
timing hooks, median of its repeats), the bound and a diagnosis: arithmetic-, memory- or
overhead-bound, channel counts not a multiple of 8/16, masked weights still multiplied.
"""

from __future__ import annotations

import argparse
import copy
import logging
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from prunekit.measure.interleave import check_positive_int, interleaved_times, synchronize, timed
from prunekit.models import available_models, build_model
from prunekit.measure.roofline import (
    LayerBound,
    LayerWork,
    RooflineBound,
    profile_layers,
    probes_for,
    rates_from_times,
    roofline,
)
from prunekit.core.schedule import check_sparsity

log = logging.getLogger(__name__)

BATCH_SIZES = (1, 32, 512)
VARIANTS = ("dense", "masked", "shrunk")
TARGET = 1.5  # time ÷ roofline the issue asks of a shrunk network at batch 512
TORCHVISION_PREFIX = "torchvision:"
MNIST_SHAPE, CIFAR10_SHAPE = (1, 28, 28), (3, 32, 32)
SCORING_SAMPLES = 512


# ------------------------------------------------------------------------------------------------ networks


def default_input_shape(spec: str) -> tuple[int, int, int]:
    """MNIST's shape for MLP5 and LeNet5 (their paper dataset), CIFAR10's for every other network."""
    return MNIST_SHAPE if spec.lower() in ("mlp5", "lenet5") else CIFAR10_SHAPE


def build_network(spec: str, input_shape: Sequence[int], num_classes: int = 10, seed: int = 0) -> nn.Module:
    """A paper network by name, or ``torchvision:<name>`` (random weights), in eval mode."""
    if not isinstance(spec, str):
        raise TypeError(f"model must be a name, got {type(spec).__name__}")
    torch.manual_seed(seed)
    if spec.lower().startswith(TORCHVISION_PREFIX):
        import torchvision

        name = spec[len(TORCHVISION_PREFIX):]
        known = torchvision.models.list_models(module=torchvision.models)
        if name not in known:
            raise ValueError(f"unknown torchvision model {name!r}; accepted: {', '.join(sorted(known))}")
        return torchvision.models.get_model(name, weights=None, num_classes=num_classes).eval()
    if spec.lower() not in available_models():
        raise ValueError(f"unknown model {spec!r}; accepted: {', '.join(available_models())} "
                         f"or {TORCHVISION_PREFIX}<name> (any torchvision CNN)")
    return build_model(spec.lower(), tuple(input_shape), num_classes).eval()


def _synthetic(input_shape: Sequence[int], num_classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian inputs and random labels for data-driven node criteria."""
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(SCORING_SAMPLES, *input_shape, generator=generator)
    return inputs, torch.randint(0, num_classes, (SCORING_SAMPLES,), generator=generator)


def pruned_variants(dense: nn.Module, node_sparsity: float, input_shape: Sequence[int], num_classes: int = 10,
                    criterion: str = "random", seed: int = 0) -> dict[str, nn.Module]:
    """The dense network, a node-pruned (masked) copy and its physically shrunk copy, all in eval mode."""
    from prunekit.pruning.nodes import prune_nodes
    from prunekit.pruning.shrink import shrink

    masked = copy.deepcopy(dense)
    prune_nodes(masked, criterion, node_sparsity, _synthetic(input_shape, num_classes, seed),
                samples=SCORING_SAMPLES, batch_size=SCORING_SAMPLES, seed=seed)
    shrunk = shrink(masked, torch.randn(2, *input_shape))
    return {"dense": dense.eval(), "masked": masked.eval(), "shrunk": shrunk.eval()}


# ------------------------------------------------------------------------------------------- measurements


def _forward(model: nn.Module, inputs: torch.Tensor) -> None:
    with torch.inference_mode():
        model(inputs)


def layer_seconds(model: nn.Module, inputs: torch.Tensor, repeats: int = 3) -> dict[str, float]:
    """Median seconds of each leaf module's call over ``repeats`` forward passes (timing hooks; one warm-up)."""
    device = inputs.device
    starts: dict[nn.Module, float] = {}
    samples: dict[str, list[float]] = {}
    names = {m: n for n, m in model.named_modules() if next(m.children(), None) is None}

    def pre(module: nn.Module, _args: tuple) -> None:
        synchronize(device)
        starts[module] = time.perf_counter()

    def post(module: nn.Module, _args: tuple, _out: object) -> None:
        synchronize(device)
        samples.setdefault(names[module], []).append(time.perf_counter() - starts[module])

    hooks = [m.register_forward_pre_hook(pre, prepend=True) for m in names]
    hooks += [m.register_forward_hook(post) for m in names]
    try:
        _forward(model, inputs)
        samples.clear()
        for _ in range(repeats):
            _forward(model, inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return {name: statistics.median(t) for name, t in samples.items()}


@dataclass(frozen=True)
class LayerRow:
    """One layer of one network at one batch size: its bound, measured time and diagnosis."""

    bound: LayerBound
    measured_s: float | None
    notes: tuple[str, ...]

    @property
    def name(self) -> str:
        """The layer's module name (``… (functional)`` for operations outside leaf modules)."""
        return self.bound.work.name

    @property
    def ratio(self) -> float | None:
        """Measured time over the layer's bound (None where the layer was not timed on its own)."""
        return None if self.measured_s is None else self.measured_s / self.bound.seconds


@dataclass(frozen=True)
class NetworkRow:
    """One network at one batch size: best time, roofline bound and its layers."""

    variant: str
    batch: int
    seconds: float
    bound: RooflineBound
    layers: tuple[LayerRow, ...]

    @property
    def ratio(self) -> float:
        """Time ÷ roofline bound."""
        return self.seconds / self.bound.seconds

    @property
    def flops(self) -> int:
        """FLOPs of the batch (dense work for a masked network)."""
        return self.bound.flops


def channel_notes(work: LayerWork, first: bool, last: bool) -> list[str]:
    """``channels a→b not a multiple of 8/16`` for the widths pruning can choose (not data or classes)."""
    counts = [c for c, fixed in ((work.in_channels, first), (work.out_channels, last)) if c is not None and not fixed]
    for multiple in (8, 16):
        odd = [c for c in counts if c % multiple]
        if odd:
            return [f"channels {work.in_channels}→{work.out_channels} not a multiple of {multiple}"]
    return []


def diagnose(bound: LayerBound, measured_s: float | None, first: bool = False, last: bool = False,
             target: float = TARGET) -> tuple[str, ...]:
    """Why a layer takes its time: its limit, odd channel counts, masked zeros multiplied, a missed target."""
    notes = [f"{bound.limit}-bound"]
    notes += channel_notes(bound.work, first, last)
    if bound.work.masked_fraction > 0.01:
        notes.append(f"{bound.work.masked_fraction:.0%} of its weights are zeros still multiplied")
    if measured_s is not None and measured_s > target * bound.seconds:
        notes.append(f"misses {target:g}x: {measured_s / bound.seconds:.2f}x its bound" + achieved_rate(bound, measured_s))
    return tuple(notes)


def achieved_rate(bound: LayerBound, measured_s: float) -> str:
    """What the layer's kernel achieved against what this machine was measured to do for its limit (beyond the
    per-call overhead): ', 3.1 GB/s of the 19 GB/s measured' — how far the kernel itself is from the machine."""
    busy = measured_s - bound.overhead_s
    if busy <= 0 or bound.limit == "overhead":
        return ", all of it per-call overhead beyond the identity module's"
    if bound.limit == "arithmetic" and bound.compute_s > 0:
        return (f", {bound.work.flops / busy / 1e9:.3g} GFLOP/s of the {bound.work.flops / bound.compute_s / 1e9:.3g} "
                f"measured for its shape class")
    if bound.memory_s > 0:
        return f", {bound.work.bytes / busy / 1e9:.3g} GB/s of the {bound.work.bytes / bound.memory_s / 1e9:.3g} GB/s measured"
    return ""


def network_row(variant: str, batch: int, seconds: float, bound: RooflineBound,
                measured: dict[str, float]) -> NetworkRow:
    """Assemble a network's row: per-layer bounds, measured times and diagnoses."""
    gemm = [i for i, layer in enumerate(bound.layers) if layer.work.shape_class is not None]
    first, last = (gemm[0], gemm[-1]) if gemm else (-1, -1)
    rows = tuple(LayerRow(layer, measured.get(layer.work.name),
                          diagnose(layer, measured.get(layer.work.name), i == first, i == last))
                 for i, layer in enumerate(bound.layers))
    return NetworkRow(variant, batch, seconds, bound, rows)


def measure_batch(networks: dict[str, nn.Module], input_shape: Sequence[int], batch: int, repeats: int = 5,
                  layer_repeats: int = 3, device: torch.device | str = "cpu", seed: int = 0) -> list[NetworkRow]:
    """Every network at one batch size: forwards and rate probes interleaved, then a per-layer timing pass."""
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(batch, *input_shape, generator=generator).to(device)
    works = {v: profile_layers(net, inputs) for v, net in networks.items()}
    probes = probes_for([w for ws in works.values() for w in ws], device)
    forwards = [timed(lambda n=net: _forward(n, inputs), device) for net in networks.values()]
    times = interleaved_times(forwards + [p.task for p in probes], repeats)
    rates = rates_from_times(probes, times[len(forwards):])
    return [network_row(v, batch, min(t), roofline(works[v], rates), layer_seconds(net, inputs, layer_repeats))
            for (v, net), t in zip(networks.items(), times)]


@dataclass(frozen=True)
class SpeedReport:
    """A network's dense, masked and shrunk variants at several batch sizes."""

    model: str
    criterion: str
    node_sparsity: float
    input_shape: tuple[int, ...]
    device: str
    threads: int
    rows: tuple[NetworkRow, ...]

    def row(self, variant: str, batch: int) -> NetworkRow:
        """The row of one variant at one batch size."""
        for r in self.rows:
            if r.variant == variant and r.batch == batch:
                return r
        raise KeyError(f"no {variant!r} row at batch {batch}")

    def speedup(self, row: NetworkRow) -> float:
        """Dense time over this row's time (same batch)."""
        return self.row("dense", row.batch).seconds / row.seconds

    def flop_reduction(self, row: NetworkRow) -> float:
        """Dense FLOPs over this row's FLOPs (1 for a masked network, which still multiplies its zeros)."""
        return self.row("dense", row.batch).flops / row.flops


def _check_batches(batch_sizes: Sequence[int]) -> tuple[int, ...]:
    if not batch_sizes:
        raise ValueError("batch_sizes must name at least one batch size")
    return tuple(check_positive_int(b, "batch size") for b in batch_sizes)


def speed_report(model: str, node_sparsity: float = 0.9, batch_sizes: Sequence[int] = BATCH_SIZES,
                 criterion: str = "random", input_shape: Sequence[int] | None = None, num_classes: int = 10,
                 repeats: int = 5, layer_repeats: int = 3, device: str | torch.device = "cpu",
                 seed: int = 0) -> SpeedReport:
    """Build, node-prune and shrink ``model``; time the three variants against their roofline bounds."""
    kappa = check_sparsity(node_sparsity, "node_sparsity")
    batches = _check_batches(batch_sizes)
    check_positive_int(repeats, "repeats")
    shape = tuple(input_shape) if input_shape is not None else default_input_shape(model)
    dev = torch.device(device)
    dense = build_network(model, shape, num_classes, seed)
    nets = {v: n.to(dev) for v, n in pruned_variants(dense, kappa, shape, num_classes, criterion, seed).items()}
    rows = [row for b in batches for row in measure_batch(nets, shape, b, repeats, layer_repeats, dev, seed)]
    return SpeedReport(model, criterion, kappa, shape, str(dev), torch.get_num_threads(), tuple(rows))


# ------------------------------------------------------------------------------------------------- report


def format_table(report: SpeedReport) -> str:
    """One line per variant and batch size: time, bound, time ÷ bound, speed-up, FLOP reduction."""
    lines = [f"{report.model}, {report.criterion} node pruning to {report.node_sparsity:.0%}, input "
             f"{'x'.join(map(str, report.input_shape))}, device {report.device}, {report.threads} threads",
             f"  {'network':<8} {'batch':>5} {'time ms':>10} {'bound ms':>10} {'time/bound':>10} "
             f"{'speed-up':>9} {'FLOP red.':>9}"]
    for r in report.rows:
        lines.append(f"  {r.variant:<8} {r.batch:>5} {1e3 * r.seconds:>10.3f} {1e3 * r.bound.seconds:>10.3f} "
                     f"{r.ratio:>9.2f}x {report.speedup(r):>8.2f}x {report.flop_reduction(r):>8.2f}x")
    return "\n".join(lines)


def format_layers(row: NetworkRow) -> str:
    """Per-layer table of one network at one batch size: FLOPs, bytes, measured, bound, diagnosis."""
    lines = [f"layers of the {row.variant} network at batch {row.batch}:",
             f"  {'layer':<28} {'MFLOP':>9} {'MB':>8} {'time ms':>9} {'bound ms':>9} {'ratio':>7}  diagnosis"]
    for layer in row.layers:
        w = layer.bound.work
        measured = f"{1e3 * layer.measured_s:9.3f}" if layer.measured_s is not None else f"{'-':>9}"
        ratio = f"{layer.ratio:6.2f}x" if layer.ratio is not None else f"{'-':>7}"
        lines.append(f"  {w.name[:28]:<28} {w.flops / 1e6:9.2f} {w.bytes / 1e6:8.3f} {measured} "
                     f"{1e3 * layer.bound.seconds:9.3f} {ratio}  {'; '.join(layer.notes)}")
    return "\n".join(lines)


def missing_layers(row: NetworkRow, target: float = TARGET) -> list[LayerRow]:
    """Layers over ``target`` × their bound, the most excess time first."""
    over = [layer for layer in row.layers if layer.ratio is not None and layer.ratio > target]
    return sorted(over, key=lambda layer: layer.measured_s - layer.bound.seconds, reverse=True)


def verdict(report: SpeedReport, target: float = TARGET) -> str:
    """The shrunk network at the largest batch: which layers miss the target and why, then ``time / roofline``."""
    row = report.row("shrunk", max(r.batch for r in report.rows))
    lines = []
    if row.ratio > target:
        lines.append(f"the shrunk network misses {target:g}x at batch {row.batch}; "
                     f"layers over {target:g}x their bound:")
        for layer in missing_layers(row, target)[:8]:
            lines.append(f"  {layer.name}: {'; '.join(layer.notes)}")
    lines.append(f"time / roofline: {row.ratio:.2f}×")
    return "\n".join(lines)


def format_report(report: SpeedReport, layers: bool = True) -> str:
    """The table, the shrunk network's layers at the largest batch, and the verdict line last."""
    parts = [format_table(report)]
    if layers:
        parts.append(format_layers(report.row("shrunk", max(r.batch for r in report.rows))))
    parts.append(verdict(report))
    return "\n".join(parts)


def plot_layer_times(row: NetworkRow):
    """Figure: measured time and roofline bound per layer against its FLOPs (GEMM/conv) or bytes (the rest)."""
    import matplotlib.pyplot as plt

    fig, (ax_flops, ax_bytes) = plt.subplots(1, 2, figsize=(10, 4))
    colours = {"arithmetic": "tab:blue", "memory": "tab:orange", "overhead": "tab:grey"}
    for layer in row.layers:
        if layer.measured_s is None:
            continue
        w = layer.bound.work
        ax, x = (ax_flops, w.flops) if w.flops else (ax_bytes, w.bytes)
        ax.scatter(x, layer.measured_s, color=colours[layer.bound.limit], s=18)
        ax.scatter(x, layer.bound.seconds, color=colours[layer.bound.limit], marker="_", s=80)
    for ax, label in ((ax_flops, "FLOPs (Linear/Conv)"), (ax_bytes, "bytes moved (other layers)")):
        ax.set(xscale="log", yscale="log", xlabel=label, ylabel="seconds per batch")
    handles = [plt.Line2D([], [], color=c, marker="o", ls="", label=f"{k}-bound") for k, c in colours.items()]
    handles.append(plt.Line2D([], [], color="k", marker="_", ls="", label="roofline bound"))
    ax_bytes.legend(handles=handles, fontsize=8)
    fig.suptitle(f"{row.variant} network, batch {row.batch}: time vs work per layer (dot: measured)")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------------ CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``prunekit speed``."""
    parser.add_argument("--model", default="vgg16",
                        help=f"{', '.join(available_models())} or {TORCHVISION_PREFIX}<name> (default vgg16)")
    parser.add_argument("--node-sparsity", type=float, default=0.9, help="fraction of hidden nodes pruned")
    parser.add_argument("--criterion", default="random", help="node criterion: random (default) or snap-it")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=list(BATCH_SIZES), help="default 1 32 512")
    parser.add_argument("--input-shape", type=int, nargs=3, default=None, metavar=("C", "H", "W"),
                        help="input shape (default: 1 28 28 for mlp5/lenet5, else 3 32 32)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timed rounds; the best counts")
    parser.add_argument("--layer-repeats", type=int, default=3, help="per-layer timing passes; the median counts")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--no-layers", action="store_true", help="omit the per-layer table")
    parser.add_argument("--seed", type=int, default=0, help="initialisation and pruning seed")


def main(args: argparse.Namespace) -> int:
    """Run the report and print it; the last line is ``time / roofline: N.NN×``."""
    report = speed_report(args.model, args.node_sparsity, args.batch_sizes, args.criterion, args.input_shape,
                          repeats=args.repeats, layer_repeats=args.layer_repeats, device=args.device, seed=args.seed)
    sys.stdout.write(format_report(report, layers=not args.no_layers) + "\n")
    return 0
