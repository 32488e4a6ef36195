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

Safe by default: removing an LV that holds a signature, is open or mounted, is a thin pool with thin volumes or an
origin with snapshots, shrinking an LV whose content is not known to fit, and ``pvcreate`` over a signature are
refused unless ``force=True`` (pybofh checks before it answers LVM's own prompt with ``--yes``). Every undo names
its object by UUID (PV, VG, LV; activations also by boot id), read back after the command; resize, rename and
activation changes journal their undo before the command runs.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

from pybofh_core.errors import DataAtRiskError, NotFoundError, ToolUnavailableError, ValidationError
from pybofh_core.identity import ACT, Verdict, already, ephemeral, other, same_boot
from pybofh_core.model import placeholder
from pybofh_core.operations import Undo, operation, undo, undo_ahead
from pybofh_core.runner import get_runner, run
from pybofh_core.safety import FORCE_HINT, refuse_if_holds_data, refuse_shrink
from pybofh_core.validate import (
    PathArg,
    SizeSpec,
    parse_size,
    size_spec,
    size_text,
    validate_device,
    validate_path,
)

from . import effects, facts
from .checks import _LV_PATH, _VG_PATH, _path_parts, lv_name, vg_name
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


def _devices(devices: PathArg | Sequence[PathArg]) -> list[str]:
    items = [devices] if isinstance(devices, (str, os.PathLike)) else list(devices)
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


def _lv_bytes(vg: str, spec: SizeSpec, what: str, *, current: int | None = None, round: str | None = None  # noqa: A002
              ) -> int:
    """A size (``spec``, its syntax checked before anything was read) of an LV in ``vg``, in bytes. Absolute sizes
    must be whole extents (or ``round="up"|"down"``); ``+100M``/``-1G`` (with a ``current`` size), ``50%FREE``,
    ``+50%FREE`` and ``100%VG`` round down to whole extents."""
    info = facts.get_vg(vg)
    extent = info.extent_size
    if extent is None or extent <= 0:
        raise ValidationError(f"cannot read the extent size of VG {vg!r}")
    return spec.resolve(current=current, free=info.free_bytes, total=info.size_bytes, what=what, step=extent,
                        round=round, unit=f"the extent size of VG {vg!r}", error=ExtentSizeError)


def _lv_paths(lv: LogicalVolume) -> list[str]:
    return [lv.path, lv.mapper_path]


def _dry() -> bool:
    """A dry run: nothing was created, so nothing can be read back."""
    return get_runner().dry_run


def _find_lv(vg: str, name: str) -> LogicalVolume | None:
    return next((lv for lv in facts.list_lvs(vg, include_hidden=True) if lv.name == name), None)


def _identify_lv(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """An LV is the step's if ``vg/name`` has the UUID the step recorded (gone: already undone)."""
    vg, name = _vg_lv(args)
    try:
        lv = _find_lv(vg, name)
    except NotFoundError:
        lv = None
    if lv is None:
        return already(f"LV {vg}/{name} is gone")
    if identity.get("uuid") and lv.uuid != identity["uuid"]:
        return other(f"LV {vg}/{name} is now LV {lv.uuid}, not {identity['uuid']} which the step made or changed")
    return ACT


def _identify_lv_path(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    vg, name = _split_lv_path(str(args["path"]))
    return _identify_lv({"vg": vg, "name": name}, identity)


def _lv_undo(func: Any, lv: LogicalVolume, *args: Any, **kwargs: Any) -> Any:
    u = undo(func, *args, **kwargs)
    return u.expecting(uuid=lv.uuid) if lv.uuid else u


def _read_back_lv(vg: str, name: str, fallback: LogicalVolume) -> LogicalVolume:
    """The LV as LVM reports it after the command (its UUID is its identity); in a dry run the request itself, with
    its UUID a placeholder (``<uuid of LV vg/name>``) that the plan's later steps and undos share."""
    if _dry():
        return dataclasses.replace(fallback, uuid=placeholder(f"uuid of LV {vg}/{name}"))
    return facts.get_lv(vg, name)


def _vg_lv(args: Mapping[str, Any]) -> tuple[str, str]:
    """``(vg, name)`` of a call's arguments as given (``/dev/VG`` and ``/dev/VG/LV`` reduced to names), unchecked:
    for lock keys and identities, which must name the LV the same way whatever form the caller used."""
    vg, name = str(args["vg"]), str(args["name"])
    return (_path_parts(vg, _VG_PATH) or (vg,))[0], (_path_parts(name, _LV_PATH) or ("", name))[1]


def _lv_lock(args: Mapping[str, Any]) -> list[str]:
    """An LV operation locks the LV (``/dev/VG/NAME``): two jobs never change one LV at once."""
    vg, name = _vg_lv(args)
    return [f"/dev/{vg}/{name}"]


def _as_list(devices: Any) -> list[str]:
    return [devices] if isinstance(devices, str) else [os.fspath(d) for d in devices]


def _split_lv_path(path: PathArg) -> tuple[str, str]:
    path = validate_path(path, what="LV path")
    parts = _path_parts(path, _LV_PATH)
    if not parts:
        raise ValidationError(f"LV path: {path!r} is not of the form /dev/VG/LV")
    return vg_name(parts[0]), lv_name(parts[1])


# --- physical volumes ------------------------------------------------------------------------------------------------


def _identify_pv(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """A PV is the step's if the PV on ``device`` has the UUID the step recorded."""
    device = str(args["device"])
    if get_runner().stat(device) is None:
        return already(f"{device} is gone")
    pv = next((p for p in facts.list_pvs() if facts.same_device(p.name, device)), None)
    if pv is None:
        return already(f"{device} holds no PV any more")
    if identity.get("uuid") and pv.uuid != identity["uuid"]:
        return other(f"{device} now holds PV {pv.uuid}, not {identity['uuid']} which the step made")
    return ACT


def _pv_request(device: Any) -> str:
    device = validate_device(device, what="PV device")
    if facts.is_pv(device):
        raise ValidationError(f"{device} is already an LVM physical volume")
    return device


def _check_pvcreate(args: Mapping[str, Any]) -> None:
    """pvcreate over a filesystem, LUKS header or partition table destroys it (LVM would ask; pybofh asks first)."""
    if args.get("wipe_signatures"):
        return  # the caller asked LVM to wipe them: the same as force
    refuse_if_holds_data(_pv_request(args["device"]), "making it an LVM physical volume")


def _pv_undo(func: Any, device: str, uuid: str | None, *args: Any, **kwargs: Any) -> Any:
    u = undo(func, device, *args, **kwargs)
    return u.expecting(uuid=uuid) if uuid else u


@operation(inverse=lambda pv: _pv_undo(remove_pv, pv.device, pv.uuid), creates=lambda pv: [pv.device],
           aliases=["createPV"], requires=["pvcreate"], target="device", check=_check_pvcreate,
           effects=effects.pv_created)
def create_pv(device: PathArg, *, force: bool = False, wipe_signatures: bool = False) -> PvCreated:
    """Initialise ``device`` as an LVM physical volume.

    A device holding any signature (a filesystem, LUKS, a partition table) or in use is refused unless ``force``
    (``wipe_signatures`` is the older name of it): then LVM is told to wipe them (``--yes``).
    """
    device = _pv_request(device)
    run(["pvcreate", *(["--yes"] if force or wipe_signatures else []), "--", device])
    return PvCreated(device, placeholder(f"uuid of PV {device}") if _dry() else facts.get_pv(device).uuid)


@operation(irreversible="erases the PV label (the PV's UUID is lost)", target="device", aliases=["removePV"],
           requires=["pvremove"], identify=_identify_pv, effects=effects.pv_removed)
def remove_pv(device: PathArg) -> None:
    """Remove the LVM label from ``device`` (refused while the PV belongs to a VG)."""
    device = validate_device(device, what="PV device")
    pv = next((p for p in facts.list_pvs() if facts.same_device(p.name, device)), None)
    if pv is not None and pv.vg:
        raise ValidationError(f"{device} belongs to VG {pv.vg!r}; reduce the VG first")
    run(["pvremove", "--", device])


# --- volume groups ---------------------------------------------------------------------------------------------------


def _identify_vg(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """A VG is the step's if the VG of that name has the UUID the step recorded."""
    name = str(args.get("vg") or args.get("name"))
    vg = next((v for v in facts.list_vgs() if v.name == name), None)
    if vg is None:
        return already(f"VG {name} is gone")
    want = identity.get("uuid") or identity.get("vg_uuid")
    if want and vg.uuid != want:
        return other(f"VG {name} is now VG {vg.uuid}, not {want} which the step made or changed")
    return ACT


def _identify_reduce(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """Taking a PV out of a VG again (the undo of an extend): done when the PV is not in the VG any more."""
    verdict = _identify_vg(args, identity)
    if verdict.action != "act":
        return verdict
    device = str(args["device"])
    pv = next((p for p in facts.list_pvs() if facts.same_device(p.name, device)), None)
    if pv is None or pv.vg != args["vg"]:
        return already(f"{device} is not in VG {args['vg']} any more")
    return ACT


def _identify_extend(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """Putting a PV back into its VG (the undo of a reduce): done when it is in the VG again."""
    verdict = _identify_vg(args, identity)
    if verdict.action == "already":
        return other(f"VG {args['vg']} is gone; {args['device']} cannot be put back into it")
    if verdict.action != "act":
        return verdict
    device = str(args["device"])
    pv = next((p for p in facts.list_pvs() if facts.same_device(p.name, device)), None)
    if pv is not None and pv.vg == args["vg"]:
        return already(f"{device} is in VG {args['vg']} again")
    if pv is not None and pv.vg:
        return other(f"{device} now belongs to VG {pv.vg}")
    return ACT


@operation(inverse=lambda vg: _pv_undo(remove_vg, vg.name, vg.uuid, remove_pvs=list(vg.initialized)),
           creates=lambda vg: [vg.path, *vg.initialized], aliases=["createVG"], requires=["vgcreate"],
           locks=lambda a: [f"/dev/{a['name']}", *_as_list(a["devices"])], effects=effects.vg_created)
def create_vg(name: str, devices: PathArg | Sequence[PathArg], *, extent_size: int | str | None = None) -> VgCreated:
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
    return VgCreated(name=name, devices=tuple(devs), initialized=initialized, extent_size=extent,
                     uuid=placeholder(f"uuid of VG {name}") if _dry() else facts.get_vg(name).uuid)


@operation(irreversible="deletes the volume group's metadata", target="path", requires=["vgremove"],
           effects=effects.vg_removed)
def destroy_vg(path: PathArg) -> None:
    """The destructive step of ``remove_vg()``, naming the VG by its ``/dev/VG`` path (so atomic blocks can tell
    whether they created it)."""
    path = validate_path(path, what="VG path")
    m = _VG_PATH.match(path)
    if not m:
        raise ValidationError(f"VG path: {path!r} is not of the form /dev/VG")
    run(["vgremove", "--", vg_name(m.group(1))])


@operation(composite=True, aliases=["removeVG"], requires=["vgremove", "pvremove"], identify=_identify_vg,
           locks=lambda a: [f"/dev/{a['vg']}"])
def remove_vg(vg: PathArg, *, remove_pvs: Sequence[str] = ()) -> None:
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


@operation(inverse=lambda r: _pv_undo(reduce_vg, r.vg, r.vg_uuid, r.device, remove_pv=r.initialized),
           creates=lambda r: [r.device], requires=["vgextend"], identify=_identify_extend,
           locks=lambda a: [f"/dev/{a['vg']}", a["device"]])
def extend_vg(vg: PathArg, device: PathArg) -> VgExtended:
    """Add ``device`` to ``vg`` (LVM initialises it as a PV first if it is not one; undo then removes the label)."""
    vg = vg_name(vg)
    device = validate_device(device, what="PV device")
    pv = next((p for p in facts.list_pvs() if facts.same_device(p.name, device)), None)
    if pv is not None and pv.vg:
        raise ValidationError(f"{device} already belongs to VG {pv.vg!r}")
    vg_uuid = None if _dry() else facts.get_vg(vg).uuid
    run(["vgextend", "--", vg, device])
    return VgExtended(vg=vg, device=device, initialized=pv is None, vg_uuid=vg_uuid)


@operation(inverse=lambda r: _pv_undo(extend_vg, r.vg, r.vg_uuid, r.device), requires=["vgreduce"],
           identify=_identify_reduce, locks=lambda a: [f"/dev/{a['vg']}", a["device"]])
def reduce_vg(vg: PathArg, device: PathArg, *, remove_pv: bool = False) -> VgExtended:
    """Remove the unused PV ``device`` from ``vg`` (LVM refuses while extents on it are allocated); ``remove_pv``
    also erases its PV label."""
    vg = vg_name(vg)
    device = validate_device(device, what="PV device")
    vg_uuid = None if _dry() else facts.get_vg(vg).uuid
    run(["vgreduce", "--", vg, device])
    if remove_pv:
        run(["pvremove", "--", device])
    return VgExtended(vg=vg, device=device, pv_removed=remove_pv, vg_uuid=vg_uuid)


# --- logical volumes -------------------------------------------------------------------------------------------------


@operation(inverse=lambda lv: _lv_undo(remove_lv, lv, lv.vg, lv.name), creates=_lv_paths, aliases=["createLV"],
           requires=["lvcreate"], locks=_lv_lock, effects=effects.lv_created)
def create_lv(vg: PathArg, name: str, size: int | str, *, round: str | None = None) -> LogicalVolume:  # noqa: A002
    """Create (and activate) linear logical volume ``name`` of exactly ``size`` bytes in ``vg``.

    ``size``: whole extents (``round="up"|"down"`` rounds any other), or ``50%FREE`` / ``100%VG`` (rounded down).
    """
    vg = vg_name(vg)
    name = lv_name(name, vg=vg)
    spec = size_spec(size, what="LV size", relative=False, percent=True)  # bad input: refused before the VG is read
    nbytes = _lv_bytes(vg, spec, "LV size", round=round)
    run(["lvcreate", "--yes", "-n", name, "-L", f"{nbytes}b", "--", vg])
    return _read_back_lv(vg, name, LogicalVolume(vg=vg, name=name, size_bytes=nbytes, segtype="linear"))


@operation(inverse=lambda lv: _lv_undo(remove_lv, lv, lv.vg, lv.name), creates=_lv_paths,
           requires=["lvcreate", "thin_check"], locks=_lv_lock, effects=effects.lv_created)
def create_thin_pool(vg: PathArg, name: str, size: int | str, *, metadata_spare: bool = False) -> LogicalVolume:
    """Create thin pool ``name`` with ``size`` bytes of data space in ``vg``.

    Without ``metadata_spare`` no ``lvol0_pmspare`` LV is made, so removing the pool restores the VG exactly;
    with it LVM keeps a spare for pool metadata repair, which stays after the pool is removed.
    """
    vg = vg_name(vg)
    name = lv_name(name, vg=vg)
    nbytes = parse_size(size, what="thin pool size", minimum=1)
    _extent_multiple(vg, nbytes, "thin pool size")
    run(["lvcreate", "--yes", "--type", "thin-pool", "--poolmetadataspare", "y" if metadata_spare else "n",
         "-n", name, "-L", f"{nbytes}b", "--", vg])
    return _read_back_lv(vg, name, LogicalVolume(vg=vg, name=name, size_bytes=nbytes, segtype="thin-pool"))


@operation(inverse=lambda lv: _lv_undo(remove_lv, lv, lv.vg, lv.name), creates=_lv_paths, requires=["lvcreate"],
           locks=_lv_lock, effects=effects.lv_created)
def create_thin_lv(vg: PathArg, pool: PathArg, name: str, size: int | str) -> LogicalVolume:
    """Create thin volume ``name`` of virtual ``size`` bytes in thin pool ``vg/pool``."""
    vg = vg_name(vg)
    pool = lv_name(pool, vg=vg)
    name = lv_name(name, vg=vg)
    nbytes = parse_size(size, what="thin LV size", minimum=1)
    _extent_multiple(vg, nbytes, "thin LV size")
    run(["lvcreate", "--yes", "--type", "thin", "-n", name, "-V", f"{nbytes}b", "--thinpool", pool, "--", vg])
    return _read_back_lv(vg, name, LogicalVolume(vg=vg, name=name, size_bytes=nbytes, segtype="thin", pool=pool))


@operation(inverse=lambda lv: _lv_undo(remove_lv, lv, lv.vg, lv.name), creates=_lv_paths, requires=["lvcreate"],
           locks=_lv_lock, effects=effects.lv_created)
def snapshot_lv(vg: PathArg, origin: PathArg, name: str, size: int | str | None = None) -> LogicalVolume:
    """Snapshot ``vg/origin`` as ``name``: a thick snapshot with ``size`` bytes of copy-on-write space, or (no size,
    thin origin) a thin snapshot in the origin's pool, which LVM flags to be skipped by plain activation."""
    vg = vg_name(vg)
    origin = lv_name(origin, vg=vg)
    name = lv_name(name, vg=vg)
    nbytes = parse_size(size, what="snapshot size", minimum=1) if size is not None else None
    source = facts.get_lv(vg, origin)
    if nbytes is None:
        if source.kind is not LvKind.THIN:
            raise ValidationError(f"{vg}/{origin} is not a thin LV: a snapshot of it needs a size for its COW space")
        run(["lvcreate", "--yes", "-s", "-n", name, "--", f"{vg}/{origin}"])
        return _read_back_lv(vg, name, LogicalVolume(vg=vg, name=name, size_bytes=source.size_bytes, segtype="thin",
                                                     pool=source.pool, origin=origin))
    _extent_multiple(vg, nbytes, "snapshot size")
    run(["lvcreate", "--yes", "-s", "-n", name, "-L", f"{nbytes}b", "--", f"{vg}/{origin}"])
    return _read_back_lv(vg, name, LogicalVolume(vg=vg, name=name, size_bytes=nbytes, segtype="linear",
                                                 origin=origin))


def _check_lv_removal(args: Mapping[str, Any]) -> None:
    """Removing an LV destroys what it holds: refused when it holds a signature, is open or mounted, is a thin pool
    with thin volumes or an origin with snapshots, or is inactive (its content cannot be checked)."""
    vg, name = _split_lv_path(str(args["path"]))
    lv = facts.get_lv(vg, name)
    every = facts.list_lvs(vg, include_hidden=True)
    thins = [x.full_name for x in every if x.pool == name]
    if thins:
        raise DataAtRiskError(f"thin pool {vg}/{name} holds thin volumes ({', '.join(thins)}); removing it destroys "
                              f"them too — {FORCE_HINT}")
    snaps = [x.full_name for x in every if x.origin == name]
    if snaps:
        raise DataAtRiskError(f"LV {vg}/{name} has snapshots ({', '.join(snaps)}); removing it removes them too — "
                              f"{FORCE_HINT}")
    if lv.kind is LvKind.THIN_POOL:
        return  # an empty pool: its data and metadata sub-LVs hold nothing of anyone's
    if not lv.active:
        raise DataAtRiskError(f"LV {vg}/{name} is inactive, so pybofh cannot check what it holds; activate it to let "
                              f"pybofh check, or {FORCE_HINT}")
    refuse_if_holds_data(lv.path, f"removing LV {vg}/{name}")


@operation(irreversible="destroys the LV's data", target="path", requires=["lvremove"], check=_check_lv_removal,
           identify=_identify_lv_path, effects=effects.lv_removed)
def destroy_lv(path: PathArg, *, force: bool = False) -> None:
    """The destructive step of ``remove_lv()``, naming the LV by its ``/dev/VG/LV`` path (so atomic blocks can
    tell whether they created it). Refused, unless ``force``, when the LV holds data (see ``remove_lv()``)."""
    vg, name = _split_lv_path(path)
    run(["lvremove", "--yes", "--", f"{vg}/{name}"])


@operation(composite=True, aliases=["removeLV"], requires=["lvremove"], identify=_identify_lv, locks=_lv_lock)
def remove_lv(vg: PathArg, name: PathArg, *, force: bool = False) -> None:
    """Remove logical volume ``vg/name`` and its data.

    Refused unless ``force`` (or the LV was created by the same atomic block) when it holds a filesystem, LUKS header
    or other signature, is open or mounted, is a thin pool with thin volumes, an origin with snapshots, or inactive
    (then pybofh cannot check it). LVM itself refuses an LV that is open.
    """
    vg = vg_name(vg)
    name = lv_name(name, vg=vg)
    destroy_lv(f"/dev/{vg}/{name}", force=force)


def _resize_inverse(r: LvResized) -> Undo | None:
    if r.old_size_bytes == r.new_size_bytes:
        return None
    u = undo(resize_lv, r.vg, r.name, r.old_size_bytes)
    return u.expecting(uuid=r.uuid) if r.uuid else u


def _resize_request(vg: Any, name: Any, size: Any, round: Any = None) -> tuple[str, str, int, LogicalVolume]:  # noqa: A002
    vg = vg_name(vg)
    name = lv_name(name, vg=vg)
    spec = size_spec(size, what="LV size", percent=True)  # bad input is refused before the LV is read
    lv = facts.get_lv(vg, name)
    if lv.size_bytes is None:
        raise ValidationError(f"cannot read the current size of {vg}/{name}")
    nbytes = _lv_bytes(vg, spec, "LV size", current=lv.size_bytes, round=round)
    return vg, name, nbytes, lv


def _lv_shrinks(args: Mapping[str, Any]) -> bool:
    """An LV resize takes away the end of the LV when it shrinks it."""
    _, _, nbytes, lv = _resize_request(args["vg"], args["name"], args["size"], args.get("round"))
    return lv.size_bytes is not None and nbytes < lv.size_bytes


def _check_lv_shrink(args: Mapping[str, Any]) -> None:
    """Shrinking an LV cuts off its end: refused unless what it holds is known to fit (LVM would only ask)."""
    vg, name, nbytes, lv = _resize_request(args["vg"], args["name"], args["size"], args.get("round"))
    if lv.size_bytes is not None and nbytes < lv.size_bytes:
        if not lv.active:
            raise DataAtRiskError(
                f"LV {vg}/{name} is inactive, so pybofh cannot check that its content fits in {size_text(nbytes)}; "
                f"activate it, or {FORCE_HINT}")
        refuse_shrink(lv.path, nbytes, f"LV {vg}/{name}",
                      f"'bofh blockdev resize {lv.path} SIZE' shrinks the filesystem and LUKS inside it first")


@operation(inverse=_resize_inverse, requires=["lvresize"], target=lambda a: f"/dev/{a['vg']}/{a['name']}",
           check=_check_lv_shrink, identify=_identify_lv, takes_away=_lv_shrinks,  # type: ignore[arg-type]
           effects=effects.lv_resized)
def resize_lv(vg: PathArg, name: PathArg, size: int | str, *, force: bool = False, round: str | None = None  # noqa: A002
              ) -> LvResized:
    """Make ``vg/name`` ``size`` bytes. Only the LV: its content (filesystem, LUKS) must be shrunk before and grown
    after — the block-device stack (``bofh blockdev resize``) does that. A shrink is refused unless the content is
    known to fit, or ``force``. ``size``: whole extents (or ``round="up"|"down"``), or relative (``+100M``,
    ``-1G``, ``+50%FREE``; rounded down to whole extents). Returns the old and new size."""
    vg, name, nbytes, lv = _resize_request(vg, name, size, round)
    result = LvResized(vg=vg, name=name, old_size_bytes=lv.size_bytes or 0, new_size_bytes=nbytes, uuid=lv.uuid)
    if nbytes != lv.size_bytes:
        undo_ahead(lambda: _resize_inverse(result))
        run(["lvresize", "--yes", "-L", f"{nbytes}b", "--", f"{vg}/{name}"])
    return result


def _rename_back(r: LvRenamed) -> Any:
    u = undo(rename_lv, r.vg, r.new_name, r.old_name)
    return u.expecting(uuid=r.uuid) if r.uuid else u


def _identify_rename(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """Renaming back: act on ``vg/name`` if it is the step's LV; done if the LV has its old name again."""
    vg, new = str(args["vg"]), str(args["new_name"])
    renamed = _identify_lv(args, identity)
    if renamed.action == "already":
        back = _find_lv(vg, new)
        if back is not None and back.uuid == identity.get("uuid"):
            return already(f"LV {vg}/{new} has its old name again")
    return renamed


@operation(inverse=_rename_back, requires=["lvrename"], identify=_identify_rename,
           locks=lambda a: [*_lv_lock(a), f"/dev/{a['vg']}/{a['new_name']}"])
def rename_lv(vg: PathArg, name: PathArg, new_name: str) -> LvRenamed:
    """Rename ``vg/name`` to ``vg/new_name`` (its device paths change accordingly)."""
    vg = vg_name(vg)
    name = lv_name(name, vg=vg)
    new_name = lv_name(new_name)
    if name == new_name:
        raise ValidationError(f"LV {vg}/{name} already has that name")
    uuid = None if _dry() else facts.get_lv(vg, name).uuid
    result = LvRenamed(vg=vg, old_name=name, new_name=new_name, uuid=uuid)
    undo_ahead(lambda: _rename_back(result))
    run(["lvrename", "--", vg, name, new_name])
    return result


def _current_activation(vg: str, name: str) -> tuple[bool, str | None]:
    lv = facts.get_lv(vg, name)
    if lv.active is None:
        raise ToolUnavailableError(
            "device-mapper", f"LVM cannot tell whether {vg}/{name} is active (attr {lv.attr!r}): no device-mapper here?"
        )
    return lv.active, lv.uuid


def _activation_inverse(r: LvActivation) -> Undo | None:
    if not r.changed:
        return None
    u = undo(deactivate_lv if r.active else activate_lv, r.vg, r.name)
    return u.expecting(**ephemeral(uuid=r.uuid)) if r.uuid else u


def _identify_activation(args: Mapping[str, Any], identity: Mapping[str, Any]) -> Verdict:
    """An activation does not survive a reboot: after one, the step's change is gone."""
    if not same_boot(identity):
        return already(f"LV {args['vg']}/{args['name']} was (de)activated before a reboot")
    return _identify_lv(args, identity)


@operation(inverse=_activation_inverse, requires=["lvchange"], identify=_identify_activation,
           locks=_lv_lock)  # type: ignore[arg-type]
def activate_lv(vg: PathArg, name: PathArg) -> LvActivation:
    """Activate ``vg/name`` (also one flagged to skip activation, like a thin snapshot); nothing if already active."""
    vg = vg_name(vg)
    name = lv_name(name, vg=vg)
    was, uuid = _current_activation(vg, name)
    result = LvActivation(vg=vg, name=name, was_active=was, active=True, uuid=uuid)
    if not was:
        undo_ahead(lambda: _activation_inverse(result))
        run(["lvchange", "--activate", "y", "--ignoreactivationskip", "--", f"{vg}/{name}"])
    return result


@operation(inverse=_activation_inverse, requires=["lvchange"], identify=_identify_activation,
           locks=_lv_lock, takes_away=True)  # type: ignore[arg-type]
def deactivate_lv(vg: PathArg, name: PathArg) -> LvActivation:
    """Deactivate ``vg/name`` (LVM refuses while it is open); nothing if already inactive."""
    vg = vg_name(vg)
    name = lv_name(name, vg=vg)
    was, uuid = _current_activation(vg, name)
    result = LvActivation(vg=vg, name=name, was_active=was, active=False, uuid=uuid)
    if was:
        undo_ahead(lambda: _activation_inverse(result))
        run(["lvchange", "--activate", "n", "--", f"{vg}/{name}"])
    return result


def _pv_resize_inverse(r: PvResized) -> Undo | None:
    if r.old_size_bytes == r.new_size_bytes:
        return None
    return _pv_undo(resize_pv, r.device, r.uuid, r.old_size_bytes)


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


@operation(inverse=_pv_resize_inverse, requires=["pvresize"], identify=_identify_pv)  # type: ignore[arg-type]
def resize_pv(device: PathArg, size: int | str | None = None) -> PvResized:
    """Make the PV on ``device`` claim ``size`` bytes of it (None: all of it); LVM refuses to cut allocated extents.

    ``size`` is what ``pvresize --setphysicalvolumesize`` takes: device space including the label and metadata
    area; a PV in a VG then holds as many whole extents as fit. The result holds the claim before and after
    (None = the whole device), so undo gives the PV back exactly its extents.
    """
    device = validate_device(device, what="PV device")
    nbytes = parse_size(size, what="PV size", minimum=1, multiple_of=512) if size is not None else None
    old = _pv_claim(device)
    pv = facts.get_pv(device)
    if nbytes is not None and pv.dev_size_bytes is not None and nbytes > pv.dev_size_bytes:
        raise ValidationError(f"PV size: {size_text(nbytes)} is more than {device} holds "
                              f"({size_text(pv.dev_size_bytes)}); LVM would write past the device's end")
    result = PvResized(device=device, old_size_bytes=old, new_size_bytes=nbytes, uuid=pv.uuid)
    if nbytes is None:
        if old is not None:
            undo_ahead(lambda: _pv_resize_inverse(result))
            run(["pvresize", "--", device])
    elif nbytes != old:
        undo_ahead(lambda: _pv_resize_inverse(result))
        run(["pvresize", "--yes", "--setphysicalvolumesize", f"{nbytes}b", "--", device])
    return result
