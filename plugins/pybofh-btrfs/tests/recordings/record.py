"""Record real btrfs-progs outputs for the unit tests: ``python3 record.py`` as root (needs btrfs-progs, losetup).

Builds two btrfs filesystems on loop devices backed by sparse files in a temp dir, runs each command with
``LC_ALL=C`` and writes it with ``pybofh_core.testing.write_recording`` as ``btrfs/<case>-<version>``: stdout
(``.txt``), stderr (``.stderr.txt``) and the side-car (``.meta.json``) with the argv, temp paths replaced by
``$MNT``/``$MNT2``/``$TMP`` (``paths`` says what they stood for), and the exit code. Everything is unmounted and
detached at the end, also on failure. ``record_more.py`` and ``record_checks.py`` write through :func:`save` too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent / "btrfs"
sys.path.append(str(HERE.parents[4] / "pybofh_core"))  # pybofh_core.testing from this checkout if not installed

from pybofh_core.testing import write_recording  # noqa: E402

ENV = {**os.environ, "LC_ALL": "C", "LANG": "C"}


def sh(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """Run a set-up command."""
    return subprocess.run(argv, check=check, capture_output=True, env=ENV)


def templated(argv: Sequence[str], paths: Mapping[str, str]) -> list[str]:
    """``argv`` as the side-car keeps it: each real path of ``paths`` (``NAME`` -> path) replaced by ``$NAME``,
    longest paths first (``/t/mnt2`` becomes ``$MNT2``, not ``$TMP/mnt2``): the inverse of
    ``Recording.filled_argv()``."""
    out = []
    for arg in argv:
        for name, real in sorted(paths.items(), key=lambda item: len(item[1]), reverse=True):
            arg = arg.replace(real, f"${name}")
        out.append(arg)
    return out


def save(case: str, version: str, res: subprocess.CompletedProcess[bytes], paths: Mapping[str, str],
         note: str) -> Path:
    """Write one case into ``btrfs/`` (``pybofh_core.testing.write_recording``); return its side-car."""
    return write_recording(HERE.parent, HERE.name, case, version, argv=templated([str(a) for a in res.args], paths),
                           stdout=res.stdout, stderr=res.stderr, returncode=res.returncode, paths=paths, note=note)


def main() -> int:
    """Set up, record every case, clean up."""
    version = sh(["btrfs", "--version"]).stdout.decode().split()[1].lstrip("v")
    recorded: list[str] = []
    loops: list[str] = []
    mounts: list[str] = []
    with tempfile.TemporaryDirectory(prefix="pybofh-btrfs-rec-") as tmp:
        t = Path(tmp)
        paths = {"MNT2": str(t / "mnt2"), "MNT": str(t / "mnt"), "TMP": tmp}

        def rec(case: str, argv: list[str]) -> subprocess.CompletedProcess[bytes]:
            res = subprocess.run(argv, capture_output=True, env=ENV, check=False)
            save(case, version, res, paths, "recorded by recordings/record.py")
            recorded.append(case)
            return res

        try:
            for name in ("a", "b"):
                img = t / f"{name}.img"
                with img.open("wb") as fh:
                    fh.truncate(256 * 1024**2)
                loops.append(sh(["losetup", "--find", "--show", str(img)]).stdout.decode().strip())
            mnt, mnt2 = t / "mnt", t / "mnt2"
            for loop, m, label in ((loops[0], mnt, "pybofh-rec"), (loops[1], mnt2, "pybofh-rec2")):
                sh(["mkfs.btrfs", "-f", "-L", label, loop])
                m.mkdir()
                sh(["mount", loop, str(m)])
                mounts.append(str(m))
            M = str(mnt)
            rec("subvolume_list_empty", ["btrfs", "subvolume", "list", "-puqR", "--", M])
            rec("subvolume_get-default_fs-tree", ["btrfs", "subvolume", "get-default", M])
            rec("scrub_status_--raw_no-stats", ["btrfs", "scrub", "status", "--raw", "--", M])
            rec("balance_status_none", ["btrfs", "balance", "status", "--", M])
            rec("balance_cancel_not-running", ["btrfs", "balance", "cancel", "--", M])
            rec("scrub_cancel_not-running", ["btrfs", "scrub", "cancel", "--", M])
            rec("subvolume_create", ["btrfs", "subvolume", "create", "--", f"{M}/data"])
            sh(["sh", "-c", f"echo hello > {M}/data/file"])
            rec("subvolume_create_nested", ["btrfs", "subvolume", "create", "--", f"{M}/data/nested"])
            rec("subvolume_snapshot_readonly", ["btrfs", "subvolume", "snapshot", "-r", "--", f"{M}/data",
                                                f"{M}/snap1"])
            rec("subvolume_snapshot", ["btrfs", "subvolume", "snapshot", "--", f"{M}/data", f"{M}/clone"])
            rec("subvolume_list_-puqR", ["btrfs", "subvolume", "list", "-puqR", "--", M])
            rec("subvolume_list_-a-puqR", ["btrfs", "subvolume", "list", "-a", "-puqR", "--", M])
            rec("subvolume_list_-r", ["btrfs", "subvolume", "list", "-r", "--", M])
            rec("subvolume_list_-s", ["btrfs", "subvolume", "list", "-s", "--", M])
            rec("subvolume_show_snapshot", ["btrfs", "subvolume", "show", "--", f"{M}/snap1"])
            rec("subvolume_show_with-snapshots", ["btrfs", "subvolume", "show", "--", f"{M}/data"])
            rec("subvolume_show_toplevel", ["btrfs", "subvolume", "show", "--", M])
            rec("subvolume_show_not-a-subvolume", ["btrfs", "subvolume", "show", "--", f"{M}/data/file"])
            rec("inspect-internal_rootid", ["btrfs", "inspect-internal", "rootid", "--", f"{M}/data"])
            rec("property_get_ro_true", ["btrfs", "property", "get", "-ts", "--", f"{M}/snap1", "ro"])
            rec("property_get_ro_false", ["btrfs", "property", "get", "-ts", "--", f"{M}/data", "ro"])
            rec("subvolume_set-default", ["btrfs", "subvolume", "set-default", "--", "256", M])
            rec("subvolume_get-default_subvolume", ["btrfs", "subvolume", "get-default", M])
            sh(["btrfs", "subvolume", "set-default", "--", "5", M])
            rec("filesystem_usage_-b", ["btrfs", "filesystem", "usage", "-b", "--", M])
            rec("filesystem_usage_human", ["btrfs", "filesystem", "usage", "--", M])
            rec("filesystem_usage_format-json_unsupported", ["btrfs", "--format", "json", "filesystem", "usage",
                                                             "--", M])
            rec("filesystem_df_format-json", ["btrfs", "--format", "json", "filesystem", "df", "--", M])
            rec("filesystem_df_-b", ["btrfs", "filesystem", "df", "-b", "--", M])
            rec("filesystem_df_human", ["btrfs", "filesystem", "df", "--", M])
            rec("filesystem_show_--raw", ["btrfs", "filesystem", "show", "--raw", "--", M])
            rec("filesystem_show_human", ["btrfs", "filesystem", "show", "--", M])
            rec("device_usage_-b", ["btrfs", "device", "usage", "-b", "--", M])
            rec("device_stats", ["btrfs", "device", "stats", "--", M])
            rec("device_stats_format-json", ["btrfs", "--format", "json", "device", "stats", "--", M])
            rec("scrub_start_-B", ["btrfs", "scrub", "start", "-B", "--", M])
            rec("scrub_status_--raw_finished", ["btrfs", "scrub", "status", "--raw", "--", M])
            rec("scrub_status_-R_finished", ["btrfs", "scrub", "status", "-R", "--", M])
            rec("scrub_status_finished", ["btrfs", "scrub", "status", "--", M])
            rec("send_full", ["btrfs", "send", "-f", f"{tmp}/full.stream", "--", f"{M}/snap1"])
            rec("receive_full", ["btrfs", "receive", "-f", f"{tmp}/full.stream", "--", str(mnt2)])
            sh(["sh", "-c", f"echo more > {M}/data/file2"])
            sh(["btrfs", "subvolume", "snapshot", "-r", "--", f"{M}/data", f"{M}/snap2"])
            rec("send_incremental", ["btrfs", "send", "-f", f"{tmp}/inc.stream", "-p", f"{M}/snap1", "--",
                                     f"{M}/snap2"])
            rec("receive_incremental", ["btrfs", "receive", "-f", f"{tmp}/inc.stream", "--", str(mnt2)])
            rec("subvolume_list_-puqR_received", ["btrfs", "subvolume", "list", "-puqR", "--", str(mnt2)])
            rec("subvolume_show_received", ["btrfs", "subvolume", "show", "--", f"{mnt2}/snap2"])
            snaps = f"{M}/snaps"
            os.mkdir(snaps)
            for stamp in ("2024-01-02_00-00-00", "2024-01-01_00-00-00", "2024-01-03_00-00-00"):
                sh(["btrfs", "subvolume", "snapshot", "-r", "--", f"{M}/data", f"{snaps}/{stamp}-@data"])
            sh(["btrfs", "subvolume", "snapshot", "-r", "--", f"{M}/data", f"{snaps}/2024-01-01_00-00-00-@other"])
            sh(["btrfs", "subvolume", "snapshot", "-r", "--", f"{M}/data", f"{snaps}/manual-@data"])
            os.mkdir(f"{snaps}/2024-01-04_00-00-00-@data")  # a plain directory with a rotation name
            rec("find_rotation-dir", ["find", snaps, "-mindepth", "1", "-maxdepth", "1", "-inum", "256", "-printf",
                                      "%f\\0"])
            rec("subvolume_delete", ["btrfs", "subvolume", "delete", "--", f"{M}/clone"])
            rec("subvolume_delete_not-empty", ["btrfs", "subvolume", "delete", "--", f"{M}/data"])
            sh(["btrfs", "quota", "enable", M])  # 6.2: quota takes no "--"
            sh(["btrfs", "quota", "rescan", "-w", M])
            rec("qgroup_show_-pcre_--raw", ["btrfs", "qgroup", "show", "-pcre", "--raw", "--", M])
            rec("qgroup_show_format-json", ["btrfs", "--format", "json", "qgroup", "show", "-pcre", "--raw", "--",
                                            M])
            rec("balance_start_--bg_--full-balance", ["btrfs", "balance", "start", "--bg", "--full-balance", "--",
                                                      M])
        finally:
            for mounted in reversed(mounts):
                subprocess.run(["btrfs", "balance", "cancel", "--", mounted], capture_output=True, check=False)
                if subprocess.run(["umount", mounted], capture_output=True, check=False).returncode:
                    subprocess.run(["umount", "-l", mounted], capture_output=True, check=False)
            for loop in loops:
                subprocess.run(["losetup", "-d", loop], capture_output=True, check=False)
    print(f"recorded {len(recorded)} cases of btrfs-progs {version} into {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
