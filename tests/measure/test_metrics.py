"""Facts of the Appendix H metrics."""

import math

import pytest
import torch
from torch import nn

import prunekit
from prunekit.core.masks import make_permanent
from prunekit.measure.metrics import (confidence_bound, csr_size_bits, dense_size_bits, harmonic_mean,
                              inference_flops, layer_macs, training_flops)
from tests.helpers import tiny_cnn, tiny_mlp


def test_harmonic_mean_matches_the_papers_table_rows():
    assert round(100 * harmonic_mean(0.97, 0.98)) == 97  # Table 3, SNIP-it during
    assert round(100 * harmonic_mean(0.95, 0.97)) == 96  # Table 3, SNIP-it before
    assert harmonic_mean(0.0, 0.9) == 0.0
    with pytest.raises(ValueError, match="accuracy"):
        harmonic_mean(97, 0.9)


def test_confidence_bound_is_196_sigma_over_root_n():
    values = [0.95, 0.96, 0.97, 0.96, 0.95]
    mean = sum(values) / 5
    sigma = math.sqrt(sum((v - mean) ** 2 for v in values) / 4)
    assert confidence_bound(values) == pytest.approx(1.96 * sigma / math.sqrt(5))
    assert confidence_bound([0.9]) == 0.0


def test_macs_count_weights_times_output_positions():
    macs = layer_macs(tiny_cnn(), (1, 8, 8), sparse=False)
    assert macs == {"0": 4 * 9 * 64, "3": 6 * 4 * 9 * 64, "8": 24 * 10}
    assert inference_flops(tiny_mlp(), (1, 8, 8), sparse=False) == 2 * (64 * 32 + 32 * 32 + 32 * 10)


def test_sparse_flops_scale_with_the_kept_weights():
    model = prunekit.prune(tiny_mlp(), "random", 0.75, seed=0).model
    kept = sum(int(m.weight_mask.sum()) for m in prunekit.prunable_layers(model).values())
    assert inference_flops(model, (1, 8, 8)) == 2 * kept
    assert training_flops(model, (1, 8, 8), samples=10) == 3 * 10 * 2 * kept


def test_csr_size_uses_the_16_to_1_float_to_index_ratio():
    model = nn.Sequential(nn.Linear(10, 4))
    assert dense_size_bits(model) == 40 * 32
    assert csr_size_bits(model) == pytest.approx(40 * 32 + (40 + 4 + 1) * 2)
    prunekit.prune(model, "random", 0.5, seed=0)
    assert csr_size_bits(model) == pytest.approx(20 * 32 + (20 + 4 + 1) * 2)
    assert csr_size_bits(model) < dense_size_bits(model)


def test_csr_size_counts_nonzero_values_so_folding_the_masks_in_changes_nothing():
    model = prunekit.prune(nn.Sequential(nn.Linear(10, 4)), "random", 0.5, seed=0).model
    masked = csr_size_bits(model)
    with torch.no_grad():  # a kept weight that is exactly zero is not stored
        layer = model[0]
        layer.weight_orig[tuple(layer.weight_mask.nonzero()[0].tolist())] = 0.0
    assert csr_size_bits(model) == pytest.approx(masked - 32 - 2)
    folded = prunekit.prune(nn.Sequential(nn.Linear(10, 4)), "random", 0.5, seed=0).model
    make_permanent(folded)
    assert csr_size_bits(folded) == pytest.approx(masked)
