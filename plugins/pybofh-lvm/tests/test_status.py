"""pybofh-lvm's ``bofh status`` sections: PVs, VGs (free space) and LVs from one recorded ``lvm fullreport``."""

from __future__ import annotations

from typing import Any

from pybofh_core.runner import FakeRunner
from pybofh_lvm.bofh_status import sections
from pybofh_lvm.facts import fullreport_argv

MiB = 1024**2


def test_three_sections_from_one_fullreport(fake_runner: FakeRunner, rec: Any) -> None:
    """Thin pool, thin LVs and snapshots recorded in the VM: one command, sizes in bytes, hidden sub-LVs left out."""
    report = rec("lvm", "fullreport-thin-and-snapshots")
    fake_runner.expect(report.argv, report.stdout)
    pvs, vgs, lvs = sections()
    assert fake_runner.calls == [tuple(fullreport_argv())]
    assert [s.name for s in (pvs, vgs, lvs)] == ["pvs", "vgs", "lvs"]
    assert {r["pv"]: r["vg"] for r in pvs.rows} == report.expected["pvs"]
    assert [r["free"] for r in pvs.rows] == [159383552, 306184192]
    (vg,) = vgs.rows
    assert (vg["vg"], vg["size"], vg["free"], vg["pvs"], vg["lvs"]) == ("pybofhrec", 620756992, 465567744, 2, 5)
    assert [r["lv"].split("/")[1] for r in lvs.rows] == report.expected["lvs"]
    by_name = {r["lv"]: r for r in lvs.rows}
    thin = by_name["pybofhrec/thin1"]
    assert (thin["kind"], thin["pool"], thin["size"], thin["active"]) == ("thin", "pool", 128 * MiB, True)
    assert by_name["pybofhrec/data-snap"]["origin"] == "data"
    text = "\n".join(s.render_text() for s in (pvs, vgs, lvs))
    assert "LVM volume groups:\n  VG         SIZE    FREE    PVS  LVS  ATTR" in text
    assert "  pybofhrec  592.0M  444.0M  2    5    wz--n-" in text
    assert "DATA%" in text


def test_a_host_without_device_mapper_still_lists_the_metadata(fake_runner: FakeRunner, rec: Any) -> None:
    """Recorded on the host (no device-mapper): LVs whose state LVM cannot know show as not known."""
    report = rec("lvm", "fullreport-two-pvs-two-lvs")
    fake_runner.expect(report.argv, report.stdout, stderr=report.stderr)
    *_, lvs = sections()
    assert [(r["lv"], r["size"], r["active"]) for r in lvs.rows] == [("pybofhrec/data", 64 * MiB, None),
                                                                    ("pybofhrec/with-dash", 8 * MiB, None)]


def test_when_lvm_fails_each_section_says_why(fake_runner: FakeRunner) -> None:
    fake_runner.expect(["lvm", ...], stderr="  Reading VG pybofhrec failed.", returncode=5)
    got = sections()
    assert [s.status for s in got] == ["error"] * 3
    assert all("exited with status 5: Reading VG pybofhrec failed." in (s.error or "") for s in got)
    assert len(fake_runner.calls) == 1


def test_when_lvm_is_not_installed_each_section_is_unavailable() -> None:
    from pybofh_core.errors import CommandError
    from pybofh_core.runner import Runner, use_runner

    class NoLvm(FakeRunner):
        def _execute(self, argv, data, timeout, **kw):  # type: ignore[no-untyped-def]
            self.calls.append(argv)
            raise CommandError(argv, None, reason=f"cannot run {argv[0]}: not installed")

    runner: Runner = NoLvm()
    with use_runner(runner):
        got = sections()
    assert [(s.status, s.unavailable) for s in got] == [("unavailable", "lvm is not installed")] * 3
