"""Record real outputs of lsblk, blkid, findmnt, losetup and the filesystem tools into ``recordings/``.

Run as root on a machine with loop devices: ``python3 plugins/pybofh-blockdev/tests/record.py``. It builds loop
devices from sparse temp files (ext4 with a spaced label, a partitioned loop with a UTF-8 label and swap, btrfs,
xfs, an empty one), runs each command with ``LC_ALL=C``, and writes each as ``recordings/<tool>/<case>-<version>``
with ``pybofh_core.testing.write_recording``: stdout and stderr byte for byte, the side-car with argv, exit status
and the devices involved (``paths``). Everything it made is unmounted and detached at the end, also on failure.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent / "recordings"
sys.path.append(str(HERE.parents[3] / "pybofh_core"))  # pybofh_core.testing from this checkout if not installed

from pybofh_core.testing import write_recording  # noqa: E402

SWAP_UUID = "8d3f4b7e-3c1a-4e6b-9f0e-2b7c1d5a6e42"  # fixed so the resize recording's argv is reproducible
ENV = {**os.environ, "LC_ALL": "C", "LANG": "C"}


def sh(argv: list[str], *, check: bool = True, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run a set-up command (not recorded)."""
    return subprocess.run(argv, check=check, capture_output=True, env=ENV, input=input)


def version(tool: str) -> str:
    """The version of the package providing ``tool``."""
    pkg = {"util-linux": "util-linux", "e2fsprogs": "e2fsprogs", "xfsprogs": "xfsprogs", "btrfs": "btrfs-progs",
           "findutils": "findutils"}[tool]
    out = sh(["dpkg-query", "-W", "-f", "${Version}", pkg]).stdout.decode()
    return re.split(r"[-+~]", out)[0]


def record(tool_dir: str, case: str, pkg: str, argv: list[str], devices: dict[str, str]) -> None:
    """Run ``argv`` and store its outputs and side-car (``pybofh_core.testing.write_recording``)."""
    res = subprocess.run(argv, capture_output=True, env=ENV)
    ver = version(pkg)
    write_recording(HERE, tool_dir, case, ver, argv=argv, stdout=res.stdout, stderr=res.stderr,
                    returncode=res.returncode, paths=devices)
    print(f"{tool_dir}/{case}-{ver}: exit {res.returncode}, {len(res.stdout)} bytes")


def record_listing(devs: dict[str, str], cases: tuple[tuple[str, str], ...] = (("lsblk", "host-all"),
                                                                              ("blkid", "host-fill"))) -> None:
    """Record exactly the commands ``facts.list_devices()`` runs on this host (lsblk, then one blkid)."""
    from pybofh_blockdev import facts
    from pybofh_core.runner import LocalRunner, use_runner

    class Capture(LocalRunner):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[tuple[tuple[str, ...], object]] = []

        def _execute(self, argv, data, timeout, *, readonly, env):  # type: ignore[no-untyped-def]
            res = super()._execute(argv, data, timeout, readonly=readonly, env=env)
            self.seen.append((argv, res))
            return res

    cap = Capture()
    with use_runner(cap):
        facts.list_devices()
    assert len(cap.seen) == len(cases), f"list_devices ran {[a for a, _ in cap.seen]}, expected {cases}"
    for (argv, _), (tool, case) in zip(cap.seen, cases, strict=True):
        record(tool, case, "util-linux", list(argv), devs)


