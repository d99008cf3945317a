"""What prunekit can prune in any network, and why it leaves the rest: ``inspect(model, example_inputs)``.

Every leaf module, and every module that holds parameters itself, gets one row: pruned by the weight
criteria (the weights of Linear / Conv1d-3d layers), prunable as nodes by the node criteria (hidden
Linear/Conv layers the dependency graph traces, with the coupling group their output channels belong
to), or skipped with the reason. Parameters are the module's own; FLOPs are those one eval-mode forward
pass of ``example_inputs`` spends in the module (FlopCounterMode: 2 per multiply-accumulate of matmuls
and convolutions, nothing for normalisation, activations or pooling).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from prunekit.core.grouped_conv import is_depthwise, is_grouped
from prunekit.core.masks import PRUNABLE_TYPES

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

COLUMNS = ("module", "type", "weights", "nodes", "group", "params", "flops", "reason")
NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm,
              nn.LocalResponseNorm)
EMBEDDING_TYPES = (nn.Embedding, nn.EmbeddingBag)
NO_WEIGHT = "no weight"
NORMALISATION = "normalisation: its channels follow the layers that produce them, not scored"
EMBEDDING = "embedding: prunekit scores Linear/Conv weights only"
BARE_PARAMETER = "bare nn.Parameter"


def _own_parameters(module: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """The parameters a module holds itself (``weight_orig`` of a masked layer under its plain name)."""
    return [(name.removesuffix("_orig"), p) for name, p in module.named_parameters(recurse=False)]


def _is_leaf(module: nn.Module) -> bool:
    """True for a module without children."""
    return next(module.children(), None) is None


def skip_reason(module: nn.Module) -> str | None:
    """Why the weight criteria leave ``module`` alone, from its type alone; None for a Linear/Conv layer."""
    if isinstance(module, PRUNABLE_TYPES):
        return None
    own = _own_parameters(module)
    if not own:
        return NO_WEIGHT
    if isinstance(module, NORM_TYPES):
        return NORMALISATION
    if isinstance(module, EMBEDDING_TYPES):
        return EMBEDDING
    if not _is_leaf(module):
        return f"{BARE_PARAMETER} {', '.join(name for name, _ in own)}: not the weight of a Linear/Conv layer"
    return f"{type(module).__name__}: its parameters are not Linear/Conv weights, not scored"


def listed_modules(model: nn.Module) -> dict[str, nn.Module]:
    """Every leaf module and every module that holds parameters itself, in definition order (the root as '')."""
    return {name: m for name, m in model.named_modules() if _is_leaf(m) or _own_parameters(m)}


def _category(reason: str) -> str:
    """A reason's short category for the one-line summary."""
    return reason.split(":")[0].split(" ")[0] if not reason.startswith(BARE_PARAMETER) else BARE_PARAMETER


def log_summary(model: nn.Module, scored: Iterable[str], what: str = "Linear/Conv layers scored") -> None:
    """Log :func:`summary_line` at INFO level (computed only when INFO is enabled)."""
    if log.isEnabledFor(logging.INFO):
        log.info("prunability of %s", summary_line(model, scored, what))


def summary_line(model: nn.Module, scored: Iterable[str], what: str = "Linear/Conv layers scored") -> str:
    """One line: how many layers (and parameters) the pruning scores, and what it skips by category."""
    scored = set(scored)
    modules = listed_modules(model)
    total = sum(p.numel() for p in model.parameters())
    covered = sum(p.numel() for name, m in modules.items() if name in scored for _, p in _own_parameters(m))
    skipped: Counter[str] = Counter()
    for name, module in modules.items():
        reason = skip_reason(module)
        if name not in scored and reason != NO_WEIGHT and _own_parameters(module):
            skipped[_category(reason) if reason else "unscored Linear/Conv"] += 1
    rest = ", ".join(f"{n} {c}" for c, n in sorted(skipped.items())) or "none"
    return (f"{type(model).__name__}: {len(scored)} {what} ({covered:,} of {total:,} parameters); "
            f"modules with parameters left alone: {rest}")


def module_flops(model: nn.Module, example_inputs: object) -> dict[str, int]:
    """FLOPs each module spends in one eval-mode forward pass of ``example_inputs``, by module name."""
    from prunekit.pruning.shrink import _as_args
    from prunekit.training.loop import eval_mode

    with eval_mode(model), torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*_as_args(example_inputs))
    prefix = f"{type(model).__name__}."
    counts = counter.get_flop_counts()
    flops = {key[len(prefix):]: int(sum(ops.values())) for key, ops in counts.items() if key.startswith(prefix)}
    flops[""] = int(counter.get_total_flops())
    return flops


