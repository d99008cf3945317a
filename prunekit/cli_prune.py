"""``prunekit prune`` and ``prunekit inspect``: prune any model from the shell into a portable artifact.

``--model`` names a torchvision classification model (``torchvision:resnet18``, built with
``weights=None``), a factory (``mypkg.mymodule:factory``, called with ``num_classes=`` when a class
count is known: ``--num-classes``, for ``prune`` else the data's) or one of the paper's networks
(``resnet18``). Scoring data comes from one of the four datasets or an ImageFolder. MNIST and Fashion-MNIST have one channel: for a model whose first
convolution expects three, the channel is repeated three times (the command says so).
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import logging
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from prunekit.data import ScoringData, dataset_samples, fit_channels

log = logging.getLogger(__name__)

DEFAULT_SAMPLES = 512
DEFAULT_IMAGE_SIZE = 128
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
REPORT_FILE, INSPECT_FILE = "report.txt", "inspect.csv"


# ----------------------------------------------------------------------------------------------- models


def torchvision_names() -> list[str]:
    """Classification model names of ``torchvision.models``."""
    import torchvision

    return torchvision.models.list_models(module=torchvision.models)


def _torchvision_factory(name: str, num_classes: int | None) -> Callable[[], nn.Module]:
    """A builder of an untrained torchvision classification model; ValueError for an unknown name."""
    import torchvision

    names = torchvision_names()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(f"unknown torchvision classification model {name!r}{hint}; accepted: {', '.join(names)}")
    kwargs = {} if num_classes is None else {"num_classes": num_classes}
    return lambda: torchvision.models.get_model(name, weights=None, **kwargs)


def _import_factory(text: str, num_classes: int | None) -> Callable[[], nn.Module]:
    """The builder named ``module.path:function``; ValueError when it does not import or is not callable."""
    module_name, _, attribute = text.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"--model {text}: cannot import module {module_name!r} ({err})") from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise ValueError(f"--model {text}: module {module_name!r} has no callable {attribute!r}")
    return lambda: _call_factory(factory, text, num_classes)


def _call_factory(factory: Callable[..., nn.Module], text: str, num_classes: int | None) -> nn.Module:
    """``factory(num_classes=…)`` (or ``factory()`` without a class count); ValueError when it refuses the argument."""
    if num_classes is None:
        return factory()
    try:
        return factory(num_classes=num_classes)
    except TypeError as err:
        raise ValueError(f"--model {text}: the factory does not accept num_classes={num_classes} ({err})") from None


def model_factory(text: str, num_classes: int | None, input_shape: Sequence[int]) -> Callable[[], nn.Module]:
    """A builder of fresh instances of the model ``--model`` names (see the module docstring)."""
    from prunekit.models import available_models, build_model

    source, sep, name = text.partition(":")
    if sep and source == "torchvision":
        return _torchvision_factory(name, num_classes)
    if sep and source and name:
        return _import_factory(text, num_classes)
    if text in available_models():
        return lambda: build_model(text, tuple(input_shape), num_classes or 10)
    raise ValueError(f"--model must be torchvision:NAME, module.path:factory or one of {', '.join(available_models())}; "
                     f"got {text!r}")


def build(factory: Callable[[], nn.Module], seed: int) -> nn.Module:
    """A fresh model from ``factory`` with seeded initialisation; TypeError when it is not an nn.Module."""
    torch.manual_seed(seed)
    model = factory()
    if not isinstance(model, nn.Module):
        raise ValueError(f"the model factory returned a {type(model).__name__}, not a torch.nn.Module")
    return model


# ----------------------------------------------------------------------------------------------- data


def folder_samples(folder: str, samples: int, image_size: int, seed: int) -> ScoringData:
    """``samples`` images drawn (seeded) from an ImageFolder, resized and centre-cropped, ImageNet-normalised."""
    from torchvision import datasets, transforms

    if not Path(folder).is_dir():
        raise FileNotFoundError(f"--data-folder {folder} is not a folder (expected ImageFolder: one subfolder per class)")
    transform = transforms.Compose([transforms.Resize(image_size), transforms.CenterCrop(image_size),
                                    transforms.ToTensor(), transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    dataset = datasets.ImageFolder(folder, transform=transform)
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:samples]
    pairs = [dataset[int(i)] for i in order]
    return ScoringData(torch.stack([x for x, _ in pairs]), torch.tensor([y for _, y in pairs]),
                       f"ImageFolder {folder}", len(dataset.classes))


# ----------------------------------------------------------------------------------------------- pruning


def check_criterion(criterion: str, structured: bool) -> None:
    """Raise ValueError when the criterion does not exist or does not fit ``--structured``."""
    from prunekit.criteria import available_criteria
    from prunekit.structured import available_node_criteria

    nodes, weights = available_node_criteria(), available_criteria()
    if structured and criterion not in nodes:
        raise ValueError(f"--structured prunes nodes: --criterion must be one of {', '.join(nodes)}, got {criterion!r}")
    if not structured and criterion not in weights:
        extra = " (a node criterion: add --structured)" if criterion in nodes else ""
        raise ValueError(f"--criterion {criterion!r} is not a weight criterion{extra}; accepted: {', '.join(weights)}")


def check_out(out: Path) -> None:
    """Raise ValueError when ``--out`` exists and is not an empty folder (nothing is ever overwritten)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"--out {out} exists and is not an empty folder; choose a new one")


