"""Sweeps: grids, only-missing execution, resuming after kill -9, and Ray giving the local backend's records."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prunekit.experiments import sweep as sweep_module
from prunekit.experiments.config import RunConfig
from prunekit.experiments.store import ResultStore
from prunekit.experiments.sweep import grid, method_grid, missing, sweep, unique
from tests.sweep_helpers import data_root_or_skip, fake_record, kill_grid, single_thread, tiny_config  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
HELPER = Path(__file__).resolve().parents[1] / "sweep_helpers.py"
BASE = RunConfig(model="mlp5", dataset="mnist", criterion="snip", sparsity=0.9, epochs=1, device="cpu")


@pytest.fixture
def store(tmp_path) -> ResultStore:
    return ResultStore(tmp_path / "results")


@pytest.fixture
def fake_runs(monkeypatch) -> list[RunConfig]:
    """Replace the sweep's run() by an instant fake; the list collects the configs it ran."""
    calls: list[RunConfig] = []

    def fake_run(config, **kwargs):
        calls.append(config)
        return fake_record(config, accuracy=0.5 + 0.01 * config.seed)

    monkeypatch.setattr(sweep_module, "run", fake_run)
    return calls


# ------------------------------------------------------------------------------------------------ grids


def test_grid_is_the_cartesian_product_with_the_last_axis_fastest():
    configs = grid(BASE, criterion=["snip", "random"], sparsity=[0.9, 0.98], seed=range(3))
    assert len(configs) == 12 and len({c.key for c in configs}) == 12
    assert [(c.criterion, c.sparsity, c.seed) for c in configs[:4]] == [
        ("snip", 0.9, 0), ("snip", 0.9, 1), ("snip", 0.9, 2), ("snip", 0.98, 0)]
    assert all(c.model == "mlp5" and c.epochs == 1 for c in configs)


def test_grid_accepts_a_dict_base_and_single_values():
    configs = grid({"model": "mlp5", "dataset": "mnist", "epochs": 1}, criterion="snip-it", sparsity=[0.5, 0.9])
    assert [(c.criterion, c.sparsity, c.prune_at) for c in configs] == [("snip-it", 0.5, "before"),
                                                                        ("snip-it", 0.9, "before")]


@pytest.mark.parametrize("axes, message", [({"colour": ["red"]}, "colour"), ({"seed": []}, "no values"),
                                           ({"sparsity": [0.9, 1.2]}, "sparsity")])
def test_grid_rejects_bad_axes(axes, message):
    with pytest.raises(ValueError, match=message):
        grid(BASE, **axes)


def test_method_grid_adds_one_dense_baseline_per_seed():
    configs = method_grid(BASE, criteria=["none", "snip", "snip-it"], sparsities=[0.9, 0.98], seeds=[0, 1])
    dense = [c for c in configs if c.criterion == "none"]
    assert [(c.sparsity, c.prune_at, c.seed) for c in dense] == [(0.0, "none", 0), (0.0, "none", 1)]
    assert len(configs) == 2 + 2 * 2 * 2


def test_missing_lists_unstored_configs_once(store):
    configs = grid(BASE, seed=range(4))
    store.put(fake_record(configs[1]))
    assert missing(configs + configs, store) == [configs[0], configs[2], configs[3]]
    assert unique(configs + configs[:2]) == configs


# ------------------------------------------------------------------------------------------------ local sweeps


def test_sweep_runs_only_what_the_store_lacks(store, fake_runs):
    configs = grid(BASE, seed=range(5))
    for config in configs[:2]:
        store.put(fake_record(config, accuracy=0.25))
    stored = {c.key: store.path_for(c).stat().st_mtime_ns for c in configs[:2]}
    records = sweep(configs, store, progress=False)
    assert [c.seed for c in fake_runs] == [2, 3, 4]
    assert [r.key for r in records] == [c.key for c in configs]  # config order
    assert [r.accuracy for r in records[:2]] == [0.25, 0.25]  # the stored records, not recomputed
    assert {k: store.path_for(k).stat().st_mtime_ns for k in stored} == stored
    assert all(store.has(c) for c in configs)
    fake_runs.clear()
    assert len(sweep(configs, store, progress=False)) == 5 and fake_runs == []


def test_a_repeated_config_runs_once(store, fake_runs):
    config = BASE.replace(seed=3)
    records = sweep([config, BASE, config], store, progress=False)
    assert len(fake_runs) == 2 and [r.key for r in records] == [config.key, BASE.key, config.key]


def test_a_failing_run_stops_the_sweep_and_keeps_finished_records(store, monkeypatch):
    def run_or_fail(config, **kwargs):
        if config.seed == 2:
            raise RuntimeError("diverged")
        return fake_record(config)

    monkeypatch.setattr(sweep_module, "run", run_or_fail)
    configs = grid(BASE, seed=range(4))
    with pytest.raises(RuntimeError, match="diverged"):
        sweep(configs, store, progress=False)
    assert [store.has(c) for c in configs] == [True, True, False, False]


def test_unknown_backend_is_rejected(store):
    with pytest.raises(ValueError, match="local, ray.*'spark'"):
        sweep([BASE], store, backend="spark")


