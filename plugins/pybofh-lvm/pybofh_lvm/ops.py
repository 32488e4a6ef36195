# mypy: disable-error-code="has-type"
# (inverse= lambdas name operations decorated further down; mypy cannot type such forward references)
"""LVM operations, each with its inverse right beside it (or the reason it has none).

Every operation validates its arguments before the first command, sends sizes to LVM in bytes (``-L <n>b``), puts
``--`` before positional names, and answers LVM's prompts with ``--yes`` only where the operation itself is the
answer (``lvcreate`` wiping a stale signature, ``lvresize`` shrinking). Sizes must be whole extents of the VG:
LVM would silently round them up, and pybofh never changes a request quietly. Nothing here relies on udev:
results are computed from the arguments (so dry runs work) and state is read with the report commands.

Removals are irreversible. ``remove_lv``/``remove_vg`` are composites whose destructive step (``destroy_lv``,
``destroy_vg``) names its target by path, so an ``Atomic`` block may remove an LV or VG that it created itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pybofh_core.errors import ToolUnavailableError, ValidationError
from pybofh_core.operations import operation, undo
from pybofh_core.runner import run
from pybofh_core.validate import parse_size, validate_device, validate_name, validate_path

from . import facts
from .errors import ExtentSizeError
from .types import (
    LogicalVolume,
    LvActivation,
    LvKind,
    LvRenamed,
    LvResized,
    PvCreated,
    PvResized,
    VgCreated,
    VgExtended,
)

_NAME = re.compile(r"^[A-Za-z0-9+_.][A-Za-z0-9+_.-]*$")
_RESERVED_PARTS = ("_cdata", "_cmeta", "_corig", "_iorig", "_mimage", "_mlog", "_pmspare", "_rimage", "_rmeta",
                   "_tdata", "_tmeta", "_vdata", "_vorigin", "_wcorig")
_RESERVED_PREFIXES = ("snapshot", "pvmove")
_LV_PATH = re.compile(r"^/dev/([A-Za-z0-9+_.][A-Za-z0-9+_.-]*)/([A-Za-z0-9+_.][A-Za-z0-9+_.-]*)$")
_VG_PATH = re.compile(r"^/dev/([A-Za-z0-9+_.][A-Za-z0-9+_.-]*)$")


def vg_name(value: object) -> str:
    """Check a VG name against LVM's rules (letters, digits, ``+_.-``, not starting with ``-``, ≤127 bytes)."""
    return validate_name(value, what="VG name", pattern=_NAME, max_len=127)


def lv_name(value: object) -> str:
    """Check an LV name: VG name rules plus LVM's reserved prefixes and sub-LV suffixes."""
    name = validate_name(value, what="LV name", pattern=_NAME, max_len=127)
    if name.startswith(_RESERVED_PREFIXES):
        raise ValidationError(f"LV name: {name!r} starts with a prefix LVM reserves ({', '.join(_RESERVED_PREFIXES)})")
    for part in _RESERVED_PARTS:
        if part in name:
            raise ValidationError(f"LV name: {name!r} contains {part!r}, which LVM reserves for hidden sub-LVs")
    return name


def _devices(devices: str | Sequence[str]) -> list[str]:
    items = [devices] if isinstance(devices, str) else list(devices)
    if not items:
        raise ValidationError("at least one device is needed")
    out = [validate_device(d, what="PV device") for d in items]
    if len(set(out)) != len(out):
        raise ValidationError(f"a device is listed twice: {out}")
    return out


def _extent_multiple(vg: str, nbytes: int, what: str) -> int:
    """Raise ExtentSizeError unless ``nbytes`` is a whole number of ``vg``'s extents; return the extent size."""
    extent = facts.get_vg(vg).extent_size
    if extent is None or extent <= 0:
        raise ValidationError(f"cannot read the extent size of VG {vg!r}")
    if nbytes % extent:
        down, up = nbytes // extent * extent, (nbytes // extent + 1) * extent
        hint = f"{down} or {up}" if down else f"{up}"
        raise ExtentSizeError(
            f"{what}: {nbytes} bytes is not a multiple of the extent size of VG {vg!r} ({extent} bytes); "
            f"LVM would round it up — ask for {hint} bytes"
        )
    return extent