def record_labels(tmp: Path, loops: list[str]) -> None:
    """Labels blkid's export notation cannot spell exactly: Latin-1 bytes (not UTF-8) and a literal ``M-``.

    Two ext4 loop devices labelled ``Donn\\xe9es`` (``Données`` in Latin-1) and ``SYSTEM-A``: export and full
    output print both as ``M-`` notation that is not UTF-8 when read as bytes; ``-o udev`` (``ID_FS_LABEL_ENC``)
    is exact. ``list_devices()`` is recorded too: it makes the extra udev call for exactly these two.
    """
    devs: dict[str, str] = {"backing_dir": str(tmp)}
    for name, label in (("latin1", b"Donn\xe9es"), ("literal", b"SYSTEM-A")):
        img = tmp / f"label-{name}.img"
        with img.open("wb") as fh:
            fh.truncate(16 * 1024**2)
        dev = sh(["losetup", "--find", "--show", str(img)]).stdout.decode().strip()
        loops.append(dev)
        sh(["mkfs.ext4", "-q", dev])
        sh([b"e2label", dev.encode(), label])  # type: ignore[list-item]
        devs[name] = dev
    latin1, literal = devs["latin1"], devs["literal"]
    record("blkid", "probe-ext4-latin1-label", "util-linux", ["blkid", "-p", "-o", "export", "--", latin1], devs)
    record("blkid", "probe-udev-ext4-latin1-label", "util-linux", ["blkid", "-p", "-o", "udev", "--", latin1], devs)
    record("blkid", "export-nocache-odd-labels", "util-linux",
           ["blkid", "-c", "/dev/null", "-o", "export", latin1, literal], devs)
    record("blkid", "full-nocache-odd-labels", "util-linux", ["blkid", "-c", "/dev/null", latin1, literal], devs)
    record_listing(devs, (("lsblk", "host-odd-labels"), ("blkid", "host-fill-odd-labels"),
                          ("blkid", "host-udev-labels-odd-labels")))


def record_usage(tmp: Path, loops: list[str], mounts: list[str]) -> None:
    """What ``bofh status`` reads for filesystems: ``findmnt -J -b`` with SIZE, USED and AVAIL.

    An ext4 loop device holding a 5 MiB file, mounted at two places (one with a space in its path), and a btrfs
    loop device mounted at its top level and once more through a subvolume (findmnt shows ``/dev/loopN[/data]``).
    """
    devs: dict[str, str] = {"backing_dir": str(tmp)}
    for name, size in (("ext4", 64 * 1024**2), ("btrfs", 200 * 1024**2)):
        img = tmp / f"usage-{name}.img"
        with img.open("wb") as fh:
            fh.truncate(size)
        devs[name] = sh(["losetup", "--find", "--show", str(img)]).stdout.decode().strip()
        loops.append(devs[name])

    def do_mount(argv: list[str], where: Path) -> str:
        where.mkdir(parents=True, exist_ok=True)
        sh([*argv, str(where)])
        mounts.append(str(where))
        return str(where)

    sh(["mkfs.ext4", "-q", "-L", "usage", devs["ext4"]])
    devs["ext4_mountpoint"] = do_mount(["mount", devs["ext4"]], tmp / "mnt ext4")
    (Path(devs["ext4_mountpoint"]) / "five-mib").write_bytes(b"x" * 5 * 1024**2)
    sh(["sync"])
    devs["ext4_second_mountpoint"] = do_mount(["mount", devs["ext4"]], tmp / "mnt-ext4-again")
    sh(["mkfs.btrfs", "-q", "-L", "usage", devs["btrfs"]])
    devs["btrfs_mountpoint"] = do_mount(["mount", devs["btrfs"]], tmp / "mnt-btrfs")
    sh(["btrfs", "subvolume", "create", f"{devs['btrfs_mountpoint']}/data"])
    devs["btrfs_subvolume_mountpoint"] = do_mount(["mount", "-o", "subvol=data", devs["btrfs"]], tmp / "mnt-data")
    record("findmnt", "usage-bytes", "util-linux",
           ["findmnt", "-J", "-b", "-o", "TARGET,SOURCE,FSTYPE,SIZE,USED,AVAIL"], devs)


