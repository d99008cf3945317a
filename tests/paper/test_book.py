"""Facts of the notebook → book pipeline and of the paper's numbers the book shows."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import pytest
import yaml

from prunekit.paper.book import (
    BookPaths,
    NotebookFailed,
    book_summary,
    execute_all,
    main,
    notebook_order,
    project_root,
    results_dir_for,
)
from prunekit.reference import available_tables, paper_table

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PARAMETERS = {"profile", "dataset", "seeds", "results_dir"}  # and "model" or "models"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _parameters_cell(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    return tagged[0]


# ------------------------------------------------------------------------------------------ notebooks


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_has_the_standard_parameters(path):
    cell = _parameters_cell(path)
    assigned = {t.id for node in ast.parse(cell.source).body if isinstance(node, ast.Assign) for t in node.targets
                if isinstance(t, ast.Name)}
    assert PARAMETERS <= assigned, f"{path.name} parameters cell lacks {sorted(PARAMETERS - assigned)}"
    assert {"model", "models"} & assigned, f"{path.name} parameters cell names neither model nor models"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell_has_no_equals_sign_in_comments(path):
    for line in _parameters_cell(path).source.splitlines():
        if "#" in line:
            assert "=" not in line.split("#", 1)[1], f"{path.name}: '=' in a parameters comment confuses papermill"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_profile_defaults_to_the_environment_so_nbval_runs_smoke(path):
    assert "PRUNEKIT_PROFILE" in _parameters_cell(path).source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_source_notebooks_store_only_checked_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.outputs:
            assert "NBVAL_CHECK_OUTPUT" in cell.source, f"{path.name}: outputs stored in an unchecked cell"
            assert cell.execution_count is not None


def test_toc_lists_every_notebook_in_reading_order():
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    order = notebook_order(BookPaths(ROOT))
    assert sorted(order) == sorted(p.stem for p in NOTEBOOKS)
    assert toc["root"] == "intro"
    assert order[0] == "method"


@pytest.mark.parametrize("path", sorted((ROOT / "book").glob("*.ipynb")), ids=lambda p: p.name)
def test_executed_pages_carry_the_state_of_every_widget_they_show(path):
    nb = nbformat.read(path, as_version=4)
    views = [o.data[WIDGET_VIEW]["model_id"] for c in nb.cells if c.cell_type == "code" for o in c.outputs
             if o.output_type in ("display_data", "execute_result") and WIDGET_VIEW in o.data]
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name} was committed with an error output"
    if views:
        state = nb.metadata["widgets"][WIDGET_STATE]["state"]
        assert set(views) <= set(state)
        assert any(m["model_name"] == "LinkModel" for m in state.values())
    assert (ROOT / "notebooks" / path.name).exists(), f"book/{path.name} has no source in notebooks/"


# ------------------------------------------------------------------------------------------- config


def test_config_renders_committed_notebooks_with_offline_widget_js():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["execute"]["execute_notebooks"] == "off"
    sphinx = config["sphinx"]["config"]
    assert "html_static_path" not in sphinx
    extra = [ROOT / "book" / p for p in sphinx["html_extra_path"]]
    for url in sphinx["nb_ipywidgets_js"]:
        assert url.startswith("../"), "Sphinx prefixes _static/, so site-root files need ../"
        relative = url.removeprefix("../")
        assert any((folder / relative).is_file() for folder in extra), f"{url} is not vendored"
    for bib in config["bibtex_bibfiles"]:
        assert (ROOT / "book" / bib).is_file()


def test_vendored_widget_js_is_the_amd_embedder_and_requirejs():
    folder = ROOT / "book" / "_vendor" / "static" / "jupyter-widgets"
    assert "define(\"@jupyter-widgets/base\"" in (folder / "embed-amd.js").read_text()[:400]
    assert "RequireJS" in (folder / "require.js").read_text()[:400]


# --------------------------------------------------------------------------------------- results dir


def test_results_dir_defaults_to_a_folder_per_profile_at_the_project_root(monkeypatch, tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    monkeypatch.delenv("PRUNEKIT_RESULTS", raising=False)
    assert project_root() == tmp_path
    assert results_dir_for("cpu") == tmp_path / "results" / "cpu"
    assert results_dir_for("SMOKE", None) == tmp_path / "results" / "smoke"


def test_results_dir_given_or_from_the_environment_wins(monkeypatch, tmp_path):
    assert results_dir_for("cpu", str(tmp_path / "mine")) == tmp_path / "mine"
    monkeypatch.setenv("PRUNEKIT_RESULTS", str(tmp_path / "shared"))
    assert results_dir_for("paper") == tmp_path / "shared" / "paper"


def test_results_dir_rejects_unknown_profiles_and_empty_paths():
    with pytest.raises(ValueError, match="profile"):
        results_dir_for("laptop")
    with pytest.raises(ValueError, match="results_dir"):
        results_dir_for("cpu", "  ")


# ---------------------------------------------------------------------------------------- executing


def _notebook(source: str) -> nbformat.NotebookNode:
    params = nbformat.v4.new_code_cell('profile = "cpu"\nresults_dir = None')
    params.metadata["tags"] = ["parameters"]
    nb = nbformat.v4.new_notebook(cells=[params, nbformat.v4.new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


@pytest.fixture
def project(tmp_path) -> Path:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "book").mkdir()
    nbformat.write(_notebook("print(profile, results_dir)"), tmp_path / "notebooks" / "good.ipynb")
    nbformat.write(_notebook("x = 1\nraise RuntimeError('boom')"), tmp_path / "notebooks" / "bad.ipynb")
    toc = {"format": "jb-book", "root": "intro", "chapters": [{"file": "good"}, {"file": "bad"}]}
    (tmp_path / "book" / "_toc.yml").write_text(yaml.safe_dump(toc))
    return tmp_path


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_execute_writes_the_page_with_the_profile_and_stops_on_a_cell_error(project):
    with pytest.raises(NotebookFailed, match=r"notebooks/bad\.ipynb failed in cell 2 .*RuntimeError: boom"):
        execute_all("smoke", root=project, results_dir=project / "store")
    page = nbformat.read(project / "book" / "good.ipynb", as_version=4)
    assert page.cells[-1].outputs[0].text.strip() == f"smoke {project / 'store'}"
    assert not (project / "book" / "bad.ipynb").exists(), "a failed notebook must not become a page"
    assert (project / "_build" / "failed" / "bad.ipynb").exists()
    timings = json.loads((project / "book" / "_timings.json").read_text())
    assert set(timings) == {"good"} and timings["good"]["profile"] == "smoke"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_execute_into_another_book_dir_leaves_book_untouched(project, tmp_path_factory):
    (project / "notebooks" / "bad.ipynb").unlink()
    (project / "book" / "_toc.yml").write_text(yaml.safe_dump({"format": "jb-book", "root": "intro",
                                                                "chapters": [{"file": "good"}]}))
    copy = tmp_path_factory.mktemp("smoke") / "book"
    copy.mkdir()
    (copy / "_toc.yml").write_text((project / "book" / "_toc.yml").read_text())
    execute_all("smoke", root=project, results_dir=project / "store", book_dir=copy)
    assert (copy / "good.ipynb").exists() and (copy / "_timings.json").exists()
    assert sorted(p.name for p in (project / "book").iterdir()) == ["_toc.yml"]


def test_book_dir_without_a_toc_is_a_clear_error(project, tmp_path_factory):
    with pytest.raises(ValueError, match="no _toc.yml"):
        execute_all("smoke", root=project, book_dir=tmp_path_factory.mktemp("empty"))


def test_toc_must_list_every_notebook(project):
    nbformat.write(_notebook("pass"), project / "notebooks" / "orphan.ipynb")
    with pytest.raises(ValueError, match="orphan"):
        notebook_order(BookPaths(project))


def test_cli_rejects_an_unknown_notebook_with_a_nonzero_exit(project, monkeypatch):
    monkeypatch.chdir(project)
    assert main(["execute", "--profile", "smoke", "--only", "nonexistent"]) == 2


# ------------------------------------------------------------------------------------ paper numbers


@pytest.mark.timeout(300)
def test_execute_records_the_runs_each_notebook_read_and_trained(project):
    # what note_runs writes, without importing prunekit in the kernel (it may import another checkout's)
    cell = ("import json, os\nwith open(os.environ['PRUNEKIT_RUN_COUNTS'], 'a') as fh:\n"
            "    fh.write(json.dumps({'stored': 4}) + '\\n' + json.dumps({'trained': 2}) + '\\n')")
    nbformat.write(_notebook(cell), project / "notebooks" / "good.ipynb")
    with pytest.raises(NotebookFailed):
        execute_all("smoke", root=project, results_dir=project / "store")
    good = json.loads((project / "book" / "_timings.json").read_text())["good"]
    assert (good["runs_stored"], good["runs_trained"]) == (4, 2)


# ------------------------------------------------------------------------------------------- summary


@pytest.fixture
def built_book(tmp_path) -> Path:
    """A project whose book has three pages, two executed chapters (one without run counts), two pages built."""
    (tmp_path / "pyproject.toml").write_text("")
    book = tmp_path / "book"
    book.mkdir()
    toc = {"format": "jb-book", "root": "intro", "chapters": [{"file": "method"}, {"file": "table1"}]}
    (book / "_toc.yml").write_text(yaml.safe_dump(toc))
    timings = {
        "method": {"profile": "cpu", "seconds": 10.1, "executed": "2026-11-26T16:45:03+00:00",
                   "runs_stored": 12, "runs_trained": 3},
        "table1": {"profile": "cpu", "seconds": 185.0, "executed": "2026-11-26T16:46:00+00:00"},
    }
    (book / "_timings.json").write_text(json.dumps(timings))
    html = tmp_path / "_build" / "html"
    html.mkdir(parents=True)
    for page in ("intro", "method", "index"):
        (html / f"{page}.html").write_text("<html></html>")
    return tmp_path


def test_summary_states_pages_profile_runs_times_and_the_index(built_book):
    text = book_summary(built_book / "book")
    lines = text.splitlines()
    html = built_book / "_build" / "html"
    assert lines[0] == f"Pages:    2 of 3 built into {html} (missing: table1)"
    assert lines[1] == "Profile:  cpu"
    assert lines[2].startswith("Runs:     12 read from the store, 3 trained (not counted for table1")
    assert lines[5].split() == ["method", "10.1", "s", "12", "3", "2026-11-26", "16:45"]
    assert lines[6].split()[:5] == ["table1", "3", "min", "05", "s"] and lines[6].split()[5:7] == ["-", "-"]
    assert lines[7].split() == ["total", "3", "min", "15", "s"]
    assert lines[-1] == f"Open:     {html / 'index.html'}"
    assert len(lines) <= 24, "one screen"


def test_summary_names_mixed_profiles_and_a_missing_site(built_book, tmp_path_factory):
    timings_path = built_book / "book" / "_timings.json"
    timings = json.loads(timings_path.read_text())
    timings["table1"]["profile"] = "smoke"
    timings_path.write_text(json.dumps(timings))
    text = book_summary(built_book / "book", html_dir=tmp_path_factory.mktemp("empty"))
    assert "Profile:  mixed: cpu (method); smoke (table1)" in text
    assert "0 of 3 built" in text and "index.html is missing" in text


def test_summary_command_prints_it(built_book, capsys):
    assert main(["summary", "--book-dir", str(built_book / "book")]) == 0
    assert capsys.readouterr().out.strip() == book_summary(built_book / "book")


def test_reference_holds_the_papers_tables():
    assert available_tables() == ["table1", "table2", "table3", "table4"]


def test_table3_has_the_baseline_and_the_seven_mlp5_methods():
    table = paper_table(3)
    assert (table.dataset == "mnist").all() and (table.model == "mlp5").all()
    assert table.loc[table.method == "baseline", "accuracy"].item() == 98
    rows = {(r.method, r.prune_at): (r.accuracy, r.bound, r.sparsity, r.hm)
            for r in table[table.method != "baseline"].itertuples()}
    assert rows == {
        ("hoyersquare", "after"): (96, 0.3, 94, 95),
        ("imp-global", "during"): (97, 0.2, 98, 97),
        ("snip-it", "during"): (97, 0.1, 98, 97),
        ("grasp", "before"): (96, 0.2, 97, 96),
        ("random", "before"): (96, 0.2, 96, 96),
        ("snip", "before"): (96, 0.3, 96, 96),
        ("snip-it", "before"): (95, 0.2, 97, 96),
    }


def test_table2_covers_two_datasets_four_models_eight_rows():
    table = paper_table("table2")
    assert len(table) == 2 * 4 * 8
    pick = table.set_index(["dataset", "model", "method", "prune_at"])
    assert tuple(pick.loc[("cifar10", "resnet18", "snip-it", "during"), ["accuracy", "bound", "sparsity", "hm"]]) \
        == (78, 0.3, 98, 87)
    assert tuple(pick.loc[("imagenette", "conv6", "snip-it", "during"), ["accuracy", "bound", "sparsity", "hm"]]) \
        == (87, 1.1, 99, 93)
    assert tuple(pick.loc[("cifar10", "mlp5", "snip", "before"), ["accuracy", "bound", "sparsity", "hm"]]) \
        == (59, 0.3, 87, 71)


@pytest.mark.parametrize("table_id", [2, 3])
def test_transcribed_hm_matches_accuracy_and_sparsity(table_id):
    table = paper_table(table_id)
    table = table[table.method != "baseline"]
    hm = 2 * table.accuracy * table.sparsity / (table.accuracy + table.sparsity)
    assert (hm - table.hm).abs().max() <= 1.0  # the paper rounds all three to whole percent


def test_unknown_table_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown paper table 9.*table1"):
        paper_table(9)
