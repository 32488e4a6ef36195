"""Fixtures of the pybofh-btrfs tests: the recordings made by ``recordings/record.py`` from the real btrfs-progs."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybofh_core.testing import Recording, Recordings

RECORDINGS = Path(__file__).resolve().parent / "recordings" / "btrfs"


class BtrfsRecordings:
    """Read one btrfs-progs version's recordings (``pybofh_core.testing`` format): stdout, stderr and exit code of
    each case.

    The cases of ``record_checks.py`` (the data checks' and identities' commands) were made under fixed paths, kept
    in their side-cars' ``paths`` (``MNT``, ``MNT2``, ``BASE``): see :meth:`path` and :meth:`argv`.
    """

    def __init__(self, version: str = "6.2") -> None:
        self.version = version
        self.recordings = {r.case: r for r in Recordings(RECORDINGS.parent).all("btrfs") if r.version == version}

    def get(self, case: str) -> Recording:
        """The recording of one case."""
        return self.recordings[case]

    def path(self, case: str, var: str = "$MNT") -> str:
        """The real path ``$MNT``/``$MNT2``/``$BASE`` stood for when ``case`` was recorded (record_checks.py)."""
        return self.recordings[case].paths[var.removeprefix("$")]

    def argv(self, case: str) -> list[str]:
        """The recorded argv of ``case`` with its paths filled in again (record_checks.py cases)."""
        return self.recordings[case].filled_argv()

    def out(self, case: str) -> bytes:
        """Recorded stdout of one case."""
        return self.recordings[case].stdout

    def err(self, case: str) -> bytes:
        """Recorded stderr of one case (empty when the tool printed none)."""
        return self.recordings[case].stderr

    def rc(self, case: str) -> int:
        """Recorded exit code of one case."""
        return self.recordings[case].returncode

    def cases(self) -> list[str]:
        """Every recorded case."""
        return sorted(self.recordings)


@pytest.fixture(scope="session")
def rec() -> BtrfsRecordings:
    """The btrfs-progs 6.2 recordings."""
    return BtrfsRecordings()
