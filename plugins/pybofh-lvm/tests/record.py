"""Record real LVM outputs for the unit tests: ``python3 plugins/pybofh-lvm/tests/record.py [--where host|vm]``.

Builds LVM state on loop devices backed by temp files, runs the exact commands :mod:`pybofh_lvm.facts` runs (with
``LC_ALL=C``), and writes each with ``pybofh_core.testing.write_recording`` as
``recordings/<tool>/<case>-<lvmversion>``: stdout, stderr, and the side-car with argv, exit code, where it ran,
and the *expected* key fields, taken from what the script set up (names, sizes asked for, extent counts), never
from the parser under test.

On the host (no device-mapper) LVs are created with ``--driverloaded n`` (metadata only), so ``lvs`` reports their
state as unknown (``X``); inside the VM test bed (``--where vm``) they are really active. Everything made is
removed and every loop device detached at the end, also on failure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REC = HERE / "recordings"
sys.path.insert(0, str(HERE.parent))
sys.path.append(str(HERE.parents[2] / "pybofh_core"))  # pybofh_core from this checkout if not installed

from pybofh_core.testing import SIDECAR, write_recording  # noqa: E402
from pybofh_lvm import facts  # noqa: E402

VG = "pybofhrec"
MIB = 1024**2
ENV = {**os.environ, "LC_ALL": "C", "LANG": "C"}


def sh(argv: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """Run a set-up command (not a recorded one)."""
    proc = subprocess.run(list(argv), env=ENV, stdin=subprocess.DEVNULL, capture_output=True, check=False)
    if check and proc.returncode:
        raise RuntimeError(f"{argv} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}")
    return proc


def has_dm() -> bool:
    """Whether this kernel has device-mapper (the /dev/mapper/control node alone proves nothing)."""
    return "device-mapper" in Path("/proc/misc").read_text()


def lvm_version() -> str:
    out = sh(["lvm", "version"]).stdout.decode()
    m = re.search(r"LVM version:\s+(\d+\.\d+\.\d+)", out)
    if not m:
        raise RuntimeError(f"cannot read the LVM version from {out!r}")
    return m.group(1)


class Recorder:
    """Writes one case: runs argv for real, stores stdout/stderr and the meta with expectations."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.version = lvm_version()
        self.written: list[Path] = []

    def record(self, tool: str, case: str, argv: Sequence[str], expected: Any, *, ok_codes: Sequence[int] = (0,),
               note: str = "") -> None:
        proc = sh(argv, check=False)
        if proc.returncode not in ok_codes:
            raise RuntimeError(f"{argv} exited {proc.returncode}: {proc.stderr.decode(errors='replace')}")
        self.written.append(write_recording(
            REC, tool, case, self.version, argv=list(argv), stdout=proc.stdout, stderr=proc.stderr,
            returncode=proc.returncode, where=self.where, note=note or None, expected=expected))


@contextmanager
def loops(count: int, size: int) -> Iterator[list[str]]:
    """``count`` loop devices backed by sparse files; detached (and their LVM state wiped) at the end."""
    tmp = tempfile.mkdtemp(prefix="pybofh-lvm-rec-")
    devs: list[str] = []
    try:
        for i in range(count):
            img = Path(tmp) / f"d{i}.img"
            with img.open("wb") as fh:
                fh.truncate(size)
            devs.append(sh(["losetup", "--find", "--show", str(img)]).stdout.decode().strip())
        yield devs
    finally:
        nodm = [] if has_dm() else ["--driverloaded", "n"]
        sh(["vgremove", "--yes", *nodm, VG], check=False)
        for dev in devs:
            sh(["pvremove", "--yes", "--force", "--force", dev], check=False)
            sh(["losetup", "-d", dev], check=False)
        for f in Path(tmp).iterdir():
            f.unlink()
        os.rmdir(tmp)


