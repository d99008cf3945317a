"""Appendix L as tables: each network's prunable layers, parameters and inference FLOPs, beside the paper's layers.

FLOPs follow the package's one convention (:func:`prunekit.measure.metrics.inference_flops`, and
:class:`torch.utils.flop_counter.FlopCounterMode` in :func:`prunekit.measure.network.flops_per_sample`):
**2 FLOPs per multiply-accumulate of a Linear or Conv layer, for one sample**. A ``Linear(in, out)`` costs
``2·in·out``; a ``Conv2d`` costs ``2·(C_in/groups)·k_h·k_w·C_out·H_out·W_out``. Bias additions, BatchNorm,
activations, pooling and residual sums are not counted.

Appendix L prints layer definitions, no counts: the paper's side of every comparison here is derived from
the transcription in ``prunekit/reference/architectures.json`` (:func:`prunekit.reference.paper_architectures`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
import torch
from torch import nn

from prunekit.data import DATASET_NAMES, dataset_info
from prunekit.core.masks import prunable_layers
from prunekit.core.flops import layer_macs
from prunekit.models import available_models, build_model
from prunekit.reference import paper_architectures
from prunekit.measure.network import flops_per_sample, parameter_count
from prunekit.training.loop import eval_mode
from prunekit.core.timing import model_device

FLOPS_PER_MAC = 2
PAPER_DATASETS = ("mnist", "cifar10", "imagenette")  # the three of Appendix J


def _check_input_shape(input_shape: object) -> tuple[int, int, int]:
    """``(C, H, W)`` as a tuple of three positive ints, else ValueError naming the value."""
    if (not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in input_shape)):
        raise ValueError(f"input_shape must be (C, H, W) with three positive ints, got {input_shape!r}")
    return tuple(int(v) for v in input_shape)  # type: ignore[return-value]


def _check_model_name(name: object) -> str:
    """The lower-cased registry name, else ValueError listing the accepted ones."""
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in available_models():
        raise ValueError(f"unknown model name {name!r}; accepted names: {', '.join(available_models())}")
    return key


def shape_model(name: str, input_shape: Sequence[int], num_classes: int) -> nn.Module:
    """The Appendix-L network ``name`` on the meta device: true shapes, no storage, no initialisation cost."""
    with torch.device("meta"):
        return build_model(_check_model_name(name), _check_input_shape(input_shape), num_classes)


def model_label(name: str) -> str:
    """The network's name as Appendix L prints it (``resnet18`` → ``ResNet18``)."""
    key = _check_model_name(name)
    spec = paper_architectures()
    labels = spec.loc[spec["model"] == key, "label"]
    return str(labels.iloc[0]) if len(labels) else key.upper()


