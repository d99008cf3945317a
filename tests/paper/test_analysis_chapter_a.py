"""Facts of the Appendix A helpers: model choice per profile, share formatting, summaries, and that the
chapter scores exactly what SNIP's first round scores."""

import numpy as np
import pytest
import torch

import prunekit
from prunekit.paper.chapters.elasticity import chapter_models, elasticity_summary, format_share, initial_elasticities
from prunekit.experiments.run import pruned_at_init
from tests.sweep_helpers import single_thread, tiny_config  # noqa: F401


def test_chapter_models_follow_the_profile_and_accept_papermill_strings():
    assert chapter_models("paper") == prunekit.models.available_models()
    assert chapter_models("smoke") == chapter_models("cpu") == ["mlp5", "lenet5", "conv6"]
    assert chapter_models("cpu", "MLP5, vgg16") == ["mlp5", "vgg16"]
    with pytest.raises(ValueError, match="models must be a non-empty list"):
        chapter_models("cpu", ["mlp5", "transformer"])


def test_shares_never_round_to_0_or_100_percent_unless_exact():
    assert format_share(1.0) == "100%" and format_share(0.0) == "0%"
    assert format_share(0.99999) == "> 99.99%" and format_share(0.00001) == "< 0.01%"
    assert format_share(0.5) == "50.00%"
    with pytest.raises(ValueError, match="a share must lie in"):
        format_share(1.5)


def test_summary_counts_shares_strictly_below_each_threshold():
    values = np.array([0.0, 1e-4, 1e-3, 5e-3, 0.5, 2.0])
    s = elasticity_summary(values)
    assert s["< 0.001"] == pytest.approx(2 / 6) and s["< 0.01"] == pytest.approx(4 / 6)
    assert s["< 1"] == pytest.approx(5 / 6) and s["n >= 1"] == 1 and s["zero"] == pytest.approx(1 / 6)
    assert s["top 10% share"] == pytest.approx(2.0 / values.sum())


def test_initial_elasticities_rank_like_snips_single_round(mnist_data_root, single_thread):
    config = tiny_config(criterion="snip", sparsity=0.9)
    scores, loss = initial_elasticities(config, data_root=mnist_data_root)
    kept = int(round(0.1 * scores.size))
    threshold = np.sort(scores)[-kept]
    model = pruned_at_init(config, data_root=mnist_data_root)
    masks = torch.cat([m.weight_mask.flatten() for m in prunekit.core.masks.prunable_layers(model).values()]).numpy()
    assert masks.sum() == kept and loss > 0
    assert np.all(scores[masks == 1] >= threshold)
