"""The paper's methods as named recipes: which criterion, when it prunes, which settings, which paper row.

A *method* is what a table row or a figure line shows (e.g. "SNIP-it (during)"); a criterion is what
scores weights. Everything that identifies a method lives here and nowhere else: its criterion and when it
prunes, the paper's id, its label, colour and place in the book's order (``LOOKS``, ``METHOD_ORDER``,
``STRUCTURED_ORDER``); when a node criterion prunes and whether a criterion sweeps λ are read off the
criterion registry. ``method_configs`` turns a method into the run configs of a sweep for a profile, and
``add_method_columns`` labels stored runs with their method and the level they were swept over
(the target sparsity, or λ for HoyerSquare, whose sparsity follows from λ). The structured methods of
Section 5 (``STRUCTURED_METHODS``: SNAP-it, CNIP-it, structured Random before training, EfficientConvNets,
GateDecorators and Group-HS after it, L0 during it; and Appendix E's abandoned SNAP-it during training and
structured GraSP) have the same recipes through
``structured_method_configs`` and ``add_structured_columns`` (their target is a node sparsity, or λ).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from prunekit.criteria import GRANULARITIES, available_criteria, criterion_class
from prunekit.criteria.weight.hoyersquare import LAMBDA_GRID
from prunekit.experiments.config import NO_CRITERION, RunConfig
from prunekit.experiments.record import RunRecord
from prunekit.experiments.profiles import Profile, get_profile


@dataclass(frozen=True)
class Look:
    """How a method appears in every figure and table of the book."""

    label: str
    color: str


# One label and colour per method key. Keys that are no sweep's Method show in figures too: the dense
# baseline ("none", "baseline"), SNAP (one-shot SNAP-it) and GraSP-it.
LOOKS: dict[str, Look] = {
    "none": Look("dense", "#000000"),
    "baseline": Look("dense", "#000000"),
    "snip": Look("SNIP", "#1f77b4"),
    "snip-it": Look("SNIP-it", "#d62728"),
    "snip-it-during": Look("SNIP-it (during)", "#8b0000"),
    "grasp": Look("GraSP", "#2ca02c"),
    "grasp-it": Look("GraSP-it", "#74c476"),
    "random": Look("Random", "#7f7f7f"),
    "imp-global": Look("IMP-global", "#9467bd"),
    "hoyersquare": Look("HoyerSquare", "#8c564b"),
    "magnitude": Look("Magnitude", "#bcbd22"),
    "synflow": Look("SynFlow", "#17becf"),
    "force": Look("FORCE", "#e377c2"),
    "iter-snip": Look("Iter-SNIP", "#393b79"),
    "snap-it": Look("SNAP-it", "#ff7f0e"),
    "snap-it-during": Look("SNAP-it (during)", "#a63603"),
    "snap": Look("SNAP", "#fdae6b"),
    "cnip-it": Look("CNIP-it", "#6baed6"),
    "efficientconvnets": Look("EfficientConvNets", "#9467bd"),
    "gatedecorators": Look("GateDecorators", "#17becf"),
    "group-hs": Look("Group-HS", "#2ca02c"),
    "l0": Look("L0", "#d62728"),
}
# The book's order of methods (unstructured figures and tables); unlisted methods follow in their given order.
METHOD_ORDER = ("none", "baseline", "snip", "snip-it", "grasp", "random", "imp-global", "hoyersquare", "snap-it",
                "snip-it-during", "magnitude", "synflow", "force", "iter-snip", "cnip-it", "snap-it-during")
# The structured chapters' order: after-training baselines, L0, then the methods that prune before training.
STRUCTURED_ORDER = ("efficientconvnets", "gatedecorators", "group-hs", "l0", "random", "snap-it", "snap", "cnip-it",
                    "grasp")
# A method without a Look gets one of these, chosen by its name (stable across figures).
FALLBACK_COLORS = ("#17becf", "#bcbd22", "#e377c2", "#393b79", "#637939")
METHOD_COLORS: dict[str, str] = {key: look.color for key, look in LOOKS.items()}
METHOD_LABELS: dict[str, str] = {key: look.label for key, look in LOOKS.items()}


def method_color(method: str) -> str:
    """The colour of a method (criterion name), stable across figures."""
    key = str(method).lower()
    if key in LOOKS:
        return LOOKS[key].color
    return FALLBACK_COLORS[sum(map(ord, key)) % len(FALLBACK_COLORS)]


def method_label(method: str) -> str:
    """The display name of a method (criterion name)."""
    look = LOOKS.get(str(method).lower())
    return look.label if look is not None else str(method)


def _ordered(methods: Iterable[object], order: Sequence[str]) -> list[str]:
    """``methods`` without repeats, those named in ``order`` first and in its order, the others as given."""
    rank = {name: i for i, name in enumerate(order)}
    unique = list(dict.fromkeys(str(m) for m in methods))
    return sorted(unique, key=lambda m: (rank.get(m.lower(), len(rank)), unique.index(m)))


def method_order(methods: Iterable[object]) -> list[str]:
    """``methods`` without repeats, in the book's fixed order (SNIP, SNIP-it, GraSP, Random, …, others last)."""
    return _ordered(methods, METHOD_ORDER)


