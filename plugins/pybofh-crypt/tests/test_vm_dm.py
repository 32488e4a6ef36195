"""Integration tests that need device-mapper (``cryptsetup open``): they run inside the VM test bed's guest.

Every operation and its inverse on real loop devices; journal rollback after kill -9; a full provisioning job
(PV → VG → LV → LUKS format → open → mkfs → mount → write a file) with a failure injected at every step, each time
checking that the guest is back to its starting state; and the LV → LUKS → ext4 stack resized down and up with exact
byte sizes and the file's hash verified, for LUKS1 and LUKS2.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pybofh_core.atomic import Atomic
from pybofh_core.runner import LocalRunner, Result, use_runner
from pybofh_core.session import get_settings
from pybofh_crypt import facts, keys, ops
from pybofh_crypt.errors import MappingNotFoundError
from pybofh_crypt.layers import LuksLayer

# vm_udev: these also run in a guest with udev running, as on a production host.
pytestmark = [pytest.mark.needs_dm, pytest.mark.vm_udev]

PW = "vm passphrase one"
NEW = "vm passphrase two"
MIB = 1024**2
FAST = {"crypt__pbkdf": "pbkdf2", "crypt__pbkdf_force_iterations": 1000}


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command to set up or inspect real state (tests only)."""
    return subprocess.run(argv, capture_output=True, text=True, check=check, env={**os.environ, "LC_ALL": "C"})


def dm_names() -> set[str]:
    """Names of all device-mapper devices."""
    out = sh("dmsetup", "ls").stdout
    return {ln.split()[0] for ln in out.splitlines() if ln.strip() and not ln.startswith("No devices")}


def vg_names() -> set[str]:
    """Names of all volume groups."""
    return {v.strip() for v in sh("vgs", "--noheadings", "-o", "vg_name").stdout.split()}


def mounts() -> set[str]:
    """Mount targets."""
    return set(sh("findmnt", "-rn", "-o", "TARGET").stdout.split())


def size_of(device: str) -> int:
    """Size of a block device in bytes."""
    return int(sh("blockdev", "--getsize64", device).stdout)


def ext4_size(device: str) -> int:
    """Size of the ext4 filesystem on ``device`` (block count times block size, from its superblock)."""
    lines = sh("dumpe2fs", "-h", device).stdout.splitlines()
    fields = {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in lines)}
    return int(fields["Block count"]) * int(fields["Block size"])


def signatures(device: str) -> str:
    """What blkid finds on ``device`` ('' when nothing)."""
    return sh("blkid", "-p", "-o", "export", device, check=False).stdout


@pytest.fixture
def fast() -> Iterator[Any]:
    """Cheap PBKDF settings."""
    with get_settings().override(**FAST) as s:
        yield s


@pytest.fixture
def names() -> Iterator[dict[str, str]]:
    """Unique names for this test's mapping and VG; whatever is left of them is removed afterwards, even on failure."""
    tag = secrets.token_hex(3)
    made = {"map": f"pbcr-{tag}", "vg": f"pbcrvg{tag}", "mnt": ""}
    try:
        yield made
    finally:
        if made["mnt"]:
            sh("umount", "-l", made["mnt"], check=False)
        for name in sorted(dm_names()):
            if name.startswith(("pbcr-", "luks-")) or name.startswith(made["vg"]):
                sh("dmsetup", "remove", "--force", name, check=False)
        if made["vg"] in vg_names():
            sh("vgremove", "-f", made["vg"], check=False)


@pytest.fixture
def luks_loop(loop_factory, fast):
    """``make(kind)`` → a 64 MiB loop device formatted as LUKS ``kind`` with PW."""

    def make(kind: str = "luks2") -> str:
        dev = loop_factory(64 * MIB)
        ops.format(dev, PW, luks_type=kind)
        return dev

    return make


# --- each operation and its inverse ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind, key_location, offset", [("luks1", "dm-crypt", 2 * MIB), ("luks2", "keyring", 16 * MIB)])
def test_open_status_close_and_rollback(luks_loop, names, kind, key_location, offset) -> None:
    """open gives /dev/mapper/NAME with the typed status expected; a failing block closes it again."""
    dev = luks_loop(kind)
    name = names["map"]
    with pytest.raises(RuntimeError), Atomic() as atomic:
        m = atomic.crypt.open(dev, name, PW)
        assert Path(m.path).exists()
        st = facts.status(name)
        assert (st.active, st.type, st.device, st.key_location) == (True, kind.upper(), dev, key_location)
        assert st.offset == offset and st.size == 64 * MIB - offset == size_of(m.path)
        raise RuntimeError("later step failed")
    assert name not in dm_names()
    with pytest.raises(MappingNotFoundError):
        facts.status(name)
    ops.open(dev, name, PW, readonly=True)
    assert facts.status(name).readonly is True
    ops.close(name)
    assert not facts.is_open(name)


