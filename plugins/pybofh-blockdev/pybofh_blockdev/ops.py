"""Operations on block devices, each with its inverse right beside it: loops, filesystems, labels, mounts, resizes.

Every function validates its input before the first command, runs its commands through the core runner, and
returns what its undo needs (old sizes, old labels, mount options).
"""

from __future__ import annotations

import os
import re
import uuid as uuidlib
from typing import Any

from pybofh_core import operation, undo
from pybofh_core.errors import CommandError, NotFoundError, ParseError, PybofhError, ValidationError
from pybofh_core.runner import DryRunRunner, get_runner, run
from pybofh_core.validate import parse_size

from . import checks, facts
from .checks import (
    check_device,
    check_directory,
    check_file,
    check_fstype,
    check_label,
    check_loop_device,
    check_options,
    check_uuid,
)
from .types import EXT_FAMILY, Filesystem, FsckResult, FsckStatus, LoopDevice, Mount, Relabelled, Resized

NEXT_FREE_LOOP = "(next free loop device)"


class FilesystemErrorsLeft(PybofhError):
    """A filesystem check found errors it could not repair."""


class MountPoolExhaustedError(PybofhError):
    """Every slot of a MountPool is in use (by this or another process)."""


# --- loop devices -------------------------------------------------------------------------------------------------


@operation(inverse=lambda loop: undo(detach_loop, loop.path), creates=lambda loop: [loop.path], requires=["losetup"])
def attach_loop(
    file: str, *, device: str | None = None, read_only: bool = False, partscan: bool = False
) -> LoopDevice:
    """Attach regular file ``file`` to a free loop device (or to ``device``) and return it (``/dev/loopN``)."""
    file = check_file(file)
    if device is not None and not re.fullmatch(r"/dev/loop[0-9]+", str(device)):
        raise ValidationError(f"loop device: {device!r} is not a /dev/loopN path")
    argv = ["losetup", "--show"]
    if read_only:
        argv.append("--read-only")
    if partscan:
        argv.append("--partscan")
    argv += ["--", device, file] if device else ["--find", "--", file]
    out = run(argv).text.strip()
    if not out:  # a dry run prints nothing
        out = device or NEXT_FREE_LOOP
    elif not re.fullmatch(r"/dev/loop[0-9]+", out):
        raise ParseError("losetup", "expected the /dev/loopN it attached", out, "losetup --show")
    return LoopDevice(path=out, backing_file=file, read_only=read_only)


def _undo_detach(loop: LoopDevice) -> Any:
    if not loop.backing_file or loop.backing_file.endswith("(deleted)"):
        return None  # the file is gone: nothing can be attached again
    return undo(attach_loop, loop.backing_file, device=loop.path, read_only=loop.read_only)


@operation(inverse=_undo_detach, requires=["losetup"])
def detach_loop(device: str) -> LoopDevice:
    """Detach loop device ``device``; refuses while it (or a partition of it) is mounted."""
    device = check_loop_device(device)
    loop = facts.get_loop(device)
    busy = [m.target for m in facts.list_mounts()
            if m.device == device or re.fullmatch(re.escape(device) + r"p[0-9]+", m.device)]
    if busy:
        raise ValidationError(f"{device} is mounted on {', '.join(busy)}; unmount it before detaching")
    run(["losetup", "--detach", device])
    return loop


@operation(inverse=lambda res: undo(resize_loop, res.device, res.old), requires=["losetup", "truncate"])
def resize_loop(device: str, size: int | str) -> Resized:
    """Resize loop device ``device`` to ``size`` bytes by resizing its backing file (``truncate`` + ``losetup -c``).

    Shrinking cuts the end of the file: shrink what is inside first (:class:`~pybofh_blockdev.layers.BlockDeviceStack`
    does that).
    """
    device = check_loop_device(device)
    new = parse_size(size, what="loop size", minimum=512, multiple_of=512)
    loop = facts.get_loop(device)
    if loop.offset or loop.sizelimit:
        raise ValidationError(f"{device} uses an offset or size limit; resizing such loop devices is not supported")
    if not loop.backing_file.startswith("/") or loop.backing_file.endswith("(deleted)"):
        raise ValidationError(f"{device} has no resizable backing file ({loop.backing_file!r})")
    old = facts.get_size(device)
    if new < old:
        content = facts.probe(device)
        if content.get("TYPE") in EXT_FAMILY and int(facts.ext_info(device)["size"]) > new:
            raise ValidationError(
                f"{device} holds a {content['TYPE']} filesystem larger than {new} bytes; shrink it first"
            )
    if new != old:
        run(["truncate", "-s", str(new), "--", loop.backing_file])
        run(["losetup", "--set-capacity", device])
    return Resized(device=device, kind="loop", old=old, new=new)


