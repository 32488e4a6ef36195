"""Fixtures of pybofh-blockdev's tests: recorded real outputs, and fake device nodes for fake-runner tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

RECORDINGS = Path(__file__).resolve().parent / "recordings"


@dataclass(frozen=True)
class Recording:
    """One recorded command: its stdout bytes, exit status, argv and the devices the recorder made."""

    stdout: bytes
    returncode: int
    argv: list[str]
    devices: dict[str, str]
    name: str

    @property
    def text(self) -> str:
        """Stdout as text."""
        return self.stdout.decode()


def load_recording(tool: str, case: str) -> Recording:
    """The recording ``recordings/<tool>/<case>-<version>.txt`` (exactly one version per case here)."""
    found = sorted((RECORDINGS / tool).glob(f"{case}-[0-9]*.txt"))
    assert len(found) == 1, f"expected one recording {tool}/{case}-*.txt, found {found}"
    meta = json.loads(found[0].with_suffix(".json").read_text())
    return Recording(found[0].read_bytes(), meta["returncode"], meta["argv"], meta["devices"], found[0].name)


@pytest.fixture
def recording() -> Callable[[str, str], Recording]:
    """``recording(tool, case)`` loads a real output recorded by ``tests/record.py``."""
    return load_recording


@pytest.fixture
def devs() -> dict[str, str]:
    """The devices and mountpoints the recordings were made with (all recordings share one recording run)."""
    return load_recording("lsblk", "json-all-columns-loops").devices


@pytest.fixture
def fake_nodes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Pretend paths exist for input checks: ``fake_nodes(block=[...], dirs=[...], files=[...])``.

    Fake-runner tests must not depend on the host's /dev; paths not declared here do not exist.
    """
    kinds: dict[str, str] = {}

    def declare(*, block: Any = (), dirs: Any = (), files: Any = ()) -> None:
        kinds.update({p: "block" for p in block})
        kinds.update({p: "dir" for p in dirs})
        kinds.update({p: "file" for p in files})

    monkeypatch.setattr("pybofh_core.runner.local_path_kind", lambda path: kinds.get(path))
    yield declare
