"""Marker operations: ``create_marker`` ↔ ``remove_marker`` (a directory made with real ``mkdir``/``rmdir``),
plus ``fail`` and ``hang`` for fault injection."""

from __future__ import annotations

from pybofh_core import operation, undo
from pybofh_core.runner import run
from pybofh_core.validate import validate_path


@operation(inverse=lambda path: undo(remove_marker, path), creates=lambda path: [path])
def create_marker(path: str) -> str:
    """Create the marker directory ``path``; fails if it exists, like creating an LV that exists."""
    path = validate_path(path, what="marker path")
    run(["mkdir", "--", path])
    return path


@operation(irreversible="deletes the marker", target="path")
def remove_marker(path: str) -> None:
    """Remove the marker directory ``path``."""
    run(["rmdir", "--", validate_path(path, what="marker path")])


@operation(inverse=lambda _: None)  # never succeeds, so there is never anything to undo
def fail() -> None:
    """Always fail with a CommandError from a real command (``false``)."""
    run(["false"])


@operation(inverse=lambda _: None)  # changes nothing, so there is nothing to undo
def hang(seconds: float = 3600) -> None:
    """Sleep for ``seconds`` through the runner (a step that is in flight when the process is killed)."""
    run(["sleep", str(seconds)], timeout=seconds + 60)
