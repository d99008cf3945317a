"""The committed store holds every run the committed book's chapters read (a dry run over every chapter's grid)."""

from __future__ import annotations

import json

import pytest

from prunekit.paper import coverage
from prunekit.paper.book import BookPaths, project_root

ROOT = project_root()


def test_the_committed_cpu_store_covers_every_chapter_grid():
    frame = coverage.coverage_frame("cpu")
    assert set(frame["chapter"]) == set(coverage.reading_chapters()), "every chapter that reads runs is checked"
    lacking = frame[frame["missing"] > 0]
    assert lacking.empty, f"make book would train these chapters' runs on a fresh clone:\n{lacking.to_string()}"


def test_every_chapter_that_sweeps_declares_its_requests():
    # a notebook that sweeps the store must say what it reads, or the dry run above cannot see it
    for name in (p.stem for p in BookPaths(ROOT).notebooks.glob("*.ipynb")):
        cells = json.loads((BookPaths(ROOT).notebooks / f"{name}.ipynb").read_text())["cells"]
        code = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        if "sweep(" in code:
            assert name in coverage.reading_chapters(), f"{name} sweeps runs but its chapter has no requests()"


def test_an_empty_store_misses_every_request(tmp_path):
    frame = coverage.coverage_frame("smoke", results_dir=tmp_path, chapters=["method", "metrics"])
    assert (frame["stored"] == 0).all() and (frame["missing"] == frame["requested"]).all()
    assert (frame["requested"] > 0).all()
    assert coverage.main(["--profile", "smoke", "--results-dir", str(tmp_path)]) == 1


def test_requests_follow_the_notebook_parameters():
    method = coverage.chapter_requests("method", "smoke", results_dir=None)
    models = {c.model for c in method.runs}
    assert models == {coverage.notebook_parameters(BookPaths(ROOT).notebooks / "method.ipynb", "smoke")["model"]}


def test_parameters_cell_is_read_under_the_profile():
    params = coverage.notebook_parameters(BookPaths(ROOT).notebooks / "table2.ipynb", "smoke")
    assert params["profile"] == "smoke" and params["dataset"] == "mnist"


def test_a_parameters_cell_with_logic_is_refused(tmp_path):
    nb = {"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": ["x = 1\n", "print(x)\n"]}]}
    path = tmp_path / "bad.ipynb"
    path.write_text(json.dumps(nb))
    with pytest.raises(ValueError, match="only assignments"):
        coverage.notebook_parameters(path, "cpu")


def test_a_chapter_without_runs_is_refused_for_refresh():
    with pytest.raises(ValueError, match="reads no stored runs"):
        coverage.stale_keys("cpu", ["setup"])
