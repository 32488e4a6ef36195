"""Record real cryptsetup outputs into tests/recordings/cryptsetup/ (run as root: ``python3 tests/record.py``).

In the VM test bed (from the repository root; REC is tests/recordings/cryptsetup of this plugin)::

    python3 tests/vm/run.py --disks '' -q -- sh -c 'python3 plugins/pybofh-crypt/tests/record.py --guest \
        --out /tmp/rec >&2 && tar -C /tmp/rec -c . | base64' | base64 -d | tar -x -C $REC

Every case formats a loop device backed by a sparse temp file (``--guest`` cases need device-mapper: run them in the
VM test bed), runs one command with ``LC_ALL=C`` and stores it with ``pybofh_core.testing.write_recording``:
``<case>-<version>.txt`` (stdout), ``.stderr.txt`` (stderr) and the side-car ``.meta.json`` (argv, exit code,
host or vm). Passphrases used here are throw-away test values (given on stdin, never in argv).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.append(str(Path(__file__).resolve().parents[3] / "pybofh_core"))  # this checkout's, if not installed

from pybofh_core.testing import SIDECAR, load_recording, write_recording

KEPT = Path(__file__).resolve().parent / "recordings" / "cryptsetup"  # the recordings kept in this checkout
OUT = [KEPT]  # the tool folder the recordings go to (--out)
WHERE = ["host"]  # "vm" with --guest
ONLY: set[str] = set()  # --case: re-record only these cases
ENV = {**os.environ, "LC_ALL": "C", "LANG": "C"}
FAST = ["--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000"]
ARGON = ["--pbkdf", "argon2id", "--pbkdf-force-iterations", "4", "--pbkdf-memory", "32768", "--pbkdf-parallel", "1"]


def sh(argv: list[str], stdin: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess[bytes]:
    """Run one command with LC_ALL=C; stdin closed unless given."""
    proc = subprocess.run(argv, input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                          capture_output=True, env=ENV, check=False)
    if check and proc.returncode != 0:
        sys.exit(f"{argv}: rc {proc.returncode}: {proc.stderr.decode()}")
    return proc


def version() -> str:
    """The installed cryptsetup's version number, e.g. 2.6.1."""
    out = sh(["cryptsetup", "--version"]).stdout.decode()
    m = re.search(r"cryptsetup (\d+\.\d+\.\d+)", out)
    if not m:
        sys.exit(f"cannot read cryptsetup version from {out!r}")
    return m.group(1)


def previous_expected(folder: Path, case: str, ver: str) -> Any:
    """The hand-checked ``expected`` of the case's recording in ``folder`` (None if none): a re-recording keeps it,
    so ``test_recordings.py`` checks the new output against it (and fails on what changed, a UUID, until updated).
    Read from the checkout also with ``--out`` (the VM guest reads the tree, writes elsewhere)."""
    sidecar = folder / f"{case}-{ver}{SIDECAR}"
    return load_recording(sidecar).expected if sidecar.is_file() else None


def save(case: str, proc: subprocess.CompletedProcess[bytes], ver: str) -> None:
    """Store one case with ``pybofh_core.testing.write_recording``: its argv, stdout, stderr and exit code."""
    if ONLY and case not in ONLY:
        return
    expected = previous_expected(KEPT, case, ver)
    write_recording(OUT[0].parent, OUT[0].name, case, ver, argv=[str(a) for a in proc.args], stdout=proc.stdout,
                    stderr=proc.stderr, returncode=proc.returncode, where=WHERE[0], expected=expected)
    kept = " (kept the earlier expected values: check them)" if expected is not None else ""
    print(f"recorded {case}: rc {proc.returncode}, {len(proc.stdout)} bytes{kept}")


@contextmanager
def loop(tmp: Path, size: int = 64 * 1024**2) -> Iterator[str]:
    """A loop device over a sparse file in ``tmp``, always detached afterwards."""
    img = Path(tempfile.mkstemp(dir=tmp, suffix=".img")[1])
    with img.open("r+b") as fh:
        fh.truncate(size)
    dev = sh(["losetup", "--find", "--show", str(img)]).stdout.decode().strip()
    try:
        yield dev
    finally:
        subprocess.run(["losetup", "-d", dev], capture_output=True, check=False)


def luks_format(dev: str, kind: str, pw: bytes, extra: list[str] = ()) -> None:  # type: ignore[assignment]
    """luksFormat ``dev`` with a cheap PBKDF."""
    opts = ["--pbkdf-force-iterations", "1000"] if kind == "luks1" else list(FAST)
    sh(["cryptsetup", "luksFormat", "--batch-mode", "--type", kind, *opts, *extra, "--key-file=-", dev], stdin=pw)


