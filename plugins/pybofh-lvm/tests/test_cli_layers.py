"""``bofh lvm …`` with the fake runner (tables, ``--json``, exit codes) and LVM in the layer model (probe hooks)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from pybofh_core.cli import main
from pybofh_core.errors import DataAtRiskError, ValidationError
from pybofh_core.runner import FakeRunner
from pybofh_lvm.layers import LvLayer, PvLayer, probe_device, probe_layer

VG = "pybofhrec"
MIB = 1024**2


def bofh(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``bofh ARGV`` in-process; return exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_lv_list_table_and_json(reports: FakeRunner, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = bofh(capsys, "lvm", "lv", "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["LV", "VG", "ATTR", "SIZE", "TYPE", "POOL", "ORIGIN"]
    assert lines[1].split()[:4] == ["data", VG, "-wi-XX----", "64.0M"]
    code, out, _ = bofh(capsys, "--json", "lvm", "lv", "list")
    rows = json.loads(out)
    assert [(r["name"], r["size_bytes"], r["dm_path"]) for r in rows] == [
        ("data", 64 * MIB, f"/dev/mapper/{VG}-data"), ("with-dash", 8 * MIB, f"/dev/mapper/{VG}-with--dash")]


def test_vg_and_pv_list_json(reports: FakeRunner, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = bofh(capsys, "lvm", "vg", "list", "--json")
    (vg,) = json.loads(out)
    assert (vg["name"], vg["extent_size"], vg["lv_count"], vg["partial"]) == (VG, 4 * MIB, 2, False)
    _, out, _ = bofh(capsys, "lvm", "pv", "list", "--json")
    assert {p["vg"] for p in json.loads(out)} == {VG}


def test_lv_create_dry_run_prints_the_plan(reports: FakeRunner, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = bofh(capsys, "--dry-run", "lvm", "lv", "create", VG, "new", "8M")
    assert code == 0
    assert f"lvcreate --yes -n new -L {8 * MIB}b -- {VG}" in err
    assert f"lvremove --yes -- {VG}/new" in err  # the undo, planned on the model where the new LV exists
    assert {c[0] for c in reports.calls} <= {"vgs", "lvs"}  # nothing but reads ran


def test_bad_input_exits_2_without_commands(fake_runner: FakeRunner, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = bofh(capsys, "lvm", "lv", "create", "--", VG, "-bad", "8M")
    assert code == 2 and "LV name" in err and "option" in err
    code, _, err = bofh(capsys, "lvm", "lv", "create", VG, "bad name", "8M")
    assert code == 2 and "whitespace" in err
    code, _, err = bofh(capsys, "lvm", "lv", "resize", VG, "data", "lots")
    assert code == 2 and "LV size" in err
    assert fake_runner.calls == []


def test_size_off_extent_exits_2(reports: FakeRunner, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = bofh(capsys, "lvm", "lv", "resize", VG, "data", "65M")
    assert code == 2 and "extent size" in err
    assert [c[0] for c in reports.calls if c[0] == "lvresize"] == []


def test_probe_device_finds_an_lv_by_either_path(reports: FakeRunner) -> None:
    for path in (f"/dev/{VG}/with-dash", f"/dev/mapper/{VG}-with--dash"):
        layer = probe_device(path)
        assert isinstance(layer, LvLayer)
        assert (layer.lv.name, layer.granularity, layer.open(), layer.container) == ("with-dash", 4 * MIB, path, True)


def test_probe_device_ignores_other_devices(reports: FakeRunner) -> None:
    assert probe_device("/dev/loop0") is None
    assert probe_device(f"/dev/{VG}/nosuch") is None
    assert probe_device("/dev/sda") is None
    assert [c[0] for c in reports.calls] == ["lvs"]  # only the VG/LV-shaped path made a query


def test_lv_layer_resize_goes_through_resize_lv(reports: FakeRunner) -> None:
    reports.expect(["lvresize", ...])
    layer = probe_device(f"/dev/{VG}/data")
    assert isinstance(layer, LvLayer)
    with pytest.raises(DataAtRiskError, match="cannot check that its content fits"):  # state unknown (no dm)
        layer.resize(32 * MIB)
    layer.resize(128 * MIB)
    assert reports.calls[-1] == ("lvresize", "--yes", "-L", f"{128 * MIB}b", "--", f"{VG}/data")
    with pytest.raises(ValidationError):
        layer.resize(None)


def test_probe_layer_claims_only_pv_labels(reports: FakeRunner, rec: Callable[..., Any]) -> None:
    dev = rec("pvs", "two-pvs-in-vg").expected["pvs"][0]["name"]
    layer = probe_layer(dev, {"TYPE": "LVM2_member", "VERSION": "LVM2 001"})
    assert isinstance(layer, PvLayer) and layer.kind == "lvm2_member" and not layer.container
    assert (layer.granularity, layer.overhead) == (4 * MIB, MIB)
    assert probe_layer(dev, {"TYPE": "ext4"}) is None
    assert probe_layer(dev, {}) is None


def test_plugin_hooks_are_registered() -> None:
    from pybofh_core.session import get_plugins

    host = get_plugins()
    assert host.operations.has("lvm.createLV") and host.operations.has("lvm.resize_lv")
    assert "lvm" in host.cli.entries