def run_pruning(model: nn.Module, args: argparse.Namespace, data: ScoringData):
    """Prune ``model`` in place as the arguments say; the TargetResult."""
    from prunekit.pruning.before import prune
    from prunekit.structured import prune_nodes

    options = dict(data=(data.inputs, data.labels), target=args.target, samples=len(data.inputs),
                   batch_size=min(args.batch_size, len(data.inputs)), steps=args.steps, seed=args.seed)
    return (prune_nodes if args.structured else prune)(model, args.criterion, **options)


@dataclass
class Outcome:
    """The pruned network to ship and its measurements against the dense one."""

    network: nn.Module
    dense_flops: int
    flops: int
    dense_params: int
    params: int
    layers: dict[str, str]


def measure(dense: nn.Module, pruned: nn.Module, args: argparse.Namespace, example: torch.Tensor) -> Outcome:
    """Shrink when structured, then count FLOPs and parameters (masked: kept weights only) and per-layer sparsity."""
    from prunekit.core.masks import layer_counts
    from prunekit.measure.metrics import inference_flops
    from prunekit.pruning.prunability import module_flops
    from prunekit.structured import pruned_node_counts, shrink
    from prunekit.pruning.targets import masked_param_fraction

    dense_flops, dense_params = module_flops(dense, example)[""], sum(p.numel() for p in dense.parameters())
    if args.structured:
        small = shrink(pruned, example)
        layers = {n: f"{c.alive}/{c.total} nodes kept ({c.sparsity:.2%} node sparsity)"
                  for n, c in pruned_node_counts(pruned).items()}
        return Outcome(small, dense_flops, module_flops(small, example)[""], dense_params,
                       sum(p.numel() for p in small.parameters()), layers)
    shape = tuple(example.shape[1:])
    flops = round(dense_flops * inference_flops(pruned, shape) / max(inference_flops(pruned, shape, sparse=False), 1))
    layers = {n: f"{c.kept}/{c.total} weights kept ({c.sparsity:.2%} sparsity)" for n, c in layer_counts(pruned).items()}
    return Outcome(pruned, dense_flops, flops, dense_params, round(dense_params * masked_param_fraction(pruned)[0]),
                   layers)


def report_text(args: argparse.Namespace, outcome: Outcome, result, inspect_table: str, note: str) -> str:
    """The short report written beside the artifact."""
    lines = [f"prunekit prune --model {args.model} --criterion {args.criterion} --target {args.target.kind}="
             f"{args.target.value:g}{' --structured' if args.structured else ''}", note,
             f"FLOPs per sample: {outcome.flops:,} of {outcome.dense_flops:,} dense "
             f"({outcome.flops / outcome.dense_flops:.2%})",
             f"parameters:       {outcome.params:,} of {outcome.dense_params:,} dense "
             f"({outcome.params / outcome.dense_params:.2%})", "", *result.report.lines(), "", "per layer:"]
    lines += [f"  {name}: {text}" for name, text in outcome.layers.items()]
    return "\n".join(lines + ["", "prunability of the unpruned model:", inspect_table, ""])