def _graph_or_reason(model: nn.Module, example_inputs: object) -> tuple[object | None, str | None]:
    """torch-pruning's dependency graph of ``model``, or None and why it could not be built."""
    from prunekit.pruning.shrink import trace_dependencies

    try:
        return trace_dependencies(model, example_inputs), None
    except ValueError as err:
        log.warning("%s", err)
        return None, f"the dependency graph could not trace the model ({err.__cause__ or err})"


def coupling_groups(graph: object, names: dict[nn.Module, str]) -> dict[str, str]:
    """For every module whose output channels are coupled, its group's first member in definition order."""
    order = {name: i for i, name in enumerate(names.values())}
    groups: dict[str, str] = {}
    for group in graph.get_all_groups(root_module_types=PRUNABLE_TYPES):
        members = [names[item.dep.target.module] for item in group
                   if graph.is_out_channel_pruning_fn(item.dep.handler) and item.dep.target.module in names]
        label = min(members, key=order.__getitem__) if members else ""
        for member in members:
            groups.setdefault(member, label)
    return groups


def _node_reason(name: str, module: nn.Module, traced: bool, outputs: set[str], graph_error: str | None) -> str:
    """Why a Linear/Conv layer cannot be pruned as nodes, or a note on how it is ('' when nothing to say)."""
    if graph_error:
        return f"weights only: {graph_error}"
    if not traced:
        return "weights only: not traced, it takes no part in the forward pass the dependency graph follows"
    if name in outputs:
        return "weights only: output layer, its outputs are the model's outputs"
    if is_grouped(module):
        return f"grouped conv ({module.groups} groups): a channel goes only when dead in every group"
    if is_depthwise(module):
        return "depthwise conv: its channels follow its input channels"
    return ""


def _row(name: str, module: nn.Module, flops: dict[str, int], groups: dict[str, str], traced: bool,
         outputs: set[str], graph_error: str | None) -> dict[str, object]:
    """One row of the report."""
    reason = skip_reason(module)
    prunable = reason is None
    note = _node_reason(name, module, traced, outputs, graph_error) if prunable else reason
    return {"module": name or "(root)", "type": type(module).__name__, "weights": prunable,
            "nodes": prunable and not note.startswith("weights only"), "group": groups.get(name, ""),
            "params": sum(p.numel() for _, p in _own_parameters(module)), "flops": flops.get(name, 0),
            "reason": note}


def inspect(model: nn.Module, example_inputs: object) -> pd.DataFrame:
    """The prunability report of ``model``: one row per module (see the module docstring), columns :data:`COLUMNS`."""
    import pandas as pd

    from prunekit.core.node_masks import output_layers

    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    modules = listed_modules(model)
    names = {m: n for n, m in model.named_modules()}
    flops = module_flops(model, example_inputs)
    graph, graph_error = _graph_or_reason(model, example_inputs)
    groups = coupling_groups(graph, names) if graph is not None else {}
    traced = set(graph.module2node) if graph is not None else set()
    outputs = set(output_layers(model)) if any(isinstance(m, PRUNABLE_TYPES) for m in modules.values()) else set()
    rows = [_row(name, m, flops, groups, m in traced, outputs, graph_error) for name, m in modules.items()]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame.attrs["total_flops"] = flops[""]
    frame.attrs["model"] = type(model).__name__
    return frame


def format_report(frame: pd.DataFrame) -> str:
    """The report as a fixed-width table with a totals line."""
    table = frame.assign(weights=frame["weights"].map({True: "yes", False: "-"}),
                         nodes=frame["nodes"].map({True: "yes", False: "-"}))
    skipped = int((~frame["weights"]).sum())
    totals = (f"{len(frame)} modules: {int(frame['weights'].sum())} pruned by weight criteria, "
              f"{int(frame['nodes'].sum())} prunable as nodes, {skipped} skipped; "
              f"{int(frame['params'].sum()):,} parameters, {frame.attrs.get('total_flops', int(frame['flops'].sum())):,} FLOPs")
    return table.to_string(index=False, max_colwidth=90) + "\n" + totals


__all__ = ["COLUMNS", "coupling_groups", "format_report", "inspect", "listed_modules", "log_summary", "module_flops",
           "skip_reason", "summary_line"]
