"""Pure parsers of LVM's report commands (``pvs``, ``vgs``, ``lvs``, ``lvm fullreport``): no I/O, typed results.

Formats claimed (LVM2 2.02.158 and later for JSON; the other formats by every LVM2 version that prints them):

* ``--reportformat json`` with ``--units b --nosuffix`` (all values are JSON strings). Message lines before the
  JSON (``WARNING: …``, ``Couldn't find device …``) and after it are skipped; a ``"log"`` report beside
  ``"report"`` is ignored. A JSON object with the same key twice and different values raises ParseError (plain
  ``json.loads`` would silently keep the last one); the same key with the same value carries no hidden data and
  is accepted. Rows may lack columns (pvs prints no ``pe_start`` for non-PV devices): such fields are None.
  Exact duplicate rows (seen in libstorage-ng recordings) are collapsed; two different rows for the same object
  raise ParseError.
* ``--nameprefixes`` (``LVM2_VG_NAME='x'``), with any ``--separator``, when sizes are in bytes.
* ``--noheadings --separator SEP`` with the field list given by the caller (the output does not name its
  columns); sizes in bytes with or without the ``B`` suffix (``--units B`` without ``--nosuffix``).

Not claimed (typed ParseError): column tables with headings or without (``vgs`` default output): empty cells make
columns ambiguous and their sizes are rounded for display (``<5.00g``); any size column in display units, since it
is not an exact byte count; output that holds only messages (``Volume group xenvg not found``).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from pybofh_core.errors import ParseError
from pybofh_core.parsing import decode_text, json_start, load_json, public_parsers

from .errors import LvmError
from .types import FullReport, LogicalVolume, PhysicalVolume, VolumeGroup

T = TypeVar("T")
Row = Mapping[str, str]

_BYTES = re.compile(r"^(\d+)[Bb]?$")
_INT = re.compile(r"^-?\d+$")
_PREFIX_PAIR = re.compile(r"LVM2_([A-Z0-9_]+)='([^']*)'")
_PREFIX_LINE = re.compile(r"^\s*LVM2_[A-Z0-9_]+='")


def _report_pairs(doc: Any) -> tuple[int, Iterable[str]]:
    """The key/value pairs of a report's objects (top level, sections, rows, log entries) and the rows' values:
    ``load_json``'s count. Only ``len()`` of dicts is added, so anything unexpected counts too few and the strict
    decode runs instead."""
    total = len(doc) if type(doc) is dict else 0
    tables: list[list[dict[str, str]]] = []
    for key in ("report", "log"):
        items = doc.get(key) if total else None
        if type(items) is not list:
            continue
        for item in items:
            if type(item) is not dict:
                continue
            total += len(item)
            for rows in item.values():
                if type(rows) is list and set(map(type, rows)) == {dict}:
                    total += sum(map(len, rows))
                    tables.append(rows)
    chain = itertools.chain.from_iterable
    return total, chain(map(dict.values, chain(tables)))


def _find_json(text: str, tool: str, source: str | None) -> dict[str, Any] | None:
    """Return the JSON document on stdout after any message lines, or None when there is no JSON object."""
    found = json_start(text, "{")
    if found is None:
        return None
    start = found[0]
    doc, end = load_json(text, tool, source, start=start, same_value_ok=True, count_pairs=_report_pairs)
    rest = text[end:]
    for line in rest.splitlines():
        if line.lstrip().startswith(("{", "[")):
            raise ParseError(tool, "more than one JSON document on stdout", line, source)
    if not isinstance(doc, dict):
        raise ParseError(tool, "JSON report is not an object", text[start:start + 200], source)
    return doc


def _report_sections(doc: dict[str, Any], tool: str, source: str | None) -> list[dict[str, Any]]:
    unknown = set(doc) - {"report", "log"}
    if unknown:
        raise ParseError(tool, f"unexpected top-level keys {sorted(unknown)} (expected 'report')",
                         json.dumps(doc)[:200], source)
    report = doc.get("report")
    if not isinstance(report, list) or not all(isinstance(s, dict) for s in report):
        raise ParseError(tool, "'report' is not a list of objects", json.dumps(doc)[:200], source)
    return report


def _rows(section: Mapping[str, Any], key: str, tool: str, source: str | None) -> list[dict[str, str]]:
    rows = section.get(key, [])
    if not isinstance(rows, list):
        raise ParseError(tool, f"'{key}' is not a list", json.dumps(rows)[:200], source)
    values = itertools.chain.from_iterable
    if set(map(type, rows)) <= {dict} and set(map(type, values(map(dict.values, rows)))) <= {str}:
        return rows  # decided in C; the loop below finds the row to show
    for row in rows:
        if not isinstance(row, dict) or not all(map(isinstance, row.values(), itertools.repeat(str))):
            raise ParseError(tool, f"a '{key}' row is not an object of strings", json.dumps(row)[:200], source)
    return rows


def _prefixed_rows(text: str, tool: str, source: str | None) -> list[dict[str, str]] | None:
    """Rows of ``--nameprefixes`` output (``LVM2_KEY='value'`` pairs), or None when there are none."""
    rows = []
    for line in text.splitlines():
        if not _PREFIX_LINE.match(line):
            continue
        pairs = list(_PREFIX_PAIR.finditer(line))
        if not pairs:
            raise ParseError(tool, "a --nameprefixes line has no complete KEY='value' pair", line, source)
        gaps = [line[a.end():b.start()] for a, b in itertools.pairwise(pairs)]
        if line[: pairs[0].start()].strip() or line[pairs[-1].end():].strip() or len(set(gaps)) > 1 or "" in gaps:
            raise ParseError(tool, "a --nameprefixes line has text outside its KEY='value' pairs", line, source)
        row: dict[str, str] = {}
        for m in pairs:
            key = m.group(1).lower()
            if key in row and row[key] != m.group(2):
                raise ParseError(tool, f"field {key!r} appears twice with different values", line, source)
            row[key] = m.group(2)
        rows.append(row)
    return rows or None


def _separated_rows(
    text: str, fields: Sequence[str], separator: str, tool: str, source: str | None
) -> list[dict[str, str]]:
    """Rows of ``--noheadings --separator SEP -o FIELDS`` output; message lines are those without the separator."""
    if not separator:
        raise ParseError(tool, "an empty separator cannot split columns", "", source)
    rows = []
    for line in text.splitlines():
        if separator not in line:
            continue
        values = line.lstrip(" ").split(separator)
        if len(values) != len(fields):
            raise ParseError(tool, f"expected {len(fields)} columns separated by {separator!r}, got {len(values)}",
                             line, source)
        rows.append(dict(zip(fields, values, strict=True)))
    return rows


def _messages(text: str) -> str:
    return "\n".join(ln.strip() for ln in text.splitlines() if ln.strip())


def _load(
    data: str | bytes, key: str, tool: str, source: str | None, fields: Sequence[str] | None, separator: str | None
) -> list[dict[str, str]]:
    """Rows of report ``key`` (``pv``, ``vg``, ``lv``) in whichever claimed format ``data`` is."""
    text = decode_text(data)
    if fields is not None:
        return _separated_rows(text, fields, separator or " ", tool, source)
    doc = _find_json(text, tool, source)
    if doc is not None:
        sections = _report_sections(doc, tool, source)
        if not any(key in s for s in sections):
            raise ParseError(tool, f"the JSON report has no {key!r} section (output of another command?)",
                             json.dumps(doc)[:200], source)
        return [row for s in sections for row in _rows(s, key, tool, source)]
    rows = _prefixed_rows(text, tool, source)
    if rows is not None:
        return rows
    msg = _messages(text)
    if not msg:
        raise ParseError(tool, "empty output (expected a JSON report)", "", source)
    if re.search(r"^\s*(LV|VG|PV)\s", text, re.M) or re.search(r"\s\S{5,10}\s+[<>]?\d+(\.\d+)?[bkmgtpe]\s", text, re.I):
        raise ParseError(tool, "column tables are not claimed (empty cells make columns ambiguous and sizes are "
                               "rounded for display); use --reportformat json --units b --nosuffix", msg, source)
    raise ParseError(tool, f"no report in the output, only messages (the last: {msg.splitlines()[-1]!r})", msg, source)


# --- field conversion ------------------------------------------------------------------------------------------------


class _BadField(LvmError):
    """A column that does not convert; ``_row_error()`` turns it into a ParseError naming the field and row (it never
    leaves this module)."""

    def __init__(self, key: str, why: str) -> None:
        super().__init__(key, why)
        self.key, self.why = key, why


def _row_error(row: Mapping[str, str], tool: str, source: str | None, bad: _BadField) -> ParseError:
    excerpt = json.dumps(dict(row))[:200]
    return ParseError(tool, f"{bad.key} {row.get(bad.key)!r}: {bad.why}", excerpt, source)


# Converters of one row's string values (module functions, not methods: thousands of rows, a dozen columns each).
_MAX_DIGITS = 40  # no byte count or counter has more; int() of thousands of digits is refused by Python itself


def _col(row: Mapping[str, str], key: str) -> str | None:
    """A column's text: None when absent or blank, else stripped."""
    value = row.get(key)
    if value is None:
        return None
    return value.strip() or None


