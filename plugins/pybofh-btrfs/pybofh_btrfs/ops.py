"""Operations that change a btrfs filesystem, each followed by its inverse (or the reason it has none).

Every function validates its input first (typed errors, nothing run), then runs ``btrfs`` through the core runner
with ``--`` before positional paths, and returns a typed result from which its undo is built.

Each undo names its object by identity: a subvolume by its UUID (read back with ``btrfs subvolume show`` after it
was made), a filesystem's default subvolume, balance or scrub by the filesystem's UUID, a send stream by the
device, inode and birth time of its file (a ``send`` that fails removes what it wrote itself, inside a block or
not). Before an undo runs, the object is looked at: gone counts as already
undone, another object where it was is left alone. Deleting a subvolume is refused while it holds any file, is the
filesystem's default or is mounted, unless ``force``; removing a file that is not a send stream needs ``force``.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pybofh_core.errors import CommandError, DataAtRiskError, ValidationError
from pybofh_core.identity import ACT, Verdict, already, other
from pybofh_core.model import GONE, Placeholder
from pybofh_core.operations import Undo, operation, undo, undo_ahead
from pybofh_core.parsing import decode_names
from pybofh_core.runner import get_runner, run
from pybofh_core.safety import FORCE_HINT
from pybofh_core.validate import PathArg

from . import checks, effects, facts, parsers, planned
from .checks import (
    check_existing_path,
    check_name,
    check_new_path,
    check_path,
    check_subvolume,
    dry_run,
)
from .errors import SubvolumeNotFoundError
from .types import FS_TREE_ID, CreatedSubvolume, DefaultChange, JobStarted, Rotation, SendStream, StreamSent

BTRFS = "btrfs"

ROTATE_DATE_FORMAT = "%Y-%m-%d_%H-%M-%S"
"""Date part of the snapshots ``rotate_snapshots`` makes (local time): sorts by name in time order."""


# --- subvolumes ----------------------------------------------------------------------------------------------------


def _deletable(value: Any) -> str:
    """The checked path of a subvolume to delete (an existing subvolume root, never ``/``)."""
    path = check_subvolume(value, what="subvolume to delete")
    if path == "/":
        raise ValidationError("subvolume to delete: refusing to delete '/'")
    return path


def _check_delete(args: Mapping[str, Any]) -> None:
    """Deleting a subvolume deletes every file in it: refused while it holds anything, is its filesystem's default
    subvolume, or is mounted somewhere (the kernel lets a mounted subvolume go; its mount then shows nothing)."""
    path = _deletable(args["path"])
    entry = facts.first_entry(path)
    if entry is not None:
        raise DataAtRiskError(f"subvolume {path} is not empty (it holds {entry}); deleting it deletes every file in "
                              f"it — {FORCE_HINT}")
    details = facts.show_subvolume(path)
    default = facts.default_subvolume(path)
    if default.id == details.id:
        raise DataAtRiskError(f"subvolume {path} (id {details.id}) is the default subvolume of its filesystem (mounted "
                              f"when no subvol= is given); make another one the default first, or {FORCE_HINT}")
    where = [] if planned.subvolume_at(path) else _mounted_elsewhere(path, details.path)
    if where:
        raise DataAtRiskError(f"subvolume {path} is mounted on {', '.join(where)}; deleting it empties that mount — "
                              f"unmount it first, or {FORCE_HINT}")


def _mounted_elsewhere(path: str, relative: str) -> list[str]:
    """Where the subvolume at ``path`` (``relative`` to its filesystem's top level) is mounted by itself."""
    mounts = facts.btrfs_mounts()
    real = get_runner().realpath(path)
    holders = [m for m in mounts if real == m.target or real.startswith(m.target.rstrip("/") + "/")]
    if not holders:
        return []
    fs = max(holders, key=lambda m: len(m.target)).majmin  # the filesystem the path is on
    return [m.target for m in mounts if m.majmin == fs and (m.fsroot or "/") == "/" + relative.strip("/")]


def _identify_subvolume(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """A subvolume is the step's if the one at the path has the UUID the step read back when it made it."""
    path = check_path(args["path"], what="subvolume")
    want = identity.get("uuid")
    try:
        if not checks.is_subvolume_root(path, what="subvolume"):
            return other(f"{path} is now an ordinary directory, not subvolume {want} which the step made")
    except SubvolumeNotFoundError:
        return already(f"subvolume {path} is already gone")
    now = facts.show_subvolume(path).uuid
    if now != want:
        return other(f"{path} is now subvolume {now}, not subvolume {want} which the step made")
    return ACT


@operation(irreversible="deletes the subvolume and every file in it", target="path", check=_check_delete,
           identify=_identify_subvolume, effects=effects.subvolume_deleted, requires=[BTRFS, "find", "findmnt"])
def delete_subvolume(path: PathArg, force: bool = False) -> None:
    """Delete the subvolume (or snapshot) at ``path``; it must contain no other subvolume.

    Refused, unless ``force``, while it holds any file or directory, is its filesystem's default subvolume, or is
    mounted somewhere by itself (``subvol=``). As the undo of a create, snapshot or receive it deletes only the
    subvolume with the UUID its step made.
    """
    path = _deletable(path)
    run([BTRFS, "subvolume", "delete", "--", path])


def _read_back(path: str) -> str | None:
    """The UUID of the subvolume just made at ``path`` (a dry run made nothing: its placeholder)."""
    return planned.uuid_placeholder(path) if dry_run() else facts.show_subvolume(path).uuid


def _delete_undo(res: CreatedSubvolume) -> Undo | None:
    """Delete the subvolume a step made, and only that one (its UUID); a dry run's knows no UUID (a placeholder)."""
    if not res.path:
        return None
    u = undo(delete_subvolume, res.path)  # identity replaces the data check while the rollback is clean
    return u.expecting(uuid=res.uuid) if res.uuid and not isinstance(res.uuid, Placeholder) else u


@operation(inverse=_delete_undo, creates=lambda res: [res.path], effects=effects.subvolume_created,
           requires=[BTRFS])
def create_subvolume(path: PathArg) -> CreatedSubvolume:
    """Create an empty subvolume at ``path`` (its parent directory must exist on a btrfs filesystem).

    Returns its path and UUID (read back with ``btrfs subvolume show``); the undo deletes that subvolume only.
    """
    path = check_new_path(path, what="new subvolume")
    run([BTRFS, "subvolume", "create", "--", path])
    return CreatedSubvolume(path=path, uuid=_read_back(path))


@operation(inverse=_delete_undo, creates=lambda res: [res.path], effects=effects.snapshot_taken, requires=[BTRFS])
def snapshot(src: PathArg, dst: PathArg, readonly: bool = False) -> CreatedSubvolume:
    """Snapshot subvolume ``src`` as the new subvolume ``dst`` (read-only with ``readonly=True``).

    Returns the snapshot's path and UUID; the undo deletes that snapshot only.
    """
    src = check_subvolume(src, what="snapshot source")
    dst = check_new_path(dst, what="snapshot")
    if not isinstance(readonly, bool):
        raise ValidationError(f"readonly must be True or False, not {readonly!r}")
    run([BTRFS, "subvolume", "snapshot", *(["-r"] if readonly else []), "--", src, dst])
    return CreatedSubvolume(path=dst, source=src, readonly=readonly, uuid=_read_back(dst))


def _check_subvolume_id(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or (value != FS_TREE_ID and value < 256):
        raise ValidationError(f"subvolume id {value!r} is not valid (5 for the top level, or 256 and above)")
    return value


def _default_undo(mountpoint: str, previous: int | Placeholder, new_id: int | Placeholder) -> Undo:
    """Set the previous default subvolume again, on the same filesystem (its UUID), if the default is still the
    one the step set."""
    u = undo(set_default_subvolume, mountpoint, previous)
    if dry_run():
        return u
    return u.expecting(fs_uuid=facts.filesystem_at(mountpoint).uuid, default=new_id)


def _default_back(res: DefaultChange) -> Undo | None:
    """The undo of a default change (none when the default did not change)."""
    if res.previous_id == res.new_id:
        return None
    return _default_undo(res.mountpoint, res.previous_id, res.new_id)


def _identify_default(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """Setting the default back acts on the filesystem whose UUID the step recorded, while its default is still the
    one the step set; a default already back counts as undone."""
    mountpoint = check_path(args["mountpoint"], what="mountpoint")
    back = args["subvolume"]
    fs = facts.filesystem_at(mountpoint)
    want = identity.get("fs_uuid")
    if fs.uuid is None or fs.uuid != want:
        return other(f"{mountpoint} now holds {fs.describe()}, not btrfs {want} whose default the step changed")
    now = facts.default_subvolume(mountpoint).id
    if now == back:
        return already(f"the default subvolume of {mountpoint} is {now} again")
    if identity.get("default") is not None and now != identity["default"]:
        return other(f"the default subvolume of {mountpoint} is now {now}, changed since; not {identity['default']} "
                     "which the step set")
    return ACT


@operation(inverse=_default_back, identify=_identify_default, effects=effects.default_set,
           requires=[BTRFS, "findmnt"])
def set_default_subvolume(mountpoint: PathArg, subvolume: int | str) -> DefaultChange:
    """Make ``subvolume`` (an id, or a subvolume path) the default of the filesystem mounted at ``mountpoint``.

    Reads the current default first and returns it, so the undo sets it back; inside an atomic block that undo is
    journalled before the default changes, with the filesystem's UUID. In a dry run the id of a subvolume only a
    planned step made is its placeholder (``<id of subvolume PATH>``), accepted here as an id.
    """
    mountpoint = check_existing_path(mountpoint, what="mountpoint", kind="dir")
    new_id: int | Placeholder
    if isinstance(subvolume, Placeholder):  # a planned undo's: the id a planned step's subvolume gets
        if not dry_run():
            raise ValidationError(f"subvolume {subvolume!r} is a dry run's placeholder, not a subvolume id or path")
        new_id = subvolume
    elif isinstance(subvolume, str):
        new_id = facts.subvolume_id(check_subvolume(subvolume, what="new default subvolume"))
    else:
        new_id = _check_subvolume_id(subvolume)
    previous = facts.get_default_subvolume(mountpoint).id
    if previous != new_id:
        undo_ahead(lambda: _default_undo(mountpoint, previous, new_id))
    run([BTRFS, "subvolume", "set-default", "--", str(new_id), mountpoint])
    return DefaultChange(mountpoint=mountpoint, previous_id=previous, new_id=new_id)


# --- send / receive ------------------------------------------------------------------------------------------------


def _check_stream(args: Mapping[str, Any]) -> None:
    """Only a btrfs send stream is removed without ``force``: ``rm -f`` would delete any file named here."""
    path = check_path(args["path"], what="stream file")
    if planned.lookup(path).obj is not None or get_runner().path_kind(path) is None:
        return  # already gone, or (a dry run) a stream a planned send writes: nothing to lose
    if not facts.is_send_stream(path, partial=True):
        raise DataAtRiskError(f"{path} is not a btrfs send stream (it does not start with 'btrfs-stream'); "
                              f"removing it would delete that file — {FORCE_HINT}")


def _identify_stream(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """The stream file is the step's if it is the same file (device, inode, birth time); for a ``send`` that was cut
    short (an undo journalled before the file existed) any send stream at the path is the step's partial one, and
    so is an empty file (``btrfs send -f`` creates it before it checks the snapshot)."""
    path = check_path(args["path"], what="stream file")
    now = facts.file_identity(path)
    if now is None:
        return already(f"stream file {path} is already gone")
    if "file" in identity:
        if now != identity["file"]:
            return other(f"{path} is now file {now} (device:inode:birth), not {identity['file']} which the step "
                         "wrote")
        return ACT
    if not facts.is_send_stream(path, partial=True):
        return other(f"{path} is now a file that is not a send stream (file {now}); the step's stream is gone")
    return ACT


@operation(irreversible="deletes the file", target="path", check=_check_stream, identify=_identify_stream,
           effects=effects.stream_removed, requires=["rm", "head", "stat"])
def remove_stream(path: PathArg, force: bool = False) -> None:
    """Delete a send-stream file (``rm -f``); used to clean up after ``send``. A missing file is already removed.

    Idempotent on purpose: a job may remove its stream itself and later be rolled back, undoing ``send`` again.
    A file that does not start like a send stream is refused unless ``force``.
    """
    path = check_path(path, what="stream file")
    if checks.path_kind(path) is None:  # (in a dry run: as the planned steps leave it)
        return
    run(["rm", "-f", "--", path])


def _stream_undo(res: SendStream) -> Undo:
    """Remove the stream file the step wrote (that very file: device, inode and birth time)."""
    u = undo(remove_stream, res.path)
    if dry_run():
        return u
    ident = facts.file_identity(res.path)
    return u.expecting(file=ident) if ident else u.expecting(kind="btrfs-stream")


def _drop_partial(path: str, exc: BaseException) -> None:
    """Remove what a failed ``btrfs send -f`` left at ``path`` (a path that was new: the file is its own), also
    outside an atomic block, where no undo runs. A file that is not (the start of) a send stream is left alone; a
    failure here is noted on the send's error, never raised over it."""
    try:
        if get_runner().path_kind(path) is None or not facts.is_send_stream(path, partial=True):
            return
        run(["rm", "-f", "--", path])
    except Exception as err:  # noqa: BLE001 - the send's own error is the one to report
        exc.add_note(f"pybofh: the partial stream {path} could not be removed: {err}")
        return
    exc.add_note(f"pybofh: removed the partial stream {path}")


@operation(inverse=_stream_undo, creates=lambda res: [res.path], effects=effects.stream_written,
           requires=[BTRFS, "stat"])
def send(snapshot: PathArg, stream_file: PathArg, parent: PathArg | None = None) -> SendStream:
    """Write read-only ``snapshot`` as a send stream to ``stream_file`` (incremental against ``parent``).

    ``stream_file`` must not exist yet (refused before ``btrfs send`` runs). When ``btrfs send`` fails (a snapshot
    that is not read-only, a full disk) the partial stream is removed before the error is raised, inside an atomic
    block or not. Inside a block the stream's removal is also journalled before ``btrfs send`` starts, so a send cut
    short by a crash leaves no partial stream behind after ``bofh journal rollback``. To write the stream to an open
    file or a pipe (stdout), see ``send_to``.
    """
    snapshot = check_subvolume(snapshot, what="snapshot to send")
    stream_file = check_new_path(stream_file, what="stream file")
    argv = [BTRFS, "send", "-f", stream_file]
    if parent is not None:
        parent = check_subvolume(parent, what="parent snapshot")
        argv += ["-p", parent]
    undo_ahead(lambda: undo(remove_stream, stream_file).expecting(kind="btrfs-stream"))
    try:
        run([*argv, "--", snapshot])
    except BaseException as exc:
        _drop_partial(stream_file, exc)
        raise
    return SendStream(path=stream_file, snapshot=snapshot, parent=parent)


def _out_fd(out: Any) -> int:
    """The file descriptor of ``out`` (an int, or an open binary file with ``fileno()``, flushed first so what was
    written to it before comes before the stream), open for writing and not a terminal."""
    fd: Any = out
    if not isinstance(out, int):
        fileno = getattr(out, "fileno", None)
        if fileno is None:
            raise ValidationError(f"send_to: out must be a file descriptor or an open file or pipe, not {out!r}")
        try:
            if callable(getattr(out, "flush", None)):
                out.flush()
            fd = fileno()
        except (OSError, ValueError):  # io.UnsupportedOperation (BytesIO), a closed file
            raise ValidationError(f"send_to: {out!r} has no open file descriptor (a stream is not held in memory: "
                                  "give a file or a pipe)") from None
    if isinstance(fd, bool) or not isinstance(fd, int) or fd < 0:
        raise ValidationError(f"send_to: out must be a file descriptor or an open file or pipe, not {out!r}")
    try:
        terminal = os.isatty(fd)
    except OSError:
        terminal = False  # not open: the runner says so
    if terminal:
        raise ValidationError("send_to: refusing to write a binary send stream to a terminal; redirect it to a file "
                              "or a pipe")
    return fd


@operation(no_undo="the stream goes to a file or pipe the caller opened and owns (stdout): nothing of it is left "
                   "here to remove", requires=[BTRFS])
def send_to(snapshot: PathArg, out: Any, parent: PathArg | None = None) -> StreamSent:
    """Write read-only ``snapshot`` as a send stream to ``out``: an open file descriptor, or a binary file or pipe
    with ``fileno()`` (``sys.stdout.buffer`` for stdout; a terminal is refused), incremental against ``parent``.

    ``btrfs send`` writes to it directly through the runner (no shell, nothing held in memory). Nothing is undone:
    what reached ``out`` is its reader's (a ``btrfs receive`` that gets a stream cut short fails on its side). Only
    transports that can give a command a descriptor of this process accept it (the local runner; ssh refuses).
    Like every mutating command, signals wait until ``btrfs send`` ends.
    """
    snapshot = check_subvolume(snapshot, what="snapshot to send")
    argv = [BTRFS, "send"]
    if parent is not None:
        parent = check_subvolume(parent, what="parent snapshot")
        argv += ["-p", parent]
    fd = _out_fd(out)
    run([*argv, "--", snapshot], stdout=fd)
    name = getattr(out, "name", None)  # a file opened by name; a pipe's file object has its descriptor as name
    to = "stdout" if fd == 1 else name if isinstance(name, str) else f"fd {fd}"
    return StreamSent(snapshot=snapshot, parent=parent, to=to)


@operation(inverse=_delete_undo, creates=lambda res: [res.path] if res.path else [], effects=effects.received,
           requires=[BTRFS])
def receive(stream_file: PathArg, dest_dir: PathArg, expect_name: str | None = None) -> CreatedSubvolume:
    """Receive the send stream in ``stream_file`` into ``dest_dir``; returns the received subvolume's path and UUID.

    ``expect_name`` (the sent snapshot's name) is checked against what btrfs reports, refused early if a
    subvolume of that name already exists, and used as the result of a dry run (without it, a dry run takes the
    name of the snapshot a planned ``send`` wrote to the stream). The undo deletes the received subvolume (by its
    UUID).
    """
    stream_file = check_existing_path(stream_file, what="stream file", kind="file")
    dest_dir = check_existing_path(dest_dir, what="receive directory", kind="dir")
    if expect_name is None and dry_run():
        sent = planned.lookup(stream_file).obj
        expect_name = posixpath.basename(sent.snapshot) if isinstance(sent, SendStream) else None
    if expect_name is not None:
        check_new_path(posixpath.join(dest_dir, check_name(expect_name)), what="received subvolume")
    res = run([BTRFS, "receive", "-f", stream_file, "--", dest_dir])
    if dry_run():
        name = expect_name or ""
    else:
        name = parsers.parse_receive_name(res.stdout + b"\n" + res.stderr, source="btrfs receive")
        if expect_name is not None and name != expect_name:
            raise ValidationError(f"btrfs receive made {name!r}, expected {expect_name!r}")
    path = posixpath.join(dest_dir, name) if name else ""
    return CreatedSubvolume(path=path, source=stream_file, readonly=True, uuid=_read_back(path) if path else None)


@operation(composite=True, requires=[BTRFS])
def send_receive(
    snapshot: PathArg, dest_dir: PathArg, stream_file: PathArg, parent: PathArg | None = None
) -> CreatedSubvolume:
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
    """Names made by ``rotate_snapshots()`` for ``name``: ``YYYY-MM-DD_HH-MM-SS-@NAME``."""
    return re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}_[0-9]{2}-[0-9]{2}-[0-9]{2}-@" + re.escape(name) + "$")


def list_rotation_snapshots(target_dir: str, name: str) -> list[str]:
    """Names of subvolumes directly in ``target_dir`` that match the rotation pattern of ``name``, oldest first.

    One ``find -inum 256`` lists the subvolume roots in the directory; other names are never considered. In a dry
    run, as the planned steps leave the directory: with the snapshots they made, without those they deleted.
    """
    target_dir = check_existing_path(target_dir, what="snapshot directory", kind="dir")
    name = check_name(name)
    where = planned.lookup(target_dir)
    found: list[str] = []
    if where.obj is None and not where.copied:  # (in a copy, the subvolumes of what it copies are empty directories)
        res = run(["find", where.real or target_dir, "-mindepth", "1", "-maxdepth", "1", "-inum", "256", "-printf",
                   "%f\\0"], readonly=True)
        found = [n for n in decode_names(res.stdout).split("\0") if n]
    made = planned.children(target_dir)
    found = [n for n in found if made.get(n) is not GONE] + [n for n, s in made.items() if s is not GONE]
    pattern = rotation_pattern(name)
    return sorted(n for n in dict.fromkeys(found) if pattern.match(n))


@operation(composite=True, requires=[BTRFS])
def rotate_snapshots(src: PathArg, target_dir: PathArg, name: str, keep: int, now: str | None = None) -> Rotation:
    """Snapshot ``src`` read-only as ``target_dir/<date>-@NAME`` and delete all but the newest ``keep`` of them.

    ``<date>`` is local time in ``ROTATE_DATE_FORMAT`` (``2024-09-03_13-00-02``), so names sort in time
    order; ``now`` (an ISO date-time) replaces the clock. Only names of exactly that pattern are deleted, oldest
    first, after the new snapshot exists; they are deleted with ``force`` (they hold files: that is what rotating
    them away means), and nothing else ever is. Inside ``Atomic()`` the deletions need ``allow_irreversible=True``.
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
    names = list_rotation_snapshots(target_dir, name)  # (in a dry run: with the snapshot just planned)
    doomed = [n for n in names[: max(0, len(names) - keep)] if n != new_name]
    pattern = rotation_pattern(name)
    for old in doomed:
        if not pattern.match(old):  # never: list_rotation_snapshots returns only these; force is for them alone
            raise ValidationError(f"rotation: {old!r} is not a {name} rotation snapshot")
        # the caller asked to rotate these snapshots away: their files are what a rotation deletes
        delete_subvolume(posixpath.join(target_dir, old), force=True)
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


def _fs_identity(path: str) -> dict[str, Any]:
    """The identity of the filesystem at ``path`` for an undo: its btrfs UUID."""
    return {"fs_uuid": facts.filesystem_at(path).uuid}


def _identify_fs(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """Cancelling a balance or scrub acts on the filesystem whose UUID the step recorded; a path that is gone has
    nothing running on it any more."""
    path = check_path(args["path"], what="btrfs path")
    fs = facts.filesystem_at(path)
    if fs.fstype is None and fs.target is None:
        return already(f"{path} is gone, and with it the job the step started there")
    if fs.uuid != identity.get("fs_uuid"):
        return other(f"{path} now holds {fs.describe()}, not btrfs {identity.get('fs_uuid')} where the step started "
                     "its job")
    return ACT


def _cancel_undo(func: Any, res: JobStarted) -> Undo:
    u = undo(func, res.path)
    return u if dry_run() else u.expecting(**_fs_identity(res.path))


@operation(no_undo="a cancelled balance leaves the data as it was; starting it again would be a new balance",
           identify=_identify_fs, requires=[BTRFS])
def cancel_balance(path: PathArg) -> bool:
    """Cancel the balance running on ``path`` (True) or do nothing if none runs (False); nothing to undo."""
    path = check_existing_path(path, what="btrfs mountpoint", kind="dir")
    return _tolerant_cancel([BTRFS, "balance", "cancel", "--", path], ("Not in progress", "not in progress"))


def _usage_filter(value: int | None, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ValidationError(f"{what}: {value!r} is not a percentage 0-100")
    return value


@operation(inverse=lambda res: _cancel_undo(cancel_balance, res), requires=[BTRFS, "findmnt"])
def start_balance(path: PathArg, data_usage: int | None = None, metadata_usage: int | None = None) -> JobStarted:
    """Start a balance of the filesystem at ``path`` in the background (undo: cancel it if still running, on the
    same filesystem: its UUID).

    ``data_usage``/``metadata_usage`` (0-100) restrict it to chunks at most that full; neither = full balance.
    Content is unchanged by a balance; follow it with ``pybofh_btrfs.facts.balance_status()``.
    """
    path = check_existing_path(path, what="btrfs mountpoint", kind="dir")
    d = _usage_filter(data_usage, "data_usage")
    m = _usage_filter(metadata_usage, "metadata_usage")
    filters = ([f"-dusage={d}"] if d is not None else []) + ([f"-musage={m}"] if m is not None else [])
    res = run([BTRFS, "balance", "start", "--bg", *(filters or ["--full-balance"]), "--", path])
    return JobStarted(path=path, kind="balance", message=res.text.strip())


@operation(no_undo="a cancelled scrub changed nothing it would have repaired; starting it again is a new scrub",
           identify=_identify_fs, requires=[BTRFS])
def cancel_scrub(path: PathArg) -> bool:
    """Cancel the scrub running on ``path`` (True) or do nothing if none runs (False); nothing to undo."""
    path = check_existing_path(path, what="btrfs path")
    return _tolerant_cancel([BTRFS, "scrub", "cancel", "--", path], ("not running",))


@operation(inverse=lambda res: _cancel_undo(cancel_scrub, res), requires=[BTRFS, "findmnt"])
def start_scrub(path: PathArg, readonly: bool = False) -> JobStarted:
    """Start a scrub of the filesystem at ``path`` in the background (``readonly``: report, do not repair).

    Undo: cancel it if still running, on the same filesystem (its UUID). Follow it with
    ``pybofh_btrfs.facts.scrub_status()``.
    """
    path = check_existing_path(path, what="btrfs path")
    res = run([BTRFS, "scrub", "start", *(["-r"] if readonly else []), "--", path])
    return JobStarted(path=path, kind="scrub", message=res.text.strip())
