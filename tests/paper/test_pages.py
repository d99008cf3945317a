"""Two executions of one page normalise to the same notebook: no stamps, widget ids in order of appearance."""

from __future__ import annotations

import uuid

from prunekit.paper.pages import WIDGET_STATE, normalise, widget_ids


def _executed(stamp: str) -> dict:
    slider, image = uuid.uuid4().hex, uuid.uuid4().hex
    view = {"application/vnd.jupyter.widget-view+json": {"model_id": slider, "version_major": 2}}
    return {
        "cells": [{"cell_type": "code", "source": "x", "execution_count": 1,
                   "metadata": {"tags": ["parameters"], "execution": {"iopub.status.busy": stamp},
                                "papermill": {"duration": 1.5, "start_time": stamp}},
                   "outputs": [{"output_type": "display_data", "data": view, "metadata": {}}]}],
        "metadata": {"papermill": {"parameters": {"profile": "cpu"}, "duration": 9.0, "input_path": f"/tmp/{stamp}"},
                     "widgets": {WIDGET_STATE: {"state": {slider: {"state": {"children": [f"IPY_MODEL_{image}"]}},
                                                         image: {"state": {"value": "png"}}}}}},
        "nbformat": 4, "nbformat_minor": 5,
    }


def test_two_executions_normalise_to_the_same_notebook():
    assert normalise(_executed("2026-01-01T00:00:00Z")) == normalise(_executed("2026-12-07T10:00:00Z"))


def test_content_survives_and_widget_references_stay_consistent():
    page = normalise(_executed("t"))
    cell = page["cells"][0]
    assert cell["metadata"] == {"tags": ["parameters"]} and page["metadata"]["papermill"] == {
        "parameters": {"profile": "cpu"}}
    slider = cell["outputs"][0]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
    assert slider == f"{1:032x}"  # the first widget the page shows
    (image,) = set(widget_ids(page)) - {slider}
    state = page["metadata"]["widgets"][WIDGET_STATE]["state"]
    assert state[slider]["state"]["children"] == [f"IPY_MODEL_{image}"] and state[image]["state"]["value"] == "png"