def test_resize_and_rollback_keyring(luks_loop, names) -> None:
    """LUKS2 with the key in the keyring: resize with the passphrase; rollback restores the exact old size."""
    dev = luks_loop("luks2")
    name = names["map"]
    ops.open(dev, name, PW)
    try:
        with pytest.raises(RuntimeError), Atomic() as atomic:
            r = atomic.crypt.resize(name, 8 * MIB, passphrase=PW)
            assert (r.old_size, r.new_size) == (48 * MIB, 8 * MIB) and size_of(f"/dev/mapper/{name}") == 8 * MIB
            raise RuntimeError("fail")
        assert facts.status(name).size == 48 * MIB
        assert ops.resize(name, None, passphrase=PW).new_size == 48 * MIB
    finally:
        ops.close(name)


def test_resize_without_keyring_needs_no_passphrase(luks_loop, names) -> None:
    """Opened with keyring=False, a LUKS2 mapping resizes (and resizes back) without any passphrase."""
    dev = luks_loop("luks2")
    name = names["map"]
    ops.open(dev, name, PW, keyring=False)
    try:
        assert facts.status(name).key_location == "dm-crypt"
        r = ops.resize(name, 4 * MIB)
        assert size_of(f"/dev/mapper/{name}") == 4 * MIB
        ops.resize(name, r.old_size)
        assert size_of(f"/dev/mapper/{name}") == 48 * MIB
    finally:
        ops.close(name)


