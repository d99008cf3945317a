"""The robustness chapter (Section 5, Figures 3–5): which stored network stands for each method at each sparsity,
and the per-checkpoint measurements (saliency concentration, attack success) collected into frames.

A *checkpoint* is the trained network of one run kept in the results store
(:meth:`prunekit.experiments.store.ResultStore.load_model`). A method that targets a sparsity is represented at a
level by its run at that level; HoyerSquare, whose sparsity follows from its regulariser strength λ,
by the λ run whose stored sparsity is closest to the level (the paper: "we had to interpolate to 99 %
sparsity from the closest point"), so its network may sit a little below or above the level.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import foolbox as fb
import numpy as np
import pandas as pd
import torch
from torch import nn

from prunekit.analysis.robustness import InputSpec, fooled_images
from prunekit.analysis.saliency import TOP_FRACTION, region_share, saliency_maps, top_share
from prunekit.criteria.weight.hoyersquare import LAMBDA_GRID
from prunekit.experiments.config import RunConfig
from prunekit.experiments.methods import PAPER_UNSTRUCTURED, get_method, method_configs
from prunekit.experiments.profiles import Profile, get_profile
from prunekit.experiments.store import ResultStore
from prunekit.experiments.sweep import missing
from prunekit.paper.prologue import Page
from prunekit.paper.runs import Requests, requesting

PAPER_LEVELS: tuple[float, ...] = (0.98, 0.99, 0.995)  # the checkpoints kept around the paper's κ = 0.99
PAPER_KAPPA = 0.99  # Figures 3, 4 and 5b are drawn at this sparsity
Checkpoint = tuple[str, float]  # (method key, sparsity level)
EPSILONS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)  # ℓ2 caps in raw [0, 1] pixel units
FIGURE_5A_EPSILON = 0.5  # Figure 5a: success against sparsity at ℓ2 distance ≤ 0.5


@dataclass(frozen=True)
class AttackBudget:
    """How many test images the chapter attacks, and the Carlini–Wagner optimisation budget per image batch."""

    images: int
    steps: int
    binary_search_steps: int


# foolbox's own defaults are 10 000 steps and 9 binary-search steps; on a 2-core CPU one MLP5 takes about 8 s
# for 100 images at 200 × 5, so the cpu chapter attacks its 21 networks in about three minutes.
ATTACK_BUDGETS: dict[str, AttackBudget] = {
    "smoke": AttackBudget(images=16, steps=20, binary_search_steps=2),
    "cpu": AttackBudget(images=100, steps=200, binary_search_steps=5),
    "paper": AttackBudget(images=1000, steps=1000, binary_search_steps=9),
}


def attack_budget(profile: str | Profile) -> AttackBudget:
    """The attack budget of a profile (the cpu one for a profile without its own)."""
    return ATTACK_BUDGETS.get(get_profile(profile).name, ATTACK_BUDGETS["cpu"])


def chapter_levels(profile: str | Profile, levels: Sequence[float] | None = None,
                   kappa: float = PAPER_KAPPA) -> tuple[list[float], float]:
    """The checkpoint levels and the focus sparsity of a profile: ``levels`` (default: the paper's 98, 99 and
    99.5 % that the profile sweeps, else its highest level) and ``kappa`` if among them, else the closest one."""
    chosen = get_profile(profile)
    if levels is None:
        levels = [s for s in PAPER_LEVELS if any(abs(s - p) < 1e-9 for p in chosen.sparsities)]
        levels = levels or [max(chosen.sparsities)]
    levels = sorted(float(s) for s in levels)
    if not levels or not all(0.0 < s < 1.0 for s in levels):
        raise ValueError(f"levels must be sparsities in (0, 1), got {levels!r}")
    focus = min(levels, key=lambda s: abs(s - kappa))
    return levels, focus


def lambda_configs(profile: str | Profile, *, model: str, dataset: str, seed: int = 0,
                   methods: Sequence[str] = PAPER_UNSTRUCTURED, lambdas: Sequence[float] = LAMBDA_GRID
                   ) -> list[RunConfig]:
    """The λ runs (one seed) of the methods whose sparsity follows from λ: their records pick the checkpoints."""
    return [c for key in methods if get_method(key).sweeps_lambda
            for c in method_configs(key, profile, model=model, dataset=dataset, seeds=[seed], lambdas=lambdas)]


def checkpoint_configs(store: ResultStore, profile: str | Profile, *, model: str, dataset: str,
                       levels: Sequence[float], seed: int = 0, methods: Sequence[str] = PAPER_UNSTRUCTURED,
                       lambdas: Sequence[float] = LAMBDA_GRID) -> dict[Checkpoint, RunConfig]:
    """Per (method, level), the run whose network represents the method there (one seed).

    A λ method takes the λ run whose stored weight sparsity is closest to the level, so its λ runs'
    records must be in ``store`` (sweep :func:`lambda_configs` first); missing ones raise ValueError.
    """
    chosen: dict[Checkpoint, RunConfig] = {}
    for key in methods:
        method = get_method(key)
        if not method.sweeps_lambda:
            for level in levels:
                (config,) = method_configs(method, profile, model=model, dataset=dataset, seeds=[seed],
                                           sparsities=[level])
                chosen[(key, float(level))] = config
            continue
        runs = method_configs(method, profile, model=model, dataset=dataset, seeds=[seed], lambdas=lambdas)
        stored = {c.key: store.get(c) for c in runs}
        absent = [dict(c.criterion_options)["lam"] for c in runs if stored[c.key] is None]
        if absent:
            raise ValueError(f"{key}: the records of λ = {absent} (seed {seed}) are not in {store.root}; sweep "
                             f"lambda_configs(...) first, their sparsities pick the checkpoints")
        for level in levels:
            chosen[(key, float(level))] = min(
                runs, key=lambda c: abs(stored[c.key].metrics["weight_sparsity"] - level))
    return chosen


def checkpoint_table(store: ResultStore, checkpoints: Mapping[Checkpoint, RunConfig]) -> pd.DataFrame:
    """One row per checkpoint: method, level, key, λ (HoyerSquare), the run's weight sparsity and test accuracy."""
    rows = []
    for (method, level), config in checkpoints.items():
        record = store.get(config)
        if record is None:
            raise ValueError(f"checkpoint {method} at {level:g} ({config.key}) has no record in {store.root}")
        rows.append({"method": method, "level": level, "key": config.key,
                     "lam": dict(config.criterion_options).get("lam"),
                     "weight_sparsity": float(record.metrics["weight_sparsity"]), "accuracy": record.accuracy})
    return pd.DataFrame(rows)


