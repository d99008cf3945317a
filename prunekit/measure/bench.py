"""``prunekit bench``: one training epoch measured against a plain-GEMM bound on the same machine.

The bound is ``6 × weights × samples`` FLOPs (forward, input-gradient and weight-gradient GEMMs of
every Linear/Conv layer) at the matmul rate measured here for the model's own batch shapes. The
ratio ``epoch time / bound`` says how much the loop spends beyond the unavoidable matrix work.

Bound and epochs run in one numeric mode (``precision``, resolved as a run resolves it: bf16 autocast
on an Ampere GPU, fp32 on CPU): the GEMMs in the autocast dtype, the epochs under autocast and, for
fp16, with the GradScaler a run uses. A bf16 epoch against an fp32 bound would flatter the loop.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn

from prunekit.data import dataset_info, make_batches
from prunekit.measure.interleave import Spread, interleaved_times, paired_ratios, timed
from prunekit.core.masks import prunable_layers
from prunekit.models import build_model
from prunekit.pruning.before import prune
from prunekit.core.timing import Stopwatch, model_device, timed_call
from prunekit.training.loop import (
    AUTOCAST_DTYPES,
    PRECISIONS,
    TrainConfig,
    grad_scaler,
    make_optimizer,
    resolve_device,
    resolve_precision,
    seed_everything,
    train_epoch,
)

log = logging.getLogger(__name__)


@dataclass
class BenchResult:
    """Measured seconds and the ratios the benchmark reports."""

    model: str
    dataset: str
    device: str
    precision: str
    threads: int
    samples: int
    weights: int
    gemm_gflops_per_s: float
    gemm_bound_s: float
    dense_epoch_s: float
    masked_epoch_s: float
    scoring_s: float
    scoring_rounds: int
    bound_rounds_s: tuple[float, ...] = ()  # every round's bound, dense and masked epoch (interleaved)
    dense_rounds_s: tuple[float, ...] = ()
    masked_rounds_s: tuple[float, ...] = ()

    @property
    def masked_spread(self) -> Spread:
        """min / median / max over rounds of the masked epoch over the same round's bound."""
        return Spread.of(paired_ratios(self.masked_rounds_s, self.bound_rounds_s))

    @property
    def dense_spread(self) -> Spread:
        """min / median / max over rounds of the unpruned epoch over the same round's bound."""
        return Spread.of(paired_ratios(self.dense_rounds_s, self.bound_rounds_s))

    @property
    def masked_vs_bound(self) -> float:
        """Masked epoch time over the plain-GEMM bound (target ≤ 1.5)."""
        return self.masked_epoch_s / self.gemm_bound_s

    @property
    def dense_vs_bound(self) -> float:
        """Unpruned epoch time over the plain-GEMM bound."""
        return self.dense_epoch_s / self.gemm_bound_s

    @property
    def mask_overhead(self) -> float:
        """Masked epoch time over the unpruned epoch time."""
        return self.masked_epoch_s / self.dense_epoch_s

    @property
    def scoring_vs_epoch(self) -> float:
        """SNIP-it's whole scoring schedule as a multiple of one masked epoch."""
        return self.scoring_s / self.masked_epoch_s

    def as_dict(self) -> dict:
        """Measurements plus derived ratios."""
        ratios = {k: getattr(self, k) for k in ("masked_vs_bound", "dense_vs_bound", "mask_overhead",
                                                "scoring_vs_epoch")}
        return {**asdict(self), **ratios}


def _best_time(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    """Fastest of ``repeats`` timed calls after one warm-up (least disturbed by other processes)."""
    fn()
    return min(timed_call(fn, device) for _ in range(repeats))


def gemm_shapes(model: nn.Module, input_shape: tuple[int, ...], batch: int) -> list[tuple[int, int, int]]:
    """(rows, inner, cols) of each layer's forward GEMM for a batch: im2col shapes for convolutions."""
    shapes: list[tuple[int, int, int]] = []
    hooks = []
    for module in prunable_layers(model).values():
        def hook(mod: nn.Module, _inp, out: torch.Tensor) -> None:
            fan_in = mod.weight[0].numel()
            positions = out.numel() // out.shape[1] if out.dim() > 2 else out.shape[0]
            shapes.append((positions, fan_in, mod.weight.shape[0]))
        hooks.append(module.register_forward_hook(hook))
    device = model_device(model)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(batch, *input_shape, device=device))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return shapes


