"""``bofh xen show|disks`` through the real root command, with a temp config dir and the fake runner's idea of which
paths exist: the parsed config for people and ``--json``, the disks' host paths and kinds, one-line errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pybofh_core.cli import app, main
from pybofh_core.runner import FakeRunner
from pybofh_core.session import get_settings

WEB = """name = "web"
type = "pvh"
memory = 512
vcpus = 2
disk = ['phy:/dev/vg0/web-disk,xvda,w', 'format=raw, vdev=xvdb, access=ro, target=/srv/xen/web-data.img',
        'file:/srv/xen/gone.img,xvdc,w', 'file:/srv/iso/install.iso,xvdd:cdrom,r']
vif = ['mac=00:16:3e:00:00:01,bridge=br0']
"""


@pytest.fixture
def confdir(tmp_path: Path, fake_runner: FakeRunner) -> Iterator[Path]:
    """A config dir holding web.cfg; the fake runner's host has its LV and data image (not gone.img, the ISO)."""
    d = tmp_path / "xen"
    d.mkdir()
    (d / "web.cfg").write_text(WEB)
    fake_runner.paths = {str(d): "dir", str(d / "web.cfg"): "file", "/dev/vg0/web-disk": "block",
                         "/srv/xen/web-data.img": "file", "/srv/iso/install.iso": "file"}
    with get_settings().override(xen__domu_config_dirs=[d]):
        yield d


def bofh(*argv: str) -> Any:
    """``bofh ARGV`` in-process through the root app; it must succeed."""
    result = CliRunner().invoke(app, list(argv))
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_show_by_name_and_by_config_path(confdir: Path) -> None:
    shown = dict(ln.split(None, 1) for ln in bofh("xen", "show", "web").output.splitlines())
    assert (shown["name"], shown["config_path"], shown["type"], shown["memory_bytes"], shown["vcpus"]) == (
        "web", str(confdir / "web.cfg"), "pvh", str(512 * 1024**2), "2")
    assert shown["disks"].split("; ")[0] == "phy:/dev/vg0/web-disk,xvda,w"
    assert shown["vifs"] == "mac=00:16:3e:00:00:01,bridge=br0"
    doc = json.loads(bofh("--json", "xen", "show", str(confdir / "web.cfg")).output)
    assert (doc["name"], doc["vcpus"], len(doc["disks"]), doc["vifs"][0]["bridge"]) == ("web", 2, 4, "br0")


def test_disks_with_their_kinds(confdir: Path) -> None:
    lines = bofh("xen", "disks", "web").output.splitlines()
    assert lines[0].split() == ["VDEV", "PATH", "KIND", "WRITABLE"]
    assert [ln.split() for ln in lines[1:]] == [["xvda", "/dev/vg0/web-disk", "block", "yes"],
                                                ["xvdb", "/srv/xen/web-data.img", "file", "no"],
                                                ["xvdc", "/srv/xen/gone.img", "missing", "yes"]]
    rows = json.loads(bofh("--json", "xen", "disks", "web", "--cdroms").output)
    assert rows[-1] == {"vdev": "xvdd", "path": "/srv/iso/install.iso", "kind": "file", "writable": False}


def test_an_unknown_domu_is_one_line(confdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["xen", "show", "nope"], ["xen", "disks", "nope"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        out, err = capsys.readouterr()
        assert (info.value.code, out, len(err.splitlines())) == (2, "", 1), err
        assert err.startswith("bofh: error: ") and "nope" in err
