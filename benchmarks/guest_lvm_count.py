"""Run inside the VM test bed: commands run by a full storage listing with 1, 10 and 50 LVs (must not grow).

Prints one line ``LVMCOUNT {json}`` for benchmarks/run.py. Uses a loop device on a sparse file in /tmp and removes
the VG, the PV and the loop device again.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from pybofh_blockdev import facts as blockdev_facts
from pybofh_core.runner import LocalRunner, use_runner
from pybofh_lvm import facts as lvm_facts


class Counting(LocalRunner):
    """A local runner that remembers the argv of every command it runs."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, ...]] = []

    def _execute(self, argv, data, timeout, *, readonly, env):  # type: ignore[no-untyped-def]
        self.calls.append(argv)
        return super()._execute(argv, data, timeout, readonly=readonly, env=env)


def full_listing() -> None:
    """What `bofh blockdev list` + `bofh lvm pv/vg/lv list` read."""
    blockdev_facts.list_devices()
    lvm_facts.list_pvs()
    lvm_facts.list_vgs()
    lvm_facts.list_lvs()


def main() -> None:
    img = Path(tempfile.mkdtemp()) / "pv.img"
    with img.open("wb") as fh:
        fh.truncate(1024**3)
    loop = subprocess.run(["losetup", "-f", "--show", str(img)], check=True, capture_output=True,
                          text=True).stdout.strip()
    out: dict[str, object] = {}
    try:
        subprocess.run(["pvcreate", "-q", loop], check=True, capture_output=True)
        subprocess.run(["vgcreate", "-q", "benchvg", loop], check=True, capture_output=True)
        made = 0
        for n in (1, 10, 50):
            while made < n:
                made += 1
                subprocess.run(["lvcreate", "-q", "-an", "-Zn", "-L", "4M", "-n", f"lv{made}", "benchvg"],
                               check=True, capture_output=True)
            counting = Counting()
            with use_runner(counting):
                full_listing()
            lvs = [lv for lv in lvm_facts.list_lvs() if lv.vg == "benchvg"]
            out[f"lvs_{n}"] = {"commands": len(counting.calls), "lvs_seen": len(lvs),
                               "tools": sorted({c[0] for c in counting.calls})}
    finally:
        subprocess.run(["vgremove", "-f", "-q", "benchvg"], capture_output=True)
        subprocess.run(["pvremove", "-q", loop], capture_output=True)
        subprocess.run(["losetup", "-d", loop], capture_output=True)
        img.unlink()
    print("LVMCOUNT " + json.dumps(out))


if __name__ == "__main__":
    main()
