"""DRBD as a layer over an LV, for real, on one node (needs device-mapper and the drbd module: runs in the VM test
bed's guest). The resource has a configured but absent peer, so it stays WFConnection the whole time."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pybofh_core.session import get_settings
from pybofh_drbd import facts, ops, pybofh_probe_device, pybofh_probe_layer
from pybofh_drbd.layers import DrbdBacking, DrbdDevice, internal_md_bytes
from pybofh_drbd.types import ConnectionState, Role

pytestmark = [pytest.mark.needs_dm, pytest.mark.loopdev]

VG = "pybofhdrbdlayer"
MIB = 1024 * 1024


def sh(*argv: str) -> str:
    """Run a set-up command (LC_ALL=C) and return its stdout; fail the test with its stderr."""
    res = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
    assert res.returncode == 0, f"{argv}: {res.stderr}"
    return res.stdout


def size_of(dev: str) -> int:
    """Device size in bytes (sysfs for /dev/drbdN: 8.4 refuses to open a Secondary's device)."""
    if dev.startswith("/dev/drbd"):
        return int(Path(f"/sys/block/{dev[5:]}/size").read_text()) * 512
    return int(sh("blockdev", "--getsize64", dev))


@pytest.fixture
def lv(loop_factory: Callable[..., str], tmp_path: Path) -> Iterator[str]:
    """A 64 MiB LV on a loop device, with resource t9 (minor 9) configured over it; all removed afterwards."""
    if subprocess.run(["modprobe", "drbd"], capture_output=True).returncode != 0:
        pytest.skip("the drbd kernel module cannot be loaded here")
    loop = loop_factory(256 * MIB)
    sh("pvcreate", "-q", "-y", loop)
    sh("vgcreate", "-q", VG, loop)
    path = f"/dev/{VG}/data"
    try:
        sh("lvcreate", "-q", "-y", "-W", "n", "-Z", "n", "-n", "data", "-L", "64m", VG)
        cfg = tmp_path / "t9.res"
        cfg.write_text(
            "global { disable-ip-verification; }\n"
            "resource t9 {\n  device /dev/drbd9;\n"
            f"  disk {path};\n  meta-disk internal;\n"
            f"  on {socket.gethostname()} {{ address 192.0.2.101:7799; }}\n"
            "  on absent-peer { address 192.0.2.102:7799; }\n}\n"
        )
        with get_settings().override(drbd__config_file=str(cfg)):
            yield path
    finally:
        subprocess.run(["drbdsetup", "down", "t9"], capture_output=True)
        subprocess.run(["vgremove", "-ff", "-y", VG], capture_output=True)
        subprocess.run(["pvremove", "-ff", "-y", loop], capture_output=True)


def test_drbd_layer_over_lv(lv: str) -> None:
    """create-md → blkid TYPE=drbd → DrbdBacking opens to /dev/drbd9, grows with its LV, closes again."""
    assert ops.create_md("t9", lv) == lv
    probe = dict(line.split("=", 1) for line in sh("blkid", "-p", "-o", "export", lv).splitlines())
    assert (probe["TYPE"], probe["VERSION"]) == ("drbd", "v08")  # 8.4 module: drbdadm-84 writes v08 metadata
    layer = pybofh_probe_layer(lv, probe)
    assert isinstance(layer, DrbdBacking)
    assert layer.inner is None
    assert layer.overhead == internal_md_bytes(64 * MIB)  # estimate while down

    dev = layer.open()
    assert dev == "/dev/drbd9" and stat.S_ISBLK(os.stat(dev).st_mode)
    assert layer.inner == dev
    assert layer.current_size() == size_of(dev) == 64 * MIB - internal_md_bytes(64 * MIB)
    assert layer.overhead == size_of(lv) - size_of(dev) == internal_md_bytes(64 * MIB)  # measured while up
    st = facts.status("t9")
    assert st.connections[0].state in (ConnectionState.WF_CONNECTION, ConnectionState.STANDALONE)

    assert ops.primary("t9", authoritative=True).previous is Role.SECONDARY
    before = size_of(dev)
    sh("lvextend", "-q", "-L", "+32m", lv)
    device_layer = pybofh_probe_device(dev)
    assert isinstance(device_layer, DrbdDevice)
    assert device_layer.resource == "t9"
    device_layer.resize(None)  # drbdadm resize: DRBD keeps the size agreed with the (absent) peer
    assert size_of(dev) == before
    grown = ops.resize("t9", assume_peer_has_space=True)  # grow to the backing LV without the peer
    assert (grown.old_size, grown.new_size, size_of(dev)) == (before, before + 32 * MIB, before + 32 * MIB)
    ops.resize("t9", before)  # the registered undo of that grow: shrink back (checked against the device)
    assert size_of(dev) == before
    ops.secondary("t9")

    layer.close()
    assert layer.inner is None
    assert not facts.is_up("t9")
