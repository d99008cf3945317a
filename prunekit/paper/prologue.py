"""The one-line prologue every chapter notebook starts with, and the "produced by" line under its title.

A chapter's notebook cell reads ``page = open_page(profile, dataset=dataset, results_dir=results_dir,
seeds=seeds)``; everything a page repeats (profile lookup, dataset check, store location, seed list,
device, inline figures) happens here once, and is tested once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from IPython.display import Markdown

from prunekit._version import __version__
from prunekit.data import DatasetInfo, dataset_info, require_dataset
from prunekit.experiments.freshness import stale_note
from prunekit.experiments.profiles import Profile, get_profile
from prunekit.experiments.store import ResultStore
from prunekit.paper.book import results_dir_for
from prunekit.paper.runs import Requests, stored_requests
from prunekit.training.loop import resolve_device

SMOKE_NOTE = ("**Smoke profile**: tiny data and one epoch; the numbers on this page are noise, "
              "only the code path is exercised.")


@dataclass(frozen=True)
class Page:
    """What a chapter needs to run: its profile, dataset, store, seeds and device."""

    profile: Profile
    dataset: str | None
    info: DatasetInfo | None
    store: ResultStore
    seeds: tuple[int, ...]
    device: torch.device


def seed_list(profile: Profile, seeds: int | Iterable[int] | None) -> tuple[int, ...]:
    """The seeds a page runs: the profile's when ``seeds`` is None, ``range(seeds)`` for an int, else the list."""
    if seeds is None:
        return tuple(profile.seed_list)
    if isinstance(seeds, bool) or (isinstance(seeds, int) and seeds < 1):
        raise ValueError(f"seeds must be None, a positive int or a list of ints, got {seeds!r}")
    chosen = tuple(range(seeds)) if isinstance(seeds, int) else tuple(int(s) for s in seeds)
    if not chosen:
        raise ValueError("seeds must name at least one seed")
    return chosen


def open_page(profile: str | Profile | None = None, *, dataset: str | None = "mnist",
              results_dir: str | os.PathLike | None = None, seeds: int | Sequence[int] | None = None,
              inline_figures: bool = True) -> Page:
    """Resolve a chapter's parameters into a :class:`Page`; a missing dataset stops the page naming its files."""
    chosen = get_profile(profile or os.environ.get("PRUNEKIT_PROFILE", "cpu"))
    info = None
    if dataset is not None:
        require_dataset(dataset)
        info = dataset_info(dataset)
    if inline_figures:
        _inline_figures()
    return Page(profile=chosen, dataset=None if info is None else info.name, info=info,
                store=ResultStore(results_dir_for(chosen.name, results_dir)), seeds=seed_list(chosen, seeds),
                device=resolve_device("auto"))


def page_models(page: Page, models: str | Sequence[str] | None, *, structured: bool = False) -> list[str]:
    """The networks a page runs: the profile's defaults for its dataset when ``models`` is None, else those named."""
    if models is None:
        if page.dataset is None:
            raise ValueError("the profile's models depend on the dataset: open the page with one or name the models")
        return list(page.profile.models_for(page.dataset, structured=structured))
    chosen = [models] if isinstance(models, str) else list(models)
    if not chosen:
        raise ValueError("models must be None, a model name or a non-empty list of model names")
    return chosen


def image_counts(page: Page) -> str:
    """'60000 training / 10000 test images': the data a page's profile trains and tests on."""
    if page.info is None:
        raise ValueError("image_counts needs a page opened with a dataset, got dataset=None")
    return (f"{page.profile.train_limit or page.info.train_size} training / "
            f"{page.profile.test_limit or page.info.test_size} test images")


def _inline_figures() -> None:
    """Matplotlib figures inline in the executed page (what ``%matplotlib inline`` does), when in IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the book
        return
    shell = get_ipython()
    if shell is not None:
        shell.run_line_magic("matplotlib", "inline")


NO_RUNS = Requests()  # what a page that reads no run record passes as ``reads``: it gets no stale line


def produced_by(page: Page, details: str, reads: Requests | None = None) -> Markdown:
    """The line under a chapter's title: profile, data, ``details`` (what this page ran), versions, device, and
    how many of the records the page ``reads`` (its chapter's requests, :data:`NO_RUNS` for none; None: the whole
    store, for a page that reads every stored run) are stale."""
    data = f" on real {page.info.name.upper()}" if page.info is not None else ""
    text = (f"**This page was produced by** the `{page.profile.name}` profile ({page.profile.description}){data}: "
            f"{details.rstrip('.')}; prunekit {__version__}, torch {torch.__version__}, "
            f"on {page.device.type.upper()}.")
    if page.profile.name == "smoke":
        text += "\n\n" + SMOKE_NOTE
    if reads is not None:
        records, scope = stored_requests(reads, page.store), "this page reads"
    else:
        records, scope = page.store.records(), None
    freshness = stale_note(records, page.store, scope) if records else ""
    return Markdown(text + ("\n\n" + freshness if freshness else ""))


__all__ = ["NO_RUNS", "Page", "SMOKE_NOTE", "image_counts", "open_page", "page_models", "produced_by", "seed_list"]