def load_checkpoints(store: ResultStore, checkpoints: Mapping[Checkpoint, RunConfig]) -> dict[Checkpoint, nn.Module]:
    """Every checkpoint's trained network from ``store`` (eval mode, CPU)."""
    return {name: store.load_model(config) for name, config in checkpoints.items()}


def at_level(models: Mapping[Checkpoint, nn.Module], level: float) -> dict[str, nn.Module]:
    """The networks of one level, keyed by method."""
    found = {method: model for (method, lvl), model in models.items() if abs(lvl - level) < 1e-9}
    if not found:
        raise ValueError(f"no checkpoint at level {level!r}; levels: {sorted({lvl for _, lvl in models})}")
    return found


def saliency_by_method(models: Mapping[str, nn.Module], inputs: torch.Tensor) -> dict[str, torch.Tensor]:
    """The (N, H, W) saliency maps of the same (normalised) inputs under each method's network."""
    return {method: saliency_maps(model, inputs) for method, model in models.items()}


def blank_pixels(images: torch.Tensor) -> torch.Tensor:
    """The (H, W) pixels that are zero in every one of the raw ``images`` (N, C, H, W), in every channel."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise ValueError(f"images must be a (N, C, H, W) tensor, got {getattr(images, 'shape', type(images))}")
    return (images == 0).all(dim=0).all(dim=0)


def concentration_table(models: Mapping[Checkpoint, nn.Module], inputs: torch.Tensor,
                        fraction: float = TOP_FRACTION, blank: torch.Tensor | None = None) -> pd.DataFrame:
    """Per checkpoint, the share of total saliency on the top ``fraction`` of pixels: mean, std and n over the
    inputs whose map is not all zero, and ``blind``, the number of inputs whose predicted class score does not
    depend on the input at all (an all-zero map, see :func:`top_share`). With a ``blank`` pixel mask
    (:func:`blank_pixels`), ``blank_share`` is the mean share of saliency on those pixels."""
    rows = []
    for (method, level), model in models.items():
        maps = saliency_maps(model, inputs)
        shares = top_share(maps, fraction)
        seen = ~torch.isnan(shares)
        row = {"method": method, "level": level,
               "top_share": float(shares[seen].mean()) if seen.any() else float("nan"),
               "top_share_std": float(shares[seen].std()) if int(seen.sum()) > 1 else 0.0, "n": int(seen.sum()),
               "blind": int((~seen).sum())}
        if blank is not None:
            row["blank_share"] = float(region_share(maps, blank)[seen].mean()) if seen.any() else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def attack_checkpoints(models: Mapping[Checkpoint, nn.Module], images: torch.Tensor, labels: torch.Tensor,
                       epsilons: Sequence[float], spec: InputSpec,
                       attack: fb.attacks.Attack | None = None) -> pd.DataFrame:
    """Attack success per checkpoint and ε on the same images: ``method``, ``level``, ``epsilon``,
    ``success_rate``, ``fooled``, ``n``."""
    return success_frame(fooled_per_image(models, images, labels, epsilons, spec, attack), epsilons)


def fooled_per_image(models: Mapping[Checkpoint, nn.Module], images: torch.Tensor, labels: torch.Tensor,
                     epsilons: Sequence[float], spec: InputSpec,
                     attack: fb.attacks.Attack | None = None) -> dict[Checkpoint, np.ndarray]:
    """Per checkpoint, whether the attack (default: ``cw_attack()``) fools each image within each ε: a
    (len(epsilons), N) array of 0/1, the per-image outcomes behind :func:`attack_checkpoints`."""
    if not models:
        raise ValueError("need at least one model to attack, got none")
    return {name: fooled_images(model, images, labels, epsilons, spec, attack) for name, model in models.items()}


def success_frame(fooled: Mapping[Checkpoint, np.ndarray], epsilons: Sequence[float]) -> pd.DataFrame:
    """:func:`attack_checkpoints`'s frame from per-image outcomes: level by level, method by method, ε by ε."""
    eps = [float(e) for e in epsilons]
    frames = []
    for level in sorted({lvl for _, lvl in fooled}):
        for (method, lvl), hits in fooled.items():
            if abs(lvl - level) < 1e-9:
                counts = hits.sum(axis=1).astype(float)
                frames.append(pd.DataFrame({"epsilon": eps, "success_rate": (counts / hits.shape[1]).tolist(),
                                            "fooled": counts.astype(int).tolist(), "n": hits.shape[1],
                                            "method": method, "level": level}))
    return pd.concat(frames, ignore_index=True)


