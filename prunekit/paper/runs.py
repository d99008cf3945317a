"""What the chapters share when they gather their runs: the levels a profile sweeps and the grid's bookkeeping line."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prunekit.experiments.profiles import Profile
from prunekit.experiments.config import RunConfig
from prunekit.experiments.store import ResultStore
from prunekit.experiments.sweep import missing

_FALLBACKS = ("max", "min")


def profile_levels(profile: Profile, wanted: Iterable[float], fallback: str = "max") -> list[float]:
    """``wanted`` as given, except in the smoke profile: only the levels it sweeps, else its ``fallback`` level."""
    if fallback not in _FALLBACKS:
        raise ValueError(f"fallback must be one of {_FALLBACKS}, got {fallback!r}")
    levels = [float(s) for s in wanted]
    if profile.name != "smoke":
        return levels
    pick = max if fallback == "max" else min
    return [s for s in levels if s in profile.sparsities] or [pick(profile.sparsities)]


def grid_note(configs: Sequence[RunConfig], store: ResultStore, what: str = "runs in the grid") -> str:
    """'N runs in the grid, M found in results/<profile>/, K to train' for the configs a page is about to sweep."""
    todo = missing(configs, store)
    return (f"{len(configs)} {what}, {len(configs) - len(todo)} found in results/{store.root.name}/, "
            f"{len(todo)} to train")


__all__ = ["grid_note", "profile_levels"]
