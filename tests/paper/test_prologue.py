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


def _mnist_page(tmp_path, profile="smoke"):
    import dataclasses

    from prunekit.data import dataset_info

    page = open_page(profile, dataset=None, results_dir=tmp_path, inline_figures=False)
    return dataclasses.replace(page, dataset="mnist", info=dataset_info("mnist"))


def test_page_models_are_the_profiles_unless_named(tmp_path):
    from prunekit.paper.prologue import page_models

    page = _mnist_page(tmp_path)
    assert page_models(page, None) == list(page.profile.models_for("mnist"))
    assert page_models(page, None, structured=True) == list(page.profile.models_for("mnist", structured=True))
    assert page_models(page, "lenet5") == ["lenet5"] and page_models(page, ("mlp5", "conv6")) == ["mlp5", "conv6"]
    with pytest.raises(ValueError, match="model"):
        page_models(page, [])


def test_image_counts_use_the_profiles_limits_else_the_whole_dataset(tmp_path):
    from prunekit.paper.prologue import image_counts

    smoke, cpu = _mnist_page(tmp_path), _mnist_page(tmp_path, "cpu")
    assert image_counts(smoke) == f"{smoke.profile.train_limit} training / {smoke.profile.test_limit} test images"
    assert image_counts(cpu).startswith(f"{cpu.profile.train_limit or 60000} training / ")
    with pytest.raises(ValueError, match="dataset"):
        image_counts(open_page("smoke", dataset=None, results_dir=tmp_path, inline_figures=False))


def test_produced_by_says_how_many_records_of_the_store_are_stale(tmp_path):
    import dataclasses

    from prunekit.experiments.store import ResultStore
    from prunekit.experiments.config import RunConfig
    from tests.sweep_helpers import fake_record

    page = open_page("cpu", dataset=None, results_dir=tmp_path, inline_figures=False)
    assert "stale" not in produced_by(page, "nothing").data  # an empty store: no line
    record = fake_record(RunConfig(model="mlp5", dataset="mnist", epochs=1, device="cpu"))
    ResultStore(tmp_path).put(dataclasses.replace(record, provenance={**record.provenance,
                                                                      "source_hash": "0123456789abcdef"}))
    assert "**1 of the 1 records in `results/" in produced_by(page, "one run").data
    from prunekit.paper.prologue import NO_RUNS

    assert "stale" not in produced_by(page, "reads no run", reads=NO_RUNS).data  # a page reading no run: no line


def test_produced_by_counts_stale_records_among_those_the_page_reads(tmp_path):
    import dataclasses

    from prunekit.experiments.config import RunConfig
    from prunekit.experiments.record import source_hash
    from prunekit.experiments.store import ResultStore
    from prunekit.paper.runs import requesting
    from tests.sweep_helpers import fake_record

    page = open_page("cpu", dataset=None, results_dir=tmp_path, inline_figures=False)
    read, other = (RunConfig(model="mlp5", dataset="mnist", epochs=1, device="cpu", seed=s) for s in (0, 1))
    for config, version in ((read, source_hash()), (other, "0123456789abcdef")):
        record = fake_record(config)
        ResultStore(tmp_path).put(dataclasses.replace(record, provenance={**record.provenance, "source_hash": version}))
    assert "1 of the 2 records in" in produced_by(page, "two runs").data  # the store's count
    line = produced_by(page, "one run", reads=requesting([read])).data
    assert "All 1 records this page reads" in line and "are stale" not in line  # it reads only the fresh one
    assert "**1 of the 1 records this page reads" in produced_by(page, "x", reads=requesting([other])).data
