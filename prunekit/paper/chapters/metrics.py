"""The metrics chapter (Appendix H): every metric of a run record recomputed by hand on the same trained network.

Each ``check_*`` function recomputes one section's metrics in plain PyTorch, beside the package's value, and adds
one row per metric to a :class:`MetricChecks`; a value that disagrees stops the page there
(:class:`MetricMismatch`). The by-hand formulas are written for MLP5's chain of Linear layers.
"""

from __future__ import annotations

import copy
import math
import statistics
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from prunekit.core.liveness import node_sparsity
from prunekit.core.masks import weight_sparsity
from prunekit.core.masks import make_permanent
from prunekit.experiments.config import RunConfig
from prunekit.experiments.record import RunRecord
from prunekit.experiments.stats import add_harmonic_mean, aggregate
from prunekit.experiments.store import records_frame
from prunekit.measure import metrics as M
from prunekit.measure import network as measure
from prunekit.paper.prologue import Page
from prunekit.paper.runs import Requests, requesting
from prunekit.training.loop import eval_mode

HAND_MODELS = ("mlp5",)  # the by-hand formulas below assume a chain of Linear layers
CSR_INDEX_RATIO = 16  # Appendix H: "a ratio of 16:1 for precision of the nonzero floats and the indices"
# the record fields the page recomputes; any other field is named as not recomputed
COVERED_FIELDS = frozenset({
    "accuracy", "test_loss", "weight_sparsity", "node_sparsity", "inference_flops", "dense_inference_flops",
    "csr_bits", "dense_bits", "training_flops", "dense_training_flops", "train_samples", "test_samples",
    "mask_digest", "train_accuracy", "train_loss", "parameters", "train_memory_bytes", "dense_train_memory_bytes"})


class MetricMismatch(AssertionError):
    """A package value that disagrees with its by-hand recomputation."""


