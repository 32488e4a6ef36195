"""DRBD's configuration language: ``drbdadm dump``, ``.res`` files and ``drbdsetup show`` (text, DRBD 8.0 - 9).

A tokenizer and brace-grammar parser (``parse_config_tree``), the address syntax (``parse_address``) and the
configuration facts built from them (``parse_config``). Pure: no I/O. ``pybofh_drbd.parsers`` re-exports every
public name, so ``from pybofh_drbd.parsers import parse_config`` keeps working.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from pybofh_core.errors import ParseError
from pybofh_core.parsing import decode_text, int_field, public_parsers

from .types import (
    Address,
    ConnectionConfig,
    ConnectionHost,
    DrbdConfig,
    HostConfig,
    ResourceConfig,
    VolumeConfig,
)

CONFIG = "drbd config"
_FAMILIES = {"ipv4", "ipv6", "ssocks", "sdp", "sci", "ib"}
_ADDR6_RE = re.compile(r"^\[([^\]]+)\]:(\d+)$")
_ADDR4_RE = re.compile(r"^([^:\[\]\s]+):(\d+)$")
_DUMP_HDR_RE = re.compile(r"^# resource (\S+) on (\S+):", re.MULTILINE)
_DRBD_DEV_RE = re.compile(r"^/dev/drbd(\d+)$")

#: DRBD's integer fields (JSON numbers, some written ``4.0``; digits in text and configs): ``int_field`` of the core
#: with signs and integral floats allowed
_int = functools.partial(int_field, signed=True, integral_float=True)


@dataclass
class Stmt:
    """One statement of DRBD's config grammar: words, and a body when it ends in a brace block."""

    words: list[str]
    body: list[Stmt] | None = None
    line: int = 0

    @property
    def key(self) -> str:
        """The statement's keyword."""
        return self.words[0]


def _tokenize(text: str, tool: str, source: str | None) -> list[tuple[str, int, bool]]:
    """Split config text into (token, line, quoted): words, quoted strings, ``{``, ``}``, ``;``; comments dropped."""
    tokens: list[tuple[str, int, bool]] = []
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c in "{};":
            tokens.append((c, line, False))
            i += 1
        elif c == '"':
            j = i + 1
            buf = []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                if text[j] == "\n":
                    raise ParseError(tool, f"line {line}: unterminated string", text[i:j][:80], source)
                buf.append(text[j])
                j += 1
            if j >= n:
                raise ParseError(tool, f"line {line}: unterminated string", text[i:i + 80], source)
            tokens.append(("".join(buf), line, True))
            i = j + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in '{};"':
                j += 1
            tokens.append((text[i:j], line, False))
            i = j
    return tokens


def parse_config_tree(text: str | bytes, *, tool: str = CONFIG, source: str | None = None) -> list[Stmt]:
    """Parse DRBD's brace grammar (``word ... ;`` and ``word ... { ... }``) into statements; unbalanced is an error."""
    tokens = _tokenize(decode_text(text, drop_nul=True), tool, source)
    stack: list[list[Stmt]] = [[]]
    openers: list[Stmt] = []
    words: list[str] = []
    first_line = 0
    for tok, line, quoted in tokens:
        if quoted or tok not in "{};":
            if not words:
                first_line = line
            words.append(tok)
        elif tok == ";":
            if words:
                stack[-1].append(Stmt(words, None, first_line))
            words = []
        elif tok == "{":
            if not words:
                raise ParseError(tool, f"line {line}: block without a keyword", "{", source)
            stmt = Stmt(words, [], first_line)
            stack[-1].append(stmt)
            stack.append(stmt.body)  # type: ignore[arg-type]
            openers.append(stmt)
            words = []
        else:  # "}"
            if words:
                raise ParseError(tool, f"line {line}: statement {' '.join(words)!r} lacks ';'", " ".join(words), source)
            if len(stack) == 1:
                raise ParseError(tool, f"line {line}: '}}' without an open block", "}", source)
            stack.pop()
            openers.pop()
    if words:
        raise ParseError(tool, f"statement {' '.join(words)!r} at the end lacks ';'", " ".join(words), source)
    if openers:
        o = openers[-1]
        raise ParseError(tool, f"block {' '.join(o.words)!r} opened on line {o.line} is never closed "
                         "(truncated file?)", " ".join(o.words), source)
    return stack[0]


