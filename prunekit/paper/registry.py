"""The registry of the paper's claims: each with its verbatim sentence, our reading, its runs and its test.

A claim's test is written here before the runs that decide it (``data_existed=False`` says so; the git history
of this file is the audit trail). A test changed after its data exists keeps its old form in ``amendments``,
which the summary page lists; it is never edited silently. Verdicts come from ``prunekit.paper.evidence`` under
its one statistical rule. ``python -m prunekit.paper.registry --list`` prints every claim.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from prunekit.experiments.record import RunRecord
from prunekit.experiments.methods import record_method
from prunekit.paper import evidence
from prunekit.paper.evidence import Verdict

TESTS = ("better", "at_least", "on_par", "beyond")
POINT = None  # a level of None: the one point the store holds for the method (HoyerSquare's λ chosen in advance)

# The paper's sentences the claims below test, verbatim (whitespace aside) from ../shared/paper/snip-it-paper.md.
PARETO = ("What follows from both, is that SNIP-it (during training) is significantly Pareto-optimal compared to all "
          "baselines on almost all setups.")
BEFORE = ("Moreover, SNIP-it (before training) significantly surpasses SNIP [40] and performs at least as good as "
          "GraSP [70], now and again outperforming it.")
RANDOM = ("Interestingly, in the case of an MLP5 random performs better than expected, which emphasizes the "
          "importance to test against a random baseline on different types of networks.")
STATE_OF_THE_ART = ("We then demonstrate how it can be applied for both structured and unstructured pruning, before "
                    "and/or during training, therewith achieving state-of-the-art sparsity-performance trade-offs.")
UNSTRUCTURED = "Section 5, 'Unstructured SNIP-it' (Table 2, Figure 2; Table 3 and Figure 10 for MNIST)"
TABLE3_NOTE = "MLP5 on MNIST at the paper's budget (80 epochs, 5 seeds), the paper's own Table 3 setting"
CPU_NOTE = "MLP5 on MNIST, cpu profile: 6 of 80 epochs, 3 seeds"
HIGH_SPARSITY = (0.98, 0.99, 0.995)
MODERATE_SPARSITY = (0.5, 0.8, 0.9, 0.95)
ALL_UNSTRUCTURED = MODERATE_SPARSITY + HIGH_SPARSITY
NODE_SPARSITY = (0.5, 0.8, 0.9, 0.95, 0.98)
STRUCTURED_BEFORE = ("It is illustrated in Figure 1, that SNAP-it outperforms baselines in terms of sparsity and "
                     "performance, even though it prunes before training.")
CNIP = ("CNIP-it has higher weight-sparsity than SNAP-it in Figure 7a, yet notable lower node-sparsity in Figure 7b.")
SNAP_DURING = ("Additionally, we undertook experiments with SNAP-it (during training), but found it performed on-par "
               "with SNAP-it (before training), so we omitted the former as it delays the availability of the benefits "
               "of structured pruning to inference time, in contrast to the latter.")
STRUCTURED_NOTE = "{model} on MNIST, cpu profile: 6 of 80 epochs, 3 seeds (the paper: VGG16/AlexNet on CIFAR10/Imagenette)"
# Registered on 2026-12-07, after the cpu store held the runs that decide them (data_existed=True, shown as such).
LATE = "2026-12-07"
# When the mnist-paper claims were committed (commit a949df3), before any run that decides them existed; a test
# checks that every deciding record is younger.
PRE_REGISTERED = "2026-12-07T03:51:37+00:00"


@dataclass(frozen=True)
class Side:
    """One side of a comparison: a method (``prunekit.experiments.methods`` key) at its levels, and the metric compared."""

    method: str
    levels: tuple[float | None, ...]
    metric: str = "accuracy"
    structured: bool = False  # a node-pruning method (SNAP-it, structured Random, ...)


@dataclass(frozen=True)
class ClaimTest:
    """A typed test: ``better`` (A > B), ``at_least`` (A ≥ B − δ), ``on_par`` (|A − B| < δ), ``beyond`` (A vs a
    threshold the paper states). ``margin`` and ``threshold`` cite their source in the paper."""

    kind: str
    a: Side
    b: Side | None = None
    margin: float | None = None
    threshold: float | None = None
    above: bool = True
    source: str = ""  # where the margin or threshold comes from in the paper

    def __post_init__(self) -> None:
        if self.kind not in TESTS:
            raise ValueError(f"test kind must be one of {', '.join(TESTS)}, got {self.kind!r}")
        if (self.b is None) != (self.kind == "beyond"):
            raise ValueError(f"a {self.kind!r} test {'takes no' if self.kind == 'beyond' else 'needs a'} second side")
        if self.b is not None and len(self.a.levels) != len(self.b.levels):
            raise ValueError("the two sides must pair level for level")
        if self.kind in ("at_least", "on_par") and not (self.margin and self.source):
            raise ValueError(f"a {self.kind!r} test needs a margin and the paper's source for it")

    def describe(self) -> str:
        """The test in one line, as the summary page shows it."""
        a = f"{self.a.method} {_levels(self.a.levels)}"
        if self.kind == "beyond":
            return f"{self.a.metric} of {a} {'>' if self.above else '<'} {self.threshold:g} ({self.source})"
        b = f"{self.b.method} {_levels(self.b.levels)}"
        if self.kind == "better":
            return f"{self.a.metric}: {a} > {b}"
        relation = "≥" if self.kind == "at_least" else "≈"
        return f"{self.a.metric}: {a} {relation} {b} within δ = {self.margin:g} ({self.source})"


def _levels(levels: Sequence[float | None]) -> str:
    return "at " + "/".join("its point" if lv is None else f"{100 * lv:g} %" for lv in levels)


@dataclass(frozen=True)
class Amendment:
    """A change to a claim's test after its data existed: what it was, what it became, when and why."""

    date: str
    old: str
    new: str
    reason: str


