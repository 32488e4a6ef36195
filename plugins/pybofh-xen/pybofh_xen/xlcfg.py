"""Pure parsers for domU config files: the xl.cfg grammar, ``disk=`` specs and ``vif=`` specs. Never eval/exec.

The grammar is the one of xl's own parser (libxlu_cfg_l.l / libxlu_cfg_y.y, Xen 4.0-4.20): ``key = value``
statements ended by a newline or ``;``; keys ``[a-z][_0-9a-z]*``; values are strings in single or double quotes
(with xl's backslash escapes), numbers (kept as their text, as xl does) or lists ``[ ... ]`` that may span lines,
hold comments and end with a trailing comma; ``key += value`` appends (Xen ≥ 4.5); ``#`` starts a comment; the last
statement may lack its final newline. The last assignment of a key wins, as in xl.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pybofh_core.errors import ParseError
from pybofh_core.parsing import decode_names, public_parsers

from .types import MIB, DiskAccess, DiskSpec, DomU, VifSpec, XlConfig, XlValue

TOOL = "xl.cfg"

_TOKEN = re.compile(
    r"""
     (?P<ws>[ \t]+|\r(?=\n))
    |(?P<nl>\n|\#[^\n]*(?:\n|\Z))
    |(?P<ident>[a-z][_0-9a-z]*)
    |(?P<number>[0-9][0-9a-fx]*)
    |(?P<add>\+=)
    |(?P<op>[=;\[\],])
    |(?P<str>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
    """,
    re.VERBOSE,
)
_PYTHONISH = re.compile(
    r"^\s*(def|if|elif|else|for|while|import|from|raise|return|try|except|class|print)\b|[()%.:+\-*]"
)
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", '"': '"', "'": "'", "\\": "\\"}


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # ident number str = += ; [ ] , nl eof
    text: str
    line: int


def _error(message: str, line: int, lines: list[str], source: str | None) -> ParseError:
    """A ParseError naming the line; says so when the line looks like Python (an old xm config)."""
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    unquoted = re.sub(r"'(?:[^'\\\n]|\\.)*'|\"(?:[^\"\\\n]|\\.)*\"", "''", text.split("#", 1)[0])
    hint = ""
    if _PYTHONISH.search(unquoted):
        hint = ("; this looks like Python code (an xm-era config): xl configs are not Python, and pybofh never "
                "evaluates them — rewrite the line as plain key = value")
    return ParseError(TOOL, f"line {line}: {message}{hint}", excerpt=text, source=source)


def _dequote(raw: str, line: int, lines: list[str], source: str | None) -> str:
    """Remove the quotes of a string token and apply xl's backslash escapes."""
    body, out, i = raw[1:-1], [], 0
    while i < len(body):
        c = body[i]
        i += 1
        if c != "\\":
            out.append(c)
            continue
        nc = body[i]
        i += 1
        if nc in _ESCAPES:
            out.append(_ESCAPES[nc])
        elif nc == "x":
            m = re.match(r"[0-9a-fA-F]{1,2}", body[i:])
            if not m or len(m.group()) < 2:
                raise _error("invalid hex escape in quoted string", line, lines, source)
            out.append(chr(int(m.group(), 16)))
            i += 2
        elif "0" <= nc <= "7":
            m = re.match(r"[0-9]{0,2}", body[i:])
            digits = nc + (m.group() if m else "")
            out.append(chr(int(digits, 10) & 0xFF))  # xl's NUMERIC_CHAR reads these digits with base 10
            i += len(digits) - 1
        else:
            raise _error(f"invalid character {nc!r} after backslash in quoted string", line, lines, source)
    return "".join(out)


def _tokens(text: str, lines: list[str], source: str | None) -> Iterator[_Tok]:
    pos, line = 0, 1
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise _error(f"unexpected character {text[pos]!r}", line, lines, source)
        kind = m.lastgroup or ""
        value = m.group()
        if kind == "nl":
            yield _Tok("nl", value, line)
            line += value.count("\n")
        elif kind == "op":
            yield _Tok(value, value, line)
        elif kind == "add":
            yield _Tok("+=", value, line)
        elif kind != "ws":
            yield _Tok(kind, value, line)
        pos = m.end()
    yield _Tok("eof", "", line)


class _Parser:
    def __init__(self, text: str, source: str | None) -> None:
        self.lines = text.split("\n")
        self.source = source
        self.toks = list(_tokens(text, self.lines, source))
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def fail(self, message: str, tok: _Tok | None = None) -> ParseError:
        t = tok or self.tok
        near = "end of file" if t.kind == "eof" else "end of line" if t.kind == "nl" else repr(t.text)
        return _error(f"{message} (near {near})", t.line, self.lines, self.source)

    def skip_newlines(self) -> None:
        while self.tok.kind == "nl":
            self.i += 1

    def value(self) -> XlValue:
        tok = self.tok
        if tok.kind == "str":
            self.i += 1
            return _dequote(tok.text, tok.line, self.lines, self.source)
        if tok.kind == "number":
            self.i += 1
            return tok.text
        if tok.kind == "[":
            self.i += 1
            self.skip_newlines()
            items: list[XlValue] = []
            while self.tok.kind != "]":
                items.append(self.value())
                self.skip_newlines()
                if self.tok.kind == ",":
                    self.i += 1
                    self.skip_newlines()
                elif self.tok.kind != "]":
                    raise self.fail("expected ',' or ']' in list")
            self.i += 1
            return tuple(items)
        raise self.fail("expected a quoted string, a number or a [list]")

    def parse(self) -> XlConfig:
        values: dict[str, XlValue] = {}
        where: dict[str, int] = {}
        while self.tok.kind != "eof":
            if self.tok.kind in ("nl", ";"):
                self.i += 1
                continue
            key = self.tok
            if key.kind != "ident":
                raise self.fail("expected a setting name (lower-case letters, digits and _)")
            self.i += 1
            op = self.tok
            if op.kind not in ("=", "+="):
                raise self.fail(f"expected '=' after {key.text!r}")
            self.i += 1
            val = self.value()
            if op.kind == "+=" and key.text in values:
                prev = values[key.text]
                if isinstance(prev, str) != isinstance(val, str):
                    raise self.fail("can't add [list] to \"string\" or vice versa", op)
                val = prev + val  # type: ignore[operator]
            values[key.text] = val
            where[key.text] = key.line
            if self.tok.kind not in ("nl", ";", "eof"):
                raise self.fail("expected the end of the statement")
        return XlConfig(values=values, lines=where, source=self.source)


def parse_xl_config(data: str | bytes, *, source: str | None = None) -> XlConfig:
    """Parse the text of an xl.cfg (or xm-era config without code) into its settings; never evaluates it.

    Claims the xl.cfg grammar of Xen 4.0-4.20 (see the module docstring), and xm configs that only assign
    literals. A config with Python code (``def``, ``if``, ``%`` formatting, calls…) raises ``ParseError``
    naming the first offending line.
    """
    return _Parser(decode_names(data), source).parse()


# --- disk specs ---------------------------------------------------------------------------------------------------

_FORMATS = {"": "raw", "raw": "raw", "qcow": "qcow", "qcow2": "qcow2", "vhd": "vhd", "empty": "empty", "qed": "qed"}
_KEYED = re.compile(
    r"(format|devtype|access|backend|backendtype|specification|vdev|script|colo-host|colo-port|colo-export|"
    r"active-disk|hidden-disk|grant_usage)=([^,]*),?"
)
_FLAGS = re.compile(r"(cdrom|direct-io-safe|discard|no-discard|colo|no-colo|trusted|untrusted)(?:,|$)")
_UNKNOWN_KEY = re.compile(r"([a-z][-a-z0-9_]*)=([^,]*),?")
_FORMAT_PREFIX = re.compile(r"(raw|qcow2?|vhd):")
_SCRIPT_PREFIX = re.compile(r"(iscsi|e?nbd|drbd):")
_IGNORED_PREFIX = re.compile(r"(tapdisk|tap2?|aio|ioemu|file|phy):")
_BAD_PREFIX = re.compile(r"([a-z][a-z0-9]*):(?=[^a-z0-9]|$)")
_POSITIONAL = re.compile(r"([^=,]*),|([^=,]+)$")


def parse_disk_spec(spec: str, *, source: str | None = None) -> DiskSpec:
    """Parse one ``disk=`` entry like xl's libxlu_disk_l.l does (Xen 4.1-4.20 syntax and xm/xend legacy forms).

    Claims: positional ``target,format,vdev,access``; ``key=value`` parameters with ``target=`` last (it takes the
    rest of the string, commas included); flags (``cdrom``, ``discard``…); the deprecated ``phy:``, ``file:``,
    ``tap:``, ``tap2:``, ``aio:``, ``tapdisk:``, ``ioemu:`` prefixes (after which the format is not positional),
    ``raw:/qcow:/qcow2:/vhd:`` format prefixes, ``iscsi:/nbd:/enbd:/drbd:`` script prefixes, ``vdev:cdrom`` and
    the empty-target CD-ROM ``,hdc:cdrom,r``. Unknown ``key=value`` parameters are kept in ``options``.
    """
    target: str | None = None
    fmt: str | None = None
    vdev: str | None = None
    access: DiskAccess | None = None
    devtype: str | None = None
    script: str | None = None
    backendtype: str | None = None
    prefixes: list[str] = []
    options: dict[str, str] = {}
    had_prefix = False
    access_set = False

    def bad(message: str) -> ParseError:
        return ParseError(TOOL, f"disk spec {spec!r}: {message}", excerpt=spec, source=source)

    def set_access(value: str) -> DiskAccess | None:
        if value in ("r", "ro"):
            return DiskAccess.RO
        if value in ("rw", "w"):
            return DiskAccess.RW
        if value == "":
            return None  # an empty value means the default (rw, or ro for a CD-ROM)
        raise bad(f"unknown access {value!r} (use r, ro, w or rw)")

    def set_format(value: str) -> str:
        if value not in _FORMATS:
            raise bad(f"unknown format {value!r} (known: raw, qcow, qcow2, vhd, qed, empty)")
        if fmt is not None and fmt != _FORMATS[value]:
            raise bad("format given twice")
        return _FORMATS[value]

    def vdev_devtype(token: str) -> tuple[str, str] | None:
        if ":" not in token:
            return None
        name, _, kind = token.rpartition(":")
        if kind not in ("cdrom", "disk"):
            raise bad(f"unknown device type {kind!r} after ':' (use cdrom or disk)")
        return name, kind

    pos = 0
    while pos < len(spec):
        ws = re.match(r"[ \t\n]+", spec[pos:])
        if ws:
            pos += ws.end()
            continue
        rest = spec[pos:]
        if rest.startswith("target="):
            value = rest[len("target="):]
            value = value[:-1] if value.endswith(",") else value
            if target:
                raise bad("target given twice")
            target = value
            break
        if m := _KEYED.match(rest):
            key, value = m.group(1), m.group(2)
            if key == "format":
                fmt = set_format(value)
            elif key == "access":
                access, access_set = set_access(value), True
            elif key == "devtype":
                if value not in ("cdrom", "disk"):
                    raise bad(f"unknown devtype {value!r}")
                devtype = value
            elif key == "vdev":
                if vdev:
                    raise bad("vdev given twice")
                vdev = value
            elif key == "script":
                script = value
            elif key == "backendtype":
                if value not in ("phy", "tap", "qdisk", "standalone"):
                    raise bad(f"unknown backendtype {value!r}")
                backendtype = value
            else:
                options[key] = value
            pos += m.end()
            continue
        if m := _FLAGS.match(rest):
            if m.group(1) == "cdrom":
                devtype = "cdrom"
            else:
                options[m.group(1)] = ""
            pos += m.end()
            continue
        if m := _FORMAT_PREFIX.match(rest):
            had_prefix = True
            prefixes.append(m.group(1))
            fmt = set_format(m.group(1))
            pos += m.end()
            continue
        if m := _SCRIPT_PREFIX.match(rest):
            had_prefix = True
            prefixes.append(m.group(1))
            script = f"block-{m.group(1)}"
            pos += m.end()
            continue
        if m := _IGNORED_PREFIX.match(rest):
            had_prefix = True
            prefixes.append(m.group(1))
            pos += m.end()
            continue
        if m := _BAD_PREFIX.match(rest):
            raise bad(f"unknown deprecated prefix {m.group(1)!r}:")
        if m := _UNKNOWN_KEY.match(rest):
            options[m.group(1)] = m.group(2)
            pos += m.end()
            continue
        m = _POSITIONAL.match(rest)
        if m is None:
            raise bad(f"bad disk syntax near {rest!r}")
        token = m.group(1) if m.group(1) is not None else m.group(2)
        pos += m.end()
        if target is None:
            target = token
        elif not had_prefix and fmt is None:
            vd = vdev_devtype(token) if target == "" else None
            if vd:
                vdev, devtype = vd
                fmt = "empty"
            else:
                fmt = set_format(token)
        elif vdev is None:
            vd = vdev_devtype(token)
            if vd:
                vdev, devtype = vd
            else:
                vdev = token
        elif not access_set:
            access, access_set = set_access(token), True
        else:
            raise bad("too many positional parameters")
    if not vdev:
        raise bad("no virtual device (vdev) given")
    devtype = devtype or "disk"
    if access is None:
        access = DiskAccess.RO if devtype == "cdrom" else DiskAccess.RW
    return DiskSpec(
        spec=spec, vdev=vdev, target=target or None, format=fmt or "raw", access=access, devtype=devtype,
        backendtype=backendtype, script=script, prefixes=tuple(prefixes), options=options,
    )


# --- vif specs ----------------------------------------------------------------------------------------------------

_MAC = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")


def parse_vif_spec(spec: str, *, source: str | None = None) -> VifSpec:
    """Parse one ``vif=`` entry: comma-separated ``key=value`` pairs with optional spaces; ``''`` is all defaults.

    Claims xl-network-configuration syntax (Xen 4.1-4.20) and xm's (same keys, ``type=ioemu``). A MAC that is not
    six hex pairs, or a bare word without ``=``, raises ``ParseError``.
    """
    options: dict[str, str] = {}
    for raw in spec.split(","):
        token = raw.strip()
        if not token:
            continue
        key, sep, value = token.partition("=")
        if not sep or not key.strip():
            raise ParseError(TOOL, f"vif spec {spec!r}: {token!r} is not key=value", excerpt=spec, source=source)
        options[key.strip()] = value.strip()
    mac = options.get("mac")
    if mac is not None and not _MAC.match(mac):
        raise ParseError(TOOL, f"vif spec {spec!r}: bad MAC address {mac!r}", excerpt=spec, source=source)
    return VifSpec(spec=spec, options=options)


# --- a domU from its config ---------------------------------------------------------------------------------------


def config_int(cfg: XlConfig, key: str) -> int | None:
    """An integer setting read like xl's ``strtol(..., 0)`` (decimal, ``0x`` hex, leading-0 octal); None if unset."""
    value = cfg.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ParseError(TOOL, f"{key} must be a single value, not a list", source=cfg.source)
    text = value.strip()
    try:
        if text.lower().startswith("0x"):
            return int(text, 16)
        if len(text) > 1 and text.startswith("0"):
            return int(text, 8)
        return int(text, 10)
    except ValueError:
        line = cfg.lines.get(key)
        raise ParseError(TOOL, f"line {line}: {key} = {value!r} is not an integer", excerpt=value,
                         source=cfg.source) from None


def _string_list(cfg: XlConfig, key: str) -> tuple[str, ...]:
    value = cfg.get(key)
    if value is None:
        return ()
    line = cfg.lines.get(key)
    if isinstance(value, str):
        raise ParseError(TOOL, f"line {line}: {key} must be a [list] of strings", excerpt=value, source=cfg.source)
    out = []
    for item in value:
        if not isinstance(item, str):
            raise ParseError(TOOL, f"line {line}: {key} must be a list of strings, not of lists", source=cfg.source)
        out.append(item)
    return tuple(out)


def domu_from_config(cfg: XlConfig, path: Path | None = None) -> DomU:
    """Build a ``DomU`` from parsed settings: name, type, memory, vcpus, and every disk and vif parsed."""
    name = cfg.get("name")
    if not isinstance(name, str) or not name:
        raise ParseError(TOOL, "no name = \"...\" setting: xl needs a domain name", source=cfg.source)
    kind = cfg.get("type")
    builder = cfg.get("builder")
    if isinstance(kind, str) and kind:
        guest_type = kind
    elif builder == "hvm":
        guest_type = "hvm"
    else:
        guest_type = "pv"
    if guest_type not in ("pv", "pvh", "hvm"):
        raise ParseError(TOOL, f"line {cfg.lines.get('type')}: unknown type {guest_type!r}", source=cfg.source)
    memory = config_int(cfg, "memory")
    disks = tuple(parse_disk_spec(s, source=cfg.source) for s in _string_list(cfg, "disk"))
    vifs = tuple(parse_vif_spec(s, source=cfg.source) for s in _string_list(cfg, "vif"))
    return DomU(
        name=name, config_path=path, config=cfg, disks=disks, vifs=vifs, guest_type=guest_type,
        memory_bytes=memory * MIB if memory is not None else None, vcpus=config_int(cfg, "vcpus"),
    )


def parse_domu_config(data: str | bytes, *, path: str | Path | None = None) -> DomU:
    """Parse a domU's xl.cfg text into a ``DomU`` (the pure part of reading a config file)."""
    source = str(path) if path is not None else None
    return domu_from_config(parse_xl_config(data, source=source), Path(path) if path is not None else None)


# --- the public parsers ----------------------------------------------------------------------------------------------


public_parsers(globals())  # GC paused while parsing; huge numbers become ParseError
