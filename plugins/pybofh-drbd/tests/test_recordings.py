"""The plugin's own recordings of the real tools: drbd-utils 9.22.0 on the host (record_host.py) and in the VM
test bed's two guests with Debian 12's in-kernel DRBD 8.4.11 (record_vm.py).

Every ``dump_*`` recording goes through ``parse_config``; the expectations come from the configs that produced
them. /proc/drbd, ``drbdadm status`` and ``drbdsetup show`` recordings of each stage of a resource's life are
checked against what that stage was (see record_vm.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pybofh_core.errors import ParseError
from pybofh_core.testing import Recordings
from pybofh_drbd import parsers

RECORDINGS = Recordings(Path(__file__).resolve().parent / "recordings")
K = "8.4.11"

# recording -> {resource: (this-host volumes [(nr, minor, disk, meta)], ports, [(host, node_id, address)])}
DUMPS: dict[str, dict[str, tuple[Any, ...]]] = {
    "dump_r0-guest-9.22.0-k8.4.11.txt": {
        "r0": ([(0, 0, "/dev/drbdvg/r0data", "internal")], [7788],
               [("pybofh-vm1", None, "ipv4 192.0.2.1:7788"), ("pybofh-vm2", None, "ipv4 192.0.2.2:7788")])},
    "dump_r0-v9-9.22.0.txt": {
        "r0": ([(0, 0, "/dev/loop0", "internal")], [7789],
               [("vm", 0, "ipv4 192.0.2.1:7789"), ("peer", 1, "ipv4 192.0.2.2:7789")])},
    "dump_r0-v84-9.22.0.txt": {
        "r0": ([(0, 0, "/dev/loop0", "internal")], [7789],
               [("vm", None, "ipv4 192.0.2.1:7789"), ("peer", None, "ipv4 192.0.2.2:7789")])},
    "dump_multi-v9-9.22.0.txt": {
        "r0": ([(0, 0, "/dev/vg0/r0", "internal")], [7788],
               [("vm", 0, "ipv4 192.0.2.1:7788"), ("peer", 1, "ipv4 192.0.2.2:7788")]),
        "r1": ([(0, 1, "/dev/vg0/r1a", "internal"), (1, 2, "/dev/vg0/r1b", "internal")], [7790],
               [("vm", 0, "ipv6 [2001:db8::1]:7790"), ("peer", 1, "ipv6 [2001:db8::2]:7790")]),
        "r2": ([(0, 4, "/dev/vg0/r2", "/dev/vg0/meta[0]")], [7789], [("vm", 0, None), ("peer", 1, None)]),
    },
}


def test_every_dump_recording_has_an_expectation() -> None:
    """Adding a dump recording means adding its expectation here."""
    assert {r.stdout_path.name for r in RECORDINGS.all("drbdadm") if r.case.startswith("dump_")} == set(DUMPS)


@pytest.mark.parametrize("name", sorted(DUMPS))
def test_dump_recording(name: str) -> None:
    """A real ``drbdadm dump`` (9 and 8.4 layouts) parses to the resources of the config that produced it."""
    cfg = parsers.parse_config(RECORDINGS.output("drbdadm", name), source=name)
    exp = DUMPS[name]
    assert cfg.names == list(exp)
    for r in cfg.resources:
        volumes, ports, hosts = exp[r.name or ""]
        # the recording host's name, from the '# resource X on HOST' header
        assert r.this_host == ("pybofh-vm1" if "guest" in name else "vm")
        assert [(v.number, v.minor, v.disk, v.meta_disk) for v in r.volumes_for()] == volumes
        assert r.ports == ports
        assert [(h.name, h.node_id, str(h.address) if h.address else None) for h in r.hosts] == hosts


def test_multi_dump_free_minor_and_port() -> None:
    """Minors 0, 1, 2, 4 and ports 7788-7790 are used: the next free are 3 and 7791 (from 7788)."""
    cfg = parsers.parse_config(RECORDINGS.output("drbdadm", "dump_multi-v9-9.22.0.txt"))
    assert cfg.minors == [0, 1, 2, 4]
    assert cfg.next_free_minor() == 3
    assert cfg.next_free_minor(5) == 5
    assert cfg.ports == [7788, 7789, 7790]
    assert cfg.next_free_port() == 7791
    assert cfg.resource("r2") is not None and cfg.resource("r2").connections[0].hosts[0].name == "vm"  # type: ignore[union-attr]


def test_sh_recordings() -> None:
    """``sh-resources``/``sh-minor``/``sh-ll-dev`` print one item per line."""
    assert parsers.parse_sh_words(RECORDINGS.output("drbdadm", "sh-resources_multi-9.22.0.txt")) == ["r0", "r1", "r2"]
    assert parsers.parse_sh_words(RECORDINGS.output("drbdadm", "sh-minor_r1-9.22.0.txt")) == ["1", "2"]
    lines = parsers.parse_lines(RECORDINGS.output("drbdadm", "sh-ll-dev_r1-9.22.0.txt"))
    assert lines == ["/dev/vg0/r1a", "/dev/vg0/r1b"]


# /proc/drbd stage -> (cs, ro, ds, protocol, sync (percent, remaining KiB, total KiB, finish s, speed, want) or None)
PROC = {
    "loaded-no-resources": None,
    "after-down": None,
    "connected_inconsistent": ("Connected", "Secondary/Secondary", "Inconsistent/Inconsistent", "C", None),
    "syncsource_primary": ("SyncSource", "Primary/Secondary", "UpToDate/Inconsistent", "C",
                           (4.2, 95704, 98264, 34, 2560, None)),
    "synctarget_secondary": ("SyncTarget", "Secondary/Primary", "Inconsistent/UpToDate", "C",
                             (12.5, 89048, 98264, 9, 9216, 12288)),
    "synced_primary": ("Connected", "Primary/Secondary", "UpToDate/UpToDate", "C", None),
    "synced_secondary": ("Connected", "Secondary/Primary", "UpToDate/UpToDate", "C", None),
    "standalone_primary": ("StandAlone", "Primary/Unknown", "UpToDate/DUnknown", None, None),
    "wfconnection_secondary": ("WFConnection", "Secondary/Unknown", "UpToDate/DUnknown", "C", None),
    "connected_secondary": ("Connected", "Secondary/Secondary", "UpToDate/UpToDate", "C", None),
}


def test_every_proc_recording_has_an_expectation() -> None:
    """Adding a /proc/drbd recording means adding its stage here."""
    assert {r.stdout_path.name for r in RECORDINGS.all("proc_drbd")} == {f"{k}-{K}.txt" for k in PROC}


@pytest.mark.parametrize("stage", sorted(PROC))
def test_proc_recording(stage: str) -> None:
    """/proc/drbd of DRBD 8.4.11 at each stage of the test resource's life, and the status derived from it."""
    proc = parsers.parse_proc_drbd(RECORDINGS.output("proc_drbd", f"{stage}-{K}.txt"))
    assert (proc.version, proc.api, proc.proto, proc.major) == ("8.4.11", "1", "86-101", 8)
    assert proc.build == "F73C670A7EC572DB9CF3E5B"  # the srcversion line has a trailing space in the file
    exp = PROC[stage]
    if exp is None:
        assert proc.devices == ()
        return
    cs, ro, ds, protocol, sync = exp
    (dev,) = proc.devices
    assert dev.minor == 0 and dev.state and dev.role and dev.peer_role and dev.disk and dev.peer_disk
    assert (dev.state.value, f"{dev.role.value}/{dev.peer_role.value}", f"{dev.disk.value}/{dev.peer_disk.value}",
            dev.protocol, dev.flags) == (cs, ro, ds, protocol, "r-----")
    status = parsers.resource_from_proc(dev, "r0")
    assert status.minors == [0]
    if sync is None:
        assert dev.progress is None
        assert status.synced == (ds == "UpToDate/UpToDate" and cs == "Connected")
    else:
        pct, remaining, total, finish, speed, want = sync
        p = dev.progress
        assert p is not None
        assert (p.percent, p.remaining_bytes, p.total_bytes, p.finish_seconds, p.speed_bytes, p.want_bytes) == (
            pct, remaining * 1024, total * 1024, finish, speed * 1024, want * 1024 if want else None)
        assert dev.out_of_sync_bytes == remaining * 1024
        assert status.syncing and not status.synced and status.sync_percent == pct