def unit_entries(fooled: Mapping[Checkpoint, np.ndarray], networks: Mapping[Checkpoint, nn.Module],
                 inputs: torch.Tensor, checkpoints: Mapping[Checkpoint, RunConfig], epsilons: Sequence[float], *,
                 model: str, dataset: str, fraction: float = TOP_FRACTION) -> list[dict]:
    """The per-image values the registered claims of Figures 3 and 5 are decided on: per kept network, attack success
    (0/1) at each ε and the top-pixel saliency share of each image whose map is not all zero."""
    entries = []
    for (method, level), network in networks.items():
        config = checkpoints[(method, level)]
        common = {"model": model, "dataset": dataset, "method": method, "level": level, "key": config.key,
                  "seed": config.seed}
        for i, eps in enumerate(epsilons):
            entries.append({**common, "metric": "attack_success", "epsilon": float(eps),
                            "values": fooled[(method, level)][i].tolist()})
        shares = top_share(saliency_maps(network, inputs), fraction)
        entries.append({**common, "metric": "top_share", "values": shares[~torch.isnan(shares)].tolist()})
    return entries


def record_units(fooled: Mapping[Checkpoint, np.ndarray], networks: Mapping[Checkpoint, nn.Module],
                 inputs: torch.Tensor, checkpoints: Mapping[Checkpoint, RunConfig], epsilons: Sequence[float],
                 results_root: str | os.PathLike, *, model: str, dataset: str) -> Path:
    """Write :func:`unit_entries` to ``<results>/claims/robustness-units.json`` for the summary page; its path."""
    from prunekit.paper.checks import record_units as write

    return write("robustness", "image", unit_entries(fooled, networks, inputs, checkpoints, epsilons, model=model,
                                                     dataset=dataset), results_root)


# ------------------------------------------------------------------------------------------ the chapter page
# What the robustness notebook shows and checks; the notebook only calls these and displays their results.

# Section 5's statements that are registered claims (prunekit.paper.registry): the summary page decides them under
# the one statistical rule, per image (robustness-units.json, written by record_units) or per seed (the records).
# This page's table reads every statement descriptively on one network and names the claim beside it.
REGISTERED: dict[str, str] = {
    "Fig. 4: SNIP's bias towards earlier layers": "cpu-fig4-snip-earlier-hardest",
    "Fig. 4: a downward parabola-like shape for SNIP-it (before)": "cpu-fig4-snip-it-parabola",
    "Fig. 4: a downward parabola-like shape for SNIP-it (during)": "cpu-fig4-snip-it-during-parabola",
    "Fig. 3: SNIP overfits on few pixels, compared to GraSP and SNIP-it (before)":
        "cpu-fig3-snip-more-concentrated-than-grasp, cpu-fig3-snip-more-concentrated-than-snip-it",
    "Fig. 5: SNIP-it improves in robustness from SNIP (before training)": "cpu-fig5a-snip-it-more-robust-than-snip",
    "Fig. 5: … in the low-distance regime ℓ2 ≤ 1": "cpu-fig5b-low-distance-snip-it-more-robust",
    "Fig. 5: SNIP-it improves in robustness from SNIP (during training)":
        "cpu-fig5a-snip-it-during-more-robust-than-snip",
}
# The statements this page still records as checks of this edition: none, since every one it recorded is registered
# above (a statement is counted once, as a claim).
LEDGER: tuple[tuple[str, str], ...] = ()
LOW_DISTANCE = 1.0  # Section 5's "low-distance regime where the ℓ2-norm ≤ 1"