def _lv_paths(lv: LogicalVolume) -> list[str]:
    return [lv.path, lv.mapper_path]


def _split_lv_path(path: str) -> tuple[str, str]:
    path = validate_path(path, what="LV path")
    m = _LV_PATH.match(path)
    if not m:
        raise ValidationError(f"LV path: {path!r} is not of the form /dev/VG/LV")
    return vg_name(m.group(1)), lv_name(m.group(2))


# --- physical volumes ------------------------------------------------------------------------------------------------


@operation(inverse=lambda pv: undo(remove_pv, pv.device), creates=lambda pv: [pv.device], aliases=["createPV"],
           requires=["pvcreate"])
def create_pv(device: str, *, wipe_signatures: bool = False) -> PvCreated:
    """Initialise ``device`` as an LVM physical volume (``wipe_signatures`` lets LVM wipe an old fs/RAID signature)."""
    device = validate_device(device, what="PV device")
    if facts.is_pv(device):
        raise ValidationError(f"{device} is already an LVM physical volume")
    run(["pvcreate", *(["--yes"] if wipe_signatures else []), "--", device])
    return PvCreated(device)


@operation(irreversible="erases the PV label (the PV's UUID is lost)", target="device", aliases=["removePV"],
           requires=["pvremove"])
def remove_pv(device: str) -> None:
    """Remove the LVM label from ``device`` (LVM refuses while the PV belongs to a VG)."""
    device = validate_device(device, what="PV device")
    run(["pvremove", "--", device])


# --- volume groups ---------------------------------------------------------------------------------------------------


@operation(inverse=lambda vg: undo(remove_vg, vg.name, remove_pvs=list(vg.initialized)),
           creates=lambda vg: [vg.path, *vg.initialized], aliases=["createVG"], requires=["vgcreate"])
def create_vg(name: str, devices: str | Sequence[str], *, extent_size: int | str | None = None) -> VgCreated:
    """Create volume group ``name`` on ``devices``; devices that are not PVs yet are initialised by LVM (and undo
    removes their labels again)."""
    name = vg_name(name)
    devs = _devices(devices)
    extent = None
    if extent_size is not None:
        extent = parse_size(extent_size, what="extent size", minimum=1024)
        if extent & (extent - 1):
            raise ValidationError(f"extent size: {extent} bytes is not a power of two")
    pvs = facts.list_pvs()
    initialized = tuple(d for d in devs if not any(facts.same_device(p.name, d) for p in pvs))
    for dev in devs:
        for pv in pvs:
            if facts.same_device(pv.name, dev) and pv.vg:
                raise ValidationError(f"{dev} already belongs to VG {pv.vg!r}")
    run(["vgcreate", *(["-s", f"{extent}b"] if extent else []), "--", name, *devs])
    return VgCreated(name=name, devices=tuple(devs), initialized=initialized, extent_size=extent)


@operation(irreversible="deletes the volume group's metadata", target="path", requires=["vgremove"])
def destroy_vg(path: str) -> None:
    """The destructive step of :func:`remove_vg`, naming the VG by its ``/dev/VG`` path (so atomic blocks can tell
    whether they created it)."""
    path = validate_path(path, what="VG path")
    m = _VG_PATH.match(path)
    if not m:
        raise ValidationError(f"VG path: {path!r} is not of the form /dev/VG")
    run(["vgremove", "--", vg_name(m.group(1))])


@operation(composite=True, aliases=["removeVG"], requires=["vgremove", "pvremove"])
def remove_vg(vg: str, *, remove_pvs: Sequence[str] = ()) -> None:
    """Remove the empty volume group ``vg`` (LVs must be removed first), then the PV labels of ``remove_pvs``."""
    vg = vg_name(vg)
    pvs = [validate_device(d, what="PV device") for d in remove_pvs]
    left = facts.list_lvs(vg, include_hidden=True)
    if left:
        names = ", ".join(lv.full_name for lv in left)
        raise ValidationError(f"VG {vg!r} still holds logical volumes ({names}); remove them first")
    destroy_vg(f"/dev/{vg}")
    for dev in pvs:
        remove_pv(dev)


