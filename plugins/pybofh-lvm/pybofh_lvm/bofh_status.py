"""pybofh-lvm's part of ``bofh status``: PVs, VGs with their free space, and LVs, from one ``lvm fullreport``."""

from __future__ import annotations

from typing import Any

from pybofh_core.status import StatusSection, read_once, section

from .types import FullReport, LogicalVolume


def pv_rows(report: FullReport) -> list[dict[str, Any]]:
    """One row per PV: its device, VG, size and unallocated bytes (a missing PV shows as ``[unknown]``)."""
    return [{"pv": pv.name, "vg": pv.vg, "size": pv.size_bytes, "free": pv.free_bytes, "attr": pv.attr,
             "missing": pv.missing} for pv in report.pvs]


def vg_rows(report: FullReport) -> list[dict[str, Any]]:
    """One row per VG: size, free bytes, PV and LV counts, and whether PVs are missing (partial)."""
    return [{"vg": vg.name, "size": vg.size_bytes, "free": vg.free_bytes, "pvs": vg.pv_count, "lvs": vg.lv_count,
             "extent_size": vg.extent_size, "attr": vg.attr, "partial": vg.partial} for vg in report.vgs]


def lv_rows(report: FullReport) -> list[dict[str, Any]]:
    """One row per visible LV (hidden sub-LVs of thin pools and RAID left out): size, kind, activation, use."""
    return [_lv_row(lv) for lv in report.lvs if not lv.hidden]


def _lv_row(lv: LogicalVolume) -> dict[str, Any]:
    return {"lv": lv.full_name, "size": lv.size_bytes, "kind": lv.kind.name.lower() if lv.kind else lv.segtype,
            "active": lv.active, "open": lv.open, "pool": lv.pool, "origin": lv.origin,
            "data_percent": lv.data_percent, "path": lv.path}


def sections() -> list[StatusSection]:
    """PVs, VGs and LVs from one ``lvm fullreport`` call; when it fails, each of the three says why."""
    from .facts import full_report

    report = read_once(full_report)
    sizes = ("size", "free")
    return [
        section("pvs", "LVM physical volumes", lambda: pv_rows(report()), order=20, sizes=sizes,
                columns=("pv", "vg", "size", "free", "attr")),
        section("vgs", "LVM volume groups", lambda: vg_rows(report()), order=21, sizes=sizes,
                columns=("vg", "size", "free", "pvs", "lvs", "attr")),
        section("lvs", "LVM logical volumes", lambda: lv_rows(report()), order=22, sizes=sizes,
                columns=("lv", "size", "kind", "active", "open", "pool", "origin", "data_percent"),
                headers={"data_percent": "data%"}),
    ]
