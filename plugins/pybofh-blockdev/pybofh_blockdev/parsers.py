"""Pure parsers for lsblk, blkid, findmnt, losetup and the filesystem tools' reports: text (or bytes) in, types out.

No I/O here. Each parser states the formats it claims; anything else raises ``ParseError`` naming the tool
(and the source file when given), never a half-filled result. Outputs may arrive as bytes: they are decoded by
``pybofh_core.parsing`` (``decode_text``; ``decode_names`` where a label's exact bytes are kept beside its printable
form; NUL dropped), and diagnostic lines a tool mixes into stdout (``lsblk: dm-1: failed to get
device path``) are kept as warnings instead of being parsed as data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pybofh_core.errors import ParseError
from pybofh_core.parsing import decode_names, decode_text, encode_names, int_field, load_json_output, public_parsers

from .types import BlockDevice, DeviceTree, LoopDevice, Mount, Probe

Data = str | bytes


def _exact(text: str) -> tuple[str, bytes | None]:
    """(printable text, exact bytes or None) of a value that may hold surrogate escapes."""
    if text.isascii():
        return text, None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _printable(encode_names(text))
    return text, None


def _iter_lines(text: str) -> Iterator[str]:
    """Lines one at a time, without their ``\\n`` (``str.splitlines`` would copy a large output to read one line)."""
    start, size = 0, len(text)
    while start < size:
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end]
        start = end + 1


# -------------------------------------------------------------------------------------------------------------------
# Escapes
# -------------------------------------------------------------------------------------------------------------------

_HEX_RE = re.compile(r"\\x([0-9a-fA-F]{2})")


def _hex_bytes(value: str) -> bytes:
    r"""The bytes util-linux ``\xHH`` escapes stand for; other characters as UTF-8 (surrogate escapes restored)."""
    out = bytearray()
    pos = 0
    for m in _HEX_RE.finditer(value):
        out += encode_names(value[pos : m.start()])
        out.append(int(m.group(1), 16))
        pos = m.end()
    out += encode_names(value[pos:])
    return bytes(out)


def decode_hex_escapes(value: str) -> str:
    r"""Decode util-linux ``\xHH`` escapes (lsblk/findmnt ``-P``, blkid udev ``*_ENC``) as UTF-8 bytes."""
    if "\\x" not in value:
        return value
    return decode_text(_hex_bytes(value))


def _printable(raw: bytes) -> tuple[str, bytes | None]:
    """(text, exact bytes): the text of valid UTF-8, else U+FFFD for the bad bytes and the bytes kept beside it."""
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        return decode_text(raw), raw


def _ctrl(ch: str) -> int | None:
    """The byte ``^X`` stands for in blkid's cat -v style notation, or None if ``X`` cannot follow ``^``."""
    if ch == "?":
        return 0x7F
    if "@" <= ch <= "_":
        return ord(ch) ^ 0x40
    return None


def decode_blkid_value(value: str, *, backslash: bool = True) -> str:
    r"""Undo blkid's ``safe_print``: ``\X`` escapes, ``M-X`` (byte+128) and ``^X`` (control) notation.

    ``M-`` and ``^`` are themselves never escaped by blkid, so ``SYSTEM-A`` could be read as ``SYSTE\xc1``: the
    decoded form is used only when it is valid UTF-8, otherwise the literal text (with backslash escapes removed).
    """
    return _blkid_value(value, backslash=backslash)[0]


def _blkid_value(value: str, *, backslash: bool = True) -> tuple[str, bool]:
    """``decode_blkid_value()`` and whether the value was ambiguous: its ``M-``/``^`` notation read as bytes is
    not UTF-8, so it is either literal text (``SYSTEM-A``) or a label in another encoding (``DonnM-ies``, Latin-1
    ``Données``); the literal text is returned and only ``blkid -o udev`` (``*_ENC``) can tell."""
    decoded = bytearray()
    literal: list[str] = []
    i, n = 0, len(value)
    meta_used = False
    while i < n:
        c = value[i]
        if backslash and c == "\\" and i + 1 < n:
            decoded += encode_names(value[i + 1])
            literal.append(value[i + 1])
            i += 2
            continue
        if c == "M" and value.startswith("M-", i) and i + 2 < n:
            j = i + 2
            if value[j] == "^" and j + 1 < n and _ctrl(value[j + 1]) is not None:
                decoded.append(0x80 | _ctrl(value[j + 1]))  # type: ignore[operator]
                literal.append(value[i : j + 2])
                i, meta_used = j + 2, True
                continue
            if backslash and value[j] == "\\" and j + 1 < n and ord(value[j + 1]) < 0x80:
                decoded.append(0x80 | ord(value[j + 1]))
                literal.append(value[i : j + 2])
                i, meta_used = j + 2, True
                continue
            if ord(value[j]) < 0x80:
                decoded.append(0x80 | ord(value[j]))
                literal.append(value[i : j + 1])
                i, meta_used = j + 1, True
                continue
        if c == "^" and i + 1 < n and _ctrl(value[i + 1]) is not None:
            decoded.append(_ctrl(value[i + 1]))  # type: ignore[arg-type]
            literal.append(value[i : i + 2])
            i, meta_used = i + 2, True
            continue
        decoded += encode_names(c)
        literal.append(c)
        i += 1
    if meta_used:
        try:
            return decoded.decode("utf-8"), False
        except UnicodeDecodeError:
            return "".join(literal), True
    return "".join(literal), False


