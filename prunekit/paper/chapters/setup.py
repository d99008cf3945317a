"""Section 4 and Appendix J as tables: the datasets and the training budget prunekit uses, beside the paper's."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pandas as pd
from pandas.io.formats.style import Styler
from torch import nn

from prunekit.criteria.weight.hoyersquare import HoyerSquare
from prunekit.data import DATASET_NAMES, data_root, dataset_info, require_dataset
from prunekit.experiments.config import RunConfig
from prunekit.models import available_models, leaky_relu_gain
from prunekit.paper.chapters.architectures import FLOPS_PER_MAC, model_label, shape_label
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


# ----------------------------------------------------------------------------------------------------- page

HIGHLIGHT = "background-color: #fde0dd"  # a row that differs from the paper
# the settings Section 4 fixes for every experiment; every profile must keep them (a check of this edition)
SAME_IN_EVERY_PROFILE = ("optimiser", "learning rate", "learning-rate schedule", "weight decay",
                         "gradient clipping (max norm)", "batch size (mnist)", "batch size (cifar10)",
                         "batch size (imagenette)", "SNIP-it steps s")


def page_networks(models: str | Sequence[str] | None) -> list[str]:
    """The networks the setup page shows: every network of prunekit's model registry when ``models`` is None."""
    chosen = list(available_models() if models is None else [models] if isinstance(models, str) else models)
    if not chosen:
        raise ValueError("models must be None, a model name or a non-empty list of model names")
    return chosen


def produced_by_details(models: Sequence[str], profiles: Sequence[str], profile: str,
                        root: str | os.PathLike | None = None) -> str:
    """What the setup page reads instead of runs, for its produced-by line."""
    return (f"it trains nothing and reads no run records: the dataset facts come from `prunekit.data` (files "
            f"looked for under `{data_root(root)}`, never downloaded), the networks "
            f"{', '.join(model_label(m) for m in models)} are built on PyTorch's meta device (true shapes, no "
            f"storage) and counted, and the training budgets are read from the run configurations of the profiles "
            f"{', '.join(profiles)}; so every profile shows the same page, and the `{profile}` column of the "
            f"training table is the budget behind the results chapters of this build")


def _highlight_rows(flagged: Callable[[pd.Series], bool]) -> Callable[[pd.Series], list[str]]:
    """A row styler colouring every cell of the rows for which ``flagged(row)`` holds."""
    return lambda row: [HIGHLIGHT if flagged(row) else "" for _ in row]


def dataset_view(data_facts: pd.DataFrame) -> Styler:
    """The dataset table as the page shows it: rows that differ from Appendix J coloured, the missing files left out."""
    shown = data_facts.drop(columns=["missing"]).rename(columns={"paper flip p": "paper flip p (train)"})
    return (shown.style.hide(axis="index")
            .format({"paper flip p (train)": lambda v: "" if pd.isna(v) else f"{v:g}"}, na_rep="")
            .apply(_highlight_rows(lambda row: row["differs from paper"] != ""), axis=1))


def missing_data_text(data_facts: pd.DataFrame) -> str:
    """Which datasets are on disk, and for every other one what its loader looks for (markdown)."""
    absent = data_facts[~data_facts["on disk"]]
    present = data_facts.loc[data_facts["on disk"], "dataset"].tolist()
    lines = [f"**On disk here:** {', '.join(present) or 'none'}. "
             + ("Every other dataset is named below with what its loader looks for; put the files there (or point "
                "`PRUNEKIT_DATA` at a folder holding them) and the chapters can run on it." if len(absent) else "")]
    for _, row in absent.iterrows():
        lines.append(f"- **{row['dataset']}**:\n\n  ```text\n  " + row["missing"].replace("\n", "\n  ") + "\n  ```")
    return "\n".join(lines)


_COUNT_COLUMNS = ("weights", "weights (App. L)", "parameters", "parameters (App. L)", "FLOPs (hooks)",
                  "FLOPs (counter)")


def architecture_view(summary: pd.DataFrame) -> Styler:
    """Appendix L's networks, ours beside the paper-derived counts; a pair that differs from the paper coloured."""
    view = pd.DataFrame({
        "network": summary["label"],
        "input (datasets)": [f"{shape_label(s)} ({d})" for s, d in zip(summary["input_shape"], summary["datasets"])],
        "prunable layers": summary["layers"],
        "weights": summary["weights"],
        "weights (App. L)": summary["paper_weights"],
        "parameters": summary["parameters"],
        "parameters (App. L)": summary["paper_parameters"],
        "Δ parameters (%)": summary["parameters_diff_pct"],
        "FLOPs (hooks)": summary["flops"],
        "FLOPs (counter)": summary["counted_flops"],
        "layers as App. L": summary["layers_match"],
    })
    return (view.style.hide(axis="index")
            .format({c: "{:,}" for c in _COUNT_COLUMNS} | {"Δ parameters (%)": "{:+.2f}"})
            .apply(_highlight_rows(lambda row: not row["layers as App. L"] or row["Δ parameters (%)"] != 0), axis=1))


