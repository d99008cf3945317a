"""Execute the source notebooks into the book: ``python -m prunekit.paper.book execute --profile cpu``.

``notebooks/`` is the single source of every chapter. This module runs each notebook with
papermill (``-p profile …``) into ``book/<name>.ipynb``, in the order of ``book/_toc.yml``; the
book then renders those executed copies (Jupyter Book never executes anything itself). A cell
error stops the run with a non-zero exit naming the notebook and the cell, and the broken copy
never replaces the page in ``book/``. Wall times, and how many runs each notebook read from the store
and trained, go to ``book/_timings.json``; ``python -m prunekit.paper.book summary`` prints them with the
pages built (the last step of ``make book``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from prunekit.paper.pages import normalise_file
from prunekit.experiments.profiles import available_profiles, default_profile_name, get_profile
from prunekit.experiments.runcount import counting_runs

log = logging.getLogger(__name__)

RESULTS_ENV = "PRUNEKIT_RESULTS"
TIMINGS_FILE = "_timings.json"
KERNEL_NAME = "python3"


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The nearest directory at or above ``start`` (default: cwd) holding ``pyproject.toml``, else ``start``.

    Notebooks run with their own folder as working directory (papermill here, nbval in CI), so
    default paths are anchored at the project root rather than at the working directory.
    """
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return here


def results_dir_for(profile: str, results_dir: str | os.PathLike | None = None) -> Path:
    """Where a notebook's result records live: ``results_dir`` if given, else ``<root>/results/<profile>``.

    ``<root>`` is ``$PRUNEKIT_RESULTS`` when set, otherwise the project root. Each profile gets its
    own folder, so smoke runs (CI, nbval) never mix with the committed ``cpu`` records.
    """
    name = get_profile(profile).name
    if results_dir is not None:
        if isinstance(results_dir, str) and not results_dir.strip():
            raise ValueError("results_dir must be a non-empty path or None")
        return Path(results_dir)
    base = os.environ.get(RESULTS_ENV, "").strip()
    root = Path(base) if base else project_root() / "results"
    return root / name


@dataclass(frozen=True)
class BookPaths:
    """Where the source notebooks, the table of contents and the executed pages are."""

    root: Path
    book_dir: Path | None = None  # another folder for the executed pages (e.g. a smoke build), else <root>/book

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"

    @property
    def book(self) -> Path:
        return self.book_dir if self.book_dir is not None else self.root / "book"

    @property
    def toc(self) -> Path:
        return self.book / "_toc.yml"

    @property
    def timings(self) -> Path:
        return self.book / TIMINGS_FILE


def _toc_files(entry: object) -> list[str]:
    """Every ``file:`` of a parsed ``_toc.yml`` (root, chapters, parts, sections), in reading order."""
    files: list[str] = []
    if isinstance(entry, dict):
        for key in ("root", "file"):
            if isinstance(entry.get(key), str):
                files.append(entry[key])
        for key in ("parts", "chapters", "sections"):
            for child in entry.get(key) or []:
                files.extend(_toc_files(child))
    elif isinstance(entry, list):
        for child in entry:
            files.extend(_toc_files(child))
    return files


def notebook_order(paths: BookPaths) -> list[str]:
    """Names of the source notebooks in table-of-contents order; every notebook must be in the toc."""
    import yaml

    toc = yaml.safe_load(paths.toc.read_text(encoding="utf-8"))
    stems = [Path(f).with_suffix("").as_posix() for f in _toc_files(toc)]
    sources = sorted(p.stem for p in paths.notebooks.glob("*.ipynb"))
    missing = sorted(set(sources) - set(stems))
    if missing:
        raise ValueError(f"notebooks missing from {paths.toc}: {missing}; add them to the table of contents")
    return [s for s in stems if s in sources]


class NotebookFailed(RuntimeError):
    """A notebook raised in one of its cells."""


def _cell_description(error: Exception) -> str:
    """'cell N (execution count M): ename: evalue' from a papermill execution error."""
    index = getattr(error, "cell_index", None)
    count = getattr(error, "exec_count", None)
    ename = getattr(error, "ename", type(error).__name__)
    evalue = getattr(error, "evalue", str(error))
    where = f"cell {index}" if index is not None else "a cell"
    if count is not None:
        where += f" (execution count {count})"
    return f"{where}: {ename}: {evalue}"


