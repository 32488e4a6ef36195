"""Readers: each runs one read-only btrfs command through the core runner and hands its output to a pure parser.

In a dry run the subvolume readers (``list_subvolumes``, ``get_subvolume``/``show_subvolume``, ``subvolume_id``,
``get_default_subvolume``/``default_subvolume``, ``is_readonly``, ``first_entry``) answer with the planning model
laid over the system (``planned``; ``effects`` writes it): a subvolume a planned step made is there with placeholders
for its id and UUID, one a planned step deleted is not, and a default a planned step set is the default.
"""

from __future__ import annotations

import posixpath
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pybofh_core.errors import CommandError, ParseError
from pybofh_core.model import GONE, Placeholder
from pybofh_core.parsing import decode_names, decode_text
from pybofh_core.runner import Result, get_runner, run

from . import parsers, planned
from .checks import check_existing_path
from .errors import SubvolumeNotFoundError
from .types import (
    BalanceState,
    BalanceStatus,
    DeviceStats,
    DeviceUsage,
    FilesystemDf,
    FilesystemShow,
    FilesystemUsage,
    MountEntry,
    Qgroup,
    ScrubState,
    ScrubStatus,
    Subvolume,
    SubvolumeDetails,
)

BTRFS = "btrfs"


def _read(argv: list[str], ok_codes: tuple[int, ...] = (0,)) -> Result:
    return run(argv, readonly=True, ok_codes=ok_codes)


def _json_unsupported(exc: CommandError) -> bool:
    err = decode_text(exc.stderr)
    return "unsupported" in err or "unrecognized option" in err or ("format" in err and "json" in err)


def list_subvolumes(path: str) -> list[Subvolume]:
    """All subvolumes of the filesystem holding ``path``, with ``readonly`` filled (two commands in all).

    ``btrfs subvolume list -puqR`` gives ids, parents, uuids and paths (relative to the top level); a second
    ``btrfs subvolume list -r`` names the read-only ones. The top level (id 5) itself is not listed.
    """
    path = _anchor(check_existing_path(path, what="btrfs path"))
    res = _read([BTRFS, "subvolume", "list", "-puqR", "--", path])
    subs = parsers.parse_subvolume_list(res.stdout, source="btrfs subvolume list -puqR")
    ro = parsers.parse_subvolume_ids(
        _read([BTRFS, "subvolume", "list", "-r", "--", path]).stdout, source="btrfs subvolume list -r"
    )
    real = [
        Subvolume(id=s.id, path=s.path, gen=s.gen, cgen=s.cgen, parent_id=s.parent_id, top_level=s.top_level,
                  uuid=s.uuid, parent_uuid=s.parent_uuid, received_uuid=s.received_uuid, otime=s.otime,
                  readonly=s.id in ro)
        for s in subs
    ]
    return _planned_list(path, real)


def _planned_list(path: str, real: list[Subvolume]) -> list[Subvolume]:
    """``real`` (the subvolumes of the filesystem holding ``path``) as the planned steps leave them."""
    model = planned.model()
    touched = model.touched(planned.SUBVOLUME) if model is not None else {}
    if not touched:
        return real
    mounts = btrfs_mounts()
    fs = _holder(mounts, path)
    if fs is None:
        return real
    changes: dict[str, Any] = {}
    for where, sub in touched.items():
        holder = _holder(mounts, where)
        if holder is not None and holder.majmin == fs.majmin:
            rel = _relative(holder, get_runner().realpath(where))
            changes[rel] = sub if sub is GONE else Subvolume(id=sub.id, path=rel, uuid=sub.uuid, readonly=sub.readonly)
    kept = [s for s in real if s.path not in changes]
    return kept + [s for s in changes.values() if s is not GONE]


def _holder(mounts: list[MountEntry], path: str) -> MountEntry | None:
    """The btrfs mount ``path`` is on (the longest mountpoint above it), or None when it is on none."""
    real = get_runner().realpath(path)
    holders = [m for m in mounts if real == m.target or real.startswith(m.target.rstrip("/") + "/")]
    return max(holders, key=lambda m: len(m.target)) if holders else None


def _relative(mount: MountEntry, real: str) -> str:
    """Resolved path ``real`` on ``mount`` as relative to its filesystem's top level (``btrfs subvolume list``)."""
    inside = real[len(mount.target.rstrip("/")):].strip("/")
    return "/".join(p for p in ((mount.fsroot or "/").strip("/"), inside) if p)


