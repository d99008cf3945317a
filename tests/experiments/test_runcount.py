"""The counts behind the book's summary: sweep notes the records it read, run each run it trained."""

from __future__ import annotations

import os


from prunekit.experiments import sweep as sweep_module
from prunekit.experiments.run import run
from prunekit.experiments.runcount import RUN_COUNTS_ENV, counting_runs, note_runs, read_counts
from prunekit.experiments.store import ResultStore
from prunekit.experiments.sweep import grid, sweep
from tests.sweep_helpers import data_root_or_skip, fake_record, single_thread, tiny_config  # noqa: F401


def test_nothing_is_written_without_the_variable(monkeypatch, tmp_path):
    monkeypatch.delenv(RUN_COUNTS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    note_runs(stored=3, trained=1)
    assert list(tmp_path.iterdir()) == []


def test_counting_sums_every_note_and_restores_the_variable(monkeypatch):
    monkeypatch.setenv(RUN_COUNTS_ENV, "outer.jsonl")
    with counting_runs() as counts:
        note_runs(stored=3)
        note_runs(stored=2, trained=1)
        assert counts == {"stored": 0, "trained": 0}  # filled when the block ends
    assert counts == {"stored": 5, "trained": 1}
    assert os.environ[RUN_COUNTS_ENV] == "outer.jsonl"
    assert read_counts("no-such-file.jsonl") == {"stored": 0, "trained": 0}


def test_sweep_notes_the_records_it_read_from_the_store(tmp_path, monkeypatch):
    store = ResultStore(tmp_path / "results")
    monkeypatch.setattr(sweep_module, "run", lambda config, **kwargs: fake_record(config))
    configs = grid(tiny_config(), seed=range(3))
    store.put(fake_record(configs[0]))
    with counting_runs() as counts:
        sweep(configs, store, progress=False)
        sweep(configs, store, progress=False)
    assert counts["stored"] == 1 + 3  # the fake run() counts no training


def test_run_notes_one_trained_run(single_thread):  # noqa: F811
    root = data_root_or_skip()
    with counting_runs() as counts:
        run(tiny_config(epochs=1), progress=False, data_root=root)
    assert counts == {"stored": 0, "trained": 1}
