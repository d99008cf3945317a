"""Results store: one JSON record per config key, written atomically, read back, and tabulated as a DataFrame.

Beside a record, ``<key>.model.pt`` may hold the run's trained network (``put_model`` / ``load_model``).
These files are committed with the records, so they are compact: a pruned layer keeps only the
flat int32 positions and the values of the weights its mask keeps, any other tensor that is mostly
zeros likewise, and no optimizer state is stored.
"""

from __future__ import annotations

import io
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from prunekit.data import dataset_info
from prunekit.experiments.config import CONFIG_COLUMNS, RunConfig
from prunekit.experiments.record import RunRecord, json_safe, mask_digest
from prunekit.core.masks import apply_mask
from prunekit.models import build_model

log = logging.getLogger(__name__)

DEFAULT_ROOT = "results"
CORRUPT_SUFFIX = ".corrupt"
# A record file is named by its run key (16 hex digits); other JSON files in a store (the equivalence ledger)
# are not records and are neither read nor moved aside.
RECORD_NAME = re.compile(r"[0-9a-f]{16}\.json")
MODEL_SUFFIX = ".model.pt"
MODEL_FORMAT = 1
# A tensor with at most this share of nonzeros is stored as int32 positions + values: 8 bytes per
# nonzero against 4 per entry dense, so below one half the sparse form is the smaller one.
SPARSE_MAX_DENSITY = 0.5
_HOW_TO_SAVE = ("create it with sweep(configs, store, keep_models=True), or with "
                "store.put_model(record, record.model) after run(config, keep_model=True)")


class ResultStore:
    """A directory of ``<key>.json`` run records; bad files are reported, kept aside and recomputed."""

    def __init__(self, root: str | os.PathLike = DEFAULT_ROOT) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"ResultStore({str(self.root)!r})"

    def path_for(self, config: RunConfig | str) -> Path:
        """Where the record of ``config`` (or of a key) lives."""
        key = config if isinstance(config, str) else config.key
        return self.root / f"{key}.json"

    def get(self, config: RunConfig | str) -> RunRecord | None:
        """The stored record of ``config`` (or of a key), or None if absent or unusable (then moved aside)."""
        path = self.path_for(config)
        if not path.exists():
            return None
        return self._load(path)

    def has(self, config: RunConfig) -> bool:
        """True when a valid record of ``config`` is stored."""
        return self.get(config) is not None

    def put(self, record: RunRecord) -> Path:
        """Write ``record`` atomically (temp file in the same folder, fsync, rename); return its path."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.path_for(record.key)
        text = json.dumps(json_safe(record.to_dict()), indent=1, allow_nan=False)
        _atomic_write(path, text)
        log.debug("stored %s", path)
        return path

    def model_path_for(self, config: RunConfig | RunRecord | str) -> Path:
        """Where the trained network of ``config`` (a config, record or key) lives: ``<key>.model.pt``."""
        return self.root / f"{_key_of(config)}{MODEL_SUFFIX}"

    def has_model(self, config: RunConfig | RunRecord | str) -> bool:
        """True when a model file of ``config`` is stored."""
        return self.model_path_for(config).is_file()

    def put_model(self, record_or_config: RunRecord | RunConfig, model: nn.Module) -> Path:
        """Write ``model`` (the trained network of the run) compactly and atomically to ``<key>.model.pt``.

        Given a record, the model's masks must be the ones the record measured (same ``mask_digest``).
        Structured runs are refused: their physically shrunk layers cannot be rebuilt from the config.
        """
        config = _config_of(record_or_config)
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        _refuse_structured(config)
        digest = mask_digest(model)
        if isinstance(record_or_config, RunRecord):
            expected = record_or_config.metrics.get("mask_digest")
            if expected is not None and expected != digest:
                raise ValueError(f"the model's masks (digest {digest[:12]}…) are not those of record "
                                 f"{config.key} (digest {expected[:12]}…): pass the network that run produced")
        payload = {"format": MODEL_FORMAT, "key": config.key, "model": config.model, "dataset": config.dataset,
                   "mask_digest": digest, **encode_state(model)}
        _check_architecture(config, decode_tensors(payload["tensors"]), self.model_path_for(config))
        buffer = io.BytesIO()
        torch.save(payload, buffer)
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.model_path_for(config)
        _atomic_write(path, buffer.getvalue())
        log.debug("stored model %s (%d bytes)", path, len(buffer.getvalue()))
        return path

    def load_model(self, config: RunConfig | RunRecord) -> nn.Module:
        """The stored trained network of ``config``: rebuilt, weights loaded, masks re-applied, in eval mode on CPU.

        Its ``mask_digest`` equals the stored record's. A missing file raises FileNotFoundError; a
        file of another key, with other tensors or shapes, or stale against the record raises ValueError.
        """
        config = _config_of(config)
        _refuse_structured(config)
        path = self.model_path_for(config)
        if not path.is_file():
            raise FileNotFoundError(f"no model file of run {config.key} ({config.criterion} at sparsity "
                                    f"{config.sparsity:g}, seed {config.seed}) at {path}; {_HOW_TO_SAVE}")
        payload = _read_payload(path)
        if payload.get("key") != config.key:
            raise ValueError(f"{path} holds the model of key {payload.get('key')!r}, not {config.key!r}")
        state = decode_tensors(payload["tensors"])
        model = _check_architecture(config, state, path)
        model.load_state_dict(state, strict=True)
        _reapply_masks(model, payload["tensors"], payload["masked"], path)
        digest = mask_digest(model)
        if digest != payload["mask_digest"]:
            raise ValueError(f"{path}: the rebuilt masks (digest {digest[:12]}…) differ from the saved ones "
                             f"({payload['mask_digest'][:12]}…); the file is damaged")
        record = self.get(config)
        if record is not None and record.metrics.get("mask_digest") not in (None, digest):
            raise ValueError(f"{path} is stale: its masks differ from the stored record of {config.key} (the run "
                             f"was recomputed without keep_models); delete the file and {_HOW_TO_SAVE}")
        return model.eval()

    def records(self) -> list[RunRecord]:
        """Every valid record in the store, in key order (unusable files are moved aside)."""
        return list(self._iter_records())

    def _iter_records(self) -> Iterator[RunRecord]:
        if not self.root.is_dir():
            return
        for path in sorted(self.root.glob("*.json")):
            if not RECORD_NAME.fullmatch(path.name):
                continue
            record = self._load(path)
            if record is not None:
                yield record

    def to_frame(self) -> pd.DataFrame:
        """One row per record: config fields, metrics, resources and provenance (fractions, not percent)."""
        return records_frame(self.records())

    def _load(self, path: Path) -> RunRecord | None:
        """Parse and check one file; on any defect warn, move it aside and return None."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:  # moved aside by a concurrent reader
            return None
        try:
            record = RunRecord.from_dict(json.loads(raw))
        except (ValueError, TypeError, KeyError) as err:  # bad UTF-8 and bad JSON are ValueErrors too
            self._quarantine(path, f"{type(err).__name__}: {err}")
            return None
        if record.key != path.stem:
            self._quarantine(path, f"it holds the record of key {record.key}, not {path.stem}")
            return None
        return record

    def _quarantine(self, path: Path, reason: str) -> None:
        """Rename an unusable record to ``<file>.corrupt`` (never deleting anything) and warn."""
        target = _free_name(path.with_name(path.name + CORRUPT_SUFFIX))
        try:
            os.replace(path, target)
        except FileNotFoundError:
            log.warning("result record %s is unusable (%s); another process already moved it aside", path, reason)
            return
        log.warning("result record %s is unusable (%s); moved it to %s and the run will be recomputed",
                    path, reason, target.name)


