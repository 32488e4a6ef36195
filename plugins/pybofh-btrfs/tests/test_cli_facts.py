"""``bofh btrfs show|df|device-usage|device-stats|qgroups`` and ``bofh btrfs subvolume get-default`` for real on a
loop-mounted btrfs (temp file), through the real root command: tables for people, full records with ``--json``."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pybofh_core.cli import main
from pybofh_core.testing import BofhCommand

pytestmark = pytest.mark.loopdev
MiB = 1024**2



def sh(*argv: str) -> str:
    return subprocess.run(list(argv), check=True, capture_output=True, text=True).stdout


@pytest.fixture
def fs(loop_factory: Callable[..., str], tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A 300 MiB btrfs labelled ``facts`` on a loop device, mounted: (device, mountpoint)."""
    if shutil.which("mkfs.btrfs", path="/usr/sbin:/sbin:/usr/bin:/bin") is None:
        pytest.skip("btrfs-progs is not installed")
    dev = loop_factory(300 * MiB)
    sh("mkfs.btrfs", "-q", "-f", "-L", "facts", dev)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    sh("mount", "-t", "btrfs", dev, str(mnt))
    try:
        yield dev, str(mnt)
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_show_lists_the_filesystem_and_its_device(fs: tuple[str, str], bofh: BofhCommand) -> None:
    dev, mnt = fs
    uuid = sh("blkid", "-p", "-s", "UUID", "-o", "value", dev).strip()
    lines = bofh.ok("btrfs", "show", mnt).splitlines()
    assert lines[0].split() == ["LABEL", "UUID", "DEVID", "PATH", "SIZE", "USED"]
    assert lines[1].split()[:5] == ["facts", uuid, "1", dev, str(300 * MiB)]
    (one,) = json.loads(bofh.ok("--json", "btrfs", "show", dev))["filesystems"]
    assert (one["label"], one["uuid"], one["total_devices"], one["devices"][0]["path"]) == ("facts", uuid, 1, dev)
    every = json.loads(bofh.ok("--json", "btrfs", "show"))["filesystems"]
    assert uuid in [f["uuid"] for f in every]


def test_df_by_block_group_type(fs: tuple[str, str], bofh: BofhCommand) -> None:
    _, mnt = fs
    lines = bofh.ok("btrfs", "df", mnt).splitlines()
    assert lines[0].split() == ["TYPE", "PROFILE", "TOTAL", "USED"]
    assert {ln.split()[0] for ln in lines[1:]} >= {"Data", "Metadata", "System"}
    doc = json.loads(bofh.ok("--json", "btrfs", "df", mnt))
    assert doc["exact"] is True and all(isinstance(s["total"], int) for s in doc["spaces"])


def test_device_usage_and_stats(fs: tuple[str, str], bofh: BofhCommand) -> None:
    dev, mnt = fs
    lines = bofh.ok("btrfs", "device-usage", mnt).splitlines()
    assert lines[0].split() == ["PATH", "DEVID", "SIZE", "SLACK", "UNALLOCATED", "CHUNKS"]
    assert lines[1].split()[:3] == [dev, "1", str(300 * MiB)] and "Metadata,DUP=" in lines[1]
    (usage,) = json.loads(bofh.ok("--json", "btrfs", "device-usage", mnt))
    assert usage["size"] == 300 * MiB and dict(usage["chunks"])["Data,single"] > 0
    lines = bofh.ok("btrfs", "device-stats", mnt).splitlines()
    assert lines[0].split()[:3] == ["DEVICE", "DEVID", "WRITE_IO_ERRS"] and "CORRUPTION_ERRS" in lines[0]
    assert lines[1].split() == [dev, "1", "0", "0", "0", "0", "0"]
    (stats,) = json.loads(bofh.ok("--json", "btrfs", "device-stats", mnt))
    assert stats["device"] == dev and dict(stats["counters"])["corruption_errs"] == 0


def test_qgroups_need_quotas(fs: tuple[str, str], capsys: pytest.CaptureFixture[str], bofh: BofhCommand) -> None:
    _, mnt = fs
    with pytest.raises(SystemExit) as info:
        main(["btrfs", "qgroups", mnt])
    out, err = capsys.readouterr()
    assert info.value.code == 1 and out == "" and len(err.splitlines()) == 1 and "quotas not enabled" in err
    sh("btrfs", "quota", "enable", mnt)
    sh("btrfs", "subvolume", "create", f"{mnt}/sv")
    lines = bofh.ok("btrfs", "qgroups", mnt).splitlines()
    assert lines[0].split()[:3] == ["QGROUPID", "REFERENCED", "EXCLUSIVE"]
    assert [ln.split()[0] for ln in lines[1:]] == ["0/5", "0/256"] and lines[2].split()[-1] == "sv"
    groups = json.loads(bofh.ok("--json", "btrfs", "qgroups", mnt))
    assert [(g["qgroupid"], g["path"], g["max_referenced"]) for g in groups][1] == ("0/256", "sv", None)


def test_subvolume_get_default(fs: tuple[str, str], bofh: BofhCommand) -> None:
    _, mnt = fs
    text = bofh.ok("btrfs", "subvolume", "get-default", mnt)
    shown = {key: value.strip() for key, _, value in (line.partition(" ") for line in text.splitlines())}
    assert shown["id"] == "5"
    sh("btrfs", "subvolume", "create", f"{mnt}/root")
    sh("btrfs", "subvolume", "set-default", f"{mnt}/root")
    doc = json.loads(bofh.ok("--json", "btrfs", "subvolume", "get-default", mnt))
    assert (doc["id"], doc["path"]) == (256, "root")
