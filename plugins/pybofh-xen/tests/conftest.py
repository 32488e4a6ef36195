"""Fixtures of the pybofh-xen tests: this project's recordings of the real ``xl`` (``recordings/``, see its README).

``recordings/xl/`` holds xl 4.17 on a host without a hypervisor, ``recordings/xl-nested/`` xl 4.17.7 in a nested
Xen (``tiny`` started, listed, destroyed). Outputs of running hypervisors come from the shared corpus (the root
``corpus`` fixture, read in place); the fake runner is the core's ``fake_runner`` fixture.
"""

from __future__ import annotations

from pathlib import Path

import pytest

RECORDINGS = Path(__file__).resolve().parent / "recordings"
NESTED = RECORDINGS / "xl-nested"
NESTED_VERSION = "4.17.7"


class XlRecordings:
    """Read the recorded outputs: ``out("list-tiny")`` is ``xl-nested/list-tiny-4.17.7.txt``."""

    def __init__(self, directory: Path = NESTED, version: str = NESTED_VERSION) -> None:
        self.directory = directory
        self.version = version

    def out(self, name: str) -> bytes:
        """Recorded stdout of one command."""
        return (self.directory / f"{name}-{self.version}.txt").read_bytes()

    def err(self, name: str) -> bytes:
        """Recorded stderr of one command (empty when it printed none)."""
        path = self.directory / f"{name}-{self.version}.stderr.txt"
        return path.read_bytes() if path.is_file() else b""

    def no_hypervisor(self) -> list[Path]:
        """The ``xl list`` stderr recordings of a host not booted under Xen (wrapper and real binary)."""
        return sorted((RECORDINGS / "xl").glob("list-no-hypervisor-*.stderr.txt"))


@pytest.fixture(scope="session")
def xl_recordings() -> XlRecordings:
    """The nested-Xen recordings of xl 4.17.7."""
    return XlRecordings()
