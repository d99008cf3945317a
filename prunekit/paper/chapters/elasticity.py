"""The Appendix A chapter: weight elasticities at initialisation of several networks, per seed, summarised.

Each network is the one a run of :func:`prunekit.experiments.run.run` with the same model, dataset,
profile and seed starts from (:func:`~prunekit.experiments.run.initial_model`), and it is scored on the
first accumulated batch that run's criterion would draw from its scoring stream (training data only,
``profile.samples`` samples in chunks of ``profile.scoring_batch_size``), with the model in the
criteria's scoring mode (``eval``: dropout off, BatchNorm on its running statistics). The values
are therefore exactly what SNIP and the first SNIP-it round rank. Only summaries and thinned curves
are kept, never the raw per-weight arrays (VGG16 alone has about 5·10⁷ weights).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from pandas.io.formats.style import Styler
from torch.nn import functional as F

from prunekit.analysis.elasticity import DEFAULT_POINTS, DEFAULT_THRESHOLDS, elasticities, elasticity_curve
from prunekit.criteria.weight.sensitivity import scoring_mode
from prunekit.experiments.config import RunConfig
from prunekit.experiments.loading import load_run_data
from prunekit.experiments.run import initial_model
from prunekit.core.masks import prunable_layers
from prunekit.models import available_models
from prunekit.experiments.profiles import Profile, get_profile
from prunekit.core.sampling import SampleStream
from prunekit.data import DatasetInfo
from prunekit.paper.checks import CheckedClaim, check
from prunekit.training.loop import resolve_device

# Scoring all six networks is cheap on a GPU but takes minutes per seed on a 2-core CPU (VGG16 and
# AlexNet hold 5·10⁷ and 3·10⁷ weights); the three small networks take about a minute per seed.
SMALL_MODELS: tuple[str, ...] = ("mlp5", "lenet5", "conv6")
ALL_MODELS_PROFILES: tuple[str, ...] = ("paper",)
TOP_SHARE_FRACTION = 0.1


def chapter_models(profile: str | Profile, models: str | Sequence[str] | None = None) -> list[str]:
    """The networks the chapter scores: ``models`` if given (a list, or one string of comma-separated names, as
    ``papermill -p models mlp5,vgg16`` passes it), else all six in the paper profile and MLP5, LeNet5 and Conv6
    in the cheaper profiles."""
    accepted = available_models()
    if models is None:
        return list(accepted) if get_profile(profile).name in ALL_MODELS_PROFILES else list(SMALL_MODELS)
    chosen = [m.strip() for m in models.split(",")] if isinstance(models, str) else list(models)
    unknown = [m for m in chosen if not isinstance(m, str) or m.lower() not in accepted]
    if not chosen or unknown:
        raise ValueError(f"models must be a non-empty list of {accepted}, got {models!r}")
    return list(dict.fromkeys(m.lower() for m in chosen))


def threshold_label(threshold: float) -> str:
    """The column name of the share of weights strictly below ``threshold``: 0.01 → '< 0.01'."""
    return f"< {threshold:g}"


def format_share(share: float, decimals: int = 2) -> str:
    """A share as a percentage that never rounds to 0 % or 100 % unless it is exactly that: 0.99999 → '> 99.99%'."""
    share = float(share)
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"a share must lie in [0, 1], got {share!r}")
    if share in (0.0, 1.0):
        return f"{share:.0%}"
    step = 10.0 ** -(decimals + 2)
    if share <= step / 2:
        return f"< {step:.{decimals}%}"
    if share >= 1.0 - step / 2:
        return f"> {1.0 - step:.{decimals}%}"
    return f"{share:.{decimals}%}"


def elasticity_summary(scores: np.ndarray, thresholds: Sequence[float] = DEFAULT_THRESHOLDS) -> dict[str, float]:
    """Size, median, maximum, exact-zero share, spread in decades, shares below each threshold and the top-10 % share."""
    values = np.asarray(scores, dtype=float).ravel()
    if values.size == 0:
        raise ValueError("no elasticity values given")
    ordered = np.sort(values)
    top = int(np.ceil(TOP_SHARE_FRACTION * values.size))
    total = float(ordered.sum())
    positive = ordered[ordered > 0]
    summary: dict[str, float] = {
        "weights": int(values.size),
        "median": float(np.median(ordered)),
        "max": float(ordered[-1]),
        "zero": float(np.mean(values == 0)),
        # orders of magnitude between the median non-zero elasticity and the largest one
        "decades": float(np.log10(positive[-1] / np.median(positive))) if positive.size else 0.0,
    }
    for threshold in thresholds:
        summary[threshold_label(threshold)] = float(np.mean(values < threshold))
    summary["n >= 1"] = int(np.sum(values >= 1.0))
    summary["top 10% share"] = float(ordered[-top:].sum() / total) if total > 0 else 0.0
    return summary


@dataclass(frozen=True)
class ElasticitySurvey:
    """Per (model, seed) summaries (one row each, see :func:`elasticity_summary`) and thinned sorted curves."""

    summary: pd.DataFrame
    curves: dict[str, dict[int, pd.DataFrame]]

    def fraction_table(self) -> pd.DataFrame:
        """One row per model: the mean over seeds of every share and of the spread, the largest elasticity over seeds."""
        shares = [c for c in self.summary.columns if c.startswith("<")] + ["zero", "top 10% share"]
        grouped = self.summary.groupby("model", sort=False)
        table = grouped[shares].mean()
        table.insert(0, "weights", grouped["weights"].first())
        table["decades"] = grouped["decades"].mean()
        table["max"] = grouped["max"].max()
        table["n >= 1"] = grouped["n >= 1"].sum()
        table.insert(0, "seeds", grouped["seed"].count())
        return table

    def worst(self, column: str, lowest: bool = True) -> pd.Series:
        """The (model, seed) row with the lowest (or highest) value of ``column``."""
        if column not in self.summary.columns:
            raise ValueError(f"unknown column {column!r}; columns: {list(self.summary.columns)}")
        index = self.summary[column].idxmin() if lowest else self.summary[column].idxmax()
        return self.summary.loc[index]


def initial_elasticities(config: RunConfig, data_root: str | None = None) -> tuple[np.ndarray, float]:
    """Weight elasticities of ``config``'s network at initialisation on its first scoring batch, and that batch's loss."""
    device = resolve_device(config.device)
    data = load_run_data(config, device, data_root)
    model = initial_model(config, data, device)
    batches = SampleStream(data.scoring, config.samples, config.scoring_batch_size).draw()
    layers = prunable_layers(model, include_first=config.include_first, include_last=config.include_last)
    scores = elasticities(model, batches, F.cross_entropy, score_mode=config.score_mode, layers=layers)
    with scoring_mode(model, config.score_mode), torch.no_grad():
        loss = sum(float(F.cross_entropy(model(x), y, reduction="sum")) for x, y in batches)
    return scores, loss / sum(len(y) for _, y in batches)


def survey_elasticities(
    models: Sequence[str],
    dataset: str,
    profile: str | Profile,
    seeds: Sequence[int],
    *,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    points: int = DEFAULT_POINTS,
    device: str = "auto",
    data_root: str | None = None,
) -> ElasticitySurvey:
    """Score every model at initialisation for every seed (see module doc); keep summaries and ``points``-point curves."""
    chosen = get_profile(profile)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("survey_elasticities needs at least one seed")
    rows, curves = [], {}
    for model in models:
        curves[model] = {}
        for seed in seeds:
            config = RunConfig.from_profile(chosen, model=model, dataset=dataset, criterion="snip", sparsity=0.5,
                                            seed=seed, device=device)
            scores, loss = initial_elasticities(config, data_root)
            rows.append({"model": model, "seed": seed, "loss": loss, **elasticity_summary(scores, thresholds)})
            curves[model][seed] = elasticity_curve(scores, points)
            del scores
    return ElasticitySurvey(pd.DataFrame(rows), curves)


# ----------------------------------------------------------------------------------------------------- page

# Our reading of Appendix A's words as thresholds (the paper gives none): each must hold for every network and seed.
INELASTIC_SHARE = 0.99  # "virtually all weights are in the inelastic category": at least this share has ε < 1
UNIT_SHARE_MAX = 1e-3  # "only very few approach unit-elasticity": at most this share has ε ≥ 1
VERY_INELASTIC_SHARE = 0.95  # "the majority ... 'very-inelastic'": at least this share has ε < 10⁻²
NEARLY_COMPLETELY_SHARE = 0.5  # "more than half are nearly completely inelastic": more than this share has ε < 10⁻³
TOP_SHARE_MIN = 1 / 3  # skewed: the most elastic 10 % hold more than this share of the summed elasticity


def produced_by_details(profile: Profile, models: Sequence[str], seeds: Sequence[int], info: DatasetInfo) -> str:
    """What the page scored, for its produced-by line."""
    return (f"{info.train_size} training images on disk; the scoring samples are drawn from "
            f"{profile.train_limit or info.train_size} of them, never from the test set; networks "
            f"{', '.join(m.upper() for m in models)} at initialisation, seeds {list(seeds)}, a scoring budget of "
            f"{profile.samples} samples per network and seed (the paper: 2560). Nothing is trained on this page")


def budget_label(profile: Profile, info: DatasetInfo, models: Sequence[str], seeds: Sequence[int]) -> str:
    """'MNIST, 3 network(s), 3 seed(s), 2560 scoring samples': the budget the landing page quotes."""
    return (f"{info.name.upper()}, {len(models)} network(s), {len(seeds)} seed(s), {profile.samples} "
            f"scoring samples")


def timed_survey(models: Sequence[str], dataset: str, profile: Profile,
                 seeds: Sequence[int]) -> tuple[ElasticitySurvey, float]:
    """:func:`survey_elasticities` and the seconds it took."""
    started = time.perf_counter()
    survey = survey_elasticities(models, dataset, profile, seeds)
    return survey, time.perf_counter() - started


def survey_note(survey: ElasticitySurvey) -> str:
    """How many networks and seeds were scored, then each one's size, loss, median and maximum (the page's wall time
    is the book's, in book/_timings.json, so a rebuilt page does not move)."""
    summary = survey.summary
    table = summary[["model", "seed", "weights", "loss", "median", "max"]].to_string(index=False)
    return (f"{summary['model'].nunique()} network(s) x {summary['seed'].nunique()} seed(s) scored\n" + table)


