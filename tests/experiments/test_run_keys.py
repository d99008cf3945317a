"""A run is keyed by what it computes: committed keys never move, and another numeric mode is another key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from prunekit.experiments.config import RunConfig
from prunekit.training.loop import grad_scaler, resolve_precision

RESULTS = Path(__file__).resolve().parents[2] / "results"


def _committed_records() -> list[Path]:
    return sorted(p for p in RESULTS.glob("*/*.json") if "config" in json.loads(p.read_text()))


def test_every_committed_record_is_stored_under_its_recomputed_key():
    paths = _committed_records()
    assert paths, "no committed records found under results/"
    wrong = [p.name for p in paths if RunConfig.from_dict(json.loads(p.read_text())["config"]).key != p.stem]
    assert wrong == []


def test_committed_records_state_the_device_and_precision_they_computed_in():
    configs = [json.loads(p.read_text())["config"] for p in _committed_records()]
    assert {(c["device"], c.get("precision")) for c in configs} <= {("cpu", "fp32"), ("cuda", "bf16"),
                                                                    ("cuda", "fp16"), ("cuda", "fp32")}


def _config(**changes) -> RunConfig:
    return RunConfig(model="mlp5", dataset="mnist", criterion="snip-it", sparsity=0.9, epochs=1, **changes)


def test_cpu_fp32_key_does_not_depend_on_how_the_device_is_named(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _config(device="auto").key == _config(device="cpu").key == _config(device="cpu", precision="fp32").key


def test_a_bf16_cuda_run_never_shares_the_key_of_an_fp32_cpu_record():
    cpu = _config(device="cpu").key
    assert _config(device="cuda", precision="bf16").key != cpu
    assert _config(device="cuda", precision="fp16").key != _config(device="cuda", precision="bf16").key
    assert _config(device="cuda", amp=False).key != cpu  # fp32 on another device's kernels
    assert _config(device="cpu", precision="bf16").key != cpu  # CPU autocast is another numeric mode


@pytest.mark.parametrize("capability, expected", [((9, 0), "bf16"), ((8, 0), "bf16"), ((7, 5), "fp16")])
def test_auto_precision_on_cuda_follows_native_bf16_support(monkeypatch, capability, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    config = _config(device="auto")
    assert config.numerics() == ("cuda", expected)
    assert config.key == _config(device="cuda", precision=expected).key


def test_auto_precision_of_a_cuda_config_on_a_machine_without_cuda_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="give precision explicitly"):
        _ = _config(device="cuda").key


def test_precision_without_amp_is_refused():
    with pytest.raises(ValueError, match="amp=False"):
        _config(amp=False, precision="bf16")
    with pytest.raises(ValueError, match="precision must be one of"):
        _config(precision="int8")


def test_only_fp16_gets_a_grad_scaler():
    cpu = torch.device("cpu")
    assert grad_scaler(cpu, "fp32") is None and grad_scaler(cpu, "bf16") is None
    assert isinstance(grad_scaler(cpu, "fp16"), torch.amp.GradScaler)
    assert resolve_precision(cpu, amp=True) == "fp32"  # amp changes nothing on CPU unless asked explicitly
