"""Executed notebooks made reproducible: what differs between two executions of the same page is removed.

papermill and nbclient stamp every cell with wall-clock times and the temporary paths they used, and
ipywidgets names every widget with a random UUID. None of it is content, yet each would make a rebuilt
book differ from the committed one. ``normalise`` strips the stamps (wall times live in
``book/_timings.json``) and renames widget models in order of first appearance, consistently in the
widget state and in the outputs that display them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
_CELL_STAMPS = ("execution", "papermill")  # per-cell timestamps and durations
_KEPT_PAPERMILL = ("parameters", "default_parameters")  # the notebook's papermill metadata that is content
_UUID = re.compile(r"[0-9a-f]{32}")


def widget_ids(notebook: dict[str, Any]) -> list[str]:
    """The widget model ids of a notebook's saved widget state, in their stored order."""
    state = notebook.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    return list(state)


def _renamed_widgets(text: str, ids: list[str]) -> str:
    """``text`` with every widget id replaced by a counter in order of first appearance (same 32-hex form)."""
    known = set(ids)
    order: dict[str, str] = {}
    for found in _UUID.finditer(text):
        if found.group(0) in known and found.group(0) not in order:
            order[found.group(0)] = f"{len(order) + 1:032x}"
    return _UUID.sub(lambda m: order.get(m.group(0), m.group(0)), text) if order else text


def normalise(notebook: dict[str, Any]) -> dict[str, Any]:
    """A copy of an executed notebook without execution stamps and with deterministic widget ids."""
    cells = []
    for cell in notebook.get("cells", []):
        cell = dict(cell)
        cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items() if k not in _CELL_STAMPS}
        cells.append(cell)
    metadata = dict(notebook.get("metadata", {}))
    if "papermill" in metadata:
        metadata["papermill"] = {k: v for k, v in metadata["papermill"].items() if k in _KEPT_PAPERMILL}
    clean = {**notebook, "cells": cells, "metadata": metadata}
    text = _renamed_widgets(json.dumps(clean, sort_keys=True), widget_ids(clean))
    return json.loads(text)


def normalise_file(path: str | Path) -> None:
    """Rewrite an executed notebook file in place, normalised (nbformat's own layout: indent 1)."""
    path = Path(path)
    notebook = normalise(json.loads(path.read_text(encoding="utf-8")))
    path.write_text(json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


__all__ = ["normalise", "normalise_file", "widget_ids"]
