"""Record ``dmsetup info -c`` (what ``bofh status`` reads for dm-crypt mappings) into tests/recordings/dmsetup/.

On the host (no device-mapper): ``python3 plugins/pybofh-crypt/tests/record_dmsetup.py`` records the failure.
In the VM test bed (from the repository root; REC is tests/recordings/dmsetup of this plugin)::

    python3 tests/vm/run.py --disks '' -q -- sh -c 'python3 plugins/pybofh-crypt/tests/record_dmsetup.py --guest \
        --out /tmp/rec >&2 && tar -C /tmp/rec -c . | base64' | base64 -d | tar -x -C $REC

The guest case opens a LUKS2 mapping on a loop device, a LUKS1 mapping named with a space and a colon on an LVM
LV, and a read-only plain mapping, records the listing (with the LV's own device-mapper row in it) with what it
made as the side-car's ``expected``; then it closes everything and records the empty listing. Every case is
written by ``pybofh_core.testing.write_recording``: ``<case>-<version>.txt`` (stdout), ``.stderr.txt`` (stderr)
and ``.meta.json`` (argv, exit code, host or vm, expected). Passphrases here are throw-away test values.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[3] / "pybofh_core"))  # this checkout's, if not installed

from pybofh_core.testing import write_recording

OUT = [Path(__file__).resolve().parent / "recordings" / "dmsetup"]  # the tool folder the recordings go to (--out)
WHERE = ["host"]  # "vm" with --guest
ENV = {**os.environ, "LC_ALL": "C", "LANG": "C", "DM_DISABLE_UDEV": "1"}
INFO = ["dmsetup", "info", "-c", "--noheadings", "--separator", "/", "-o",
        "name,uuid,blkdevname,blkdevs_used,open,attr"]
FAST = ["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"]
VG = "pybofhstatus"


def sh(argv: list[str], stdin: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """Run one command with LC_ALL=C; stdin closed unless given."""
    proc = subprocess.run(argv, input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                          capture_output=True, env=ENV, check=False)
    if check and proc.returncode != 0:
        sys.exit(f"{argv}: rc {proc.returncode}: {proc.stderr.decode()}")
    return proc


def version() -> str:
    """The device-mapper library version dmsetup reports, e.g. 1.02.185."""
    out = sh(["dmsetup", "--version"], check=False).stdout.decode()
    m = re.search(r"Library version:\s+(\d+\.\d+\.\d+)", out)
    if not m:
        sys.exit(f"cannot read the dmsetup version from {out!r}")
    return m.group(1)


def save(case: str, proc: subprocess.CompletedProcess[bytes], ver: str, expect: object = None,
         paths: dict[str, str] | None = None) -> None:
    """Store one case with ``pybofh_core.testing.write_recording``: argv, outputs, exit code, and what the
    listing must show (``expected``) with the devices it names (``paths``)."""
    write_recording(OUT[0].parent, OUT[0].name, case, ver, argv=[str(a) for a in proc.args], stdout=proc.stdout,
                    stderr=proc.stderr, returncode=proc.returncode, paths=paths, where=WHERE[0], expected=expect)
    print(f"recorded {case}: rc {proc.returncode}, {len(proc.stdout)} bytes")


def guest(tmp: Path, ver: str) -> None:
    """Three mappings (LUKS2 on a loop, LUKS1 on an LV, plain read-only), then none; always cleaned up."""
    loops: list[str] = []
    opened: list[str] = []
    try:
        for name in ("luks2", "pv", "plain"):
            img = tmp / f"{name}.img"
            with img.open("wb") as fh:
                fh.truncate(64 * 1024**2)
            loops.append(sh(["losetup", "--find", "--show", str(img)]).stdout.decode().strip())
        luks2_dev, pv_dev, plain_dev = loops
        sh(["cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", *FAST, "--key-file=-", luks2_dev],
           stdin=b"pw-one")
        sh(["cryptsetup", "open", "--key-file=-", luks2_dev, "data_crypt"], stdin=b"pw-one")
        opened.append("data_crypt")
        sh(["pvcreate", "-q", pv_dev])
        sh(["vgcreate", "-q", VG, pv_dev])
        sh(["lvcreate", "-q", "-n", "lv1", "-L", "16M", VG])
        lv = f"/dev/{VG}/lv1"
        sh(["cryptsetup", "luksFormat", "--batch-mode", "--type", "luks1", "--pbkdf-force-iterations", "1000",
            "--key-file=-", lv], stdin=b"pw-one")
        sh(["cryptsetup", "open", "--key-file=-", lv, "odd name:x"], stdin=b"pw-one")
        opened.append("odd name:x")
        sh(["cryptsetup", "open", "--type", "plain", "--readonly", "--cipher", "aes-xts-plain64", "--key-size", "256",
            "--hash", "sha256", "--key-file=-", plain_dev, "plainmap"], stdin=b"pw-plain")
        opened.append("plainmap")
        uuids = {dev: sh(["cryptsetup", "luksUUID", dev]).stdout.decode().strip() for dev in (luks2_dev, lv)}
        lv_dm = f"{VG}-lv1"
        expect = {
            "data_crypt": {"type": "LUKS2", "uuid": uuids[luks2_dev], "device": luks2_dev, "read_only": False},
            "odd name:x": {"type": "LUKS1", "uuid": uuids[lv], "device": f"/dev/mapper/{lv_dm}", "read_only": False},
            "plainmap": {"type": "PLAIN", "uuid": None, "device": plain_dev, "read_only": True},
            "not crypt": [lv_dm],
        }
        save("info-luks-lvm-plain", sh(INFO), ver, expect,
             {"luks2": luks2_dev, "pv": pv_dev, "plain": plain_dev, "lv": lv})
    finally:
        for name in reversed(opened):
            sh(["cryptsetup", "close", name], check=False)
        sh(["vgremove", "-q", "-f", VG], check=False)
        for dev in loops:
            sh(["pvremove", "-q", "-f", dev], check=False)
            sh(["losetup", "-d", dev], check=False)
    save("info-none", sh(INFO), ver)


def main() -> None:
    """Record the host case (no device-mapper), or with ``--guest`` the guest cases."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--guest", action="store_true", help="record the cases that need device-mapper")
    parser.add_argument("--out", type=Path, help="write here instead (the VM guest sees the tree read-only)")
    args = parser.parse_args()
    if args.out:
        OUT[0] = args.out
    WHERE[0] = "vm" if args.guest else "host"
    OUT[0].mkdir(parents=True, exist_ok=True)
    ver = version()
    if args.guest:
        with tempfile.TemporaryDirectory(prefix="pybofh-dmsetup-rec-") as tmp:
            guest(Path(tmp), ver)
    else:
        save("info-no-device-mapper", sh(INFO, check=False), ver)


if __name__ == "__main__":
    main()
