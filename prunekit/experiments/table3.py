"""Table 3 at the paper's own budget: MLP5 on MNIST, 80 epochs, 5 seeds, the paper's operating points.

The paper picks each row's point by the highest harmonic mean; we run each method at the sparsity the paper's
row reports (``TABLE3_POINTS``). HoyerSquare's sparsity follows from λ, so its λ is chosen before its Table 3
runs exist, on a 20 % validation split of the training set (Appendix F), by a rule fixed here: the candidate
whose validation weight sparsity is closest to the paper's 94 % (``choose_lambda``).

``python -m prunekit.experiments.table3 --worker I --workers N`` runs worker I's share of the sweep (resumable);
``--high-sparsity`` runs Figure 10's high-sparsity end (98, 99, 99.5 %) at the same budget instead.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from prunekit.criteria.weight.hoyersquare import LAMBDA_GRID
from prunekit.experiments.config import RunConfig
from prunekit.experiments.record import RunRecord
from prunekit.measure.metrics import harmonic_mean
from prunekit.experiments.profiles import Profile, get_profile
from prunekit.experiments.store import ResultStore
from prunekit.experiments.sweep import sweep, worker_share

log = logging.getLogger(__name__)

PROFILE = "mnist-paper"
MODEL, DATASET = "mlp5", "mnist"
# Table 3's rows (method key → (criterion, when it prunes, the sparsity of the paper's row)).
TABLE3_POINTS: dict[str, tuple[str, str, float]] = {
    "imp-global": ("imp-global", "during", 0.98),
    "snip-it-during": ("snip-it", "during", 0.98),
    "grasp": ("grasp", "before", 0.97),
    "random": ("random", "before", 0.96),
    "snip": ("snip", "before", 0.96),
    "snip-it": ("snip-it", "before", 0.97),
}
HOYERSQUARE_TARGET = 0.94  # the weight sparsity of the paper's HoyerSquare row
# The grid λ (Appendix F's 10 log steps in [1e-6, 5]) that can reach the target at 80 epochs. First set from the
# cpu profile (6 epochs: 3.1e-5 gives 43 %, 5.3e-3 gives 98 %) as 3.1e-5 … 5.3e-3; at 80 epochs the largest reached
# only 88.6 %, so the grid's next λ, 2.9e-2, joined (the amendment of claim t3-during-beats-hoyersquare, listed
# on the summary page).
LAMBDA_CANDIDATES = tuple(lam for lam in LAMBDA_GRID if 2e-5 < lam < 3e-2)
VALIDATION_SHARE = 0.2
LAMBDA_SEED = 0


def lambda_configs(profile: str | Profile = PROFILE) -> list[RunConfig]:
    """HoyerSquare on the validation split at every candidate λ (one seed): the runs that choose λ."""
    return [RunConfig.from_profile(profile, model=MODEL, dataset=DATASET, criterion="hoyersquare", seed=LAMBDA_SEED,
                                   criterion_options={"lam": lam}, validation=VALIDATION_SHARE)
            for lam in LAMBDA_CANDIDATES]


def choose_lambda(records: Sequence[RunRecord], target: float = HOYERSQUARE_TARGET) -> float:
    """The λ whose validation weight sparsity is closest to ``target`` (ties: the higher validation accuracy)."""
    if not records:
        raise ValueError("choose_lambda needs the validation runs of lambda_configs()")
    if any(r.config.validation == 0.0 for r in records):
        raise ValueError("choose_lambda takes validation-split runs only; test accuracy never picks λ")
    best = min(records, key=lambda r: (abs(r.metrics["weight_sparsity"] - target), -r.metrics["accuracy"]))
    return float(dict(best.config.criterion_options)["lam"])


def chosen_lambda(records: Sequence[RunRecord], profile: str | Profile = PROFILE) -> float | None:
    """The λ the rule picks from the stored validation runs of every candidate, or None while one is missing."""
    stored = {r.key: r for r in records}
    runs = [stored.get(c.key) for c in lambda_configs(profile)]
    return choose_lambda(runs) if all(runs) else None


def table3_runs(records: Sequence[RunRecord], profile: str | Profile = PROFILE) -> list[RunRecord]:
    """The stored runs of Table 3 at the chosen λ (none of other λ, levels or splits the store may hold)."""
    lam = chosen_lambda(records, profile)
    stored = {r.key: r for r in records}
    wanted = table3_configs(lam if lam is not None else LAMBDA_CANDIDATES[0], profile)
    if lam is None:  # no λ chosen yet: every row but HoyerSquare's
        wanted = [c for c in wanted if c.criterion != "hoyersquare"]
    return [stored[c.key] for c in wanted if c.key in stored]


def table3_configs(lam: float, profile: str | Profile = PROFILE) -> list[RunConfig]:
    """Every Table 3 run, seed by seed (so a stopped sweep leaves whole seeds): dense, the six points, HoyerSquare."""
    chosen = get_profile(profile)
    configs = []
    for seed in chosen.seed_list:
        configs.append(RunConfig.from_profile(chosen, model=MODEL, dataset=DATASET, seed=seed))
        configs += [RunConfig.from_profile(chosen, model=MODEL, dataset=DATASET, criterion=criterion, prune_at=when,
                                           sparsity=sparsity, seed=seed)
                    for criterion, when, sparsity in TABLE3_POINTS.values()]
        configs.append(RunConfig.from_profile(chosen, model=MODEL, dataset=DATASET, criterion="hoyersquare",
                                              criterion_options={"lam": lam}, seed=seed))
    return configs


# Figure 10's high-sparsity end at Table 3's budget: the methods the registered hs-* claims compare (SNIP-it before
# training, SNIP, GraSP) first, then SNIP-it during training for the figure.
HIGH_SPARSITY_LEVELS = (0.98, 0.99, 0.995)
HIGH_SPARSITY_METHODS: tuple[tuple[str, str], ...] = (("snip-it", "before"), ("snip", "before"), ("grasp", "before"),
                                                      ("snip-it", "during"))


def high_sparsity_configs(profile: str | Profile = PROFILE) -> list[RunConfig]:
    """The high-sparsity runs, seed by seed (a stopped sweep leaves whole seeds), each config once."""
    chosen = get_profile(profile)
    configs = {}
    for seed in chosen.seed_list:
        for criterion, when in HIGH_SPARSITY_METHODS:
            for level in HIGH_SPARSITY_LEVELS:
                config = RunConfig.from_profile(chosen, model=MODEL, dataset=DATASET, criterion=criterion,
                                                prune_at=when, sparsity=level, seed=seed)
                configs.setdefault(config.key, config)
    return list(configs.values())


def paper_interval_overlaps(paper_percent: float, mean: float, bound: float) -> bool:
    """True when the paper's value, printed to whole percent (so ±0.5 pp), meets our interval mean ± bound (%)."""
    return paper_percent - 0.5 <= mean + bound and mean - bound <= paper_percent + 0.5