def check_reload(staging: Path, factory: Callable[[], nn.Module], network: nn.Module, x: torch.Tensor) -> None:
    """Raise RuntimeError unless the artifact reloads onto a fresh model with identical outputs."""
    from prunekit.pruning.artifact import load

    loaded = load(staging, build(factory, 0))
    network.eval()
    with torch.no_grad():
        if not torch.equal(loaded(x), network(x)):
            raise RuntimeError("the saved artifact does not reproduce the pruned network's outputs; nothing written")


def write_out(out: Path, outcome: Outcome, spec: dict, report: str, frame, verify: Callable[[Path], None]) -> None:
    """Write artifact and report into a temporary folder beside ``out``, verify, then rename it to ``out``."""
    from prunekit.pruning.artifact import save

    out.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp."))
    try:
        staging = save(outcome.network, scratch / "artifact", spec=spec)
        (staging / REPORT_FILE).write_text(report)
        frame.to_csv(staging / INSPECT_FILE, index=False)
        verify(staging)
        if out.exists():
            out.rmdir()  # checked empty up front
        staging.replace(out)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _spec(args: argparse.Namespace, data: ScoringData, result, outcome: Outcome, example: torch.Tensor) -> dict:
    """What the artifact says about this pruning."""
    return {"criterion": args.criterion, "structured": args.structured,
            "target": {args.target.kind: args.target.value}, "sparsity": result.report.sparsity,
            "schedule": [step.target for step in result.steps], "achieved": {args.target.kind: result.report.achieved},
            "flops_fraction": outcome.flops / outcome.dense_flops, "params_fraction": outcome.params / outcome.dense_params,
            "run_config": {"model": args.model, "num_classes": data.num_classes, "data": data.source,
                           "samples": len(data.inputs), "seed": args.seed, "steps": args.steps,
                           "input_shape": list(example.shape[1:])}}


def scoring_data(args: argparse.Namespace) -> ScoringData:
    """The data the arguments name."""
    if args.data_folder:
        return folder_samples(args.data_folder, args.samples, args.image_size, args.seed)
    return dataset_samples(args.dataset, args.samples, args.data_root)


def cmd_prune(args: argparse.Namespace, extra: Sequence[str]) -> int:
    """``prunekit prune``: prune, shrink if asked, write artifact + report to ``--out``."""
    from prunekit.pruning.prunability import format_report, inspect

    out = Path(args.out)
    check_out(out)
    check_criterion(args.criterion, args.structured)
    data = scoring_data(args)
    factory = model_factory(args.model, args.num_classes or data.num_classes, tuple(data.inputs.shape[1:]))
    model = build(factory, args.seed)
    notes: list[str] = []
    data = fit_channels(data, model, notes.append)
    for note in notes:
        print(note)
    example = data.inputs[:1]
    frame = inspect(model, example)
    dense = build(factory, args.seed)
    result = run_pruning(model, args, data)
    outcome = measure(dense, model, args, example)
    report = report_text(args, outcome, result, format_report(frame), " ".join(notes) or f"data: {data.source}")
    write_out(out, outcome, _spec(args, data, result, outcome, example), report, frame,
              lambda staging: check_reload(staging, factory, outcome.network, data.inputs[:8]))
    print("\n".join(result.report.lines()[:1]))
    print(f"FLOPs {outcome.flops / outcome.dense_flops:.2%} and parameters {outcome.params / outcome.dense_params:.2%} "
          f"of the dense network; artifact and report in {out}")
    return 0


