"""Run budgets (smoke / cpu / paper): one definition used by the CLI, the sweeps and every notebook.

A profile changes budgets only (epochs, seeds, data subsets, scoring samples, the sparsity
grid), never which code runs: every profile goes through the same ``experiments.run``.

Budgets can depend on the input size (issue #16): the same smoke limits cost 20-60x more on Imagenette's
3×128×128 images than on MNIST. MLP5's first layer grows with the input (784×512 weights on MNIST,
49152×512 = 26 M on Imagenette), and SynFlow re-scores and re-ranks all weights 100 times (~4.6 s of CPU a
round there, ~8 minutes a run: the run that stalled ``table2.ipynb`` in the smoke profile on an Imagenette
folder). So a profile may cap, per run, the network's prunable weights (a bigger default network is swapped
for ``small_models``: :meth:`Profile.models_for`), its training FLOPs and its scoring FLOPs (the data limits
shrink to fit: :meth:`Profile.limits_for`, applied by ``RunConfig.from_profile``).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
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
    max_weights: int | None = None  # a default network with more prunable weights on the input is swapped ...
    small_models: tuple[str, ...] = ("lenet5",)  # ... for the first of these (weights independent of the input)
    max_train_flops: float | None = None  # per run: 3 × forward FLOPs × training samples × epochs (and evaluation)
    max_scoring_flops: float | None = None  # per run: 3 × forward FLOPs × scoring samples × SCORING_ROUNDS

    def __post_init__(self) -> None:
        for name in ("epochs", "seeds", "samples", "scoring_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "epochs" else 1):
                raise ValueError(f"profile {self.name!r}: {name} must be a positive integer, got {value!r}")
        for name in ("train_limit", "test_limit"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"profile {self.name!r}: {name} must be None or a positive integer, got {value!r}")
        if self.max_weights is not None and (isinstance(self.max_weights, bool) or not isinstance(self.max_weights, int)
                                             or self.max_weights < 1):
            raise ValueError(f"profile {self.name!r}: max_weights must be None or a positive integer, "
                             f"got {self.max_weights!r}")
        for name in ("max_train_flops", "max_scoring_flops"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise ValueError(f"profile {self.name!r}: {name} must be None or a positive number, got {value!r}")
        if not self.small_models:
            raise ValueError(f"profile {self.name!r}: small_models must name at least one network")
        if not self.sparsities or not all(0.0 < s < 1.0 for s in self.sparsities):
            raise ValueError(f"profile {self.name!r}: sparsities must be fractions in (0, 1), got {self.sparsities!r}")

    @property
    def structured_model_list(self) -> tuple[str, ...]:
        """The architectures the structured chapters (Tables 1 and 4, Appendices B and C) sweep."""
        return self.models if self.structured_models is None else self.structured_models

    def models_for(self, dataset: str, structured: bool = False) -> tuple[str, ...]:
        """The default networks of a chapter on ``dataset``, those over ``max_weights`` there swapped for a small one."""
        chosen = self.structured_model_list if structured else self.models
        if self.max_weights is None:
            return chosen
        shape = _input_shape(dataset)
        swapped = [m if network_cost(m, shape)[0] <= self.max_weights else self.small_models[0] for m in chosen]
        return tuple(dict.fromkeys(swapped))

    def limits_for(self, model: str, dataset: str) -> dict[str, int | None]:
        """Data limits of one run (train/test limit, scoring samples and batch) within the FLOP caps."""
        limits = {"train_limit": self.train_limit, "test_limit": self.test_limit, "samples": self.samples,
                  "scoring_batch_size": self.scoring_batch_size}
        if self.max_train_flops is None and self.max_scoring_flops is None:
            return limits
        flops = network_cost(model, _input_shape(dataset))[1]
        epochs = max(self.epochs, 1)
        if self.max_train_flops is not None:
            limits["train_limit"] = _capped(self.train_limit, self.max_train_flops / (3 * flops * epochs))
            limits["test_limit"] = _capped(self.test_limit, self.max_train_flops / (3 * flops * epochs))
        if self.max_scoring_flops is not None:
            limits["samples"] = _capped(self.samples, self.max_scoring_flops / (3 * flops * SCORING_ROUNDS))
            limits["scoring_batch_size"] = min(self.scoring_batch_size, limits["samples"])
        return limits

    @property
    def seed_list(self) -> tuple[int, ...]:
        """The seeds a sweep in this profile runs: ``0 .. seeds-1``."""
        return tuple(range(self.seeds))


SCORING_ROUNDS = 20  # scoring passes a criterion may make per run (FORCE's rounds; SynFlow's are data-free)
MIN_SAMPLES = 16  # a FLOP cap never leaves fewer samples than this


def _capped(limit: int | None, allowed: float) -> int:
    """``limit`` (None: unlimited) lowered to ``allowed`` samples, but never below :data:`MIN_SAMPLES`."""
    allowed = max(MIN_SAMPLES, math.floor(allowed))
    return allowed if limit is None else min(limit, allowed)


def _input_shape(dataset: str) -> tuple[int, ...]:
    from prunekit.data import dataset_info

    return tuple(dataset_info(dataset).input_shape)


@functools.lru_cache(maxsize=None)
def network_cost(model: str, input_shape: Sequence[int], num_classes: int = 10) -> tuple[int, int]:
    """(prunable weights, forward FLOPs per sample) of a paper network on ``input_shape`` (built on the meta device)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from prunekit.core.masks import prunable_layers
    from prunekit.models import build_model

    with torch.device("meta"):
        net = build_model(model, tuple(input_shape), num_classes).eval()
        weights = sum(m.weight.numel() for m in prunable_layers(net).values())
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            net(torch.zeros(1, *input_shape))
    return int(weights), int(counter.get_total_flops())


_SPARSITY_GRID = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995)

# Every budget number of the project lives here; tune them in this one place.
PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="smoke",
            description="seconds per run, for CI and nbval: 2048 training / 1024 test samples, 1 epoch, 1 seed "
                        "(fewer, and LeNet5 for MLP5, on large inputs)",
            epochs=1,
            seeds=1,
            train_limit=2048,
            test_limit=1024,
            samples=512,
            scoring_batch_size=512,
            sparsities=(0.9, 0.98),
            # MNIST and CIFAR10 runs keep the limits above (MLP5: 1.2 M / 2.4 M weights, 15 / 29 GFLOP of training);
            # on Imagenette MLP5 (26 M weights) becomes LeNet5 and its data limits shrink to these FLOPs
            max_weights=4_000_000,
            max_train_flops=1e11,
            max_scoring_flops=2e11,
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
            sparsities=(0.96, 0.97, 0.98),  # Table 3's operating points (prunekit.experiments.table3.TABLE3_POINTS)
        ),
        Profile(
            name="l0-native",
            description="Figure 11's setting for L0 (prunekit.experiments.l0_native): LeNet5 on MNIST, 100 epochs "
                        "(L0 trains 200, the L0 authors' budget), 3 seeds, full data",
            epochs=100,
            seeds=3,
            train_limit=None,
            test_limit=None,
            samples=2560,
            scoring_batch_size=512,
            sparsities=(0.5,),  # not swept: L0's node sparsity follows from its λ
            models=("lenet5",),
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
