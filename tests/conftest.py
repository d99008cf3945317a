"""Shared fixtures and collection hooks: the real-MNIST gate (skip when absent unless data is required), GPU skips.

Helpers that tests import (tiny models, toy data) live in tests/helpers.py, not here."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.helpers import mnist_root


MNIST_FIXTURES = ("mnist_data_root", "mnist_data_root_session", "mnist_root")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that reads real MNIST ``needs_data("mnist")`` (select with ``-m needs_data``); skip the
    ``gpu`` tests on a machine without CUDA."""
    skip = None if torch.cuda.is_available() else pytest.mark.skip(
        reason="needs a CUDA device (make gpu-check runs it on one)")
    for item in items:
        if item.get_closest_marker("needs_data") is None and any(f in MNIST_FIXTURES for f in item.fixturenames):
            item.add_marker(pytest.mark.needs_data("mnist"))
        if skip is not None and item.get_closest_marker("gpu") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def mnist_data_root_session() -> Path:
    """``mnist_data_root`` for session- and module-scoped fixtures."""
    root = mnist_root()
    if root is None:
        pytest.skip("real MNIST not found under $PRUNEKIT_DATA/MNIST/raw")
    return root


@pytest.fixture
def mnist_data_root() -> Path:
    """Path of a data root with real MNIST; skips (or fails when required) without it."""
    root = mnist_root()
    if root is None:
        pytest.skip("real MNIST not found under $PRUNEKIT_DATA/MNIST/raw")
    return root