def parse_address(words: list[str], *, tool: str = CONFIG, source: str | None = None) -> Address:
    """``[family] host:port`` / ``ipv6 [addr]:port`` (also ``family:host:port`` as events2 prints) to an Address."""
    if len(words) == 1 and ":" in words[0] and words[0].split(":", 1)[0] in _FAMILIES:
        fam, _, rest = words[0].partition(":")
        words = [fam, rest]
    if len(words) == 2 and words[0] in _FAMILIES:
        family, addr = words
    elif len(words) == 1:
        family, addr = "ipv4", words[0]
    else:
        raise ParseError(tool, "address is not '[family] host:port'", " ".join(words), source)
    m = _ADDR6_RE.match(addr)
    if m:
        host, port = m.group(1), m.group(2)
        if family == "ipv4" and len(words) == 1:
            family = "ipv6"
    else:
        m = _ADDR4_RE.match(addr)
        if not m:
            raise ParseError(tool, f"address {addr!r} is not host:port", " ".join(words), source)
        host, port = m.group(1), m.group(2)
    port_n = int(port)
    if not 0 < port_n < 65536:
        raise ParseError(tool, f"port {port_n} out of range", " ".join(words), source)
    return Address(host=host, port=port_n, family=family)


def _device(args: list[str], tool: str, source: str | None) -> tuple[str | None, int | None]:
    """``/dev/drbd1 minor 1`` / ``/dev/drbd0`` / ``minor 10`` / ``"/dev/drbd63"`` → (path, minor)."""
    path = minor = None
    it = iter(range(len(args)))
    for i in it:
        a = args[i]
        if a == "minor" and i + 1 < len(args):
            minor = _int(args[i + 1], "minor", tool, source)
            next(it, None)
        elif a.startswith("/"):
            path = a
        else:
            raise ParseError(tool, f"device {' '.join(args)!r} is not understood", " ".join(args), source)
    if minor is None and path is not None:
        m = _DRBD_DEV_RE.match(path)
        if m:
            minor = int(m.group(1))
    if path is None and minor is not None:
        path = f"/dev/drbd{minor}"
    return path, minor


def _meta_disk(args: list[str]) -> str:
    """``internal`` / ``/dev/x`` / ``/dev/x [ 0 ]`` → ``internal`` / ``/dev/x`` / ``/dev/x[0]``."""
    index = re.sub(r"[\[\]\s]", "", "".join(args[1:]))
    return "".join(args[:1]) + (f"[{index}]" if index else "")


def _section(body: list[Stmt]) -> dict[str, str]:
    """An option section (net, disk, options…) as ``key → value`` without ``_is_default`` markers."""
    out = {}
    for s in body:
        if s.body is None:
            out[s.key] = " ".join(w for w in s.words[1:] if w != "_is_default")
    return out


@dataclass
class _VolBuild:
    number: int
    minor: int | None = None
    device: str | None = None
    disk: str | None = None
    meta_disk: str | None = None

    def freeze(self) -> VolumeConfig:
        return VolumeConfig(self.number, self.minor, self.device, self.disk, self.meta_disk)


def _volume_stmt(vol: _VolBuild, s: Stmt, tool: str, source: str | None) -> bool:
    """Apply a device/disk/meta-disk statement to ``vol``; False when ``s`` is not one of those."""
    if s.key == "device" and s.body is None:
        vol.device, vol.minor = _device(s.words[1:], tool, source)
    elif s.key == "disk" and s.body is None:
        if len(s.words) != 2:
            raise ParseError(tool, f"line {s.line}: disk takes one path", " ".join(s.words), source)
        vol.disk = None if s.words[1] == "none" else s.words[1]
    elif s.key == "meta-disk" and s.body is None:
        vol.meta_disk = _meta_disk(s.words[1:])
    elif s.key == "flexible-meta-disk" and s.body is None:
        vol.meta_disk = _meta_disk(s.words[1:])
    else:
        return False
    return True


def _volume_block(s: Stmt, tool: str, source: str | None) -> VolumeConfig:
    if len(s.words) != 2:
        raise ParseError(tool, f"line {s.line}: volume needs one number", " ".join(s.words), source)
    vol = _VolBuild(_int(s.words[1], "volume number", tool, source))
    for inner in s.body or []:
        if not _volume_stmt(vol, inner, tool, source) and inner.body is None:
            raise ParseError(tool, f"line {inner.line}: unknown volume statement {inner.key!r}",
                             " ".join(inner.words), source)
    return vol.freeze()


