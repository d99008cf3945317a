"""The "Prune your own model" chapter: the practitioner's path through prunekit on a torchvision network.

Inspect what can be pruned, prune the weights to a FLOP target (SNIP-it), prune nodes to a parameter or
FLOP target (SNAP-it) and shrink the network, time it against the dense one, save it as a portable
artifact, load it onto a fresh instance and offer it for download. Everything the page shows comes from
these functions; timings and the short training vary from run to run, so they are measured once and read
back from the store (:func:`prunekit.paper.measurements.cached_frame`).
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from prunekit.data import ScoringData, channels_fitted, dataset_samples, first_conv_channels, fit_channels, make_batches
from prunekit.experiments.profiles import Profile, get_profile
from prunekit.experiments.store import ResultStore
from prunekit.measure.interleave import Spread, interleaved_times, paired_ratios
from prunekit.measure.network import batch_seconds, parameter_count, random_batch
from prunekit.paper.book import project_root
from prunekit.paper.measurements import cached_frame, settings_key
from prunekit.pruning.artifact import save
from prunekit.pruning.prunability import NO_WEIGHT, module_flops
from prunekit.pruning.targets import TargetReport, TargetResult
from prunekit.training.loop import TrainConfig, train

log = logging.getLogger(__name__)

DOWNLOADS = Path("_static") / "practice"  # under book/: Jupyter Book serves book/_static as the site's _static/


@dataclass(frozen=True)
class PracticeBudget:
    """How much the chapter scores, times and trains in one profile."""

    samples: int  # scoring samples per round
    steps: int  # schedule steps of SNIP-it and SNAP-it (rounds = steps + 2)
    timing_batch: int  # inputs per timed forward pass
    timing_repeats: int  # interleaved timed passes per network
    epochs: int  # epochs of the short training of the shrunk network (0: none)
    train_limit: int | None  # training images of that training (None: all)
    test_limit: int | None  # test images it is evaluated on (None: all)


def practice_budget(profile: str | Profile) -> PracticeBudget:
    """The chapter's budget: the profile's data limits; each SNIP-it probe re-ranks resnet18's 11 M weights, so
    smoke scores 64 samples in one step, the other profiles the CLI's 512 samples on the paper's schedule."""
    chosen = get_profile(profile)
    smoke = chosen.name == "smoke"
    return PracticeBudget(samples=64 if smoke else min(chosen.samples, 512), steps=1 if smoke else 5,
                          timing_batch=64 if smoke else 256, timing_repeats=5 if smoke else 15, epochs=1,
                          train_limit=chosen.train_limit, test_limit=chosen.test_limit)


# ------------------------------------------------------------------------------------------------ network and data


def build_network(name: str, num_classes: int = 10, seed: int = 0) -> nn.Module:
    """An untrained torchvision classification network (``weights=None``), seeded."""
    import torchvision

    names = torchvision.models.list_models(module=torchvision.models)
    if name not in names:
        raise ValueError(f"unknown torchvision classification model {name!r}; accepted: {', '.join(names)}")
    torch.manual_seed(seed)
    return torchvision.models.get_model(name, weights=None, num_classes=num_classes)


def scoring_data(model: nn.Module, dataset: str, samples: int) -> tuple[ScoringData, list[str]]:
    """The first ``samples`` training images, fitted to the model's input channels, and what fitting did."""
    notes: list[str] = []
    return fit_channels(dataset_samples(dataset, samples, None), model, notes.append), notes


# ------------------------------------------------------------------------------------------------ 1. inspect


def status_of(row: Mapping[str, object]) -> str:
    """A module's row in plain words: pruned as weights and nodes, weights only, or skipped."""
    if row["nodes"]:
        return "weights and nodes"
    return "weights only" if row["weights"] else "skipped"