# -------------------------------------------------------------------------------------------------------------------
# lsblk
# -------------------------------------------------------------------------------------------------------------------

_PAIR_RE = re.compile(r'\s*([A-Za-z0-9:%_.\-]+)="([^"]*)"')
_HUMAN_SIZE = re.compile(r"^\d+(?:\.\d+)?[BKMGTPEZ]$")
_TRUE = ("1", "true")
_FALSE = ("0", "false")


def _parse_pairs_line(line: str, tool: str, source: str | None) -> dict[str, str]:
    """Split one ``KEY="value" KEY2="value"`` line; anything else on the line is a ParseError."""
    out: dict[str, str] = {}
    pos = 0
    line = line.rstrip("\r\n")
    while pos < len(line):
        m = _PAIR_RE.match(line, pos)
        if not m:
            if not line[pos:].strip():
                break
            raise ParseError(tool, f"cannot read KEY=\"value\" pairs at column {pos + 1}", line, source)
        key = m.group(1)
        if key in out:
            raise ParseError(tool, f"column {key} appears twice on one line", line, source)
        out[key] = decode_hex_escapes(m.group(2))
        pos = m.end()
    return out


def _clean(value: Any, *, strip: bool = True) -> str | None:
    """A column's text: None when absent or blank; stripped unless ``strip`` is False (labels keep their spaces)."""
    if value is None:
        return None
    if type(value) is not str:
        value = str(value)
    stripped = value.strip()
    if not stripped:
        return None
    return stripped if strip else value


def _flag(value: Any, column: str, tool: str, source: str | None) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE:
        return True
    if isinstance(value, str) and value.strip().lower() in _FALSE:
        return False
    raise ParseError(tool, f"column {column}: {value!r} is not a boolean", str(value), source)


