"""A roofline bound on a network's inference time, from rates measured on this machine (issue #16).

For one batch, every layer (a leaf module's call; operations outside leaf modules, such as a residual
addition, count as their parent's "functional" layer) is bounded below by

    max(FLOPs ÷ the GEMM/conv rate of its shape class,  bytes moved ÷ the memory bandwidth)
    + its aten calls × the per-call framework overhead,

and the network's bound is the sum over layers. The terms:

- FLOPs: ``torch.utils.flop_counter``'s count (2 per multiply-accumulate of matmuls and convolutions;
  elementwise layers count 0 and are bound by memory or overhead);
- the shape class of a Linear/Conv layer is its own problem (batch, spatial size, kernel, stride,
  groups) with the channel counts rounded up to a multiple of 16: its rate is what this machine reaches
  on the same problem with vector-friendly widths, so a layer whose odd width costs time shows up;
- bytes moved: every input, weight and output tensor of each (non-view) aten call, each once; the
  bandwidth is measured STREAM-style (a tensor copy) at the working-set size class of the layer (powers
  of two), so a layer whose tensors fit in cache is held to the cache's bandwidth, not DRAM's;
- the per-call overhead is the time of one call of a module doing one aten op on a one-element tensor.

Rates come from :class:`Probe` tasks that the caller times in the same process as the network,
interleaved with it (``prunekit.measure.interleave``); the best repeat counts. A probe's own call overhead is
subtracted from its time (floored at a quarter of it) so small problems are not charged overhead twice.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import flop_registry

from prunekit.measure.interleave import timed

CHANNEL_MULTIPLE = 16  # the vector-friendly width a shape class rounds channel counts up to
PROBE_FLOPS = 2e9  # a GEMM/conv probe runs on at most this many FLOPs (fewer samples than the batch)
MIN_BUCKET, MAX_BUCKET = 2**16, 2**28  # working-set size classes of the bandwidth probes, in bytes
OVERHEAD_FLOOR = 0.25  # a probe's time minus the call overhead is at least this fraction of its time
LIMITS = ("arithmetic", "memory", "overhead")


def round_up(value: int, multiple: int = CHANNEL_MULTIPLE) -> int:
    """``value`` rounded up to a multiple of ``multiple``."""
    return -(-value // multiple) * multiple


@dataclass(frozen=True)
class ShapeClass:
    """A Linear (``kind='linear'``, rows = samples × positions) or Conv problem with channels rounded up."""

    kind: str
    batch: int
    in_channels: int
    out_channels: int
    spatial: tuple[int, ...] = ()
    kernel: tuple[int, ...] = ()
    stride: tuple[int, ...] = ()
    padding: tuple[int, ...] = ()
    dilation: tuple[int, ...] = ()
    groups: int = 1

    def label(self) -> str:
        """A short readable name (``conv3x3 s1 16→32 @8x8``)."""
        if self.kind == "linear":
            return f"linear {self.in_channels}→{self.out_channels}"
        k = "x".join(map(str, self.kernel))
        g = f" g{self.groups}" if self.groups > 1 else ""
        return (f"conv{k} s{self.stride[0]}{g} {self.in_channels}→{self.out_channels} "
                f"@{'x'.join(map(str, self.spatial))}")


def _rounded_groups(groups: int, in_channels: int) -> int:
    """Groups of the rounded problem: depthwise stays depthwise, other grouping is kept."""
    return round_up(in_channels) if groups == in_channels and groups > 1 else groups


def shape_class(module: nn.Module, input_shape: Sequence[int]) -> ShapeClass | None:
    """The shape class of a Linear/Conv layer called on inputs of ``input_shape`` (None for other layers)."""
    if isinstance(module, nn.Linear):
        rows = math.prod(input_shape[:-1])
        return ShapeClass("linear", rows, round_up(module.in_features), round_up(module.out_features))
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)) and not isinstance(module.padding, str):
        groups = _rounded_groups(module.groups, module.in_channels)
        multiple = CHANNEL_MULTIPLE * (groups if groups > 1 and groups != round_up(module.in_channels) else 1)
        return ShapeClass("conv", int(input_shape[0]), round_up(module.in_channels, multiple),
                          round_up(module.out_channels, multiple), tuple(input_shape[2:]), tuple(module.kernel_size),
                          tuple(module.stride), tuple(module.padding), tuple(module.dilation), groups)
    return None


@dataclass(frozen=True)
class LayerWork:
    """What one layer does for one batch: FLOPs, bytes moved and aten calls, plus what the diagnosis reads."""

    name: str
    kind: str
    flops: int
    bytes: int
    calls: int
    shape_class: ShapeClass | None = None
    in_channels: int | None = None
    out_channels: int | None = None
    masked_fraction: float = 0.0  # fraction of its weights that are masked (or exact) zeros, still multiplied


def bucket(nbytes: int) -> int:
    """The working-set size class of ``nbytes``: the next power of two, clamped to the probed range."""
    return min(MAX_BUCKET, max(MIN_BUCKET, 1 << max(0, int(nbytes) - 1).bit_length()))


@dataclass(frozen=True)
class MachineRates:
    """Measured rates: FLOP/s per shape class, bytes/s per working-set class, seconds per call."""

    flops_per_s: Mapping[ShapeClass, float]
    bandwidth: Mapping[int, float]  # working-set bucket (bytes) -> bytes/s
    call_overhead_s: float
    default_flops_per_s: float | None = None  # for shape classes without a probe (injected rates in tests)

    @classmethod
    def uniform(cls, flops_per_s: float, bytes_per_s: float, call_overhead_s: float) -> MachineRates:
        """One rate for every shape class and one bandwidth for every working-set size."""
        return cls({}, {MAX_BUCKET: bytes_per_s}, call_overhead_s, flops_per_s)

    def rate(self, shape: ShapeClass | None) -> float:
        """FLOP/s of a shape class (the default rate where none was measured)."""
        if shape in self.flops_per_s:
            return self.flops_per_s[shape]
        if self.default_flops_per_s is None:
            raise KeyError(f"no measured rate for {shape.label() if shape else 'an unclassed layer'}")
        return self.default_flops_per_s

    def bytes_per_s(self, nbytes: int) -> float:
        """Bandwidth for a working set of ``nbytes``: its size class, else the nearest larger, else the largest."""
        wanted = bucket(nbytes)
        larger = [b for b in self.bandwidth if b >= wanted]
        return self.bandwidth[min(larger) if larger else max(self.bandwidth)]


@dataclass(frozen=True)
class LayerBound:
    """The three lower bounds of one layer and the one that limits it."""

    work: LayerWork
    compute_s: float
    memory_s: float
    overhead_s: float

    @property
    def seconds(self) -> float:
        """``max(compute, memory) + overhead``."""
        return max(self.compute_s, self.memory_s) + self.overhead_s

    @property
    def limit(self) -> str:
        """``arithmetic``, ``memory`` or ``overhead``: the largest of the three terms."""
        terms = dict(zip(LIMITS, (self.compute_s, self.memory_s, self.overhead_s)))
        return max(terms, key=terms.get)


def layer_bound(work: LayerWork, rates: MachineRates) -> LayerBound:
    """The roofline terms of one layer under ``rates``."""
    compute = work.flops / rates.rate(work.shape_class) if work.flops else 0.0
    memory = work.bytes / rates.bytes_per_s(work.bytes) if work.bytes else 0.0
    return LayerBound(work, compute, memory, work.calls * rates.call_overhead_s)


@dataclass(frozen=True)
class RooflineBound:
    """A network's roofline bound for one batch: the per-layer bounds and their sum."""

    layers: tuple[LayerBound, ...]

    @property
    def seconds(self) -> float:
        """Sum of the layers' bounds."""
        return sum(layer.seconds for layer in self.layers)

    @property
    def flops(self) -> int:
        """FLOPs of the batch."""
        return sum(layer.work.flops for layer in self.layers)