def fs_key(path: str) -> str:
    """The filesystem ``path`` is on, as the planning model names it: the ``MAJ:MIN`` of its btrfs mounts (the
    same for every subvolume mounted from one filesystem), or the resolved path when it is on no btrfs mount yet."""
    holder = _holder(btrfs_mounts(), path)
    if holder is not None and holder.majmin:
        return holder.majmin
    return get_runner().realpath(path)


def _anchor(path: str) -> str:
    """``path``, or in a dry run the nearest directory above it that really exists on the same filesystem (not a
    subvolume or a copy only a planned step made), where a read-only command can ask about it."""
    at = path
    while True:
        found = planned.lookup(at)
        if found.obj is None and not found.copied:
            return found.real or at
        if at == "/":
            return at
        at = posixpath.dirname(at)


def get_subvolume(path: str) -> SubvolumeDetails:
    """``btrfs subvolume show PATH``: one subvolume's record (uuid, flags, snapshots…)."""
    return show_subvolume(check_existing_path(path, what="subvolume path"))


def show_subvolume(path: str) -> SubvolumeDetails:
    """``get_subvolume()`` for a path already checked (one command: identities and data checks use it); in a dry
    run, a subvolume only a planned step made answers from the model (its path relative to the top level)."""
    found = planned.lookup(path)
    if found.obj is GONE:
        raise SubvolumeNotFoundError(f"subvolume {path} does not exist")
    sub = found.obj
    if isinstance(sub, planned.PlannedSubvolume):
        holder = _holder(btrfs_mounts(), sub.path)
        rel = _relative(holder, get_runner().realpath(sub.path)) if holder is not None else sub.path
        return SubvolumeDetails(path=rel, name=posixpath.basename(sub.path), id=sub.id, uuid=sub.uuid,
                                readonly=sub.readonly, flags=("readonly",) if sub.readonly else ())
    return parsers.parse_subvolume_show(_read([BTRFS, "subvolume", "show", "--", path]).stdout,
                                        source="btrfs subvolume show")


def subvolume_id(path: str) -> int | Placeholder:
    """The id of the subvolume containing ``path`` (``btrfs inspect-internal rootid``; in a dry run, the placeholder
    id of a subvolume only a planned step made)."""
    path = check_existing_path(path, what="btrfs path")
    made = planned.containing(path)
    if made is not None:
        return made.id
    return parsers.parse_rootid(_read([BTRFS, "inspect-internal", "rootid", "--", path]).stdout,
                                source="btrfs inspect-internal rootid")


def get_default_subvolume(mountpoint: str) -> Subvolume:
    """The default subvolume (mounted when no ``subvol=`` is given) of the filesystem at ``mountpoint``."""
    return default_subvolume(check_existing_path(mountpoint, what="mountpoint", kind="dir"))


def default_subvolume(path: str) -> Subvolume:
    """``get_default_subvolume()`` for a path already checked; any path on the filesystem will do (in a dry run,
    the default a planned step set, else the real one read where the path's filesystem really is)."""
    model = planned.model()
    if model is not None and model.touched(planned.DEFAULT):
        made = model.get(planned.DEFAULT, fs_key(path))
        if isinstance(made, Subvolume):
            return made
    # btrfs-progs 6.2 get-default takes no "--" (it reads it as the path); the path is absolute, never an option
    return parsers.parse_get_default(_read([BTRFS, "subvolume", "get-default", _anchor(path)]).stdout,
                                     source="btrfs subvolume get-default")


def is_readonly(path: str) -> bool:
    """Whether the subvolume at ``path`` is read-only (``btrfs property get -ts PATH ro``; in a dry run, what a
    planned step made it)."""
    path = check_existing_path(path, what="subvolume path")
    made = planned.subvolume_at(path)
    if made is not None:
        return made.readonly
    text = _read([BTRFS, "property", "get", "-ts", "--", path, "ro"]).text.strip()
    if text not in ("ro=true", "ro=false"):
        raise ParseError("btrfs property get", "expected 'ro=true' or 'ro=false'", text)
    return text == "ro=true"


def filesystem_usage(path: str) -> FilesystemUsage:
    """``btrfs filesystem usage -b``: allocation and free space in exact bytes."""
    path = check_existing_path(path, what="btrfs path")
    return parsers.parse_filesystem_usage(_read([BTRFS, "filesystem", "usage", "-b", "--", path]).stdout,
                                          source="btrfs filesystem usage -b")