def host_cases(tmp: Path, ver: str) -> None:
    """Cases that only touch the header, so they run without device-mapper."""
    with loop(tmp) as dev:
        luks_format(dev, "luks1", b"pw-one")
        save("luksDump-luks1", sh(["cryptsetup", "luksDump", dev]), ver)
        save("luksDump-json-luks1-unsupported", sh(["cryptsetup", "luksDump", "--dump-json-metadata", dev],
                                                   check=False), ver)
        sh(["cryptsetup", "luksAddKey", "--batch-mode", "--key-slot", "5", "--pbkdf-force-iterations", "1000", dev],
           stdin=b"pw-one\npw-two\n")
        save("luksDump-luks1-two-keyslots", sh(["cryptsetup", "luksDump", dev]), ver)
        save("luksDump-verbose-luks1-two-keyslots", sh(["cryptsetup", "-v", "luksDump", dev]), ver)
        save("luksKillSlot-inactive", sh(["cryptsetup", "luksKillSlot", "--batch-mode", dev, "3"], check=False), ver)
    with loop(tmp) as dev:
        luks_format(dev, "luks2", b"pw-one")
        save("luksDump-luks2", sh(["cryptsetup", "luksDump", dev]), ver)
        save("luksDump-json-luks2", sh(["cryptsetup", "luksDump", "--dump-json-metadata", dev]), ver)
        save("luksDump-verbose-luks2", sh(["cryptsetup", "-v", "luksDump", dev]), ver)
        save("luksDump-json-verbose-luks2", sh(["cryptsetup", "-v", "luksDump", "--dump-json-metadata", dev]), ver)
        save("luksAddKey-wrong-passphrase", sh(["cryptsetup", "luksAddKey", "--batch-mode", "--key-slot", "1",
                                                *FAST, dev], stdin=b"wrong\npw-two\n", check=False), ver)
        save("open-no-device-mapper", sh(["cryptsetup", "open", "--type", "luks", "--key-file=-", dev, "rec-test"],
                                         stdin=b"pw-one", check=False), ver)
    with loop(tmp) as dev:
        luks_format(dev, "luks2", b"pw-one", ["--label", "rec label", *ARGON[:0]])
        sh(["cryptsetup", "luksAddKey", "--batch-mode", "--key-slot", "7", *ARGON, dev], stdin=b"pw-one\npw-two\n")
        save("luksDump-luks2-label-argon2id-two-keyslots", sh(["cryptsetup", "luksDump", dev]), ver)
        save("luksDump-json-luks2-label-argon2id-two-keyslots",
             sh(["cryptsetup", "luksDump", "--dump-json-metadata", dev]), ver)
        backup = tmp / "hdr.bin"
        sh(["cryptsetup", "luksHeaderBackup", dev, "--header-backup-file", str(backup)])
        save("luksHeaderBackup-exists", sh(["cryptsetup", "luksHeaderBackup", dev, "--header-backup-file",
                                            str(backup)], check=False), ver)
    with loop(tmp) as dev:
        save("luksDump-not-luks", sh(["cryptsetup", "luksDump", dev], check=False), ver)
    save("status-no-device-mapper", sh(["cryptsetup", "status", "rec-absent"], check=False), ver)


def guest_cases(tmp: Path, ver: str) -> None:
    """Cases that need device-mapper (``cryptsetup open``): run inside the VM test bed."""
    for kind in ("luks1", "luks2"):
        with loop(tmp) as dev:
            luks_format(dev, kind, b"pw-one")
            sh(["cryptsetup", "open", "--type", "luks", "--key-file=-", dev, f"rec-{kind}"], stdin=b"pw-one")
            try:
                save(f"status-{kind}", sh(["cryptsetup", "status", f"rec-{kind}"]), ver)
                save(f"status-verbose-{kind}", sh(["cryptsetup", "-v", "status", f"rec-{kind}"]), ver)
                if kind == "luks2":
                    sh(["cryptsetup", "resize", "--size", "16384", "--key-file=-", f"rec-{kind}"], stdin=b"pw-one")
                    save("status-luks2-resized", sh(["cryptsetup", "status", f"rec-{kind}"]), ver)
                    save("resize-keyring-no-passphrase",
                         sh(["cryptsetup", "resize", "--size", "8192", f"rec-{kind}"], check=False), ver)
            finally:
                sh(["cryptsetup", "close", f"rec-{kind}"], check=False)
    with loop(tmp) as dev:
        luks_format(dev, "luks2", b"pw-one")
        sh(["cryptsetup", "open", "--type", "luks", "--disable-keyring", "--readonly", "--key-file=-", dev,
            "rec-nokeyring"], stdin=b"pw-one")
        try:
            save("status-luks2-readonly-no-keyring", sh(["cryptsetup", "status", "rec-nokeyring"]), ver)
        finally:
            sh(["cryptsetup", "close", "rec-nokeyring"], check=False)
    save("status-inactive", sh(["cryptsetup", "status", "rec-absent"], check=False), ver)
    save("status-verbose-inactive", sh(["cryptsetup", "-v", "status", "rec-absent"], check=False), ver)


def main() -> None:
    """Record the host cases, or with ``--guest`` the device-mapper cases."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--guest", action="store_true", help="record the cases that need device-mapper")
    parser.add_argument("--out", type=Path, help="write here instead (the VM guest sees the tree read-only)")
    parser.add_argument("--case", action="append", default=[], help="record only this case (repeatable)")
    args = parser.parse_args()
    ONLY.update(args.case)
    if args.out:
        OUT[0] = args.out
    WHERE[0] = "vm" if args.guest else "host"
    OUT[0].mkdir(parents=True, exist_ok=True)
    ver = version()
    with tempfile.TemporaryDirectory(prefix="pybofh-crypt-rec-") as tmp:
        (guest_cases if args.guest else host_cases)(Path(tmp), ver)


if __name__ == "__main__":
    main()
