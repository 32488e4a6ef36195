"""Pure parsers of DRBD outputs: /proc/drbd, ``drbdsetup status --json``, ``drbdadm status``, ``drbdsetup events2``,
``drbdadm dump`` / ``.res`` files / ``drbdsetup show`` (text) and ``drbdsetup show --json``.

The configuration language (``drbdadm dump``, ``.res`` files, ``drbdsetup show`` text) is parsed in ``drbdconf``;
its public names are re-exported here. No I/O here. Every parser raises ``ParseError`` on output it does not claim
to read and never returns half a result; each docstring lists the formats and versions it claims.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pybofh_core.errors import ParseError
from pybofh_core.parsing import (
    Repeated,
    decode_text,
    load_json_output,
    public_parsers,
    refuse_repeated,
)

# the configuration language has its own module; its names stay importable from here
from .drbdconf import CONFIG as CONFIG
from .drbdconf import Stmt as Stmt
from .drbdconf import _int, parse_address
from .drbdconf import parse_config as parse_config
from .drbdconf import parse_config_tree as parse_config_tree
from .types import Address as Address
from .types import Connection as ConnStatus
from .types import (
    ConnectionConfig,
    ConnectionState,
    DiskState,
    DrbdConfig,
    DrbdResource,
    Event,
    HostConfig,
    PeerVolume,
    ProcDevice,
    ProcDrbd,
    ReplicationState,
    ResourceConfig,
    Role,
    SyncProgress,
    Volume,
    VolumeConfig,
)
from .types import ConnectionHost as ConnectionHost

E = TypeVar("E")
KIB = 1024


def _enum(cls: Callable[[str], E], value: Any, tool: str, what: str, source: str | None, excerpt: str = "") -> E:
    """Look up an enum member by DRBD's spelling, or raise ParseError naming the unknown value."""
    if type(value) is str:  # the usual case, without Enum.__call__ (thousands of resources, several states each)
        member = getattr(cls, "_value2member_map_", {}).get(value)
        if member is not None:
            return member  # type: ignore[no-any-return]
    try:
        return cls(value)
    except (ValueError, TypeError):
        raise ParseError(tool, f"unknown {what} {value!r}", excerpt or str(value), source) from None


# ---------------------------------------------------------------------------------------------------------------
# /proc/drbd (DRBD 8.0 - 8.4; the DRBD 9 header without devices)
# ---------------------------------------------------------------------------------------------------------------

PROC = "/proc/drbd"
_VERSION_RE = re.compile(r"^version:\s*(\S+)\s*\(api:([^/)]+)/proto:([^)]+)\)\s*$")
_MINOR_RE = re.compile(r"^\s*(\d+):\s+(\S.*)$")
_SYNC_RE = re.compile(
    r"^\[[=>.]*\]\s*(sync'ed|verified):\s*([0-9.]+)%\s*\((\d+)/(\d+)\)\s*([KM])(?:iB)?\s*(.*)$"
)
_FINISH_RE = re.compile(
    r"^finish:\s*(\d+):(\d+):(\d+)\s+speed:\s*([\d,]+)\s*\(([\d,]+)\)(?:\s+want:\s*([\d,]+))?\s*K/sec\s*(\(stalled\))?$"
)
_SECTOR_POS_RE = re.compile(r"^\d+%\s+sector pos:\s*\d+/\d+$")
_FLAGS_RE = re.compile(r"^[a-zA-Z-]{4,}$")


def _num(text: str) -> int:
    return int(text.replace(",", ""))


