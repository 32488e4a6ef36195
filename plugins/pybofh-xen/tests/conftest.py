"""Fixtures of the pybofh-xen tests: this project's recordings of the real ``xl`` (``recordings/``, see its README).

``recordings/xl/`` holds xl 4.17 on a host without a hypervisor, ``recordings/xl-nested/`` xl 4.17.7 in a nested
Xen (``tiny`` started, listed, destroyed; two domUs' ``xl list -l``). Outputs of running hypervisors come from the
shared corpus (the root ``corpus`` fixture, read in place); the fake runner is the core's ``fake_runner`` fixture.
``xen_dom0``/``nested_xen`` are the nested Xen's fixtures (``tests/xen_vm/pytest_xen.py``) for the ``needs_xen``
tests, which run the real xl.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pybofh_core.testing import Recording, Recordings
from tests.xen_vm.pytest_xen import nested_xen, xen_dom0  # noqa: F401 - the nested Xen's fixtures (needs_xen)

RECORDINGS = Path(__file__).resolve().parent / "recordings"
NESTED_VERSION = "4.17.7"


class XlRecordings:
    """Read the recorded outputs (``pybofh_core.testing`` format): ``out("list-tiny")`` is the stdout of
    ``xl-nested/list-tiny-4.17.7``."""

    def __init__(self, tool: str = "xl-nested", version: str = NESTED_VERSION) -> None:
        self.recordings = Recordings(RECORDINGS)
        self.tool = tool
        self.version = version

    def get(self, name: str) -> Recording:
        """One recording of this directory and version."""
        return self.recordings.get(self.tool, name, self.version)

    def out(self, name: str) -> bytes:
        """Recorded stdout of one command."""
        return self.get(name).stdout

    def err(self, name: str) -> bytes:
        """Recorded stderr of one command (empty when it printed none)."""
        return self.get(name).stderr

    def no_hypervisor(self) -> list[Recording]:
        """The ``xl list`` recordings of a host not booted under Xen (wrapper and real binary)."""
        return [r for r in self.recordings.all("xl") if r.case.startswith("list-no-hypervisor-")]


@pytest.fixture(scope="session")
def xl_recordings() -> XlRecordings:
    """The nested-Xen recordings of xl 4.17.7."""
    return XlRecordings()