def layer_view(overview: pd.DataFrame) -> Styler:
    """One network's layer overview with thousands separators; a layer unlike Appendix L's coloured."""
    counts = [c for c in overview.columns if c[1] in ("FLOPs", "weights")]
    return (overview.style.hide(axis="index").format({c: "{:,}" for c in counts})
            .apply(_highlight_rows(lambda row: not row[("", "as App. L")]), axis=1))


def setting_value(value: object) -> str:
    """A training setting as the table prints it: nothing for None, ``{:g}`` for a float."""
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _changes(row: pd.Series, profile: str) -> bool:
    """Whether ``profile`` sets this training-table row differently from the paper."""
    return profile in row["differs in"].split(", ")


def _changed_in(training: pd.DataFrame, profile: str) -> pd.Series:
    """Which rows of the training table ``profile`` sets differently from the paper."""
    return training.apply(_changes, axis=1, profile=profile).astype(bool)


def training_view(training: pd.DataFrame, profile: str) -> Styler:
    """The training table with the settings ``profile`` changes coloured and its column in bold."""
    columns = ["the paper", *(c for c in training.columns if c.endswith(" profile"))]
    return (training.style.hide(axis="index").format({c: setting_value for c in columns})
            .apply(_highlight_rows(lambda row: _changes(row, profile)), axis=1)
            .set_properties(subset=[f"{profile} profile"], **{"font-weight": "bold"}))


def changed_settings(training: pd.DataFrame, profile: str) -> list[str]:
    """The settings in which ``profile`` departs from the paper."""
    return training.loc[_changed_in(training, profile), "setting"].tolist()


def _layers_bullet(summary: pd.DataFrame) -> str:
    """Whether every network/input-shape pair has Appendix L's layers and parameter count."""
    mismatched = summary[~summary["layers_match"] | (summary["parameters_diff_pct"] != 0)]
    if mismatched.empty:
        return (f"- **Appendix L holds layer for layer.** In all {len(summary)} network/input-shape pairs "
                f"({summary['model'].nunique()} networks × {summary['input_shape'].nunique()} input shapes) every "
                f"Linear/Conv layer has the type and weight shape Appendix L prints, and the parameter count equals "
                f"the paper-derived one exactly (Δ = 0 %); the two FLOP counters agree on every network.")
    return f"- **{len(mismatched)} pair(s) differ from Appendix L:** " + ", ".join(
        f"{r['label']} at {shape_label(r['input_shape'])} ({r['parameters_diff_pct']:+.2f} % parameters)"
        for _, r in mismatched.iterrows()) + "."


def _sizes_bullet(summary: pd.DataFrame) -> str:
    """The range of parameters and FLOPs over the networks at the first input shape."""
    first = summary["input_shape"].iloc[0]
    at_first = summary[summary["input_shape"] == first].set_index("model")
    smallest, largest = at_first["parameters"].idxmin(), at_first["parameters"].idxmax()
    return (f"- **Sizes.** At {shape_label(first)} the networks range from "
            f"{at_first.loc[smallest, 'parameters'] / 1e6:.2f} M parameters ({model_label(smallest)}) to "
            f"{at_first.loc[largest, 'parameters'] / 1e6:.1f} M ({model_label(largest)}), and from "
            f"{at_first['flops'].min() / 1e6:.1f} to {at_first['flops'].max() / 1e6:.0f} MFLOPs per sample.")


def _input_size_bullet(summary: pd.DataFrame) -> str:
    """How parameters and FLOPs change from the first to the last input shape ('' without MLP5 or a second shape)."""
    shapes = summary["input_shape"].drop_duplicates()
    first, last = shapes.iloc[0], shapes.iloc[-1]
    models = summary["model"].drop_duplicates().tolist()
    conv = [m for m in models if m != "mlp5"]
    if not conv or len(shapes) < 2 or "mlp5" not in models:
        return ""
    at_first = summary[summary["input_shape"] == first].set_index("model")
    at_last = summary[summary["input_shape"] == last].set_index("model")
    growth = at_last.loc[conv, "flops"] / at_first.loc[conv, "flops"]
    param_growth = (at_last.loc[conv, "parameters"] / at_first.loc[conv, "parameters"] - 1).abs().max()
    return (f"- **Input size.** From {shape_label(first)} to {shape_label(last)} the convolutional networks' "
            f"parameters change by at most {100 * param_growth:.2f} % (only the first layer's input channels change), "
            f"while their FLOPs grow {growth.min():.0f}× to {growth.max():.0f}× ({model_label(growth.idxmin())} to "
            f"{model_label(growth.idxmax())}). MLP5 grows the other way: "
            f"{at_first.loc['mlp5', 'parameters'] / 1e6:.1f} M → {at_last.loc['mlp5', 'parameters'] / 1e6:.1f} M "
            f"parameters, and its FLOPs stay {FLOPS_PER_MAC} × its weights.")