def parse_proc_drbd(data: str | bytes, *, source: str | None = None) -> ProcDrbd:
    """Parse /proc/drbd of DRBD 8.0 to 8.4 (and the device-less header of DRBD 9).

    Claims: the ``version:`` line (optional: some files start with ``GIT-hash:``), ``GIT-hash:``/``srcversion:``,
    DRBD 9's ``Transports`` line, blank lines anywhere, minor lines with ``cs:`` and either ``st:`` (8.0) or
    ``ro:`` (8.3+), ``ds:``, an optional protocol letter and the flags field (a trailing NUL byte, as 8.3 printed
    it, is dropped), ``N: cs:Unconfigured``, the counters line (``ns: nr: ... oos:``), ``resync:``/``act_log:``
    lines, resync/verify progress (``[==>...] sync'ed: 34.9% (346112/524288)M`` or ``verified:``), the
    ``finish: H:MM:SS speed: N (N) [want: N] K/sec`` line, also when glued to the progress line (the ``Mfinish``
    quirk), and ``N% sector pos:`` lines. Pass bytes: the file can contain NUL bytes.
    """
    text = decode_text(data, drop_nul=True)
    version = api = proto = build = None
    devices: list[ProcDevice] = []
    cur: dict[str, Any] | None = None
    seen_any = False

    def flush() -> None:
        if cur is not None:
            devices.append(ProcDevice(**cur))

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        seen_any = True
        if line.startswith("version:"):
            m = _VERSION_RE.match(line)
            if not m or devices or cur:
                raise ParseError(PROC, "malformed or misplaced version line", raw, source)
            version, api, proto = m.groups()
            continue
        if line.startswith(("GIT-hash:", "srcversion:")):
            build = line.split(":", 1)[1].strip()
            continue
        if line.startswith("Transports"):
            continue
        m = _MINOR_RE.match(raw)
        if m:
            flush()
            cur = _proc_minor(int(m.group(1)), m.group(2), raw, source)
            continue
        if cur is None:
            raise ParseError(PROC, "line outside any minor", raw, source)
        if line.startswith(("resync:", "act_log:")) or _SECTOR_POS_RE.match(line):
            continue
        if line.startswith("ns:"):
            cur["counters"] = _proc_counters(line, raw, source)
            continue
        m = _SYNC_RE.match(line)
        if m:
            kind, pct, remaining, total, unit, rest = m.groups()
            mult = KIB if unit == "K" else KIB * KIB
            cur["progress"] = SyncProgress(
                percent=float(pct), remaining_bytes=int(remaining) * mult, total_bytes=int(total) * mult,
                verify=kind == "verified",
            )
            if rest:
                line = rest.strip()  # the "Mfinish" quirk: finish info glued to the progress line
            else:
                continue
        if line.startswith("finish:"):
            fm = _FINISH_RE.match(line)
            if not fm or cur.get("progress") is None:
                raise ParseError(PROC, "unreadable finish line", raw, source)
            h, mi, s, speed, _avg, want, _stalled = fm.groups()
            p: SyncProgress = cur["progress"]
            cur["progress"] = SyncProgress(
                p.percent, p.remaining_bytes, p.total_bytes, int(h) * 3600 + int(mi) * 60 + int(s),
                _num(speed) * KIB, _num(want) * KIB if want else None, p.verify,
            )
            continue
        raise ParseError(PROC, "unknown line", raw, source)
    flush()
    if not seen_any:
        raise ParseError(PROC, "empty output", "", source)
    if version is None and build is None and not devices:
        raise ParseError(PROC, "no version line and no devices", text[:200], source)
    if version is not None and not version[:1].isdecimal():
        raise ParseError(PROC, f"unreadable version {version!r}", version, source)
    return ProcDrbd(version, api, proto, build, tuple(devices))


def _proc_minor(minor: int, rest: str, raw: str, source: str | None) -> dict[str, Any]:
    """Read the state fields of one minor line (``cs: ro:/st: ds: P flags``)."""
    out: dict[str, Any] = {"minor": minor, "state": None}
    tokens = rest.split()
    cs_seen = False
    for tok in tokens:
        key, sep, value = tok.partition(":")
        if sep and key == "cs":
            cs_seen = True
            if value == "Unconfigured":
                if len(tokens) != 1:
                    raise ParseError(PROC, "Unconfigured minor with more fields", raw, source)
                return out
            out["state"] = _enum(ConnectionState, value, PROC, "connection state", source, raw)
        elif sep and key in ("ro", "st"):
            a, slash, b = value.partition("/")
            if not slash:
                raise ParseError(PROC, f"role field {tok!r} is not ROLE/PEER", raw, source)
            out["role"] = _enum(Role, a, PROC, "role", source, raw)
            out["peer_role"] = _enum(Role, b, PROC, "role", source, raw)
        elif sep and key == "ds":
            a, slash, b = value.partition("/")
            if not slash:
                raise ParseError(PROC, f"disk field {tok!r} is not DISK/PEER", raw, source)
            out["disk"] = _enum(DiskState, a, PROC, "disk state", source, raw)
            out["peer_disk"] = _enum(DiskState, b, PROC, "disk state", source, raw)
        elif not sep and tok in ("A", "B", "C"):
            out["protocol"] = tok
        elif not sep and _FLAGS_RE.match(tok):
            out["flags"] = tok
        else:
            raise ParseError(PROC, f"unknown field {tok!r}", raw, source)
    if not cs_seen or "role" not in out or "disk" not in out:
        raise ParseError(PROC, "minor line lacks cs:, ro:/st: or ds:", raw, source)
    return out