def _free_name(path: Path) -> Path:
    """``path`` if unused, else ``path.1``, ``path.2``, … so nothing earlier is overwritten."""
    candidate, n = path, 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.{n}")
    return candidate


def _default_file_mode() -> int:
    """0666 less the process umask, the mode ``open()`` would give a new file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _default_file_mode()


def _atomic_write(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one, never a part."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _FILE_MODE)  # mkstemp makes 0600; records are shared (and committed)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Persist a rename by syncing its directory (where the platform allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open directories; the rename itself is still atomic
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------------------------ model files


def _key_of(config: RunConfig | RunRecord | str) -> str:
    """The key of a config, a record or a key string."""
    if isinstance(config, str):
        return config
    if isinstance(config, (RunConfig, RunRecord)):
        return config.key
    raise TypeError(f"expected a RunConfig, a RunRecord or a key, got {type(config).__name__}")


def _config_of(config: RunConfig | RunRecord) -> RunConfig:
    """The config of a config or a record."""
    if isinstance(config, RunRecord):
        return config.config
    if isinstance(config, RunConfig):
        return config
    raise TypeError(f"expected a RunConfig or a RunRecord, got {type(config).__name__}")


def _refuse_structured(config: RunConfig) -> None:
    """Raise ValueError for a structured run, whose shrunk shapes ``build_model`` cannot rebuild."""
    if config.structured:
        raise ValueError(f"run {config.key} is structured: its network was physically shrunk, and model files "
                         f"hold only networks that prunekit.models.build_model rebuilds from the config "
                         f"(unstructured and dense runs)")


def _sparse_entry(tensor: torch.Tensor, keep: torch.Tensor) -> dict[str, Any]:
    """``tensor`` as its shape and the flat int32 positions and values where ``keep`` is true."""
    if tensor.numel() >= 2**31:
        raise ValueError(f"a tensor of {tensor.numel()} entries is too large for int32 positions")
    flat = tensor.reshape(-1)
    positions = keep.reshape(-1).nonzero().reshape(-1)
    return {"shape": list(tensor.shape), "indices": positions.to(torch.int32), "values": flat[positions].clone()}


def _entry(tensor: torch.Tensor) -> dict[str, Any]:
    """One state tensor, sparse when at most ``SPARSE_MAX_DENSITY`` of it is nonzero, else dense."""
    tensor = tensor.detach().cpu()
    if tensor.dtype != torch.bool and tensor.numel() > 1:
        nonzero = tensor != 0
        if int(nonzero.count_nonzero()) <= SPARSE_MAX_DENSITY * tensor.numel():
            return _sparse_entry(tensor, nonzero)
    return {"dense": tensor.clone()}


def encode_state(model: nn.Module) -> dict[str, Any]:
    """A network's state as ``{"tensors": {name: entry}, "masked": [layer names]}``, compactly.

    A masked layer's ``weight_orig``/``weight_mask`` pair becomes one ``<layer>.weight`` entry holding the
    positions the mask keeps and the weights there (so the mask survives even a kept weight of exactly 0);
    every other tensor is dense or, when mostly zeros, positions + values. Names are those of the unpruned
    network's ``state_dict``.
    """
    masked = {name: m.weight_mask for name, m in model.named_modules()
              if hasattr(m, "weight_mask") and hasattr(m, "weight_orig")}
    tensors: dict[str, dict[str, Any]] = {}
    for name, tensor in model.state_dict().items():
        layer, _, attr = name.rpartition(".")
        if layer in masked and attr == "weight_mask":
            continue
        if layer in masked and attr == "weight_orig":
            keep = masked[layer].detach().cpu() != 0
            tensors[f"{layer}.weight"] = _sparse_entry(tensor.detach().cpu(), keep)
        else:
            tensors[name] = _entry(tensor)
    return {"tensors": tensors, "masked": sorted(masked)}


def _decode(name: str, entry: Mapping[str, Any]) -> torch.Tensor:
    """One stored tensor back to its full (dense) form."""
    if "dense" in entry:
        return entry["dense"]
    try:
        shape, indices, values = tuple(entry["shape"]), entry["indices"], entry["values"]
    except (KeyError, TypeError):
        raise ValueError(f"tensor {name!r} is neither dense nor positions + values: {sorted(entry)}") from None
    out = torch.zeros(math.prod(shape), dtype=values.dtype)
    out[indices.long()] = values
    return out.reshape(shape)


def decode_tensors(tensors: Mapping[str, Mapping[str, Any]]) -> dict[str, torch.Tensor]:
    """The full state dict of an :func:`encode_state` ``tensors`` mapping."""
    return {name: _decode(name, entry) for name, entry in tensors.items()}


def _read_payload(path: Path) -> dict[str, Any]:
    """A model file's contents (tensors and plain values only), checked for its format."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for a damaged zip/pickle
        raise ValueError(f"{path} is not a readable model file: {type(err).__name__}: {err}") from err
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path} is not a prunekit model file of format {MODEL_FORMAT}")
    missing = [k for k in ("key", "mask_digest", "tensors", "masked") if k not in payload]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}")
    return payload