def gemm_operands(shapes: list[tuple[int, int, int]], device: torch.device,
                  dtype: torch.dtype = torch.float32) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Random (input, weight, output-gradient) matrices of each GEMM shape, in ``dtype`` on ``device``."""
    return [(torch.randn(rows, inner, device=device, dtype=dtype), torch.randn(inner, cols, device=device, dtype=dtype),
             torch.randn(rows, cols, device=device, dtype=dtype)) for rows, inner, cols in shapes]


def gemm_rate(shapes: list[tuple[int, int, int]], device: torch.device, repeats: int = 5,
              dtype: torch.dtype = torch.float32) -> float:
    """FLOP/s of the forward and both backward GEMMs of these shapes, timed together as plain ``dtype`` matmuls."""
    mats = gemm_operands(shapes, device, dtype)

    def all_gemms() -> None:
        for x, w, g in mats:
            x @ w  # forward
            g @ w.T  # gradient w.r.t. the input
            x.T @ g  # gradient w.r.t. the weight

    seconds = _best_time(all_gemms, device, repeats)
    flops = sum(6 * rows * inner * cols for rows, inner, cols in shapes)
    return flops / seconds


def epoch_config(precision: str = "auto") -> TrainConfig:
    """The settings of a benchmark epoch: one epoch, no progress bar, in numeric mode ``precision``."""
    return TrainConfig(epochs=1, progress=False, precision=precision)


def _epoch_seconds(model: nn.Module, batches, device: torch.device, repeats: int, precision: str = "auto") -> float:
    """Fastest of ``repeats`` training epochs in ``precision`` (autocast, and the GradScaler for fp16)."""
    config = epoch_config(precision)
    optimizer = make_optimizer(model, config)
    scaler = grad_scaler(device, resolve_precision(device, config.amp, precision))
    return _best_time(lambda: train_epoch(model, batches, optimizer, config, device, scaler), device, repeats)


def _epoch_task(model: nn.Module, batches, device: torch.device, precision: str = "auto"):
    """A timing task: one training epoch of ``model`` in ``precision`` (autocast, and the GradScaler for fp16;
    its own optimiser, kept across rounds)."""
    config = epoch_config(precision)
    optimizer = make_optimizer(model, config)
    scaler = grad_scaler(device, resolve_precision(device, config.amp, precision))
    return timed(lambda: train_epoch(model, batches, optimizer, config, device, scaler), device)


def run_benchmark(model_name: str = "mlp5", dataset: str = "mnist", sparsity: float = 0.98,
                  device: str | None = None, repeats: int = 3, limit: int | None = None,
                  seed: int = 0, precision: str = "auto") -> BenchResult:
    """Time a dense and a SNIP-it-masked epoch and SNIP-it's scoring against the GEMM bound, all in one numeric
    mode (``precision`` as a run resolves it); bound and epochs interleaved round by round, best of ``repeats``
    after one warm-up round."""
    dev = resolve_device(device)
    mode = resolve_precision(dev, True, precision)
    info = dataset_info(dataset)
    batches = make_batches(dataset, train=True, device=dev, limit=limit, seed=seed)
    seed_everything(seed)
    dense = build_model(model_name, info.input_shape, info.num_classes).to(dev)
    weights = sum(m.weight.numel() for m in prunable_layers(dense).values())
    shapes = gemm_shapes(dense, info.input_shape, batches.batch_size)
    dtype = AUTOCAST_DTYPES.get(mode, torch.float32)

    seed_everything(seed)
    masked = build_model(model_name, info.input_shape, info.num_classes).to(dev)
    scoring = make_batches(dataset, train=True, device=dev, limit=limit, seed=seed + 1)
    with Stopwatch(dev) as scoring_watch:
        result = prune(masked, "snip-it", sparsity, data=scoring, seed=seed)
    scoring_s = scoring_watch.seconds
    # bound and epochs alternate in one process, so a load change on the machine moves them together
    work = 6 * weights * batches.num_samples
    bound_s, dense_s, masked_s = interleaved_times(
        [lambda: work / gemm_rate(shapes, dev, dtype=dtype), _epoch_task(dense, batches, dev, mode),
         _epoch_task(masked, batches, dev, mode)], repeats, warmup=1)
    return BenchResult(model_name, dataset, str(dev), mode, torch.get_num_threads(), batches.num_samples, weights,
                       work / min(bound_s) / 1e9, min(bound_s), min(dense_s), min(masked_s), scoring_s,
                       len(result.steps), tuple(bound_s), tuple(dense_s), tuple(masked_s))


@dataclass
class CriterionCost:
    """Time one criterion takes to prune an initialised network, against one training epoch."""

    criterion: str
    rounds: int
    seconds: float
    epoch_s: float

    @property
    def epochs(self) -> float:
        """Scoring time as a multiple of one training epoch."""
        return self.seconds / self.epoch_s


def criterion_costs(model_name: str = "mlp5", dataset: str = "mnist", sparsity: float = 0.98,
                    criteria: list[str] | None = None, device: str | None = None, limit: int | None = None,
                    repeats: int = 2, seed: int = 0) -> list[CriterionCost]:
    """Pruning time of every criterion that prunes before training (scoring budget: the paper's 2560 samples
    per round), and HoyerSquare's regulariser as extra time per epoch, each relative to one unpruned epoch."""
    from prunekit.pruning.after import RegularisedThresholdPruning
    from prunekit.criteria import available_criteria, get_criterion
    from prunekit.training.loop import TrainState, History

    dev = resolve_device(device)
    info = dataset_info(dataset)
    batches = make_batches(dataset, train=True, device=dev, limit=limit, seed=seed)
    seed_everything(seed)
    model = build_model(model_name, info.input_shape, info.num_classes).to(dev)
    epoch_s = _epoch_seconds(model, batches, dev, repeats)
    names = criteria or [c for c in available_criteria() if "before" in get_criterion(c).timings]
    costs = []
    for name in names:
        crit = get_criterion(name)
        if "before" not in crit.timings:
            continue
        seed_everything(seed)
        fresh = build_model(model_name, info.input_shape, info.num_classes).to(dev)
        scoring = make_batches(dataset, train=True, device=dev, limit=limit, seed=seed + 1)
        with Stopwatch(dev) as watch:
            result = prune(fresh, crit, sparsity, data=scoring, seed=seed)  # data-free ones only read its shape
        costs.append(CriterionCost(name, len(result.steps), watch.seconds, epoch_s))
    if criteria is None or "hoyersquare" in criteria:
        seed_everything(seed)
        fresh = build_model(model_name, info.input_shape, info.num_classes).to(dev)
        config = epoch_config()
        optimizer = make_optimizer(fresh, config)
        scaler = grad_scaler(dev, resolve_precision(dev, config.amp, config.precision))
        hoyer = RegularisedThresholdPruning()
        state = TrainState(fresh, optimizer, config, dev, History(), steps_per_epoch=len(batches))
        hoyer.on_train_start(state)
        # paired on one model, so the difference is the regulariser's and not the two models' or the warm-up's
        plain = _best_time(lambda: train_epoch(fresh, batches, optimizer, config, dev, scaler), dev, repeats)
        regularised = _best_time(lambda: train_epoch(fresh, batches, optimizer, config, dev, scaler,
                                                     callbacks=[hoyer], state=state), dev, repeats)
        costs.append(CriterionCost("hoyersquare (regulariser, per epoch)", len(batches), regularised - plain, plain))
    return costs