def prepare_checkpoints(store: ResultStore, profile: str | Profile, *, model: str, dataset: str,
                        levels: Sequence[float], seed: int, methods: Sequence[str]) -> tuple[dict, int]:
    """Train HoyerSquare's λ runs and any kept network the store lacks; the checkpoints and how many were missing."""
    from prunekit.experiments.sweep import missing, sweep

    # HoyerSquare's λ runs first: their sparsities pick its checkpoints
    sweep(lambda_configs(profile, model=model, dataset=dataset, seed=seed, methods=methods), store, progress=False)
    checkpoints = checkpoint_configs(store, profile, model=model, dataset=dataset, levels=levels, seed=seed,
                                     methods=methods)
    todo = missing(list(checkpoints.values()), store, keep_models=True)
    sweep(list(checkpoints.values()), store, progress=False, keep_models=True)
    return checkpoints, len(todo)


def requests(page: Page, *, model: str = "mlp5", checkpoint_seed: int = 0, levels: Sequence[float] | None = None,
             kappa: float = PAPER_KAPPA) -> Requests:
    """The runs the page reads (Figure 4's grid, the λ runs) and the kept networks of Figures 3 and 5."""
    methods = list(PAPER_UNSTRUCTURED)
    grid = [c for key in methods for c in method_configs(key, page.profile, model=model, dataset=page.dataset,
                                                         seeds=page.seeds)]
    lambda_runs = lambda_configs(page.profile, model=model, dataset=page.dataset, seed=checkpoint_seed, methods=methods)
    if missing(lambda_runs, page.store):  # the λ runs pick the λ checkpoints: without them only the others are known
        methods = [key for key in methods if not get_method(key).sweeps_lambda]
    kept = checkpoint_configs(page.store, page.profile, model=model, dataset=page.dataset,
                              levels=chapter_levels(page.profile, levels, kappa)[0], seed=checkpoint_seed, methods=methods)
    return requesting(grid + lambda_runs, kept.values())


def saliency_figure(networks: Mapping[Checkpoint, nn.Module], level: float, images: torch.Tensor,
                    inputs: torch.Tensor, title: str):
    """Figure 3 at one level: each method's saliency maps of ``inputs`` beside the raw ``images``."""
    from prunekit.paper.plots import percent_label, saliency_grid_plot

    maps = saliency_by_method(at_level(networks, level), inputs)
    return saliency_grid_plot(images, maps, title=f"{title} at κ = {percent_label(level)}")


def checkpoint_view(kept: pd.DataFrame) -> pd.DataFrame:
    """The kept networks' weight sparsity and test accuracy, one row per method, one column pair per level."""
    from prunekit.paper.plots import method_label, percent_label

    view = kept.assign(method=kept["method"].map(method_label), level=kept["level"].map(percent_label),
                       lam=kept["lam"].map(lambda v: "" if v is None or v != v else f"{v:.3g}"))
    view = view.rename(columns={"level": "κ", "lam": "λ", "weight_sparsity": "weight sparsity",
                                "accuracy": "test accuracy"})
    return view.pivot(index="method", columns="κ", values=["weight sparsity", "test accuracy"])


def _shape_row(method: str, part: pd.DataFrame) -> dict:
    from prunekit.analysis.layers import earliest_hardest, input_conservation, parabola_like
    from prunekit.paper.plots import method_label, percent_label

    values = part.sort_values("position")["remaining"].to_numpy()
    where = part["source"].iloc[0]
    return {"method": method_label(method), **{f"layer {i + 1}": v for i, v in enumerate(values)},
            "input / middle": input_conservation(values), "input layer pruned hardest": earliest_hardest(values),
            "parabola-like": parabola_like(values),
            "read": where if where == "stored" else
            f"{where} at {percent_label(part['weight_sparsity'].iloc[0])} (λ = "
            + ", ".join(f"{lam:.3g}" for lam in part["levels"].iloc[0]) + ")"}


def layer_shapes(at_focus: pd.DataFrame) -> pd.DataFrame:
    """Per method at the focus level: each layer's kept fraction, input / middle, and the two named shapes."""
    from prunekit.paper.plots import method_order

    return pd.DataFrame([_shape_row(m, at_focus[at_focus["method"] == m]) for m in method_order(at_focus["method"])])


