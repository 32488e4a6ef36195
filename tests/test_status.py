"""``bofh status`` in the core: sections from every plugin, a failing one reported while the others still show,
tools that are missing reported as unavailable, one JSON document with sizes in bytes, and no journal."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pybofh_core import hookimpl
from pybofh_core.cli import main
from pybofh_core.errors import CommandError, HostUnreachableError, ParseError, ToolUnavailableError
from pybofh_core.plugins import Plugins
from pybofh_core.session import set_plugins
from pybofh_core.status import StatusReport, StatusSection, collect, read_once, section

GIB = 1024**3


class Disks:
    """A plugin that reads fine: one tree section with sizes."""

    @hookimpl
    def pybofh_probe_status(self) -> list[StatusSection]:
        rows = [{"name": "/dev/sda", "size": 20 * GIB, "depth": 0}, {"name": "/dev/sda1", "size": GIB, "depth": 1}]
        return [section("disks", "Disks", lambda: rows, sizes=("size",), order=10)]


class Broken:
    """A plugin whose hook itself raises (a bug): it becomes one error section under its name."""

    @hookimpl
    def pybofh_probe_status(self) -> list[StatusSection]:
        raise KeyError("oops")


class NoTool:
    """A plugin whose tool is not installed here, and one whose output does not parse."""

    @hookimpl
    def pybofh_probe_status(self) -> list[StatusSection]:
        def missing() -> list[dict[str, Any]]:
            raise CommandError(["xl", "list"], None, reason="cannot run xl: not installed")

        def garbled() -> list[dict[str, Any]]:
            raise ParseError("frob", "expected JSON", "garbage")

        return [section("domus", "Domains", missing, order=70), section("frobs", "Frobs", garbled, order=60)]


@pytest.fixture
def status_host() -> Iterator[Plugins]:
    """A host with only the three test plugins above, installed as the process host."""
    host = Plugins(discover=False)
    for plugin, name in ((Disks(), "disks"), (Broken(), "broken"), (NoTool(), "notool")):
        host.register(plugin, name)
    set_plugins(host)
    try:
        yield host
    finally:
        set_plugins(None)


@pytest.fixture
def bofh(capfd: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run ``bofh`` in-process; returns (exit code, stdout, stderr)."""

    def invoke(*argv: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as info:
            main(list(argv))
        out, err = capfd.readouterr()
        return int(info.value.code or 0), out, err

    return invoke


def test_a_failing_plugin_is_reported_and_the_others_still_show(status_host: Plugins, bofh: Any,
                                                                 journal_dir: Path) -> None:
    code, out, err = bofh("status")
    assert code == 1
    lines = out.splitlines()
    assert lines[:4] == ["Disks:", "  NAME         SIZE", "  /dev/sda     20.0G", "  └─/dev/sda1  1.0G"]
    assert "broken plugin: error: internal error: KeyError: 'oops'" in lines
    assert "Domains: unavailable: xl is not installed" in lines
    assert any(ln.startswith("Frobs: error: cannot parse frob output") for ln in lines)
    assert err.strip() == "bofh: error: 2 status section(s) could not be read: broken plugin, Frobs"
    assert not journal_dir.exists() or not any(journal_dir.iterdir())  # read-only: no journal


def test_json_is_one_document_with_bytes_as_integers(status_host: Plugins, bofh: Any) -> None:
    code, out, err = bofh("status", "--json")
    assert code == 1
    doc = json.loads(out)
    assert list(doc) == ["sections"]
    by_name = {s["name"]: s for s in doc["sections"]}
    assert [s["name"] for s in doc["sections"]] == ["disks", "broken", "frobs", "domus"]
    assert by_name["disks"] == {"name": "disks", "title": "Disks", "plugin": "disks", "status": "ok",
                                "rows": [{"name": "/dev/sda", "size": 20 * GIB, "depth": 0},
                                         {"name": "/dev/sda1", "size": GIB, "depth": 1}]}
    assert by_name["domus"]["status"] == "unavailable" and by_name["domus"]["rows"] == []
    assert by_name["broken"]["status"] == "error" and by_name["broken"]["plugin"] == "broken"
    assert json.loads(err)["exit_code"] == 1


def test_dry_run_reads_as_usual(status_host: Plugins, bofh: Any) -> None:
    """Reads are read-only commands: a dry run executes them, plans nothing and prints the same document."""
    code, out, _ = bofh("--dry-run", "--json", "status")
    assert code == 1
    assert [s["name"] for s in json.loads(out)["sections"]] == ["disks", "broken", "frobs", "domus"]


def test_every_section_ok_exits_0() -> None:
    host = Plugins(discover=False)
    host.register(Disks(), "disks")
    report = collect(host)
    assert [s.status for s in report.sections] == ["ok"] and report.failed == []


@pytest.mark.parametrize(("exc", "status", "reason"), [
    (ToolUnavailableError("device-mapper", "dm_mod is not loaded"), "unavailable",
     "device-mapper is not available: dm_mod is not loaded"),
    (CommandError(["xl", "list"], None, reason="cannot run xl: not installed"), "unavailable", "xl is not installed"),
    (CommandError(["xl", "list"], 127, stderr=b"env: 'xl': No such file or directory"), "unavailable",
     "xl is not installed"),
    (CommandError(["lvm", "fullreport"], 5, stderr=b"  Locking failed"), "error",
     "command 'lvm fullreport' exited with status 5: Locking failed"),
    (ValueError("bug"), "error", "internal error: ValueError: bug"),
])
def test_a_section_says_why_it_could_not_be_read(exc: Exception, status: str, reason: str) -> None:
    def build() -> list[dict[str, Any]]:
        raise exc

    got = section("x", "X", build)
    assert (got.status, got.to_json()["reason"], got.rows) == (status, reason, [])


def test_an_unreachable_host_is_not_a_section() -> None:
    """Over ssh a lost host fails every read: the fan-out must see it as unreachable, not as empty sections."""

    def build() -> list[dict[str, Any]]:
        raise HostUnreachableError(["lsblk"], None, host="db1", reason="host unreachable over ssh")

    with pytest.raises(HostUnreachableError):
        section("x", "X", build)


def test_sections_from_one_read_run_it_once_and_each_says_why() -> None:
    calls: list[int] = []

    def report() -> dict[str, list[int]]:
        calls.append(1)
        return {"a": [1, 2], "b": [3]}

    shared = read_once(report)
    a = section("a", "A", lambda: [{"n": n} for n in shared()["a"]])
    b = section("b", "B", lambda: [{"n": n} for n in shared()["b"]])
    assert (len(a.rows), len(b.rows), len(calls)) == (2, 1, 1)

    def fails() -> dict[str, list[int]]:
        calls.append(1)
        raise ToolUnavailableError("lvm", "not installed")

    broken = read_once(fails)

    def rows_of(key: str) -> Callable[[], list[dict[str, Any]]]:
        return lambda: [{"n": n} for n in broken()[key]]

    got = [section(key, key, rows_of(key)) for key in ("a", "b")]
    assert [s.unavailable for s in got] == ["lvm is not available: not installed"] * 2 and len(calls) == 2


def test_table_shows_sizes_readable_headers_and_a_row_error() -> None:
    sec = StatusSection("fs", "Filesystems", [
        {"device": "/dev/sda1", "size": 10 * GIB, "use_percent": 5, "mountpoints": ["/", "/srv"]},
        {"device": "/dev/sdb", "size": None, "error": "statfs failed"},
    ], columns=("device", "size", "use_percent", "mountpoints"), sizes=("size",), headers={"use_percent": "use%"})
    assert sec.render_text().splitlines() == [
        "Filesystems:",
        "  DEVICE     SIZE   USE%  MOUNTPOINTS  ERROR",
        "  /dev/sda1  10.0G  5     /,/srv       -",
        "  /dev/sdb   -      -     -            statfs failed",
    ]
    assert StatusSection("n", "Nothing").render_text() == "Nothing: none"
    assert StatusReport([]).render_text() == "no installed plugin reports a status"


def test_a_plugin_that_failed_to_load_is_a_section(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYBOFH_EXTRA_PLUGINS", "ghost=pybofh_no_such_plugin_module")
    host = Plugins(discover=False)
    host._load_extra("ghost=pybofh_no_such_plugin_module", strict=False)
    (ghost,) = collect(host).sections
    assert (ghost.name, ghost.status) == ("ghost", "error")
    assert "the plugin failed to load: ModuleNotFoundError" in (ghost.error or "")


@pytest.mark.needs_dm
@pytest.mark.loopdev
def test_lvm_luks_and_filesystem_sections_for_real(loop_factory: Callable[..., str], tmp_path: Path,
                                                    bofh: Any) -> None:
    """In the VM test bed: a VG on a loop device, a LUKS2 volume on an LV, ext4 on the mapping, mounted;
    ``bofh --json status`` (the real plugins and runner) shows the PV, the VG's free space, the LV, the mapping
    over the LV, the filesystem with its space and mountpoint, and the device tree from loop to filesystem."""
    import subprocess

    set_plugins(None)  # the installed plugins, discovered for this test

    def sh(*argv: str, stdin: bytes | None = None) -> str:
        return subprocess.run(list(argv), input=stdin, check=True, capture_output=True).stdout.decode()

    mib = 1024**2
    vg, mapping, mnt = "pybofhstatus", "pybofhstatus_crypt", tmp_path / "mnt"
    pv = loop_factory(64 * mib)
    mnt.mkdir()
    try:
        sh("pvcreate", "-q", pv)
        sh("vgcreate", "-q", "-s", "4M", vg, pv)
        sh("lvcreate", "-q", "-n", "data", "-L", "32M", vg)
        lv = f"/dev/{vg}/data"
        sh("cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", "--pbkdf", "pbkdf2",
           "--pbkdf-force-iterations", "1000", "--key-file=-", lv, stdin=b"throw-away")
        sh("cryptsetup", "open", "--key-file=-", lv, mapping, stdin=b"throw-away")
        sh("mkfs.ext4", "-q", f"/dev/mapper/{mapping}")
        sh("mount", f"/dev/mapper/{mapping}", str(mnt))
        luks_uuid = sh("cryptsetup", "luksUUID", lv).strip()
        code, out, err = bofh("--json", "status")
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
        subprocess.run(["cryptsetup", "close", mapping], capture_output=True)
        subprocess.run(["vgremove", "-q", "-f", vg], capture_output=True)
        subprocess.run(["pvremove", "-q", "-f", pv], capture_output=True)
    assert code == 0, err
    sec = {s["name"]: s for s in json.loads(out)["sections"]}
    assert {n: sec[n]["status"] for n in ("pvs", "vgs", "lvs", "mappings", "filesystems", "devices")} == dict.fromkeys(
        ("pvs", "vgs", "lvs", "mappings", "filesystems", "devices"), "ok")
    (pv_row,) = [r for r in sec["pvs"]["rows"] if r["pv"] == pv]
    (vg_row,) = [r for r in sec["vgs"]["rows"] if r["vg"] == vg]
    assert pv_row["vg"] == vg and vg_row["free"] == vg_row["size"] - 32 * mib == pv_row["free"]
    (lv_row,) = [r for r in sec["lvs"]["rows"] if r["lv"] == f"{vg}/data"]
    assert (lv_row["size"], lv_row["active"], lv_row["open"]) == (32 * mib, True, True)
    (crypt,) = [r for r in sec["mappings"]["rows"] if r["mapping"] == mapping]
    assert (crypt["type"], crypt["uuid"], crypt["device"]) == ("LUKS2", luks_uuid, f"/dev/mapper/{vg}-data")
    (fs,) = [r for r in sec["filesystems"]["rows"] if r["device"] == f"/dev/mapper/{mapping}"]
    assert fs["fstype"] == "ext4" and fs["mountpoints"] == [str(mnt)] and 0 < fs["free"] < fs["size"] < 32 * mib
    tree = [(r["depth"], r["type"]) for r in sec["devices"]["rows"]]
    i = [r["name"] for r in sec["devices"]["rows"]].index(pv)
    assert tree[i:i + 3] == [(0, "loop"), (1, "lvm"), (2, "crypt")]
