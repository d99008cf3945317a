"""Facts of the round-by-round turnover and of the connectivity of masks found at initialisation."""

from __future__ import annotations

import dataclasses

import pytest

from prunekit.analysis.turnover import mask_connectivity, round_turnover
from prunekit.store import ResultStore
from tests.sweep_helpers import data_root_or_skip, fake_record, one_thread, tiny_config


def _record_with_steps(steps):
    record = fake_record(tiny_config(criterion="grasp-it", criterion_options={"regrow": True}))
    return dataclasses.replace(record, prune_steps=steps)


def test_turnover_shares_are_of_the_alive_and_of_the_pruned_weights():
    steps = [{"round": 0, "target": 0.5, "kept": 50, "total": 100, "removed": 50, "revived": 0},
             {"round": 1, "target": 0.7, "kept": 30, "total": 100, "removed": 30, "revived": 10}]
    frame = round_turnover([_record_with_steps(steps)])
    assert list(frame["alive_before"]) == [100, 50] and list(frame["pruned_before"]) == [0, 50]
    assert list(frame["removed_share"]) == [0.5, 0.6] and list(frame["revived_share"]) == [0.0, 0.2]
    assert set(frame["options"]) == {"regrow=True"}


def test_turnover_refuses_records_without_the_counts():
    old = [{"round": 0, "target": 0.5, "kept": 50, "total": 100}]
    with pytest.raises(ValueError, match="predates removed/revived"):
        round_turnover([_record_with_steps(old)])


def test_connectivity_rebuilds_the_stored_mask(tmp_path):
    root = data_root_or_skip()
    from prunekit.experiments import run

    config = tiny_config(criterion="snip-it", sparsity=0.99, epochs=0)
    store = ResultStore(tmp_path)
    with one_thread():
        store.put(run(config, progress=False, data_root=root))
        frame = mask_connectivity([config, config.replace(sparsity=0.9)], store, data_root=root)
    assert list(frame["same_mask_as_stored"]) == [True, None]
    assert frame["surviving_paths"].between(0, 1).all() and not frame["disconnected"].any()
    assert frame.loc[0, "surviving_paths"] < frame.loc[1, "surviving_paths"]
