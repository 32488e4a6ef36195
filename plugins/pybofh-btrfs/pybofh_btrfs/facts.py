"""Readers: each runs one read-only btrfs command through the core runner and hands its output to a pure parser."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pybofh_core.errors import CommandError, ParseError
from pybofh_core.parsing import decode_names, decode_text
from pybofh_core.runner import Result, get_runner, run

from . import parsers
from .checks import check_existing_path
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
    path = check_existing_path(path, what="btrfs path")
    res = _read([BTRFS, "subvolume", "list", "-puqR", "--", path])
    subs = parsers.parse_subvolume_list(res.stdout, source="btrfs subvolume list -puqR")
    ro = parsers.parse_subvolume_ids(
        _read([BTRFS, "subvolume", "list", "-r", "--", path]).stdout, source="btrfs subvolume list -r"
    )
    return [
        Subvolume(id=s.id, path=s.path, gen=s.gen, cgen=s.cgen, parent_id=s.parent_id, top_level=s.top_level,
                  uuid=s.uuid, parent_uuid=s.parent_uuid, received_uuid=s.received_uuid, otime=s.otime,
                  readonly=s.id in ro)
        for s in subs
    ]


def get_subvolume(path: str) -> SubvolumeDetails:
    """``btrfs subvolume show PATH``: one subvolume's record (uuid, flags, snapshots…)."""
    return show_subvolume(check_existing_path(path, what="subvolume path"))


def show_subvolume(path: str) -> SubvolumeDetails:
    """``get_subvolume()`` for a path already checked (one command: identities and data checks use it)."""
    return parsers.parse_subvolume_show(_read([BTRFS, "subvolume", "show", "--", path]).stdout,
                                        source="btrfs subvolume show")


def subvolume_id(path: str) -> int:
    """The id of the subvolume containing ``path`` (``btrfs inspect-internal rootid``)."""
    path = check_existing_path(path, what="btrfs path")
    return parsers.parse_rootid(_read([BTRFS, "inspect-internal", "rootid", "--", path]).stdout,
                                source="btrfs inspect-internal rootid")


def get_default_subvolume(mountpoint: str) -> Subvolume:
    """The default subvolume (mounted when no ``subvol=`` is given) of the filesystem at ``mountpoint``."""
    return default_subvolume(check_existing_path(mountpoint, what="mountpoint", kind="dir"))


def default_subvolume(path: str) -> Subvolume:
    """``get_default_subvolume()`` for a path already checked; any path on the filesystem will do."""
    # btrfs-progs 6.2 get-default takes no "--" (it reads it as the path); the path is absolute, never an option
    return parsers.parse_get_default(_read([BTRFS, "subvolume", "get-default", path]).stdout,
                                     source="btrfs subvolume get-default")


def is_readonly(path: str) -> bool:
    """Whether the subvolume at ``path`` is read-only (``btrfs property get -ts PATH ro``)."""
    path = check_existing_path(path, what="subvolume path")
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
    """The first entry ``find`` meets directly inside directory ``path``, None when it is empty."""
    res = _read(["find", path, "-mindepth", "1", "-maxdepth", "1", "-print", "-quit"])
    text = decode_names(res.stdout).rstrip("\n")
    return text or None


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