def roofline(works: Iterable[LayerWork], rates: MachineRates) -> RooflineBound:
    """The roofline bound of a network whose layers do ``works``."""
    return RooflineBound(tuple(layer_bound(w, rates) for w in works))


# ------------------------------------------------------------------------------------------ layer profiling


def _tensor_bytes(tensors: Iterable[object]) -> int:
    """Bytes of the distinct tensors among ``tensors`` (a tensor passed twice counts once)."""
    seen, total = set(), 0
    for t in tensors:
        if isinstance(t, torch.Tensor) and t.numel():
            key = (t.data_ptr(), t.numel(), t.dtype)
            if key not in seen:
                seen.add(key)
                total += t.numel() * t.element_size()
    return total


@dataclass
class _Tally:
    """Running FLOPs, bytes and calls of one layer."""

    flops: int = 0
    bytes: int = 0
    calls: int = 0


class _OpRecorder(TorchDispatchMode):
    """Counts FLOPs, bytes and calls of every non-view aten op, charged to the layer running it."""

    def __init__(self, current: Callable[[], str]) -> None:
        super().__init__()
        self.current = current
        self.tallies: dict[str, _Tally] = defaultdict(_Tally)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func.is_view or func._overloadpacket in (torch.ops.aten.detach, torch.ops.aten.lift_fresh):
            return out
        tally = self.tallies[self.current()]
        tally.calls += 1
        if func._overloadpacket in flop_registry:
            tally.flops += int(flop_registry[func._overloadpacket](*args, **kwargs, out_val=out))
        tally.bytes += _tensor_bytes(tree_flatten((args, kwargs))[0] + tree_flatten(out)[0])
        return out


