"""TAB completion for real: bash in a pseudo-terminal, with the script ``bofh --show-completion bash`` prints, completes
commands, options and values read from the system (journal ids here; LVM, block devices and mappings the same way)."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def _bofh(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "bofh"), *args], capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """An interactive bash (no rc files) on a pty, with bofh's completion loaded; killed at the end."""
    if not (BIN / "bofh").exists():
        pytest.skip("bofh is not installed in this interpreter's bin directory")
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "PYBOFH_JOURNAL_DIR": str(tmp_path / "journal"),
           "TERM": "dumb", "PS1": "$ ", "HOME": str(tmp_path)}
    script = _bofh("--show-completion", "bash", env=env)
    assert script.returncode == 0 and "_BOFH_COMPLETE" in script.stdout, script.stderr
    (tmp_path / "completion.bash").write_text(script.stdout)
    pid, fd = pty.fork()
    if pid == 0:  # the child: bash reading from the pty
        os.execve(shutil.which("bash") or "/bin/bash", ["bash", "--norc", "--noprofile", "-i"], env)
    try:
        _type(fd, f"source {tmp_path / 'completion.bash'}\n")
        yield fd, env
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)


def _type(fd: int, keys: str, settle: float = 1.5) -> str:
    """Send ``keys`` to the terminal and return what it shows until it has been quiet for ``settle`` seconds."""
    os.write(fd, keys.encode())
    out = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], settle)
        if not ready:
            break
        try:
            out += os.read(fd, 4096)
        except OSError:
            break
    return out.decode(errors="replace")


def test_tab_completes_commands_options_and_journal_ids(shell: tuple[int, dict[str, str]]) -> None:
    fd, env = shell
    shown = _type(fd, "bofh jour\t")
    assert "bofh journal " in shown, shown  # the word was completed in place
    shown = _type(fd, "\x15bofh journal \t\t")  # ^U clears the line; TAB TAB lists the choices
    for command in ("list", "show", "prune", "rollback"):
        assert command in shown, shown
    shown = _type(fd, "\x15bofh journal prune --ol\t")
    assert "--older-than" in shown, shown
    # a journal to complete: an (ended) block's journal, as any bofh command leaves one
    from pybofh_core.journal import Journal

    writer = Journal(env["PYBOFH_JOURNAL_DIR"]).create(label="completion test")
    writer.close()
    ids = [state.id for state in Journal(env["PYBOFH_JOURNAL_DIR"]).list()]
    assert len(ids) == 1
    shown = _type(fd, f"\x15bofh journal show {ids[0][:6]}\t\t")
    assert ids[0] in shown, shown


@pytest.mark.parametrize("shell_name", ["bash", "zsh", "fish"])
def test_the_root_offers_completion_scripts_for_bash_zsh_and_fish(shell_name: str) -> None:
    out = _bofh("--show-completion", shell_name, env={**os.environ})
    assert out.returncode == 0 and "_BOFH_COMPLETE" in out.stdout, out.stderr


def _complete(words: str, env: dict[str, str]) -> list[str]:
    """What bash's completion function would get for the command line ``words`` (cursor at its end)."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    out = subprocess.run([str(BIN / "bofh")], capture_output=True, text=True, timeout=60,
                         env={**env, "COMP_WORDS": words, "COMP_CWORD": str(cword), "_BOFH_COMPLETE": "complete_bash"})
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_values_come_from_the_system_read_only(tmp_path: Path) -> None:
    """A plugin's completers (``COMPLETERS`` in its CLI module): block devices and mountpoints, here a real loop
    device and the mounts; where there is nothing (no VG on this host) nothing is offered and nothing is printed."""
    if os.geteuid() != 0:
        pytest.skip("attaching a loop device needs root")
    image = tmp_path / "disk.img"
    image.write_bytes(b"\0" * (8 << 20))
    loop = subprocess.run(["losetup", "--find", "--show", str(image)], capture_output=True, text=True,
                          check=True).stdout.strip()
    try:
        env = {**os.environ, "PYBOFH_NO_PLUGIN_CACHE": "1"}
        assert loop in _complete(f"bofh blockdev mkfs {loop[:-1]}", env)
        assert "/" in _complete("bofh blockdev umount /", env)
        assert _complete("bofh lvm vg remove ", env) == []
    finally:
        subprocess.run(["losetup", "--detach", loop], check=True)


def test_btrfs_subvolumes_and_xen_domains_complete_read_only(tmp_path: Path) -> None:
    """btrfs (``COMPLETERS`` of pybofh_btrfs.cli): subvolume paths under a real loop-mounted btrfs, read-only
    snapshots only where ``send`` wants one, mountpoints where a filesystem is named, and the shell's file names
    (nothing offered) for a new subvolume. Xen on this host (no hypervisor): nothing offered, nothing printed."""
    if os.geteuid() != 0:
        pytest.skip("attaching a loop device and mounting need root")
    if shutil.which("mkfs.btrfs", path="/usr/sbin:/sbin:/usr/bin:/bin") is None:
        pytest.skip("btrfs-progs is not installed")
    image = tmp_path / "btrfs.img"
    with image.open("wb") as fh:
        fh.truncate(160 << 20)
    loop = subprocess.run(["losetup", "--find", "--show", str(image)], capture_output=True, text=True,
                          check=True).stdout.strip()
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        subprocess.run(["mkfs.btrfs", "-q", "-f", loop], check=True, capture_output=True)
        subprocess.run(["mount", "-t", "btrfs", loop, str(mnt)], check=True, capture_output=True)
        for argv in (["create", f"{mnt}/data"], ["create", f"{mnt}/data/nested"],
                     ["snapshot", "-r", f"{mnt}/data", f"{mnt}/snap-ro"], ["snapshot", f"{mnt}/data", f"{mnt}/rw"]):
            subprocess.run(["btrfs", "subvolume", *argv], check=True, capture_output=True)
        env = {**os.environ, "PYBOFH_NO_PLUGIN_CACHE": "1"}
        every = [f"{mnt}/data", f"{mnt}/data/nested", f"{mnt}/rw", f"{mnt}/snap-ro"]
        assert _complete(f"bofh btrfs subvolume delete {mnt}/", env) == every
        assert _complete(f"bofh btrfs snapshot {mnt}/d", env) == every[:2]
        assert _complete(f"bofh btrfs send {mnt}/", env) == [f"{mnt}/snap-ro"]
        assert _complete(f"bofh btrfs send {mnt}/snap-ro --stream-file - --parent {mnt}/", env) == [f"{mnt}/snap-ro"]
        assert str(mnt) in _complete(f"bofh btrfs usage {mnt}", env)
        assert _complete(f"bofh btrfs subvolume create {mnt}/", env) == []
        assert _complete("bofh btrfs subvolume show /nonexistent/", env) == []
        got = subprocess.run([str(BIN / "bofh")], capture_output=True, text=True, timeout=60, env={
            **env, "COMP_WORDS": "bofh xen shutdown ", "COMP_CWORD": "3", "_BOFH_COMPLETE": "complete_bash"})
        assert (got.returncode, got.stdout.split(), got.stderr) == (0, [], "")
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True, check=False)
        subprocess.run(["losetup", "--detach", loop], check=True)
