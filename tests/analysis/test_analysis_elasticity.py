"""Facts of the Appendix-A elasticity analysis: values are |θ·∂L/∂θ|/L, sorted curve, exact shares."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from prunekit.analysis.elasticity import elasticities, elasticity_curve, inelastic_fractions
from prunekit.core.masks import apply_mask, prunable_layers
from tests.helpers import tiny_mlp, toy_data


def _batches(n: int = 64):
    x, y = toy_data(n)
    return [(x[:32], y[:32]), (x[32:], y[32:])]


def test_elasticities_equal_theta_times_loss_gradient_over_loss_in_eval_mode():
    model = tiny_mlp()
    batches = _batches()
    got = elasticities(model, batches)
    reference = tiny_mlp()
    reference.eval()
    x = torch.cat([b[0] for b in batches])
    y = torch.cat([b[1] for b in batches])
    loss = F.cross_entropy(reference(x), y)
    weights = [m.weight for m in prunable_layers(reference).values()]
    grads = torch.autograd.grad(loss, weights)
    expected = torch.cat([(w * g).abs().flatten() for w, g in zip(weights, grads)]) / loss
    np.testing.assert_allclose(got, expected.detach().double().numpy(), rtol=1e-4, atol=1e-9)


def test_pruned_weights_are_left_out_and_the_model_is_left_as_it_was():
    model = tiny_mlp()
    first = prunable_layers(model)["1"]
    mask = torch.ones_like(first.weight)
    mask[:, :40] = 0
    apply_mask(first, mask)
    bn_before = model[2].running_mean.clone()
    total = sum(m.weight.numel() for m in prunable_layers(model).values())
    got = elasticities(model, _batches())
    assert got.size == total - 32 * 40
    assert model.training and torch.equal(model[2].running_mean, bn_before)
    assert all(p.grad is None for p in model.parameters())


def test_curve_is_the_ascending_values_against_rank_fraction_without_renormalising():
    scores = np.array([0.5, 2.0, 1e-4, 3e-2])
    curve = elasticity_curve(scores, points=None)
    assert curve["elasticity"].tolist() == [1e-4, 3e-2, 0.5, 2.0]
    assert curve["rank_fraction"].tolist() == [0.25, 0.5, 0.75, 1.0]
    np.testing.assert_allclose(curve["cumulative_share"], np.cumsum([1e-4, 3e-2, 0.5, 2.0]) / scores.sum())


def test_a_thinned_curve_keeps_the_smallest_and_largest_value():
    scores = np.random.default_rng(0).exponential(size=10_000)
    curve = elasticity_curve(scores, points=50)
    assert len(curve) == 50
    assert curve["elasticity"].iloc[0] == scores.min() and curve["elasticity"].iloc[-1] == scores.max()
    assert curve["rank_fraction"].is_monotonic_increasing and curve["elasticity"].is_monotonic_increasing


def test_inelastic_fractions_count_values_strictly_below_each_threshold():
    scores = torch.tensor([1e-4, 1e-3, 5e-3, 0.5, 1.0, 2.0])
    shares = inelastic_fractions(scores)
    assert shares["threshold"].tolist() == [1e-3, 1e-2, 1.0]
    assert shares["fraction_below"].tolist() == pytest.approx([1 / 6, 3 / 6, 4 / 6])


@pytest.mark.parametrize("bad", [np.array([0.1, -0.2]), np.array([np.nan]), np.array([])])
def test_negative_missing_or_no_scores_are_rejected(bad):
    with pytest.raises(ValueError, match="elasticit"):
        elasticity_curve(bad)


def test_bad_points_and_thresholds_are_rejected():
    with pytest.raises(ValueError, match="points"):
        elasticity_curve(np.ones(5), points=1)
    with pytest.raises(ValueError, match="thresholds"):
        inelastic_fractions(np.ones(5), thresholds=[0.0])
    with pytest.raises(ValueError, match="batch"):
        elasticities(tiny_mlp(), [])