def _method_of(config: RunConfig) -> str:
    """The Table 3 row of a run."""
    if config.criterion == "none":
        return "dense"
    if config.criterion == "hoyersquare":
        return "hoyersquare"
    return next(k for k, (c, when, _) in TABLE3_POINTS.items() if (c, when) == (config.criterion, config.prune_at))


def table3_frame(records: Sequence[RunRecord]) -> pd.DataFrame:
    """One row per Table 3 method: n seeds, accuracy mean ± 1.96σ/√n, weight sparsity and HM (all in %)."""
    rows = pd.DataFrame([{"method": _method_of(r.config), "seed": r.config.seed, "accuracy": 100 * r.accuracy,
                          "sparsity": 100 * r.metrics["weight_sparsity"]} for r in records])
    if rows.empty:
        raise ValueError("table3_frame needs at least one record")
    out = []
    for method, group in rows.groupby("method", sort=False):
        n = len(group)
        std = float(group["accuracy"].std()) if n > 1 else 0.0
        acc, sparsity = float(group["accuracy"].mean()), float(group["sparsity"].mean())
        out.append({"method": method, "n": n, "accuracy": acc, "bound": 1.96 * std / math.sqrt(n),
                    "sparsity": sparsity,
                    "hm": 100 * harmonic_mean(acc / 100, sparsity / 100) if method != "dense" else float("nan")})
    return pd.DataFrame(out)


# Table 3's rows in the paper's order: our method key → the (method, prune_at) of prunekit.reference's table 3
PAPER_ROWS: dict[str, tuple[str, str | None]] = {
    "dense": ("baseline", None),
    "hoyersquare": ("hoyersquare", "after"),
    "imp-global": ("imp-global", "during"),
    "snip-it-during": ("snip-it", "during"),
    "grasp": ("grasp", "before"),
    "random": ("random", "before"),
    "snip": ("snip", "before"),
    "snip-it": ("snip-it", "before"),
}


