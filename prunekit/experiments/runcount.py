"""How many runs a process read from the result store and how many it trained, for the book's summary.

While ``$PRUNEKIT_RUN_COUNTS`` names a file, ``sweep`` appends the records it read from the store and
``run`` each run it trained, one JSON line per call; ``python -m prunekit.paper.book execute`` sets it around
each notebook's execution (the kernel inherits it) and records the totals in ``book/_timings.json``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RUN_COUNTS_ENV = "PRUNEKIT_RUN_COUNTS"
COUNT_KINDS = ("stored", "trained")


def note_runs(*, stored: int = 0, trained: int = 0) -> None:
    """Append these counts to the file ``$PRUNEKIT_RUN_COUNTS`` names; nothing when it is unset."""
    target = os.environ.get(RUN_COUNTS_ENV, "").strip()
    if target and (stored or trained):
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"stored": int(stored), "trained": int(trained)}) + "\n")


def read_counts(path: str | os.PathLike) -> dict[str, int]:
    """The summed counts of a counts file ({'stored': 0, 'trained': 0} when it does not exist)."""
    totals = dict.fromkeys(COUNT_KINDS, 0)
    if Path(path).is_file():
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            for kind in COUNT_KINDS:
                totals[kind] += int(entry.get(kind, 0))
    return totals


@contextmanager
def counting_runs() -> Iterator[dict[str, int]]:
    """Count the runs read and trained inside the block, by this process and those it starts; filled at exit."""
    counts = dict.fromkeys(COUNT_KINDS, 0)
    previous = os.environ.get(RUN_COUNTS_ENV)
    with tempfile.TemporaryDirectory(prefix="prunekit-runs-") as tmp:
        path = Path(tmp) / "runs.jsonl"
        os.environ[RUN_COUNTS_ENV] = str(path)
        try:
            yield counts
        finally:
            if previous is None:
                os.environ.pop(RUN_COUNTS_ENV, None)
            else:
                os.environ[RUN_COUNTS_ENV] = previous
            counts.update(read_counts(path))