# --- filesystems --------------------------------------------------------------------------------------------------


def _mkfs_argv(fstype: str, device: str, label: str | None, uuid: str | None, force: bool) -> list[str]:
    if fstype in EXT_FAMILY:
        argv = [f"mkfs.{fstype}", "-q"] + (["-F"] if force else [])
        argv += (["-L", label] if label is not None else []) + (["-U", uuid] if uuid else [])
    elif fstype == "xfs":
        argv = ["mkfs.xfs", "-q"] + (["-f"] if force else [])
        argv += (["-L", label] if label is not None else []) + (["-m", f"uuid={uuid}"] if uuid else [])
    elif fstype == "btrfs":
        argv = ["mkfs.btrfs", "-q"] + (["-f"] if force else [])
        argv += (["-L", label] if label is not None else []) + (["-U", uuid] if uuid else [])
    else:  # swap
        argv = ["mkswap"] + (["-f"] if force else [])
        argv += (["-L", label] if label is not None else []) + (["-U", uuid] if uuid else [])
    return [*argv, "--", device]


@operation(irreversible="mkfs destroys what the device held", target="device", aliases=["createFilesystem"],
           requires=["mkfs.ext4", "mkfs.xfs", "mkfs.btrfs", "mkswap"])
def create_filesystem(
    device: str, fstype: str = "ext4", label: str | None = None, force: bool = False, uuid: str | None = None
) -> Filesystem:
    """Make a ``fstype`` filesystem (ext2/3/4, xfs, btrfs, swap) on ``device``.

    Refuses a mounted device, and (unless ``force``) a device where blkid finds any signature: a filesystem,
    partition table, LUKS header or PV.
    """
    device = check_device(device)
    fstype = check_fstype(fstype)
    if label is not None:
        label = check_label(label, fstype)
        if fstype == "xfs" and " " in label:
            raise ValidationError(f"label {label!r}: xfs labels cannot contain spaces here (xfs_admin splits them)")
    if uuid is not None:
        uuid = check_uuid(uuid)
    facts.require_unmounted(device, "making a filesystem on it")
    if device in facts.active_swaps():
        raise ValidationError(f"{device} is an active swap; swapoff it first")
    if not force:
        found = facts.probe(device)
        what = found.get("TYPE") or (found.get("PTTYPE") and f"a {found['PTTYPE']} partition table")
        if what or found:
            raise ValidationError(
                f"{device} already contains {what or 'several signatures'}; pass force=True to overwrite it"
            )
    run(_mkfs_argv(fstype, device, label, uuid, force))
    return Filesystem(device=device, fstype=fstype, label=label, uuid=uuid)


createFilesystem = create_filesystem


def _fstype_of(device: str) -> str:
    found = facts.probe(device)
    fstype = found.get("TYPE")
    if fstype is None:
        raise ValidationError(f"{device} holds no filesystem blkid recognises")
    if fstype not in ("ext2", "ext3", "ext4", "xfs", "btrfs", "swap"):
        raise ValidationError(f"{device} holds {fstype}, which pybofh-blockdev does not manage")
    return fstype


def _fsck_status(fstype: str, rc: int, repair: bool) -> FsckStatus:
    if fstype in EXT_FAMILY:
        return {0: FsckStatus.CLEAN, 1: FsckStatus.FIXED, 2: FsckStatus.FIXED_REBOOT}.get(rc, FsckStatus.ERRORS)
    if rc == 0:
        return FsckStatus.FIXED if repair and fstype == "xfs" else FsckStatus.CLEAN
    return FsckStatus.ERRORS


