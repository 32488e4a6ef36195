"""Frozen dataclasses of LVM state (sizes in int bytes, states as enums) and of operation results."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class LvKind(enum.Enum):
    """Volume type: the first character of ``lv_attr`` (``lvs(8)``)."""

    NORMAL = "-"
    MIRRORED = "m"
    MIRRORED_NOSYNC = "M"
    ORIGIN = "o"
    ORIGIN_MERGING = "O"
    RAID = "r"
    RAID_NOSYNC = "R"
    SNAPSHOT = "s"
    SNAPSHOT_MERGING = "S"
    PVMOVE = "p"
    VIRTUAL = "v"
    IMAGE = "i"
    IMAGE_OUT_OF_SYNC = "I"
    MIRROR_LOG = "l"
    CONVERTING = "c"
    THIN = "V"
    THIN_POOL = "t"
    THIN_POOL_DATA = "T"
    VDO_POOL = "d"
    VDO_POOL_DATA = "D"
    METADATA = "e"
    CACHE = "C"


class LvState(enum.Enum):
    """Activation state: the fifth character of ``lv_attr``."""

    INACTIVE = "-"
    ACTIVE = "a"
    HISTORICAL = "h"
    SUSPENDED = "s"
    INVALID_SNAPSHOT = "I"
    INVALID_SUSPENDED_SNAPSHOT = "S"
    SNAPSHOT_MERGE_FAILED = "m"
    SUSPENDED_SNAPSHOT_MERGE_FAILED = "M"
    NO_TABLE = "d"
    INACTIVE_TABLE = "i"
    CHECK_NEEDED = "c"
    SUSPENDED_CHECK_NEEDED = "C"
    UNKNOWN = "X"


def mapper_name(vg: str, lv: str) -> str:
    """The device-mapper name LVM gives ``vg/lv`` (each ``-`` doubled, joined by ``-``)."""
    return f"{vg.replace('-', '--')}-{lv.replace('-', '--')}"


@dataclass(frozen=True, slots=True)
class PhysicalVolume:
    """One row of ``pvs``; a field is None when the report did not include its column."""

    name: str
    uuid: str | None = None
    vg: str | None = None
    vg_uuid: str | None = None
    fmt: str | None = None
    attr: str | None = None
    size_bytes: int | None = None
    free_bytes: int | None = None
    dev_size_bytes: int | None = None
    pe_start: int | None = None

    @property
    def missing(self) -> bool:
        """The PV's device is not found (``[unknown]`` name or ``m`` in the third attr character)."""
        return self.name == "[unknown]" or (self.attr is not None and len(self.attr) >= 3 and self.attr[2] == "m")

    @property
    def duplicate(self) -> bool:
        """LVM saw this PV's UUID on another device too (``d`` as first attr character)."""
        return bool(self.attr) and self.attr[0] == "d"  # type: ignore[index]

    @property
    def allocatable(self) -> bool:
        """Extents of this PV may be allocated."""
        return bool(self.attr) and self.attr[0] == "a"  # type: ignore[index]

    @property
    def device(self) -> str | None:
        """The PV's device path, None when it is missing."""
        return None if self.name == "[unknown]" else self.name

    def to_json(self) -> dict[str, Any]:
        """Plain form for ``--json`` output."""
        return {
            "name": self.name, "vg": self.vg, "size_bytes": self.size_bytes, "free_bytes": self.free_bytes,
            "dev_size_bytes": self.dev_size_bytes, "pe_start": self.pe_start, "attr": self.attr, "fmt": self.fmt,
            "uuid": self.uuid, "vg_uuid": self.vg_uuid, "missing": self.missing, "duplicate": self.duplicate,
        }

    def __fspath__(self) -> str:
        """The PV's device path."""
        return self.name


@dataclass(frozen=True, slots=True)
class VolumeGroup:
    """One row of ``vgs``; a field is None when the report did not include its column."""

    name: str
    uuid: str | None = None
    attr: str | None = None
    size_bytes: int | None = None
    free_bytes: int | None = None
    extent_size: int | None = None
    extent_count: int | None = None
    free_count: int | None = None
    pv_count: int | None = None
    lv_count: int | None = None
    snap_count: int | None = None
    missing_pv_count: int | None = None

    def _flag(self, pos: int, char: str) -> bool | None:
        if self.attr is None or len(self.attr) <= pos:
            return None
        return self.attr[pos] == char

    @property
    def writeable(self) -> bool | None:
        """Whether the VG is writeable (``w`` in attr position 1)."""
        return self._flag(0, "w")

    @property
    def resizeable(self) -> bool | None:
        """Whether PVs can be added or removed (``z`` in attr position 2)."""
        return self._flag(1, "z")

    @property
    def exported(self) -> bool | None:
        """Whether the VG is exported (``x`` in attr position 3)."""
        return self._flag(2, "x")

    @property
    def partial(self) -> bool | None:
        """One or more PVs of the VG are missing (``p`` in attr position 4)."""
        return self._flag(3, "p")

    def to_json(self) -> dict[str, Any]:
        """Plain form for ``--json`` output."""
        return {
            "name": self.name, "size_bytes": self.size_bytes, "free_bytes": self.free_bytes,
            "extent_size": self.extent_size, "extent_count": self.extent_count, "free_count": self.free_count,
            "pv_count": self.pv_count, "lv_count": self.lv_count, "snap_count": self.snap_count,
            "missing_pv_count": self.missing_pv_count, "attr": self.attr, "partial": self.partial, "uuid": self.uuid,
        }

    def __fspath__(self) -> str:
        """``/dev/VG``: pass the VG on to create_lv, extend_vg…"""
        return f"/dev/{self.name}"


