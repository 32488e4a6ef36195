"""Record real drbd-utils outputs on this host into recordings/drbdadm/ (run by hand; needs drbd-utils, no module).

    python3 plugins/pybofh-drbd/tests/record_host.py

The host kernel has no DRBD module, so drbdadm only parses configurations here: ``dump`` and ``-d`` (dry run:
print the drbdsetup/drbdmeta commands it would run). Both the DRBD 9 drbdadm and the 8.4 one that drbd-utils 9
ships (/usr/lib/drbd/drbdadm-84) are recorded. ``@HOST@`` in the configs becomes this host's name. Each case is
written by ``pybofh_core.testing.write_recording`` (argv with the temp config folder as ``$TMP``, exit code,
stdout, stderr without modinfo's complaints about the missing module).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.append(str(HERE.parents[2] / "pybofh_core"))  # pybofh_core.testing from this checkout if not installed

from pybofh_core.testing import write_recording  # noqa: E402

REC = HERE / "recordings"
OUT = REC / "drbdadm"
CONFIGS = REC / "configs"
DRBDADM_84 = "/usr/lib/drbd/drbdadm-84"
NOISE = b"modinfo: ERROR"  # drbdadm asks modinfo about the module this host does not have
DROPPED = "lines starting 'modinfo: ERROR' (no DRBD module on this host) dropped from stderr"

# case name -> (config, drbdadm args)
DRY_RUNS = {
    "up": ["up", "r0"], "down": ["down", "r0"], "primary": ["primary", "r0"],
    "primary-force": ["primary", "--force", "r0"], "secondary": ["secondary", "r0"],
    "connect": ["connect", "r0"], "disconnect": ["disconnect", "r0"], "attach": ["attach", "r0"],
    "detach": ["detach", "r0"], "create-md": ["create-md", "--force", "r0"], "adjust": ["adjust", "r0"],
    "verify": ["verify", "r0"], "invalidate": ["invalidate", "r0"], "pause-sync": ["pause-sync", "r0"],
    "resume-sync": ["resume-sync", "r0"], "resize": ["resize", "r0"],
    "resize-size": ["--", "--size=2097152s", "resize", "r0"],
}


def version() -> str:
    """drbd-utils version from ``drbdadm --version`` (DRBDADM_VERSION=9.22.0)."""
    out = subprocess.run(["drbdadm", "--version"], capture_output=True, text=True, env=env()).stdout
    m = re.search(r"^DRBDADM_VERSION=(\S+)$", out, re.MULTILINE)
    if not m:
        raise SystemExit("cannot read the drbd-utils version")
    return m.group(1)


def env() -> dict[str, str]:
    """LC_ALL=C like the runner."""
    return {**os.environ, "LC_ALL": "C", "LANG": "C"}


def config(name: str, tmp: Path) -> Path:
    """A config from recordings/configs with @HOST@ replaced by this host's name."""
    path = tmp / name
    path.write_text((CONFIGS / name).read_text().replace("@HOST@", socket.gethostname()))
    return path


def without_noise(stderr: bytes) -> tuple[bytes, bool]:
    """``stderr`` without modinfo's complaints about the missing module, and whether there were any."""
    kept = b"".join(ln for ln in stderr.splitlines(keepends=True) if not ln.startswith(NOISE))
    return kept, kept != stderr


def save(kind: str, case: str, tool_version: str, proc: subprocess.CompletedProcess[bytes], tmp: Path) -> None:
    """Write one case with ``pybofh_core.testing.write_recording``: argv (the temp config folder as ``$TMP``),
    exit code, stdout and stderr (modinfo noise dropped, which the side-car's note then says)."""
    stderr, dropped = without_noise(proc.stderr)
    argv = [str(a).replace(str(tmp), "$TMP") for a in proc.args]
    write_recording(REC, kind, case, tool_version, argv=argv, stdout=proc.stdout, stderr=stderr,
                    returncode=proc.returncode, paths={"TMP": str(tmp)}, where="host",
                    note=DROPPED if dropped else None)


def record(case: str, argv: list[str], ver: str, tmp: Path) -> None:
    """Run argv and keep it; fail loudly on a non-zero exit."""
    proc = subprocess.run(argv, capture_output=True, env=env())
    if proc.returncode != 0:
        raise SystemExit(f"{argv} failed ({proc.returncode}): {proc.stderr.decode()}")
    save("drbdadm", case, ver, proc, tmp)
    print("recorded", case)


def record_failure(case: str, argv: list[str], tool_version: str, tmp: Path, kind: str = "drbdadm") -> None:
    """Run a command that must fail; keep it as <case>-exitN-<version> (the exit code in the case's name)."""
    proc = subprocess.run(argv, capture_output=True, env=env())
    if proc.returncode == 0:
        raise SystemExit(f"{argv} unexpectedly succeeded")
    save(kind, f"{case}-exit{proc.returncode}", tool_version, proc, tmp)
    print("recorded failure", case)


def main() -> None:
    """Record every case."""
    OUT.mkdir(parents=True, exist_ok=True)
    ver = version()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        v9, v84, multi = config("r0-v9.res", tmp), config("r0-v84.res", tmp), config("multi-v9.res", tmp)
        record("dump_r0-v9", ["drbdadm", "-c", str(v9), "dump", "r0"], ver, tmp)
        record("dump_r0-v84", [DRBDADM_84, "-c", str(v84), "dump", "r0"], ver, tmp)
        record("dump_multi-v9", ["drbdadm", "-c", str(multi), "dump"], ver, tmp)
        record("sh-resources_multi", ["drbdadm", "-c", str(multi), "sh-resources"], ver, tmp)
        record("sh-minor_r1", ["drbdadm", "-c", str(multi), "sh-minor", "r1"], ver, tmp)
        record("sh-ll-dev_r1", ["drbdadm", "-c", str(multi), "sh-ll-dev", "r1"], ver, tmp)
        record_failure("sh-minor_undefined", ["drbdadm", "-c", str(multi), "sh-minor", "r9"], ver, tmp)
        coreutils = subprocess.run(["cat", "--version"], capture_output=True, text=True).stdout.split()[3]
        record_failure("cat_proc-drbd_no-module", ["cat", "/proc/drbd"], coreutils, tmp, kind="cat")
        for case, args in DRY_RUNS.items():
            record(f"dry-run_{case}-v9", ["drbdadm", "-c", str(v9), "-d", *args], ver, tmp)
            record(f"dry-run_{case}-v84", [DRBDADM_84, "-c", str(v84), "-d", *args], ver, tmp)


if __name__ == "__main__":
    main()
