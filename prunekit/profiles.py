"""Run budgets (smoke / cpu / paper): one definition used by the CLI, the sweeps and every notebook.

A profile changes budgets only (epochs, seeds, data subsets, scoring samples, the sparsity
grid), never which code runs: every profile goes through the same ``experiments.run``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

PROFILE_ENV = "PRUNEKIT_PROFILE"
DEFAULT_PROFILE = "cpu"


@dataclass(frozen=True)
class Profile:
    """The budget of an experiment: how long, how many seeds, how much data, which sparsities."""

    name: str
    description: str
    epochs: int
    seeds: int
    train_limit: int | None  # training samples used (None: the full training set)
    test_limit: int | None  # test samples evaluated (None: the full test set)
    samples: int  # criterion scoring budget per round (the paper's 2560 = 5 × 512)
    scoring_batch_size: int
    sparsities: tuple[float, ...]
    models: tuple[str, ...] = ("mlp5",)  # the architectures a results chapter sweeps by default
    structured_models: tuple[str, ...] | None = None  # the structured chapters' architectures (None: ``models``)
    structured_baseline_seeds: tuple[tuple[str, int], ...] = ()  # (model, n): its structured baselines run n seeds

    def __post_init__(self) -> None:
        for name in ("epochs", "seeds", "samples", "scoring_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "epochs" else 1):
                raise ValueError(f"profile {self.name!r}: {name} must be a positive integer, got {value!r}")
        for name in ("train_limit", "test_limit"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"profile {self.name!r}: {name} must be None or a positive integer, got {value!r}")
        if not self.sparsities or not all(0.0 < s < 1.0 for s in self.sparsities):
            raise ValueError(f"profile {self.name!r}: sparsities must be fractions in (0, 1), got {self.sparsities!r}")

    @property
    def structured_model_list(self) -> tuple[str, ...]:
        """The architectures the structured chapters (Tables 1 and 4, Appendices B and C) sweep."""
        return self.models if self.structured_models is None else self.structured_models

    @property
    def seed_list(self) -> tuple[int, ...]:
        """The seeds a sweep in this profile runs: ``0 .. seeds-1``."""
        return tuple(range(self.seeds))


_SPARSITY_GRID = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995)

# Every budget number of the project lives here; tune them in this one place.
PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="smoke",
            description="seconds per run, for CI and nbval: 2048 training / 1024 test samples, 1 epoch, 1 seed",
            epochs=1,
            seeds=1,
            train_limit=2048,
            test_limit=1024,
            samples=512,
            scoring_batch_size=512,
            sparsities=(0.9, 0.98),
        ),
        Profile(
            name="cpu",
            description="real data on a 2-core laptop: full training set, 6 epochs, 3 seeds",
            epochs=6,
            seeds=3,
            train_limit=None,
            test_limit=None,
            samples=2560,
            scoring_batch_size=512,
            sparsities=_SPARSITY_GRID,
            structured_models=("mlp5", "lenet5"),  # LeNet5 trains in ~8 s an epoch here; Conv6 in ~10 min
        ),
        Profile(
            name="mnist-paper",
            description="the paper's budget on the one dataset we have (Table 3: MLP5 on MNIST): 80 epochs, 5 seeds, "
                        "full data",
            epochs=80,
            seeds=5,
            train_limit=None,
            test_limit=None,
            samples=2560,
            scoring_batch_size=512,
            sparsities=(0.96, 0.97, 0.98),  # Table 3's operating points (prunekit.table3.TABLE3_POINTS)
        ),
        Profile(
            name="paper",
            description="the paper's budget (meant for a GPU): 80 epochs, 5 seeds, full data",
            epochs=80,
            seeds=5,
            train_limit=None,
            test_limit=None,
            samples=2560,
            scoring_batch_size=512,
            sparsities=_SPARSITY_GRID + (0.999,),
            models=("lenet5", "mlp5", "conv6", "resnet18"),
            structured_models=("vgg16", "alexnet", "lenet5"),  # Tables 1 and 4; Figures 11 and 13 (LeNet5)
        ),
    )
}


def available_profiles() -> list[str]:
    """Names accepted by ``get_profile``."""
    return list(PROFILES)


def get_profile(name: str | Profile) -> Profile:
    """Return the named profile (case-insensitive), or pass a Profile through."""
    if isinstance(name, Profile):
        return name
    key = name.strip().lower() if isinstance(name, str) else None
    if key not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; accepted profiles: {', '.join(PROFILES)}")
    return PROFILES[key]


def default_profile_name() -> str:
    """The profile named by the environment variable PRUNEKIT_PROFILE, else ``cpu``."""
    return os.environ.get(PROFILE_ENV, "").strip() or DEFAULT_PROFILE
