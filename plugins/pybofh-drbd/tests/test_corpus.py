"""Every DRBD sample of the shared corpus (../shared/corpus/drbd, read in place) through the plugin's pure parsers.

Each file has an expectation entry written from reading the sample: key fields of the typed result, or the
ParseError a format the parser does not claim must give (naming the file). A corpus file without an entry fails.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pybofh_core.errors import ParseError
from pybofh_drbd import parsers
from pybofh_drbd.types import DrbdConfig, DrbdResource, ProcDrbd

MIB = 1024 * 1024
KIB = 1024


def _events(data: bytes, source: str) -> list[DrbdResource]:
    return parsers.resources_from_events(parsers.parse_events2(data, source=source), source=source)


def parser_for(name: str) -> Callable[..., Any]:
    """Which pure parser reads a corpus file, chosen by the file name's command prefix."""
    table: list[tuple[str, Callable[..., Any]]] = [
        ("proc_drbd_", parsers.parse_proc_drbd),
        ("drbdsetup_status_json_", parsers.parse_status_json),
        ("drbdadm_status_", parsers.parse_status_text),
        ("drbdsetup_events2_", _events),
        ("drbdsetup_show_json_", parsers.parse_show_json),
        ("drbdsetup_show_", parsers.parse_config),
        ("drbdadm_dump_", parsers.parse_config),
        ("res_", parsers.parse_config),
    ]
    for prefix, fn in table:
        if name.startswith(prefix):
            return fn
    raise AssertionError(f"no parser assigned to corpus file {name}")


# --- expectations -------------------------------------------------------------------------------------------------
# proc: minor -> (cs, role, peer role, disk, peer disk, protocol); "unconfigured": minors; "sync": minor -> progress

P = "Primary"
S = "Secondary"
U = "Unknown"
UTD = "UpToDate"
DL = "Diskless"
DU = "DUnknown"
INC = "Inconsistent"

_PROC_GANETI_80 = {
    0: ("Connected", P, S, UTD, UTD, "C"), 1: ("Connected", S, P, UTD, UTD, "C"),
    4: ("WFConnection", P, U, UTD, DU, "C"), 5: ("Connected", P, S, UTD, DL, "C"),
    6: ("Connected", S, P, DL, UTD, "C"), 7: ("WFConnection", S, U, UTD, DU, "C"),
    8: ("StandAlone", S, U, UTD, DU, None),
}
_PROC_GANETI_84 = {
    0: ("Connected", P, S, UTD, UTD, "C"), 1: ("Connected", S, P, UTD, UTD, "C"),
    4: ("WFConnection", P, U, UTD, DU, "C"), 6: ("Connected", S, P, DL, UTD, "C"),
    8: ("StandAlone", S, U, UTD, DU, None),
}

