"""Fixtures of the DRBD plugin's tests: recordings, a fake runner that knows the configured resources."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from pybofh_core.runner import FakeRunner

REC = Path(__file__).resolve().parent / "recordings"


def recording(kind: str, name: str) -> bytes:
    """The bytes of ``recordings/<kind>/<name>``."""
    return (REC / kind / name).read_bytes()


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


@pytest.fixture(scope="session")
def drbd_vm_pair(pytestconfig: pytest.Config) -> tuple[Any, Any]:
    """The VM test bed's two networked guests (tests/vm), booted once per session.

    The root conftest does not load the test bed's pytest plugin (yet), so it is registered here on first use;
    if another import already registered it, that instance (and its guests) is reused.
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        from tests.vm import pytest_vm
    except ImportError as exc:
        pytest.skip(f"the VM test bed (tests/vm) cannot be imported: {exc}")
    pytest_vm._skip_if_unavailable()
    if pytestconfig.pluginmanager.get_plugin(VM_PLUGIN) is None:
        pytest_vm.pytest_configure(pytestconfig)
    testbed = pytestconfig.pluginmanager.get_plugin(VM_PLUGIN)
    try:
        pair = testbed.session_pair()
    except Exception as exc:  # GuestError, BuildError, OSError of whichever module instance registered it
        pytest.fail(f"VM test bed unavailable: {exc} (set PYBOFH_VM=skip to skip)", pytrace=False)
    return pair.a, pair.b