def _required(row: Mapping[str, str], key: str) -> str:
    value = _col(row, key)
    if value is None:
        raise _BadField(key, "required column is missing or empty")
    return value


def _size(row: Mapping[str, str], key: str) -> int | None:
    value = row.get(key)
    if not value:
        return None
    if value.isdecimal() and len(value) <= _MAX_DIGITS:  # the usual case (--units b --nosuffix), without a regex
        return int(value)
    value = value.strip()
    if not value:
        return None
    m = _BYTES.match(value)
    if not m or len(m.group(1)) > _MAX_DIGITS:
        raise _BadField(key, "not a byte count (display units are rounded); read with --units b --nosuffix")
    return int(m.group(1))


def _integer(row: Mapping[str, str], key: str) -> int | None:
    value = row.get(key)
    if not value:
        return None
    if value.isdecimal() and len(value) <= _MAX_DIGITS:
        return int(value)
    value = value.strip()
    if not value:
        return None
    if (value.isdecimal() or _INT.match(value)) and len(value) <= _MAX_DIGITS:
        return int(value)
    raise _BadField(key, "not an integer")


def _percent(row: Mapping[str, str], key: str) -> float | None:
    value = _col(row, key)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise _BadField(key, "not a percentage") from None


def _attr(row: Mapping[str, str], key: str, min_len: int) -> str | None:
    value = _col(row, key)
    if value is not None and len(value) < min_len:
        raise _BadField(key, f"attribute string shorter than {min_len} characters")
    return value


