"""Record what ``create_md``'s data check reads, on a real loop device of this host (run by hand, as root):

    python3 plugins/pybofh-drbd/tests/record_checks.py

A 64 MiB loop device backed by a sparse file: ``wipefs --no-act --json`` and ``lsblk --tree`` while it is empty,
then ``drbdadm-84 create-md --force`` (no kernel module needed; the 8.4 drbdadm writes the v08 metadata the guests'
DRBD 8.4.11 uses) and ``wipefs`` again: the metadata is a signature (``drbd``) at the end of the disk. The outputs
go to recordings/{wipefs,lsblk}/ with the loop device's name in ``recordings/checks-devices.json``; the loop is
detached and its file removed at the end, also on failure.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REC = HERE / "recordings"
DRBDADM_84 = "/usr/lib/drbd/drbdadm-84"
ENV = {**os.environ, "LC_ALL": "C", "LANG": "C"}


def run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """Run a command with LC_ALL=C; fail loudly when ``check`` and it fails."""
    res = subprocess.run(argv, capture_output=True, env=ENV)
    if check and res.returncode != 0:
        raise SystemExit(f"{argv} failed ({res.returncode}): {res.stderr.decode()}")
    return res


def save(kind: str, case: str, data: bytes) -> None:
    """Write one recording as recordings/<kind>/<case>-<util-linux version>.txt."""
    version = run(["wipefs", "--version"]).stdout.decode().split()[-1]
    (REC / kind).mkdir(parents=True, exist_ok=True)
    (REC / kind / f"{case}-{version}.txt").write_bytes(data)
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
            save("wipefs", "json_empty-disk", run(["wipefs", "--no-act", "--json", "--", loop]).stdout)
            save("lsblk", "tree-usage_empty-disk", run(lsblk).stdout)
            run([DRBDADM_84, "-c", str(cfg), "create-md", "--force", "t0"])
            save("wipefs", "json_drbd-v08-metadata", run(["wipefs", "--no-act", "--json", "--", loop]).stdout)
            (REC / "checks-devices.json").write_text(json.dumps({"disk": loop}, indent=1) + "\n")
        finally:
            run(["losetup", "-d", loop], check=False)


if __name__ == "__main__":
    main()