def _proc_counters(line: str, raw: str, source: str | None) -> dict[str, int | str]:
    counters: dict[str, int | str] = {}
    for tok in line.split():
        key, sep, value = tok.partition(":")
        if not sep or not key:
            raise ParseError(PROC, f"counter {tok!r} is not key:value", raw, source)
        counters[key] = int(value) if value.isdecimal() else value
    return counters


_SYNC_STATES = {s.value for s in ReplicationState}


def resource_from_proc(device: ProcDevice, name: str) -> DrbdResource:
    """The typed status of one configured 8.x minor, under the resource ``name`` it belongs to."""
    if device.state is None or device.role is None or device.disk is None:
        raise ParseError(PROC, f"minor {device.minor} is unconfigured", f"{device.minor}: cs:Unconfigured")
    state = device.state
    if state.value in _SYNC_STATES:
        replication: ReplicationState | None = ReplicationState(state.value)
    elif state is ConnectionState.CONNECTED:
        replication = ReplicationState.ESTABLISHED
    else:
        replication = ReplicationState.OFF
    progress = device.progress
    if progress is not None and not progress.verify:
        percent: float | None = progress.percent
    elif state.connected and device.disk is DiskState.UPTODATE and device.peer_disk is DiskState.UPTODATE:
        percent = 100.0
    else:
        percent = None
    # flags 2-4: a resync paused by a sync-after dependency (a), by the peer (p), by the user (u: pause-sync)
    flags = device.flags or ""
    paused = [why for letter, why in zip(flags[1:4], ("dependency", "peer", "user"), strict=False) if letter != "-"]
    peer = PeerVolume(
        number=0, peer_disk=device.peer_disk or DiskState.DUNKNOWN, replication=replication, sync_percent=percent,
        out_of_sync_bytes=device.out_of_sync_bytes, progress=progress, resync_suspended=",".join(paused) or None,
    )
    conn = ConnStatus(state=state, peer_role=device.peer_role or Role.UNKNOWN, volumes=(peer,),
                      protocol=device.protocol)
    vol = Volume(number=0, disk=device.disk, minor=device.minor)
    suspended = device.flags[1:2] == "s" if device.flags else None  # 2nd flag: s = I/O suspended
    return DrbdResource(name=name, role=device.role, volumes=(vol,), connections=(conn,), suspended=suspended)


# ---------------------------------------------------------------------------------------------------------------
# JSON helpers: duplicate keys are detected, never silently dropped
# ---------------------------------------------------------------------------------------------------------------


def _get(obj: Any, key: str, tool: str, where: str, source: str | None, kind: type | tuple[type, ...] = object) -> Any:
    if not isinstance(obj, dict):
        raise ParseError(tool, f"{where} is not an object", str(obj)[:120], source)
    if key not in obj:
        raise ParseError(tool, f"{where} lacks {key!r}", json.dumps(sorted(obj))[:120], source)
    value = obj[key]
    if not isinstance(value, kind):
        raise ParseError(tool, f"{where}.{key} has type {type(value).__name__}", str(value)[:120], source)
    return value


def _list(obj: dict[str, Any], key: str, tool: str, where: str, source: str | None) -> list[Any]:
    """The list under an optional ``key`` (empty when absent); anything else is a ParseError."""
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise ParseError(tool, f"{where}.{key} is {type(value).__name__}, not a list", str(value)[:120], source)
    return value


# ---------------------------------------------------------------------------------------------------------------
# drbdsetup status --json (DRBD 9)
# ---------------------------------------------------------------------------------------------------------------

STATUS_JSON = "drbdsetup status --json"


