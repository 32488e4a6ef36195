"""Readers: each runs one read-only command through the core runner and hands its output to a pure parser.

In a dry run they answer with the planning model laid over the system (``pybofh_blockdev.effects`` writes it): a
filesystem, mount or loop device a planned step made is there, one it removed is not, and nothing is asked of a
device only a planned step made (an LV, a LUKS mapping: a ``BLOCK`` entry).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from pybofh_core.errors import NotFoundError, ValidationError
from pybofh_core.model import BLOCK, GONE, Placeholder, PlannedDevice
from pybofh_core.runner import device_size, get_runner, run, same_path

from . import parsers
from .checks import check_device
from .effects import FS, LOOP, MOUNT, PlannedFilesystem
from .types import EXT_FAMILY, BlockDevice, DeviceTree, LoopDevice, Mount, Probe

T = TypeVar("T")

LSBLK_ARGV = ["lsblk", "-J", "-b", "-O"]
FINDMNT_ARGV = ["findmnt", "-J", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS,FSROOT"]
LOSETUP_ARGV = ["losetup", "--list", "--json", "-O", "NAME,BACK-FILE,RO,SIZELIMIT,OFFSET,BACK-INO,BACK-MAJ:MIN"]


#: The probe key of a planned device whose real content a dry run cannot read (``PlannedDevice.sealed``)
SEALED = "PYBOFH_SEALED"


def planned(kind: str, key: str) -> Any:
    """The dry run's planned object of ``kind`` (``GONE`` if a planned step removed it), None when no planned step
    touched it or commands really run."""
    model = get_runner().model
    return None if model is None else model.get(kind, key)


def _planned(kind: str, real: list[T], key: Callable[[T], str]) -> list[T]:
    """``real`` with the dry run's planning model laid over it; as is where commands really run."""
    model = get_runner().model
    return real if model is None else model.overlay(kind, real, key)


def _planned_device(path: str) -> BlockDevice | None:
    """A device only a planned step made, as lsblk would list it (with the filesystem planned on it), or None."""
    found = planned(BLOCK, path)
    if not isinstance(found, PlannedDevice):
        return None
    fs = planned(FS, path)
    fs = fs if isinstance(fs, PlannedFilesystem) else None
    return BlockDevice(key=path, name=os.path.basename(path), path=path, size=found.size,
                       fstype=fs.fstype if fs else None, label=fs.label if fs else None, uuid=fs.uuid if fs else None,
                       mountpoints=tuple(m.target for m in list_mounts() if m.device == path))


def _with_plan(tree: DeviceTree) -> DeviceTree:
    """``tree`` as the planned steps leave it: filesystems planned on its devices, and the devices they made."""
    model = get_runner().model
    if model is None:
        return tree
    devices = dict(tree.devices)
    for key, dev in list(devices.items()):
        fs = model.get(FS, dev.path or "")
        if isinstance(fs, PlannedFilesystem):
            devices[key] = replace(dev, fstype=fs.fstype, label=fs.label, uuid=fs.uuid, label_raw=None)
        elif fs is GONE:
            devices[key] = replace(dev, fstype=None, label=None, uuid=None, label_raw=None)
    roots = list(tree.roots)
    for path in model.touched(BLOCK):
        made = _planned_device(path)
        if made is not None and path not in devices and not any(d.path == path for d in devices.values()):
            devices[path] = made
            roots.append(path)
    return replace(tree, devices=devices, roots=tuple(roots))


def list_devices() -> DeviceTree:
    """All block devices (in a dry run, as the planned steps leave them): ``_lsblk_devices()``."""
    return _with_plan(_lsblk_devices())


