"""A real power cut: the journal on a guest disk, the guest killed outright (qemu SIGKILL) after each step of a
provisioning job in turn, booted again from the same disk images, then ``bofh journal rollback``.

After each rollback the job's disk holds no PV label, LV, LUKS header or filesystem the job made, no mapping or
mount is left, and the journal says rolled-back. One guest boot per step: the boot that rolls back step K's job
then runs the job that is cut after step K+1.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from tests.vm.guest import Guest, GuestConfig

MIB = 1024**2
PW = "power cut passphrase"
STEPS = [
    "lvm.create_pv",
    "lvm.create_vg",
    "lvm.create_lv",
    "crypt.format",
    "crypt.open",
    "blockdev.create_filesystem",
    "blockdev.mount",
]
JOURNAL = "/var/lib/pybofh/journal"

JOB = f"""
import os, sys, time
from pybofh import Atomic
from pybofh_core.session import get_plugins
stop, marker = int(sys.argv[1]), sys.argv[2]
os.makedirs("/mnt/data", exist_ok=True)
with Atomic(label="provision") as atomic:
    calls = [
        lambda: atomic.lvm.create_pv("/dev/vda"),
        lambda: atomic.lvm.create_vg("pcvg", ["/dev/vda"]),
        lambda: atomic.lvm.create_lv("pcvg", "data", 64 * 1024**2),
        lambda: atomic.crypt.format("/dev/pcvg/data", "{PW}"),
        lambda: atomic.crypt.open("/dev/pcvg/data", "pcdata", "{PW}"),
        lambda: atomic.blockdev.create_filesystem("/dev/mapper/pcdata", "ext4"),
        lambda: atomic.blockdev.mount("/dev/mapper/pcdata", "/mnt/data"),
    ]
    for n, call in enumerate(calls, 1):
        call()
        if n == stop:
            with open(marker, "w") as fh:
                fh.write(atomic.journal_id)
            time.sleep(3600)
"""

ENV = {"PYBOFH_CRYPT__PBKDF": "pbkdf2", "PYBOFH_CRYPT__PBKDF_FORCE_ITERATIONS": "1000"}


def boot(disks: tuple[Path, Path], *, first: bool = False) -> Guest:
    """Boot a guest on the two disk images and mount the journal disk (made once, on the first boot)."""
    guest = Guest(GuestConfig(disk_files=disks, env=tuple(ENV.items())))
    guest.start()
    if first:
        guest.run(["mkfs.ext4", "-q", "/dev/vdb"], check=True, timeout=120)
    guest.run(["mkdir", "-p", "/var/lib/pybofh"], check=True)
    guest.run(["mount", "/dev/vdb", "/var/lib/pybofh"], check=True, timeout=60)
    return guest


def run_job_until_cut(guest: Guest, stop: int) -> str:
    """Run the job in the guest until it finished step ``stop``; then cut the power. The journal id."""
    marker = guest.out_dir / "cut"
    marker.unlink(missing_ok=True)
    result: dict[str, object] = {}

    def job() -> None:
        try:
            result["r"] = guest.run(["python3", "-c", JOB, str(stop), "/run/pybofh/out/cut"], timeout=600)
        except Exception as exc:
            result["e"] = exc

    thread = threading.Thread(target=job, daemon=True)
    thread.start()
    deadline = time.monotonic() + 300
    while not (marker.exists() and marker.read_text()):
        if not thread.is_alive():
            raise AssertionError(f"the job ended before step {stop}: {result}")
        assert time.monotonic() < deadline, f"the job never finished step {stop}"
        time.sleep(0.2)
    jid = marker.read_text()
    guest.crash()
    thread.join(timeout=30)
    return jid


def assert_nothing_left(guest: Guest, jid: str) -> None:
    """The job's disk holds nothing it made; no mapping, mount, VG or PV; the journal says rolled-back."""
    assert guest.run(["blkid", "-p", "-o", "export", "/dev/vda"]).out == ""
    assert guest.run(["wipefs", "--no-act", "/dev/vda"]).out.strip() == ""
    assert guest.run(["pvs", "--noheadings"]).out.strip() == ""
    assert guest.run(["vgs", "--noheadings"]).out.strip() == ""
    assert guest.run(["dmsetup", "ls"]).out.strip() in ("", "No devices found")
    assert "/mnt/data" not in guest.run(["findmnt", "-rn", "-o", "TARGET"]).out.split()
    listed = json.loads(guest.run(["python3", "-m", "pybofh_core.cli", "--json", "journal", "list"], check=True).out)
    assert next(r for r in listed if r["id"] == jid)["status"] == "rolled-back"


@pytest.mark.slow
def test_power_cut_after_each_step_then_rollback_after_the_reboot(tmp_path: Path) -> None:
    """Seven power cuts, one after each step of PV → VG → LV → LUKS format → open → mkfs → mount; after each the
    guest boots again from the same disks and ``bofh journal rollback`` undoes exactly what the job made."""
    if os.environ.get("PYBOFH_VM", "auto").strip().lower() == "skip":
        pytest.skip("PYBOFH_VM=skip: this test boots the VM test bed's guest eight times")
    disks = (tmp_path / "data.img", tmp_path / "journal.img")
    for path, size in zip(disks, (512 * MIB, 64 * MIB), strict=True):
        with path.open("wb") as fh:
            fh.truncate(size)
    guest = boot(disks, first=True)
    try:
        for stop in range(1, len(STEPS) + 1):
            jid = run_job_until_cut(guest, stop)
            guest = boot(disks)
            state = json.loads(
                guest.run(["python3", "-m", "pybofh_core.cli", "--json", "journal", "show", jid], check=True).out
            )
            assert [s["op"] for s in state["steps"]] == STEPS[:stop], state
            assert state["status"] == "interrupted"
            rollback = guest.run(["python3", "-m", "pybofh_core.cli", "journal", "rollback", jid], timeout=600)
            assert rollback.returncode == 0, f"after step {stop}: {rollback.out}{rollback.err}"
            assert_nothing_left(guest, jid)
    finally:
        guest.close()