def main() -> int:
    """Build the loop devices, record, clean up (``record.py labels``: only :func:`record_labels`;
    ``record.py usage``: only :func:`record_usage`)."""
    if os.geteuid() != 0:
        print("record.py needs root (loop devices, mkfs, mount)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="pybofh-record-"))
    loops: list[str] = []
    mounts: list[str] = []
    if sys.argv[1:] in (["labels"], ["usage"]):
        try:
            (record_labels(tmp, loops) if sys.argv[1] == "labels" else record_usage(tmp, loops, mounts))
        finally:
            for mp in reversed(mounts):
                sh(["umount", mp], check=False)
            for dev in reversed(loops):
                sh(["losetup", "-d", dev], check=False)
            sh(["rm", "-rf", str(tmp)], check=False)
        return 0

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
        ext_mp = do_mount(ext, tmp / "mnt ext4", "ro")
        part = loop("parts", 96 * 1024**2)
        sh(["sfdisk", "-q", part], input=b"label: gpt\n,48M,L\n,,S\n")
        sh(["partx", "-u", part], check=False)
        p1, p2 = f"{part}p1", f"{part}p2"
        sh(["mkfs.ext4", "-q", "-L", "donn\u00e9es", p1])
        sh(["mkswap", "-L", "swap1", "-U", SWAP_UUID, p2])
        btr = loop("btrfs", 400 * 1024**2)
        sh(["mkfs.btrfs", "-q", "-L", "pool", btr])
        btr_mp = do_mount(btr, tmp / "mnt-btrfs")
        xfs = loop("xfs", 400 * 1024**2)
        sh(["mkfs.xfs", "-q", "-L", "xlabel", "-d", "size=320m", xfs])  # room to grow
        xfs_mp = do_mount(xfs, tmp / "mnt-xfs")
        empty = loop("empty", 16 * 1024**2)
        dirty = loop("dirty", 32 * 1024**2)
        sh(["mkfs.ext4", "-q", dirty])
        sh(["debugfs", "-w", "-R", "clri <11>", dirty])  # clear lost+found: e2fsck must report and fix it
        devs = {"ext4": ext, "ext4_mountpoint": ext_mp, "parts": part, "part1": p1, "part2": p2, "btrfs": btr,
                "btrfs_mountpoint": btr_mp, "xfs": xfs, "xfs_mountpoint": xfs_mp, "empty": empty, "dirty": dirty,
                "backing_dir": str(tmp)}
        mine = [ext, part, btr, xfs, empty]
        fm = ["findmnt", "-J", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS,FSROOT"]
        lo = ["losetup", "--list", "--json", "-O", "NAME,BACK-FILE,RO,SIZELIMIT,OFFSET"]

        def probe(case: str, dev: str) -> None:
            record("blkid", case, "util-linux", ["blkid", "-p", "-o", "export", "--", dev], devs)

        def size(case: str, dev: str) -> None:
            record("blockdev", case, "util-linux", ["blockdev", "--getsize64", dev], devs)

        # --- state 1: ext4 mounted ro with a spaced mountpoint, btrfs and xfs mounted rw -------------------------
        record("lsblk", "json-all-columns-loops", "util-linux", ["lsblk", "-J", "-b", "-O", *mine], devs)
        record("lsblk", "pairs-pkname-loops", "util-linux",
               ["lsblk", "-P", "-b", "-o", "NAME,PATH,PKNAME,TYPE,SIZE,FSTYPE,LABEL,UUID,MOUNTPOINTS", *mine], devs)
        record("blkid", "export-nocache-loops", "util-linux",
               ["blkid", "-c", "/dev/null", "-o", "export", empty, ext, part, p1, p2, btr, xfs], devs)
        record("blkid", "probe-many-stops-at-empty", "util-linux", ["blkid", "-p", "-o", "export", empty, ext], devs)
        probe("probe-ext4-spaced-label", ext)
        probe("probe-ext4-utf8-label", p1)
        probe("probe-swap", p2)
        probe("probe-gpt", part)
        probe("probe-btrfs", btr)
        probe("probe-xfs", xfs)
        probe("probe-empty", empty)
        record("findmnt", "json-all", "util-linux", fm, devs)
        record("findmnt", "pairs-all", "util-linux", ["findmnt", "-P", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS"], devs)
        record("losetup", "list-json-one", "util-linux", [*lo, "--", ext], devs)
        for name in ("ext4", "btrfs", "xfs", "part2", "empty"):
            size(f"getsize64-{name}", devs[name])
        record("swapon", "show-none", "util-linux", ["swapon", "--show=NAME", "--noheadings", "--raw"], devs)
        record_listing(devs)
        # --- attach a spare loop device, list all loops, detach it ---------------------------------------------------
        spare = tmp / "spare.img"
        with spare.open("wb") as fh:
            fh.truncate(8 * 1024**2)
        devs["spare_file"] = str(spare)
        record("losetup", "attach-find-show", "util-linux", ["losetup", "--show", "--find", "--", str(spare)], devs)
        spare_dev = (HERE / "losetup" / f"attach-find-show-{version('util-linux')}.txt").read_text().strip()
        loops.append(spare_dev)
        devs["spare"] = spare_dev
        record("losetup", "list-json-all", "util-linux", lo, devs)
        record("losetup", "detach", "util-linux", ["losetup", "--detach", spare_dev], devs)
        loops.remove(spare_dev)
        # --- xfs grow (mounted), btrfs shrink and grow back (mounted) ------------------------------------------------
        record("xfs_info", "mounted", "xfsprogs", ["xfs_info", xfs_mp], devs)
        record("xfs_growfs", "grow-blocks", "xfsprogs", ["xfs_growfs", "-D", "90000", xfs_mp], devs)
        record("xfs_info", "mounted-after-grow", "xfsprogs", ["xfs_info", xfs_mp], devs)
        record("btrfs", "filesystem-show-raw", "btrfs", ["btrfs", "filesystem", "show", "--raw", btr_mp], devs)
        record("btrfs", "min-dev-size", "btrfs", ["btrfs", "inspect-internal", "min-dev-size", "--id=1", btr_mp], devs)
        record("btrfs", "filesystem-resize-shrink", "btrfs",
               ["btrfs", "filesystem", "resize", "1:314572800", btr_mp], devs)
        record("btrfs", "filesystem-show-raw-after-shrink", "btrfs",
               ["btrfs", "filesystem", "show", "--raw", btr_mp], devs)
        record("btrfs", "filesystem-resize-grow", "btrfs",
               ["btrfs", "filesystem", "resize", "1:419430400", btr_mp], devs)
        # --- state 2: ext4 unmounted; shrink it (e2fsck first) and grow it back --------------------------------------
        record("umount", "ext4", "util-linux", ["umount", "--", ext_mp], devs)
        mounts.remove(ext_mp)
        record("findmnt", "json-ext4-unmounted", "util-linux", fm, devs)
        record("dumpe2fs", "header-ext4", "e2fsprogs", ["dumpe2fs", "-h", ext], devs)
        record("resize2fs", "minimum-ext4", "e2fsprogs", ["resize2fs", "-P", ext], devs)
        record("e2fsck", "check-clean", "e2fsprogs", ["e2fsck", "-f", "-n", ext], devs)
        record("e2fsck", "repair-clean", "e2fsprogs", ["e2fsck", "-f", "-y", ext], devs)
        record("resize2fs", "shrink-ext4", "e2fsprogs", ["resize2fs", ext, "32768K"], devs)
        record("dumpe2fs", "header-ext4-after-shrink", "e2fsprogs", ["dumpe2fs", "-h", ext], devs)
        record("resize2fs", "grow-ext4", "e2fsprogs", ["resize2fs", ext, "65536K"], devs)
        record("e2label", "set", "e2fsprogs", ["e2label", ext, "new label"], devs)
        record("e2label", "set-back", "e2fsprogs", ["e2label", ext, "my disk"], devs)
        # --- mount it again (not read-only) and see it in findmnt ----------------------------------------------------
        record("mount", "ext4", "util-linux", ["mount", "--", ext, ext_mp], devs)
        mounts.append(ext_mp)
        record("findmnt", "json-ext4-mounted-rw", "util-linux", fm, devs)
        # --- a damaged ext4: check finds errors (exit 4), repair fixes them (exit 1) ----------------------------------
        probe("probe-ext4-damaged", dirty)
        record("e2fsck", "check-errors", "e2fsprogs", ["e2fsck", "-f", "-n", dirty], devs)
        record("e2fsck", "repair-fixed", "e2fsprogs", ["e2fsck", "-f", "-y", dirty], devs)
        # --- swap: re-made smaller keeping label and UUID; the empty device gets ext4 ------------------------------
        record("mkswap", "resize-keep-label-uuid", "util-linux",
               ["mkswap", "-L", "swap1", "-U", SWAP_UUID, "--", p2, "40960"], devs)
        record("mkfs.ext4", "quiet-label", "e2fsprogs", ["mkfs.ext4", "-q", "-L", "fresh", "--", empty], devs)
        record_labels(tmp, loops)
    finally:
        for mp in reversed(mounts):
            sh(["umount", mp], check=False)
        for dev in reversed(loops):
            sh(["losetup", "-d", dev], check=False)
        sh(["rm", "-rf", str(tmp)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
