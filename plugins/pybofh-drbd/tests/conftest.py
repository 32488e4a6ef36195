"""Fixtures of the DRBD plugin's tests: recordings, a fake runner that knows the configured resources."""

from __future__ import annotations

from pathlib import Path

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
