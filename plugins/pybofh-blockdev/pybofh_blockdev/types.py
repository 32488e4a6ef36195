"""Frozen dataclasses for parsed block-device state: devices, probes, mounts, loop devices, operation results."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pybofh_core.errors import NotFoundError

#: Filesystems pybofh-blockdev can create, check and resize.
FILESYSTEMS = ("ext2", "ext3", "ext4", "xfs", "btrfs", "swap")
EXT_FAMILY = ("ext2", "ext3", "ext4")


@dataclass(frozen=True, slots=True)
class BlockDevice:
    """One block device as lsblk (and blkid, where lsblk had no udev data) sees it.

    ``key`` is the device path when the output had one (``-p``, ``PATH`` column), else lsblk's NAME; ``parents``
    and ``children`` hold keys. ``size`` is bytes, or None when the output gave no exact byte count (human sizes
    like ``931.5G`` are kept in ``size_text``). ``label_raw`` holds a label's bytes when they are not UTF-8.
    """

    key: str
    name: str
    path: str | None = None
    kname: str | None = None
    type: str | None = None
    size: int | None = None
    size_text: str | None = None
    fstype: str | None = None
    fsver: str | None = None
    label: str | None = None
    uuid: str | None = None
    partuuid: str | None = None
    pttype: str | None = None
    mountpoints: tuple[str, ...] = ()
    maj_min: str | None = None
    read_only: bool | None = None
    removable: bool | None = None
    model: str | None = None
    serial: str | None = None
    vendor: str | None = None
    parents: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    label_raw: bytes | None = None

    @property
    def label_bytes(self) -> bytes | None:
        """The label's bytes as they are on the device: ``label_raw`` when the label is not UTF-8 (``label`` then
        shows U+FFFD for the bad bytes), else the UTF-8 of ``label``."""
        if self.label_raw is not None:
            return self.label_raw
        return None if self.label is None else self.label.encode("utf-8")

    @property
    def mounted(self) -> bool:
        """Whether the device is mounted (or an active swap, ``[SWAP]``) somewhere."""
        return bool(self.mountpoints)

    def to_json(self) -> dict[str, Any]:
        """Plain dict for ``--json``."""
        return {
            "name": self.name, "path": self.path, "kname": self.kname, "type": self.type, "size": self.size,
            "fstype": self.fstype, "fsver": self.fsver, "label": self.label, "uuid": self.uuid,
            "partuuid": self.partuuid, "pttype": self.pttype, "mountpoints": list(self.mountpoints),
            "maj_min": self.maj_min, "read_only": self.read_only, "removable": self.removable, "model": self.model,
            "serial": self.serial, "vendor": self.vendor, "parents": list(self.parents),
            "children": list(self.children),
        }

    def __fspath__(self) -> str:
        """The device path (lsblk's key when it gave no path): pass the device on to any operation."""
        return self.path or self.key


@dataclass(frozen=True, slots=True)
class DeviceTree:
    """All block devices of one lsblk call; multi-parent devices (md, bcache, multipath) appear once with all parents.

    ``tree`` is False when the output format carried no parent/child information (``lsblk -P`` without a
    ``PKNAME`` column): ``parents``/``children`` are then empty because unknown, not because there are none.
    """

    devices: Mapping[str, BlockDevice]
    roots: tuple[str, ...]
    tree: bool = True
    warnings: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[BlockDevice]:
        return iter(self.devices.values())

    def __len__(self) -> int:
        return len(self.devices)

    def get(self, ref: str) -> BlockDevice:
        """The device named ``ref`` (path, key, lsblk name or kernel name); NotFoundError when absent."""
        if ref in self.devices:
            return self.devices[ref]
        for dev in self.devices.values():
            if ref in (dev.path, dev.name, dev.kname) or (ref.startswith("/dev/") and ref[5:] in (dev.name, dev.kname)):
                return dev
        raise NotFoundError(f"block device {ref} is not in the device list (see 'bofh blockdev list')")

    def walk(self) -> Iterator[tuple[int, BlockDevice]]:
        """Depth-first (depth, device) pairs from the roots; a multi-parent device shows under each parent."""

        def visit(key: str, depth: int, seen: tuple[str, ...]) -> Iterator[tuple[int, BlockDevice]]:
            dev = self.devices[key]
            yield depth, dev
            for child in dev.children:
                if child not in seen:
                    yield from visit(child, depth + 1, (*seen, child))

        for root in self.roots:
            yield from visit(root, 0, (root,))

    def to_json(self) -> list[dict[str, Any]]:
        """Nested form (children inside their parents), like ``lsblk -J``."""

        def nest(key: str, seen: tuple[str, ...]) -> dict[str, Any]:
            dev = self.devices[key]
            out = dev.to_json()
            out["children"] = [nest(c, (*seen, c)) for c in dev.children if c not in seen]
            return out

        return [nest(r, (r,)) for r in self.roots]


@dataclass(frozen=True, slots=True)
class Probe:
    """The tags blkid found on one device (``TYPE``, ``USAGE``, ``UUID``, ``LABEL``, ``VERSION``…), decoded.

    A value that is not UTF-8 (a Latin-1 or CP437 label) is printable text in ``tags`` (U+FFFD for the bad bytes)
    and its exact bytes are in ``raw``. ``ambiguous`` names tags whose escaped form could be read either way
    (blkid's export notation does not escape ``M-``): their text is the literal reading and ``raw`` has no entry.
    """

    device: str | None
    tags: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping[str, bytes] = field(default_factory=dict)
    ambiguous: frozenset[str] = frozenset()

    def value_bytes(self, tag: str) -> bytes | None:
        """The exact bytes of one tag (None when absent); an ambiguous tag gives the bytes of its literal text."""
        if tag in self.raw:
            return self.raw[tag]
        text = self.tags.get(tag)
        return None if text is None else text.encode("utf-8")

    @property
    def label_bytes(self) -> bytes | None:
        """The label's bytes as they are on the device (round-trips a label that is not UTF-8)."""
        return self.value_bytes("LABEL")

    @property
    def type(self) -> str | None:
        """Content type (``ext4``, ``crypto_LUKS``, ``LVM2_member``…), None when nothing was recognised."""
        return self.tags.get("TYPE")

    @property
    def usage(self) -> str | None:
        """``filesystem``, ``raid``, ``crypto``, ``other``… (only with ``blkid -p``)."""
        return self.tags.get("USAGE")

    @property
    def label(self) -> str | None:
        """The filesystem label, None when there is none."""
        return self.tags.get("LABEL")

    @property
    def uuid(self) -> str | None:
        """The filesystem UUID, None when there is none."""
        return self.tags.get("UUID")

    @property
    def version(self) -> str | None:
        """The format version (``1.0``, ``LVM2 001``…)."""
        return self.tags.get("VERSION")

    def to_json(self) -> dict[str, Any]:
        """Plain dict for ``--json``."""
        return {"device": self.device, **dict(self.tags)}


@dataclass(frozen=True, slots=True)
class Mount:
    """One mounted filesystem from findmnt; ``device`` is ``source`` without a ``[/fsroot]`` suffix."""

    target: str
    source: str
    fstype: str
    options: tuple[str, ...] = ()
    fsroot: str | None = None
    parent: str | None = None

    @property
    def device(self) -> str:
        """The source device without the bracketed fs root findmnt adds for bind mounts and subvolumes."""
        if self.source.endswith("]") and "[" in self.source:
            return self.source[: self.source.rindex("[")]
        return self.source

    @property
    def read_only(self) -> bool:
        """Whether it is mounted read-only."""
        return "ro" in self.options

    def to_json(self) -> dict[str, Any]:
        """Plain dict for ``--json``."""
        return {"target": self.target, "source": self.source, "fstype": self.fstype, "options": list(self.options),
                "fsroot": self.fsroot}

    def __fspath__(self) -> str:
        """The mountpoint: ``unmount(m)`` and ``os.path.join(m, 'dir')`` work on it."""
        return self.target


@dataclass(frozen=True, slots=True)
class MountUsage:
    """One mounted filesystem with its space as the kernel reports it (``statfs``, like df): bytes in all, used,
    and available to unprivileged users (``avail``: less than ``size - used`` when blocks are reserved for root).
    A size is None when findmnt could not read it."""

    target: str
    source: str
    fstype: str
    size: int | None = None
    used: int | None = None
    avail: int | None = None

    @property
    def device(self) -> str:
        """The source without the bracketed fs root findmnt adds for bind mounts and subvolumes."""
        if self.source.endswith("]") and "[" in self.source:
            return self.source[: self.source.rindex("[")]
        return self.source

    def __fspath__(self) -> str:
        """The mountpoint."""
        return self.target


@dataclass(frozen=True, slots=True)
class LoopDevice:
    """A loop device and the file behind it."""

    path: str
    backing_file: str
    read_only: bool = False
    offset: int = 0
    sizelimit: int = 0
    #: ``maj:min`` of the filesystem holding the backing file and its inode: the file's identity (0s: unknown)
    back_dev: str = "0:0"
    back_ino: int = 0

    def __fspath__(self) -> str:
        """``/dev/loopN``: pass the loop device on to mkfs, mount, crypt.format…"""
        return self.path


class FsckStatus(enum.Enum):
    """What a filesystem check found."""

    CLEAN = "clean"
    FIXED = "fixed"
    FIXED_REBOOT = "fixed-reboot-needed"
    ERRORS = "errors-left"


@dataclass(frozen=True, slots=True)
class FsckResult:
    """The outcome of ``check_filesystem()``."""

    device: str
    fstype: str
    status: FsckStatus
    returncode: int
    output: str = ""

    def __fspath__(self) -> str:
        """The checked device."""
        return self.device


@dataclass(frozen=True, slots=True)
class Filesystem:
    """A filesystem made by ``create_filesystem()``."""

    device: str
    fstype: str
    label: str | None = None
    uuid: str | None = None

    def __fspath__(self) -> str:
        """The device holding the filesystem: pass it on to mount, set_label…"""
        return self.device


@dataclass(frozen=True, slots=True)
class Resized:
    """A size change: ``old`` and ``new`` bytes (what the undo needs)."""

    device: str
    kind: str
    old: int
    new: int

    def __fspath__(self) -> str:
        """The resized device."""
        return self.device


@dataclass(frozen=True, slots=True)
class Relabelled:
    """A label or UUID change with the old value (None = there was none)."""

    device: str
    fstype: str
    old: str | None
    new: str | None

    def __fspath__(self) -> str:
        """The relabelled device."""
        return self.device