@dataclass(frozen=True)
class Claim:
    """One claim of the paper as registered: sentence (verbatim), where, our reading, runs and test."""

    id: str
    sentence: str
    location: str
    reading: str
    profile: str
    model: str
    dataset: str
    test: ClaimTest
    registered: str  # UTC ISO time (or date) the claim's test was committed
    data_existed: bool  # True: registered after the runs that decide it were already in the store
    setting: str = ""  # where our setting differs from the paper's
    amendments: tuple[Amendment, ...] = ()


def _better(a: str, a_level: float, b: str, b_level: float | None) -> ClaimTest:
    return ClaimTest("better", Side(a, (a_level,)), Side(b, (b_level,)))


def _pareto(b: str, b_level: float | None, registered: str | None = None) -> Claim:
    point = "its Table 3 point" if b_level is None else f"{100 * b_level:g} %"
    return Claim(
        id=f"t3-during-beats-{b}", sentence=PARETO, location=UNSTRUCTURED,
        reading=f"At Table 3's points SNIP-it during training (98 %) has a higher test accuracy than {b} ({point}), "
                f"at equal or higher sparsity, so it is not dominated by it.",
        profile="mnist-paper", model="mlp5", dataset="mnist", test=_better("snip-it-during", 0.98, b, b_level),
        registered=registered or PRE_REGISTERED, data_existed=False, setting=TABLE3_NOTE)


def _high_sparsity(prefix: str, profile: str, registered: str, data_existed: bool, setting: str) -> tuple[Claim, ...]:
    """The BEFORE sentence read in the high-sparsity regime (98, 99, 99.5 %) on one profile's runs: SNIP-it before
    training beats SNIP and is no worse than GraSP at every level."""
    common = dict(sentence=BEFORE, location=UNSTRUCTURED, profile=profile, model="mlp5", dataset="mnist",
                  registered=registered, data_existed=data_existed, setting=setting)
    return (
        Claim(id=f"{prefix}-before-beats-snip",
              reading="In the high-sparsity regime (98, 99, 99.5 %) SNIP-it before training is more accurate than "
                      "SNIP at every level.",
              test=ClaimTest("better", Side("snip-it", HIGH_SPARSITY), Side("snip", HIGH_SPARSITY)), **common),
        Claim(id=f"{prefix}-before-at-least-grasp",
              reading="In the high-sparsity regime (98, 99, 99.5 %) SNIP-it before training is no worse than GraSP "
                      "at any level.",
              test=ClaimTest("at_least", Side("snip-it", HIGH_SPARSITY), Side("grasp", HIGH_SPARSITY), margin=0.002,
                             source="Table 3's bounds for SNIP-it before training and GraSP (±0.2 pp each)"),
              **common),
    )


