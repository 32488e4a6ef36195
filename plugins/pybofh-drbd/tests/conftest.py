"""Fixtures of the DRBD plugin's tests: recordings, a fake runner that knows the configured resources."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from pybofh_core.runner import FakeRunner
from pybofh_core.testing import Recordings

RECORDINGS = Recordings(Path(__file__).resolve().parent / "recordings")


recording = RECORDINGS.output  # recording(kind, "<case>-<version>.txt" or ".stderr.txt") -> the recorded bytes


@pytest.fixture
def rec() -> object:
    """``rec(kind, name)`` reads a recording (fixture form, since test modules cannot import this conftest)."""
    return recording


@pytest.fixture
def drbd_runner(fake_runner: FakeRunner) -> FakeRunner:
    """The fake runner, answering ``drbdadm sh-resources`` with a real recording (resources r0, r1, r2)."""
    fake_runner.expect(["drbdadm", "sh-resources"], recording("drbdadm", "sh-resources_multi-9.22.0.txt"))
    return fake_runner


ROOT = Path(__file__).resolve().parents[3]
VM_PLUGIN = "pybofh-vm-testbed"


def _vm_testbed_module() -> Any:
    """The VM test bed's pytest plugin module (tests/vm/pytest_vm.py), or None when it cannot be imported."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        from tests.vm import pytest_vm
    except ImportError:
        return None
    return pytest_vm


def pytest_configure(config: pytest.Config) -> None:
    """Register the VM test bed (needs_dm tests run in its guest) unless the root conftest or -p already did."""
    module = _vm_testbed_module()
    if module is not None and config.pluginmanager.get_plugin(VM_PLUGIN) is None:
        module.pytest_configure(config)


@pytest.fixture(scope="session")
def drbd_vm_pair(pytestconfig: pytest.Config) -> tuple[Any, Any]:
    """The VM test bed's two networked guests (tests/vm), booted once per session.

    The root conftest does not load the test bed's pytest plugin (yet), so it is registered here on first use;
    if another import already registered it, that instance (and its guests) is reused.
    """
    pytest_vm = _vm_testbed_module()
    if pytest_vm is None:
        pytest.skip("the VM test bed (tests/vm/pytest_vm.py) cannot be imported")
    pytest_vm._skip_if_unavailable()
    if pytestconfig.pluginmanager.get_plugin(VM_PLUGIN) is None:
        pytest_vm.pytest_configure(pytestconfig)
    testbed = pytestconfig.pluginmanager.get_plugin(VM_PLUGIN)
    try:
        pair = testbed.session_pair()
    except Exception as exc:  # GuestError, BuildError, OSError of whichever module instance registered it
        pytest.fail(f"VM test bed unavailable: {exc} (set PYBOFH_VM=skip to skip)", pytrace=False)
    return pair.a, pair.b