def prunability_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The modules with parameters of an :func:`inspect` report: status, coupling group, parameters, FLOPs, why."""
    shown = frame[frame["reason"] != NO_WEIGHT]
    return pd.DataFrame({"module": shown["module"], "type": shown["type"],
                         "status": [status_of(r) for r in shown.to_dict("records")], "coupling group": shown["group"],
                         "parameters": shown["params"], "FLOPs": shown["flops"], "why": shown["reason"]})


def prunability_prose(frame: pd.DataFrame) -> str:
    """What the report says, counted: layers pruned as weights and as nodes, coupling groups, skipped modules."""
    weights, nodes = frame[frame["weights"]], frame[frame["nodes"]]
    skipped = frame[~frame["weights"] & (frame["reason"] != NO_WEIGHT)]
    sizes = nodes["group"][nodes["group"] != ""].value_counts()
    share = weights["params"].sum() / max(frame["params"].sum(), 1)
    why = "; ".join(f"{n} × {reason.split(':')[0]}" for reason, n in skipped["reason"].value_counts().items())
    return (f"{frame.attrs.get('model', 'The model')} has {len(weights)} Linear/Conv layers holding {share:.2%} of its "
            f"parameters: the weight criteria score all of them. {len(nodes)} of them can lose whole output channels "
            f"(nodes), in {len(sizes)} coupling groups; {int((sizes > 1).sum())} of those groups join "
            f"{int(sizes[sizes > 1].sum())} layers whose outputs are combined channel by channel (as by a residual "
            f"connection), so they keep or lose a channel together. {len(weights) - len(nodes)} layer(s) are pruned as "
            f"weights only. {len(skipped)} modules with parameters are skipped ({why or 'none'}); "
            f"{int((frame['reason'] == NO_WEIGHT).sum())} modules hold no weight and are left out of the table.")


# ------------------------------------------------------------------------------------------------ 2. and 3. targets


def scoring_options(data: ScoringData, budget: PracticeBudget, seed: int = 0) -> dict[str, object]:
    """The keywords ``prune`` and ``prune_nodes`` take from the page: its data and scoring budget."""
    return {"data": (data.inputs, data.labels), "samples": len(data.inputs), "batch_size": min(512, len(data.inputs)),
            "steps": budget.steps, "seed": seed}


def target_summary(report: TargetReport) -> pd.DataFrame:
    """Requested and achieved fraction of the target's quantity, the sparsity that gave it and the probes."""
    return pd.DataFrame([{"quantity": report.kind, "requested (at most)": report.requested,
                          "achieved": report.achieved, "sparsity": report.sparsity, "probes": len(report.probes)}])


def per_layer_table(report: TargetReport, dense: pd.DataFrame) -> pd.DataFrame:
    """Per pruned layer: its dense parameters and FLOPs (from the :func:`inspect` report) and the share it keeps."""
    by_module = dense.set_index("module")
    return pd.DataFrame({"layer": list(report.per_layer),
                         "dense parameters": [int(by_module.at[n, "params"]) for n in report.per_layer],
                         "dense FLOPs": [int(by_module.at[n, "flops"]) for n in report.per_layer],
                         f"kept {report.kind}": list(report.per_layer.values())})


def target_prose(report: TargetReport, what: str) -> str:
    """The request beside what the search reached."""
    unit = {"flops": "inference FLOPs", "params": "parameters"}.get(report.kind, report.kind)
    probes = ", ".join(f"κ = {k:.4f} → {a:.2%}" for k, a in report.probes)
    return (f"{what} was asked to keep at most {report.requested:.2%} of the dense network's {unit}; it keeps "
            f"{report.achieved:.2%} at sparsity κ = {report.sparsity:.4f}. The bisection on κ tried "
            f"{len(report.probes)} sparsities ({probes}) and kept the least pruned one within the target.")


# ------------------------------------------------------------------------------------------------ 3. shrink and time


def size_table(dense: nn.Module, small: nn.Module, example: torch.Tensor) -> pd.DataFrame:
    """Parameters and inference FLOPs per sample (FlopCounterMode) of the dense and the shrunk network."""
    rows = [{"network": name, "parameters": parameter_count(net), "FLOPs per sample": module_flops(net, example)[""]}
            for name, net in (("dense", dense), ("shrunk", small))]
    frame = pd.DataFrame(rows).set_index("network")
    return pd.concat([frame, (frame.loc["shrunk"] / frame.loc["dense"]).to_frame("shrunk / dense").T])


