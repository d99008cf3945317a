"""Section 3 and Appendix D: the sensitivity criterion as an elasticity, SNIP-it's schedule, and SNIP against
SNIP-it against Random pruning MLP5 before training."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from pandas.io.formats.style import Styler
from torch import nn

from prunekit.analysis.turnover import mask_history
from prunekit.core.masks import prunable_layers
from prunekit.core.schedule import snip_it_schedule
from prunekit.criteria import scoring_mode, weight_elasticity
from prunekit.criteria.weight.gates import gate_elasticity
from prunekit.data import DatasetInfo, make_batches
from prunekit.experiments.config import RunConfig
from prunekit.experiments.profiles import Profile
from prunekit.experiments.record import RunRecord
from prunekit.experiments.stats import add_harmonic_mean, aggregate
from prunekit.experiments.store import records_frame
from prunekit.experiments.sweep import method_grid
from prunekit.models import build_model
from prunekit.paper.checks import CheckedClaim, check, ordering_evidence
from prunekit.paper.plots import percent_label
from prunekit.paper.plots.turnover import schematic_plot
from prunekit.paper.prologue import Page
from prunekit.paper.runs import Requests, requesting
from prunekit.paper.tables import layer_frame, ordering_holds
from prunekit.reference import paper_table

METHODS = ("snip", "snip-it", "random")
APPENDIX_D_SCHEDULE = (0.5, 0.74, 0.86, 0.92, 0.95, 0.965, 0.98)  # κ_i for κ = 98 %, s = 5 (Appendix D)
LAYER_KAPPA = 0.98  # the sparsity the layer-bias statements are read at (the paper's Figure 4 uses 99 %)
ACCURACY_FROM = 0.98  # Table 3 and Figure 10: SNIP-it (before) ≥ SNIP from this sparsity up
IDENTITY_RTOL = 1e-6  # relative tolerance of the gate-derivative identity (float32 rounding)


def produced_by_details(profile: Profile, model: str, seeds: Sequence[int], info: DatasetInfo) -> str:
    """What the page ran, for its produced-by line: data used, model, seeds, epochs and scoring budget."""
    return (f"{info.train_size} training / {info.test_size} test images on disk, used: "
            f"{profile.train_limit or info.train_size} / {profile.test_limit or info.test_size}; model `{model}`, "
            f"seeds {list(seeds)}, {profile.epochs} training epoch(s) per run (the paper: 80 epochs, 5 seeds), a "
            f"scoring budget of {profile.samples} samples per pruning round (the paper: 2560)")


def budget_label(profile: Profile, info: DatasetInfo, seeds: Sequence[int]) -> str:
    """'MNIST, 6 epoch(s) per run, 3 seed(s)': the budget the landing page quotes."""
    return f"{info.name.upper()}, {profile.epochs} epoch(s) per run, {len(seeds)} seed(s)"


# ----------------------------------------------------------------------------------------- the elasticity


@dataclass(frozen=True)
class ElasticityIdentity:
    """Every weight's elasticity computed two ways, prunekit's product form and the literal gate derivative."""

    elasticity: Mapping[str, torch.Tensor]
    gated: Mapping[str, torch.Tensor]
    loss: float
    gate_loss: float
    samples: int

    @property
    def largest(self) -> float:
        """The largest elasticity of any weight."""
        return max(float(e.max()) for e in self.elasticity.values())

    @property
    def max_diff(self) -> float:
        """The largest absolute difference between the two computations over all weights."""
        return max(float((self.elasticity[n] - self.gated[n]).abs().max()) for n in self.elasticity)

    @property
    def n_weights(self) -> int:
        """How many weights were scored."""
        return sum(e.numel() for e in self.elasticity.values())

    @property
    def holds(self) -> bool:
        """Whether both computations agree on every weight and on the loss, up to float rounding."""
        return (self.max_diff <= IDENTITY_RTOL * self.largest
                and abs(self.loss - self.gate_loss) <= IDENTITY_RTOL * self.loss)

    def arrays(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Both computations as numpy arrays per layer, for the identity plot."""
        return ({n: e.numpy() for n, e in self.elasticity.items()}, {n: g.numpy() for n, g in self.gated.items()})


def elasticity_identity(model: str, info: DatasetInfo, profile: Profile) -> ElasticityIdentity:
    """Score a freshly initialised ``model`` (seed 0) on one scoring budget of real training data, both ways."""
    torch.manual_seed(0)
    net = build_model(model, info.input_shape, info.num_classes)
    layers = prunable_layers(net)
    batches = list(make_batches(info.name, train=True, limit=profile.samples, batch_size=profile.scoring_batch_size,
                                seed=0))
    with scoring_mode(net, "eval"):
        elasticity, loss = weight_elasticity(net, layers, batches, F.cross_entropy)
        gated, gate_loss = gate_elasticity(net, layers, batches, F.cross_entropy)
    return ElasticityIdentity(elasticity, gated, float(loss), float(gate_loss), sum(len(x) for x, _ in batches))


