"""Profiles: one definition of every budget; unknown names are rejected with the accepted ones."""

from __future__ import annotations

import dataclasses

import pytest

from prunekit.experiments.profiles import PROFILES, Profile, available_profiles, default_profile_name, get_profile


def test_profiles_exist_in_increasing_budget():
    smoke, cpu, paper = (get_profile(n) for n in ("smoke", "cpu", "paper"))
    assert available_profiles() == ["smoke", "cpu", "mnist-paper", "l0-native", "paper"]
    assert smoke.epochs < cpu.epochs < paper.epochs
    assert smoke.seeds <= cpu.seeds < paper.seeds
    assert smoke.train_limit is not None and cpu.train_limit is None and paper.train_limit is None


def test_paper_profile_has_the_paper_budget():
    paper = get_profile("paper")
    assert (paper.epochs, paper.seeds, paper.samples) == (80, 5, 2560)
    assert paper.test_limit is None


def test_smoke_is_tiny_and_cpu_uses_the_paper_scoring_budget():
    smoke, cpu = get_profile("smoke"), get_profile("cpu")
    assert smoke.train_limit <= 4096 and smoke.epochs == 1 and smoke.seeds == 1
    assert smoke.sparsities == (0.9, 0.98)
    assert cpu.samples == 2560
    assert set(cpu.sparsities) <= set(get_profile("paper").sparsities)


def test_seed_list_counts_from_zero():
    assert get_profile("paper").seed_list == (0, 1, 2, 3, 4)


def test_profiles_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PROFILES["cpu"].epochs = 1  # type: ignore[misc]


def test_unknown_profile_names_the_accepted_ones():
    with pytest.raises(ValueError, match=r"'huge'.*smoke, cpu, mnist-paper, l0-native, paper"):
        get_profile("huge")


def test_lookup_is_case_insensitive_and_passes_profiles_through():
    assert get_profile(" Smoke ") is PROFILES["smoke"]
    assert get_profile(PROFILES["cpu"]) is PROFILES["cpu"]


def test_default_profile_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("PRUNEKIT_PROFILE", raising=False)
    assert default_profile_name() == "cpu"
    monkeypatch.setenv("PRUNEKIT_PROFILE", "smoke")
    assert default_profile_name() == "smoke"


@pytest.mark.parametrize("field, value", [("epochs", -1), ("seeds", 0), ("samples", 0), ("train_limit", 0),
                                          ("sparsities", (1.0,)), ("sparsities", ())])
def test_invalid_budgets_are_rejected(field, value):
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(PROFILES["smoke"], **{field: value})


def test_profile_fields_are_budgets_only():
    budget_fields = {f.name for f in dataclasses.fields(Profile)}
    assert budget_fields == {"name", "description", "epochs", "seeds", "train_limit", "test_limit", "samples",
                             "scoring_batch_size", "sparsities", "models", "structured_models",
                             "structured_baseline_seeds", "max_weights", "small_models", "max_train_flops",
                             "max_scoring_flops"}


def test_structured_chapters_sweep_their_own_models_or_the_profiles():
    assert get_profile("cpu").structured_model_list == ("mlp5", "lenet5")
    assert get_profile("smoke").structured_model_list == get_profile("smoke").models
    assert set(get_profile("paper").structured_model_list) >= {"vgg16", "alexnet"}  # Tables 1 and 4


def test_mnist_paper_profile_is_the_papers_budget_on_mnist():
    p = get_profile("mnist-paper")
    assert (p.epochs, p.seeds, p.samples, p.train_limit, p.test_limit) == (80, 5, 2560, None, None)
    assert p.models == ("mlp5",)