def fraction_view(survey: ElasticitySurvey, thresholds: Sequence[float] = DEFAULT_THRESHOLDS) -> Styler:
    """The survey's per-network table with readable headers, shares that never round to 0 % or 100 %."""
    shares = [threshold_label(t) for t in thresholds] + ["zero", "top 10% share"]
    headers = {**{threshold_label(t): f"ε {threshold_label(t)}" for t in thresholds}, "zero": "ε = 0",
               "top 10% share": "top 10 % hold", "decades": "spread (decades)", "max": "largest ε",
               "n >= 1": "weights with ε ≥ 1"}
    formats = {**{headers[c]: format_share for c in shares}, headers["decades"]: "{:.1f}", headers["max"]: "{:.3g}",
               "weights": "{:,}"}
    return (survey.fraction_table().rename(index=str.upper, columns=headers).style.format(formats)
            .format_index(escape="html", axis=1))


def _case(row: pd.Series) -> str:
    """'MLP5, seed 0': the network and seed of a summary row."""
    return f"{row['model'].upper()}, seed {row['seed']}"


def _cases(summary: pd.DataFrame) -> str:
    """'3 network(s) × 2 seed(s)'."""
    return f"{summary['model'].nunique()} network(s) × {summary['seed'].nunique()} seed(s)"


