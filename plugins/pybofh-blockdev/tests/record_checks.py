"""Record the read-only commands of pybofh's data checks and identities, on the same layout as ``record.py``.

``record.py`` recorded one story on loop devices; this rebuilds that layout at the same loop numbers and paths (read
from the story's recordings), so the new outputs name the same devices, and records what the data checks and undo
identities run: ``wipefs --no-act --json``, ``lsblk --tree``, ``find`` on a mountpoint, ``losetup --list`` with the
backing file's inode, ``e2fsck -f -p``, and the filesystems' own sizes. Run as root:
``python3 plugins/pybofh-blockdev/tests/record_checks.py``. Everything is unmounted and detached at the end.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from record import HERE, SWAP_UUID, record, sh, version  # record puts pybofh_core on the path if needed

from pybofh_core.testing import Recordings


def main() -> int:
    """Rebuild the story's layout at its device names, record, clean up."""
    if os.geteuid() != 0:
        print("record_checks.py needs root", file=sys.stderr)
        return 2
    story = Recordings(HERE)  # the devices and paths record.py's run used, from its side-cars
    devs = {**story.get("losetup", "list-json-all").paths, **story.get("lsblk", "json-all-columns-loops").paths}
    tmp = Path(devs["backing_dir"])
    if tmp.exists():
        print(f"{tmp} exists; remove it first", file=sys.stderr)
        return 2
    tmp.mkdir()
    loops: list[str] = []
    mounts: list[str] = []

    def loop(name: str, size: int, device: str) -> str:
        img = tmp / f"{name}.img"
        with img.open("wb") as fh:
            fh.truncate(size)
        sh(["losetup", "--partscan", device, str(img)])
        loops.append(device)
        return device

    def do_mount(dev: str, where: str, *opts: str) -> None:
        Path(where).mkdir(parents=True, exist_ok=True)
        sh(["mount", *(["-o", ",".join(opts)] if opts else []), dev, where])
        mounts.append(where)

    try:
        ext = loop("ext4", 64 * 1024**2, devs["ext4"])
        sh(["mkfs.ext4", "-q", "-L", "my disk", ext])
        do_mount(ext, devs["ext4_mountpoint"], "ro")
        part = loop("parts", 96 * 1024**2, devs["parts"])
        sh(["sfdisk", "-q", part], input=b"label: gpt\n,48M,L\n,,S\n")
        sh(["partx", "-u", part], check=False)
        sh(["mkfs.ext4", "-q", "-L", "donn\u00e9es", devs["part1"]])
        sh(["mkswap", "-L", "swap1", "-U", SWAP_UUID, devs["part2"]])
        btr = loop("btrfs", 400 * 1024**2, devs["btrfs"])
        sh(["mkfs.btrfs", "-q", "-L", "pool", btr])
        do_mount(btr, devs["btrfs_mountpoint"])
        xfs = loop("xfs", 400 * 1024**2, devs["xfs"])
        sh(["mkfs.xfs", "-q", "-L", "xlabel", "-d", "size=320m", xfs])
        do_mount(xfs, devs["xfs_mountpoint"])
        loop("empty", 16 * 1024**2, devs["empty"])
        dirty = loop("dirty", 32 * 1024**2, devs["dirty"])
        sh(["mkfs.ext4", "-q", dirty])
        sh(["debugfs", "-w", "-R", "clri <2>", dirty])  # the root inode: more than an unattended preen fixes
        spare = Path(devs["spare_file"])
        with spare.open("wb") as fh:
            fh.truncate(8 * 1024**2)
        loop("spare", 8 * 1024**2, devs["spare"])

        for name in ("empty", "ext4", "parts", "btrfs"):
            record("wipefs", f"json-{name}", "util-linux", ["wipefs", "--no-act", "--json", "--", devs[name]], devs)
            record("lsblk", f"tree-usage-{name}", "util-linux",
                   ["lsblk", "--json", "--bytes", "--tree", "-o", "PATH,TYPE,MOUNTPOINTS", "--", devs[name]], devs)
        record("find", "first-entry-mounted-ext4", "findutils",
               ["find", devs["ext4_mountpoint"], "-mindepth", "1", "-maxdepth", "1", "-print", "-quit"], devs)
        record("losetup", "list-json-ids", "util-linux",
               ["losetup", "--list", "--json", "-O", "NAME,BACK-FILE,RO,SIZELIMIT,OFFSET,BACK-INO,BACK-MAJ:MIN"], devs)
        record("btrfs", "dump-super", "btrfs", ["btrfs", "inspect-internal", "dump-super", btr], devs)
        record("xfs_db", "size", "xfsprogs", ["xfs_db", "-r", "-c", "sb 0", "-c", "p dblocks", "-c", "p blocksize",
                                               xfs], devs)
        sh(["umount", devs["ext4_mountpoint"]])
        mounts.remove(devs["ext4_mountpoint"])
        record("find", "first-entry-empty-dir", "findutils",
               ["find", devs["ext4_mountpoint"], "-mindepth", "1", "-maxdepth", "1", "-print", "-quit"], devs)
        record("e2fsck", "preen-clean", "e2fsprogs", ["e2fsck", "-f", "-p", ext], devs)
        record("e2fsck", "preen-refuses", "e2fsprogs", ["e2fsck", "-f", "-p", dirty], devs)
    finally:
        for mp in reversed(mounts):
            sh(["umount", mp], check=False)
        for dev in reversed(loops):
            sh(["partx", "-d", dev], check=False)
            sh(["losetup", "-d", dev], check=False)
        sh(["rm", "-rf", str(tmp)], check=False)
    return 0


if __name__ == "__main__":
    assert version  # the recording file names carry the tool versions
    sys.exit(main())