@operation(inverse=lambda r: undo(reduce_vg, r.vg, r.device, remove_pv=r.initialized), creates=lambda r: [r.device],
           requires=["vgextend"])
def extend_vg(vg: str, device: str) -> VgExtended:
    """Add ``device`` to ``vg`` (LVM initialises it as a PV first if it is not one; undo then removes the label)."""
    vg = vg_name(vg)
    device = validate_device(device, what="PV device")
    pv = next((p for p in facts.list_pvs() if facts.same_device(p.name, device)), None)
    if pv is not None and pv.vg:
        raise ValidationError(f"{device} already belongs to VG {pv.vg!r}")
    run(["vgextend", "--", vg, device])
    return VgExtended(vg=vg, device=device, initialized=pv is None)


@operation(inverse=lambda r: undo(extend_vg, r.vg, r.device), requires=["vgreduce"])
def reduce_vg(vg: str, device: str, *, remove_pv: bool = False) -> VgExtended:
    """Remove the unused PV ``device`` from ``vg`` (LVM refuses while extents on it are allocated); ``remove_pv``
    also erases its PV label."""
    vg = vg_name(vg)
    device = validate_device(device, what="PV device")
    run(["vgreduce", "--", vg, device])
    if remove_pv:
        run(["pvremove", "--", device])
    return VgExtended(vg=vg, device=device, pv_removed=remove_pv)


# --- logical volumes -------------------------------------------------------------------------------------------------


@operation(inverse=lambda lv: undo(remove_lv, lv.vg, lv.name), creates=_lv_paths, aliases=["createLV"],
           requires=["lvcreate"])
def create_lv(vg: str, name: str, size: int | str) -> LogicalVolume:
    """Create (and activate) linear logical volume ``name`` of exactly ``size`` bytes in ``vg``."""
    vg = vg_name(vg)
    name = lv_name(name)
    nbytes = parse_size(size, what="LV size", minimum=1)
    _extent_multiple(vg, nbytes, "LV size")
    run(["lvcreate", "--yes", "-n", name, "-L", f"{nbytes}b", "--", vg])
    return LogicalVolume(vg=vg, name=name, size_bytes=nbytes, segtype="linear")


@operation(inverse=lambda lv: undo(remove_lv, lv.vg, lv.name), creates=_lv_paths, requires=["lvcreate", "thin_check"])
def create_thin_pool(vg: str, name: str, size: int | str, *, metadata_spare: bool = False) -> LogicalVolume:
    """Create thin pool ``name`` with ``size`` bytes of data space in ``vg``.

    Without ``metadata_spare`` no ``lvol0_pmspare`` LV is made, so removing the pool restores the VG exactly;
    with it LVM keeps a spare for pool metadata repair, which stays after the pool is removed.
    """
    vg = vg_name(vg)
    name = lv_name(name)
    nbytes = parse_size(size, what="thin pool size", minimum=1)
    _extent_multiple(vg, nbytes, "thin pool size")
    run(["lvcreate", "--yes", "--type", "thin-pool", "--poolmetadataspare", "y" if metadata_spare else "n",
         "-n", name, "-L", f"{nbytes}b", "--", vg])
    return LogicalVolume(vg=vg, name=name, size_bytes=nbytes, segtype="thin-pool")


