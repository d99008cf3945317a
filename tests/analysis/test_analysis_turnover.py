"""Facts of the round-by-round turnover and of the connectivity of masks found at initialisation."""

from __future__ import annotations

import dataclasses

import pytest

from prunekit.analysis.turnover import mask_connectivity, round_turnover
from prunekit.experiments.store import ResultStore
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
    from prunekit.experiments.run import run

    config = tiny_config(criterion="snip-it", sparsity=0.99, epochs=0)
    store = ResultStore(tmp_path)
    with one_thread():
        store.put(run(config, progress=False, data_root=root))
        frame = mask_connectivity([config, config.replace(sparsity=0.9)], store, data_root=root)
    assert list(frame["same_mask_as_stored"]) == [True, None]
    assert frame["surviving_paths"].between(0, 1).all() and not frame["disconnected"].any()
    assert frame.loc[0, "surviving_paths"] < frame.loc[1, "surviving_paths"]


def test_mask_history_records_each_round_and_matches_a_plain_prune():
    import torch
    from torch import nn

    import prunekit
    from prunekit.analysis.turnover import mask_history
    from prunekit.core.masks import get_masks

    def net():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 3))

    x = torch.randn(256, 8, generator=torch.Generator().manual_seed(1))
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    model = net()
    history = mask_history(model, "snip-it", 0.8, (x, y), steps=3, samples=256, batch_size=128)
    assert len(history) == len(prunekit.snip_it_schedule(0.8, 3)) + 1
    kept = [int(sum(m.sum() for m in h.values())) for h in history]
    assert kept[0] == 102 and kept == sorted(kept, reverse=True) and kept[-1] == round(0.2 * 102)
    for before, after in zip(history, history[1:]):  # masks only shrink
        assert all(bool((after[n] <= before[n]).all()) for n in before)
    plain = prunekit.prune(net(), "snip-it", 0.8, data=(x, y), steps=3, samples=256, batch_size=128).model
    assert all(torch.equal(get_masks(plain)[n].float(), history[-1][n]) for n in history[-1])


def test_schematic_draws_one_panel_per_round_and_refuses_mismatched_input():
    import numpy as np

    from prunekit.paper.plots.turnover import schematic_plot

    full = {"a": np.ones((3, 4)), "b": np.ones((2, 3))}
    half = {"a": np.eye(3, 4), "b": np.ones((2, 3))}
    fig = schematic_plot([full, half], [0.5])
    assert len(fig.axes) == 1
    red = [line for line in fig.axes[0].lines if line.get_color() == "#d62728"]
    assert len(red) == 12 - 3  # the connections round 1 removes
    with pytest.raises(ValueError, match="one mask set per round"):
        schematic_plot([full], [0.5])