def test_ray_backend_without_ray_says_how_to_install(store, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    with pytest.raises(ImportError, match=r"pip install -e \.\[ray\]"):
        sweep([BASE], store, backend="ray", progress=False)


# ------------------------------------------------------------------------------------------------ kill -9


def _wait_for_a_record(proc: subprocess.Popen, folder: Path, log: Path, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while not list(folder.glob("*.json")):
        if proc.poll() is not None:
            pytest.fail(f"the sweep child exited ({proc.returncode}) before storing a record:\n{log.read_text()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no record within {timeout} s:\n{log.read_text()}")
        time.sleep(0.05)


@pytest.mark.slow
def test_kill_9_mid_sweep_then_restart_recomputes_no_finished_run(tmp_path, mnist_data_root, monkeypatch,
                                                                  single_thread):
    folder = tmp_path / "results"
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    log = tmp_path / "child.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, str(HELPER), str(folder), str(mnist_data_root)], env=env,
                                stdout=out, stderr=subprocess.STDOUT)
        _wait_for_a_record(proc, folder, log)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    finished = {p.stem: (p.stat().st_mtime_ns, p.stat().st_ino) for p in folder.glob("*.json")}
    configs = kill_grid()
    assert 1 <= len(finished) < len(configs)

    ran: list[str] = []
    real_run = sweep_module.run
    monkeypatch.setattr(sweep_module, "run", lambda c, **kw: ran.append(c.key) or real_run(c, **kw))
    records = sweep(configs, ResultStore(folder), progress=False, data_root=mnist_data_root)

    assert sorted(ran) == sorted({c.key for c in configs} - set(finished))
    for key, (mtime, inode) in finished.items():  # finished records were neither recomputed nor rewritten
        stat = (folder / f"{key}.json").stat()
        assert (stat.st_mtime_ns, stat.st_ino) == (mtime, inode)
    assert [r.key for r in records] == [c.key for c in configs]
    assert sorted(p.stem for p in folder.glob("*.json")) == sorted(c.key for c in configs)
    assert not list(folder.glob("*.corrupt*"))


# ------------------------------------------------------------------------------------------------ ray


@pytest.fixture(scope="module")
def ray_cluster():
    """A 2-CPU local Ray instance for this module (not started when the test would skip for lack of MNIST)."""
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install -e .[ray])")
    data_root_or_skip()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_and_local_backends_give_identical_records(ray_cluster, tmp_path, mnist_data_root, single_thread):
    configs = method_grid(tiny_config(), criteria=["none", "snip-it", "random"], sparsities=[0.9], seeds=[0])
    local = sweep(configs, ResultStore(tmp_path / "local"), progress=False, data_root=mnist_data_root)
    remote_store = ResultStore(tmp_path / "ray")
    remote = sweep(configs, remote_store, backend="ray", progress=False, data_root=mnist_data_root)
    assert ray_cluster.is_initialized()  # the sweep did not shut down a cluster it did not start
    assert [r.key for r in remote] == [c.key for c in configs]
    for a, b in zip(local, remote):
        assert a.comparable() == b.comparable()
        assert a.metrics["mask_digest"] == b.metrics["mask_digest"]
    # the driver wrote every record, and they read back equal
    assert [remote_store.get(c).to_dict() for c in configs] == [r.to_dict() for r in remote]
    assert len(list(remote_store.root.glob("*.json"))) == len(configs)


def test_a_sweep_that_may_not_train_names_what_the_store_lacks(tmp_path, monkeypatch):
    from prunekit.experiments.sweep import MissingRunsError

    monkeypatch.setenv("PRUNEKIT_NO_TRAIN", "1")
    config = RunConfig(model="mlp5", dataset="mnist", criterion="snip", sparsity=0.9, epochs=1, device="cpu")
    with pytest.raises(MissingRunsError, match=config.key):
        sweep([config], ResultStore(tmp_path), progress=False)
    assert not any(tmp_path.iterdir())  # nothing was trained or written


class FakeRef:
    """A finished Ray object reference."""

    def __init__(self, result: dict) -> None:
        self.result = result


class FakeRay:
    """A Ray cluster stand-in with ``gpus`` GPUs: records each task's resource options, runs nothing real."""

    def __init__(self, gpus: int, cpus: int = 8) -> None:
        self.gpus, self.cpus, self.options = gpus, cpus, []

    def is_initialized(self) -> bool:
        return True  # a cluster the sweep did not start, so it will not shut it down

    def cluster_resources(self) -> dict:
        return {"CPU": self.cpus, **({"GPU": self.gpus} if self.gpus else {})}

    def nodes(self) -> list:
        return [{"Alive": True, "Resources": {"CPU": self.cpus}}]

    def remote(self, fn):
        fake = self

        class Task:
            def options(self, **resources):
                fake.options.append(resources)
                return self

            def remote(self, config, root, threads):
                return FakeRef(fake_record(RunConfig.from_dict(config)).to_dict())

        return Task()

    def wait(self, refs, num_returns=1):
        return refs[:1], refs[1:]

    def get(self, ref):
        return ref.result


@pytest.mark.parametrize("gpus, device, expected", [
    (2, "auto", {"num_gpus": 1, "num_cpus": 1}),  # a run that may use CUDA gets one GPU of the cluster
    (2, "cuda:0", {"num_gpus": 1, "num_cpus": 1}),
    (2, "cpu", {"num_cpus": 3}),  # a CPU run never holds a GPU
    (0, "auto", {"num_cpus": 3}),  # no GPUs in the cluster: CPUs, as many as the task's torch threads
])
def test_ray_tasks_ask_for_a_gpu_only_when_the_run_can_use_one_and_the_cluster_has_one(
        gpus, device, expected, store, monkeypatch):
    fake = FakeRay(gpus)
    monkeypatch.setattr(sweep_module, "import_ray", lambda: fake)
    configs = [BASE.replace(seed=s, device=device, precision="bf16" if device != "cpu" else "auto") for s in (0, 1)]
    records = sweep(configs, store, backend="ray", progress=False, cpus_per_task=3)
    assert fake.options == [expected, expected]
    assert [r.key for r in records] == [c.key for c in configs] and len(store.records()) == 2
