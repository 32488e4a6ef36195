"""Opt-in: boot the nested Xen of the test suite (``tests/xen_vm/dom0.py``: Debian's Xen 4.17 with the VM test bed's
Debian kernel as dom0, qemu, KVM else TCG), run the real ``xl`` in dom0 (info, list, list -l, create a tiny PV domU,
uptime, destroy; then two domUs and their ``list -l``) and record its outputs.

    python3 tests/xen_vm/boot_xen.py [--out DIR] [--boot-timeout SECONDS] [--only STEP,...]

Needs root and what the VM test bed needs; the hypervisor, the Xen userland and the dom0 drivers come from
``apt-get download`` into the nested Xen's cache (nothing Xen is installed on the host). Every ``xl`` step is
recorded with ``pybofh_core.testing.write_recording`` into ``--out`` (default:
plugins/pybofh-xen/tests/recordings/xl-nested) as ``<step>-<xen version>`` (argv, exit code, stdout, stderr);
``--only`` records just the named steps (the others run too, into the log). ``session.log`` there has every
command (the set-up ones too), its exit code, timing and output.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "pybofh_core"))  # pybofh_core.testing from this checkout if not installed

from pybofh_core.testing import write_recording  # noqa: E402
from tests.vm.guest import Result  # noqa: E402
from tests.xen_vm import dom0  # noqa: E402

XL = f"{dom0.XEN_BIN}/xl"
DESTROY = f"LC_ALL=C {XL} destroy tiny; LC_ALL=C {XL} list"
TWO = ("alpha", "beta")
CONFIGS = "".join(f"cat > /etc/xen/{name}.cfg <<'EOF'\n{dom0.domu_config(name)}EOF\n" for name in ("tiny", *TWO))
WAIT_TWO = " && ".join(f"grep -q {dom0.UP_MARKER} {dom0.CONSOLE_LOGS}/guest-{n}.log" for n in TWO)
# (name, dom0 script, argv of the recording or None: a set-up step, only in session.log, note)
STEPS: list[tuple[str, str, list[str] | None, str | None]] = [
    ("configs", CONFIGS + "ls /etc/xen/*.cfg", None, None),
    ("info", f"LC_ALL=C {XL} info", [XL, "info"], None),
    ("list-dom0", f"LC_ALL=C {XL} list", [XL, "list"], None),
    ("list-long-dom0", f"LC_ALL=C {XL} list -l", [XL, "list", "-l"], None),
    ("create-tiny", f"LC_ALL=C {XL} create /etc/xen/tiny.cfg", [XL, "create", "/etc/xen/tiny.cfg"], None),
    ("list-tiny", f"sleep 5; LC_ALL=C {XL} list", [XL, "list"], None),
    ("list-long-tiny", f"LC_ALL=C {XL} list -l", [XL, "list", "-l"], None),
    ("uptime", f"LC_ALL=C {XL} uptime", [XL, "uptime"], None),
    ("pybofh", "PYBOFH_XEN__XL_COMMAND=" + XL + " PYBOFH_XEN__DOMU_CONFIG_DIRS=/etc/xen python3 -c "
               "'from pybofh import xen; print(xen.xl_info()); print(xen.running_domus()); "
               "print([(d.name, xen.is_domu_running(d)) for d in xen.all_domus()])'", None, None),
    ("destroy-tiny", DESTROY, ["sh", "-ec", DESTROY], "xl destroy tiny; xl list: stdout is the list after the destroy"),
    ("create-two", "; ".join(f"{XL} create /etc/xen/{n}.cfg" for n in TWO)
     + f"; i=0; until {WAIT_TWO}; do i=$((i+1)); [ $i -lt 240 ] || exit 1; sleep 0.5; done; {XL} list", None, None),
    ("list-long-two", f"LC_ALL=C {XL} list -l", [XL, "list", "-l"], None),
    ("destroy-two", "; ".join(f"{XL} destroy {n}" for n in TWO) + f"; {XL} list", None, None),
]


def xen_version(info: bytes, default: str = "4.17") -> str:
    """The hypervisor's version from ``xl info`` output (``xen_version : 4.17.7``), else ``default``: the version
    in the recordings' names."""
    for line in info.decode(errors="replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "xen_version" and re.fullmatch(r"\d+(\.\d+)+", value.strip()):
            return value.strip()
    return default


def save(out: Path, name: str, version: str, argv: list[str], res: Result, note: str | None) -> Path:
    """Write one step's outputs as ``out/<name>-<version>`` (``pybofh_core.testing.write_recording``; ``out`` is
    the tool folder, ``recordings/xl-nested`` by default)."""
    return write_recording(out.parent, out.name, name, version, argv=argv, stdout=res.stdout, stderr=res.stderr,
                           returncode=res.returncode, note=note,
                           where=f"nested Xen {version} (tests/xen_vm/boot_xen.py; session.log)")


def main() -> int:
    """Boot, run every step, write recordings and a session log; exit 0 only if xl info worked."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "plugins/pybofh-xen/tests/recordings/xl-nested")
    ap.add_argument("--boot-timeout", type=float, default=1500.0)
    ap.add_argument("--cpu", default="qemu64", help="qemu -cpu model under TCG (default qemu64)")
    ap.add_argument("--only", default="", help="comma-separated steps to record (default: every recorded step); "
                    "the others still run, into session.log only")
    args = ap.parse_args()
    only = {n for n in args.only.split(",") if n}
    unknown = only - {name for name, _, argv, _ in STEPS if argv is not None}
    if unknown:
        ap.error(f"--only: no recorded step {', '.join(sorted(unknown))}")
    args.out.mkdir(parents=True, exist_ok=True)
    log = (args.out / "session.log").open("a")

    def note(text: str) -> None:
        print(text, file=sys.stderr)
        log.write(text + "\n")
        log.flush()

    started = time.monotonic()
    guest = dom0.XenGuest(dom0.dom0_config(boot_timeout=args.boot_timeout), cpu=args.cpu)
    ok = False
    try:
        try:
            guest.prepare()
            assert guest.dom0 is not None
            note(f"== {time.strftime('%F %T')} booting xen {guest.dom0.xen} + dom0 {guest.dom0.kernel} "
                 f"(tcg cpu {args.cpu}; layer {guest.dom0.manifest['key']})")
            guest.boot()
            xen_start = dom0.start_xen(guest)
        except BaseException as exc:
            note(f"boot failed after {time.monotonic() - started:.0f}s: {exc}")
            note(guest.diagnostics(120))
            return 1
        note(f"dom0 ready after {time.monotonic() - started:.0f}s (accel {guest.accel}; xenstored, xen-init-dom0 and "
             f"xenconsoled started in {xen_start:.1f}s: {dom0.START_XEN.strip()!r})")
        version = "4.17"
        for name, script, argv, remark in STEPS:
            t0 = time.monotonic()
            res = guest.sh(script, timeout=600)
            note(f"-- {name}: exit {res.returncode} in {time.monotonic() - t0:.1f}s\n$ {script}\n{res.out}{res.err}")
            if name == "info":
                version = xen_version(res.stdout, version)
            if argv is not None and (not only or name in only):
                save(args.out, name, version, argv, res, remark)
            ok = ok or (name == "info" and res.returncode == 0)
    finally:
        guest.close()
        log.close()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