def output_shapes(model: nn.Module, input_shape: Sequence[int]) -> dict[str, tuple[int, ...]]:
    """Per-sample output shape of every Linear/Conv layer in one eval-mode forward pass."""
    shape = _check_input_shape(input_shape)
    shapes: dict[str, tuple[int, ...]] = {}

    def hook_for(name: str):
        def hook(_module: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            shapes[name] = tuple(output.shape[1:])
        return hook

    hooks = [m.register_forward_hook(hook_for(n)) for n, m in prunable_layers(model).items()]
    try:
        with eval_mode(model), torch.no_grad():
            model(torch.zeros(1, *shape, device=model_device(model)))
    finally:
        for h in hooks:
            h.remove()
    return shapes


def layer_table(model: nn.Module, input_shape: Sequence[int]) -> pd.DataFrame:
    """One row per Linear/Conv layer: name, type, weight shape, weights, biases, output shape and dense FLOPs
    per sample."""
    shape = _check_input_shape(input_shape)
    layers = prunable_layers(model)
    outputs = output_shapes(model, shape)
    macs = layer_macs(model, shape, sparse=False)
    rows = []
    for name, module in layers.items():
        rows.append({
            "layer": name,
            "type": type(module).__name__,
            "weight_shape": tuple(module.weight.shape),
            "weights": module.weight.numel(),
            "biases": 0 if module.bias is None else module.bias.numel(),
            "output_shape": outputs.get(name),
            "flops": FLOPS_PER_MAC * macs[name],
        })
    return pd.DataFrame(rows)


def _resolve(value: object, symbol_value: int, symbol: str) -> int:
    """A transcribed dimension: the int itself, or ``symbol_value`` where the paper writes ``symbol``."""
    return symbol_value if value == symbol else int(value)


def _paper_row(kind: str, weight_shape: tuple[int, ...], bias: bool, batchnorm: bool, source: str) -> dict:
    """One weight-holding layer of the paper's network, with the parameters it implies."""
    out = weight_shape[0]
    return {"type": kind, "weight_shape": weight_shape, "weights": math.prod(weight_shape),
            "biases": out if bias else 0, "batchnorm_parameters": 2 * out if batchnorm else 0, "source": source}


def _basic_block_rows(spec: pd.Series) -> list[dict]:
    """A BasicBlock as He et al. (and torchvision) define it: two bias-free 3×3 convs with BatchNorm, and a
    bias-free 1×1 projection with BatchNorm on the shortcut when it downsamples or changes the width."""
    c_in, c_out, down = int(spec["in"]), int(spec["out"]), bool(spec["downsampling"])
    source = f"BasicBlock({c_in}, {c_out}, downsampling={down})"
    rows = [_paper_row("Conv2d", (c_out, c_in, 3, 3), False, True, source),
            _paper_row("Conv2d", (c_out, c_out, 3, 3), False, True, source)]
    if down or c_in != c_out:
        rows.append(_paper_row("Conv2d", (c_out, c_in, 1, 1), False, True, source))
    return rows


def paper_layers(name: str, input_shape: Sequence[int], num_classes: int) -> pd.DataFrame:
    """Appendix L's weight-holding layers of ``name`` for this input and class count, in forward order.

    ``I`` resolves to the input channels of a convolutional first layer and to ``C·H·W`` for a Linear one
    (MLP5 flattens its input); ``K`` to ``num_classes``. ResNet18's BasicBlocks expand into their convolutions.
    """
    key = _check_model_name(name)
    c, h, w = _check_input_shape(input_shape)
    spec = paper_architectures()
    rows: list[dict] = []
    for _, layer in spec[spec["model"] == key].iterrows():
        if layer["type"] == "BasicBlock":
            rows += _basic_block_rows(layer)
            continue
        symbol = c if layer["type"] == "Conv2d" else c * h * w
        c_in, c_out = _resolve(layer["in"], symbol, "I"), _resolve(layer["out"], num_classes, "K")
        kernel = () if layer["type"] == "Linear" else (int(layer["kernel"]),) * 2
        rows.append(_paper_row(layer["type"], (c_out, c_in, *kernel), bool(layer["bias"]), bool(layer["batchnorm"]),
                               layer["type"]))
    return pd.DataFrame(rows)


def compare_layers(name: str, input_shape: Sequence[int], num_classes: int,
                   model: nn.Module | None = None) -> pd.DataFrame:
    """Our layer table of ``name`` beside the paper's layers, matched in forward order, with ``match`` per row."""
    ours = layer_table(model if model is not None else shape_model(name, input_shape, num_classes), input_shape)
    paper = paper_layers(name, input_shape, num_classes)
    n = max(len(ours), len(paper))
    ours, paper = ours.reindex(range(n)), paper.reindex(range(n))
    table = ours.assign(paper_type=paper["type"], paper_weight_shape=paper["weight_shape"],
                        paper_weights=paper["weights"])
    table["match"] = [o == p and t == pt for o, p, t, pt in
                      zip(table["weight_shape"], table["paper_weight_shape"], table["type"], table["paper_type"])]
    return table


def input_shapes(datasets: Sequence[str] | None = None) -> dict[tuple[tuple[int, int, int], int], list[str]]:
    """Distinct ``(input shape, classes)`` of the datasets (default: all of prunekit's) and who shares each."""
    names = list(DATASET_NAMES if datasets is None else [datasets] if isinstance(datasets, str) else datasets)
    if not names:
        raise ValueError(f"datasets must name at least one dataset of {', '.join(DATASET_NAMES)}, got {datasets!r}")
    groups: dict[tuple[tuple[int, int, int], int], list[str]] = {}
    for dataset in names:
        info = dataset_info(dataset)
        groups.setdefault((info.input_shape, info.num_classes), []).append(info.name)
    return groups


def head_resolution(table: pd.DataFrame) -> tuple[tuple[int, ...] | None, int | None]:
    """The last feature map before the first Linear layer (H, W) and how many positions per channel that Linear
    reads after pooling (its fan-in / the channels); ``(None, None)`` for a network without convolutions."""
    kinds = table["type"].tolist()
    if "Linear" not in kinds or kinds.index("Linear") == 0:
        return None, None
    first = kinds.index("Linear")
    last_conv = table.iloc[first - 1]
    channels, *spatial = last_conv["output_shape"]
    fan_in = table.iloc[first]["weight_shape"][1]
    return tuple(spatial), fan_in // channels


def _summary_row(name: str, shape: tuple[int, int, int], classes: int, datasets: list[str]) -> dict:
    """Parameters and FLOPs of one network at one input shape, ours beside the paper-derived ones."""
    model = shape_model(name, shape, classes)
    table = compare_layers(name, shape, classes, model)
    paper = paper_layers(name, shape, classes)
    paper_parameters = int(paper[["weights", "biases", "batchnorm_parameters"]].to_numpy().sum())
    parameters = parameter_count(model)
    last_map, head_positions = head_resolution(table)
    return {
        "model": name,
        "label": model_label(name),
        "datasets": ", ".join(datasets),
        "input_shape": shape,
        "classes": classes,
        "layers": int(table["layer"].notna().sum()),
        "paper_layers": len(paper),
        "weights": int(table["weights"].sum()),
        "paper_weights": int(paper["weights"].sum()),
        "parameters": parameters,
        "paper_parameters": paper_parameters,
        "parameters_diff_pct": 100.0 * (parameters - paper_parameters) / paper_parameters,
        "layers_match": bool(table["match"].all()),
        "flops": int(table["flops"].sum()),
        "counted_flops": flops_per_sample(model, shape),
        "last_feature_map": last_map,
        "head_positions": head_positions,
    }


def architecture_summary(models: Sequence[str] | None = None, datasets: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per network and distinct dataset input shape: layers, weights, parameters and dense inference FLOPs
    per sample (ours by two counters), beside the counts Appendix L's layers imply."""
    names = [_check_model_name(m) for m in (available_models() if models is None else
                                            [models] if isinstance(models, str) else models)]
    rows = [_summary_row(name, shape, classes, members)
            for (shape, classes), members in input_shapes(datasets).items() for name in names]
    return pd.DataFrame(rows).astype({"head_positions": "Int64"})


def shape_label(input_shape: Sequence[int]) -> str:
    """``(3, 32, 32)`` → ``'3×32×32'``."""
    return "×".join(str(v) for v in _check_input_shape(input_shape))


def layer_overview(name: str, datasets: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per layer of ``name``; for every distinct dataset input shape its weight shape, weights, output
    shape and dense FLOPs per sample (column groups), and whether every shape matches Appendix L's layer."""
    parts, matches = {}, []
    for (shape, classes), members in input_shapes(datasets).items():
        table = compare_layers(name, shape, classes)
        matches.append(table["match"])
        part = table[["weight_shape", "weights", "output_shape", "flops"]].rename(
            columns={"weight_shape": "weight shape", "output_shape": "output", "flops": "FLOPs"})
        parts[f"{shape_label(shape)} ({', '.join(members)})"] = part
        head = table[["layer", "type"]]
    overview = pd.concat({"": head.assign(**{"as App. L": pd.concat(matches, axis=1).all(axis=1)}), **parts}, axis=1)
    return overview


__all__ = [
    "FLOPS_PER_MAC",
    "PAPER_DATASETS",
    "architecture_summary",
    "compare_layers",
    "head_resolution",
    "input_shapes",
    "layer_overview",
    "layer_table",
    "model_label",
    "output_shapes",
    "paper_layers",
    "shape_label",
    "shape_model",
]
