"""Portable pruned networks: safetensors weights plus a small JSON spec, rebuilt on the user's own class.

An artifact is a folder of two files:

- ``weights.safetensors``: the network's tensors under the names of its *unmasked* state dict (a masked
  ``weight`` is stored as ``weight_orig · weight_mask``), and every mask as packed bits (uint8, 8 entries per
  byte) under ``__mask__.<module>.<tensor>``;
- ``spec.json``: the format version, the network's class, the state-dict shapes of the unshrunk network,
  for a shrunk network the kept channel indices of every cut layer (numbered as in the unshrunk network),
  the masks' names and shapes, what the caller says about the pruning (criterion, κ, schedule, run config)
  and provenance (library versions, time).

``load(path, model=fresh_instance)`` cuts the fresh network to the kept channels, loads the weights and
re-attaches the masks. Nothing is pickled: safetensors and JSON only.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import math
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes
from torch import nn

from prunekit.core.channels import KeptChannels, check_original_shapes, cut_like, kept_channels

log = logging.getLogger(__name__)

FORMAT = "prunekit-artifact"
FORMAT_VERSION = 1
WEIGHTS_FILE = "weights.safetensors"
SPEC_FILE = "spec.json"
MASK_PREFIX = "__mask__."


def class_path(model: nn.Module) -> str:
    """``module.QualName`` of the network's class, as the spec records it."""
    return f"{type(model).__module__}.{type(model).__qualname__}"


def masked_tensors(model: nn.Module) -> dict[str, nn.Module]:
    """``{"<module>.<tensor>": module}`` for every ``torch.nn.utils.prune`` mask the network carries."""
    found = {}
    for name, module in model.named_modules():
        for buffer, _ in module.named_buffers(recurse=False):
            base = buffer[: -len("_mask")]
            if buffer.endswith("_mask") and hasattr(module, f"{base}_orig"):
                found[f"{name}.{base}" if name else base] = module
    return found


def _pack(mask: torch.Tensor) -> torch.Tensor:
    """A mask as packed bits, 8 entries per byte, flat."""
    return torch.from_numpy(np.packbits((mask.detach().cpu() != 0).reshape(-1).numpy()))


def _unpack(packed: torch.Tensor, shape: list[int]) -> torch.Tensor:
    """Inverse of :func:`_pack`: a boolean mask of ``shape``."""
    flat = np.unpackbits(packed.numpy(), count=math.prod(shape))
    return torch.from_numpy(flat.astype(bool)).reshape(shape)


def _plain_state(model: nn.Module, masked: Mapping[str, nn.Module]) -> dict[str, torch.Tensor]:
    """The state dict under unmasked names: ``x_orig`` becomes ``x`` (times its mask), ``x_mask`` goes."""
    full, state = model.state_dict(), {}
    for name, tensor in full.items():
        if name.endswith("_mask") and name[: -len("_mask")] in masked:
            continue
        if name.endswith("_orig") and name[: -len("_orig")] in masked:
            name = name[: -len("_orig")]
            tensor = tensor * full[f"{name}_mask"]
        state[name] = tensor.detach().cpu().contiguous().clone()
    return state


