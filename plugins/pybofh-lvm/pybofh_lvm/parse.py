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
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from pybofh_core.errors import ParseError
from pybofh_core.parsing import public_parsers

from .types import FullReport, LogicalVolume, PhysicalVolume, VolumeGroup

T = TypeVar("T")
Row = Mapping[str, str]

_BYTES = re.compile(r"^(\d+)[Bb]?$")
_INT = re.compile(r"^-?\d+$")
_PREFIX_PAIR = re.compile(r"LVM2_([A-Z0-9_]+)='([^']*)'")
_PREFIX_LINE = re.compile(r"^\s*LVM2_[A-Z0-9_]+='")


class _DuplicateKey(Exception):
    def __init__(self, key: str, first: Any, second: Any) -> None:
        super().__init__(key)
        self.key, self.first, self.second = key, first, second


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build a JSON object, refusing a repeated key whose values differ (json's default keeps only the last).

    The dict is built in C; the pairs are compared one by one only when a key repeats.
    """
    out = dict(pairs)
    if len(out) == len(pairs):
        return out
    out = {}
    for key, value in pairs:
        if key in out and out[key] != value:
            raise _DuplicateKey(key, out[key], value)
        out[key] = value
    return out


def _text(data: str | bytes) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


def _find_json(text: str, tool: str, source: str | None) -> dict[str, Any] | None:
    """Return the JSON document on stdout after any message lines, or None when there is no JSON object."""
    start = None
    offset = 0
    while offset < len(text):  # the first line that opens with "{" (without splitting a large output into lines)
        end = text.find("\n", offset)
        line = text[offset:] if end < 0 else text[offset:end + 1]
        if line.lstrip().startswith("{"):
            start = offset + (len(line) - len(line.lstrip()))
            break
        offset += len(line)
    if start is None:
        return None
    decoder = json.JSONDecoder(object_pairs_hook=_pairs_hook)
    try:
        doc, end = decoder.raw_decode(text, start)
    except _DuplicateKey as dup:
        raise ParseError(
            tool, f"JSON object has key {dup.key!r} twice with different values ({dup.first!r}, {dup.second!r})",
            text[start:start + 200], source,
        ) from None
    except json.JSONDecodeError as exc:
        excerpt = text[start:start + 200]
        raise ParseError(tool, f"invalid JSON: {exc.msg} at line {exc.lineno}", excerpt, source) from None
    except RecursionError:
        raise ParseError(tool, "JSON nested too deeply", text[start:start + 200], source) from None
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
    text = _text(data)
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


class _BadField(Exception):
    """A column that does not convert; ``_row_error()`` turns it into a ParseError naming the field and row."""

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


def _dedupe(items: list[T], key: Callable[[T], Any], tool: str, source: str | None) -> list[T]:
    """Collapse rows that are exactly equal; raise when two different rows describe the same object."""
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


def _pv(row: Row, tool: str, source: str | None) -> PhysicalVolume:
    get = row.get
    try:
        return PhysicalVolume(
            name=_required(row, "pv_name"),
            uuid=(v.strip() or None) if (v := get("pv_uuid")) else None,
            vg=(v.strip() or None) if (v := get("vg_name")) else None,
            vg_uuid=(v.strip() or None) if (v := get("vg_uuid")) else None,
            fmt=(v.strip() or None) if (v := get("pv_fmt")) else None,
            attr=_attr(row, "pv_attr", 3),
            size_bytes=int(v) if (v := get("pv_size")) and v.isdecimal() and len(v) < 20 else _size(row, "pv_size"),
            free_bytes=int(v) if (v := get("pv_free")) and v.isdecimal() and len(v) < 20 else _size(row, "pv_free"),
            dev_size_bytes=int(v) if (v := get("dev_size")) and v.isdecimal() and len(v) < 20
            else _size(row, "dev_size"),
            pe_start=int(v) if (v := get("pe_start")) and v.isdecimal() and len(v) < 20 else _size(row, "pe_start"),
        )
    except _BadField as bad:
        raise _row_error(row, tool, source, bad) from None


def _vg(row: Row, tool: str, source: str | None) -> VolumeGroup:
    get = row.get
    try:
        return VolumeGroup(
            name=_required(row, "vg_name"),
            uuid=(v.strip() or None) if (v := get("vg_uuid")) else None,
            attr=_attr(row, "vg_attr", 6),
            size_bytes=int(v) if (v := get("vg_size")) and v.isdecimal() and len(v) < 20 else _size(row, "vg_size"),
            free_bytes=int(v) if (v := get("vg_free")) and v.isdecimal() and len(v) < 20 else _size(row, "vg_free"),
            extent_size=int(v) if (v := get("vg_extent_size")) and v.isdecimal() and len(v) < 20
            else _size(row, "vg_extent_size"),
            extent_count=int(v) if (v := get("vg_extent_count")) and v.isdecimal() and len(v) < 20
            else _integer(row, "vg_extent_count"),
            free_count=int(v) if (v := get("vg_free_count")) and v.isdecimal() and len(v) < 20
            else _integer(row, "vg_free_count"),
            pv_count=int(v) if (v := get("pv_count")) and v.isdecimal() and len(v) < 20 else _integer(row, "pv_count"),
            lv_count=int(v) if (v := get("lv_count")) and v.isdecimal() and len(v) < 20 else _integer(row, "lv_count"),
            snap_count=int(v) if (v := get("snap_count")) and v.isdecimal() and len(v) < 20
            else _integer(row, "snap_count"),
            missing_pv_count=int(v) if (v := get("vg_missing_pv_count")) and v.isdecimal() and len(v) < 20
            else _integer(row, "vg_missing_pv_count"),
        )
    except _BadField as bad:
        raise _row_error(row, tool, source, bad) from None


def _bare(name: str | None) -> str | None:
    if name and name.startswith("[") and name.endswith("]"):
        return name[1:-1]
    return name


def _lv(row: Row, tool: str, source: str | None, vg: str | None = None) -> LogicalVolume:
    get = row.get
    try:
        raw = _required(row, "lv_name")
        hidden = raw.startswith("[") and raw.endswith("]")
        vg_name = ((v.strip() or None) if (v := get("vg_name")) else None) or vg
        if vg_name is None:
            full = _col(row, "lv_full_name")
            if full and "/" in full:
                vg_name = full.split("/", 1)[0]
        if vg_name is None:
            raise _BadField("vg_name", "the LV's volume group is not reported")
        role = (v.strip() or None) if (v := get("lv_role")) else None
        pool = (v.strip() or None) if (v := get("pool_lv")) else None
        origin = (v.strip() or None) if (v := get("origin")) else None
        return LogicalVolume(
            vg=vg_name,
            name=raw[1:-1] if hidden else raw,
            uuid=(v.strip() or None) if (v := get("lv_uuid")) else None,
            attr=_attr(row, "lv_attr", 6),
            size_bytes=int(v) if (v := get("lv_size")) and v.isdecimal() and len(v) < 20 else _size(row, "lv_size"),
            hidden=hidden,
            lv_path=(v.strip() or None) if (v := get("lv_path")) else None,
            dm_path=(v.strip() or None) if (v := get("lv_dm_path")) else None,
            roles=tuple(r for r in role.split(",") if r) if role else (),
            segtype=(v.strip() or None) if (v := get("segtype")) else None,
            pool=_bare(pool) if pool else None,
            origin=_bare(origin) if origin else None,
            data_percent=_percent(row, "data_percent") if get("data_percent") else None,
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
    return _dedupe(pvs, lambda p: (p.name, p.uuid), "pvs", source)


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
    return _dedupe(vgs, lambda v: (v.name, v.uuid), "vgs", source)


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
    return _dedupe(lvs, lambda lv: (lv.vg, lv.name, lv.uuid), "lvs", source)


def parse_fullreport(data: str | bytes, *, source: str | None = None) -> FullReport:
    """Parse ``lvm fullreport --reportformat json --units b --nosuffix``: one report element per VG.

    PVs and LVs take their VG from their element's ``vg`` row when they do not name it; orphan PVs come in an
    element without a ``vg`` section and get ``vg=None``. Message lines before the JSON are skipped.
    """
    tool = "lvm fullreport"
    text = _text(data)
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
        vgs=tuple(_dedupe(vgs, lambda v: (v.name, v.uuid), tool, source)),
        pvs=tuple(_dedupe(pvs, lambda p: (p.name, p.uuid), tool, source)),
        lvs=tuple(_dedupe(lvs, lambda lv: (lv.vg, lv.name, lv.uuid), tool, source)),
    )


# --- the public parsers ----------------------------------------------------------------------------------------------


public_parsers(globals())  # GC paused while parsing; huge numbers become ParseError


__all__ = ["parse_fullreport", "parse_lvs", "parse_pvs", "parse_vgs"]