def _is_leaf(module: nn.Module) -> bool:
    return next(module.children(), None) is None


def _zero_fraction(module: nn.Module) -> float:
    """Fraction of a Linear/Conv weight that is zero (masked or shrunk-away entries still multiplied)."""
    weight = getattr(module, "weight", None)
    if not isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)) or weight is None:
        return 0.0
    return 1.0 - int(torch.count_nonzero(weight.detach())) / weight.numel()


def _functional_name(name: str) -> str:
    return f"{name} (functional)" if name else "(functional)"


def _layer_info(module: nn.Module, shape: Sequence[int] | None) -> dict:
    """Kind, shape class, channel counts and zero fraction of a leaf module."""
    info: dict = {"kind": type(module).__name__, "masked_fraction": _zero_fraction(module)}
    if shape is not None:
        info["shape_class"] = shape_class(module, shape)
    for attr_in, attr_out in (("in_features", "out_features"), ("in_channels", "out_channels")):
        if hasattr(module, attr_in):
            info["in_channels"], info["out_channels"] = getattr(module, attr_in), getattr(module, attr_out)
    return info


@torch.no_grad()  # not inference_mode: under it composite ops (aten.linear) reach the recorder undecomposed
def profile_layers(model: nn.Module, inputs: torch.Tensor) -> list[LayerWork]:
    """The work of every layer of one eval-mode forward pass of ``inputs``, in execution order."""
    names = {module: name for name, module in model.named_modules()}
    stack: list[str] = []
    shapes: dict[str, tuple[int, ...] | None] = {}  # leaf name -> shape of its first input

    def current() -> str:
        top = stack[-1] if stack else ""
        return top if top in shapes else _functional_name(top)

    def pre(module: nn.Module, args: tuple) -> None:
        name = names[module]
        stack.append(name)
        if _is_leaf(module) and name not in shapes:
            shapes[name] = tuple(args[0].shape) if args and isinstance(args[0], torch.Tensor) else None

    def post(module: nn.Module, args: tuple, output: object) -> None:
        stack.pop()

    hooks = [m.register_forward_pre_hook(pre, prepend=True) for m in model.modules()]  # before prune's mask hook
    hooks += [m.register_forward_hook(post) for m in model.modules()]
    was_training = model.training
    recorder = _OpRecorder(current)
    try:
        model.eval()
        with recorder:
            model(inputs)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    modules = dict(model.named_modules())
    works = []
    for name, tally in recorder.tallies.items():
        meta = _layer_info(modules[name], shapes[name]) if name in shapes else {"kind": "functional"}
        works.append(LayerWork(name, flops=tally.flops, bytes=tally.bytes, calls=tally.calls, **meta))
    return works


# --------------------------------------------------------------------------------------------------- probes


@dataclass(frozen=True)
class Probe:
    """A timing task whose best time turns into a rate: ``calls`` calls of ``work`` units (FLOPs or bytes) each."""

    key: object  # a ShapeClass, a bandwidth bucket (int) or "overhead"
    work: float
    task: Callable[[], float] = field(compare=False)
    calls: int = 1


LOOP_SECONDS_GUESS = 1e-4  # small probes loop until about this long, so the timer's own cost does not count
MAX_CALLS = 64


def _calls_for(work: float, units_per_s: float) -> int:
    """How many calls a probe of ``work`` loops so it runs ~:data:`LOOP_SECONDS_GUESS` at a guessed rate."""
    return max(1, min(MAX_CALLS, math.ceil(LOOP_SECONDS_GUESS * units_per_s / max(work, 1.0))))


def _looped(fn: Callable[[], object], calls: int, device: torch.device | str) -> Callable[[], float]:
    """A timed task calling ``fn`` ``calls`` times."""
    def loop() -> None:
        for _ in range(calls):
            fn()
    return timed(loop, device)