def _check_required(rows: Iterable[Mapping[str, str]], require: Sequence[str], tool: str, source: str | None) -> None:
    for row in rows:
        missing = [k for k in require if k not in row]
        if missing:
            raise ParseError(tool, f"row lacks requested columns {missing}", json.dumps(dict(row))[:200], source)


_PV_KEY = operator.attrgetter("name", "uuid")
_VG_KEY = operator.attrgetter("name", "uuid")
_LV_KEY = operator.attrgetter("vg", "name", "uuid")


def _dedupe(items: list[T], key: Callable[[T], Any], tool: str, source: str | None) -> list[T]:
    """Collapse rows that are exactly equal; raise when two different rows describe the same object."""
    if len(set(map(key, items))) == len(items):  # the usual case, decided in C with an attrgetter key
        return items
    seen: dict[Any, T] = {}
    out: list[T] = []
    for item in items:
        k = key(item)
        if k in seen:
            if seen[k] != item:
                raise ParseError(tool, f"two different rows for the same object {k!r}", repr(item)[:200], source)
            continue
        seen[k] = item
        out.append(item)
    return out


# The row converters below read the usual values inline (a decimal string is a number, a non-blank one is text) and
# call the converter functions above only for anything else: hosts list thousands of LVs, a dozen columns each.


#: PhysicalVolume's fields in the order _pv() passes them
_PV_FIELDS = ("name", "uuid", "vg", "vg_uuid", "fmt", "attr", "size_bytes", "free_bytes", "dev_size_bytes", "pe_start")


def _pv(row: Row, tool: str, source: str | None) -> PhysicalVolume:
    get = row.get
    try:
        return PhysicalVolume(  # positional, in the order of _PV_FIELDS (see _LV_FIELDS)
            _required(row, "pv_name"),
            (v.strip() or None) if (v := get("pv_uuid")) else None,
            (v.strip() or None) if (v := get("vg_name")) else None,
            (v.strip() or None) if (v := get("vg_uuid")) else None,
            (v.strip() or None) if (v := get("pv_fmt")) else None,
            _attr(row, "pv_attr", 3),
            int(v) if (v := get("pv_size")) and v.isdecimal() and len(v) < 20 else _size(row, "pv_size"),
            int(v) if (v := get("pv_free")) and v.isdecimal() and len(v) < 20 else _size(row, "pv_free"),
            int(v) if (v := get("dev_size")) and v.isdecimal() and len(v) < 20
            else _size(row, "dev_size"),
            int(v) if (v := get("pe_start")) and v.isdecimal() and len(v) < 20 else _size(row, "pe_start"),
        )
    except _BadField as bad:
        raise _row_error(row, tool, source, bad) from None


