"""``make gpu-check`` on a machine without a GPU: it says so and succeeds; its tables and section report."""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_cuda_it_prints_that_no_gpu_is_present_and_exits_0(gpu_check, monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 0
    assert capsys.readouterr().out.strip() == gpu_check.NO_GPU


@pytest.mark.skipif(torch.cuda.is_available(), reason="the no-GPU path only")
def test_the_make_target_runs_the_script_and_exits_0_without_a_gpu():
    done = subprocess.run([sys.executable, str(SCRIPT)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "no GPU present" in done.stdout


def test_the_table_aligns_columns_and_rounds_floats(gpu_check):
    from prunekit.measure.bench import BenchResult

    result = BenchResult("mlp5", "mnist", "cuda:0", "bf16", 16, 60000, 1_199_000, 1234.5678, 0.0583, 0.25, 0.2,
                         0.01, 7)
    table = gpu_check.format_table([result.as_dict(), {"precision": "fp16"}], gpu_check.BENCH_COLUMNS)
    header, rule, first, second = table.splitlines()
    assert header.split() == list(gpu_check.BENCH_COLUMNS)
    assert len({len(header), len(rule), len(first), len(second)}) == 1  # one width per column, right-aligned
    assert first.split()[:4] == ["bf16", "1.23e+03", "0.0583", "0.25"]
    assert first.split()[5] == f"{0.25 / 0.0583:.3g}"  # the derived ratio, dense_vs_bound
    assert second.split() == ["fp16"] + ["-"] * (len(gpu_check.BENCH_COLUMNS) - 1)


def test_a_failing_section_is_reported_and_the_others_still_run(gpu_check):
    def broken() -> str:
        raise AssertionError("peak not below dense")

    out = io.StringIO()
    status = gpu_check.run_sections([("first", lambda: "ok 1"), ("second", broken), ("third", lambda: "ok 3")], out)
    text = out.getvalue()
    assert status == 1
    assert "ok 1" in text and "ok 3" in text and "AssertionError: peak not below dense" in text
    assert "2 of 3 sections passed; failed: second" in text
