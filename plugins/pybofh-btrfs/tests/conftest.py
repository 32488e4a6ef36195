"""Fixtures of the pybofh-btrfs tests: the recordings made by ``recordings/record.py`` from the real btrfs-progs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

RECORDINGS = Path(__file__).resolve().parent / "recordings" / "btrfs"


class Recordings:
    """Read one btrfs-progs version's recordings: stdout, stderr and exit code of each case."""

    def __init__(self, version: str = "6.2") -> None:
        self.version = version
        self.manifest = json.loads((RECORDINGS / f"MANIFEST-{version}.json").read_text())

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
