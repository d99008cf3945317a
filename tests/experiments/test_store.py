"""ResultStore: atomic writes, bad files reported and kept aside, frames; aggregation and best-HM selection."""

from __future__ import annotations

import json
import logging
import math
import os

import pandas as pd
import pytest

from prunekit.experiments.config import RunConfig

from prunekit.experiments.record import SCHEMA_VERSION
from prunekit.measure.metrics import confidence_bound, harmonic_mean
from prunekit.experiments.stats import add_harmonic_mean, aggregate, best_hm
from prunekit.experiments.store import ResultStore, records_frame
from tests.sweep_helpers import fake_record


def config(**changes) -> RunConfig:
    fields = dict(model="mlp5", dataset="mnist", criterion="snip-it", sparsity=0.9, epochs=1, device="cpu")
    fields.update(changes)
    return RunConfig(**fields)


@pytest.fixture
def store(tmp_path) -> ResultStore:
    return ResultStore(tmp_path / "results")


def files(store: ResultStore) -> list[str]:
    return sorted(p.name for p in store.root.iterdir())


# ------------------------------------------------------------------------------------------------ put / get


def test_put_then_get_returns_an_equal_record_at_key_json(store):
    record = fake_record(config())
    path = store.put(record)
    assert path == store.root / f"{record.key}.json"
    assert store.get(config()).to_dict() == record.to_dict()
    assert store.has(config()) and not store.has(config(seed=1))
    assert store.get(config(seed=1)) is None


def test_atomic_write_leaves_only_the_record_file(store):
    for seed in range(3):
        store.put(fake_record(config(seed=seed)))
    assert files(store) == sorted(f"{config(seed=s).key}.json" for s in range(3))