#: VolumeGroup's fields in the order _vg() passes them
_VG_FIELDS = ("name", "uuid", "attr", "size_bytes", "free_bytes", "extent_size", "extent_count", "free_count",
              "pv_count", "lv_count", "snap_count", "missing_pv_count")


def _vg(row: Row, tool: str, source: str | None) -> VolumeGroup:
    get = row.get
    try:
        return VolumeGroup(  # positional, in the order of _VG_FIELDS (see _LV_FIELDS)
            _required(row, "vg_name"),
            (v.strip() or None) if (v := get("vg_uuid")) else None,
            _attr(row, "vg_attr", 6),
            int(v) if (v := get("vg_size")) and v.isdecimal() and len(v) < 20 else _size(row, "vg_size"),
            int(v) if (v := get("vg_free")) and v.isdecimal() and len(v) < 20 else _size(row, "vg_free"),
            int(v) if (v := get("vg_extent_size")) and v.isdecimal() and len(v) < 20
            else _size(row, "vg_extent_size"),
            int(v) if (v := get("vg_extent_count")) and v.isdecimal() and len(v) < 20
            else _integer(row, "vg_extent_count"),
            int(v) if (v := get("vg_free_count")) and v.isdecimal() and len(v) < 20
            else _integer(row, "vg_free_count"),
            int(v) if (v := get("pv_count")) and v.isdecimal() and len(v) < 20 else _integer(row, "pv_count"),
            int(v) if (v := get("lv_count")) and v.isdecimal() and len(v) < 20 else _integer(row, "lv_count"),
            int(v) if (v := get("snap_count")) and v.isdecimal() and len(v) < 20
            else _integer(row, "snap_count"),
            int(v) if (v := get("vg_missing_pv_count")) and v.isdecimal() and len(v) < 20
            else _integer(row, "vg_missing_pv_count"),
        )
    except _BadField as bad:
        raise _row_error(row, tool, source, bad) from None


def _bare(name: str | None) -> str | None:
    if name and name.startswith("[") and name.endswith("]"):
        return name[1:-1]
    return name


#: LogicalVolume's fields in the order _lv() passes them
_LV_FIELDS = ("vg", "name", "uuid", "attr", "size_bytes", "hidden", "lv_path", "dm_path", "roles", "segtype", "pool",
              "origin", "data_percent")


def _lv(row: Row, tool: str, source: str | None, vg: str | None = None) -> LogicalVolume:
    get = row.get
    try:
        raw = (v.strip() or None) if (v := get("lv_name")) else None
        if raw is None:
            raise _BadField("lv_name", "required column is missing or empty")
        hidden = raw[0] == "[" and raw[-1] == "]"
        vg_name = ((v.strip() or None) if (v := get("vg_name")) else None) or vg
        if vg_name is None:
            full = _col(row, "lv_full_name")
            if full and "/" in full:
                vg_name = full.split("/", 1)[0]
        if vg_name is None:
            raise _BadField("vg_name", "the LV's volume group is not reported")
        attr = (v.strip() or None) if (v := get("lv_attr")) else None
        if attr is not None and len(attr) < 6:
            raise _BadField("lv_attr", "attribute string shorter than 6 characters")
        role = (v.strip() or None) if (v := get("lv_role")) else None
        pool = (v.strip() or None) if (v := get("pool_lv")) else None
        origin = (v.strip() or None) if (v := get("origin")) else None
        return LogicalVolume(  # positional, in the order of _LV_FIELDS (a test holds it to the dataclass): faster
            vg_name,
            raw[1:-1] if hidden else raw,
            (v.strip() or None) if (v := get("lv_uuid")) else None,
            attr,
            int(v) if (v := get("lv_size")) and v.isdecimal() and len(v) < 20 else _size(row, "lv_size"),
            hidden,
            (v.strip() or None) if (v := get("lv_path")) else None,
            (v.strip() or None) if (v := get("lv_dm_path")) else None,
            tuple(filter(None, role.split(","))) if role else (),
            (v.strip() or None) if (v := get("segtype")) else None,
            _bare(pool) if pool else None,
            _bare(origin) if origin else None,
            _percent(row, "data_percent") if get("data_percent") else None,
        )
    except _BadField as bad:
        raise _row_error(row, tool, source, bad) from None


