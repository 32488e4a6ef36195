"""Trust in the VM test bed (device-mapper): data checks before LVM destroys anything, and rollback by identity
after kill -9 and a reboot-like cleanup.

- An LV holding ext4 with data is not shrunk (API and CLI, mounted or not) and not removed without ``--force``;
  the data's sha256 and a clean fsck afterwards prove nothing was touched.
- A PV → VG → LV → LUKS → mkfs → mount job is killed with SIGKILL; the mount, the mapping and the activation are
  then undone by hand (what a reboot does); ``bofh journal rollback`` finishes with exit 0 and nothing is left.
- The same, but the administrator made a new LV with the same name in between: it and its data are left alone,
  the rollback exits 3 and the journal needs attention.
- A stack resize killed right after ``lvresize`` (its step still "started"): the rollback restores every layer.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.needs_dm

MIB = 1024**2
PW = "trust vm passphrase"
FAST_ENV = {"PYBOFH_CRYPT__PBKDF": "pbkdf2", "PYBOFH_CRYPT__PBKDF_FORCE_ITERATIONS": "1000"}


def sh(*argv: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run a set-up or inspection command (tests only)."""
    return subprocess.run(argv, capture_output=True, text=True, check=check, input=input,
                          env={**os.environ, "LC_ALL": "C"})