def record_host(rec: Recorder) -> None:
    """Cases that need no device-mapper: PVs, VGs, and metadata-only (inactive, state unknown) LVs."""
    nodm = [] if has_dm() else ["--driverloaded", "n"]
    size = 300 * MIB
    with loops(2, size) as (a, b):
        rec.record("pvs", "two-loops-no-pv", facts.pvs_argv(), {"absent": [a, b]},
                   note="no PV on the recorder's loops (other PVs of the machine may be listed)")
        sh(["pvcreate", a])
        sh(["pvcreate", b])
        sh(["vgcreate", "-s", "4m", VG, a])
        extents = (size - MIB) // (4 * MIB)
        rec.record("pvs", "vg-and-orphan", facts.pvs_argv(), {
            "pvs": [
                {"name": a, "vg": VG, "size_bytes": extents * 4 * MIB, "free_bytes": extents * 4 * MIB,
                 "dev_size_bytes": size, "pe_start": MIB, "attr": "a--"},
                {"name": b, "vg": None, "size_bytes": size, "free_bytes": size, "dev_size_bytes": size,
                 "pe_start": MIB, "attr": "---"},
            ]})
        rec.record("vgs", "one-vg-empty", facts.vgs_argv(), {
            "vgs": [{"name": VG, "extent_size": 4 * MIB, "extent_count": extents, "free_count": extents,
                     "size_bytes": extents * 4 * MIB, "free_bytes": extents * 4 * MIB, "pv_count": 1, "lv_count": 0,
                     "attr": "wz--n-"}]})
        rec.record("lvs", "vg-without-lvs", facts.lvs_argv(), {"lvs": [], "vg": VG})
        sh(["lvcreate", *nodm, "--yes", "-an", "-Zn", "-n", "data", "-L", f"{64 * MIB}b", "--", VG])
        sh(["lvcreate", *nodm, "--yes", "-an", "-Zn", "-n", "with-dash", "-L", f"{8 * MIB}b", "--", VG])
        sh(["vgextend", "--", VG, b])
        lvs = [
            {"vg": VG, "name": "data", "size_bytes": 64 * MIB, "hidden": False, "segtype": "linear",
             "path": f"/dev/{VG}/data", "dm_path": f"/dev/mapper/{VG}-data"},
            {"vg": VG, "name": "with-dash", "size_bytes": 8 * MIB, "hidden": False, "segtype": "linear",
             "path": f"/dev/{VG}/with-dash", "dm_path": f"/dev/mapper/{VG}-with--dash"},
        ]
        state = "unknown" if nodm else "inactive"
        want = {"lvs": lvs, "vg": VG, "active": None if nodm else False}
        rec.record("lvs", f"two-lvs-{state}", facts.lvs_argv(), want,
                   note="LVs created with -an; without device-mapper their state is X (unknown)")
        rec.record("vgs", "two-pvs-two-lvs", facts.vgs_argv(), {
            "vgs": [{"name": VG, "extent_size": 4 * MIB, "extent_count": 2 * extents,
                     "free_count": 2 * extents - 18, "pv_count": 2, "lv_count": 2, "attr": "wz--n-"}]})
        rec.record("lvm", "fullreport-two-pvs-two-lvs", facts.fullreport_argv(), {
            "vgs": [VG], "pvs": {a: VG, b: VG}, "lvs": [lv["name"] for lv in lvs]})
        sh(["lvresize", *nodm, "--yes", "-L", f"{128 * MIB}b", "--", f"{VG}/data"])
        resized = [dict(lvs[0], size_bytes=128 * MIB), lvs[1]]
        rec.record("lvs", f"data-resized-128m-{state}", facts.lvs_argv(),
                   {"lvs": resized, "vg": VG, "active": None if nodm else False},
                   note="two-lvs after lvresize -L 128m of data")
        rec.record("pvs", "two-pvs-in-vg", facts.pvs_argv(), {
            "pvs": [{"name": d, "vg": VG, "size_bytes": extents * 4 * MIB, "dev_size_bytes": size, "pe_start": MIB}
                    for d in (a, b)]})
        sh(["pvresize", "--yes", "--setphysicalvolumesize", f"{200 * MIB}b", "--", b])
        rec.record("pvs", "setphysicalvolumesize-200m", facts.pvs_argv(), {
            "pvs": [{"name": b, "vg": VG, "size_bytes": (200 * MIB - MIB) // (4 * MIB) * 4 * MIB,
                     "dev_size_bytes": size, "pe_start": MIB}]})
        if nodm:
            rec.record("lvcreate", "no-device-mapper-error",
                       ["lvcreate", "--yes", "-n", "x", "-L", f"{4 * MIB}b", "--", VG], None, ok_codes=(3, 5),
                       note="lvcreate on a kernel without device-mapper")