def elasticity_summary(identity: ElasticityIdentity) -> str:
    """Two lines: what was scored, and how far apart the two computations are."""
    return (f"{identity.n_weights} weights in {len(identity.elasticity)} layers, {identity.samples} samples, "
            f"mean loss L = {identity.loss:.4f}\n"
            f"max |weight elasticity - gate elasticity| = {identity.max_diff:.2e}  "
            f"(largest elasticity: {identity.largest:.2e})")


def elasticity_text(identity: ElasticityIdentity) -> str:
    """The identity's outcome and the scale of the elasticities, in words (markdown)."""
    values = torch.cat([e.flatten() for e in identity.elasticity.values()])
    median = float(values.median())
    agree = ("Every point lies on the identity line" if identity.holds else
             "The points leave the identity line")
    return (f"{agree} (largest difference {identity.max_diff:.1e}). Note also the scale: the largest elasticity "
            f"is {identity.largest:.2g} and the median {median:.1e}, so pruning any single weight changes the loss "
            f"by at most {100 * identity.largest:.2g} % to first order; most weights are \"very inelastic\" in the "
            f"paper's words, which is why so many can be removed.")


# ------------------------------------------------------------------------------------------- the schedule


def matches_appendix_d(schedule: Sequence[float]) -> bool:
    """Whether ``schedule`` is Appendix D's κ_i for κ = 98 % and s = 5."""
    return len(schedule) == len(APPENDIX_D_SCHEDULE) and bool(np.allclose(schedule, APPENDIX_D_SCHEDULE))


def toy_schematic(kappa: float = 0.8, steps: int = 3) -> Figure:
    """Appendix D's Figure 9 drawn from a real SNIP-it run on an 8–6–6–3 MLP and a fixed linear 3-class rule."""
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(512, 8, generator=generator)
    labels = (inputs @ torch.randn(8, 3, generator=generator)).argmax(dim=1)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 3))
    rounds = mask_history(net, "snip-it", kappa, (inputs, labels), steps=steps, samples=512, batch_size=256)
    return schematic_plot([{n: m.numpy() for n, m in r.items()} for r in rounds], snip_it_schedule(kappa, steps=steps),
                          title=f"SNIP-it on an 8–6–6–3 MLP, κ = {kappa:g}: red = removed in that round")


# ---------------------------------------------------------------------------------------------- the sweep


def grid(profile: Profile, model: str, dataset: str, seeds: Sequence[int]) -> list[RunConfig]:
    """Dense, SNIP, SNIP-it and Random before training at every sparsity of the profile, for every seed."""
    base = RunConfig.from_profile(profile, model=model, dataset=dataset, criterion="snip",
                                  sparsity=max(profile.sparsities))
    return method_grid(base, criteria=["none", *METHODS], sparsities=profile.sparsities, seeds=list(seeds))


def requests(page: Page, *, model: str = "mlp5") -> Requests:
    """The runs the page reads, from its notebook parameters."""
    return requesting(grid(page.profile, model, page.dataset, page.seeds))


def sweep_frames(records: Sequence[RunRecord]) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """The runs (one row each, HM added), the pruned runs' means per criterion and sparsity, the dense accuracy."""
    runs = add_harmonic_mean(records_frame(list(records)))
    pruned = runs[runs["criterion"] != "none"]
    agg = aggregate(pruned, by=["criterion", "sparsity"], values=["accuracy", "weight_sparsity", "node_sparsity", "hm"])
    return runs, agg, float(runs.loc[runs["criterion"] == "none", "accuracy"].mean())


def dense_note(runs: pd.DataFrame, model: str) -> str:
    """'dense mlp5: 98.10 % test accuracy (mean of 3 seed(s))'."""
    dense = runs[runs["criterion"] == "none"]
    return f"dense {model}: {100 * dense['accuracy'].mean():.2f} % test accuracy (mean of {len(dense)} seed(s))"


def paper_rows(dataset: str, model: str) -> pd.DataFrame:
    """The paper's rows (Tables 3 and 2) of ``model`` on ``dataset``."""
    paper = pd.concat([paper_table(3), paper_table(2)])
    return paper[(paper["dataset"] == dataset) & (paper["model"] == model)]


def paper_before(paper: pd.DataFrame) -> pd.DataFrame:
    """The paper's rows of this page's methods pruned before training."""
    return paper[paper["method"].isin(METHODS) & (paper["prune_at"] == "before")]