@operation(inverse=lambda lv: undo(remove_lv, lv.vg, lv.name), creates=_lv_paths, requires=["lvcreate"])
def create_thin_lv(vg: str, pool: str, name: str, size: int | str) -> LogicalVolume:
    """Create thin volume ``name`` of virtual ``size`` bytes in thin pool ``vg/pool``."""
    vg = vg_name(vg)
    pool = lv_name(pool)
    name = lv_name(name)
    nbytes = parse_size(size, what="thin LV size", minimum=1)
    _extent_multiple(vg, nbytes, "thin LV size")
    run(["lvcreate", "--yes", "--type", "thin", "-n", name, "-V", f"{nbytes}b", "--thinpool", pool, "--", vg])
    return LogicalVolume(vg=vg, name=name, size_bytes=nbytes, segtype="thin", pool=pool)


@operation(inverse=lambda lv: undo(remove_lv, lv.vg, lv.name), creates=_lv_paths, requires=["lvcreate"])
def snapshot_lv(vg: str, origin: str, name: str, size: int | str | None = None) -> LogicalVolume:
    """Snapshot ``vg/origin`` as ``name``: a thick snapshot with ``size`` bytes of copy-on-write space, or (no size,
    thin origin) a thin snapshot in the origin's pool, which LVM flags to be skipped by plain activation."""
    vg = vg_name(vg)
    origin = lv_name(origin)
    name = lv_name(name)
    nbytes = parse_size(size, what="snapshot size", minimum=1) if size is not None else None
    source = facts.get_lv(vg, origin)
    if nbytes is None:
        if source.kind is not LvKind.THIN:
            raise ValidationError(f"{vg}/{origin} is not a thin LV: a snapshot of it needs a size for its COW space")
        run(["lvcreate", "--yes", "-s", "-n", name, "--", f"{vg}/{origin}"])
        return LogicalVolume(vg=vg, name=name, size_bytes=source.size_bytes, segtype="thin", pool=source.pool,
                             origin=origin)
    _extent_multiple(vg, nbytes, "snapshot size")
    run(["lvcreate", "--yes", "-s", "-n", name, "-L", f"{nbytes}b", "--", f"{vg}/{origin}"])
    return LogicalVolume(vg=vg, name=name, size_bytes=nbytes, segtype="linear", origin=origin)


@operation(irreversible="destroys the LV's data", target="path", requires=["lvremove"])
def destroy_lv(path: str) -> None:
    """The destructive step of :func:`remove_lv`, naming the LV by its ``/dev/VG/LV`` path (so atomic blocks can
    tell whether they created it)."""
    vg, name = _split_lv_path(path)
    run(["lvremove", "--yes", "--", f"{vg}/{name}"])


@operation(composite=True, aliases=["removeLV"], requires=["lvremove"])
def remove_lv(vg: str, name: str) -> None:
    """Remove logical volume ``vg/name`` and its data (LVM refuses while it is open, e.g. mounted)."""
    vg = vg_name(vg)
    name = lv_name(name)
    destroy_lv(f"/dev/{vg}/{name}")


def _resize_inverse(r: LvResized) -> object:
    return undo(resize_lv, r.vg, r.name, r.old_size_bytes) if r.old_size_bytes != r.new_size_bytes else None


@operation(inverse=_resize_inverse, requires=["lvresize"])  # type: ignore[arg-type]
def resize_lv(vg: str, name: str, size: int | str) -> LvResized:
    """Make ``vg/name`` exactly ``size`` bytes (whole extents). Only the LV: its content (filesystem, LUKS) must be
    shrunk before and grown after — the block-device stack does that. Returns the old and new size."""
    vg = vg_name(vg)
    name = lv_name(name)
    nbytes = parse_size(size, what="LV size", minimum=1)
    lv = facts.get_lv(vg, name)
    if lv.size_bytes is None:
        raise ValidationError(f"cannot read the current size of {vg}/{name}")
    _extent_multiple(vg, nbytes, "LV size")
    if nbytes != lv.size_bytes:
        run(["lvresize", "--yes", "-L", f"{nbytes}b", "--", f"{vg}/{name}"])
    return LvResized(vg=vg, name=name, old_size_bytes=lv.size_bytes, new_size_bytes=nbytes)


