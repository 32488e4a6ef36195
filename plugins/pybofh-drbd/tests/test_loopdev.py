"""create_md on a real loop device with the host's drbd-utils (drbdmeta needs no kernel module), then the layer
model recognises the metadata through blkid and finds the resource in the real ``drbdadm dump``."""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from pybofh_core.errors import NotFoundError, ValidationError
from pybofh_core.session import get_settings
from pybofh_drbd import ops, pybofh_probe_layer
from pybofh_drbd.layers import DrbdBacking

pytestmark = [
    pytest.mark.loopdev,
    pytest.mark.skipif(shutil.which("drbdadm", path="/usr/sbin:/sbin:/usr/bin") is None,
                       reason="drbd-utils is not installed (apt-get install drbd-utils)"),
]


def blkid(device: str) -> dict[str, str]:
    """``blkid -p -o export`` as a dict (what pybofh-blockdev hands to probe_layer)."""
    out = subprocess.run(["blkid", "-p", "-o", "export", device], capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def test_create_md_on_loop_device(loop_factory: Callable[..., str], tmp_path: Path) -> None:
    """Real drbdadm create-md writes v09 metadata; blkid sees TYPE=drbd; probe_layer maps it to the resource."""
    loop = loop_factory(64 * 1024 * 1024)
    assert blkid(loop).get("TYPE") is None
    cfg = tmp_path / "t0.res"
    cfg.write_text(
        "global { disable-ip-verification; }\n"  # dump of all resources checks the IPs are this host's
        "resource t0 {\n  device /dev/drbd5;\n"
        f"  disk {loop};\n  meta-disk internal;\n"
        f"  on {socket.gethostname()} {{ node-id 0; address 192.0.2.1:7789; }}\n"
        "  on peer { node-id 1; address 192.0.2.2:7789; }\n}\n"
    )
    with get_settings().override(drbd__config_file=str(cfg)):
        with pytest.raises(NotFoundError, match="does not exist"):
            ops.create_md("t0", "/dev/loop-not-this-one")
        with pytest.raises(ValidationError, match="not the backing disk"):
            ops.create_md("t0", "/dev/null")
        assert blkid(loop).get("TYPE") is None  # the refused call wrote nothing
        assert ops.create_md("t0", loop) == loop
        probe = blkid(loop)
        assert (probe["TYPE"], probe["VERSION"], probe["USAGE"]) == ("drbd", "v09", "raid")
        layer = pybofh_probe_layer(loop, probe)
        assert isinstance(layer, DrbdBacking)
        assert (layer.resource, layer.drbd_device) == ("t0", "/dev/drbd5")
