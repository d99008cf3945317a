"""Facts of the method chapter's page functions (Section 3, Appendix D), on small hand-built inputs."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from prunekit.core.schedule import snip_it_schedule
from prunekit.experiments.profiles import get_profile
from prunekit.paper.chapters import method as chapter


def _identity(shift=0.0, gate_loss=2.0):
    elasticity = {"fc1": torch.tensor([[0.01, 0.002], [0.0, 0.03]]), "fc2": torch.tensor([0.0001, 0.02])}
    gated = {n: e + shift for n, e in elasticity.items()}
    return chapter.ElasticityIdentity(elasticity, gated, loss=2.0, gate_loss=gate_loss, samples=512)


def test_equal_computations_make_the_identity_hold_and_a_difference_or_another_loss_breaks_it():
    assert _identity().holds and _identity().max_diff == 0.0
    assert not _identity(shift=1e-4).holds
    assert not _identity(gate_loss=2.1).holds


def test_the_identity_counts_every_weight_and_finds_the_largest_elasticity():
    identity = _identity(shift=0.001)
    assert identity.n_weights == 6 and identity.largest == pytest.approx(0.03)
    assert identity.max_diff == pytest.approx(0.001, rel=1e-4)
    assert "6 weights in 2 layers, 512 samples, mean loss L = 2.0000" in chapter.elasticity_summary(identity)


def test_the_elasticity_text_says_whether_the_points_lie_on_the_identity_line():
    assert chapter.elasticity_text(_identity()).startswith("Every point lies on the identity line")
    assert chapter.elasticity_text(_identity(shift=1e-4)).startswith("The points leave the identity line")
    assert "the largest elasticity is 0.03" in chapter.elasticity_text(_identity())


def test_snip_its_schedule_for_98_percent_is_appendix_ds_and_others_are_not():
    assert chapter.matches_appendix_d(snip_it_schedule(0.98, steps=5))
    assert not chapter.matches_appendix_d(snip_it_schedule(0.99, steps=5))
    assert not chapter.matches_appendix_d(snip_it_schedule(0.98, steps=4))


def test_the_grid_has_one_dense_run_per_seed_and_every_method_at_every_level():
    profile = get_profile("smoke")
    configs = chapter.grid(profile, "mlp5", "mnist", [0, 1])
    dense = [c for c in configs if c.criterion == "none"]
    assert len(dense) == 2 and all(c.sparsity == 0.0 for c in dense)
    pruned = {(c.criterion, c.sparsity, c.seed) for c in configs if c.criterion != "none"}
    assert pruned == {(m, s, seed) for m in chapter.METHODS for s in profile.sparsities for seed in (0, 1)}
    assert all(c.prune_at == "before" for c in configs if c.criterion != "none")


def _kept(input_snip=0.01, input_snip_it=0.03, output_snip=0.3, output_snip_it=0.1, hidden_snip=(0.05, 0.02)):
    """Kept fractions per layer position (0 = input, 3 = output) and criterion at one κ."""
    return pd.DataFrame({"snip": [input_snip, *hidden_snip, output_snip],
                         "snip-it": [input_snip_it, 0.02, 0.02, output_snip_it],
                         "random": [0.02, 0.02, 0.02, 0.02]}, index=pd.Index(range(4), name="position"))


def test_snips_early_layer_bias_makes_every_statement_hold():
    assert all(chapter.layer_bias_checks(_kept()).values())


def test_each_layer_statement_fails_on_the_runs_that_contradict_it():
    checks = chapter.layer_bias_checks(_kept(input_snip=0.04, output_snip=0.05))
    assert checks == {"SNIP keeps fewer input-layer weights than SNIP-it": False,
                      "SNIP's input layer is its most pruned layer": False,
                      "SNIP keeps more output-layer weights than SNIP-it": False,
                      "SNIP-it spreads sparsity over the input and hidden layers more evenly than SNIP": True}
    even = chapter.layer_bias_checks(_kept(input_snip=0.02, hidden_snip=(0.02, 0.02), input_snip_it=0.06))
    assert not even["SNIP-it spreads sparsity over the input and hidden layers more evenly than SNIP"]


def _layers_kept():
    rows = [{"criterion": c, "sparsity": s, "position": p, "remaining": (1 - s) * (p + 1)}
            for c in chapter.METHODS for s in (0.9, 0.98) for p in range(3)]
    return pd.DataFrame(rows)


def test_kept_at_pivots_one_level_and_refuses_a_level_not_swept():
    at = chapter.kept_at(_layers_kept(), 0.98)
    assert list(at.columns) == sorted(chapter.METHODS) and list(at.index) == [0, 1, 2]
    assert at.loc[2, "snip"] == pytest.approx(0.06)
    with pytest.raises(ValueError, match="0.99"):
        chapter.kept_at(_layers_kept(), 0.99)


def test_the_layer_level_is_98_percent_when_swept_else_the_highest_and_accuracy_is_read_from_98_up():
    assert chapter.layer_kappa([0.5, 0.98, 0.99]) == 0.98
    assert chapter.layer_kappa([0.5, 0.9]) == 0.9
    assert chapter.accuracy_levels([0.99, 0.5, 0.98, 0.95]) == [0.98, 0.99]


def _runs(snip_it_at_99=0.90):
    accuracy = {("none", 0.0): 0.98, ("snip", 0.98): 0.93, ("snip-it", 0.98): 0.95, ("random", 0.98): 0.90,
                ("snip", 0.99): 0.91, ("snip-it", 0.99): snip_it_at_99, ("random", 0.99): 0.85}
    rows = [{"criterion": c, "sparsity": s, "seed": seed, "accuracy": a + 0.01 * seed}
            for (c, s), a in accuracy.items() for seed in (0, 1)]
    return pd.DataFrame(rows)


def test_snip_it_beats_snip_only_when_it_is_at_least_as_accurate_at_every_level_from_98_up():
    evidence, holds = chapter.before_beats_snip(_runs(snip_it_at_99=0.92))
    assert holds and evidence.startswith("holds at all 2 levels; closest at 99 %")
    evidence, holds = chapter.before_beats_snip(_runs(snip_it_at_99=0.90))
    assert not holds and evidence == "fails at 99 %: 90.50 vs 91.50 %"


def _agg(runs):
    pruned = runs[runs["criterion"] != "none"].assign(hm=lambda r: r["accuracy"])
    grouped = pruned.groupby(["criterion", "sparsity"])
    return pd.DataFrame({"accuracy_mean": grouped["accuracy"].mean(), "accuracy_bound": 0.001,
                         "hm_mean": grouped["hm"].mean()}).reset_index()


def test_the_accuracy_text_lists_every_method_per_level_and_the_claims_verdict():
    runs = _runs()
    text = chapter.accuracy_text(_agg(runs), runs, [0.98, 0.99])
    assert "- κ = 98%: snip 93.50 ± 0.10 %, snip-it 95.50 ± 0.10 %, random 90.50 ± 0.10 %" in text
    assert "The best harmonic mean in this sweep is 95.5 (snip-it at κ = 98%)." in text
    assert text.endswith("**does not hold** here (fails at 99 %: 90.50 vs 91.50 %).")


def test_the_ledger_keeps_the_checks_and_leaves_registered_claims_to_the_registry():
    at = _kept().rename(index=int)
    checked = chapter.ledger(_identity(), snip_it_schedule(0.98, steps=5), 0.98, at,
                             chapter.layer_bias_checks(at), _runs(snip_it_at_99=0.92))
    # SNIP's input-layer bias and SNIP-it ≥ SNIP are registered claims: counting them here too would count twice
    assert [(c.id, c.holds) for c in checked] == [("criterion-is-elasticity", True), ("schedule", True)]
    assert checked[1].ours == "0.5, 0.74, 0.86, 0.92, 0.95, 0.965, 0.98"