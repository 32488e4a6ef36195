"""Record the btrfs-progs outputs ``record.py`` does not make: mixed block groups and a resumed scrub.

Run as root: ``python3 record_more.py`` (needs btrfs-progs, losetup, a kernel with ``scrub_speed_max`` in sysfs,
5.14+). It adds cases to ``btrfs/`` (written by ``record.py``'s :func:`record.save`) without touching the others:

* ``*_mixed*``: ``mkfs.btrfs --mixed`` makes ``Data+Metadata`` block groups; ``filesystem df``/``usage`` and
  ``device usage`` print them.
* ``scrub_status_*resumed*``: a scrub slowed down with the device's ``scrub_speed_max``, cancelled, then resumed:
  ``scrub status`` prints ``Scrub resumed:`` and a ``Rate: … (limit …/s)`` line.

Everything is made on loop devices backed by sparse files in a temp dir and unmounted, detached and removed at
the end, also on failure (the scrub status files btrfs-progs writes for these filesystems included).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from record import ENV, HERE, save, sh  # record puts pybofh_core on the path if needed

MiB = 1024**2


def background(argv: list[str]) -> None:
    """Start a command that forks a background worker (``scrub start`` without ``-B``): no pipes, or run() would
    wait for the worker, which inherits them."""
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)


def wait_running(mnt: str, marker: str = "Scrub started:", timeout: float = 30.0) -> None:
    """Wait until ``scrub status`` shows a running scrub whose status file the worker has written (``marker``)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        out = sh(["btrfs", "scrub", "status", "--", mnt], check=False).stdout.decode()
        if "Status:           running" in out and "Bytes scrubbed:   0.00B" not in out and marker in out:
            return
        time.sleep(0.5)
    raise RuntimeError(f"no running scrub on {mnt} after {timeout} s")


def cancel(mnt: str) -> None:
    """Cancel the running scrub (retried: the progs' status file can be locked for a moment)."""
    for _ in range(10):
        if sh(["btrfs", "scrub", "cancel", "--", mnt], check=False).returncode == 0:
            time.sleep(1)
            return
        time.sleep(0.5)
    raise RuntimeError(f"could not cancel the scrub on {mnt}")


def main() -> int:
    """Set up, record the extra cases, clean up."""
    version = sh(["btrfs", "--version"]).stdout.decode().split()[1].lstrip("v")
    recorded: list[str] = []
    loops: list[str] = []
    mounts: list[str] = []
    fsids: list[str] = []
    with tempfile.TemporaryDirectory(prefix="pybofh-btrfs-rec-") as tmp:
        t = Path(tmp)
        paths = {"MNT": str(t / "mnt"), "TMP": tmp}

        def rec(case: str, argv: list[str]) -> subprocess.CompletedProcess[bytes]:
            res = subprocess.run(argv, capture_output=True, env=ENV, check=False)
            save(case, version, res, paths, "recorded by recordings/record_more.py")
            recorded.append(case)
            print(f"{case}: exit {res.returncode}, {len(res.stdout)} bytes")
            return res

        def make(name: str, size: int, *mkfs: str) -> str:
            img = t / f"{name}.img"
            with img.open("wb") as fh:
                fh.truncate(size)
            loop = sh(["losetup", "--find", "--show", str(img)]).stdout.decode().strip()
            loops.append(loop)
            sh(["mkfs.btrfs", "-f", *mkfs, loop])
            fsid = sh(["blkid", "-p", "-s", "UUID", "-o", "value", loop]).stdout.decode().strip()
            fsids.append(fsid)
            mnt = t / "mnt"
            mnt.mkdir(exist_ok=True)
            sh(["mount", loop, str(mnt)])
            mounts.append(str(mnt))
            return fsid

        def unmount_all() -> None:
            while mounts:
                m = mounts.pop()
                subprocess.run(["btrfs", "scrub", "cancel", "--", m], capture_output=True, check=False)
                if subprocess.run(["umount", m], capture_output=True, check=False).returncode:
                    subprocess.run(["umount", "-l", m], capture_output=True, check=False)

        try:
            # --- mixed block groups ---------------------------------------------------------------------------------
            make("mixed", 256 * MiB, "--mixed", "-L", "pybofh-mixed")
            M = str(t / "mnt")
            sh(["dd", "if=/dev/zero", f"of={M}/file", "bs=1M", "count=8", "conv=fsync"])
            rec("filesystem_df_mixed", ["btrfs", "filesystem", "df", "--", M])
            rec("filesystem_df_-b_mixed", ["btrfs", "filesystem", "df", "-b", "--", M])
            rec("filesystem_df_format-json_mixed", ["btrfs", "--format", "json", "filesystem", "df", "--", M])
            rec("filesystem_usage_-b_mixed", ["btrfs", "filesystem", "usage", "-b", "--", M])
            rec("filesystem_usage_mixed", ["btrfs", "filesystem", "usage", "--", M])
            rec("device_usage_-b_mixed", ["btrfs", "device", "usage", "-b", "--", M])
            rec("device_usage_mixed", ["btrfs", "device", "usage", "--", M])
            unmount_all()

            # --- a resumed scrub ------------------------------------------------------------------------------------
            fsid = make("scrub", 1024 * MiB, "-L", "pybofh-scrub")
            sh(["dd", "if=/dev/zero", f"of={M}/file", "bs=1M", "count=400", "conv=fsync"])
            limit = Path(f"/sys/fs/btrfs/{fsid}/devinfo/1/scrub_speed_max")
            limit.write_text(str(16 * MiB))
            background(["btrfs", "scrub", "start", "--", M])
            wait_running(M)
            cancel(M)
            rec("scrub_status_aborted", ["btrfs", "scrub", "status", "--", M])
            background(["btrfs", "scrub", "resume", "--", M])
            wait_running(M, "Scrub resumed:")
            rec("scrub_status_running_resumed", ["btrfs", "scrub", "status", "--", M])
            time.sleep(1)
            rec("scrub_status_-R_running_resumed", ["btrfs", "scrub", "status", "-R", "--", M])
            time.sleep(1)
            rec("scrub_status_--raw_running_resumed", ["btrfs", "scrub", "status", "--raw", "--", M])
            cancel(M)
            rec("scrub_status_aborted_resumed", ["btrfs", "scrub", "status", "--", M])
            limit.write_text("0")
            rec("scrub_resume_-B_finished", ["btrfs", "scrub", "resume", "-B", "--", M])
            rec("scrub_status_finished_resumed", ["btrfs", "scrub", "status", "--", M])
        finally:
            unmount_all()
            for loop in loops:
                subprocess.run(["losetup", "-d", loop], capture_output=True, check=False)
            for fsid in fsids:  # btrfs-progs' scrub status and progress files for these filesystems
                for f in Path("/var/lib/btrfs").glob(f"scrub.*{fsid}*"):
                    f.unlink(missing_ok=True)
    print(f"recorded {len(recorded)} cases of btrfs-progs {version} into {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
