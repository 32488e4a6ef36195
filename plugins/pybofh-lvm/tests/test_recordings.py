"""Every real recording under recordings/ parses to what record.py set up (expectations from the set-up, not the
parser); adding a case means adding files, not code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pybofh_core.errors import ParseError
from pybofh_core.testing import Recording, Recordings
from pybofh_lvm.facts import LV_FIELDS, PV_FIELDS, VG_FIELDS
from pybofh_lvm.parsers import parse_fullreport, parse_lvs, parse_pvs, parse_vgs

RECORDINGS = Recordings(Path(__file__).resolve().parent / "recordings")
REPORT_TOOLS = ("pvs", "vgs", "lvs", "lvm")
CASES = [r for t in REPORT_TOOLS for r in RECORDINGS.all(t) if r.stdout_path.is_file()]


def _pick(obj: Any, keys: list[str]) -> dict[str, Any]:
    """The listed fields of a parsed object (``path``/``dm_path`` through the LV's properties)."""
    alias = {"path": "path", "dm_path": "mapper_path"}
    out = {k: getattr(obj, alias.get(k, k)) for k in keys}
    if "kind" in out and out["kind"] is not None:
        out["kind"] = out["kind"].name
    return out


def test_there_are_recordings_of_every_report_tool() -> None:
    assert {r.tool for r in CASES} == set(REPORT_TOOLS)


@pytest.mark.parametrize("rec", CASES, ids=lambda r: f"{r.tool}/{r.name}")
def test_recording_parses_to_the_set_up_state(rec: Recording) -> None:
    data, txt = rec.stdout, rec.stdout_path
    expected = rec.expected
    tool = rec.tool
    if tool == "pvs":
        pvs = parse_pvs(data, source=str(txt), require=PV_FIELDS)
        by_name = {p.name: p for p in pvs}
        for name in expected.get("absent", []):
            assert name not in by_name
        for want in expected.get("pvs", []):
            assert _pick(by_name[want["name"]], list(want)) == want
    elif tool == "vgs":
        vgs = {v.name: v for v in parse_vgs(data, source=str(txt), require=VG_FIELDS)}
        for want in expected["vgs"]:
            assert _pick(vgs[want["name"]], list(want)) == want
            assert vgs[want["name"]].partial is want.get("partial", False)
    elif tool == "lvs":
        lvs = [lv for lv in parse_lvs(data, source=str(txt), require=LV_FIELDS) if lv.vg == expected["vg"]]
        by_name = {lv.name: lv for lv in lvs}
        if not expected.get("partial"):  # "partial": the expectation lists only some of the LVs
            assert sorted(by_name) == sorted(w["name"] for w in expected["lvs"])
        for want in expected["lvs"]:
            assert _pick(by_name[want["name"]], list(want)) == want
        if "active" in expected:
            assert all(lv.active is expected["active"] for lv in lvs)
    else:
        report = parse_fullreport(data, source=str(txt))
        assert set(expected["vgs"]) <= {v.name for v in report.vgs}
        pv_vg = {p.name: p.vg for p in report.pvs}
        assert {dev: pv_vg[dev] for dev in expected["pvs"]} == expected["pvs"]
        assert sorted(lv.name for lv in report.lvs if lv.vg in expected["vgs"]) == sorted(expected["lvs"])
        assert all(lv.size_bytes is not None and lv.size_bytes > 0 for lv in report.lvs)


@pytest.mark.parametrize("rec", CASES, ids=lambda r: f"{r.tool}/{r.name}")
def test_recording_argv_is_what_the_reader_runs(rec: Recording) -> None:
    from pybofh_lvm import facts

    argv = {"pvs": facts.pvs_argv(), "vgs": facts.vgs_argv(), "lvs": facts.lvs_argv(), "lvm": facts.fullreport_argv()}
    assert rec.argv == argv[rec.tool]


STDERRS = [r for t in REPORT_TOOLS for r in RECORDINGS.all(t) if r.stderr]


@pytest.mark.parametrize("rec", STDERRS, ids=lambda r: f"{r.tool}/{r.name}.stderr")
def test_stderr_of_a_recording_is_not_a_report(rec: Recording) -> None:
    """The recorded stderr (device-mapper warnings) must never be mistaken for data."""
    parser = {"pvs": parse_pvs, "vgs": parse_vgs, "lvs": parse_lvs, "lvm": parse_fullreport}[rec.tool]
    with pytest.raises(ParseError):
        parser(rec.stderr, source=rec.name + ".stderr.txt")