@dataclass(frozen=True, slots=True)
class LogicalVolume:
    """One row of ``lvs``; hidden LVs (``[name]`` in LVM's output) have ``hidden=True`` and the bare name."""

    vg: str
    name: str
    uuid: str | None = None
    attr: str | None = None
    size_bytes: int | None = None
    hidden: bool = False
    lv_path: str | None = None
    dm_path: str | None = None
    roles: tuple[str, ...] = ()
    segtype: str | None = None
    pool: str | None = None
    origin: str | None = None
    data_percent: float | None = None

    @property
    def full_name(self) -> str:
        """``vg/name``, the form LVM commands accept."""
        return f"{self.vg}/{self.name}"

    @property
    def path(self) -> str:
        """``/dev/VG/LV`` (what LVM reports as ``lv_path``, else the conventional path)."""
        return self.lv_path or f"/dev/{self.vg}/{self.name}"

    @property
    def mapper_path(self) -> str:
        """``/dev/mapper/VG-LV`` with LVM's ``-`` doubling (present while the LV is active)."""
        return self.dm_path or f"/dev/mapper/{mapper_name(self.vg, self.name)}"

    @property
    def kind(self) -> LvKind | None:
        """Volume type from ``lv_attr`` (None when attrs were not reported or unknown)."""
        if not self.attr:
            return None
        try:
            return LvKind(self.attr[0])
        except ValueError:
            return None

    @property
    def state(self) -> LvState | None:
        """Activation state from ``lv_attr`` (None when attrs were not reported)."""
        if not self.attr or len(self.attr) < 5:
            return None
        try:
            return LvState(self.attr[4])
        except ValueError:
            return None

    @property
    def active(self) -> bool | None:
        """Whether a device-mapper device exists for the LV (None when unknown, e.g. no device-mapper)."""
        state = self.state
        if state is None or state is LvState.UNKNOWN:
            return None
        return state not in (LvState.INACTIVE, LvState.HISTORICAL)

    @property
    def open(self) -> bool | None:
        """Whether the LV's device is open (mounted, in use); None when unknown."""
        if not self.attr or len(self.attr) < 6 or self.attr[5] == "X":
            return None
        return self.attr[5] == "o"

    def to_json(self) -> dict[str, Any]:
        """Plain form for ``--json`` output."""
        return {
            "vg": self.vg, "name": self.name, "size_bytes": self.size_bytes, "attr": self.attr,
            "kind": self.kind.name.lower() if self.kind else None, "active": self.active, "hidden": self.hidden,
            "path": self.path, "dm_path": self.mapper_path, "segtype": self.segtype, "pool": self.pool,
            "origin": self.origin, "data_percent": self.data_percent, "roles": list(self.roles), "uuid": self.uuid,
        }

    def __fspath__(self) -> str:
        """``/dev/VG/LV``: pass the LV on to crypt.format, mkfs, mount…"""
        return self.path


@dataclass(frozen=True, slots=True)
class FullReport:
    """``lvm fullreport``: every VG, PV and LV in one call."""

    vgs: tuple[VolumeGroup, ...]
    pvs: tuple[PhysicalVolume, ...]
    lvs: tuple[LogicalVolume, ...]


# --- operation results ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PvCreated:
    """What ``create_pv`` made: a PV label on ``device``."""

    device: str
    uuid: str | None = None  # the PV's UUID (read back after pvcreate; None in a dry run)

    def __fspath__(self) -> str:
        """The PV's device path: pass it on to create_vg, extend_vg…"""
        return self.device


@dataclass(frozen=True, slots=True)
class VgCreated:
    """What ``create_vg`` made; ``initialized`` lists devices LVM had to make PVs of (undo removes their labels)."""

    name: str
    devices: tuple[str, ...]
    initialized: tuple[str, ...] = ()
    extent_size: int | None = None
    uuid: str | None = None  # the VG's UUID (read back after vgcreate; None in a dry run)

    @property
    def path(self) -> str:
        """``/dev/VG``."""
        return f"/dev/{self.name}"

    def __fspath__(self) -> str:
        """``/dev/VG``: pass the VG on to create_lv, extend_vg…"""
        return self.path


@dataclass(frozen=True, slots=True)
class VgExtended:
    """What ``extend_vg``/``reduce_vg`` changed: ``device`` added to / removed from ``vg``."""

    vg: str
    device: str
    initialized: bool = False
    pv_removed: bool = False
    vg_uuid: str | None = None


@dataclass(frozen=True, slots=True)
class LvResized:
    """What ``resize_lv`` did: the size before and after, in bytes (equal when nothing had to change)."""

    vg: str
    name: str
    old_size_bytes: int
    new_size_bytes: int
    uuid: str | None = None


@dataclass(frozen=True, slots=True)
class PvResized:
    """What ``resize_pv`` did: the device space the PV claimed before and after in bytes (None = whole device)."""

    device: str
    old_size_bytes: int | None
    new_size_bytes: int | None
    uuid: str | None = None

    def __fspath__(self) -> str:
        """The PV's device path."""
        return self.device


@dataclass(frozen=True, slots=True)
class LvRenamed:
    """What ``rename_lv`` did."""

    vg: str
    old_name: str
    new_name: str
    uuid: str | None = None


@dataclass(frozen=True, slots=True)
class LvActivation:
    """What ``activate_lv``/``deactivate_lv`` did: the state before and the state asked for."""

    vg: str
    name: str
    was_active: bool
    active: bool
    uuid: str | None = None

    @property
    def changed(self) -> bool:
        """Whether a command had to run."""
        return self.was_active != self.active