def kept_weights(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Per layer, the fraction of weights each pruned run keeps (mean over seeds)."""
    return layer_frame([r for r in records if r.config.criterion != "none"])


# ------------------------------------------------------------------------------------------ observations


def layer_kappa(sparsities: Iterable[float]) -> float:
    """The sparsity the layer statements are read at: 98 % when swept, else the highest swept level."""
    levels = list(sparsities)
    return LAYER_KAPPA if LAYER_KAPPA in levels else max(levels)


def kept_at(layers_kept: pd.DataFrame, kappa: float) -> pd.DataFrame:
    """Fraction of weights kept per layer position (rows, 0 = input) and criterion (columns) at ``kappa``."""
    at = layers_kept[np.isclose(layers_kept["sparsity"], kappa)]
    if at.empty:
        raise ValueError(f"no run pruned to κ = {kappa!r}; swept: {sorted(layers_kept['sparsity'].unique())}")
    return at.pivot(index="position", columns="criterion", values="remaining")


def kept_view(at: pd.DataFrame) -> Styler:
    """The kept fractions with layers numbered from 1 and as percentages."""
    shown = [c for c in METHODS if c in at.columns]
    return at[shown].rename(index=lambda i: i + 1).rename_axis("layer").style.format("{:.2%}")


def _spread(kept: pd.Series) -> float:
    """The range of kept fractions over the given layers."""
    return float(kept.max() - kept.min())


def layer_bias_checks(at: pd.DataFrame) -> dict[str, bool]:
    """The four statements of SNIP's early-layer bias against SNIP-it, on the kept fractions at one κ."""
    first, last, before_output = at.index.min(), at.index.max(), at.index[:-1]
    return {
        "SNIP keeps fewer input-layer weights than SNIP-it": bool(at.loc[first, "snip"] < at.loc[first, "snip-it"]),
        "SNIP's input layer is its most pruned layer": bool(at["snip"].idxmin() == first),
        "SNIP keeps more output-layer weights than SNIP-it": bool(at.loc[last, "snip"] > at.loc[last, "snip-it"]),
        "SNIP-it spreads sparsity over the input and hidden layers more evenly than SNIP":
            _spread(at.loc[before_output, "snip-it"]) < _spread(at.loc[before_output, "snip"]),
    }


def accuracy_levels(sparsities: Iterable[float]) -> list[float]:
    """The swept levels the accuracy claim is read at (98 % and up)."""
    return sorted(s for s in sparsities if s >= ACCURACY_FROM)


def before_beats_snip(runs: pd.DataFrame) -> tuple[str, bool]:
    """Our evidence for 'SNIP-it (before) ≥ SNIP in mean accuracy at every κ ≥ 98 %', and whether it holds."""
    pruned = runs[runs["criterion"] != "none"]
    evidence = ordering_evidence(pruned, "snip-it", "snip", ACCURACY_FROM, method="criterion", level="sparsity")
    return evidence, ordering_holds(pruned, "snip-it", "snip", ACCURACY_FROM, method="criterion", level="sparsity")[1]


def accuracy_text(agg: pd.DataFrame, runs: pd.DataFrame, levels: Sequence[float]) -> str:
    """Accuracy per method at the highest sparsities, the sweep's best HM and the ordering claim's verdict."""
    at = agg[agg["sparsity"].isin(levels)]
    view = at.pivot(index="sparsity", columns="criterion", values="accuracy_mean")
    bounds = at.pivot(index="sparsity", columns="criterion", values="accuracy_bound")
    lines = [f"- κ = {percent_label(s)}: " + ", ".join(
        f"{c} {100 * view.loc[s, c]:.2f} ± {100 * bounds.loc[s, c]:.2f} %" for c in METHODS) for s in levels]
    best = agg.loc[agg["hm_mean"].idxmax()]
    evidence, holds = before_beats_snip(runs)
    return ("Test accuracy at the highest sparsities (mean ± bound):\n\n" + "\n".join(lines)
            + f"\n\nThe best harmonic mean in this sweep is {100 * best['hm_mean']:.1f} "
              f"({best['criterion']} at κ = {percent_label(best['sparsity'])}).\n\n"
            + f"SNIP-it's mean accuracy is at least SNIP's at every κ ≥ 98 %: "
              f"**{'holds' if holds else 'does not hold'}** here ({evidence}).")


def ledger(identity: ElasticityIdentity, schedule: Sequence[float], kappa: float, at: pd.DataFrame,
           layer_checks: Mapping[str, bool], runs: pd.DataFrame) -> list[CheckedClaim]:
    """The chapter's checks of this edition. SNIP's input-layer bias and SNIP-it before ≥ SNIP, which the page
    shows too, are registered claims (cpu-fig4-snip-earlier-hardest, cpu-before-beats-snip), not checks."""
    return [
        check("method", "criterion-is-elasticity",
              f"equal on all {identity.n_weights:,} MLP5 weights: largest difference {identity.max_diff:.1e} "
              f"(largest elasticity {identity.largest:.3g})", identity.holds),
        check("method", "schedule", ", ".join(f"{k:g}" for k in schedule), matches_appendix_d(schedule)),
    ]


__all__ = ["ACCURACY_FROM", "APPENDIX_D_SCHEDULE", "ElasticityIdentity", "LAYER_KAPPA", "METHODS", "accuracy_levels",
           "accuracy_text", "before_beats_snip", "budget_label", "dense_note", "elasticity_identity",
           "elasticity_summary", "elasticity_text", "grid", "kept_at", "kept_view", "kept_weights", "layer_bias_checks",
           "layer_kappa", "ledger", "matches_appendix_d", "paper_before", "paper_rows", "produced_by_details",
           "sweep_frames", "toy_schematic"]