def _jsonable(value: Any) -> Any:
    """``value`` as JSON-ready data: dataclasses and mappings as dicts, tuples as lists, non-finite floats None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"spec values must be JSON data (numbers, strings, lists, dicts, dataclasses), got "
                    f"{type(value).__name__}: {value!r}")


def _provenance() -> dict[str, str]:
    """Library versions and the time of writing."""
    import torch_pruning

    from prunekit._version import __version__

    return {"prunekit": __version__, "torch": torch.__version__, "torch_pruning": torch_pruning.__version__,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}


def build_spec(model: nn.Module, state: Mapping[str, torch.Tensor], masked: Mapping[str, nn.Module],
               pruning: Mapping | None) -> dict[str, Any]:
    """The JSON spec of ``model`` (see the module docstring)."""
    record = kept_channels(model)
    shapes = record.original_shapes if record is not None else {n: list(t.shape) for n, t in state.items()}
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "model": {"class": class_path(model), "original_shapes": shapes,
                  "parameters": sum(p.numel() for p in model.parameters())},
        "shrunk": None if record is None else {"kept": record.kept},
        "masks": {name: list(state[name].shape) for name in sorted(masked)},
        "pruning": _jsonable(dict(pruning or {})),
        "provenance": _provenance(),
    }


def _write_files(folder: Path, tensors: dict[str, torch.Tensor], spec: Mapping) -> None:
    """The two artifact files in ``folder``."""
    metadata = {"format": FORMAT, "version": str(FORMAT_VERSION)}
    (folder / WEIGHTS_FILE).write_bytes(safetensors_bytes(tensors, metadata=metadata))
    (folder / SPEC_FILE).write_text(spec_text(spec))


def spec_text(spec: Mapping) -> str:
    """The spec as indented JSON with lists of numbers on one line (kept indices stay compact)."""
    text = json.dumps(spec, indent=1, allow_nan=False)
    return re.sub(r"\[\s*(-?[\d.eE+-]+(?:,\s*-?[\d.eE+-]+)*)\s*\]",
                  lambda m: "[" + ", ".join(item.strip() for item in m.group(1).split(",")) + "]", text)


def _check_target(path: Path) -> None:
    """Raise ValueError if ``path`` is a file or a non-empty folder that is not an artifact (it would be replaced)."""
    if path.is_file():
        raise ValueError(f"{path} is a file; an artifact is a folder ({WEIGHTS_FILE} + {SPEC_FILE})")
    if path.is_dir() and any(path.iterdir()) and not (path / SPEC_FILE).is_file():
        raise ValueError(f"{path} is a non-empty folder that holds no artifact; choose a new or empty folder")


def _folder_mode() -> int:
    """0777 less the process umask, the mode ``mkdir`` would give a new folder."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask


def _replace_folder(new: Path, path: Path) -> None:
    """Move the finished folder ``new`` to ``path``, replacing an earlier artifact there."""
    old = None
    if path.exists():
        old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.old."))
        os.replace(path, old / "artifact")
    os.replace(new, path)
    if old is not None:
        shutil.rmtree(old)


def save(model: nn.Module, path: str | os.PathLike, *, spec: Mapping | None = None) -> Path:
    """Write ``model`` (masked and/or shrunk) as a portable artifact folder at ``path``; returns it.

    ``spec`` holds what the caller knows of the pruning, as JSON data: e.g. ``criterion``, ``sparsity``
    (κ), ``schedule``, ``target``, ``run_config`` (a RunConfig or dict) and ``provenance``. The folder
    appears complete or not at all.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    record = kept_channels(model)
    if record is not None and record.unsupported:
        raise ValueError(f"cannot save {type(model).__name__}: shrinking cut tensors that a fresh network cannot be "
                         f"cut alike from the spec: {record.unsupported}")
    path = Path(path)
    _check_target(path)
    masked = masked_tensors(model)
    state = _plain_state(model, masked)
    tensors = {**state, **{f"{MASK_PREFIX}{name}": _pack(getattr(m, f"{name.rpartition('.')[2]}_mask"))
                           for name, m in masked.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.tmp."))
    try:
        os.chmod(staging, _folder_mode())  # mkdtemp makes 0700; an artifact is meant to be shared
        _write_files(staging, tensors, build_spec(model, state, masked, spec))
        _replace_folder(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("saved %s (%d masks, %s) to %s", class_path(model), len(masked),
             "shrunk" if record is not None else "not shrunk", path)
    return path


def read_spec(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON spec of the artifact at ``path``, checked for its format and version."""
    file = Path(path) / SPEC_FILE
    if not file.is_file():
        raise FileNotFoundError(f"no artifact at {path}: {file} is missing (write one with prunekit.save)")
    spec = json.loads(file.read_text())
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise ValueError(f"{file} is not a prunekit artifact spec (format {spec.get('format') if isinstance(spec, dict) else None!r})")
    if spec.get("version") != FORMAT_VERSION:
        raise ValueError(f"{file} has format version {spec.get('version')!r}; this prunekit reads version {FORMAT_VERSION}")
    return spec