@operation(inverse=lambda res: None, requires=["e2fsck", "xfs_repair", "btrfs"])
def check_filesystem(device: str, repair: bool = False) -> FsckResult:
    """Check the (unmounted) filesystem on ``device``; with ``repair`` fix what can be fixed. Nothing to undo.

    e2fsck exit 1 (errors fixed) and 2 (fixed, reboot needed) count as success; 4 and up mean errors left.
    btrfs is only checked read-only: ``btrfs check --repair`` is too dangerous to run unattended.
    """
    device = check_device(device)
    fstype = _fstype_of(device)
    if fstype == "btrfs" and repair:
        raise ValidationError("btrfs check --repair is dangerous; run it by hand after reading btrfs-check(8)")
    facts.require_unmounted(device, "checking it")
    ok: tuple[int, ...]
    if fstype in EXT_FAMILY:
        argv = ["e2fsck", "-f", "-y" if repair else "-n", device]
        ok = (0, 1, 2, 4)
    elif fstype == "xfs":
        argv = ["xfs_repair", device] if repair else ["xfs_repair", "-n", device]
        ok = (0, 1)
    elif fstype == "btrfs":
        argv = ["btrfs", "check", "--readonly", device]
        ok = (0, 1)
    else:
        raise ValidationError(f"{device} is swap, which has nothing to check")
    res = run(argv, ok_codes=ok, readonly=not repair)
    status = _fsck_status(fstype, res.returncode, repair)
    return FsckResult(device, fstype, status, res.returncode, res.text + res.err)


def _need_mountpoint(device: str, fstype: str, temp_mount: bool) -> tuple[str, bool]:
    """The mountpoint of ``device``; mounts it on a temp dir when allowed (returned flag: unmount afterwards)."""
    where = facts.mounts_of(device)
    if where:
        return where[0].target, False
    if not temp_mount:
        raise ValidationError(f"{fstype} on {device} is resized while mounted; mount it (or pass temp_mount=True)")
    import tempfile

    mp = tempfile.mkdtemp(prefix="pybofh-resize-")
    try:
        mount(device, mp)
    except BaseException:
        os.rmdir(mp)
        raise
    return mp, True


def _release_temp(mp: str) -> None:
    unmount(mp)
    os.rmdir(mp)


def _multiple(value: int, step: int, what: str) -> None:
    if value % step:
        lower, upper = value // step * step, (value // step + 1) * step
        raise ValidationError(f"{what} {value} is not a multiple of the {step}-byte block; use {lower} or {upper}")


def _resize_undo(res: Resized) -> Any:
    if res.old == res.new or res.kind == "xfs":
        return None  # xfs cannot shrink back; nothing else changed
    if res.kind == "btrfs":
        return undo(resize_filesystem, res.device, res.old, temp_mount=True)
    return undo(resize_filesystem, res.device, res.old, remount=True)  # ext grown online shrinks only unmounted


@operation(inverse=_resize_undo, requires=["resize2fs", "e2fsck", "xfs_growfs", "btrfs", "mkswap"])
def resize_filesystem(
    device: str, size: int | str | None = None, *, temp_mount: bool = False, remount: bool = False
) -> Resized:
    """Resize the filesystem on ``device`` to ``size`` bytes, or to fill the device when ``size`` is None.

    ext2/3/4: grow or shrink unmounted (``e2fsck -f -y`` first), grow only while mounted; never below
    ``resize2fs -P``. xfs: grow only, while mounted (``xfs_growfs``). btrfs: ``btrfs filesystem resize`` on its
    mountpoint, never below ``min-dev-size``. swap: re-made by mkswap with its label and UUID. xfs and btrfs need
    a mountpoint: with ``temp_mount`` an unmounted one is mounted on a temporary directory for the resize. With
    ``remount`` a mounted ext filesystem that must shrink is unmounted, shrunk and mounted again where it was (the
    undo of an online grow uses this).
    """
    device = check_device(device)
    target = None if size is None else parse_size(size, what="filesystem size", minimum=1)
    fstype = _fstype_of(device)
    dev_size = facts.get_size(device)
    if isinstance(get_runner(), DryRunRunner) and target is not None:
        dev_size = max(dev_size, target)  # a dry run did not grow the device in an earlier step: assume it did
    if target is not None and target > dev_size:
        raise ValidationError(
            f"filesystem size {target} is larger than {device} ({dev_size} bytes); grow the device first"
        )
    if fstype in EXT_FAMILY:
        return _resize_ext(device, fstype, target, dev_size, remount)
    if fstype == "swap":
        return _resize_swap(device, target, dev_size)
    mp, temporary = _need_mountpoint(device, fstype, temp_mount)
    try:
        if fstype == "xfs":
            return _resize_xfs(device, mp, target)
        return _resize_btrfs(device, mp, target, dev_size)
    finally:
        if temporary:
            _release_temp(mp)


