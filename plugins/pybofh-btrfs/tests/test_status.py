"""pybofh-btrfs's ``bofh status`` section: mounted filesystems with subvolume and snapshot counts, replayed from
btrfs-progs 6.2 recordings (one findmnt, then one ``subvolume list`` per filesystem, whatever its mounts)."""

from __future__ import annotations

from typing import Any

from pybofh_btrfs.bofh_status import sections
from pybofh_core.runner import FakeRunner

FINDMNT = ["findmnt", "-J", "-t", "btrfs", "-o", "TARGET,SOURCE,FSROOT,MAJ:MIN"]


def test_each_filesystem_once_with_its_counts(fake_runner: FakeRunner, rec: Any) -> None:
    """Two filesystems, the first mounted twice (top level and subvolume ``data``): two ``subvolume list`` calls."""
    mnt, mnt2 = rec.path("findmnt_btrfs_subvolume-mounted"), rec.path("findmnt_btrfs_subvolume-mounted", "$MNT2")
    assert rec.argv("findmnt_btrfs_subvolume-mounted") == FINDMNT
    fake_runner.expect(FINDMNT, rec.out("findmnt_btrfs_subvolume-mounted"))
    fake_runner.expect(["btrfs", "subvolume", "list", "-puqR", "--", mnt], rec.out("subvolume_list_-puqR"))
    fake_runner.expect(["btrfs", "subvolume", "list", "-puqR", "--", mnt2],
                       rec.out("subvolume_list_-puqR_received"))
    (sec,) = sections()
    assert sec.status == "ok"
    assert sec.rows == [
        {"device": "/dev/loop0", "mountpoints": [mnt, f"{rec.path('findmnt_btrfs', '$BASE')}/sub"],
         "subvolumes": 4, "snapshots": 2},  # data, data/nested, snap1 and clone (snapshots of data)
        {"device": "/dev/loop1", "mountpoints": [mnt2], "subvolumes": 2, "snapshots": 1},  # snap2 of snap1
    ]
    assert [c[0] for c in fake_runner.calls] == ["findmnt", "btrfs", "btrfs"]
    assert "  DEVICE      SUBVOLUMES  SNAPSHOTS  MOUNTPOINTS" in sec.render_text()


def test_no_btrfs_mounted(fake_runner: FakeRunner) -> None:
    """findmnt finds nothing (exit 1, no output): nothing to list, no btrfs command run."""
    fake_runner.expect(FINDMNT, b"", returncode=1)
    (sec,) = sections()
    assert (sec.status, sec.rows) == ("ok", []) and len(fake_runner.calls) == 1


def test_one_filesystem_that_cannot_be_listed_keeps_the_others(fake_runner: FakeRunner, rec: Any) -> None:
    mnt, mnt2 = rec.path("findmnt_btrfs"), rec.path("findmnt_btrfs", "$MNT2")
    fake_runner.expect(FINDMNT, rec.out("findmnt_btrfs"))
    fake_runner.expect(["btrfs", "subvolume", "list", "-puqR", "--", mnt], b"",
                       stderr=b"ERROR: can't perform the search: Operation not permitted\n", returncode=1)
    fake_runner.expect(["btrfs", "subvolume", "list", "-puqR", "--", mnt2], rec.out("subvolume_list_empty"))
    (sec,) = sections()
    first, second = sec.rows
    assert first["subvolumes"] is None and "Operation not permitted" in first["error"]
    assert (second["subvolumes"], second["snapshots"], "error" in second) == (0, 0, False)
    assert sec.render_text().splitlines()[1].split() == ["DEVICE", "SUBVOLUMES", "SNAPSHOTS", "MOUNTPOINTS", "ERROR"]


def test_btrfs_progs_missing_makes_the_section_unavailable(fake_runner: FakeRunner, rec: Any) -> None:
    fake_runner.expect(FINDMNT, rec.out("findmnt_btrfs"))
    fake_runner.expect(["btrfs", ...], b"", stderr=b"env: 'btrfs': No such file or directory\n", returncode=127)
    (sec,) = sections()
    assert (sec.status, sec.unavailable) == ("unavailable", "btrfs is not installed")
