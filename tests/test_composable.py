"""Results are passed on (#16 item 1): every result that names a device or path is accepted wherever one is expected,
results are read back from the system, and an atomic block's irreversible-target check knows a result it created.

- Meta: every result type of every plugin whose identity is a path or device implements ``__fspath__`` (or is listed
  with the reason it does not); every operation parameter that takes a path or device is typed ``PathArg``.
- On loop devices (host): attach_loop → mkfs → set_label → mount → unmount → detach, each taking the previous
  result; btrfs subvolume → snapshot → send → receive → delete the same way; the read-back values match blkid and
  findmnt; inside ``Atomic`` mkfs on a LoopDevice the block attached is allowed, on one it did not is refused
  naming the device (not a repr).
- In the VM guest (device-mapper): PV → VG → LV → LUKS → mkfs → mount → unmount → close → LV removal, each step
  given the previous step's result object.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import subprocess
from pathlib import Path

import pytest

from pybofh_core.errors import IrreversibleOperationError
from pybofh_core.session import get_plugins

MIB = 1024**2
#: result fields that are an object's identity as a path or device
IDENTITY_FIELDS = ("path", "device", "target")
#: result types with such a field that are not passed on as that path, and why
NOT_PATHS = {
    "blockdev.Probe": "a probe of a device, not the device: pass .device",
    "btrfs.Subvolume": "its path is relative to the filesystem's top level (btrfs subvolume list), not a real path",
    "btrfs.FilesystemDevice": "one member of a multi-device filesystem; .path may be None (missing device)",
    "btrfs.DeviceUsage": "a usage report for one member device",
    "btrfs.DeviceStats": "error counters of one member device",
    "btrfs.Qgroup": "a quota group; its path is optional and relative",
    "btrfs.BalanceStatus": "a status report of a balance on the filesystem at .path",
    "btrfs.JobStarted": "a started background job (scrub, balance) on the filesystem at .path",
    "crypt.HeaderBackup": "names two things (the LUKS device and the backup file): pass .device or .file",
    "crypt.LuksDevice": "a LUKS header as luksDump shows it; .device is set only for LUKS1 dumps",
    "crypt.KeyFile": "a key: as a path it would be taken for a passphrase's text where a secret is expected",
    "lvm.VgExtended": "names a VG and a PV device: pass .vg or .device",
    "xen.RestoredDomu": "a domain, accepted by name where a domain is expected; .path is the state file it came from",
    "crypt.DmDevice": "a device-mapper table entry (dmsetup), named by .name",
    "drbd.VolumeConfig": "a volume of a resource's configuration: .device and .disk are two different devices",
    "xen.DiskSpec": "a domU's disk line: .target is the backing device as the config names it",
}
#: operation parameters that name a path or a device (they take ``PathArg``)
PATH_PARAMS = {"device", "devices", "path", "mountpoint", "target", "file", "stream_file", "dest_dir", "snapshot",
               "src", "dst", "parent", "target_dir"}
#: parameters of those names that do not take a path, and why
NOT_PATH_PARAMS = {
    "lvm.create_vg(name)": "a new VG's name",
}


def _plugins() -> list[str]:
    return [info.name for info in get_plugins().list()]


def _result_types() -> list[tuple[str, type]]:
    out = []
    for plugin in _plugins():
        try:
            module = importlib.import_module(f"pybofh_{plugin}.types")
        except ModuleNotFoundError:
            continue
        for name, cls in vars(module).items():
            if inspect.isclass(cls) and dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__:
                out.append((f"{plugin}.{name}", cls))
    return out


def test_every_result_naming_a_path_is_path_like() -> None:
    """A result whose identity is a path or device (a field ``path``, ``device`` or ``target``) implements
    ``__fspath__``, or ``NOT_PATHS`` says why not; ``NOT_PATHS`` lists only real types that lack it."""
    missing = []
    seen = set()
    for key, cls in _result_types():
        seen.add(key)
        fields = {f.name for f in dataclasses.fields(cls)}
        if fields & set(IDENTITY_FIELDS) and not issubclass(cls, os.PathLike) and key not in NOT_PATHS:
            missing.append(key)
    assert missing == [], f"result types naming a path without __fspath__: {missing}"
    stale = [k for k in NOT_PATHS if k.split(".")[0] in _plugins() and k not in seen]
    assert stale == [], f"NOT_PATHS names types that do not exist: {stale}"
    assert len(seen) > 60  # every plugin's types were found


def test_every_path_parameter_takes_a_path_like() -> None:
    """Every operation parameter that names a path or device is typed ``PathArg`` (``str | os.PathLike[str]``),
    so ``mypy --strict`` accepts a result passed on."""
    wrong, checked = [], 0
    for spec in get_plugins().operations.specs():
        for name, param in inspect.signature(spec.func).parameters.items():
            if name not in PATH_PARAMS or f"{spec.domain}.{spec.name}({name})" in NOT_PATH_PARAMS:
                continue
            checked += 1
            if "PathArg" not in str(param.annotation) and "PathLike" not in str(param.annotation):
                wrong.append(f"{spec.domain}.{spec.name}({name}: {param.annotation})")
    assert wrong == []
    assert checked > 40


def _blkid(device: str, tag: str) -> str:
    return subprocess.run(["blkid", "-p", "-o", "value", "-s", tag, device], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_blockdev_results_passed_on(tmp_path: Path) -> None:
    """attach_loop → mkfs → set_label → mount → unmount → detach, each given the previous result; mkfs's UUID and
    mount's fstype and options are read back (blkid, findmnt), not echoed from the arguments."""
    from pybofh import blockdev

    backing = tmp_path / "disk.img"
    backing.write_bytes(b"")
    os.truncate(backing, 64 * MIB)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    loop = blockdev.attach_loop(backing)  # a pathlib.Path is a path too
    try:
        fs = blockdev.create_filesystem(loop, "ext4", label="first")
        assert fs.device == loop.path and fs.uuid == _blkid(loop.path, "UUID") and fs.label == "first"
        relabelled = blockdev.set_label(fs, "second")
        assert (relabelled.old, relabelled.new, _blkid(loop.path, "LABEL")) == ("first", "second", "second")
        mounted = blockdev.mount(loop, mnt, ["ro"])
        assert (mounted.fstype, mounted.read_only, mounted.target) == ("ext4", True, str(mnt))
        gone = blockdev.unmount(mounted)
        assert gone.target == str(mnt)
        assert blockdev.check_filesystem(relabelled).status.value == "clean"
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
        detached = blockdev.detach_loop(loop)
    assert detached.path == loop.path and detached.backing_file == str(backing)