# drbdadm status (drbd-utils 9.22.0 printing DRBD 8.4 state) -> (role, disk, peer role, replication, peer disk, done)
STATUS_TEXT = {
    "status_r0-connected": ("Secondary", "Inconsistent", "Secondary", "Established", "Inconsistent", None),
    "status_r0-syncsource": ("Primary", "UpToDate", "Secondary", "SyncSource", "Inconsistent", 7.56),
    "status_r0-synced": ("Primary", "UpToDate", "Secondary", "Established", "UpToDate", None),
}


@pytest.mark.parametrize("stage", sorted(STATUS_TEXT))
def test_status_text_recording(stage: str) -> None:
    """``drbdadm status`` on 8.4 prints the DRBD 9 text layout (peer named 'peer'); parse_status_text reads it."""
    (res,) = parsers.parse_status_text(RECORDINGS.output("drbdadm", f"{stage}-9.22.0-k{K}.txt"))
    role, disk, peer_role, repl, peer_disk, done = STATUS_TEXT[stage]
    (vol,) = res.volumes
    (conn,) = res.connections
    (pv,) = conn.volumes
    assert (res.name, res.role.value, vol.disk.value, conn.name, conn.peer_role.value, conn.state.value) == (
        "r0", role, disk, "peer", peer_role, "Connected")
    assert (pv.replication.value if pv.replication else None, pv.peer_disk.value, pv.sync_percent) == (
        repl, peer_disk, done)


