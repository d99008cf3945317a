"""What iterative pruning does round by round: weights removed and revived, and what the final mask leaves connected."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import pandas as pd
import torch
from torch import nn

from prunekit.core.connectivity import is_disconnected, path_count_fraction
from prunekit.data import dataset_info
from prunekit.experiments.config import RunConfig
from prunekit.experiments.record import RunRecord, mask_digest
from prunekit.experiments.run import pruned_at_init
from prunekit.core.masks import current_mask, prunable_layers
from prunekit.pruning.before import DEFAULT_BATCH_SIZE, DEFAULT_SAMPLES, prune
from prunekit.core.schedule import DEFAULT_STEPS
from prunekit.experiments.store import ResultStore

TURNOVER_COLUMNS = ("key", "criterion", "options", "sparsity", "seed", "round", "target", "alive_before",
                    "pruned_before", "removed", "revived", "removed_share", "revived_share")


def _options_label(config: RunConfig) -> str:
    """``name=value`` pairs of the config's criterion options ('' for none)."""
    return ", ".join(f"{k}={v}" for k, v in config.criterion_options)


def round_turnover(records: Iterable[RunRecord]) -> pd.DataFrame:
    """One row per pruning round of every record: how many weights it removed from the survivors and revived
    from the pruned ones, also as shares of those two sets (``removed / alive before``, ``revived / pruned before``)."""
    rows = []
    for record in records:
        config = record.config
        steps = record.prune_steps
        if steps and any("removed" not in s for s in steps):
            raise ValueError(f"record {record.key} predates removed/revived counts; re-run it to get them")
        alive = steps[0]["total"] if steps else 0
        for step in steps:
            pruned = step["total"] - alive
            rows.append({
                "key": record.key, "criterion": config.criterion, "options": _options_label(config),
                "sparsity": config.sparsity, "seed": config.seed, "round": step["round"], "target": step["target"],
                "alive_before": alive, "pruned_before": pruned, "removed": step["removed"],
                "revived": step["revived"], "removed_share": step["removed"] / alive if alive else 0.0,
                "revived_share": step["revived"] / pruned if pruned else 0.0,
            })
            alive = step["kept"]
    return pd.DataFrame(rows, columns=list(TURNOVER_COLUMNS))


def mask_connectivity(configs: Sequence[RunConfig], store: ResultStore | None = None,
                      data_root: str | os.PathLike | None = None) -> pd.DataFrame:
    """For each before-training config, the mask it prunes to at initialisation: the share of input→output paths
    that survive, whether a layer is cut off, and (given a store) whether it is the stored run's mask."""
    rows = []
    for config in configs:
        net = pruned_at_init(config, data_root)
        shape = dataset_info(config.dataset).input_shape
        stored = store.get(config) if store is not None else None
        rows.append({
            "criterion": config.criterion, "options": _options_label(config), "sparsity": config.sparsity,
            "seed": config.seed, "surviving_paths": path_count_fraction(net, shape),
            "disconnected": is_disconnected(net, shape),
            "same_mask_as_stored": (mask_digest(net) == stored.metrics["mask_digest"]) if stored else None,
        })
    return pd.DataFrame(rows)


def mask_history(model: nn.Module, criterion: str, sparsity: float, data: object, *, steps: int = DEFAULT_STEPS,
                 samples: int = DEFAULT_SAMPLES, batch_size: int = DEFAULT_BATCH_SIZE,
                 seed: int = 0) -> list[dict[str, torch.Tensor]]:
    """Prune ``model`` in place with ``prune()`` and return every layer's 0/1 mask after each round (the first
    entry: before pruning, all ones), for drawing what each round removes."""
    layers = prunable_layers(model)

    def masks() -> dict[str, torch.Tensor]:
        return {name: (current_mask(m) != 0).float().clone() for name, m in layers.items()}

    history = [masks()]
    prune(model, criterion, sparsity, data, steps=steps, samples=samples, batch_size=batch_size, seed=seed,
          on_round=lambda _step: history.append(masks()))
    return history
