"""Operations that change a btrfs filesystem, each followed by its inverse (or the reason it has none).

Every function validates its input first (typed errors, nothing run), then runs ``btrfs`` through the core runner
with ``--`` before positional paths, and returns a typed result from which its undo is built.
"""

from __future__ import annotations

import os
import posixpath
import re
from datetime import datetime

from pybofh_core.errors import CommandError, ValidationError
from pybofh_core.operations import Undo, operation, undo
from pybofh_core.runner import run

from . import facts, parsers
from .checks import (
    check_existing_path,
    check_name,
    check_new_path,
    check_path,
    check_subvolume,
    dry_run,
)
from .types import FS_TREE_ID, CreatedSubvolume, DefaultChange, JobStarted, Rotation, SendStream

BTRFS = "btrfs"

ROTATE_DATE_FORMAT = "%Y-%m-%d_%H-%M-%S"
"""Date part of the snapshots ``rotate_snapshots`` makes (local time): sorts by name in time order."""


# --- subvolumes ----------------------------------------------------------------------------------------------------


@operation(irreversible="deletes the subvolume and every file in it", target="path", requires=[BTRFS])
def delete_subvolume(path: str) -> None:
    """Delete the subvolume (or snapshot) at ``path``; it must contain no other subvolume."""
    path = check_subvolume(path, what="subvolume to delete")
    if path == "/":
        raise ValidationError("subvolume to delete: refusing to delete '/'")
    run([BTRFS, "subvolume", "delete", "--", path])


@operation(inverse=lambda res: undo(delete_subvolume, res.path), creates=lambda res: [res.path], requires=[BTRFS])
def create_subvolume(path: str) -> CreatedSubvolume:
    """Create an empty subvolume at ``path`` (its parent directory must exist on a btrfs filesystem)."""
    path = check_new_path(path, what="new subvolume")
    run([BTRFS, "subvolume", "create", "--", path])
    return CreatedSubvolume(path=path)


@operation(inverse=lambda res: undo(delete_subvolume, res.path), creates=lambda res: [res.path], requires=[BTRFS])
def snapshot(src: str, dst: str, readonly: bool = False) -> CreatedSubvolume:
    """Snapshot subvolume ``src`` as the new subvolume ``dst`` (read-only with ``readonly=True``)."""
    src = check_subvolume(src, what="snapshot source")
    dst = check_new_path(dst, what="snapshot")
    if not isinstance(readonly, bool):
        raise ValidationError(f"readonly must be True or False, not {readonly!r}")
    run([BTRFS, "subvolume", "snapshot", *(["-r"] if readonly else []), "--", src, dst])
    return CreatedSubvolume(path=dst, source=src, readonly=readonly)


