"""The prunability report: every module, what prunes it, its coupling group, or why it is skipped."""

from __future__ import annotations

import logging

import torch
import torchvision
from torch import nn

import prunekit
from prunekit.pruning.prunability import BARE_PARAMETER, EMBEDDING, NO_WEIGHT, NORMALISATION, format_report
from prunekit.structured import prune_nodes


class Mixed(nn.Module):
    """An embedding, a bare parameter, a Linear/BatchNorm pair, a Linear never called, and an output layer."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, 8)
        self.scale = nn.Parameter(torch.ones(8))
        self.hidden = nn.Linear(8, 16)
        self.norm = nn.BatchNorm1d(16)
        self.act = nn.ReLU()
        self.unused = nn.Linear(16, 16)
        self.out = nn.Linear(16, 3)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.out(self.act(self.norm(self.hidden(self.embed(tokens).mean(1) * self.scale))))


def row(frame, name):
    return frame.set_index("module").loc[name]


def test_every_module_of_a_mixed_model_is_listed_with_what_prunes_it_or_why_not():
    frame = prunekit.inspect(Mixed(), torch.randint(0, 20, (2, 5)))
    assert list(frame["module"]) == ["(root)", "embed", "hidden", "norm", "act", "unused", "out"]
    assert row(frame, "(root)")["reason"].startswith(f"{BARE_PARAMETER} scale")
    assert row(frame, "embed")["reason"] == EMBEDDING
    assert row(frame, "norm")["reason"] == NORMALISATION and row(frame, "norm")["group"] == "hidden"
    assert row(frame, "act")["reason"] == NO_WEIGHT
    hidden, unused, out = row(frame, "hidden"), row(frame, "unused"), row(frame, "out")
    assert hidden["weights"] and hidden["nodes"] and hidden["reason"] == ""
    assert unused["weights"] and not unused["nodes"] and "not traced" in unused["reason"]
    assert out["weights"] and not out["nodes"] and "output layer" in out["reason"]
    assert frame["params"].sum() == sum(p.numel() for p in Mixed().parameters())
    assert hidden["flops"] == 2 * 2 * 8 * 16 and unused["flops"] == 0


def test_resnet18_residual_partners_share_one_coupling_group_and_flops_add_up():
    model = torchvision.models.resnet18(num_classes=10)
    x = torch.zeros(1, 3, 32, 32)
    frame = prunekit.inspect(model, x)
    assert set(frame["module"]) >= {name for name, m in model.named_modules() if not list(m.children())}
    assert row(frame, "layer1.0.conv2")["group"] == row(frame, "layer1.1.conv2")["group"] == "conv1"
    assert row(frame, "layer1.0.conv1")["group"] == "layer1.0.conv1"
    assert frame["flops"].sum() == frame.attrs["total_flops"] == prunekit.measure.metrics.inference_flops(model, (3, 32, 32))
    assert (frame.loc[~frame["weights"], "reason"] != "").all()
    assert "fc" in format_report(frame) and "skipped" in format_report(frame)


def test_mobilenet_depthwise_and_regnet_grouped_convs_are_explained():
    mobilenet = prunekit.inspect(torchvision.models.mobilenet_v2(num_classes=5), torch.zeros(1, 3, 32, 32))
    assert row(mobilenet, "features.2.conv.1.0")["reason"].startswith("depthwise conv")
    assert row(mobilenet, "features.2.conv.1.0")["group"] == row(mobilenet, "features.2.conv.0.0")["group"]
    regnet = prunekit.inspect(torchvision.models.regnet_x_400mf(num_classes=5), torch.zeros(1, 3, 32, 32))
    assert regnet["reason"].str.startswith("grouped conv").sum() == sum(
        1 for m in torchvision.models.regnet_x_400mf().modules() if isinstance(m, nn.Conv2d) and 1 < m.groups)


def test_prune_and_prune_nodes_log_a_one_line_summary(caplog):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    data = (torch.randn(16, 4), torch.randint(0, 2, (16,)))
    with caplog.at_level(logging.INFO, logger="prunekit.pruning.prunability"):
        prunekit.prune(model, "random", 0.5)
        prune_nodes(model, "snap-it", 0.5, data, samples=16, batch_size=16)
    lines = [r.getMessage() for r in caplog.records if r.name == "prunekit.pruning.prunability"]
    assert lines[0] == ("prunability of Sequential: 2 Linear/Conv layers scored (58 of 74 parameters); "
                        "modules with parameters left alone: 1 normalisation")
    assert lines[1].startswith("prunability of Sequential: 1 hidden layers prunable as nodes (40 of 74 parameters)")
