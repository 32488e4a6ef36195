"""Record the read-only commands of pybofh-btrfs's data checks and undo identities: ``python3 record_checks.py``
as root (needs btrfs-progs, util-linux, coreutils, findutils). Run it after ``record.py``.

``record.py`` recorded the outputs the parsers and operations replay; this records what the trust contract adds:
``btrfs subvolume show`` right after a create / snapshot / receive (the UUID an undo carries) and of a new subvolume
made at the same path after a delete (another UUID), ``find`` on an empty and a non-empty subvolume, ``get-default``
asked on a subvolume path, ``findmnt`` listings of btrfs mounts (with a subvolume mounted elsewhere) and of the
filesystem holding a path, ``btrfs filesystem show`` of two filesystems, and ``stat``/``head`` of a send stream
(its inode and birth time, its magic) and of a file that is not a stream.

Paths are fixed (``/tmp/pybofh-btrfs-checks``; it must not exist) so the outputs name the same paths on every run;
each case is written by ``record.py``'s :func:`record.save` (``pybofh_core.testing.write_recording``): its side-car
keeps the argv (paths replaced by ``$BASE``/``$MNT``/``$MNT2``, ``paths`` says what they stood for), the exit code,
and the tool's own version in ``note`` (the file names carry btrfs-progs' version). Everything is unmounted,
detached and removed at the end, also on failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from record import ENV, HERE, save, sh  # record puts pybofh_core on the path if needed

BASE = Path("/tmp/pybofh-btrfs-checks")


def main() -> int:
    """Set up, record every case, clean up."""
    if os.geteuid() != 0:
        print("record_checks.py needs root", file=sys.stderr)
        return 2
    if BASE.exists():
        print(f"{BASE} exists; remove it first", file=sys.stderr)
        return 2
    version = sh(["btrfs", "--version"]).stdout.decode().split()[1].lstrip("v")
    tools = {
        "btrfs": f"btrfs-progs {version}",
        "findmnt": sh(["findmnt", "--version"]).stdout.decode().strip(),
        "find": sh(["find", "--version"]).stdout.decode().splitlines()[0],
        "stat": sh(["stat", "--version"]).stdout.decode().splitlines()[0],
        "head": sh(["head", "--version"]).stdout.decode().splitlines()[0],
    }
    mnt, mnt2, sub = BASE / "mnt", BASE / "mnt2", BASE / "sub"
    paths = {"BASE": str(BASE), "MNT": str(mnt), "MNT2": str(mnt2)}
    recorded: list[str] = []
    loops: list[str] = []
    mounts: list[str] = []

    def rec(case: str, argv: list[str]) -> subprocess.CompletedProcess[bytes]:
        res = subprocess.run(argv, capture_output=True, env=ENV, check=False)
        tool = "" if argv[0] == "btrfs" else f" ({tools[argv[0]]})"
        save(case, version, res, paths, f"recorded by recordings/record_checks.py{tool}")
        recorded.append(case)
        return res

    BASE.mkdir()
    try:
        for name in ("a", "b"):
            img = BASE / f"{name}.img"
            with img.open("wb") as fh:
                fh.truncate(256 * 1024**2)
            loops.append(sh(["losetup", "--find", "--show", str(img)]).stdout.decode().strip())
        for loop, m, label in ((loops[0], mnt, "pybofh-checks"), (loops[1], mnt2, "pybofh-checks2")):
            sh(["mkfs.btrfs", "-q", "-f", "-L", label, loop])
            m.mkdir()
            sh(["mount", loop, str(m)])
            mounts.append(str(m))
        M, M2 = str(mnt), str(mnt2)
        sh(["btrfs", "subvolume", "create", "--", f"{M}/data"])
        rec("subvolume_show_created", ["btrfs", "subvolume", "show", "--", f"{M}/data"])
        rec("find_empty-subvolume", ["find", f"{M}/data", "-mindepth", "1", "-maxdepth", "1", "-print", "-quit"])
        (mnt / "data" / "file").write_text("hello\n")
        rec("find_subvolume-with-file", ["find", f"{M}/data", "-mindepth", "1", "-maxdepth", "1", "-print",
                                         "-quit"])
        rec("subvolume_get-default_from-subvolume", ["btrfs", "subvolume", "get-default", f"{M}/data"])
        sh(["btrfs", "subvolume", "set-default", "--", "256", M])
        rec("subvolume_get-default_is-subvolume", ["btrfs", "subvolume", "get-default", f"{M}/data"])
        sh(["btrfs", "subvolume", "set-default", "--", "5", M])
        rec("findmnt_target_subvolume", ["findmnt", "-J", "-o", "TARGET,FSTYPE", "-T", f"{M}/data"])
        rec("findmnt_target_other-btrfs", ["findmnt", "-J", "-o", "TARGET,FSTYPE", "-T", M2])
        rec("findmnt_target_not-btrfs", ["findmnt", "-J", "-o", "TARGET,FSTYPE", "-T", str(BASE)])
        rec("filesystem_show_--raw_mnt", ["btrfs", "filesystem", "show", "--raw", "--", M])
        rec("filesystem_show_--raw_mnt2", ["btrfs", "filesystem", "show", "--raw", "--", M2])
        sub.mkdir()
        sh(["mount", "-o", "subvol=data", loops[0], str(sub)])
        mounts.append(str(sub))
        rec("findmnt_btrfs_subvolume-mounted", ["findmnt", "-J", "-t", "btrfs", "-o", "TARGET,SOURCE,FSROOT,MAJ:MIN"])
        sh(["umount", str(sub)])
        mounts.remove(str(sub))
        rec("findmnt_btrfs", ["findmnt", "-J", "-t", "btrfs", "-o", "TARGET,SOURCE,FSROOT,MAJ:MIN"])
        sh(["btrfs", "subvolume", "snapshot", "-r", "--", f"{M}/data", f"{M}/snap"])
        rec("subvolume_show_snapshot-created", ["btrfs", "subvolume", "show", "--", f"{M}/snap"])
        sh(["btrfs", "subvolume", "delete", "--", f"{M}/snap"])
        sh(["btrfs", "subvolume", "create", "--", f"{M}/snap"])
        rec("subvolume_show_recreated", ["btrfs", "subvolume", "show", "--", f"{M}/snap"])
        stream = str(BASE / "ro.stream")
        sh(["btrfs", "subvolume", "snapshot", "-r", "--", f"{M}/data", f"{M}/ro"])
        sh(["btrfs", "send", "-f", stream, "--", f"{M}/ro"])
        rec("stat_stream", ["stat", "-c", "%d:%i:%W", "--", stream])
        rec("head_stream", ["head", "-c", "13", "--", stream])
        sh(["btrfs", "receive", "-f", stream, "--", M2])
        rec("subvolume_show_received-full", ["btrfs", "subvolume", "show", "--", f"{M2}/ro"])
        os.unlink(stream)
        rec("stat_missing", ["stat", "-c", "%d:%i:%W", "--", stream])
        (BASE / "other.txt").write_text("not a stream\n")  # takes the freed inode number, if the filesystem reuses it
        sh(["btrfs", "send", "-f", stream, "--", f"{M}/ro"])
        rec("stat_stream-recreated", ["stat", "-c", "%d:%i:%W", "--", stream])
        rec("head_not-a-stream", ["head", "-c", "13", "--", str(BASE / "other.txt")])
    finally:
        for mounted in reversed(mounts):
            if subprocess.run(["umount", mounted], capture_output=True, check=False).returncode:
                subprocess.run(["umount", "-l", mounted], capture_output=True, check=False)
        for loop in loops:
            subprocess.run(["losetup", "-d", loop], capture_output=True, check=False)
        subprocess.run(["rm", "-rf", "--", str(BASE)], capture_output=True, check=False)
    print(f"recorded {len(recorded)} cases of btrfs-progs {version} into {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