def _lsblk_devices() -> DeviceTree:
    """All block devices as a tree, from one ``lsblk -J -b -O`` call plus at most one ``blkid`` call.

    Without udev (containers, early boot, this project's CI) lsblk leaves FSTYPE/LABEL/UUID empty; those are filled
    by one ``blkid -c /dev/null -o export DEV...`` over every non-empty device lsblk knew nothing about. (A single
    ``blkid -p`` call cannot do this: it stops at the first device without a signature.) A label that is not UTF-8
    is kept exactly (``label_raw``), which can take one more ``blkid -o udev`` call (see ``_exact_labels()``).
    """
    tree = parsers.parse_lsblk_json(run(LSBLK_ARGV, readonly=True).stdout, source="lsblk -J -b -O")
    todo = [
        d.path for d in tree
        if d.path and d.fstype is None and d.pttype is None and (d.size or 0) > 0 and d.type not in ("rom",)
    ]
    if not todo:
        return tree
    res = run(["blkid", "-c", "/dev/null", "-o", "export", *dict.fromkeys(todo)], readonly=True, ok_codes=(0, 2))
    found = {p.device: p for p in parsers.parse_blkid_export(res.stdout, source="blkid -o export") if p.device}
    labels = _exact_labels([d for d, p in found.items() if "LABEL" in p.ambiguous], found)
    devices = {}
    for key, dev in tree.devices.items():
        p = found.get(dev.path or "")
        if p is not None:
            label, label_raw = labels.get(dev.path or "", (p.tags.get("LABEL"), p.raw.get("LABEL")))
            dev = replace(
                dev,
                fstype=dev.fstype or p.tags.get("TYPE"),
                label=dev.label or label,
                label_raw=dev.label_raw if dev.label else label_raw,
                uuid=dev.uuid or p.tags.get("UUID"),
                pttype=dev.pttype or p.tags.get("PTTYPE"),
                partuuid=dev.partuuid or p.tags.get("PARTUUID"),
            )
        devices[key] = dev
    return replace(tree, devices=devices)


UDEV_LABEL_ARGV = ["blkid", "-c", "/dev/null", "-o", "udev", "-s", "LABEL", "-s", "UUID"]


def _exact_labels(paths: list[str], found: Mapping[str, Probe]) -> dict[str, tuple[str, bytes | None]]:
    """Labels blkid's export notation left ambiguous (``DonnM-ies``: Latin-1 ``Données`` or that literal text), read
    exactly from ``blkid -o udev`` (``ID_FS_LABEL_ENC``), one call for all of them; rare, as it takes a label that
    is not UTF-8 or contains ``M-``. The udev format names no device, so blocks are matched in argv order and each
    is checked against the export probe's UUID; on any mismatch the literal reading is kept."""
    if not paths:
        return {}
    res = run([*UDEV_LABEL_ARGV, *paths], readonly=True, ok_codes=(0, 2))
    probes = parsers.parse_blkid_udev(res.stdout, source="blkid -o udev -s LABEL -s UUID")
    if len(probes) != len(paths):
        return {}
    out: dict[str, tuple[str, bytes | None]] = {}
    for path, probe in zip(paths, probes, strict=True):
        if probe.uuid != found[path].uuid or probe.label is None:
            return {}
        out[path] = (probe.label, probe.raw.get("LABEL"))
    return out


def get_device(device: str) -> BlockDevice:
    """One device of ``list_devices()``, by path or name (one only a planned step made: without running lsblk)."""
    return _planned_device(device) or list_devices().get(device)


def probe(device: str) -> dict[str, str]:
    """What ``device`` contains, from ``blkid -p -o export``: ``TYPE``, ``USAGE``, ``UUID``, ``LABEL``, ``VERSION``…

    Empty when blkid recognises nothing. Several conflicting signatures (blkid exit status 8) give
    ``{"AMBIVALENT": "1"}`` so callers never mistake such a device for an empty one. In a dry run a filesystem a
    planned step made or changed answers for itself, and a device only a planned step made holds nothing else —
    or, opened over real content a dry run cannot read (a LUKS mapping), ``{"PYBOFH_SEALED": what it holds}``.
    """
    device = check_device(device)
    fs = planned(FS, device)
    if isinstance(fs, PlannedFilesystem):
        return fs.tags()
    made = planned(BLOCK, device)
    if fs is GONE or isinstance(made, PlannedDevice):
        return {SEALED: made.sealed} if isinstance(made, PlannedDevice) and made.sealed and fs is not GONE else {}
    res = run(["blkid", "-p", "-o", "export", "--", device], readonly=True, ok_codes=(0, 2, 8))
    if res.returncode == 8:
        return {"AMBIVALENT": "1"}
    if res.returncode == 2:
        if res.err.strip():  # exit 2 is also "cannot read the device" (blkid: error: DEV: Operation not permitted)
            from pybofh_core.errors import CommandError

            raise CommandError(res.argv, 2, res.stdout, res.stderr, reason="blkid could not probe the device")
        return {}
    probes = parsers.parse_blkid_export(res.stdout, source=f"blkid -p {device}")
    return dict(probes[0].tags) if probes else {}


