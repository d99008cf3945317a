"""One experiment: a validated ``RunConfig``, ``run()`` that prunes, trains and evaluates it, and its ``RunRecord``."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import os
import platform
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from prunekit._version import __version__
from prunekit.criteria import available_criteria, get_criterion
from prunekit.criteria.weight.sensitivity import SCORE_MODES
from prunekit.core.determinism import deterministic_algorithms, single_threaded
from prunekit.data import DATASET_NAMES, TensorBatches, dataset_info, load_split, make_batches, validation_split
from prunekit.core.labels import check_labels
from prunekit.core.masks import apply_mask, current_mask, prunable_layers
from prunekit.measure.memory import MemorySampler
from prunekit.measure.metrics import (
    TRAINING_PASSES,
    csr_size_bits,
    dense_size_bits,
    inference_flops,
    inference_seconds,
    peak_memory_bytes,
    training_flops,
)
from prunekit.models import available_models, build_model
from prunekit.structured import available_node_criteria, get_node_criterion, hidden_layers, prune_nodes, shrink
from prunekit.pruning.nodes_after import StructuredPruner, structured_pruner
from prunekit.criteria.node.criteria import SNAPit
from prunekit.measure.network import node_flops, training_memory_bytes
from prunekit.core.liveness import node_sparsity
from prunekit.experiments.profiles import Profile, get_profile
from prunekit.experiments.runcount import note_runs
from prunekit.pruning.ablations import ABLATIONS, apply_ablation
from prunekit.pruning.after import RegularisedThresholdPruning
from prunekit.pruning.during import (
    DEFAULT_INTERVAL,
    DEFAULT_REWIND_EPOCH,
    PruneDuringTraining,
    check_interval,
    check_rewind_epoch,
    epochs_for_rounds,
    required_epochs,
)
from prunekit.pruning.before import DEFAULT_BATCH_SIZE, DEFAULT_SAMPLES, PruneStep, prune, scoring_context
from prunekit.core.schedule import DEFAULT_STEPS
from prunekit.core.timing import Stopwatch
from prunekit.training.loop import (
    PRECISIONS,
    Callback,
    TrainConfig,
    TrainState,
    evaluate,
    resolve_device,
    resolve_precision,
    seed_everything,
    train,
)

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
NO_CRITERION = "none"  # the dense baseline: nothing is pruned
PRUNE_AT = ("none", "before", "during", "after")  # when a run prunes (a criterion accepts some of them)
# Fields that only matter for some runs: left out of the key unless prune_at is the value given here, so
# the keys of runs stored before the field existed (e.g. results/cpu) do not change.
CONDITIONAL_KEY_FIELDS = {"prune_interval": "during"}
# Fields added later: left out of the key while they hold this default, for the same reason.
DEFAULTED_KEY_FIELDS = {"rewind_epoch": None, "ablation": "none", "structured": False, "validation": 0.0,
                        "deterministic": False}
# Node criteria that prune before training: the network is physically shrunk, then trained. The others
# (efficientconvnets, gatedecorators, group-hs, l0) prune in the training loop (prunekit.pruning.nodes_after);
# each node criterion names when it prunes (its ``timings``).
STRUCTURED_BEFORE = ("snap", "snap-it", "cnip-it", "random")
IMP_CRITERION = "imp-global"  # the criterion whose runs rewind (rewind_epoch set by from_profile)
PAPER_EPOCHS = 80  # the paper's budget; τ and IMP's rewind epoch scale with a profile's epochs
# Which budget name a run was launched under and which device index it used do not change what it
# computes, so these fields are recorded but left out of the key. The numeric mode does change it: a run
# that is not fp32 on a CPU adds its device type and precision to the key (NUMERIC_KEY_FIELDS), so a CUDA
# bf16 run never shares a key with a CPU fp32 record, and every CPU fp32 key stays what it was.
KEYLESS_FIELDS = ("profile", "device", "precision")
CPU_FP32 = ("cpu", "fp32")
# Sections of a record that differ between two executions of the same config.
VOLATILE_SECTIONS = ("resources", "provenance")
VOLATILE_ENTRY_FIELDS = ("seconds",)  # wall time inside history epochs and prune steps
SCORING_SEED_OFFSET = 1_000_003  # the scoring stream shuffles independently of the training stream
_OPTION_TYPES = (str, int, float, bool, type(None))


# ------------------------------------------------------------------------------------------------- validation


def _is_int(value: object) -> bool:
    """True for ints (NumPy ints included) that are not bools."""
    return not isinstance(value, bool) and hasattr(value, "__index__") and not isinstance(value, float)


def _int_field(name: str, value: object, minimum: int, optional: bool = False) -> int | None:
    """Return ``value`` as an int ``>= minimum`` (or None when ``optional``), else raise ValueError naming it."""
    if value is None and optional:
        return None
    if not _is_int(value) or int(value) < minimum:
        accepted = f"an integer >= {minimum}" + (" or None" if optional else "")
        raise ValueError(f"{name} must be {accepted}, got {value!r}")
    return int(value)


def _float_field(name: str, value: object, minimum: float, *, open_min: bool = False) -> float:
    """Return ``value`` as a finite float above ``minimum``, else raise ValueError naming it."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < minimum or (open_min and value == minimum):
        bound = f"> {minimum}" if open_min else f">= {minimum}"
        raise ValueError(f"{name} must be a finite number {bound}, got {value!r}")
    return float(value)


