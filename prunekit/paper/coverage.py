"""Does the committed store hold every run the book's chapters read? A dry run over every chapter's grid.

Each chapter module that reads stored runs has ``requests(page, **parameters)``: the runs its page reads, built by
the same grid functions the notebook calls, from the notebook's own parameters. The parameters are those of the
notebook's ``parameters`` cell as the book executes it (the book passes only ``profile`` and ``results_dir``).
:func:`coverage_frame` opens each page as the book would, asks for its requests and compares them with the store:
how many are stored, missing (a fresh clone's ``make book`` would train them) or stale (computed by a code version
not checked to give today's numbers), and what re-running the stale ones cost when they were made.
``python -m prunekit.paper.coverage --profile cpu`` prints it and exits 1 when a request is missing.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from prunekit.experiments.freshness import stale_records
from prunekit.experiments.record import RunRecord
from prunekit.experiments.store import ResultStore
from prunekit.paper.book import BookPaths, notebook_order, project_root
from prunekit.paper.prologue import open_page
from prunekit.paper.runs import Requests, stored_requests

PAGE_PARAMETERS = ("profile", "dataset", "results_dir", "seeds")  # what open_page takes, not requests()


def notebook_parameters(path: str | os.PathLike, profile: str) -> dict[str, Any]:
    """The values of a notebook's ``parameters`` cell, with ``PRUNEKIT_PROFILE`` set to ``profile``."""
    cells = json.loads(Path(path).read_text())["cells"]
    tagged = [c for c in cells if c["cell_type"] == "code" and "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise ValueError(f"{path} must have exactly one cell tagged 'parameters', found {len(tagged)}")
    source = "".join(tagged[0]["source"])
    _only_assignments(source, path)
    names: dict[str, Any] = {}
    previous = os.environ.get("PRUNEKIT_PROFILE")
    os.environ["PRUNEKIT_PROFILE"] = profile
    try:
        exec(compile(source, str(path), "exec"), names)  # noqa: S102 — our own notebook's parameters cell
    finally:
        if previous is None:
            os.environ.pop("PRUNEKIT_PROFILE")
        else:
            os.environ["PRUNEKIT_PROFILE"] = previous
    return {k: v for k, v in names.items() if not k.startswith("__") and k != "os"}


def _only_assignments(source: str, path: str | os.PathLike) -> None:
    """ValueError unless a parameters cell holds only imports and assignments (papermill's contract)."""
    for node in ast.parse(source).body:
        if not isinstance(node, (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign)):
            raise ValueError(f"{path}: its parameters cell may hold only assignments, found {type(node).__name__} "
                             f"at line {node.lineno}")


def chapter_requests(name: str, profile: str, results_dir: str | os.PathLike | None = None,
                     root: str | os.PathLike | None = None) -> Requests | None:
    """The runs chapter ``name`` reads under ``profile`` (None for a chapter that reads no stored runs)."""
    module = importlib.import_module(f"prunekit.paper.chapters.{name}")
    if not hasattr(module, "requests"):
        return None
    paths = BookPaths(project_root(root))
    params = notebook_parameters(paths.notebooks / f"{name}.ipynb", profile)
    page = open_page(profile, dataset=params.get("dataset", "mnist"), results_dir=results_dir,
                     seeds=params.get("seeds"), inline_figures=False)
    accepted = inspect.signature(module.requests).parameters
    return module.requests(page, **{k: v for k, v in params.items() if k in accepted and k not in PAGE_PARAMETERS})


def coverage_frame(profile: str, results_dir: str | os.PathLike | None = None,
                   root: str | os.PathLike | None = None, chapters: Sequence[str] | None = None) -> pd.DataFrame:
    """Per chapter that reads stored runs: requested, stored, missing and stale runs, and the stale ones' cost."""
    names = list(chapters) if chapters is not None else notebook_order(BookPaths(project_root(root)))
    store = open_page(profile, dataset=None, results_dir=results_dir, inline_figures=False).store
    rows = []
    for name in names:
        requests = chapter_requests(name, profile, results_dir, root)
        if requests is not None:
            rows.append(_coverage_row(name, requests, store))
    return pd.DataFrame(rows, columns=["chapter", "requested", "stored", "missing", "stale", "stale_cpu_hours"])


def _coverage_row(name: str, requests: Requests, store: ResultStore) -> dict[str, Any]:
    """One chapter's line of :func:`coverage_frame`."""
    absent = {c.key for c in requests.missing(store)}
    stored = stored_requests(requests, store)
    stale = stale_records(stored, store)
    hours = sum(float(r.resources.get("total_seconds", 0.0)) for r in stale) / 3600
    return {"chapter": name, "requested": len(requests.keys()), "stored": len(stored), "missing": len(absent),
            "stale": len(stale), "stale_cpu_hours": round(hours, 2)}


def chapters_records(profile: str, chapters: Sequence[str], results_dir: str | os.PathLike | None = None,
                     root: str | os.PathLike | None = None) -> list[RunRecord]:
    """The stored records ``chapters`` read, each once, chapter by chapter (ValueError for a chapter reading none)."""
    store = open_page(profile, dataset=None, results_dir=results_dir, inline_figures=False).store
    records: dict[str, RunRecord] = {}
    for name in chapters:
        requests = chapter_requests(name, profile, results_dir, root)
        if requests is None:
            raise ValueError(f"chapter {name!r} reads no stored runs; the chapters that do: "
                             f"{reading_chapters(root)}")
        records |= {r.key: r for r in stored_requests(requests, store) if r.key not in records}
    return list(records.values())


def stale_keys(profile: str, chapters: Sequence[str], results_dir: str | os.PathLike | None = None,
               root: str | os.PathLike | None = None) -> list[str]:
    """The run keys of ``chapters``' stored requests that are stale, chapter by chapter (for a targeted refresh)."""
    store = open_page(profile, dataset=None, results_dir=results_dir, inline_figures=False).store
    return [r.key for r in stale_records(chapters_records(profile, chapters, results_dir, root), store)]


def reading_chapters(root: str | os.PathLike | None = None) -> list[str]:
    """The book's chapters that read stored runs, in book order."""
    return [n for n in notebook_order(BookPaths(project_root(root)))
            if hasattr(importlib.import_module(f"prunekit.paper.chapters.{n}"), "requests")]


def main(argv: Sequence[str] | None = None) -> int:
    """Print the coverage table; exit 1 when the store lacks a requested run."""
    parser = argparse.ArgumentParser(prog="python -m prunekit.paper.coverage", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="cpu", help="the profile whose store the book reads (default: cpu)")
    parser.add_argument("--results-dir", default=None, help="the store (default: results/<profile>)")
    args = parser.parse_args(argv)
    frame = coverage_frame(args.profile, args.results_dir)
    sys.stdout.write(frame.to_string(index=False) + "\n")
    lacking = int(frame["missing"].sum())
    stale = stale_keys(args.profile, list(frame["chapter"]), args.results_dir)
    sys.stdout.write(f"{lacking} requested run(s) missing; {len(stale)} distinct stale runs over all chapters "
                     f"(chapters share runs)\n")
    return 1 if lacking else 0


if __name__ == "__main__":
    raise SystemExit(main())