def _fewest(summary: pd.DataFrame, threshold: float) -> pd.Series:
    """The (network, seed) with the smallest share of weights below ``threshold``."""
    return summary.loc[summary[threshold_label(threshold)].idxmin()]


def paper_beside(summary: pd.DataFrame, dataset: str) -> str:
    """Appendix A's statements beside what the survey observes, as a markdown table."""
    below = {t: threshold_label(t) for t in (1e-3, 1e-2, 1.0)}
    tiny, small, unit = (_fewest(summary, t) for t in (1e-3, 1e-2, 1.0))
    largest = summary.loc[summary["max"].idxmax()]
    top = summary.loc[summary["top 10% share"].idxmin()]
    narrow = summary.loc[summary["decades"].idxmin()]
    rows = [
        ("virtually all weights are in the inelastic category",
         f"in each of the {_cases(summary)}, "
         + ("every weight has ε < 1" if unit[below[1.0]] == 1 else
            f"{format_share(unit[below[1.0]])} of the weights or more have ε < 1 (fewest: {_case(unit)})")),
        ("a great deal of them are nearly completely inelastic",
         f"{format_share(tiny[below[1e-3]], 1)} or more have ε < 10⁻³ (fewest: {_case(tiny)}); "
         f"{format_share(small[below[1e-2]])} or more have ε < 10⁻² (fewest: {_case(small)})"),
        ("some are at most a little elastic",
         f"the largest elasticity of a network is at least {narrow['decades']:.1f} orders of magnitude above its "
         f"median non-zero one ({_case(narrow)}); the most elastic 10 % of the weights hold "
         f"{top['top 10% share']:.0%} or more of the summed elasticity"),
        ("only very few approach unit-elasticity or higher, ε ≥ 10⁰",
         f"{int(summary['n >= 1'].sum())} weight(s) reach ε ≥ 1; the largest elasticity is {largest['max']:.3g} "
         f"({_case(largest)})"),
        ("the pattern re-emerges in every network-dataset combination evaluated",
         f"the same pattern in all {summary['model'].nunique()} network(s) on {dataset.upper()}; no other dataset "
         f"is run here"),
    ]
    return ("| Appendix A says | what we observe |\n| --- | --- |\n"
            + "\n".join(f"| {paper} | {ours} |" for paper, ours in rows))


