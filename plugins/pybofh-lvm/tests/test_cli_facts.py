"""``bofh lvm pv|vg|lv show`` and ``bofh lvm report`` through the real root command, with the fake runner replaying
real pvs/vgs/lvs/fullreport outputs: tables for people, full records (bytes) with ``--json``, one-line errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from typer.testing import CliRunner

from pybofh_core.cli import app, main
from pybofh_core.runner import FakeRunner
from pybofh_lvm import facts

VG = "pybofhrec"
MIB = 1024**2


def bofh(*argv: str) -> Any:
    """``bofh ARGV`` in-process through the root app (plugins found by discovery, as in production)."""
    return CliRunner().invoke(app, list(argv))


def bofh_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``bofh ARGV`` through ``main`` (which turns errors into one line and an exit code): code, stdout, stderr."""
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_lv_show_text_and_json(reports: FakeRunner) -> None:
    res = bofh("lvm", "lv", "show", VG, "with-dash")
    assert res.exit_code == 0, res.output
    fields = dict(line.split(None, 1) for line in res.output.splitlines())
    assert (fields["vg"], fields["name"], fields["size_bytes"]) == (VG, "with-dash", str(8 * MIB))
    assert fields["dm_path"] == f"/dev/mapper/{VG}-with--dash"
    res = bofh("--json", "lvm", "lv", "show", VG, "data")
    lv = json.loads(res.output)
    assert (lv["name"], lv["size_bytes"], lv["segtype"]) == ("data", 64 * MIB, "linear")
    assert [c[0] for c in reports.calls] == ["lvs", "lvs"]


def test_show_unknown_is_a_one_line_error(reports: FakeRunner, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = bofh_main(capsys, "lvm", "lv", "show", VG, "nope")
    assert (code, out) == (2, "")
    assert err.splitlines() == [f"bofh: error: logical volume {VG}/nope does not exist (see 'bofh lvm lv list')"]
    code, _, err = bofh_main(capsys, "lvm", "vg", "show", "other")
    assert code == 2
    assert err.splitlines() == ["bofh: error: volume group 'other' does not exist (see 'bofh lvm vg list')"]
    code, _, err = bofh_main(capsys, "lvm", "pv", "show", "/dev/sdz")
    assert code == 2 and err.splitlines() == ["bofh: error: /dev/sdz is not an LVM physical volume (see 'bofh lvm pv "
                                              "list')"]
    code, _, err = bofh_main(capsys, "lvm", "pv", "show", "/dev/nonexistent-pv")
    assert code == 2 and err.splitlines() == ["bofh: error: PV device: /dev/nonexistent-pv does not exist"]
    assert [c[0] for c in reports.calls] == ["lvs", "vgs", "pvs"]  # no pvs for a device that is not there


def test_vg_show_text_and_json(reports: FakeRunner) -> None:
    res = bofh("lvm", "vg", "show", VG)
    assert res.exit_code == 0, res.output
    fields = dict(line.split(None, 1) for line in res.output.splitlines())
    assert (fields["name"], fields["extent_size"], fields["lv_count"], fields["partial"]) == (
        VG, str(4 * MIB), "2", "no")
    vg = json.loads(bofh("--json", "lvm", "vg", "show", VG).output)
    assert (vg["name"], vg["pv_count"], vg["free_bytes"]) == (VG, 2, 520 * MIB)


def test_pv_show_text_and_json(reports: FakeRunner) -> None:
    res = bofh("lvm", "pv", "show", "/dev/loop1")
    assert res.exit_code == 0, res.output
    fields = dict(line.split(None, 1) for line in res.output.splitlines())
    assert (fields["name"], fields["vg"], fields["fmt"]) == ("/dev/loop1", VG, "lvm2")
    pv = json.loads(bofh("--json", "lvm", "pv", "show", "/dev/loop0").output)
    assert (pv["name"], pv["vg"], pv["pe_start"]) == ("/dev/loop0", VG, MIB)


def test_report_one_table_and_json(fake_runner: FakeRunner, rec: Callable[..., Any]) -> None:
    r = rec("lvm", "fullreport-two-pvs-two-lvs")
    fake_runner.expect(facts.fullreport_argv(), r.stdout, stderr=r.stderr)
    res = bofh("lvm", "report")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].split() == ["KIND", "NAME", "VG", "ATTR", "SIZE", "FREE"]
    assert [ln.split()[:3] for ln in lines[1:]] == [
        ["vg", VG, VG], ["pv", "/dev/loop0", VG], ["pv", "/dev/loop1", VG], ["lv", "data", VG],
        ["lv", "with-dash", VG]]
    assert lines[4].split()[4] == "64.0M"
    doc = json.loads(bofh("--json", "lvm", "report").output)
    assert [v["name"] for v in doc["vgs"]] == [VG]
    assert {p["name"]: p["vg"] for p in doc["pvs"]} == {"/dev/loop0": VG, "/dev/loop1": VG}
    assert [(lv["name"], lv["size_bytes"]) for lv in doc["lvs"]] == [("data", 64 * MIB), ("with-dash", 8 * MIB)]