def get_size(device: str) -> int:
    """Size of ``device`` in bytes (``blockdev --getsize64``; in a dry run, the size a planned step gave it)."""
    return device_size(check_device(device))


def list_mounts() -> list[Mount]:
    """Every mounted filesystem (``findmnt -J``), parents before children; in a dry run, with the planned mounts
    (after the real ones) and without the planned unmounts."""
    real = parsers.parse_findmnt(run(FINDMNT_ARGV, readonly=True).stdout, source="findmnt -J")
    return _planned(MOUNT, real, lambda m: m.target)


def _same(a: str, b: str) -> bool:
    """Whether two paths name the same device or mountpoint where commands run (``pybofh_core.runner.same_path``)."""
    return same_path(a, b)


def mounts_of(device: str, mounts: list[Mount] | None = None) -> list[Mount]:
    """Where ``device`` is mounted (possibly several places); empty when it is not."""
    mounts = list_mounts() if mounts is None else mounts
    return [m for m in mounts if m.device.startswith("/") and _same(m.device, device)]


def mount_at(target: str, mounts: list[Mount] | None = None) -> Mount | None:
    """The filesystem mounted on directory ``target`` (the topmost one), or None."""
    mounts = list_mounts() if mounts is None else mounts
    found = [m for m in mounts if _same(m.target, target)]
    return found[-1] if found else None


def is_mounted(path: str) -> bool:
    """Whether ``path`` is a mounted device or a directory something is mounted on."""
    mounts = list_mounts()
    return bool(mounts_of(path, mounts)) or mount_at(path, mounts) is not None


def active_swaps() -> list[str]:
    """Devices and files in use as swap (``swapon --show``)."""
    res = run(["swapon", "--show=NAME", "--noheadings", "--raw"], readonly=True)
    return parsers.parse_swapon(res.stdout)


def list_loops() -> list[LoopDevice]:
    """Attached loop devices with their backing files (``losetup --list --json``); in a dry run, as the planned
    attaches and detaches leave them."""
    real = parsers.parse_losetup_json(run(LOSETUP_ARGV, readonly=True).stdout, source="losetup --list --json")
    return _planned(LOOP, real, lambda lp: lp.path)


def get_loop(device: str) -> LoopDevice:
    """The attached loop device ``device``; NotFoundError when it is not attached."""
    for loop in list_loops():
        if _same(loop.path, device):
            return loop
    raise NotFoundError(f"loop device {device} is not attached")


def require_unmounted(device: str, why: str) -> None:
    """Raise ValidationError if ``device`` is mounted (or active swap); ``why`` says what needs it unmounted."""
    where = [m.target for m in mounts_of(device)]
    if where:
        raise ValidationError(f"{device} is mounted on {', '.join(where)}; unmount it before {why}")


# --- filesystem details --------------------------------------------------------------------------------------------


#: mke2fs's "small" and "floppy" types (below 512 MiB) take 1 KiB blocks, others 4 KiB (Debian's mke2fs.conf)
EXT_SMALL = 512 * 1024**2


