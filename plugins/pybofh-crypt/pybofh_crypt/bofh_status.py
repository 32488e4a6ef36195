"""pybofh-crypt's part of ``bofh status``: the open dm-crypt mappings (LUKS1, LUKS2, plain…), from one ``dmsetup``.

``dmsetup info -c`` lists every device-mapper device with its dm UUID, which for cryptsetup's mappings names the
type and the LUKS UUID, and the devices under it; no key material is read (``dmsetup table`` would print the key).
Where the kernel has no device-mapper the section says so.
"""

from __future__ import annotations

from typing import Any

from pybofh_core.errors import CommandError, ParseError, ToolUnavailableError
from pybofh_core.parsing import decode_text, public_parsers
from pybofh_core.runner import run
from pybofh_core.status import StatusSection, section

from .types import DmDevice

#: ``/`` separates the columns: no device-mapper name, kernel name, count or attribute can hold one
DMSETUP_INFO_ARGV = ["dmsetup", "info", "-c", "--noheadings", "--separator", "/", "-o",
                     "name,uuid,blkdevname,blkdevs_used,open,attr"]
_NO_DEVICES = "No devices found"
_NO_DM = ("Failure to communicate with kernel device-mapper driver", "/dev/mapper/control: open failed: No such")


def parse_dmsetup_info(data: str | bytes, *, source: str | None = None) -> list[DmDevice]:
    """Parse ``dmsetup info -c --noheadings --separator / -o name,uuid,blkdevname,blkdevs_used,open,attr``
    (device-mapper 1.02.x): one device per line; ``No devices found`` (or nothing) means there is none.

    A name never holds ``/``, and neither do the four last columns, so a UUID that does is still read whole.
    """
    tool = "dmsetup info"
    text = decode_text(data)
    out: list[DmDevice] = []
    for line in text.splitlines():
        if not line.strip() or line.strip() == _NO_DEVICES:
            continue
        name, sep, rest = line.partition("/")
        fields = rest.rsplit("/", 4)
        if not sep or not name or len(fields) != 5:
            raise ParseError(tool, "expected 6 columns separated by /", line, source)
        uuid, kname, uses, opened, attr = fields
        if not kname.startswith("dm-") or not opened.strip().isdecimal() or not opened.isascii():
            raise ParseError(tool, "expected a dm-N kernel name and an open count", line, source)
        out.append(DmDevice(name=name, uuid=uuid or None, kname=kname, uses=tuple(u for u in uses.split(",") if u),
                            open=int(opened), attr=attr.strip()))
    return out


def list_dm_devices() -> list[DmDevice]:
    """Every device-mapper device, from one read-only ``dmsetup info -c``; ToolUnavailableError where this kernel
    has no device-mapper."""
    try:
        res = run(DMSETUP_INFO_ARGV, readonly=True)
    except CommandError as exc:
        err = decode_text(exc.stderr)
        if any(marker in err for marker in _NO_DM):
            raise ToolUnavailableError("device-mapper", "the kernel module dm_mod is not loaded") \
                from exc
        raise
    return parse_dmsetup_info(res.stdout, source="dmsetup info -c")


def mapping_rows(devices: list[DmDevice] | None = None) -> list[dict[str, Any]]:
    """One row per mapping cryptsetup made: name, type, LUKS UUID, the device under it, holders, read-only."""
    devices = list_dm_devices() if devices is None else devices
    by_kname = {d.kname: d for d in devices}

    def path_of(kname: str) -> str:
        dm = by_kname.get(kname)
        return f"/dev/mapper/{dm.name}" if dm is not None else "/dev/" + kname.replace("!", "/")

    return [
        {"mapping": d.name, "path": f"/dev/mapper/{d.name}", "type": d.crypt_type, "uuid": d.luks_uuid,
         "device": ",".join(path_of(k) for k in d.uses) or None, "open": d.open, "read_only": d.read_only}
        for d in devices
        if d.crypt_type is not None and d.crypt_type not in ("SUBDEV", "TEMP")  # a LUKS2 integrity device's parts
    ]


def sections() -> list[StatusSection]:
    """The open dm-crypt mappings."""
    return [section("mappings", "Encrypted mappings (dm-crypt)", mapping_rows, order=30,
                    columns=("mapping", "type", "device", "open", "read_only", "uuid"))]


public_parsers(globals())  # GC paused while parsing; huge numbers become ParseError
