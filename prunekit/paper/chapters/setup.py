"""Section 4 and Appendix J as tables: the datasets and the training budget prunekit uses, beside the paper's."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
from torch import nn

from prunekit.criteria.weight.hoyersquare import HoyerSquare
from prunekit.data import DATASET_NAMES, data_root, dataset_info, require_dataset
from prunekit.experiments.config import RunConfig
from prunekit.models import leaky_relu_gain
from prunekit.experiments.profiles import Profile, available_profiles, get_profile
from prunekit.reference import paper_datasets, paper_training_setup
from prunekit.training.loop import TrainConfig, make_optimizer

OFFLINE_ENV = "PRUNEKIT_OFFLINE"
_ADVICE_MARKERS = ("\nPut them there", " Expected layout")  # where prunekit.data's messages turn to advice


@contextlib.contextmanager
def _no_downloads() -> Iterator[None]:
    """Forbid prunekit.data's download fallback for the block, restoring the caller's setting afterwards."""
    previous = os.environ.get(OFFLINE_ENV)
    os.environ[OFFLINE_ENV] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(OFFLINE_ENV, None)
        else:
            os.environ[OFFLINE_ENV] = previous


def _missing_part(message: str) -> str:
    """The part of a FileNotFoundError from prunekit.data that names what is missing (the advice dropped)."""
    cut = min((i for i in (message.find(m) for m in _ADVICE_MARKERS) if i >= 0), default=len(message))
    return message[:cut].strip()


def missing_files(name: str, root: str | os.PathLike | None = None) -> str | None:
    """None when both splits of dataset ``name`` are on disk under the data root, else what is missing.

    Uses :func:`prunekit.data.require_dataset` (one sample of each split is read) and never downloads.
    """
    with _no_downloads():
        try:
            require_dataset(name, root=root)
        except FileNotFoundError as err:
            return _missing_part(str(err))
    return None


def _normalisation(mean: Sequence[float], std: Sequence[float]) -> str:
    """``mean (…), std (…)`` as the per-channel constants of (x/255 − mean)/std."""
    return f"mean ({', '.join(f'{m:g}' for m in mean)}), std ({', '.join(f'{s:g}' for s in std)})"


def _augmentation(flip_p: float) -> str:
    """The training-set augmentation in words."""
    return f"horizontal flip, p = {flip_p:g} (training set)" if flip_p else "none"


def _dataset_row(name: str, paper: pd.DataFrame, root: Path) -> dict:
    """prunekit's facts of one dataset beside Appendix J's, and whether it is on disk."""
    info = dataset_info(name)
    ref = paper[paper["dataset"] == info.name]
    facts = ref.iloc[0] if len(ref) else None
    train_batch = paper_training_setup()["batch_size"].get(info.name)
    row = {
        "dataset": info.name,
        "in paper": facts is not None,
        "input shape": info.input_shape,
        "paper input shape": None if facts is None else facts["input_shape"],
        "classes": info.num_classes,
        "train size": info.train_size,
        "paper train size": None if facts is None else int(facts["train_size"]),
        "test size": info.test_size,
        "paper test size": None if facts is None else int(facts["test_size"]),
        "batch size": info.batch_size,
        "paper batch size": train_batch,
        "normalisation": _normalisation(info.mean, info.std),
        "augmentation": _augmentation(info.flip_p),
        "paper flip p": None if facts is None else float(facts["flip_p"]),
    }
    pairs = (("input shape", "paper input shape"), ("train size", "paper train size"),
             ("test size", "paper test size"), ("batch size", "paper batch size"))
    differs = [ours for ours, theirs in pairs if row[theirs] is not None and row[ours] != row[theirs]]
    if facts is not None and not math.isclose(info.flip_p, row["paper flip p"]):
        differs.append("flip p")
    missing = missing_files(info.name, root)
    row.update({"differs from paper": ", ".join(differs), "on disk": missing is None, "missing": missing or ""})
    return row


def dataset_table(datasets: Sequence[str] | None = None, root: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per dataset: shape, classes, split sizes, batch size, normalisation and augmentation as prunekit
    applies them, Appendix J's values beside them, the facts that differ, and whether the files are on disk."""
    names = list(DATASET_NAMES if datasets is None else [datasets] if isinstance(datasets, str) else datasets)
    paper = paper_datasets()
    base = data_root(root)
    frame = pd.DataFrame([_dataset_row(name, paper, base) for name in names])
    return frame.astype({c: "Int64" for c in ("paper train size", "paper test size", "paper batch size")})


# ------------------------------------------------------------------------------------------------- training