def _sparsity_field(value: object) -> float:
    """Return ``value`` as a float in [0, 1), else raise ValueError naming the field."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"sparsity must be a fraction in [0, 1), got {value!r}")
    return float(value)


def _validation_field(value: object) -> float:
    """Return ``value`` as a held-out share in [0, 1) (0: evaluate on the test set), else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"validation must be a share of the training set in [0, 1) (0: use the test set), "
                         f"got {value!r}")
    return float(value)


def _bool_field(name: str, value: object) -> bool:
    """Return ``value`` if it is a bool, else raise ValueError naming it."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


def _choice_field(name: str, value: object, accepted: list[str] | tuple[str, ...]) -> str:
    """Return the lower-cased ``value`` if it is one of ``accepted``, else raise ValueError naming it."""
    key = value.strip().lower() if isinstance(value, str) else None
    if key not in accepted:
        raise ValueError(f"{name} must be one of {', '.join(accepted)}; got {value!r}")
    return key


def _dataset_field(value: object) -> str:
    """Return the canonical dataset name (aliases accepted), else raise ValueError naming the field."""
    try:
        return dataset_info(value).name
    except (ValueError, TypeError):
        raise ValueError(f"dataset must be one of {', '.join(DATASET_NAMES)}; got {value!r}") from None


def _device_field(value: object) -> str:
    """Return ``value`` if it is ``auto`` or a device string torch understands (availability is checked at run time)."""
    if value == "auto":
        return value
    try:
        torch.device(value)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:<index>'; got {value!r}") from None
    return str(value)


def _interval_field(value: object) -> float:
    """Return τ as a positive float (epochs; fractions allowed), else raise ValueError naming prune_interval."""
    try:
        return check_interval(value)
    except ValueError:
        raise ValueError(f"prune_interval must be a positive number of epochs (fractions allowed), "
                         f"got {value!r}") from None


def _rewind_field(value: object) -> float | None:
    """Return the rewind epoch as a float >= 0 or None, else raise ValueError naming rewind_epoch."""
    return check_rewind_epoch(value)


def _options_field(value: object) -> tuple[tuple[str, Any], ...]:
    """Return criterion options as a sorted tuple of (name, scalar) pairs, else raise ValueError naming the field."""
    pairs = value.items() if isinstance(value, Mapping) else value
    try:
        items = [(k, v) for k, v in pairs]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"criterion_options must be a mapping or (name, value) pairs, got {value!r}") from None
    for k, v in items:
        if not isinstance(k, str) or not isinstance(v, _OPTION_TYPES):
            raise ValueError(f"criterion_options must map names to str/int/float/bool/None, got {value!r}")
    if len({k for k, _ in items}) != len(items):
        raise ValueError(f"criterion_options names a key twice: {value!r}")
    return tuple(sorted(items))


# ---------------------------------------------------------------------------------------------------- config


def scaled_epochs(paper_value: float, epochs: int) -> float:
    """A point in the paper's 80-epoch budget (τ, a rewind epoch) at the same share of a budget of ``epochs``."""
    return round(paper_value * epochs / PAPER_EPOCHS, 6)


def default_rewind_epoch(epochs: int) -> float:
    """IMP's rewind point for a budget of ``epochs``: the paper's 6 of 80 epochs, scaled."""
    return scaled_epochs(DEFAULT_REWIND_EPOCH, epochs)


