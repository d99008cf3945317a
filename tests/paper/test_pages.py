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


def _page_with_a_box(children_order: list[int], table_uuid: str, address: str) -> dict:
    """A page showing a box of three widgets whose random ids sort differently in each execution."""
    ids = [uuid.uuid4().hex for _ in range(4)]
    box, kids = ids[0], ids[1:]
    view = {"application/vnd.jupyter.widget-view+json": {"model_id": box, "version_major": 2}}
    html = {"text/html": f'<style>#T_{table_uuid}_row0 {{}}</style><table id="T_{table_uuid}">',
            "text/plain": f"<pandas.io.formats.style.Styler at {address}>"}
    state = {box: {"state": {"children": [f"IPY_MODEL_{kids[i]}" for i in range(3)]}}}
    state.update({kids[i]: {"state": {"value": f"widget {i}"}} for i in children_order})
    return {"cells": [{"cell_type": "code", "id": uuid.uuid4().hex[:8], "source": "x", "metadata": {},
                       "outputs": [{"output_type": "display_data", "data": view, "metadata": {}},
                                   {"output_type": "display_data", "data": html, "metadata": {}}]}],
            "metadata": {"widgets": {WIDGET_STATE: {"state": state}}}, "nbformat": 4, "nbformat_minor": 5}


def test_widget_numbering_follows_the_widget_tree_not_the_random_ids():
    first = normalise(_page_with_a_box([0, 1, 2], "1996f", "0x7f30c98b71d0"))
    second = normalise(_page_with_a_box([2, 0, 1], "bd4bd", "0x7f86a987bd90"))
    assert first == second
    state = first["metadata"]["widgets"][WIDGET_STATE]["state"]
    assert state[f"{3:032x}"]["state"]["value"] == "widget 1"  # the box is 1, its children 2, 3, 4 in order


def test_styler_ids_cell_ids_and_addresses_are_normalised():
    page = normalise(_page_with_a_box([0, 1, 2], "1996f", "0x7f30c98b71d0"))
    html = page["cells"][0]["outputs"][1]["data"]
    assert 'id="T_00000"' in html["text/html"] and "#T_00000_row0" in html["text/html"]
    assert html["text/plain"] == "<pandas.io.formats.style.Styler>" and page["cells"][0]["id"] == "cell-0"


def test_widgets_nothing_shows_are_numbered_by_content_not_by_id():
    def page(order: list[int]) -> dict:
        notebook = _page_with_a_box([0, 1, 2], "1996f", "0x1")
        state = notebook["metadata"]["widgets"][WIDGET_STATE]["state"]
        kids = [k for k in state if state[k]["state"].get("value")]
        links = {uuid.uuid4().hex: {"state": {"source": [f"IPY_MODEL_{kids[i]}", "index"],
                                              "target": [f"IPY_MODEL_{kids[(i + 1) % 3]}", "index"]}}
                 for i in order}
        state.update(links)
        return notebook

    assert normalise(page([0, 1])) == normalise(page([1, 0]))


def test_prints_split_by_the_kernel_read_as_one_stream():
    from prunekit.paper.pages import coalesced

    one = [{"output_type": "stream", "name": "stdout", "text": ["a\n", "b\n"]}]
    two = [{"output_type": "stream", "name": "stdout", "text": ["a\n"]},
           {"output_type": "stream", "name": "stdout", "text": ["b\n"]}]
    assert coalesced(one) == coalesced(two) == one
    mixed = [two[0], {"output_type": "stream", "name": "stderr", "text": ["w\n"]}, two[1]]
    assert coalesced(mixed) == mixed  # different streams, or a stream between, stay apart
