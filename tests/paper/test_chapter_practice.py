"""Facts of the "Prune your own model" chapter: targets are upper bounds on the shipped network, the artifact is
the network, timings and training are measured once, and the inputs are fitted to the model as the CLI fits them."""

from __future__ import annotations

import copy
import zipfile

import pandas as pd
import pytest
import torch
from torch import nn

from prunekit.data import ScoringData, channels_fitted, fit_channels
from prunekit.experiments.store import ResultStore
from prunekit.models import LeNet5
from prunekit.paper.chapters import practice as ch
from prunekit.pruning.artifact import load
from prunekit.pruning.prunability import NO_WEIGHT, inspect
from prunekit.pruning.targets import Target
from prunekit.structured import prune_nodes, shrink

SMOKE = ch.practice_budget("smoke")


def lenet(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return LeNet5((1, 28, 28), 10)


def mnist_like(n: int = 64) -> ScoringData:
    g = torch.Generator().manual_seed(0)
    return ScoringData(torch.randn(n, 1, 28, 28, generator=g), torch.randint(0, 10, (n,), generator=g), "synthetic", 10)


@pytest.fixture(scope="module")
def shrunk_lenet():
    """A LeNet5 node-pruned to keep at most 10 % of its parameters, its search result and its shrunk copy."""
    dense, data = lenet(), mnist_like()
    pruned = copy.deepcopy(dense)
    result = prune_nodes(pruned, "snap-it", target=Target(params=0.1), **ch.scoring_options(data, SMOKE))
    return dense, data, result, shrink(pruned, data.inputs[:2])


# ------------------------------------------------------------------------------------------------ budget, inputs


def test_the_smoke_budget_scores_less_than_cpu_and_uses_the_profiles_data_limits():
    cpu = ch.practice_budget("cpu")
    assert SMOKE.samples < cpu.samples and SMOKE.steps <= cpu.steps
    assert (SMOKE.train_limit, SMOKE.test_limit) == (2048, 1024) and cpu.train_limit is None


def test_one_channel_is_repeated_for_a_three_channel_model_and_other_mismatches_are_refused():
    x = torch.randn(2, 1, 5, 5)
    fitted = channels_fitted(x, 3, "mnist")
    assert fitted.shape == (2, 3, 5, 5) and all(torch.equal(fitted[:, c], x[:, 0]) for c in range(3))
    assert channels_fitted(x, 1, "mnist") is x and channels_fitted(x, None, "mnist") is x
    with pytest.raises(ValueError, match="mnist has 1 input channels but the model's first convolution expects 4"):
        channels_fitted(x, 4, "mnist")
    said: list[str] = []
    data = fit_channels(mnist_like(4), nn.Sequential(nn.Conv2d(3, 2, 3)), said.append)
    assert data.inputs.shape[1] == 3 and said == ["note: synthetic has 1 channel; repeating it to the 3 channels the "
                                                  "model's first convolution expects"]


def test_fitted_batches_keep_their_count_and_labels():
    batches = [(torch.randn(4, 1, 6, 6), torch.arange(4)), (torch.randn(2, 1, 6, 6), torch.arange(2))]
    fitted = ch.FittedBatches(batches, 3, "mnist")
    assert len(fitted) == 2
    assert [(tuple(x.shape), y.tolist()) for x, y in fitted] == [((4, 3, 6, 6), [0, 1, 2, 3]), ((2, 3, 6, 6), [0, 1])]


def test_an_unknown_torchvision_name_is_refused_naming_the_accepted_ones():
    with pytest.raises(ValueError, match=r"unknown torchvision classification model 'resnet19'; accepted: .*resnet18"):
        ch.build_network("resnet19")


def test_the_same_seed_builds_the_same_network():
    first, second = ch.build_network("resnet18", 10, 3), ch.build_network("resnet18", 10, 3)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))


# ------------------------------------------------------------------------------------------------ inspect


def test_the_prunability_table_lists_the_modules_with_parameters_and_the_prose_counts_them():
    model = ch.build_network("resnet18")
    report = inspect(model, torch.zeros(1, 3, 28, 28))
    table = ch.prunability_table(report)
    assert len(table) == int((report["reason"] != NO_WEIGHT).sum()) and (table["parameters"] > 0).all()
    assert set(table.loc[table["type"] == "BatchNorm2d", "status"]) == {"skipped"}
    assert table.loc[table["module"] == "fc", "status"].item() == "weights only"
    prose = ch.prunability_prose(report)
    assert "21 Linear/Conv layers" in prose and "20 of them can lose whole output channels" in prose
    assert "20 × normalisation" in prose


# ------------------------------------------------------------------------------------------------ targets and shrink


def test_the_shrunk_network_keeps_at_most_the_parameter_target_and_the_report_says_how_much(shrunk_lenet):
    dense, data, result, small = shrunk_lenet
    sizes = ch.size_table(dense, small, data.inputs[:1])
    kept = sum(p.numel() for p in small.parameters()) / sum(p.numel() for p in dense.parameters())
    assert ch.shrunk_share(sizes, "params") == pytest.approx(kept) == pytest.approx(result.report.achieved)
    assert kept <= 0.1
    assert sizes.loc["shrunk", "FLOPs per sample"] < sizes.loc["dense", "FLOPs per sample"]
    with pytest.raises(ValueError, match="kind must be one of params, flops, got 'sparsity'"):
        ch.shrunk_share(sizes, "sparsity")


