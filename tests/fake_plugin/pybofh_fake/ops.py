"""Marker operations: ``create_marker`` ↔ ``remove_marker`` (a directory made with real ``mkdir``/``rmdir``),
plus ``fail`` and ``hang`` for fault injection.

The marker's identity is its device and inode: an undo removes the very directory its step made, never another
one created later under the same name.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from pybofh_core import operation, undo
from pybofh_core.errors import DataAtRiskError
from pybofh_core.identity import ACT, Verdict, already, other
from pybofh_core.operations import undo_ahead
from pybofh_core.runner import get_runner, run
from pybofh_core.validate import validate_path

TOKEN = ".pybofh-"  # each marker holds an empty directory .pybofh-<random hex>: its identity


def _marker_identity(path: str) -> dict[str, str]:
    """The token create_marker left in the marker (an inode number and birth time are reused by the next mkdir
    within the same clock tick, so they are no identity)."""
    res = run(["find", path, "-mindepth", "1", "-maxdepth", "1", "-name", f"{TOKEN}*", "-printf", "%f\\n"],
              readonly=True, check=False)
    found = sorted(res.text.split()) if res.returncode == 0 else []
    return {"token": found[0].removeprefix(TOKEN)} if len(found) == 1 else {}


def _identify_marker(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """The marker at ``path`` is ours if it holds the token the step left in it."""
    path = args["path"]
    if get_runner().stat(path) is None:
        return already(f"marker {path} is already gone")
    now = _marker_identity(path).get("token")
    if now != identity.get("token"):
        return other(f"{path} is now marker {now or '(no token)'}, not {identity.get('token')} which the step made")
    return ACT


@operation(inverse=lambda path, undo_pause: undo(remove_marker, path, pause=undo_pause)
           .expecting(**_marker_identity(path)), creates=lambda path: [path], locks=lambda a: [a["path"]])
def create_marker(path: str, undo_pause: float = 0.0) -> str:
    """Create the marker directory ``path``; fails if it exists, like creating an LV that exists.

    ``undo_pause``: its undo sleeps that long first (a slow rollback, for signal tests).
    """
    path = validate_path(path, what="marker path")
    run(["mkdir", "--", path])
    run(["mkdir", "--", f"{path}/{TOKEN}{secrets.token_hex(8)}"])
    return path


def _marker_holds_only_its_token(args: Mapping[str, Any]) -> None:
    path = validate_path(args["path"], what="marker path")
    found = run(["find", path, "-mindepth", "1", "-maxdepth", "1", "!", "-name", f"{TOKEN}*", "-print", "-quit"],
                readonly=True, check=False).text.strip()
    if found:
        raise DataAtRiskError(f"marker {path} holds {found}; pass force=True to remove it with its content")


@operation(irreversible="deletes the marker and what it holds", target="path", identify=_identify_marker,
           check=_marker_holds_only_its_token)
def remove_marker(path: str, pause: float = 0.0, force: bool = False) -> None:
    """Remove the marker directory ``path`` with what it holds (after sleeping ``pause`` seconds), like removing
    an LV with its filesystem; refused while it holds more than its token, unless ``force``."""
    path = validate_path(path, what="marker path")
    if pause:
        run(["sleep", str(pause)])
    run(["rm", "-r", "--", path])


def _mode(path: str) -> str:
    return run(["stat", "-c", "%a", "--", path], readonly=True).text.strip()


@operation(inverse=lambda r: undo(chmod_marker, r[0], r[1]).expecting(**_marker_identity(r[0])),
           identify=_identify_marker, locks=lambda a: [a["path"]])
def chmod_marker(path: str, mode: str, pause: float = 0.0) -> tuple[str, str]:
    """Set the marker's permission bits; its undo (the old mode) is journalled before ``chmod`` runs.

    ``pause``: sleep that long after ``chmod`` (a step in flight after its effect, for kill -9 tests).
    """
    path = validate_path(path, what="marker path")
    old = _mode(path)
    undo_ahead(undo(chmod_marker, path, old).expecting(**_marker_identity(path)))
    run(["chmod", mode, "--", path])
    if pause:
        run(["sleep", str(pause)], readonly=True)
    return path, old


def _marker_is_empty(args: Mapping[str, Any]) -> None:
    path = validate_path(args["path"], what="marker path")
    found = run(["find", path, "-mindepth", "1", "-maxdepth", "1", "-print", "-quit"], readonly=True).text.strip()
    if found:
        raise DataAtRiskError(f"marker {path} is not empty (it holds {found}); pass force=True to empty it")


@operation(irreversible="deletes what the marker holds", target="path", check=_marker_is_empty)
def empty_marker(path: str, force: bool = False) -> None:
    """Delete everything inside the marker directory (refused when it holds anything, unless ``force``)."""
    path = validate_path(path, what="marker path")
    run(["find", path, "-mindepth", "1", "-delete"])


@operation(no_undo="it never succeeds")
def fail() -> None:
    """Always fail with a CommandError from a real command (``false``)."""
    run(["false"])


@operation(no_undo="it changes nothing")
def hang(seconds: float = 3600) -> None:
    """Sleep for ``seconds`` through the runner (a step that is in flight when the process is killed)."""
    run(["sleep", str(seconds)], timeout=seconds + 60)
