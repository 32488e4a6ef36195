"""Real block devices: a domU whose disk is a loop device (backed by a temp file) resolves to that device, and is
grown through pybofh-blockdev's layer stack (loop + ext4) and shrunk back by the atomic rollback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pybofh_core.atomic import Atomic
from pybofh_core.errors import ValidationError
from pybofh_xen import facts, ops

MIB = 1024 * 1024
pytestmark = pytest.mark.loopdev


def _size(dev: str) -> int:
    return int(subprocess.run(["blockdev", "--getsize64", dev], check=True, capture_output=True, text=True).stdout)


def _ext4_bytes(dev: str) -> int:
    out = subprocess.run(["dumpe2fs", "-h", dev], check=True, capture_output=True, text=True).stdout
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return int(fields["Block count"]) * int(fields["Block size"])


@pytest.fixture
def loop_domu(loop_factory, tmp_path: Path) -> tuple[str, Path]:  # type: ignore[no-untyped-def]
    pytest.importorskip("pybofh_blockdev", reason="pybofh-blockdev is needed to resize through the stack")
    dev = loop_factory(64 * MIB, name="xendisk")
    subprocess.run(["mkfs.ext4", "-q", "-F", dev], check=True, capture_output=True)
    image = tmp_path / "swap.img"
    image.write_bytes(b"\0" * 4096)
    cfg = tmp_path / "guest.cfg"
    cfg.write_text(f"name = 'guest'\nmemory = 128\ndisk = [ 'phy:{dev},xvda,w', '{image},raw,xvdb,w' ]\n")
    return dev, cfg


def test_disks_resolve_to_the_loop_device(loop_domu: tuple[str, Path]) -> None:
    dev, cfg = loop_domu
    assert facts.domu_block_devices(cfg) == [dev]
    assert [(b.vdev, b.kind) for b in facts.domu_disks(cfg)] == [("xvda", "block"), ("xvdb", "file")]
    with pytest.raises(ValidationError, match="not a block device"):
        ops.resize_domu_disk(cfg, "xvdb", "1M")


def test_grow_domu_disk_through_the_stack_and_roll_back(loop_domu: tuple[str, Path]) -> None:
    dev, cfg = loop_domu
    assert _size(dev) == 64 * MIB
    ops.resize_domu_disk(cfg, "xvda", "96M")
    assert _size(dev) == 96 * MIB
    assert _ext4_bytes(dev) == 96 * MIB

    class Boom(Exception):
        pass

    with pytest.raises(Boom), Atomic() as atomic:
        atomic.xen.resize_domu_disk(cfg, "xvda", "128M")
        assert _size(dev) == 128 * MIB and _ext4_bytes(dev) == 128 * MIB
        raise Boom
    assert _size(dev) == 96 * MIB
    assert _ext4_bytes(dev) == 96 * MIB