def structured_order(methods: Iterable[object]) -> list[str]:
    """``methods`` without repeats: after-training baselines, L0, then the methods that prune before training."""
    return _ordered(methods, STRUCTURED_ORDER)


def structured_timing(method: str) -> str | None:
    """When a node criterion prunes by default ("before", "during" or "after" training); None for other names."""
    key = str(method).strip().lower()
    if key not in available_criteria("node"):
        return None
    return criterion_class(key, granularity="node").timings[0]


def structured_label(method: str, timing: bool = True) -> str:
    """'GateDecorators (after)': the display name of a node criterion, with when it prunes."""
    when = structured_timing(method) if timing else None
    return f"{method_label(method)} ({when})" if when else method_label(method)


class _NodeTimings(Mapping):
    """Node criterion name → when it prunes by default, read live from the criterion registry."""

    def __getitem__(self, key: str) -> str:
        when = structured_timing(key) if isinstance(key, str) and key == key.strip().lower() else None
        if when is None:
            raise KeyError(key)
        return when

    def __iter__(self) -> Iterator[str]:
        return iter(available_criteria("node"))

    def __len__(self) -> int:
        return len(available_criteria("node"))


STRUCTURED_TIMINGS: Mapping[str, str] = _NodeTimings()


def sweeps_lambda(criterion: str) -> bool:
    """True when a registered criterion of that name (weight or node) has its sparsity follow from λ."""
    key = str(criterion).strip().lower()
    return any(not criterion_class(key, granularity=kind).targets_sparsity
               for kind in GRANULARITIES if key in available_criteria(kind))


# Criteria whose sparsity follows from a regulariser strength λ (HoyerSquare, Group-HS, L0), from the registry.
LAMBDA_CRITERIA = tuple(name for kind in GRANULARITIES for name in available_criteria(kind) if sweeps_lambda(name))


@dataclass(frozen=True)
class Method:
    """One line of a trade-off figure: a criterion, when it prunes, and the paper's name for it."""

    key: str  # column value in frames and figures ("snip-it-during")
    criterion: str
    prune_at: str
    paper_method: str | None  # the method id in ``prunekit.reference`` tables; None: beyond the paper
    in_paper: bool = True
    structured: bool = False  # prunes whole nodes (a node criterion of prunekit.structured)

    @property
    def sweeps_lambda(self) -> bool:
        """True when the method's sparsity follows from a regulariser strength λ (HoyerSquare, Group-HS, L0)."""
        return sweeps_lambda(self.criterion)

    @property
    def label(self) -> str:
        """The method's display name in the book."""
        return method_label(self.key)

    @property
    def color(self) -> str:
        """The method's colour in the book's figures."""
        return method_color(self.key)


