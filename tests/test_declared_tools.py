"""``@operation(requires=…)`` is what an operation runs, and it is checked: a call whose tool is not installed where
commands run is refused before anything runs (in an atomic block, after which the block rolls back what ran), and
``bofh plugins --operations`` shows each operation's tools and the ones missing here."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import pybofh_blockdev.ops as blockdev_ops
import pybofh_lvm.ops as lvm_ops
from pybofh_core.atomic import Atomic
from pybofh_core.errors import ToolUnavailableError
from pybofh_core.operations import OperationSpec, missing_tools, tools_check
from pybofh_core.runner import FakeRunner, _search_path
from pybofh_core.session import get_plugins

SPECS = list(get_plugins().operations.specs())  # registered: each spec knows its domain (``lvm.create_lv``)


def spec_of(op: Any) -> OperationSpec:
    spec: OperationSpec = op.__pybofh_operation__
    return spec


def test_a_missing_tool_is_refused_before_any_command(fake_runner: FakeRunner) -> None:
    """lvcreate missing: ``create_lv`` says so in one line and ran nothing (not even the reads of its checks)."""
    fake_runner.tools = {"lvs", "vgs", "pvs"}
    with pytest.raises(ToolUnavailableError) as info:
        lvm_ops.create_lv("vg0", "data", "1G")
    assert str(info.value) == ("lvcreate is not available: lvm.create_lv runs it and it is not found on PATH or in "
                               "/sbin, /usr/sbin; nothing was run")
    assert fake_runner.calls == []


def test_alternatives_need_one_of_them(fake_runner: FakeRunner) -> None:
    """``mkfs.ext4|mkfs.xfs|…``: a host with only xfsprogs can make filesystems; one with none of them cannot."""
    spec = spec_of(blockdev_ops.create_filesystem)
    fake_runner.tools = {"mkfs.xfs"}
    tools_check(spec)
    assert missing_tools(spec) == []
    fake_runner.tools = set()
    with pytest.raises(ToolUnavailableError, match=r"^mkfs.ext4 or mkfs.xfs or mkfs.btrfs or mkswap is not "
                                                   r"available: blockdev.create_filesystem runs it"):
        tools_check(spec)


def test_a_remote_runner_is_asked_and_named(fake_runner: FakeRunner) -> None:
    """The tools are looked up where the commands run: a runner for another host is asked, and named."""
    fake_runner.host = "db1"
    fake_runner.tools = set()
    with pytest.raises(ToolUnavailableError, match=r"^lvrename is not available: lvm\.rename_lv runs it and it is not "
                                                   r"found on db1; nothing was run$"):
        tools_check(spec_of(lvm_ops.rename_lv))


@pytest.mark.loopdev
def test_a_missing_tool_mid_block_rolls_back_what_ran(tmp_path: Path) -> None:
    """A loop device attached, then a domU start on a host without ``xl``: the start is refused before it runs and
    the block detaches the loop device it attached."""
    if shutil.which("xl", path=_search_path()):
        pytest.skip("xl is installed on this machine: the refusal needs a host without it")
    from pybofh_xen import ops as xen_ops

    config = tmp_path / "guest.cfg"
    config.write_text('name = "guest"\nmemory = 64\n')
    image = tmp_path / "disk.img"
    with image.open("wb") as fh:
        fh.truncate(8 * 1024**2)
    try:
        with pytest.raises(ToolUnavailableError, match=r"^xl is not available: "):
            with Atomic() as block:
                block.blockdev.attach_loop(str(image))
                xen_ops.start_domu(str(config))
        listed = subprocess.run(["losetup", "--list", "--noheadings", "-O", "BACK-FILE"], capture_output=True,
                                text=True, check=True).stdout
        assert str(image) not in listed
    finally:
        for line in subprocess.run(["losetup", "--list", "--noheadings", "-O", "NAME,BACK-FILE"],
                                   capture_output=True, text=True).stdout.splitlines():
            if str(image) in line:
                subprocess.run(["losetup", "-d", line.split()[0]], capture_output=True)


def test_bofh_plugins_operations_shows_tools_and_missing_ones() -> None:
    """``bofh plugins --operations --json``: every operation's tools; ``missing`` is what this machine lacks (``xl``
    here when Xen is not installed); an operation that needs no undo says why."""
    proc = subprocess.run([sys.executable, "-m", "pybofh_core.cli", "plugins", "--operations", "--json"],
                          capture_output=True, text=True, timeout=120, check=True)
    rows = {r["operation"]: r for r in json.loads(proc.stdout)}
    assert rows["lvm.create_lv"]["tools"] == ["lvcreate"]
    assert rows["blockdev.create_filesystem"]["tools"] == ["mkfs.ext4|mkfs.xfs|mkfs.btrfs|mkswap"]
    assert rows["blockdev.check_filesystem"]["undo"].startswith("none needed: a read-only check changes nothing")
    for name, row in rows.items():
        assert row["tools"], f"{name} declares no tools"
        expected = [e for e in row["tools"] if not any(shutil.which(t, path=_search_path()) for t in e.split("|"))]
        assert row["missing"] == expected, name


def test_a_runner_looks_a_found_tool_up_once() -> None:
    """Every call checks its tools; a runner remembers the ones it found (on a remote host each look-up is a
    command), and asks again for one it did not find (it may have been installed since)."""
    from pybofh_core.runner import LocalRunner, use_runner

    asked: list[str] = []

    class Counting(LocalRunner):
        installed = {"lvrename"}

        def which(self, tool: str) -> str | None:
            asked.append(tool)
            return f"/usr/sbin/{tool}" if tool in self.installed else None

    runner = Counting()
    spec = spec_of(lvm_ops.rename_lv)
    with use_runner(runner):
        tools_check(spec)
        tools_check(spec)
        assert asked == ["lvrename"]
        runner.installed = set()
        tools_check(spec)  # found once: still found
        assert missing_tools(spec_of(lvm_ops.remove_lv)) == ["lvremove"]
        runner.installed = {"lvremove"}
        assert missing_tools(spec_of(lvm_ops.remove_lv)) == []
    assert asked == ["lvrename", "lvremove", "lvremove"]