PROC: dict[str, dict[str, Any]] = {
    "proc_drbd_8.0_ganeti_8.txt": {"version": "8.0.12", "minors": _PROC_GANETI_80, "unconfigured": [2],
                                   "counters": {0: {"ns": 4375577, "al": 1067}}},
    "proc_drbd_8.0_ganeti_80-emptyline.txt": {
        "version": "8.0.12", "minors": {0: ("Connected", P, S, UTD, UTD, "C")}, "unconfigured": [1, 2, 5, 6]},
    "proc_drbd_8.0_ganeti_80-emptyversion.txt": {
        "version": None, "minors": {0: ("Connected", P, S, UTD, UTD, "C")}, "unconfigured": [1, 2, 5, 6]},
    "proc_drbd_8.3.11_ganeti_83_sync_want.txt": {
        "version": "8.3.11", "minors": {0: ("SyncTarget", S, P, INC, UTD, "C")}, "unconfigured": [1, 2, 3],
        "sync": {0: (44.4, 588416 * KIB, 1048576 * KIB, 8, 65736 * KIB, 61440 * KIB)},
        "counters": {0: {"oos": 588416}}},
    "proc_drbd_8.3_ganeti_83.txt": {"version": "8.3.1", "minors": _PROC_GANETI_80, "unconfigured": [2]},
    "proc_drbd_8.3_ganeti_83_sync.txt": {
        "version": "8.3.1", "unconfigured": [2],
        "minors": {0: ("Connected", P, S, UTD, UTD, "C"), 1: ("Connected", S, P, UTD, UTD, "C"),
                   3: ("SyncTarget", P, S, INC, UTD, "C"), 4: ("WFConnection", P, U, UTD, DU, "C")},
        "sync": {3: (34.9, 346112 * MIB, 524288 * MIB, 5, 59392 * KIB, None)}},
    "proc_drbd_8.3_ganeti_83_sync_krnl2.6.39.txt": {
        "version": "8.3.1", "unconfigured": [2],
        "minors": {0: ("Connected", P, S, UTD, UTD, "C"), 1: ("Connected", S, P, UTD, UTD, "C"),
                   3: ("SyncSource", P, S, UTD, INC, "A"), 4: ("WFConnection", P, U, UTD, DU, "C")},
        "sync": {3: (2.4, 14996 * MIB, 15360 * MIB, 4 * 60 + 8, 61736 * KIB, None)}},
    "proc_drbd_8.4.11_two-resources_syncing_cockpit-issue.txt": {
        "version": "8.4.11", "unconfigured": [],
        "minors": {1: ("SyncSource", P, S, UTD, INC, "C"), 2: ("SyncTarget", S, P, INC, UTD, "C")},
        "sync": {1: (17.9, 3134016 * MIB, 3815352 * MIB, 10 * 3600 + 43 * 60 + 36, 83088 * KIB, None),
                 2: (28.9, 1357196 * MIB, 1907668 * MIB, 3 * 3600 + 50 * 60 + 39, 100404 * KIB, 113600 * KIB)}},
    "proc_drbd_8.4.3_node_exporter.txt": {
        "version": "8.4.3", "unconfigured": [], "minors": {1: ("Connected", P, P, UTD, UTD, "C")},
        "counters": {1: {"oos": 12349, "ns": 17324442}}},
    "proc_drbd_8.4_ganeti_84.txt": {"version": "8.4.2", "minors": _PROC_GANETI_84, "unconfigured": [2]},
    "proc_drbd_8.4_ganeti_84_emptyfirst.txt": {
        "version": "8.4.2", "unconfigured": [2],
        "minors": {k: v for k, v in _PROC_GANETI_84.items() if k != 0}},
    "proc_drbd_8.4_ganeti_84_sync.txt": {
        "version": "8.4.2", "unconfigured": [3],
        "minors": {0: ("StandAlone", P, U, UTD, DU, None), 5: ("SyncSource", S, S, UTD, INC, "C")},
        "sync": {5: (68.5, 335744 * KIB, 1048576 * KIB, 5, 64800 * KIB, None)}},
}

# status: name -> (role, [(volume, disk, minor)], {peer: (state, peer role, [(volume, replication, peer disk, pct)])})
_SLE_PEER = "SLE15-sp1-gm-drbd1145296-node1"


def _sle(minor: int) -> tuple[Any, ...]:
    return (S, [(0, UTD, minor)], {_SLE_PEER: ("Connected", P, [(0, "Established", UTD, 100.0)])})


_TWO_VOL_PEER = ("Connected", S, [(0, "Established", UTD, None), (1, "Established", UTD, None)])
_EVENTS_DONE = (P, [(0, UTD, 1000)], {"some-peer": ("Connected", S, [(0, "Established", UTD, None)])})
_EVENTS_SYNC = (S, [(0, UTD, 1000)], {"some-peer": ("Connected", S, [(0, "SyncSource", INC, 37.5)])})