def _size(value: Any, tool: str, source: str | None) -> tuple[int | None, str | None]:
    """(bytes, text): exact bytes from a number or digit string; human sizes give (None, text); empty (None, None)."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        raise ParseError(tool, f"SIZE {value!r} is not a size", str(value), source)
    if isinstance(value, int):
        if value < 0:
            raise ParseError(tool, f"negative SIZE {value}", str(value), source)
        return value, None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None, None
        if text.isdecimal():
            return int(text), None
        if _HUMAN_SIZE.match(text):
            return None, text
    raise ParseError(tool, f"SIZE {value!r} is neither bytes nor a human-readable size", str(value), source)


def _mountpoints(row: Mapping[str, Any], tool: str, source: str | None) -> tuple[str, ...]:
    """Mountpoints from ``mountpoints`` (list, util-linux >= 2.37) or ``mountpoint`` (string), either present."""
    if "mountpoints" in row and row["mountpoints"] is not None:
        raw = row["mountpoints"]
        if isinstance(raw, str):  # -P output joins several with a newline
            items: list[Any] = raw.split("\n")
        elif isinstance(raw, list):
            items = raw
        else:
            raise ParseError(tool, f"mountpoints {raw!r} is neither a list nor a string", str(raw), source)
    else:
        items = [row.get("mountpoint")]
    out = []
    for item in items:
        if item is None or (isinstance(item, str) and not item.strip()):
            continue
        if not isinstance(item, str):
            raise ParseError(tool, f"mountpoint {item!r} is not a string", str(item), source)
        out.append(item)
    return tuple(out) if len(out) < 2 else tuple(dict.fromkeys(out))


def _row_key(row: Mapping[str, Any], tool: str, source: str | None) -> tuple[str, str | None, str | None]:
    """(key, name, path) of one lsblk row: the path when there is one (``-p`` names are paths), else the name."""
    name = _clean(row.get("name"))
    path = _clean(row.get("path"))
    if path is None:
        if name is None:
            raise ParseError(tool, "a device has neither NAME nor PATH", json.dumps(dict(row), default=str), source)
        if name.startswith("/dev/"):
            path = name  # lsblk -p prints paths as names
    return path or name, name, path  # type: ignore[return-value]


def _device_from_row(row: Mapping[str, Any], tool: str, source: str | None, parents: tuple[str, ...] = (),
                     children: tuple[str, ...] = ()) -> BlockDevice:
    """A BlockDevice from one lsblk row with lower-case column names (JSON keys or -P keys lowered)."""
    key, name, path = _row_key(row, tool, source)
    size, size_text = _size(row.get("size"), tool, source)
    return BlockDevice(
        key=key,
        name=name or path,  # type: ignore[arg-type]
        path=path,
        kname=_clean(row.get("kname")),
        type=_clean(row.get("type")),
        size=size,
        size_text=size_text,
        fstype=_clean(row.get("fstype")),
        fsver=_clean(row.get("fsver")),
        label=_clean(row.get("label"), strip=False),
        uuid=_clean(row.get("uuid")),
        partuuid=_clean(row.get("partuuid")),
        pttype=_clean(row.get("pttype")),
        mountpoints=_mountpoints(row, tool, source),
        maj_min=_clean(row.get("maj:min")),
        read_only=_flag(row.get("ro"), "RO", tool, source),
        removable=_flag(row.get("rm"), "RM", tool, source),
        model=_clean(row.get("model")),
        serial=_clean(row.get("serial")),
        vendor=_clean(row.get("vendor")),
        parents=parents,
        children=children,
    )


class _TreeBuilder:
    """Collects rows in output order; a device met again (multi-parent) gains the new parent, not a new entry.

    Links are kept in dicts used as ordered sets, so building is linear in devices plus links (SAN hosts list
    thousands of multipath devices, each under several paths). Devices are made once, at ``build()``.
    """

    def __init__(self, tool: str, source: str | None) -> None:
        self.tool, self.source = tool, source
        self.rows: dict[str, Mapping[str, Any]] = {}
        self.parents: dict[str, dict[str, None]] = {}
        self.children: dict[str, dict[str, None]] = {}
        self.roots: dict[str, None] = {}

    def register(self, key: str, row: Mapping[str, Any]) -> None:
        """Know a device (the first row seen for a key is the one kept; a repeated row must still be readable)."""
        if key not in self.rows:
            self.rows[key] = row
            self.parents[key] = {}
            self.children[key] = {}
        elif row is not self.rows[key]:
            _device_from_row(row, self.tool, self.source)

    def add(self, row: Mapping[str, Any], parent: str | None) -> str:
        """Register a row's device under ``parent`` (None: a root) and return its key."""
        key = _row_key(row, self.tool, self.source)[0]
        self.register(key, row)
        self.link(key, parent)
        return key

    def link(self, key: str, parent: str | None) -> None:
        """Record that ``key`` sits under ``parent`` (a root when None)."""
        if parent is None:
            self.roots[key] = None
        else:
            self.parents[key][parent] = None
            self.children[parent][key] = None

    def build(self, *, tree: bool, warnings: list[str]) -> DeviceTree:
        """The DeviceTree: each device made once, with its parents and children in output order."""
        devices = {
            k: _device_from_row(row, self.tool, self.source, tuple(self.parents[k]), tuple(self.children[k]))
            for k, row in self.rows.items()
        }
        return DeviceTree(devices=devices, roots=tuple(self.roots), tree=tree, warnings=tuple(warnings))


def _lower_keys(row: dict[Any, Any]) -> dict[str, Any]:
    """lsblk's JSON keys are lower-case column names already; other spellings are lowered (rare, so checked)."""
    if "name" in row or "path" in row:
        return row
    return {str(k).lower(): v for k, v in row.items()}


def parse_lsblk_json(data: Data, *, source: str | None = None) -> DeviceTree:
    """Parse ``lsblk -J`` (``--json``) output, any column set, util-linux 2.27 to 2.41.

    Claims: the ``{"blockdevices": [...]}`` tree with nested ``children``; sizes as numbers (``-b``, 2.33+) or
    strings (``-b`` on <= 2.32; human sizes are kept as text with ``size`` None); booleans as JSON or ``"0"``/
    ``"1"``; ``mountpoint`` (string) and/or ``mountpoints`` (list with nulls). Devices with several parents,
    which lsblk repeats under each parent, appear once. Warning lines before the JSON are skipped.
    """
    tool = "lsblk"
    doc, skipped = load_json_output(data, tool, source, drop_nul=True)
    if not isinstance(doc, dict) or not isinstance(doc.get("blockdevices"), list):
        raise ParseError(tool, 'expected {"blockdevices": [...]}', decode_text(data, drop_nul=True), source)
    builder = _TreeBuilder(tool, source)
    stack: list[tuple[Any, str | None]] = [(row, None) for row in reversed(doc["blockdevices"])]
    while stack:  # depth first in output order, without recursion (no depth limit to hit on hostile input)
        row, parent = stack.pop()
        if not isinstance(row, dict):
            raise ParseError(tool, f"a device entry is {type(row).__name__}, not an object", str(row), source)
        row = _lower_keys(row)
        key = builder.add(row, parent)
        children = row.get("children", [])
        if not isinstance(children, list):
            raise ParseError(tool, f"children of {key} is not a list", str(children), source)
        if children:
            stack.extend([(child, key) for child in reversed(children)])
    return builder.build(tree=True, warnings=skipped)


