"""Record real outputs of lsblk, blkid, findmnt, losetup and the filesystem tools into ``recordings/``.

Run as root on a machine with loop devices: ``python3 plugins/pybofh-blockdev/tests/record.py``. It builds loop
devices from sparse temp files (ext4 with a spaced label, a partitioned loop with a UTF-8 label and swap, btrfs,
xfs, an empty one), runs each command with ``LC_ALL=C``, and writes ``recordings/<tool>/<case>-<version>.txt``
(stdout, byte for byte) plus ``<case>-<version>.json`` (argv, exit status, the devices involved). Everything it
made is unmounted and detached at the end, also on failure.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent / "recordings"
ENV = {**os.environ, "LC_ALL": "C", "LANG": "C"}


def sh(argv: list[str], *, check: bool = True, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run a set-up command (not recorded)."""
    return subprocess.run(argv, check=check, capture_output=True, env=ENV, input=input)


def version(tool: str) -> str:
    """The version of the package providing ``tool``."""
    pkg = {"util-linux": "util-linux", "e2fsprogs": "e2fsprogs", "xfsprogs": "xfsprogs", "btrfs": "btrfs-progs"}[tool]
    out = sh(["dpkg-query", "-W", "-f", "${Version}", pkg]).stdout.decode()
    return re.split(r"[-+~]", out)[0]