def test_atomic_irreversible_check_knows_a_result(tmp_path: Path) -> None:
    """Inside ``Atomic``, mkfs on the LoopDevice the block attached is allowed (it made it); on a LoopDevice
    attached outside it is refused, and the message names the device, not the object's repr."""
    from pybofh import Atomic, blockdev

    outside = tmp_path / "outside.img"
    inside = tmp_path / "inside.img"
    for f in (outside, inside):
        f.write_bytes(b"")
        os.truncate(f, 32 * MIB)
    other = blockdev.attach_loop(str(outside))
    try:
        with pytest.raises(IrreversibleOperationError) as info, Atomic(journal=False):
            blockdev.create_filesystem(other, "ext4")
        assert f"on '{other.path}'" in str(info.value) and "LoopDevice(" not in str(info.value)
        assert subprocess.run(["blkid", "-p", other.path], capture_output=True).returncode == 2  # still empty
        made = []
        with Atomic(journal=False) as block:
            loop = block.blockdev.attach_loop(inside)
            made.append(loop)
            fs = block.blockdev.create_filesystem(loop, "ext4")
            assert fs.uuid and fs.uuid == _blkid(loop.path, "UUID")
            assert block.steps[-1].spec.name == "create_filesystem"
    finally:
        for loop in [other, *made]:
            subprocess.run(["losetup", "-d", loop.path], capture_output=True)


def test_btrfs_results_passed_on(loop_factory, tmp_path: Path) -> None:
    """create_subvolume → snapshot → send → receive → delete_subvolume, each given the previous result (a Mount
    joined with a name makes the paths); the received subvolume's UUID is read back."""
    from pybofh import blockdev, btrfs

    src_mnt, dst_mnt = tmp_path / "src", tmp_path / "dst"
    src_mnt.mkdir()
    dst_mnt.mkdir()
    mounts = []
    try:
        for mnt in (src_mnt, dst_mnt):
            fs = blockdev.create_filesystem(loop_factory(128 * MIB), "btrfs")
            mounts.append(blockdev.mount(fs, mnt))
        sub = btrfs.create_subvolume(os.path.join(mounts[0], "data"))
        (Path(sub) / "file").write_bytes(b"payload")
        snap = btrfs.snapshot(sub, os.path.join(mounts[0], "data-snap"), readonly=True)
        stream = btrfs.send(snap, tmp_path / "stream")
        received = btrfs.receive(stream, mounts[1], expect_name="data-snap")
        assert received.uuid and (Path(received) / "file").read_bytes() == b"payload"
        btrfs.remove_stream(stream)
        for made in (received, snap, sub):
            btrfs.delete_subvolume(made, force=True)
        assert not Path(sub).exists() and not Path(received).exists()
    finally:
        for m in reversed(mounts):
            blockdev.unmount(m)


@pytest.mark.needs_dm
def test_lvm_crypt_results_passed_on(loop_factory, tmp_path: Path) -> None:
    """PV → VG → LV → LUKS → mkfs → mount → unmount → close → LV removal, each given the previous result object
    (PvCreated, VgCreated, LogicalVolume, Formatted, Mapping, Filesystem, Mount); the mapping's UUID is read back."""
    import secrets

    from pybofh import blockdev, crypt, lvm

    os.environ.setdefault("PYBOFH_CRYPT__PBKDF", "pbkdf2")
    os.environ.setdefault("PYBOFH_CRYPT__PBKDF_FORCE_ITERATIONS", "1000")
    name = f"pbco{secrets.token_hex(3)}"
    loop = loop_factory(128 * MIB)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        pv = lvm.create_pv(loop)
        vg = lvm.create_vg(name, [pv])
        lv = lvm.create_lv(vg, "data", "32m")
        assert lv.uuid and os.path.exists(lv)
        luks = crypt.format(lv, "composable passphrase")
        mapping = crypt.open(luks, f"{name}-c", "composable passphrase")
        assert mapping.uuid == crypt.dump(lv).uuid
        fs = blockdev.create_filesystem(mapping, "ext4")
        mounted = blockdev.mount(fs, mnt)
        assert mounted.fstype == "ext4"
        blockdev.unmount(mounted)
        crypt.close(mapping)
        lvm.remove_lv(vg, lv, force=True)
        assert lvm.list_lvs(name) == []
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
        subprocess.run(["cryptsetup", "close", f"{name}-c"], capture_output=True)
        subprocess.run(["vgremove", "-f", name], capture_output=True)
        subprocess.run(["pvremove", "-ff", "-y", loop], capture_output=True)
