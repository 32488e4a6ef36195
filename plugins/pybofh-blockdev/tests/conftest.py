"""Fixtures of pybofh-blockdev's tests: recorded real outputs, and fake device nodes for fake-runner tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pybofh_core.testing import Recording, Recordings

RECORDINGS = Recordings(Path(__file__).resolve().parent / "recordings")


@pytest.fixture
def recording() -> Callable[[str, str], Recording]:
    """``recording(tool, case)`` loads a real output recorded by ``tests/record.py`` (one version per case here)."""
    return RECORDINGS.get


@pytest.fixture
def devs() -> dict[str, str]:
    """The devices and mountpoints the recordings were made with (all recordings share one recording run)."""
    return RECORDINGS.get("lsblk", "json-all-columns-loops").paths


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