@dataclass(frozen=True)
class RunConfig:
    """A validated, hashable description of one run; ``key`` identifies what it computes."""

    model: str
    dataset: str
    criterion: str = NO_CRITERION
    sparsity: float = 0.0
    prune_at: str | None = None  # None: "none" for the dense baseline, else "before"
    prune_interval: float = DEFAULT_INTERVAL  # τ, epochs between pruning steps (only with prune_at "during")
    rewind_epoch: float | None = None  # IMP: rewind surviving weights to their values at this epoch
    ablation: str = "none"  # sanity checks of a mask found before training: shuffle, reinit, invert
    structured: bool = False  # prune whole nodes (prunekit.structured) and train the physically shrunk network
    epochs: int = 80
    seed: int = 0
    batch_size: int | None = None  # None: the dataset's paper batch size
    train_limit: int | None = None  # None: the full training set
    test_limit: int | None = None  # None: the full test set
    validation: float = 0.0  # > 0: hold out this share of the training set and evaluate on it, not on the test set
    samples: int = DEFAULT_SAMPLES
    scoring_batch_size: int = DEFAULT_BATCH_SIZE
    steps: int = DEFAULT_STEPS
    include_first: bool = True
    include_last: bool = True
    score_mode: str = "eval"
    lr: float = 2e-3
    weight_decay: float = 5e-5
    grad_clip: float = 10.0
    amp: bool = True
    criterion_options: tuple[tuple[str, Any], ...] = ()
    profile: str | None = None
    device: str = "auto"
    precision: str = "auto"  # fp32, bf16 or fp16 (autocast); auto: bf16/fp16 on CUDA with amp, else fp32
    deterministic: bool = False  # deterministic kernels (cuDNN, torch.use_deterministic_algorithms): GPU runs repeat

    def __post_init__(self) -> None:
        for name, value in self._validated().items():
            object.__setattr__(self, name, value)
        self._check_consistency()

    def _validated(self) -> dict[str, Any]:
        """Every field checked on its own and normalised (lower-case names, ints, floats)."""
        structured = _bool_field("structured", self.structured)
        known = available_node_criteria() if structured else available_criteria()
        criterion = _choice_field("criterion", self.criterion, [NO_CRITERION, *known])
        if criterion == NO_CRITERION:
            default_prune_at = PRUNE_AT[0]
        else:
            default_prune_at = (get_node_criterion(criterion) if structured else get_criterion(criterion)).timings[0]
        dataset = _dataset_field(self.dataset)
        batch_size = _int_field("batch_size", self.batch_size, 1, optional=True)
        if self.profile is not None and not isinstance(self.profile, str):
            raise ValueError(f"profile must be a profile name or None, got {self.profile!r}")
        return {
            "model": _choice_field("model", self.model, available_models()),
            "dataset": dataset,
            "criterion": criterion,
            "sparsity": _sparsity_field(self.sparsity),
            "prune_at": _choice_field("prune_at", self.prune_at or default_prune_at, PRUNE_AT),
            "prune_interval": _interval_field(self.prune_interval),
            "rewind_epoch": _rewind_field(self.rewind_epoch),
            "ablation": _choice_field("ablation", self.ablation, ABLATIONS),
            "structured": structured,
            "epochs": _int_field("epochs", self.epochs, 0),
            "seed": _int_field("seed", self.seed, 0),
            "batch_size": batch_size or dataset_info(dataset).batch_size,
            "train_limit": _int_field("train_limit", self.train_limit, 1, optional=True),
            "test_limit": _int_field("test_limit", self.test_limit, 1, optional=True),
            "validation": _validation_field(self.validation),
            "samples": _int_field("samples", self.samples, 1),
            "scoring_batch_size": _int_field("scoring_batch_size", self.scoring_batch_size, 1),
            "steps": _int_field("steps", self.steps, 0),
            "include_first": _bool_field("include_first", self.include_first),
            "include_last": _bool_field("include_last", self.include_last),
            "score_mode": _choice_field("score_mode", self.score_mode, SCORE_MODES),
            "lr": _float_field("lr", self.lr, 0.0, open_min=True),
            "weight_decay": _float_field("weight_decay", self.weight_decay, 0.0),
            "grad_clip": _float_field("grad_clip", self.grad_clip, 0.0),
            "amp": _bool_field("amp", self.amp),
            "criterion_options": _options_field(self.criterion_options),
            "device": _device_field(self.device),
            "precision": _choice_field("precision", self.precision, PRECISIONS),
            "deterministic": _bool_field("deterministic", self.deterministic),
        }

    def _check_consistency(self) -> None:
        """Cross-field rules: the dense baseline prunes nothing, a pruning run prunes something."""
        if not self.amp and self.precision not in ("auto", "fp32"):
            raise ValueError(f"precision {self.precision!r} is an autocast mode but amp=False asks for none; "
                             f"set amp=True or precision='fp32'")
        if self.criterion == NO_CRITERION:
            if self.rewind_epoch is not None or self.ablation != "none":
                raise ValueError("rewind_epoch and ablation need a pruning criterion; the dense baseline prunes nothing")
            if self.prune_at != "none":
                raise ValueError(f"prune_at must be 'none' when criterion is 'none', got {self.prune_at!r}")
            if self.sparsity != 0.0:
                raise ValueError(f"sparsity must be 0 when criterion is 'none' (dense baseline), got {self.sparsity!r}")
            if self.criterion_options:
                raise ValueError(f"criterion_options must be empty when criterion is 'none', "
                                 f"got {dict(self.criterion_options)!r}")
            return
        crit = self._checked_criterion()
        if self.structured:
            self._check_structured(crit)
            return
        if self.prune_at not in crit.timings:
            raise ValueError(f"prune_at must be one of {', '.join(crit.timings)} for criterion {self.criterion!r}; "
                             f"got {self.prune_at!r}")
        if crit.targets_sparsity and self.sparsity == 0.0:
            raise ValueError(f"sparsity must be in (0, 1) when criterion is {self.criterion!r}, got 0.0 "
                             f"(use criterion 'none' for the dense baseline)")
        if not crit.targets_sparsity and self.sparsity != 0.0:
            raise ValueError(f"sparsity must be 0 for criterion {self.criterion!r}: its sparsity follows from its "
                             f"regulariser strength (criterion_options), got {self.sparsity!r}")
        if self.rewind_epoch is not None and self.prune_at != "during":
            raise ValueError(f"rewind_epoch applies to pruning during training (IMP); got {self.rewind_epoch!r} "
                             f"with prune_at {self.prune_at!r}")
        if self.ablation != "none" and self.prune_at != "before":
            raise ValueError(f"ablation {self.ablation!r} applies to masks found before training; got prune_at "
                             f"{self.prune_at!r}")
        if self.prune_at == "during":
            needed = required_epochs(self.sparsity, self.steps, self.prune_interval, crit)
            if self.epochs < needed:
                raise ValueError(f"epochs={self.epochs} is too few for prune_at 'during': {self.criterion} at sparsity "
                                 f"{self.sparsity} with steps={self.steps} and prune_interval={self.prune_interval} "
                                 f"needs at least {needed} epochs")

    def _check_structured(self, crit) -> None:
        """Rules of a structured run: when its node criterion prunes, and a node sparsity or a regulariser λ."""
        if self.rewind_epoch is not None or self.ablation != "none":
            raise ValueError("rewind_epoch and ablation apply to weight pruning, not to a structured run")
        if self.prune_at not in crit.timings:
            raise ValueError(f"structured criterion {self.criterion!r} prunes {crit.timings[0]} training: prune_at "
                             f"must be {' or '.join(repr(t) for t in crit.timings)}, got {self.prune_at!r}")
        if crit.targets_sparsity and self.sparsity == 0.0:
            raise ValueError(f"sparsity must be in (0, 1) when criterion is {self.criterion!r}, got 0.0")
        if not crit.targets_sparsity and self.sparsity != 0.0:
            raise ValueError(f"sparsity must be 0 for structured criterion {self.criterion!r}: its node sparsity "
                             f"follows from its regulariser strength (criterion_options lam), got {self.sparsity!r}")
        if self.prune_at != "before" and self.epochs < 1:
            raise ValueError(f"structured criterion {self.criterion!r} prunes in the training loop and needs "
                             f"epochs >= 1, got {self.epochs}")
        if self.prune_at == "during" and isinstance(crit, SNAPit):
            needed = epochs_for_rounds(len(crit.schedule(self.sparsity)), self.prune_interval)
            if self.epochs < needed:
                raise ValueError(f"epochs={self.epochs} is too few for structured {self.criterion} during training at "
                                 f"node sparsity {self.sparsity} with steps={self.steps} and prune_interval="
                                 f"{self.prune_interval}: needs at least {needed} epochs")

    def _checked_criterion(self):
        """``make_criterion()``, with options the criterion does not take reported as a ValueError naming them."""
        try:
            return self.make_criterion()
        except TypeError as err:
            kind = "node criterion" if self.structured else "criterion"
            raise ValueError(f"criterion_options {dict(self.criterion_options)!r} are not accepted by "
                             f"{kind} {self.criterion!r}: {err}") from None

    def make_criterion(self):
        """The configured criterion instance (its step count and options applied)."""
        if self.structured:
            return get_node_criterion(self.criterion, steps=self.steps, **dict(self.criterion_options))
        return get_criterion(self.criterion, steps=self.steps, **dict(self.criterion_options))

    def numerics(self) -> tuple[str, str]:
        """(device type, precision) this run computes in; ``auto`` fields are resolved on this machine."""
        device = resolve_device("auto") if self.device == "auto" else torch.device(self.device)
        if device.type == "cuda" and self.precision == "auto" and self.amp and not torch.cuda.is_available():
            raise ValueError("the precision of a CUDA run with precision 'auto' depends on the GPU and this machine "
                             f"has none: give precision explicitly ({', '.join(PRECISIONS[1:])})")
        return device.type, resolve_precision(device, self.amp, self.precision)

    def resolved(self) -> RunConfig:
        """This config with ``device`` and ``precision`` made concrete on this machine (what a record stores)."""
        device = resolve_device(self.device)
        return replace(self, device=str(device), precision=self.numerics()[1])

    @property
    def key(self) -> str:
        """First 16 hex digits of the SHA-256 of the canonical JSON of the fields that define the run."""
        # A field added later changes every key unless it is left out while it holds its default.
        identity = {k: v for k, v in self.to_dict().items() if k not in KEYLESS_FIELDS}
        numerics = self.numerics()
        if numerics != CPU_FP32:
            identity["device_type"], identity["precision"] = numerics
        # prune_interval came with pruning during training; it changes nothing elsewhere, and leaving it
        # out there keeps the keys of every record stored before it existed.
        for name, when in CONDITIONAL_KEY_FIELDS.items():
            if self.prune_at != when:
                identity.pop(name, None)
        for name, default in DEFAULTED_KEY_FIELDS.items():
            if identity.get(name) == default:
                identity.pop(name)
        canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), allow_nan=False)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of every field (criterion options as a name → value mapping)."""
        data = asdict(self)
        data["criterion_options"] = dict(self.criterion_options)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """Rebuild a config from ``to_dict()`` output; unknown fields raise ValueError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown RunConfig field(s) {unknown}; accepted: {', '.join(sorted(known))}")
        return cls(**data)

    @classmethod
    def from_profile(cls, profile: str | Profile, **overrides: Any) -> RunConfig:
        """A config with the profile's budgets (epochs, data limits, scoring samples); ``overrides`` win."""
        chosen = get_profile(profile)
        scale = chosen.epochs / PAPER_EPOCHS
        values: dict[str, Any] = {
            "prune_interval": round(DEFAULT_INTERVAL * scale, 6),
            "epochs": chosen.epochs,
            "train_limit": chosen.train_limit,
            "test_limit": chosen.test_limit,
            "samples": chosen.samples,
            "scoring_batch_size": chosen.scoring_batch_size,
            "profile": chosen.name,
        }
        name = str(overrides.get("criterion", "")).strip().lower()
        if name == IMP_CRITERION:
            values["rewind_epoch"] = default_rewind_epoch(chosen.epochs)
        if overrides.get("structured") is True and name in available_node_criteria():
            # L0 and GateDecorators train twice as long as the others (Section 4, Appendix F)
            values["epochs"] = chosen.epochs * get_node_criterion(name).epoch_factor
        if "model" in overrides and "dataset" in overrides:  # input-size-aware data limits (Profile.limits_for)
            values.update(chosen.limits_for(str(overrides["model"]), str(overrides["dataset"])))
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with ``changes``; switching to or from the dense baseline re-derives ``prune_at``."""
        if "criterion" in changes and "prune_at" not in changes:
            new = str(changes["criterion"]).strip().lower()
            structured = changes.get("structured", self.structured)
            lookup = get_node_criterion if structured is True else get_criterion
            timings = ("none",) if new == NO_CRITERION else lookup(new).timings
            if self.prune_at not in timings:
                changes["prune_at"] = None  # the new criterion's default timing
            if "rewind_epoch" not in changes:
                if self.rewind_epoch is not None and new != IMP_CRITERION:
                    changes["rewind_epoch"] = None  # rewinding belongs to IMP
                elif self.rewind_epoch is None and new == IMP_CRITERION:
                    changes["rewind_epoch"] = default_rewind_epoch(changes.get("epochs", self.epochs))
        return replace(self, **changes)


# ---------------------------------------------------------------------------------------------------- record


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


# -------------------------------------------------------------------------------------------------------- run


@dataclass
class RunData:
    """The three batch streams of a run: training, criterion scoring (training set) and test."""

    train: TensorBatches
    scoring: TensorBatches
    test: TensorBatches


def load_run_data(config: RunConfig, device: torch.device, root: str | os.PathLike | None = None) -> RunData:
    """Training, scoring and test batches on ``device``; scoring draws from the training set, never the test set.
    With ``config.validation`` the evaluation stream is that held-out share of the training set instead."""
    info = dataset_info(config.dataset)
    images, labels = load_split(config.dataset, True, root=root, limit=config.train_limit)
    images, labels = images.to(device), labels.to(device)  # one copy on the device, shared by two streams
    if config.validation:
        images, labels, held_images, held_labels = validation_split(images, labels, config.validation)
        if config.test_limit is not None:
            held_images, held_labels = held_images[: config.test_limit], held_labels[: config.test_limit]
        held_out = TensorBatches(held_images, held_labels, info, config.batch_size, shuffle=False, augment=False,
                                 device=device)

    def stream(batch_size: int, seed: int) -> TensorBatches:
        return TensorBatches(images, labels, info, batch_size, shuffle=True, augment=True, device=device, seed=seed)

    return RunData(
        train=stream(config.batch_size, config.seed),
        # like the authors' code, the criterion sees fresh (augmented) training batches
        scoring=stream(config.scoring_batch_size, config.seed + SCORING_SEED_OFFSET),
        test=held_out if config.validation else make_batches(config.dataset, train=False,
                                                             batch_size=config.batch_size, device=device,
                                                             root=root, limit=config.test_limit),
    )


class FlopsMeter(Callback):
    """Training FLOPs of each epoch, with the masks the epoch starts with (register it last)."""

    def __init__(self, input_shape: tuple[int, ...], samples_per_epoch: int) -> None:
        self.input_shape = input_shape
        self.samples_per_epoch = samples_per_epoch
        self.per_epoch: list[int] = []
        self._upcoming = 0

    def _measure(self, model: nn.Module) -> int:
        return training_flops(model, self.input_shape, self.samples_per_epoch, sparse=True)

    def on_train_start(self, state: TrainState) -> None:
        """Measure the masks of the first epoch."""
        self._upcoming = self._measure(state.model)

    def on_epoch_end(self, state: TrainState) -> None:
        """Book the epoch just run and measure the masks of the next one."""
        self.per_epoch.append(self._upcoming)
        self._upcoming = self._measure(state.model)


class NodeFlopsMeter(FlopsMeter):
    """Training FLOPs of a network whose nodes are masked while it trains, counted per optimiser step as the
    shrunk network it equals (:func:`prunekit.measure.network.node_flops`), re-measured whenever the pruner
    changes the masks (register it after the pruner): the dense phase counts dense."""

    def __init__(self, input_shape: tuple[int, ...], samples_per_epoch: int, pruner: StructuredPruner) -> None:
        super().__init__(input_shape, samples_per_epoch)
        self.pruner = pruner
        self._seen = 0
        self._epoch_flops = 0.0

    def _measure(self, model: nn.Module) -> int:
        return TRAINING_PASSES * node_flops(model, self.input_shape)  # per sample

    def _refresh(self, state: TrainState) -> None:
        if self.pruner.version != self._seen:
            self._upcoming, self._seen = self._measure(state.model), self.pruner.version

    def on_train_start(self, state: TrainState) -> None:
        """Measure the network the first step trains."""
        self._upcoming, self._seen, self._epoch_flops = self._measure(state.model), self.pruner.version, 0.0

    def on_step_end(self, state: TrainState) -> None:
        """Book the step just taken, then re-measure if the masks changed."""
        if state.steps_per_epoch:
            self._epoch_flops += self._upcoming * self.samples_per_epoch / state.steps_per_epoch
        self._refresh(state)

    def on_epoch_end(self, state: TrainState) -> None:
        """Close the epoch's account (a whole epoch at once for batches without a length)."""
        if not state.steps_per_epoch:
            self._epoch_flops = self._upcoming * self.samples_per_epoch
        self.per_epoch.append(int(round(self._epoch_flops)))
        self._epoch_flops = 0.0
        self._refresh(state)


