"""Activate the VM test bed's pytest plugin for tests/vm even when the root conftest does not load it yet."""

from __future__ import annotations

import pytest

from . import pytest_vm
from .pytest_vm import vm_guest, vm_pair  # noqa: F401 - fixtures for the tests in this folder


def pytest_configure(config: pytest.Config) -> None:
    """Register the plugin object unless another import of pytest_vm already did."""
    pytest_vm.pytest_configure(config)
