"""Record real DRBD outputs between the two guests of the VM test bed (run by hand from the project root).

    python3 plugins/pybofh-drbd/tests/record_vm.py           # the two-guest life cycle
    python3 plugins/pybofh-drbd/tests/record_vm.py --sysfs   # one guest: device size of a Secondary

The guests run Debian 12's kernel (in-tree DRBD 8.4.11) with drbd-utils 9.22.0. One resource over an LV on each
guest goes through create-md, up, initial sync (sampled while it runs), disconnect/connect, secondary and down;
/proc/drbd and the drbdadm/drbdsetup outputs of each stage go to recordings/{proc_drbd,drbdadm,blkid,drbdsetup}/,
written by ``pybofh_core.testing.write_recording`` (argv, exit code, stdout, stderr; the ``-exitN`` cases keep
stderr appended to stdout, as the tests replay them).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path[:0] = [str(ROOT), str(HERE)]
sys.path.append(str(ROOT / "pybofh_core"))  # pybofh_core.testing from this checkout if not installed

import vmpair  # noqa: E402

from pybofh_core.testing import write_recording  # noqa: E402
from tests.vm.guest import Guest, GuestConfig, GuestPair, Result  # noqa: E402

REC = HERE / "recordings"
MIB = 1024 * 1024
CAT = ["cat", "/proc/drbd"]
MERGED = "stdout and stderr together, as the tests read them"


def save(kind: str, case: str, version: str, res: Result, *, merged: bool = False) -> None:
    """Write one recording with ``pybofh_core.testing.write_recording`` as recordings/<kind>/<case>-<version>:
    argv, exit code and outputs (``merged``: stderr appended to stdout in ``.txt``, as the tests replay it)."""
    stdout, stderr = (res.stdout + res.stderr, b"") if merged else (res.stdout, res.stderr)
    write_recording(REC, kind, case, version, argv=list(res.argv), stdout=stdout, stderr=stderr,
                    returncode=res.returncode, where="vm", note=MERGED if merged else None)
    print("recorded", kind, case, flush=True)


def run(guest: Any, argv: list[str], ok: tuple[int, ...] | None = (0,)) -> Result:
    """Run argv in the guest with LC_ALL=C; fail loudly on an exit code not in ``ok`` (None: any)."""
    res: Result = guest.run(argv, env={"LC_ALL": "C"}, timeout=120)
    if ok is not None and res.returncode not in ok:
        raise SystemExit(f"{argv} exited {res.returncode}: {res.err}")
    return res


def out(guest: Any, argv: list[str], ok: tuple[int, ...] = (0,)) -> bytes:
    """Run argv in the guest with LC_ALL=C and return stdout; fail loudly on an unexpected exit code."""
    return run(guest, argv, ok).stdout


def main() -> None:
    """Boot the pair, walk the resource through its life, record every stage, tear down."""
    with GuestPair(GuestConfig(source_dir=ROOT, disks=(256 * MIB,))) as (a, b):
        k = "8.4.11"
        u = "9.22.0"
        disks = {a: vmpair.scratch_disk(a), b: vmpair.scratch_disk(b)}
        try:
            for g in (a, b):
                vmpair.setup_node(g, disks[g])
            save("proc_drbd", "loaded-no-resources", k, run(a, CAT))
            save("drbdadm", "dump_r0-guest", f"{u}-k{k}", run(a, ["drbdadm", "dump", "r0"]))
            save("drbdadm", "sh-resources_guest", f"{u}-k{k}", run(a, ["drbdadm", "sh-resources"]))
            save("drbdadm", "sh-minor_r0-guest", f"{u}-k{k}", run(a, ["drbdadm", "sh-minor", "r0"]))
            save("drbdadm", "sh-ll-dev_r0-guest", f"{u}-k{k}", run(a, ["drbdadm", "sh-ll-dev", "r0"]))
            res = run(a, ["drbdadm", "status", "r0"], ok=None)
            save("drbdadm", f"status_r0-down-exit{res.returncode}", f"{u}-k{k}", res, merged=True)
            for g in (a, b):
                out(g, ["drbdadm", "create-md", "--force", "r0"])
            lv = f"/dev/{vmpair.VG}/{vmpair.LV}"
            save("blkid", "probe_export_drbd-meta", k, run(a, ["blkid", "-p", "-o", "export", lv]))
            for g in (a, b):
                out(g, ["drbdadm", "up", "r0"])
            for _ in range(120):
                if b"cs:Connected" in out(a, CAT):
                    break
                time.sleep(0.5)
            save("proc_drbd", "connected_inconsistent", k, run(a, CAT))
            save("drbdadm", "status_r0-connected", f"{u}-k{k}", run(a, ["drbdadm", "status", "r0"]))
            res = run(a, ["drbdsetup", "status", "--json", "r0"], ok=None)
            save("drbdsetup", f"status-json_r0-exit{res.returncode}", f"{u}-k{k}", res, merged=True)
            save("drbdsetup", "show_r0", f"{u}-k{k}", run(a, ["drbdsetup", "show", "r0"]))
            out(a, ["drbdadm", "primary", "--force", "r0"])
            got_source = got_target = False
            for _ in range(400):
                pa = run(a, CAT)
                if b"sync'ed:" in pa.stdout and not got_source:
                    save("proc_drbd", "syncsource_primary", k, pa)
                    save("drbdadm", "status_r0-syncsource", f"{u}-k{k}", run(a, ["drbdadm", "status", "r0"]))
                    got_source = True
                pb = run(b, CAT)
                if b"sync'ed:" in pb.stdout and not got_target:
                    save("proc_drbd", "synctarget_secondary", k, pb)
                    got_target = True
                if b"ds:UpToDate/UpToDate" in pa.stdout:
                    break
                time.sleep(0.3)
            save("proc_drbd", "synced_primary", k, run(a, CAT))
            save("proc_drbd", "synced_secondary", k, run(b, CAT))
            save("drbdadm", "status_r0-synced", f"{u}-k{k}", run(a, ["drbdadm", "status", "r0"]))
            save("blockdev", "getsize64_drbd0", k, run(a, ["blockdev", "--getsize64", "/dev/drbd0"]))
            out(a, ["drbdadm", "disconnect", "r0"])
            save("proc_drbd", "standalone_primary", k, run(a, CAT))
            save("proc_drbd", "wfconnection_secondary", k, run(b, CAT))
            out(a, ["drbdadm", "connect", "r0"])
            out(a, ["drbdadm", "secondary", "r0"])
            time.sleep(2)
            save("proc_drbd", "connected_secondary", k, run(a, CAT))
            out(a, ["drbdadm", "down", "r0"])
            save("proc_drbd", "after-down", k, run(a, CAT))
            res = run(a, ["drbdadm", "status", "r0"], ok=None)
            save("drbdadm", f"status_r0-after-down-exit{res.returncode}", f"{u}-k{k}", res, merged=True)
        finally:
            for g in (a, b):
                vmpair.teardown_node(g, disks[g])


def sysfs() -> None:
    """One guest, the resource up as Secondary without its peer: its size from sysfs, and blockdev refusing it."""
    with Guest(GuestConfig(hostname=vmpair.NODES[0][0], source_dir=ROOT, disks=(256 * MIB,))) as g:
        disk = vmpair.scratch_disk(g)
        try:
            out(g, ["ip", "addr", "add", f"{vmpair.NODES[0][1]}/32", "dev", "lo"])  # the node's address, no peer
            vmpair.setup_node(g, disk)
            out(g, ["drbdadm", "create-md", "--force", "r0"])
            out(g, ["drbdadm", "up", "r0"])
            save("sysfs", "block-drbd0-size_secondary", "8.4.11", run(g, ["cat", "/sys/block/drbd0/size"]))
            res = run(g, ["blockdev", "--getsize64", "/dev/drbd0"], ok=None)
            save("blockdev", f"getsize64_drbd0-secondary-exit{res.returncode}", "8.4.11", res, merged=True)
        finally:
            vmpair.teardown_node(g, disk)


if __name__ == "__main__":
    sysfs() if "--sysfs" in sys.argv[1:] else main()
