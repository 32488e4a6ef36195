"""``bofh drbd config|next-free|proc`` through the real root command with the fake runner replaying real drbdadm
dump and /proc/drbd outputs: tables for people, full records with ``--json``, one-line errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from pybofh_core.cli import app, main
from pybofh_core.runner import FakeRunner

K = "8.4.11"


def bofh(*argv: str) -> Any:
    """``bofh ARGV`` in-process through the root app; it must succeed."""
    result = CliRunner().invoke(app, list(argv))
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_config_of_every_resource(fake_runner: FakeRunner, rec: Any) -> None:
    """drbdadm dump of three resources: a row per resource, host and volume (r1 has two volumes)."""
    fake_runner.expect(["drbdadm", "dump"], rec("drbdadm", "dump_multi-v9-9.22.0.txt"))
    lines = bofh("drbd", "config").output.splitlines()
    assert lines[0].split() == ["RESOURCE", "HOST", "ADDRESS", "VOLUME", "MINOR", "DISK", "META_DISK"]
    rows = [ln.split() for ln in lines[1:]]
    assert [r[:2] for r in rows] == [["r0", "vm"], ["r0", "peer"], ["r1", "vm"], ["r1", "vm"], ["r1", "peer"],
                                     ["r1", "peer"], ["r2", "vm"], ["r2", "peer"]]
    assert rows[3] == ["r1", "vm", "ipv6", "[2001:db8::1]:7790", "1", "2", "/dev/vg0/r1b", "internal"]
    assert rows[6] == ["r2", "vm", "-", "0", "4", "/dev/vg0/r2", "/dev/vg0/meta[0]"]
    doc = json.loads(bofh("--json", "drbd", "config").output)
    assert [r["name"] for r in doc["resources"]] == ["r0", "r1", "r2"]
    assert doc["resources"][1]["volumes"][1] == {"number": 1, "minor": 2, "device": "/dev/drbd2",
                                                 "disk": "/dev/vg0/r1b", "meta_disk": "internal"}


def test_config_of_one_resource(fake_runner: FakeRunner, rec: Any) -> None:
    """drbdadm dump r0 (8.4 syntax: volumes inside the host sections)."""
    fake_runner.expect(["drbdadm", "dump", "r0"], rec("drbdadm", "dump_r0-v84-9.22.0.txt"))
    lines = bofh("drbd", "config", "r0").output.splitlines()
    assert [ln.split() for ln in lines[1:]] == [
        ["r0", "vm", "ipv4", "192.0.2.1:7789", "0", "0", "/dev/loop0", "internal"],
        ["r0", "peer", "ipv4", "192.0.2.2:7789", "0", "0", "/dev/loop0", "internal"]]
    doc = json.loads(bofh("--json", "drbd", "config", "r0").output)
    assert doc["name"] == "r0" and doc["hosts"][1]["address"] == {"host": "192.0.2.2", "port": 7789,
                                                                  "family": "ipv4"}


def test_config_of_an_unknown_resource_is_one_line(fake_runner: FakeRunner, rec: Any,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    fake_runner.expect(["drbdadm", "dump", "r9"], rec("drbdadm", "dump_r0-v84-9.22.0.txt"))
    with pytest.raises(SystemExit) as info:
        main(["drbd", "config", "r9"])
    out, err = capsys.readouterr()
    assert (info.value.code, out) == (2, "")
    assert err.splitlines() == ["bofh: error: drbdadm dump r9 did not describe resource 'r9'"]


def test_next_free_minor_and_port(fake_runner: FakeRunner, rec: Any) -> None:
    fake_runner.expect(["drbdadm", "dump"], rec("drbdadm", "dump_multi-v9-9.22.0.txt"))
    assert bofh("drbd", "next-free").output.splitlines() == ["minor  3", "port   7791"]
    assert json.loads(bofh("--json", "drbd", "next-free").output) == {"minor": 3, "port": 7791}


def test_proc_version_and_minors(fake_runner: FakeRunner, rec: Any) -> None:
    fake_runner.expect(["cat", "/proc/drbd"], rec("proc_drbd", f"syncsource_primary-{K}.txt"))
    lines = bofh("drbd", "proc").output.splitlines()
    assert lines[:3] == ["version  8.4.11", "api      1", "proto    86-101"]
    assert lines[4].split() == ["MINOR", "STATE", "ROLE", "DISK", "PROTOCOL", "SYNCED"]
    assert lines[5].split() == ["0", "SyncSource", "Primary/Secondary", "UpToDate/Inconsistent", "C", "4.2%"]
    doc = json.loads(bofh("--json", "drbd", "proc").output)
    assert doc["version"] == K and doc["devices"][0]["progress"]["remaining_bytes"] == 95704 * 1024


def test_proc_without_the_module_is_one_line(fake_runner: FakeRunner, rec: Any,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    fake_runner.expect(["cat", "/proc/drbd"], returncode=1,
                       stderr=rec("cat", "cat_proc-drbd_no-module-exit1-9.1.stderr.txt"))
    with pytest.raises(SystemExit) as info:
        main(["drbd", "proc"])
    out, err = capsys.readouterr()
    assert info.value.code != 0 and out == "" and len(err.splitlines()) == 1 and "/proc/drbd" in err