def _check_class(model: nn.Module, spec: Mapping) -> None:
    """Raise ValueError when ``model`` is not of the class the spec was written for."""
    expected = spec["model"]["class"]
    if class_path(model) != expected:
        raise ValueError(f"the spec is for a {expected}, got a {class_path(model)}: pass a freshly constructed "
                         f"{expected.rpartition('.')[2]} with the arguments it was built with")


def _split_tensors(tensors: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(state tensors, packed masks by tensor name)."""
    state = {n: t for n, t in tensors.items() if not n.startswith(MASK_PREFIX)}
    masks = {n[len(MASK_PREFIX):]: t for n, t in tensors.items() if n.startswith(MASK_PREFIX)}
    return state, masks


def _check_state(model: nn.Module, state: Mapping[str, torch.Tensor], path: Path) -> None:
    """Raise ValueError naming the first tensor whose name or shape differs from the rebuilt network's."""
    expected = {n: tuple(t.shape) for n, t in model.state_dict().items()}
    for name, shape in expected.items():
        if name not in state or tuple(state[name].shape) != shape:
            got = tuple(state[name].shape) if name in state else "nothing"
            raise ValueError(f"{path / WEIGHTS_FILE} does not fit the rebuilt {type(model).__name__}: layer "
                             f"{name.rpartition('.')[0]!r} needs {name} of shape {shape}, the file holds {got}")
    extra = sorted(set(state) - set(expected))
    if extra:
        raise ValueError(f"{path / WEIGHTS_FILE} holds tensors the rebuilt {type(model).__name__} lacks: {extra[:5]}")


def _attach_masks(model: nn.Module, masks: Mapping[str, torch.Tensor], shapes: Mapping[str, list[int]]) -> None:
    """AND every stored mask into its tensor of ``model``."""
    from prunekit.core.node_masks import and_parameter_mask

    modules = dict(model.named_modules())
    for name, shape in shapes.items():
        layer, _, tensor = name.rpartition(".")
        if name not in masks or layer not in modules:
            raise ValueError(f"the artifact's mask of {name!r} is missing or names no layer of {type(model).__name__}")
        and_parameter_mask(modules[layer], tensor, _unpack(masks[name], shape))


def load(path: str | os.PathLike, model: nn.Module) -> nn.Module:
    """Rebuild the artifact at ``path`` on ``model``, a freshly constructed network of the saved class.

    The network is cut to the saved kept channels (if it was shrunk), given the saved weights and masks,
    and returned in eval mode. A spec that does not fit ``model`` raises ValueError naming the first
    mismatching layer. Reads safetensors and JSON only: no pickle.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a freshly constructed torch.nn.Module, got {type(model).__name__}")
    path = Path(path)
    spec = read_spec(path)
    record = KeptChannels(spec["model"]["original_shapes"], (spec.get("shrunk") or {}).get("kept", {}))
    check_original_shapes(model, record)
    _check_class(model, spec)
    if spec.get("shrunk") is not None:
        cut_like(model, record)
    state, masks = _split_tensors(load_file(str(path / WEIGHTS_FILE)))
    _check_state(model, state, path)
    model.load_state_dict(state, strict=True)
    _attach_masks(model, masks, spec.get("masks", {}))
    log.info("loaded %s from %s", class_path(model), path)
    return model.eval()


__all__ = ["FORMAT", "FORMAT_VERSION", "SPEC_FILE", "WEIGHTS_FILE", "build_spec", "class_path", "load", "masked_tensors",
           "read_spec", "save"]
