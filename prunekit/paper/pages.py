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
_MODEL_ID = re.compile(r'"model_id": "([0-9a-f]{32})"')
_REFERENCE = re.compile(r"IPY_MODEL_([0-9a-f]{32})")
_STYLER = re.compile(r'\bT_([0-9a-f]{5})(?=[_"\\\s{])')  # pandas Styler ids (uuid_len 5), inside JSON text
_ADDRESS = re.compile(r" at 0x[0-9a-f]+>")


def widget_ids(notebook: dict[str, Any]) -> list[str]:
    """The widget model ids of a notebook's saved widget state, in their stored order."""
    state = notebook.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    return list(state)


def widget_order(notebook: dict[str, Any]) -> list[str]:
    """Widget ids in an order that depends only on the page's content: the widgets its outputs show, in cell order,
    then every widget reachable from them breadth-first (references in each model's state, in key order); widgets
    nothing reaches (links between widgets) follow by their state with the numbers given so far in place of ids.
    Random ids never decide the order, so two executions number their widgets alike."""
    state = notebook.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    order: list[str] = []

    def visit(start: list[str]) -> None:
        queue = [w for w in start if w in state]
        while queue:
            current = queue.pop(0)
            if current not in order:
                order.append(current)
                queue += [m.group(1) for m in _REFERENCE.finditer(json.dumps(state[current], sort_keys=True))
                          if m.group(1) in state and m.group(1) not in order]

    visit([m.group(1) for m in _MODEL_ID.finditer(json.dumps(notebook.get("cells", []), sort_keys=True))])
    while len(order) < len(state):
        numbered = {w: str(n) for n, w in enumerate(order)}

        def content(widget: str) -> str:
            text = json.dumps(state[widget], sort_keys=True)
            return _REFERENCE.sub(lambda m: f"IPY_MODEL_{numbered.get(m.group(1), '?')}", text)

        visit([min((w for w in state if w not in order), key=content)])
    return order


def _renamed_widgets(text: str, order: list[str]) -> str:
    """``text`` with every widget id replaced by its position in ``order`` (same 32-hex form)."""
    names = {widget: f"{n + 1:032x}" for n, widget in enumerate(order)}
    return _UUID.sub(lambda m: names.get(m.group(0), m.group(0)), text) if names else text


def _renamed_tables(text: str) -> str:
    """pandas Styler tables renamed ``T_0``, ``T_1``, … in order of appearance (their ids are random), and object
    reprs without their memory address."""
    order: dict[str, str] = {}
    text = _STYLER.sub(lambda m: order.setdefault(m.group(1), f"T_{len(order):05d}"), text)
    return _ADDRESS.sub(">", text)


def coalesced(outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Outputs with adjacent stream outputs of the same stream joined: the kernel flushes stdout when it likes,
    so the same prints arrive as one output or as several."""
    joined: list[dict[str, Any]] = []
    for output in outputs:
        previous = joined[-1] if joined else None
        if (output.get("output_type") == "stream" and previous is not None
                and previous.get("output_type") == "stream" and previous.get("name") == output.get("name")):
            text = "".join(previous["text"]) + "".join(output["text"])
            joined[-1] = {**previous, "text": text.splitlines(keepends=True)}
        else:
            joined.append(output)
    return joined


def normalise(notebook: dict[str, Any]) -> dict[str, Any]:
    """A copy of an executed notebook without execution stamps, with cell ids by position and deterministic widget
    and table ids."""
    cells = []
    for index, cell in enumerate(notebook.get("cells", [])):
        cell = dict(cell)
        cell["metadata"] = {k: v for k, v in cell.get("metadata", {}).items() if k not in _CELL_STAMPS}
        if "id" in cell:
            cell["id"] = f"cell-{index}"
        if "outputs" in cell:
            cell["outputs"] = coalesced(cell["outputs"])
        cells.append(cell)
    metadata = dict(notebook.get("metadata", {}))
    if "papermill" in metadata:
        metadata["papermill"] = {k: v for k, v in metadata["papermill"].items() if k in _KEPT_PAPERMILL}
    clean = {**notebook, "cells": cells, "metadata": metadata}
    text = _renamed_widgets(json.dumps(clean, sort_keys=True), widget_order(clean))
    return json.loads(_renamed_tables(text))


def normalise_file(path: str | Path) -> None:
    """Rewrite an executed notebook file in place, normalised (nbformat's own layout: indent 1)."""
    path = Path(path)
    notebook = normalise(json.loads(path.read_text(encoding="utf-8")))
    path.write_text(json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


__all__ = ["coalesced", "normalise", "normalise_file", "widget_ids", "widget_order"]