class _OneOp(nn.Module):
    """The per-call overhead probe: a module that does one aten op on its input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.neg()


def overhead_probe(device: torch.device | str = "cpu") -> Probe:
    """Time of one module call doing one op on a one-element tensor."""
    module, x = _OneOp(), torch.zeros(1, device=device)
    return Probe("overhead", 1.0, _looped(lambda: module(x), MAX_CALLS, device), MAX_CALLS)


def _probe_batch(shape: ShapeClass, per_sample_flops: float) -> int:
    """Samples the probe of ``shape`` runs: the class's batch, capped at :data:`PROBE_FLOPS`."""
    return max(1, min(shape.batch, math.ceil(PROBE_FLOPS / max(per_sample_flops, 1.0))))


def class_probe(shape: ShapeClass, device: torch.device | str = "cpu") -> Probe:
    """The GEMM/conv of a shape class on random data (fewer samples when the batch is large)."""
    if shape.kind == "linear":
        batch = _probe_batch(shape, 2.0 * shape.in_channels * shape.out_channels)
        x = torch.randn(batch, shape.in_channels, device=device)
        w = torch.randn(shape.out_channels, shape.in_channels, device=device)
        work = 2.0 * batch * shape.in_channels * shape.out_channels
        calls = _calls_for(work, 1e10)
        return Probe(shape, work, _looped(lambda: F.linear(x, w), calls, device), calls)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[len(shape.kernel)]
    w = torch.randn(shape.out_channels, shape.in_channels // shape.groups, *shape.kernel, device=device)
    one = torch.randn(1, shape.in_channels, *shape.spatial, device=device)
    out_positions = conv(one, w, None, shape.stride, shape.padding, shape.dilation, shape.groups)[0, 0].numel()
    macs_per_position = shape.out_channels * (shape.in_channels // shape.groups) * math.prod(shape.kernel)
    per_sample = 2.0 * macs_per_position * out_positions
    batch = _probe_batch(shape, per_sample)
    x = torch.randn(batch, shape.in_channels, *shape.spatial, device=device)
    calls = _calls_for(per_sample * batch, 1e10)
    run = lambda: conv(x, w, None, shape.stride, shape.padding, shape.dilation, shape.groups)  # noqa: E731
    return Probe(shape, per_sample * batch, _looped(run, calls, device), calls)


def bandwidth_probe(size_class: int, device: torch.device | str = "cpu") -> Probe:
    """STREAM-style copy moving ``size_class`` bytes (read half, write half) per call."""
    elements = max(1, size_class // 8)  # two float32 tensors of size_class / 2 bytes
    src = torch.randn(elements, device=device)
    dst = torch.empty_like(src)
    work = float(2 * elements * src.element_size())
    calls = _calls_for(work, 1e10)
    return Probe(size_class, work, _looped(lambda: dst.copy_(src), calls, device), calls)


def probes_for(works: Iterable[LayerWork], device: torch.device | str = "cpu") -> list[Probe]:
    """The overhead probe plus one probe per distinct shape class and working-set class of ``works``."""
    works = list(works)
    classes = dict.fromkeys(w.shape_class for w in works if w.shape_class is not None and w.flops)
    sizes = sorted({bucket(w.bytes) for w in works if w.bytes})
    return ([overhead_probe(device)] + [class_probe(c, device) for c in classes]
            + [bandwidth_probe(s, device) for s in sizes])


def _net_seconds(seconds: float, overhead: float) -> float:
    """A probe's seconds without its call overhead, floored at :data:`OVERHEAD_FLOOR` of them."""
    return max(seconds - overhead, OVERHEAD_FLOOR * seconds)


def rates_from_times(probes: Sequence[Probe], times: Sequence[Sequence[float]]) -> MachineRates:
    """Machine rates from each probe's best time (``times[i]``: every repeat of ``probes[i]``)."""
    best = {p.key: (p.work, min(t) / p.calls) for p, t in zip(probes, times)}
    if "overhead" not in best:
        raise ValueError("the probes must include the overhead probe (overhead_probe)")
    overhead = best.pop("overhead")[1]
    flops = {k: w / _net_seconds(s, overhead) for k, (w, s) in best.items() if isinstance(k, ShapeClass)}
    bandwidth = {k: w / _net_seconds(s, overhead) for k, (w, s) in best.items() if isinstance(k, int)}
    if not bandwidth:
        raise ValueError("the probes must include at least one bandwidth probe (bandwidth_probe)")
    return MachineRates(flops, bandwidth, overhead)
