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