def _snap_beats_random(model: str) -> Claim:
    return Claim(
        id=f"cpu-{model}-snap-beats-random", sentence=STRUCTURED_BEFORE, location="Section 5, 'Structured pruning "
        "before training' (Figure 1, Table 1)",
        reading="Pruning nodes before training, SNAP-it is more accurate than structured Random at every swept node "
                "sparsity (50-98 %).",
        profile="cpu", model=model, dataset="mnist",
        test=ClaimTest("better", Side("snap-it-before", NODE_SPARSITY, structured=True),
                       Side("random", NODE_SPARSITY, structured=True)),
        registered=LATE, data_existed=True, setting=STRUCTURED_NOTE.format(model=model.upper()))


def _cnip(model: str, metric: str) -> Claim:
    weights = metric == "weight_sparsity"
    first, second = ("cnip-it-before", "snap-it-before") if weights else ("snap-it-before", "cnip-it-before")
    return Claim(
        id=f"cpu-{model}-cnip-{'more-weight' if weights else 'less-node'}-sparsity", sentence=CNIP,
        location="Appendix B, Figure 7",
        reading=(f"At every swept sparsity κ (50-98 %), CNIP-it's network has a {'higher weight' if weights else 'lower node'}"
                 f" sparsity than SNAP-it's."),
        profile="cpu", model=model, dataset="mnist",
        test=ClaimTest("better", Side(first, NODE_SPARSITY, metric=metric, structured=True),
                       Side(second, NODE_SPARSITY, metric=metric, structured=True)),
        registered=LATE, data_existed=True, setting=STRUCTURED_NOTE.format(model=model.upper()))


