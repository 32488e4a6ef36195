"""pybofh-blockdev's part of ``bofh status``: the block-device tree, and filesystems with their space and mountpoints.

Two reads: ``list_devices()`` (one ``lsblk``, at most one ``blkid``) and one ``findmnt`` that asks the kernel for
every mount's size, used and available bytes (``statfs``, as df does), so no command runs per filesystem.
"""

from __future__ import annotations

from typing import Any

from pybofh_core.errors import ParseError
from pybofh_core.parsing import decode_text, load_json_output, public_parsers
from pybofh_core.runner import run
from pybofh_core.status import StatusSection, section

from .parsers import Data
from .types import MountUsage

FINDMNT_USAGE_ARGV = ["findmnt", "-J", "-b", "-o", "TARGET,SOURCE,FSTYPE,SIZE,USED,AVAIL"]


def parse_findmnt_usage(data: Data, *, source: str | None = None) -> list[MountUsage]:
    """Parse ``findmnt -J -b -o TARGET,SOURCE,FSTYPE,SIZE,USED,AVAIL`` (util-linux 2.33 to 2.41): every mount,
    the tree flattened depth-first, with its sizes in bytes (JSON numbers, or digit strings from older versions;
    null when findmnt could not read them). An empty output means nothing is mounted."""
    tool = "findmnt"
    if not decode_text(data, drop_nul=True).strip():
        return []
    doc, _ = load_json_output(data, tool, source, drop_nul=True)
    if not isinstance(doc, dict) or not isinstance(doc.get("filesystems"), list):
        raise ParseError(tool, 'expected {"filesystems": [...]}', str(doc)[:200], source)
    out: list[MountUsage] = []
    todo: list[Any] = list(reversed(doc["filesystems"]))
    while todo:  # depth-first without recursion: a hostile nesting cannot exhaust the stack
        row = todo.pop()
        if not isinstance(row, dict):
            raise ParseError(tool, "a filesystem entry is not an object", str(row)[:200], source)
        target, src, fstype = row.get("target"), row.get("source"), row.get("fstype")
        if not (isinstance(target, str) and isinstance(src, str) and isinstance(fstype, str)):
            raise ParseError(tool, "a filesystem lacks its target, source or fstype", str(row)[:200], source)
        sizes = [_bytes(row.get(k), k, tool, source) for k in ("size", "used", "avail")]
        out.append(MountUsage(target, src, fstype, *sizes))
        children = row.get("children", [])
        if not isinstance(children, list):
            raise ParseError(tool, "children is not a list", str(children)[:200], source)
        todo.extend(reversed(children))
    return out


def _bytes(value: Any, column: str, tool: str, source: str | None) -> int | None:
    """A byte count from a JSON number or a digit string; None for null or empty."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdecimal() and value.strip().isascii():
        return int(value.strip())
    raise ParseError(tool, f"{column} {value!r} is not a byte count (use findmnt -b)", str(value), source)


def list_mount_usage() -> list[MountUsage]:
    """Every mount with its size, used and available bytes, from one ``findmnt`` call."""
    return parse_findmnt_usage(run(FINDMNT_USAGE_ARGV, readonly=True).stdout, source="findmnt -J -b")


def is_storage(mount: MountUsage) -> bool:
    """Whether a mount is a filesystem on storage: a block device or image (its source is a path) or a network
    share (``host:/export``, ``//server/share``); proc, sysfs, tmpfs, overlay and the like are not."""
    device = mount.device
    return device.startswith("/") or ":" in device


def device_rows() -> list[dict[str, Any]]:
    """One row per block device, depth-first like lsblk's tree (``depth`` 0 for the roots)."""
    from .facts import list_devices

    tree = list_devices()
    return [
        {"name": dev.path or dev.name, "type": dev.type, "size": dev.size, "fstype": dev.fstype, "label": dev.label,
         "uuid": dev.uuid, "mountpoints": list(dev.mountpoints), "depth": depth}
        for depth, dev in tree.walk()
    ]


def filesystem_rows(mounts: list[MountUsage] | None = None) -> list[dict[str, Any]]:
    """One row per filesystem on storage: its device, type, size, used and free bytes (``free``: available to
    unprivileged users, df's Avail), use percent as df rounds it, and every place it is mounted."""
    mounts = list_mount_usage() if mounts is None else mounts
    rows: dict[str, dict[str, Any]] = {}
    for m in mounts:
        if not is_storage(m):
            continue
        row = rows.get(m.device)
        if row is None:
            row = rows[m.device] = {"device": m.device, "fstype": m.fstype, "size": m.size, "used": m.used,
                                    "free": m.avail, "use_percent": _use_percent(m), "mountpoints": []}
        if m.target not in row["mountpoints"]:
            row["mountpoints"].append(m.target)
    return list(rows.values())


def _use_percent(m: MountUsage) -> int | None:
    """df's Use%: used over what users can have (used + available), rounded up."""
    if m.used is None or m.avail is None or m.used + m.avail == 0:
        return None
    return -(-100 * m.used // (m.used + m.avail))


def sections() -> list[StatusSection]:
    """The block-device tree and the filesystems with their space, each read on its own."""
    return [
        section("devices", "Block devices", device_rows, order=10, sizes=("size",),
                columns=("name", "type", "size", "fstype", "label", "mountpoints")),
        section("filesystems", "Filesystems", filesystem_rows, order=40, sizes=("size", "used", "free"),
                columns=("device", "fstype", "size", "used", "free", "use_percent", "mountpoints"),
                headers={"use_percent": "use%"}),
    ]


public_parsers(globals())  # GC paused while parsing; huge numbers become ParseError
