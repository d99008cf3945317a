"""scripts/device_run.sh: what one call of a lent GPU machine needs travels, runs and comes back in one archive."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from prunekit.experiments.l0_native import l0_native_configs

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "device_run.sh"


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", **env}
    return subprocess.run(["bash", str(SCRIPT), *args], env=full, capture_output=True, text=True, timeout=600)


def test_without_a_mode_it_names_the_modes():
    result = _run()
    assert result.returncode == 2 and "pack | check | l0-native | unpack" in result.stderr


@pytest.mark.slow
def test_the_l0_native_grid_comes_back_as_one_archive_of_its_records(mnist_data_root, tmp_path):
    packed = _run("pack", PRUNEKIT_DATA=str(mnist_data_root))
    assert packed.returncode == 0, packed.stderr
    out = tmp_path / "out"
    out.mkdir()
    result = _run("l0-native", OUT=str(out), L0_NATIVE_PROFILE="smoke", DEVICE_RESULTS=str(tmp_path / "results"))
    assert result.returncode == 0, result.stderr
    assert (out / "summary.txt").read_text().startswith("l0-native (smoke): 2 workers, 0 failed")
    with tarfile.open(out / "device.tar.gz") as archive:
        records = [json.load(archive.extractfile(m)) for m in archive.getmembers()
                   if m.name.startswith("results/smoke/") and m.name.endswith(".json")]
    assert sorted(r["key"] for r in records) == sorted(c.key for c in l0_native_configs("smoke"))
