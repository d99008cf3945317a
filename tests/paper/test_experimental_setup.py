"""Facts of the dataset and training-setup tables (Section 4, Appendix J)."""

from __future__ import annotations

import os

import pytest

from prunekit.paper.chapters.setup import dataset_table, missing_files, training_setup_table
from tests.data_fixtures import mnist_root  # noqa: F401  (fixture)


def test_missing_files_names_them_without_downloading(tmp_path, monkeypatch):
    monkeypatch.delenv("PRUNEKIT_OFFLINE", raising=False)
    import prunekit.data

    offline_during_check = []
    monkeypatch.setattr(prunekit.data, "_offline", lambda: offline_during_check.append(os.environ.get(
        "PRUNEKIT_OFFLINE")) or True)
    message = missing_files("mnist", tmp_path)
    assert "train-images-idx3-ubyte" in message and str(tmp_path) in message
    assert "PRUNEKIT_OFFLINE" not in message  # only what is missing, not the advice
    assert offline_during_check and set(offline_during_check) == {"1"}  # downloads were forbidden
    assert "PRUNEKIT_OFFLINE" not in os.environ  # the caller's environment is restored


def test_no_download_is_attempted(tmp_path, monkeypatch):
    monkeypatch.delenv("PRUNEKIT_OFFLINE", raising=False)
    tried = []
    import torchvision.datasets as tvd
    monkeypatch.setattr(tvd, "CIFAR10", lambda *a, **k: tried.append(a))
    assert "data_batch_1" in missing_files("cifar10", tmp_path)
    assert tried == []


def test_a_previous_offline_setting_survives(tmp_path, monkeypatch):
    monkeypatch.setenv("PRUNEKIT_OFFLINE", "0")
    missing_files("mnist", tmp_path)
    assert os.environ["PRUNEKIT_OFFLINE"] == "0"


def test_a_dataset_on_disk_has_nothing_missing(mnist_root):  # noqa: F811
    assert missing_files("mnist", mnist_root) is None
    table = dataset_table(["mnist"], root=mnist_root)
    assert table["on disk"].tolist() == [True] and table["missing"].tolist() == [""]


def test_the_dataset_table_flags_what_differs_from_appendix_j(tmp_path):
    table = dataset_table(root=tmp_path).set_index("dataset")
    assert not table["on disk"].any()
    assert table.loc["mnist", "differs from paper"] == ""
    assert table.loc["imagenette", "differs from paper"] == "train size, test size"  # imagenette2, not v1
    assert not table.loc["fashion-mnist", "in paper"]
    assert table.loc["cifar10", "augmentation"] == "horizontal flip, p = 0.2 (training set)"
    assert table.loc["mnist", "augmentation"] == "none"


def test_the_cpu_profile_changes_budgets_not_the_optimiser():
    table = training_setup_table(["cpu", "paper"]).set_index("setting")
    assert table.loc["epochs", "cpu profile"] == 6 and table.loc["epochs", "differs in"] == "cpu"
    assert table.loc["τ: epochs between pruning steps (during)", "cpu profile"] == pytest.approx(4 * 6 / 80)
    assert table.loc["IMP rewind epoch", "cpu profile"] == pytest.approx(6 * 6 / 80)
    for setting in ("optimiser", "learning rate", "weight decay", "gradient clipping (max norm)",
                    "batch size (mnist)", "batch size (imagenette)", "SNIP-it steps s"):
        assert table.loc[setting, "differs in"] == "", setting
    assert table.loc["HoyerSquare epochs (regularised + fine-tuning)", "paper profile"] == "70 + 10"
    assert table.loc["scoring samples per pruning round", "differs in"] == ""  # the paper gives no number


def test_unknown_profiles_and_datasets_are_refused():
    with pytest.raises(ValueError, match="unknown profile"):
        training_setup_table(["laptop"])
    with pytest.raises(ValueError, match="unknown dataset"):
        dataset_table(["svhn"])
