"""Each typed test of a claim can return each of the three verdicts; one rule (Welch on per-unit values, α = 0.05,
Holm)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from prunekit.paper.evidence import (
    CONTRADICTED,
    HOLDS,
    INCONCLUSIVE,
    at_least,
    best_in,
    better,
    beyond,
    holm,
    on_par,
    shape,
    spread,
    welch_one_sided,
)

HIGH = [0.970, 0.971, 0.969, 0.972, 0.970]
LOW = [0.960, 0.961, 0.959, 0.962, 0.960]
NOISY = [0.950, 0.990, 0.960, 0.985, 0.965]


def test_holm_matches_the_step_down_definition():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5]


def test_welch_one_sided_is_scipys_welch_test():
    expected = stats.ttest_ind(HIGH, NOISY, equal_var=False, alternative="greater").pvalue
    assert welch_one_sided(HIGH, NOISY) == pytest.approx(expected)


@pytest.mark.parametrize("a, b, verdict", [(HIGH, LOW, HOLDS), (LOW, HIGH, CONTRADICTED), (HIGH, NOISY, INCONCLUSIVE)])
def test_better_gives_every_verdict(a, b, verdict):
    assert better({0.98: a}, {0.98: b}).verdict == verdict


def test_better_over_levels_holds_only_where_every_level_holds():
    assert better({0.9: HIGH, 0.98: HIGH}, {0.9: LOW, 0.98: NOISY}).verdict == INCONCLUSIVE
    assert better({0.9: HIGH, 0.98: LOW}, {0.9: LOW, 0.98: HIGH}).verdict == CONTRADICTED


def test_holm_correction_can_turn_a_lone_significant_level_inconclusive():
    a = [1.0, 1.3, 0.9, 1.2, 1.1]
    b = [0.8, 0.9, 0.7, 1.0, 0.85]
    single = better({0.9: a}, {0.9: b})
    assert single.verdict == HOLDS and single.levels[0].p_for > 0.01  # significant, but not by much
    many = better({lv: a for lv in (0.5, 0.8, 0.9, 0.95, 0.98)}, {lv: b for lv in (0.5, 0.8, 0.9, 0.95, 0.98)})
    assert many.levels[0].p_for == pytest.approx(min(1.0, 5 * single.levels[0].p_for))


@pytest.mark.parametrize("a, b, verdict", [(HIGH, HIGH[::-1], HOLDS), (LOW, HIGH, CONTRADICTED),
                                           ([0.97, 0.95, 0.99, 0.96, 0.98], HIGH, INCONCLUSIVE)])
def test_at_least_gives_every_verdict(a, b, verdict):
    assert at_least({0.97: a}, {0.97: b}, margin=0.003).verdict == verdict


@pytest.mark.parametrize("a, b, verdict", [(HIGH, HIGH[::-1], HOLDS), (HIGH, LOW, CONTRADICTED),
                                           (NOISY, HIGH, INCONCLUSIVE)])
def test_on_par_gives_every_verdict(a, b, verdict):
    assert on_par({0.96: a}, {0.96: b}, margin=0.003).verdict == verdict


@pytest.mark.parametrize("values, verdict", [([2.1, 2.2, 2.0], HOLDS), ([0.5, 0.6, 0.4], CONTRADICTED),
                                             ([0.2, 2.5, 1.4], INCONCLUSIVE)])
def test_beyond_gives_every_verdict(values, verdict):
    assert beyond({0.9: values}, 1.0).verdict == verdict


def test_beyond_below_a_threshold_and_deterministic_quantities():
    assert beyond({0.9: [0.5, 0.6, 0.4]}, 1.0, above=False).verdict == HOLDS
    assert beyond({0.9: [50.0]}, 16.0, deterministic=True).verdict == HOLDS
    assert beyond({0.9: [50.0]}, 16.0).verdict == INCONCLUSIVE  # one seed of a random quantity decides nothing


def test_one_seed_is_inconclusive_and_a_margin_must_come_from_the_paper():
    assert better({0.9: [0.99]}, {0.9: [0.5]}).verdict == INCONCLUSIVE
    with pytest.raises(ValueError, match="margin"):
        on_par({0.9: HIGH}, {0.9: LOW}, margin=0.0)
    with pytest.raises(ValueError, match="share no level"):
        better({0.9: HIGH}, {0.8: LOW})


def test_verdict_summary_names_estimate_p_and_n():
    text = better({0.98: HIGH}, {0.98: LOW}).summary()
    assert "98 %" in text and "n = 5/5" in text and "Δ = +0.01" in text
    assert np.isclose(better({0.98: HIGH}, {0.98: LOW}).levels[0].estimate, 0.01)


@pytest.mark.parametrize("a, b, verdict", [(LOW, HIGH, HOLDS), (HIGH, LOW, CONTRADICTED), (LOW, NOISY, INCONCLUSIVE)])
def test_better_lower_gives_every_verdict_and_keeps_the_estimate_a_minus_b(a, b, verdict):
    result = better({0.99: a}, {0.99: b}, higher=False)
    assert result.verdict == verdict
    assert result.levels[0].estimate == pytest.approx(np.mean(a) - np.mean(b))


def test_per_image_zero_one_values_are_tested_like_any_unit():
    fewer = [1] * 30 + [0] * 70  # fooled on 30 of 100 images
    more = [1] * 60 + [0] * 40
    assert better({0.99: fewer}, {0.99: more}, higher=False).verdict == HOLDS
    assert better({0.99: more}, {0.99: more[::-1]}, higher=False).verdict == INCONCLUSIVE  # a tie


def test_labelled_levels_are_shown_by_their_label():
    text = better({"ε ≤ 0.5": HIGH}, {"ε ≤ 0.5": LOW}).summary()
    assert text.startswith("ε ≤ 0.5: Δ = ")


PARABOLA = [[0.02, 0.010, 0.011, 0.009, 0.09], [0.021, 0.011, 0.010, 0.010, 0.10], [0.019, 0.009, 0.012, 0.010, 0.11]]
RISING = [[0.002, 0.008, 0.010, 0.012, 0.10], [0.003, 0.009, 0.011, 0.012, 0.11], [0.002, 0.008, 0.010, 0.013, 0.09]]
FLAT = [[0.01, 0.02, 0.005, 0.01, 0.10], [0.02, 0.005, 0.02, 0.01, 0.10], [0.005, 0.01, 0.01, 0.02, 0.10]]


@pytest.mark.parametrize("profiles, verdict", [(RISING, HOLDS), (PARABOLA, CONTRADICTED), (FLAT, INCONCLUSIVE)])
def test_shape_earlier_hardest_gives_every_verdict(profiles, verdict):
    assert shape({0.99: profiles}, "earlier-hardest").verdict == verdict


@pytest.mark.parametrize("profiles, verdict", [(PARABOLA, HOLDS), (RISING, CONTRADICTED), (FLAT, INCONCLUSIVE)])
def test_shape_parabola_gives_every_verdict(profiles, verdict):
    assert shape({0.99: profiles}, "parabola").verdict == verdict


FALLING = [[0.10, 0.012, 0.010, 0.008, 0.002], [0.11, 0.012, 0.011, 0.009, 0.003], [0.09, 0.013, 0.010, 0.008, 0.002]]
EVEN_END = [[0.01, 0.02, 0.005, 0.01, 0.012], [0.02, 0.005, 0.02, 0.01, 0.009], [0.005, 0.01, 0.01, 0.02, 0.013]]


@pytest.mark.parametrize("profiles, verdict", [(FALLING, HOLDS), (PARABOLA, CONTRADICTED), (EVEN_END, INCONCLUSIVE)])
def test_shape_output_hardest_gives_every_verdict(profiles, verdict):
    result = shape({0.99: profiles}, "output-hardest")
    assert result.verdict == verdict
    assert [r.level for r in result.levels] == ["99 %: middle − output"]


def test_a_shape_over_labelled_levels_tests_every_level():
    # λ levels are labels: each must stay its own part of the test, not overwrite the one before
    result = shape({"λ = 0.1": FALLING, "λ = 1": PARABOLA}, "output-hardest")
    assert [r.level for r in result.levels] == ["λ = 0.1: middle − output", "λ = 1: middle − output"]
    assert result.verdict == CONTRADICTED


def test_a_parabola_needs_both_ends_above_the_middle():
    # the output layer keeps most, but the input layer no more than the middle: not a parabola
    one_end = [[0.010, 0.010, 0.011, 0.009, 0.09], [0.011, 0.011, 0.010, 0.010, 0.10], [0.010, 0.009, 0.012, 0.010, 0.11]]
    result = shape({0.99: one_end}, "parabola")
    assert result.verdict != HOLDS
    assert [r.level for r in result.levels] == ["99 %: input − middle", "99 %: output − middle"]


def test_shape_refuses_an_unknown_shape_and_ragged_profiles():
    with pytest.raises(ValueError, match="shape must be one of"):
        shape({0.99: RISING}, "u-shaped")
    with pytest.raises(ValueError, match="same number"):
        shape({0.99: [[0.1, 0.2, 0.3], [0.1, 0.2]]}, "parabola")


WIDE = {0.1: [0.90, 0.96, 0.93], 1.0: [0.80, 0.94, 0.88], 5.0: [0.70, 0.95, 0.85]}
NARROW = {0.5: [0.970, 0.971, 0.969], 0.8: [0.960, 0.961, 0.959], 0.9: [0.950, 0.951, 0.949]}


@pytest.mark.parametrize("a, b, verdict", [(WIDE, NARROW, HOLDS), (NARROW, WIDE, CONTRADICTED), (WIDE, WIDE, INCONCLUSIVE)])
def test_spread_gives_every_verdict(a, b, verdict):
    assert spread(a, b).verdict == verdict


def test_spread_measures_deviation_from_each_levels_mean_not_the_level_itself():
    shifted = {lv: [v + 0.5 for v in values] for lv, values in NARROW.items()}  # same spread, other means
    assert spread(shifted, NARROW).verdict == INCONCLUSIVE
    assert spread({0.1: [0.9]}, NARROW).verdict == INCONCLUSIVE  # one seed at a level: no spread to measure


TOP = {"e = 0": LOW, "e = 2": LOW, "e = 5": HIGH, "e = 6": NOISY}
BOTTOM = {"e = 0": HIGH, "e = 2": LOW, "e = 5": LOW, "e = 6": LOW}


@pytest.mark.parametrize("values, verdict", [(TOP, HOLDS), (BOTTOM, CONTRADICTED),
                                             ({"e = 0": NOISY, "e = 5": NOISY, "e = 6": NOISY}, INCONCLUSIVE)])
def test_best_in_gives_every_verdict(values, verdict):
    assert best_in(values, ["e = 5", "e = 6"]).verdict == verdict


def test_best_in_needs_every_outside_point_beaten_and_one_point_beating_all_of_s_to_contradict():
    # e = 2 is beaten, e = 0 ties the chosen points: the best is not shown to lie in S, nor outside it
    tie = {"e = 0": HIGH, "e = 2": LOW, "e = 5": HIGH, "e = 6": LOW}
    assert best_in(tie, ["e = 5", "e = 6"]).verdict == INCONCLUSIVE
    # e = 0 beats e = 6 but not e = 5: not a contradiction (some chosen point is as good)
    split = {"e = 0": [v + 0.005 for v in LOW], "e = 5": HIGH, "e = 6": LOW}
    assert best_in(split, ["e = 5", "e = 6"]).verdict != CONTRADICTED
    result = best_in(TOP, ["e = 5", "e = 6"])
    assert [r.level for r in result.levels] == ["e = 0", "e = 2"]  # one part per point outside S
    assert result.levels[0].estimate == pytest.approx(np.mean(HIGH) - np.mean(LOW))


def test_best_in_refuses_a_grid_it_cannot_test():
    with pytest.raises(ValueError, match="missing"):
        best_in(TOP, ["e = 7"])
    with pytest.raises(ValueError, match="cannot fail"):
        best_in({"e = 5": HIGH}, ["e = 5"])
    assert best_in({"e = 0": [0.9], "e = 5": HIGH}, ["e = 5"]).verdict == INCONCLUSIVE