def _host(s: Stmt, kind: str, tool: str, source: str | None) -> HostConfig:
    name: str | None = None
    address = None
    if kind == "on":
        if len(s.words) < 2:
            raise ParseError(tool, f"line {s.line}: 'on' needs a host name", " ".join(s.words), source)
        name = s.words[1]
    elif kind == "floating":
        address = parse_address(s.words[1:], tool=tool, source=source)
    node_id = None
    implicit = _VolBuild(0)
    has_implicit = False
    volumes = []
    for inner in s.body or []:
        if inner.key == "node-id" and inner.body is None:
            node_id = _int(inner.words[1] if len(inner.words) > 1 else None, "node-id", tool, source)
        elif inner.key == "address" and inner.body is None:
            address = parse_address(inner.words[1:], tool=tool, source=source)
        elif inner.key == "volume" and inner.body is not None:
            volumes.append(_volume_block(inner, tool, source))
        elif _volume_stmt(implicit, inner, tool, source):
            has_implicit = True
        elif inner.body is not None or inner.key in ("proxy",):
            continue  # option sections (disk {}, proxy on ... {}) do not change the host facts
        else:
            raise ParseError(tool, f"line {inner.line}: unknown host statement {inner.key!r}",
                             " ".join(inner.words), source)
    if has_implicit:
        volumes.insert(0, implicit.freeze())
    return HostConfig(kind=kind, name=name, node_id=node_id, address=address, volumes=tuple(volumes))


def _connection_host(words: list[str], tool: str, source: str | None) -> ConnectionHost:
    """``host NAME [address [family] A:P] [port P] [via proxy on X]`` → ConnectionHost."""
    if len(words) < 2:
        raise ParseError(tool, "host needs a name", " ".join(words), source)
    name, rest = words[1], words[2:]
    address = port = proxy = None
    i = 0
    while i < len(rest):
        w = rest[i]
        if w == "address":
            n = 2 if i + 1 < len(rest) and rest[i + 1] in _FAMILIES else 1
            address = parse_address(rest[i + 1:i + 1 + n], tool=tool, source=source)
            i += 1 + n
        elif w == "port" and i + 1 < len(rest):
            port = _int(rest[i + 1], "port", tool, source)
            i += 2
        elif w == "via" and rest[i + 1:i + 3] == ["proxy", "on"] and i + 3 < len(rest):
            proxy = rest[i + 3]
            i += 4
        else:
            raise ParseError(tool, f"host clause {w!r} is not understood", " ".join(words), source)
    return ConnectionHost(name=name, address=address, port=port, via_proxy=proxy)


def _connection(s: Stmt, tool: str, source: str | None) -> ConnectionConfig:
    hosts: list[ConnectionHost] = []
    paths: list[tuple[Address, Address]] = []
    peer = cstate = None
    net: dict[str, str] = {}
    for inner in s.body or []:
        if inner.key == "host":
            hosts.append(_connection_host(inner.words, tool, source))
        elif inner.key == "path" and inner.body is not None:
            ends: dict[str, Address] = {}
            path_hosts = []
            for p in inner.body:
                if p.key in ("_this_host", "_remote_host"):
                    ends[p.key] = parse_address(p.words[1:], tool=tool, source=source)
                elif p.key == "host":
                    path_hosts.append(_connection_host(p.words, tool, source))
                else:
                    raise ParseError(tool, f"line {p.line}: unknown path statement {p.key!r}", " ".join(p.words),
                                     source)
            if ends:
                if set(ends) != {"_this_host", "_remote_host"}:
                    raise ParseError(tool, f"line {inner.line}: path lacks one end", str(ends), source)
                paths.append((ends["_this_host"], ends["_remote_host"]))
            hosts += path_hosts
        elif inner.key == "_peer_node_id":
            peer = _int(inner.words[1] if len(inner.words) > 1 else None, "_peer_node_id", tool, source)
        elif inner.key == "_cstate":
            cstate = inner.words[1] if len(inner.words) > 1 else None
        elif inner.key == "net" and inner.body is not None:
            net = _section(inner.body)
        elif inner.body is not None:
            continue  # volume N { disk {} }, disk {} … : per-connection options
        else:
            raise ParseError(tool, f"line {inner.line}: unknown connection statement {inner.key!r}",
                             " ".join(inner.words), source)
    return ConnectionConfig(hosts=tuple(hosts), paths=tuple(paths), peer_node_id=peer,
                            name=net.get("_name"), cstate=cstate, net=net)


_SECTIONS = {"net", "disk", "options", "handlers", "startup", "syncer", "proxy"}


