"""Old name of `pybofh_lvm.parsers`, kept so existing imports (``from pybofh_lvm.parse import parse_lvs``) work.

A shim: re-exports only. New code imports ``pybofh_lvm.parsers``.
"""

from __future__ import annotations

from .parsers import _LV_FIELDS, _PV_FIELDS, _VG_FIELDS, parse_fullreport, parse_lvs, parse_pvs, parse_vgs  # noqa: F401

__all__ = ["parse_fullreport", "parse_lvs", "parse_pvs", "parse_vgs"]