CLAIMS: tuple[Claim, ...] = (
    _pareto("imp-global", 0.98),
    _pareto("hoyersquare", POINT),
    _pareto("grasp", 0.97),
    _pareto("random", 0.96),
    _pareto("snip", 0.96),
    Claim(id="t3-before-beats-snip", sentence=BEFORE, location=UNSTRUCTURED,
          reading="At Table 3's points SNIP-it before training (97 %) has a higher test accuracy than SNIP (96 %), "
                  "at higher sparsity.",
          profile="mnist-paper", model="mlp5", dataset="mnist", test=_better("snip-it", 0.97, "snip", 0.96),
          registered=PRE_REGISTERED, data_existed=False, setting=TABLE3_NOTE),
    Claim(id="t3-before-at-least-grasp", sentence=BEFORE, location=UNSTRUCTURED,
          reading="At 97 % (both methods' Table 3 sparsity) SNIP-it before training is no worse than GraSP.",
          profile="mnist-paper", model="mlp5", dataset="mnist",
          test=ClaimTest("at_least", Side("snip-it", (0.97,)), Side("grasp", (0.97,)), margin=0.002,
                    source="Table 3's bounds for SNIP-it before training and GraSP (±0.2 pp each)"),
          registered=PRE_REGISTERED, data_existed=False, setting=TABLE3_NOTE),
    Claim(id="t3-random-on-par-snip", sentence=RANDOM, location=UNSTRUCTURED,
          reading="On MLP5 Random is as good as SNIP at their shared Table 3 sparsity (96 %).",
          profile="mnist-paper", model="mlp5", dataset="mnist",
          test=ClaimTest("on_par", Side("random", (0.96,)), Side("snip", (0.96,)), margin=0.003,
                    source="Table 3's bounds for Random (±0.2 pp) and SNIP (±0.3 pp), the larger"),
          registered=PRE_REGISTERED, data_existed=False, setting=TABLE3_NOTE),
    *_high_sparsity("hs", "mnist-paper", PRE_REGISTERED, False, TABLE3_NOTE + "; Figure 10's high-sparsity end"),
    *_high_sparsity("cpu", "cpu", "2026-12-07", True, CPU_NOTE),
    Claim(id="cpu-before-at-least-random", sentence=STATE_OF_THE_ART, location="Abstract",
          reading="Before training, SNIP-it's accuracy is no worse than Random's at every swept "
                  "sparsity from 80 to 95 % (a state-of-the-art trade-off is at least the random baseline's).",
          profile="cpu", model="mlp5", dataset="mnist",
          test=ClaimTest("at_least", Side("snip-it", (0.8, 0.9, 0.95)), Side("random", (0.8, 0.9, 0.95)), margin=0.002,
                    source="Table 3's bounds for SNIP-it before training and Random (±0.2 pp each)"),
          registered="2026-12-07", data_existed=True,
          setting=CPU_NOTE + "; the paper itself notes Random does better than expected on MLP5"),
    Claim(id="cpu-during-beats-imp", sentence=PARETO, location=UNSTRUCTURED,
          reading="SNIP-it during training is more accurate than IMP-global at every swept sparsity (50-99.5 %), "
                  "both pruning during training on the same schedule.",
          profile="cpu", model="mlp5", dataset="mnist",
          test=ClaimTest("better", Side("snip-it-during", ALL_UNSTRUCTURED), Side("imp-global", ALL_UNSTRUCTURED)),
          registered=LATE, data_existed=True, setting=CPU_NOTE),
    Claim(id="cpu-before-beats-snip-moderate", sentence=BEFORE, location=UNSTRUCTURED,
          reading="At moderate sparsity (50-95 %) SNIP-it before training is more accurate than SNIP at every level.",
          profile="cpu", model="mlp5", dataset="mnist",
          test=ClaimTest("better", Side("snip-it", MODERATE_SPARSITY), Side("snip", MODERATE_SPARSITY)),
          registered=LATE, data_existed=True, setting=CPU_NOTE),
    Claim(id="cpu-before-at-least-grasp-moderate", sentence=BEFORE, location=UNSTRUCTURED,
          reading="At moderate sparsity (50-95 %) SNIP-it before training is no worse than GraSP at any level.",
          profile="cpu", model="mlp5", dataset="mnist",
          test=ClaimTest("at_least", Side("snip-it", MODERATE_SPARSITY), Side("grasp", MODERATE_SPARSITY), margin=0.002,
                         source="Table 3's bounds for SNIP-it before training and GraSP (±0.2 pp each)"),
          registered=LATE, data_existed=True, setting=CPU_NOTE),
    _snap_beats_random("mlp5"),
    _snap_beats_random("lenet5"),
    _cnip("mlp5", "weight_sparsity"),
    _cnip("mlp5", "node_sparsity"),
    _cnip("lenet5", "weight_sparsity"),
    _cnip("lenet5", "node_sparsity"),
    Claim(id="cpu-snap-during-on-par-before", sentence=SNAP_DURING, location="Appendix E",
          reading="SNAP-it pruning nodes during training (τ = 4 of 80 epochs, scaled) is as accurate as SNAP-it before "
                  "training at every swept node sparsity (50-98 %).",
          profile="cpu", model="mlp5", dataset="mnist",
          test=ClaimTest("on_par", Side("snap-it-during", NODE_SPARSITY, structured=True),
                         Side("snap-it-before", NODE_SPARSITY, structured=True), margin=0.014,
                         source="Table 1's bounds for SNAP-it (±1.4 pp on VGG16, ±0.9 pp on AlexNet), the larger"),
          registered=LATE, data_existed=True, setting=STRUCTURED_NOTE.format(model="MLP5")),
)


def claims_by_id() -> dict[str, Claim]:
    """Every registered claim by its id (ids are unique)."""
    table = {c.id: c for c in CLAIMS}
    if len(table) != len(CLAIMS):
        raise ValueError("claim ids must be unique")
    return table


