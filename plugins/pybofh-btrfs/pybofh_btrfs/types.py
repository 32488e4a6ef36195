"""Frozen dataclasses of parsed btrfs state and of operation results; sizes are int bytes, states are enums."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pybofh_core.model import Placeholder

FS_TREE_ID = 5
"""The id of the top-level subvolume (the filesystem tree) of every btrfs filesystem."""


@dataclass(frozen=True, slots=True)
class Subvolume:
    """One subvolume as ``btrfs subvolume list`` / ``show`` / ``get-default`` report it.

    ``path`` is relative to the filesystem's top level (``<FS_TREE>/`` prefixes removed; ``""`` is the top level
    itself). ``parent_id`` is the ``parent`` column (``-p``), ``top_level`` the ``top level`` column; optional
    columns the command was not asked for are None, as are ``-`` uuids. ``readonly`` is None when not known. In a
    dry run, a subvolume only a planned step made has placeholders for its id and UUID (``<id of subvolume P>``).
    """

    id: int | Placeholder
    path: str
    gen: int | None = None
    cgen: int | None = None
    parent_id: int | None = None
    top_level: int | None = None
    uuid: str | None = None
    parent_uuid: str | None = None
    received_uuid: str | None = None
    otime: str | None = None
    readonly: bool | None = None

    @property
    def name(self) -> str:
        """The last path component (``<FS_TREE>`` for the top level)."""
        return self.path.rsplit("/", 1)[-1] if self.path else "<FS_TREE>"


@dataclass(frozen=True, slots=True)
class SubvolumeDetails:
    """``btrfs subvolume show``: one subvolume's full record, with its snapshots' paths (in a dry run, one only a
    planned step made has placeholders for its id and UUID)."""

    path: str
    name: str
    id: int | Placeholder
    uuid: str | None = None
    parent_uuid: str | None = None
    received_uuid: str | None = None
    creation_time: str | None = None
    gen: int | None = None
    cgen: int | None = None
    parent_id: int | None = None
    top_level: int | None = None
    readonly: bool | None = None
    flags: tuple[str, ...] = ()
    send_transid: int | None = None
    receive_transid: int | None = None
    snapshots: tuple[str, ...] = ()
    quota_group: str | None = None

    def __fspath__(self) -> str:
        """The subvolume's path."""
        return self.path


@dataclass(frozen=True, slots=True)
class FilesystemDevice:
    """One ``devid`` line of ``btrfs filesystem show``; ``path`` is None for a missing device."""

    devid: int
    size: int
    used: int
    path: str | None
    missing: bool = False


@dataclass(frozen=True, slots=True)
class Filesystem:
    """One ``Label: … uuid: …`` block of ``btrfs filesystem show``.

    ``exact`` is False when the tool printed rounded units (``2.00GiB``) rather than bytes (``--raw``).
    """

    label: str | None
    uuid: str
    total_devices: int
    bytes_used: int
    devices: tuple[FilesystemDevice, ...]
    some_missing: bool = False
    exact: bool = True

    @property
    def missing_devices(self) -> int:
        """How many of ``total_devices`` are missing (not listed, or listed as MISSING)."""
        present = sum(1 for d in self.devices if not d.missing)
        return max(0, self.total_devices - present)


@dataclass(frozen=True, slots=True)
class FilesystemShow:
    """The whole ``btrfs filesystem show`` output: filesystems, warning lines, and the old progs' version trailer."""

    filesystems: tuple[Filesystem, ...]
    warnings: tuple[str, ...] = ()
    progs_version: str | None = None


@dataclass(frozen=True, slots=True)
class SpaceInfo:
    """One block-group type/profile line of ``btrfs filesystem df`` (``Data, single: total=…, used=…``)."""

    type: str
    profile: str
    total: int
    used: int

    @property
    def kinds(self) -> tuple[str, ...]:
        """What the block group holds: ``("Data", "Metadata")`` for a mixed one (``Data+Metadata``)."""
        return tuple(self.type.split("+"))