STATUS: dict[str, dict[str, Any]] = {
    "drbdsetup_status_json_drbd9_sle15sp1_4-resources_ha-cluster-exporter.json": {
        "1-single-0": _sle(2), "1-single-1": _sle(3), "vg1": _sle(6), "vg2": _sle(7), "vg3": _sle(8)},
    "drbdsetup_status_json_salt-shaptools.json": {
        "beijing": (P, [(0, UTD, 5)], {"salt-node3": ("Connected", S, [(0, "Established", UTD, 100.0)])})},
    "drbdadm_status_9.2.15_syncsource_open-no_opensvc.txt": {
        "kvm1.demo.vol.drbd4kvm": (P, [(0, UTD, None)], {"n2": ("Connected", S, [(0, "SyncSource", INC, 30.84)])})},
    "drbdadm_status_9.2.15_uptodate_open-no_opensvc.txt": {
        "kvm1.demo.vol.drbd4kvm": (P, [(0, UTD, None)], {"n2": ("Connected", S, [(0, "Established", UTD, None)])})},
    "drbdadm_status_9_syncsource_salt-shaptools.txt": {
        "single": (P, [(0, UTD, None)], {"opensuse-node2": ("Connected", S, [(0, "SyncSource", INC, 96.47)])})},
    "drbdadm_status_9_two-resources_3-nodes_salt-shaptools.txt": {
        name: (P, [(0, UTD, None), (1, UTD, None)], {"node2": _TWO_VOL_PEER, "node3": _TWO_VOL_PEER})
        for name in ("test", "res")},
    "drbdsetup_events2_all-create-change.txt": {"some-resource": _EVENTS_DONE},
    "drbdsetup_events2_diff_all-create-change.txt": {"some-resource": _EVENTS_DONE},
    "drbdsetup_events2_full_all-create-change.txt": {"some-resource": _EVENTS_DONE},
    "drbdsetup_events2_statistics_sync.txt": {"some-resource": _EVENTS_SYNC},
    "drbdsetup_events2_sync.txt": {"some-resource": _EVENTS_SYNC},
}
# whole-resource derived facts: name -> (synced, sync_percent)
SYNC_FACTS = {
    "drbdsetup_status_json_salt-shaptools.json": {"beijing": (True, 100.0)},
    "drbdadm_status_9.2.15_syncsource_open-no_opensvc.txt": {"kvm1.demo.vol.drbd4kvm": (False, 30.84)},
    "drbdadm_status_9.2.15_uptodate_open-no_opensvc.txt": {"kvm1.demo.vol.drbd4kvm": (True, 100.0)},
    "drbdadm_status_9_syncsource_salt-shaptools.txt": {"single": (False, 96.47)},
    "drbdsetup_events2_statistics_sync.txt": {"some-resource": (False, 37.5)},
}

# config: name -> {"volumes": [(nr, minor, disk, meta)] for this host / anonymous show, "hosts": [(kind, name,
# node_id, address)], "ports": [...], "conns": [(peer_node_id, name, cstate, [paths])], "protocol": X}
A = "ipv4"


def _addr(host: str, port: int, family: str = A) -> str:
    return f"{family} [{host}]:{port}" if family == "ipv6" else f"{family} {host}:{port}"