def filesystem_df(path: str) -> FilesystemDf:
    """``btrfs --format json filesystem df`` (btrfs-progs >= 5.19), else the ``-b`` text form."""
    path = check_existing_path(path, what="btrfs path")
    try:
        res = _read([BTRFS, "--format", "json", "filesystem", "df", "--", path])
    except CommandError as exc:
        if not _json_unsupported(exc):
            raise
        res = _read([BTRFS, "filesystem", "df", "-b", "--", path])
    return parsers.parse_filesystem_df(res.stdout, source="btrfs filesystem df")


def filesystem_show(target: str | None = None) -> FilesystemShow:
    """``btrfs filesystem show --raw [TARGET]``: filesystems with their devices (missing ones flagged)."""
    argv = [BTRFS, "filesystem", "show", "--raw"]
    if target is not None:
        from pybofh_core.validate import validate_path

        argv += ["--", validate_path(target, what="filesystem path or device")]
    return parsers.parse_filesystem_show(_read(argv).stdout, source="btrfs filesystem show --raw")


def device_usage(path: str) -> list[DeviceUsage]:
    """``btrfs device usage -b``: per-device allocation in bytes."""
    path = check_existing_path(path, what="btrfs path")
    return parsers.parse_device_usage(_read([BTRFS, "device", "usage", "-b", "--", path]).stdout,
                                      source="btrfs device usage -b")


def device_stats(path: str) -> list[DeviceStats]:
    """Per-device error counters (``--format json`` where supported, else text)."""
    path = check_existing_path(path, what="btrfs path")
    try:
        res = _read([BTRFS, "--format", "json", "device", "stats", "--", path])
    except CommandError as exc:
        if not _json_unsupported(exc):
            raise
        res = _read([BTRFS, "device", "stats", "--", path])
    return parsers.parse_device_stats(res.stdout, source="btrfs device stats")


def list_qgroups(path: str) -> list[Qgroup]:
    """``btrfs qgroup show -pcre --raw``: quota groups with byte counts (quotas must be enabled)."""
    path = check_existing_path(path, what="btrfs path")
    return parsers.parse_qgroup_show(_read([BTRFS, "qgroup", "show", "-pcre", "--raw", "--", path]).stdout,
                                     source="btrfs qgroup show")


def scrub_status(path: str) -> ScrubStatus:
    """``btrfs scrub status --raw``: the last or running scrub, with exact byte totals and progress."""
    path = check_existing_path(path, what="btrfs path")
    return parsers.parse_scrub_status(_read([BTRFS, "scrub", "status", "--raw", "--", path]).stdout,
                                      source="btrfs scrub status --raw")


def balance_status(path: str) -> BalanceStatus:
    """``btrfs balance status`` (which exits 1 while a balance runs)."""
    path = check_existing_path(path, what="btrfs path", kind="dir")
    return parsers.parse_balance_status(_read([BTRFS, "balance", "status", "--", path], ok_codes=(0, 1)).stdout,
                                        source="btrfs balance status")


def watch_balance(
    path: str, interval: float = 1.0, sleep: Callable[[float], None] = time.sleep
) -> Iterator[BalanceStatus]:
    """Poll ``balance status`` every ``interval`` seconds; the last status yielded is not running (none/paused)."""
    while True:
        status = balance_status(path)
        yield status
        if status.state is not BalanceState.RUNNING:
            return
        sleep(interval)


def watch_scrub(
    path: str, interval: float = 1.0, sleep: Callable[[float], None] = time.sleep, no_stats_polls: int = 5
) -> Iterator[ScrubStatus]:
    """Poll ``scrub status`` every ``interval`` seconds until the scrub is done (finished, aborted, interrupted).

    A scrub that just started may report "no stats available" for a moment; after ``no_stats_polls`` such
    answers in a row the watch ends (nothing is running).
    """
    empty = 0
    while True:
        status = scrub_status(path)
        yield status
        if status.done:
            return
        empty = empty + 1 if status.state is ScrubState.NO_STATS else 0
        if empty >= no_stats_polls:
            return
        sleep(interval)


# --- what the data checks and undo identities read --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FilesystemAt:
    """The filesystem holding a path: where it is mounted, its type, and (btrfs only) its UUID."""

    target: str | None
    fstype: str | None
    uuid: str | None

    def describe(self) -> str:
        """``btrfs 56834ef2-… (mounted on /srv)`` — how identity reports name it."""
        what = f"{self.fstype or 'no filesystem'}" + (f" {self.uuid}" if self.uuid else "")
        return what + (f" (mounted on {self.target})" if self.target else "")


