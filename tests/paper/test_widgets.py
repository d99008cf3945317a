"""Facts of the static-page slider: images pre-rendered in order, switched client-side by a jslink."""

from __future__ import annotations

import ipywidgets as widgets
import pytest
from ipywidgets.widgets.widget_link import Link
from matplotlib.figure import Figure

from prunekit.paper.widgets import FigureSlider, figure_png, figure_slider

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _figure(height: float) -> Figure:
    fig = Figure(figsize=(4, 3))
    ax = fig.add_subplot()
    ax.bar([0, 1, 2], [1.0, height, 0.5])
    ax.set_title(f"height {height}")
    return fig


@pytest.fixture
def figures() -> dict[str, Figure]:
    return {"90%": _figure(0.2), "98%": _figure(0.6), "99.5%": _figure(0.9)}


def test_slider_has_one_image_per_label_in_order(figures):
    slider = figure_slider(figures)
    assert slider.labels == ("90%", "98%", "99.5%")
    assert len(slider.images) == 3
    assert all(isinstance(image, widgets.Image) and image.format == "png" for image in slider.images)
    assert [image.value for image in slider.images] == [figure_png(fig) for fig in figures.values()]


def test_list_of_pairs_keeps_its_order():
    pairs = [("b", _figure(0.3)), ("a", _figure(0.7))]
    assert figure_slider(pairs).labels == ("b", "a")


def test_slider_index_is_jslinked_to_the_stack(figures):
    slider = figure_slider(figures)
    assert isinstance(slider, FigureSlider) and isinstance(slider, widgets.VBox)
    assert isinstance(slider.slider, widgets.SelectionSlider)
    assert isinstance(slider.stack, widgets.Stack)
    top, stack = slider.children
    assert list(top.children) == [slider.label, slider.slider] and stack is slider.stack
    link = slider.link
    # a client-side link (LinkModel in the browser), not a Python-side traitlets link or observe
    assert type(link) is Link
    assert link.get_state()["_model_name"] == "LinkModel"
    assert link.source == (slider.slider, "index")
    assert link.target == (slider.stack, "selected_index")
    assert slider.slider.index == slider.stack.selected_index == 0


def test_link_state_names_the_slider_and_stack_models(figures):
    slider = figure_slider(figures)
    state = slider.link.get_state()
    # what the executor stores and the static page's html-manager reads
    assert [str(v) for v in state["source"]] == [f"IPY_MODEL_{slider.slider.model_id}", "index"]
    assert [str(v) for v in state["target"]] == [f"IPY_MODEL_{slider.stack.model_id}", "selected_index"]


def test_images_are_small_pngs(figures):
    slider = figure_slider(figures, dpi=60)
    for image in slider.images:
        assert bytes(image.value).startswith(PNG_MAGIC)
        assert len(image.value) < 30_000


def test_frames_keep_the_figure_size_so_the_image_does_not_jump(figures):
    import struct

    sizes = {struct.unpack(">II", bytes(image.value)[16:24]) for image in figure_slider(figures, dpi=50).images}
    assert sizes == {(200, 150)}


def test_caption_is_html_not_a_typeset_description(figures):
    slider = figure_slider(figures, description="target sparsity κ <1>")
    assert slider.slider.description == ""  # the static embedder typesets descriptions with MathJax 2
    assert slider.label.value == "<b>target sparsity κ &lt;1&gt;</b>"


def test_empty_input_is_rejected():
    with pytest.raises(ValueError, match="at least one figure"):
        figure_slider({})
    with pytest.raises(ValueError, match="at least one figure"):
        figure_slider([])


@pytest.mark.parametrize("bad", [None, "figure", [("a", "not a figure")], [_figure(0.1)]])
def test_non_figures_are_rejected(bad):
    with pytest.raises(TypeError):
        figure_slider(bad)


def test_duplicate_labels_and_bad_dpi_are_rejected(figures):
    with pytest.raises(ValueError, match="unique"):
        figure_slider([("a", _figure(0.1)), ("a", _figure(0.2))])
    with pytest.raises(ValueError, match="dpi"):
        figure_slider(figures, dpi=0)
