"""Figure 5: success probability of the ℓ2 Carlini–Wagner attack (foolbox 3) against a maximum ℓ2 distance ε.

Inputs. foolbox attacks images in their raw range, declared as ``bounds``, and the model applies
its own normalisation through foolbox's ``preprocessing`` (``(x − mean) / std`` per channel). For
prunekit's datasets the raw range is ``[0, 1]`` (uint8 / 255) and the normalisation is the
dataset's mean/std, exactly what :class:`prunekit.data.TensorBatches` feeds the model in training:
``(x / 255 − mean) / std``. :meth:`InputSpec.for_dataset` declares both, and :func:`denormalise`
turns batches from ``TensorBatches`` back into raw ``[0, 1]`` images. ε is therefore an ℓ2 norm in
raw ``[0, 1]`` pixel units (foolbox measures it in the bounds' units), not in normalised units.

Success follows foolbox: an input counts as fooled at ε when the adversarial found, with its
perturbation clipped to ℓ2 norm ε, is misclassified; inputs the model already misclassifies count
as fooled at every ε. Everything is validated before the (slow) attack runs.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import foolbox as fb
import numpy as np
import pandas as pd
import torch
from torch import nn

from prunekit.data import dataset_info, load_split
from prunekit.core.timing import model_device

ROUNDING_TOLERANCE = 1e-5  # relative to the bounds' range: what denormalise treats as float rounding


@dataclass(frozen=True)
class InputSpec:
    """What a model takes: per-sample shape, raw value bounds, and the per-channel normalisation it expects."""

    shape: tuple[int, ...]
    bounds: tuple[float, float] = (0.0, 1.0)
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        lo, hi = self.bounds
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise ValueError(f"bounds must be finite (lower, upper) with lower < upper, got {self.bounds!r}")
        if (self.mean is None) != (self.std is None):
            raise ValueError("mean and std must be given together (or both None for no normalisation)")
        if self.std is not None and any(s <= 0 for s in self.std):
            raise ValueError(f"std must be positive, got {self.std!r}")
        if self.mean is not None and (len(self.mean) != len(self.std) or len(self.mean) != self.shape[0]):
            raise ValueError(f"mean/std need one value per channel ({self.shape[0]} for shape {self.shape}), "
                             f"got {len(self.mean)} and {len(self.std)}")

    @classmethod
    def for_dataset(cls, dataset: str) -> InputSpec:
        """The spec of a prunekit dataset: its input shape, raw bounds (0, 1) and its mean/std."""
        info = dataset_info(dataset)
        return cls(tuple(info.input_shape), (0.0, 1.0), tuple(info.mean), tuple(info.std))

    def preprocessing(self) -> dict[str, object] | None:
        """foolbox's ``preprocessing`` argument: per-channel mean/std on axis −3 (channels first)."""
        if self.mean is None:
            return None
        return {"mean": list(self.mean), "std": list(self.std), "axis": -3}


def denormalise(normalised: torch.Tensor, spec: InputSpec) -> torch.Tensor:
    """Undo the spec's normalisation: ``x · std + mean``, the raw images (e.g. ``TensorBatches`` output → [0, 1]).

    Values within float rounding (``1e-5`` of the range) outside the bounds are clamped onto them;
    larger excursions are kept, so :func:`check_attack_inputs` still reports inputs that were not normalised.
    """
    if spec.mean is None:
        return normalised.clone()
    shape = (1, -1) + (1,) * (len(spec.shape) - 1)
    mean = torch.tensor(spec.mean, dtype=normalised.dtype, device=normalised.device).view(shape)
    std = torch.tensor(spec.std, dtype=normalised.dtype, device=normalised.device).view(shape)
    raw = normalised * std + mean
    lo, hi = spec.bounds
    tol = ROUNDING_TOLERANCE * (hi - lo)
    raw = torch.where((raw < lo) & (raw >= lo - tol), torch.full_like(raw, lo), raw)
    return torch.where((raw > hi) & (raw <= hi + tol), torch.full_like(raw, hi), raw)


