"""pybofh-blockdev's ``bofh status`` sections: the findmnt usage parser on a real recording, the sections replayed
by the fake runner, and ``bofh status --json`` for real on a loop device (mounted ext4: size, used, free)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pybofh_blockdev.bofh_status import FINDMNT_USAGE_ARGV, filesystem_rows, parse_findmnt_usage, sections
from pybofh_core.errors import ParseError

MiB = 1024**2


def test_findmnt_usage_parser_reads_the_recorded_tree(recording: Any) -> None:
    """Every mount of the real output, depth-first, with its three byte counts; subvolume sources keep [/fsroot]."""
    rec = recording("findmnt", "usage-bytes")
    d = rec.paths
    assert rec.argv == FINDMNT_USAGE_ARGV
    mounts = parse_findmnt_usage(rec.stdout, source=rec.name)
    assert mounts[0].target == "/" and (mounts[0].size or 0) > 0
    by_target = {m.target: m for m in mounts}
    ext4 = by_target[d["ext4_mountpoint"]]  # the path with a space
    assert (ext4.source, ext4.fstype) == (d["ext4"], "ext4")
    assert ext4.used is not None and ext4.avail is not None and ext4.size is not None
    assert ext4.used >= 5 * MiB and 0 < ext4.avail < ext4.size <= 64 * MiB
    assert by_target[d["ext4_second_mountpoint"]].size == ext4.size
    sub = by_target[d["btrfs_subvolume_mountpoint"]]
    assert (sub.source, sub.device, sub.size) == (f"{d['btrfs']}[/data]", d["btrfs"], 200 * MiB)
    assert by_target["/proc"].size == 0


@pytest.mark.parametrize("text", [
    "", "  \n",
])
def test_findmnt_usage_nothing_mounted_is_empty(text: str) -> None:
    assert parse_findmnt_usage(text) == []


@pytest.mark.parametrize(("text", "why"), [
    ("TARGET SOURCE\n/ /dev/sda1\n", "no JSON document"),
    ('{"blockdevices": []}', "expected"),
    ('{"filesystems": [{"target": "/", "source": "/dev/sda1"}]}', "lacks"),
    ('{"filesystems": [{"target": "/", "source": "/dev/sda1", "fstype": "ext4", "size": "9.8G"}]}', "findmnt -b"),
    ('{"filesystems": [{"target": "/", "source": "/dev/sda1", "fstype": "ext4", "size": -1}]}', "byte count"),
    ('{"filesystems": [{"target": "/", "source": "/dev/sda1", "fstype": "ext4", "children": {}}]}', "children"),
    ('{"filesystems": [{"target": "/", "target": "/x", "source": "s", "fstype": "t"}]}', "duplicate"),
])
def test_findmnt_usage_refuses_what_it_does_not_claim(text: str, why: str) -> None:
    with pytest.raises(ParseError, match=why):
        parse_findmnt_usage(text, source="test")


def test_filesystems_section_groups_mounts_by_device(fake_runner: Any, recording: Any) -> None:
    """One row per filesystem on storage, all its mountpoints, free = what users can have, df's Use% rounding;
    proc, sysfs, tmpfs and the like are left out."""
    rec = recording("findmnt", "usage-bytes")
    d = rec.paths
    fake_runner.expect(rec.argv, rec.stdout)
    rows = {r["device"]: r for r in filesystem_rows()}
    assert fake_runner.calls == [tuple(FINDMNT_USAGE_ARGV)]
    assert set(rows) == {"/dev/vda", d["ext4"], d["btrfs"]}
    ext4 = rows[d["ext4"]]
    assert ext4["mountpoints"] == [d["ext4_mountpoint"], d["ext4_second_mountpoint"]]
    assert (ext4["size"], ext4["used"], ext4["free"]) == (57381888, 5257216, 47428608)
    assert ext4["use_percent"] == 10  # 5257216 / (5257216 + 47428608) = 9.98 %, rounded up as df does
    assert rows[d["btrfs"]]["mountpoints"] == [d["btrfs_mountpoint"], d["btrfs_subvolume_mountpoint"]]


def test_both_sections_from_the_recorded_host(fake_runner: Any, recording: Any) -> None:
    """The device tree (lsblk + one blkid) and the filesystems (one findmnt): three commands in all."""
    for tool, case in (("lsblk", "host-all"), ("blkid", "host-fill"), ("findmnt", "usage-bytes")):
        rec = recording(tool, case)
        fake_runner.expect(rec.argv, rec.stdout, returncode=rec.returncode)
    devices, filesystems = sections()
    assert (devices.status, filesystems.status) == ("ok", "ok")
    d = recording("lsblk", "host-all").paths
    by_name = {r["name"]: r for r in devices.rows}
    assert by_name[d["part1"]]["depth"] == 1 and by_name[d["parts"]]["depth"] == 0
    assert by_name[d["btrfs"]]["size"] == 400 * MiB and by_name[d["ext4"]]["fstype"] == "ext4"
    text = devices.render_text()
    assert f"└─{d['part1']}" in text and "400.0M" in text
    assert [c[0] for c in fake_runner.calls] == ["lsblk", "blkid", "findmnt"]


def test_a_failing_read_fails_only_its_section(fake_runner: Any, recording: Any) -> None:
    rec = recording("findmnt", "usage-bytes")
    fake_runner.expect(rec.argv, rec.stdout)
    fake_runner.expect(["lsblk", ...], stderr="lsblk: cannot open /sys/dev/block", returncode=32)
    devices, filesystems = sections()
    assert devices.status == "error" and "exited with status 32" in (devices.error or "")
    assert filesystems.status == "ok" and filesystems.rows


@pytest.mark.loopdev
def test_bofh_status_json_shows_a_mounted_loop_device_for_real(loop_factory: Any, tmp_path: Path) -> None:
    """A real ext4 loop device with 4 MiB written, mounted in a temp dir: ``bofh status --json`` (a new process)
    lists the device, its filesystem with size, used and free bytes, and the mountpoint."""
    dev = loop_factory(64 * MiB)
    subprocess.run(["mkfs.ext4", "-q", "-L", "statustest", dev], check=True, capture_output=True)
    mnt = tmp_path / "mnt status"
    mnt.mkdir()
    subprocess.run(["mount", dev, str(mnt)], check=True, capture_output=True)
    try:
        (mnt / "four-mib").write_bytes(b"y" * 4 * MiB)
        subprocess.run(["sync"], check=True)
        proc = subprocess.run([sys.executable, "-m", "pybofh_core.cli", "--json", "status"], capture_output=True,
                              text=True, timeout=120)
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
    assert proc.returncode in (0, 1), proc.stderr  # 1 only when another plugin's section could not be read
    doc = json.loads(proc.stdout)
    by_name = {s["name"]: s for s in doc["sections"] if s["plugin"] == "blockdev"}
    (loop,) = [r for r in by_name["devices"]["rows"] if r["name"] == dev]
    assert (loop["type"], loop["size"], loop["fstype"], loop["label"]) == ("loop", 64 * MiB, "ext4", "statustest")
    assert loop["mountpoints"] == [str(mnt)]
    (fs,) = [r for r in by_name["filesystems"]["rows"] if r["device"] == dev]
    assert fs["fstype"] == "ext4" and fs["mountpoints"] == [str(mnt)]
    assert all(isinstance(fs[k], int) for k in ("size", "used", "free"))
    assert 48 * MiB < fs["size"] <= 64 * MiB and 4 * MiB <= fs["used"] < 8 * MiB
    assert 0 < fs["free"] <= fs["size"] - fs["used"]
    assert proc.returncode == 0 or "could not be read" in proc.stderr