CONFIG: dict[str, dict[str | None, dict[str, Any]]] = {
    "drbdadm_dump_9.1.5_single-resource_drbd-dev-ml.txt": {"nautilus_data": {
        "this_host": "skywalker", "volumes": [(0, 1, "/dev/zdata/nautilus", "internal")],
        "hosts": [("on", "skywalker", 0, _addr("10.1.20.201", 7810)), ("on", "vader", 1, _addr("10.1.20.202", 7810))],
        "conn_hosts": [[("skywalker", _addr("192.168.1.2", 7810)), ("vader", _addr("192.168.1.3", 7810))]],
        "ports": [7810], "protocol": "C", "next_minor": 0, "next_port": (7810, 7811)}},
    "drbdsetup_show_9_switch_interface_r0.txt": {"r0": {
        "volumes": [(0, 10, None, None)], "hosts": [("this", None, 2, None)], "ports": [7000],
        "conns": [(0, "n1.ryzen9.home", "Connecting", [(_addr("192.168.122.49", 7000), _addr("192.168.122.47", 7000))]),
                  (1, "n2.ryzen9.home", "Connected", [(_addr("192.168.122.49", 7000), _addr("192.168.122.48", 7000))])],
        "next_minor": 0, "next_port": (7000, 7001)}},
    "drbdsetup_show_9_tiebreaker_swap.txt": {"r0": {
        "volumes": [(0, 10, "/dev/scratch/r0_0", "internal")], "hosts": [("this", None, 1, None)],
        "ports": [7789, 7790],
        "conns": [(0, "peer0", "Connecting", [(_addr("10.36.50.13", 7789), _addr("10.36.50.12", 7789))]),
                  (2, "peer2", "Connected", [(_addr("10.36.50.13", 7790), _addr("10.36.50.10", 7790))])],
        "next_port": (7789, 7791)}},
    "drbdsetup_show_ganeti_8.0.txt": {None: {
        "volumes": [(0, 63, "/dev/xenvg/test.data", "/dev/xenvg/test.meta[0]")],
        "hosts": [("this", None, None, _addr("192.0.2.1", 11000)), ("remote", None, None, _addr("192.0.2.2", 11000))],
        "ports": [11000], "protocol": "A", "section": ("net", "max-buffers", "16384"),
        "section2": ("syncer", "after", "-1")}},
    "drbdsetup_show_ganeti_8.3.txt": {None: {
        "volumes": [(0, 0, "/dev/xenvg/test.data", "/dev/xenvg/test.meta[0]")],
        "hosts": [("this", None, None, _addr("192.0.2.1", 11000)), ("remote", None, None, _addr("192.0.2.2", 11000))],
        "ports": [11000], "protocol": "C", "section": ("net", "after-sb-1pri", "consensus")}},
    "drbdsetup_show_ganeti_8.4-no-disk-params.txt": {"resource0": {
        "volumes": [(0, 0, "/dev/xenvg/test.data", "/dev/xenvg/test.meta")],
        "hosts": [("remote", None, None, _addr("192.0.2.2", 11000)), ("this", None, None, _addr("192.0.2.1", 11000))],
        "ports": [11000], "protocol": None, "section": ("net", "shared-secret", "shared_secret_123")}},
    "drbdsetup_show_ganeti_8.4.txt": {"resource0": {
        "volumes": [(0, 0, "/dev/xenvg/test.data", "/dev/xenvg/test.meta[0]")],
        "hosts": [("remote", None, None, _addr("192.0.2.2", 11000)), ("this", None, None, _addr("192.0.2.1", 11000))],
        "ports": [11000], "section": ("net", "cram-hmac-alg", "md5")}},
    "drbdsetup_show_ganeti_disk.txt": {None: {
        "volumes": [(0, 58, "/dev/xenvg/test.data", "/dev/xenvg/test.meta[0]")],
        "hosts": [("this", None, None, None)], "ports": [], "section": ("syncer", "rate", "250k"),
        "next_minor": 0, "next_port": (11000, 11000)}},
    "drbdsetup_show_ganeti_net-ip4.txt": {None: {
        "volumes": [(0, 59, None, None)], "protocol": "C",
        "hosts": [("this", None, None, _addr("192.0.2.1", 11002)), ("remote", None, None, _addr("192.0.2.2", 11002))],
        "ports": [11002]}},
    "drbdsetup_show_ganeti_net-ip6.txt": {None: {
        "volumes": [(0, 0, None, None)], "protocol": "C",
        "hosts": [("this", None, None, _addr("2001:db8:65::1", 11048, "ipv6")),
                  ("remote", None, None, _addr("2001:db8:66::1", 11048, "ipv6"))],
        "ports": [11048], "next_minor": 1}},
    "drbdsetup_show_json_normal.json": {"some-resource": {
        "volumes": [(0, 1000, "/dev/sda", "internal")], "hosts": [("this", None, 4, None)], "ports": [],
        "conns": [(1, None, "Connected", [])], "section": ("options", "on-no-quorum", "suspend-io")}},
    "drbdsetup_show_json_salt-shaptools_dup-disk-key.json": {"beijing": {
        "volumes": [(0, 5, "/dev/vdb1", "internal")], "hosts": [("this", None, 1, None)], "ports": [7990],
        "conns": [(2, "salt-node3", None, [(_addr("192.168.10.102", 7990), _addr("192.168.10.103", 7990))])]}},
    "res_floating-ipv6.res": {"r0": {
        "volumes": [(0, 1, "/dev/foo/fun/0", None)], "ports": [7706],
        "hosts": [("floating", None, 1, _addr("127.0.0.1", 7706)),
                  ("floating", None, 2, _addr("fe80::1022:53ff:feb7:614f%vethX", 7706, "ipv6"))]}},
    "res_man.res": {"r0": {
        "volumes": [(0, 1, "/dev/sda7", "internal")], "ports": [7000], "protocol": None,
        "hosts": [("on", "undertest", 0, _addr("10.1.1.31", 7000)), ("on", "bob", 1, _addr("10.1.1.32", 7000))],
        "conn_hosts": [[("undertest", None), ("bob", None)]], "conn_net": [{"protocol": "C"}],
        "section": ("net", "shared-secret", "FooFunFactory")}},
    "res_proxy_2sites_3nodes.res": {"proxy_2sites_3nodes": {
        "volumes": [(0, 19, "/dev/foo/bar", "internal")], "ports": [7800],
        "hosts": [("on", "alpha", 0, _addr("192.168.31.1", 7800)), ("on", "bravo", 1, _addr("192.168.31.2", 7800)),
                  ("on", "charlie", 2, _addr("192.168.31.3", 7800))],
        "conn_hosts": [[("alpha", None), ("bravo", None)],
                       [("alpha", _addr("192.168.31.1", 7800)), ("charlie", _addr("192.168.31.3", 7800))],
                       [("bravo", _addr("192.168.31.2", 7800)), ("charlie", _addr("192.168.31.3", 7800))]],
        "proxies": ["site1-pxy", "charlie-pxy"], "next_minor": 0, "next_port": (7800, 7801)}},
    "res_v84_man.res": {"r0": {
        "host_volumes": {"undertest": [(0, 1, "/dev/sda7", "internal")], "bob": [(0, 1, "/dev/sda7", "internal")]},
        "hosts": [("on", "undertest", None, _addr("10.1.1.31", 7789)), ("on", "bob", None, _addr("10.1.1.32", 7789))],
        "ports": [7789], "protocol": "C", "section": ("disk", "resync-rate", "10M")}},
}