def parse_status_json(text: str | bytes, *, source: str | None = None) -> list[DrbdResource]:
    """Parse ``drbdsetup status --json`` of DRBD 9 (drbd-utils 9.x) into one status per resource.

    Claims: a JSON list of resources with ``name``, ``role``, ``devices`` (``volume``, ``minor``, ``disk-state``,
    ``size`` in KiB, optional ``open``/``quorum``) and ``connections`` (``name``, ``peer-node-id``,
    ``connection-state``, ``peer-role``, ``peer_devices`` with ``replication-state``, ``peer-disk-state``,
    ``out-of-sync`` in KiB, ``percent-in-sync``). Number literals like ``100.00``, any whitespace and lone ``,``
    separator lines are plain JSON. Duplicate keys in any object are a ParseError, never silently merged.
    """
    t = STATUS_JSON
    doc = load_json_output(text, t, source, drop_nul=True, repeated_keys="keep")[0]
    if not isinstance(doc, list):
        raise ParseError(t, "top level is not a list of resources", str(doc)[:120], source)
    out = []
    for res in doc:
        if not isinstance(res, dict):
            raise ParseError(t, "resource entry is not an object", str(res)[:120], source)
        name = _get(res, "name", t, "resource", source, str)
        where = f"resource {name}"
        refuse_repeated(res, t, where, source)
        volumes = []
        for dev in _get(res, "devices", t, where, source, list):
            refuse_repeated(dev, t, where, source)
            size = dev.get("size")
            volumes.append(Volume(
                number=_int(_get(dev, "volume", t, where, source), "volume", t, source),
                disk=_enum(DiskState, _get(dev, "disk-state", t, where, source), t, "disk state", source),
                minor=_int(_get(dev, "minor", t, where, source), "minor", t, source),
                size_bytes=None if size is None else _int(size, "size", t, source) * KIB,
                open=dev.get("open") if isinstance(dev.get("open"), bool) else None,
                quorum=dev.get("quorum") if isinstance(dev.get("quorum"), bool) else None,
            ))
        conns = []
        for conn in _get(res, "connections", t, where, source, list):
            refuse_repeated(conn, t, where, source)
            cname = conn.get("name")
            peers = []
            for pd in _get(conn, "peer_devices", t, f"{where} connection {cname}", source, list):
                refuse_repeated(pd, t, where, source)
                pct = pd.get("percent-in-sync")
                oos = pd.get("out-of-sync")
                if pct is not None and (isinstance(pct, bool) or not isinstance(pct, (int, float))):
                    raise ParseError(t, f"percent-in-sync {pct!r} is not a number", str(pct), source)
                peers.append(PeerVolume(
                    number=_int(_get(pd, "volume", t, where, source), "volume", t, source),
                    peer_disk=_enum(DiskState, _get(pd, "peer-disk-state", t, where, source), t, "disk state", source),
                    replication=_enum(ReplicationState, _get(pd, "replication-state", t, where, source), t,
                                      "replication state", source),
                    sync_percent=None if pct is None else float(pct),
                    out_of_sync_bytes=None if oos is None else _int(oos, "out-of-sync", t, source) * KIB,
                    resync_suspended=pd.get("resync-suspended"),
                ))
            peer_id = conn.get("peer-node-id")
            conns.append(ConnStatus(
                state=_enum(ConnectionState, _get(conn, "connection-state", t, where, source), t,
                            "connection state", source),
                peer_role=_enum(Role, _get(conn, "peer-role", t, where, source), t, "role", source),
                name=cname if isinstance(cname, str) else None,
                peer_node_id=None if peer_id is None else _int(peer_id, "peer-node-id", t, source),
                volumes=tuple(peers),
            ))
        node_id = res.get("node-id")
        out.append(DrbdResource(
            name=name,
            role=_enum(Role, _get(res, "role", t, where, source), t, "role", source),
            volumes=tuple(volumes),
            connections=tuple(conns),
            suspended=res.get("suspended") if isinstance(res.get("suspended"), bool) else None,
            node_id=None if node_id is None else _int(node_id, "node-id", t, source),
        ))
    return out


# ---------------------------------------------------------------------------------------------------------------
# drbdadm status (DRBD 9 text)
# ---------------------------------------------------------------------------------------------------------------

STATUS_TEXT = "drbdadm status"


def _kv(tokens: Iterable[str], raw: str, tool: str, source: str | None) -> dict[str, str]:
    out = {}
    for tok in tokens:
        key, sep, value = tok.partition(":")
        if not sep or not key:
            raise ParseError(tool, f"token {tok!r} is not key:value", raw, source)
        out[key] = value
    return out