class MetricChecks:
    """The page's rows: metric, package value, by-hand value, and whether they agree."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, metric: str, package: object, by_hand: object, agree: bool) -> None:
        """Record one comparison; a disagreement raises :class:`MetricMismatch` naming both values."""
        self.rows.append({"metric": metric, "package": package, "by hand": by_hand, "agree": bool(agree)})
        if not agree:
            raise MetricMismatch(f"{metric}: package {package!r}, by hand {by_hand!r}")

    def table(self) -> pd.DataFrame:
        """Every comparison so far, one row each."""
        return pd.DataFrame(self.rows)


def require_hand_model(model: str) -> None:
    """Refuse a model the by-hand formulas are not written for."""
    if model not in HAND_MODELS:
        raise ValueError(f"this page's by-hand checks are written for MLP5's Linear layers, got model={model!r}; "
                         f"accepted: {', '.join(HAND_MODELS)}")


def linear_layers(net: nn.Module) -> dict[str, nn.Linear]:
    """The network's Linear layers by name, in forward order (MLP5's chain)."""
    return {name: m for name, m in net.named_modules() if isinstance(m, nn.Linear)}


def kept_and_total(net: nn.Module) -> tuple[dict[str, int], dict[str, int]]:
    """Per Linear layer, its kept mask entries and all its mask entries."""
    layers = linear_layers(net)
    return ({n: int(m.weight_mask.sum()) for n, m in layers.items()},
            {n: m.weight_mask.numel() for n, m in layers.items()})


def check_weight_sparsity(checks: MetricChecks, record: RunRecord, net: nn.Module) -> pd.DataFrame:
    """Weight sparsity overall and per layer: one minus kept mask entries over all mask entries."""
    kept, total = kept_and_total(net)
    hand = 1 - sum(kept.values()) / sum(total.values())
    checks.add("weight sparsity (record)", record.metrics["weight_sparsity"], hand,
               math.isclose(record.metrics["weight_sparsity"], hand, abs_tol=1e-12))
    checks.add("weight sparsity (prunekit.weight_sparsity)", weight_sparsity(net), hand,
               math.isclose(weight_sparsity(net), hand, abs_tol=1e-12))
    per_layer = {n: 1 - kept[n] / total[n] for n in kept}
    checks.add("per-layer sparsity (record), every layer", [round(record.layer_sparsity[n], 6) for n in kept],
               [round(v, 6) for v in per_layer.values()],
               all(math.isclose(record.layer_sparsity[n], v, abs_tol=1e-12) for n, v in per_layer.items()))
    return pd.DataFrame({"weights": total, "kept": kept, "sparsity (record)": record.layer_sparsity,
                         "sparsity (by hand)": per_layer})


def dead_nodes(masks: Sequence[torch.Tensor]) -> tuple[int, int]:
    """Hidden nodes of a Linear chain without a kept incoming or outgoing weight, and all hidden nodes."""
    dead = hidden = 0
    for incoming, outgoing in zip(masks[:-1], masks[1:]):
        alive = incoming.bool().any(dim=1) & outgoing.bool().any(dim=0)
        dead += int((~alive).sum())
        hidden += alive.numel()
    return dead, hidden


def check_node_sparsity(checks: MetricChecks, record: RunRecord, net: nn.Module) -> tuple[int, int]:
    """Node sparsity: dead hidden nodes over all hidden nodes; returns both counts."""
    dead, hidden = dead_nodes([m.weight_mask for m in linear_layers(net).values()])
    hand = dead / hidden
    checks.add("node sparsity (record)", record.metrics["node_sparsity"], hand,
               math.isclose(record.metrics["node_sparsity"], hand, abs_tol=1e-12))
    checks.add("node sparsity (prunekit.node_sparsity)", node_sparsity(net), hand,
               math.isclose(node_sparsity(net), hand, abs_tol=1e-12))
    return dead, hidden


def check_inference_flops(checks: MetricChecks, record: RunRecord, net: nn.Module,
                          shape: Sequence[int]) -> pd.DataFrame:
    """Inference FLOPs per sample, sparse (kept weights) and dense (all weights): twice the weights counted."""
    kept, total = kept_and_total(net)
    sparse_hand, dense_hand = 2 * sum(kept.values()), 2 * sum(total.values())
    sparse_pkg = M.inference_flops(net, shape)
    counted = measure.flops_per_sample(net, shape)
    checks.add("sparse inference FLOPs (record)", record.metrics["inference_flops"], sparse_hand,
               record.metrics["inference_flops"] == sparse_hand)
    checks.add("sparse inference FLOPs (metrics.inference_flops)", sparse_pkg, sparse_hand, sparse_pkg == sparse_hand)
    checks.add("dense inference FLOPs (record)", record.metrics["dense_inference_flops"], dense_hand,
               record.metrics["dense_inference_flops"] == dense_hand)
    checks.add("dense inference FLOPs (FlopCounterMode on the masked net)", counted, dense_hand, counted == dense_hand)
    return pd.DataFrame({"per sample": {"sparse (kept weights)": sparse_hand, "dense (all weights)": dense_hand,
                                        "FlopCounterMode (what the masked net executes)": counted}})


def check_training_flops(checks: MetricChecks, record: RunRecord, net: nn.Module, shape: Sequence[int],
                         epochs: int) -> pd.DataFrame:
    """Training FLOPs: three passes over the kept weights per sample, summed over the epochs; the cumulative table."""
    kept, total = kept_and_total(net)
    samples = record.metrics["train_samples"]
    per_epoch_hand = M.TRAINING_PASSES * 2 * sum(kept.values()) * samples
    dense_epoch = M.TRAINING_PASSES * 2 * sum(total.values()) * samples
    per_epoch_pkg = M.training_flops(net, shape, samples)
    checks.add("training FLOPs per epoch (metrics.training_flops)", per_epoch_pkg, per_epoch_hand,
               per_epoch_pkg == per_epoch_hand)
    checks.add("accumulated training FLOPs (record)", record.metrics["training_flops"], epochs * per_epoch_hand,
               record.metrics["training_flops"] == epochs * per_epoch_hand)
    checks.add("dense accumulated training FLOPs (record)", record.metrics["dense_training_flops"],
               dense_epoch * epochs, record.metrics["dense_training_flops"] == dense_epoch * epochs)
    return pd.DataFrame({"epoch": range(1, epochs + 1),
                         "pruned (cumulative)": [per_epoch_hand * (e + 1) for e in range(epochs)],
                         "dense (cumulative)": [dense_epoch * (e + 1) for e in range(epochs)]})


def csr_by_hand(matrices: Iterable[torch.Tensor]) -> float:
    """CSR bits at 16:1: 32 per nonzero, plus 2 per column index and per row pointer (rows + 1)."""
    index_bits = 32 / CSR_INDEX_RATIO
    return sum(int(w.count_nonzero()) * 32 + (int(w.count_nonzero()) + w.shape[0] + 1) * index_bits
               for w in matrices)


def _csr_cases(net: nn.Module) -> pd.DataFrame:
    """The CSR rule on the run's network, with one kept weight set to 0, and with the masks folded in."""
    zeroed = copy.deepcopy(net)
    layer = dict(zeroed.named_modules())[next(iter(linear_layers(net)))]
    index = tuple(layer.weight_mask.nonzero()[0].tolist())
    with torch.no_grad():
        layer.weight_orig[index] = 0.0
    folded = make_permanent(copy.deepcopy(net))
    names = {"masked (the run)": net, "one kept weight set to 0": zeroed, "masks folded in": folded}
    return pd.DataFrame({"metrics.csr_size_bits": {k: M.csr_size_bits(v) for k, v in names.items()}})


