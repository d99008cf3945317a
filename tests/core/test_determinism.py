"""Same config, same mask: pruning before training does not depend on the CPU thread count."""

from __future__ import annotations

import os

import pytest
import torch

import prunekit
from prunekit.data import make_batches
from prunekit.core.determinism import single_threaded
from prunekit.experiments.record import mask_digest
from prunekit.models import build_model


def _pruned_digest(model_name: str, criterion: str, threads: int, root) -> str:
    """Digest of the masks ``criterion`` finds at 99 % on a fresh seed-0 network built and pruned on ``threads``."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(0)
        model = build_model(model_name, (1, 28, 28), 10)
        data = make_batches("mnist", train=True, root=root, limit=6000, seed=0)
        prunekit.prune(model, criterion, 0.99, data=data, seed=0)
        return mask_digest(model)
    finally:
        torch.set_num_threads(before)


@pytest.mark.slow
@pytest.mark.parametrize("model_name", ["mlp5", "lenet5"])
@pytest.mark.parametrize("criterion", ["snip", "snip-it"])
def test_masks_are_bit_identical_on_one_and_two_threads(model_name, criterion, mnist_data_root):
    assert _pruned_digest(model_name, criterion, 1, mnist_data_root) == \
        _pruned_digest(model_name, criterion, 2, mnist_data_root)


def test_initial_weights_do_not_depend_on_the_thread_count():
    """Orthogonal init runs LAPACK's QR, which splits its work by thread count; build_model pins it."""
    weights = []
    for threads in (1, 2):
        with single_threaded(threads):
            torch.manual_seed(0)
            weights.append(build_model("mlp5", (1, 28, 28), 10).state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_single_threaded_restores_the_callers_thread_count():
    before = torch.get_num_threads()
    with single_threaded(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def _switches() -> tuple:
    return (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark,
            torch.are_deterministic_algorithms_enabled())


def test_deterministic_algorithms_switches_on_for_the_block_and_restores_the_callers_switches(monkeypatch):
    from prunekit.core.determinism import CUBLAS_WORKSPACE, deterministic_algorithms

    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = _switches()
    with deterministic_algorithms(True):
        assert _switches() == (True, False, True)
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == CUBLAS_WORKSPACE
    assert _switches() == before and "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    with deterministic_algorithms(False):
        assert _switches() == before  # not asked: nothing changes


def test_a_deterministic_run_uses_deterministic_kernels_and_leaves_the_flags_as_they_were(
        monkeypatch, mnist_data_root):
    import importlib

    from tests.sweep_helpers import one_thread, tiny_config

    experiments = importlib.import_module("prunekit.experiments.run")  # the module: prunekit.experiments.run is run()

    inside = []
    real_train = experiments.train
    monkeypatch.setattr(experiments, "train", lambda *a, **k: (inside.append(_switches()), real_train(*a, **k))[1])
    before = _switches()
    config = tiny_config(epochs=1, device="cpu", deterministic=True)
    with one_thread():
        record = experiments.run(config, progress=False, data_root=mnist_data_root)
    assert inside == [(True, False, True)]
    assert _switches() == before
    assert record.config.deterministic and record.key == config.key != tiny_config(epochs=1, device="cpu").key