def parse_status_text(text: str | bytes, *, source: str | None = None) -> list[DrbdResource]:
    """Parse the text of ``drbdadm status`` / ``drbdsetup status`` (DRBD 9, drbd-utils 9.x incl. 9.2.15).

    Claims: nesting by indentation only — a resource line ``NAME role:R [node-id:N] [suspended:...]`` at column 0,
    local volume lines ``[volume:N] disk:D [open:..]`` and peer lines ``PEER [node-id:N] role:R
    [connection:C]`` indented 2, peer volume lines ``[volume:N] [replication:R] peer-disk:D [done:P]`` indented 4;
    ``volume:`` left out for single-volume resources (= volume 0); ``connection:`` left out when Connected and
    ``replication:`` when Established; blank lines between resources. Extra ``key:value`` tokens (``--verbose``,
    ``--statistics``) are accepted; a line of any other shape is a ParseError.
    """
    t = STATUS_TEXT
    res_list: list[DrbdResource] = []
    cur: dict[str, Any] | None = None
    conn: dict[str, Any] | None = None

    def close_conn() -> None:
        nonlocal conn
        if conn is not None and cur is not None:
            cur["connections"].append(ConnStatus(
                state=conn["state"], peer_role=conn["role"], name=conn["name"], peer_node_id=conn["node_id"],
                volumes=tuple(conn["volumes"])))
        conn = None

    def close_res() -> None:
        nonlocal cur
        close_conn()
        if cur is not None:
            res_list.append(DrbdResource(
                name=cur["name"], role=cur["role"], volumes=tuple(cur["volumes"]),
                connections=tuple(cur["connections"]), suspended=cur["suspended"], node_id=cur["node_id"]))
        cur = None

    for raw in decode_text(text, drop_nul=True).splitlines():
        if not raw.strip():
            continue
        stripped = raw.rstrip()
        indent = len(stripped) - len(stripped.lstrip(" "))
        tokens = stripped.split()
        if indent == 0:
            close_res()
            if ":" in tokens[0]:
                raise ParseError(t, "resource line does not start with a name", raw, source)
            kv = _kv(tokens[1:], raw, t, source)
            if "role" not in kv:
                raise ParseError(t, "resource line lacks role:", raw, source)
            cur = {"name": tokens[0], "role": _enum(Role, kv["role"], t, "role", source, raw), "volumes": [],
                   "connections": [], "suspended": _yes_no(kv.get("suspended")),
                   "node_id": _int(kv["node-id"], "node-id", t, source) if "node-id" in kv else None}
        elif cur is None:
            raise ParseError(t, "indented line before any resource", raw, source)
        elif indent == 2 and ":" in tokens[0]:
            close_conn()
            kv = _kv(tokens, raw, t, source)
            if "disk" not in kv:
                raise ParseError(t, "volume line lacks disk:", raw, source)
            cur["volumes"].append(Volume(
                number=_int(kv.get("volume", "0"), "volume", t, source),
                disk=_enum(DiskState, kv["disk"], t, "disk state", source, raw),
                minor=_int(kv["minor"], "minor", t, source) if "minor" in kv else None,
                open=_yes_no(kv.get("open")), quorum=_yes_no(kv.get("quorum")),
                size_bytes=_int(kv["size"], "size", t, source) * KIB if "size" in kv else None,
            ))
        elif indent == 2:
            close_conn()
            kv = _kv(tokens[1:], raw, t, source)
            conn = {"name": tokens[0],
                    "role": _enum(Role, kv.get("role", "Unknown"), t, "role", source, raw),
                    "state": _enum(ConnectionState, kv.get("connection", "Connected"), t, "connection state",
                                   source, raw),
                    "node_id": _int(kv["node-id"], "node-id", t, source) if "node-id" in kv else None,
                    "volumes": []}
        elif indent == 4 and conn is not None:
            kv = _kv(tokens, raw, t, source)
            if "peer-disk" not in kv:
                raise ParseError(t, "peer volume line lacks peer-disk:", raw, source)
            done = kv.get("done")
            try:
                pct = float(done) if done is not None else None
            except ValueError:
                raise ParseError(t, f"done:{done} is not a number", raw, source) from None
            conn["volumes"].append(PeerVolume(
                number=_int(kv.get("volume", "0"), "volume", t, source),
                peer_disk=_enum(DiskState, kv["peer-disk"], t, "disk state", source, raw),
                replication=_enum(ReplicationState, kv.get("replication", "Established"), t, "replication state",
                                  source, raw),
                sync_percent=pct,
                out_of_sync_bytes=_int(kv["out-of-sync"], "out-of-sync", t, source) * KIB if "out-of-sync" in kv
                else None,
                resync_suspended=kv.get("resync-suspended"),
            ))
        else:
            raise ParseError(t, f"unexpected indentation ({indent} spaces)", raw, source)
    close_res()
    if not res_list:
        raise ParseError(t, "no resource in output", decode_text(text, drop_nul=True)[:200], source)
    return res_list


