"""scripts/ensure_chromium.sh (run by `make test`): installs Chromium where it can, else names the fix.

Each case runs the script with a PATH holding only fake `id`, `apt-get` and `sudo` commands, so nothing
is installed or removed on this machine.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ensure_chromium.sh"
BASH = shutil.which("bash")
CHMOD = shutil.which("chmod")

pytestmark = pytest.mark.skipif(BASH is None or CHMOD is None, reason="needs bash and chmod")


def fake(bin_dir: Path, name: str, body: str) -> None:
    """Write an executable shell script ``bin_dir/name``."""
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def machine(tmp_path: Path, *, uid: int, apt: bool = True, sudo: bool = False, browser: bool = False) -> Path:
    """A bin folder standing in for the system: `id -u` says ``uid``; apt-get "installs" chromium there."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    fake(bin_dir, "id", f"echo {uid}")
    if apt:
        fake(bin_dir, "apt-get", f'echo "apt-get $*" >> {log}\n'
                                 f'case "$*" in *install*) printf "#!/bin/sh\\n" > {bin_dir}/chromium; '
                                 f'{CHMOD} +x {bin_dir}/chromium;; esac')
    if sudo:
        fake(bin_dir, "sudo", f'echo "sudo $*" >> {log}\nexec "$@"')
    if browser:
        fake(bin_dir, "chromium", "exit 0")
    return bin_dir


def ensure(bin_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([BASH, str(SCRIPT)], env={"PATH": str(bin_dir)}, capture_output=True, text=True,
                          timeout=30)


def calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def test_without_root_or_sudo_it_fails_naming_the_command(tmp_path):
    done = ensure(machine(tmp_path, uid=1000))
    assert done.returncode == 1
    assert "not root and has no sudo" in done.stderr
    assert "apt-get install -y chromium" in done.stderr
    assert calls(tmp_path) == []


def test_without_apt_it_fails_naming_what_to_install(tmp_path):
    done = ensure(machine(tmp_path, uid=0, apt=False))
    assert done.returncode == 1
    assert "no apt-get" in done.stderr and "'chromium' is on PATH" in done.stderr


def test_as_root_it_installs_debians_chromium(tmp_path):
    bin_dir = machine(tmp_path, uid=0)
    done = ensure(bin_dir)
    assert done.returncode == 0, done.stderr
    assert calls(tmp_path) == ["apt-get install -y -q chromium"]
    assert (bin_dir / "chromium").is_file()


def test_as_a_user_with_sudo_it_installs_through_sudo(tmp_path):
    done = ensure(machine(tmp_path, uid=1000, sudo=True))
    assert done.returncode == 0, done.stderr
    assert calls(tmp_path) == ["sudo apt-get install -y -q chromium", "apt-get install -y -q chromium"]


def test_with_chromium_on_path_it_does_nothing(tmp_path):
    done = ensure(machine(tmp_path, uid=1000, browser=True))
    assert done.returncode == 0
    assert calls(tmp_path) == [] and done.stderr == ""


def test_a_failing_apt_get_is_retried_after_an_update_then_named(tmp_path):
    bin_dir = machine(tmp_path, uid=0, apt=False)
    fake(bin_dir, "apt-get", f'echo "apt-get $*" >> {tmp_path / "calls.log"}\nexit 100')
    done = ensure(bin_dir)
    assert done.returncode == 1
    assert calls(tmp_path) == ["apt-get install -y -q chromium", "apt-get update -q"]
    assert "apt-get update && apt-get install -y chromium" in done.stderr