def execute_notebook(
    name: str,
    profile: str,
    paths: BookPaths,
    results_dir: Path | None = None,
    failed_dir: Path | None = None,
) -> float:
    """Execute ``notebooks/<name>.ipynb`` into ``book/<name>.ipynb``; return the wall time in seconds."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    source = paths.notebooks / f"{name}.ipynb"
    target = paths.book / f"{name}.ipynb"
    parameters: dict[str, object] = {"profile": profile}
    if results_dir is not None:
        parameters["results_dir"] = str(results_dir.resolve())
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"prunekit-book-{name}-") as tmp:
        output = Path(tmp) / f"{name}.ipynb"
        try:
            # Always both paths: with piped stdin and no output path papermill overwrites the input.
            papermill.execute_notebook(
                str(source),
                str(output),
                parameters=parameters,
                kernel_name=KERNEL_NAME,
                cwd=str(paths.notebooks),
                progress_bar=False,
            )
        except PapermillExecutionError as error:
            kept = _keep_failed(output, failed_dir or paths.root / "_build" / "failed")
            raise NotebookFailed(
                f"notebook {source.relative_to(paths.root)} failed in {_cell_description(error)}"
                f" (executed copy: {kept})"
            ) from error
        normalise_file(output)  # no timestamps or random widget ids: a rebuilt page equals the committed one
        shutil.move(str(output), target)
    return time.perf_counter() - start


def _keep_failed(output: Path, folder: Path) -> Path | None:
    """Copy a failed run's notebook out of the temp dir for inspection; return where it went."""
    if not output.exists():
        return None
    folder.mkdir(parents=True, exist_ok=True)
    kept = folder / output.name
    shutil.copyfile(output, kept)
    return kept