def git_commit() -> str | None:
    """The commit of the repository holding prunekit (``git rev-parse HEAD``), None outside a git checkout."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError) as err:
        log.debug("git rev-parse failed: %s", err)
        return None
    return (done.stdout.strip() or None) if done.returncode == 0 else None


PACKAGE_DIR = Path(__file__).resolve().parent
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


def _prune_options(config: RunConfig) -> dict[str, Any]:
    """The scoring settings shared by every way a run prunes."""
    return dict(samples=config.samples, batch_size=config.scoring_batch_size, include_first=config.include_first,
                include_last=config.include_last, score_mode=config.score_mode, seed=config.seed)


def _prune_before(model: nn.Module, config: RunConfig, scoring: TensorBatches) -> list[PruneStep]:
    """Prune at initialisation when the config asks for it, then apply its ablation; the rounds it ran."""
    if config.prune_at != "before":
        return []
    unpruned = copy.deepcopy(model) if config.ablation == "invert" else None
    result = prune(model, config.make_criterion(), config.sparsity, scoring, **_prune_options(config))
    if config.ablation == "none":
        return result.steps
    layers = prunable_layers(model, include_first=config.include_first, include_last=config.include_last)
    dense_scores = None
    if unpruned is not None:  # scored after pruning, so the real mask is the one the plain run finds
        crit = config.make_criterion()
        with single_threaded():
            dense_scores = crit.score(scoring_context(unpruned, crit, scoring, **_prune_options(config)))
    device = next(model.parameters()).device
    apply_ablation(config.ablation, model, layers, seed=config.seed, dense_scores=dense_scores,
                   fresh_model=lambda seed: _fresh_model(config, seed, device))
    return result.steps


def _fresh_model(config: RunConfig, seed: int, device: torch.device) -> nn.Module:
    """The run's architecture initialised from ``seed`` (for the reinit ablation); the global RNG is left as it was."""
    info = dataset_info(config.dataset)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(config.model, info.input_shape, info.num_classes).to(device)


