"""The command line: a real smoke run in a subprocess, exit code 2 on bad input, sweeps, results and the bench hook."""

from __future__ import annotations

import argparse
import importlib
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from prunekit import cli
from prunekit.experiments import sweep as sweep_module
from prunekit.experiments.store import ResultStore
from tests.sweep_helpers import fake_record

REPO = Path(__file__).resolve().parents[1]
SUBCOMMANDS = ("run", "sweep", "results", "profiles", "bench", "speed", "prune", "inspect", "claims")


def prunekit(*args: str, cwd: Path, data_root: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m prunekit`` in a subprocess."""
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    if data_root is not None:
        env["PRUNEKIT_DATA"] = str(data_root)
    return subprocess.run([sys.executable, "-m", "prunekit", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_run_smoke_profile_exits_0_and_prints_the_accuracy(tmp_path, mnist_data_root):
    done = prunekit("run", "--model", "mlp5", "--dataset", "mnist", "--criterion", "snip-it", "--sparsity", "0.9",
                    "--seed", "0", "--profile", "smoke", "--results-dir", "res", "--no-progress", "--device", "cpu",
                    cwd=tmp_path, data_root=mnist_data_root)
    assert done.returncode == 0, done.stderr
    accuracy = re.search(r"accuracy\s+([01]\.\d{4})", done.stdout)
    assert accuracy, done.stdout
    assert re.search(r"weight sparsity\s+0\.900\d", done.stdout)
    for label in ("node sparsity", "prune time", "train time", "FLOPs reduction"):
        assert label in done.stdout
    (record,) = ResultStore(tmp_path / "res").records()
    assert f"{record.metrics['accuracy']:.4f}" == accuracy.group(1)
    assert record.config.profile == "smoke" and record.config.epochs == 1
    assert (record.config.device, record.config.precision) == ("cpu", "fp32")
    assert record.provenance["device_type"] == "cpu"
    assert str(Path("res") / f"{record.key}.json") in done.stdout


def test_bad_model_exits_2_with_a_one_line_error_naming_it(tmp_path):
    done = prunekit("run", "--model", "resnet50", "--profile", "smoke", cwd=tmp_path)
    assert done.returncode == 2
    assert "resnet50" in done.stderr and "mlp5" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args, named", [
    (["--model", "mlp5", "--sparsity", "1.5"], "1.5"),
    (["--model", "mlp5", "--profile", "huge"], "huge"),
    (["--model", "mlp5", "--dataset", "svhn"], "svhn"),
    (["--model", "mlp5", "--criterion", "magic"], "magic"),
    (["--model", "mlp5", "--criterion", "none", "--sparsity", "0.5"], "0.5"),
    (["--model", "mlp5", "--epochs", "-3"], "-3"),
])
def test_bad_run_values_exit_2_naming_the_value(args, named, capsys, tmp_path):
    code = cli.main(["run", *args, "--results-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert named in err and err.startswith("prunekit: error: ") and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for command in SUBCOMMANDS:
        assert re.search(rf"^\s+{command}\s+\S", out, re.M), command


def test_every_option_has_help_text():
    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(subparsers.choices) == set(SUBCOMMANDS)
    for name, sub in subparsers.choices.items():
        for action in sub._actions:
            if not isinstance(action, argparse._HelpAction):
                assert action.help, f"prunekit {name} {action.option_strings} has no help"


# ------------------------------------------------------------------------------------------------ sweep / results


@pytest.fixture
def fake_runs(monkeypatch) -> list:
    calls: list = []

    def fake_run(config, **kwargs):
        calls.append(config)
        return fake_record(config, accuracy=0.9 - config.sparsity / 2 + 0.01 * config.seed)

    monkeypatch.setattr(sweep_module, "run", fake_run)
    return calls


@pytest.mark.parametrize("device", ["cpu", "cuda:1"])
def test_run_no_store_computes_the_asked_device_and_writes_nothing(tmp_path, monkeypatch, capsys, device):
    experiments = importlib.import_module("prunekit.experiments.run")  # the module: prunekit.experiments.run is run()

    computed = []
    monkeypatch.setattr(experiments, "run", lambda config, **kwargs: computed.append(config) or fake_record(config))
    args = ["run", "--model", "mlp5", "--criterion", "snip", "--sparsity", "0.9", "--profile", "smoke",
            "--device", device, "--precision", "fp32", "--results-dir", str(tmp_path / "res"), "--no-store",
            "--no-progress"]
    assert cli.main(args) == 0 and cli.main(args) == 0
    assert len(computed) == 2  # no store: the second call computes again
    assert {c.device for c in computed} == {device} and {c.precision for c in computed} == {"fp32"}
    assert not (tmp_path / "res").exists()
    assert "not stored (--no-store)" in capsys.readouterr().out


def test_run_deterministic_flag_reaches_the_config(tmp_path, monkeypatch):
    experiments = importlib.import_module("prunekit.experiments.run")  # the module: prunekit.experiments.run is run()

    computed = []
    monkeypatch.setattr(experiments, "run", lambda config, **kwargs: computed.append(config) or fake_record(config))
    assert cli.main(["run", "--model", "mlp5", "--profile", "smoke", "--device", "cpu", "--deterministic",
                     "--no-store", "--results-dir", str(tmp_path)]) == 0
    assert computed[0].deterministic is True


def test_sweep_runs_the_grid_then_results_aggregates_it(tmp_path, fake_runs, capsys):
    args = ["sweep", "--model", "mlp5", "--criteria", "none,snip,random", "--sparsities", "0.9,0.98",
            "--seeds", "2", "--profile", "smoke", "--results-dir", str(tmp_path), "--no-progress"]
    assert cli.main(args) == 0
    assert len(fake_runs) == 2 + 2 * 2 * 2  # dense per seed + criteria × sparsities × seeds
    assert {c.seed for c in fake_runs} == {0, 1} and {c.profile for c in fake_runs} == {"smoke"}
    assert len(list(tmp_path.glob("*.json"))) == 10
    capsys.readouterr()

    assert cli.main(args) == 0 and len(fake_runs) == 10  # nothing left to run
    capsys.readouterr()

    assert cli.main(["results", "--results-dir", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "random" in table and "snip" in table and "±accuracy" in table
    assert len(table.strip().splitlines()) == 1 + 5  # header + dense + 2 criteria × 2 sparsities

    assert cli.main(["results", "--results-dir", str(tmp_path), "--best"]) == 0
    best = capsys.readouterr().out
    assert len(best.strip().splitlines()) == 1 + 3  # one row per method


def test_sweep_dry_run_uses_the_profile_from_the_environment(tmp_path, fake_runs, capsys, monkeypatch):
    monkeypatch.setenv("PRUNEKIT_PROFILE", "smoke")
    assert cli.main(["sweep", "--model", "mlp5", "--results-dir", str(tmp_path), "--dry-run"]) == 0
    # smoke: sparsities (0.9, 0.98), one seed; default criteria snip, snip-it, random
    assert "6 runs in the grid, 0 stored, 6 to run" in capsys.readouterr().out
    assert fake_runs == []


def test_sweep_accepts_explicit_seed_lists(tmp_path, fake_runs):
    assert cli.main(["sweep", "--model", "mlp5", "--criteria", "snip", "--sparsities", "0.9", "--seeds", "3,7",
                     "--profile", "smoke", "--results-dir", str(tmp_path), "--no-progress"]) == 0
    assert [c.seed for c in fake_runs] == [3, 7]


def test_results_of_an_empty_store(tmp_path, capsys):
    assert cli.main(["results", "--results-dir", str(tmp_path / "none")]) == 0
    assert "no records" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------ bench hook


def test_bench_delegates_to_prunekit_bench(monkeypatch):
    seen = {}
    fake = types.ModuleType("prunekit.measure.bench")
    fake.add_arguments = lambda parser: parser.add_argument("--repeats", type=int, default=1)
    fake.main = lambda args: seen.setdefault("repeats", args.repeats) and 0
    monkeypatch.setitem(sys.modules, "prunekit.measure.bench", fake)
    assert cli.main(["bench", "--repeats", "4"]) == 0
    assert seen == {"repeats": 4}


def test_without_a_bench_module_the_other_commands_still_work(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "prunekit.measure.bench", None)  # import fails as if the file were missing
    assert cli.main(["bench"]) == 2
    assert "bench" in capsys.readouterr().err
    assert cli.main(["results", "--results-dir", str(tmp_path)]) == 0
    assert cli.main(["profiles"]) == 0


def test_claims_lists_every_registered_claim_with_its_verdict(tmp_path, capsys):
    from prunekit.paper.registry import CLAIMS

    assert cli.main(["claims", "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    # no store under tmp_path: nothing decided; claims on a chapter's measurements await its units file
    assert all(f"[{'awaiting data' if c.test.a.units else 'awaiting runs'}] {c.id} " in out for c in CLAIMS)
