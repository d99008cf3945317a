"""Appendix K.4–K.7 (Figures 16–21): costs of each run as a reduction w.r.t. the unpruned baseline.

Direction. Every ratio is a *reduction factor* ``baseline / method``, as the paper reports them
(Appendix H: "always only reported … as a reduction w.r.t. the unpruned baseline"; Table 1's
"49×"): above 1 the method is cheaper, 2 means half the cost, below 1 it costs more (e.g. the
2×-epoch methods' training FLOPs). The baseline itself scores exactly 1.

Baseline. For each run the baseline is the mean over seeds of the dense runs (criterion
``none``) with the same setup columns (model, dataset, epochs, data limits, optimiser…), so the
noisy time and memory measurements are not paired seed by seed. Pass ``setup`` without
``epochs`` to compare methods trained longer against the standard baseline, as the paper does.
Disk compares CSR size with the baseline's CSR size (like with like). Time and memory depend on
the machine (CPU runs record the process's peak RSS): compare runs measured on one machine only.

Beyond the per-run reductions, the chapter helpers label runs by family (dense, unstructured,
structured, ablation), summarise reductions over seeds (medians: times are noisy), pick each
method's level nearest a sparsity, say which runs lack a metric, stand in for a dense baseline that
was not recorded (the inference time of the oldest records) and rebuild the training FLOPs of
every epoch from a record (Figure 16's cumulative FLOPs).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from prunekit.experiments.config import NO_CRITERION

from prunekit.experiments.record import RunRecord
from prunekit.experiments.methods import add_method_columns, method_key, structured_method_key
from prunekit.measure.metrics import TRAINING_PASSES

# reduction name → record column (metrics or resources) it divides
COST_METRICS: dict[str, str] = {
    "training_flops": "training_flops",
    "inference_flops": "inference_flops",
    "disk": "csr_bits",
    "run_time": "total_seconds",
    "train_time": "train_seconds",
    "inference_time": "inference_seconds",
    "memory": "peak_memory_bytes",
    "median_memory": "median_memory_bytes",  # Figure 21's median over training (prunekit.measure.memory.MemorySampler)
}
# Figures 16–21 of Appendix K.4–K.7, one cost each, in the paper's order
FIGURE_COSTS: dict[str, int] = {"training_flops": 16, "inference_flops": 17, "disk": 18, "run_time": 19,
                                "inference_time": 20, "memory": 21}
SETUP_COLUMNS: tuple[str, ...] = ("model", "dataset", "epochs", "batch_size", "train_limit", "test_limit", "lr",
                                  "weight_decay", "grad_clip", "amp")
RUN_COLUMNS: tuple[str, ...] = ("key", "model", "dataset", "criterion", "prune_at", "sparsity", "seed",
                                "weight_sparsity", "node_sparsity", "accuracy")
SUFFIX = "_reduction"


def _chosen_metrics(df: pd.DataFrame, metrics: Mapping[str, str] | Sequence[str] | None) -> dict[str, str]:
    """The reductions to compute: all of ``COST_METRICS`` the frame has by default, else exactly those asked."""
    if metrics is None:
        return {name: col for name, col in COST_METRICS.items() if col in df.columns}
    if isinstance(metrics, Mapping):
        chosen = dict(metrics)
    else:
        unknown = [m for m in metrics if m not in COST_METRICS]
        if unknown:
            raise ValueError(f"unknown cost metric(s) {unknown}; accepted: {', '.join(COST_METRICS)}")
        chosen = {m: COST_METRICS[m] for m in metrics}
    missing = [col for col in chosen.values() if col not in df.columns]
    if missing:
        raise ValueError(f"the frame lacks column(s) {missing}; it has {list(df.columns)}")
    return chosen


def _plain(value: object) -> object:
    """A NumPy scalar as the Python value; None and NaN (a frame holds unset limits as either) as None."""
    value = value.item() if isinstance(value, np.generic) else value
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def setup_keys(df: pd.DataFrame, setup: Sequence[str]) -> pd.Series:
    """One hashable key per row from its ``setup`` values, None and NaN counted as the same missing value."""
    keys = [repr(tuple(_plain(v) for v in row)) for row in df[list(setup)].itertuples(index=False)]
    return pd.Series(keys, index=df.index, dtype=object)


def baseline_costs(df: pd.DataFrame, columns: Sequence[str], setup: Sequence[str],
                   baseline_criterion: str = NO_CRITERION) -> pd.DataFrame:
    """Mean of ``columns`` over the baseline runs (seeds) of each setup, indexed by :func:`setup_keys`."""
    base = df[df["criterion"] == baseline_criterion]
    if base.empty:
        raise ValueError(f"the frame has no baseline run (criterion {baseline_criterion!r}); criteria present: "
                         f"{sorted(df['criterion'].astype(str).unique())}")
    numeric = pd.DataFrame({c: pd.to_numeric(base[c], errors="coerce") for c in columns}, index=base.index)
    return numeric.groupby(setup_keys(base, setup), sort=True).mean()


def _setup_label(row: pd.Series, setup: Sequence[str]) -> str:
    """'model=mlp5, dataset=mnist, …' for error messages."""
    return ", ".join(f"{c}={_plain(row[c])!r}" for c in setup)


def cost_reductions(
    df: pd.DataFrame,
    metrics: Mapping[str, str] | Sequence[str] | None = None,
    setup: Sequence[str] = SETUP_COLUMNS,
    baseline_criterion: str = NO_CRITERION,
    keep: Sequence[str] = (),
) -> pd.DataFrame:
    """Per run, ``<metric>_reduction = baseline / run`` for each cost of ``COST_METRICS`` the frame has.

    ``df`` is a :func:`prunekit.experiments.store.records_frame` (one row per run). ``metrics`` names which
    reductions to compute (names of ``COST_METRICS``, or a name → column mapping); by default
    every one whose column is present. ``setup`` columns pair runs with their baseline (only
    those present in ``df`` are used). Returns the identifying columns of each run (model,
    dataset, criterion, prune_at, sparsity, seed …, baseline rows included), the columns named in
    ``keep`` (e.g. ``family``, ``method``, ``level`` of :func:`add_family_columns`) and the reductions.
    Aggregate over seeds with ``prunekit.experiments.stats.aggregate(out, values=[…])``.
    """
    if "criterion" not in df.columns:
        raise ValueError(f"the frame lacks the column 'criterion'; it has {list(df.columns)}")
    chosen = _chosen_metrics(df, metrics)
    if not chosen:
        raise ValueError(f"the frame has none of the cost columns {sorted(COST_METRICS.values())}")
    setup = [c for c in setup if c in df.columns]
    runs = df.reset_index(drop=True)
    base = baseline_costs(runs, list(dict.fromkeys(chosen.values())), setup, baseline_criterion)
    keys = setup_keys(runs, setup)
    lacking = ~keys.isin(base.index)
    if lacking.any():
        raise ValueError(f"no baseline run (criterion {baseline_criterion!r}) shares the setup "
                         f"{_setup_label(runs[lacking].iloc[0], setup)} of {int(lacking.sum())} run(s); run the "
                         f"dense baseline of that setup or narrow `setup`")
    absent = [c for c in keep if c not in runs.columns]
    if absent:
        raise ValueError(f"keep names column(s) {absent} the frame lacks; it has {list(runs.columns)}")
    out = runs[list(dict.fromkeys([*(c for c in RUN_COLUMNS if c in runs.columns), *keep]))].copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, col in chosen.items():
            method = pd.to_numeric(runs[col], errors="coerce").to_numpy(dtype=float)
            out[f"{name}{SUFFIX}"] = base[col].reindex(keys).to_numpy(dtype=float) / method
    return out


# ------------------------------------------------------------------------------------------ run labels


def run_family(criterion: str, structured: object = False, ablation: object = "none") -> str:
    """'dense' (no pruning), 'ablation' (a sanity-check mask), 'structured' (whole nodes) or 'unstructured'."""
    if criterion == NO_CRITERION:
        return "dense"
    if ablation not in (None, "none") and ablation == ablation:  # NaN from an old record is no ablation
        return "ablation"
    return "structured" if _plain(structured) is True else "unstructured"


def swept_level(criterion: str, sparsity: float, options: Mapping[str, object]) -> float:
    """The value a run was swept over: its target sparsity, or λ where a regulariser sets the sparsity (target 0)."""
    if criterion != NO_CRITERION and float(sparsity) == 0.0 and "lam" in options:
        return float(options["lam"])
    return float(sparsity)


def add_family_columns(runs: pd.DataFrame) -> pd.DataFrame:
    """A copy of a store frame with ``family`` (see :func:`run_family`), ``method`` and ``level`` columns.

    ``method`` is :func:`prunekit.experiments.methods.method_key` (``snip-it-during`` …), except that a structured
    run is named by its node criterion (``snap-it``, ``cnip-it``, ``random``): with ``family`` that
    tells structured Random from unstructured Random. ``level`` is :func:`swept_level`: λ for every
    regularised method (HoyerSquare, L0 …), the target sparsity otherwise.
    """
    out = add_method_columns(runs)
    structured = out["structured"] if "structured" in out.columns else pd.Series(False, index=out.index)
    ablation = out["ablation"] if "ablation" in out.columns else pd.Series("none", index=out.index)
    out["family"] = [run_family(c, s, a) for c, s, a in zip(out["criterion"], structured, ablation)]
    options = [json.loads(o) if isinstance(o, str) else dict(o or {}) for o in out["criterion_options"]]
    out["level"] = [swept_level(c, s, o) for c, s, o in zip(out["criterion"], out["sparsity"], options)]
    is_structured = out["family"] == "structured"
    out.loc[is_structured, "method"] = [structured_method_key(str(c), str(p)) for c, p in
                                        zip(out.loc[is_structured, "criterion"], out.loc[is_structured, "prune_at"])]
    return out


def record_family_method(record: RunRecord) -> tuple[str, str]:
    """The (family, method) of a stored run, named as :func:`add_family_columns` names its row."""
    c = record.config
    family = run_family(c.criterion, c.structured, c.ablation)
    return family, (structured_method_key(c.criterion, c.prune_at) if family == "structured"
                    else method_key(c.criterion, c.prune_at, c.ablation))


# ------------------------------------------------------------------------------------------ coverage


def metric_coverage(df: pd.DataFrame, columns: Sequence[str] | None = None,
                    by: Sequence[str] = ("family", "method")) -> pd.DataFrame:
    """Per group: its number of runs, the torch thread counts they ran with, and how many hold each column.

    ``columns`` default to the cost columns of ``COST_METRICS``; a column the frame lacks altogether
    counts 0 for every group. Rows where a count is below ``runs`` are the runs that lack a metric.
    """
    by = list(by)
    missing = [c for c in by if c not in df.columns]
    if missing:
        raise ValueError(f"the frame lacks grouping column(s) {missing}; it has {list(df.columns)}")
    columns = list(dict.fromkeys(COST_METRICS.values()) if columns is None else columns)
    present = pd.DataFrame({c: (pd.to_numeric(df[c], errors="coerce").notna() if c in df.columns
                                else pd.Series(False, index=df.index)) for c in columns}, index=df.index)
    grouped = present.groupby([df[c] for c in by], sort=True)
    out = grouped.sum().astype(int)
    out.insert(0, "runs", grouped.size())
    if "torch_threads" in df.columns:
        threads = df.groupby(by, sort=True)["torch_threads"].agg(
            lambda t: ", ".join(str(int(v)) for v in sorted(pd.to_numeric(t, errors="coerce").dropna().unique())))
        out.insert(1, "torch threads", threads)
    return out.reset_index()


def lacking(coverage: pd.DataFrame, column: str, by: Sequence[str] = ("family", "method")) -> pd.DataFrame:
    """The groups of a :func:`metric_coverage` table where some runs lack ``column``, with how many lack it."""
    if column not in coverage.columns:
        raise ValueError(f"the coverage table has no column {column!r}; it has {list(coverage.columns)}")
    short = coverage[coverage[column] < coverage["runs"]]
    return short[[*by, "runs"]].assign(lacking=short["runs"] - short[column]).reset_index(drop=True)


# ------------------------------------------------------------------------------------------ baselines


def masked_inference_reference(runs: pd.DataFrame, column: str = "inference_seconds") -> dict[str, float]:
    """Per model, the median ``column`` over its unstructured runs: a stand-in for a dense run's inference time.

    A masked network (``torch.nn.utils.prune`` convention) runs the dense products of its full weight
    matrices, plus one elementwise product with the mask per layer: its forward pass costs what the
    dense network's does. So where the dense runs did not record an inference time, the unstructured
    runs that did, measured alongside the structured ones, give the dense reference. ``runs`` needs
    ``family`` (see :func:`add_family_columns`) and ``model`` columns.
    """
    missing = [c for c in ("family", "model", column) if c not in runs.columns]
    if missing:
        raise ValueError(f"the frame lacks column(s) {missing}; it has {list(runs.columns)}")
    masked = runs[runs["family"] == "unstructured"]
    times = pd.to_numeric(masked[column], errors="coerce")
    reference = times.groupby(masked["model"]).median().dropna()
    if reference.empty:
        raise ValueError(f"no unstructured run records {column!r}: nothing stands in for the dense reference")
    return {str(model): float(value) for model, value in reference.items()}


def fill_missing_baseline(df: pd.DataFrame, column: str, values: Mapping[str, float],
                          baseline_criterion: str = NO_CRITERION) -> pd.DataFrame:
    """A copy of ``df`` where baseline runs lacking ``column`` take ``values[model]``; recorded values stay."""
    for name in ("criterion", "model"):
        if name not in df.columns:
            raise ValueError(f"the frame lacks the column {name!r}; it has {list(df.columns)}")
    out = df.copy()
    if column not in out.columns:
        out[column] = np.nan
    current = pd.to_numeric(out[column], errors="coerce")
    fill = (out["criterion"] == baseline_criterion) & current.isna()
    unknown = sorted(set(out.loc[fill, "model"]) - set(values))
    if unknown:
        raise ValueError(f"no {column} value given for the baseline model(s) {unknown}; given: {sorted(values)}")
    current = current.astype(float)
    current[fill] = [float(values[m]) for m in out.loc[fill, "model"]]
    out[column] = current
    return out


def preferred_memory_metric(df: pd.DataFrame) -> str:
    """'median_memory' (Figure 21's median over training) where every run records it, else 'memory' (peak)."""
    column = COST_METRICS["median_memory"]
    if column in df.columns and pd.to_numeric(df[column], errors="coerce").notna().all():
        return "median_memory"
    return "memory"


def training_state_bytes(weights: int, optimizer_slots: int = 2, bytes_per_value: int = 4) -> int:
    """Bytes of the weights, their gradients and the optimiser's per-weight slots (Adam: 2) in float32."""
    for name, value in (("weights", weights), ("optimizer_slots", optimizer_slots),
                        ("bytes_per_value", bytes_per_value)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(weights) * int(bytes_per_value) * (2 + int(optimizer_slots))


# ------------------------------------------------------------------------------------------ summaries


def summarise_reductions(reductions: pd.DataFrame, names: Sequence[str] | None = None,
                         by: Sequence[str] = ("family", "method", "level")) -> pd.DataFrame:
    """Per group (a method at one swept level): median, min and max over seeds of each reduction.

    Medians, not means: a run timed during a burst of load would drag a mean. Also the runs'
    mean ``sparsity`` (target), ``weight_sparsity`` and ``node_sparsity``, the number of runs ``n``,
    and ``kappa``: the target sparsity, or where a method has no target (it sweeps λ) the sparsity it
    reached: of nodes for a structured method (L0), of weights otherwise (HoyerSquare). Missing
    reductions (NaN) are skipped, not counted as zero.
    """
    by = list(by)
    names = [c.removesuffix(SUFFIX) for c in reductions.columns if c.endswith(SUFFIX)] if names is None else list(names)
    columns = [f"{n}{SUFFIX}" for n in names]
    missing = [c for c in (*by, "sparsity", "weight_sparsity", "node_sparsity", *columns) if c not in reductions.columns]
    if missing:
        raise ValueError(f"the frame lacks column(s) {missing}; it has {list(reductions.columns)}")
    grouped = reductions.groupby(by, sort=True, dropna=False)
    out = grouped[["sparsity", "weight_sparsity", "node_sparsity"]].mean()
    out["n"] = grouped.size()
    for column in columns:
        values = pd.to_numeric(reductions[column], errors="coerce").groupby([reductions[c] for c in by], dropna=False)
        out[f"{column}_median"] = values.median()
        out[f"{column}_min"] = values.min()
        out[f"{column}_max"] = values.max()
    out = out.reset_index()
    reached = out["weight_sparsity"]
    if "family" in out.columns:
        reached = reached.where(out["family"] != "structured", out["node_sparsity"])
    out.insert(len(by), "kappa", out["sparsity"].where(out["sparsity"] > 0, reached))
    return out


def _nines(sparsity: np.ndarray | pd.Series | float) -> np.ndarray:
    """Decades of remaining weights: 90 % → 1, 99 % → 2."""
    return -np.log10(1.0 - np.clip(np.asarray(sparsity, dtype=float), 0.0, 1.0 - 1e-12))


def at_sparsity(summary: pd.DataFrame, kappa: float, *, column: str = "kappa",
                by: Sequence[str] = ("family", "method"), tolerance: float | None = None) -> pd.DataFrame:
    """Per group, the row of ``summary`` whose ``column`` is nearest ``kappa`` (distance in decades of kept weights).

    ``tolerance`` (decades, e.g. 0.15) drops groups whose nearest level is farther than that; None keeps
    every group's nearest level. The distance is returned as ``decades_off``.
    """
    if not 0.0 <= kappa < 1.0:
        raise ValueError(f"kappa must be a sparsity in [0, 1), got {kappa!r}")
    if tolerance is not None and tolerance < 0:
        raise ValueError(f"tolerance must be a non-negative number of decades or None, got {tolerance!r}")
    by = list(by)
    missing = [c for c in (*by, column) if c not in summary.columns]
    if missing:
        raise ValueError(f"the summary lacks column(s) {missing}; it has {list(summary.columns)}")
    scored = summary.assign(decades_off=np.abs(_nines(summary[column]) - _nines(kappa)))
    nearest = scored.loc[scored.groupby(by, sort=False)["decades_off"].idxmin()]
    if tolerance is not None:
        nearest = nearest[nearest["decades_off"] <= tolerance + 1e-12]
    return nearest.reset_index(drop=True)


def reduction_at(summary: pd.DataFrame, cost: str, kappa: float, *, tolerance: float = 1e-6,
                 column: str = "kappa", **where: object) -> float:
    """The median reduction of ``cost`` in the :func:`summarise_reductions` row at ``kappa`` that matches ``where``.

    ``where`` names columns and values (``family="structured", method="snap-it"``); the level must lie
    within ``tolerance`` decades of ``kappa``. NaN where no such row exists (a method the store lacks).
    """
    value = f"{cost.removesuffix(SUFFIX)}{SUFFIX}_median"
    missing = [c for c in (value, column, *where) if c not in summary.columns]
    if missing:
        raise ValueError(f"the summary lacks column(s) {missing}; it has {list(summary.columns)}")
    rows = summary
    for name, wanted in where.items():
        rows = rows[rows[name] == wanted]
    rows = rows[np.abs(_nines(rows[column]) - _nines(kappa)) <= tolerance]
    if len(rows) > 1:
        raise ValueError(f"{len(rows)} summary rows match {where} at {kappa}; name more columns")
    return float(rows[value].iloc[0]) if len(rows) else float("nan")


# cost name → column of the paper's structured tables (prunekit.reference.paper_table(1) and (4)); the paper's
# "train time" is "the total time of a run" (Appendix H), our run_time
PAPER_COSTS: dict[str, str] = {"training_flops": "flops_train", "inference_flops": "flops_inference", "disk": "disk",
                               "run_time": "time_train", "inference_time": "time_inference", "memory": "ram"}


def paper_cost_ranges(paper: pd.DataFrame, methods: Sequence[str] | None = None) -> pd.DataFrame:
    """The lowest and highest reduction the paper reports per method and cost over its tables' setups.

    ``paper`` holds rows of :func:`prunekit.reference.paper_table` (1 and/or 4: structured, with cost
    columns); ``methods`` restricts the paper's method ids (default: every pruned row). One row per
    method and cost: ``low``, ``high`` and ``setups`` (how many network–dataset rows).
    """
    missing = [c for c in ("method", *PAPER_COSTS.values()) if c not in paper.columns]
    if missing:
        raise ValueError(f"the paper table lacks cost column(s) {missing}: pass paper_table(1) or paper_table(4)")
    rows = paper[paper["method"] != "baseline"]
    if methods is not None:
        unknown = sorted(set(methods) - set(rows["method"]))
        if unknown:
            raise ValueError(f"the paper table has no method(s) {unknown}; it has {sorted(set(rows['method']))}")
        rows = rows[rows["method"].isin(methods)]
    out = []
    for method, part in rows.groupby("method", sort=False):
        for name, column in PAPER_COSTS.items():
            values = pd.to_numeric(part[column], errors="coerce").dropna()
            out.append({"method": method, "cost": name, "low": values.min(), "high": values.max(),
                        "setups": len(values)})
    return pd.DataFrame(out)


# ------------------------------------------------------------------------------------------ per epoch

EPOCH_TOLERANCE = 1e-9  # a pruning event at exactly epoch k (fractional positions are floats) counts from epoch k


def _step_counts(step: Mapping[str, object]) -> tuple[int, int]:
    """(kept, total) of a pruning event: weights for unstructured steps, nodes for structured ones."""
    if "kept" in step and "total" in step:
        return int(step["kept"]), int(step["total"])
    if "nodes_alive" in step and "nodes_total" in step:
        return int(step["nodes_alive"]), int(step["nodes_total"])
    raise ValueError(f"a prune step needs 'kept'/'total' or 'nodes_alive'/'nodes_total', got keys {sorted(step)}")


def books_per_step(record: RunRecord) -> bool:
    """True for a run whose meter books every optimiser step with the network it trained (structured runs pruned
    during or after training); other runs book each epoch with the mask it starts with."""
    return bool(record.config.structured) and record.config.prune_at in ("during", "after")


def _phases(record: RunRecord, epochs: int) -> list[tuple[float, float, int]]:
    """(start, end, kept) in epochs: the stretches of training between pruning events, as the run's meter saw them."""
    steps = record.prune_steps
    if any("epoch" not in s for s in steps):
        raise ValueError(f"run {record.key} prunes {record.config.prune_at} training but its prune steps carry no "
                         f"'epoch' position; re-run it with the current prunekit")
    exact = books_per_step(record)
    # a per-epoch meter sees an event from the first epoch that starts at or after it
    bounds = [min(max(float(s["epoch"]) if exact else math.ceil(float(s["epoch"]) - EPOCH_TOLERANCE), 0.0), epochs)
              for s in steps]
    kept = [_step_counts(s)[0] for s in steps]
    starts, ends = [0.0, *bounds], [*bounds, float(epochs)]
    return [(a, b, k) for a, b, k in zip(starts, ends, [_step_counts(steps[0])[1], *kept]) if b > a]


def epoch_training_flops(record: RunRecord) -> list[float]:
    """Training FLOPs of each epoch of a run, as its meter booked them.

    A run pruned before training (or not at all) costs the same every epoch: three passes of its final
    network. A run that prunes during or after training starts dense and steps down at each pruning
    event, from the next epoch on for weight-pruned runs (their meter counts the mask each epoch starts
    with) and from the event's own step for structured ones (their meter books every step). Stretches
    with the dense or the final network cost exactly those networks' passes; the ones in between are
    interpolated in kept weights (nodes for structured runs), then scaled so that all epochs add up to
    the run's recorded total. For networks of Linear layers pruned weight by weight (MLP5) FLOPs are
    proportional to the kept weights: there the interpolation is exact and the scale is 1.
    """
    config, m = record.config, record.metrics
    epochs = int(config.epochs)
    final = float(TRAINING_PASSES * m["inference_flops"] * m["train_samples"])
    if config.prune_at in ("none", "before") or not record.prune_steps:
        return [final] * epochs
    dense = float(m["dense_training_flops"]) / epochs
    phases = _phases(record, epochs)
    total, last = _step_counts(record.prune_steps[0])[1], _step_counts(record.prune_steps[-1])[0]

    def rate(kept: int) -> float:
        if kept == total:
            return dense
        return final if kept == last else final + (dense - final) * (kept - last) / (total - last)

    rates = [rate(k) for _, _, k in phases]
    between = [i for i, (_, _, k) in enumerate(phases) if k not in (total, last)]
    if between:
        known = sum(r * (b - a) for i, (r, (a, b, _)) in enumerate(zip(rates, phases)) if i not in between)
        spent = sum(rates[i] * (phases[i][1] - phases[i][0]) for i in between)
        remainder = float(m["training_flops"]) - known
        if spent > 0 and remainder > 0:
            rates = [r * remainder / spent if i in between else r for i, r in enumerate(rates)]
    return [sum(r * max(0.0, min(b, e + 1) - max(a, e)) for r, (a, b, _) in zip(rates, phases)) for e in range(epochs)]


def cumulative_training_flops(records: Sequence[RunRecord]) -> pd.DataFrame:
    """One row per run and epoch (0 … E): cumulative training FLOPs, the dense network's, and their ratio.

    ``reduction`` is dense cumulative ÷ run cumulative after each epoch (1 for a run that has not
    pruned yet; epoch 0 is left NaN, nothing has been spent). Columns also name the run: key, model,
    dataset, family, method, sparsity, level (see :func:`swept_level`), seed.
    """
    rows = []
    for record in records:
        c = record.config
        family, method = record_family_method(record)
        level = swept_level(c.criterion, c.sparsity, dict(c.criterion_options))
        per_epoch = epoch_training_flops(record)
        dense_epoch = float(record.metrics["dense_training_flops"]) / int(c.epochs)
        spent = np.concatenate([[0.0], np.cumsum(per_epoch)])
        for epoch, cumulative in enumerate(spent):
            dense = dense_epoch * epoch
            rows.append({"key": record.key, "model": c.model, "dataset": c.dataset, "family": family,
                         "method": method, "sparsity": c.sparsity, "level": level, "seed": c.seed, "epoch": epoch,
                         "cumulative_flops": cumulative, "dense_cumulative_flops": dense,
                         "reduction": dense / cumulative if epoch else np.nan})
    return pd.DataFrame(rows)


__all__ = [
    "COST_METRICS",
    "FIGURE_COSTS",
    "PAPER_COSTS",
    "SETUP_COLUMNS",
    "SUFFIX",
    "add_family_columns",
    "at_sparsity",
    "baseline_costs",
    "books_per_step",
    "cost_reductions",
    "cumulative_training_flops",
    "epoch_training_flops",
    "fill_missing_baseline",
    "lacking",
    "masked_inference_reference",
    "metric_coverage",
    "paper_cost_ranges",
    "preferred_memory_metric",
    "record_family_method",
    "reduction_at",
    "run_family",
    "setup_keys",
    "summarise_reductions",
    "swept_level",
    "training_state_bytes",
]


# ------------------------------------------------------------------------------------------ the chapter page
# What the costs notebook runs, shows and checks; the notebook only calls these and displays their results.

NODE_LEVELS: tuple[float, ...] = (0.5, 0.8, 0.9, 0.95, 0.98)  # SNAP-it's levels of the page's minimal grid
HOYER_LAMBDAS = slice(5, 6)  # the one HoyerSquare λ of the minimal grid (a slice of LAMBDA_GRID)
AFTER_TRAINING_PAPER: tuple[str, ...] = ("efficient-convnets", "gate-decorators", "group-hs")
CLAIM_IDS: dict[str, str] = {
    "before training, training FLOPs fall as much as inference FLOPs": "training-flops-before",
    "before training the saving starts with epoch 1; during or after training epoch 1 saves less than the whole run":
        "training-flops-before",
    "pruning during training spends more training FLOPs than pruning before (yet fewer than dense)":
        "training-flops-before",
    "after training, training FLOPs are not reduced (1×)": "longer-training-costs",
    "a method trained for more epochs spends more training FLOPs than the dense run (Figure 16's caption)":
        "longer-training-costs",
    "structured pruning before training reduces run time (SNAP-it, Random; κ ≥ 80 % nodes)": "structured-time",
    "structured pruning reduces inference time (SNAP-it ≥ 5× from 90 % nodes, as the paper's 5–6×)": "structured-time",
    "unstructured sparsity does not speed up dense kernels: no method's median run is faster than 1.1× dense":
        "unstructured-no-speedup",
    "structured pruning before training reduces memory (paper: SNAP-it 16–156×)": "structured-median-memory",
}


def page_grid(profile, models: Sequence[str], dataset: str, seeds: Sequence[int]) -> list:
    """The minimal grid the page makes sure of: dense, SNIP-it before and during, one HoyerSquare λ, SNAP-it."""
    from prunekit.criteria.weight.hoyersquare import LAMBDA_GRID
    from prunekit.experiments.methods import dense_configs, method_configs
    from prunekit.experiments.config import RunConfig

    node_levels = [s for s in NODE_LEVELS if s in profile.sparsities]
    configs = []
    for model in models:
        configs += dense_configs(profile, model=model, dataset=dataset, seeds=seeds)
        for method in ("snip-it", "snip-it-during"):
            configs += method_configs(method, profile, model=model, dataset=dataset, seeds=seeds)
        configs += method_configs("hoyersquare", profile, model=model, dataset=dataset, seeds=seeds,
                                  lambdas=LAMBDA_GRID[HOYER_LAMBDAS])
        configs += [RunConfig.from_profile(profile, model=model, dataset=dataset, criterion="snap-it", sparsity=k,
                                           seed=s, structured=True) for k in node_levels for s in seeds]
    return configs


def requests(page, *, models: str | Sequence[str] | None = None):
    """The runs the page makes sure of (it reads every stored run of its models besides)."""
    from prunekit.paper.prologue import page_models
    from prunekit.paper.runs import requesting

    return requesting(page_grid(page.profile, page_models(page, models), page.dataset, page.seeds))


def page_runs(records: Sequence[RunRecord], *, models: Sequence[str], dataset: str, seeds: Sequence[int],
              epochs: int) -> tuple[list[RunRecord], pd.DataFrame]:
    """The stored runs the page compares (no validation runs, no ablations, dense runs of the profile's budget only)."""
    from prunekit.experiments.store import records_frame

    # runs evaluated on a validation split (Appendix F's tuning) are another setup: no dense baseline of theirs
    chosen = [r for r in records if r.config.dataset == dataset and r.config.model in models
              and r.config.seed in seeds and r.config.validation == 0.0]
    runs = add_family_columns(records_frame(chosen))
    # ablations cost what SNIP-it costs; dense runs of another budget are not this page's baseline
    kept = (runs["family"] != "ablation") & ((runs["family"] != "dense") | (runs["epochs"] == epochs))
    return [r for r, keep in zip(chosen, kept) if keep], runs[kept].reset_index(drop=True)


def run_counts(runs: pd.DataFrame) -> pd.DataFrame:
    """Per model, family and method: how many runs and how many distinct levels the page compares."""
    return runs.groupby(["model", "family", "method"]).agg(runs=("key", "size"), levels=("level", "nunique"))


COVERED_COLUMNS: tuple[str, ...] = ("training_flops", "csr_bits", "total_seconds", "inference_seconds",
                                    "peak_memory_bytes", "median_memory_bytes")


def coverage_text(coverage: pd.DataFrame) -> str:
    """Markdown naming the runs without an inference time, those run with two threads, and the memory recorded."""
    from prunekit.paper.plots import method_label

    short = lacking(coverage, "inference_seconds", by=["model", "family", "method"])
    two = coverage[coverage["torch threads"].str.contains("2")]
    threads_text = ("**Runs with two threads:** " + ", ".join(
        f"{method_label(r['method'])} ({r['family']}: {r['torch threads'].replace(', ', ' and ')})"
        for _, r in two.iterrows()) + "; all others ran with one. " if len(two) else "")
    return ("**Runs without an inference time:** " + (", ".join(
        f"{method_label(r['method'])} ({r['family']}) {r['lacking']} of {r['runs']}" for _, r in short.iterrows())
        if len(short) else "none") + ". " + threads_text
        + ("No run records the median memory of Figure 21 yet (`prunekit.measure.memory.MemorySampler` measures it "
           "in future runs); the memory figure shows the peak." if coverage["median_memory_bytes"].eq(0).all() else ""))


def with_inference_reference(runs: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """``runs`` with the dense runs' missing inference times filled by the masked-run median, and a note saying so."""
    dense_runs = runs[runs["family"] == "dense"]
    recorded = pd.to_numeric(dense_runs.get("inference_seconds", pd.Series(np.nan, index=dense_runs.index)),
                             errors="coerce")
    if not recorded.isna().any():
        return runs, "Every dense run records its inference time; no stand-in is needed."
    reference = masked_inference_reference(runs)
    filled = fill_missing_baseline(runs, "inference_seconds", reference)
    masked = filled[filled["family"] == "unstructured"]
    masked_times = pd.to_numeric(masked["inference_seconds"], errors="coerce").dropna()
    batch = int(dense_runs["batch_size"].iloc[0])
    note = ("Dense inference-time reference (median over the unstructured runs that record one): " + ", ".join(
        f"{m.upper()} {1e3 * s:.2f} ms per {batch}-sample batch" for m, s in reference.items())
        + f" (the {len(masked_times)} runs range from {1e3 * masked_times.min():.1f} to "
          f"{1e3 * masked_times.max():.1f} ms).")
    return filled, note


def page_costs(runs: pd.DataFrame) -> list[str]:
    """The six costs of Figures 16–21, memory as the median where every run records it, else the peak."""
    memory_cost = preferred_memory_metric(runs)
    return [memory_cost if c == "memory" else c for c in FIGURE_COSTS]


def page_reductions(runs: pd.DataFrame, costs: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-run reductions against the dense runs of the same setup (any budget), and their medians per level."""
    # methods that train longer are compared with the standard dense run, as the paper does (Figure 16's caption)
    reductions = cost_reductions(runs, metrics=list(costs), setup=[c for c in SETUP_COLUMNS if c != "epochs"],
                                 keep=["family", "method", "level"])
    summary = summarise_reductions(reductions, list(costs), by=["model", "family", "method", "prune_at", "level"])
    return reductions, summary


def rebuilt_flops_gap(cumulative: pd.DataFrame, records: Sequence[RunRecord]) -> tuple[int, float]:
    """How many runs were rebuilt epoch by epoch, and the largest relative gap to their recorded training FLOPs."""
    rebuilt = cumulative.groupby("key")["cumulative_flops"].max()
    recorded = pd.Series({r.key: float(r.metrics["training_flops"]) for r in records})
    return len(rebuilt), float((rebuilt / recorded.reindex(rebuilt.index) - 1).abs().max())


def memory_share_text(runs: pd.DataFrame, models: Sequence[str]) -> tuple[dict[str, float], str]:
    """Per model the training state's share of the dense runs' median peak RSS, and a sentence stating it."""
    dense = runs[runs["family"] == "dense"]
    weights = {m: int(dense.loc[dense["model"] == m, "dense_bits"].iloc[0]) // 32 for m in models}
    rss = {m: float(dense.loc[dense["model"] == m, "peak_memory_bytes"].median()) for m in models}
    state = {m: training_state_bytes(w) for m, w in weights.items()}
    text = "; ".join(
        f"{m.upper()}: weights, gradients and Adam's two moments of all {weights[m]:,} weights take "
        f"{state[m] / 2**20:.1f} MiB, {100 * state[m] / rss[m]:.1f} % of the dense runs' median peak RSS of "
        f"{rss[m] / 2**20:.0f} MiB" for m in models) + (". Even removing the whole model could not shrink the "
                                                          "process by more than that share.")
    return {m: state[m] / rss[m] for m in models}, text


def _method_name(family: str, method: str) -> str:
    from prunekit.paper.plots import method_label

    return method_label(method) + (" (structured)" if family == "structured" else "")


def kappa_table(part: pd.DataFrame, kappa: float, costs: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Each method's nearest level to ``kappa`` (within half a decade): its rows, the display table, the far ones."""
    from prunekit.paper.plots import percent_label
    from prunekit.paper.plots.costs import cost_label, times_label

    chosen = at_sparsity(part, kappa, tolerance=0.5)  # within a factor √10 of the kept share
    far = sorted(set(zip(part["family"], part["method"])) - set(zip(chosen["family"], chosen["method"])))
    table = pd.DataFrame({
        "method": [_method_name(f, m) for f, m in zip(chosen["family"], chosen["method"])],
        "prunes": chosen["prune_at"].to_numpy(),
        "level": [percent_label(k) for k in chosen["kappa"]],
        **{cost_label(c): [times_label(v) if np.isfinite(v) else "n/a" for v in chosen[f"{c}_reduction_median"]]
           for c in costs},
        "seeds": chosen["n"].to_numpy(),
    })
    return chosen, table, [_method_name(f, m) for f, m in far]


def _ours(pruned: pd.DataFrame, models: Sequence[str], cost: str, level: float, family: str, method: str,
          tolerance: float = 1e-6) -> str:
    from prunekit.paper.plots.costs import times_label

    cells = []
    for m in models:
        part = pruned[(pruned["model"] == m) & (pruned["family"] == family) & (pruned["method"] == method)]
        row = at_sparsity(part, level, tolerance=tolerance) if len(part) else part
        cells.append(times_label(float(row[f"{cost}_reduction_median"].iloc[0])) if len(row) else "—")
    return ", ".join(cells)


def paper_beside(paper: pd.DataFrame, pruned: pd.DataFrame, models: Sequence[str], memory_cost: str) -> pd.DataFrame:
    """The paper's cost ranges (Tables 1 and 4) beside ours for SNAP-it and Random at 90 % nodes and HoyerSquare."""
    from prunekit.paper.plots import percent_label
    from prunekit.paper.plots.costs import cost_label, times_range

    ranges = paper_cost_ranges(paper).set_index(["method", "cost"])

    def paper_range(methods: Sequence[str], cost: str) -> str:
        part = ranges.loc[[(m, cost) for m in methods]]
        return times_range([part["low"].min(), part["high"].max()])

    def ours(cost: str, *where, tolerance: float = 1e-6) -> str:
        return _ours(pruned, models, memory_cost if cost == "memory" else cost, *where, tolerance=tolerance)

    hoyer = pruned[pruned["method"] == "hoyersquare"]
    sparsest = percent_label(round(float(hoyer["kappa"].max()), 3)) if len(hoyer) else "—"
    return pd.DataFrame({
        "cost": [cost_label(c) for c in FIGURE_COSTS],
        "paper SNAP-it": [paper_range(["snap-it"], c) for c in FIGURE_COSTS],
        "ours SNAP-it (90 % nodes)": [ours(c, 0.9, "structured", "snap-it") for c in FIGURE_COSTS],
        "paper Random (structured)": [paper_range(["random"], c) for c in FIGURE_COSTS],
        "ours Random (90 % nodes)": [ours(c, 0.9, "structured", "random") for c in FIGURE_COSTS],
        "paper, after training": [paper_range(AFTER_TRAINING_PAPER, c) for c in FIGURE_COSTS],
        f"ours HoyerSquare ({sparsest})": [ours(c, 0.9999, "unstructured", "hoyersquare", tolerance=None)
                                           for c in FIGURE_COSTS],
    })


def _reductions_of(pruned: pd.DataFrame, cost: str, **where: object) -> pd.Series:
    rows = pruned
    for name, wanted in where.items():
        rows = rows[rows[name] == wanted]
    return rows[f"{cost}_reduction_median"].astype(float)


def cost_claims(*, pruned: pd.DataFrame, runs: pd.DataFrame, reductions: pd.DataFrame, cumulative: pd.DataFrame,
                records: Sequence[RunRecord], kappa: float, epochs: int, memory_cost: str
                ) -> dict[str, tuple[bool | None, str]]:
    """Each claim of Appendix K and Section 5 on costs: whether it holds on these medians, and the evidence."""
    from prunekit.paper.plots import method_label, percent_label
    from prunekit.paper.plots.costs import cost_label, times_label, times_range

    claims: dict[str, tuple[bool | None, str]] = {}
    before = pruned[pruned["prune_at"] == "before"]
    ratio = (before["training_flops_reduction_median"] / before["inference_flops_reduction_median"]).astype(float)
    claims["before training, training FLOPs fall as much as inference FLOPs"] = (
        bool(np.allclose(ratio, 1.0, rtol=1e-9)),
        f"{len(before)} method–level points: the two reductions differ by at most {float((ratio - 1).abs().max()):.0e}")

    at_first = cumulative[cumulative["epoch"] == 1].set_index("key")["reduction"]
    at_end = cumulative.loc[cumulative.groupby("key")["epoch"].idxmax()].set_index("key")["reduction"]
    before_keys = [r.key for r in records if r.config.prune_at == "before"]
    during_keys = [r.key for r in records if r.config.prune_at in ("during", "after")]
    after_keys = {r.key for r in records if r.config.prune_at == "after"}
    # a run pruning during training with τ < 1 epoch (SNIP-it, SNAP-it) is already thinner before its first epoch
    # ends, so its first epoch is not dense, only costlier than the run as a whole; an after-training run's is dense
    holds = bool(np.allclose(at_first[before_keys], at_end[before_keys])
                 and (at_first[during_keys] <= at_end[during_keys] * 1.01).all()
                 and np.allclose(at_first[[k for k in during_keys if k in after_keys]], 1.0, rtol=0.01))
    snip_it = [r.key for r in records if (r.config.criterion, r.config.prune_at, r.config.structured)
               == ("snip-it", "before", False) and np.isclose(r.config.sparsity, kappa)]
    example = (f" (SNIP-it at {percent_label(kappa)}: {times_label(at_first[snip_it[0]])} after epoch 1, "
               f"{times_label(at_end[snip_it[0]])} at the end)" if snip_it else "")
    claims["before training the saving starts with epoch 1; during or after training epoch 1 saves less than the "
           "whole run"] = (holds, (
               f"after epoch 1, all {len(before_keys)} before-training runs have saved their final factor{example}; "
               f"all {len(during_keys)} during/after runs are at {times_range(at_first[during_keys])}"
               if during_keys else ""))

    hoyer_flops = _reductions_of(pruned, "training_flops", method="hoyersquare")
    claims["after training, training FLOPs are not reduced (1×)"] = (
        bool(len(hoyer_flops) and np.allclose(hoyer_flops, 1.0)),
        f"HoyerSquare, all {len(hoyer_flops)} λ: {times_range(hoyer_flops)}")

    snip_it_levels = pruned.loc[(pruned["family"] == "unstructured") & (pruned["method"] == "snip-it"), "kappa"]
    shared = sorted(set(snip_it_levels) & set(pruned.loc[pruned["method"] == "snip-it-during", "kappa"]))
    pairs = [(reduction_at(pruned, "training_flops", k, method="snip-it-during"),
              reduction_at(pruned, "training_flops", k, method="snip-it", family="unstructured")) for k in shared]
    claims["pruning during training spends more training FLOPs than pruning before (yet fewer than dense)"] = (
        bool(pairs and all(1.0 < d < b for d, b in pairs)),
        "SNIP-it during vs before: " + ", ".join(f"{percent_label(k)} {times_label(d)} vs {times_label(b)}"
                                                for k, (d, b) in zip(shared, pairs)))

    structured_time = pruned[(pruned["family"] == "structured") & (pruned["method"].isin(["snap-it", "random"]))
                             & (pruned["kappa"] >= 0.8)]
    claims["structured pruning before training reduces run time (SNAP-it, Random; κ ≥ 80 % nodes)"] = (
        bool(len(structured_time) and (structured_time["run_time_reduction_median"] > 1).all()),
        times_range(structured_time["run_time_reduction_median"]))

    snap_inference = pruned[(pruned["family"] == "structured") & (pruned["method"] == "snap-it")
                            & (pruned["kappa"] >= 0.9)]
    claims["structured pruning reduces inference time (SNAP-it ≥ 5× from 90 % nodes, as the paper's 5–6×)"] = (
        bool(len(snap_inference) and (snap_inference["inference_time_reduction_median"] >= 5).all()),
        times_range(snap_inference["inference_time_reduction_median"]))

    unstructured = pruned[pruned["family"] == "unstructured"]
    fastest = float(unstructured["run_time_reduction_median"].max()) if len(unstructured) else float("nan")
    claims["unstructured sparsity does not speed up dense kernels: no method's median run is faster than 1.1× dense"] = (
        bool(len(unstructured) and fastest <= 1.1),
        f"run-time reductions {times_range(unstructured['run_time_reduction_median'])} (inference FLOPs up to "
        f"{times_label(unstructured['inference_flops_reduction_median'].max())})" if len(unstructured) else "—")

    longer = runs[(runs["family"] != "dense") & (runs["epochs"] > epochs)]
    longer_flops = reductions.loc[reductions["key"].isin(longer["key"]), "training_flops_reduction"].astype(float)
    claims["a method trained for more epochs spends more training FLOPs than the dense run (Figure 16's caption)"] = (
        bool((longer_flops < 1).all()) if len(longer) else None,
        ", ".join(f"{method_label(m)} ({e} of {epochs} epochs)" for m, e in
                  sorted(set(zip(longer["method"], longer["epochs"])))) + f": {times_range(longer_flops)}"
        if len(longer) else "no run in the store trains longer than the profile's budget")

    snap_memory = pruned[(pruned["family"] == "structured") & (pruned["method"] == "snap-it")]
    memory_column = f"{memory_cost}_reduction_median"
    claims["structured pruning before training reduces memory (paper: SNAP-it 16–156×)"] = (
        bool(len(snap_memory) and (snap_memory[memory_column] >= 2).all()),
        f"SNAP-it {cost_label(memory_cost)}: {times_range(snap_memory[memory_column])}")
    return claims


def claims_table(claims: Mapping[str, tuple[bool | None, str]]) -> pd.DataFrame:
    """One row per claim: the claim, our evidence, whether it holds."""
    return pd.DataFrame({"claim": list(claims), "ours": [e for _, e in claims.values()],
                         "holds": [h for h, _ in claims.values()]})


def ledger_entries(claims: Mapping[str, tuple[bool | None, str]], model: str, dataset: str) -> list:
    """The checked claims for the book's summary page (a claim with no runs to test, holds None, is left out)."""
    from prunekit.paper.checks import check

    return [check("costs", CLAIM_IDS[name], f"{model.upper()}, {dataset.upper()}: {evidence}".rstrip(": "),
                  holds, claim=name[0].upper() + name[1:]) for name, (holds, evidence) in claims.items()
            if holds is not None]


def _threads(runs: pd.DataFrame, family: str, method: str) -> str:
    counts = runs.loc[(runs["family"] == family) & (runs["method"] == method), "torch_threads"].dropna()
    values = sorted(int(t) for t in counts.unique())
    return " or ".join(map(str, values)) + (" thread" if values == [1] else " threads") if values else "—"


def observations_text(*, chosen: pd.DataFrame, runs: pd.DataFrame, pruned: pd.DataFrame,
                      records: Sequence[RunRecord], kappa: float, memory_cost: str, model: str,
                      state_share: float) -> str:
    """The page's "What we observe" list, every number computed from the runs."""
    from prunekit.paper.plots import percent_label
    from prunekit.paper.plots.costs import times_label, times_range

    t = chosen.set_index(["family", "method"])

    def get(family: str, method: str, cost: str) -> str:
        key = (family, method)
        return times_label(float(t.loc[key, f"{cost}_reduction_median"])) if key in t.index else "—"

    def threads(family: str, method: str) -> str:
        return _threads(runs, family, method)

    memory_all = pruned[f"{memory_cost}_reduction_median"].astype(float)
    unstructured_time = pruned.loc[pruned["family"] == "unstructured", "run_time_reduction_median"].astype(float)
    during = [r for r in records if r.config.criterion == "snip-it" and r.config.prune_at == "during"
              and np.isclose(r.config.sparsity, kappa)]
    per_epoch = epoch_training_flops(during[0]) if during else []
    settled = next((i + 1 for i, f in enumerate(per_epoch) if np.isclose(f, per_epoch[-1])), None)
    settled_text = f", the final mask from epoch {settled} of {len(per_epoch)}" if settled else ""
    k = percent_label(kappa)
    return "\n".join([
        f"- **FLOPs.** At κ = {k} an unstructured network needs {get('unstructured', 'snip-it', 'inference_flops')} "
        f"fewer inference FLOPs (SNIP-it; MLP5's FLOPs are proportional to its kept weights, so every method at that "
        f"sparsity saves the same). Only the methods that prune before training save as much in training: SNIP-it "
        f"{get('unstructured', 'snip-it', 'training_flops')}, against "
        f"{get('unstructured', 'snip-it-during', 'training_flops')} for SNIP-it during training and "
        f"{get('unstructured', 'imp-global', 'training_flops')} for IMP (their first epoch runs dense{settled_text}) "
        f"and {get('unstructured', 'hoyersquare', 'training_flops')} for HoyerSquare, which cuts only at the end. "
        f"Shrunk structured networks save in both: SNAP-it {get('structured', 'snap-it', 'training_flops')}, Random "
        f"{get('structured', 'random', 'training_flops')}, CNIP-it {get('structured', 'cnip-it', 'training_flops')} "
        f"at κ = {k} (nodes; for CNIP-it nodes and weights together).",
        f"- **Disk.** The CSR size follows the kept weights: {get('unstructured', 'snip-it', 'disk')} for SNIP-it at "
        f"{k}, {get('structured', 'snap-it', 'disk')} for SNAP-it.",
        f"- **Time.** Only the shrunk networks are faster: at {k} of the nodes SNAP-it's runs are "
        f"{get('structured', 'snap-it', 'run_time')} and Random's {get('structured', 'random', 'run_time')} faster "
        f"end to end ({threads('structured', 'snap-it')} against the dense runs' {threads('dense', 'none')}), and "
        f"their forward passes {get('structured', 'snap-it', 'inference_time')} and "
        f"{get('structured', 'random', 'inference_time')} faster than the full-size network's. Masked unstructured "
        f"networks execute the dense products: their runs take about as long as the dense ones or longer, "
        f"{times_range(unstructured_time)} (medians; SNIP-it before training "
        f"{get('unstructured', 'snip-it', 'run_time')} at {k}, {threads('unstructured', 'snip-it')}; SNIP-it during "
        f"training {get('unstructured', 'snip-it-during', 'run_time')}, {threads('unstructured', 'snip-it-during')}, "
        f"and whatever else ran at the time).",
        f"- **Memory.** Every median lies within {times_range(memory_all)}: the training state of the dense "
        f"{model.upper()} is {100 * state_share:.0f} % of its process's resident memory (above), and a run executed "
        f"later in a sweep inherits the peak of the runs before it. The paper's memory reductions for structured "
        f"pruning cannot be checked with these records.",
    ])


def cumulative_frames(part: pd.DataFrame, cumulative: pd.DataFrame, levels: Sequence[float], model: str) -> dict:
    """Per target sparsity, the cumulative-FLOPs figure of the methods nearest it (the slider's frames)."""
    from prunekit.paper.plots import percent_label
    from prunekit.paper.plots.costs import cumulative_flops_plot, level_title

    frames = {}
    for level in levels:
        keys = at_sparsity(part, level, tolerance=0.15)[["family", "method", "level"]]
        shown = cumulative[cumulative["model"] == model].merge(keys, on=["family", "method", "level"])
        if not shown.empty:
            frames[percent_label(level)] = cumulative_flops_plot(
                shown, title=f"{model.upper()}: cumulative training FLOPs at {level_title(level)}")
    return frames


def reduction_bar_frames(part: pd.DataFrame, levels: Sequence[float], costs: Sequence[str], title: str) -> dict:
    """Per target sparsity, the bars of all costs of the methods nearest it (the slider's frames)."""
    from prunekit.paper.plots import percent_label
    from prunekit.paper.plots.costs import level_title, reduction_bars_plot

    chosen = {level: at_sparsity(part, level, tolerance=0.15) for level in levels}
    most = max(len(c) for c in chosen.values())
    return {percent_label(level): reduction_bars_plot(c, list(costs), rows=most,
                                                      title=f"{title}: reductions at {level_title(level)}")
            for level, c in chosen.items() if not c.empty}


# ------------------------------------------------------------------ unstructured sparsity turned into time (#16)

SPARSE_KERNEL_MODEL = "mlp5"  # CSR kernels replace Linear layers only: the paper's MLP is where they apply


def sparse_kernel_times(store, *, dataset: str = "mnist", sparsities: Sequence[float] | None = None,
                        repeats: int = 3, limit: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Per SNIP-it sparsity: best unpruned, masked-dense and sparse-kernel MLP5 epochs (interleaved in one process),
    the speed-ups, the spread of the per-round ratios and the training-FLOPs reduction; measured once and kept
    beside the records (``measurements/costs-sparse-kernels-<settings>.json``)."""
    import torch

    from prunekit.measure.sparse_speed import COSTS_SPARSITIES, sparse_speedup_curve
    from prunekit.paper.measurements import cached_frame, settings_key

    levels = tuple(float(s) for s in (COSTS_SPARSITIES if sparsities is None else sparsities))
    settings = {"model": SPARSE_KERNEL_MODEL, "dataset": dataset, "sparsities": levels, "repeats": repeats,
                "limit": limit, "seed": seed, "threads": torch.get_num_threads()}

    def measure() -> pd.DataFrame:
        results = sparse_speedup_curve(levels, model_name=SPARSE_KERNEL_MODEL, dataset=dataset, repeats=repeats,
                                       limit=limit, seed=seed)
        return pd.DataFrame([_sparse_row(r, dataset, limit, seed) for r in results])

    return cached_frame(store, f"costs-sparse-kernels-{settings_key(settings)}", measure)


def _sparse_row(result, dataset: str, limit: int | None, seed: int) -> dict:
    """One measured sparsity as a table row (the FLOPs reduction read off the same SNIP-it mask)."""
    from prunekit.data import dataset_info
    from prunekit.measure.metrics import inference_flops
    from prunekit.measure.sparse_speed import snip_it_masked
    from prunekit.models import build_model

    shape = dataset_info(dataset).input_shape
    masked = snip_it_masked(result.model, dataset, result.sparsity, limit=limit, seed=seed)
    dense = build_model(result.model, shape, dataset_info(dataset).num_classes)
    spread = result.spread
    return {"sparsity": result.sparsity, "sparse_layers": len(result.sparse_layers), "threads": result.threads,
            "unpruned_s": min(result.dense_s), "masked_s": min(result.masked_s), "sparse_s": min(result.sparse_s),
            "speedup": result.speedup, "speedup_vs_masked": result.speedup_vs_masked,
            "ratio_min": spread.low, "ratio_median": spread.median, "ratio_max": spread.high,
            "flops_reduction": inference_flops(dense, shape, sparse=False) / inference_flops(masked, shape, sparse=True)}


def sparse_kernel_view(times: pd.DataFrame) -> pd.DataFrame:
    """The measured table as the page shows it: κ, epoch seconds, speed-ups and the FLOPs bound beside them."""
    from prunekit.paper.plots import percent_label

    return pd.DataFrame({
        "κ": times["sparsity"].map(percent_label),
        "unpruned epoch (s)": times["unpruned_s"].round(3), "masked dense epoch (s)": times["masked_s"].round(3),
        "sparse-kernel epoch (s)": times["sparse_s"].round(3),
        "speed-up over unpruned (×)": times["speedup"].round(2),
        "per-round ratio min–max (×)": [f"{lo:.2f}–{hi:.2f}" for lo, hi in zip(times["ratio_min"], times["ratio_max"])],
        "training-FLOPs reduction (×)": times["flops_reduction"].round(1),
    })


def sparse_kernel_text(times: pd.DataFrame) -> str:
    """What the measurement says: where sparse kernels turn the FLOPs reduction into time, and how much of it."""
    from prunekit.paper.plots import percent_label

    best = times.loc[times["speedup"].idxmax()]
    faster = times[times["speedup"] > 1.0]
    share = times["speedup"] / times["flops_reduction"]
    masked = times["masked_s"] / times["unpruned_s"]
    masked_range = (f"{masked.min():.2f}" if round(masked.min(), 2) == round(masked.max(), 2)
                    else f"{masked.min():.2f}–{masked.max():.2f}")
    text = (f"With CSR kernels (`TrainConfig(sparse_kernels=True)`) the speed-up of an MLP5 epoch of SNIP-it's masked "
            f"network over the unpruned epoch is {', '.join(f'{s:.2f}×' for s in times['speedup'])} at κ = "
            f"{', '.join(percent_label(k) for k in times['sparsity'])} ({int(times['threads'].iloc[0])} thread(s), "
            f"best of interleaved epochs); the masked dense tensors every pruning library trains take "
            f"{masked_range}× the unpruned epoch's time. ")
    text += (f"The largest gain is {best['speedup']:.2f}× at κ = {percent_label(best['sparsity'])}, where the FLOPs "
             f"fall {best['flops_reduction']:.0f}×: time follows FLOPs only in part "
             f"({100 * share.min():.0f}–{100 * share.max():.0f} % of the FLOPs reduction is realised): the rest of each "
             f"step (BatchNorm, activations, dropout, the optimiser, the data) does not shrink with the weights. ")
    if len(faster) < len(times):
        text += (f"Below κ = {percent_label(faster['sparsity'].min())} the sparse products do not pay for themselves "
                 f"on this CPU. ")
    return text.strip()