def concentration_wide(concentration: pd.DataFrame) -> pd.DataFrame:
    """Mean top-pixel saliency share, one row per method (paper order), one column per level."""
    from prunekit.paper.plots import method_label, method_order, percent_label

    wide = concentration.pivot(index="method", columns="level", values="top_share")
    wide = wide.loc[method_order(wide.index)]
    wide.index = [method_label(m) for m in wide.index]
    wide.columns = [f"κ = {percent_label(level)}" for level in wide.columns]
    return wide


def blind_text(concentration: pd.DataFrame) -> str | None:
    """The images left out of the concentration means because their maps are all zero, or None if there are none."""
    from prunekit.paper.plots import method_label, percent_label

    blind = concentration[concentration["blind"] > 0]
    if not len(blind):
        return None
    return ("Left out of the mean: " + "; ".join(
        f"{int(r['blind'])} image(s) under {method_label(r['method'])} at κ = {percent_label(r['level'])}"
        for _, r in blind.iterrows())
        + ". Their maps are zero everywhere: the network predicts a class whose output unit has lost every path "
          "from the input, so its score is a constant and no pixel moves it.")


def blank_view(concentration: pd.DataFrame, focus: float, blank_pixels: int, images: int) -> pd.DataFrame:
    """One row: each method's share of saliency on the pixels blank in every attacked image, at the focus level."""
    from prunekit.paper.plots import method_label, method_order

    share = concentration[concentration["level"] == focus].set_index("method")["blank_share"]
    share = share.loc[method_order(share.index)].rename(index=method_label)
    return share.to_frame(f"saliency on the {blank_pixels} pixels blank in all {images} images").T


def success_table(attacks: pd.DataFrame, focus: float) -> pd.DataFrame:
    """Attack success per method (paper order) and ε at the focus level, with the mean over the ε grid."""
    from prunekit.paper.plots import method_label, method_order

    success = attacks[attacks["level"] == focus].pivot(index="method", columns="epsilon", values="success_rate")
    success = success.loc[method_order(success.index)]
    success["mean over ε"] = success.mean(axis=1)
    success.index = [method_label(m) for m in success.index]
    success.columns = [c if isinstance(c, str) else f"ε = {c:g}" for c in success.columns]
    return success