def _yes_no(value: str | None) -> bool | None:
    return None if value is None else value in ("yes", "true")


# ---------------------------------------------------------------------------------------------------------------
# drbdsetup events2 (DRBD 9)
# ---------------------------------------------------------------------------------------------------------------

EVENTS = "drbdsetup events2"
_VERBS = {"exists", "create", "change", "destroy", "call", "response"}
_KINDS = {"resource", "device", "connection", "peer-device", "path", "helper", "-"}
_TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def parse_events2(text: str | bytes, *, source: str | None = None) -> list[Event]:
    """Parse ``drbdsetup events2`` lines (drbd-utils 9: plain, --statistics, --full, --diff, --timestamps).

    Claims: ``VERB KIND key:value ...`` with VERB one of exists/create/change/destroy/call/response and KIND one
    of resource/device/connection/peer-device/path/helper; the ``exists -`` sentinel that ends the initial state
    dump; an optional leading ISO timestamp; values split at the first ``:`` (``local:ipv4:1.2.3.4:7789``); with
    ``--diff`` a value ``old->new`` gives ``attrs[key] = new`` and ``old[key] = old``.
    """
    events = []
    for raw in decode_text(text, drop_nul=True).splitlines():
        if not raw.strip():
            continue
        tokens = raw.split()
        if _TS_RE.match(tokens[0]):
            tokens = tokens[1:]
        if len(tokens) < 2 or tokens[0] not in _VERBS or tokens[1] not in _KINDS:
            raise ParseError(EVENTS, "line is not 'VERB KIND key:value...'", raw, EVENTS if source is None else source)
        if tokens[1] == "-":
            if tokens[0] != "exists" or len(tokens) != 2:
                raise ParseError(EVENTS, "a '-' object is only valid as the 'exists -' sentinel", raw, source)
            events.append(Event("exists", "-"))
            continue
        attrs: dict[str, str] = {}
        old: dict[str, str] = {}
        for key, value in _kv(tokens[2:], raw, EVENTS, source).items():
            if "->" in value:
                before, _, after = value.partition("->")
                old[key], attrs[key] = before, after
            else:
                attrs[key] = value
        events.append(Event(tokens[0], tokens[1], attrs, old))
    if not events:
        raise ParseError(EVENTS, "no events in output", "", source)
    return events