def shrunk_share(sizes: pd.DataFrame, kind: str) -> float:
    """The shrunk network's share of the dense parameters (``params``) or FLOPs per sample (``flops``)."""
    columns = {"params": "parameters", "flops": "FLOPs per sample"}
    if kind not in columns:
        raise ValueError(f"kind must be one of {', '.join(columns)}, got {kind!r}")
    return float(sizes.loc["shrunk / dense", columns[kind]])


def channel_widths(dense: nn.Module, small: nn.Module) -> pd.DataFrame:
    """Output channels of every convolution in the dense and the shrunk network, in definition order."""
    shrunk = dict(small.named_modules())
    rows = [{"layer": name, "dense": m.out_channels, "shrunk": shrunk[name].out_channels}
            for name, m in dense.named_modules() if isinstance(m, nn.Conv2d)]
    return pd.DataFrame(rows)


def time_networks(networks: Mapping[str, nn.Module], inputs: torch.Tensor, repeats: int) -> pd.DataFrame:
    """Seconds of an eval-mode forward pass of ``inputs`` per network, timed interleaved (one protocol:
    :func:`prunekit.measure.interleave.interleaved_times`); median, fastest and slowest of the repeats."""
    tasks = [lambda net=net: batch_seconds(net, inputs, repeats=1, warmup=0) for net in networks.values()]
    times = interleaved_times(tasks, repeats, warmup=2)
    rows = [{"network": name, "median s": Spread.of(t).median, "fastest s": Spread.of(t).low,
             "slowest s": Spread.of(t).high, "batch": len(inputs), "repeats": repeats,
             "threads": torch.get_num_threads()} for name, t in zip(networks, times)]
    first = times[0]
    for row, t in zip(rows, times):
        ratios = Spread.of(paired_ratios(first, t))
        row.update({"speed-up median": ratios.median, "speed-up low": ratios.low, "speed-up high": ratios.high})
    return pd.DataFrame(rows)


def cached_timings(store: ResultStore, settings: Mapping[str, object], dense: nn.Module, small: nn.Module,
                   input_shape: tuple[int, ...], budget: PracticeBudget) -> pd.DataFrame:
    """:func:`time_networks` of dense vs shrunk, measured once per settings and read back from the store."""
    def measure() -> pd.DataFrame:
        inputs = random_batch(input_shape, budget.timing_batch)
        return time_networks({"dense": dense, "shrunk": small}, inputs, budget.timing_repeats)

    return cached_frame(store, f"practice-timing-{settings_key(settings)}", measure)


def speed_prose(sizes: pd.DataFrame, timings: pd.DataFrame) -> str:
    """Smaller by how much, and faster by how much on this machine."""
    ratio, shrunk = sizes.loc["shrunk / dense"], timings.set_index("network").loc["shrunk"]
    return (f"The shrunk network stores {ratio['parameters']:.2%} of the dense parameters and spends "
            f"{ratio['FLOPs per sample']:.2%} of its FLOPs per sample, a {1 / ratio['FLOPs per sample']:.1f}× FLOP "
            f"reduction. On this CPU ({int(shrunk['threads'])} thread(s), batches of {int(shrunk['batch'])}, "
            f"{int(shrunk['repeats'])} interleaved passes each) its forward pass is {shrunk['speed-up median']:.2f}× "
            f"faster than the dense one (median of the paired ratios; they range from {shrunk['speed-up low']:.2f}× "
            f"to {shrunk['speed-up high']:.2f}×). Small layers run below the machine's peak rate, so the speed-up "
            f"need not match the FLOP reduction.")


# ------------------------------------------------------------------------------------------------ 4. and 5. artifact


def download_folder(book_dir: str | os.PathLike | None = None) -> Path:
    """Where the page writes its artifact: ``book/_static/practice`` (git-ignored, served with the site)."""
    return Path(book_dir if book_dir is not None else project_root() / "book") / DOWNLOADS


def ship(network: nn.Module, folder: Path, name: str, spec: Mapping[str, object]) -> tuple[Path, Path]:
    """Save ``network`` as the artifact ``folder/name`` and zip it beside; (artifact folder, zip file)."""
    artifact = save(network, folder / name, spec=spec)
    archive = shutil.make_archive(str(folder / name), "zip", root_dir=folder, base_dir=name)
    return artifact, Path(archive)