@dataclass(frozen=True, slots=True)
class FilesystemDf:
    """``btrfs filesystem df``; ``exact`` is False for the text form with rounded units."""

    spaces: tuple[SpaceInfo, ...]
    exact: bool = True

    def get(self, type_: str) -> list[SpaceInfo]:
        """Entries holding one block-group type (``Data``, ``Metadata``, ``System``, ``GlobalReserve``), or named
        exactly ``type_``: on a mixed filesystem ``get("Data")`` and ``get("Metadata")`` both give ``Data+Metadata``.
        """
        want = type_.lower()
        return [s for s in self.spaces if s.type.lower() == want or want in (k.lower() for k in s.kinds)]

    @property
    def mixed(self) -> bool:
        """Whether data and metadata share block groups (``mkfs.btrfs --mixed``)."""
        return any(len(s.kinds) > 1 for s in self.spaces)


@dataclass(frozen=True, slots=True)
class UsageProfile:
    """One ``Data,RAID1: Size:…, Used:… (p%)`` section of ``btrfs filesystem usage`` with its per-device sizes."""

    type: str
    profile: str
    size: int
    used: int
    devices: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class FilesystemUsage:
    """``btrfs filesystem usage``: the ``Overall:`` numbers in bytes, then each profile and the unallocated space."""

    device_size: int
    device_allocated: int
    device_unallocated: int
    device_missing: int
    used: int
    free_estimated: int
    free_estimated_min: int | None
    free_statfs: int | None
    data_ratio: float
    metadata_ratio: float
    global_reserve: int
    global_reserve_used: int | None
    device_slack: int | None = None
    multiple_profiles: bool | None = None
    profiles: tuple[UsageProfile, ...] = ()
    unallocated: tuple[tuple[str, int], ...] = ()
    exact: bool = True


@dataclass(frozen=True, slots=True)
class DeviceUsage:
    """One device block of ``btrfs device usage -b``; ``unallocated`` is negative while a device is being removed."""

    path: str
    devid: int
    size: int
    slack: int | None
    unallocated: int
    chunks: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class DeviceStats:
    """The error counters of one device (``btrfs device stats``)."""

    device: str
    counters: tuple[tuple[str, int], ...]
    devid: int | None = None

    def get(self, name: str) -> int:
        """One counter (``write_io_errs``, ``corruption_errs``…); KeyError if the tool did not print it."""
        return dict(self.counters)[name]

    @property
    def total_errors(self) -> int:
        """The sum of all counters."""
        return sum(v for _, v in self.counters)


@dataclass(frozen=True, slots=True)
class Qgroup:
    """One row of ``btrfs qgroup show``; limits are None when ``none``."""

    qgroupid: str
    referenced: int
    exclusive: int
    max_referenced: int | None = None
    max_exclusive: int | None = None
    parents: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    path: str | None = None


class ScrubState(enum.StrEnum):
    """What ``btrfs scrub status`` says about the last scrub."""

    RUNNING = "running"
    FINISHED = "finished"
    ABORTED = "aborted"
    INTERRUPTED = "interrupted"
    NO_STATS = "no-stats"