def _unit_text(summary: pd.DataFrame) -> str:
    """How many weights reach unit elasticity, in words."""
    n_unit = int(summary["n >= 1"].sum())
    if n_unit == 0:
        largest = summary.loc[summary["max"].idxmax()]
        return (f"here none does: the largest elasticity of any weight is {largest['max']:.3g} "
                f"({_case(largest)}), so the statement holds in a stronger form")
    unit = _fewest(summary, 1.0)
    return (f"here {n_unit} weight(s) do over all networks and seeds, at most "
            f"{format_share(1 - unit[threshold_label(1.0)], 3)} of a network's weights")


def _names(models: Sequence[str]) -> str:
    """'A, B and C': upper-case network names joined as prose."""
    names = sorted(set(m.upper() for m in models))
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 2 else names)


def _zero_text(summary: pd.DataFrame, input_shape: Sequence[int]) -> str:
    """Where weights have an elasticity of exactly zero and why ('' when none has)."""
    zeros = summary[summary["zero"] > 0]
    if zeros.empty:
        return ""
    padded = zeros[zeros["zero"] >= 0.01]
    text = (" Some weights have an elasticity of exactly zero: "
            + ", ".join(f"{format_share(r['zero'], 1)} ({round(r['zero'] * r['weights']):,} weight(s)) of {_case(r)}"
                        for _, r in zeros.iterrows()) + ".")
    if padded.empty:
        return text
    return text + (f" In {_names(padded['model'])} they sit in the last convolutions, where the "
                   f"{input_shape[1]} × {input_shape[2]} input has been pooled down to feature maps of one to three "
                   "pixels: a 3 × 3 kernel tap that only ever meets zero padding (8 of 9 taps on a 1 × 1 map) gets no "
                   "gradient, so no change of such a weight moves the loss.")


def observations(summary: pd.DataFrame, dataset: str, input_shape: Sequence[int]) -> str:
    """The page's observations as one markdown paragraph: the shares, the unit-elasticity count, skew and zeros."""
    very, nearly = summary[threshold_label(1e-2)], summary[threshold_label(1e-3)]
    top = summary.loc[summary["top 10% share"].idxmin()]
    skewed = summary.loc[summary["top 10% share"].idxmax()]
    return (f"At initialisation the elasticity is tiny for almost every weight: the loss hardly notices a small "
            f"relative change of any single weight. Across the {_cases(summary)} on {dataset.upper()}, between "
            f"{format_share(very.min())} and {format_share(very.max())} of the weights have ε < 10⁻², and between "
            f"{format_share(nearly.min(), 1)} and {format_share(nearly.max(), 1)} have ε < 10⁻³ (fewest: "
            f"{_case(_fewest(summary, 1e-3))}). "
            + ("So more than half of the weights are nearly completely inelastic in every case, the observation "
               "behind SNIP-it's first step of pruning half of the weights. " if (nearly > 0.5).all() else
               "So in some case no more than half of the weights are nearly completely inelastic, against the "
               "observation behind SNIP-it's first step of pruning half of the weights. ")
            + f"The paper says only very few weights approach unit elasticity; {_unit_text(summary)}. The "
              f"distribution is skewed, as the log-scale curves show: the most elastic 10 % of the weights hold "
              f"between {top['top 10% share']:.0%} and {skewed['top 10% share']:.0%} of the summed elasticity (most "
              f"skewed: {_case(skewed)})." + _zero_text(summary, input_shape))


def checks_explained() -> str:
    """The thresholds the page's checks read Appendix A's words with, as a numbered markdown list."""
    return "\n".join([
        f"1. virtually all weights are inelastic: at least {INELASTIC_SHARE:.0%} have ε < 1, and at most "
        f"{UNIT_SHARE_MAX:.1%} have ε ≥ 1;",
        f"2. the large majority are very inelastic: at least {VERY_INELASTIC_SHARE:.0%} have ε < 10<sup>-2</sup>;",
        f"3. more than half are nearly completely inelastic: more than {NEARLY_COMPLETELY_SHARE:.0%} have "
        f"ε < 10<sup>-3</sup>;",
        f"4. the distribution is skewed: the most elastic {TOP_SHARE_FRACTION:.0%} of the weights hold more than "
        f"a third of the summed elasticity (a uniform distribution would give them {TOP_SHARE_FRACTION:.0%}).",
    ])


