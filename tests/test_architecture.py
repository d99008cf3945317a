"""The package's rooms import downwards only (ARCHITECTURE.md): the layering is a fact the tests keep true."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import prunekit

PACKAGE = Path(prunekit.__file__).resolve().parent

# Rooms from the bottom up; a room may import its own modules and any room at a lower level.
LEVELS: dict[str, int] = {
    "_version": 0, "data": 0, "reference": 0,
    "core": 1,
    "criteria": 2, "models": 2,
    "training": 3,
    "pruning": 4,
    "measure": 5,
    "structured": 6,
    "experiments": 7,
    "analysis": 8,
    "paper": 9,
    "cli": 10, "cli_prune": 10, "__init__": 10, "__main__": 11,
}


def room_of(module: str) -> str:
    """The room of a dotted module name under prunekit (``prunekit.core.masks`` → ``core``)."""
    parts = module.split(".")
    if parts[0] != "prunekit":
        raise ValueError(f"not a prunekit module: {module!r}")
    return "__init__" if len(parts) == 1 else parts[1]


def module_name(path: Path) -> str:
    """The dotted name of a source file of the package."""
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def imported_modules(path: Path) -> list[str]:
    """Every prunekit module a source file imports, at module level or inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "prunekit":
                found += [f"prunekit.{alias.name}" for alias in node.names]
            elif node.module.startswith("prunekit."):
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[0] == "prunekit"]
    return found


def upward_imports() -> list[str]:
    """Imports from a room into a room above it, as 'importer -> imported' lines."""
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path)
        source = room_of(importer) if importer != "prunekit" else "__init__"
        for imported in imported_modules(path):
            target = room_of(imported)
            if target in LEVELS and LEVELS[target] > LEVELS[source]:
                wrong.append(f"{importer} -> {imported}")
    return wrong


def test_every_room_has_a_level():
    rooms = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))}
    assert rooms <= set(LEVELS), f"rooms without a level in ARCHITECTURE.md/this test: {sorted(rooms - set(LEVELS))}"


def test_imports_only_go_down():
    assert upward_imports() == []


def test_core_and_criteria_know_nothing_of_experiments_paper_or_analysis():
    for path in [*PACKAGE.joinpath("core").rglob("*.py"), *PACKAGE.joinpath("criteria").rglob("*.py")]:
        rooms = {room_of(m) for m in imported_modules(path)}
        assert not rooms & {"experiments", "paper", "analysis"}, path


def test_the_checker_sees_an_upward_import(tmp_path):
    fake = tmp_path / "mod.py"
    fake.write_text("from prunekit.paper.book import results_dir_for\nimport prunekit.core.masks\n")
    assert imported_modules(fake) == ["prunekit.paper.book", "prunekit.core.masks"]
    assert LEVELS[room_of("prunekit.paper.book")] > LEVELS["core"]


@pytest.mark.parametrize("name", ["masks", "prunekit"])
def test_room_of_refuses_foreign_names(name):
    if name == "prunekit":
        assert room_of(name) == "__init__"
    else:
        with pytest.raises(ValueError, match="not a prunekit module"):
            room_of(name)
