"""Facts of runs evaluated on a held-out validation share of the training set (Appendix F's tuning)."""

from __future__ import annotations

import pytest

from prunekit.experiments.config import RunConfig

from prunekit.experiments.run import run
from tests.sweep_helpers import data_root_or_skip, one_thread, tiny_config


def test_validation_enters_the_key_only_when_set():
    plain = tiny_config()
    assert "validation" in plain.to_dict() and plain.validation == 0.0
    assert plain.replace(validation=0.2).key != plain.key
    assert RunConfig.from_dict({**plain.to_dict(), "validation": 0.0}).key == plain.key


@pytest.mark.parametrize("bad", [1.0, -0.1, True, "0.2"])
def test_validation_outside_zero_one_is_refused(bad):
    with pytest.raises(ValueError, match="validation must be a share"):
        tiny_config(validation=bad)


def test_a_validation_run_trains_on_the_rest_and_evaluates_on_the_held_out_share():
    root = data_root_or_skip()
    config = tiny_config(validation=0.25, epochs=1, test_limit=None)
    with one_thread():
        record = run(config, progress=False, data_root=root)
    assert record.metrics["train_samples"] == 192  # 256 − 64
    assert record.metrics["test_samples"] == 64