def parse_lsblk_pairs(data: Data, *, source: str | None = None) -> DeviceTree:
    """Parse ``lsblk -P`` (``--pairs``) output, util-linux 2.17 to 2.41, with or without ``-p`` and ``-b``.

    Claims: one ``KEY="value"`` line per device with ``\\xHH`` escapes; values padded with spaces are stripped
    (except LABEL); ``SIZE=""`` is an unknown size; human sizes are kept as text with ``size`` None. The tree is
    rebuilt from a ``PKNAME`` column when present, else ``tree`` is False (the format carries no nesting).
    A device repeated under several parents appears once. ``lsblk: ...`` diagnostic lines become warnings.
    """
    tool = "lsblk"
    text = decode_text(data, drop_nul=True)
    rows: list[dict[str, str]] = []
    warnings: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("lsblk:"):
            warnings.append(line.strip())
            continue
        pairs = _parse_pairs_line(line, tool, source)
        if not pairs:
            raise ParseError(tool, "a line has no KEY=\"value\" pairs", line, source)
        rows.append({k.lower(): v for k, v in pairs.items()})
    if not rows:
        if warnings:
            raise ParseError(tool, "only error lines, no devices", text, source)
        return DeviceTree(devices={}, roots=(), tree=True, warnings=())
    has_pk = all("pkname" in r for r in rows)
    builder = _TreeBuilder(tool, source)
    keyed = [(_row_key(r, tool, source), r) for r in rows]
    if has_pk:
        by_kname = {_clean(row.get("kname")) or name or key: key for (key, name, _), row in keyed}
        by_kname.update({name: key for (key, name, _), _ in keyed if name is not None})
        for (key, _, _), row in keyed:  # register every device before linking, so order does not matter
            builder.register(key, row)
        for (key, _, _), row in keyed:
            parent = None
            pk = _clean(row.get("pkname"))
            if pk is not None:
                parent = by_kname.get(pk) or by_kname.get(pk.rsplit("/", 1)[-1])
                if parent is None:
                    raise ParseError(tool, f"parent {pk} of {key} is not in the output", pk, source)
            builder.link(key, parent)
        return builder.build(tree=True, warnings=warnings)
    for (key, _, _), row in keyed:
        builder.register(key, row)
        builder.link(key, None)
    return builder.build(tree=False, warnings=warnings)


def parse_lsblk(data: Data, *, source: str | None = None) -> DeviceTree:
    """Parse lsblk output in a machine-readable format: ``-J`` JSON or ``-P`` pairs (see those parsers).

    Not claimed (ParseError): the column table, ``-l`` list and tree outputs (with ASCII or UTF-8 drawing):
    empty cells make their columns ambiguous once split on whitespace.
    """
    text = decode_text(data, drop_nul=True)
    for line in _iter_lines(text):
        stripped = line.strip()
        if not stripped or stripped.startswith("lsblk:"):
            continue
        if stripped.startswith("{"):
            return parse_lsblk_json(text, source=source)
        if _PAIR_RE.match(line):
            return parse_lsblk_pairs(text, source=source)
        raise ParseError("lsblk", "table/tree output is not claimed; use lsblk -J or -P", line, source)
    if "lsblk:" in text:
        raise ParseError("lsblk", "only error lines, no devices", text, source)
    return DeviceTree(devices={}, roots=(), tree=True)


# -------------------------------------------------------------------------------------------------------------------
# blkid
# -------------------------------------------------------------------------------------------------------------------

_EXPORT_RE = re.compile(r"^([A-Z0-9_]+)=(.*)$")
_FULL_LINE_RE = re.compile(r'^(?P<dev>.+?):(?P<rest>(?:\s+[A-Z0-9_]+="(?:[^"\\]|\\.)*")*)\s*$')
_FULL_PAIR_RE = re.compile(r'([A-Z0-9_]+)="((?:[^"\\]|\\.)*)"')
_UDEV_PREFIXES = (("ID_FS_", ""), ("ID_PART_TABLE_", "PT"), ("ID_PART_ENTRY_", "PART_ENTRY_"), ("ID_IOLIMIT_", ""))


