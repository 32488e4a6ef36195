"""Pure parsers of cryptsetup output: ``luksDump`` text (LUKS1, LUKS2), ``luksDump --dump-json-metadata``, ``status``.

No I/O here: each function takes one command's stdout (str or bytes) and returns a typed value or raises
``ParseError`` naming ``source`` — never a half-filled result. Whitespace is never counted:
keys are split from values at the first ``:``, TABs and space padding are both accepted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pybofh_core.errors import ParseError
from pybofh_core.parsing import decode_text, load_json, public_parsers

from .types import SECTOR, CryptStatus, Digest, Keyslot, LuksDevice, LuksVersion, Segment, Token

_HEADER = re.compile(r"^LUKS header information(?: for (?P<dev>.+?))?\s*$")
_LUKS1_SLOT = re.compile(r"^Key Slot (?P<n>\d+): (?P<state>ENABLED|DISABLED)\s*$")
_ENTRY = re.compile(r"^\s+(?P<n>\d+):\s*(?P<type>\S.*?)?\s*$")
_BYTES = re.compile(r"^(?P<n>\d+)\s*(?:\[bytes\]|bytes)?$")
_BITS = re.compile(r"^(?P<n>\d+)\s*bits$")
_SECTORS = re.compile(r"^(?P<n>\d+)\s*sectors$")
_STATUS_HEAD = re.compile(r"^(?P<path>\S+) is (?P<state>active|inactive)(?P<use> and is in use)?\s*[.:]?\s*$")
_SECTIONS = {"Data segments": "segments", "Keyslots": "keyslots", "Tokens": "tokens", "Digests": "digests"}
_PRIORITY = {0: "ignore", 1: "normal", 2: "prefer"}

TOOL = "cryptsetup"


# ``cryptsetup -v`` ends its stdout with one of these lines (glued to the closing brace by --dump-json-metadata).
_VERBOSE_TRAILER = re.compile(r"(?P<keep>\}?)(?:Command successful\.|Command failed with code -?\d+(?: \([^()]*\))?\.)")


def _text(data: str | bytes) -> str:
    """Output as text without a ``-v`` trailer line: bytes are decoded as UTF-8 (labels may hold any UTF-8; bad
    bytes become U+FFFD)."""
    text = decode_text(data)
    body = text.rstrip()
    start = body.rfind("\n") + 1
    m = _VERBOSE_TRAILER.fullmatch(body, start)
    return body[: start + len(m.group("keep"))] + "\n" if m else text


def _fail(message: str, excerpt: str, source: str | None) -> ParseError:
    return ParseError(TOOL, message, excerpt, source)


def _int(value: str, what: str, excerpt: str, source: str | None, pattern: re.Pattern[str] | None = None) -> int:
    """An integer field (``16384``, ``16384 [bytes]``, ``512 bits``, ``4096 sectors`` per ``pattern``)."""
    m = (pattern or re.compile(r"^(?P<n>\d+)$")).match(value.strip())
    if not m:
        raise _fail(f"{what}: expected a number, got {value.strip()!r}", excerpt, source)
    return int(m.group("n"))


def _none_if(value: str, *placeholders: str) -> str | None:
    value = value.strip()
    return None if value in placeholders or not value else value


class _Block:
    """One ``N: type`` entry of a LUKS2 section (or a LUKS1 key slot) with its ``key: value`` fields."""

    def __init__(self, index: int, kind: str, line: str) -> None:
        self.index = index
        self.kind = kind
        self.line = line
        self.fields: dict[str, list[str]] = {}

    def get(self, key: str) -> str | None:
        values = self.fields.get(key)
        return values[0] if values else None


def _split_field(line: str) -> tuple[str, str]:
    key, _, value = line.partition(":")
    return key.strip(), value.strip()


def parse_luks_dump(data: str | bytes, *, source: str | None = None) -> LuksDevice:
    """Parse ``cryptsetup luksDump DEVICE`` text output into a ``LuksDevice``.

    Claims: LUKS1 dumps of cryptsetup 1.x and 2.x (``Key Slot N: ENABLED`` blocks); LUKS2 dumps of cryptsetup 2.0.x
    (``Metadata area: N bytes``, no ``Keyslots area``) and 2.1 to 2.7 (``[bytes]`` units); TABs after padded keys or
    runs of spaces instead; hex continuation lines with trailing spaces; salts cut short or redacted (salts are not
    kept). Anything else (an error message, LUKS version 3, a header without UUID or data offset) raises ParseError.
    """
    text = _text(data)
    lines = text.splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        raise _fail("empty output", text, source)
    head = _HEADER.match(lines[first].strip())
    if not head:
        raise _fail("not a luksDump (no 'LUKS header information' line)", lines[first], source)
    device = head.group("dev")
    body = lines[first + 1:]
    version_line = next((ln for ln in body if _split_field(ln)[0] == "Version" and not ln[:1].isspace()), None)
    if version_line is None:
        raise _fail("no 'Version:' line", text, source)
    version = _split_field(version_line)[1]
    if version == "1":
        return _luks1(body, device, text, source)
    if version == "2":
        return _luks2(body, text, source)
    raise _fail(f"LUKS version {version!r} is not supported (LUKS1 and LUKS2 are)", version_line, source)


def _luks1(lines: list[str], device: str | None, text: str, source: str | None) -> LuksDevice:
    top: dict[str, str] = {}
    slots: list[_Block] = []
    for line in lines:
        if not line.strip():
            continue
        m = _LUKS1_SLOT.match(line)
        if m:
            slots.append(_Block(int(m.group("n")), m.group("state"), line))
            continue
        if line[:1].isspace():
            if ":" not in line:
                continue  # hex continuation of the field above (salt, digest)
            if not slots:
                raise _fail("indented field outside a key slot", line, source)
            key, value = _split_field(line)
            slots[-1].fields.setdefault(key, []).append(value)
            continue
        if ":" not in line:
            raise _fail("line is neither 'Key: value' nor a key slot", line, source)
        key, value = _split_field(line)
        if slots:
            raise _fail(f"header field {key!r} after the key slots", line, source)
        top[key] = value
    for key in ("Cipher name", "Cipher mode", "Hash spec", "Payload offset", "MK bits", "UUID"):
        if key not in top:
            raise _fail(f"LUKS1 header lacks '{key}:'", text, source)
    indexes = [s.index for s in slots]
    if sorted(indexes) != list(range(8)):
        raise _fail(f"LUKS1 dump lists key slots {indexes}, expected 0 to 7 once each", text, source)
    hash_spec = top["Hash spec"]
    key_bits = _int(top["MK bits"], "MK bits", text, source)
    keyslots = []
    for s in sorted(slots, key=lambda b: b.index):
        if s.kind == "DISABLED":
            keyslots.append(Keyslot(index=s.index, active=False))
            continue
        try:
            iterations = _int(s.fields["Iterations"][0], "Iterations", s.line, source)
            offset = _int(s.fields["Key material offset"][0], "Key material offset", s.line, source)
            stripes = _int(s.fields["AF stripes"][0], "AF stripes", s.line, source)
        except KeyError as exc:
            raise _fail(f"key slot {s.index} lacks {exc.args[0]!r}", s.line, source) from None
        keyslots.append(Keyslot(
            index=s.index, active=True, key_bits=key_bits, pbkdf="pbkdf2", hash=hash_spec, iterations=iterations,
            af_stripes=stripes, af_hash=hash_spec, area_offset=offset * SECTOR,
        ))
    return LuksDevice(
        version=LuksVersion.LUKS1,
        uuid=top["UUID"],
        cipher=f"{top['Cipher name']}-{top['Cipher mode']}",
        key_bits=key_bits,
        data_offset=_int(top["Payload offset"], "Payload offset", text, source) * SECTOR,
        sector_size=SECTOR,
        keyslots=tuple(keyslots),
        hash=hash_spec,
        device=device,
    )


def _luks2(lines: list[str], text: str, source: str | None) -> LuksDevice:
    top: dict[str, str] = {}
    sections: dict[str, list[_Block]] = {name: [] for name in _SECTIONS.values()}
    section: str | None = None
    skipping = False  # inside a section this parser does not claim
    for line in lines:
        if not line.strip():
            continue
        if not line[:1].isspace():
            key, value = _split_field(line)
            if ":" not in line:
                raise _fail("line is neither 'Key: value' nor a section", line, source)
            if key in _SECTIONS and not value:
                section, skipping = _SECTIONS[key], False
            elif section is None:
                top[key] = value
            else:
                section, skipping = None, True  # an unknown section of a newer cryptsetup: not claimed
            continue
        if skipping:
            continue
        m = _ENTRY.match(line)
        if m and section is not None:
            sections[section].append(_Block(int(m.group("n")), m.group("type") or "", line))
            continue
        if ":" not in line:
            continue  # hex continuation of the field above
        if section is None or not sections[section]:
            raise _fail("indented field outside a section entry", line, source)
        key, value = _split_field(line)
        sections[section][-1].fields.setdefault(key, []).append(value)
    if "UUID" not in top:
        raise _fail("LUKS2 header lacks 'UUID:'", text, source)
    segments = tuple(_segment_text(b, source) for b in sections["segments"])
    if not segments:
        raise _fail("LUKS2 dump lists no data segment", text, source)
    keyslots = tuple(_keyslot_text(b, source) for b in sections["keyslots"])
    tokens = tuple(
        Token(b.index, b.kind, tuple(_int(v, "Keyslot", b.line, source) for v in b.fields.get("Keyslot", [])))
        for b in sections["tokens"]
    )
    digests = tuple(
        Digest(
            index=b.index, type=b.kind, hash=b.get("Hash"),
            iterations=_int(b.get("Iterations") or "", "Iterations", b.line, source) if b.get("Iterations") else None,
            keyslots=tuple(k.index for k in keyslots if k.digest == b.index),
        )
        for b in sections["digests"]
    )
    _unique("keyslot", [k.index for k in keyslots], text, source)
    _unique("segment", [s.index for s in segments], text, source)
    flags = _none_if(top.get("Flags", ""), "(no flags)")
    return LuksDevice(
        version=LuksVersion.LUKS2,
        uuid=top["UUID"],
        cipher=segments[0].cipher,
        key_bits=next((k.key_bits for k in keyslots if k.key_bits), None),
        data_offset=segments[0].offset,
        sector_size=segments[0].sector_size or SECTOR,
        keyslots=keyslots,
        segments=segments,
        tokens=tokens,
        digests=digests,
        label=_none_if(top.get("Label", ""), "(no label)"),
        subsystem=_none_if(top.get("Subsystem", ""), "(no subsystem)"),
        epoch=_int(top["Epoch"], "Epoch", text, source) if "Epoch" in top else None,
        flags=tuple(flags.split()) if flags else (),
        metadata_size=_opt_bytes(top, "Metadata area", text, source),
        keyslots_size=_opt_bytes(top, "Keyslots area", text, source),
    )


def _opt_bytes(top: dict[str, str], key: str, text: str, source: str | None) -> int | None:
    return _int(top[key], key, text, source, _BYTES) if key in top else None


def _unique(what: str, indexes: list[int], text: str, source: str | None) -> None:
    if len(set(indexes)) != len(indexes):
        raise _fail(f"a {what} index is listed twice: {indexes}", text, source)


def _segment_text(b: _Block, source: str | None) -> Segment:
    if b.get("offset") is None:
        raise _fail(f"segment {b.index} lacks 'offset:'", b.line, source)
    length = b.get("length")
    sector = b.get("sector")
    flags = b.get("flags")
    return Segment(
        index=b.index,
        type=b.kind,
        offset=_int(b.get("offset") or "", "segment offset", b.line, source, _BYTES),
        size=None if length in (None, "(whole device)") else _int(length, "segment length", b.line, source, _BYTES),
        cipher=b.get("cipher"),
        sector_size=_int(sector, "segment sector", b.line, source, _BYTES) if sector else None,
        integrity=b.get("integrity"),
        flags=tuple(flags.split()) if flags else (),
    )


def _keyslot_text(b: _Block, source: str | None) -> Keyslot:
    def num(key: str, pattern: re.Pattern[str] | None = None) -> int | None:
        value = b.get(key)
        return None if value is None else _int(value, key, b.line, source, pattern)

    if b.kind == "luks2" and b.get("Key") is None:
        raise _fail(f"keyslot {b.index} lacks 'Key:'", b.line, source)
    return Keyslot(
        index=b.index, active=True, type=b.kind, key_bits=num("Key", _BITS), priority=b.get("Priority"),
        cipher=b.get("Cipher"), cipher_key_bits=num("Cipher key", _BITS), pbkdf=b.get("PBKDF"), hash=b.get("Hash"),
        iterations=num("Iterations"), time_cost=num("Time cost"), memory_kib=num("Memory"), threads=num("Threads"),
        af_stripes=num("AF stripes"), af_hash=b.get("AF hash"), area_offset=num("Area offset", _BYTES),
        area_size=num("Area length", _BYTES), digest=num("Digest ID"),
    )


# --- luksDump --dump-json-metadata -----------------------------------------------------------------------------------


def _jint(value: Any, what: str) -> int:
    """A JSON number that LUKS2 may write as a string (``"offset":"32768"``)."""
    if isinstance(value, bool):
        raise ValueError(f"{what}: {value!r} is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdecimal():
        return int(value)
    raise ValueError(f"{what}: {value!r} is not a number")


def _jopt(obj: dict[str, Any], key: str, conv: Callable[[Any, str], Any]) -> Any:
    return conv(obj[key], key) if key in obj else None


def _jstr(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what}: {value!r} is not a string")
    return value


def _jobj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not an object")
    return value


def parse_luks2_json(data: str | bytes, *, source: str | None = None) -> LuksDevice:
    """Parse ``cryptsetup luksDump --dump-json-metadata DEVICE`` (LUKS2 only) into a ``LuksDevice``.

    Claims: the LUKS2 JSON metadata as printed by cryptsetup 2.4+ (json-c style, no space after ``:``, with or without
    a final newline, ``"tokens":{}`` or an expanded empty object), offsets and sizes as strings, ``"size":"dynamic"``.
    The JSON area holds no UUID, label or epoch: those are None (``pybofh_crypt.facts.dump()`` merges them in from
    the text dump). Duplicate keys, a missing section or a wrongly typed field raise ParseError.
    """
    text = _text(data)
    if not text.strip().startswith("{"):
        raise _fail("not LUKS2 JSON metadata (does not start with '{')", text, source)
    doc = load_json(text, TOOL, source)[0]
    try:
        return _from_json(_jobj(doc, "document"))
    except (KeyError, TypeError, ValueError) as exc:
        what = f"missing key {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)
        raise _fail(f"unexpected LUKS2 metadata: {what}", text, source) from None


def _ids(values: Any, what: str) -> tuple[int, ...]:
    if not isinstance(values, list):
        raise ValueError(f"{what} is not a list")
    return tuple(_jint(v, what) for v in values)


def _from_json(doc: dict[str, Any]) -> LuksDevice:
    keyslots_j = _jobj(doc["keyslots"], "keyslots")
    segments_j = _jobj(doc["segments"], "segments")
    tokens_j = _jobj(doc["tokens"], "tokens")
    digests_j = _jobj(doc["digests"], "digests")
    config = _jobj(doc["config"], "config")
    digests = tuple(sorted(
        (
            Digest(
                index=_jint(k, "digest id"), type=_jstr(d["type"], "digest type"), hash=_jopt(d, "hash", _jstr),
                iterations=_jopt(d, "iterations", _jint), keyslots=_ids(d["keyslots"], "digest keyslots"),
                segments=_ids(d["segments"], "digest segments"),
            )
            for k, d in ((k, _jobj(v, f"digest {k}")) for k, v in digests_j.items())
        ),
        key=lambda d: d.index,
    ))
    digest_of = {slot: d.index for d in digests for slot in d.keyslots}
    keyslots = []
    for key, value in keyslots_j.items():
        ks = _jobj(value, f"keyslot {key}")
        index = _jint(key, "keyslot id")
        area = _jobj(ks["area"], f"keyslot {key} area")
        kdf = _jobj(ks.get("kdf", {}), f"keyslot {key} kdf")
        af = _jobj(ks.get("af", {}), f"keyslot {key} af")
        key_size = _jint(ks["key_size"], "key_size")
        area_key = _jopt(area, "key_size", _jint)
        priority = _jopt(ks, "priority", _jint)
        keyslots.append(Keyslot(
            index=index, active=True, type=_jstr(ks["type"], "keyslot type"), key_bits=key_size * 8,
            priority=_PRIORITY.get(priority if priority is not None else 1, str(priority)),
            cipher=_jopt(area, "encryption", _jstr), cipher_key_bits=area_key * 8 if area_key is not None else None,
            pbkdf=_jopt(kdf, "type", _jstr), hash=_jopt(kdf, "hash", _jstr), iterations=_jopt(kdf, "iterations", _jint),
            time_cost=_jopt(kdf, "time", _jint), memory_kib=_jopt(kdf, "memory", _jint),
            threads=_jopt(kdf, "cpus", _jint), af_stripes=_jopt(af, "stripes", _jint), af_hash=_jopt(af, "hash", _jstr),
            area_offset=_jopt(area, "offset", _jint), area_size=_jopt(area, "size", _jint), digest=digest_of.get(index),
        ))
    segments = []
    for key, value in segments_j.items():
        seg = _jobj(value, f"segment {key}")
        integrity = seg.get("integrity")
        flags = seg.get("flags", [])
        if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
            raise ValueError(f"segment {key} flags is not a list of strings")
        segments.append(Segment(
            index=_jint(key, "segment id"), type=_jstr(seg["type"], "segment type"),
            offset=_jint(seg["offset"], "segment offset"),
            size=None if seg["size"] == "dynamic" else _jint(seg["size"], "segment size"),
            cipher=_jopt(seg, "encryption", _jstr), sector_size=_jopt(seg, "sector_size", _jint),
            integrity=_jstr(_jobj(integrity, "integrity")["type"], "integrity type") if integrity is not None else None,
            flags=tuple(flags),
        ))
    if not segments:
        raise ValueError("no data segment")
    tokens = tuple(sorted(
        (Token(_jint(k, "token id"), _jstr(_jobj(t, f"token {k}")["type"], "token type"),
               _ids(t.get("keyslots", []), "token keyslots")) for k, t in tokens_j.items()),
        key=lambda t: t.index,
    ))
    keyslots.sort(key=lambda k: k.index)
    segments.sort(key=lambda s: s.index)
    flags = config.get("flags", [])
    if not isinstance(flags, list):
        raise ValueError("config flags is not a list")
    json_size = _jint(config["json_size"], "json_size")
    return LuksDevice(
        version=LuksVersion.LUKS2,
        uuid=None,
        cipher=segments[0].cipher,
        key_bits=next((k.key_bits for k in keyslots if k.key_bits and k.type == "luks2"), None),
        data_offset=segments[0].offset,
        sector_size=segments[0].sector_size or SECTOR,
        keyslots=tuple(keyslots),
        segments=tuple(segments),
        tokens=tokens,
        digests=digests,
        flags=tuple(str(f) for f in flags),
        metadata_size=json_size + 4096,  # the LUKS2 binary header is 4096 bytes, followed by the JSON area
        keyslots_size=_jint(config["keyslots_size"], "keyslots_size"),
    )


# --- cryptsetup status -----------------------------------------------------------------------------------------------


def parse_crypt_status(data: str | bytes, *, source: str | None = None) -> CryptStatus:
    """Parse ``cryptsetup status NAME`` into a ``CryptStatus`` (sizes converted from 512-byte sectors to bytes).

    Claims: cryptsetup 1.x and 2.x output for LUKS1, LUKS2 and plain mappings: the header line
    ``/dev/mapper/X is active.``, ``… is active and is in use.`` or ``… is inactive.``, then indented ``key: value``
    lines whose padding varies (``key location:``, ``sector size:``). Unknown keys are ignored; an active mapping
    without ``size:`` or output without the header line raises ParseError.
    """
    text = _text(data)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise _fail("empty output", text, source)
    head = _STATUS_HEAD.match(lines[0].strip())
    if not head:
        raise _fail("no '<device> is active/inactive' line", lines[0], source)
    path = head.group("path")
    name = path.rsplit("/", 1)[-1]
    if head.group("state") == "inactive":
        if len(lines) > 1:
            raise _fail("an inactive mapping with details", text, source)
        return CryptStatus(name=name, path=path, active=False)
    fields: dict[str, str] = {}
    for line in lines[1:]:
        if ":" not in line or not line[:1].isspace():
            raise _fail("expected an indented 'key: value' line", line, source)
        key, value = _split_field(line)
        fields[key] = value
    if "size" not in fields:
        raise _fail("active mapping without 'size:'", text, source)

    def sectors(key: str) -> int | None:
        return _int(fields[key], key, text, source, _SECTORS) * SECTOR if key in fields else None

    mode = fields.get("mode")
    flags = fields.get("flags")
    return CryptStatus(
        name=name,
        path=path,
        active=True,
        in_use=bool(head.group("use")),
        type=fields.get("type"),
        cipher=fields.get("cipher"),
        key_bits=_int(fields["keysize"], "keysize", text, source, _BITS) if "keysize" in fields else None,
        key_location=fields.get("key location"),
        device=fields.get("device"),
        loop=fields.get("loop"),
        sector_size=_int(fields["sector size"], "sector size", text, source) if "sector size" in fields else None,
        offset=sectors("offset"),
        size=sectors("size"),
        readonly=None if mode is None else mode.replace(" ", "").replace("/", "") in ("readonly", "ro"),
        flags=tuple(flags.split()) if flags else (),
    )


# --- the public parsers ----------------------------------------------------------------------------------------------


public_parsers(globals())  # GC paused while parsing; huge numbers become ParseError
