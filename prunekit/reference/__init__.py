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


__all__ = ["available_tables", "paper_source", "paper_table", "paper_units"]