# formats the parser does not claim, with the reason the ParseError must give
ERRORS = {
    # TRIMMED in PROVENANCE: the resource block's closing brace was cut off with the rest of the page.
    "res_generated_connection-mesh_opensvc.res": "never closed",
}

ALL = {**PROC, **STATUS, **CONFIG, **ERRORS}


def corpus_files(corpus: Path) -> list[Path]:
    """The DRBD samples in the corpus."""
    return sorted((corpus / "drbd").iterdir())


def test_every_corpus_file_has_an_expectation(corpus: Path) -> None:
    """A new corpus sample must get an expectation entry (and no entry may name a missing file)."""
    names = {p.name for p in corpus_files(corpus)}
    assert len(names) == 40
    assert names == set(ALL), (sorted(names - set(ALL)), sorted(set(ALL) - names))


@pytest.mark.parametrize("name", sorted(ALL))
def test_corpus_sample(corpus: Path, name: str) -> None:
    """Feed one sample (as bytes) to its parser: check the typed result's key fields, or the typed ParseError."""
    path = corpus / "drbd" / name
    data = path.read_bytes()
    parse = parser_for(name)
    if name in ERRORS:
        with pytest.raises(ParseError) as err:
            parse(data, source=name)
        assert ERRORS[name] in str(err.value)
        assert name in str(err.value)
        return
    result = parse(data, source=name)
    if name in PROC:
        check_proc(result, PROC[name])
    elif name in STATUS:
        check_status(result, STATUS[name], SYNC_FACTS.get(name, {}))
    else:
        check_config(result, CONFIG[name])