def _check_subvolume_id(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or (value != FS_TREE_ID and value < 256):
        raise ValidationError(f"subvolume id {value!r} is not valid (5 for the top level, or 256 and above)")
    return value


def _default_back(res: DefaultChange) -> Undo:
    """Set the previous default subvolume again."""
    return undo(set_default_subvolume, res.mountpoint, res.previous_id)


@operation(inverse=_default_back, requires=[BTRFS])
def set_default_subvolume(mountpoint: str, subvolume: int | str) -> DefaultChange:
    """Make ``subvolume`` (an id, or a subvolume path) the default of the filesystem mounted at ``mountpoint``.

    Reads the current default first and returns it, so the undo sets it back.
    """
    mountpoint = check_existing_path(mountpoint, what="mountpoint", kind="dir")
    path: str | None = None
    new_id: int | None
    if isinstance(subvolume, str):
        path = check_subvolume(subvolume, what="new default subvolume")
        new_id = None if dry_run() else facts.subvolume_id(path)
    else:
        new_id = _check_subvolume_id(subvolume)
    previous = facts.get_default_subvolume(mountpoint).id
    if new_id is None and path is not None:  # dry run: the path may not exist yet, so its id is unknown
        run([BTRFS, "subvolume", "set-default", "--", path])
    else:
        run([BTRFS, "subvolume", "set-default", "--", str(new_id), mountpoint])
    return DefaultChange(mountpoint=mountpoint, previous_id=previous, new_id=new_id)


# --- send / receive ------------------------------------------------------------------------------------------------


@operation(irreversible="deletes the file", target="path")
def remove_stream(path: str) -> None:
    """Delete a send-stream file (``rm -f``); used to clean up after ``send``. A missing file is already removed.

    Idempotent on purpose: a job may remove its stream itself and later be rolled back, undoing ``send`` again.
    """
    path = check_path(path, what="stream file")
    if not dry_run() and not os.path.lexists(path):
        return
    run(["rm", "-f", "--", path])


@operation(inverse=lambda res: undo(remove_stream, res.path), creates=lambda res: [res.path], requires=[BTRFS])
def send(snapshot: str, stream_file: str, parent: str | None = None) -> SendStream:
    """Write read-only ``snapshot`` as a send stream to ``stream_file`` (incremental against ``parent``)."""
    snapshot = check_subvolume(snapshot, what="snapshot to send")
    stream_file = check_new_path(stream_file, what="stream file")
    argv = [BTRFS, "send", "-f", stream_file]
    if parent is not None:
        parent = check_subvolume(parent, what="parent snapshot")
        argv += ["-p", parent]
    run([*argv, "--", snapshot])
    return SendStream(path=stream_file, snapshot=snapshot, parent=parent)


def _receive_undo(res: CreatedSubvolume) -> Undo | None:
    """Delete what was received; nothing when a dry run could not know the name."""
    return undo(delete_subvolume, res.path) if res.path else None


@operation(inverse=_receive_undo, creates=lambda res: [res.path] if res.path else [], requires=[BTRFS])
def receive(stream_file: str, dest_dir: str, expect_name: str | None = None) -> CreatedSubvolume:
    """Receive the send stream in ``stream_file`` into ``dest_dir``; returns the received subvolume's path.

    ``expect_name`` (the sent snapshot's name) is checked against what btrfs reports, refused early if a
    subvolume of that name already exists, and used as the result of a dry run.
    """
    stream_file = check_existing_path(stream_file, what="stream file", kind="file")
    dest_dir = check_existing_path(dest_dir, what="receive directory", kind="dir")
    if expect_name is not None:
        check_new_path(posixpath.join(dest_dir, check_name(expect_name)), what="received subvolume")
    res = run([BTRFS, "receive", "-f", stream_file, "--", dest_dir])
    if dry_run():
        name = expect_name or ""
    else:
        name = parsers.parse_receive_name(res.stdout + b"\n" + res.stderr, source="btrfs receive")
        if expect_name is not None and name != expect_name:
            raise ValidationError(f"btrfs receive made {name!r}, expected {expect_name!r}")
    return CreatedSubvolume(path=posixpath.join(dest_dir, name) if name else "", source=stream_file, readonly=True)


@operation(composite=True, requires=[BTRFS])
def send_receive(snapshot: str, dest_dir: str, stream_file: str, parent: str | None = None) -> CreatedSubvolume:
    """Copy read-only ``snapshot`` into ``dest_dir`` (another btrfs) through ``stream_file``, then remove the file.

    With ``parent`` (a snapshot present on both sides) only the difference is sent.
    """
    snapshot = check_subvolume(snapshot, what="snapshot to send")
    dest_dir = check_existing_path(dest_dir, what="receive directory", kind="dir")
    stream_file = check_new_path(stream_file, what="stream file")
    stream = send(snapshot, stream_file, parent=parent)
    received = receive(stream.path, dest_dir, expect_name=posixpath.basename(snapshot))
    remove_stream(stream.path)
    return received


# --- rotation (the original btrfs-snapshot script) -----------------------------------------------------------------


def rotation_pattern(name: str) -> re.Pattern[str]:
    """Names made by :func:`rotate_snapshots` for ``name``: ``YYYY-MM-DD_HH-MM-SS-@NAME``."""
    return re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}_[0-9]{2}-[0-9]{2}-[0-9]{2}-@" + re.escape(name) + "$")


def list_rotation_snapshots(target_dir: str, name: str) -> list[str]:
    """Names of subvolumes directly in ``target_dir`` that match the rotation pattern of ``name``, oldest first.

    One ``find -inum 256`` lists the subvolume roots in the directory; other names are never considered.
    """
    target_dir = check_existing_path(target_dir, what="snapshot directory", kind="dir")
    name = check_name(name)
    res = run(["find", target_dir, "-mindepth", "1", "-maxdepth", "1", "-inum", "256", "-printf", "%f\\0"],
              readonly=True)
    pattern = rotation_pattern(name)
    found = [n for n in res.stdout.decode("utf-8", "surrogateescape").split("\0") if n]
    return sorted(n for n in found if pattern.match(n))