def _resize_ext(device: str, fstype: str, target: int | None, dev_size: int, remount: bool = False) -> Resized:
    info = facts.ext_info(device)
    bs, old = int(info["block_size"]), int(info["size"])
    new = dev_size // bs * bs if target is None else target
    _multiple(new, bs, "filesystem size")
    if new == old:
        return Resized(device, fstype, old, old)
    where = facts.mounts_of(device)
    if where and new < old and not remount:
        raise ValidationError(f"{device} is mounted; {fstype} shrinks only unmounted")
    if new < old:
        minimum = facts.ext_minimum_size(device)
        if new < minimum:
            raise ValidationError(f"{device}: {new} bytes is below the filesystem's minimum of {minimum} bytes")
    if where and new < old:  # remount: unmount, shrink, mount again where and how it was
        if len(where) > 1:
            raise ValidationError(f"{device} is mounted {len(where)} times; unmount it to shrink it")
        gone = unmount(where[0].target)
        try:
            return _resize_ext(device, fstype, new, dev_size)
        finally:
            mount(gone.device, gone.target, _remount_options(gone))
    if not where:
        checked = check_filesystem(device, repair=True)
        if checked.status is FsckStatus.ERRORS:
            raise FilesystemErrorsLeft(f"e2fsck left errors on {device} (exit {checked.returncode}); not resizing")
    run(["resize2fs", device, f"{new // 1024}K"])
    return Resized(device, fstype, old, new)


