"""Facts of Algorithm 1's sparsity schedule."""

import pytest

from prunekit.core.schedule import check_sparsity, one_shot_schedule, snip_it_schedule


def test_snip_it_schedule_for_098_is_the_papers_seven_rounds():
    assert snip_it_schedule(0.98) == pytest.approx([0.5, 0.74, 0.86, 0.92, 0.95, 0.965, 0.98])


def test_schedule_follows_the_closed_form_and_ends_at_kappa():
    kappa, steps = 0.995, 5
    targets = snip_it_schedule(kappa, steps)
    assert targets[:-1] == pytest.approx([kappa - (kappa - 0.5) * 0.5**i for i in range(steps + 1)])
    assert targets[-1] == kappa
    assert all(a < b for a, b in zip(targets, targets[1:]))


@pytest.mark.parametrize("kappa", [0.0, 0.3, 0.5])
def test_schedule_at_or_below_one_half_is_one_step(kappa):
    assert snip_it_schedule(kappa) == [kappa]


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan")])
def test_sparsity_outside_unit_interval_is_rejected(bad):
    with pytest.raises(ValueError, match="sparsity"):
        snip_it_schedule(bad)
    with pytest.raises(ValueError, match="sparsity"):
        one_shot_schedule(bad)


def test_non_numbers_and_bad_steps_are_rejected():
    with pytest.raises(TypeError):
        check_sparsity("0.9")
    with pytest.raises(ValueError, match="steps"):
        snip_it_schedule(0.9, steps=-1)
