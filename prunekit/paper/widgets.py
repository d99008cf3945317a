"""Widgets that keep working in the static HTML book, where no Python kernel answers events.

A slider moves through pre-rendered figures: every figure becomes a small PNG in a
``widgets.Stack``, and the slider's ``index`` is linked to the stack's ``selected_index`` in the
browser (``jslink``); a Python ``observe`` would never run in a static page.
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping, Sequence

import ipywidgets as widgets
from ipywidgets.widgets.widget_link import Link
from matplotlib.figure import Figure

DEFAULT_DPI = 60


class FigureSlider(widgets.VBox):
    """A captioned ``SelectionSlider`` over labels above a ``Stack`` of images, linked client-side.

    In the browser this is an ordinary ``VBox``; the Python attributes give access to its parts.
    """

    def __init__(self, label: widgets.HTML, slider: widgets.SelectionSlider, stack: widgets.Stack,
                 link: Link) -> None:
        super().__init__(children=[widgets.HBox([label, slider]), stack])
        self.label = label
        self.slider = slider
        self.stack = stack
        self.link = link

    @property
    def labels(self) -> tuple[str, ...]:
        """The slider's labels, in order (one per image)."""
        return tuple(self.slider.options)

    @property
    def images(self) -> tuple[widgets.Image, ...]:
        """The pre-rendered images, in slider order."""
        return tuple(self.stack.children)


def figure_png(figure: Figure, dpi: int = DEFAULT_DPI) -> bytes:
    """Render a matplotlib figure to PNG bytes at ``dpi``, keeping its size (frames do not jump)."""
    if not isinstance(figure, Figure):
        raise TypeError(f"expected a matplotlib Figure, got {type(figure).__name__}")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _labelled_figures(
    figures: Mapping[str, Figure] | Sequence[tuple[str, Figure]],
) -> list[tuple[str, Figure]]:
    """Validate the input and return it as a list of ``(label, figure)`` pairs."""
    if isinstance(figures, Mapping):
        pairs = list(figures.items())
    elif isinstance(figures, Sequence) and not isinstance(figures, (str, bytes)):
        pairs = list(figures)
    else:
        raise TypeError(
            f"figures must be a dict of label -> Figure or a list of (label, Figure), got {type(figures).__name__}"
        )
    if not pairs:
        raise ValueError("figure_slider needs at least one figure, got none")
    labels = []
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[1], Figure)):
            raise TypeError(f"each item must be a (label, matplotlib Figure) pair, got {pair!r}")
        labels.append(str(pair[0]))
    if len(set(labels)) != len(labels):
        raise ValueError(f"figure labels must be unique, got {labels}")
    return [(str(label), fig) for label, fig in pairs]


def figure_slider(
    figures: Mapping[str, Figure] | Sequence[tuple[str, Figure]],
    description: str = "sparsity",
    dpi: int = DEFAULT_DPI,
    close: bool = True,
) -> FigureSlider:
    """A slider that flips through pre-rendered figures, working without a kernel.

    Each figure is rendered once to a PNG at ``dpi`` (keep it low: every image is embedded in the
    page) and, if ``close``, closed in pyplot so the notebook does not also show it.
    """
    pairs = _labelled_figures(figures)
    if isinstance(dpi, bool) or not isinstance(dpi, int) or dpi < 10:
        raise ValueError(f"dpi must be an integer >= 10, got {dpi!r}")
    images = []
    for _, fig in pairs:
        images.append(widgets.Image(value=figure_png(fig, dpi), format="png"))
        if close:
            import matplotlib.pyplot as plt  # only to drop figures the caller made with pyplot

            plt.close(fig)
    labels = [label for label, _ in pairs]
    # The caption is an HTML widget, not the slider's description: the static page's widget
    # embedder typesets descriptions with the MathJax 2 API, which throws under Sphinx's MathJax 3.
    caption = widgets.HTML(value=f"<b>{html.escape(description)}</b>", layout=widgets.Layout(margin="0 0.8em 0 0"))
    slider = widgets.SelectionSlider(
        options=labels,
        index=0,
        continuous_update=True,
        layout=widgets.Layout(width="24rem", max_width="100%"),
    )
    stack = widgets.Stack(children=images, selected_index=0)
    link = widgets.jslink((slider, "index"), (stack, "selected_index"))
    return FigureSlider(caption, slider, stack, link)


__all__ = ["DEFAULT_DPI", "FigureSlider", "figure_png", "figure_slider"]