def _record_timing(paths: BookPaths, name: str, profile: str, seconds: float,
                   runs: dict[str, int] | None = None) -> None:
    """Merge one notebook's wall time (and the runs it read and trained) into ``book/_timings.json``."""
    timings = {}
    if paths.timings.exists():
        timings = json.loads(paths.timings.read_text(encoding="utf-8"))
    timings[name] = {
        "profile": profile,
        "seconds": round(seconds, 1),
        "executed": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **({"runs_stored": runs["stored"], "runs_trained": runs["trained"]} if runs is not None else {}),
    }
    paths.timings.write_text(json.dumps(timings, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def execute_all(
    profile: str,
    only: Sequence[str] | None = None,
    results_dir: str | os.PathLike | None = None,
    root: str | os.PathLike | None = None,
    book_dir: str | os.PathLike | None = None,
) -> dict[str, float]:
    """Execute every notebook (or ``only`` those) in toc order into ``book_dir`` (default ``book/``);
    return wall seconds per notebook."""
    name = get_profile(profile).name
    if book_dir is not None and not (Path(book_dir) / "_toc.yml").is_file():
        raise ValueError(f"book_dir {str(book_dir)!r} has no _toc.yml; pass a copy of book/")
    paths = BookPaths(project_root(root), Path(book_dir).resolve() if book_dir is not None else None)
    order = notebook_order(paths)
    if only:
        unknown = sorted(set(only) - set(order))
        if unknown:
            raise ValueError(f"unknown notebook(s) {unknown}; notebooks: {', '.join(order)}")
        order = [n for n in order if n in set(only)]
    folder = Path(results_dir).resolve() if results_dir is not None else None
    seconds: dict[str, float] = {}
    for notebook in order:
        log.info("executing notebooks/%s.ipynb with profile %s", notebook, name)
        with counting_runs() as runs:
            seconds[notebook] = execute_notebook(notebook, name, paths, folder)
        _record_timing(paths, notebook, name, seconds[notebook], runs)
        log.info("book/%s.ipynb written in %.1f s", notebook, seconds[notebook])
    return seconds


# ------------------------------------------------------------------------------------------------ summary


def toc_pages(paths: BookPaths) -> list[str]:
    """Every page of ``book/_toc.yml`` (notebooks and markdown), as paths without suffix, in reading order."""
    import yaml

    toc = yaml.safe_load(paths.toc.read_text(encoding="utf-8"))
    return [Path(f).with_suffix("").as_posix() for f in _toc_files(toc)]


def _runs_line(chapters: dict[str, dict]) -> str:
    """'Runs: N read from the store, M trained', naming the chapters whose counts were not recorded."""
    counted = {name: t for name, t in chapters.items() if "runs_stored" in t}
    if not counted:
        return "Runs:     not counted (the chapters were executed before runs were counted; make book counts them)"
    stored = sum(int(t["runs_stored"]) for t in counted.values())
    trained = sum(int(t["runs_trained"]) for t in counted.values())
    line = f"Runs:     {stored} read from the store, {trained} trained"
    uncounted = [name for name in chapters if name not in counted]
    if uncounted:
        line += f" (not counted for {', '.join(uncounted)}: executed before runs were counted)"
    return line


def _chapter_rows(chapters: dict[str, dict]) -> list[str]:
    """One line per executed chapter (wall time, runs read and trained, when), then the total."""
    rows = [f"  {'chapter':<16}{'wall time':>11}{'read':>7}{'trained':>9}  executed (UTC)"]
    for name, t in chapters.items():
        read, trained = t.get("runs_stored", "-"), t.get("runs_trained", "-")
        when = str(t.get("executed", "-"))[:16].replace("T", " ")
        rows.append(f"  {name:<16}{_duration(float(t['seconds'])):>11}{read:>7}{trained:>9}  {when}")
    total = sum(float(t["seconds"]) for t in chapters.values())
    rows.append(f"  {'total':<16}{_duration(total):>11}")
    return rows


def _duration(seconds: float) -> str:
    """'42.0 s', '3 min 05 s' or '2 h 03 min'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _profile_line(chapters: dict[str, dict]) -> str:
    """'Profile:  cpu', or each profile with its chapters when they were executed with different ones."""
    by_profile: dict[str, list[str]] = {}
    for name, t in chapters.items():
        by_profile.setdefault(str(t.get("profile", "?")), []).append(name)
    if len(by_profile) <= 1:
        return f"Profile:  {next(iter(by_profile), 'none: no chapter executed')}"
    return "Profile:  mixed: " + "; ".join(f"{p} ({', '.join(names)})" for p, names in by_profile.items())


def book_summary(book_dir: str | os.PathLike | None = None, html_dir: str | os.PathLike | None = None) -> str:
    """The end-of-build summary: pages built, profile, runs read and trained, wall time per chapter, index path."""
    paths = BookPaths(project_root(book_dir), Path(book_dir).resolve() if book_dir is not None else None)
    html = Path(html_dir).resolve() if html_dir is not None else paths.root / "_build" / "html"
    pages = toc_pages(paths)
    built = [p for p in pages if (html / f"{p}.html").is_file()]
    missing = [p for p in pages if p not in built]
    timings = json.loads(paths.timings.read_text(encoding="utf-8")) if paths.timings.is_file() else {}
    chapters = {p: timings[p] for p in pages if p in timings}
    index = html / "index.html"
    lines = [
        f"Pages:    {len(built)} of {len(pages)} built into {html}"
        + (f" (missing: {', '.join(missing)})" if missing and built else ""),
        _profile_line(chapters),
        _runs_line(chapters),
        "Wall time per chapter (book/_timings.json):",
        *_chapter_rows(chapters),
        f"Open:     {index}" if index.is_file() else f"Open:     {index} is missing: run make book",
    ]
    return "\n".join(lines)


def print_summary(book_dir: str | os.PathLike | None = None, html_dir: str | os.PathLike | None = None) -> None:
    """Print ``book_summary`` (the one place of this module that prints: it is the command's output)."""
    print(book_summary(book_dir, html_dir))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m prunekit.paper.book", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    execute = commands.add_parser("execute", help="execute notebooks/*.ipynb into book/ with papermill")
    execute.add_argument("--profile", default=default_profile_name(), choices=available_profiles(),
                         help="run budget (default: $PRUNEKIT_PROFILE or cpu)")
    execute.add_argument("--only", action="append", metavar="NAME",
                         help="execute only this notebook (repeatable), e.g. --only method")
    execute.add_argument("--results-dir", default=None,
                         help="result records folder (default: results/<profile> at the project root)")
    execute.add_argument("--book-dir", default=None,
                         help="write the executed pages into this copy of book/ instead (e.g. a smoke build)")
    summary = commands.add_parser("summary", help="print the pages built, profile, runs and wall time per chapter")
    summary.add_argument("--book-dir", default=None, help="the book folder (default: book/ at the project root)")
    summary.add_argument("--html", default=None, help="the built site (default: _build/html at the project root)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit status."""
    args = _parser().parse_args(argv)
    if args.command == "summary":
        print_summary(args.book_dir, args.html)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        seconds = execute_all(args.profile, only=args.only, results_dir=args.results_dir, book_dir=args.book_dir)
    except NotebookFailed as error:
        log.error("%s", error)
        return 1
    except ValueError as error:
        log.error("%s", error)
        return 2
    total = sum(seconds.values())
    for notebook, s in seconds.items():
        log.info("%-20s %8.1f s", notebook, s)
    log.info("executed %d notebook(s) in %.1f s (profile %s)", len(seconds), total, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