def _blocks(text: str) -> list[list[str]]:
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        if not line.strip():
            if blocks[-1]:
                blocks.append([])
            continue
        blocks[-1].append(line)
    return [b for b in blocks if b]


def parse_blkid_export(data: Data, *, source: str | None = None) -> list[Probe]:
    r"""Parse ``blkid -o export`` / ``blkid -p -o export`` (util-linux 2.23 to 2.41; also 2.23's ``-ip`` blocks).

    Claims: blocks of ``KEY=value`` lines separated by blank lines, ``DEVNAME`` naming the device when present;
    values with shell escapes (``\ ``, ``\"``) and blkid's ``M-X``/``^X`` notation for non-ASCII and control bytes.
    That notation is ambiguous for a value that is not UTF-8 (``DonnM-ies`` is Latin-1 ``Données`` or literal
    text): such tags keep the literal text and are named in ``Probe.ambiguous`` (``blkid -o udev`` is exact).
    """
    tool = "blkid"
    out = []
    for block in _blocks(decode_names(data, drop_nul=True)):
        values = _TagValues()
        for line in block:
            m = _EXPORT_RE.match(line)
            if not m:
                raise ParseError(tool, "expected KEY=value lines", _exact(line)[0], source)
            if m.group(1) in values.tags:
                raise ParseError(tool, f"{m.group(1)} appears twice for one device", _exact(line)[0], source)
            values.add_escaped(m.group(1), m.group(2))
        out.append(values.probe(device_key="DEVNAME"))
    return out


class _TagValues:
    """Collects one device's blkid tags: printable text, exact bytes where they are not UTF-8, ambiguous names."""

    __slots__ = ("ambiguous", "raw", "tags")

    def __init__(self) -> None:
        self.tags: dict[str, str] = {}
        self.raw: dict[str, bytes] = {}
        self.ambiguous: set[str] = set()

    def add_escaped(self, key: str, escaped: str, *, backslash: bool = True) -> None:
        """A value in blkid's ``safe_print`` notation (export, full output)."""
        text, unsure = _blkid_value(escaped, backslash=backslash)
        self.add(key, text)
        if unsure:
            self.ambiguous.add(key)

    def add_bytes(self, key: str, value: bytes) -> None:
        """A value whose exact bytes are known (udev ``*_ENC`` and hex-escaped values)."""
        text, raw = _printable(value)
        self.tags[key] = text
        if raw is not None:
            self.raw[key] = raw

    def add(self, key: str, text: str) -> None:
        """A value as text (surrogate escapes stand for bytes that are not UTF-8)."""
        printable, raw = _exact(text)
        self.tags[key] = printable
        if raw is not None:
            self.raw[key] = raw

    def probe(self, device: str | None = None, device_key: str | None = None) -> Probe:
        """The Probe; ``device_key`` names a tag that holds the device (``DEVNAME``) and is not kept as a tag."""
        if device_key is not None:
            device = self.tags.pop(device_key, None)
            self.raw.pop(device_key, None)
            self.ambiguous.discard(device_key)
        return Probe(device=device, tags=self.tags, raw=self.raw, ambiguous=frozenset(self.ambiguous))


def parse_blkid_udev(data: Data, *, source: str | None = None) -> list[Probe]:
    r"""Parse ``blkid -o udev`` (util-linux 2.23 to 2.41): ``ID_FS_*``/``ID_PART_*`` lines, blocks per device.

    Keys are mapped to blkid's own names (``ID_FS_TYPE`` → ``TYPE``, ``ID_PART_TABLE_TYPE`` → ``PTTYPE``,
    ``ID_IOLIMIT_X`` → ``X``); ``*_ENC`` values (``\xHH``-encoded) win over their lossy plain twins, and their
    bytes are exact: a label that is not UTF-8 keeps them in ``raw``. The format names no device, so ``device`` is
    None.
    """
    tool = "blkid"
    out = []
    for block in _blocks(decode_names(data, drop_nul=True)):
        lines: dict[str, str] = {}
        for line in block:
            m = _EXPORT_RE.match(line)
            if not m or not m.group(1).startswith("ID_"):
                raise ParseError(tool, "expected ID_*=value lines", _exact(line)[0], source)
            lines[m.group(1)] = m.group(2)
        values = _TagValues()
        for key, value in lines.items():
            if key.endswith("_ENC"):
                continue
            for prefix, repl in _UDEV_PREFIXES:
                if key.startswith(prefix):
                    name = repl + key[len(prefix):]
                    break
            else:
                name = key[3:]
            enc = lines.get(key + "_ENC")
            values.add_bytes(name, _hex_bytes(enc if enc is not None else value))
        out.append(values.probe())
    return out