def _resize_xfs(device: str, mp: str, target: int | None) -> Resized:
    info = facts.xfs_info(mp)
    bs, old = info["block_size"], info["size"]
    if target is not None:
        _multiple(target, bs, "filesystem size")
        if target < old:
            raise ValidationError(f"xfs on {device} cannot shrink ({old} → {target} bytes)")
        if target == old:
            return Resized(device, "xfs", old, old)
        run(["xfs_growfs", "-D", str(target // bs), mp])
        return Resized(device, "xfs", old, target)
    run(["xfs_growfs", mp])
    return Resized(device, "xfs", old, facts.xfs_info(mp)["size"])


BTRFS_RESIZE_MIN = 256 * 1024**2  # the kernel's btrfs_ioctl_resize refuses smaller sizes with EINVAL


def _resize_btrfs(device: str, mp: str, target: int | None, dev_size: int) -> Resized:
    dev = facts.btrfs_device(mp, device)
    devid, old = int(dev["devid"]), int(dev["size"])
    new = dev_size // 4096 * 4096 if target is None else target
    _multiple(new, 4096, "filesystem size")
    if new == old:
        return Resized(device, "btrfs", old, old)
    if new < BTRFS_RESIZE_MIN:
        raise ValidationError(f"{device}: the kernel does not resize btrfs below 256 MiB (asked {new} bytes)")
    if new < old:
        minimum = facts.btrfs_minimum_size(mp, devid)
        if new < minimum:
            raise ValidationError(f"{device}: {new} bytes is below the btrfs minimum of {minimum} bytes")
    run(["btrfs", "filesystem", "resize", f"{devid}:{'max' if target is None else new}", mp])
    return Resized(device, "btrfs", old, new)


def _resize_swap(device: str, target: int | None, dev_size: int) -> Resized:
    if device in facts.active_swaps():
        raise ValidationError(f"{device} is an active swap; swapoff it before resizing")
    found = facts.probe(device)
    new = dev_size if target is None else target
    _multiple(new, 4096, "swap size")
    argv = ["mkswap"]
    if found.get("LABEL"):
        argv += ["-L", found["LABEL"]]
    if found.get("UUID"):
        argv += ["-U", found["UUID"]]
    run([*argv, "--", device, str(new // 1024)])
    return Resized(device, "swap", dev_size, new)


# --- labels and UUIDs ---------------------------------------------------------------------------------------------


@operation(inverse=lambda res: undo(set_label, res.device, res.old or ""),
           requires=["e2label", "xfs_admin", "btrfs", "swaplabel"])
def set_label(device: str, label: str) -> Relabelled:
    """Set (``""``: clear) the label of the filesystem or swap on ``device``; returns the old label for the undo."""
    device = check_device(device)
    check_label(label, "btrfs")  # the loosest limits: the filesystem's own are checked once it is known
    found = facts.probe(device)
    fstype = found.get("TYPE") or ""
    if fstype not in ("ext2", "ext3", "ext4", "xfs", "btrfs", "swap"):
        raise ValidationError(f"{device} holds {fstype or 'nothing blkid recognises'}; cannot label it")
    label = check_label(label, fstype)
    old = found.get("LABEL")
    if fstype in EXT_FAMILY:
        run(["e2label", device, label])
    elif fstype == "xfs":
        if " " in label:
            raise ValidationError(f"label {label!r}: xfs labels cannot contain spaces here (xfs_admin splits them)")
        facts.require_unmounted(device, "labelling xfs")
        run(["xfs_admin", "-L", label or "--", device])
    elif fstype == "btrfs":
        where = facts.mounts_of(device)
        run(["btrfs", "filesystem", "label", where[0].target if where else device, label])
    else:
        run(["swaplabel", "-L", label, device])
    return Relabelled(device, fstype, old, label or None)


@operation(inverse=lambda res: undo(set_uuid, res.device, res.old) if res.old else None,
           requires=["tune2fs", "xfs_admin", "btrfstune", "swaplabel"])
def set_uuid(device: str, uuid: str | None = None) -> Relabelled:
    """Give the unmounted filesystem or swap on ``device`` a new UUID (random when None); returns the old one."""
    device = check_device(device)
    new = check_uuid(uuid) if uuid is not None else str(uuidlib.uuid4())
    found = facts.probe(device)
    fstype = found.get("TYPE") or ""
    if fstype not in ("ext2", "ext3", "ext4", "xfs", "btrfs", "swap"):
        raise ValidationError(f"{device} holds {fstype or 'nothing blkid recognises'}; cannot change its UUID")
    facts.require_unmounted(device, "changing its UUID")
    if fstype in EXT_FAMILY:
        checked = check_filesystem(device, repair=True)  # tune2fs -U wants a freshly checked filesystem
        if checked.status is FsckStatus.ERRORS:
            raise FilesystemErrorsLeft(f"e2fsck left errors on {device}; not changing its UUID")
        run(["tune2fs", "-U", new, device])
    elif fstype == "xfs":
        run(["xfs_admin", "-U", new, device])
    elif fstype == "btrfs":
        run(["btrfstune", "-f", "-U", new, device])
    else:
        run(["swaplabel", "-U", new, device])
    return Relabelled(device, fstype, found.get("UUID"), new)


# --- mounts -------------------------------------------------------------------------------------------------------


@operation(inverse=lambda m: undo(unmount, m.target), requires=["mount"])
def mount(device: str, mountpoint: str, options: Any = (), fstype: str | None = None) -> Mount:
    """Mount ``device`` on the existing directory ``mountpoint`` with ``options`` (``["ro", "noatime"]``)."""
    device = check_device(device)
    mountpoint = check_directory(mountpoint)
    opts = check_options(options)
    if fstype is not None and not re.fullmatch(r"[a-z0-9_.]+", str(fstype)):
        raise ValidationError(f"filesystem type {fstype!r} is not a plain name")
    busy = facts.mount_at(mountpoint)
    if busy is not None:
        raise ValidationError(f"mountpoint {mountpoint} is busy: {busy.source} is mounted there")
    argv = ["mount"] + (["-t", fstype] if fstype else []) + (["-o", ",".join(opts)] if opts else [])
    run([*argv, "--", device, mountpoint])
    return Mount(target=mountpoint, source=device, fstype=fstype or "", options=opts)


def _remount_options(m: Mount) -> list[str]:
    opts = ["ro"] if m.read_only else []
    if m.fstype == "btrfs" and m.fsroot and m.fsroot != "/":
        opts.append(f"subvol={m.fsroot.lstrip('/')}")
    return opts


@operation(inverse=lambda m: undo(mount, m.device, m.target, _remount_options(m)), requires=["umount"])
def unmount(target: str) -> Mount:
    """Unmount the filesystem on directory ``target``, or the single mount of device ``target``."""
    from pybofh_core.validate import validate_path

    target = validate_path(target, what="mountpoint or device")
    if checks._kind(target) is None:  # nothing can be mounted on (or from) a path that does not exist
        raise NotFoundError(f"mountpoint or device: {target} does not exist")
    mounts = facts.list_mounts()
    found = facts.mount_at(target, mounts)
    if found is None:
        where = facts.mounts_of(target, mounts)
        if not where:
            raise NotFoundError(f"{target} is not mounted")
        if len(where) > 1:
            raise ValidationError(f"{target} is mounted {len(where)} times ({', '.join(m.target for m in where)}); "
                                  "name the mountpoint")
        found = where[0]
    try:
        run(["umount", "--", found.target])
    except CommandError as exc:
        if "busy" in str(exc.stderr):
            raise ValidationError(f"{found.target} is busy (open files or a process inside it)") from exc
        raise
    return found