def record(tool_dir: str, case: str, pkg: str, argv: list[str], devices: dict[str, str]) -> None:
    """Run ``argv`` and store its stdout and metadata."""
    res = subprocess.run(argv, capture_output=True, env=ENV)
    out_dir = HERE / tool_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{case}-{version(pkg)}"
    (out_dir / f"{stem}.txt").write_bytes(res.stdout)
    meta = {"argv": argv, "returncode": res.returncode, "stderr": res.stderr.decode("utf-8", "replace"),
            "devices": devices}
    (out_dir / f"{stem}.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    print(f"{tool_dir}/{stem}: exit {res.returncode}, {len(res.stdout)} bytes")


def main() -> int:
    """Build the loop devices, record, clean up."""
    if os.geteuid() != 0:
        print("record.py needs root (loop devices, mkfs, mount)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="pybofh-record-"))
    loops: list[str] = []
    mounts: list[str] = []

    def loop(name: str, size: int) -> str:
        img = tmp / f"{name}.img"
        with img.open("wb") as fh:
            fh.truncate(size)
        dev = sh(["losetup", "--find", "--show", "--partscan", str(img)]).stdout.decode().strip()
        loops.append(dev)
        return dev

    def do_mount(dev: str, where: Path, *opts: str) -> str:
        where.mkdir(parents=True, exist_ok=True)
        sh(["mount", *(["-o", ",".join(opts)] if opts else []), dev, str(where)])
        mounts.append(str(where))
        return str(where)

    try:
        ext = loop("ext4", 64 * 1024**2)
        sh(["mkfs.ext4", "-q", "-L", "my disk", ext])
        ext_mp = do_mount(ext, tmp / "mnt ext4")
        part = loop("parts", 96 * 1024**2)
        sh(["sfdisk", "-q", part], input=b"label: gpt\n,48M,L\n,,S\n")
        sh(["partx", "-u", part], check=False)
        p1, p2 = f"{part}p1", f"{part}p2"
        sh(["mkfs.ext4", "-q", "-L", "donn\u00e9es", p1])
        sh(["mkswap", "-L", "swap1", p2])
        btr = loop("btrfs", 200 * 1024**2)
        sh(["mkfs.btrfs", "-q", "-L", "pool", btr])
        btr_mp = do_mount(btr, tmp / "mnt-btrfs")
        xfs = loop("xfs", 320 * 1024**2)
        sh(["mkfs.xfs", "-q", "-L", "xlabel", xfs])
        xfs_mp = do_mount(xfs, tmp / "mnt-xfs", "ro")
        empty = loop("empty", 16 * 1024**2)
        dirty = loop("dirty", 32 * 1024**2)
        sh(["mkfs.ext4", "-q", dirty])
        sh(["debugfs", "-w", "-R", "clri <11>", dirty])  # clear lost+found: e2fsck must report and fix it
        devs = {"ext4": ext, "ext4_mountpoint": ext_mp, "parts": part, "part1": p1, "part2": p2, "btrfs": btr,
                "btrfs_mountpoint": btr_mp, "xfs": xfs, "xfs_mountpoint": xfs_mp, "empty": empty, "dirty": dirty,
                "backing_dir": str(tmp)}
        mine = [ext, part, btr, xfs, empty]

        record("lsblk", "json-all-columns-loops", "util-linux", ["lsblk", "-J", "-b", "-O", *mine], devs)
        record("lsblk", "pairs-pkname-loops", "util-linux",
               ["lsblk", "-P", "-b", "-o", "NAME,PATH,PKNAME,TYPE,SIZE,FSTYPE,LABEL,UUID,MOUNTPOINTS", *mine], devs)
        record("blkid", "export-nocache-loops", "util-linux",
               ["blkid", "-c", "/dev/null", "-o", "export", empty, ext, part, p1, p2, btr, xfs], devs)
        record("blkid", "probe-many-stops-at-empty", "util-linux", ["blkid", "-p", "-o", "export", empty, ext], devs)
        record("blkid", "probe-ext4-spaced-label", "util-linux", ["blkid", "-p", "-o", "export", "--", ext], devs)
        record("blkid", "probe-ext4-utf8-label", "util-linux", ["blkid", "-p", "-o", "export", "--", p1], devs)
        record("blkid", "probe-swap", "util-linux", ["blkid", "-p", "-o", "export", "--", p2], devs)
        record("blkid", "probe-gpt", "util-linux", ["blkid", "-p", "-o", "export", "--", part], devs)
        record("blkid", "probe-btrfs", "util-linux", ["blkid", "-p", "-o", "export", "--", btr], devs)
        record("blkid", "probe-xfs", "util-linux", ["blkid", "-p", "-o", "export", "--", xfs], devs)
        record("blkid", "probe-empty", "util-linux", ["blkid", "-p", "-o", "export", "--", empty], devs)
        record("findmnt", "json-all", "util-linux",
               ["findmnt", "-J", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS,FSROOT"], devs)
        record("findmnt", "pairs-all", "util-linux", ["findmnt", "-P", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS"], devs)
        record("losetup", "list-json-one", "util-linux",
               ["losetup", "--list", "--json", "-O", "NAME,BACK-FILE,RO,SIZELIMIT,OFFSET", "--", ext], devs)
        record("blockdev", "getsize64-ext4", "util-linux", ["blockdev", "--getsize64", ext], devs)
        record("swapon", "show-none", "util-linux", ["swapon", "--show=NAME", "--noheadings", "--raw"], devs)
        sh(["umount", ext_mp])
        mounts.remove(ext_mp)
        record("dumpe2fs", "header-ext4", "e2fsprogs", ["dumpe2fs", "-h", ext], devs)
        record("resize2fs", "minimum-ext4", "e2fsprogs", ["resize2fs", "-P", ext], devs)
        record("e2fsck", "check-clean", "e2fsprogs", ["e2fsck", "-f", "-n", ext], devs)
        record("e2fsck", "check-errors", "e2fsprogs", ["e2fsck", "-f", "-n", dirty], devs)
        record("e2fsck", "repair-fixed", "e2fsprogs", ["e2fsck", "-f", "-y", dirty], devs)
        record("xfs_info", "mounted", "xfsprogs", ["xfs_info", xfs_mp], devs)
        record("btrfs", "filesystem-show-raw", "btrfs", ["btrfs", "filesystem", "show", "--raw", btr_mp], devs)
        record("btrfs", "min-dev-size", "btrfs", ["btrfs", "inspect-internal", "min-dev-size", "--id=1", btr_mp], devs)
    finally:
        for mp in reversed(mounts):
            sh(["umount", mp], check=False)
        for dev in reversed(loops):
            sh(["losetup", "-d", dev], check=False)
        sh(["rm", "-rf", str(tmp)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