def elasticity_checks(summary: pd.DataFrame) -> dict[str, bool]:
    """Appendix A's statements read as thresholds, each true when it holds for every network and seed."""
    unit_share = 1.0 - summary[threshold_label(1.0)]
    return {
        f"at least {INELASTIC_SHARE:.0%} of the weights have elasticity below 1":
            bool((summary[threshold_label(1.0)] >= INELASTIC_SHARE).all()),
        f"at most {UNIT_SHARE_MAX:.1%} of the weights reach elasticity 1": bool((unit_share <= UNIT_SHARE_MAX).all()),
        f"at least {VERY_INELASTIC_SHARE:.0%} of the weights have elasticity below 1e-2":
            bool((summary[threshold_label(1e-2)] >= VERY_INELASTIC_SHARE).all()),
        "more than half of the weights have elasticity below 1e-3":
            bool((summary[threshold_label(1e-3)] > NEARLY_COMPLETELY_SHARE).all()),
        f"the top {TOP_SHARE_FRACTION:.0%} of the weights hold more than a third of the summed elasticity":
            bool((summary["top 10% share"] > TOP_SHARE_MIN).all()),
    }


def registered_checks() -> tuple[str, ...]:
    """The page's checks that registered claims decide (per seed, from elasticity-units.json, on the summary page):
    the share with ε ≥ 1 below 0.1 % (which also gives more than 99 % below 1) and more than half below 10⁻³."""
    return (f"at least {INELASTIC_SHARE:.0%} of the weights have elasticity below 1",
            f"at most {UNIT_SHARE_MAX:.1%} of the weights reach elasticity 1",
            "more than half of the weights have elasticity below 1e-3")


def ledger(summary: pd.DataFrame, dataset: str, checks: Mapping[str, bool]) -> list[CheckedClaim]:
    """The page's checks that no registered claim decides, as checks of this edition for the summary page (each
    threshold is ours; a statement is counted once)."""
    models = ", ".join(m.upper() for m in summary["model"].drop_duplicates())
    very, top = summary[threshold_label(1e-2)], summary["top 10% share"]
    ours = (f"{models} on {dataset.upper()}: {format_share(very.min())}–{format_share(very.max())} of the weights "
            f"below 1e-2; the top 10 % hold {top.min():.0%}–{top.max():.0%} of the summed elasticity")
    return [check("elasticity", "elasticity-mostly-tiny", ours, holds, claim=f"{name} (our threshold; every network "
                  f"and seed)") for name, holds in checks.items() if name not in registered_checks()]


def unit_entries(summary: pd.DataFrame, dataset: str) -> list[dict]:
    """The per-seed values the registered Appendix A claims are decided on: per network, the share of weights with
    ε ≥ 1 and the share with ε < 10⁻³, one value per seed (the network at initialisation, ``method`` 'none')."""
    entries = []
    for model, part in summary.groupby("model", sort=False):
        part = part.sort_values("seed")
        common = {"model": model, "dataset": dataset, "method": "none", "level": None,
                  "seeds": [int(s) for s in part["seed"]]}
        entries.append({**common, "metric": "share_elasticity_ge_1",
                        "values": (1.0 - part[threshold_label(1.0)]).tolist()})
        entries.append({**common, "metric": "share_elasticity_below_1e-3", "values": part[threshold_label(1e-3)].tolist()})
    return entries


def record_units(summary: pd.DataFrame, dataset: str, results_root: str | os.PathLike) -> Path:
    """Write :func:`unit_entries` to ``<results>/claims/elasticity-units.json`` for the summary page; its path."""
    from prunekit.paper.checks import record_units as write

    return write("elasticity", "seed", unit_entries(summary, dataset), results_root)


__all__ = [
    "ALL_MODELS_PROFILES",
    "INELASTIC_SHARE",
    "NEARLY_COMPLETELY_SHARE",
    "TOP_SHARE_MIN",
    "UNIT_SHARE_MAX",
    "VERY_INELASTIC_SHARE",
    "budget_label",
    "checks_explained",
    "elasticity_checks",
    "fraction_view",
    "ledger",
    "observations",
    "paper_beside",
    "record_units",
    "registered_checks",
    "unit_entries",
    "produced_by_details",
    "survey_note",
    "timed_survey",
    "SMALL_MODELS",
    "ElasticitySurvey",
    "chapter_models",
    "format_share",
    "elasticity_summary",
    "initial_elasticities",
    "survey_elasticities",
    "threshold_label",
]