def resources_from_events(events: Iterable[Event], *, source: str | None = None) -> list[DrbdResource]:
    """Fold events2 ``exists``/``create``/``change``/``destroy`` lines into the final status of each resource.

    ``call``/``response`` (helper) events do not change state and are skipped.
    """
    t = EVENTS
    res: dict[str, dict[str, Any]] = {}
    for ev in events:
        if ev.kind in ("-", "helper") or ev.verb in ("call", "response"):
            continue
        name = ev.attrs.get("name")
        if name is None:
            raise ParseError(t, f"{ev.verb} {ev.kind} event without name:", str(ev.attrs), source)
        if ev.kind == "resource" and ev.verb == "destroy":
            res.pop(name, None)
            continue
        r = res.setdefault(name, {"attrs": {}, "devices": {}, "conns": {}, "peers": {}})
        if ev.kind == "resource":
            r["attrs"].update(ev.attrs)
        elif ev.kind == "device":
            key = ev.attrs.get("volume", "0")
            if ev.verb == "destroy":
                r["devices"].pop(key, None)
            else:
                r["devices"].setdefault(key, {}).update(ev.attrs)
        elif ev.kind in ("connection", "peer-device", "path"):
            peer = ev.attrs.get("peer-node-id") or ev.attrs.get("conn-name", "")
            if ev.kind == "connection":
                if ev.verb == "destroy":
                    r["conns"].pop(peer, None)
                    r["peers"] = {k: v for k, v in r["peers"].items() if k[0] != peer}
                else:
                    r["conns"].setdefault(peer, {}).update(ev.attrs)
            elif ev.kind == "peer-device":
                pkey = (peer, ev.attrs.get("volume", "0"))
                if ev.verb == "destroy":
                    r["peers"].pop(pkey, None)
                else:
                    r["peers"].setdefault(pkey, {}).update(ev.attrs)
    out = []
    for name, r in res.items():
        if "role" not in r["attrs"]:
            raise ParseError(t, f"resource {name} never got a role", str(r["attrs"]), source)
        volumes = tuple(
            Volume(
                number=_int(d.get("volume", "0"), "volume", t, source),
                disk=_enum(DiskState, d.get("disk"), t, "disk state", source),
                minor=_int(d["minor"], "minor", t, source) if "minor" in d else None,
                size_bytes=_int(d["size"], "size", t, source) * KIB if "size" in d else None,
                open=_yes_no(d.get("open")), quorum=_yes_no(d.get("quorum")),
                backing_device=None if d.get("backing_dev") in (None, "none") else d["backing_dev"],
            )
            for _, d in sorted(r["devices"].items(), key=lambda kv: int(kv[0]) if kv[0].isdecimal() else -1)
        )
        conns = []
        for peer, c in r["conns"].items():
            pvs = []
            for (p, _vol), pd in sorted(r["peers"].items()):
                if p != peer:
                    continue
                done = pd.get("done")
                pvs.append(PeerVolume(
                    number=_int(pd.get("volume", "0"), "volume", t, source),
                    peer_disk=_enum(DiskState, pd.get("peer-disk"), t, "disk state", source),
                    replication=_enum(ReplicationState, pd.get("replication"), t, "replication state", source),
                    sync_percent=float(done) if done is not None and _is_float(done) else None,
                    out_of_sync_bytes=_int(pd["out-of-sync"], "out-of-sync", t, source) * KIB
                    if "out-of-sync" in pd else None,
                    resync_suspended=pd.get("resync-suspended"),
                ))
            conns.append(ConnStatus(
                state=_enum(ConnectionState, c.get("connection"), t, "connection state", source),
                peer_role=_enum(Role, c.get("role", "Unknown"), t, "role", source),
                name=c.get("conn-name"),
                peer_node_id=_int(c["peer-node-id"], "peer-node-id", t, source) if "peer-node-id" in c else None,
                volumes=tuple(pvs),
            ))
        out.append(DrbdResource(
            name=name, role=_enum(Role, r["attrs"]["role"], t, "role", source), volumes=volumes,
            connections=tuple(conns), suspended=_yes_no(r["attrs"].get("suspended")),
        ))
    return out


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------------------------------------------------
# drbdsetup show --json (DRBD 9)
# ---------------------------------------------------------------------------------------------------------------

SHOW_JSON = "drbdsetup show --json"