def record_vm(rec: Recorder) -> None:
    """Cases that need device-mapper (run inside the VM test bed): active, thin, snapshot, open, missing PV."""
    size = 300 * MIB
    mnt = tempfile.mkdtemp(prefix="pybofh-lvm-rec-mnt-")
    with loops(2, size) as (a, b):
        try:
            sh(["pvcreate", a])
            sh(["pvcreate", b])
            sh(["vgcreate", "-s", "4m", VG, a, b])
            sh(["lvcreate", "--yes", "-n", "data", "-L", f"{64 * MIB}b", "--", VG])
            sh(["lvcreate", "--yes", "--type", "thin-pool", "--poolmetadataspare", "n", "-n", "pool", "-L",
                f"{64 * MIB}b", "--", VG])
            sh(["lvcreate", "--yes", "--type", "thin", "-n", "thin1", "-V", f"{128 * MIB}b", "--thinpool", "pool",
                "--", VG])
            sh(["lvcreate", "--yes", "-s", "-n", "thin1-snap", "--", f"{VG}/thin1"])
            sh(["lvcreate", "--yes", "-s", "-n", "data-snap", "-L", f"{16 * MIB}b", "--", f"{VG}/data"])
            lvs = [
                {"name": "data", "size_bytes": 64 * MIB, "hidden": False, "kind": "ORIGIN", "active": True},
                {"name": "data-snap", "size_bytes": 16 * MIB, "hidden": False, "kind": "SNAPSHOT", "active": True,
                 "origin": "data"},
                {"name": "pool", "size_bytes": 64 * MIB, "hidden": False, "kind": "THIN_POOL", "active": True},
                {"name": "pool_tdata", "size_bytes": 64 * MIB, "hidden": True, "kind": "THIN_POOL_DATA"},
                {"name": "pool_tmeta", "hidden": True, "kind": "METADATA"},
                {"name": "thin1", "size_bytes": 128 * MIB, "hidden": False, "kind": "THIN", "active": True,
                 "pool": "pool"},
                {"name": "thin1-snap", "size_bytes": 128 * MIB, "hidden": False, "kind": "THIN", "active": False,
                 "pool": "pool", "origin": "thin1"},
            ]
            rec.record("lvs", "thin-and-snapshots-active", facts.lvs_argv(), {"lvs": lvs, "vg": VG})
            rec.record("vgs", "two-pvs-thin-and-snapshots", facts.vgs_argv(), {
                "vgs": [{"name": VG, "extent_size": 4 * MIB, "pv_count": 2, "lv_count": 5, "snap_count": 1,
                         "attr": "wz--n-"}]})
            rec.record("lvm", "fullreport-thin-and-snapshots", facts.fullreport_argv(), {
                "vgs": [VG], "pvs": {a: VG, b: VG},
                "lvs": ["data", "data-snap", "pool", "thin1", "thin1-snap"]},
                note="fullreport lists no hidden sub-LVs (pool_tdata, pool_tmeta) without --all")
            sh(["lvremove", "--yes", "--", f"{VG}/data-snap"])
            sh(["mkfs.ext4", "-q", f"/dev/{VG}/data"])
            sh(["mount", f"/dev/{VG}/data", mnt])
            try:
                rec.record("lvs", "data-mounted", facts.lvs_argv(), {"vg": VG, "lvs": [
                    {"name": "data", "size_bytes": 64 * MIB, "kind": "NORMAL", "active": True, "open": True},
                    {"name": "thin1", "kind": "THIN", "active": True, "open": False}], "partial": True})
            finally:
                sh(["umount", mnt])
            sh(["lvchange", "--activate", "n", "--", f"{VG}/thin1"])
            sh(["lvchange", "--activate", "n", "--", f"{VG}/data"])
            rec.record("lvs", "data-and-thin1-inactive", facts.lvs_argv(), {"vg": VG, "lvs": [
                {"name": "data", "kind": "NORMAL", "active": False, "open": False},
                {"name": "thin1", "kind": "THIN", "active": False}], "partial": True})
            sh(["lvremove", "--yes", "--", f"{VG}/thin1-snap", f"{VG}/thin1", f"{VG}/pool", f"{VG}/data"])
            sh(["lvcreate", "--yes", "-n", "ona", "-L", f"{8 * MIB}b", "--", VG, a])
            sh(["losetup", "-d", b])
            rec.record("pvs", "missing-pv", facts.pvs_argv(), {"pvs": [
                {"name": a, "vg": VG, "missing": False}, {"name": "[unknown]", "vg": VG, "missing": True}]})
            rec.record("vgs", "partial-missing-pv", facts.vgs_argv(), {"vgs": [
                {"name": VG, "partial": True, "missing_pv_count": 1, "pv_count": 2, "lv_count": 1}]})
            rec.record("lvs", "partial-vg", facts.lvs_argv(), {"vg": VG, "lvs": [
                {"name": "ona", "size_bytes": 8 * MIB, "active": True}]})
        finally:
            sh(["umount", mnt], check=False)
            os.rmdir(mnt)
            sh(["vgchange", "--activate", "n", VG], check=False)
            sh(["vgreduce", "--removemissing", "--force", VG], check=False)


