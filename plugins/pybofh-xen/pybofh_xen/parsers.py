"""Pure parsers of ``xl`` command output: ``xl list``, ``xl list -l`` (JSON and old SXP), ``xl info``, ``xl uptime``.

Each takes the raw stdout (bytes or text), does no I/O, and raises ``ParseError`` (never a half result) on
output it does not claim; each docstring lists the formats and versions it claims.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from pybofh_core.errors import ParseError
from pybofh_core.parsing import decode_text, load_json, public_parsers

from .types import KIB, MIB, DiskSpec, Domain, DomainDetails, Uptime, VifSpec, XlInfo
from .xlcfg import parse_disk_spec, parse_vif_spec

# --- xl list ------------------------------------------------------------------------------------------------------

_LIST_HEADER = ["Name", "ID", "Mem", "VCPUs", "State", "Time(s)"]
_STATE = re.compile(r"^[-rbpscd]{5,6}$")


def parse_xl_list(data: str | bytes, *, source: str | None = None) -> list[Domain]:
    """Parse the default ``xl list`` table into ``Domain`` rows.

    Claims the table of xl 4.0-4.20 (``Name ID Mem VCPUs State Time(s)``) with spaces or the real TABs in the
    header, ``(null)`` names of dying domains, 5-digit ids filling their column, 5- or 6-letter state flags. Columns
    are split on whitespace runs from the right, so names are kept whole. Other column sets (``-v``, ``-Z``, ``-n``)
    are not claimed: ParseError.
    """
    lines = [ln for ln in decode_text(data).splitlines() if ln.strip()]
    if not lines:
        raise ParseError("xl list", "empty output (xl list always prints at least its header and Domain-0)",
                         source=source)
    if lines[0].split() != _LIST_HEADER:
        raise ParseError("xl list", "unexpected header (only the default columns are supported)", lines[0], source)
    out = []
    for line in lines[1:]:
        parts = line.rsplit(None, 5)
        if len(parts) != 6:
            raise ParseError("xl list", "a row does not have 6 columns", line, source)
        name, domid, mem, vcpus, state, cpu = (p.strip() for p in parts)
        if not (domid.isdecimal() and mem.isdecimal() and vcpus.isdecimal() and _STATE.match(state)):
            raise ParseError("xl list", "bad id, memory, vcpus or state column", line, source)
        try:
            cpu_time = float(cpu)
        except ValueError:
            raise ParseError("xl list", f"bad Time(s) {cpu!r}", line, source) from None
        out.append(Domain(name=name, domid=int(domid), memory_bytes=int(mem) * MIB, vcpus=int(vcpus),
                          state=state, cpu_time=cpu_time))
    return out


# --- xl uptime ----------------------------------------------------------------------------------------------------

_UPTIME_ROW = re.compile(
    r"^(?P<name>\S.*?)\s+(?P<id>\d+)\s+(?:(?P<days>\d+) days?,\s+)?(?P<h>\d+):(?P<m>\d\d):(?P<s>\d\d)$"
)


def parse_xl_uptime(data: str | bytes, *, source: str | None = None) -> list[Uptime]:
    """Parse ``xl uptime`` (``Name ID Uptime`` with ``N days, H:MM:SS``; xl 4.0-4.20) into ``Uptime`` rows."""
    lines = [ln.rstrip() for ln in decode_text(data).splitlines() if ln.strip()]
    if not lines or lines[0].split() != ["Name", "ID", "Uptime"]:
        raise ParseError("xl uptime", "missing 'Name ID Uptime' header", lines[0] if lines else "", source)
    out = []
    for line in lines[1:]:
        m = _UPTIME_ROW.match(line)
        if not m:
            raise ParseError("xl uptime", "unexpected row", line, source)
        secs = int(m["days"] or 0) * 86400 + int(m["h"]) * 3600 + int(m["m"]) * 60 + int(m["s"])
        out.append(Uptime(name=m["name"], domid=int(m["id"]), seconds=secs))
    return out


# --- xl info ------------------------------------------------------------------------------------------------------

_INFO_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
_INFO_REQUIRED = ("host", "nr_cpus", "total_memory", "free_memory", "xen_major", "xen_minor")


def parse_xl_info(data: str | bytes, *, source: str | None = None) -> XlInfo:
    """Parse ``xl info`` (``key<padding>: value``) into ``XlInfo``; memory sizes become bytes.

    Claims xl 4.0-4.20 on x86 and ARM: values may be empty (``xen_changeset :``) or contain ``:``, ``=`` and
    ``,`` (the hypervisor command line); the field set differs between versions (``xen_version`` is rebuilt from
    ``xen_major``/``xen_minor``/``xen_extra`` when absent). Lines are split on the first ``:`` and stripped.
    """
    fields: dict[str, str] = {}
    for line in decode_text(data).splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or not _INFO_KEY.match(key):
            raise ParseError("xl info", "a line is not 'key : value'", line, source)
        if key in fields:
            raise ParseError("xl info", f"key {key!r} appears twice", line, source)
        fields[key] = value.strip()
    missing = [k for k in _INFO_REQUIRED if k not in fields]
    if missing:
        raise ParseError("xl info", f"missing fields: {', '.join(missing)}", decode_text(data)[:200], source)

    def integer(key: str) -> int:
        try:
            return int(fields[key])
        except ValueError:
            raise ParseError("xl info", f"{key} is not an integer: {fields[key]!r}", fields[key], source) from None

    version = fields.get("xen_version") or f"{fields['xen_major']}.{fields['xen_minor']}{fields.get('xen_extra', '')}"
    return XlInfo(
        host=fields["host"],
        xen_version=version,
        nr_cpus=integer("nr_cpus"),
        nr_nodes=integer("nr_nodes") if "nr_nodes" in fields else None,
        total_memory_bytes=integer("total_memory") * MIB,
        free_memory_bytes=integer("free_memory") * MIB,
        xen_caps=tuple(fields.get("xen_caps", "").split()),
        virt_caps=tuple(fields.get("virt_caps", "").split()),
        xen_scheduler=fields.get("xen_scheduler") or None,
        xen_commandline=fields.get("xen_commandline") or None,
        fields=fields,
    )


# --- xl list -l ---------------------------------------------------------------------------------------------------


def _loads(text: str, tool: str, source: str | None) -> Any:
    return load_json(text, tool, source)[0]


def _disk_from_libxl(d: dict[str, Any], tool: str, source: str | None) -> DiskSpec:
    vdev = d.get("vdev")
    if not isinstance(vdev, str) or not vdev:
        raise ParseError(tool, "a disk has no vdev", json.dumps(d)[:200], source)
    path = d.get("pdev_path")
    fmt = d.get("format") or "raw"
    rw = d.get("readwrite", 1)
    cdrom = d.get("is_cdrom", 0)
    parts = [f"format={fmt}", f"vdev={vdev}", f"access={'rw' if rw in (1, True, 'True') else 'ro'}"]
    if cdrom in (1, True, "True"):
        parts.append("devtype=cdrom")
    if d.get("script"):
        parts.append(f"script={d['script']}")
    parts.append(f"target={path or ''}")
    try:
        return parse_disk_spec(",".join(parts), source=source)
    except ParseError as exc:
        raise ParseError(tool, f"bad disk {d!r}: {exc}", source=source) from None


def _vif_from_libxl(n: dict[str, Any], tool: str, source: str | None) -> VifSpec:
    keys = [k for k in ("mac", "bridge", "script", "ip", "model", "ifname") if isinstance(n.get(k), str)]
    spec = ",".join(f"{k}={n[k]}" for k in keys)
    return parse_vif_spec(spec, source=source)


def parse_libxl_domain_config(obj: Any, *, domid: int | None = None, source: str | None = None,
                              tool: str = "xl list -l") -> DomainDetails:
    """Read one libxl ``libxl_domain_config`` JSON object (the ``config`` member of ``xl list -l``) or its text.

    Claims the libxl IDL JSON of Xen 4.2-4.20: ``c_info`` (name, uuid, type), ``b_info`` (``max_memkb``,
    ``target_memkb``, ``max_vcpus``), ``disks`` (``pdev_path``, ``vdev``, ``format``, ``readwrite``, ``is_cdrom``)
    and ``nics`` (``mac``, ``bridge``…); libvirt's string booleans ("True") are accepted.
    """
    if isinstance(obj, (str, bytes)):
        obj = _loads(decode_text(obj), tool, source)
    if not isinstance(obj, dict) or not isinstance(obj.get("c_info"), dict):
        raise ParseError(tool, "not a libxl domain config (no c_info object)", json.dumps(obj)[:200], source)
    c_info = obj["c_info"]
    raw_b_info = obj.get("b_info")
    b_info: dict[str, Any] = raw_b_info if isinstance(raw_b_info, dict) else {}
    name = c_info.get("name")
    if not isinstance(name, str) or not name:
        raise ParseError(tool, "c_info has no name", json.dumps(c_info)[:200], source)
    memkb = b_info.get("target_memkb", b_info.get("max_memkb"))
    vcpus = b_info.get("max_vcpus")
    if memkb is not None and not isinstance(memkb, int):
        raise ParseError(tool, f"memory of {name} is not a number: {memkb!r}", source=source)
    disks = obj.get("disks") or []
    nics = obj.get("nics") or []
    if not isinstance(disks, list) or not isinstance(nics, list):
        raise ParseError(tool, f"disks/nics of {name} are not lists", source=source)
    return DomainDetails(
        domid=domid, name=name, uuid=c_info.get("uuid"), guest_type=c_info.get("type"),
        memory_bytes=memkb * KIB if isinstance(memkb, int) else None,
        vcpus=vcpus if isinstance(vcpus, int) else None,
        disks=tuple(_disk_from_libxl(d, tool, source) for d in disks if isinstance(d, dict)),
        vifs=tuple(_vif_from_libxl(n, tool, source) for n in nics if isinstance(n, dict)),
    )


def _sxp_tokens(text: str) -> Iterator[str]:
    for m in re.finditer(r"\(|\)|'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s()]+", text):
        yield m.group()


def _sxp_parse(text: str, source: str | None) -> list[Any]:
    """Parse S-expressions into nested lists of atoms (quotes removed)."""
    stack: list[list[Any]] = [[]]
    for tok in _sxp_tokens(text):
        if tok == "(":
            stack.append([])
        elif tok == ")":
            if len(stack) == 1:
                raise ParseError("xl list -l", "unbalanced ')' in SXP output", text[:200], source)
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(tok[1:-1] if tok[0] in "'\"" else tok)
    if len(stack) != 1:
        raise ParseError("xl list -l", "unbalanced '(' in SXP output (truncated?)", text[-200:], source)
    return stack[0]


def _sxp_get(node: list[Any], key: str) -> list[Any] | None:
    for child in node[1:]:
        if isinstance(child, list) and child and child[0] == key:
            return child
    return None


def _sxp_value(node: list[Any], key: str) -> str | None:
    child = _sxp_get(node, key)
    if child is None or len(child) < 2:
        return None
    return child[1] if isinstance(child[1], str) else None


def _sxp_domain(node: list[Any], source: str | None) -> DomainDetails:
    name = _sxp_value(node, "name")
    domid = _sxp_value(node, "domid")
    if not name or domid is None or not domid.isdecimal():
        raise ParseError("xl list -l", "an SXP domain has no name or domid", str(node)[:200], source)
    memory = _sxp_value(node, "memory")
    vcpus = _sxp_value(node, "vcpus")
    disks, vifs = [], []
    for child in node[1:]:
        if not (isinstance(child, list) and child and child[0] == "device" and len(child) > 1):
            continue
        dev = child[1]
        if not isinstance(dev, list) or not dev:
            continue
        if dev[0] == "vbd":
            uname, vdev, mode = _sxp_value(dev, "uname"), _sxp_value(dev, "dev"), _sxp_value(dev, "mode") or "w"
            if not vdev:
                raise ParseError("xl list -l", f"a vbd of {name} has no dev", str(dev)[:200], source)
            disks.append(parse_disk_spec(f"{uname or ''},{vdev},{mode}", source=source))
        elif dev[0] == "vif":
            keys = [(k, _sxp_value(dev, k)) for k in ("mac", "bridge", "script", "ip")]
            vifs.append(parse_vif_spec(",".join(f"{k}={v}" for k, v in keys if v), source=source))
    image = _sxp_get(node, "image")
    kind = image[1][0] if image and len(image) > 1 and isinstance(image[1], list) and image[1] else None
    return DomainDetails(
        domid=int(domid), name=name, uuid=_sxp_value(node, "uuid"),
        guest_type={"linux": "pv", "hvm": "hvm"}.get(kind or "", kind),
        memory_bytes=int(memory) * MIB if memory and memory.isdecimal() else None,
        vcpus=int(vcpus) if vcpus and vcpus.isdecimal() else None,
        state=_sxp_value(node, "state"), disks=tuple(disks), vifs=tuple(vifs),
    )


def parse_xl_list_long(data: str | bytes, *, source: str | None = None) -> list[DomainDetails]:
    """Parse ``xl list -l`` into ``DomainDetails``, one per domain.

    Claims both formats xl has printed: JSON ``[{"domid": N, "config": {libxl_domain_config}}, ...]`` (xl ≥ 4.2,
    the default ``output_format="json"``; duplicate keys are refused) and the S-expressions of xl 4.0/4.1 (or
    ``output_format="sxp"``): ``(domain (domid N) (name X) (memory MiB) (vcpus N) (state r-----) (device (vbd
    (uname phy:...) (dev xvda:disk) (mode w))) ...)``. Anything else (e.g. a bare libxl config object, which is not
    ``xl list -l`` output) raises ParseError.
    """
    text = decode_text(data).strip()
    if not text:
        return []
    if text.startswith("("):
        nodes = _sxp_parse(text, source)
        out = []
        for node in nodes:
            if not (isinstance(node, list) and node and node[0] == "domain"):
                raise ParseError("xl list -l", "SXP output holds something other than (domain ...)", str(node)[:200],
                                 source)
            out.append(_sxp_domain(node, source))
        return out
    if not text.startswith("["):
        raise ParseError("xl list -l", "neither a JSON list of domains nor SXP (domain ...) forms", text[:200], source)
    items = _loads(text, "xl list -l", source)
    if not isinstance(items, list):
        raise ParseError("xl list -l", "JSON output is not a list", text[:200], source)
    out = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("domid"), int) or "config" not in item:
            raise ParseError("xl list -l", "a list element is not {\"domid\": N, \"config\": {...}}",
                             json.dumps(item)[:200], source)
        out.append(parse_libxl_domain_config(item["config"], domid=item["domid"], source=source))
    return out


# --- the public parsers ----------------------------------------------------------------------------------------------


public_parsers(globals())  # GC paused while parsing; huge numbers become ParseError