def filesystem_at(path: str) -> FilesystemAt:
    """The filesystem ``path`` lives on (``findmnt -T``), or that block device ``path`` holds, with the btrfs
    UUID from ``btrfs filesystem show`` (the filesystem's identity for undos); a missing path has none."""
    kind = get_runner().path_kind(path)
    if kind is None:
        return FilesystemAt(None, None, None)
    target: str | None
    fstype: str | None
    if kind == "block":
        target, fstype = None, "btrfs"
    else:
        found = parsers.parse_findmnt(_read(["findmnt", "-J", "-o", "TARGET,FSTYPE", "-T", path],
                                            ok_codes=(0, 1)).stdout, source="findmnt -T")
        if not found:
            return FilesystemAt(None, None, None)
        target, fstype = found[0].target, found[0].fstype
        if fstype != "btrfs":
            return FilesystemAt(target, fstype, None)
    res = _read([BTRFS, "filesystem", "show", "--raw", "--", target or path], ok_codes=(0, 1))
    shown = parsers.parse_filesystem_show(res.stdout, source="btrfs filesystem show").filesystems if res.stdout else ()
    if res.returncode != 0 or len(shown) != 1:
        return FilesystemAt(target, None if kind == "block" else fstype, None)
    return FilesystemAt(target, "btrfs", shown[0].uuid)


def btrfs_mounts() -> list[MountEntry]:
    """Every btrfs mount of the host with its source, subvolume (``FSROOT``) and superblock device (``MAJ:MIN``,
    the same for every subvolume mounted from one filesystem): one ``findmnt -t btrfs``."""
    res = _read(["findmnt", "-J", "-t", "btrfs", "-o", "TARGET,SOURCE,FSROOT,MAJ:MIN"], ok_codes=(0, 1))
    return parsers.parse_findmnt(res.stdout, source="findmnt -t btrfs")


def first_entry(path: str) -> str | None:
    """The first entry ``find`` meets directly inside directory ``path``, None when it is empty; in a dry run as the
    planned steps leave it (a new subvolume holds only what planned steps made in it, a snapshot what its source
    holds, and a subvolume a planned step deleted is not there)."""
    found = planned.lookup(path)
    if found.obj is GONE or (found.obj is not None and not isinstance(found.obj, planned.PlannedSubvolume)):
        return None
    made = planned.children(path)
    new = next((posixpath.join(path, n) for n, sub in made.items() if sub is not GONE), None)
    if new is not None:
        return new
    where = found.obj.content if isinstance(found.obj, planned.PlannedSubvolume) else found.real or path
    if where is None:
        return None
    if not made:
        res = _read(["find", where, "-mindepth", "1", "-maxdepth", "1", "-print", "-quit"])
        names = [posixpath.basename(decode_names(res.stdout).rstrip("\n"))]
    else:  # some of them are gone in the plan
        res = _read(["find", where, "-mindepth", "1", "-maxdepth", "1", "-print0"])
        names = [posixpath.basename(n) for n in decode_names(res.stdout).split("\0")]
    return next((posixpath.join(path, n) for n in names if n and made.get(n) is not GONE), None)


def file_identity(path: str) -> str | None:
    """``device:inode:birth-time`` of the file at ``path`` (``stat``), None when it is gone.

    An inode number alone is reused by the next file made on the filesystem; with the birth time it names one file.
    """
    res = _read(["stat", "-c", "%d:%i:%W", "--", path], ok_codes=(0, 1))
    if res.returncode != 0:
        if "No such file" in res.err or "Not a directory" in res.err:
            return None
        raise CommandError(res.argv, res.returncode, res.stdout, res.stderr)
    return res.text.strip()


SEND_STREAM_MAGIC = b"btrfs-stream\0"
"""The first bytes of every btrfs send stream (``BTRFS_SEND_STREAM_MAGIC``, then a 4-byte version)."""


def is_send_stream(path: str, *, partial: bool = False) -> bool:
    """Whether the file at ``path`` starts like a btrfs send stream (``head -c 13``).

    With ``partial``, also a regular file holding only the first bytes of one, or nothing: what ``btrfs send -f``
    leaves when it fails early (it creates its file before it checks the snapshot).
    """
    head = _read(["head", "-c", str(len(SEND_STREAM_MAGIC)), "--", path]).stdout
    if head == SEND_STREAM_MAGIC:
        return True
    return partial and SEND_STREAM_MAGIC.startswith(head) and get_runner().path_kind(path) == "file"
