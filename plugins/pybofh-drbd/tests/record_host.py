"""Record real drbd-utils outputs on this host into recordings/drbdadm/ (run by hand; needs drbd-utils, no module).

    python3 plugins/pybofh-drbd/tests/record_host.py

The host kernel has no DRBD module, so drbdadm only parses configurations here: ``dump`` and ``-d`` (dry run:
print the drbdsetup/drbdmeta commands it would run). Both the DRBD 9 drbdadm and the 8.4 one that drbd-utils 9
ships (/usr/lib/drbd/drbdadm-84) are recorded. ``@HOST@`` in the configs becomes this host's name.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "recordings" / "drbdadm"
CONFIGS = HERE / "recordings" / "configs"
DRBDADM_84 = "/usr/lib/drbd/drbdadm-84"

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


def record(case: str, argv: list[str]) -> None:
    """Run argv, keep stdout (stderr only has modinfo noise here); fail loudly on a non-zero exit."""
    proc = subprocess.run(argv, capture_output=True, env=env())
    if proc.returncode != 0:
        raise SystemExit(f"{argv} failed ({proc.returncode}): {proc.stderr.decode()}")
    (OUT / f"{case}-{version()}.txt").write_bytes(proc.stdout)
    print("recorded", case)


def record_failure(case: str, argv: list[str], kind: str = "drbdadm", tool_version: str | None = None) -> None:
    """Run a command that must fail; keep its stderr (modinfo noise dropped) as <case>-exitN-<version>.stderr.txt."""
    proc = subprocess.run(argv, capture_output=True, env=env())
    if proc.returncode == 0:
        raise SystemExit(f"{argv} unexpectedly succeeded")
    err = b"".join(ln for ln in proc.stderr.splitlines(keepends=True) if not ln.startswith(b"modinfo: ERROR"))
    (OUT.parent / kind).mkdir(parents=True, exist_ok=True)
    (OUT.parent / kind / f"{case}-exit{proc.returncode}-{tool_version or version()}.stderr.txt").write_bytes(err)
    print("recorded failure", case)


def main() -> None:
    """Record every case."""
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        v9, v84, multi = config("r0-v9.res", tmp), config("r0-v84.res", tmp), config("multi-v9.res", tmp)
        record("dump_r0-v9", ["drbdadm", "-c", str(v9), "dump", "r0"])
        record("dump_r0-v84", [DRBDADM_84, "-c", str(v84), "dump", "r0"])
        record("dump_multi-v9", ["drbdadm", "-c", str(multi), "dump"])
        record("sh-resources_multi", ["drbdadm", "-c", str(multi), "sh-resources"])
        record("sh-minor_r1", ["drbdadm", "-c", str(multi), "sh-minor", "r1"])
        record("sh-ll-dev_r1", ["drbdadm", "-c", str(multi), "sh-ll-dev", "r1"])
        record_failure("sh-minor_undefined", ["drbdadm", "-c", str(multi), "sh-minor", "r9"])
        coreutils = subprocess.run(["cat", "--version"], capture_output=True, text=True).stdout.split()[3]
        record_failure("cat_proc-drbd_no-module", ["cat", "/proc/drbd"], kind="cat", tool_version=coreutils)
        for case, args in DRY_RUNS.items():
            record(f"dry-run_{case}-v9", ["drbdadm", "-c", str(v9), "-d", *args])
            record(f"dry-run_{case}-v84", [DRBDADM_84, "-c", str(v84), "-d", *args])


if __name__ == "__main__":
    main()