def _check_architecture(config: RunConfig, state: Mapping[str, torch.Tensor], path: Path) -> nn.Module:
    """A fresh network of ``config``; ValueError when ``state`` does not have its tensor names and shapes."""
    info = dataset_info(config.dataset)
    model = build_model(config.model, info.input_shape, info.num_classes)
    expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    found = {name: tuple(t.shape) for name, t in state.items()}
    if set(expected) != set(found):
        absent, extra = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
        raise ValueError(f"{path}: the tensors do not match {config.model} on {config.dataset}: missing "
                         f"{absent[:5]}, unexpected {extra[:5]}")
    wrong = [f"{n} {found[n]} (expected {expected[n]})" for n in expected if found[n] != expected[n]]
    if wrong:
        raise ValueError(f"{path}: tensor shapes do not match {config.model} on {config.dataset}: {wrong[:5]}")
    return model


def _reapply_masks(model: nn.Module, tensors: Mapping[str, Mapping[str, Any]], masked: Sequence[str],
                   path: Path) -> None:
    """Attach to each masked layer the mask of the positions its stored weight keeps."""
    modules = dict(model.named_modules())
    for layer in masked:
        entry = tensors.get(f"{layer}.weight")
        if layer not in modules or entry is None or "indices" not in entry:
            raise ValueError(f"{path}: masked layer {layer!r} has no stored positions")
        weight = modules[layer].weight
        keep = torch.zeros(weight.numel(), dtype=weight.dtype)
        keep[entry["indices"].long()] = 1
        apply_mask(modules[layer], keep.reshape(weight.shape))


# ------------------------------------------------------------------------------------------------ data frames


def record_row(record: RunRecord) -> dict[str, Any]:
    """One flat row of a record: key, config fields, metrics, resources and provenance."""
    config = record.config.to_dict()
    config["criterion_options"] = json.dumps(config["criterion_options"], sort_keys=True)
    return {"key": record.key, **config, **record.metrics, **record.resources, **record.provenance}


def records_frame(records: Sequence[RunRecord]) -> pd.DataFrame:
    """A DataFrame of ``record_row`` rows (with the config columns even when empty)."""
    if not records:
        return pd.DataFrame(columns=["key", *CONFIG_COLUMNS, "accuracy", "weight_sparsity", "node_sparsity"])
    return pd.DataFrame([record_row(r) for r in records])


__all__ = [
    "CORRUPT_SUFFIX",
    "MODEL_SUFFIX",
    "ResultStore",
    "decode_tensors",
    "encode_state",
    "record_row",
    "records_frame",
]
