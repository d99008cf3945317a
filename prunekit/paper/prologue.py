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
from prunekit.experiments.profiles import Profile, get_profile
from prunekit.experiments.store import ResultStore
from prunekit.paper.book import results_dir_for
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


def _inline_figures() -> None:
    """Matplotlib figures inline in the executed page (what ``%matplotlib inline`` does), when in IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of the book
        return
    shell = get_ipython()
    if shell is not None:
        shell.run_line_magic("matplotlib", "inline")


def produced_by(page: Page, details: str) -> Markdown:
    """The line under a chapter's title: profile, data, ``details`` (what this page ran), versions, device."""
    data = f" on real {page.info.name.upper()}" if page.info is not None else ""
    text = (f"**This page was produced by** the `{page.profile.name}` profile ({page.profile.description}){data}: "
            f"{details.rstrip('.')}; prunekit {__version__}, torch {torch.__version__}, "
            f"on {page.device.type.upper()}.")
    if page.profile.name == "smoke":
        text += "\n\n" + SMOKE_NOTE
    return Markdown(text)


__all__ = ["Page", "SMOKE_NOTE", "open_page", "produced_by", "seed_list"]
