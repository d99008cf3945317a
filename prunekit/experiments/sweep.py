"""Sweeps: grids of run configs, executed only where the store lacks a record, locally or on a Ray cluster.

Each finished run is written to the store at once, so a sweep killed mid-way loses only the runs in
flight and a restart recomputes nothing that finished. With Ray, workers compute and the driver writes.
With ``keep_models=True`` (local backend) the trained network of each run is stored beside its record
(``ResultStore.put_model``), and a run whose record exists but whose model file does not is run again.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from typing import Any

import torch
from tqdm.auto import tqdm

from prunekit.criteria import get_criterion
from prunekit.experiments.config import NO_CRITERION, RunConfig
from prunekit.experiments.record import RunRecord
from prunekit.experiments.run import run
from prunekit.experiments.runcount import note_runs
from prunekit.experiments.store import ResultStore

log = logging.getLogger(__name__)

BACKENDS = ("local", "ray")
_CONFIG_FIELDS = frozenset(f.name for f in fields(RunConfig))
# Set (to 1) where nothing may train, e.g. `make book` building the committed book from the committed store.
NO_TRAIN_ENV = "PRUNEKIT_NO_TRAIN"


class MissingRunsError(ValueError):
    """A sweep that may not train found configs the store lacks."""


def training_allowed() -> bool:
    """False when the environment forbids training (``PRUNEKIT_NO_TRAIN=1``)."""
    return os.environ.get(NO_TRAIN_ENV, "").strip() not in ("1", "true", "yes")


def _refuse_missing(todo: Sequence[RunConfig], store: ResultStore) -> None:
    """Raise MissingRunsError naming what is missing (the store should have had it)."""
    shown = "; ".join(f"{c.key} ({c.model} {c.criterion} {c.prune_at} {c.sparsity:g} seed {c.seed})" for c in todo[:5])
    raise MissingRunsError(f"{len(todo)} run(s) are not in {store.root} and {NO_TRAIN_ENV}=1 forbids training them: "
                           f"{shown}{' …' if len(todo) > 5 else ''}. Run the sweep without {NO_TRAIN_ENV} (e.g. "
                           f"`make book TRAIN=1`) or commit the missing records.")


# ------------------------------------------------------------------------------------------------------ grids


def _axis_values(name: str, values: object) -> list[Any]:
    """The values of one grid axis: a string or scalar is one value, any other iterable its items."""
    if name not in _CONFIG_FIELDS:
        raise ValueError(f"grid axis {name!r} is not a RunConfig field; accepted: {', '.join(sorted(_CONFIG_FIELDS))}")
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        return [values]
    items = list(values)
    if not items:
        raise ValueError(f"grid axis {name!r} has no values")
    return items


def _with(base: RunConfig | Mapping[str, Any], changes: dict[str, Any]) -> RunConfig:
    """``base`` with ``changes`` applied, validated."""
    if isinstance(base, RunConfig):
        return base.replace(**changes)
    return RunConfig(**{**base, **changes})


def grid(base: RunConfig | Mapping[str, Any], **axes: object) -> list[RunConfig]:
    """Every combination of the ``axes`` values applied to ``base`` (the last axis varies fastest)."""
    if not isinstance(base, (RunConfig, Mapping)):
        raise TypeError(f"base must be a RunConfig or a dict of its fields, got {type(base).__name__}")
    values = [_axis_values(name, v) for name, v in axes.items()]
    return [_with(base, dict(zip(axes, combo))) for combo in itertools.product(*values)]


def method_grid(base: RunConfig | Mapping[str, Any], *, criteria: Sequence[str], sparsities: Sequence[float],
                seeds: Sequence[int], **axes: object) -> list[RunConfig]:
    """Criteria × sparsities × seeds (× other axes); criterion ``none`` adds one dense baseline per seed instead."""
    pruned = [c for c in criteria if str(c).strip().lower() != NO_CRITERION]
    configs: list[RunConfig] = []
    if len(pruned) < len(criteria):
        dense = base.replace(criterion=NO_CRITERION, sparsity=0.0) if isinstance(base, RunConfig) else {
            **{k: v for k, v in base.items() if k != "prune_at"}, "criterion": NO_CRITERION, "sparsity": 0.0}
        configs += grid(dense, **axes, seed=seeds)
    targeted = [c for c in pruned if get_criterion(c).targets_sparsity]
    untargeted = [c for c in pruned if c not in targeted]  # sparsity follows from options (HoyerSquare's λ)
    if targeted:
        configs += grid(base, **axes, criterion=targeted, sparsity=sparsities, seed=seeds)
    if untargeted:
        configs += grid(base, **axes, criterion=untargeted, sparsity=0.0, seed=seeds)
    return configs


def unique(configs: Iterable[RunConfig]) -> list[RunConfig]:
    """``configs`` without repeats of a key, first occurrence kept."""
    seen: dict[str, RunConfig] = {}
    for config in configs:
        seen.setdefault(config.key, config)
    return list(seen.values())


def _stored(configs: Sequence[RunConfig], store: ResultStore,
            keep_models: bool = False) -> tuple[dict[str, RunRecord], list[RunConfig]]:
    """Split ``configs`` into stored records (by key) and the unique configs still to run (with
    ``keep_models``, also those whose record lacks its model file)."""
    found: dict[str, RunRecord] = {}
    todo: list[RunConfig] = []
    for config in unique(configs):
        record = store.get(config)
        if record is None or (keep_models and not store.has_model(config)):
            todo.append(config)
        else:
            found[config.key] = record
    return found, todo


def missing(configs: Iterable[RunConfig], store: ResultStore, *, keep_models: bool = False) -> list[RunConfig]:
    """The configs (without repeats) that have no valid record in ``store`` (with ``keep_models``: or no model file)."""
    return _stored(list(configs), store, _check_keep_models(keep_models))[1]


def _check_keep_models(keep_models: object) -> bool:
    """``keep_models`` if it is a bool, else ValueError."""
    if not isinstance(keep_models, bool):
        raise ValueError(f"keep_models must be True or False, got {keep_models!r}")
    return keep_models


# ------------------------------------------------------------------------------------------------------ sweep


def worker_share(configs: Sequence[RunConfig], worker: int, workers: int) -> list[RunConfig]:
    """Worker ``worker``'s configs of ``workers`` processes sharing a sweep, split by run key (a stride over the
    list would hand one worker every run of a row that repeats per seed, e.g. Table 3's HoyerSquare)."""
    if not 0 <= worker < workers:
        raise ValueError(f"worker must be in [0, {workers}), got {worker}")
    return [c for c in configs if int(c.key, 16) % workers == worker]


