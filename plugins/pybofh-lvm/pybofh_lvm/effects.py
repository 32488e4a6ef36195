"""What LVM operations do to the planning model of a dry run (``@operation(effects=...)`` in ``ops``).

A planned ``create_vg`` puts a VG (UUID ``<uuid of VG NAME>``, sizes as LVM computes them: 1 MiB before the first
extent of each PV, 4 MiB extents unless asked otherwise) and marks its PVs as members; a planned ``create_lv`` puts
the LV, its block device (``/dev/VG/LV``, so a later planned mkfs or LUKS format finds it), and takes its extents
from the VG's free space; a planned ``resize_lv`` changes the LV's and its device's size and the VG's free space;
removals take them out again. ``facts.list_pvs/vgs/lvs``
lay the model over what LVM reports, so every later check and size computation of the plan sees them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from pybofh_core.model import BLOCK, GONE, PlanModel, PlannedDevice, placeholder
from pybofh_core.runner import device_size, get_runner
from pybofh_core.safety import SIGNATURE, Signature

from . import facts
from .types import LogicalVolume, LvResized, PhysicalVolume, PvCreated, VgCreated, VolumeGroup

#: LVM's defaults: the first extent starts 1 MiB into a PV; extents are 4 MiB
PE_START = 1024**2
DEFAULT_EXTENT = 4 * 1024**2
PV, VG, LV = "lvm.pv", "lvm.vg", "lvm.lv"


def _pv(device: str) -> PhysicalVolume | None:
    """The PV on ``device`` as the plan leaves it so far (real or planned), or None."""
    return next((p for p in facts.list_pvs() if facts.same_device(p.name, device)), None)


def pv_created(model: PlanModel, result: PvCreated, args: Mapping[str, Any]) -> None:
    """``create_pv``: a PV without a VG on the device."""
    size = device_size(result.device)
    model.put(PV, result.device, PhysicalVolume(name=result.device, uuid=result.uuid, fmt="lvm2", attr="---",
                                                size_bytes=size, free_bytes=size, dev_size_bytes=size,
                                                pe_start=PE_START))
    model.put(SIGNATURE, result.device, Signature("LVM2_member", 0x218, result.uuid))  # where wipefs finds it


def pv_removed(model: PlanModel, result: Any, args: Mapping[str, Any]) -> None:
    """``remove_pv``: the label is gone."""
    pv = _pv(str(args["device"]))
    model.remove(PV, pv.name if pv is not None else str(args["device"]))
    model.remove(SIGNATURE, str(args["device"]))


def vg_created(model: PlanModel, result: VgCreated, args: Mapping[str, Any]) -> None:
    """``create_vg``: the VG, its extents counted as LVM counts them, and its PVs as its members."""
    extent = result.extent_size or DEFAULT_EXTENT
    count = 0
    for device in result.devices:
        known = _pv(device)
        dev_size = (known.dev_size_bytes if known is not None and known.dev_size_bytes else None) or device_size(device)
        extents = max(0, (dev_size - PE_START) // extent)
        count += extents
        name = known.name if known is not None else device
        if known is None:  # LVM makes it a PV first
            model.put(SIGNATURE, device, Signature("LVM2_member", 0x218, placeholder(f"uuid of PV {device}")))
        model.put(PV, name, PhysicalVolume(
            name=name, uuid=known.uuid if known is not None else placeholder(f"uuid of PV {device}"), vg=result.name,
            vg_uuid=result.uuid, fmt="lvm2", attr="a--", size_bytes=extents * extent, free_bytes=extents * extent,
            dev_size_bytes=dev_size, pe_start=PE_START))
    model.put(VG, result.name, VolumeGroup(
        name=result.name, uuid=result.uuid, attr="wz--n-", size_bytes=count * extent, free_bytes=count * extent,
        extent_size=extent, extent_count=count, free_count=count, pv_count=len(result.devices), lv_count=0,
        snap_count=0, missing_pv_count=0))


def vg_removed(model: PlanModel, result: Any, args: Mapping[str, Any]) -> None:
    """``destroy_vg``: the VG is gone and its PVs belong to no VG."""
    name = str(args["path"]).removeprefix("/dev/")
    for pv in facts.list_pvs():
        if pv.vg == name:
            model.put(PV, pv.name, dataclasses.replace(pv, vg=None, vg_uuid=None, attr="---"))
    model.remove(VG, name)


def _take(model: PlanModel, vg: str, nbytes: int) -> None:
    """Move ``nbytes`` of ``vg``'s free space to (negative: back from) an LV, and count the LV in or out."""
    found = next((v for v in facts.list_vgs() if v.name == vg), None)
    if found is None or model.get(VG, vg) is GONE:
        return
    extent = found.extent_size or DEFAULT_EXTENT
    free = (found.free_bytes or 0) - nbytes
    lvs = (found.lv_count or 0) + (1 if nbytes > 0 else -1)
    model.put(VG, vg, dataclasses.replace(found, free_bytes=free, free_count=free // extent, lv_count=lvs))


def lv_created(model: PlanModel, result: LogicalVolume, args: Mapping[str, Any]) -> None:
    """``create_lv`` and its kin: the LV (active), its extents taken from the VG (a thin LV takes none)."""
    attr = {"thin": "Vwi-a-tz--", "thin-pool": "twi-a-tz--"}.get(result.segtype or "", "-wi-a-----")
    lv = dataclasses.replace(result, attr=attr)
    model.put(LV, lv.full_name, lv)
    if lv.segtype != "thin-pool":  # an active LV is a block device at /dev/VG/LV and /dev/mapper/VG-LV
        for path in (lv.path, lv.mapper_path):
            model.put(BLOCK, path, PlannedDevice(path, lv.size_bytes or 0))
    if result.segtype != "thin":
        _take(model, result.vg, result.size_bytes or 0)


def lv_resized(model: PlanModel, result: LvResized, args: Mapping[str, Any]) -> None:
    """``resize_lv``: the LV (and its block device) has its new size; the VG's free space changes by the difference."""
    lv = next((x for x in facts.list_lvs(result.vg, include_hidden=True) if x.name == result.name), None)
    if lv is None or result.new_size_bytes == result.old_size_bytes:
        return
    model.put(LV, lv.full_name, dataclasses.replace(lv, size_bytes=result.new_size_bytes))
    paths = [p for p in (lv.path, lv.mapper_path) if p]
    model.resize_device(result.new_size_bytes, *paths, *(get_runner().realpath(p) for p in paths[:1]))  # /dev/dm-N
    found = next((v for v in facts.list_vgs() if v.name == result.vg), None)
    if found is not None and lv.segtype != "thin":
        extent = found.extent_size or DEFAULT_EXTENT
        free = (found.free_bytes or 0) - (result.new_size_bytes - result.old_size_bytes)
        model.put(VG, result.vg, dataclasses.replace(found, free_bytes=free, free_count=free // extent))


def lv_removed(model: PlanModel, result: Any, args: Mapping[str, Any]) -> None:
    """``destroy_lv``: the LV is gone and its extents are free again."""
    vg, _, name = str(args["path"]).removeprefix("/dev/").partition("/")
    lv = next((x for x in facts.list_lvs(vg, include_hidden=True) if x.name == name), None)
    model.remove(LV, f"{vg}/{name}")
    if lv is not None:
        for path in (lv.path, lv.mapper_path):
            model.remove(BLOCK, path)
    if lv is not None and lv.segtype != "thin":
        _take(model, vg, -(lv.size_bytes or 0))


__all__ = ["lv_created", "lv_removed", "lv_resized", "pv_created", "pv_removed", "vg_created", "vg_removed"]
