"""What the chapters share when they gather their runs: the levels a profile sweeps and the grid's bookkeeping line."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prunekit.experiments.profiles import Profile
from prunekit.experiments.config import RunConfig
from prunekit.experiments.record import RunRecord
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


@dataclass(frozen=True)
class Requests:
    """What a chapter page reads from its store: run records, and runs whose trained network it loads too."""

    runs: tuple[RunConfig, ...] = ()
    kept_models: tuple[RunConfig, ...] = ()

    def missing(self, store: ResultStore) -> list[RunConfig]:
        """The requested runs ``store`` lacks: records first, then runs stored without their network."""
        return missing(self.runs, store) + missing(self.kept_models, store, keep_models=True)

    def keys(self) -> set[str]:
        """The run keys of every request."""
        return {c.key for c in (*self.runs, *self.kept_models)}


def stored_requests(requests: Requests, store: ResultStore) -> list[RunRecord]:
    """The stored records of ``requests``, each run once."""
    unique = {c.key: c for c in (*requests.runs, *requests.kept_models)}
    return [r for r in (store.get(c) for c in unique.values()) if r is not None]


def requesting(runs: Iterable[RunConfig] = (), kept_models: Iterable[RunConfig] = ()) -> Requests:
    """A :class:`Requests` of ``runs`` and ``kept_models``."""
    return Requests(tuple(runs), tuple(kept_models))


__all__ = ["Requests", "grid_note", "profile_levels", "requesting", "stored_requests"]
