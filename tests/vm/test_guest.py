"""Tests of the VM test bed itself: boot, commands, device-mapper, LVM, LUKS, cleanup, pairs, the plugin."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

# Absolute import on purpose (see conftest.py): the fixtures' Guest comes from tests.vm.guest.
from tests.vm.guest import Guest, GuestConfig, GuestTimeout

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def qemu_processes_mentioning(text: str) -> list[str]:
    """Return the command lines of qemu-system processes whose argv contains ``text`` (empty: none left)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmdline.startswith("qemu-system") and text in cmdline:
            found.append(cmdline)
    return found


def test_dm_mod_and_dmsetup(vm_guest: Guest) -> None:
    """modprobe dm-mod works in the guest and dmsetup talks to the kernel driver."""
    assert vm_guest.run(["modprobe", "dm-mod"]).returncode == 0
    result = vm_guest.run(["dmsetup", "version"], check=True)
    assert "Driver version" in result.out
    assert vm_guest.run(["test", "-c", "/dev/mapper/control"]).returncode == 0


def test_lvm_on_scratch_disk(vm_guest: Guest) -> None:
    """pvcreate/vgcreate/lvcreate/lvremove on a scratch virtio disk, without udev, do not hang."""
    try:
        vm_guest.run(["pvcreate", "-y", "/dev/vda"], check=True, timeout=120)
        vm_guest.run(["vgcreate", "tbvg", "/dev/vda"], check=True, timeout=120)
        vm_guest.run(["lvcreate", "-y", "-L", "64M", "-n", "tblv", "tbvg"], check=True, timeout=120)
        lvs = vm_guest.run(["lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "tbvg"], check=True)
        assert '"lv_name":"tblv"' in lvs.out.replace(" ", "")
        assert vm_guest.run(["test", "-b", "/dev/tbvg/tblv"]).returncode == 0
        assert vm_guest.run(["mkfs.ext4", "-q", "/dev/tbvg/tblv"], timeout=120).returncode == 0
        vm_guest.run(["lvremove", "-y", "tbvg/tblv"], check=True, timeout=120)
    finally:
        vm_guest.run(["vgremove", "-y", "-f", "tbvg"], timeout=120)
        vm_guest.run(["pvremove", "-y", "/dev/vda"], timeout=120)
        vm_guest.run(["wipefs", "-a", "/dev/vda"], timeout=120)
    assert vm_guest.run(["dmsetup", "ls"], check=True).out.strip() in ("", "No devices found")


def test_luks2_format_open_close(vm_guest: Guest) -> None:
    """cryptsetup luksFormat --type luks2, open and close work without udev, the passphrase on stdin."""
    passphrase = "correct horse battery staple"
    fast_kdf = ["--pbkdf", "argon2id", "--pbkdf-memory", "32768", "--pbkdf-force-iterations", "4"]
    try:
        vm_guest.run(
            ["cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", *fast_kdf, "--key-file=-", "/dev/vdb"],
            input=passphrase,
            check=True,
            timeout=300,
        )
        vm_guest.run(
            ["cryptsetup", "open", "--key-file=-", "/dev/vdb", "tbcrypt"], input=passphrase, check=True, timeout=300
        )
        assert vm_guest.run(["test", "-b", "/dev/mapper/tbcrypt"]).returncode == 0
        status = vm_guest.run(["cryptsetup", "status", "tbcrypt"], check=True)
        assert "type:    LUKS2" in status.out
        wrong = vm_guest.run(
            ["cryptsetup", "open", "--test-passphrase", "--key-file=-", "/dev/vdb"], input="wrong", timeout=300
        )
        assert wrong.returncode == 2
    finally:
        vm_guest.run(["cryptsetup", "close", "tbcrypt"], timeout=60)
        vm_guest.run(["wipefs", "-a", "/dev/vdb"], timeout=60)
    assert vm_guest.run(["test", "-e", "/dev/mapper/tbcrypt"]).returncode == 1


def test_exit_codes_and_streams(vm_guest: Guest) -> None:
    """A failing command's exit code comes back; stdout, stderr and stdin are kept apart and complete."""
    assert vm_guest.run(["sh", "-c", "exit 42"]).returncode == 42
    assert vm_guest.run(["false"]).returncode == 1
    assert vm_guest.run(["/nonexistent/command"]).returncode == 127
    assert vm_guest.run(["sh", "-c", "kill -TERM $$"]).returncode == -signal.SIGTERM
    result = vm_guest.run(["sh", "-c", "cat; echo err >&2"], input=b"x" * 300_000)
    assert result.stdout == b"x" * 300_000 and result.stderr == b"err\n"
    chunks: list[bytes] = []
    vm_guest.run(["sh", "-c", "echo one; sleep 0.3; echo two"], stdout=chunks.append)
    assert b"".join(chunks) == b"one\ntwo\n" and len(chunks) == 2  # streamed as it came, not at the end


def test_guest_sees_project_and_entry_points(vm_guest: Guest) -> None:
    """The work tree is mounted at its host path and the project's plugins are discoverable via entry points."""
    script = (
        "import importlib.metadata as m, sys; "
        "print(sorted(e.name for e in m.entry_points(group='pybofh.plugins'))); print(sys.version)"
    )
    result = vm_guest.run(["python3", "-c", script], cwd=str(ROOT), check=True)
    assert result.out.splitlines()[1].startswith("3.11")
    if (ROOT / "pybofh_core" / "pyproject.toml").exists():
        assert "lvm" in result.out
    assert vm_guest.run(["test", "-f", str(HERE / "test_guest.py")]).returncode == 0
    # the tree is writable in the guest (tmpfs overlay) but the host's files never change
    vm_guest.run(["sh", "-c", f"echo guest > {ROOT}/.pybofh-vm-overlay-probe"], check=True)
    assert not (ROOT / ".pybofh-vm-overlay-probe").exists()


def test_timeout_kills_command_and_guest_stays_usable(vm_guest: Guest) -> None:
    """A command past its timeout is killed in the guest; the guest keeps serving commands."""
    t0 = time.monotonic()
    with pytest.raises(GuestTimeout):
        vm_guest.run(["sleep", "60"], timeout=1)
    assert time.monotonic() - t0 < 15
    assert vm_guest.run(["pgrep", "-x", "sleep"]).returncode == 1
    assert vm_guest.run(["true"]).returncode == 0


@pytest.mark.slow
def test_vm_and_temp_files_gone_after_exception(tmp_path: Path) -> None:
    """Leaving the with-block, even by an exception, kills qemu and deletes every temp file."""
    root = tmp_path / "vmtmp"
    config = GuestConfig(disks=(64 * 1024**2,), tmp_root=root)
    with pytest.raises(RuntimeError, match="boom"), Guest(config) as guest:
        pid, tmpdir = guest.pid, guest.tmpdir
        assert pid is not None and tmpdir is not None and tmpdir.exists()
        assert guest.run(["blockdev", "--getsize64", "/dev/vda"], check=True).out.strip() == str(64 * 1024**2)
        raise RuntimeError("boom")
    assert not Path(f"/proc/{pid}").exists()
    assert not tmpdir.exists()
    assert list(root.iterdir()) == []
    assert qemu_processes_mentioning(str(root)) == []


@pytest.mark.slow
def test_cli_runs_command_and_cleans_up_on_sigint(tmp_path: Path) -> None:
    """run.py streams output and returns the exit code; on SIGINT mid-command it kills the VM, leaves nothing."""
    env = dict(os.environ, PYBOFH_VM_TMPDIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, str(HERE / "run.py"), "--disks", "", "--", "sh", "-c", "echo hi; exit 7"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert (done.returncode, done.stdout) == (7, "hi\n"), done.stderr
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "run.py"), "--", "sh", "-c", "echo started; sleep 600"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "started\n"
        assert qemu_processes_mentioning(str(tmp_path)) != []
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert qemu_processes_mentioning(str(tmp_path)) == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.vm_pair
def test_pair_ping_and_tcp(vm_pair: tuple[Guest, Guest]) -> None:
    """Two guests on a qemu socket network reach each other: ping, and a TCP exchange between them."""
    a, b = vm_pair
    assert a.run(["ping", "-c", "1", "-W", "5", "pybofh-vm2"], timeout=60).returncode == 0
    assert b.run(["ping", "-c", "1", "-W", "5", "192.0.2.1"], timeout=60).returncode == 0
    server = (
        "import socket; s = socket.create_server(('0.0.0.0', 7789)); print('listening', flush=True); "
        "c, _ = s.accept(); c.sendall(c.recv(100).upper()); c.close()"
    )
    listening = threading.Event()
    results: dict[str, object] = {}

    def serve() -> None:
        results["server"] = b.run(["python3", "-c", server], timeout=120, stdout=lambda data: listening.set())

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        assert listening.wait(60)
        client = (
            "import socket; c = socket.create_connection(('pybofh-vm2', 7789), timeout=30); "
            "c.sendall(b'drbd?'); print(c.recv(100).decode())"
        )
        assert a.run(["python3", "-c", client], timeout=60, check=True).out == "DRBD?\n"
    finally:
        thread.join(timeout=130)
    assert results["server"].returncode == 0  # type: ignore[attr-defined]


@pytest.mark.needs_dm
def test_needs_dm_runs_in_guest() -> None:
    """A needs_dm test sees device-mapper: inside the guest, or on a host that has it."""
    assert Path("/dev/mapper/control").exists()
    out = subprocess.run(["dmsetup", "version"], capture_output=True, text=True, check=True).stdout
    assert "Driver version" in out


@pytest.mark.needs_dm
@pytest.mark.parametrize("size", ["8M", "16M"])
def test_needs_dm_linear_device(size: str, tmp_path: Path) -> None:
    """A needs_dm test with host-style fixtures (tmp_path) and parameters: a dm-linear map on a loop device."""
    backing = tmp_path / "disk.img"
    with backing.open("wb") as fh:
        fh.truncate(int(size[:-1]) * 1024**2)
    loop = subprocess.run(
        ["losetup", "--find", "--show", str(backing)], capture_output=True, text=True, check=True
    ).stdout.strip()
    name = f"tb-linear-{size}"
    try:
        sectors = int(size[:-1]) * 2048
        subprocess.run(["dmsetup", "create", name, "--table", f"0 {sectors} linear {loop} 0"], check=True)
        assert Path(f"/dev/mapper/{name}").exists()
    finally:
        subprocess.run(["dmsetup", "remove", name], check=False)
        subprocess.run(["losetup", "-d", loop], check=False)


@pytest.mark.needs_dm
@pytest.mark.vm_udev
def test_the_udev_variant_runs_udev_and_the_plain_one_does_not(tmp_path: Path) -> None:
    """In the vm_udev batch udevd runs, LVM syncs with it and udev makes /dev/mapper nodes; the plain guest has none.

    The host says which batch this is (PYBOFH_VM_VARIANT), so a udev guest that silently came up without udev fails.
    """
    variant = os.environ.get("PYBOFH_VM_VARIANT")
    assert variant in ("plain", "udev"), f"run by the VM test bed's batches, not {variant!r}"
    udevd = subprocess.run(["pgrep", "-x", "systemd-udevd"], capture_output=True, text=True, check=False)
    lvm_conf = Path("/etc/lvm/lvm.conf").read_text()
    if variant == "plain":
        assert udevd.returncode == 1 and os.environ.get("DM_DISABLE_UDEV") == "1"
        assert "\tudev_sync = 0" in lvm_conf
        return
    assert udevd.returncode == 0, "no udevd in the udev guest"
    assert "DM_DISABLE_UDEV" not in os.environ and "\tudev_sync = 1" in lvm_conf
    backing = tmp_path / "disk.img"
    with backing.open("wb") as fh:
        fh.truncate(8 * 1024**2)
    loop = subprocess.run(
        ["losetup", "--find", "--show", str(backing)], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        subprocess.run(["dmsetup", "create", "tb-udev", "--table", f"0 16384 linear {loop} 0"], check=True)
        props = subprocess.run(
            ["udevadm", "info", "--query=property", "/dev/mapper/tb-udev"], capture_output=True, text=True, check=True
        ).stdout
        assert "DM_NAME=tb-udev" in props.splitlines(), props  # udev's dm rules ran for the new map
    finally:
        subprocess.run(["dmsetup", "remove", "tb-udev"], check=False)
        subprocess.run(["losetup", "-d", loop], check=False)


def test_udev_stand_ins_are_named_as_a_parameter() -> None:
    """The udev twin of a test reads like one more parameter, so -k and node ids keep working."""
    from tests.vm.pytest_vm import udev_name

    assert udev_name("test_x") == "test_x[udev]"
    assert udev_name("test_x[8M]") == "test_x[8M-udev]"


PLUGIN_ROUND_TRIP = """
import pytest

pytestmark = pytest.mark.needs_dm

def test_ok():
    import os
    assert os.environ["PYBOFH_IN_VM"] == "1"

def test_fails():
    value = "guest-side value"
    assert value == "expected", "distinctive failure text"

def test_skips():
    pytest.skip("distinctive skip reason")

@pytest.mark.xfail(reason="known to fail in the guest")
def test_xfails():
    assert False

def test_error_in_fixture(broken):
    pass

@pytest.fixture
def broken():
    raise RuntimeError("fixture broke in the guest")
"""


def run_inner_pytest(path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run a separate pytest session on folder ``path`` with the VM plugin loaded; return its exit code and output."""
    (path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    full_env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.vm.pytest_vm", "-rA", *args, str(path)],
        cwd=path,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.slow
def test_plugin_round_trip(tmp_path: Path) -> None:
    """needs_dm tests run in the guest; the host reports pass, fail (guest's text), skip, xfail, error."""
    (tmp_path / "test_rt.py").write_text(PLUGIN_ROUND_TRIP)
    code, out = run_inner_pytest(tmp_path)
    assert code == 1, out
    assert "1 failed, 1 passed, 1 skipped, 1 xfailed, 1 error" in out, out
    assert "distinctive failure text" in out and "guest-side value" in out
    assert "distinctive skip reason" in out
    assert "fixture broke in the guest" in out
    assert "pybofh VM test bed" in out


def test_plugin_fails_clearly_without_vm_and_skips_on_request(tmp_path: Path) -> None:
    """Without a usable VM needs_dm tests fail with a clear message; PYBOFH_VM=skip makes them skip."""
    (tmp_path / "test_one.py").write_text("import pytest\n\n@pytest.mark.needs_dm\ndef test_x():\n    pass\n")
    broken = {"PYBOFH_VM_CACHE": str(tmp_path / "empty-cache"), "PATH": "/nonexistent"}  # no qemu, no apt-get
    code, out = run_inner_pytest(tmp_path, env=broken)
    assert code == 1 and "1 failed" in out, out
    assert "VM test bed unavailable" in out and "PYBOFH_VM=skip" in out
    code, out = run_inner_pytest(tmp_path, env={**broken, "PYBOFH_VM": "skip"})
    assert code == 0 and "1 skipped" in out, out
    assert "PYBOFH_VM=skip" in out