def _prune_callback(config: RunConfig, scoring: TensorBatches) -> Callback | None:
    """The callback that prunes during (or after) training when the config asks for it (scoring on the same
    stream as pruning before training)."""
    if config.structured:
        if config.prune_at == "before":
            return None
        crit = config.make_criterion()
        interval = config.prune_interval if config.prune_at == "during" and isinstance(crit, SNAPit) else None
        return structured_pruner(crit, config.sparsity, scoring, interval=interval, **_prune_options(config))
    if config.prune_at == "during":
        return PruneDuringTraining(config.make_criterion(), config.sparsity, scoring, interval=config.prune_interval,
                                   rewind_epoch=config.rewind_epoch, **_prune_options(config))
    if config.prune_at == "after":
        return RegularisedThresholdPruning(config.make_criterion(), include_first=config.include_first,
                                           include_last=config.include_last)
    return None


def _train_config(config: RunConfig, device: torch.device, progress: bool) -> TrainConfig:
    """The training-loop settings of a run."""
    return TrainConfig(epochs=config.epochs, lr=config.lr, weight_decay=config.weight_decay,
                       grad_clip=config.grad_clip, amp=config.amp, device=str(device), progress=progress,
                       precision=config.precision)


def mask_digest(model: nn.Module) -> str:
    """SHA-256 of every prunable layer's name and 0/1 mask: equal digests mean identical masks."""
    digest = hashlib.sha256()
    for name, module in prunable_layers(model).items():
        digest.update(name.encode())
        digest.update((current_mask(module) != 0).to(torch.uint8).cpu().numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class DenseReference:
    """What the unpruned network measures: the denominators of every reduction a record reports."""

    inference_flops: int
    bits: float
    layer_weights: dict[str, int]
    hidden_nodes: dict[str, int]


def dense_reference(model: nn.Module, input_shape: tuple[int, ...]) -> DenseReference:
    """Measure the network before anything is pruned."""
    return DenseReference(
        inference_flops=inference_flops(model, input_shape, sparse=False),
        bits=dense_size_bits(model),
        layer_weights={n: m.weight.numel() for n, m in prunable_layers(model).items()},
        hidden_nodes=_hidden_widths(model),
    )


def _hidden_widths(model: nn.Module) -> dict[str, int]:
    """Output width of every hidden layer ({} for a network without hidden layers)."""
    try:
        return {n: m.weight.shape[0] for n, m in hidden_layers(model).items()}
    except ValueError:
        return {}


def _kept_weights(model: nn.Module) -> dict[str, int]:
    """Surviving weights per prunable layer (unmasked weights of a shrunk layer all count)."""
    return {n: int(current_mask(m).count_nonzero()) for n, m in prunable_layers(model).items()}


def _sparsities(model: nn.Module, dense: DenseReference, structured: bool) -> tuple[float, float, dict[str, float]]:
    """Weight sparsity, node sparsity and per-layer sparsity against the unpruned network."""
    kept = _kept_weights(model)
    layers = {n: 1.0 - kept.get(n, 0) / total for n, total in dense.layer_weights.items()}
    weights = 1.0 - sum(kept.values()) / sum(dense.layer_weights.values())
    if not structured:
        return weights, node_sparsity(model), layers
    # physically removed nodes: hidden widths of the shrunk network against the unpruned ones
    widths = {n: m.weight.shape[0] for n, m in prunable_layers(model).items() if n in dense.hidden_nodes}
    nodes = 1.0 - sum(widths.values()) / sum(dense.hidden_nodes.values())
    return weights, nodes, layers


def _model_metrics(model: nn.Module, input_shape: tuple[int, ...], dense: DenseReference,
                   structured: bool = False) -> tuple[dict[str, Any], dict[str, float]]:
    """Sparsity, FLOPs and size of the trained model against the unpruned one, and the per-layer sparsity."""
    weights, nodes, layers = _sparsities(model, dense, structured)
    metrics = {
        "mask_digest": mask_digest(model),
        "weight_sparsity": weights,
        "node_sparsity": nodes,
        "inference_flops": inference_flops(model, input_shape, sparse=True),
        "dense_inference_flops": dense.inference_flops,
        "csr_bits": csr_size_bits(model),
        "dense_bits": dense.bits,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    return metrics, layers


def _shrunk(model: nn.Module, config: RunConfig, input_shape: tuple[int, ...], keep_zero_weights: bool = False
            ) -> nn.Module:
    """The physically smaller copy of a node-masked network (with ``keep_zero_weights``, weights that are
    exactly zero inside the surviving nodes stay masked, as CNIP-it pruned them)."""
    device = next(model.parameters()).device
    example = torch.randn(2, *input_shape, generator=torch.Generator().manual_seed(config.seed)).to(device)
    small = shrink(model, example)
    if keep_zero_weights:
        for module in prunable_layers(small).values():
            zero = module.weight.detach() == 0
            if zero.any():
                apply_mask(module, ~zero)
    log.info("shrunk %s from %d to %d parameters", config.model, sum(p.numel() for p in model.parameters()),
             sum(p.numel() for p in small.parameters()))
    return small


def _prune_nodes_before(model: nn.Module, config: RunConfig, scoring: TensorBatches,
                        input_shape: tuple[int, ...]) -> tuple[nn.Module, list[Any]]:
    """Prune nodes at initialisation, then return the physically shrunk network and the rounds it ran."""
    crit = config.make_criterion()
    result = prune_nodes(model, crit, config.sparsity, scoring if crit.needs_data else None, samples=config.samples,
                         batch_size=config.scoring_batch_size, steps=config.steps, score_mode=config.score_mode,
                         seed=config.seed)
    return _shrunk(model, config, input_shape, keep_zero_weights=crit.combined), result.steps


def _reset_peak_memory(device: torch.device) -> None:
    """Start CUDA peak-memory accounting afresh (process RSS on CPU cannot be reset)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def initial_model(config: RunConfig, data: RunData, device: torch.device) -> nn.Module:
    """The run's network at initialisation: seeded exactly as ``run`` seeds it."""
    info = dataset_info(config.dataset)
    seed_everything(config.seed)
    return build_model(config.model, info.input_shape, info.num_classes).to(device)


def _prune_at_start(model: nn.Module, config: RunConfig, data: RunData,
                    input_shape: tuple[int, ...]) -> tuple[nn.Module, list[Any]]:
    """What happens before the first training step: pruning at initialisation (and shrinking, for a structured
    run) when the config prunes before training; the network training starts with and the rounds it ran."""
    if config.structured:
        if config.prune_at != "before":
            return model, []
        return _prune_nodes_before(model, config, data.scoring, input_shape)
    return model, _prune_before(model, config, data.scoring)


def training_start(config: RunConfig, data_root: str | os.PathLike | None = None) -> tuple[nn.Module, nn.Module]:
    """The unpruned network of a run and the one its training starts with (pruned, and shrunk for a structured
    run, when it prunes before training; the unpruned one itself otherwise), as ``run`` builds them."""
    device = resolve_device(config.device)
    info = dataset_info(config.dataset)
    data = load_run_data(config, device, data_root)
    model = initial_model(config, data, device)
    dense = copy.deepcopy(model)
    start, _ = _prune_at_start(model, config, data, info.input_shape)
    return dense, start


def memory_metrics(dense: nn.Module, start: nn.Module, config: RunConfig) -> dict[str, int]:
    """``train_memory_bytes`` of the network training starts with and ``dense_train_memory_bytes`` of the unpruned
    one (:func:`prunekit.measure.network.training_memory_bytes`, the run's batch size)."""
    shape = dataset_info(config.dataset).input_shape
    return {"train_memory_bytes": training_memory_bytes(start, shape, config.batch_size, seed=config.seed),
            "dense_train_memory_bytes": training_memory_bytes(dense, shape, config.batch_size, seed=config.seed)}


def pruned_at_init(config: RunConfig, data_root: str | os.PathLike | None = None) -> nn.Module:
    """The network a before-training run starts training from (same seed, data stream and mask as ``run``);
    its ``mask_digest`` equals the stored record's."""
    if config.prune_at != "before":
        raise ValueError(f"pruned_at_init needs a config that prunes before training, got prune_at {config.prune_at!r}")
    device = resolve_device(config.device)
    data = load_run_data(config, device, data_root)
    model = initial_model(config, data, device)
    _prune_before(model, config, data.scoring)
    return model


def run(config: RunConfig, *, progress: bool = True, data_root: str | os.PathLike | None = None,
        keep_model: bool = False) -> RunRecord:
    """Build, prune (if asked), train and evaluate one configuration; return everything it measured
    (and, with ``keep_model``, the trained network as ``record.model``). With ``config.deterministic`` the
    run uses deterministic kernels and the global switches are restored afterwards."""
    with deterministic_algorithms(config.deterministic):
        return _run(config, progress=progress, data_root=data_root, keep_model=keep_model)


def _run(config: RunConfig, *, progress: bool, data_root: str | os.PathLike | None, keep_model: bool) -> RunRecord:
    """``run`` inside its determinism switches."""
    config = config.resolved()  # the record states the device and numeric mode the run computed in
    device = torch.device(config.device)
    total = Stopwatch(device).start()
    info = dataset_info(config.dataset)
    data = load_run_data(config, device, data_root)
    model = initial_model(config, data, device)
    check_labels(model, data.train, data.test)
    dense = dense_reference(model, info.input_shape)
    dense_memory = training_memory_bytes(model, info.input_shape, config.batch_size, seed=config.seed)
    log.info("run %s: %s on %s, %s at %.4f (%s), %d epochs, seed %d", config.key, config.model, config.dataset,
             config.criterion, config.sparsity, config.prune_at, config.epochs, config.seed)

    with Stopwatch(device) as prune_watch:
        model, steps = _prune_at_start(model, config, data, info.input_shape)
    prune_seconds = prune_watch.seconds
    start_memory = training_memory_bytes(model, info.input_shape, config.batch_size, seed=config.seed)
    _reset_peak_memory(device)  # after the probes above, which run the dense network at batch size

    callbacks: list[Callback] = []
    during = _prune_callback(config, data.scoring)
    if during is not None:
        callbacks.append(during)
    # The meter comes last: it measures the masks each epoch starts with, after any pruning at its end,
    # so the training FLOPs of a "during" run fall step by step.
    if isinstance(during, StructuredPruner):
        meter = NodeFlopsMeter(info.input_shape, data.train.num_samples, during)
    else:
        meter = FlopsMeter(info.input_shape, data.train.num_samples)
    callbacks.append(meter)
    sampler = MemorySampler()  # memory during training, every few optimiser steps (median: Figure 21)
    callbacks.append(sampler)
    with Stopwatch(device) as train_watch:
        history = train(model, data.train, data.test, _train_config(config, device, progress), callbacks)
    train_seconds = train_watch.seconds
    if isinstance(during, StructuredPruner):
        during.finalize(model)
        model = _shrunk(model, config, info.input_shape)
    if during is not None:
        steps = list(during.steps_done)
        prune_seconds = sum(s.seconds for s in steps)  # also inside train_seconds

    with Stopwatch(device) as eval_watch:
        final = history.epochs[-1] if history.epochs else None
        test_loss, accuracy = (final.test_loss, final.test_acc) if final else evaluate(model, data.test, device,
                                                                                       config.precision)
    eval_seconds = eval_watch.seconds

    model_metrics, layers = _model_metrics(model, info.input_shape, dense, config.structured)
    metrics = {
        "accuracy": accuracy,
        "test_loss": test_loss,
        "train_accuracy": final.train_acc if final else None,
        "train_loss": final.train_loss if final else None,
        **model_metrics,
        "training_flops": sum(meter.per_epoch),
        "dense_training_flops": TRAINING_PASSES * dense.inference_flops * data.train.num_samples * config.epochs,
        "train_memory_bytes": start_memory,
        "dense_train_memory_bytes": dense_memory,
        "train_samples": data.train.num_samples,
        "test_samples": data.test.num_samples,
    }
    resources = {
        "prune_seconds": prune_seconds,
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
        "inference_seconds": inference_seconds(model, info.input_shape, config.batch_size),
        "total_seconds": total.elapsed(),
        # on CUDA the sampler resets torch's peak counter between samples, so the run's peak is the larger one;
        # on CPU the kernel's peak RSS is exact (statm samples count pages differently and can read a hair above it)
        "peak_memory_bytes": (max(peak_memory_bytes(device), sampler.peak_bytes) if device.type == "cuda"
                              else peak_memory_bytes(device)),
        "peak_memory_kind": "cuda_allocated" if device.type == "cuda" else "process_rss",
        **sampler.as_resources(),  # median_memory_bytes, sampled_peak_memory_bytes, memory_samples, memory_kind
    }
    record = RunRecord(config, json_safe(metrics), layers, json_safe(history.as_records()),
                       json_safe([s.as_dict() for s in steps]), resources, provenance(device),
                       model=model if keep_model else None)
    log.info("run %s done: accuracy %.4f, weight sparsity %.4f, %.1fs", config.key, accuracy,
             metrics["weight_sparsity"], resources["total_seconds"])
    note_runs(trained=1)
    return record


__all__ = [
    "KEYLESS_FIELDS",
    "NO_CRITERION",
    "PRUNE_AT",
    "SCHEMA_VERSION",
    "FlopsMeter",
    "NodeFlopsMeter",
    "RunConfig",
    "RunData",
    "RunRecord",
    "git_commit",
    "git_dirty",
    "json_safe",
    "load_run_data",
    "initial_model",
    "mask_digest",
    "memory_metrics",
    "provenance",
    "pruned_at_init",
    "run",
    "source_hash",
    "training_start",
]