@operation(inverse=lambda r: undo(rename_lv, r.vg, r.new_name, r.old_name), requires=["lvrename"])
def rename_lv(vg: str, name: str, new_name: str) -> LvRenamed:
    """Rename ``vg/name`` to ``vg/new_name`` (its device paths change accordingly)."""
    vg = vg_name(vg)
    name = lv_name(name)
    new_name = lv_name(new_name)
    if name == new_name:
        raise ValidationError(f"LV {vg}/{name} already has that name")
    run(["lvrename", "--", vg, name, new_name])
    return LvRenamed(vg=vg, old_name=name, new_name=new_name)


def _current_activation(vg: str, name: str) -> bool:
    lv = facts.get_lv(vg, name)
    if lv.active is None:
        raise ToolUnavailableError(
            "device-mapper", f"LVM cannot tell whether {vg}/{name} is active (attr {lv.attr!r}): no device-mapper here?"
        )
    return lv.active


def _activation_inverse(r: LvActivation) -> object:
    if not r.changed:
        return None
    return undo(deactivate_lv if r.active else activate_lv, r.vg, r.name)


@operation(inverse=_activation_inverse, requires=["lvchange"])  # type: ignore[arg-type]
def activate_lv(vg: str, name: str) -> LvActivation:
    """Activate ``vg/name`` (also one flagged to skip activation, like a thin snapshot); nothing if already active."""
    vg = vg_name(vg)
    name = lv_name(name)
    was = _current_activation(vg, name)
    if not was:
        run(["lvchange", "--activate", "y", "--ignoreactivationskip", "--", f"{vg}/{name}"])
    return LvActivation(vg=vg, name=name, was_active=was, active=True)


@operation(inverse=_activation_inverse, requires=["lvchange"])  # type: ignore[arg-type]
def deactivate_lv(vg: str, name: str) -> LvActivation:
    """Deactivate ``vg/name`` (LVM refuses while it is open); nothing if already inactive."""
    vg = vg_name(vg)
    name = lv_name(name)
    was = _current_activation(vg, name)
    if was:
        run(["lvchange", "--activate", "n", "--", f"{vg}/{name}"])
    return LvActivation(vg=vg, name=name, was_active=was, active=False)


def _pv_resize_inverse(r: PvResized) -> object:
    return undo(resize_pv, r.device, r.old_size_bytes) if r.old_size_bytes != r.new_size_bytes else None


def _pv_claim(device: str) -> int | None:
    """The device space the PV on ``device`` claims now, None when it uses the whole device."""
    pv = facts.get_pv(device)
    if pv.dev_size_bytes is None or pv.size_bytes is None or pv.pe_start is None:
        raise ValidationError(f"cannot read the size of the PV on {device}")
    if pv.vg is None:  # an orphan PV reports the claimed size itself
        return None if pv.size_bytes >= pv.dev_size_bytes else pv.size_bytes
    extent = facts.get_vg(pv.vg).extent_size or 1
    claim = pv.pe_start + pv.size_bytes
    return None if pv.dev_size_bytes - claim < extent else claim


@operation(inverse=_pv_resize_inverse, requires=["pvresize"])  # type: ignore[arg-type]
def resize_pv(device: str, size: int | str | None = None) -> PvResized:
    """Make the PV on ``device`` claim ``size`` bytes of it (None: all of it); LVM refuses to cut allocated extents.

    ``size`` is what ``pvresize --setphysicalvolumesize`` takes: device space including the label and metadata
    area; a PV in a VG then holds as many whole extents as fit. The result holds the claim before and after
    (None = the whole device), so undo gives the PV back exactly its extents.
    """
    device = validate_device(device, what="PV device")
    nbytes = parse_size(size, what="PV size", minimum=1, multiple_of=512) if size is not None else None
    old = _pv_claim(device)
    if nbytes is None:
        if old is not None:
            run(["pvresize", "--", device])
    elif nbytes != old:
        run(["pvresize", "--yes", "--setphysicalvolumesize", f"{nbytes}b", "--", device])
    return PvResized(device=device, old_size_bytes=old, new_size_bytes=nbytes)