def _one_pixel_bullet(summary: pd.DataFrame) -> str:
    """The networks whose last feature map is a single pixel, and what the head then reads ('' when none)."""
    upsampled = summary[summary["last_feature_map"].map(lambda s: s is not None and s[0] * s[1] == 1)]
    if upsampled.empty:
        return ""
    return ("- **Small inputs end in 1×1 feature maps.** In " + "; ".join(
        f"{r['label']} at {shape_label(r['input_shape'])} (×{r['head_positions']})" for _, r in upsampled.iterrows())
        + " the last convolution outputs a single pixel per channel, so the adaptive average pool before the head "
        "copies each value into every pooled position (the × number) and the first Linear layer reads each of "
        "those values that many times: its fan-in overstates the distinct inputs it sees. This follows from "
        "Appendix L's layers on these inputs; it is not a prunekit choice.")


def _dataset_bullets(data_facts: pd.DataFrame) -> list[str]:
    """One bullet per dataset whose facts differ from Appendix J's."""
    lines = []
    for _, row in data_facts[data_facts["differs from paper"] != ""].iterrows():
        if row["dataset"] == "imagenette":
            lines.append(
                f"- **Imagenette's split differs.** Appendix J gives {row['paper train size']:,} training and "
                f"{row['paper test size']:,} test images (the first Imagenette release); prunekit reads the "
                f"imagenette2 folders (`imagenette2-320`), whose split is {row['train size']:,} / "
                f"{row['test size']:,}. Shape, resizing, normalisation and flips are the paper's.")
        else:
            lines.append(f"- **{row['dataset']}** differs from Appendix J in: {row['differs from paper']}.")
    return lines


def _profile_bullet(training: pd.DataFrame, profile: str) -> str:
    """Which of the paper's settings ``profile`` keeps and which it changes, from what to what."""
    changed = training[_changed_in(training, profile)]
    kept = training[training["the paper"].notna() & ~training["setting"].isin(changed["setting"])]
    return (f"- **The `{profile}` profile** keeps the paper's " + ", ".join(kept["setting"]) + "; "
            + ("it changes nothing else." if changed.empty else
               "it changes " + "; ".join(f"{r['setting']} ({setting_value(r['the paper'])} → "
                                         f"{setting_value(r[f'{profile} profile'])})" for _, r in changed.iterrows())
               + "."))


def observations(summary: pd.DataFrame, data_facts: pd.DataFrame, training: pd.DataFrame, profile: str) -> str:
    """The page's observations (markdown bullets): Appendix L's match, sizes, input-size effects, datasets, budget."""
    lines = [_layers_bullet(summary), _sizes_bullet(summary), _input_size_bullet(summary), _one_pixel_bullet(summary),
             *_dataset_bullets(data_facts), _profile_bullet(training, profile)]
    return "\n".join(line for line in lines if line)


def setup_checks(summary: pd.DataFrame, training: pd.DataFrame, max_parameter_diff_pct: float = 0.0) -> dict[str, bool]:
    """The page's checks of this edition: Appendix L's layers and counts, both FLOP counters, Section 4's settings."""
    if max_parameter_diff_pct < 0:
        raise ValueError(f"max_parameter_diff_pct must be >= 0, got {max_parameter_diff_pct!r}")
    fixed = training.set_index("setting").loc[list(SAME_IN_EVERY_PROFILE), "differs in"]
    return {
        "every network has Appendix L's layers at every input shape": bool(summary["layers_match"].all()),
        f"parameter counts equal the paper-derived ones within {max_parameter_diff_pct} %":
            bool((summary["parameters_diff_pct"].abs() <= max_parameter_diff_pct).all()),
        "the hook and FlopCounterMode FLOP counts agree on every dense network":
            bool((summary["flops"] == summary["counted_flops"]).all()),
        "optimiser, learning rate, weight decay, clipping, batch sizes and steps are the paper's in every profile":
            bool((fixed == "").all()),
    }


__all__ = ["SAME_IN_EVERY_PROFILE", "architecture_view", "changed_settings", "dataset_table", "dataset_view",
           "layer_view", "missing_data_text", "missing_files", "observations", "page_networks", "produced_by_details",
           "setting_value", "setup_checks", "training_setup_table", "training_view"]