def check_csr(checks: MetricChecks, record: RunRecord, net: nn.Module) -> pd.DataFrame:
    """CSR bits of the record and of the one CSR rule against the by-hand count, and the rule's two edge cases."""
    layers = linear_layers(net)
    _, total = kept_and_total(net)
    hand = csr_by_hand([m.weight_mask for m in layers.values()])
    checks.add("CSR bits (record)", record.metrics["csr_bits"], hand, math.isclose(record.metrics["csr_bits"], hand))
    checks.add("CSR bits (metrics.csr_size_bits)", M.csr_size_bits(net), hand, math.isclose(M.csr_size_bits(net), hand))
    checks.add("dense bits (record): 32 per weight", record.metrics["dense_bits"], 32 * sum(total.values()),
               record.metrics["dense_bits"] == 32 * sum(total.values()))
    cases = _csr_cases(net)["metrics.csr_size_bits"]
    checks.add("a kept weight that is exactly 0 is not stored: 32 + 2 bits fewer",
               float(cases.iloc[1] - cases.iloc[0]), -34.0, cases.iloc[1] - cases.iloc[0] == -34)
    checks.add("masks folded in: the same bits as the masked network", float(cases.iloc[2]), float(cases.iloc[0]),
               math.isclose(cases.iloc[2], cases.iloc[0]))
    return cases.to_frame()


def disk_reductions(record: RunRecord, unpruned: nn.Module) -> tuple[float, float, str]:
    """Disk reduction against dense float32 storage and against the unpruned network in CSR, and a line saying so."""
    dense_csr = M.csr_size_bits(unpruned)
    vs_dense = record.metrics["dense_bits"] / record.metrics["csr_bits"]
    vs_csr = dense_csr / record.metrics["csr_bits"]
    mib = 8 * 2**20
    return vs_dense, vs_csr, (
        f"disk: {record.metrics['csr_bits'] / mib:.3f} MiB in CSR against {record.metrics['dense_bits'] / mib:.3f} "
        f"MiB stored densely (reduction {vs_dense:.2f}×), or against the unpruned network also in CSR, "
        f"{dense_csr / mib:.3f} MiB (reduction {vs_csr:.2f}×)")