def check_proc(proc: ProcDrbd, exp: dict[str, Any]) -> None:
    """Versions, each minor's states, unconfigured minors, resync progress, counters."""
    assert isinstance(proc, ProcDrbd)
    assert proc.version == exp["version"]
    configured = {d.minor: d for d in proc.devices if d.configured}
    assert sorted(d.minor for d in proc.devices if not d.configured) == exp["unconfigured"]
    assert sorted(configured) == sorted(exp["minors"])
    for minor, (cs, role, peer_role, disk, peer_disk, protocol) in exp["minors"].items():
        d = configured[minor]
        assert d.state is not None and d.role is not None and d.peer_role is not None
        assert d.disk is not None and d.peer_disk is not None
        got = (d.state.value, d.role.value, d.peer_role.value, d.disk.value, d.peer_disk.value, d.protocol)
        assert got == (cs, role, peer_role, disk, peer_disk, protocol), minor
        assert d.flags is not None and "\x00" not in d.flags
        assert (d.progress is not None) == (minor in exp.get("sync", {}))
    for minor, (pct, remaining, total, finish, speed, want) in exp.get("sync", {}).items():
        p = configured[minor].progress
        assert p is not None
        assert (p.percent, p.remaining_bytes, p.total_bytes, p.finish_seconds, p.speed_bytes, p.want_bytes) == (
            pct, remaining, total, finish, speed, want)
        res = parsers.resource_from_proc(configured[minor], f"m{minor}")
        assert res.sync_percent == pct
        assert res.syncing and not res.synced
    for minor, counters in exp.get("counters", {}).items():
        for key, value in counters.items():
            assert configured[minor].counters[key] == value
        if "oos" in counters:
            assert configured[minor].out_of_sync_bytes == counters["oos"] * KIB


def check_status(result: list[DrbdResource], exp: dict[str, Any], sync: dict[str, Any]) -> None:
    """Resource roles, local volumes, connections with their peer volumes, and derived sync facts."""
    assert [r.name for r in result] == list(exp)
    for r in result:
        role, volumes, conns = exp[r.name]
        assert r.role.value == role
        assert [(v.number, v.disk.value, v.minor) for v in r.volumes] == volumes
        assert {c.name: c for c in r.connections}.keys() == conns.keys()
        for c in r.connections:
            state, peer_role, pvs = conns[c.name]
            assert (c.state.value, c.peer_role.value) == (state, peer_role)
            got = [(pv.number, pv.replication.value if pv.replication else None, pv.peer_disk.value, pv.sync_percent)
                   for pv in c.volumes]
            assert got == pvs
        if r.name in sync:
            assert (r.synced, r.sync_percent) == sync[r.name]


