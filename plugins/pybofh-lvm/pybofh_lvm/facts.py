"""Readers of LVM state: one read-only report command each (all objects in one call), parsed by ``.parsers``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pybofh_core.runner import get_runner, run, same_path
from pybofh_core.validate import validate_name, validate_path

from .errors import LvNotFoundError, PvNotFoundError, VgNotFoundError
from .parsers import parse_fullreport, parse_lvs, parse_pvs, parse_vgs
from .types import FullReport, LogicalVolume, PhysicalVolume, VolumeGroup

T = TypeVar("T")

#: Report options shared by every reader: JSON, exact byte sizes, no unit suffix.
REPORT_OPTIONS = ("--reportformat", "json", "--units", "b", "--nosuffix")
PV_FIELDS = ("pv_name", "pv_uuid", "pv_fmt", "vg_name", "vg_uuid", "pv_attr", "pv_size", "pv_free", "dev_size",
             "pe_start")
VG_FIELDS = ("vg_name", "vg_uuid", "vg_attr", "vg_size", "vg_free", "vg_extent_size", "vg_extent_count",
             "vg_free_count", "pv_count", "lv_count", "snap_count", "vg_missing_pv_count")
LV_FIELDS = ("lv_uuid", "lv_name", "vg_name", "lv_attr", "lv_size", "lv_path", "lv_dm_path", "lv_role", "segtype",
             "pool_lv", "origin", "data_percent")


def pvs_argv() -> list[str]:
    """The one ``pvs`` command that lists every PV."""
    return ["pvs", *REPORT_OPTIONS, "-o", ",".join(PV_FIELDS)]


def vgs_argv() -> list[str]:
    """The one ``vgs`` command that lists every VG."""
    return ["vgs", *REPORT_OPTIONS, "-o", ",".join(VG_FIELDS)]


def lvs_argv() -> list[str]:
    """The one ``lvs -a`` command that lists every LV, hidden ones (thin pool data/metadata, RAID images…) too."""
    return ["lvs", "-a", *REPORT_OPTIONS, "-o", ",".join(LV_FIELDS)]


def fullreport_argv() -> list[str]:
    """``lvm fullreport`` with exact byte sizes."""
    return ["lvm", "fullreport", *REPORT_OPTIONS]


def list_pvs() -> list[PhysicalVolume]:
    """Every physical volume LVM sees (missing ones as ``[unknown]``); in a dry run, as the planned steps leave them."""
    res = run(pvs_argv(), readonly=True)
    return _planned("lvm.pv", parse_pvs(res.stdout, source="pvs", require=PV_FIELDS), lambda p: p.name)


def list_vgs() -> list[VolumeGroup]:
    """Every volume group; in a dry run, as the planned steps leave them."""
    res = run(vgs_argv(), readonly=True)
    return _planned("lvm.vg", parse_vgs(res.stdout, source="vgs", require=VG_FIELDS), lambda v: v.name)


def _planned(kind: str, real: list[T], key: Callable[[T], str]) -> list[T]:
    """``real`` with the dry run's planning model laid over it (``pybofh_lvm.effects`` writes it); as is otherwise."""
    model = get_runner().model
    return real if model is None else model.overlay(kind, real, key)


def list_lvs(vg: str | None = None, *, include_hidden: bool = False) -> list[LogicalVolume]:
    """Logical volumes (of one VG if given), from one ``lvs -a`` call; hidden sub-LVs only with ``include_hidden``."""
    if vg is not None:
        vg = validate_name(vg, what="VG name")
    res = run(lvs_argv(), readonly=True)
    lvs = _planned("lvm.lv", parse_lvs(res.stdout, source="lvs", require=LV_FIELDS), lambda lv: lv.full_name)
    return [lv for lv in lvs if (vg is None or lv.vg == vg) and (include_hidden or not lv.hidden)]


def full_report() -> FullReport:
    """Every VG, PV and LV from one ``lvm fullreport`` call."""
    res = run(fullreport_argv(), readonly=True)
    return parse_fullreport(res.stdout, source="lvm fullreport")


def get_vg(name: str) -> VolumeGroup:
    """The volume group ``name``; VgNotFoundError when there is none."""
    name = validate_name(name, what="VG name")
    for vg in list_vgs():
        if vg.name == name:
            return vg
    raise VgNotFoundError(f"volume group {name!r} does not exist (see 'bofh lvm vg list')")


def get_lv(vg: str, name: str) -> LogicalVolume:
    """The logical volume ``vg/name`` (hidden ones too); LvNotFoundError when there is none."""
    vg = validate_name(vg, what="VG name")
    name = validate_name(name, what="LV name")
    for lv in list_lvs(include_hidden=True):
        if lv.vg == vg and lv.name == name:
            return lv
    raise LvNotFoundError(f"logical volume {vg}/{name} does not exist (see 'bofh lvm lv list')")


def get_pv(device: str) -> PhysicalVolume:
    """The physical volume on ``device``; PvNotFoundError when the device is not a PV."""
    device = validate_path(device, what="PV device")
    for pv in list_pvs():
        if same_device(pv.name, device):
            return pv
    raise PvNotFoundError(f"{device} is not an LVM physical volume (see 'bofh lvm pv list')")


def is_pv(device: str) -> bool:
    """Whether ``device`` carries an LVM PV label that LVM reports."""
    device = validate_path(device, what="PV device")
    return any(same_device(pv.name, device) for pv in list_pvs())


def same_device(a: str, b: str) -> bool:
    """Whether two device paths name the same device (equal, or resolving to the same node) where commands run."""
    return same_path(a, b)


def getVGs() -> list[str]:
    """The seed's ``lvm.getVGs()``: names of every volume group."""
    return [vg.name for vg in list_vgs()]


def getLVs(vg: str, full_path: bool = True) -> list[str]:
    """The seed's ``lvm.getLVs(vg)``: ``/dev/VG/LV`` paths (or bare names) of the VG's visible LVs."""
    return [lv.path if full_path else lv.name for lv in list_lvs(vg)]