def test_per_layer_rows_cover_every_pruned_layer_with_its_dense_size(shrunk_lenet):
    dense, data, result, _ = shrunk_lenet
    report = inspect(dense, data.inputs[:1])
    table = ch.per_layer_table(result.report, report)
    assert list(table["layer"]) == list(result.report.per_layer)
    weights = {n: m.weight.numel() + m.bias.numel() for n, m in dense.named_modules() if n in result.report.per_layer}
    assert dict(zip(table["layer"], table["dense parameters"])) == weights
    assert ((table["kept params"] >= 0) & (table["kept params"] <= 1)).all()


def test_the_shrunk_convolutions_are_no_wider_than_the_dense_ones(shrunk_lenet):
    dense, _, _, small = shrunk_lenet
    widths = ch.channel_widths(dense, small)
    assert list(widths["layer"]) == [n for n, m in dense.named_modules() if isinstance(m, nn.Conv2d)]
    assert (widths["shrunk"] <= widths["dense"]).all() and (widths["shrunk"] < widths["dense"]).any()


def test_an_unreachable_target_raises_naming_its_floor():
    with pytest.raises(ValueError, match=r"target params=1e-06 is unreachable: .*ask for at least 0\.0\d+"):
        prune_nodes(lenet(), "snap-it", target=Target(params=1e-6), **ch.scoring_options(mnist_like(), SMOKE))


def test_the_prose_puts_the_request_beside_what_was_reached(shrunk_lenet):
    report = shrunk_lenet[2].report
    text = ch.target_prose(report, "SNAP-it")
    assert f"at most {report.requested:.2%}" in text and f"keeps {report.achieved:.2%}" in text
    assert text.count("→") == len(report.probes)


# ------------------------------------------------------------------------------------------------ artifact


def test_the_reloaded_artifact_gives_the_same_outputs_and_the_zip_holds_the_two_files(shrunk_lenet, tmp_path):
    _, data, result, small = shrunk_lenet
    spec = ch.artifact_spec(result, "snap-it", {"model": "lenet5"})
    artifact, archive = ch.ship(small, ch.download_folder(tmp_path), "lenet5-snap-it", spec)
    loaded = load(artifact, model=lenet(seed=1))
    assert ch.same_outputs(small, loaded, data.inputs[:8])
    assert not ch.same_outputs(lenet(seed=1), loaded, data.inputs[:8])
    assert sorted(zipfile.ZipFile(archive).namelist()) == ["lenet5-snap-it/", "lenet5-snap-it/spec.json",
                                                          "lenet5-snap-it/weights.safetensors"]
    links = ch.download_links(archive, artifact, tmp_path)
    assert "](_static/practice/lenet5-snap-it.zip)" in links
    assert "](_static/practice/lenet5-snap-it/spec.json)" in links


# ------------------------------------------------------------------------------------------------ measured once


def test_time_networks_times_each_network_and_a_network_against_itself_is_no_faster():
    net = nn.Sequential(nn.Flatten(), nn.Linear(16, 4))
    frame = ch.time_networks({"a": net, "b": net}, torch.randn(8, 16), repeats=3)
    assert list(frame["network"]) == ["a", "b"] and (frame["repeats"] == 3).all()
    assert (frame["fastest s"] <= frame["median s"]).all() and (frame["median s"] <= frame["slowest s"]).all()
    assert frame.loc[0, "speed-up median"] == 1.0


def test_timings_are_measured_once_per_settings_and_read_back(tmp_path, monkeypatch):
    store, net = ResultStore(tmp_path), nn.Sequential(nn.Flatten(), nn.Linear(16, 4))
    calls: list[int] = []
    real = ch.time_networks

    def counted(*args, **kwargs) -> pd.DataFrame:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(ch, "time_networks", counted)
    first = ch.cached_timings(store, {"model": "x"}, net, net, (16,), SMOKE)
    again = ch.cached_timings(store, {"model": "x"}, net, net, (16,), SMOKE)
    other = ch.cached_timings(store, {"model": "y"}, net, net, (16,), SMOKE)
    assert len(calls) == 2 and first.equals(again) and len(other) == 2


def test_a_settings_key_changes_with_any_setting():
    base = ch.budget_settings("resnet18", 0, SMOKE, node_target={"params": 0.1})
    from prunekit.paper.measurements import settings_key

    assert settings_key(base) == settings_key(dict(reversed(list(base.items()))))
    assert settings_key(base) != settings_key({**base, "node_target": {"params": 0.2}})


# ------------------------------------------------------------------------------------------------ the whole page


def test_resnet18_on_mnist_shrinks_within_its_target_and_its_artifact_reloads(mnist_data_root, monkeypatch, tmp_path):
    monkeypatch.setenv("PRUNEKIT_DATA", str(mnist_data_root))
    dense = ch.build_network("resnet18", 10, 0)
    data, notes = ch.scoring_data(dense, "mnist", SMOKE.samples)
    assert data.inputs.shape == (SMOKE.samples, 3, 28, 28) and notes
    pruned = copy.deepcopy(dense)
    result = prune_nodes(pruned, "snap-it", target=Target(flops=0.4), **ch.scoring_options(data, SMOKE))
    small = shrink(pruned, data.inputs[:2])
    assert ch.shrunk_share(ch.size_table(dense, small, data.inputs[:1]), "flops") <= 0.4
    artifact, _ = ch.ship(small, tmp_path, "r18", ch.artifact_spec(result, "snap-it", {}))
    assert ch.same_outputs(small, load(artifact, model=ch.build_network("resnet18", 10, 1)), data.inputs[:4])