@dataclass(frozen=True, slots=True)
class ScrubStatus:
    """``btrfs scrub status [-R]`` (legacy <5.1 and new >=5.1 layouts) or the summary of ``scrub start -B``.

    Byte counts read from rounded units (``4.15GiB``) are approximate; the ``-R`` raw counters are exact.
    ``errors`` is the ``Error summary`` (legacy: ``error details``) as ``(("csum", 110693),)``, empty when no
    errors were found. ``started`` is when the scrub was last started or, if ``resumed``, resumed. ``error_count``
    is the legacy summary's ``with N errors``. ``rate_limit_bytes_per_second`` is a one-device filesystem's ``(limit
    N/s)`` and ``some_devices_rate_limited`` a multi-device one's ``(some device limits set)``; btrfs-progs before
    6.6.3 print neither.
    """

    uuid: str
    state: ScrubState
    layout: str
    started: str | None = None
    duration_seconds: int | None = None
    time_left_seconds: int | None = None
    eta: str | None = None
    total_bytes: int | None = None
    bytes_scrubbed: int | None = None
    percent: float | None = None
    rate_bytes_per_second: int | None = None
    errors: tuple[tuple[str, int], ...] = ()
    corrected: int | None = None
    uncorrectable: int | None = None
    unverified: int | None = None
    raw: tuple[tuple[str, int], ...] = ()
    messages: tuple[str, ...] = ()
    resumed: bool = False
    error_count: int | None = None
    rate_limit_bytes_per_second: int | None = None
    some_devices_rate_limited: bool = False

    @property
    def done(self) -> bool:
        """True once the scrub is no longer running."""
        return self.state in (ScrubState.FINISHED, ScrubState.ABORTED, ScrubState.INTERRUPTED)

    def raw_counter(self, name: str) -> int:
        """One ``-R`` counter (``data_bytes_scrubbed``, ``csum_errors``…); KeyError when absent."""
        return dict(self.raw)[name]


class BalanceState(enum.StrEnum):
    """What ``btrfs balance status`` says."""

    NONE = "none"
    RUNNING = "running"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class BalanceStatus:
    """``btrfs balance status``: state, requests, and chunk progress (``N out of about M chunks balanced``)."""

    path: str
    state: BalanceState
    cancel_requested: bool = False
    pause_requested: bool = False
    chunks_balanced: int | None = None
    chunks_total: int | None = None
    chunks_considered: int | None = None
    percent_left: int | None = None

    @property
    def percent_done(self) -> float | None:
        """100 - ``percent_left`` when known."""
        return None if self.percent_left is None else float(100 - self.percent_left)


@dataclass(frozen=True, slots=True)
class MountEntry:
    """One filesystem of ``findmnt -J``: where it is mounted and, when asked for, what (None: column not asked)."""

    target: str
    source: str | None = None
    fstype: str | None = None
    fsroot: str | None = None
    majmin: str | None = None

    def __fspath__(self) -> str:
        """The mountpoint."""
        return self.target


# --- results of operations ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreatedSubvolume:
    """What ``create_subvolume``/``snapshot``/``receive`` made: the new subvolume's path on the host, and its UUID
    (read back with ``btrfs subvolume show``; in a dry run the placeholder ``<uuid of subvolume PATH>``), which its
    undo checks before deleting it."""

    path: str
    source: str | None = None
    readonly: bool = False
    uuid: str | None = None

    def __fspath__(self) -> str:
        """The new subvolume's path: pass it on to snapshot, send, delete_subvolume…"""
        return self.path


@dataclass(frozen=True, slots=True)
class DefaultChange:
    """What ``set_default_subvolume`` did: the default subvolume id before and after (in a dry run, the placeholder
    ``<id of subvolume PATH>`` of a subvolume only a planned step made)."""

    mountpoint: str
    previous_id: int | Placeholder
    new_id: int | Placeholder


@dataclass(frozen=True, slots=True)
class SendStream:
    """A send stream written by ``send`` to ``path`` (incremental when ``parent`` is set)."""

    path: str
    snapshot: str
    parent: str | None = None

    def __fspath__(self) -> str:
        """The stream file: pass it on to receive."""
        return self.path


@dataclass(frozen=True, slots=True)
class StreamSent:
    """A send stream ``send_to`` wrote to an open file or pipe: ``to`` is ``stdout``, the file's name or ``fd N``."""

    snapshot: str
    to: str
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class Rotation:
    """What ``rotate_snapshots`` did: the snapshot it made, the ones it kept and the ones it deleted (oldest first)."""

    created: str
    kept: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class JobStarted:
    """A background balance or scrub started on ``path``."""

    path: str
    kind: str
    message: str = ""