UNSTRUCTURED_METHODS: dict[str, Method] = {m.key: m for m in (
    Method("hoyersquare", "hoyersquare", "after", "hoyersquare"),
    Method("imp-global", "imp-global", "during", "imp-global"),
    Method("snip-it-during", "snip-it", "during", "snip-it"),
    Method("grasp", "grasp", "before", "grasp"),
    Method("random", "random", "before", "random"),
    Method("snip", "snip", "before", "snip"),
    Method("snip-it", "snip-it", "before", "snip-it"),
    Method("magnitude", "magnitude", "before", None, in_paper=False),
    Method("synflow", "synflow", "before", None, in_paper=False),
    Method("force", "force", "before", None, in_paper=False),
    Method("iter-snip", "iter-snip", "before", None, in_paper=False),
)}
PAPER_UNSTRUCTURED = tuple(k for k, m in UNSTRUCTURED_METHODS.items() if m.in_paper)

# Keyed by node criterion: the structured chapter's frames name methods by their criterion.
STRUCTURED_METHODS: dict[str, Method] = {m.key: m for m in (
    Method("efficientconvnets", "efficientconvnets", "after", "efficient-convnets", structured=True),
    Method("gatedecorators", "gatedecorators", "after", "gate-decorators", structured=True),
    Method("group-hs", "group-hs", "after", "group-hs", structured=True),
    Method("l0", "l0", "during", "l0", structured=True),
    Method("random", "random", "before", "random", structured=True),
    Method("snap-it", "snap-it", "before", "snap-it", structured=True),
    Method("cnip-it", "cnip-it", "before", None, in_paper=False, structured=True),
    Method("snap-it-during", "snap-it", "during", None, in_paper=False, structured=True),  # Appendix E, abandoned
    Method("grasp", "grasp", "before", None, in_paper=False, structured=True),  # Appendix E, abandoned
)}


def get_method(key: str) -> Method:
    """The named unstructured method, else ValueError listing the known ones."""
    name = key.strip().lower() if isinstance(key, str) else None
    if name not in UNSTRUCTURED_METHODS:
        raise ValueError(f"unknown method {key!r}; known methods: {', '.join(UNSTRUCTURED_METHODS)}")
    return UNSTRUCTURED_METHODS[name]


def get_structured_method(key: str) -> Method:
    """The named structured method (a node criterion), else ValueError listing the known ones."""
    name = key.strip().lower() if isinstance(key, str) else None
    if name not in STRUCTURED_METHODS:
        raise ValueError(f"unknown structured method {key!r}; known structured methods: "
                         f"{', '.join(STRUCTURED_METHODS)}")
    return STRUCTURED_METHODS[name]


def structured_method_configs(method: str | Method, profile: str | Profile, *, model: str, dataset: str,
                              seeds: Sequence[int], sparsities: Sequence[float] | None = None,
                              lambdas: Sequence[float] = LAMBDA_GRID, **overrides: object) -> list[RunConfig]:
    """The runs of one structured method in a profile: every node sparsity (or λ) × seed, with the profile's
    budgets (twice its epochs for L0 and GateDecorators)."""
    m = method if isinstance(method, Method) else get_structured_method(method)
    return method_configs(m, profile, model=model, dataset=dataset, seeds=seeds, sparsities=sparsities,
                          lambdas=lambdas, structured=True, **overrides)