def _resource(name: str | None, body: list[Stmt], this_host: str | None, tool: str,
              source: str | None) -> ResourceConfig:
    hosts: list[HostConfig] = []
    volumes: list[VolumeConfig] = []
    conns: list[ConnectionConfig] = []
    sections: dict[str, dict[str, str]] = {}
    mesh: tuple[str, ...] = ()
    protocol = None
    implicit = _VolBuild(0)
    has_implicit = False
    for s in body:
        if _volume_stmt(implicit, s, tool, source):
            has_implicit = True
        elif s.key == "volume" and s.body is not None:
            volumes.append(_volume_block(s, tool, source))
        elif s.key in ("on", "stacked-on-top-of") and s.body is not None:
            hosts.append(_host(s, "on", tool, source))
        elif s.key == "floating" and s.body is not None:
            hosts.append(_host(s, "floating", tool, source))
        elif s.key == "_this_host":
            hosts.append(_host(s, "this", tool, source))
        elif s.key == "_remote_host":
            h = _host(s, "remote", tool, source)
            hosts.append(h)
        elif s.key == "connection" and s.body is not None:
            conns.append(_connection(s, tool, source))
        elif s.key == "connection-mesh" and s.body is not None:
            for m in s.body:
                if m.key == "hosts":
                    mesh = tuple(m.words[1:])
        elif s.key == "protocol" and s.body is None and len(s.words) == 2:
            protocol = s.words[1]
        elif s.body is not None and len(s.words) == 1:
            sections[s.key] = {**sections.get(s.key, {}), **_section(s.body)}
        else:
            raise ParseError(tool, f"line {s.line}: unknown resource statement {s.key!r}", " ".join(s.words), source)
    if has_implicit:
        volumes.insert(0, implicit.freeze())
    protocol = protocol or sections.get("net", {}).get("protocol")
    return ResourceConfig(name=name, hosts=tuple(hosts), volumes=tuple(volumes), connections=tuple(conns),
                          protocol=protocol, sections=sections, mesh_hosts=mesh, this_host=this_host)


def parse_config(text: str | bytes, *, source: str | None = None, tool: str = CONFIG) -> DrbdConfig:
    """Parse DRBD configuration text: ``drbdadm dump`` (8.4, 9.x), ``.res``/``drbd.conf`` files and ``drbdsetup show``.

    Claims: ``global``/``common`` sections (skipped), ``resource NAME { ... }`` (the name quoted on DRBD 9 show),
    resource-level ``device``/``disk``/``meta-disk`` (implicit volume 0), ``volume N {}``, ``on HOST {}``
    with ``node-id``/``address``/volumes, ``floating [family] ADDR {}``, ``connection {}`` with ``host NAME
    [address A] [port P] [via proxy on X {}]``, ``path {}`` and show's ``_peer_node_id``/``_cstate``/``net {
    _name }``, ``connection-mesh { hosts ...; }``, 8.4 show's ``_this_host``/``_remote_host``, and the
    anonymous 8.0/8.3 ``drbdsetup show`` (TAB-separated, top-level ``disk``/``net``/``syncer`` sections,
    ``protocol X;``, values marked ``_is_default``). ``address`` is ``[ipv4|ipv6|…] host:port`` with IPv6 in
    brackets (``%iface`` kept). ``drbdadm dump``'s ``# resource X on HOST:`` header gives ``this_host``.
    A configuration with only ``global``/``common`` gives no resources; empty output, unbalanced braces (a
    truncated file) and unknown statements are ParseErrors.
    """
    body = decode_text(text, drop_nul=True)
    headers = dict(_DUMP_HDR_RE.findall(body))
    tree = parse_config_tree(body, tool=tool, source=source)
    resources = []
    anonymous = [s for s in tree if s.key in ("_this_host", "_remote_host", "protocol", "syncer", "net", "disk")]
    for s in tree:
        if s.key == "resource" and s.body is not None:
            if len(s.words) != 2:
                raise ParseError(tool, f"line {s.line}: resource needs one name", " ".join(s.words), source)
            resources.append(_resource(s.words[1], s.body, headers.get(s.words[1]), tool, source))
        elif s.key in ("global", "common", "skip") and s.body is not None:
            continue
        elif s.key == "include" and s.body is None:
            continue
        elif s in anonymous:
            continue
        else:
            raise ParseError(tool, f"line {s.line}: unknown top-level statement {s.key!r}", " ".join(s.words), source)
    if anonymous:
        if resources:
            raise ParseError(tool, "show sections mixed with resource blocks", " ".join(anonymous[0].words), source)
        if not any(s.key == "_this_host" for s in anonymous):
            raise ParseError(tool, "8.x show output without a _this_host section", " ".join(anonymous[0].words),
                             source)
        resources.append(_resource(None, anonymous, None, tool, source))
    if not tree:
        raise ParseError(tool, "no configuration statements in output", body[:200], source)
    return DrbdConfig(tuple(resources))


# --- the public parsers ----------------------------------------------------------------------------------------------


public_parsers(globals())  # GC paused while parsing; huge numbers become ParseError
