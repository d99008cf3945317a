"""Figure 11's setting: L0 in its authors' recipe and the dense LeNet5 trained alike, the runs its claim reads."""

from __future__ import annotations

import pytest

from prunekit.experiments.l0_native import MODEL, NATIVE_OPTIONS, NATIVE_TRAINING, PROFILE, l0_native_configs, main
from prunekit.experiments.profiles import get_profile
from prunekit.experiments.record import RunRecord
from prunekit.paper.registry import claims_by_id, decide, side_records


def test_every_seed_has_one_l0_run_and_one_dense_run_trained_the_same_way():
    configs = l0_native_configs()
    profile = get_profile(PROFILE)
    assert len(configs) == 2 * profile.seeds and len({c.key for c in configs}) == len(configs)
    l0 = [c for c in configs if c.criterion == "l0"]
    dense = [c for c in configs if c.criterion == "none"]
    assert sorted(c.seed for c in l0) == sorted(c.seed for c in dense) == list(profile.seed_list)
    assert all(c.structured and dict(c.criterion_options) == NATIVE_OPTIONS for c in l0)
    for c in configs:
        assert c.model == MODEL and c.train_limit is None and c.validation == 0.0
        assert (c.lr, c.batch_size, c.weight_decay) == tuple(NATIVE_TRAINING[k] for k in ("lr", "batch_size",
                                                                                         "weight_decay"))


def test_l0_trains_the_l0_authors_200_epochs_and_the_dense_network_the_profiles_100():
    configs = l0_native_configs()
    assert {c.epochs for c in configs if c.criterion == "l0"} == {200}
    assert {c.epochs for c in configs if c.criterion == "none"} == {get_profile(PROFILE).epochs}


def _record(config, accuracy: float) -> RunRecord:
    return RunRecord(config=config, metrics={"accuracy": accuracy, "node_sparsity": 0.5}, layer_sparsity={},
                     history=[], prune_steps=[], resources={}, provenance={})


def test_the_fig11_claim_reads_exactly_these_runs_and_is_decided_once_every_seed_is_in():
    claim = claims_by_id()["fig11-l0-native-setting"]
    configs = l0_native_configs()
    records = [_record(c, (0.99 if c.criterion == "none" else 0.985) + 1e-3 * c.seed) for c in configs]
    l0_side, dense_side = (side_records(side, records, claim) for side in (claim.test.a, claim.test.b))
    assert {r.key for rs in l0_side.values() for r in rs} == {c.key for c in configs if c.criterion == "l0"}
    assert {r.key for rs in dense_side.values() for r in rs} == {c.key for c in configs if c.criterion == "none"}
    assert decide(claim, records, {}) is not None
    assert decide(claim, records[:-2], {}) is None  # a seed short: the claim waits


def test_a_worker_outside_the_pool_is_refused():
    with pytest.raises(ValueError, match="worker must be in"):
        main(["--worker", "2", "--workers", "2", "--results", "/nonexistent"])
