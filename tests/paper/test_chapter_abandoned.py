"""Facts of the Appendix E chapter: the verdicts on GraSP-it and SNAP-it during training follow the numbers,
and the ledger keeps its five claims in order."""

import pandas as pd
import pytest

from prunekit.paper.chapters import abandoned as chapter


def _during_before(during_accuracy: list[float], during_flops: list[float]) -> chapter.DuringBefore:
    snap = pd.DataFrame({
        "method": ["snap-it"] * 2 + ["snap-it-during"] * 2, "level": [0.5, 0.9] * 2,
        "accuracy_mean": [0.97, 0.95, *during_accuracy], "accuracy_bound": [0.005] * 4,
        "training_flops_reduction_mean": [2.0, 10.0, *during_flops], "inference_flops_reduction_mean": [2.0, 10.0] * 2,
        "accuracy_n": [3] * 4})
    return chapter.during_vs_before(snap, [0.5, 0.9, 0.95])  # 95 % ran by neither: left out


def _grasp_it(revived_share: float, stay_out_cut: bool) -> chapter.GraspIt:
    per_round = pd.DataFrame({"variant": [chapter.REGROW] * 3, "round": [0, 1, 2], "target": [0.5, 0.8, 0.9],
                              "removed": [100, 60, 20], "revived": [0, 30, 10],
                              "removed_share": [0.5, 0.6, 0.5], "revived_share": [0.0, revived_share, revived_share]})
    methods = [chapter.STAY_OUT, chapter.REGROW, *chapter.REFERENCES.values()]
    conn = pd.DataFrame({"method": methods, "sparsity": [0.99] * 4, "surviving_paths": [0.0, 1e-3, 1e-4, 1e-2],
                         "disconnected": [stay_out_cut, False, False, False]})
    accuracy = pd.DataFrame({0.98: [0.90, 0.91, 0.95, 0.96]}, index=methods)
    return chapter.GraspIt(per_round, conn, accuracy)


def test_during_on_par_only_when_every_gap_is_within_the_bounds():
    cmp = _during_before([0.975, 0.95], [1.5, 3.0])
    assert cmp.shared == [0.5, 0.9] and cmp.on_par and cmp.delays and cmp.outside == []
    ahead = _during_before([0.99, 0.97], [1.5, 3.0])
    assert not ahead.on_par and ahead.during_ahead and ahead.outside == ["50%", "90%"]
    assert not _during_before([0.975, 0.95], [1.5, 12.0]).delays  # cheaper during at 90 %


def test_grasp_it_verdicts_follow_the_numbers():
    g = _grasp_it(revived_share=0.7, stay_out_cut=True)
    assert g.revives_more and g.disconnects and g.worse
    g = _grasp_it(revived_share=0.1, stay_out_cut=False)
    assert not g.revives_more and not g.disconnects


def test_claims_keep_ids_and_order_and_carry_the_numbers():
    claims = chapter.chapter_claims("mlp5", 0.98, _grasp_it(0.1, False), _during_before([0.975, 0.95], [1.5, 3.0]))
    # revival, GraSP-it's failure and SNAP-it during ≈ before are registered claims: not counted again here
    assert [c.id for c in claims] == ["grasp-it-disconnects", "snap-it-during-delays"]
    assert [c.holds for c in claims] == [False, True]
    assert "disconnected at no level" in claims[0].ours


def test_unit_entries_give_one_revival_and_one_removal_share_per_seed_after_the_first_round():
    turnover = pd.DataFrame({
        "key": ["a", "a", "a", "b", "b", "b", "c", "c"], "round": [0, 1, 2, 0, 1, 2, 0, 1],
        "variant": [chapter.REGROW] * 6 + [chapter.STAY_OUT] * 2,
        "revived_share": [0.9, 0.2, 0.4, 0.9, 0.1, 0.3, 0.5, 0.5], "removed_share": [0.5, 0.1, 0.1, 0.5, 0.2, 0.2, 0.5, 0.5]})
    entries = chapter.unit_entries(turnover, "mlp5", "mnist", 0.99)
    by_metric = {e["metric"]: e for e in entries}
    assert by_metric["revived_share"]["values"] == pytest.approx([0.3, 0.2])  # round 0 and the other variant left out
    assert by_metric["removed_share"]["values"] == pytest.approx([0.1, 0.2])
    assert {e["method"] for e in entries} == {"grasp-it-regrow"} and {e["level"] for e in entries} == {0.99}


def test_generated_text_names_the_model_and_the_outcome():
    text = chapter.grasp_it_text(_grasp_it(0.1, False), "lenet5")
    assert "it does not disconnect LENET5 at these levels" in text
    assert "revives 10.0–10.0 % of the weights pruned so far" in text and "brings back 0.50 for every one" in text
    during = chapter.snap_during_text(_during_before([0.99, 0.97], [1.5, 3.0]), "mlp5")
    assert "not on par as the paper found, but better here" in during and "2.0/10.0× cheaper" in during


def test_stay_out_units_hold_one_disconnection_flag_per_seed_of_the_variant_without_regrowth(monkeypatch):
    from prunekit.experiments.profiles import get_profile

    seen = []

    def fake_connectivity(configs, store):
        seen.extend(configs)
        return pd.DataFrame({"disconnected": [True, False, True]})

    monkeypatch.setattr(chapter, "mask_connectivity", fake_connectivity)
    (entry,) = chapter.stay_out_units(get_profile("cpu"), "mlp5", "mnist", [0, 1, 2], 0.999, store=None)
    assert entry["values"] == [1.0, 0.0, 1.0] and entry["metric"] == "disconnected" and entry["level"] == 0.999
    assert [c.seed for c in seen] == [0, 1, 2]
    assert all(dict(c.criterion_options) == {"regrow": False} and c.sparsity == 0.999 for c in seen)