@operation(composite=True, requires=[BTRFS])
def rotate_snapshots(src: str, target_dir: str, name: str, keep: int, now: str | None = None) -> Rotation:
    """Snapshot ``src`` read-only as ``target_dir/<date>-@NAME`` and delete all but the newest ``keep`` of them.

    ``<date>`` is local time in :data:`ROTATE_DATE_FORMAT` (``2024-09-03_13-00-02``), so names sort in time
    order; ``now`` (an ISO date-time) replaces the clock. Only names of exactly that pattern are deleted, oldest
    first, after the new snapshot exists. Inside ``Atomic()`` the deletions need ``allow_irreversible=True``.
    """
    src = check_subvolume(src, what="snapshot source")
    target_dir = check_existing_path(target_dir, what="snapshot directory", kind="dir")
    name = check_name(name)
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ValidationError(f"keep must be a whole number of snapshots >= 1, not {keep!r}")
    try:
        when = datetime.fromisoformat(now) if now is not None else datetime.now()
    except (TypeError, ValueError):
        raise ValidationError(f"now: {now!r} is not an ISO date-time") from None
    new_name = f"{when.strftime(ROTATE_DATE_FORMAT)}-@{name}"
    dst = check_new_path(posixpath.join(target_dir, new_name), what="snapshot")
    snapshot(src, dst, readonly=True)
    names = list_rotation_snapshots(target_dir, name)
    if new_name not in names:  # a dry run did not really create it
        names = sorted([*names, new_name])
    doomed = [n for n in names[: max(0, len(names) - keep)] if n != new_name]
    for old in doomed:
        delete_subvolume(posixpath.join(target_dir, old))
    kept = [n for n in names if n not in doomed]
    return Rotation(created=dst, kept=tuple(kept), deleted=tuple(doomed))


# --- balance and scrub ---------------------------------------------------------------------------------------------


def _tolerant_cancel(argv: list[str], not_running: tuple[str, ...]) -> bool:
    """Run a cancel command; True if it cancelled, False if nothing was running; CommandError otherwise."""
    res = run(argv, check=False)
    if res.returncode == 0:
        return True
    if any(s in res.err for s in not_running):
        return False
    raise CommandError(res.argv, res.returncode, res.stdout, res.stderr)


@operation(inverse=lambda _res: None)
def cancel_balance(path: str) -> bool:
    """Cancel the balance running on ``path`` (True) or do nothing if none runs (False); nothing to undo."""
    path = check_existing_path(path, what="btrfs mountpoint", kind="dir")
    return _tolerant_cancel([BTRFS, "balance", "cancel", "--", path], ("Not in progress", "not in progress"))


def _usage_filter(value: int | None, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ValidationError(f"{what}: {value!r} is not a percentage 0-100")
    return value


@operation(inverse=lambda res: undo(cancel_balance, res.path), requires=[BTRFS])
def start_balance(path: str, data_usage: int | None = None, metadata_usage: int | None = None) -> JobStarted:
    """Start a balance of the filesystem at ``path`` in the background (undo: cancel it if still running).

    ``data_usage``/``metadata_usage`` (0-100) restrict it to chunks at most that full; neither = full balance.
    Content is unchanged by a balance; follow it with :func:`pybofh_btrfs.facts.balance_status`.
    """
    path = check_existing_path(path, what="btrfs mountpoint", kind="dir")
    d = _usage_filter(data_usage, "data_usage")
    m = _usage_filter(metadata_usage, "metadata_usage")
    filters = ([f"-dusage={d}"] if d is not None else []) + ([f"-musage={m}"] if m is not None else [])
    res = run([BTRFS, "balance", "start", "--bg", *(filters or ["--full-balance"]), "--", path])
    return JobStarted(path=path, kind="balance", message=res.text.strip())


@operation(inverse=lambda _res: None)
def cancel_scrub(path: str) -> bool:
    """Cancel the scrub running on ``path`` (True) or do nothing if none runs (False); nothing to undo."""
    path = check_existing_path(path, what="btrfs path")
    return _tolerant_cancel([BTRFS, "scrub", "cancel", "--", path], ("not running",))


@operation(inverse=lambda res: undo(cancel_scrub, res.path), requires=[BTRFS])
def start_scrub(path: str, readonly: bool = False) -> JobStarted:
    """Start a scrub of the filesystem at ``path`` in the background (``readonly``: report, do not repair).

    Undo: cancel it if still running. Follow it with :func:`pybofh_btrfs.facts.scrub_status`.
    """
    path = check_existing_path(path, what="btrfs path")
    res = run([BTRFS, "scrub", "start", *(["-r"] if readonly else []), "--", path])
    return JobStarted(path=path, kind="scrub", message=res.text.strip())
