"""Experiments: a ``RunConfig`` run into a ``RunRecord``, stored, swept and tabulated.

The modules, each with one job: ``config`` (RunConfig), ``loading`` (its batch streams), ``plan`` (how it prunes),
``outcome`` (what it reports), ``record`` (RunRecord and provenance), ``run`` (run()), ``store`` (persistence),
``stats`` (statistics over records), ``sweep``, ``profiles``, ``methods``, ``freshness``.
"""

from prunekit.experiments.config import KEYLESS_FIELDS, NO_CRITERION, PRUNE_AT, RunConfig, scaled_epochs
from prunekit.experiments.loading import RunData, load_run_data
from prunekit.experiments.outcome import memory_metrics
from prunekit.experiments.plan import PruningPlan, pruning_plan
from prunekit.experiments.record import SCHEMA_VERSION, RunRecord, json_safe, mask_digest, provenance, source_hash
from prunekit.experiments.run import initial_model, pruned_at_init, run, training_start

__all__ = [
    "KEYLESS_FIELDS",
    "NO_CRITERION",
    "PRUNE_AT",
    "SCHEMA_VERSION",
    "PruningPlan",
    "RunConfig",
    "RunData",
    "RunRecord",
    "initial_model",
    "json_safe",
    "load_run_data",
    "mask_digest",
    "memory_metrics",
    "provenance",
    "pruned_at_init",
    "pruning_plan",
    "run",
    "scaled_epochs",
    "source_hash",
    "training_start",
]
