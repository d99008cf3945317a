"""What one experiment computes: field validators and ``RunConfig``, the validated, hashable description of a run
whose ``key`` names its record."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch

from prunekit.criteria import available_criteria, get_criterion
from prunekit.criteria.weight.sensitivity import SCORE_MODES
from prunekit.data import DATASET_NAMES, dataset_info
from prunekit.models import available_models
from prunekit.structured import available_node_criteria, get_node_criterion
from prunekit.experiments.profiles import Profile, get_profile
from prunekit.pruning.ablations import ABLATIONS
from prunekit.pruning.during import (
    DEFAULT_INTERVAL,
    DEFAULT_REWIND_EPOCH,
    check_interval,
    check_rewind_epoch,
    epochs_for_rounds,
    required_epochs,
)
from prunekit.pruning.before import DEFAULT_BATCH_SIZE, DEFAULT_SAMPLES
from prunekit.core.schedule import DEFAULT_STEPS
from prunekit.training.loop import PRECISIONS, resolve_device, resolve_precision

NO_CRITERION = "none"  # the dense baseline: nothing is pruned
PRUNE_AT = ("none", "before", "during", "after")  # when a run prunes (a criterion accepts some of them)
# Fields that only matter for some runs: left out of the key unless prune_at is the value given here, so
# the keys of runs stored before the field existed (e.g. results/cpu) do not change.
CONDITIONAL_KEY_FIELDS = {"prune_interval": "during"}
# Fields added later: left out of the key while they hold this default, for the same reason.
DEFAULTED_KEY_FIELDS = {"rewind_epoch": None, "ablation": "none", "structured": False, "validation": 0.0,
                        "deterministic": False}
IMP_CRITERION = "imp-global"  # the criterion whose runs rewind (rewind_epoch set by from_profile)
PAPER_EPOCHS = 80  # the paper's budget; τ and IMP's rewind epoch scale with a profile's epochs
# Which budget name a run was launched under and which device index it used do not change what it
# computes, so these fields are recorded but left out of the key. The numeric mode does change it: a run
# that is not fp32 on a CPU adds its device type and precision to the key (NUMERIC_KEY_FIELDS), so a CUDA
# bf16 run never shares a key with a CPU fp32 record, and every CPU fp32 key stays what it was.
KEYLESS_FIELDS = ("profile", "device", "precision")
CPU_FP32 = ("cpu", "fp32")
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


def prunes_nodes_in_rounds(criterion: Any) -> bool:
    """True when a node criterion pruning during training does so in rounds every τ epochs (SNAP-it, Appendix E)."""
    # A node criterion that can also prune at initialisation scores nodes at a moment, so during training it
    # repeats that every τ epochs; one that prunes only during training (L0) learns its gates instead.
    return "before" in criterion.timings


def scaled_epochs(paper_value: float, epochs: int) -> float:
    """A point in the paper's 80-epoch budget (τ, a rewind epoch) at the same share of a budget of ``epochs``."""
    return round(paper_value * epochs / PAPER_EPOCHS, 6)


def default_rewind_epoch(epochs: int) -> float:
    """IMP's rewind point for a budget of ``epochs``: the paper's 6 of 80 epochs, scaled."""
    return scaled_epochs(DEFAULT_REWIND_EPOCH, epochs)


def profile_budget(profile: str | Profile, *, criterion: str = "", structured: bool = False,
                   model: object = None, dataset: object = None) -> dict[str, Any]:
    """The budget a profile gives a run of ``criterion``: epochs (twice for L0 and GateDecorators), data limits and
    scoring samples (input-size aware when ``model`` and ``dataset`` are given: ``Profile.limits_for``)."""
    chosen = get_profile(profile)
    budget: dict[str, Any] = {"epochs": chosen.epochs, "train_limit": chosen.train_limit,
                              "test_limit": chosen.test_limit, "samples": chosen.samples,
                              "scoring_batch_size": chosen.scoring_batch_size}
    name = str(criterion).strip().lower()
    if structured and name in available_node_criteria():
        # L0 and GateDecorators train twice as long as the others (Section 4, Appendix F)
        budget["epochs"] = chosen.epochs * get_node_criterion(name).epoch_factor
    if model is not None and dataset is not None:
        budget.update(chosen.limits_for(str(model), str(dataset)))
    return budget


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
        if self.prune_at == "during" and prunes_nodes_in_rounds(crit):
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
        name = str(overrides.get("criterion", "")).strip().lower()
        values: dict[str, Any] = {"prune_interval": round(DEFAULT_INTERVAL * scale, 6), "profile": chosen.name}
        values.update(profile_budget(chosen, criterion=name, structured=overrides.get("structured") is True,
                                     model=overrides.get("model"), dataset=overrides.get("dataset")))
        if name == IMP_CRITERION:
            values["rewind_epoch"] = default_rewind_epoch(chosen.epochs)
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


CONFIG_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(RunConfig))

__all__ = [
    "CONFIG_COLUMNS",
    "IMP_CRITERION",
    "KEYLESS_FIELDS",
    "NO_CRITERION",
    "PAPER_EPOCHS",
    "PRUNE_AT",
    "RunConfig",
    "default_rewind_epoch",
    "profile_budget",
    "prunes_nodes_in_rounds",
    "scaled_epochs",
]
