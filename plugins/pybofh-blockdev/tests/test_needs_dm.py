"""Device-mapper devices in the listing and the stack model; these run inside the VM test bed (``needs_dm``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pybofh_blockdev import facts
from pybofh_blockdev.layers import BlockDeviceStack
from pybofh_core.errors import ValidationError

pytestmark = pytest.mark.needs_dm
MiB = 1024**2


@pytest.fixture
def dm_linear(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A dm-linear map over a loop device, with ext4 on it; removed at teardown."""
    misc = Path("/proc/misc").read_text() if Path("/proc/misc").exists() else ""
    if "device-mapper" not in misc:  # only reached when the VM test bed did not take over this test
        pytest.skip("this kernel has no device-mapper and the VM test bed (tests/vm) is not active in this run")
    backing = tmp_path / "dm.img"
    with backing.open("wb") as fh:
        fh.truncate(32 * MiB)
    loop = subprocess.run(["losetup", "--find", "--show", str(backing)], capture_output=True, text=True,
                          check=True).stdout.strip()
    name = f"pybofh-bd-{tmp_path.name[-12:]}"
    try:
        subprocess.run(["dmsetup", "create", name, "--table", f"0 {16 * 2048} linear {loop} 0"], check=True)
        subprocess.run(["dmsetup", "mknodes", name], check=False)
        dev = f"/dev/mapper/{name}"
        subprocess.run(["mkfs.ext4", "-q", "-L", "ondm", dev], check=True)
        yield loop, dev
    finally:
        subprocess.run(["dmsetup", "remove", name], check=False)
        subprocess.run(["losetup", "-d", loop], check=False)


def test_dm_device_is_a_child_of_its_loop_with_its_filesystem(dm_linear) -> None:  # type: ignore[no-untyped-def]
    """lsblk nests the map under the loop; fstype/label come from lsblk or, without udev, from blkid."""
    loop, dev = dm_linear
    tree = facts.list_devices()
    mapped = tree.get(dev)
    assert mapped.type == "dm" and (mapped.fstype, mapped.label) == ("ext4", "ondm")
    assert mapped.size == 16 * MiB
    assert tree.get(loop).children == (mapped.key,) and mapped.parents == (loop,)


def test_stack_on_an_unknown_device_refuses_to_resize(dm_linear) -> None:  # type: ignore[no-untyped-def]
    """A plain dm map is no loop or LV: the stack sees it as fixed-size and refuses to resize it."""
    _, dev = dm_linear
    with BlockDeviceStack.open(dev) as stack:
        assert [layer.kind for layer in stack.layers] == ["device", "ext4"]
        with pytest.raises(ValidationError, match="cannot grow"):
            stack.resize("24M")