def snip_comparisons(focus_attacks: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """SNIP-it before and during training against SNIP, per ε and on the mean (:func:`compare_success`)."""
    from prunekit.analysis.robustness import compare_success

    return {a: compare_success(focus_attacks, a, "snip") for a in ("snip-it", "snip-it-during")}


@dataclass(frozen=True)
class Section5:
    """The quantities that measure Section 5's statements at the focus level."""

    profile_of: dict  # method → kept fraction per layer, input layer first
    ratio: pd.Series  # method → input / middle
    outputs: pd.Series  # method → kept fraction of the output layer
    top: pd.Series  # method → mean share of saliency on the top pixels
    area: pd.Series  # method → success averaged over the ε grid
    rho_low: float  # Spearman ρ of input / middle and mean success at 0 < ε ≤ 1
    rho_high: float  # the same at ε > 1
    comparisons: dict  # "snip-it", "snip-it-during" → compare_success against SNIP
    hoyer_at: str  # the weight sparsity HoyerSquare is read at
    hoyer_source: str  # stored, interpolated or closest


def section5(at_focus: pd.DataFrame, concentration: pd.DataFrame, focus_attacks: pd.DataFrame,
             focus: float) -> Section5:
    """Measure Section 5's statements on the layer profiles, saliency and attacks at the focus level."""
    from prunekit.analysis.layers import input_conservation
    from prunekit.paper.plots import percent_label

    profile_of = {m: at_focus[at_focus["method"] == m].sort_values("position")["remaining"].to_numpy()
                  for m in at_focus["method"].unique()}
    ratio = pd.Series({m: input_conservation(v) for m, v in profile_of.items()})
    eps = focus_attacks["epsilon"]
    low = focus_attacks[(eps > 0) & (eps <= LOW_DISTANCE)].groupby("method")["success_rate"].mean()
    high = focus_attacks[eps > LOW_DISTANCE].groupby("method")["success_rate"].mean()
    hoyer = at_focus[at_focus["method"] == "hoyersquare"]
    return Section5(profile_of=profile_of, ratio=ratio, outputs=pd.Series({m: v[-1] for m, v in profile_of.items()}),
                    top=concentration[concentration["level"] == focus].set_index("method")["top_share"],
                    area=focus_attacks.groupby("method")["success_rate"].mean(),
                    rho_low=ratio.corr(low, method="spearman"), rho_high=ratio.corr(high, method="spearman"),
                    comparisons=snip_comparisons(focus_attacks),
                    hoyer_at=percent_label(hoyer["weight_sparsity"].iloc[0]), hoyer_source=hoyer["source"].iloc[0])


def _pct(value: float) -> str:
    return f"{value:.1%}"


def _pct2(value: float) -> str:  # layer fractions near 1 % need the second decimal
    return f"{value:.2%}"


def section5_rows(m: Section5) -> list[tuple[str, str, str, bool]]:
    """Each statement of Section 5: its figure, the statement, what measures it here, and whether it holds."""
    from prunekit.analysis.layers import earliest_hardest, parabola_like
    from prunekit.paper.plots import method_label

    p, top, outputs = m.profile_of, m.top, m.outputs
    before, during = m.comparisons["snip-it"], m.comparisons["snip-it-during"]
    per_eps = before.iloc[:-1]
    small_eps = per_eps[per_eps["epsilon"].astype(float) <= LOW_DISTANCE]
    return [
        ("Fig. 4", "SNIP's bias towards earlier layers",
         f"input layer keeps ≤ ½ of any other layer's fraction ({_pct2(p['snip'][0])} vs ≥ "
         f"{_pct2(p['snip'][1:].min())})", earliest_hardest(p["snip"])),
        ("Fig. 4", "SNIP-it keeps the input layer better than SNIP",
         f"SNIP-it (before) input layer {_pct2(p['snip-it'][0])} vs SNIP {_pct2(p['snip'][0])}",
         p["snip-it"][0] > p["snip"][0]),
        ("Fig. 4", "a downward parabola-like shape for SNIP-it (before)",
         "both ends keep more than every middle layer: " + ", ".join(_pct2(v) for v in p["snip-it"]),
         parabola_like(p["snip-it"])),
        ("Fig. 4", "a downward parabola-like shape for SNIP-it (during)",
         "both ends keep more than every middle layer: " + ", ".join(_pct2(v) for v in p["snip-it-during"]),
         parabola_like(p["snip-it-during"])),
        ("Fig. 4", "no parabola for SNIP", "the same test on SNIP: " + ", ".join(_pct2(v) for v in p["snip"]),
         not parabola_like(p["snip"])),
        ("Fig. 4", "HoyerSquare's bias towards pruning the output layer",
         f"its output layer keeps the least of all methods' ({_pct2(outputs['hoyersquare'])} at {m.hoyer_at}; next: "
         f"{method_label(outputs.drop('hoyersquare').idxmin())} {_pct2(outputs.drop('hoyersquare').min())})",
         outputs.idxmin() == "hoyersquare"),
        ("Fig. 3", "SNIP overfits on few pixels, compared to GraSP and SNIP-it (before)",
         f"saliency on the top 5 % of pixels: SNIP {_pct(top['snip'])}, GraSP {_pct(top['grasp'])}, "
         f"SNIP-it {_pct(top['snip-it'])}", top["snip"] > max(top["grasp"], top["snip-it"])),
        ("Fig. 3", "(SNIP's maps the most concentrated of all)",
         f"next: {method_label(top.drop('snip').idxmax())} {_pct(top.drop('snip').max())}", top.idxmax() == "snip"),
        ("Fig. 3", "SNIP-it (during) hardly overfits",
         f"least concentrated of all: SNIP-it (during) {_pct(top['snip-it-during'])}, next "
         f"{method_label(top.drop('snip-it-during').idxmin())} {_pct(top.drop('snip-it-during').min())}",
         top.idxmin() == "snip-it-during"),
        ("Fig. 3", "HoyerSquare hardly overfits (better than GraSP and SNIP-it before)",
         f"HoyerSquare {_pct(top['hoyersquare'])} (at {m.hoyer_at}) vs GraSP {_pct(top['grasp'])}, "
         f"SNIP-it {_pct(top['snip-it'])}", top["hoyersquare"] < min(top["grasp"], top["snip-it"])),
        ("Fig. 5", "SNIP-it improves in robustness from SNIP (before training)",
         f"success averaged over ε: SNIP-it {before.iloc[-1]['snip-it']:.0%} ≤ SNIP {before.iloc[-1]['snip']:.0%}",
         bool(before["a_at_most_b"].iloc[-1])),
        ("Fig. 5", "… in the low-distance regime ℓ2 ≤ 1",
         "SNIP-it (before) ≤ SNIP at every ε ≤ 1: " + ", ".join(
             f"{r['snip-it']:.0%}/{r['snip']:.0%}" for _, r in small_eps.iterrows()),
         bool(small_eps["a_at_most_b"].all())),
        ("Fig. 5", "(… at every ε)", f"SNIP-it (before) ≤ SNIP at every ε up to {per_eps['epsilon'].iloc[-1]:g}",
         bool(per_eps["a_at_most_b"].all())),
        ("Fig. 5", "SNIP-it improves in robustness from SNIP (during training)",
         f"success averaged over ε: SNIP-it (during) {during.iloc[-1]['snip-it-during']:.0%} ≤ SNIP "
         f"{during.iloc[-1]['snip']:.0%}", bool(during["a_at_most_b"].iloc[-1])),
        ("Fig. 5", "keeping the input layer makes a network more robust at ℓ2 ≤ 1",
         f"Spearman ρ of input / middle and mean success at 0 < ε ≤ 1 over the methods: {m.rho_low:+.2f} (< 0)",
         bool(m.rho_low < 0)),
        ("Fig. 5", "… but not at higher distances", f"the same at ε > 1: {m.rho_high:+.2f} (≥ 0)",
         bool(m.rho_high >= 0)),
    ]


def comparison_table(rows: Sequence[tuple[str, str, str, bool]], focus: float) -> pd.DataFrame:
    """Section 5's statements beside what measures them here, whether they hold here, and the registered claim that
    decides the statement under the one rule (if any)."""
    from prunekit.paper.plots import percent_label

    table = pd.DataFrame(rows, columns=["figure", "Section 5 says", f"measured here (κ = {percent_label(focus)})",
                                        "holds here"])
    table["registered claim (summary page)"] = [REGISTERED.get(f"{fig}: {text}", "") for fig, text, *_ in rows]
    return table


def ledger_entries(rows: Sequence[tuple[str, str, str, bool]], model: str, focus: float) -> list:
    """The statements of :data:`LEDGER`, checked, for the book's summary page."""
    from prunekit.paper.checks import check
    from prunekit.paper.plots import percent_label

    measured = {f"{fig}: {text}": (measure, held) for fig, text, measure, held in rows}
    return [check("robustness", claim_id, f"{model.upper()}, κ = {percent_label(focus)}: {measured[s][0]}",
                  bool(measured[s][1]), claim=s.split(": ", 1)[1]) for claim_id, s in LEDGER]


def _holds(value: bool) -> str:
    return "holds" if value else "does not hold"


def observations_text(m: Section5, *, concentration: pd.DataFrame, kept: pd.DataFrame, focus_attacks: pd.DataFrame,
                      focus: float, levels: Sequence[float], blank_pixels: int, images: int) -> str:
    """The page's "What we observe" paragraphs, every number computed from the measurements."""
    import numpy as np

    from prunekit.analysis.layers import earliest_hardest, parabola_like
    from prunekit.paper.plots import method_label, percent_label

    p, top, outputs, ratio, area = m.profile_of, m.top, m.outputs, m.ratio, m.area
    snip, before_p, during_p = p["snip"], p["snip-it"], p["snip-it-during"]
    before, during = m.comparisons["snip-it"], m.comparisons["snip-it-during"]
    small_eps = before.iloc[:-1][before.iloc[:-1]["epsilon"].astype(float) <= LOW_DISTANCE]
    rises = all(np.all(np.diff(concentration[concentration["method"] == c].sort_values("level")["top_share"]) >= 0)
                for c in concentration["method"].unique())
    accuracy = kept[kept["level"] == focus].set_index("method")["accuracy"]
    errors = focus_attacks[focus_attacks["epsilon"] == 0].set_index("method")["success_rate"]
    n_images = int(focus_attacks["n"].iloc[0])
    data_driven = outputs[["snip", "snip-it", "grasp"]]
    blank_share = concentration[concentration["level"] == focus].set_index("method")["blank_share"]
    hoyer_read = {"closest": f"read at its closest λ ({m.hoyer_at}: no λ of the sweep reached κ)",
                  "interpolated": "interpolated to κ between its two closest λ",
                  "stored": "read at a stored level"}[m.hoyer_source]
    concentrating = (f" Every method's maps concentrate further as κ grows from {percent_label(min(levels))} to "
                     f"{percent_label(max(levels))}." if rises and len(levels) > 1 else "")
    return (
        f"**Figure 4.** At κ = {percent_label(focus)} SNIP keeps {_pct2(snip[0])} of its input layer's weights, "
        f"{ratio['snip']:.2f}× the mean of its hidden layers', and its kept fraction "
        f"{'rises with depth' if np.all(np.diff(snip) > 0) else 'does not rise steadily with depth'} "
        f"({', '.join(_pct2(v) for v in snip)}): the bias towards earlier layers {_holds(earliest_hardest(snip))} "
        f"here. SNIP-it before training keeps {before_p[0] / snip[0]:.1f}× as much of the input layer "
        f"({_pct2(before_p[0])}), {ratio['snip-it']:.2f}× its hidden layers' mean, so by the definition above its "
        f"profile is {'' if parabola_like(before_p) else 'not '}parabola-like; SNIP-it during training "
        f"{'is' if parabola_like(during_p) else 'is not either'}: its ends keep {_pct2(during_p[0])} and "
        f"{_pct2(during_p[-1])}, its hidden layers at most {_pct2(during_p[1:-1].max())}. HoyerSquare, {hoyer_read}, "
        f"prunes all five layers almost evenly, its output layer to {_pct2(outputs['hoyersquare'])}, while SNIP, "
        f"SNIP-it and GraSP keep {_pct(data_driven.min())}–{_pct(data_driven.max())} of theirs."
        "\n\n"
        f"**Figure 3.** SNIP's maps are {'the most' if top.idxmax() == 'snip' else 'not the most'} concentrated: "
        f"{_pct(top['snip'])} of the saliency falls on 5 % of the pixels, against {_pct(top['snip-it'])} for SNIP-it "
        f"before training and {_pct(top['grasp'])} for GraSP; {method_label(top.idxmin())} has the least "
        f"concentrated maps ({_pct(top.min())}). HoyerSquare's are "
        f"{'less' if top['hoyersquare'] < top['snip-it'] else 'more'} concentrated ({_pct(top['hoyersquare'])}) than "
        f"SNIP-it (before)'s, so the paper's \"even better\" for HoyerSquare "
        f"{_holds(top['hoyersquare'] < min(top['grasp'], top['snip-it']))} here; its network at {m.hoyer_at} reaches "
        f"{accuracy['hoyersquare']:.1%} test accuracy, the others {accuracy.drop('hoyersquare').min():.1%} or more."
        f"{concentrating} Where the networks look differs too: on the {blank_pixels} pixels that are blank in all "
        f"{images} images, " + ", ".join(f"{method_label(c)} puts {_pct(blank_share[c])}" for c in
                                         blank_share.sort_values(ascending=False).index)
        + " of its saliency. These pixels say nothing about the digit; a pixel is salient only if some input weight "
        "from it survived, so this share shows which methods kept weights that can only add a constant."
        "\n\n"
        f"**Figure 5.** Averaged over the ε grid, the attack fools SNIP's network on {area['snip']:.0%} of the "
        f"images, SNIP-it (before)'s on {area['snip-it']:.0%} and SNIP-it (during)'s on {area['snip-it-during']:.0%}: "
        f"\"SNIP-it is at least as robust as SNIP\" (mean over ε) {_holds(bool(before['a_at_most_b'].iloc[-1]))} "
        f"before training and {_holds(bool(during['a_at_most_b'].iloc[-1]))} during. Before training SNIP-it is "
        f"fooled no more often than SNIP at every ε ≤ 1: this {_holds(bool(small_eps['a_at_most_b'].all()))}; at "
        f"larger ε the two curves meet. Over the seven methods, keeping more of the input layer goes with being "
        f"fooled {'less' if m.rho_low < 0 else 'more'}: Spearman ρ = {m.rho_low:+.2f} at 0 < ε ≤ 1 and "
        f"{m.rho_high:+.2f} at ε > 1, so the relation {'does not vanish' if m.rho_high < 0 else 'vanishes'} at "
        f"larger distances {'(the paper saw it vanish)' if m.rho_high < 0 else 'as the paper saw'}. Each curve "
        f"starts at the network's error rate on these images (ε = 0: HoyerSquare {errors['hoyersquare']:.0%}, the "
        f"others {errors.drop('hoyersquare').min():.0%}–{errors.drop('hoyersquare').max():.0%}). With {n_images} "
        f"images and one network per method a success rate carries a standard error of up to "
        f"{np.sqrt(0.25 / n_images):.0%}, so differences of a few points between methods are not significant by "
        "themselves; the paper's \"significantly\" is tested on the summary page, where the registered claims compare "
        "the methods image by image under the book's one rule (and say nothing about other networks of the same "
        "method: one network per method and level is attacked)."
    )


__all__ = [
    "ATTACK_BUDGETS",
    "EPSILONS",
    "FIGURE_5A_EPSILON",
    "PAPER_KAPPA",
    "PAPER_LEVELS",
    "LEDGER",
    "REGISTERED",
    "AttackBudget",
    "Section5",
    "at_level",
    "attack_budget",
    "attack_checkpoints",
    "fooled_per_image",
    "record_units",
    "success_frame",
    "unit_entries",
    "blank_pixels",
    "blank_view",
    "blind_text",
    "checkpoint_view",
    "comparison_table",
    "concentration_wide",
    "layer_shapes",
    "ledger_entries",
    "observations_text",
    "prepare_checkpoints",
    "saliency_figure",
    "section5",
    "section5_rows",
    "snip_comparisons",
    "success_table",
    "chapter_levels",
    "checkpoint_configs",
    "checkpoint_table",
    "concentration_table",
    "lambda_configs",
    "load_checkpoints",
    "saliency_by_method",
]
