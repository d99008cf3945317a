"""What one run measured and what produced it: ``RunRecord``, its provenance (commit, source hash, device) and the
helpers that make it strict JSON."""

from __future__ import annotations

import hashlib
import logging
import math
import platform
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from prunekit._version import __version__
from prunekit.core.masks import current_mask, prunable_layers
from prunekit.experiments.config import KEYLESS_FIELDS, RunConfig

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
# Sections of a record that differ between two executions of the same config.
VOLATILE_SECTIONS = ("resources", "provenance")
VOLATILE_ENTRY_FIELDS = ("seconds",)  # wall time inside history epochs and prune steps


@dataclass
class RunRecord:
    """Everything one run measured, JSON-serialisable; ``key`` is its config's key."""

    config: RunConfig
    metrics: dict[str, Any]
    layer_sparsity: dict[str, float]
    history: list[dict[str, Any]]
    prune_steps: list[dict[str, Any]]
    resources: dict[str, Any]
    provenance: dict[str, Any]
    schema: int = SCHEMA_VERSION
    # The trained network when ``run(..., keep_model=True)`` asked for it; never serialised with the record.
    model: nn.Module | None = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> str:
        """The key of the config this record answers."""
        return self.config.key

    @property
    def accuracy(self) -> float:
        """Final test accuracy (a fraction)."""
        return self.metrics["accuracy"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, with the schema version and the config key stored for checking on load."""
        return {
            "schema": self.schema,
            "key": self.key,
            "config": self.config.to_dict(),
            "metrics": dict(self.metrics),
            "layer_sparsity": dict(self.layer_sparsity),
            "history": [dict(e) for e in self.history],
            "prune_steps": [dict(s) for s in self.prune_steps],
            "resources": dict(self.resources),
            "provenance": dict(self.provenance),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRecord:
        """Rebuild a record; a wrong schema, a missing section or a key that does not match raises ValueError."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a record must be a JSON object, got {type(data).__name__}")
        if data.get("schema") != SCHEMA_VERSION:
            raise ValueError(f"record schema {data.get('schema')!r} is not the supported {SCHEMA_VERSION}")
        sections = ("config", "metrics", "layer_sparsity", "history", "prune_steps", "resources", "provenance")
        missing = [s for s in ("key", *sections) if s not in data]
        if missing:
            raise ValueError(f"record lacks {', '.join(missing)}")
        config = RunConfig.from_dict(data["config"])
        if data["key"] != config.key:
            raise ValueError(f"record key {data['key']!r} does not match its config's key {config.key!r}")
        return cls(config, *(data[s] for s in sections[1:]), schema=data["schema"])

    def comparable(self) -> dict[str, Any]:
        """``to_dict()`` without what differs between two executions: timing, memory, provenance, device."""
        data = self.to_dict()
        for section in VOLATILE_SECTIONS:
            data.pop(section)
        for name in KEYLESS_FIELDS:
            data["config"].pop(name)
        for section in ("history", "prune_steps"):
            data[section] = [{k: v for k, v in e.items() if k not in VOLATILE_ENTRY_FIELDS} for e in data[section]]
        return data


def mask_digest(model: nn.Module) -> str:
    """SHA-256 of every prunable layer's name and 0/1 mask: equal digests mean identical masks."""
    digest = hashlib.sha256()
    for name, module in prunable_layers(model).items():
        digest.update(name.encode())
        digest.update((current_mask(module) != 0).to(torch.uint8).cpu().numpy().tobytes())
    return digest.hexdigest()


def git_commit() -> str | None:
    """The commit of the repository holding prunekit (``git rev-parse HEAD``), None outside a git checkout."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError) as err:
        log.debug("git rev-parse failed: %s", err)
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


# prunekit/, the package this file sits two levels inside (prunekit/experiments/record.py).
PACKAGE_DIR = Path(__file__).resolve().parents[1]
# Code that only the book runs (chapters, figures, the claims registry) cannot change a record.
SOURCE_HASH_EXCLUDES = ("paper",)


def source_files(package_dir: Path = PACKAGE_DIR) -> list[Path]:
    """The package's own Python files that a run may execute, in a fixed order."""
    return sorted(p for p in package_dir.rglob("*.py")
                  if p.relative_to(package_dir).parts[0] not in SOURCE_HASH_EXCLUDES and "__pycache__" not in p.parts)


def source_hash(package_dir: Path = PACKAGE_DIR) -> str:
    """SHA-256 (first 16 hex digits) of the package's source files, names and bytes: which code made a record."""
    digest = hashlib.sha256()
    for path in source_files(package_dir):
        digest.update(path.relative_to(package_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def git_dirty(package_dir: Path = PACKAGE_DIR) -> bool | None:
    """True when the package's files differ from the commit (edited or untracked), None outside a git checkout."""
    try:
        done = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=package_dir,
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError) as err:
        log.debug("git status failed: %s", err)
        return None
    return bool(done.stdout.strip()) if done.returncode == 0 else None


def device_name(device: torch.device) -> str:
    """Human-readable name of the device a run used."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or platform.machine() or device.type


def provenance(device: torch.device) -> dict[str, Any]:
    """What produced a record: package, commit (and whether the package differed from it), a hash of the
    package's source, torch, Python, thread count, device, host and UTC date."""
    return {
        "prunekit_version": __version__,
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
        "source_hash": source_hash(),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
        "device_type": device.type,
        "device_name": device_name(device),
        "hostname": socket.gethostname(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def json_safe(value: Any) -> Any:
    """``value`` with NaN/infinite floats (e.g. the loss of a data-free criterion) replaced by None, for strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


__all__ = [
    "PACKAGE_DIR",
    "SCHEMA_VERSION",
    "SOURCE_HASH_EXCLUDES",
    "RunRecord",
    "device_name",
    "git_commit",
    "git_dirty",
    "json_safe",
    "mask_digest",
    "provenance",
    "source_files",
    "source_hash",
]
