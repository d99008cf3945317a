"""Measurements a page shows that are not run records (timings of final networks, a live timing demo):
made once, stored beside the records, and read back, so rebuilding the book re-measures nothing.

``cached_frame(store, name, measure)`` returns the stored table ``<store>/measurements/<name>.json`` when it
exists; otherwise it measures, stores atomically and returns. Where nothing may train (``PRUNEKIT_NO_TRAIN=1``,
``make book``) a missing measurement stops the page with the command that makes it, like a missing run.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from prunekit.experiments.store import ResultStore, _atomic_write
from prunekit.experiments.sweep import MissingRunsError, NO_TRAIN_ENV, training_allowed

log = logging.getLogger(__name__)

FOLDER = "measurements"


def settings_key(settings: Mapping[str, object]) -> str:
    """A short digest of the settings a cached measurement depends on (its name changes when they do)."""
    text = json.dumps(dict(settings), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def measurement_path(store: ResultStore, name: str) -> Path:
    """Where the measurement ``name`` of a store lives."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"a measurement name is a plain file stem, got {name!r}")
    return store.root / FOLDER / f"{name}.json"


def cached_frame(store: ResultStore, name: str, measure: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """The stored table ``name``, measured and stored first when it is missing (and measuring is allowed)."""
    path = measurement_path(store, name)
    if path.is_file():
        return pd.read_json(path, orient="table")
    if not training_allowed():
        raise MissingRunsError(f"measurement {name!r} is not in {path.parent} and {NO_TRAIN_ENV}=1 forbids measuring "
                               f"it; build the book once with TRAIN=1 (e.g. `make book TRAIN=1`) and commit {path}")
    frame = measure()
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, frame.reset_index(drop=True).to_json(orient="table", indent=1, double_precision=15))
    log.info("stored measurement %s (%d rows)", path, len(frame))
    return pd.read_json(path, orient="table")  # the page shows exactly what a rebuild will read


__all__ = ["FOLDER", "cached_frame", "measurement_path", "settings_key"]