def parse_blkid_full(data: Data, *, source: str | None = None) -> list[Probe]:
    """Parse blkid's default output (``DEV: KEY="value" ...``, also ``-p`` full and 2.31+ ``-ip``), 2.17 to 2.41.

    The device ends at the last ``:`` before the first ``KEY="`` (``/dev/block/253:1:`` works); values use
    ``\\"`` escapes and blkid's ``M-X``/``^X`` notation.
    """
    tool = "blkid"
    out = []
    for line in decode_names(data, drop_nul=True).splitlines():
        if not line.strip():
            continue
        m = _FULL_LINE_RE.match(line)
        if not m:
            raise ParseError(tool, 'expected DEVICE: KEY="value" lines', _exact(line)[0], source)
        values = _TagValues()
        for key, value in _FULL_PAIR_RE.findall(m.group("rest")):
            if key in values.tags:
                raise ParseError(tool, f"{key} appears twice for one device", _exact(line)[0], source)
            values.add_escaped(key, value)
        out.append(values.probe(device=m.group("dev")))
    return out


def parse_blkid_json(data: Data, *, source: str | None = None) -> list[Probe]:
    """Parse ``blkid -o json`` (util-linux 2.41+): ``{"blkid": [{"device": ..., "type": ...}]}``, keys upper-cased."""
    tool = "blkid"
    doc, _ = load_json_output(data, tool, source, drop_nul=True)
    if not isinstance(doc, dict) or not isinstance(doc.get("blkid"), list):
        raise ParseError(tool, 'expected {"blkid": [...]}', decode_text(data, drop_nul=True), source)
    out = []
    for row in doc["blkid"]:
        if not isinstance(row, dict) or not all(isinstance(v, str) for v in row.values()):
            raise ParseError(tool, "each device must be an object of strings", json.dumps(row), source)
        tags = {k.upper(): decode_blkid_value(v, backslash=False) for k, v in row.items() if k != "device"}
        out.append(Probe(device=row.get("device"), tags=tags))
    return out


def parse_blkid(data: Data, *, source: str | None = None) -> list[Probe]:
    """Parse any blkid output format: export, udev, default/full (``DEV: KEY="v"``) or JSON (see each parser).

    Empty output (blkid found nothing, exit status 2) is an empty list.
    """
    text = decode_names(data, drop_nul=True)
    first = next((ln for ln in _iter_lines(text) if ln.strip()), None)
    if first is None:
        return []
    first = first.rstrip("\r")
    if first.lstrip().startswith("{"):
        return parse_blkid_json(text, source=source)
    if first.startswith("ID_"):
        return parse_blkid_udev(text, source=source)
    if _EXPORT_RE.match(first):
        return parse_blkid_export(text, source=source)
    if _FULL_LINE_RE.match(first):
        return parse_blkid_full(text, source=source)
    raise ParseError("blkid", "not export, udev, full or JSON output", _exact(first)[0], source)


# -------------------------------------------------------------------------------------------------------------------
# findmnt
# -------------------------------------------------------------------------------------------------------------------


def _mount_from(row: Mapping[str, Any], parent: str | None, tool: str, source: str | None) -> Mount:
    get = row.get
    target, src, fstype = get("target"), get("source"), get("fstype")
    if type(target) is not str or type(src) is not str or type(fstype) is not str:
        missing = [k for k in ("target", "source", "fstype") if not isinstance(get(k), str)]
        raise ParseError(tool, f"a filesystem lacks {', '.join(missing)}", json.dumps(dict(row), default=str), source)
    options = get("options") or get("vfs-options") or ""
    if not isinstance(options, str):
        raise ParseError(tool, "options is not a string", str(options), source)
    fsroot = get("fsroot")
    opts = options.split(",")
    return Mount(
        target=target,
        source=src,
        fstype=fstype,
        options=tuple(opts) if "" not in opts else tuple(o for o in opts if o),
        fsroot=fsroot if isinstance(fsroot, str) else None,
        parent=parent,
    )