def bundle(sidecars: Sequence[Path]) -> str:
    """The recordings (side-cars and the .txt/.stderr.txt beside them) as one JSON line, to carry out of the VM."""
    files = {}
    for sidecar in sidecars:
        base = str(sidecar)[: -len(SIDECAR)]
        for p in (sidecar, Path(base + ".txt"), Path(base + ".stderr.txt")):
            if p.exists():
                files[str(p.relative_to(HERE))] = p.read_text()
    return json.dumps(files)


def unbundle(line: str) -> list[str]:
    """Write files carried out of the VM by :func:`bundle` under tests/."""
    files = json.loads(line)
    for rel, text in files.items():
        target = HERE / rel
        if not target.resolve().is_relative_to(REC):
            raise ValueError(f"refusing to write {rel} outside recordings/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return sorted(files)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--where", choices=["host", "vm"], default="host")
    parser.add_argument("--bundle", action="store_true", help="print the recordings as one JSON line (VM)")
    parser.add_argument("--unbundle", type=Path, help="write the recordings of a --bundle output file")
    args = parser.parse_args(argv)
    if args.unbundle:
        for line in args.unbundle.read_text().splitlines():
            if line.startswith("PYBOFH-LVM-BUNDLE "):
                print("\n".join(unbundle(line.split(" ", 1)[1])))
        return 0
    if os.geteuid() != 0:
        print("record.py needs root (loop devices, LVM)", file=sys.stderr)
        return 2
    rec = Recorder(args.where)
    if args.where == "host":
        record_host(rec)
    else:
        record_vm(rec)
    for path in rec.written:
        print(path.relative_to(HERE))
    if args.bundle:
        print("PYBOFH-LVM-BUNDLE " + bundle(rec.written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
