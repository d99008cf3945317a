"""The paper's published numbers, transcribed once into ``paper_results.json``, as DataFrames.

Values are as printed in the paper: accuracy, sparsity and HM in percent, the confidence bound
``1.96·σ/√n`` in percentage points, structured speed-ups as reduction factors (×).
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import pandas as pd

DATA_FILE = "paper_results.json"


@lru_cache(maxsize=1)
def _document() -> dict:
    """The parsed reference file (read once per process)."""
    text = resources.files(__name__).joinpath(DATA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def available_tables() -> list[str]:
    """Identifiers accepted by :func:`paper_table` (``table1`` … ``table4``)."""
    return list(_document()["tables"])


def _table_key(table_id: str | int) -> str:
    """Normalise ``3``, ``"3"``, ``"Table 3"`` or ``"table3"`` to ``"table3"``."""
    if isinstance(table_id, bool) or not isinstance(table_id, (str, int)):
        raise TypeError(f"table_id must be a str or int, got {type(table_id).__name__}")
    key = str(table_id).strip().lower().replace(" ", "")
    if not key.startswith("table"):
        key = f"table{key}"
    if key not in _document()["tables"]:
        raise ValueError(f"unknown paper table {table_id!r}; known tables: {', '.join(available_tables())}")
    return key


def paper_table(table_id: str | int) -> pd.DataFrame:
    """One of the paper's tables as a DataFrame, one row per (dataset, model, method, prune_at)."""
    table = _document()["tables"][_table_key(table_id)]
    frame = pd.DataFrame(table["rows"])
    frame.attrs["caption"] = table["caption"]
    frame.attrs["paper_section"] = table["paper_section"]
    return frame


def paper_units() -> dict[str, str]:
    """The unit of every numeric column in the reference tables."""
    return dict(_document()["units"])


def paper_source() -> str:
    """The citation of the paper the numbers come from."""
    return str(_document()["source"])


ARCHITECTURES_FILE = "architectures.json"
_LAYER_COLUMNS = ("model", "label", "position", "type", "in", "out", "kernel", "stride", "padding", "bias",
                  "batchnorm", "downsampling")


@lru_cache(maxsize=1)
def _setup_document() -> dict:
    """The parsed experimental-setup file: Section 4 / Appendix F, J and L (read once per process)."""
    text = resources.files(__name__).joinpath(ARCHITECTURES_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def paper_architectures() -> pd.DataFrame:
    """Appendix L's weight-holding layers as printed, one row per layer (``in``/``out`` may be ``"I"``/``"K"``)."""
    models = _setup_document()["architectures"]["models"]
    rows = [
        {"model": name, "label": spec["label"], "position": i, **layer}
        for name, spec in models.items()
        for i, layer in enumerate(spec["layers"])
    ]
    frame = pd.DataFrame(rows).reindex(columns=list(_LAYER_COLUMNS))
    frame = frame.astype({"kernel": "Int64", "stride": "Int64", "padding": "Int64", "bias": "boolean",
                          "batchnorm": "boolean", "downsampling": "boolean"})
    frame.attrs["paper_section"] = _setup_document()["architectures"]["paper_section"]
    frame.attrs["common"] = dict(_setup_document()["architectures"]["common"])
    frame.attrs["pooling"] = {name: list(spec["pooling"]) for name, spec in models.items()}
    return frame


def paper_training_setup() -> dict:
    """Section 4's and Appendix F's optimisation budget (optimiser, lr, weight decay, epochs, …) as printed."""
    return json.loads(json.dumps(_setup_document()["training"]))  # a deep copy: callers may edit it


def paper_datasets() -> pd.DataFrame:
    """Appendix J's facts per dataset (input shape, classes, train/test sizes, flip probability), one row each."""
    section = _setup_document()["datasets"]
    rows = [{"dataset": name, **facts} for name, facts in section.items() if name != "paper_section"]
    frame = pd.DataFrame(rows)
    frame["input_shape"] = frame["input_shape"].map(tuple)
    frame.attrs["paper_section"] = section["paper_section"]
    return frame


__all__ = ["available_tables", "paper_architectures", "paper_datasets", "paper_source", "paper_table",
           "paper_training_setup", "paper_units"]
