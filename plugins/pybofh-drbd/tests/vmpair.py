"""Helpers for DRBD between the two guests of the VM test bed: a runner over a guest's command channel, set-up.

``GuestRunner`` lets the host process run pybofh operations *in* a guest (``use_runner(GuestRunner(a))``), so one
host-side ``Atomic()`` block can drive both nodes and roll both back. ``setup_node`` gives a guest an LV and the
test resource's configuration; ``teardown_node`` removes both again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pybofh_core.errors import CommandError, CommandTimeoutError
from pybofh_core.runner import Result, Runner

RES = "r0"
VG = "drbdvg"
LV = "r0data"
LV_SIZE_MIB = 96
RESYNC_RATE = "12M"  # slow enough that the initial sync shows progress for a few seconds
NODES = (("pybofh-vm1", "192.0.2.1"), ("pybofh-vm2", "192.0.2.2"))
PORT = 7788
CONFIG_PATH = "/etc/drbd.d/r0.res"


def resource_config(disk: str = f"/dev/{VG}/{LV}") -> str:
    """The test resource in DRBD 8.4 syntax (the guests run Debian 12's in-kernel DRBD 8.4.11)."""
    hosts = "".join(f"  on {name} {{ address {addr}:{PORT}; }}\n" for name, addr in NODES)
    return (
        f"resource {RES} {{\n"
        "  net { protocol C; }\n"
        f"  disk {{ c-plan-ahead 0; resync-rate {RESYNC_RATE}; }}\n"
        "  device /dev/drbd0;\n"
        f"  disk {disk};\n"
        "  meta-disk internal;\n"
        f"{hosts}"
        "}\n"
    )


class GuestRunner(Runner):
    """Runs pybofh's commands in a test-bed guest through its agent (``Guest.run``), with ``LC_ALL=C``."""

    name = "vm-guest"

    def __init__(self, guest: Any, **_: Any) -> None:
        self.guest = guest
        self.host = guest.config.hostname

    def _execute(
        self, argv: tuple[str, ...], data: bytes | None, timeout: float, *, readonly: bool,
        env: Mapping[str, str] | None,
    ) -> Result:
        from tests.vm.guest import GuestTimeout

        full_env = {"LC_ALL": "C", "LANG": "C", "PATH": "/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin", **(env or {})}
        try:
            res = self.guest.run(list(argv), input=data, env=full_env, timeout=timeout)
        except GuestTimeout:
            raise CommandTimeoutError(argv, None, reason=f"timed out after {timeout:g}s", host=self.host) from None
        if res.returncode == 127:
            raise CommandError(argv, None, res.stdout, res.stderr, host=self.host,
                               reason=f"cannot run {argv[0]}: not installed")
        return Result(argv, res.returncode, res.stdout, res.stderr)

    def which(self, tool: str) -> str | None:
        """Look the tool up in the guest."""
        res = self.guest.run(["sh", "-c", f"command -v {tool}"], env={"PATH": "/usr/sbin:/sbin:/usr/bin:/bin"})
        return res.out.strip() or None


def sh(guest: Any, script: str, *, check: bool = True, timeout: float = 120) -> str:
    """Run a shell script in a guest (test set-up only) and return its stdout."""
    res = guest.run(["sh", "-ec", script], env={"LC_ALL": "C"}, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"guest {guest.config.hostname}: {script!r} exited {res.returncode}: {res.err}")
    return res.out  # type: ignore[no-any-return]


def setup_node(guest: Any, disk: str) -> None:
    """Load drbd, make VG/LV on the scratch disk ``disk``, write the resource configuration."""
    sh(guest, f"""
modprobe drbd
pvcreate -ff -y -q {disk}
vgcreate -q {VG} {disk}
lvcreate -q -y -W n -Z n -n {LV} -L {LV_SIZE_MIB}m {VG}
mkdir -p /etc/drbd.d
test -f /etc/drbd.conf || printf 'include "drbd.d/*.res";\\n' > /etc/drbd.conf
""")
    guest.run(["sh", "-ec", f"cat > {CONFIG_PATH}"], input=resource_config())


def teardown_node(guest: Any, disk: str) -> None:
    """Take the resource down and remove LV, VG, PV and the config; never raises (cleanup after failures)."""
    sh(guest, f"""
drbdadm down {RES} 2>/dev/null || drbdsetup /dev/drbd0 down 2>/dev/null || true
vgremove -ff -y {VG} >/dev/null 2>&1 || true
pvremove -ff -y {disk} >/dev/null 2>&1 || true
rm -f {CONFIG_PATH}
""", check=False)


def scratch_disk(guest: Any) -> str:
    """The guest's first scratch disk (a virtio disk with serial pybofh-scratch-0)."""
    out = sh(guest, "for d in /sys/block/vd*; do "
                    "if grep -qx pybofh-scratch-0 $d/serial 2>/dev/null; then echo /dev/${d##*/}; fi; done")
    return out.strip() or "/dev/vda"
