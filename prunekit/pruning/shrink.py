"""Physical removal of pruned nodes, dependency-aware, on top of torch-pruning's DependencyGraph.

``shrink(model, example_inputs)`` returns a *smaller copy*; the masked model is left as it was, so
both can be compared. Which channels are coupled (a conv and its BatchNorm, the next layer's input
channels, flatten → Linear fan-in blocks, residual additions, depthwise convolutions) comes from
torch-pruning tracing the model once, never from module names.

A channel of a coupled group is removed only when it is exactly zero at every producer in the
group: each Linear/Conv producing it has an all-zero weight row and zero bias, and each BatchNorm
on the path has zero weight and bias (what :func:`prunekit.structured.apply_node_mask` leaves). When
coupled producers disagree, e.g. a residual addition whose shortcut keeps a channel that the
block's last conv pruned, the channel stays (the union of alive channels is kept) and the pruned
producer keeps computing zeros for it. The output layer (the classes) is never shrunk, and a group
never loses all of its channels.
"""

from __future__ import annotations

import contextlib
import copy
import logging
from collections.abc import Iterator

import torch
import torch_pruning as tp
from torch import nn
from torch.nn.utils import prune

from prunekit.core import channels
from prunekit.core.grouped_conv import check_shrinkable_convs, whole_offsets
from prunekit.core.masks import PRUNABLE_TYPES, prunable_layers
from prunekit.training.loop import eval_mode
from prunekit.core.node_masks import output_layers

log = logging.getLogger(__name__)

_NORM_TYPES = (nn.modules.batchnorm._BatchNorm,)
EPS_FACTOR = 16  # the shrink check's tolerance in units of a low-precision dtype's rounding


def remove_reparametrisation(model: nn.Module) -> nn.Module:
    """Fold every ``torch.nn.utils.prune`` mask (weights, biases, BatchNorm) into a plain parameter."""
    for module in model.modules():
        names = [n[: -len("_orig")] for n, _ in module.named_parameters(recurse=False) if n.endswith("_orig")]
        for name in names:
            if hasattr(module, f"{name}_mask"):
                prune.remove(module, name)
    return model


def detach_masked_attributes(model: nn.Module) -> None:
    """Recompute every masked ``name = name_orig * name_mask`` without autograd history.

    The prune pre-hook recomputes these attributes at every forward, so this changes nothing the
    model computes; it only lets ``copy.deepcopy`` copy a model that has run a forward pass.
    """
    with torch.no_grad():
        for module in model.modules():
            for param_name, param in list(module.named_parameters(recurse=False)):
                name = param_name[: -len("_orig")]
                if param_name.endswith("_orig") and hasattr(module, f"{name}_mask"):
                    setattr(module, name, param * getattr(module, f"{name}_mask"))


def _zero_channels(module: object) -> torch.Tensor | None:
    """Per output channel: does ``module`` emit exactly zero for it whatever the input? None: no say."""
    if isinstance(module, PRUNABLE_TYPES):
        weight = module.weight.detach()
        zero = (weight.reshape(weight.shape[0], -1) == 0).all(1)
        if module.bias is not None:
            zero &= module.bias.detach() == 0
        return zero
    if isinstance(module, _NORM_TYPES):
        if not module.affine:
            return torch.zeros(module.num_features, dtype=torch.bool)
        return (module.weight.detach() == 0) & (module.bias.detach() == 0)
    if isinstance(module, nn.Parameter):
        return torch.zeros(module.shape[0], dtype=torch.bool)
    if isinstance(module, nn.Module) and next(module.parameters(recurse=False), None) is not None:
        # A parametrised layer we cannot reason about (LayerNorm, PReLU, ...): keep its channels.
        return torch.zeros(next(module.parameters(recurse=False)).shape[0], dtype=torch.bool)
    return None


def removable_channels(graph: tp.DependencyGraph, group: object) -> list[int]:
    """Root indices of the group's channels that every producer in the group emits as exact zeros."""
    roots = list(group[0].root_idxs)
    zero = dict.fromkeys(roots, True)
    for item in group:
        if not graph.is_out_channel_pruning_fn(item.dep.handler):
            continue
        flags = _zero_channels(item.dep.target.module)
        if flags is None:
            continue
        flags = flags.tolist()
        for idx, root in zip(item.idxs, item.root_idxs):
            if root in zero and (idx >= len(flags) or not flags[idx]):
                zero[root] = False
    removable = [r for r in roots if zero[r]]
    if len(removable) == len(roots):
        removable = removable[1:]  # a layer without channels would break the network
    return removable


def _as_args(example_inputs: object) -> tuple:
    """Positional arguments for ``model(*args)``: a tuple/list as is, anything else as one argument."""
    return tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) else (example_inputs,)