def cmd_inspect(args: argparse.Namespace, extra: Sequence[str]) -> int:
    """``prunekit inspect``: print the prunability table of a model."""
    from prunekit.pruning.prunability import format_report, inspect

    shape = tuple(args.input_shape)
    model = build(model_factory(args.model, args.num_classes, shape), 0)
    frame = inspect(model, torch.zeros(1, *shape))
    print(format_report(frame))
    if args.csv:
        frame.to_csv(args.csv, index=False)
    return 0


# ----------------------------------------------------------------------------------------------- parsers


def _target(text: str):
    from prunekit.pruning.targets import Target

    try:
        return Target.parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _shape(text: str) -> list[int]:
    try:
        shape = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected C,H,W as comma-separated ints, got {text!r}") from None
    if not shape or any(v < 1 for v in shape):
        raise argparse.ArgumentTypeError(f"expected positive sizes, got {text!r}")
    return shape


MODEL_HELP = ("torchvision:NAME (any torchvision classification model, untrained), module.path:factory (called with "
              "num_classes=: --num-classes, for prune else the data's) or a paper network name")


def _add_model_options(parser: argparse.ArgumentParser, default_classes: str) -> None:
    """``--model`` and ``--num-classes``, shared by ``prune`` and ``inspect``."""
    parser.add_argument("--model", required=True, help=MODEL_HELP)
    parser.add_argument("--num-classes", type=int, default=None, help=f"classes (default: {default_classes})")


def add_prune_parser(commands: argparse._SubParsersAction) -> None:
    """The ``prune`` subcommand."""
    from prunekit.data import DATASET_NAMES

    parser = commands.add_parser("prune", help="prune any model into a portable artifact (safetensors + JSON spec)",
                                 description="Prune a model before training, shrink it with --structured, and write "
                                             "the artifact, a short report and the prunability table to --out.")
    _add_model_options(parser, "the data's")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--dataset", default="mnist", help=f"scoring data: {', '.join(DATASET_NAMES)} (default: mnist; "
                                                           "one channel is repeated for three-channel models)")
    source.add_argument("--data-folder", default=None, help="scoring data from an ImageFolder (one subfolder per class)")
    parser.add_argument("--image-size", type=int, default=DEFAULT_IMAGE_SIZE,
                        help=f"--data-folder images are resized and centre-cropped to this (default {DEFAULT_IMAGE_SIZE})")
    parser.add_argument("--criterion", default="snip-it", help="weight criterion, or a node criterion with --structured")
    parser.add_argument("--target", type=_target, required=True,
                        help="flops=F or params=F (keep at most fraction F of the dense network) or sparsity=F")
    parser.add_argument("--structured", action="store_true", help="prune nodes and physically shrink the network")
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES,
                        help=f"scoring samples per round (default {DEFAULT_SAMPLES}; the paper uses 2560)")
    parser.add_argument("--batch-size", type=int, default=256, help="scoring batch size (default 256)")
    parser.add_argument("--steps", type=int, default=5, help="SNIP-it schedule steps (rounds = steps + 2; default 5)")
    parser.add_argument("--seed", type=int, default=0, help="initialisation and scoring seed")
    parser.add_argument("--data-root", default=None, help="dataset root (default: $PRUNEKIT_DATA, else ./data)")
    parser.add_argument("--out", required=True, help="new or empty folder for the artifact and the report")
    parser.set_defaults(handler=cmd_prune)


def add_inspect_parser(commands: argparse._SubParsersAction) -> None:
    """The ``inspect`` subcommand."""
    parser = commands.add_parser("inspect", help="what prunekit can prune in a model, and why it skips the rest",
                                 description="Print one row per module: pruned by weight criteria, prunable as nodes "
                                             "(with its coupling group), or skipped and why; parameters and FLOPs.")
    _add_model_options(parser, "the model's own default")
    parser.add_argument("--input-shape", type=_shape, default=[3, 224, 224], help="C,H,W of one input (default 3,224,224)")
    parser.add_argument("--csv", default=None, help="also write the table as CSV to this file")
    parser.set_defaults(handler=cmd_inspect)


__all__ = ["add_inspect_parser", "add_prune_parser", "model_factory"]