def format_costs(costs: list[CriterionCost]) -> str:
    """One line per criterion: seconds and epochs."""
    lines = [f"criterion cost relative to one unpruned epoch ({costs[0].epoch_s:.3f} s):"] if costs else []
    for c in costs:
        lines.append(f"  {c.criterion:<38} {c.rounds:>4} rounds {c.seconds:8.3f} s  = {c.epochs:6.3f} epochs")
    return "\n".join(lines)


def format_result(result: BenchResult) -> str:
    """Human-readable report of a benchmark result."""
    return "\n".join([
        f"{result.model} on {result.dataset}, {result.samples} samples/epoch, {result.weights:,} prunable "
        f"weights, device {result.device} ({result.precision}), {result.threads} threads",
        f"  GEMM rate (batch shapes, fwd + 2 bwd): {result.gemm_gflops_per_s:8.1f} GFLOP/s",
        f"  plain-GEMM bound for one epoch       : {result.gemm_bound_s:8.3f} s",
        f"  unpruned epoch                       : {result.dense_epoch_s:8.3f} s  "
        f"(ratio to bound {result.dense_vs_bound:.2f}x)",
        f"  SNIP-it masked epoch                 : {result.masked_epoch_s:8.3f} s  "
        f"(ratio to bound {result.masked_vs_bound:.2f}x, target <= 1.5x)",
        f"  per-round ratio to bound, min / median / max: unpruned {result.dense_spread.format()}, "
        f"masked {result.masked_spread.format()} ({len(result.bound_rounds_s)} interleaved rounds)",
        f"  mask overhead (masked / unpruned)    : {result.mask_overhead:8.2f}x",
        f"  SNIP-it scoring, {result.scoring_rounds} rounds           : {result.scoring_s:8.3f} s  "
        f"({result.scoring_vs_epoch:.2f} epochs)",
    ])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``prunekit bench``."""
    parser.add_argument("--model", default="mlp5", help="network to time (default: mlp5)")
    parser.add_argument("--dataset", default="mnist", help="dataset whose training split is timed")
    parser.add_argument("--sparsity", type=float, default=0.98, help="SNIP-it sparsity of the masked run")
    parser.add_argument("--device", default=None, help="cpu, cuda or auto (default: auto)")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS,
                        help="numeric mode of bound and epochs (default: auto, as a run: bf16 autocast on an Ampere GPU)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved rounds (GEMM bound, unpruned epoch, masked epoch); the fastest counts")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training samples")
    parser.add_argument("--json", dest="json_path", default=None, help="also write the numbers to this file")
    parser.add_argument("--structured", action="store_true",
                        help="instead: shrunk VGG16/Conv6 inference speed-up against their FLOP reduction at 90 %% "
                             "node sparsity (python -m prunekit.measure.shrink_speed --help for its options)")
    parser.add_argument("--criteria", nargs="*", default=None, metavar="NAME",
                        help="instead: time every criterion's pruning (or the named ones) as a multiple of one epoch")
    parser.add_argument("--sparse-kernels", action="store_true",
                        help="instead: unpruned vs masked vs sparse-kernel (CSR) epochs at --sparsity, interleaved")
    parser.add_argument("--sparsities", type=float, nargs="*", default=None, metavar="S",
                        help="with --sparse-kernels: one speed-up per sparsity (e.g. 0.9 0.95 0.98 0.995)")
    parser.add_argument("--products", action="store_true",
                        help="with --sparse-kernels: also time each layer's three products, dense vs CSR")


def main(args: argparse.Namespace) -> int:
    """Run the benchmark and print its ratios (the CLI's ``bench`` command)."""
    if args.structured:
        from prunekit.measure import shrink_speed as speed

        return speed.main(["--model", "vgg16", "--model", "conv6", "--fold-batchnorm", "--channels-last"])
    if args.sparse_kernels:
        from prunekit.measure import sparse_speed

        return sparse_speed.main(args)
    if args.criteria is not None:
        costs = criterion_costs(args.model, args.dataset, args.sparsity, args.criteria or None, args.device,
                                args.limit, args.repeats)
        sys.stdout.write(format_costs(costs) + "\n")
        if args.json_path:
            with open(args.json_path, "w", encoding="utf-8") as fh:
                json.dump([{**asdict(c), "epochs": c.epochs} for c in costs], fh, indent=2)
        return 0
    result = run_benchmark(args.model, args.dataset, args.sparsity, args.device, args.repeats, args.limit,
                           precision=args.precision)
    sys.stdout.write(format_result(result) + "\n")
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as fh:
            json.dump(result.as_dict(), fh, indent=2)
    return 0