def parse_findmnt(data: Data, *, source: str | None = None) -> list[Mount]:
    """Parse ``findmnt -J`` (tree with ``children``, or ``-l`` flat) or ``findmnt -P``/``--pairs``, 2.27 to 2.41.

    Claims columns TARGET, SOURCE, FSTYPE (required) and OPTIONS, FSROOT (optional). The tree is flattened
    depth-first, each mount remembering its parent's target. The default table output is not claimed.
    """
    tool = "findmnt"
    text = decode_text(data, drop_nul=True)
    first = next((ln for ln in _iter_lines(text) if ln.strip()), None)
    if first is None:
        return []
    out: list[Mount] = []
    if first.lstrip().startswith("{"):
        doc, _ = load_json_output(text, tool, source)
        if not isinstance(doc, dict) or not isinstance(doc.get("filesystems"), list):
            raise ParseError(tool, 'expected {"filesystems": [...]}', text, source)

        def visit(row: Any, parent: str | None) -> None:
            if not isinstance(row, dict):
                raise ParseError(tool, "a filesystem entry is not an object", str(row), source)
            mount = _mount_from(row, parent, tool, source)
            out.append(mount)
            children = row.get("children", [])
            if not isinstance(children, list):
                raise ParseError(tool, "children is not a list", str(children), source)
            for child in children:
                visit(child, mount.target)

        for row in doc["filesystems"]:
            visit(row, None)
        return out
    if not _PAIR_RE.match(first):
        raise ParseError(tool, "table output is not claimed; use findmnt -J or -P", first, source)
    for line in text.splitlines():
        if line.strip():
            pairs = _parse_pairs_line(line, tool, source)
            out.append(_mount_from({k.lower(): v for k, v in pairs.items()}, None, tool, source))
    return out


# -------------------------------------------------------------------------------------------------------------------
# losetup, swapon and filesystem tools
# -------------------------------------------------------------------------------------------------------------------


def parse_losetup_json(data: Data, *, source: str | None = None) -> list[LoopDevice]:
    """Parse ``losetup --list --json -O NAME,BACK-FILE,RO,SIZELIMIT,OFFSET[,BACK-INO,BACK-MAJ:MIN]`` (util-linux 2.27
    to 2.41); the backing file's inode and device identify a loop device's file even after it was renamed.

    Numbers and booleans may be JSON values (2.33+) or strings (older); an empty output means no loop device.
    """
    tool = "losetup"
    if not decode_text(data, drop_nul=True).strip():
        return []
    doc, _ = load_json_output(data, tool, source, drop_nul=True)
    if not isinstance(doc, dict) or not isinstance(doc.get("loopdevices"), list):
        raise ParseError(tool, 'expected {"loopdevices": [...]}', decode_text(data, drop_nul=True), source)
    out = []
    for row in doc["loopdevices"]:
        if not isinstance(row, dict) or not isinstance(row.get("name"), str):
            raise ParseError(tool, "a loop device has no name", json.dumps(row), source)
        back = row.get("back-file")
        out.append(LoopDevice(
            path=row["name"],
            backing_file=back.strip() if isinstance(back, str) else "",
            read_only=bool(_flag(row.get("ro", False), "RO", tool, source)),
            offset=int_field(row.get("offset", 0), "offset", tool, source),
            sizelimit=int_field(row.get("sizelimit", 0), "sizelimit", tool, source),
            back_dev=str(row.get("back-maj:min") or "0:0").strip() or "0:0",
            back_ino=int_field(row.get("back-ino") or 0, "back-ino", tool, source),
        ))
    return out


def parse_swapon(data: Data, *, source: str | None = None) -> list[str]:
    """Parse ``swapon --show=NAME --noheadings --raw`` (util-linux 2.26+): one active swap device per line."""
    return [decode_hex_escapes(ln.strip()) for ln in decode_text(data, drop_nul=True).splitlines() if ln.strip()]


