"""An LV-backed domU (the usual Xen setup) grown through the stack: LV (pybofh-lvm layer) + ext4, then rolled back.

Needs device-mapper, so it runs in the VM test bed (marker ``needs_dm``); elsewhere it skips and says why.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pybofh_core.atomic import Atomic
from pybofh_xen import facts, ops

MIB = 1024 * 1024
pytestmark = [pytest.mark.needs_dm, pytest.mark.loopdev]


def _sh(*argv: str) -> str:
    return subprocess.run(list(argv), check=True, capture_output=True, text=True).stdout


def _has_device_mapper() -> bool:
    try:
        return "device-mapper" in Path("/proc/misc").read_text()
    except OSError:
        return False


@pytest.fixture
def lv_domu(loop_factory, tmp_path: Path) -> Iterator[tuple[str, Path]]:  # type: ignore[no-untyped-def]
    if not _has_device_mapper():
        pytest.skip("no device-mapper on this kernel (run inside the VM test bed: needs_dm)")
    pytest.importorskip("pybofh_blockdev", reason="pybofh-blockdev is needed to resize through the stack")
    pytest.importorskip("pybofh_lvm", reason="pybofh-lvm provides the LV layer of the stack")
    dev = loop_factory(256 * MIB, name="xenpv")
    vg = f"xentest{uuid.uuid4().hex[:6]}"
    try:
        _sh("pvcreate", "-q", dev)
        _sh("vgcreate", "-q", vg, dev)
        _sh("lvcreate", "-q", "-y", "-n", "guest-disk", "-L", "64m", vg)
        lv = f"/dev/{vg}/guest-disk"
        _sh("mkfs.ext4", "-q", "-F", lv)
        cfg = tmp_path / "guest.cfg"
        cfg.write_text(f"name = 'guest'\ndisk = [ 'phy:{lv},xvda,w' ]\n")
        yield lv, cfg
    finally:
        subprocess.run(["vgremove", "-q", "-f", vg], capture_output=True)
        subprocess.run(["pvremove", "-q", "-f", dev], capture_output=True)


def test_lv_backed_domu_grows_through_the_stack(lv_domu: tuple[str, Path]) -> None:
    lv, cfg = lv_domu
    assert facts.domu_block_devices(cfg) == [lv]

    class Boom(Exception):
        pass

    with pytest.raises(Boom), Atomic() as atomic:
        atomic.xen.resize_domu_disk(cfg, "xvda", "128M")
        assert int(_sh("blockdev", "--getsize64", lv)) == 128 * MIB
        raise Boom
    assert int(_sh("blockdev", "--getsize64", lv)) == 64 * MIB
    ops.resize_domu_disk(cfg, "xvda", "96M")
    assert int(_sh("blockdev", "--getsize64", lv)) == 96 * MIB