def sha256(path: Path) -> str:
    """Hash of a file's content."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lv_names(vg: str) -> list[str]:
    """LVs of ``vg`` (empty when the VG is gone)."""
    res = sh("lvs", "--noheadings", "-o", "lv_name", vg, check=False)
    return sorted(res.stdout.split()) if res.returncode == 0 else []


def lv_size(vg: str, name: str) -> int:
    """An LV's size in bytes."""
    return int(sh("lvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "lv_size", f"{vg}/{name}").stdout)


def env_for(journal: Path) -> dict[str, str]:
    """A child's environment: the test's journal directory and cheap key derivation."""
    return {**os.environ, "PYBOFH_JOURNAL_DIR": str(journal), **FAST_ENV}


def bofh(*args: str, env: dict[str, str], input: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real CLI in a child process."""
    return subprocess.run([sys.executable, "-m", "pybofh_core.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300, input=input)


@pytest.fixture
def vg(loop_factory) -> Iterator[tuple[str, str]]:
    """A fresh VG on a 256 MiB loop device: (vg name, loop device); everything in it is removed afterwards."""
    name = f"pbtr{secrets.token_hex(3)}"
    loop = loop_factory(256 * MIB)
    try:
        yield name, loop
    finally:
        cleanup(name, loop)


def cleanup(vg: str, loop: str, mnt: Path | None = None) -> None:
    """Remove whatever a test left of ``vg`` and the mappings over it (never raises)."""
    if mnt is not None:
        sh("umount", "-l", str(mnt), check=False)
    for line in sh("dmsetup", "ls", check=False).stdout.splitlines():
        dm = line.split()[0] if line.strip() else ""
        if dm.startswith(("pbtr-", "luks-")):
            sh("cryptsetup", "close", dm, check=False)
    sh("vgremove", "-f", vg, check=False)
    sh("pvremove", "-ff", "-y", loop, check=False)


def ext4_lv_with_data(vg: str, loop: str, mnt: Path) -> tuple[str, str]:
    """VG ``vg`` on ``loop`` with LV ``data`` (64 MiB) holding ext4 and a 4 MiB file; (LV path, file hash)."""
    sh("vgcreate", vg, loop)
    sh("lvcreate", "--yes", "-n", "data", "-L", "64m", vg)
    path = f"/dev/{vg}/data"
    sh("mkfs.ext4", "-q", path)
    sh("mount", path, str(mnt))
    (mnt / "payload").write_bytes(os.urandom(4 * MIB))
    digest = sha256(mnt / "payload")
    sh("umount", str(mnt))
    return path, digest


def intact(path: str, mnt: Path, digest: str) -> None:
    """The filesystem on ``path`` is clean and still holds the file with ``digest``."""
    assert sh("e2fsck", "-f", "-n", path, check=False).returncode == 0
    sh("mount", "-o", "ro", path, str(mnt))
    try:
        assert sha256(mnt / "payload") == digest
    finally:
        sh("umount", str(mnt))


# --- data checks ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mounted", [False, True], ids=["unmounted", "mounted"])
def test_lv_shrink_under_a_filesystem_is_refused(vg, tmp_path: Path, mounted: bool) -> None:
    """``lvm.resize_lv`` and ``bofh lvm lv resize`` refuse to cut an LV below its ext4 (exit 2, naming the
    stack-aware ``bofh blockdev resize``); the LV keeps its size and the data its hash."""
    from pybofh_core.errors import DataAtRiskError
    from pybofh_lvm import ops

    name, loop = vg
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    path, digest = ext4_lv_with_data(name, loop, mnt)
    if mounted:
        sh("mount", path, str(mnt))
    try:
        with pytest.raises(DataAtRiskError, match="bofh blockdev resize") as info:
            ops.resize_lv(name, "data", 32 * MIB)
        assert "ext4" in str(info.value) and "(64.0 MiB)" in str(info.value)
        result = bofh("lvm", "lv", "resize", name, "data", "32M", env=env_for(tmp_path / "journal"))
        assert result.returncode == 2, result.stderr
        assert "bofh blockdev resize" in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert lv_size(name, "data") == 64 * MIB
    finally:
        if mounted:
            sh("umount", str(mnt))
    intact(path, mnt, digest)


def test_lv_remove_of_an_lv_with_data_needs_force(vg, tmp_path: Path) -> None:
    """``bofh lvm lv remove`` refuses an LV holding ext4 (exit 2); with ``--force`` it removes it."""
    name, loop = vg
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    path, digest = ext4_lv_with_data(name, loop, mnt)
    env = env_for(tmp_path / "journal")
    refused = bofh("lvm", "lv", "remove", name, "data", env=env)
    assert refused.returncode == 2 and "already contains ext4" in refused.stderr and "--force" in refused.stderr
    intact(path, mnt, digest)
    forced = bofh("lvm", "lv", "remove", name, "data", "--force", env=env)
    assert forced.returncode == 0, forced.stderr
    assert lv_names(name) == []


def test_crypt_format_over_a_filesystem_needs_force_even_with_yes(vg, tmp_path: Path) -> None:
    """``--yes`` only answers the prompt; pybofh's own signature check still refuses until ``--force``."""
    name, loop = vg
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    path, digest = ext4_lv_with_data(name, loop, mnt)
    key = tmp_path / "key"
    key.write_text(PW)
    env = env_for(tmp_path / "journal")
    refused = bofh("crypt", "format", path, "--key-file", str(key), "--yes", env=env)
    assert refused.returncode == 2 and "already contains ext4" in refused.stderr, refused.stderr
    intact(path, mnt, digest)
    forced = bofh("crypt", "format", path, "--key-file", str(key), "--yes", "--force", env=env)
    assert forced.returncode == 0, forced.stderr
    assert "crypto_LUKS" in sh("blkid", "-p", "-o", "export", path).stdout


# --- kill -9, a reboot-like cleanup, journal rollback -----------------------------------------------------------------

PROVISION = textwrap.dedent(
    f"""
    import sys, time
    from pybofh import Atomic
    loop, vg, mapping, mnt, ready = sys.argv[1:6]
    with Atomic(label="provision") as atomic:
        atomic.lvm.create_pv(loop)
        atomic.lvm.create_vg(vg, [loop])
        lv = atomic.lvm.create_lv(vg, "data", 64 * 1024**2)
        atomic.crypt.format(lv.path, "{PW}")
        m = atomic.crypt.open(lv.path, mapping, "{PW}")
        atomic.blockdev.create_filesystem(m.path, "ext4")
        atomic.blockdev.mount(m.path, mnt)
        open(mnt + "/hello.txt", "w").write("provisioned")
        open(ready, "w").write(atomic.journal_id)
        time.sleep(3600)
    """
)


def run_until(script: str, args: list[str], ready: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """Start ``script`` in a child and wait until it wrote ``ready``."""
    child = subprocess.Popen([sys.executable, "-c", script, *args], env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not (ready.exists() and ready.read_text()):
        if child.poll() is not None:
            raise AssertionError(f"the job ended early: {child.stderr.read() if child.stderr else ''}")
        assert time.monotonic() < deadline, "the job never got ready"
        time.sleep(0.1)
    return child


def kill9(child: subprocess.Popen[str]) -> None:
    """SIGKILL and reap."""
    if child.poll() is None:
        os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=60)


def reboot_like(vg: str, mapping: str, mnt: Path) -> None:
    """What a reboot undoes by itself: the mount, the open mapping and the LV activation."""
    sh("umount", str(mnt))
    sh("cryptsetup", "close", mapping)
    sh("vgchange", "-an", vg)


@pytest.mark.slow
def test_kill_9_then_reboot_like_cleanup_then_rollback_leaves_nothing(loop_factory, tmp_path: Path) -> None:
    """Every undo after the 'reboot' either finds its object gone (already undone) or removes exactly it: exit 0,
    and the loop device holds no PV label, LV, LUKS header or filesystem."""
    vg, mapping = f"pbtr{secrets.token_hex(3)}", f"pbtr-{secrets.token_hex(3)}"
    loop = loop_factory(256 * MIB)
    mnt, ready, journal = tmp_path / "mnt", tmp_path / "ready", tmp_path / "journal"
    mnt.mkdir()
    env = env_for(journal)
    try:
        child = run_until(PROVISION, [loop, vg, mapping, str(mnt), str(ready)], ready, env)
        kill9(child)
        jid = ready.read_text()
        reboot_like(vg, mapping, mnt)
        result = bofh("journal", "rollback", jid, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        lines = result.stdout.splitlines()
        assert any(ln.startswith("already undone: blockdev.mount") for ln in lines), lines
        assert any(ln.startswith("already undone: crypt.open") for ln in lines), lines
        assert "undone: lvm.create_lv" in lines and "undone: lvm.create_vg" in lines
        assert "undone: lvm.create_pv" in lines
        assert sh("pvs", "--noheadings", loop, check=False).returncode != 0  # no PV label
        assert sh("blkid", "-p", "-o", "export", loop, check=False).stdout == ""
        assert vg not in sh("vgs", "--noheadings", "-o", "vg_name").stdout.split()
        listed = json.loads(bofh("--json", "journal", "list", env=env).stdout)
        assert next(r for r in listed if r["id"] == jid)["status"] == "rolled-back"
    finally:
        cleanup(vg, loop, mnt)


@pytest.mark.slow
def test_rollback_leaves_a_new_same_named_lv_and_its_data_alone(loop_factory, tmp_path: Path) -> None:
    """After the kill and the 'reboot', the administrator removes the job's LV, makes a new 'data' with a
    filesystem and a file, and mounts it where the job's was: the rollback must neither unmount nor remove it
    (exit 3, needs attention; it stays mounted, its data intact)."""
    vg, mapping = f"pbtr{secrets.token_hex(3)}", f"pbtr-{secrets.token_hex(3)}"
    loop = loop_factory(256 * MIB)
    mnt, ready, journal = tmp_path / "mnt", tmp_path / "ready", tmp_path / "journal"
    mnt.mkdir()
    env = env_for(journal)
    try:
        child = run_until(PROVISION, [loop, vg, mapping, str(mnt), str(ready)], ready, env)
        kill9(child)
        jid = ready.read_text()
        reboot_like(vg, mapping, mnt)
        sh("lvremove", "--yes", f"{vg}/data")
        sh("lvcreate", "--yes", "-n", "data", "-L", "32m", vg)
        new = f"/dev/{vg}/data"
        sh("mkfs.ext4", "-q", new)
        sh("mount", new, str(mnt))
        (mnt / "payload").write_bytes(os.urandom(MIB))
        digest = sha256(mnt / "payload")
        sh("umount", str(mnt))
        uuid = sh("lvs", "--noheadings", "-o", "lv_uuid", f"{vg}/data").stdout.strip()
        sh("mount", new, str(mnt))  # at the job's mountpoint, in the same boot
        result = bofh("journal", "rollback", jid, env=env)
        assert result.returncode == 3, result.stdout + result.stderr
        assert f"left alone: lvm.create_lv: LV {vg}/data is now LV {uuid}" in result.stderr
        assert f"left alone: blockdev.mount: {mnt} now has /dev/mapper/{vg}-data (UUID " in result.stderr
        assert "needs attention" in result.stderr
        assert str(mnt) in sh("findmnt", "-rn", "-o", "TARGET").stdout.split()  # still mounted
        sh("umount", str(mnt))
        assert sh("lvs", "--noheadings", "-o", "lv_uuid", f"{vg}/data").stdout.strip() == uuid
        intact(new, mnt, digest)
        listed = json.loads(bofh("--json", "journal", "list", env=env).stdout)
        assert next(r for r in listed if r["id"] == jid)["status"] == "needs-attention"
    finally:
        cleanup(vg, loop, mnt)


RESIZE = textwrap.dedent(
    f"""
    import sys, time
    from pybofh import Atomic
    from pybofh_core.runner import LocalRunner, use_runner
    from pybofh_crypt import keys
    device, size, ready = sys.argv[1:4]

    class StopAfterLvresize(LocalRunner):
        def _execute(self, argv, data, timeout, **kw):
            res = super()._execute(argv, data, timeout, **kw)
            if argv[0] == "lvresize":
                open(ready, "w").write("lvresize ran")
                time.sleep(3600)  # killed here: the step is journalled "started", its undo ahead of it
            return res

    with use_runner(StopAfterLvresize()), keys.provide("{PW}"), Atomic(label="stack") as atomic:
        atomic.blockdev.resize_stack(device, size)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("direction", ["shrink", "grow"])
def test_stack_resize_killed_right_after_lvresize_is_rolled_back_layer_by_layer(vg, tmp_path: Path,
                                                                               direction: str) -> None:
    """LV → LUKS2 → ext4 resized through the stack, the process killed right after ``lvresize``: the journal's
    write-ahead undo of that step (still "started") and the finished steps' undos restore every layer's size, and
    the file's hash is unchanged."""
    name, loop = vg
    mnt, journal, ready = tmp_path / "mnt", tmp_path / "journal", tmp_path / "ready"
    mnt.mkdir()
    env = env_for(journal)
    lv, mapper, digest = closed_luks_ext4_lv(name, loop, mnt)
    uuid = mapper.removeprefix("luks-")
    before = (lv_size(name, "data"), luks_fs_sizes(lv, mapper))
    target = "64M" if direction == "shrink" else "128M"
    child = run_until(RESIZE, [lv, target, str(ready)], ready, env)
    kill9(child)
    jid = next(p.stem for p in journal.glob("*.jsonl"))
    state = json.loads(bofh("--json", "journal", "show", jid, env=env).stdout)
    started = [s for s in state["steps"] if s["state"] == "started" and s["kind"] != "composite"]
    assert [s["op"] for s in started] == ["lvm.resize_lv"] and started[0]["ahead"]["op"] == "lvm.resize_lv"
    with_key = {**env, "PYBOFH_CRYPT__KEY_DIR": str(tmp_path)}
    (tmp_path / uuid).write_text(PW)  # the crypt resize undo after a fresh start reads the key from key_dir
    (tmp_path / uuid).chmod(0o600)
    result = bofh("journal", "rollback", jid, env=with_key)
    assert result.returncode == 0, result.stdout + result.stderr
    if facts_open(mapper):
        sh("cryptsetup", "close", mapper)
    assert (lv_size(name, "data"), luks_fs_sizes(lv, mapper)) == before
    sh("cryptsetup", "open", "--key-file=-", lv, mapper, input=PW)
    try:
        intact(f"/dev/mapper/{mapper}", mnt, digest)
    finally:
        sh("cryptsetup", "close", mapper)
    sh("vgremove", "-f", name)


def facts_open(mapper: str) -> bool:
    """Whether dm-crypt mapping ``mapper`` is open."""
    return sh("cryptsetup", "status", mapper, check=False).returncode == 0


def luks_fs_sizes(lv: str, mapper: str) -> tuple[int, int]:
    """(the open mapping's size, its ext4's size), opening and closing the mapping when it is closed."""
    opened = not facts_open(mapper)
    if opened:
        sh("cryptsetup", "open", "--key-file=-", lv, mapper, input=PW)
    try:
        size = int(sh("blockdev", "--getsize64", f"/dev/mapper/{mapper}").stdout)
        fields = dict(ln.split(":", 1) for ln in sh("dumpe2fs", "-h", f"/dev/mapper/{mapper}").stdout.splitlines()
                      if ":" in ln)
        return size, int(fields["Block count"]) * int(fields["Block size"])
    finally:
        if opened:
            sh("cryptsetup", "close", mapper)


# --- the journal's own ground -----------------------------------------------------------------------------------------


def test_a_block_never_takes_away_the_lv_and_luks_its_journal_lives_on(vg, tmp_path: Path) -> None:
    """The journal directory is on ext4 on LUKS on an LV: inside a block (irreversible steps allowed, checks
    forced) shrinking, deactivating or removing that LV and closing the LUKS mapping are refused before any
    command runs; growing the LV is not. Everything is still there afterwards."""
    from pybofh_core.atomic import Atomic
    from pybofh_core.errors import JournalGroundError
    from pybofh_core.journal import Journal

    name, loop = vg
    mapping = f"pbtr-{secrets.token_hex(3)}"
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    sh("vgcreate", name, loop)
    sh("lvcreate", "--yes", "-n", "data", "-L", "64m", name)
    sh("cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", "--pbkdf", "pbkdf2",
       "--pbkdf-force-iterations", "1000", "--key-file", "-", f"/dev/{name}/data", input=PW)
    sh("cryptsetup", "open", "--key-file", "-", f"/dev/{name}/data", mapping, input=PW)
    sh("mkfs.ext4", "-q", f"/dev/mapper/{mapping}")
    sh("mount", f"/dev/mapper/{mapping}", str(mnt))
    try:
        journal = mnt / "journal"
        journal.mkdir()
        with Atomic(journal=Journal(journal), allow_irreversible=True) as atomic:
            for call in (lambda: atomic.lvm.resize_lv(name, "data", 32 * MIB, force=True),
                         lambda: atomic.lvm.deactivate_lv(name, "data"),
                         lambda: atomic.lvm.remove_lv(name, "data", force=True),
                         lambda: atomic.crypt.close(mapping)):
                with pytest.raises(JournalGroundError, match="holds this job's journal directory"):
                    call()
            atomic.lvm.resize_lv(name, "data", 96 * MIB)
        assert lv_size(name, "data") == 96 * MIB
        assert sh("findmnt", "-n", "-o", "SOURCE", str(mnt)).stdout.strip() == f"/dev/mapper/{mapping}"
        assert (journal).is_dir()
    finally:
        sh("umount", str(mnt), check=False)
        sh("cryptsetup", "close", mapping, check=False)


# --- a filesystem inside LUKS is resized back even when its mapping is gone -------------------------------------------


def closed_luks_ext4_lv(name: str, loop: str, mnt: Path) -> tuple[str, str, str]:
    """VG ``name`` with LV ``data`` (96 MiB) → LUKS2 → ext4 holding a 4 MiB file, all closed: (LV, mapper, hash)."""
    sh("vgcreate", name, loop)
    sh("lvcreate", "--yes", "-n", "data", "-L", "96m", name)
    lv = f"/dev/{name}/data"
    sh("cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", "--pbkdf", "pbkdf2",
       "--pbkdf-force-iterations", "1000", "--key-file=-", lv, input=PW)
    mapper = f"luks-{sh('cryptsetup', 'luksUUID', lv).stdout.strip()}"
    sh("cryptsetup", "open", "--key-file=-", lv, mapper, input=PW)
    sh("mkfs.ext4", "-q", f"/dev/mapper/{mapper}")
    sh("mount", f"/dev/mapper/{mapper}", str(mnt))
    (mnt / "payload").write_bytes(os.urandom(4 * MIB))
    digest = sha256(mnt / "payload")
    sh("umount", str(mnt))
    sh("cryptsetup", "close", mapper)
    return lv, mapper, digest


def test_a_stack_grow_through_closed_luks_is_undone_layer_by_layer(vg, tmp_path: Path) -> None:
    """``resize_stack`` opens the closed LUKS, grows LV, LUKS and ext4, and closes it again; the block then fails.
    The ext4's undo finds its mapping gone: it reopens the LUKS (the job's key), shrinks the ext4 back and closes
    it, before the LV is shrunk back — every size as before, the data intact."""
    from pybofh_core.atomic import Atomic
    from pybofh_crypt import keys

    name, loop = vg
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    lv, mapper, digest = closed_luks_ext4_lv(name, loop, mnt)
    before = (lv_size(name, "data"), luks_fs_sizes(lv, mapper))
    with keys.provide(PW), pytest.raises(RuntimeError, match="after the grow"):
        with Atomic(journal=False) as atomic:
            atomic.blockdev.resize_stack(lv, "160M")
            assert lv_size(name, "data") == 160 * MIB and not facts_open(mapper)
            raise RuntimeError("fail after the grow")
    assert not facts_open(mapper)
    assert (lv_size(name, "data"), luks_fs_sizes(lv, mapper)) == before
    sh("cryptsetup", "open", "--key-file=-", lv, mapper, input=PW)
    try:
        intact(f"/dev/mapper/{mapper}", mnt, digest)
    finally:
        sh("cryptsetup", "close", mapper)


GROW = textwrap.dedent(
    f"""
    import sys, time
    from pybofh import Atomic
    from pybofh_crypt import keys
    device, size, ready = sys.argv[1:4]
    with keys.provide("{PW}"), Atomic(label="grow") as atomic:
        atomic.blockdev.resize_stack(device, size)
        open(ready, "w").write(atomic.journal_id)
        time.sleep(3600)
    """
)


@pytest.mark.slow
def test_after_a_restart_the_rollback_needs_the_key_and_never_shrinks_the_lv_under_the_grown_filesystem(
        vg, tmp_path: Path) -> None:
    """A stack grow is killed, then the machine 'restarts' (LV deactivated and activated again, as boot does).
    ``bofh journal rollback`` without a key cannot shrink the ext4 back, so it must not shrink the LV either: exit
    3, the LV keeps its grown size, the data is intact. With ``--key-file -`` the same rollback reopens the LUKS,
    shrinks the ext4, then the LV: exit 0, every size as before."""
    name, loop = vg
    mnt, journal, ready = tmp_path / "mnt", tmp_path / "journal", tmp_path / "ready"
    mnt.mkdir()
    env = env_for(journal)
    lv, mapper, digest = closed_luks_ext4_lv(name, loop, mnt)
    before = (lv_size(name, "data"), luks_fs_sizes(lv, mapper))
    child = run_until(GROW, [lv, "160M", str(ready)], ready, env)
    kill9(child)
    jid = ready.read_text()
    sh("vgchange", "-an", name)  # the restart: nothing is open or active, then boot activates the VG again
    sh("vgchange", "-ay", name)

    refused = bofh("journal", "rollback", jid, env=env)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert "--key-file" in refused.stderr and "checked because a newer step" in refused.stderr
    assert lv_size(name, "data") == 160 * MIB
    assert not facts_open(mapper)
    sh("cryptsetup", "open", "--key-file=-", lv, mapper, input=PW)
    try:
        intact(f"/dev/mapper/{mapper}", mnt, digest)
    finally:
        sh("cryptsetup", "close", mapper)

    done = bofh("journal", "rollback", jid, "--key-file", "-", env=env, input=PW)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not facts_open(mapper)
    assert (lv_size(name, "data"), luks_fs_sizes(lv, mapper)) == before
    sh("cryptsetup", "open", "--key-file=-", lv, mapper, input=PW)
    try:
        intact(f"/dev/mapper/{mapper}", mnt, digest)
    finally:
        sh("cryptsetup", "close", mapper)
    assert PW not in (journal / f"{jid}.jsonl").read_text()


# --- a stack resize finds what is open, whatever its name; a closed LUKS opens with --key-file ------------------------


def test_stack_resize_uses_a_luks_mapping_opened_under_any_name(vg, tmp_path: Path) -> None:
    """LV → LUKS opened by hand as ``pbtr-custom`` (not ``luks-<UUID>``) → ext4: ``bofh blockdev resize`` grows the
    LV, the mapping and the ext4 through that mapping, opens no second one, and leaves it open as it found it (the
    key is still needed: cryptsetup resizes a LUKS2 mapping whose volume key is in the kernel keyring only with it)."""
    name, loop = vg
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    lv, luks_name, digest = closed_luks_ext4_lv(name, loop, mnt)
    sh("cryptsetup", "open", "--key-file=-", lv, "pbtr-custom", input=PW)
    done = bofh("blockdev", "resize", lv, "160M", "--key-file", "-", env=env_for(tmp_path / "journal"), input=PW)
    assert done.returncode == 0, done.stdout + done.stderr
    assert lv_size(name, "data") == 160 * MIB
    assert facts_open("pbtr-custom") and not facts_open(luks_name)
    size, fs = luks_fs_sizes(lv, "pbtr-custom")
    assert size == 160 * MIB - 16 * MIB and fs == size  # LUKS2's 16 MiB header, the ext4 fills the rest
    intact("/dev/mapper/pbtr-custom", mnt, digest)


def test_stack_resize_of_a_closed_luks_takes_the_key_from_key_file(vg, tmp_path: Path) -> None:
    """A closed LV → LUKS → ext4 stack: without a key, ``bofh blockdev resize`` refuses in one line naming
    --key-file and every size stays; with ``--key-file -`` it opens the LUKS, grows all three and closes it."""
    name, loop = vg
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env = env_for(tmp_path / "journal")
    lv, mapper, digest = closed_luks_ext4_lv(name, loop, mnt)
    before = (lv_size(name, "data"), luks_fs_sizes(lv, mapper))
    refused = bofh("blockdev", "resize", lv, "160M", env=env)
    assert refused.returncode in (1, 2), refused.stdout + refused.stderr
    assert "--key-file" in refused.stderr and "Traceback" not in refused.stderr
    assert (lv_size(name, "data"), luks_fs_sizes(lv, mapper)) == before and not facts_open(mapper)
    done = bofh("blockdev", "resize", lv, "160M", "--key-file", "-", env=env, input=PW)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not facts_open(mapper) and lv_size(name, "data") == 160 * MIB
    size, fs = luks_fs_sizes(lv, mapper)
    assert size == 160 * MIB - 16 * MIB and fs == size
    sh("cryptsetup", "open", "--key-file=-", lv, mapper, input=PW)
    try:
        intact(f"/dev/mapper/{mapper}", mnt, digest)
    finally:
        sh("cryptsetup", "close", mapper)
