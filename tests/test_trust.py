"""The trust guarantees of the core, with the fake plugin's real marker directories and real processes:
undo by identity, idempotent undos, write-ahead undos of steps in flight, data checks and ``force``, signals,
a journal on a full disk, concurrent rollbacks, and a dry run of ``bofh journal rollback`` that changes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pybofh_core.atomic import Atomic
from pybofh_core.errors import DataAtRiskError, IdentityMismatchError, JournalError, RollbackError
from pybofh_core.journal import Journal, iter_records
from pybofh_core.locks import ObjectBusyError
from pybofh_core.operations import OperationRegistry
from pybofh_core.session import journal as session_journal

ROOT = Path(__file__).resolve().parents[1]
FAKE = ROOT / "tests" / "fake_plugin"


@pytest.fixture
def fake() -> Iterator[tuple[OperationRegistry, object]]:
    """The fake plugin's operations in a registry of their own (domain ``fake``), imported from the test tree."""
    sys.path.insert(0, str(FAKE))
    try:
        from pybofh_fake import ops

        registry = OperationRegistry()
        registry.add_module("fake", ops)
        yield registry, ops
    finally:
        sys.path.remove(str(FAKE))


def env_for(journal: Path) -> dict[str, str]:
    """Environment for a child process that loads the fake plugin as a site plugin and journals to ``journal``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(FAKE), env.get("PYTHONPATH", "")])
    env["PYBOFH_EXTRA_PLUGINS"] = "fake=pybofh_fake"
    env["PYBOFH_JOURNAL_DIR"] = str(journal)
    env["PYBOFH_STRICT_PLUGINS"] = "1"
    return env


def bofh(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The real ``bofh`` CLI in a child process."""
    return subprocess.run([sys.executable, "-m", "pybofh_core.cli", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def wait_for(path: Path, child: subprocess.Popen[bytes], timeout: float = 60) -> str:
    """Wait until ``child`` wrote ``path``; return its content."""
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text()):
        assert child.poll() is None, f"child ended early with {child.returncode}"
        assert time.monotonic() < deadline, "child never reached the point"
        time.sleep(0.05)
    return path.read_text()


# --- undo by identity ---------------------------------------------------------------------------------------------


def test_in_process_undo_leaves_a_same_named_new_object_alone(fake, tmp_path: Path) -> None:
    """A marker removed and made again by someone else is not the step's: the rollback leaves it, says so, and
    the journal needs attention."""
    registry, _ = fake
    marker = tmp_path / "m"
    with pytest.raises(RollbackError) as info, Atomic(registry=registry, label="identity") as atomic:
        atomic.fake.create_marker(str(marker))
        shutil.rmtree(marker)
        marker.mkdir()  # same name, another marker
        (marker / "precious").write_text("data")
        raise RuntimeError("fail after the swap")
    assert isinstance(info.value.__cause__, RuntimeError)
    [err] = info.value.exceptions
    assert isinstance(err, IdentityMismatchError) and "not" in str(err) and "left alone" in str(err)
    # left alone on purpose is not a failure: the summary counts it apart
    assert info.value.message == "rollback incomplete: 1 left alone (another object is there now)"
    assert (marker / "precious").read_text() == "data"
    state = session_journal().list()[-1]
    assert state.status == "needs-attention"
    assert [s.state for s in state.steps] == ["left-alone"]


def test_in_process_undo_of_a_gone_object_counts_as_undone(fake, tmp_path: Path) -> None:
    """An object already gone (cleaned up by hand) is 'already undone', not a rollback failure."""
    registry, _ = fake
    marker = tmp_path / "m"
    with pytest.raises(RuntimeError), Atomic(registry=registry) as atomic:
        atomic.fake.create_marker(str(marker))
        shutil.rmtree(marker)
        raise RuntimeError("boom")
    state = session_journal().list()[-1]
    assert state.status == "rolled-back"
    assert [s.state for s in state.steps] == ["already"]
    records = [r for r in iter_records(state.path) if r["type"] == "undone"]
    assert records[0]["how"] == "already" and "gone" in records[0]["detail"]


def test_undo_operations_skip_the_data_check_they_act_on_what_their_step_made(fake, tmp_path: Path) -> None:
    """Inside a block, an irreversible data-checked operation on what the block created needs no force; on
    anything else it is refused before any command, and force passes the check."""
    registry, ops = fake
    made = tmp_path / "made"
    with Atomic(registry=registry, journal=False) as atomic:
        atomic.fake.create_marker(str(made))
        (made / "f").write_text("x")
        atomic.fake.empty_marker(str(made))  # created here: no force needed
    assert list(made.iterdir()) == []
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep").write_text("x")
    with pytest.raises(DataAtRiskError, match=r"not empty.*force=True"):
        ops.empty_marker(str(other))
    assert (other / "keep").exists()
    ops.empty_marker(str(other), force=True)
    assert list(other.iterdir()) == []


# --- journal rollback in a new process ----------------------------------------------------------------------------

JOB = textwrap.dedent(
    """
    import sys, time
    from pybofh import Atomic, fake
    base, ready, mode = sys.argv[1:4]
    with Atomic(label="trust-job") as atomic:
        atomic.fake.create_marker(base + "/a")
        atomic.fake.create_marker(base + "/b", undo_pause=float(sys.argv[4]) if len(sys.argv) > 4 else 0.0)
        if mode == "chmod-in-flight":
            open(ready, "w").write(atomic.journal_id)
            atomic.fake.chmod_marker(base + "/a", "700", pause=3600)
        else:
            open(ready, "w").write(atomic.journal_id)
            time.sleep(3600)
    """
)


def start_job(tmp_path: Path, mode: str, *extra: str) -> tuple[subprocess.Popen[bytes], Path, Path, dict[str, str]]:
    """Start the job above in a child process; return it, its marker dir, its ready file and its environment."""
    base = tmp_path / "markers"
    base.mkdir()
    ready = tmp_path / "ready"
    env = env_for(tmp_path / "journal")
    child = subprocess.Popen([sys.executable, "-c", JOB, str(base), str(ready), mode, *extra], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return child, base, ready, env


def kill9(child: subprocess.Popen[bytes]) -> None:
    """SIGKILL ``child`` and reap it."""
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)


def test_journal_rollback_after_kill_leaves_a_new_same_named_object_alone(tmp_path: Path) -> None:
    """kill -9, then an administrator cleans up by hand and makes a new 'b': the rollback removes 'a', leaves the
    new 'b' and its data alone, exits 3 and the journal says needs-attention."""
    child, base, ready, env = start_job(tmp_path, "sleep")
    try:
        jid = wait_for(ready, child)
        kill9(child)
    finally:
        if child.poll() is None:
            child.kill()
    shutil.rmtree(base / "b")
    (base / "b").mkdir()
    (base / "b" / "data").write_text("new")
    result = bofh("journal", "rollback", jid, env=env)
    assert result.returncode == 3, result.stderr
    assert "left alone: fake.create_marker" in result.stderr and "needs attention" in result.stderr
    assert result.stdout.splitlines() == ["undone: fake.create_marker"]
    assert sorted(p.name for p in base.iterdir()) == ["b"] and (base / "b" / "data").read_text() == "new"
    listed = json.loads(bofh("--json", "journal", "list", env=env).stdout)
    assert next(r for r in listed if r["id"] == jid)["status"] == "needs-attention"


def test_journal_rollback_after_a_reboot_like_cleanup_finishes_with_exit_0(tmp_path: Path) -> None:
    """Everything the job made is already gone (as after a reboot): the rollback records 'already undone', exits 0,
    and a second rollback says there is nothing left to do."""
    child, base, ready, env = start_job(tmp_path, "sleep")
    try:
        jid = wait_for(ready, child)
        kill9(child)
    finally:
        if child.poll() is None:
            child.kill()
    for p in base.iterdir():
        shutil.rmtree(p)
    result = bofh("journal", "rollback", jid, env=env)
    assert result.returncode == 0, result.stderr
    assert [ln.split(" (")[0] for ln in result.stdout.splitlines()] == ["already undone: fake.create_marker"] * 2
    assert Journal(tmp_path / "journal").load(jid).status == "rolled-back"
    again = bofh("journal", "rollback", jid, env=env)
    assert again.returncode == 0 and "already rolled back" in again.stderr


def test_a_step_killed_after_its_effect_is_undone_from_its_write_ahead_undo(tmp_path: Path) -> None:
    """kill -9 while chmod_marker's step is in flight (after chmod ran): its undo was journalled ahead, so the
    rollback restores the mode (and removes both markers), and the journal ends rolled-back, not needs-attention."""
    child, base, ready, env = start_job(tmp_path, "chmod-in-flight")
    try:
        jid = wait_for(ready, child)
        deadline = time.monotonic() + 30
        while (base / "a").stat().st_mode & 0o777 != 0o700:
            assert time.monotonic() < deadline, "chmod never ran"
            time.sleep(0.05)
        kill9(child)
    finally:
        if child.poll() is None:
            child.kill()
    state = Journal(tmp_path / "journal").load(jid)
    assert [s.state for s in state.steps] == ["done", "done", "started"] and state.steps[2].ahead is not None
    result = bofh("journal", "rollback", jid, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["undone: fake.chmod_marker"] + ["undone: fake.create_marker"] * 2
    assert list(base.iterdir()) == []
    assert Journal(tmp_path / "journal").load(jid).status == "rolled-back"


def test_dry_run_journal_rollback_changes_nothing_and_prints_the_undo_plan(tmp_path: Path) -> None:
    """``bofh --dry-run journal rollback`` runs no mutating command and writes nothing to the journal."""
    child, base, ready, env = start_job(tmp_path, "sleep")
    try:
        jid = wait_for(ready, child)
        kill9(child)
    finally:
        if child.poll() is None:
            child.kill()
    path = Journal(tmp_path / "journal").path_of(jid)
    before = path.read_bytes()
    result = bofh("--dry-run", "journal", "rollback", jid, env=env)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in base.iterdir()) == ["a", "b"]
    assert path.read_bytes() == before
    assert f"$ rm -r -- {base}/b\n" in result.stderr and f"$ rm -r -- {base}/a\n" in result.stderr
    as_json = json.loads(bofh("--dry-run", "--json", "journal", "rollback", jid, env=env).stdout)
    assert [s["undo_commands"][-1] for s in as_json["steps"]] == [f"rm -r -- {base}/b", f"rm -r -- {base}/a"]
    assert all(len(s["undo_commands"]) == 1 for s in as_json["steps"])  # the marker, with its token
    assert all(s["identity"]["token"] for s in as_json["steps"])
    assert path.read_bytes() == before


def test_two_rollbacks_at_once_the_loser_is_told_the_truth(tmp_path: Path) -> None:
    """While one rollback runs (its undo is slow), a second is told who is rolling back, and after it the journal
    is 'already rolled back'."""
    child, base, ready, env = start_job(tmp_path, "sleep", "3")
    try:
        jid = wait_for(ready, child)
        kill9(child)
    finally:
        if child.poll() is None:
            child.kill()
    first = subprocess.Popen([sys.executable, "-m", "pybofh_core.cli", "journal", "rollback", jid], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        path = Journal(tmp_path / "journal").path_of(jid)
        deadline = time.monotonic() + 30
        while b"rollback_start" not in path.read_bytes():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        second = bofh("journal", "rollback", jid, env=env)
        assert second.returncode == 1
        assert f"is being rolled back by pid {first.pid}" in second.stderr, second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
    finally:
        _out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    third = bofh("journal", "rollback", jid, env=env)
    assert third.returncode == 0 and "already rolled back" in third.stderr
    assert list(base.iterdir()) == []


def test_rollback_of_a_running_block_names_its_pid(tmp_path: Path) -> None:
    """A block that still runs is not rolled back from under it; the message names its pid."""
    child, _base, ready, env = start_job(tmp_path, "sleep")
    try:
        jid = wait_for(ready, child)
        result = bofh("journal", "rollback", jid, env=env)
        assert result.returncode == 1
        assert f"still running (pid {child.pid})" in result.stderr
    finally:
        kill9(child)


# --- signals ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_inside_a_block_rolls_it_back_and_exits_128_plus_n(tmp_path: Path, sig: int) -> None:
    """SIGTERM, SIGHUP (an ssh session dropping) and SIGINT roll the block back; the process exits 128+N."""
    job = textwrap.dedent(
        """
        import sys, time
        from pybofh import Atomic, fake
        from pybofh_core.cli import _errors_to_exit
        base, ready = sys.argv[1:3]
        with _errors_to_exit():
            with Atomic(label="signalled") as atomic:
                atomic.fake.create_marker(base + "/a")
                atomic.fake.create_marker(base + "/b")
                open(ready, "w").write(atomic.journal_id)
                time.sleep(3600)
        """
    )
    base = tmp_path / "m"
    base.mkdir()
    ready = tmp_path / "ready"
    env = env_for(tmp_path / "journal")
    child = subprocess.Popen([sys.executable, "-c", job, str(base), str(ready)], env=env, stderr=subprocess.PIPE)
    try:
        jid = wait_for(ready, child)
        child.send_signal(sig)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 128 + sig
    err = child.stderr.read().decode() if child.stderr else ""
    assert f"interrupted by {signal.Signals(sig).name}" in err and "rolled back 2 step(s)" in err
    assert list(base.iterdir()) == []
    assert Journal(tmp_path / "journal").load(jid).status == "rolled-back"


def test_more_signals_during_a_rollback_do_not_cut_it_short(tmp_path: Path) -> None:
    """Ctrl-C, then Ctrl-C twice more and a SIGTERM while the (slow) rollback runs: every step is still undone."""
    child, base, ready, _env = start_job(tmp_path, "sleep", "2")
    try:
        wait_for(ready, child)
        child.send_signal(signal.SIGINT)
        time.sleep(0.7)  # the first undo (2 s) is running
        child.send_signal(signal.SIGINT)
        child.send_signal(signal.SIGINT)
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert list(base.iterdir()) == []
    jid = ready.read_text()
    assert Journal(tmp_path / "journal").load(jid).status == "rolled-back"
    assert child.returncode != 0


def test_sighup_with_the_terminal_gone_still_rolls_back(tmp_path: Path) -> None:
    """The terminal disappears (a pty closed, so writes fail with EIO) and SIGHUP arrives: the rollback finishes
    and the exit status is 128+1, with no traceback attempt breaking it."""
    import pty

    job = textwrap.dedent(
        """
        import sys, time
        from pybofh import Atomic, fake
        from pybofh_core.cli import _errors_to_exit
        base, ready = sys.argv[1:3]
        with _errors_to_exit():
            with Atomic(label="hup") as atomic:
                atomic.fake.create_marker(base + "/a")
                open(ready, "w").write(atomic.journal_id)
                time.sleep(3600)
        """
    )
    base = tmp_path / "m"
    base.mkdir()
    ready = tmp_path / "ready"
    master, slave = pty.openpty()
    child = subprocess.Popen([sys.executable, "-c", job, str(base), str(ready)], env=env_for(tmp_path / "journal"),
                             stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    try:
        wait_for(ready, child)
        os.close(master)  # the terminal is gone
        child.send_signal(signal.SIGHUP)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 128 + signal.SIGHUP
    assert list(base.iterdir()) == []


# --- a journal that cannot be written -------------------------------------------------------------------------------


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (needs root); unmounted at the end."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where = tmp_path / "tiny"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tiny", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(where: Path) -> None:
    """Fill the filesystem at ``where`` to the last byte (it may be full already: then not even a file fits)."""
    try:
        with open(where / "filler", "wb", buffering=0) as fh:
            while True:
                fh.write(b"\0" * 4096)
    except OSError:
        pass
    probe = os.statvfs(where)
    assert probe.f_bavail == 0


def test_a_full_journal_disk_runs_nothing_and_leaves_no_file(fake, tiny_tmpfs: Path, tmp_path: Path) -> None:
    """The begin record cannot be written: JournalError, no journal file, no step ran."""
    registry, _ = fake
    journal = tiny_tmpfs / "journal"
    journal.mkdir()
    fill(tiny_tmpfs)
    marker = tmp_path / "never"
    with pytest.raises(JournalError, match="No space left on device; nothing was run"):
        with Atomic(registry=registry, journal=Journal(journal)) as atomic:
            atomic.fake.create_marker(str(marker))
    assert list(journal.iterdir()) == []
    assert not marker.exists()


def test_a_disk_filling_mid_block_undoes_every_finished_step(fake, tiny_tmpfs: Path, tmp_path: Path) -> None:
    """The journal's disk fills mid-block: records still fit in the file's last page for a while, then one fails;
    the block stops there and undoes every finished step from memory, and says the journal could not be written."""
    registry, _ = fake
    journal = tiny_tmpfs / "journal"
    journal.mkdir()
    base = tmp_path / "m"
    base.mkdir()
    made = 0
    with pytest.raises(JournalError, match="could not be written: No space left on device") as info:
        with Atomic(registry=registry, journal=Journal(journal)) as atomic:
            atomic.fake.create_marker(str(base / "first"))
            fill(tiny_tmpfs)
            for made in range(1, 500):
                atomic.fake.create_marker(str(base / f"m{made}"))
    assert made > 1, "the journal failed at once; the test wants it to fail mid-block"
    assert list(base.iterdir()) == []
    assert any("rolled back" in n and "could not be written" in n for n in info.value.__notes__)


def test_cli_on_a_full_journal_disk_is_one_line_and_an_exit_code(tiny_tmpfs: Path, loop_factory) -> None:
    """``bofh blockdev resize`` journals; with the journal on a full disk it prints one line, exits 1, leaves no
    journal file, and the loop device keeps its size."""
    loop = loop_factory(64 * 1024**2)
    journal = tiny_tmpfs / "journal"
    journal.mkdir()
    fill(tiny_tmpfs)
    env = dict(os.environ, PYBOFH_JOURNAL_DIR=str(journal))
    result = bofh("blockdev", "resize", loop, "128M", env=env)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"bofh: error: cannot write a journal in {journal}: No space left on device; nothing was run"]
    assert list(journal.iterdir()) == []
    size = subprocess.run(["blockdev", "--getsize64", loop], capture_output=True, text=True, check=True).stdout
    assert int(size) == 64 * 1024**2


# --- paths are checked as resolved ------------------------------------------------------------------------------------


def test_mountpoints_are_resolved_and_system_or_non_empty_ones_need_force(loop_factory, tmp_path: Path) -> None:
    """A symlinked mountpoint is followed (the mount lands on its target, which the undo unmounts); a symlink to
    /etc, /etc itself and a directory with files are refused before any mount, unless forced (the CLI too)."""
    from pybofh_blockdev import ops

    loop = loop_factory(32 * 1024**2)
    subprocess.run(["mkfs.ext4", "-q", loop], check=True)
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(RuntimeError), Atomic(journal=False) as atomic:
        m = atomic.blockdev.mount(loop, str(link))
        assert m.target == str(real)
        assert str(real) in subprocess.run(["findmnt", "-rn", "-o", "TARGET"], capture_output=True,
                                           text=True).stdout.split()
        raise RuntimeError("undo it")
    assert str(real) not in subprocess.run(["findmnt", "-rn", "-o", "TARGET"], capture_output=True,
                                           text=True).stdout.split()
    to_etc = tmp_path / "to-etc"
    to_etc.symlink_to("/etc")
    for where in (str(to_etc), "/etc"):
        with pytest.raises(DataAtRiskError, match=r"/etc.* system directory"):
            ops.mount(loop, where)
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("x")
    with pytest.raises(DataAtRiskError, match="not empty"):
        ops.mount(loop, str(full))
    result = bofh("blockdev", "mount", loop, str(to_etc), env=dict(os.environ))
    assert result.returncode == 2 and "system directory" in result.stderr and "--force" in result.stderr
    mounted = ops.mount(loop, str(full), force=True)  # the user asked: its files are hidden while mounted
    try:
        assert not (full / "keep.txt").exists()
    finally:
        ops.unmount(mounted.target)
    assert (full / "keep.txt").read_text() == "x"
    assert "/etc" not in [ln.split()[0] for ln in open("/proc/self/mounts").read().splitlines()
                          if ln.split()[0].startswith("/dev/loop")]


# --- a journal that fills mid-block, with real loop devices and mounts ---------------------------------------------


def test_a_full_journal_disk_mid_block_leaves_no_loop_or_mount(tiny_tmpfs: Path, tmp_path: Path) -> None:
    """Loop devices attached and mounted in a block whose journal disk fills: every finished step is undone from
    memory — no loop device or mount of the block is left."""
    journal = tiny_tmpfs / "journal"
    journal.mkdir()
    images = []
    for i in range(40):
        img = tmp_path / f"d{i}.img"
        with img.open("wb") as fh:
            fh.truncate(8 * 1024**2)
        images.append(str(img))
    subprocess.run(["mkfs.ext4", "-q", "-F", images[0]], check=True)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        with pytest.raises(JournalError, match="No space left on device"):
            with Atomic(journal=Journal(journal)) as atomic:
                first = atomic.blockdev.attach_loop(images[0])
                atomic.blockdev.mount(first.path, str(mnt))
                fill(tiny_tmpfs)
                for img in images[1:]:
                    atomic.blockdev.attach_loop(img)
        listed = subprocess.run(["losetup", "--list", "--noheadings", "-O", "BACK-FILE"], capture_output=True,
                                text=True).stdout
        assert str(tmp_path) not in listed
        assert str(mnt) not in subprocess.run(["findmnt", "-rn", "-o", "TARGET"], capture_output=True,
                                              text=True).stdout.split()
    finally:
        for line in subprocess.run(["losetup", "--list", "--noheadings", "-O", "NAME,BACK-FILE"],
                                   capture_output=True, text=True).stdout.splitlines():
            if str(tmp_path) in line:
                subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
                subprocess.run(["losetup", "-d", line.split()[0]], capture_output=True)


# --- secrets never at rest --------------------------------------------------------------------------------------------

ADD_KEY = textwrap.dedent(
    """
    import sys
    from pybofh_crypt import ops
    from pybofh_core.session import get_settings
    image, old, new, ready = sys.argv[1:5]
    open(ready, "w").write("go")
    with get_settings().override(crypt__pbkdf="pbkdf2", crypt__pbkdf_force_iterations=20000000):
        ops.add_key(image, old, new.replace("|", "\\n"))
    """
)


def test_kill_9_during_add_key_leaves_the_new_passphrase_nowhere_on_disk(tmp_path: Path) -> None:
    """A new key that cannot travel as a stdin line goes to cryptsetup as a memfd (/dev/fd/N): after kill -9 of
    pybofh in the middle of luksAddKey, its bytes are in no file written since the test began, on any mounted
    filesystem (an older pybofh left it in /tmp/pybofh-key-*/key)."""
    started = time.time() - 1
    image = tmp_path / "luks.img"
    with image.open("wb") as fh:
        fh.truncate(32 * 1024**2)
    old = "old-passphrase-for-the-memfd-test"
    new_line = f"NEW-{os.getpid()}-memfd-secret|second line"
    subprocess.run(["cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", "--pbkdf", "pbkdf2",
                    "--pbkdf-force-iterations", "1000", "--key-file=-", str(image)], input=old.encode(), check=True)
    ready = tmp_path / "ready"
    env = env_for(tmp_path / "journal")
    child = subprocess.Popen([sys.executable, "-c", ADD_KEY, str(image), old, new_line, str(ready)], env=env,
                             stderr=subprocess.PIPE)
    try:
        wait_for(ready, child)
        deadline = time.monotonic() + 60
        while not _cryptsetup_pids(image):  # luksAddKey is running (its PBKDF takes seconds)
            assert child.poll() is None and time.monotonic() < deadline, "luksAddKey never started"
            time.sleep(0.05)
        kill9(child)
    finally:
        if child.poll() is None:
            child.kill()
        for pid in _cryptsetup_pids(image):
            os.kill(pid, signal.SIGKILL)
    needle = new_line.split("|")[0].encode()
    searched, found = _search_files_written_since(started, needle)
    assert str(image) in searched, "the search did not even reach this test's own files"
    assert not found, f"the new passphrase was found in: {found}"


#: filesystems that hold no files a process could have left a secret in
PSEUDO_FS = {"proc", "sysfs", "devpts", "cgroup", "cgroup2", "securityfs", "debugfs", "tracefs", "pstore",
             "bpf", "mqueue", "hugetlbfs", "configfs", "fusectl", "binfmt_misc", "autofs", "efivarfs", "nsfs"}


def _search_files_written_since(since: float, needle: bytes) -> tuple[dict[str, int], list[str]]:
    """Search every regular file changed after ``since`` on every mounted filesystem for ``needle``.

    A secret left on disk by a killed process is in a file written after the process started, so this covers
    every filesystem at the cost of reading only what changed. Returns {path: size} searched and the paths found.
    """
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        fstype = fields[fields.index("-") + 1]
        if fstype not in PSEUDO_FS:
            mounts.append(fields[4].replace("\\040", " "))
    searched: dict[str, int] = {}
    found = []
    for top in mounts:
        try:
            dev = os.stat(top).st_dev
        except OSError:
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames[:] = [d for d in dirnames if _same_dev(os.path.join(dirpath, d), dev)]
            for name in filenames:
                path = os.path.join(dirpath, name)
                try:
                    st = os.lstat(path)
                    if not stat.S_ISREG(st.st_mode) or st.st_dev != dev or max(st.st_mtime, st.st_ctime) < since:
                        continue
                    if path in searched:
                        continue
                    searched[path] = st.st_size
                    with open(path, "rb") as fh:
                        tail = b""
                        while chunk := fh.read(1 << 20):
                            if needle in tail + chunk:
                                found.append(path)
                                break
                            tail = chunk[-len(needle):]
                except OSError:
                    continue
    return searched, found


def _same_dev(path: str, dev: int) -> bool:
    """Whether ``path`` is a directory on device ``dev`` (other mounts are walked from their own top)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_dev == dev


def _cryptsetup_pids(image: Path) -> list[int]:
    """Pids of cryptsetup processes working on ``image``."""
    out = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and cmd[0].endswith(b"cryptsetup") and str(image).encode() in cmd:
            out.append(int(proc.name))
    return out


def test_ctrl_c_reaches_pybofh_not_the_tool_which_finishes_then_the_block_rolls_back(tmp_path: Path) -> None:
    """A terminal's Ctrl-C goes to the whole foreground process group; the tool pybofh runs is in a group of its
    own, so it finishes its work (it writes a file when done), and then the block rolls back: exit 130."""
    job = textwrap.dedent(
        """
        import sys
        from pybofh import Atomic, fake
        from pybofh_core.cli import _errors_to_exit
        from pybofh_core.runner import run
        base, ready, done = sys.argv[1:4]
        with _errors_to_exit():
            with Atomic(label="ctrl-c") as atomic:
                atomic.fake.create_marker(base + "/a")
                open(ready, "w").write(atomic.journal_id)
                run(["sh", "-c", f"sleep 1.5; touch {done}"])  # a tool that writes: never cut off
        """
    )
    base = tmp_path / "m"
    base.mkdir()
    ready, done = tmp_path / "ready", tmp_path / "done"
    child = subprocess.Popen([sys.executable, "-c", job, str(base), str(ready), str(done)],
                             env=env_for(tmp_path / "journal"), stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_for(ready, child)
        time.sleep(0.5)  # the tool is running
        os.killpg(child.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, child.stderr.read() if child.stderr else ""
    assert done.exists(), "the tool was killed mid-work"
    assert list(base.iterdir()) == []


# --- two jobs on one object -------------------------------------------------------------------------------------------

HOLD = textwrap.dedent(
    """
    import sys, time
    from pybofh import Atomic, fake
    marker, ready, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    with Atomic(label="holder") as atomic:
        atomic.fake.chmod_marker(marker, "700")
        open(ready, "w").write(atomic.journal_id)
        time.sleep(seconds)
    """
)


def test_a_second_job_on_the_same_object_is_refused_or_waits(fake, tmp_path: Path) -> None:
    """While one block holds a marker (it changed its mode), another block acting on it is refused with the holder's
    pid before anything of its step runs; with wait=True it waits until the first block ends."""
    registry, _ = fake
    marker = tmp_path / "m"
    marker.mkdir()
    ready = tmp_path / "ready"
    env = env_for(tmp_path / "journal")
    env["PYBOFH_LOCK_DIR"] = os.environ["PYBOFH_LOCK_DIR"]  # the same locks as this test process
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(marker), str(ready), "3"], env=env)
    try:
        wait_for(ready, holder)
        with pytest.raises(ObjectBusyError, match=rf"being changed by another job \(pid {holder.pid}"):
            with Atomic(registry=registry) as atomic:
                atomic.fake.chmod_marker(str(marker), "755")
        assert marker.stat().st_mode & 0o777 == 0o700  # the refused step ran nothing
        started = time.monotonic()
        with Atomic(registry=registry, wait=True) as atomic:
            atomic.fake.chmod_marker(str(marker), "755")
        assert time.monotonic() - started > 1 and holder.wait(timeout=30) == 0
        assert marker.stat().st_mode & 0o777 == 0o755
    finally:
        if holder.poll() is None:
            holder.kill()


# --- the journal's own ground -----------------------------------------------------------------------------------------


def test_a_block_never_takes_away_what_its_journal_lives_on(loop_factory, tmp_path: Path) -> None:
    """The journal directory is on an ext4 on a loop device: inside a block, unmounting it (by mountpoint or by
    device), shrinking its loop device (even forced) or detaching it is refused before any command runs, with no
    force that overrides it; another mount in the same block is unmounted as usual. The CLI refuses with exit 2."""
    from pybofh_core.errors import JournalGroundError

    loop = loop_factory(64 * 1024**2)
    other = loop_factory(32 * 1024**2)
    for dev in (loop, other):
        subprocess.run(["mkfs.ext4", "-q", dev], check=True)
    ground, elsewhere = tmp_path / "ground", tmp_path / "elsewhere"
    ground.mkdir()
    elsewhere.mkdir()
    subprocess.run(["mount", loop, str(ground)], check=True)
    try:
        journal = ground / "journal"
        journal.mkdir()
        with Atomic(journal=Journal(journal)) as atomic:
            atomic.blockdev.mount(other, str(elsewhere))
            for call in (lambda: atomic.blockdev.unmount(str(ground)),
                         lambda: atomic.blockdev.unmount(loop),
                         lambda: atomic.blockdev.resize_loop(loop, 32 * 1024**2, force=True),
                         lambda: atomic.blockdev.detach_loop(loop)):
                with pytest.raises(JournalGroundError, match=r"holds this job's journal directory"):
                    call()
            atomic.blockdev.resize_loop(loop, 80 * 1024**2)  # growing takes nothing away
            atomic.blockdev.unmount(str(elsewhere))
        mounted = subprocess.run(["findmnt", "-rn", "-o", "SOURCE,TARGET"], capture_output=True, text=True).stdout
        assert f"{loop} {ground}" in mounted and str(elsewhere) not in mounted
        size = subprocess.run(["blockdev", "--getsize64", loop], capture_output=True, text=True, check=True).stdout
        assert int(size) == 80 * 1024**2
        result = bofh("blockdev", "umount", str(ground), env=dict(os.environ, PYBOFH_JOURNAL_DIR=str(journal)))
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().splitlines() == [
            f"bofh: error: blockdev.unmount would take away {ground}, which holds this job's journal directory; "
            "move the journal (core.journal_dir) first"]
        assert f"{loop} {ground}" in subprocess.run(["findmnt", "-rn", "-o", "SOURCE,TARGET"], capture_output=True,
                                                    text=True).stdout
    finally:
        subprocess.run(["umount", str(elsewhere)], capture_output=True)
        subprocess.run(["umount", str(ground)], capture_output=True)


# --- after an undo that did not happen, older undos check before they destroy ----------------------------------------


def _swap_inner(outer: Path) -> None:
    """Someone replaces the job's inner marker with their own, holding their data."""
    shutil.rmtree(outer / "inner")
    (outer / "inner").mkdir()
    (outer / "inner" / "theirs.txt").write_text("keep me")


def test_after_an_undo_left_alone_older_undos_run_their_data_checks(fake, tmp_path: Path) -> None:
    """The job made marker ``a`` and ``a/inner``; a stranger replaced ``a/inner``. Its undo leaves it alone, so the
    undo of ``a`` (which removes a marker with all it holds) runs its data check and refuses: the stranger's data
    stays. With nothing swapped, the same rollback removes ``a`` and its content without asking (every newer step
    was undone, so ``a`` holds only what the job put there)."""
    registry, _ = fake
    a = tmp_path / "a"
    with pytest.raises(RollbackError) as info, Atomic(registry=registry, journal=False) as atomic:
        atomic.fake.create_marker(str(a))
        atomic.fake.create_marker(str(a / "inner"))
        (a / "job-file").write_text("the job's")
        _swap_inner(a)
        raise RuntimeError("fail after the swap")
    left, refused = info.value.exceptions
    assert isinstance(left, IdentityMismatchError)
    assert isinstance(refused, DataAtRiskError) and " holds " in str(refused)
    assert (a / "inner" / "theirs.txt").read_text() == "keep me"

    b = tmp_path / "b"
    with pytest.raises(RuntimeError), Atomic(registry=registry, journal=False) as atomic:
        atomic.fake.create_marker(str(b))
        atomic.fake.create_marker(str(b / "inner"))
        (b / "job-file").write_text("the job's")
        raise RuntimeError("fail, nothing swapped")
    assert not b.exists()


def test_journal_rollback_after_a_left_alone_step_keeps_checks_on(tmp_path: Path) -> None:
    """The same through kill -9 and ``bofh journal rollback``: exit 3, the stranger's data and the job's outer
    marker are kept, and the report names the refusal."""
    base = tmp_path / "m"
    base.mkdir()
    ready = tmp_path / "ready"
    env = env_for(tmp_path / "journal")
    job = textwrap.dedent(
        """
        import sys, time
        from pybofh import Atomic, fake
        a, ready = sys.argv[1:3]
        with Atomic(label="nested") as atomic:
            atomic.fake.create_marker(a)
            atomic.fake.create_marker(a + "/inner")
            open(ready, "w").write(atomic.journal_id)
            time.sleep(3600)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", job, str(base / "a"), str(ready)], env=env)
    try:
        jid = wait_for(ready, child)
    finally:
        kill9(child)
    _swap_inner(base / "a")
    result = bofh("journal", "rollback", jid, env=env)
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"bofh: fake.create_marker: marker {base / 'a'} holds {base / 'a' / 'inner'}" in result.stderr
    assert "(checked because a newer step of this job was not undone)" in result.stderr
    assert (base / "a" / "inner" / "theirs.txt").read_text() == "keep me"