def parse_show_json(text: str | bytes, *, source: str | None = None) -> DrbdConfig:
    """Parse ``drbdsetup show --json`` (drbd-utils 9.x) into configuration facts.

    Claims: a list of ``{"resource", "_this_host": {"node-id", "volumes": [{"volume_nr", "device_minor",
    "backing-disk"|"disk", "meta-disk"}]}, "connections": [{"_peer_node_id", "path"|"paths", "_cstate",
    "net": {"_name"}}]}``. Older drbd-utils print the backing disk as a second ``"disk"`` key next to the
    ``"disk"`` options object in a volume: that duplicate is detected and both values are kept (path → disk,
    object → options). Any other duplicate key is a ParseError.
    """
    t = SHOW_JSON
    doc = load_json_output(text, t, source, drop_nul=True, repeated_keys="keep")[0]
    if not isinstance(doc, list):
        raise ParseError(t, "top level is not a list of resources", str(doc)[:120], source)
    resources = []
    for res in doc:
        name = _get(res, "resource", t, "resource entry", source, str)
        where = f"resource {name}"
        refuse_repeated(res, t, where, source)
        this = res.get("_this_host", {})
        if not isinstance(this, dict):
            raise ParseError(t, f"{where}: _this_host is not an object", str(this)[:120], source)
        refuse_repeated(this, t, where, source)
        vols = []
        for v in _list(this, "volumes", t, where, source):
            disk = _show_json_disk(v, t, where, source)
            minor = v.get("device_minor")
            vols.append(VolumeConfig(
                number=_int(_get(v, "volume_nr", t, where, source), "volume_nr", t, source),
                minor=None if minor is None else _int(minor, "device_minor", t, source),
                device=None if minor is None else f"/dev/drbd{int(minor)}",
                disk=disk, meta_disk=v.get("meta-disk") if isinstance(v.get("meta-disk"), str) else None,
            ))
        node_id = this.get("node-id")
        hosts = [HostConfig(kind="this", node_id=None if node_id is None else _int(node_id, "node-id", t, source),
                            volumes=tuple(vols))]
        conns = []
        for c in _list(res, "connections", t, where, source):
            refuse_repeated(c, t, where, source)
            raw_paths = _list(c, "paths", t, where, source)
            if "path" in c:
                raw_paths = [c["path"], *raw_paths]
            paths = []
            for p in raw_paths:
                refuse_repeated(p, t, where, source)
                here = _get(p, "_this_host", t, where, source, str).split()
                there = _get(p, "_remote_host", t, where, source, str).split()
                paths.append((parse_address(here, tool=t, source=source), parse_address(there, tool=t, source=source)))
            net = c.get("net", {})
            if not isinstance(net, dict):
                raise ParseError(t, f"{where}: net is not an object", str(net)[:120], source)
            refuse_repeated(net, t, where, source)
            peer = c.get("_peer_node_id")
            conns.append(ConnectionConfig(
                paths=tuple(paths), peer_node_id=None if peer is None else _int(peer, "_peer_node_id", t, source),
                name=net.get("_name") if isinstance(net.get("_name"), str) else None,
                cstate=c.get("_cstate") if isinstance(c.get("_cstate"), str) else None,
                net={k: str(v) for k, v in net.items()},
            ))
        options = res.get("options", {})
        sections = {"options": {k: str(v) for k, v in options.items()}} if isinstance(options, dict) else {}
        resources.append(ResourceConfig(name=name, hosts=tuple(hosts), connections=tuple(conns), sections=sections))
    if not resources:
        raise ParseError(t, "no resource in output", decode_text(text, drop_nul=True)[:200], source)
    return DrbdConfig(tuple(resources))


def _show_json_disk(v: Any, t: str, where: str, source: str | None) -> str | None:
    """The backing disk of a show --json volume: ``backing-disk``, a string ``disk``, or the duplicated ``disk``."""
    if not isinstance(v, dict):
        raise ParseError(t, f"{where}: volume is not an object", str(v)[:120], source)
    for key, value in v.items():
        if isinstance(value, Repeated) and key != "disk":
            raise ParseError(t, f"duplicate key {key!r} in a volume of {where}", key, source)
    disk = v.get("disk")
    if isinstance(disk, Repeated):
        paths = [d for d in disk.values if isinstance(d, str)]
        objects = [d for d in disk.values if isinstance(d, dict)]
        if len(paths) != 1 or len(objects) + len(paths) != len(disk.values):
            raise ParseError(t, f"duplicate 'disk' keys in {where} are not one path plus options", str(disk.values),
                             source)
        return None if paths[0] == "none" else paths[0]
    backing = v.get("backing-disk")
    if isinstance(backing, str):
        return None if backing == "none" else backing
    if isinstance(disk, str):
        return None if disk == "none" else disk
    return None


def parse_lines(text: str | bytes) -> list[str]:
    """Non-empty stripped lines (``drbdadm sh-resources``, ``sh-minor``, ``sh-ll-dev``)."""
    return [ln.strip() for ln in decode_text(text, drop_nul=True).splitlines() if ln.strip()]


def parse_sh_words(text: str | bytes) -> list[str]:
    """Whitespace-separated words (``drbdadm sh-resources`` prints names space-separated on some versions)."""
    return decode_text(text, drop_nul=True).split()


# --- the public parsers ----------------------------------------------------------------------------------------------


public_parsers(globals())  # GC paused while parsing; huge numbers become ParseError