def baseline_seed_list(seeds: Sequence[int], baseline_seeds: int | Mapping[str, int] | None,
                       model: str) -> list[int]:
    """The seeds a model's structured baselines run: all of ``seeds`` (None), the first n (an int), or the first
    ``baseline_seeds[model]`` (a per-model mapping; a model it does not name runs all)."""
    if isinstance(baseline_seeds, Mapping):
        baseline_seeds = baseline_seeds.get(model)
    if baseline_seeds is None:
        return list(seeds)
    if isinstance(baseline_seeds, bool) or not isinstance(baseline_seeds, int) or baseline_seeds < 1:
        raise ValueError(f"baseline_seeds must be None, a positive int or a mapping model -> positive int, "
                         f"got {baseline_seeds!r} for {model!r}")
    return list(seeds)[:baseline_seeds]


def structured_grid(profile: str | Profile, *, model: str, dataset: str, seeds: Sequence[int],
                    criteria: Sequence[str], sparsities: Sequence[float], baselines: Sequence[str] = (),
                    baseline_sparsities: Sequence[float] = (), lambdas: Mapping[str, Sequence[float]] | None = None,
                    baseline_seeds: int | Mapping[str, int] | None = None) -> list[RunConfig]:
    """The structured chapters' runs of one model: the dense run per seed, every before-training node criterion at
    every κ and seed, the target-κ baselines at ``baseline_sparsities`` and the λ baselines at ``lambdas``."""
    configs = dense_configs(profile, model=model, dataset=dataset, seeds=seeds)
    configs += [RunConfig.from_profile(profile, model=model, dataset=dataset, criterion=c, sparsity=k, seed=s,
                                       structured=True) for c in criteria for k in sparsities for s in seeds]
    base_seeds = baseline_seed_list(seeds, baseline_seeds, model)
    for name in baselines:
        configs += structured_method_configs(name, profile, model=model, dataset=dataset, seeds=base_seeds,
                                             sparsities=baseline_sparsities)
    for name, values in (lambdas or {}).items():
        configs += structured_method_configs(name, profile, model=model, dataset=dataset, seeds=base_seeds,
                                             lambdas=values)
    return configs


def add_structured_columns(runs: pd.DataFrame) -> pd.DataFrame:
    """A copy of a store frame of structured (and dense) runs with ``method`` (the node criterion, ``none`` for
    the dense baseline) and ``level`` (target node sparsity, or λ for Group-HS and L0) columns."""
    missing = [c for c in ("criterion", "sparsity", "criterion_options") if c not in runs.columns]
    if missing:
        raise ValueError(f"the frame lacks column(s) {missing}; it has {list(runs.columns)}")
    out = runs.copy()
    prune_at = out["prune_at"] if "prune_at" in out.columns else pd.Series("before", index=out.index)
    out["method"] = [structured_method_key(str(c), str(p)) for c, p in zip(out["criterion"], prune_at)]
    out["level"] = out.apply(_level, axis=1) if len(out) else pd.Series(dtype=float)
    return out


def method_configs(method: str | Method, profile: str | Profile, *, model: str, dataset: str,
                   seeds: Sequence[int], sparsities: Sequence[float] | None = None,
                   lambdas: Sequence[float] = LAMBDA_GRID, **overrides: object) -> list[RunConfig]:
    """The runs of one method in a profile: every sparsity (or λ) × seed, with the profile's budgets."""
    m = method if isinstance(method, Method) else get_method(method)
    chosen = get_profile(profile)
    levels = list(chosen.sparsities if sparsities is None else sparsities)
    base = dict(model=model, dataset=dataset, criterion=m.criterion, prune_at=m.prune_at, **overrides)
    if m.sweeps_lambda:
        return [RunConfig.from_profile(chosen, **base, sparsity=0.0, seed=seed, criterion_options={"lam": lam})
                for lam in lambdas for seed in seeds]
    return [RunConfig.from_profile(chosen, **base, sparsity=level, seed=seed) for level in levels for seed in seeds]


def dense_configs(profile: str | Profile, *, model: str, dataset: str, seeds: Sequence[int],
                  **overrides: object) -> list[RunConfig]:
    """The unpruned baseline runs (one per seed) with the profile's budgets."""
    return [RunConfig.from_profile(profile, model=model, dataset=dataset, criterion=NO_CRITERION, seed=seed,
                                   **overrides) for seed in seeds]