def test_journal_rollback_after_kill_9(luks_loop, names, journal_dir) -> None:
    """A process killed after open + add_key + resize leaves a journal; 'bofh journal rollback' in a new process
    resizes back, closes the mapping and kills the added key slot, with no passphrase from anywhere."""
    dev = luks_loop("luks1")
    name = names["map"]
    script = textwrap.dedent(f"""
        import os, signal, sys
        from pybofh_core.atomic import Atomic
        from pybofh_core.session import get_settings
        old, new = sys.stdin.read().split("\\n")
        with get_settings().override(crypt__pbkdf="pbkdf2", crypt__pbkdf_force_iterations=1000):
            with Atomic(label="kill-9") as atomic:
                atomic.crypt.open({dev!r}, {name!r}, old)
                atomic.crypt.add_key({dev!r}, old, new)
                atomic.crypt.resize({name!r}, {16 * MIB})
                print(atomic.journal_id, flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], input=f"{PW}\n{NEW}", capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == -9, proc.stderr
    assert size_of(f"/dev/mapper/{name}") == 16 * MIB and facts.dump(dev).active_keyslots == (0, 1)
    jid = proc.stdout.strip()
    journal = (journal_dir / f"{jid}.jsonl").read_text()
    assert PW not in journal and NEW not in journal
    out = subprocess.run([sys.executable, "-c", "from pybofh_core.cli import main; main()", "journal", "rollback",
                          jid], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert name not in dm_names() and facts.dump(dev).active_keyslots == (0,)
    assert not facts.test_passphrase(dev, NEW)


def test_layer_open_close_with_provider(luks_loop) -> None:
    """The LUKS layer opens as luks-<UUID> with the provided key and closes again."""
    dev = luks_loop("luks2")
    layer = LuksLayer(dev, {"TYPE": "crypto_LUKS", "VERSION": "2"})
    with keys.provide(PW, device=dev):
        path = layer.open()
    try:
        assert path == f"/dev/mapper/luks-{layer.uuid}" and layer.inner == path
        assert size_of(path) == 64 * MIB - layer.overhead
    finally:
        layer.close()
    assert layer.inner is None


# --- the provisioning job with a failure at every step ---------------------------------------------------------------


class FailOn(LocalRunner):
    """Runs commands for real, except the first one starting with ``prefix``, which fails (exit 99)."""

    def __init__(self, prefix: tuple[str, ...]) -> None:
        super().__init__()
        self.prefix = prefix
        self.fired = False

    def _execute(self, argv: tuple[str, ...], data: bytes | None, timeout: float, *, readonly: bool,
                 env: Any) -> Result:
        if not self.fired and self.prefix and argv[: len(self.prefix)] == self.prefix:
            self.fired = True
            return Result(argv, 99, b"", b"injected failure")
        return super()._execute(argv, data, timeout, readonly=readonly, env=env)


JOB_STEPS = [("pvcreate",), ("vgcreate",), ("lvcreate",), ("cryptsetup", "luksFormat"), ("cryptsetup", "open"),
             ("mkfs.ext4",), ("mount",)]


def provision(atomic: Atomic, loop: str, names: dict[str, str], mnt: Path) -> Path:
    """PV → VG → LV → LUKS format → open → mkfs → mount → write a file, each step through the atomic block."""
    vg, name = names["vg"], names["map"]
    atomic.lvm.create_pv(loop)
    atomic.lvm.create_vg(vg, [loop])
    lv = atomic.lvm.create_lv(vg, "data", 64 * MIB)
    atomic.crypt.format(lv.path, PW)
    m = atomic.crypt.open(lv.path, name, PW)
    atomic.blockdev.create_filesystem(m.path, "ext4")
    names["mnt"] = str(mnt)
    atomic.blockdev.mount(m.path, str(mnt))
    target = mnt / "hello.txt"
    target.write_text("provisioned\n")
    return target


@pytest.mark.slow
# Under udev, "after-write" alone (every step done, then every step undone) covers each undo: the other cases repeat
# it in part, so they run in the plain guest only (vm_udev(False)).
@pytest.mark.parametrize("fail", [*(pytest.param(s, marks=pytest.mark.vm_udev(False)) for s in JOB_STEPS), ()],
                         ids=[" ".join(s) for s in JOB_STEPS] + ["after-write"])
def test_provisioning_job_rolls_back_at_every_step(loop_factory, names, tmp_path, fast, fail) -> None:
    """Whichever step fails (or a later error), the guest ends as it started: no LV, VG, PV, mapping or mount."""
    loop = loop_factory(256 * MIB)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    before = (dm_names(), vg_names(), mounts(), signatures(loop))
    runner = FailOn(fail)
    with use_runner(runner), pytest.raises(Exception) as info, Atomic(label="provision") as atomic:
        target = provision(atomic, loop, names, mnt)
        assert target.read_text() == "provisioned\n"
        raise RuntimeError("injected after the file was written")
    assert runner.fired or not fail, f"the injected failure on {fail} never fired"
    assert "injected" in str(info.value)
    assert (dm_names(), vg_names(), mounts(), signatures(loop)) == before
    assert not (mnt / "hello.txt").exists()


def test_seed_example_lv_removed_when_mkfs_fails(loop_factory, names) -> None:
    """The seed's example: create_lv then create_filesystem; mkfs fails → the LV is gone."""
    from pybofh_lvm import ops as lvm_ops

    loop = loop_factory(128 * MIB)
    vg = names["vg"]
    lvm_ops.create_vg(vg, [loop])
    try:
        with use_runner(FailOn(("mkfs.ext4",))), pytest.raises(Exception, match="injected"), Atomic() as atomic:
            atomic.lvm.createLV(vg, "my_vm", "16M")
            atomic.blockdev.create_filesystem(f"/dev/{vg}/my_vm")
        assert not sh("lvs", "--noheadings", "-o", "lv_name", vg).stdout.strip()
    finally:
        lvm_ops.remove_vg(vg, remove_pvs=[loop])


# --- LV → LUKS → ext4 stack resized down and up ----------------------------------------------------------------------


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["luks1", "luks2"])
def test_stack_resize_down_and_up(loop_factory, names, tmp_path, fast, kind) -> None:
    """BlockDeviceStack opens LV → LUKS → ext4 with the provided key and resizes through it: exact byte sizes at
    each layer (LUKS header read from the device) and the file's hash unchanged."""
    try:
        from pybofh_blockdev import ops as bd_ops
        from pybofh_blockdev.layers import BlockDeviceStack
        from pybofh_lvm import ops as lvm_ops
    except ImportError as exc:
        pytest.skip(f"pybofh-blockdev/pybofh-lvm lack the stack API: {exc}")
    loop = loop_factory(256 * MIB)
    vg = names["vg"]
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    lvm_ops.create_vg(vg, [loop])
    lv = lvm_ops.create_lv(vg, "data", 96 * MIB)
    ops.format(lv.path, PW, luks_type=kind)
    offset = facts.dump(lv.path).data_offset
    assert offset == (2 * MIB if kind == "luks1" else 16 * MIB)
    m = ops.open(lv.path, names["map"], PW)
    bd_ops.create_filesystem(m.path, "ext4")
    bd_ops.mount(m.path, str(mnt))
    names["mnt"] = str(mnt)
    (mnt / "data.bin").write_bytes(os.urandom(8 * MIB))
    digest = _file_hash(mnt / "data.bin")
    bd_ops.unmount(str(mnt))
    ops.close(names["map"])

    def check(total: int) -> None:
        with keys.provide(PW), BlockDeviceStack.open(lv.path) as stack:
            luks = stack.layers[1]
            assert isinstance(luks, LuksLayer) and luks.kind == kind and luks.overhead == offset
            assert [layer.kind for layer in stack.layers][1:] == [kind, "ext4"]
            stack.resize(total)
            inner = luks.inner
            assert size_of(lv.path) == total
            assert size_of(inner) == facts.status(luks.name).size == total - offset
            assert ext4_size(inner) == total - offset
            bd_ops.mount(inner, str(mnt), ["ro"])
            try:
                assert _file_hash(mnt / "data.bin") == digest
            finally:
                bd_ops.unmount(str(mnt))
        assert not facts.is_open(luks.name)

    try:
        check(64 * MIB)
        check(128 * MIB)
    finally:
        sh("umount", "-l", str(mnt), check=False)
        for name in dm_names():
            if name.startswith("luks-"):
                sh("cryptsetup", "close", name, check=False)
        lvm_ops.remove_lv(vg, "data", force=True)  # the test's own LV, holding its LUKS volume
        lvm_ops.remove_vg(vg, remove_pvs=[loop])