def side_values(side: Side, records: Sequence[RunRecord], claim: Claim) -> dict[float | None, list[float]]:
    """Per level, the per-seed values of ``side.metric`` from test-set runs of the claim's model and dataset."""
    mine = [r for r in records if record_method(r) == side.method and r.config.structured == side.structured
            and r.config.validation == 0.0 and r.config.model == claim.model and r.config.dataset == claim.dataset]
    values: dict[float | None, list[float]] = {}
    for level in side.levels:
        if level is POINT:
            points = {r.config.criterion_options for r in mine}
            if len(points) > 1:
                raise ValueError(f"{side.method}: the store holds more than one point ({sorted(points)}); "
                                 f"a claim on 'its point' needs exactly one")
            values[level] = [float(r.metrics[side.metric]) for r in mine]
        else:
            values[level] = [float(r.metrics[side.metric]) for r in mine if math.isclose(r.config.sparsity, level)]
    return values


def decide(claim: Claim, records: Sequence[RunRecord]) -> Verdict | None:
    """The claim's verdict on ``records`` (those of its profile), or None while a side has no run yet."""
    test = claim.test
    a = side_values(test.a, records, claim)
    if test.kind == "beyond":
        if not all(a.values()):
            return None
        return evidence.beyond({_key(lv): v for lv, v in a.items()}, test.threshold, above=test.above)
    b = side_values(test.b, records, claim)
    if not all(a.values()) or not all(b.values()):
        return None
    # levels pair in order, keyed by side A's level
    a_keyed = {_key(lv): a[lv] for lv in test.a.levels}
    b_keyed = {_key(lv_a): b[lv_b] for lv_a, lv_b in zip(test.a.levels, test.b.levels)}
    if test.kind == "better":
        return evidence.better(a_keyed, b_keyed)
    if test.kind == "at_least":
        return evidence.at_least(a_keyed, b_keyed, test.margin)
    return evidence.on_par(a_keyed, b_keyed, test.margin)


def _key(level: float | None) -> float:
    """A level as a dict key of the evidence functions (NaN: the method's one point)."""
    return float("nan") if level is None else level


def claims_frame(records_by_profile: dict[str, Sequence[RunRecord]]) -> pd.DataFrame:
    """One row per registered claim: where, sentence, reading, test, verdict and its evidence, setting."""
    rows = []
    for claim in CLAIMS:
        records = records_by_profile.get(claim.profile)
        verdict = decide(claim, records) if records is not None else None
        rows.append({"id": claim.id, "where": claim.location, "sentence": claim.sentence, "reading": claim.reading,
                     "test": claim.test.describe(), "profile": claim.profile,
                     "verdict": verdict.verdict if verdict else "awaiting runs",
                     "evidence": verdict.summary() if verdict else "",
                     "registered before its data": not claim.data_existed, "setting": claim.setting,
                     "amendments": len(claim.amendments)})
    return pd.DataFrame(rows)


def amendments_frame() -> pd.DataFrame:
    """Every amendment of every claim: claim, old test, new test, date, reason."""
    rows = [{"claim": c.id, "old test": a.old, "new test": a.new, "date": a.date, "reason": a.reason}
            for c in CLAIMS for a in c.amendments]
    return pd.DataFrame(rows, columns=["claim", "old test", "new test", "date", "reason"])


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m prunekit.paper.registry --list [--results results]``: every claim with its verdict."""
    from prunekit.experiments.store import ResultStore

    parser = argparse.ArgumentParser(description="The registered claims of the paper and their verdicts.")
    parser.add_argument("--list", action="store_true", help="print every registered claim")
    parser.add_argument("--results", type=Path, default=Path("results"), help="folder holding one store per profile")
    args = parser.parse_args(argv)
    profiles = {c.profile for c in CLAIMS}
    stores = {p: ResultStore(args.results / p).records() for p in profiles if (args.results / p).is_dir()}
    for row in claims_frame(stores).to_dict("records"):
        print(f"[{row['verdict']}] {row['id']} — {row['where']}\n  “{row['sentence']}”\n  reading: {row['reading']}\n"
              f"  test: {row['test']} (profile {row['profile']}; registered before its data: "
              f"{'yes' if row['registered before its data'] else 'no'})\n  evidence: {row['evidence'] or '—'}\n")


def normalise(text: str) -> str:
    """Text with runs of white space folded, for finding a sentence verbatim in the paper."""
    return re.sub(r"\s+", " ", text).strip()


if __name__ == "__main__":
    main()