def sweep(configs: Iterable[RunConfig], store: ResultStore, *, backend: str = "local", address: str | None = None,
          progress: bool = True, data_root: str | os.PathLike | None = None,
          cpus_per_task: int | None = None, keep_models: bool = False) -> list[RunRecord]:
    """Run what ``store`` lacks, storing each record as it finishes; return every record in config order.

    ``cpus_per_task`` (Ray only) is the CPUs a CPU run reserves and the torch threads it uses; by
    default this process's torch thread count, so that Ray and local runs compute bit-identical
    results on the same machine (CPU kernels round differently with another thread count).
    ``keep_models`` (local backend only) also stores each run's trained network and re-runs a stored
    record that has no model file (its record is overwritten); read the networks back with
    ``store.load_model(config)`` (the returned records do not hold them).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if _check_keep_models(keep_models) and backend != "local":
        raise ValueError(f"keep_models=True needs the local backend (model files are written where the run "
                         f"trains); got backend {backend!r}")
    configs = list(configs)
    bad = [c for c in configs if not isinstance(c, RunConfig)]
    if bad:
        raise TypeError(f"sweep() takes RunConfig objects, got {type(bad[0]).__name__}")
    structured = [c.key for c in configs if keep_models and c.structured]
    if structured:
        raise ValueError(f"keep_models=True cannot store structured (physically shrunk) runs: {structured[:5]}")
    found, todo = _stored(configs, store, keep_models)
    note_runs(stored=len(found))
    if todo and not training_allowed():
        _refuse_missing(todo, store)
    log.info("sweep: %d runs, %d stored, %d to run (%s backend, store %s%s)", len(configs), len(found), len(todo),
             backend, store.root, ", keeping models" if keep_models else "")
    if todo and backend == "local":
        _run_local(todo, store, found, progress, data_root, keep_models)
    elif todo:
        _run_ray(todo, store, found, progress, address, data_root, cpus_per_task)
    return [found[c.key] for c in configs]


def _run_local(todo: list[RunConfig], store: ResultStore, found: dict[str, RunRecord], progress: bool,
               data_root: str | os.PathLike | None, keep_models: bool = False) -> None:
    """Run sequentially in this process, storing each record (and, if asked, model) as soon as it exists."""
    for config in tqdm(todo, desc="sweep", unit="run", disable=not progress):
        record = run(config, progress=progress, data_root=data_root, keep_model=keep_models)
        if not keep_models and store.has_model(config):
            log.warning("run %s was recomputed without keep_models; its model file %s may no longer match the "
                        "new record", config.key, store.model_path_for(config))
        # The record first: killed in between, the run lacks its model and a keep_models sweep redoes it.
        store.put(record)
        if keep_models:
            store.put_model(record, record.model)
            record.model = None  # the file holds it; a long sweep should not keep every network in memory
        found[record.key] = record


# ------------------------------------------------------------------------------------------------------- ray


def import_ray():
    """Import Ray, or explain how to install it."""
    try:
        import ray
    except ImportError as err:
        raise ImportError("the 'ray' sweep backend needs Ray: install it with `pip install -e .[ray]`") from err
    return ray


def _ensure_ray(ray, address: str | None) -> bool:
    """Connect to ``address`` (None: start a local instance) unless Ray is up; True if this call started it."""
    if ray.is_initialized():
        if address is not None:
            log.info("ray is already initialised; ignoring address %s", address)
        return False
    options: dict[str, Any] = {"address": address, "include_dashboard": False, "log_to_driver": False}
    if address is None:
        options["num_cpus"] = os.cpu_count() or 1
    ray.init(**options)
    return True


def _task_resources(config: RunConfig, cluster_has_gpus: bool, cpus: int) -> dict[str, float]:
    """One GPU for a run that may use CUDA on a cluster that has GPUs, else ``cpus`` CPUs."""
    wants_cuda = config.device == "auto" or config.device.startswith("cuda")
    if wants_cuda and cluster_has_gpus:
        return {"num_gpus": 1, "num_cpus": 1}
    return {"num_cpus": cpus}


def _cpus_per_task(ray, requested: int | None) -> int:
    """CPUs (and torch threads) of one CPU task, capped by the largest node so that no task is unschedulable."""
    wanted = torch.get_num_threads() if requested is None else requested
    if isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 1:
        raise ValueError(f"cpus_per_task must be a positive integer or None, got {requested!r}")
    largest = max((int(n["Resources"].get("CPU", 0)) for n in ray.nodes() if n.get("Alive")), default=1)
    if wanted > largest:
        log.warning("cpus_per_task %d exceeds the largest Ray node (%d CPUs); using %d", wanted, largest, largest)
    return max(1, min(wanted, largest))


def _run_task(config: dict[str, Any], data_root: str | None, threads: int) -> dict[str, Any]:
    """Ray task body: run one config on a worker with ``threads`` torch threads; return its record as a dict."""
    torch.set_num_threads(threads)
    return run(RunConfig.from_dict(config), progress=False, data_root=data_root).to_dict()


def _run_ray(todo: list[RunConfig], store: ResultStore, found: dict[str, RunRecord], progress: bool,
             address: str | None, data_root: str | os.PathLike | None, cpus_per_task: int | None) -> None:
    """One Ray task per run; the driver stores each record as its task completes."""
    ray = import_ray()
    started = _ensure_ray(ray, address)
    try:
        task = ray.remote(_run_task)
        gpus = ray.cluster_resources().get("GPU", 0) > 0
        cpus = _cpus_per_task(ray, cpus_per_task)
        root = None if data_root is None else str(data_root)
        pending = {task.options(**_task_resources(c, gpus, cpus)).remote(c.to_dict(), root, cpus): c for c in todo}
        with tqdm(total=len(pending), desc="sweep (ray)", unit="run", disable=not progress) as bar:
            while pending:
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                config = pending.pop(ref)
                record = _collect(ray, ref, config, pending)
                store.put(record)
                found[record.key] = record
                bar.update()
    finally:
        if started:
            ray.shutdown()


def _collect(ray, ref, config: RunConfig, pending: dict) -> RunRecord:
    """The record of a finished task; on failure cancel the other tasks and re-raise."""
    try:
        record = RunRecord.from_dict(ray.get(ref))
    except Exception:
        log.error("run %s failed; cancelling %d pending runs (finished ones are stored)", config.key, len(pending))
        for other in pending:
            ray.cancel(other)
        raise
    if record.key != config.key:
        raise RuntimeError(f"a worker returned the record of {record.key} for config {config.key}")
    return record


__all__ = ["BACKENDS", "grid", "import_ray", "method_grid", "missing", "sweep", "unique", "worker_share"]
