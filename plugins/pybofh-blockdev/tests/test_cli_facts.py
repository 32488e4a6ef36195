"""``bofh blockdev show|probe|size|mounts`` and ``bofh blockdev loop show`` for real on loop devices backed by temp
files, through the real root command: text for people, full records with ``--json``, one-line errors."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pybofh_core.cli import main
from pybofh_core.testing import BofhCommand

pytestmark = pytest.mark.loopdev
MiB = 1024**2



def fields(text: str) -> dict[str, str]:
    """``key  value`` lines of a one-record text output."""
    return {key: value.strip() for key, _, value in (line.partition(" ") for line in text.splitlines())}


@pytest.fixture
def ext4(loop_factory: Callable[..., str], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A 64 MiB loop device with an ext4 filesystem labelled ``facts``, mounted on a temp directory."""
    dev = loop_factory(64 * MiB)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "facts", dev], check=True, capture_output=True)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", dev, str(mnt)], check=True, capture_output=True)
    try:
        yield dev, mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_probe_shows_blkid_tags(ext4: tuple[str, Path], bofh: BofhCommand) -> None:
    dev, _ = ext4
    tags = fields(bofh.ok("blockdev", "probe", dev))
    assert (tags["TYPE"], tags["LABEL"], tags["USAGE"]) == ("ext4", "facts", "filesystem")
    doc = json.loads(bofh.ok("--json", "blockdev", "probe", dev))
    assert doc["TYPE"] == "ext4" and doc["UUID"] == tags["UUID"]


def test_probe_of_an_empty_device_prints_nothing(loop_factory: Callable[..., str], bofh: BofhCommand) -> None:
    dev = loop_factory(8 * MiB)
    assert bofh.ok("blockdev", "probe", dev) == ""
    assert json.loads(bofh.ok("--json", "blockdev", "probe", dev)) == {}


def test_size_in_bytes(loop_factory: Callable[..., str], bofh: BofhCommand) -> None:
    dev = loop_factory(24 * MiB)
    assert bofh.ok("blockdev", "size", dev) == f"{24 * MiB}\n"
    assert json.loads(bofh.ok("--json", "blockdev", "size", dev)) == 24 * MiB


def test_show_one_device(ext4: tuple[str, Path], bofh: BofhCommand) -> None:
    dev, mnt = ext4
    shown = fields(bofh.ok("blockdev", "show", dev))
    assert (shown["path"], shown["type"], shown["size"], shown["mountpoints"]) == (dev, "loop", str(64 * MiB),
                                                                                  str(mnt))
    doc = json.loads(bofh.ok("--json", "blockdev", "show", dev))
    assert (doc["fstype"], doc["label"], doc["size"], doc["mountpoints"]) == ("ext4", "facts", 64 * MiB, [str(mnt)])


def test_mounts_of_a_device_and_on_a_directory(ext4: tuple[str, Path], bofh: BofhCommand) -> None:
    dev, mnt = ext4
    for target in (dev, str(mnt)):
        lines = bofh.ok("blockdev", "mounts", target).splitlines()
        assert lines[0].split() == ["TARGET", "SOURCE", "FSTYPE", "OPTIONS"]
        assert [ln.split()[:3] for ln in lines[1:]] == [[str(mnt), dev, "ext4"]]
        (doc,) = json.loads(bofh.ok("--json", "blockdev", "mounts", target))
        assert (doc["target"], doc["source"], doc["fstype"]) == (str(mnt), dev, "ext4") and "rw" in doc["options"]
    everything = json.loads(bofh.ok("--json", "blockdev", "mounts"))
    assert str(mnt) in [m["target"] for m in everything] and everything[0]["target"] == "/"
    assert bofh.ok("blockdev", "mounts", str(mnt / "lost+found")) == "(none)\n"


def test_loop_show(loop_factory: Callable[..., str], tmp_path: Path, bofh: BofhCommand) -> None:
    dev = loop_factory(8 * MiB, name="shown")
    shown = fields(bofh.ok("blockdev", "loop", "show", dev))
    assert shown["path"] == dev and shown["backing_file"].startswith(str(tmp_path / "shown"))
    doc = json.loads(bofh.ok("--json", "blockdev", "loop", "show", dev))
    assert (doc["path"], doc["read_only"], doc["offset"]) == (dev, False, 0)


def test_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A missing device and a device that is no attached loop: exit 2, one line on stderr, nothing on stdout."""
    for argv in (["blockdev", "size", str(tmp_path / "nodev")], ["blockdev", "loop", "show", str(tmp_path)]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        out, err = capsys.readouterr()
        assert (info.value.code, out, len(err.splitlines())) == (2, "", 1), err
        assert err.startswith("bofh: error: ")