def check_config(cfg: DrbdConfig, exp: dict[str | None, dict[str, Any]]) -> None:
    """Resource names, volumes (minor, disk, meta-disk), hosts with addresses, connections, ports, free minor/port."""
    assert isinstance(cfg, DrbdConfig)
    assert [r.name for r in cfg.resources] == list(exp)
    for r in cfg.resources:
        e = exp[r.name]
        if "this_host" in e:
            assert r.this_host == e["this_host"]
        if "volumes" in e:
            assert [(v.number, v.minor, v.disk, v.meta_disk) for v in r.volumes_for(r.this_host)] == e["volumes"]
        for host, vols in e.get("host_volumes", {}).items():
            assert [(v.number, v.minor, v.disk, v.meta_disk) for v in r.volumes_for(host)] == vols
        assert [(h.kind, h.name, h.node_id, str(h.address) if h.address else None) for h in r.hosts] == e["hosts"]
        assert r.ports == e["ports"]
        if "protocol" in e:
            assert r.protocol == e["protocol"]
        if "conns" in e:
            got = [(c.peer_node_id, c.name, c.cstate, [(str(a), str(b)) for a, b in c.paths]) for c in r.connections]
            assert got == e["conns"]
        if "conn_hosts" in e:
            got_hosts = [[(h.name, str(h.address) if h.address else None) for h in c.hosts] for c in r.connections]
            assert got_hosts == e["conn_hosts"]
        if "conn_net" in e:
            assert [c.net for c in r.connections] == e["conn_net"]
        if "proxies" in e:
            assert sorted({h.via_proxy for c in r.connections for h in c.hosts if h.via_proxy}) == sorted(e["proxies"])
        for key in ("section", "section2"):
            if key in e:
                sec, opt, value = e[key]
                assert r.sections[sec][opt] == value
        if "next_minor" in e:
            assert cfg.next_free_minor() == e["next_minor"]
        if "next_port" in e:
            start, free = e["next_port"]
            assert cfg.next_free_port(start) == free
    assert cfg.minors == sorted({m for r in cfg.resources for m in r.minors})


def test_events2_diff_keeps_old_values(corpus: Path) -> None:
    """``--diff`` lines give the new value in attrs and the old one in ``old``; the ``exists -`` sentinel is kept."""
    events = parsers.parse_events2((corpus / "drbd" / "drbdsetup_events2_diff_all-create-change.txt").read_bytes())
    assert (events[0].verb, events[0].kind) == ("exists", "-")
    assert len(events) == 13
    first = events[1]
    assert (first.verb, first.kind, first.attrs["role"], first.old["role"]) == ("create", "resource", "Secondary",
                                                                                "UNKNOWN")
    last = events[-1]
    assert (last.attrs["role"], last.old["role"]) == ("Primary", "Secondary")
    path = next(e for e in events if e.kind == "path")
    assert path.attrs["local"] == "ipv4:1.2.3.4:7789"
    assert str(parsers.parse_address([path.attrs["peer"]])) == "ipv4 5.6.7.8:7790"


def test_show_json_duplicate_disk_key_is_kept_not_dropped(corpus: Path) -> None:
    """The salt sample's volume has "disk": path and "disk": {options}; plain json.loads would lose the path."""
    import json

    data = (corpus / "drbd" / "drbdsetup_show_json_salt-shaptools_dup-disk-key.json").read_text()
    plain = json.loads(data)[0]["_this_host"]["volumes"][0]["disk"]
    assert plain == {"on-io-error": "pass_on"}  # what a naive parser would see: the path silently gone
    cfg = parsers.parse_show_json(data)
    assert cfg.resources[0].volumes_for()[0].disk == "/dev/vdb1"


def test_proc_nul_bytes_present_and_dropped(corpus: Path) -> None:
    """The 8.3 sample really has NUL bytes after the flags; the parsed flags do not carry them."""
    data = (corpus / "drbd" / "proc_drbd_8.3_ganeti_83.txt").read_bytes()
    assert b"r---\x00" in data
    dev = parsers.parse_proc_drbd(data).device(1)
    assert dev is not None and dev.flags == "r---"


def test_status_json_trailing_space_and_lone_comma(corpus: Path) -> None:
    """The SLE sample has ``"Connected", `` with a trailing space and lone ``,`` lines between resources."""
    data = (corpus / "drbd" / "drbdsetup_status_json_drbd9_sle15sp1_4-resources_ha-cluster-exporter.json").read_bytes()
    assert b'"Connected", \n' in data and b"\t\t,\n" in data
    assert len(parsers.parse_status_json(data)) == 5
