"""``prunekit prune`` and ``prunekit inspect``: any model from the shell, a reloadable artifact, nothing partial on bad input."""

from __future__ import annotations

import textwrap

import pytest
import torch
import torchvision
from torch import nn

import prunekit.pruning.artifact
from prunekit import cli
from prunekit.pruning.prunability import module_flops

SMALL = ("--samples", "64", "--steps", "1", "--batch-size", "64")


def test_the_issue_command_gives_an_artifact_with_at_most_a_tenth_of_the_flops_and_the_same_outputs(
        tmp_path, mnist_data_root, monkeypatch, capsys):
    monkeypatch.setenv("PRUNEKIT_DATA", str(mnist_data_root))
    x = torch.randn(4, 3, 28, 28, generator=torch.Generator().manual_seed(0))
    before: dict[str, torch.Tensor] = {}
    save = prunekit.pruning.artifact.save

    def spy(model, path, **kwargs):
        model.eval()
        with torch.no_grad():
            before["outputs"] = model(x)
        return save(model, path, **kwargs)

    monkeypatch.setattr(prunekit.pruning.artifact, "save", spy)
    code = cli.main(["prune", "--model", "torchvision:resnet18", "--dataset", "mnist", "--criterion", "snap-it",
                     "--target", "flops=0.1", "--structured", "--out", str(tmp_path / "r18"), *SMALL])
    assert code == 0
    assert "repeating it to the 3 channels" in capsys.readouterr().out
    loaded = prunekit.load(tmp_path / "r18", model=torchvision.models.resnet18(num_classes=10))
    dense = module_flops(torchvision.models.resnet18(num_classes=10), x[:1])[""]
    assert module_flops(loaded, x[:1])[""] <= 0.1 * dense
    with torch.no_grad():
        assert torch.equal(loaded(x), before["outputs"])
    assert {p.name for p in (tmp_path / "r18").iterdir()} == {"weights.safetensors", "spec.json", "report.txt",
                                                              "inspect.csv"}
    assert "FLOPs per sample" in (tmp_path / "r18" / "report.txt").read_text()


@pytest.mark.parametrize("args, message", [
    (("--model", "torchvision:resnet19"), "unknown torchvision classification model 'resnet19' (did you mean resnet18"),
    (("--model", "nopkg.nomodule:make"), "cannot import module 'nopkg.nomodule'"),
    (("--model", "lenet5", "--criterion", "random", "--target", "params=0.00001"), "is unreachable"),
    (("--model", "lenet5", "--criterion", "snap-it"), "'snap-it' is not a weight criterion (a node criterion: add --structured)"),
])
def test_bad_input_is_one_clear_error_and_writes_nothing(args, message, tmp_path, mnist_data_root, monkeypatch, capsys):
    monkeypatch.setenv("PRUNEKIT_DATA", str(mnist_data_root))
    argv = ["prune", "--target", "flops=0.5", *args, "--out", str(tmp_path / "out"), *SMALL]
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_target_outside_0_1_is_refused_before_anything_runs(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["prune", "--model", "torchvision:resnet18", "--target", "flops=1.5", "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert "Target flops must lie in (0, 1]" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_user_factory_is_pruned_and_reloads_from_its_module(tmp_path, mnist_data_root, monkeypatch):
    monkeypatch.setenv("PRUNEKIT_DATA", str(mnist_data_root))
    (tmp_path / "usernet.py").write_text(textwrap.dedent("""
        from torch import nn

        def make(num_classes=3):
            return nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, num_classes))
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cli.main(["prune", "--model", "usernet:make", "--criterion", "snip", "--target", "params=0.2",
                     "--out", str(tmp_path / "out"), *SMALL]) == 0
    import usernet

    loaded = prunekit.load(tmp_path / "out", model=usernet.make(num_classes=10))
    assert prunekit.weight_sparsity(loaded) > 0.75
    assert isinstance(loaded[1], nn.Linear) and loaded[1].weight_mask.shape == (32, 784)


@pytest.mark.parametrize("name", ["densenet121", "efficientnet_b0"])
def test_inspect_prints_every_skipped_module_with_its_reason(name, capsys):
    assert cli.main(["inspect", "--model", f"torchvision:{name}", "--input-shape", "3,64,64"]) == 0
    lines = capsys.readouterr().out.splitlines()
    model = torchvision.models.get_model(name, weights=None)
    skipped = [n for n, m in model.named_modules() if not list(m.children()) and not isinstance(m, (nn.Linear, nn.Conv2d))]
    rows = {line.split()[0]: line for line in lines[1:-1]}
    for module in skipped:
        assert module in rows and ("no weight" in rows[module] or "normalisation" in rows[module]), module
    assert "skipped" in lines[-1]