def _colon_fields(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            out.setdefault(key.strip(), value.strip())
    return out


def parse_dumpe2fs(data: Data, *, source: str | None = None) -> dict[str, int | str]:
    """Parse ``dumpe2fs -h`` (e2fsprogs 1.41 to 1.47): block count and size, state, label, UUID.

    Returns ``block_count``, ``block_size``, ``size`` (bytes), ``state``, ``label`` ('' for ``<none>``), ``uuid``.
    """
    tool = "dumpe2fs"
    fields = _colon_fields(decode_text(data, drop_nul=True))
    try:
        count = int(fields["Block count"])
        bsize = int(fields["Block size"])
    except (KeyError, ValueError):
        raise ParseError(tool, "no 'Block count'/'Block size' lines", decode_text(data, drop_nul=True),
                         source) from None
    label = fields.get("Filesystem volume name", "")
    return {
        "block_count": count,
        "block_size": bsize,
        "size": count * bsize,
        "state": fields.get("Filesystem state", ""),
        "label": "" if label == "<none>" else label,
        "uuid": fields.get("Filesystem UUID", ""),
    }


def parse_resize2fs_minimum(data: Data, *, source: str | None = None) -> int:
    """Parse ``resize2fs -P``: the estimated minimum size in filesystem blocks (e2fsprogs 1.42 to 1.47)."""
    m = re.search(r"Estimated minimum size of the filesystem:\s*(\d+)", decode_text(data, drop_nul=True))
    if not m:
        raise ParseError("resize2fs", "no 'Estimated minimum size' line", decode_text(data, drop_nul=True), source)
    return int(m.group(1))


def parse_xfs_info(data: Data, *, source: str | None = None) -> dict[str, int]:
    """Parse ``xfs_info`` / ``xfs_growfs -n`` (xfsprogs 4.x to 6.x): the data section's ``bsize`` and ``blocks``."""
    text = decode_text(data, drop_nul=True)
    m = re.search(r"^data\s*=\s*bsize=(\d+)\s+blocks=(\d+)", text, re.MULTILINE)
    if not m:
        raise ParseError("xfs_info", "no 'data = bsize=N blocks=N' line", text, source)
    bsize, blocks = int(m.group(1)), int(m.group(2))
    return {"block_size": bsize, "blocks": blocks, "size": bsize * blocks}


def parse_btrfs_devices(data: Data, *, source: str | None = None) -> list[dict[str, Any]]:
    """Parse the ``devid N size BYTES used BYTES path P`` lines of ``btrfs filesystem show --raw`` (progs 3.12+)."""
    text = decode_text(data, drop_nul=True)
    out = []
    for m in re.finditer(r"^\s*devid\s+(\d+)\s+size\s+(\d+)\s+used\s+(\d+)\s+path\s+(\S.*?)\s*$", text, re.MULTILINE):
        out.append({"devid": int(m.group(1)), "size": int(m.group(2)), "used": int(m.group(3)), "path": m.group(4)})
    if not out:
        raise ParseError("btrfs", "no 'devid N size N used N path P' lines (was --raw given?)", text, source)
    return out


def parse_btrfs_min_dev_size(data: Data, *, source: str | None = None) -> int:
    """Parse ``btrfs inspect-internal min-dev-size`` (progs 4.x to 6.x): ``N bytes (X MiB)``."""
    m = re.match(r"\s*(\d+)\s+bytes", decode_text(data, drop_nul=True))
    if not m:
        raise ParseError("btrfs", "expected 'N bytes (...)'", decode_text(data, drop_nul=True), source)
    return int(m.group(1))


# --- filesystem sizes for data checks (how much of a device its content needs) -------------------------------------


def parse_btrfs_dev_total_bytes(data: Data, *, source: str | None = None) -> int:
    """Parse ``btrfs inspect-internal dump-super DEV``: this device's size inside the filesystem
    (``dev_item.total_bytes``)."""
    for line in decode_text(data, drop_nul=True).splitlines():
        key, _, value = line.strip().partition("\t")
        if key.strip() == "dev_item.total_bytes" and value.strip().isascii() and value.strip().isdecimal():
            return int(value.strip())
    raise ParseError("btrfs", "no dev_item.total_bytes line", decode_text(data, drop_nul=True), source)


def parse_xfs_db_size(data: Data, *, source: str | None = None) -> int:
    """Parse ``xfs_db -r -c 'sb 0' -c 'p dblocks' -c 'p blocksize'``: the data section's size in bytes."""
    fields: dict[str, int] = {}
    for line in decode_text(data, drop_nul=True).splitlines():
        key, sep, value = line.partition("=")
        if sep and value.strip().isascii() and value.strip().isdecimal():
            fields[key.strip()] = int(value.strip())
    if "dblocks" not in fields or "blocksize" not in fields:
        raise ParseError("xfs_db", "no dblocks/blocksize lines", decode_text(data, drop_nul=True), source)
    return fields["dblocks"] * fields["blocksize"]


SWAP_PAGE = 4096


def parse_swap_header(data: bytes, *, source: str | None = None) -> int:
    """Parse the first page of a swap area (``SWAPSPACE2``, little-endian): its size in bytes,
    ``(last_page + 1) * 4096``."""
    import struct

    if len(data) < SWAP_PAGE or data[SWAP_PAGE - 10:SWAP_PAGE] != b"SWAPSPACE2":
        raise ParseError("swap", "not a SWAPSPACE2 header of 4096-byte pages", data[:64], source)
    version, last_page = struct.unpack_from("<II", data, 1024)
    if version != 1:
        raise ParseError("swap", f"swap header version {version} is not 1", data[:64], source)
    return (last_page + 1) * SWAP_PAGE


# --- the public parsers ----------------------------------------------------------------------------------------------


public_parsers(globals())  # GC paused while parsing; huge numbers become ParseError