@pytest.mark.parametrize("name", [f"status_r0-{s}-exit10-9.22.0-k{K}.txt" for s in ("down", "after-down")])
def test_status_of_down_resource_is_a_parse_error(name: str) -> None:
    """A down resource's 'r0: No such resource' (exit 10) is not status text: typed ParseError, no half result."""
    with pytest.raises(ParseError):
        parsers.parse_status_text(RECORDINGS.output("drbdadm", name), source=name)


def test_drbdsetup_84_has_no_status_json() -> None:
    """drbdsetup of 8.4 answers --json with its usage text (exit 20): the JSON parser raises a typed error."""
    name = f"status-json_r0-exit20-9.22.0-k{K}.txt"
    with pytest.raises(ParseError, match="no JSON"):
        parsers.parse_status_json(RECORDINGS.output("drbdsetup", name), source=name)


def test_drbdsetup_show_84_recording() -> None:
    """Real 8.4 ``drbdsetup show r0`` (TABs, _this_host/_remote_host, volume with a disk {} options block)."""
    cfg = parsers.parse_config(RECORDINGS.output("drbdsetup", f"show_r0-9.22.0-k{K}.txt"))
    (r,) = cfg.resources
    assert r.name == "r0"
    assert [(h.kind, str(h.address)) for h in r.hosts] == [("remote", "ipv4 192.0.2.2:7788"),
                                                           ("this", "ipv4 192.0.2.1:7788")]
    assert [(v.number, v.minor, v.disk, v.meta_disk) for v in r.volumes_for()] == [
        (0, 0, "/dev/drbdvg/r0data", "internal")]
    assert r.ports == [7788]


def test_status_json_skips_warning_lines_before_the_json() -> None:
    """Lines before the JSON (tool warnings, here the real 8.4 usage text) are skipped, even with brackets in them."""
    usage = RECORDINGS.output("drbdsetup", f"status-json_r0-exit20-9.22.0-k{K}.txt")
    assert b"[" not in usage
    text = usage + b"[\n]\n"  # constructed: the real usage text, then an empty JSON list
    assert parsers.parse_status_json(text) == []
    with pytest.raises(ParseError, match="no JSON"):
        parsers.parse_status_json(usage + b"note: [not json] here\n")


@pytest.mark.parametrize("entry", ["r0-dev", [], 7, None])
@pytest.mark.parametrize("where", ["devices", "connections", "peer_devices"])
def test_status_json_entries_that_are_not_objects_are_parse_errors(entry: Any, where: str) -> None:
    """A device, connection or peer-device entry that is not a JSON object is a ParseError (was AttributeError)."""
    import json

    from pybofh_drbd.parsers import parse_status_json

    peer = {"volume": 0, "replication-state": "Established", "peer-disk-state": "UpToDate"}
    conn = {"name": "b", "connection-state": "Connected", "peer-role": "Secondary",
            "peer_devices": [entry if where == "peer_devices" else peer]}
    dev = {"volume": 0, "minor": 1, "disk-state": "UpToDate"}
    doc = [{"name": "r0", "role": "Primary", "devices": [entry if where == "devices" else dev],
            "connections": [entry if where == "connections" else conn]}]
    with pytest.raises(ParseError, match="not an object"):
        parse_status_json(json.dumps(doc), source="test")