def test_record_files_get_the_mode_a_plain_open_would_give(store):
    umask = os.umask(0o022)
    os.umask(umask)
    path = store.put(fake_record(config()))
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_failed_write_keeps_the_old_record_and_no_temp_file(store, monkeypatch):
    old = fake_record(config(), accuracy=0.5)
    store.put(old)

    def broken_fsync(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        store.put(fake_record(config(), accuracy=0.9))
    monkeypatch.undo()
    assert files(store) == [f"{old.key}.json"]
    assert store.get(config()).metrics["accuracy"] == 0.5


def test_stored_json_is_strict_and_names_schema_and_key(store):
    record = fake_record(config())
    record.prune_steps.append({"round": 0, "loss": float("nan")})  # e.g. a data-free criterion's loss
    text = store.put(record).read_text()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert data["schema"] == SCHEMA_VERSION and data["key"] == record.key
    assert data["prune_steps"][0]["loss"] is None


# ------------------------------------------------------------------------------------------------ bad files


def _write(store: ResultStore, name: str, text: str) -> None:
    store.root.mkdir(parents=True, exist_ok=True)
    (store.root / name).write_text(text)


@pytest.mark.parametrize("defect", ["garbage", "truncated", "schema", "edited config", "empty"])
def test_a_bad_record_is_reported_kept_aside_and_treated_as_missing(store, caplog, defect):
    good = fake_record(config(seed=1))
    store.put(good)
    good_path = store.path_for(good.key)
    good_stat = good_path.stat()
    target = config()
    full = json.dumps(fake_record(target).to_dict())
    text = {
        "garbage": "{not json",
        "truncated": full[: len(full) // 2],
        "schema": json.dumps({**json.loads(full), "schema": SCHEMA_VERSION + 1}),
        "edited config": full.replace('"epochs": 1', '"epochs": 2'),  # stored key no longer matches
        "empty": "",
    }[defect]
    _write(store, f"{target.key}.json", text)
    with caplog.at_level(logging.WARNING, logger="prunekit.experiments.store"):
        assert store.get(target) is None
    assert f"{target.key}.json" in caplog.text and "recomputed" in caplog.text
    corrupt = store.root / f"{target.key}.json.corrupt"
    assert corrupt.read_text() == text  # kept, never deleted
    assert not store.path_for(target).exists() and not store.has(target)
    store.put(fake_record(target))  # the recomputation
    assert store.get(target) is not None
    assert good_path.stat().st_mtime_ns == good_stat.st_mtime_ns and good_path.stat().st_ino == good_stat.st_ino
    assert store.get(good.config).to_dict() == good.to_dict()


def test_a_record_filed_under_another_key_is_treated_as_corrupt(store, caplog):
    wrong = config(seed=7)
    _write(store, f"{wrong.key}.json", json.dumps(fake_record(config()).to_dict()))
    with caplog.at_level(logging.WARNING, logger="prunekit.experiments.store"):
        assert store.get(wrong) is None
    assert "holds the record of key" in caplog.text
    assert (store.root / f"{wrong.key}.json.corrupt").exists()


def test_repeated_corruption_never_overwrites_an_earlier_corrupt_file(store):
    target = config()
    for text in ("first", "second"):
        _write(store, f"{target.key}.json", text)
        assert store.get(target) is None
    assert (store.root / f"{target.key}.json.corrupt").read_text() == "first"
    assert (store.root / f"{target.key}.json.corrupt.1").read_text() == "second"


def test_records_skips_bad_files_and_temp_files(store, caplog):
    for seed in range(2):
        store.put(fake_record(config(seed=seed)))
    _write(store, "0000000000000000.json", "{")
    _write(store, ".abc.123.tmp", "{")
    with caplog.at_level(logging.WARNING, logger="prunekit.experiments.store"):
        records = store.records()
    assert sorted(r.config.seed for r in records) == [0, 1]
    assert "0000000000000000.json" in caplog.text
    assert ".abc.123.tmp" in files(store)


# ------------------------------------------------------------------------------------------------ frames


def test_to_frame_has_one_row_per_record_with_config_and_metric_columns(store):
    for seed, acc in enumerate((0.9, 0.8)):
        store.put(fake_record(config(seed=seed), accuracy=acc))
    frame = store.to_frame()
    assert len(frame) == 2
    for column in ("key", "model", "dataset", "criterion", "sparsity", "prune_at", "seed", "epochs", "profile",
                   "accuracy", "weight_sparsity", "node_sparsity", "inference_flops", "training_flops",
                   "csr_bits", "train_seconds", "peak_memory_bytes", "git_commit", "torch_version", "date"):
        assert column in frame.columns, column
    assert sorted(frame["accuracy"]) == [0.8, 0.9]  # fractions, not percent
    assert frame["weight_sparsity"].between(0, 1).all()


def test_an_empty_or_absent_store_gives_an_empty_frame(tmp_path):
    frame = ResultStore(tmp_path / "nowhere").to_frame()
    assert frame.empty and {"model", "criterion", "accuracy"} <= set(frame.columns)
    assert ResultStore(tmp_path / "nowhere").records() == []


# ------------------------------------------------------------------------------------------------ aggregation


def seeds_frame() -> pd.DataFrame:
    rows = [fake_record(config(seed=s), accuracy=a, weight_sparsity=0.9) for s, a in enumerate((0.90, 0.92, 0.94))]
    rows += [fake_record(config(sparsity=0.98, seed=0), accuracy=0.5, weight_sparsity=0.98)]
    return records_frame(rows)


def test_aggregate_collapses_seeds_with_mean_std_n_and_the_paper_bound():
    table = aggregate(seeds_frame())
    assert len(table) == 2
    row = table[table["sparsity"] == 0.9].iloc[0]
    assert row["accuracy_mean"] == pytest.approx(0.92)
    assert row["accuracy_std"] == pytest.approx(0.02)
    assert row["accuracy_n"] == 3
    assert row["accuracy_bound"] == pytest.approx(1.96 * 0.02 / math.sqrt(3))
    assert row["accuracy_bound"] == pytest.approx(confidence_bound([0.90, 0.92, 0.94]))
    assert row["weight_sparsity_mean"] == pytest.approx(0.9) and row["weight_sparsity_bound"] == 0.0
    assert "seed" not in table.columns


def test_a_single_seed_has_zero_spread():
    row = aggregate(seeds_frame()).query("sparsity == 0.98").iloc[0]
    assert (row["accuracy_n"], row["accuracy_std"], row["accuracy_bound"]) == (1, 0.0, 0.0)


def test_aggregate_by_chosen_columns_and_missing_columns_are_named():
    table = aggregate(seeds_frame(), by=("criterion",), values=("accuracy",))
    assert list(table.columns) == ["criterion", "accuracy_mean", "accuracy_std", "accuracy_n", "accuracy_bound"]
    assert table["accuracy_n"].tolist() == [4]
    with pytest.raises(ValueError, match="colour"):
        aggregate(seeds_frame(), by=("colour",))


def test_add_harmonic_mean_per_row():
    frame = add_harmonic_mean(pd.DataFrame({"accuracy": [0.9, 0.5, 0.0], "weight_sparsity": [0.9, 1.0, 0.5]}))
    assert frame["hm"].tolist() == pytest.approx([0.9, 2 * 0.5 / 1.5, 0.0])
    assert frame["hm"][1] == harmonic_mean(0.5, 1.0)


def test_best_hm_picks_the_sparsity_with_the_highest_mean_hm_per_method():
    points = {  # criterion -> sparsity -> accuracies over seeds
        "snip": {0.5: (0.98, 0.98), 0.9: (0.95, 0.93), 0.99: (0.60, 0.40)},
        # the single best run sits at 0.95, but its seeds average lower than 0.9's
        "random": {0.9: (0.90, 0.90), 0.95: (0.99, 0.10)},
    }
    rows = [fake_record(config(criterion=c, sparsity=s, seed=i), accuracy=a)
            for c, levels in points.items() for s, accs in levels.items() for i, a in enumerate(accs)]
    best = best_hm(records_frame(rows))
    chosen = dict(zip(best["criterion"], best["sparsity"]))
    assert chosen == {"random": 0.9, "snip": 0.9}
    snip = best[best["criterion"] == "snip"].iloc[0]
    expected = (harmonic_mean(0.95, 0.9) + harmonic_mean(0.93, 0.9)) / 2
    assert snip["hm_mean"] == pytest.approx(expected) and snip["hm_n"] == 2
    assert snip["accuracy_mean"] == pytest.approx(0.94)
    assert {"model", "dataset", "criterion", "prune_at", "sparsity", "hm_bound"} <= set(best.columns)


def test_json_files_not_named_by_a_key_are_not_records_and_stay_untouched(store):
    store.put(fake_record(config()))
    ledger = store.root / "equivalences.json"
    ledger.write_text('[{"source_hash": "abc"}]')
    assert [r.key for r in store.records()] == [config().key]
    assert ledger.read_text() == '[{"source_hash": "abc"}]' and not list(store.root.glob("*.corrupt"))
