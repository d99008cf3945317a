"""Evidence rules in the notebooks (issue #15): no outcome snapshots, no typed numbers from our runs in prose.

A chapter's numbers come from computation (generated markdown or glue); a number typed into a markdown cell
must be one of the paper's own (it is quoted), or a parameter of the setting listed below. Notebooks assert
invariants, never an observed outcome frozen as an ``EXPECTED_*`` value.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PAPER = ROOT.parent / "shared" / "paper" / "snip-it-paper.md"

# Numbers of the setting, not results, each with its reason: thread and core counts, profile budgets, dataset and
# layer sizes, levels and tolerances the chapters choose up front, a citation year.
SETTING_NUMBERS: dict[str, str] = {
    **{n: "counts of threads, cores, seeds, epochs or layers" for n in ("1", "2", "3", "4", "5", "6", "8", "16")},
    **{n: "batch and sample budgets of the profiles" for n in ("32", "64", "100", "128", "256", "512", "1024",
                                                               "2048", "4096")},
    **{n: "MNIST's split sizes on disk" for n in ("10000", "60000", "12000", "48000")},
    "784": "MNIST's input size (28 x 28), MLP5's first layer",
    "1.19": "MLP5's weight count in millions (an architecture fact, Appendix L)",
    "99.9": "a sparsity level the chapters add beyond the paper's sweep",
    "0.15": "the cost chapter's matching tolerance in decades of kept weights, chosen up front",
    "2021": "the year of a cited paper (Frankle et al.)",
}

_CODE = re.compile(r"```.*?```|`[^`]*`", re.S)
_LINK_TARGET = re.compile(r"\]\([^)]*\)|https?://\S+|\{[a-z]+\}`[^`]*`")
_TAG_ATTRIBUTES = re.compile(r"<[^>]*>")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)?(?![\w])")
_SNAPSHOT = re.compile(r"\bEXPECTED_[A-Z0-9_]*\s*=")


def typed_numbers(markdown: str) -> list[str]:
    """The numbers a reader sees in a markdown cell's prose (code spans, link targets and HTML tags ignored)."""
    text = _CODE.sub(" ", markdown)
    text = _LINK_TARGET.sub(" ", text)
    text = _TAG_ATTRIBUTES.sub(" ", text)
    return [n.replace(",", "") for n in _NUMBER.findall(text)]


def paper_numbers(text: str) -> set[str]:
    """Every number written anywhere in the paper (with and without a trailing .0), the allow-list of quotes."""
    found = {n.replace(",", "") for n in _NUMBER.findall(text)}
    return found | {n.rstrip("0").rstrip(".") for n in found if "." in n}


def markdown_cells(path: Path) -> list[str]:
    """The source of every markdown cell of a notebook."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


def code_cells(path: Path) -> list[str]:
    """The source of every code cell of a notebook."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def test_typed_numbers_sees_prose_but_not_code_links_or_tags():
    cell = "SNIP-it reaches 93.22 % (`epochs=6`) at [Table 3](table2.ipynb#x), 10<sup>-3</sup>, 1,024 runs."
    assert typed_numbers(cell) == ["93.22", "3", "10", "3", "1024"]


def test_paper_numbers_accept_a_quote_written_without_its_trailing_zero():
    assert {"97.0", "97", "0.5"} <= paper_numbers("IMP-global 97.0 % at κ = 0.5")


@pytest.mark.skipif(not PAPER.is_file(), reason="the paper's text is not beside the repository (../shared/paper)")
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_markdown_numbers_are_the_papers_or_the_settings(notebook):
    allowed = paper_numbers(PAPER.read_text(encoding="utf-8")) | set(SETTING_NUMBERS)
    typed = {n for cell in markdown_cells(notebook) for n in typed_numbers(cell)}
    assert sorted(typed - allowed, key=float) == [], (
        "numbers typed into the prose that the paper does not contain: compute them (generated markdown or glue)")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_notebook_freezes_an_observed_outcome(notebook):
    assert [c.splitlines()[0] for c in code_cells(notebook) if _SNAPSHOT.search(c)] == []


def test_the_snapshot_pattern_catches_a_frozen_outcome():
    assert _SNAPSHOT.search("EXPECTED_CPU = {'before-beats-snip': True}")
    assert not _SNAPSHOT.search("expected = claims_frame(records)")
