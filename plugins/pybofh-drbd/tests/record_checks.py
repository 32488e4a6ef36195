"""Record what ``create_md``'s data check reads, on a real loop device of this host (run by hand, as root):

    python3 plugins/pybofh-drbd/tests/record_checks.py

A 64 MiB loop device backed by a sparse file: ``wipefs --no-act --json`` and ``lsblk --tree`` while it is empty,
then ``drbdadm-84 create-md --force`` (no kernel module needed; the 8.4 drbdadm writes the v08 metadata the guests'
DRBD 8.4.11 uses) and ``wipefs`` again: the metadata is a signature (``drbd``) at the end of the disk. The outputs
go to recordings/{wipefs,lsblk}/ (``pybofh_core.testing.write_recording``), each side-car naming the loop device
(``$disk`` in argv, ``paths``); the loop is detached and its file removed at the end, also on failure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.append(str(HERE.parents[2] / "pybofh_core"))  # pybofh_core.testing from this checkout if not installed

from pybofh_core.testing import write_recording  # noqa: E402

REC = HERE / "recordings"
DRBDADM_84 = "/usr/lib/drbd/drbdadm-84"
ENV = {**os.environ, "LC_ALL": "C", "LANG": "C"}


def run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """Run a command with LC_ALL=C; fail loudly when ``check`` and it fails."""
    res = subprocess.run(argv, capture_output=True, env=ENV)
    if check and res.returncode != 0:
        raise SystemExit(f"{argv} failed ({res.returncode}): {res.stderr.decode()}")
    return res


def save(kind: str, case: str, argv: list[str], disk: str) -> None:
    """Run ``argv`` (it must succeed) and write it with ``pybofh_core.testing.write_recording`` as
    recordings/<kind>/<case>-<util-linux version>: the loop device is ``$disk`` in argv, named in ``paths``."""
    version = run(["wipefs", "--version"]).stdout.decode().split()[-1]
    res = run(argv)
    write_recording(REC, kind, case, version, argv=[a.replace(disk, "$disk") for a in argv], stdout=res.stdout,
                    stderr=res.stderr, returncode=res.returncode, paths={"disk": disk}, where="host")
    print("recorded", kind, case)


def main() -> None:
    """Set up the loop device, record, clean up."""
    with tempfile.TemporaryDirectory(prefix="pybofh-drbd-checks-") as d:
        img = Path(d) / "disk.img"
        with img.open("wb") as fh:
            fh.truncate(64 * 1024 * 1024)
        loop = run(["losetup", "--find", "--show", str(img)]).stdout.decode().strip()
        try:
            cfg = Path(d) / "t0.res"
            cfg.write_text(f"resource t0 {{\n  device /dev/drbd5;\n  disk {loop};\n  meta-disk internal;\n"
                           f"  on {socket.gethostname()} {{ address 192.0.2.1:7789; }}\n"
                           "  on peer { address 192.0.2.2:7789; }\n}\n")
            lsblk = ["lsblk", "--json", "--bytes", "--tree", "-o", "PATH,TYPE,MOUNTPOINTS", "--", loop]
            wipefs = ["wipefs", "--no-act", "--json", "--", loop]
            save("wipefs", "json_empty-disk", wipefs, loop)
            save("lsblk", "tree-usage_empty-disk", lsblk, loop)
            run([DRBDADM_84, "-c", str(cfg), "create-md", "--force", "t0"])
            save("wipefs", "json_drbd-v08-metadata", wipefs, loop)
        finally:
            run(["losetup", "-d", loop], check=False)


if __name__ == "__main__":
    main()
