"""Page measurements are made once and read back; where nothing may run, a missing one stops the page."""

from __future__ import annotations

import pandas as pd
import pytest

from prunekit.paper.measurements import cached_frame, measurement_path
from prunekit.experiments.store import ResultStore
from prunekit.experiments.sweep import MissingRunsError


def test_a_measurement_is_made_once_and_then_read_back(tmp_path, monkeypatch):
    monkeypatch.delenv("PRUNEKIT_NO_TRAIN", raising=False)
    store, calls = ResultStore(tmp_path), []

    def measure():
        calls.append(1)
        return pd.DataFrame({"method": ["snap-it", "random"], "seconds": [0.123456789012, 2.5]})

    first = cached_frame(store, "times", measure)
    again = cached_frame(store, "times", measure)
    assert len(calls) == 1 and first.equals(again)
    assert again["seconds"].tolist() == [0.123456789012, 2.5] and measurement_path(store, "times").is_file()


def test_a_missing_measurement_stops_a_page_that_may_not_measure(tmp_path, monkeypatch):
    monkeypatch.setenv("PRUNEKIT_NO_TRAIN", "1")
    with pytest.raises(MissingRunsError, match="make book TRAIN=1"):
        cached_frame(ResultStore(tmp_path), "times", lambda: pd.DataFrame({"x": [1]}))
    with pytest.raises(ValueError, match="plain file stem"):
        measurement_path(ResultStore(tmp_path), "../escape")