def same_outputs(first: nn.Module, second: nn.Module, inputs: torch.Tensor) -> bool:
    """True when both networks give bit-identical eval-mode outputs on ``inputs``."""
    first.eval()
    second.eval()
    with torch.no_grad():
        return torch.equal(first(inputs), second(inputs))


def artifact_spec(result: TargetResult, criterion: str, settings: Mapping[str, object]) -> dict[str, object]:
    """What the artifact records about its pruning: criterion, target, reached sparsity, schedule, settings."""
    report = result.report
    return {"criterion": criterion, "structured": True, "target": {report.kind: report.requested},
            "achieved": {report.kind: report.achieved}, "sparsity": report.sparsity,
            "schedule": [step.target for step in result.steps], "run_config": dict(settings)}


def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 2**10:.1f} KiB"


def download_links(archive: Path, artifact: Path, book_dir: str | os.PathLike | None = None) -> str:
    """Markdown links to the zipped artifact and its spec, relative to the book's pages."""
    base = Path(book_dir if book_dir is not None else project_root() / "book")
    spec = artifact / "spec.json"
    return (f"**Download** the shrunk network: [{archive.name}]({_relative(archive, base)}) "
            f"({_size(archive)}: `weights.safetensors` and `spec.json`), or read its spec alone: "
            f"[spec.json]({_relative(spec, base)}) ({_size(spec)}).")


def _relative(path: Path, base: Path) -> str:
    return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()


# ------------------------------------------------------------------------------------------------ 6. short training


class FittedBatches:
    """Batches whose inputs are fitted to a model's input channels (a single channel repeated)."""

    def __init__(self, batches: Iterable, channels: int | None, source: str) -> None:
        self.batches, self.channels, self.source = batches, channels, source

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for inputs, labels in self.batches:
            yield channels_fitted(inputs, self.channels, self.source), labels


def train_briefly(network: nn.Module, dataset: str, budget: PracticeBudget, seed: int = 0) -> pd.DataFrame:
    """Train ``network`` in place for the budget's epochs; one row per epoch (accuracies, seconds)."""
    channels = first_conv_channels(network)
    train_set = FittedBatches(make_batches(dataset, train=True, limit=budget.train_limit, seed=seed), channels, dataset)
    test_set = FittedBatches(make_batches(dataset, train=False, limit=budget.test_limit), channels, dataset)
    torch.manual_seed(seed)
    history = train(network, train_set, test_set, TrainConfig(epochs=budget.epochs, device="cpu", progress=False))
    return pd.DataFrame(history.as_records()).assign(train_images=len(train_set.batches.labels),
                                                     test_images=len(test_set.batches.labels))


def cached_training(store: ResultStore, settings: Mapping[str, object], network: nn.Module, dataset: str,
                    budget: PracticeBudget, seed: int = 0) -> pd.DataFrame:
    """:func:`train_briefly` once per settings, read back from the store (the network is trained only then)."""
    return cached_frame(store, f"practice-training-{settings_key(settings)}",
                        lambda: train_briefly(network, dataset, budget, seed))


def training_prose(history: pd.DataFrame) -> str:
    """What the short training reached."""
    last = history.iloc[-1]
    return (f"Trained for {len(history)} epoch(s) on {int(last['train_images']):,} MNIST training images (the paper's "
            f"optimiser and learning rate), the shrunk network classifies {last['test_acc']:.2%} of "
            f"{int(last['test_images']):,} test images correctly ({last['seconds']:.0f} s an epoch on this CPU). "
            f"This is a demonstration that the shrunk network trains, not a result: the paper trains for 80 epochs.")


def budget_settings(model: str, seed: int, budget: PracticeBudget, **targets: object) -> dict[str, object]:
    """What the page's cached measurements depend on."""
    return {"model": model, "seed": seed, **asdict(budget), **targets}


__all__ = ["DOWNLOADS", "FittedBatches", "PracticeBudget", "artifact_spec", "budget_settings", "build_network",
           "cached_timings", "cached_training", "channel_widths", "download_folder", "download_links",
           "per_layer_table", "practice_budget", "prunability_prose", "prunability_table", "same_outputs",
           "scoring_data", "scoring_options", "ship", "shrunk_share", "size_table", "speed_prose",
           "target_prose", "target_summary", "time_networks", "train_briefly", "training_prose"]
