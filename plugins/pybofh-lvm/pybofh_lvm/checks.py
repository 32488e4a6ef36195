"""Input checks of the LVM plugin: VG and LV names by LVM's rules (its operations, and anything else taking a name).

Pure checks (no command runs): each returns the checked value or raises ``ValidationError`` before anything ran.
"""

from __future__ import annotations

import re

from pybofh_core.errors import ValidationError
from pybofh_core.validate import named_path, validate_name

_NAME = re.compile(r"^[A-Za-z0-9+_.][A-Za-z0-9+_.-]*$")
_RESERVED_PARTS = ("_cdata", "_cmeta", "_corig", "_iorig", "_mimage", "_mlog", "_pmspare", "_rimage", "_rmeta",
                   "_tdata", "_tmeta", "_vdata", "_vorigin", "_wcorig")
_RESERVED_PREFIXES = ("snapshot", "pvmove")
_LV_PATH = re.compile(r"^/dev/([A-Za-z0-9+_.][A-Za-z0-9+_.-]*)/([A-Za-z0-9+_.][A-Za-z0-9+_.-]*)$")
_VG_PATH = re.compile(r"^/dev/([A-Za-z0-9+_.][A-Za-z0-9+_.-]*)$")


def _path_parts(value: object, pattern: re.Pattern[str]) -> tuple[str, ...] | None:
    """The names in ``/dev/VG`` or ``/dev/VG/LV`` (as ``pattern`` reads it) of a path or a result that names one,
    unchecked; None when ``value`` is not such a path."""
    value = named_path(value)
    m = pattern.match(value) if isinstance(value, str) else None
    return m.groups() if m else None


def vg_name(value: object) -> str:
    """Check a VG name against LVM's rules (letters, digits, ``+_.-``, not starting with ``-``, ≤127 bytes).

    ``/dev/VG`` is accepted too, and so is a ``VolumeGroup`` or ``VgCreated`` result (its path, by ``__fspath__``).
    """
    if parts := _path_parts(value, _VG_PATH):
        value = parts[0]
    return validate_name(value, what="VG name", pattern=_NAME, max_len=127)


def lv_name(value: object, *, vg: str | None = None) -> str:
    """Check an LV name: VG name rules plus LVM's reserved prefixes and sub-LV suffixes.

    ``/dev/VG/LV`` is accepted too, and so is a ``LogicalVolume`` result (its path): its VG must then be ``vg``.
    """
    if parts := _path_parts(value, _LV_PATH):
        if vg is not None and parts[0] != vg:
            raise ValidationError(f"LV {named_path(value)}: it is in VG {parts[0]}, not in {vg}")
        value = parts[1]
    name = validate_name(value, what="LV name", pattern=_NAME, max_len=127)
    if name.startswith(_RESERVED_PREFIXES):
        raise ValidationError(f"LV name: {name!r} starts with a prefix LVM reserves ({', '.join(_RESERVED_PREFIXES)})")
    for part in _RESERVED_PARTS:
        if part in name:
            raise ValidationError(f"LV name: {name!r} contains {part!r}, which LVM reserves for hidden sub-LVs")
    return name
