"""Pure parsers of btrfs-progs output: no I/O, no clock; each raises ParseError on output it does not claim.

Every parser takes the raw stdout (``str`` or ``bytes``; bytes are decoded by ``parsing.decode_names`` (core) so odd
subvolume names survive) and an optional ``source`` (file or command) named in its errors. Lines are split on the
first separator or on runs of whitespace, never on fixed columns, so TABs, padding and two-word keys
(``top level``) do not matter. Each docstring lists the formats and btrfs-progs versions it claims.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

from pybofh_core.errors import ParseError
from pybofh_core.parsing import decode_names, int_field, load_json, public_parsers

from .types import (
    FS_TREE_ID,
    BalanceState,
    BalanceStatus,
    DeviceStats,
    DeviceUsage,
    Filesystem,
    FilesystemDevice,
    FilesystemDf,
    FilesystemShow,
    FilesystemUsage,
    MountEntry,
    Qgroup,
    ScrubState,
    ScrubStatus,
    SpaceInfo,
    Subvolume,
    SubvolumeDetails,
    UsageProfile,
)

FS_TREE_PREFIX = "<FS_TREE>/"
_UNITS = {
    "b": 1, "": 1,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4, "pib": 1024**5, "eib": 1024**6,
    "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4, "pb": 1000**5, "eb": 1000**6,
}
_SIZE_RE = re.compile(r"^(-?[0-9]+(?:\.[0-9]+)?)([A-Za-z]*)$")


def _fail(tool: str, message: str, excerpt: str = "", source: str | None = None) -> NoReturn:
    raise ParseError(tool=tool, message=message, excerpt=excerpt, source=source)


def _lines(text: str) -> list[str]:
    """Lines without their line ends (``\\r\\n`` tolerated), empty lines kept."""
    return [ln.rstrip("\r") for ln in text.split("\n")]


def parse_bytes(value: str) -> tuple[int, bool]:
    """Read a btrfs size (``5368709120``, ``-1073741824``, ``3.01GiB``, ``0.00B``, ``1.5MB``) as (bytes, exact).

    Rounded unit forms give approximate bytes (``exact`` False); plain integers are exact. Raises ValueError.
    """
    m = _SIZE_RE.match(value.strip())
    if not m:
        raise ValueError(f"not a size: {value!r}")
    number, unit = m.groups()
    factor = _UNITS.get(unit.lower())
    if factor is None:
        raise ValueError(f"unknown unit in {value!r}")
    try:
        amount = Decimal(number) * factor
    except InvalidOperation:
        raise ValueError(f"not a size: {value!r}") from None
    exact = unit == "" and "." not in number
    return int(amount.to_integral_value()), exact


def _uuid(value: str) -> str | None:
    value = value.strip()
    return None if value in ("", "-") else value


def _strip_fs_tree(path: str) -> str:
    if path == "<FS_TREE>":
        return ""
    return path[len(FS_TREE_PREFIX):] if path.startswith(FS_TREE_PREFIX) else path


# --- subvolume list / get-default ----------------------------------------------------------------------------------

# key -> (regex of its value, converter). Order matters only for matching ``parent_uuid`` before ``parent``.
_LIST_KEYS: list[tuple[str, str]] = [
    ("ID", r"[0-9]+"),
    ("gen", r"[0-9]+"),
    ("cgen", r"[0-9]+"),
    ("parent_uuid", r"\S+"),
    ("received_uuid", r"\S+"),
    ("parent", r"[0-9]+"),
    ("top level", r"[0-9]+"),
    ("otime", r"\S+ \S+"),
    ("uuid", r"\S+"),
]
_LIST_TOKEN = re.compile(
    r"\s*(?:(?P<path>path) (?P<pathval>.*)$|"
    + "|".join(f"(?P<k{i}>{re.escape(k)})\\s+(?P<v{i}>{v})(?=\\s|$)" for i, (k, v) in enumerate(_LIST_KEYS))
    + ")"
)


def _parse_list_line(line: str, tool: str, source: str | None) -> Subvolume:
    pos = 0
    fields: dict[str, str] = {}
    path: str | None = None
    while pos < len(line):
        m = _LIST_TOKEN.match(line, pos)
        if not m:
            _fail(tool, f"unexpected field at column {pos + 1}", line, source)
        if m.group("path"):
            path = m.group("pathval")
            break
        for i, (key, _) in enumerate(_LIST_KEYS):
            if m.group(f"k{i}"):
                if key in fields:
                    _fail(tool, f"field {key!r} appears twice", line, source)
                fields[key] = m.group(f"v{i}")
                break
        pos = m.end()
    if "ID" not in fields or path is None:
        _fail(tool, "a subvolume line needs 'ID N' and 'path P'", line, source)
    ints = {k: int(fields[k]) for k in ("gen", "cgen", "parent", "top level") if k in fields}
    return Subvolume(
        id=int(fields["ID"]),
        path=_strip_fs_tree(path),
        gen=ints.get("gen"),
        cgen=ints.get("cgen"),
        parent_id=ints.get("parent"),
        top_level=ints.get("top level"),
        uuid=_uuid(fields["uuid"]) if "uuid" in fields else None,
        parent_uuid=_uuid(fields["parent_uuid"]) if "parent_uuid" in fields else None,
        received_uuid=_uuid(fields["received_uuid"]) if "received_uuid" in fields else None,
        otime=fields.get("otime"),
    )


def parse_subvolume_list(data: str | bytes, *, source: str | None = None) -> list[Subvolume]:
    """Parse ``btrfs subvolume list`` with any of ``-p -c -g -u -q -R -s -a -r -o`` (btrfs-progs 3.x-6.15).

    Claims every column layout those flags produce: ``ID gen [cgen] [parent] top level [otime D T]
    [parent_uuid U] [received_uuid U] [uuid U] path P``, uuids ``-`` padded to uuid width (new progs) or bare (old
    progs), ``<FS_TREE>/`` prefixes from ``-a`` (removed), paths with spaces (``path`` is always last). Empty
    output is an empty list. The ``readonly`` flag is not in this output (see ``parse_subvolume_ids()``).
    """
    text = decode_names(data)
    out = []
    for line in _lines(text):
        if not line.strip():
            continue
        if not line.startswith("ID "):
            _fail("btrfs subvolume list", "a line does not start with 'ID '", line, source)
        out.append(_parse_list_line(line, "btrfs subvolume list", source))
    return out


def parse_subvolume_ids(data: str | bytes, *, source: str | None = None) -> set[int]:
    """The subvolume ids of a ``btrfs subvolume list`` output (used with ``-r`` to learn which are read-only)."""
    return {int(sv.id) for sv in parse_subvolume_list(data, source=source)}  # (parsed: never a placeholder)


_DEFAULT_FS_TREE = re.compile(r"^ID\s+5\s+\(FS_TREE\)\s*$")


def parse_get_default(data: str | bytes, *, source: str | None = None) -> Subvolume:
    """Parse ``btrfs subvolume get-default``: ``ID 5 (FS_TREE)`` or a ``subvolume list``-style line (all progs)."""
    text = decode_names(data)
    lines = [ln for ln in _lines(text) if ln.strip()]
    if len(lines) != 1:
        _fail("btrfs subvolume get-default", f"expected one line, got {len(lines)}", text, source)
    line = lines[0]
    if _DEFAULT_FS_TREE.match(line):
        return Subvolume(id=FS_TREE_ID, path="")
    if not line.startswith("ID "):
        _fail("btrfs subvolume get-default", "the line does not start with 'ID '", line, source)
    return _parse_list_line(line, "btrfs subvolume get-default", source)


def parse_rootid(data: str | bytes, *, source: str | None = None) -> int:
    """Parse ``btrfs inspect-internal rootid``: one subvolume id on one line (all progs)."""
    text = decode_names(data).strip()
    if not text.isdecimal():
        _fail("btrfs inspect-internal rootid", "expected one subvolume id", text, source)
    return int(text)


# --- subvolume show ------------------------------------------------------------------------------------------------

_SHOW_KEYS = {
    "Name", "UUID", "Parent UUID", "Received UUID", "Creation time", "Subvolume ID", "Generation",
    "Gen at creation", "Parent ID", "Top level ID", "Flags", "Send transid", "Send time", "Receive transid",
    "Receive time", "Snapshot(s)", "Quota group", "Limit referenced", "Limit exclusive", "Usage referenced",
    "Usage exclusive",
}
_TOPLEVEL_ONE_LINE = re.compile(r"^(?P<path>.+) is toplevel subvolume$")


def parse_subvolume_show(data: str | bytes, *, source: str | None = None) -> SubvolumeDetails:
    """Parse ``btrfs subvolume show`` (btrfs-progs 3.x-6.15).

    Claims: the path line followed by ``Key: value`` fields indented with TABs or spaces (``Send``/``Receive``
    fields of newer progs and the ``Quota group`` block optional), the ``Snapshot(s):`` list (one deeper-indented
    path per line, possibly empty), ``-`` for absent uuids/times, and the old one-line answer
    ``PATH is toplevel subvolume``. Anything before the path line (e.g. a pasted shell command) is refused.
    """
    tool = "btrfs subvolume show"
    text = decode_names(data)
    lines = [ln for ln in _lines(text) if ln.strip()]
    if not lines:
        _fail(tool, "empty output", text, source)
    one = _TOPLEVEL_ONE_LINE.match(lines[0].strip())
    if one and len(lines) == 1:
        return SubvolumeDetails(path="", name="<FS_TREE>", id=FS_TREE_ID)
    head = lines[0]
    if head[:1].isspace() or head.split(":", 1)[0].strip() in _SHOW_KEYS:
        _fail(tool, "the first line must be the subvolume path", head, source)
    fields: dict[str, str] = {}
    snapshots: list[str] = []
    in_snapshots = False
    for line in lines[1:]:
        if not line[:1].isspace():
            _fail(tool, "an unindented line after the path line", line, source)
        key, sep, value = line.strip().partition(":")
        if sep and key.strip() in _SHOW_KEYS:
            key = key.strip()
            in_snapshots = key == "Snapshot(s)"
            if key in fields:
                _fail(tool, f"field {key!r} appears twice", line, source)
            fields[key] = value.strip()
            continue
        if in_snapshots:
            snapshots.append(line.strip())
            continue
        _fail(tool, "an unknown field", line, source)
    for required in ("Name", "Subvolume ID"):
        if required not in fields:
            _fail(tool, f"no {required!r} field", text, source)

    def num(key: str) -> int | None:
        value = fields.get(key)
        if value is None or value == "-":
            return None
        if not value.isdecimal():
            _fail(tool, f"{key} is not a number", value, source)
        return int(value)

    flags = tuple(f.strip() for f in fields.get("Flags", "-").split(",") if f.strip() and f.strip() != "-")
    path = head.strip()
    ident = num("Subvolume ID")
    assert ident is not None  # checked above: a required field
    return SubvolumeDetails(
        path="" if path == "/" else _strip_fs_tree(path),
        name=fields["Name"],
        id=ident,
        uuid=_uuid(fields.get("UUID", "-")),
        parent_uuid=_uuid(fields.get("Parent UUID", "-")),
        received_uuid=_uuid(fields.get("Received UUID", "-")),
        creation_time=None if fields.get("Creation time", "-") == "-" else fields["Creation time"],
        gen=num("Generation"),
        cgen=num("Gen at creation"),
        parent_id=num("Parent ID"),
        top_level=num("Top level ID"),
        readonly=("readonly" in flags) if "Flags" in fields else None,
        flags=flags,
        send_transid=num("Send transid"),
        receive_transid=num("Receive transid"),
        snapshots=tuple(snapshots),
        quota_group=fields.get("Quota group") or None,
    )


# --- filesystem show -----------------------------------------------------------------------------------------------

_LABEL = re.compile(r"^Label:\s+(?:'(?P<q>.*)'|(?P<bare>\S+))\s+uuid:\s+(?P<uuid>[0-9a-fA-F-]{36})\s*$")
_TOTAL = re.compile(r"^Total devices\s+(?P<n>[0-9]+)\s+FS bytes used\s+(?P<used>\S+)$")
_DEVID = re.compile(
    r"^devid\s+(?P<devid>[0-9]+)\s+size\s+(?P<size>\S+)\s+used\s+(?P<used>\S+)\s+path(?: (?P<path>.*))?$"
)
_WARN_MISSING = re.compile(r"^warning, device [0-9]+ is missing$")
_PROGS_TRAILER = re.compile(r"^Btrfs v(?P<v>\S+)$|^btrfs-progs v(?P<v2>\S+)$")


def parse_filesystem_show(data: str | bytes, *, source: str | None = None) -> FilesystemShow:
    """Parse ``btrfs filesystem show [--raw]`` (btrfs-progs 3.12-6.x, kernels up to 6.2 seen).

    Claims: ``Label: 'x'``/``Label: none`` blocks, ``Total devices``/``devid`` lines indented with TABs or spaces,
    rounded units or ``--raw`` bytes, a missing device as ``path  MISSING`` (empty path), ``path /dev/x MISSING``
    or left out, ``*** Some devices missing`` with or without indent, ``warning, device N is missing`` lines
    before a block (kept in ``warnings``), and the ``Btrfs v3.12`` trailer of old progs.
    """
    tool = "btrfs filesystem show"
    text = decode_names(data)
    filesystems: list[Filesystem] = []
    warnings: list[str] = []
    version: str | None = None
    current: dict[str, Any] | None = None

    def close() -> None:
        nonlocal current
        if current is None:
            return
        if current.get("total") is None:
            _fail(tool, f"filesystem {current['uuid']} has no 'Total devices' line", text, source)
        filesystems.append(Filesystem(
            label=current["label"], uuid=current["uuid"], total_devices=current["total"],
            bytes_used=current["used"], devices=tuple(current["devices"]), some_missing=current["missing"],
            exact=current["exact"],
        ))
        current = None

    def size(value: str, line: str) -> int:
        try:
            n, exact = parse_bytes(value)
        except ValueError:
            _fail(tool, f"cannot read size {value!r}", line, source)
        if current is not None and not exact:
            current["exact"] = False
        return n

    for raw in _lines(text):
        line = raw.strip()
        if not line:
            continue
        if m := _LABEL.match(line):
            close()
            label = m.group("q") if m.group("q") is not None else m.group("bare")
            current = {"label": None if m.group("bare") == "none" else label, "uuid": m.group("uuid"),
                       "total": None, "used": 0, "devices": [], "missing": False, "exact": True}
            continue
        if _WARN_MISSING.match(line):
            warnings.append(line)
            continue
        if m := _PROGS_TRAILER.match(line):
            close()
            version = m.group("v") or m.group("v2")
            continue
        if current is None:
            _fail(tool, "a line outside any 'Label:' block", line, source)
        if m := _TOTAL.match(line):
            current["total"] = int(m.group("n"))
            current["used"] = size(m.group("used"), line)
        elif m := _DEVID.match(line):
            rest = (m.group("path") or "").strip()
            missing = rest == "MISSING" or rest.endswith(" MISSING")
            path = rest[: -len("MISSING")].strip() if missing else rest
            if not path and not missing:
                _fail(tool, "a device line without a path", line, source)
            current["devices"].append(FilesystemDevice(
                devid=int(m.group("devid")), size=size(m.group("size"), line), used=size(m.group("used"), line),
                path=path or None, missing=missing,
            ))
        elif line == "*** Some devices missing":
            current["missing"] = True
        else:
            _fail(tool, "an unknown line", line, source)
    close()
    if not filesystems and not text.strip() == "":
        _fail(tool, "no 'Label:' block found", text, source)
    return FilesystemShow(filesystems=tuple(filesystems), warnings=tuple(warnings), progs_version=version)


# --- JSON (--format json) ------------------------------------------------------------------------------------------


def _json_section(text: str, key: str, tool: str, source: str | None) -> list[dict[str, Any]]:
    doc = load_json(text, tool, source)[0]
    if not isinstance(doc, dict) or not isinstance(doc.get("__header"), dict):
        _fail(tool, "no '__header' object: not btrfs --format json output", text, source)
    if str(doc["__header"].get("version")) != "1":
        _fail(tool, f"unsupported JSON format version {doc['__header'].get('version')!r}", text, source)
    rows = doc.get(key)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        _fail(tool, f"no {key!r} list", text, source)
    return rows


def _json_int(row: dict[str, Any], key: str, tool: str, source: str | None) -> int:
    """A JSON count that btrfs-progs 6.1 prints as a string and 6.15 as a number."""
    value = row.get(key)
    if isinstance(value, bool) or value is None:
        _fail(tool, f"missing or bad {key!r}", json.dumps(row), source)
    return int_field(value, repr(key), tool, source, signed=True, excerpt=json.dumps(row))


# --- filesystem df -------------------------------------------------------------------------------------------------

# A block-group type (``Data``, ``Metadata``, ``System``, ``GlobalReserve``, ``unknown``, and ``Data+Metadata`` on a
# filesystem made with ``mkfs.btrfs --mixed``) and a profile (``single``, ``DUP``, ``RAID0``, ``RAID1``, ``RAID1C3``,
# ``RAID1C4``, ``RAID10``, ``RAID5``, ``RAID6``, ``unknown``), as btrfs-progs prints them in df, usage and device usage.
_BG_TYPE = r"[A-Za-z]+(?:\+[A-Za-z]+)*"
_BG_PROFILE = r"[A-Za-z0-9]+"
_DF_LINE = re.compile(
    rf"^(?P<type>{_BG_TYPE}),\s*(?P<profile>{_BG_PROFILE}):\s*total=(?P<total>\S+),\s*used=(?P<used>\S+)$"
)


def parse_filesystem_df(data: str | bytes, *, source: str | None = None) -> FilesystemDf:
    """Parse ``btrfs filesystem df`` text (all progs) or ``btrfs --format json filesystem df`` (5.19+).

    Claims: text lines ``Data, single: total=3.01GiB, used=2.89GiB`` (rounded units, or bytes with ``-b``),
    and JSON ``filesystem-df`` rows whose ``total``/``used`` are numbers (6.15) or strings (6.1, 6.2); every
    block-group type and profile name, ``Data+Metadata`` of mixed filesystems included.
    """
    tool = "btrfs filesystem df"
    text = decode_names(data)
    if text.lstrip().startswith("{"):
        rows = _json_section(text, "filesystem-df", tool, source)
        spaces = []
        for row in rows:
            if not isinstance(row.get("bg-type"), str) or not isinstance(row.get("bg-profile"), str):
                _fail(tool, "a row without bg-type/bg-profile", json.dumps(row), source)
            spaces.append(SpaceInfo(row["bg-type"], row["bg-profile"], _json_int(row, "total", tool, source),
                                    _json_int(row, "used", tool, source)))
        return FilesystemDf(spaces=tuple(spaces), exact=True)
    spaces = []
    exact = True
    for line in _lines(text):
        if not line.strip():
            continue
        m = _DF_LINE.match(line.strip())
        if not m:
            _fail(tool, "not a 'Type, profile: total=…, used=…' line", line, source)
        try:
            total, e1 = parse_bytes(m.group("total"))
            used, e2 = parse_bytes(m.group("used"))
        except ValueError as exc:
            _fail(tool, str(exc), line, source)
        exact = exact and e1 and e2
        spaces.append(SpaceInfo(m.group("type"), m.group("profile"), total, used))
    if not spaces:
        _fail(tool, "no block-group lines", text, source)
    return FilesystemDf(spaces=tuple(spaces), exact=exact)


# --- filesystem usage ----------------------------------------------------------------------------------------------

_OVERALL_KEYS = {
    "Device size": "device_size", "Device allocated": "device_allocated", "Device unallocated": "device_unallocated",
    "Device missing": "device_missing", "Device slack": "device_slack", "Used": "used",
    "Free (estimated)": "free_estimated", "Free (statfs, df)": "free_statfs", "Data ratio": "data_ratio",
    "Metadata ratio": "metadata_ratio", "Global reserve": "global_reserve", "Multiple profiles": "multiple_profiles",
}
_PROFILE_HEAD = re.compile(
    rf"^(?P<type>{_BG_TYPE}),(?P<profile>{_BG_PROFILE}):\s*Size:(?P<size>\S+),\s*Used:(?P<used>\S+)"
    r"(?:\s+\([0-9.]+%\))?$"
)
_PAREN = re.compile(r"^(?P<value>\S+)(?:\s+\((?P<what>[a-z]+)(?::\s*(?P<inner>[^)]*))?\))?$")


def parse_filesystem_usage(data: str | bytes, *, source: str | None = None) -> FilesystemUsage:
    """Parse ``btrfs filesystem usage [-b]`` text (btrfs-progs 4.x-6.x; JSON is not offered by 6.2).

    Claims: the ``Overall:`` block (``Device slack`` and ``Multiple profiles`` optional, TAB/space padding,
    ``(min: …)``/``(used: …)``/``(data)`` remarks), ``Type,profile: Size:…, Used:… (p%)`` sections with one
    ``device size`` line each (any type and profile, ``Data+Metadata`` of mixed filesystems included), and the
    ``Unallocated:`` section; rounded units or ``-b`` bytes.
    """
    tool = "btrfs filesystem usage"
    text = decode_names(data)
    lines = _lines(text)
    overall: dict[str, Any] = {}
    extras: dict[str, str] = {}
    profiles: list[UsageProfile] = []
    unallocated: list[tuple[str, int]] = []
    exact = True
    section: str | None = None
    prof: dict[str, Any] | None = None

    def size(value: str, line: str) -> int:
        nonlocal exact
        try:
            n, e = parse_bytes(value)
        except ValueError:
            _fail(tool, f"cannot read size {value!r}", line, source)
        exact = exact and e
        return n

    def flush() -> None:
        nonlocal prof
        if prof is not None:
            profiles.append(UsageProfile(prof["type"], prof["profile"], prof["size"], prof["used"],
                                         tuple(prof["devices"])))
            prof = None

    for line in lines:
        if not line.strip():
            continue
        stripped = line.strip()
        if not line[:1].isspace():
            flush()
            if stripped == "Overall:":
                section = "overall"
            elif stripped == "Unallocated:":
                section = "unallocated"
            elif m := _PROFILE_HEAD.match(stripped):
                section = "profile"
                prof = {"type": m.group("type"), "profile": m.group("profile"),
                        "size": size(m.group("size"), line), "used": size(m.group("used"), line), "devices": []}
            else:
                _fail(tool, "an unknown section header", line, source)
            continue
        if section == "overall":
            key, sep, value = stripped.partition(":")
            if not sep or key.strip() not in _OVERALL_KEYS:
                _fail(tool, "an unknown 'Overall' field", line, source)
            m = _PAREN.match(value.strip())
            if not m:
                _fail(tool, "cannot read the value", line, source)
            name = _OVERALL_KEYS[key.strip()]
            if name in overall:
                _fail(tool, f"{key.strip()!r} appears twice", line, source)
            raw = m.group("value")
            if name == "multiple_profiles":
                if raw not in ("yes", "no"):
                    _fail(tool, "Multiple profiles is not yes/no", line, source)
                overall[name] = raw == "yes"
            elif name in ("data_ratio", "metadata_ratio"):
                try:
                    overall[name] = float(raw)
                except ValueError:
                    _fail(tool, f"{key.strip()} is not a number", line, source)
            else:
                overall[name] = size(raw, line)
            if m.group("what"):
                extras[f"{name}:{m.group('what')}"] = (m.group("inner") or "").strip()
        elif section in ("profile", "unallocated"):
            parts = stripped.rsplit(None, 1)
            if len(parts) != 2:
                _fail(tool, "a device line needs a path and a size", line, source)
            entry = (parts[0].strip(), size(parts[1], line))
            if section == "profile" and prof is not None:
                prof["devices"].append(entry)
            else:
                unallocated.append(entry)
        else:
            _fail(tool, "an indented line outside any section", line, source)
    flush()
    required = ["device_size", "device_allocated", "device_unallocated", "device_missing", "used", "free_estimated",
                "data_ratio", "metadata_ratio", "global_reserve"]
    missing = [k for k in required if k not in overall]
    if missing:
        _fail(tool, f"no {', '.join(missing)} in the Overall block", text, source)
    min_free = extras.get("free_estimated:min")
    reserve_used = extras.get("global_reserve:used")
    return FilesystemUsage(
        device_size=overall["device_size"], device_allocated=overall["device_allocated"],
        device_unallocated=overall["device_unallocated"], device_missing=overall["device_missing"],
        used=overall["used"], free_estimated=overall["free_estimated"],
        free_estimated_min=size(min_free, min_free) if min_free else None,
        free_statfs=overall.get("free_statfs"), data_ratio=overall["data_ratio"],
        metadata_ratio=overall["metadata_ratio"], global_reserve=overall["global_reserve"],
        global_reserve_used=size(reserve_used, reserve_used) if reserve_used else None,
        device_slack=overall.get("device_slack"), multiple_profiles=overall.get("multiple_profiles"),
        profiles=tuple(profiles), unallocated=tuple(unallocated), exact=exact,
    )


# --- device usage / device stats -----------------------------------------------------------------------------------

_DEV_HEAD = re.compile(r"^(?P<path>\S.*), ID: (?P<devid>[0-9]+)$")
_CHUNK_KEY = re.compile(rf"{_BG_TYPE},{_BG_PROFILE}")


def parse_device_usage(data: str | bytes, *, source: str | None = None) -> list[DeviceUsage]:
    """Parse ``btrfs device usage`` (bytes with ``-b``, or rounded units; btrfs-progs 4.x-6.x).

    Claims: ``/dev/x, ID: N`` headers, then indented ``Device size:``, ``Device slack:`` (newer progs),
    ``Type,profile:`` chunk lines (``Data+Metadata,single:`` on mixed filesystems) and ``Unallocated:`` (negative
    while a device is being removed).
    """
    tool = "btrfs device usage"
    text = decode_names(data)
    out: list[DeviceUsage] = []
    cur: dict[str, Any] | None = None

    def flush() -> None:
        nonlocal cur
        if cur is None:
            return
        if "size" not in cur or "unallocated" not in cur:
            _fail(tool, f"device {cur['path']} lacks 'Device size' or 'Unallocated'", text, source)
        out.append(DeviceUsage(cur["path"], cur["devid"], cur["size"], cur.get("slack"), cur["unallocated"],
                               tuple(cur["chunks"])))
        cur = None

    for line in _lines(text):
        if not line.strip():
            continue
        if not line[:1].isspace():
            m = _DEV_HEAD.match(line.strip())
            if not m:
                _fail(tool, "not a '/dev/x, ID: N' header", line, source)
            flush()
            cur = {"path": m.group("path"), "devid": int(m.group("devid")), "chunks": []}
            continue
        if cur is None:
            _fail(tool, "an indented line before any device header", line, source)
        key, sep, value = line.strip().partition(":")
        try:
            n, _ = parse_bytes(value)
        except ValueError:
            _fail(tool, "cannot read the size", line, source)
        if not sep:
            _fail(tool, "not a 'Key: size' line", line, source)
        key = key.strip()
        if key == "Device size":
            cur["size"] = n
        elif key == "Device slack":
            cur["slack"] = n
        elif key == "Unallocated":
            cur["unallocated"] = n
        elif _CHUNK_KEY.fullmatch(key):
            cur["chunks"].append((key, n))
        else:
            _fail(tool, "an unknown field", line, source)
    flush()
    if not out:
        _fail(tool, "no device found", text, source)
    return out


_STATS_LINE = re.compile(r"^\[(?P<dev>[^\]]+)\]\.(?P<key>[a-z_]+)\s+(?P<value>-?[0-9]+)$")


def parse_device_stats(data: str | bytes, *, source: str | None = None) -> list[DeviceStats]:
    """Parse ``btrfs device stats [-c]`` text (``[/dev/x].write_io_errs  0``, all progs) or ``--format json`` (5.19+).

    ``-c`` exits 64 when a counter is non-zero; the output itself is the same.
    """
    tool = "btrfs device stats"
    text = decode_names(data)
    if text.lstrip().startswith("{"):
        out = []
        for row in _json_section(text, "device-stats", tool, source):
            dev = row.get("device")
            if not isinstance(dev, str):
                _fail(tool, "a row without 'device'", json.dumps(row), source)
            counters = tuple((k, _json_int(row, k, tool, source)) for k in row if k not in ("device", "devid"))
            devid = _json_int(row, "devid", tool, source) if "devid" in row else None
            out.append(DeviceStats(device=dev, counters=counters, devid=devid))
        return out
    order: list[str] = []
    table: dict[str, list[tuple[str, int]]] = {}
    for line in _lines(text):
        if not line.strip():
            continue
        m = _STATS_LINE.match(line.strip())
        if not m:
            _fail(tool, "not a '[device].counter value' line", line, source)
        dev = m.group("dev")
        if dev not in table:
            order.append(dev)
            table[dev] = []
        if any(k == m.group("key") for k, _ in table[dev]):
            _fail(tool, f"counter {m.group('key')} of {dev} appears twice", line, source)
        table[dev].append((m.group("key"), int(m.group("value"))))
    if not order:
        _fail(tool, "no counters", text, source)
    return [DeviceStats(device=d, counters=tuple(table[d])) for d in order]


# --- qgroup show ---------------------------------------------------------------------------------------------------

_QGROUP_COLUMNS = {
    # new header (btrfs-progs 6.x)        old header (< 6.0)
    "Qgroupid": "qgroupid", "qgroupid": "qgroupid",
    "Referenced": "referenced", "rfer": "referenced",
    "Exclusive": "exclusive", "excl": "exclusive",
    "Max referenced": "max_referenced", "max_rfer": "max_referenced",
    "Max exclusive": "max_exclusive", "max_excl": "max_exclusive",
    "Parent": "parent", "parent": "parent",
    "Child": "child", "child": "child",
    "Path": "path",
}
_QGROUP_HEADER = re.compile("|".join(sorted((re.escape(k) for k in _QGROUP_COLUMNS), key=len, reverse=True)))


def parse_qgroup_show(data: str | bytes, *, source: str | None = None) -> list[Qgroup]:
    """Parse ``btrfs qgroup show [-pcre] [--raw]`` (old ``qgroupid rfer excl …`` header and the 6.x
    ``Qgroupid Referenced … Path`` header) or ``btrfs --format json qgroup show`` (6.x).

    Claims byte columns (``--raw``) and ``none`` limits; an empty parent/child is ``---`` (old) or ``-`` (new).
    Sizes in rounded units (without ``--raw``) are refused: they would not be bytes.
    """
    tool = "btrfs qgroup show"
    text = decode_names(data)
    if text.lstrip().startswith("{"):
        out = []
        for row in _json_section(text, "qgroup-show", tool, source):
            qid = row.get("qgroupid")
            if not isinstance(qid, str):
                _fail(tool, "a row without 'qgroupid'", json.dumps(row), source)

            def limit(key: str, row: dict[str, Any] = row) -> int | None:
                return None if row.get(key) == "none" else _json_int(row, key, tool, source)

            parents, children = row.get("parents", []), row.get("children", [])
            if not isinstance(parents, list) or not isinstance(children, list):
                _fail(tool, "parents/children are not lists", json.dumps(row), source)
            out.append(Qgroup(
                qgroupid=qid, referenced=_json_int(row, "referenced", tool, source),
                exclusive=_json_int(row, "exclusive", tool, source), max_referenced=limit("max_referenced"),
                max_exclusive=limit("max_exclusive"), parents=tuple(str(p) for p in parents),
                children=tuple(str(c) for c in children), path=row.get("path") or None,
            ))
        return out
    lines = [ln for ln in _lines(text) if ln.strip()]
    if len(lines) < 2 or not set(lines[1].split()) <= {"-" * n for n in range(1, 20)}:
        _fail(tool, "no header and '----' underline", text, source)
    header = lines[0].strip()
    columns = [_QGROUP_COLUMNS[m.group(0)] for m in _QGROUP_HEADER.finditer(header)]
    leftover = _QGROUP_HEADER.sub("", header).strip()
    if leftover or not columns or columns[0] != "qgroupid" or len(columns) != len(lines[1].split()):
        _fail(tool, "unknown header columns", header, source)
    out = []
    for line in lines[2:]:
        values = line.strip().split(None, len(columns) - 1)
        if len(values) != len(columns):
            _fail(tool, f"expected {len(columns)} columns", line, source)
        row = dict(zip(columns, values, strict=True))

        def num(key: str, line: str = line, row: dict[str, str] = row) -> int | None:
            if key not in row or row[key] == "none":
                return None
            if not re.fullmatch(r"[0-9]+", row[key]):
                _fail(tool, f"{key} is not a byte count (use --raw)", line, source)
            return int(row[key])

        def refs(key: str, row: dict[str, str] = row) -> tuple[str, ...]:
            value = row.get(key, "-").strip()
            return () if value in ("-", "---", "") else tuple(v for v in value.split(",") if v)

        referenced, exclusive = num("referenced"), num("exclusive")
        if referenced is None or exclusive is None:
            _fail(tool, "no referenced/exclusive bytes", line, source)
        out.append(Qgroup(
            qgroupid=row["qgroupid"], referenced=referenced, exclusive=exclusive,
            max_referenced=num("max_referenced"), max_exclusive=num("max_exclusive"),
            parents=refs("parent"), children=refs("child"), path=row.get("path"),
        ))
    return out


# --- scrub status --------------------------------------------------------------------------------------------------

_LEGACY_HEAD = re.compile(r"^scrub (?:status|done|canceled) for (?P<uuid>[0-9a-fA-F-]{36})$")
_NEW_HEAD = re.compile(r"^(?:UUID:\s+|scrub (?:done|canceled) for )(?P<uuid>[0-9a-fA-F-]{36})$")
_LEGACY_STARTED = re.compile(
    r"^scrub (?P<how>started|resumed) at (?P<date>.+?)"
    r"(?: and finished after (?P<fin>\S+)| and was aborted after (?P<abort>\S+)"
    r"|, running for (?P<run>\S+)|, interrupted after (?P<intr>\S+), not running)$"
)
_LEGACY_TOTAL = re.compile(r"^total bytes scrubbed: (?P<size>\S+) with (?P<errors>[0-9]+) errors$")
_LEGACY_FIXED = re.compile(
    r"^corrected errors: (?P<c>[0-9]+), uncorrectable errors: (?P<u>[0-9]+), unverified errors: (?P<v>[0-9]+)$"
)
_RATE = re.compile(r"^(?P<rate>\S+)/s(?: \(limit (?P<limit>\S+)/s\)| \((?P<some>some device limits set)\))?$")
_RAW_COUNTER = re.compile(r"^(?P<key>[a-z_]+): (?P<value>[0-9]+)$")
_DURATION = re.compile(r"^(?P<h>[0-9]+):(?P<m>[0-9]{2}):(?P<s>[0-9]{2})$")
_NOISE = re.compile(r"^(?:ERROR|WARNING): |^Starting scrub on devid [0-9]+(?: \(limit \S+\))?$|^scrub started on "
                    r"|^scrub resumed on ")
_MALLOC_WARNING = "*** WARNING: memory allocation failed while scrubbing. results may be inaccurate"


def _duration(value: str) -> int:
    m = _DURATION.match(value.strip())
    if not m:
        raise ValueError(value)
    return int(m.group("h")) * 3600 + int(m.group("m")) * 60 + int(m.group("s"))


def parse_scrub_status(data: str | bytes, *, source: str | None = None) -> ScrubStatus:
    """Parse ``btrfs scrub status [-R]`` and the summary of ``btrfs scrub start -B``.

    Claims the legacy layout (btrfs-progs 3.12 to 5.0: ``scrub status for UUID`` or ``scrub done|canceled for
    UUID`` / ``scrub started|resumed at …, running for …``, ``… and finished after …``, ``… and was aborted
    after …``, ``… interrupted after …, not running``, ``no stats available``, then either the summary ``total
    bytes scrubbed: X with N errors`` [``error details: read=N csum=N``, ``corrected errors: N, uncorrectable
    errors: N, unverified errors: N``] or ``-R`` raw counters) and the new layout (>= 5.1: ``UUID:``, ``Scrub
    started:`` or ``Scrub resumed:``, ``Status:``, ``Duration:``, ``Time left:``, ``ETA:``, ``Total to scrub:``,
    ``Bytes scrubbed: X (p%)``, ``Rate: X/s`` [``(limit X/s)``, ``(some device limits set)``, 6.6.3+], ``Error
    summary:`` with ``Corrected/Uncorrectable/Unverified``, or ``-R`` raw counters). ``ERROR:``/``WARNING:``
    lines interleaved from stderr, ``Starting scrub on devid N`` and the memory-allocation warning are kept in
    ``messages``.
    """
    tool = "btrfs scrub status"
    text = decode_names(data)
    lines = [ln for ln in _lines(text) if ln.strip()]
    messages: list[str] = []
    while lines and _NOISE.match(lines[0].strip()):
        messages.append(lines.pop(0).strip())
    if not lines:
        _fail(tool, "no status", text, source)
    head = lines[0].strip()
    info: dict[str, Any] = {}
    raw: list[tuple[str, int]] = []
    errors: list[tuple[str, int]] = []
    state: ScrubState | None = None

    def size(value: str, line: str) -> int:
        try:
            return parse_bytes(value)[0]
        except ValueError:
            _fail(tool, f"cannot read size {value!r}", line, source)

    def dur(value: str, line: str) -> int:
        try:
            return _duration(value)
        except ValueError:
            _fail(tool, f"cannot read duration {value!r}", line, source)

    if m := _LEGACY_HEAD.match(head):
        layout = "legacy" if head.startswith("scrub status") else "new"
    elif m := _NEW_HEAD.match(head):
        layout = "new"
    else:
        _fail(tool, "the first line is neither 'UUID: …' nor 'scrub status for …'", head, source)
    uuid = m.group("uuid")
    for line in lines[1:]:
        stripped = line.strip()
        if stripped == "no stats available":
            state = ScrubState.NO_STATS
            continue
        if stripped == _MALLOC_WARNING:
            messages.append(stripped)
            continue
        if m := _LEGACY_STARTED.match(stripped):
            layout = "legacy"
            info["started"] = m.group("date")
            info["resumed"] = m.group("how") == "resumed"
            for group, st in (("fin", ScrubState.FINISHED), ("abort", ScrubState.ABORTED),
                              ("run", ScrubState.RUNNING), ("intr", ScrubState.INTERRUPTED)):
                if m.group(group):
                    state = st
                    info["duration"] = dur(m.group(group), line)
            continue
        if (m := _RAW_COUNTER.match(stripped)) and line[:1].isspace():
            if any(k == m.group("key") for k, _ in raw):
                _fail(tool, f"counter {m.group('key')} appears twice", line, source)
            raw.append((m.group("key"), int(m.group("value"))))
            continue
        if m := _LEGACY_TOTAL.match(stripped):
            info["scrubbed"] = size(m.group("size"), line)
            info["error_count"] = int(m.group("errors"))
            continue
        if m := _LEGACY_FIXED.match(stripped):
            info.update(corrected=int(m.group("c")), uncorrectable=int(m.group("u")), unverified=int(m.group("v")))
            continue
        key, sep, value = stripped.partition(":")
        value = value.strip()
        if not sep:
            _fail(tool, "an unknown line", line, source)
        key = key.strip()
        if key in ("Scrub started", "Scrub resumed"):
            if "started" in info:
                _fail(tool, "two start times", line, source)
            info["started"] = value
            info["resumed"] = key == "Scrub resumed"
        elif key == "Status":
            try:
                state = ScrubState(value)
            except ValueError:
                _fail(tool, f"unknown status {value!r}", line, source)
        elif key == "Duration":
            info["duration"] = dur(value, line)
        elif key == "Time left":
            info["time_left"] = dur(value, line)
        elif key == "ETA":
            info["eta"] = value
        elif key == "Total to scrub":
            info["total"] = size(value, line)
        elif key == "Bytes scrubbed":
            bm = re.match(r"^(\S+)\s+\(([0-9.]+)%\)$", value)
            if not bm:
                _fail(tool, "cannot read 'Bytes scrubbed'", line, source)
            info["scrubbed"] = size(bm.group(1), line)
            info["percent"] = float(bm.group(2))
        elif key == "Rate":
            rm = _RATE.match(value)
            if not rm:
                _fail(tool, "cannot read the rate ('N/s' [(limit N/s)])", line, source)
            info["rate"] = size(rm.group("rate"), line)
            if rm.group("limit"):
                info["limit"] = size(rm.group("limit"), line)
            info["some_limits"] = bool(rm.group("some"))
        elif key in ("Error summary", "error details"):
            if errors:
                _fail(tool, "two error summaries", line, source)
            if value != "no errors found":
                for item in value.split():
                    name, eq, count = item.partition("=")
                    if not eq or not count.isdecimal():
                        _fail(tool, "cannot read the error summary", line, source)
                    errors.append((name, int(count)))
        elif key in ("Corrected", "Uncorrectable", "Unverified"):
            if not value.isdecimal():
                _fail(tool, f"{key} is not a number", line, source)
            info[key.lower()] = int(value)
        else:
            _fail(tool, "an unknown field", line, source)
    if state is None:
        _fail(tool, "no scrub state found", text, source)
    return ScrubStatus(
        uuid=uuid, state=state, layout=layout, started=info.get("started"), duration_seconds=info.get("duration"),
        time_left_seconds=info.get("time_left"), eta=info.get("eta"), total_bytes=info.get("total"),
        bytes_scrubbed=info.get("scrubbed"), percent=info.get("percent"), rate_bytes_per_second=info.get("rate"),
        errors=tuple(errors), corrected=info.get("corrected"), uncorrectable=info.get("uncorrectable"),
        unverified=info.get("unverified"), raw=tuple(raw), messages=tuple(messages),
        resumed=info.get("resumed", False), error_count=info.get("error_count"),
        rate_limit_bytes_per_second=info.get("limit"), some_devices_rate_limited=info.get("some_limits", False),
    )


# --- balance status ------------------------------------------------------------------------------------------------

_BAL_NONE = re.compile(r"^No balance found on '(?P<path>.*)'$")
_BAL_HEAD = re.compile(
    r"^Balance on '(?P<path>.*)' is (?P<state>running|paused)(?:, (?P<req>cancel|pause) requested)?$"
)
_BAL_PROGRESS = re.compile(
    r"^(?P<done>[0-9]+) out of about (?P<total>[0-9]+) chunks balanced \((?P<cons>[0-9]+) considered\),"
    r"\s+(?P<left>[0-9]+)% left$"
)


def parse_balance_status(data: str | bytes, *, source: str | None = None) -> BalanceStatus:
    """Parse ``btrfs balance status`` (all progs; exit code 1 while a balance runs, 0 otherwise).

    Claims ``No balance found on 'P'`` and ``Balance on 'P' is running|paused[, cancel|pause requested]``
    followed by ``N out of about M chunks balanced (K considered),  P% left`` (any spacing).
    """
    tool = "btrfs balance status"
    text = decode_names(data)
    lines = [ln.strip() for ln in _lines(text) if ln.strip()]
    if not lines:
        _fail(tool, "empty output", text, source)
    if m := _BAL_NONE.match(lines[0]):
        if len(lines) != 1:
            _fail(tool, "unexpected lines after 'No balance found'", lines[1], source)
        return BalanceStatus(path=m.group("path"), state=BalanceState.NONE)
    m = _BAL_HEAD.match(lines[0])
    if not m:
        _fail(tool, "the first line is not 'Balance on … is …'", lines[0], source)
    progress = None
    for line in lines[1:]:
        if progress is None and (p := _BAL_PROGRESS.match(line)):
            progress = p
        else:
            _fail(tool, "an unknown line", line, source)
    if progress is None:
        _fail(tool, "no 'chunks balanced' line", text, source)
    return BalanceStatus(
        path=m.group("path"), state=BalanceState(m.group("state")),
        cancel_requested=m.group("req") == "cancel", pause_requested=m.group("req") == "pause",
        chunks_balanced=int(progress.group("done")), chunks_total=int(progress.group("total")),
        chunks_considered=int(progress.group("cons")), percent_left=int(progress.group("left")),
    )


# --- receive -------------------------------------------------------------------------------------------------------

_AT_SUBVOL = re.compile(r"^At (?:subvol|snapshot) (?P<name>.+)$")


def parse_receive_name(data: str | bytes, *, source: str | None = None) -> str:
    """The name of the subvolume ``btrfs receive`` made, from its ``At subvol X`` (full stream, on stderr) or
    ``At snapshot X`` (incremental, on stdout) line; pass stdout and stderr joined (btrfs-progs 4.x-6.x)."""
    names = [m.group("name") for ln in _lines(decode_names(data)) if (m := _AT_SUBVOL.match(ln.strip()))]
    if len(names) != 1:
        _fail("btrfs receive", f"expected one 'At subvol|snapshot NAME' line, found {len(names)}", decode_names(data),
              source)
    return names[0]


# --- findmnt (where btrfs filesystems and subvolumes are mounted) ----------------------------------------------------


def parse_findmnt(data: str | bytes, *, source: str | None = None) -> list[MountEntry]:
    """Parse ``findmnt -J -o COLUMNS`` (util-linux 2.33+): the ``filesystems`` list, children flattened.

    Claims the columns ``TARGET``, ``SOURCE``, ``FSTYPE``, ``FSROOT`` and ``MAJ:MIN`` (any subset; absent ones are
    None). Empty output (findmnt found nothing and exited 1) is an empty list.
    """
    tool = "findmnt"
    text = decode_names(data)
    if not text.strip():
        return []
    doc = load_json(text, tool, source)[0]
    if not isinstance(doc, dict) or not isinstance(doc.get("filesystems"), list):
        _fail(tool, "no 'filesystems' list", text, source)
    out: list[MountEntry] = []

    def walk(rows: list[Any]) -> None:
        for row in rows:
            if not isinstance(row, dict) or not isinstance(row.get("target"), str):
                _fail(tool, "a filesystem without a target", json.dumps(row)[:200], source)
            values = {k: row.get(k) for k in ("source", "fstype", "fsroot", "maj:min")}
            if any(v is not None and not isinstance(v, str) for v in values.values()):
                _fail(tool, "a column that is not a string", json.dumps(row)[:200], source)
            out.append(MountEntry(target=row["target"], source=values["source"], fstype=values["fstype"],
                                  fsroot=values["fsroot"], majmin=values["maj:min"]))
            children = row.get("children")
            if children is not None:
                if not isinstance(children, list):
                    _fail(tool, "'children' is not a list", json.dumps(row)[:200], source)
                walk(children)

    walk(doc["filesystems"])
    return out


# --- the public parsers ----------------------------------------------------------------------------------------------


public_parsers(globals())  # GC paused while parsing; huge numbers become ParseError


PARSERS: dict[str, Callable[..., Any]] = {
    "subvolume list": parse_subvolume_list,
    "subvolume show": parse_subvolume_show,
    "subvolume get-default": parse_get_default,
    "filesystem show": parse_filesystem_show,
    "filesystem df": parse_filesystem_df,
    "filesystem usage": parse_filesystem_usage,
    "device usage": parse_device_usage,
    "device stats": parse_device_stats,
    "qgroup show": parse_qgroup_show,
    "scrub status": parse_scrub_status,
    "balance status": parse_balance_status,
}
"""Each btrfs sub-command whose output pybofh reads, with its parser."""
