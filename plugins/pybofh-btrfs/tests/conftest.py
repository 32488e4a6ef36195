"""Fixtures of the pybofh-btrfs tests: the recordings made by ``recordings/record.py`` from the real btrfs-progs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

RECORDINGS = Path(__file__).resolve().parent / "recordings" / "btrfs"


class Recordings:
    """Read one btrfs-progs version's recordings: stdout, stderr and exit code of each case.

    ``MANIFEST-<version>.json`` lists the cases of ``record.py``, ``MANIFEST-checks-<version>.json`` those of
    ``record_checks.py`` (the data checks' and identities' commands, made under fixed paths: see :meth:`path`).
    """

    def __init__(self, version: str = "6.2") -> None:
        self.version = version
        self.manifest = json.loads((RECORDINGS / f"MANIFEST-{version}.json").read_text())
        self.manifest.update(json.loads((RECORDINGS / f"MANIFEST-checks-{version}.json").read_text()))

    def path(self, case: str, var: str = "$MNT") -> str:
        """The real path ``$MNT``/``$MNT2``/``$BASE`` stood for when ``case`` was recorded (record_checks.py)."""
        return str(self.manifest[case]["paths"][var])

    def argv(self, case: str) -> list[str]:
        """The recorded argv of ``case`` with its paths filled in again (record_checks.py cases)."""
        paths = self.manifest[case].get("paths", {})
        out = []
        for a in self.manifest[case]["argv"]:
            for var in ("$MNT2", "$MNT", "$BASE"):
                if var in paths:
                    a = a.replace(var, paths[var])
            out.append(a)
        return out

    def out(self, case: str) -> bytes:
        """Recorded stdout of one case."""
        return (RECORDINGS / f"{case}-{self.version}.txt").read_bytes()

    def err(self, case: str) -> bytes:
        """Recorded stderr of one case (empty when the tool printed none)."""
        path = RECORDINGS / f"{case}-{self.version}.stderr.txt"
        return path.read_bytes() if path.exists() else b""

    def rc(self, case: str) -> int:
        """Recorded exit code of one case."""
        return int(self.manifest[case]["returncode"])

    def cases(self) -> list[str]:
        """Every recorded case."""
        return sorted(self.manifest)


@pytest.fixture(scope="session")
def rec() -> Recordings:
    """The btrfs-progs 6.2 recordings."""
    return Recordings()