# --- public parsers --------------------------------------------------------------------------------------------------


def parse_pvs(
    data: str | bytes,
    *,
    source: str | None = None,
    require: Sequence[str] = (),
    fields: Sequence[str] | None = None,
    separator: str | None = None,
) -> list[PhysicalVolume]:
    """Parse ``pvs`` output into PhysicalVolumes (formats: see the module docstring).

    ``require`` lists columns every row must have (a reader passes the columns it asked for); ``fields`` and
    ``separator`` select the ``--noheadings --separator`` format. A missing PV keeps LVM's name ``[unknown]``.
    """
    rows = _load(data, "pv", "pvs", source, fields, separator)
    _check_required(rows, require, "pvs", source)
    pvs = [_pv(r, "pvs", source) for r in rows]
    return _dedupe(pvs, _PV_KEY, "pvs", source)


def parse_vgs(
    data: str | bytes,
    *,
    source: str | None = None,
    require: Sequence[str] = (),
    fields: Sequence[str] | None = None,
    separator: str | None = None,
) -> list[VolumeGroup]:
    """Parse ``vgs`` output into VolumeGroups (formats: see the module docstring); partial VGs have ``partial``."""
    rows = _load(data, "vg", "vgs", source, fields, separator)
    _check_required(rows, require, "vgs", source)
    vgs = [_vg(r, "vgs", source) for r in rows]
    return _dedupe(vgs, _VG_KEY, "vgs", source)


def parse_lvs(
    data: str | bytes,
    *,
    source: str | None = None,
    require: Sequence[str] = (),
    fields: Sequence[str] | None = None,
    separator: str | None = None,
) -> list[LogicalVolume]:
    """Parse ``lvs`` (also ``lvs -a``) output into LogicalVolumes (formats: see the module docstring).

    Hidden LVs (``[pool_tmeta]``) get ``hidden=True`` and their bare name; ``pool``/``origin`` lose brackets too.
    """
    rows = _load(data, "lv", "lvs", source, fields, separator)
    _check_required(rows, require, "lvs", source)
    lvs = [_lv(r, "lvs", source) for r in rows]
    return _dedupe(lvs, _LV_KEY, "lvs", source)


def parse_fullreport(data: str | bytes, *, source: str | None = None) -> FullReport:
    """Parse ``lvm fullreport --reportformat json --units b --nosuffix``: one report element per VG.

    PVs and LVs take their VG from their element's ``vg`` row when they do not name it; orphan PVs come in an
    element without a ``vg`` section and get ``vg=None``. Message lines before the JSON are skipped.
    """
    tool = "lvm fullreport"
    text = decode_text(data)
    doc = _find_json(text, tool, source)
    if doc is None:
        raise ParseError(tool, "no JSON report in the output", _messages(text), source)
    vgs: list[VolumeGroup] = []
    pvs: list[PhysicalVolume] = []
    lvs: list[LogicalVolume] = []
    for section in _report_sections(doc, tool, source):
        if not set(section) & {"vg", "pv", "lv"}:
            raise ParseError(tool, "a report element has none of the vg, pv, lv sections", json.dumps(section)[:200],
                             source)
        vg_rows = [_vg(r, tool, source) for r in _rows(section, "vg", tool, source)]
        if len(vg_rows) > 1:
            raise ParseError(tool, "a report element holds more than one VG", json.dumps(section)[:200], source)
        vg = vg_rows[0] if vg_rows else None
        vgs += vg_rows
        for row in _rows(section, "pv", tool, source):
            pv = _pv(row, tool, source)
            if pv.vg is None and vg is not None:
                pv = dataclasses.replace(pv, vg=vg.name, vg_uuid=pv.vg_uuid or vg.uuid)
            pvs.append(pv)
        lvs += [_lv(r, tool, source, vg.name if vg else None) for r in _rows(section, "lv", tool, source)]
    return FullReport(
        vgs=tuple(_dedupe(vgs, _VG_KEY, tool, source)),
        pvs=tuple(_dedupe(pvs, _PV_KEY, tool, source)),
        lvs=tuple(_dedupe(lvs, _LV_KEY, tool, source)),
    )


# --- the public parsers ----------------------------------------------------------------------------------------------


public_parsers(globals())  # GC paused while parsing; huge numbers become ParseError


__all__ = ["parse_fullreport", "parse_lvs", "parse_pvs", "parse_vgs"]