def ext_info(device: str) -> dict[str, int | str]:
    """ext2/3/4 superblock facts (``dumpe2fs -h``): block count, block size, size in bytes, label, UUID.

    In a dry run a filesystem a planned step resized has its planned size, and one a planned mkfs made has the
    block size mke2fs gives its size by default."""
    fs = planned(FS, device)
    made = isinstance(fs, PlannedFilesystem) and (isinstance(fs.uuid, Placeholder)
                                                  or isinstance(planned(BLOCK, device), PlannedDevice))
    if isinstance(fs, PlannedFilesystem) and fs.fstype in EXT_FAMILY and made:
        bsize = 1024 if fs.size < EXT_SMALL else 4096
        return {"block_count": fs.size // bsize, "block_size": bsize, "size": fs.size // bsize * bsize,
                "state": "clean", "label": fs.label or "", "uuid": fs.uuid or ""}
    res = run(["dumpe2fs", "-h", device], readonly=True)
    info = parsers.parse_dumpe2fs(res.stdout, source=f"dumpe2fs -h {device}")
    if isinstance(fs, PlannedFilesystem) and fs.fstype in EXT_FAMILY and fs.size != info["size"]:
        bsize = int(info["block_size"])
        info.update(block_count=fs.size // bsize, size=fs.size // bsize * bsize)
    return info


def ext_minimum_size(device: str) -> int:
    """The smallest size in bytes ``resize2fs`` could shrink this ext filesystem to (``resize2fs -P``)."""
    blocks = parsers.parse_resize2fs_minimum(run(["resize2fs", "-P", device], readonly=True).stdout)
    return blocks * int(ext_info(device)["block_size"])


def xfs_info(mountpoint: str) -> dict[str, int]:
    """XFS data-section geometry (``xfs_info``) of the filesystem mounted on ``mountpoint``, or on the device of
    that name (xfsprogs 5+ reads an unmounted one; a dry run does, where the temporary mount is only planned); a
    filesystem a planned step made or resized answers for itself."""
    fs = planned(FS, mountpoint)
    if isinstance(fs, PlannedFilesystem) and fs.fstype == "xfs":
        return {"block_size": 4096, "size": fs.size}
    return parsers.parse_xfs_info(run(["xfs_info", mountpoint], readonly=True).stdout, source=f"xfs_info {mountpoint}")


def btrfs_device(mountpoint: str, device: str) -> dict[str, int | str]:
    """The devid and size of ``device`` inside the btrfs mounted on ``mountpoint`` (or the btrfs on the device
    ``mountpoint``: ``btrfs filesystem show`` reads an unmounted one); a planned filesystem answers for itself."""
    fs = planned(FS, device)
    if isinstance(fs, PlannedFilesystem) and fs.fstype == "btrfs":
        return {"devid": 1, "size": fs.size, "used": 0, "path": device}
    res = run(["btrfs", "filesystem", "show", "--raw", mountpoint], readonly=True)
    for dev in parsers.parse_btrfs_devices(res.stdout, source=f"btrfs filesystem show {mountpoint}"):
        if _same(str(dev["path"]), device):
            return dev
    raise NotFoundError(f"{device} is not a device of the btrfs filesystem mounted on {mountpoint}")


def btrfs_minimum_size(mountpoint: str, devid: int) -> int:
    """The smallest size in bytes device ``devid`` of the btrfs on ``mountpoint`` can shrink to."""
    res = run(["btrfs", "inspect-internal", "min-dev-size", f"--id={devid}", mountpoint], readonly=True)
    return parsers.parse_btrfs_min_dev_size(res.stdout)


def content_size(device: str, fstype: str) -> int | None:
    """How many bytes of ``device`` the filesystem or swap on it uses (its own size), None when unknown."""
    fs = planned(FS, device)
    if isinstance(fs, PlannedFilesystem) and fs.fstype == fstype:  # made or resized by a planned step
        return fs.size
    if fstype in ("ext2", "ext3", "ext4"):
        return int(ext_info(device)["size"])
    if fstype == "btrfs":
        res = run(["btrfs", "inspect-internal", "dump-super", device], readonly=True)
        return parsers.parse_btrfs_dev_total_bytes(res.stdout, source=f"btrfs inspect-internal dump-super {device}")
    if fstype == "xfs":
        res = run(["xfs_db", "-r", "-c", "sb 0", "-c", "p dblocks", "-c", "p blocksize", device], readonly=True)
        return parsers.parse_xfs_db_size(res.stdout, source=f"xfs_db {device}")
    if fstype == "swap":
        res = run(["dd", f"if={device}", f"bs={parsers.SWAP_PAGE}", "count=1", "status=none"], readonly=True)
        return parsers.parse_swap_header(res.stdout, source=f"swap header of {device}")
    return None
