"""The chapters' prologue: one place that turns a page's parameters into what it runs on."""

import pytest

from prunekit.experiments.profiles import get_profile
from prunekit.paper.prologue import SMOKE_NOTE, open_page, produced_by, seed_list


def test_seed_list_reads_none_int_and_list():
    smoke = get_profile("smoke")
    assert seed_list(smoke, None) == tuple(smoke.seed_list)
    assert seed_list(smoke, 3) == (0, 1, 2)
    assert seed_list(smoke, [4, 7]) == (4, 7)


@pytest.mark.parametrize("bad", [0, -1, [], True])
def test_seed_list_refuses_empty_or_non_positive(bad):
    with pytest.raises(ValueError, match="seed"):
        seed_list(get_profile("smoke"), bad)


def test_open_page_names_store_by_profile(tmp_path):
    page = open_page("smoke", dataset=None, results_dir=tmp_path, inline_figures=False)
    assert page.store.root == tmp_path and page.info is None and page.profile.name == "smoke"


def test_unknown_profile_is_refused():
    with pytest.raises(ValueError):
        open_page("no-such-profile", dataset=None, inline_figures=False)


def test_produced_by_says_smoke_only_for_smoke(tmp_path):
    smoke = open_page("smoke", dataset=None, results_dir=tmp_path, inline_figures=False)
    cpu = open_page("cpu", dataset=None, results_dir=tmp_path, inline_figures=False)
    assert SMOKE_NOTE in produced_by(smoke, "3 runs").data
    assert SMOKE_NOTE not in produced_by(cpu, "3 runs").data
    assert "3 runs" in produced_by(cpu, "3 runs.").data