def test_metrics_by_hand(net: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> tuple[int, int, float]:
    """Correct predictions, images seen and summed cross-entropy over ``batches``, in eval mode."""
    correct = seen = 0
    loss_sum = 0.0
    with eval_mode(net), torch.no_grad():  # dropout off, BatchNorm on its running statistics
        for x, y in batches:
            logits = net(x).float()
            correct += int((logits.argmax(1) == y).sum())
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
            seen += len(y)
    return correct, seen, loss_sum


def check_accuracy(checks: MetricChecks, record: RunRecord, net: nn.Module, batches, device: torch.device) -> str:
    """Test accuracy, test loss and HM of the record against a by-hand evaluation; a line with the three."""
    correct, seen, loss_sum = test_metrics_by_hand(net, batches)
    tolerance = 1e-9 if device.type == "cpu" else 5e-3  # bf16 autocast on CUDA rounds differently
    checks.add("test accuracy (record)", record.metrics["accuracy"], correct / seen,
               abs(record.metrics["accuracy"] - correct / seen) <= tolerance)
    checks.add("test loss (record)", record.metrics["test_loss"], loss_sum / seen,
               math.isclose(record.metrics["test_loss"], loss_sum / seen,
                            rel_tol=1e-4 if device.type == "cpu" else 5e-2))
    a, s = record.metrics["accuracy"], record.metrics["weight_sparsity"]
    hm_hand = 2 * a * s / (a + s)
    checks.add("HM (metrics.harmonic_mean)", M.harmonic_mean(a, s), hm_hand, math.isclose(M.harmonic_mean(a, s), hm_hand))
    hm_frame = add_harmonic_mean(records_frame([record]))["hm"].iloc[0]
    checks.add("HM (store.add_harmonic_mean)", hm_frame, hm_hand, math.isclose(hm_frame, hm_hand))
    return f"accuracy {correct}/{seen} = {correct / seen:.4f}, weight sparsity {s:.4f}, HM {hm_hand:.4f}"


def seed_configs(page: Page, *, model: str = "mlp5", criterion: str = "snip-it", sparsity: float = 0.9
                 ) -> list[RunConfig]:
    """The stored runs of the demonstration's setting, one per seed of the page: the confidence bound's records."""
    return [RunConfig.from_profile(page.profile, model=model, dataset=page.dataset, criterion=criterion,
                                   sparsity=sparsity, seed=s) for s in page.seeds]


def requests(page: Page, *, model: str = "mlp5", criterion: str = "snip-it", sparsity: float = 0.9) -> Requests:
    """The runs the page reads (its demonstration run is trained live and never stored)."""
    return requesting(seed_configs(page, model=model, criterion=criterion, sparsity=sparsity))


def check_confidence_bound(checks: MetricChecks, seed_records: Sequence[RunRecord]) -> tuple[pd.DataFrame, dict]:
    """1.96·σ/√n over the seeds' accuracies (σ with n − 1); the per-seed table and the summary numbers."""
    accuracies = [r.metrics["accuracy"] for r in seed_records]
    n = len(accuracies)
    sd = statistics.stdev(accuracies) if n > 1 else 0.0
    bound_hand = 1.96 * sd / math.sqrt(n) if n > 1 else 0.0
    agg = aggregate(records_frame(seed_records), by=["criterion", "sparsity"], values=["accuracy", "weight_sparsity"])
    checks.add("1.96·σ/√n (metrics.confidence_bound)", M.confidence_bound(accuracies), bound_hand,
               math.isclose(M.confidence_bound(accuracies), bound_hand, abs_tol=1e-15))
    checks.add("1.96·σ/√n (store.aggregate)", float(agg["accuracy_bound"].iloc[0]), bound_hand,
               math.isclose(float(agg["accuracy_bound"].iloc[0]), bound_hand, abs_tol=1e-15))
    table = pd.DataFrame({"seed": [r.config.seed for r in seed_records], "accuracy": accuracies,
                          "weight sparsity": [r.metrics["weight_sparsity"] for r in seed_records]})
    mean_acc, mean_sparsity = statistics.fmean(accuracies), float(agg["weight_sparsity_mean"].iloc[0])
    return table, {"n": n, "sd": sd, "bound": bound_hand, "mean_accuracy": mean_acc,
                   "hm_of_means": M.harmonic_mean(mean_acc, mean_sparsity)}


def median_forward_seconds(net: nn.Module, batch: torch.Tensor, repeats: int, warmup: int = 2) -> float:
    """The median wall time of ``repeats`` eval-mode forward passes of ``batch`` after ``warmup`` untimed ones."""
    device = batch.device
    with eval_mode(net), torch.no_grad():
        for _ in range(warmup):
            net(batch)
        times = []
        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            net(batch)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def check_time(checks: MetricChecks, record: RunRecord, net: nn.Module, shape: Sequence[int], batch_size: int,
               repeats: int, device: torch.device) -> pd.DataFrame:
    """Inference time now, package against by hand (within 4×), and the ordering of the record's times."""
    hand = median_forward_seconds(net, torch.randn(batch_size, *shape, device=device), repeats)
    now = measure.inference_seconds(net, shape, batch_size, repeats=repeats)
    checks.add("inference seconds per batch (network.inference_seconds, now), within 4×", now, hand,
               0.25 <= now / hand <= 4)
    res = record.resources
    epoch_seconds = sum(e["seconds"] for e in record.history)
    checks.add("Σ epoch training passes ≤ train_seconds ≤ total_seconds", (epoch_seconds, res["train_seconds"]),
               res["total_seconds"], epoch_seconds <= res["train_seconds"] <= res["total_seconds"])
    parts = res["prune_seconds"] + res["train_seconds"] + res["eval_seconds"]
    checks.add("prune + train + eval seconds ≤ total_seconds", parts, res["total_seconds"],
               parts <= res["total_seconds"])
    return pd.DataFrame({"seconds": {
        "inference, one batch (record)": res["inference_seconds"], "inference, one batch (package, now)": now,
        "inference, one batch (by hand, now)": hand, "pruning at initialisation": res["prune_seconds"],
        "training passes (Σ epochs)": epoch_seconds, "training loop (train_seconds)": res["train_seconds"],
        "whole run (total_seconds)": res["total_seconds"]}})


def vmhwm_bytes(status: Path = Path("/proc/self/status")) -> int | None:
    """The process's peak resident set (Linux ``VmHWM``) in bytes, None where /proc is not there."""
    if not status.is_file():
        return None
    line = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def parameter_bytes(net: nn.Module) -> int:
    """Bytes of the network's parameters (masked weights included)."""
    return sum(p.numel() * p.element_size() for p in net.parameters())


def check_memory(checks: MetricChecks, record: RunRecord, net: nn.Module, unpruned: nn.Module,
                 shape: Sequence[int], batch_size: int, seed: int, device: torch.device) -> list[str]:
    """Peak memory now against the OS's (or CUDA's) reading, and the start-of-training estimate; lines to print."""
    if device.type == "cuda":
        pkg, by_hand = M.peak_memory_bytes(device), int(torch.cuda.max_memory_allocated(device))
        checks.add("peak CUDA bytes (metrics.peak_memory_bytes)", pkg, by_hand, pkg == by_hand)
    elif (by_hand := vmhwm_bytes()) is not None:
        pkg = M.peak_memory_bytes("cpu")
        checks.add("peak RSS (metrics.peak_memory_bytes) vs VmHWM, within 1 %", pkg, by_hand,
                   abs(pkg - by_hand) <= 0.01 * by_hand)
        checks.add("the record's peak RSS ≤ the process's peak now", record.resources["peak_memory_bytes"], by_hand,
                   record.resources["peak_memory_bytes"] <= by_hand)
    lines = [f"{record.resources['peak_memory_kind']}: {record.resources['peak_memory_bytes'] / 2**20:,.0f} MiB at the "
             f"end of the run; the network's own parameters take {parameter_bytes(net) / 2**20:.1f} MiB"]
    if "train_memory_bytes" in record.metrics:
        state_hand = 4 * parameter_bytes(net)  # weights, gradients, 2 Adam moments
        checks.add("parameter + gradient + Adam state bytes (measure.parameter_state_bytes)",
                   measure.parameter_state_bytes(net), state_hand, measure.parameter_state_bytes(net) == state_hand)
        if "dense_train_memory_bytes" in record.metrics:
            unpruned_memory = measure.training_memory_bytes(unpruned.to(device), shape, batch_size, seed=seed)
            checks.add("dense_train_memory_bytes (record) = the estimate re-measured on an unpruned MLP5",
                       record.metrics["dense_train_memory_bytes"], unpruned_memory,
                       record.metrics["dense_train_memory_bytes"] == unpruned_memory)
        lines.append(f"train_memory_bytes (device-independent estimate at the start of training): "
                     f"{record.metrics['train_memory_bytes'] / 2**20:.1f} MiB = {state_hand / 2**20:.1f} MiB of "
                     f"parameter state + {(record.metrics['train_memory_bytes'] - state_hand) / 2**20:.1f} MiB of "
                     f"activations saved for backward")
    return lines


def check_record_fields(checks: MetricChecks, record: RunRecord, net: nn.Module) -> list[str]:
    """The parameter count and last-epoch train metrics; returns the record fields the page does not recompute."""
    parameters_hand = sum(p.numel() for p in net.parameters())
    checks.add("parameters (record): Σ numel, masked weights included", record.metrics["parameters"], parameters_hand,
               record.metrics["parameters"] == parameters_hand)
    last = record.history[-1]
    recorded = (record.metrics["train_loss"], record.metrics["train_accuracy"])
    checks.add("train loss and accuracy (record) = the last epoch's", recorded, (last["train_loss"], last["train_acc"]),
               recorded == (last["train_loss"], last["train_acc"]))
    return sorted(set(record.metrics) - COVERED_FIELDS)


def record_table(record: RunRecord) -> pd.DataFrame:
    """Every metric and resource the record holds, one row each."""
    return pd.DataFrame([{"section": "metrics", "name": k, "value": v} for k, v in record.metrics.items()]
                        + [{"section": "resources", "name": k, "value": v} for k, v in record.resources.items()])


def observations_text(*, checks: int, record: RunRecord, net: nn.Module, disk_vs_dense: float, disk_vs_csr: float,
                      bound: dict) -> str:
    """The page's "What we observe" list, every number computed from the run and the checks."""
    m = record.metrics
    s = m["weight_sparsity"]
    flops_reduction = m["dense_inference_flops"] / m["inference_flops"]
    memory = (f"- Time and memory are measurements, not estimates: the package's and the by-hand inference time agree "
              f"within the noise of the machine, and on a CPU the peak memory is the process's RSS "
              f"({record.resources['peak_memory_bytes'] / 2**20:,.0f} MiB here), dominated by everything but the "
              f"network ({parameter_bytes(net) / 2**20:.1f} MiB of parameters)."
              if record.resources["peak_memory_kind"] == "process_rss" else
              "- Time and memory are measurements, not estimates; on this GPU the peak memory is torch's allocated peak.")
    return (
        f"- All {checks} checks agree: every number the record holds is what its definition gives when computed "
        f"by hand on the same network.\n"
        f"- At {s:.0%} weight sparsity, {m['node_sparsity']:.1%} of MLP5's hidden nodes are dead as a side "
        f"effect of unstructured pruning.\n"
        f"- Inference FLOPs fall {flops_reduction:.1f}× when only kept weights count (exactly 1/(1 − κ) for an MLP), "
        f"but the masked network still executes the dense {m['dense_inference_flops']:,} FLOPs per sample: the saving "
        f"needs sparse kernels.\n"
        f"- Training FLOPs of a network pruned before training fall by the same factor from the first epoch on "
        f"({m['dense_training_flops'] / m['training_flops']:.1f}×).\n"
        f"- CSR at 16:1 stores {disk_vs_dense:.2f}× less than the dense float32 weights — below the "
        f"{flops_reduction:.0f}× of the FLOPs, because each kept value carries a 2-bit column index and each row a "
        f"pointer (≈ 1/((1 − κ)·(1 + 1/16)) = {1 / ((1 - s) * (1 + 1 / 16)):.2f}×); against the unpruned network "
        f"also stored in CSR the reduction is {disk_vs_csr:.2f}×. The two CSR functions agree on a masked network "
        f"and part ways where a kept weight is exactly zero or the masks are folded into the weights.\n"
        f"- Over the profile's {bound['n']} seed(s) the accuracy is {100 * bound['mean_accuracy']:.2f} ± "
        f"{100 * bound['bound']:.2f} %; the bound uses the sample standard deviation.\n" + memory)


__all__ = ["COVERED_FIELDS", "HAND_MODELS", "MetricChecks", "MetricMismatch", "check_accuracy", "check_confidence_bound",
           "check_csr", "check_inference_flops", "check_memory", "check_node_sparsity", "check_record_fields",
           "check_time", "check_training_flops", "check_weight_sparsity", "csr_by_hand", "dead_nodes",
           "disk_reductions", "kept_and_total", "linear_layers", "median_forward_seconds", "observations_text",
           "parameter_bytes", "record_table", "require_hand_model", "test_metrics_by_hand", "vmhwm_bytes"]