def _same(ours: object, paper: object) -> bool:
    """Numbers compare with a relative tolerance, text case-insensitively, anything else by equality."""
    if isinstance(ours, (int, float)) and isinstance(paper, (int, float)):
        return math.isclose(float(ours), float(paper), rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(ours, str) and isinstance(paper, str):
        return ours.casefold() == paper.casefold()
    return ours == paper


def _split(epochs: float, finetune_fraction: float) -> str:
    """HoyerSquare's ``regularised + fine-tuning`` epochs."""
    return f"{epochs * (1 - finetune_fraction):g} + {epochs * finetune_fraction:g}"


def _model_list(names: Sequence[str]) -> str:
    """Registry model names as one sorted, comma-separated string (order-free comparison)."""
    return ", ".join(sorted(n.lower() for n in names))


def _optimiser_name() -> str:
    """The class of the optimiser prunekit's training loop builds."""
    return type(make_optimizer(nn.Linear(1, 1), TrainConfig())).__name__


def _profile_values(profile: Profile, dataset: str) -> dict[str, object]:
    """Every training setting a run in ``profile`` gets on ``dataset``, read from the configs prunekit builds."""
    model = profile.models[0]
    base = RunConfig.from_profile(profile, model=model, dataset=dataset)
    imp = RunConfig.from_profile(profile, model=model, dataset=dataset, criterion="imp-global", sparsity=0.98)
    info = dataset_info(dataset)
    values: dict[str, object] = {
        "optimiser": _optimiser_name(),
        "learning rate": base.lr,
        "learning-rate schedule": "none",  # prunekit.training.loop builds no scheduler
        "weight decay": base.weight_decay,
        "gradient clipping (max norm)": base.grad_clip,
    }
    for name in ("mnist", "cifar10", "imagenette"):
        values[f"batch size ({name})"] = RunConfig.from_profile(profile, model=model, dataset=name).batch_size
    values |= {
        "networks a results chapter sweeps": _model_list(profile.models),
        "epochs": base.epochs,
        "seeds per configuration": profile.seeds,
        "training images": base.train_limit or info.train_size,
        "test images": base.test_limit or info.test_size,
        "initialisation": "orthogonal × activation gain",
        "activation gain (LeakyReLU, slope 0.05)": round(leaky_relu_gain(), 4),
        "SNIP-it steps s": base.steps,
        "τ: epochs between pruning steps (during)": base.prune_interval,
        "IMP rewind epoch": imp.rewind_epoch,
        "HoyerSquare epochs (regularised + fine-tuning)": _split(base.epochs, HoyerSquare().finetune_fraction),
        "scoring samples per pruning round": base.samples,
        "mixed precision": "bf16 autocast on CUDA, fp32 on CPU" if base.amp else "fp32",
    }
    return values


def _paper_values() -> dict[str, tuple[object, str]]:
    """The paper's value of every setting (None where it gives none) and where it says so."""
    t = paper_training_setup()
    after = t["epochs_after_training"]
    values: dict[str, tuple[object, str]] = {
        "optimiser": (t["optimiser"], "§4"),
        "learning rate": (t["lr"], "§4"),
        "learning-rate schedule": (t["lr_schedule"], "§4"),
        "weight decay": (t["weight_decay"], "§4"),
        "gradient clipping (max norm)": (t["grad_clip"], "§4"),
    }
    for name, size in t["batch_size"].items():
        values[f"batch size ({name})"] = (size, "§4")
    values |= {
        "networks a results chapter sweeps": (_model_list(t["networks"]), "§4"),
        "epochs": (t["epochs"], "App. F"),
        "seeds per configuration": (t["seeds_median"], "§4 (median n)"),
        "training images": (None, "App. J, per dataset"),
        "test images": (None, "App. J, per dataset"),
        "initialisation": ("orthogonal × activation gain", "§4"),
        "activation gain (LeakyReLU, slope 0.05)": (None, "§4: 'scaled by the activation function'"),
        "SNIP-it steps s": (t["schedule_steps"], "Alg. 1"),
        "τ: epochs between pruning steps (during)": (t["prune_interval_during"], "App. F"),
        "IMP rewind epoch": (t["imp_rewind_epoch"], "App. F"),
        "HoyerSquare epochs (regularised + fine-tuning)": (f"{after['train']:g} + {after['finetune']:g}", "App. F"),
        "scoring samples per pruning round": (None, "§3: 'one batch for each gradient evaluation'"),
        "mixed precision": (None, "not stated"),
    }
    return values


def training_setup_table(profiles: Sequence[str] | None = None, dataset: str = "mnist") -> pd.DataFrame:
    """One row per training setting: the paper's value and source, each profile's value as prunekit's configs
    set it on ``dataset`` (column ``<name> profile``), and the profiles whose value differs from the paper's
    (where the paper gives one)."""
    names = [get_profile(p).name for p in (available_profiles() if profiles is None else
                                           [profiles] if isinstance(profiles, str) else profiles)]
    dataset = dataset_info(dataset).name
    paper = _paper_values()
    per_profile = {name: _profile_values(get_profile(name), dataset) for name in names}
    info = dataset_info(dataset)
    paper_sizes = paper_datasets().set_index("dataset")
    if dataset in paper_sizes.index:  # Appendix J's split sizes for this dataset
        paper["training images"] = (int(paper_sizes.loc[dataset, "train_size"]), "App. J")
        paper["test images"] = (int(paper_sizes.loc[dataset, "test_size"]), "App. J")
    rows = []
    for setting, (value, source) in paper.items():
        row = {"setting": setting, "the paper": value, "source": source}
        row |= {f"{name} profile": per_profile[name][setting] for name in names}
        row["differs in"] = ", ".join(n for n in names if value is not None
                                      and not _same(per_profile[n][setting], value))
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.attrs["dataset"] = info.name
    return frame


__all__ = ["dataset_table", "missing_files", "training_setup_table"]