def normalise(raw: torch.Tensor, spec: InputSpec) -> torch.Tensor:
    """Apply the spec's normalisation, ``(x − mean) / std``: raw images → what the model receives (inverse of
    :func:`denormalise`)."""
    if spec.mean is None:
        return raw.clone()
    shape = (1, -1) + (1,) * (len(spec.shape) - 1)
    mean = torch.tensor(spec.mean, dtype=raw.dtype, device=raw.device).view(shape)
    std = torch.tensor(spec.std, dtype=raw.dtype, device=raw.device).view(shape)
    return (raw - mean) / std


def first_test_images(dataset: str, n: int, root: str | os.PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` test images of ``dataset`` as raw float images in [0, 1] and their labels: a fixed subset,
    the same for every model it is used on."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    images, labels = load_split(dataset, False, root=root, limit=n)
    return images.to(torch.float32) / 255.0, labels


def check_attack_inputs(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, spec: InputSpec) -> None:
    """Raise before any attack runs: a model in training mode, wrong image shape, images outside bounds, bad labels."""
    training = [name or type(model).__name__ for name, m in model.named_modules() if m.training]
    if training:
        raise ValueError(f"the model must be in eval mode for an attack (call model.eval()); modules in training "
                         f"mode: {training[:5]}{' …' if len(training) > 5 else ''}")
    if not isinstance(images, torch.Tensor) or not images.dtype.is_floating_point:
        raise TypeError(f"images must be a floating-point torch.Tensor, got {getattr(images, 'dtype', type(images))}")
    if images.dim() != len(spec.shape) + 1 or tuple(images.shape[1:]) != tuple(spec.shape) or len(images) == 0:
        raise ValueError(f"images must have shape (N, {', '.join(map(str, spec.shape))}) with N >= 1 as the model "
                         f"expects, got {tuple(images.shape)}")
    if not torch.isfinite(images).all():
        raise ValueError("images contain NaN or infinite values")
    lo, hi = float(images.min()), float(images.max())
    if lo < spec.bounds[0] or hi > spec.bounds[1]:
        raise ValueError(f"images span [{lo:.4g}, {hi:.4g}], outside the declared bounds {spec.bounds}: pass raw "
                         f"images (e.g. denormalise() the normalised batches), not what the model receives")
    if not isinstance(labels, torch.Tensor) or labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise TypeError(f"labels must be an integer torch.Tensor, got {getattr(labels, 'dtype', type(labels))}")
    if tuple(labels.shape) != (len(images),):
        raise ValueError(f"labels must have shape ({len(images)},), one per image, got {tuple(labels.shape)}")


def _check_epsilons(epsilons: Sequence[float]) -> list[float]:
    """``epsilons`` as a non-empty list of finite floats >= 0, else ValueError."""
    try:
        values = [float(e) for e in epsilons]
    except (TypeError, ValueError):
        raise ValueError(f"epsilons must be a sequence of ℓ2 distances (numbers), got {epsilons!r}") from None
    if not values or any(not math.isfinite(e) or e < 0 for e in values):
        raise ValueError(f"epsilons must be a non-empty sequence of finite ℓ2 distances >= 0, got {list(epsilons)!r}")
    return values


@contextlib.contextmanager
def frozen_parameters(model: nn.Module) -> Iterator[None]:
    """Turn off ``requires_grad`` of every parameter for the block (restored after), so no ``.grad`` is written."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def foolbox_model(model: nn.Module, spec: InputSpec) -> fb.PyTorchModel:
    """The model wrapped for foolbox with the spec's bounds and normalisation, on the model's own device."""
    return fb.PyTorchModel(model, bounds=spec.bounds, preprocessing=spec.preprocessing(), device=model_device(model))


def cw_attack(steps: int = 1000, binary_search_steps: int = 9, stepsize: float = 1e-2,
              confidence: float = 0.0) -> fb.attacks.L2CarliniWagnerAttack:
    """foolbox's ℓ2 Carlini–Wagner attack (its defaults except ``steps``, 10 000 in foolbox)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    return fb.attacks.L2CarliniWagnerAttack(binary_search_steps=binary_search_steps, steps=steps,
                                            stepsize=stepsize, confidence=confidence)


def fooled_images(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, epsilons: Sequence[float],
                  spec: InputSpec, attack: fb.attacks.Attack | None = None) -> np.ndarray:
    """Whether the attack (default: :func:`cw_attack`) fools each image within each ℓ2 distance ε: a
    ``(len(epsilons), N)`` array of 0/1. ``images`` are raw (within ``spec.bounds``); the model must be in eval mode."""
    eps = _check_epsilons(epsilons)
    check_attack_inputs(model, images, labels, spec)
    device = model_device(model)
    attack = cw_attack() if attack is None else attack
    # foolbox back-propagates to the inputs with .backward(), which would also fill the weights' .grad.
    with frozen_parameters(model):
        _raw, _clipped, success = attack(foolbox_model(model, spec), images.to(device), labels.to(device).long(),
                                         epsilons=eps)
    return success.to(torch.int64).cpu().numpy()


def attack_success(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    epsilons: Sequence[float],
    spec: InputSpec,
    attack: fb.attacks.Attack | None = None,
) -> pd.DataFrame:
    """Fraction of ``images`` the attack (default: :func:`cw_attack`) fools within each ℓ2 distance ε.

    ``images`` are raw (within ``spec.bounds``) of shape ``(N, *spec.shape)``; the model must be
    in eval mode. Returns columns ``epsilon``, ``success_rate``, ``fooled`` and ``n``.
    """
    fooled = fooled_images(model, images, labels, epsilons, spec, attack).sum(axis=-1)
    return pd.DataFrame({"epsilon": [float(e) for e in epsilons], "success_rate": (fooled / len(images)).tolist(),
                         "fooled": fooled.tolist(), "n": len(images)})


def attack_each(models: Mapping[str, nn.Module], images: torch.Tensor, labels: torch.Tensor,
                epsilons: Sequence[float], spec: InputSpec, attack: fb.attacks.Attack | None = None, *,
                column: str = "method") -> pd.DataFrame:
    """:func:`attack_success` of every model on the same images, one block of rows per model labelled in ``column``."""
    if not models:
        raise ValueError("attack_each needs at least one model")
    frames = [attack_success(model, images, labels, epsilons, spec, attack).assign(**{column: name})
              for name, model in models.items()]
    return pd.concat(frames, ignore_index=True)


def compare_success(frame: pd.DataFrame, a: str, b: str, *, method: str = "method") -> pd.DataFrame:
    """Success rates of methods ``a`` and ``b`` side by side per ε, with ``a_at_most_b`` (``a`` no more often
    fooled than ``b`` there); a last row ``mean`` holds the means over the ε grid."""
    for column in (method, "epsilon", "success_rate"):
        if column not in frame.columns:
            raise ValueError(f"the frame lacks column {column!r}; it has {list(frame.columns)}")
    found = set(frame[method].astype(str))
    absent = [m for m in (a, b) if m not in found]
    if absent:
        raise ValueError(f"method(s) {absent} are not in the frame; it has {sorted(found)}")
    wide = frame[frame[method].isin([a, b])].pivot_table(index="epsilon", columns=method, values="success_rate")
    if wide[[a, b]].isna().any().any():
        raise ValueError(f"{a} and {b} were not attacked at the same ε values")
    out = pd.DataFrame({"epsilon": wide.index.astype(object), a: wide[a].to_numpy(), b: wide[b].to_numpy()})
    out.loc[len(out)] = ["mean", float(wide[a].mean()), float(wide[b].mean())]
    out["a_at_most_b"] = out[a] <= out[b] + 1e-12
    return out


__all__ = ["InputSpec", "attack_each", "attack_success", "check_attack_inputs", "compare_success", "cw_attack",
           "denormalise", "first_test_images", "fooled_images", "foolbox_model", "frozen_parameters", "normalise"]