def table3_comparison(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Our Table 3 beside the paper's, row by row: accuracy ± bound, sparsity and HM (in %), n, and whether the
    paper's accuracy (printed to whole percent) lies inside our interval."""
    from prunekit.reference import paper_table

    ours = table3_frame(records).set_index("method")
    paper = paper_table(3)
    rows = []
    for method, (paper_method, prune_at) in PAPER_ROWS.items():
        ref = paper[(paper["method"] == paper_method) & (paper["prune_at"].fillna("none") == (prune_at or "none"))]
        ref_row = ref.iloc[0]
        row = {"method": method, "paper label": ref_row["label"], "paper accuracy": ref_row["accuracy"],
               "paper bound": ref_row["bound"], "paper sparsity": ref_row["sparsity"], "paper HM": ref_row["hm"]}
        if method in ours.index:
            mine = ours.loc[method]
            row.update({"n": int(mine["n"]), "accuracy": mine["accuracy"], "bound": mine["bound"],
                        "sparsity": mine["sparsity"], "HM": mine["hm"],
                        "paper inside": paper_interval_overlaps(ref_row["accuracy"], mine["accuracy"], mine["bound"])})
        rows.append(row)
    return pd.DataFrame(rows)


def lambda_note(validation_records: Sequence[RunRecord], target: float = HOYERSQUARE_TARGET) -> str:
    """What the λ selection found on the validation split, in one paragraph (numbers computed here)."""
    if not validation_records:
        return "HoyerSquare's λ has not been selected yet (its validation runs are missing)."
    ranked = sorted(validation_records, key=lambda r: dict(r.config.criterion_options)["lam"])
    points = ", ".join(f"λ = {dict(r.config.criterion_options)['lam']:.2g}: {100 * r.metrics['weight_sparsity']:.1f} %"
                       for r in ranked)
    chosen = choose_lambda(validation_records, target)
    sparsities = [r.metrics["weight_sparsity"] for r in ranked]
    bracket = min(sparsities) <= target <= max(sparsities)
    text = (f"HoyerSquare's λ was chosen on the 20 % validation split by the rule fixed before its runs (the candidate "
            f"whose validation sparsity is closest to the paper's {100 * target:.0f} %): {points}; chosen λ = "
            f"{chosen:.2g}.")
    if not bracket:
        text += (f" No candidate reached {100 * target:.0f} %: at 80 epochs the penalty prunes far less than the cpu "
                 f"profile's 6 epochs suggested, so the HoyerSquare row sits at a lower sparsity than the paper's.")
    return text


def row_findings(comparison: pd.DataFrame) -> list[str]:
    """One sentence per row with runs: ours against the paper's value, and whether the paper lies in our interval."""
    lines = []
    for row in comparison.to_dict("records"):
        label = {"snip-it": "SNIP-it before training", "snip-it-during": "SNIP-it during training"}.get(
            row["method"], row["paper label"])
        if pd.isna(row.get("accuracy", float("nan"))):
            lines.append(f"{label}: no runs yet.")
            continue
        where = "" if pd.isna(row["paper sparsity"]) else f" at {row['paper sparsity']:.0f} %"
        inside = "inside" if row["paper inside"] else "outside"
        lines.append(f"{label}: {row['accuracy']:.2f} ± {row['bound']:.2f} % at {row['sparsity']:.1f} % sparsity "
                     f"(n = {int(row['n'])}) against the paper's {row['paper accuracy']:.0f} %{where}: the paper's value is "
                     f"{inside} our interval.")
    return lines


def run_high_sparsity_worker(worker: int, workers: int, store: ResultStore) -> None:
    """Run this worker's share of :func:`high_sparsity_configs` (resumable: stored runs are skipped)."""
    sweep(worker_share(high_sparsity_configs(), worker, workers), store, progress=False)


def run_worker(worker: int, workers: int, store: ResultStore, *, poll_seconds: float = 30.0) -> None:
    """Run this worker's share (:func:`worker_share`): the λ runs first, then, once all of them are stored, Table 3
    at the chosen λ. Resumable: stored runs are skipped."""
    lam_runs = lambda_configs()
    sweep(worker_share(lam_runs, worker, workers), store, progress=False)
    while not all(store.has(c) for c in lam_runs):  # the other workers' λ runs
        time.sleep(poll_seconds)
    lam = choose_lambda([store.get(c) for c in lam_runs])
    log.info("table3: HoyerSquare λ = %g (validation sparsity closest to %.0f %%)", lam, 100 * HOYERSQUARE_TARGET)
    sweep(worker_share(table3_configs(lam), worker, workers), store, progress=False)  # stored as each finishes


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m prunekit.experiments.table3 --worker 0 --workers 2 --results results/mnist-paper``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--results", type=Path, default=Path("results") / PROFILE)
    parser.add_argument("--high-sparsity", action="store_true", help="run Figure 10's 98/99/99.5 %% end instead")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run = run_high_sparsity_worker if args.high_sparsity else run_worker
    run(args.worker, args.workers, ResultStore(args.results))


if __name__ == "__main__":
    main()
