"""The claims registry: verbatim sentences, typed tests, verdicts decided on the runs the claim names."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from prunekit.experiments.config import RunConfig

from prunekit.experiments.record import RunRecord
from prunekit.paper.evidence import CONTRADICTED, HOLDS, INCONCLUSIVE
from prunekit.paper.registry import (CLAIMS, ClaimTest, Side, amendments_frame, claims_by_id, claims_frame, decide,
                                     deciding_records, normalise, side_records)
from prunekit.experiments.store import ResultStore

PAPER = Path(__file__).resolve().parents[3] / "shared" / "paper" / "snip-it-paper.md"


@pytest.mark.skipif(not PAPER.is_file(), reason="the paper's text lives in ../shared/paper")
def test_every_sentence_is_quoted_verbatim_from_the_paper():
    text = normalise(PAPER.read_text())
    assert [c.id for c in CLAIMS if normalise(c.sentence) not in text] == []


def test_ids_are_unique_and_every_claim_has_a_reading_and_a_setting():
    assert len(claims_by_id()) == len(CLAIMS)
    assert all(c.reading and c.location and c.profile for c in CLAIMS)


def test_the_papers_grasp_and_random_comparisons_are_registered():
    tested = {(c.test.a.method, c.test.b.method) for c in CLAIMS if c.test.b is not None}
    assert ("snip-it", "grasp") in tested and ("snip-it", "random") in tested


def test_a_test_refuses_a_margin_without_its_source_and_unpaired_levels():
    with pytest.raises(ValueError, match="margin"):
        ClaimTest("on_par", Side("a", (0.9,)), Side("b", (0.9,)), margin=0.01)
    with pytest.raises(ValueError, match="pair level for level"):
        ClaimTest("better", Side("a", (0.9, 0.95)), Side("b", (0.9,)))
    with pytest.raises(ValueError, match="kind"):
        ClaimTest("looks-better", Side("a", (0.9,)), Side("b", (0.9,)))
    with pytest.raises(ValueError, match="repeated"):  # pairs keyed by A's level: (0.5, 0.5) would keep one pair
        ClaimTest("better", Side("a", (0.5, 0.5)), Side("b", (0.1, 1.0), lam=True))


def _records(criterion: str, prune_at: str, sparsity: float, accuracies: list[float]) -> list[RunRecord]:
    base = RunConfig(model="mlp5", dataset="mnist", criterion=criterion, prune_at=prune_at, sparsity=sparsity,
                     epochs=80)
    return [RunRecord(base.replace(seed=i), {"accuracy": a}, {}, [], [], {}, {}) for i, a in enumerate(accuracies)]


FIVE = [0.960, 0.961, 0.962, 0.960, 0.961]  # Table 3's profile runs 5 seeds


@pytest.mark.parametrize("during, imp, verdict", [([0.971, 0.972, 0.970, 0.971, 0.972], FIVE, HOLDS),
                                                  ([0.950, 0.951, 0.952, 0.950, 0.951], FIVE, CONTRADICTED),
                                                  ([0.950, 0.990, 0.970, 0.940, 0.985], FIVE, INCONCLUSIVE)])
def test_a_claim_is_decided_on_the_runs_it_names(during, imp, verdict):
    claim = claims_by_id()["t3-during-beats-imp-global"]
    records = _records("snip-it", "during", 0.98, during) + _records("imp-global", "during", 0.98, imp)
    records += _records("snip-it", "before", 0.98, [0.1, 0.1, 0.1])  # another method: never read
    assert decide(claim, records).verdict == verdict


def test_a_sweep_stopped_half_way_decides_nothing_and_says_how_far_it_got():
    claim = claims_by_id()["t3-during-beats-imp-global"]
    records = _records("snip-it", "during", 0.98, [0.99, 0.99, 0.99]) + _records("imp-global", "during", 0.98, FIVE)
    assert decide(claim, records) is None  # 3 of Table 3's 5 seeds: however clear, not yet a verdict
    row = claims_frame({"mnist-paper": records}).set_index("id").loc["t3-during-beats-imp-global"]
    assert row["verdict"] == "awaiting runs" and "snip-it-during at 0.98: 3 of 5 seeds" in row["evidence"]


def test_a_claim_without_its_runs_awaits_them_and_validation_runs_never_decide():
    claim = claims_by_id()["t3-during-beats-hoyersquare"]
    validation = [dataclasses.replace(r, config=r.config.replace(validation=0.2))
                  for r in _records("snip-it", "during", 0.98, [0.97, 0.97])]
    assert decide(claim, validation) is None
    frame = claims_frame({})
    assert set(frame["verdict"]) == {"awaiting runs", "awaiting data"} and len(frame) == len(CLAIMS)
    on_units = {c.id for c in CLAIMS if c.test.a.units}
    assert set(frame[frame["verdict"] == "awaiting data"]["id"]) == on_units
    assert list(amendments_frame().columns) == ["claim", "old test", "new test", "date", "reason", "status"]


def test_every_pre_registered_claim_is_older_than_every_run_that_decides_it():
    results = Path(__file__).resolve().parents[2] / "results"
    for claim in (c for c in CLAIMS if not c.data_existed):
        store = ResultStore(results / claim.profile)
        records = store.records() if store.root.is_dir() else []
        deciding = deciding_records(claim, records)
        assert all(r.provenance["date"] > claim.registered for r in deciding), claim.id


# --- claims decided on per-unit values and on layer profiles (issue #15) ---------------------------------------


def _units(entries: list[dict], chapter: str = "robustness", unit: str = "image") -> dict:
    return {"chapter": chapter, "unit": unit, "entries": entries}


def _attack(method: str, level: float, epsilon: float, fooled: int, n: int = 100) -> dict:
    return {"model": "mlp5", "dataset": "mnist", "method": method, "metric": "attack_success", "level": level,
            "epsilon": epsilon, "values": [1] * fooled + [0] * (n - fooled)}


@pytest.mark.parametrize("snip_it, snip, verdict", [(20, 60, HOLDS), (60, 20, CONTRADICTED), (40, 42, INCONCLUSIVE)])
def test_a_robustness_claim_is_decided_per_image_from_its_chapters_units(snip_it, snip, verdict):
    claim = claims_by_id()["cpu-fig5a-snip-it-more-robust-than-snip"]
    entries = [_attack(m, lv, eps, k) for lv in (0.98, 0.99, 0.995) for eps in (0.25, 0.5)
               for m, k in (("snip-it", snip_it if eps == 0.5 else 100), ("snip", snip if eps == 0.5 else 0))]
    result = decide(claim, [], {"robustness": _units(entries)})
    assert result.verdict == verdict  # only ε ≤ 0.5 is read: the other cap would say the opposite
    assert [r.n for r in result.levels] == [(100, 100)] * 3


def test_the_low_distance_claim_runs_over_the_caps_at_99_percent():
    claim = claims_by_id()["cpu-fig5b-low-distance-snip-it-more-robust"]
    entries = [_attack(m, lv, eps, k) for eps in (0.25, 0.5, 0.75, 1.0, 2.0) for lv in (0.98, 0.99)
               for m, k in (("snip-it", 10 if lv == 0.99 else 90), ("snip", 50 if lv == 0.99 else 5))]
    result = decide(claim, [], {"robustness": _units(entries)})
    assert result.verdict == HOLDS
    assert [r.level for r in result.levels] == ["ε ≤ 0.25", "ε ≤ 0.5", "ε ≤ 0.75", "ε ≤ 1"]


def test_a_units_claim_awaits_its_chapters_file_and_names_the_chapter():
    frame = claims_frame({"cpu": []}, {"cpu": {}}).set_index("id")
    row = frame.loc["cpu-fig3-snip-more-concentrated-than-grasp"]
    assert row["verdict"] == "awaiting data" and "robustness chapter" in row["evidence"]
    assert "results/cpu/claims/robustness-units.json" in row["evidence"]
    assert frame.loc["cpu-mlp5-elasticity-few-unit-elastic", "verdict"] == "awaiting data"
    assert frame.loc["fig11-l0-native-setting", "verdict"] == "awaiting runs"


def test_a_units_entry_twice_is_an_error_not_a_silent_choice():
    claim = claims_by_id()["cpu-fig3-snip-more-concentrated-than-grasp"]
    share = {"model": "mlp5", "dataset": "mnist", "metric": "top_share", "level": 0.99, "values": [0.5, 0.6]}
    entries = [{**share, "method": "snip"}, {**share, "method": "snip"}, {**share, "method": "grasp"}]
    with pytest.raises(ValueError, match="expected one"):
        decide(claim, [], {"robustness": _units(entries)})


@pytest.mark.parametrize("shares, verdict", [([0.0, 0.0, 0.0], HOLDS), ([0.01, 0.02, 0.015], CONTRADICTED),
                                             ([0.0, 0.0, 0.004], INCONCLUSIVE)])
def test_an_elasticity_claim_is_decided_per_seed_against_its_threshold(shares, verdict):
    claim = claims_by_id()["cpu-lenet5-elasticity-few-unit-elastic"]
    entry = {"model": "lenet5", "dataset": "mnist", "method": "none", "metric": "share_elasticity_ge_1", "level": None,
             "values": shares}
    other = {**entry, "model": "mlp5", "values": [0.5, 0.5, 0.5]}  # another network: never read
    assert decide(claim, [], {"elasticity": _units([entry, other], "elasticity", "seed")}).verdict == verdict


def _profile_records(criterion: str, prune_at: str, profiles: list[list[float]]) -> list[RunRecord]:
    base = RunConfig(model="mlp5", dataset="mnist", criterion=criterion, prune_at=prune_at, sparsity=0.99, epochs=6)
    return [RunRecord(base.replace(seed=i), {"accuracy": 0.9}, {f"fc{j}": 1.0 - v for j, v in enumerate(p)}, [], [],
                      {}, {}) for i, p in enumerate(profiles)]


@pytest.mark.parametrize("profiles, verdict", [
    ([[0.02, 0.010, 0.011, 0.009, 0.09], [0.021, 0.011, 0.010, 0.010, 0.10], [0.019, 0.009, 0.012, 0.010, 0.11]], HOLDS),
    ([[0.002, 0.008, 0.010, 0.012, 0.10], [0.003, 0.009, 0.011, 0.012, 0.11], [0.002, 0.008, 0.010, 0.013, 0.09]],
     CONTRADICTED),
    ([[0.01, 0.02, 0.005, 0.01, 0.10], [0.02, 0.005, 0.02, 0.01, 0.10], [0.005, 0.01, 0.01, 0.02, 0.10]], INCONCLUSIVE)])
def test_a_layer_shape_claim_is_decided_on_the_records_layer_fractions(profiles, verdict):
    claim = claims_by_id()["cpu-fig4-snip-it-parabola"]
    records = _profile_records("snip-it", "before", profiles) + _profile_records("snip", "before", profiles[::-1])
    assert decide(claim, records).verdict == verdict


def _structured(criterion: str, prune_at: str, values: list[float], *, sparsity: float = 0.0, lam: float | None = None,
                metric: str = "accuracy", structured: bool = True) -> list[RunRecord]:
    options = {"lam": lam} if lam is not None else {}
    base = RunConfig(model="mlp5", dataset="mnist", criterion=criterion, prune_at=prune_at, sparsity=sparsity,
                     epochs=6, structured=structured, criterion_options=options)
    return [RunRecord(base.replace(seed=i), {metric: v}, {}, [], [], {}, {}) for i, v in enumerate(values)]


def test_lower_is_better_memory_against_the_dense_point():
    claim = claims_by_id()["cpu-mlp5-snap-it-less-memory-at-start"]
    dense = _structured("none", "none", [37.6e6, 37.6e6, 37.6e6], metric="train_memory_bytes", structured=False)
    small = [r for lv in (0.5, 0.8, 0.9, 0.95, 0.98)
             for r in _structured("snap-it", "before", [16e6, 16.5e6, 15.8e6], sparsity=lv, metric="train_memory_bytes")]
    assert decide(claim, dense + small).verdict == HOLDS
    large = [dataclasses.replace(r, metrics={"train_memory_bytes": 40e6 + r.config.seed}) for r in small]
    assert decide(claim, dense + large).verdict == CONTRADICTED


def test_lambda_sides_read_the_lambda_of_each_run():
    claim = claims_by_id()["cpu-mlp5-l0-poor"]
    l0 = [r for lam in (0.5, 2.0, 3.5, 5.0) for r in
          _structured("l0", "during", [0.97, 0.972, 0.971] if lam == 0.5 else [0.80, 0.82, 0.79], lam=lam)]
    snap = _structured("snap-it", "before", [0.978, 0.977, 0.979], sparsity=0.5)
    result = decide(claim, l0 + snap)
    assert result.verdict == HOLDS and [r.level for r in result.levels] == ["λ = 2", "λ = 3.5", "λ = 5"]


def test_the_group_hs_spread_claim_pools_its_lambdas():
    claim = claims_by_id()["cpu-mlp5-group-hs-high-variance"]
    hs = [r for lam in (0.01, 0.1, 1.0, 5.0) for r in _structured("group-hs", "after", [0.90, 0.96, 0.93], lam=lam)]
    snap = [r for lv in (0.5, 0.8, 0.9, 0.95) for r in _structured("snap-it", "before", [0.970, 0.971, 0.969],
                                                                     sparsity=lv)]
    result = decide(claim, hs + snap)
    assert result.verdict == HOLDS and result.levels[0].n == (12, 12)


def test_shape_and_spread_tests_are_checked_when_declared():
    with pytest.raises(ValueError, match="shape"):
        ClaimTest("shape", Side("snip", (0.99,), "layer_profile"), shape="u-shaped")
    with pytest.raises(ValueError, match="layer_profile"):
        ClaimTest("shape", Side("snip", (0.99,)), shape="parabola")
    ClaimTest("spread", Side("a", (0.1, 1.0), lam=True), Side("b", (0.5,)))  # pooled: no level pairing needed


def test_the_hoyersquare_amendment_is_listed_as_applied_with_when_it_was_proposed():
    frame = amendments_frame()
    row = frame[frame["claim"] == "t3-during-beats-hoyersquare"]
    assert list(row["status"]) == ["applied"]
    assert "94 %" in row["reason"].iloc[0] and "proposed at 2026-12-07T17:02:45" in row["reason"].iloc[0]
    assert "2.9e-2" in row["new test"].iloc[0] and row["date"].iloc[0] > "2026-12-07T22"


def test_hoyersquares_table3_point_is_the_lambda_the_rule_picks_and_awaits_every_candidate():
    from prunekit.experiments.table3 import lambda_configs, table3_configs

    claim = claims_by_id()["t3-during-beats-hoyersquare"]
    validation = [RunRecord(c, {"accuracy": 0.95, "weight_sparsity": s}, {}, [], [], {}, {})
                  for c, s in zip(lambda_configs(), (0.43, 0.70, 0.80, 0.886, 0.97))]
    tables = {lam: [RunRecord(c, {"accuracy": acc + 1e-3 * c.seed}, {}, [], [], {}, {})
                    for c in table3_configs(lam) if c.criterion == "hoyersquare"]
              for lam, acc in ((validation[3].config.criterion_options[0][1], 0.99),
                               (validation[4].config.criterion_options[0][1], 0.90))}
    during = _records("snip-it", "during", 0.98, [0.95, 0.951, 0.952, 0.95, 0.951])
    records = during + [r for runs in tables.values() for r in runs]
    assert decide(claim, records + validation[:4]) is None  # a candidate's validation run is missing
    assert decide(claim, records + validation).verdict == HOLDS  # 2.9e-2 (97 %) is chosen: its runs, not 5.3e-3's


def test_every_claim_on_chapter_measurements_states_its_unit_and_is_honest_about_its_data():
    for claim in CLAIMS:
        sides = [claim.test.a] + ([claim.test.b] if claim.test.b else [])
        if any(s.units for s in sides):
            assert claim.data_existed, claim.id  # the chapters' pages existed before these claims
            assert "Unit:" in claim.reading or "per seed" in claim.reading, claim.id


def test_a_side_with_criterion_options_reads_only_the_runs_that_have_them():
    claim = claims_by_id()["cpu-grasp-it-less-accurate-than-snip-it"]
    base = RunConfig(model="mlp5", dataset="mnist", criterion="grasp-it", sparsity=0.98, epochs=6)
    regrow, stay_out = (RunRecord(base.replace(criterion_options=(("regrow", flag),)), {"accuracy": a}, {}, [], [], {}, {})
                        for flag, a in ((True, 0.9), (False, 0.1)))
    found = side_records(claim.test.a, [regrow, stay_out], claim)
    assert [r.key for r in found[0.98]] == [regrow.key]


# --- Appendix F's tuning claims: grids on the validation split (session 10) --------------------------------------


def _imp_tuning(rewind: float, interval: float, accuracies: list[float], validation: float = 0.2) -> list[RunRecord]:
    from prunekit.experiments.config import scaled_epochs

    base = RunConfig(model="mlp5", dataset="mnist", criterion="imp-global", prune_at="during", sparsity=0.98,
                     epochs=6, prune_interval=scaled_epochs(interval, 6), rewind_epoch=scaled_epochs(rewind, 6),
                     validation=validation)
    return [RunRecord(base.replace(seed=i), {"accuracy": a}, {}, [], [], {}, {}) for i, a in enumerate(accuracies)]


PEAK, FLAT, NOISE = [0.970, 0.971, 0.969], [0.960, 0.961, 0.959], [0.940, 0.990, 0.960]


@pytest.mark.parametrize("at_six, elsewhere, verdict", [(PEAK, FLAT, HOLDS), (FLAT, PEAK, CONTRADICTED),
                                                        (NOISE, NOISE, INCONCLUSIVE)])
def test_the_rewind_claim_reads_imp_at_tau_4_on_the_validation_split_in_the_papers_epochs(at_six, elsewhere, verdict):
    claim = claims_by_id()["appF-imp-rewind-best-5-or-6"]
    grid = [r for e in range(5) for r in _imp_tuning(e, 4, elsewhere)]
    grid += _imp_tuning(5, 4, FLAT if verdict == CONTRADICTED else at_six) + _imp_tuning(6, 4, at_six)
    never_read = _imp_tuning(6, 10, [0.1, 0.1]) + _imp_tuning(0, 4, [0.99, 0.99], validation=0.0)
    assert decide(claim, grid + never_read).verdict == verdict
    assert decide(claim, grid[3:]) is None  # e_k = 0 has no run yet: no verdict on part of the grid
    assert "e_k = 5 or e_k = 6" in claim.test.describe() and "validation split" in claim.test.describe()


def test_the_threshold_claim_compares_the_harmonic_mean_of_accuracy_and_sparsity():
    claim = claims_by_id()["appF-hoyersquare-threshold-1e-3-beats-1e-4"]
    base = RunConfig(model="mlp5", dataset="mnist", criterion="hoyersquare", epochs=6, validation=0.2)

    def runs(threshold: float, accuracy: float, sparsity: float) -> list[RunRecord]:
        config = base.replace(criterion_options=(("lam", float(claim.test.a.options[0][1])), ("threshold", threshold)))
        return [RunRecord(config.replace(seed=i), {"accuracy": accuracy + i * 1e-3, "weight_sparsity": sparsity},
                          {}, [], [], {}, {}) for i in range(3)]

    # t = 1e-3 trades 1 point of accuracy for 20 points of sparsity: its HM is higher, so it "works better"
    assert decide(claim, runs(1e-3, 0.95, 0.90) + runs(1e-4, 0.96, 0.70)).verdict == HOLDS
    assert decide(claim, runs(1e-3, 0.95, 0.60) + runs(1e-4, 0.96, 0.70)).verdict == CONTRADICTED


def test_the_input_layer_claim_reads_each_runs_first_layer_kept_fraction():
    from prunekit.paper.registry import INPUT_KEPT, record_value

    base = RunConfig(model="mlp5", dataset="mnist", criterion="snip", prune_at="before", sparsity=0.99, epochs=6)
    record = RunRecord(base, {"accuracy": 0.9}, {"fc1": 0.995, "fc2": 0.98, "fc3": 0.9}, [], [], {}, {})
    assert record_value(record, INPUT_KEPT) == pytest.approx(0.005)
    claim = claims_by_id()["cpu-snip-it-keeps-more-input-layer-than-snip"]

    def runs(criterion: str, first: float) -> list[RunRecord]:
        return [RunRecord(base.replace(criterion=criterion, sparsity=lv, seed=s), {"accuracy": 0.9},
                          {"fc1": first + 0.001 * s, "fc2": 0.9}, [], [], {}, {})
                for lv in (0.98, 0.99, 0.995) for s in range(3)]

    assert decide(claim, runs("snip-it", 0.95) + runs("snip", 0.995)).verdict == HOLDS
    assert decide(claim, runs("snip-it", 0.995) + runs("snip", 0.95)).verdict == CONTRADICTED


def test_runs_made_at_another_budget_never_join_a_side_that_does_not_vary_the_budget():
    """GateDecorators' standard cpu runs train 2 × 6 epochs; the budget claim's 1× runs (6 epochs) at the same κ
    once leaked into every GateDecorators side and doubled its seeds."""
    claim = claims_by_id()["cpu-mlp5-snap-beats-gatedecorators"]
    side = claim.test.b
    standard, short = (RunConfig.from_profile("cpu", model="mlp5", dataset="mnist", criterion="gatedecorators",
                                              structured=True, sparsity=0.9, **extra) for extra in ({}, {"epochs": 6}))
    assert standard.epochs == 12
    records = [RunRecord(c.replace(seed=s), {"accuracy": 0.9}, {}, [], [], {}, {}) for c in (standard, short)
               for s in range(3)]
    assert [r.config.epochs for r in side_records(side, records, claim)[0.9]] == [12, 12, 12]
    budget = claims_by_id()["cpu-mlp5-gatedecorators-needs-twice-the-epochs"]
    read = [sorted(r.config.epochs for rs in side_records(s, records, budget).values() for r in rs)
            for s in (budget.test.a, budget.test.b)]
    assert read == [[12, 12, 12], [6, 6, 6]]


def test_a_level_holding_cpu_and_gpu_runs_is_refused_not_pooled():
    claim = claims_by_id()["cpu-before-beats-snip-moderate"]
    cpu = _records("snip-it", "before", 0.5, [0.97, 0.971, 0.972])
    gpu = [dataclasses.replace(r, config=r.config.replace(device="cuda:0", precision="bf16")) for r in cpu]
    with pytest.raises(ValueError, match="computed in"):
        side_records(claim.test.a, cpu + gpu, claim)
    assert len(side_records(claim.test.a, cpu, claim)[0.5]) == 3