def trace_dependencies(model: nn.Module, example_inputs: object) -> tp.DependencyGraph:
    """Trace ``model`` (in eval mode, so BatchNorm statistics stay untouched) with torch-pruning."""
    try:
        with eval_mode(model), torch.enable_grad():
            return tp.DependencyGraph().build_dependency(
                model, example_inputs=_as_args(example_inputs), forward_fn=lambda m, args: m(*args), verbose=False
            )
    except Exception as err:
        raise ValueError(f"torch-pruning could not trace {type(model).__name__} on the example inputs: {err}") from err


def dependency_graph(model: nn.Module, example_inputs: object) -> tp.DependencyGraph:
    """:func:`trace_dependencies`, refusing a network whose Linear/Conv layers the trace does not reach."""
    graph = trace_dependencies(model, example_inputs)
    missing = [name for name, m in prunable_layers(model).items() if m not in graph.module2node]
    if missing:
        raise ValueError(f"the dependency analysis of {type(model).__name__} cannot handle layers {missing}: "
                         "they do not take part in the traced forward pass, so their channels cannot be removed")
    return graph


@contextlib.contextmanager
def tf32_disabled() -> Iterator[None]:
    """Run the block with TF32 matmuls and convolutions off (full fp32 mantissas on Ampere and newer GPUs),
    restoring the caller's switches afterwards; on CPU the switches change nothing."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


def equality_tolerance(dtype: torch.dtype, rtol: float) -> float:
    """The relative tolerance of the shrink check for outputs of ``dtype``: ``rtol``, but never below
    ``EPS_FACTOR`` units of ``dtype``'s rounding (a bf16/fp16 network's two kernels differ by that much)."""
    return max(rtol, EPS_FACTOR * torch.finfo(dtype).eps)


def _check_same_function(reference: nn.Module, small: nn.Module, example_inputs: object, rtol: float) -> None:
    """Raise RuntimeError unless both models give the same outputs in eval mode, TF32 off (up to
    :func:`equality_tolerance`)."""
    with eval_mode(reference, small), torch.no_grad(), tf32_disabled():
        expected, got = reference(*_as_args(example_inputs)), small(*_as_args(example_inputs))
    tolerance = equality_tolerance(expected.dtype, rtol)
    scale = max(float(expected.abs().max()), 1.0)
    error = float((expected.float() - got.float()).abs().max())
    if error > tolerance * scale:
        raise RuntimeError(f"the shrunk {type(small).__name__} differs from the masked one by {error:.3g} "
                           f"(relative {error / scale:.3g} > {tolerance:.3g}): a removed node was not exactly zero")


def shrink(model: nn.Module, example_inputs: object, *, check: bool = True, rtol: float = 1e-4) -> nn.Module:
    """Return a physically smaller copy of ``model`` without its pruned (exactly zero) nodes.

    ``example_inputs`` is a batch the model accepts (a tensor or a tuple of them), used to trace
    the dependencies and, with ``check``, to verify that the copy computes the same function in
    eval mode. The copy carries plain ``weight``/``bias`` tensors (no masks) and the train/eval
    mode of ``model``; ``model`` itself is not modified. Grouped convolutions lose a channel only where
    it is dead in all their groups; the kept channels of every cut layer are left on the copy
    (:func:`prunekit.core.channels.kept_channels`), so a fresh network can be cut alike.

    The check compares two different kernels (the shrunk layers have other shapes, so a GPU picks other
    cuDNN/cuBLAS algorithms). It runs with TF32 off, where fp32 kernels agree to about 1e-6, so ``rtol``
    (relative to the largest output) only has to absorb summation order; for bf16/fp16 weights the
    tolerance is raised to ``EPS_FACTOR`` units of that dtype's rounding.
    """
    check_shrinkable_convs(model)
    outputs = output_layers(model)
    detach_masked_attributes(model)
    small = copy.deepcopy(model)
    remove_reparametrisation(small)
    modules = dict(small.named_modules())
    names = {module: name for name, module in modules.items()}
    record = channels.start_record(small)
    graph = dependency_graph(small, example_inputs)
    removed = 0
    ignored = [modules[name] for name in outputs]
    for group in graph.get_all_groups(ignored_layers=ignored, root_module_types=PRUNABLE_TYPES):
        idxs = whole_offsets(graph, group, removable_channels(graph, group))
        if idxs:
            root = group[0].dep
            cut = graph.get_pruning_group(root.target.module, root.handler, idxs)
            channels.note_group(record, graph, cut, names)
            cut.prune()
            removed += len(idxs)
    channels.attach(small, record)
    log.info("shrink removed %d channels from %s", removed, type(model).__name__)
    if check:
        _check_same_function(model, small, example_inputs, rtol)
    return small


__all__ = ["dependency_graph", "detach_masked_attributes", "equality_tolerance", "remove_reparametrisation",
           "removable_channels", "shrink", "tf32_disabled"]