def structured_method_key(criterion: str, prune_at: str) -> str:
    """The structured method a run belongs to: its node criterion, ``<criterion>-<prune_at>`` when it prunes at
    another time than the criterion's own (SNAP-it during training: ``snap-it-during``)."""
    matches = [m.key for m in STRUCTURED_METHODS.values() if (m.criterion, m.prune_at) == (criterion, prune_at)]
    return matches[0] if matches else criterion


def method_key(criterion: str, prune_at: str, ablation: str = "none") -> str:
    """The method a run belongs to (``none`` for the dense baseline; ablations get a ``+<ablation>`` suffix)."""
    if criterion == NO_CRITERION:
        return NO_CRITERION
    matches = [m.key for m in UNSTRUCTURED_METHODS.values() if (m.criterion, m.prune_at) == (criterion, prune_at)]
    key = matches[0] if matches else f"{criterion}-{prune_at}"
    return key if ablation in ("none", None) else f"{key}+{ablation}"


def paper_points(paper: pd.DataFrame) -> pd.DataFrame:
    """A ``prunekit.reference`` table's pruned rows with ``method`` renamed to our method keys (the paper's
    SNIP-it during training becomes ``snip-it-during``) and ``prune_at`` folded into it, for trade-off figures."""
    keys = {(m.paper_method, m.prune_at): k for k, m in UNSTRUCTURED_METHODS.items() if m.paper_method}
    points = paper[paper["method"] != "baseline"].copy()
    points["method"] = [keys.get((p, w), p) for p, w in zip(points["method"], points["prune_at"])]
    return points.drop(columns="prune_at")


def record_method(record: RunRecord) -> str:
    """The method key of a stored run."""
    c = record.config
    return method_key(c.criterion, c.prune_at, c.ablation)


def _level(row: pd.Series) -> float:
    """The swept value of a run: its target sparsity, or λ for a run whose sparsity follows from λ."""
    if sweeps_lambda(row["criterion"]):
        return float(json.loads(row["criterion_options"]).get("lam", float("nan")))
    return float(row["sparsity"])


def add_method_columns(runs: pd.DataFrame) -> pd.DataFrame:
    """A copy of a store frame with ``method`` (see :func:`method_key`) and ``level`` (sparsity or λ) columns."""
    missing = [c for c in ("criterion", "prune_at", "sparsity", "criterion_options") if c not in runs.columns]
    if missing:
        raise ValueError(f"the frame lacks column(s) {missing}; it has {list(runs.columns)}")
    out = runs.copy()
    ablation = out["ablation"] if "ablation" in out.columns else pd.Series("none", index=out.index)
    out["method"] = [method_key(c, p, a) for c, p, a in zip(out["criterion"], out["prune_at"], ablation)]
    out["level"] = out.apply(_level, axis=1) if len(out) else pd.Series(dtype=float)
    return out


__all__ = [
    "FALLBACK_COLORS",
    "LAMBDA_CRITERIA",
    "LOOKS",
    "METHOD_COLORS",
    "METHOD_LABELS",
    "METHOD_ORDER",
    "STRUCTURED_ORDER",
    "STRUCTURED_TIMINGS",
    "Look",
    "PAPER_UNSTRUCTURED",
    "STRUCTURED_METHODS",
    "UNSTRUCTURED_METHODS",
    "Method",
    "add_method_columns",
    "add_structured_columns",
    "dense_configs",
    "get_method",
    "get_structured_method",
    "method_color",
    "method_configs",
    "method_key",
    "method_label",
    "method_order",
    "paper_points",
    "record_method",
    "structured_label",
    "structured_method_configs",
    "structured_order",
    "structured_timing",
    "sweeps_lambda",
]
