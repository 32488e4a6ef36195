"""Every operation for real on btrfs filesystems on loop devices, asserting on real state read with subprocess.

Set-up (mkfs, mount) is test code with subprocess; unmount happens in ``finally`` and ``loop_factory`` detaches.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pybofh_btrfs import facts, ops
from pybofh_btrfs.types import BalanceState, ScrubState
from pybofh_core.atomic import Atomic
from pybofh_core.errors import CommandError, DataAtRiskError, RollbackError, ValidationError
from pybofh_core.operations import OperationRegistry
from pybofh_core.runner import LocalRunner, Result, use_runner

pytestmark = [
    pytest.mark.loopdev,
    pytest.mark.skipif(shutil.which("mkfs.btrfs", path="/usr/sbin:/sbin:/usr/bin:/bin") is None,
                       reason="btrfs-progs is not installed (apt-get install btrfs-progs)"),
]


def sh(*argv: str) -> str:
    """Run a set-up or inspection command; return its stdout."""
    return subprocess.run(list(argv), check=True, capture_output=True, text=True,
                          env={"LC_ALL": "C", "PATH": "/usr/sbin:/sbin:/usr/bin:/bin"}).stdout


def real_subvolumes(mnt: str) -> list[str]:
    """Subvolume paths as ``btrfs subvolume list`` shows them (the real state)."""
    return sorted(line.split(" path ", 1)[1] for line in sh("btrfs", "subvolume", "list", mnt).splitlines())


def real_default(mnt: str) -> str:
    """The default subvolume line of ``btrfs subvolume get-default``."""
    return sh("btrfs", "subvolume", "get-default", mnt).strip()


def _mount_new_btrfs(loop_factory: Any, tmp_path: Path, name: str) -> Iterator[str]:
    dev = loop_factory(160 * 1024**2, name=name)
    sh("mkfs.btrfs", "-f", "-L", name, dev)
    mnt = tmp_path / name
    mnt.mkdir()
    sh("mount", "-t", "btrfs", dev, str(mnt))
    try:
        yield str(mnt)
    finally:
        subprocess.run(["btrfs", "balance", "cancel", str(mnt)], capture_output=True, check=False)
        subprocess.run(["btrfs", "scrub", "cancel", str(mnt)], capture_output=True, check=False)
        if subprocess.run(["umount", str(mnt)], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, check=False)


@pytest.fixture
def fs(loop_factory: Any, tmp_path: Path) -> Iterator[str]:
    """A fresh btrfs on a loop device, mounted; unmounted at the end even if the test failed."""
    yield from _mount_new_btrfs(loop_factory, tmp_path, "pybofh-a")


@pytest.fixture
def fs2(loop_factory: Any, tmp_path: Path) -> Iterator[str]:
    """A second btrfs (the receiving side of send/receive)."""
    yield from _mount_new_btrfs(loop_factory, tmp_path, "pybofh-b")


@pytest.fixture
def registry() -> OperationRegistry:
    """This plugin's operations only."""
    reg = OperationRegistry()
    reg.add_module("btrfs", ops)
    return reg


def test_subvolume_snapshot_list_delete(fs: str) -> None:
    data = ops.create_subvolume(f"{fs}/data").path
    Path(data, "file").write_text("hello")
    ops.create_subvolume(f"{data}/nested")
    ops.snapshot(data, f"{fs}/ro", readonly=True)
    ops.snapshot(data, f"{fs}/rw")
    assert real_subvolumes(fs) == ["data", "data/nested", "ro", "rw"]
    assert sh("btrfs", "property", "get", "-ts", f"{fs}/ro", "ro").strip() == "ro=true"
    subs = {s.path: s for s in facts.list_subvolumes(fs)}
    assert {p: s.readonly for p, s in subs.items()} == {"data": False, "data/nested": False, "ro": True, "rw": False}
    assert subs["ro"].parent_uuid == subs["data"].uuid and subs["data/nested"].parent_id == subs["data"].id
    assert facts.is_readonly(f"{fs}/ro") and not facts.is_readonly(f"{fs}/rw")
    assert Path(fs, "ro", "file").read_text() == "hello"
    details = facts.get_subvolume(data)
    assert set(details.snapshots) == {"ro", "rw"} and details.id == subs["data"].id
    with pytest.raises(DataAtRiskError, match="not empty"):
        ops.delete_subvolume(data)  # holds a file (and data/nested): pybofh refuses before btrfs runs
    with pytest.raises(CommandError, match="not empty"):
        ops.delete_subvolume(data, force=True)  # still holds data/nested: btrfs itself refuses
    for path in (f"{fs}/ro", f"{fs}/rw"):
        ops.delete_subvolume(path, force=True)  # snapshots of data: they hold its file
    ops.delete_subvolume(f"{data}/nested")  # empty: no force needed
    ops.delete_subvolume(data, force=True)
    assert real_subvolumes(fs) == []
    usage = facts.filesystem_usage(fs)
    assert usage.exact and usage.device_size == 160 * 1024**2
    assert facts.filesystem_df(fs).exact
    assert facts.device_stats(fs)[0].total_errors == 0
    shown = facts.filesystem_show(fs).filesystems[0]
    assert shown.label == "pybofh-a" and shown.devices[0].size == 160 * 1024**2


def test_set_default_and_back(fs: str) -> None:
    data = ops.create_subvolume(f"{fs}/data").path
    change = ops.set_default_subvolume(fs, data)
    assert change.previous_id == 5 and change.new_id == facts.subvolume_id(data)
    assert real_default(fs).endswith("path data")
    ops.set_default_subvolume(fs, change.previous_id)
    assert real_default(fs) == "ID 5 (FS_TREE)"


def test_send_receive_full_then_incremental(fs: str, fs2: str, tmp_path: Path) -> None:
    data = ops.create_subvolume(f"{fs}/data").path
    Path(data, "a").write_text("one")
    ops.snapshot(data, f"{fs}/s1", readonly=True)
    got = ops.send_receive(f"{fs}/s1", fs2, str(tmp_path / "s1.stream"))
    assert got.path == f"{fs2}/s1" and Path(fs2, "s1", "a").read_text() == "one"
    Path(data, "b").write_text("two")
    ops.snapshot(data, f"{fs}/s2", readonly=True)
    got = ops.send_receive(f"{fs}/s2", fs2, str(tmp_path / "s2.stream"), parent=f"{fs}/s1")
    assert Path(fs2, "s2", "b").read_text() == "two" and Path(fs2, "s2", "a").read_text() == "one"
    assert not (tmp_path / "s1.stream").exists() and not (tmp_path / "s2.stream").exists()
    assert real_subvolumes(fs2) == ["s1", "s2"]
    received = {s.path: s for s in facts.list_subvolumes(fs2)}
    sent = {s.path: s for s in facts.list_subvolumes(fs)}
    assert received["s2"].received_uuid == sent["s2"].uuid and received["s2"].readonly


def test_rotate_keeps_the_newest_n(fs: str) -> None:
    data = ops.create_subvolume(f"{fs}/data").path
    snaps = Path(fs, "snaps")
    snaps.mkdir()
    ops.snapshot(data, f"{snaps}/2020-01-01_00-00-00-@other", readonly=True)  # another name: never touched
    (snaps / "2020-01-01_00-00-00-@data").mkdir()  # a plain directory with the pattern: not a subvolume, kept
    stamps = ["2024-01-01T00:00:00", "2024-01-02T00:00:00", "2024-01-03T00:00:00", "2024-01-04T00:00:00"]
    results = [ops.rotate_snapshots(data, str(snaps), "data", keep=2, now=s) for s in stamps]
    assert results[-1].deleted == ("2024-01-02_00-00-00-@data",)
    assert real_subvolumes(fs) == ["data", "snaps/2020-01-01_00-00-00-@other", "snaps/2024-01-03_00-00-00-@data",
                                   "snaps/2024-01-04_00-00-00-@data"]
    assert (snaps / "2020-01-01_00-00-00-@data").is_dir()
    assert sh("btrfs", "property", "get", "-ts", f"{snaps}/2024-01-04_00-00-00-@data", "ro").strip() == "ro=true"


def test_scrub_and_balance_run_to_the_end(fs: str) -> None:
    Path(fs, "f").write_bytes(b"x" * 1024 * 1024)
    started = ops.start_scrub(fs)
    statuses = list(facts.watch_scrub(started.path, interval=0.2))
    assert statuses[-1].state is ScrubState.FINISHED and statuses[-1].errors == ()
    assert ops.cancel_scrub(fs) is False
    started = ops.start_balance(fs)
    statuses = list(facts.watch_balance(started.path, interval=0.2))
    assert statuses[-1].state is BalanceState.NONE
    assert ops.cancel_balance(fs) is False


class FailingRunner(LocalRunner):
    """The local runner, except that the ``fail_at``-th mutating command fails (once) without running."""

    def __init__(self, fail_at: int | None) -> None:
        super().__init__()
        self.fail_at = fail_at
        self.mutating = 0

    def _execute(self, argv: tuple[str, ...], data: bytes | None, timeout: float, *, readonly: bool,
                 env: Any) -> Result:
        if not readonly:
            self.mutating += 1
            if self.mutating == self.fail_at:
                return Result(argv, 1, b"", b"ERROR: injected failure\n")
        return super()._execute(argv, data, timeout, readonly=readonly, env=env)


JOB_COMMANDS = 8  # mutating commands of the job below, in order


def _job(atomic: Any, fs: str, fs2: str, tmp: Path) -> None:
    atomic.btrfs.create_subvolume(f"{fs}/data")                                   # 1 subvolume create
    atomic.btrfs.snapshot(f"{fs}/data", f"{fs}/snap", readonly=True)              # 2 subvolume snapshot
    atomic.btrfs.set_default_subvolume(fs, f"{fs}/snap")                          # 3 subvolume set-default
    atomic.btrfs.create_subvolume(f"{fs}/data/nested")                            # 4 subvolume create
    atomic.btrfs.send_receive(f"{fs}/snap", fs2, str(tmp / "job.stream"))         # 5 send, 6 receive, 7 rm
    atomic.btrfs.snapshot(f"{fs2}/snap", f"{fs2}/copy")                           # 8 subvolume snapshot


@pytest.mark.parametrize("fail_at", [*range(1, JOB_COMMANDS + 1), "after-last", None])
def test_atomic_job_fails_at_every_step_and_rolls_back(fs: str, fs2: str, tmp_path: Path, fail_at: Any,
                                                       registry: OperationRegistry) -> None:
    """A real multi-step job fails at each command in turn (or after the last one): both filesystems go back to
    the subvolumes and default they had; with no failure the job's result stays."""
    ops.create_subvolume(f"{fs}/keep")  # something that was there before the job
    before = (real_subvolumes(fs), real_default(fs), real_subvolumes(fs2), real_default(fs2))
    runner = FailingRunner(fail_at if isinstance(fail_at, int) else None)
    stream_dir = tmp_path / "streams"
    stream_dir.mkdir()
    with use_runner(runner):
        if fail_at is None:
            with Atomic(registry=registry) as atomic:
                _job(atomic, fs, fs2, stream_dir)
            assert runner.mutating == JOB_COMMANDS
            assert real_subvolumes(fs) == ["data", "data/nested", "keep", "snap"]
            assert real_subvolumes(fs2) == ["copy", "snap"] and real_default(fs).endswith("path snap")
            return
        with pytest.raises((CommandError, RuntimeError, RollbackError)) as err:
            with Atomic(registry=registry) as atomic:
                _job(atomic, fs, fs2, stream_dir)
                raise RuntimeError("failure after the last step")
    if isinstance(err.value, RollbackError):
        pytest.fail(f"rollback incomplete: {err.value.exceptions}")
    if isinstance(fail_at, int):
        assert isinstance(err.value, CommandError) and "injected failure" in str(err.value)
    after = (real_subvolumes(fs), real_default(fs), real_subvolumes(fs2), real_default(fs2))
    assert after == before
    assert list(stream_dir.iterdir()) == []


# --- trust: data checks and undo by identity, for real ---------------------------------------------------------------


def bofh(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The real ``bofh`` CLI in a new process."""
    return subprocess.run([sys.executable, "-m", "pybofh_core.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def subvolume_uuid(path: str) -> str:
    """The UUID ``btrfs subvolume show`` prints for ``path``."""
    return next(ln.split(":", 1)[1].strip() for ln in sh("btrfs", "subvolume", "show", path).splitlines()
                if ln.strip().startswith("UUID:"))


def test_delete_refuses_a_subvolume_in_use_unless_forced(fs: str, tmp_path: Path) -> None:
    """Holding a file, being the default, being mounted by itself: each refused (exit 2 on the CLI), nothing
    deleted; --force deletes."""
    data = ops.create_subvolume(f"{fs}/data").path
    Path(data, "precious").write_text("keep me")
    with pytest.raises(DataAtRiskError, match=rf"not empty \(it holds {data}/precious\)"):
        ops.delete_subvolume(data)
    env = {**os.environ, "PYBOFH_JOURNAL_DIR": str(tmp_path / "journal")}
    refused = bofh("btrfs", "subvolume", "delete", data, env=env)
    assert refused.returncode == 2 and "is not empty" in refused.stderr and "--force" in refused.stderr
    assert Path(data, "precious").read_text() == "keep me" and real_subvolumes(fs) == ["data"]

    empty = ops.create_subvolume(f"{fs}/empty").path
    ops.set_default_subvolume(fs, empty)
    with pytest.raises(DataAtRiskError, match="is the default subvolume"):
        ops.delete_subvolume(empty)
    ops.set_default_subvolume(fs, 5)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    sh("mount", "-t", "btrfs", "-o", "subvol=empty", sh("findmnt", "-n", "-o", "SOURCE", fs).strip(), str(elsewhere))
    try:
        with pytest.raises(DataAtRiskError, match=f"is mounted on {elsewhere}"):
            ops.delete_subvolume(empty)
    finally:
        sh("umount", str(elsewhere))
    assert real_subvolumes(fs) == ["data", "empty"]
    ops.delete_subvolume(empty)  # empty, not the default, not mounted: no force needed
    forced = bofh("btrfs", "subvolume", "delete", "--force", data, env=env)
    assert forced.returncode == 0, forced.stderr
    assert real_subvolumes(fs) == []


JOB = """
import sys, time
from pybofh import Atomic
fs, ready, stream = sys.argv[1:4]
with Atomic(label="btrfs trust job") as atomic:
    atomic.btrfs.create_subvolume(fs + "/data")
    open(fs + "/data/file", "w").write("made by the job")
    atomic.btrfs.snapshot(fs + "/data", fs + "/snap", readonly=True)
    atomic.btrfs.send(fs + "/snap", stream)
    open(ready, "w").write(atomic.journal_id)
    time.sleep(3600)
"""


def _killed_job(fs: str, tmp_path: Path) -> tuple[str, dict[str, str], Path]:
    """Run the job above in a child process until it made everything, kill -9 it; return its journal id."""
    ready, stream = tmp_path / "ready", tmp_path / "job.stream"
    env = {**os.environ, "PYBOFH_JOURNAL_DIR": str(tmp_path / "journal"), "PYBOFH_STRICT_PLUGINS": "1"}
    child = subprocess.Popen([sys.executable, "-c", JOB, fs, str(ready), str(stream)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not (ready.exists() and ready.read_text()):
            if child.poll() is not None:
                pytest.fail(f"the job ended early ({child.returncode}): {child.stderr.read().decode()}")
            assert time.monotonic() < deadline, "the job never got ready"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
    return ready.read_text(), env, stream


def test_rollback_after_kill_leaves_a_new_subvolume_at_the_snapshots_path_alone(fs: str, tmp_path: Path) -> None:
    """kill -9 after the job made a subvolume, a snapshot and a stream; by hand the snapshot is deleted and a new
    subvolume made at its path, holding data. ``bofh journal rollback`` in a new process removes the stream, leaves
    the new one and its data alone, names both UUIDs, exits 3: needs attention. Once a step was left alone the
    older undos run their data checks, so the job's subvolume, which holds a file, is kept (and said so)."""
    jid, env, stream = _killed_job(fs, tmp_path)
    old = subvolume_uuid(f"{fs}/snap")
    sh("btrfs", "subvolume", "delete", f"{fs}/snap")
    sh("btrfs", "subvolume", "create", f"{fs}/snap")
    Path(fs, "snap", "precious").write_text("made by hand")
    new = subvolume_uuid(f"{fs}/snap")
    result = bofh("journal", "rollback", jid, env=env)
    assert result.returncode == 3, result.stderr
    assert f"left alone: btrfs.snapshot: {fs}/snap is now subvolume {new}, not subvolume {old} which the step " \
           "made" in result.stderr
    assert result.stdout.splitlines() == ["undone: btrfs.send"]
    assert "btrfs.create_subvolume" in result.stderr and "checked because a newer step" in result.stderr
    assert real_subvolumes(fs) == ["data", "snap"] and Path(fs, "snap", "precious").read_text() == "made by hand"
    assert Path(fs, "data", "file").read_text() == "made by the job"
    assert not stream.exists()
    listed = json.loads(bofh("--json", "journal", "list", env=env).stdout)
    assert next(j for j in listed if j["id"] == jid)["status"] == "needs-attention"


def test_rollback_after_kill_of_what_is_already_gone_exits_0(fs: str, tmp_path: Path) -> None:
    """Everything the killed job made was removed by hand: the rollback finds each object gone, counts it as
    already undone and exits 0; the journal ends rolled-back."""
    jid, env, stream = _killed_job(fs, tmp_path)
    stream.unlink()
    sh("btrfs", "subvolume", "delete", f"{fs}/snap")
    sh("btrfs", "subvolume", "delete", f"{fs}/data")
    result = bofh("journal", "rollback", jid, env=env)
    assert result.returncode == 0, result.stderr
    assert [ln.split(" (")[0] for ln in result.stdout.splitlines()] == [
        "already undone: btrfs.send", "already undone: btrfs.snapshot", "already undone: btrfs.create_subvolume"]
    assert real_subvolumes(fs) == []
    listed = json.loads(bofh("--json", "journal", "list", env=env).stdout)
    assert next(j for j in listed if j["id"] == jid)["status"] == "rolled-back"


# --- send: its target checked first, no partial stream left, a stream to an open file or pipe (issue #16) -----------


class RecordingRunner(LocalRunner):
    """The local runner, remembering every command it ran."""

    def __init__(self) -> None:
        super().__init__()
        self.ran: list[tuple[str, ...]] = []

    def _execute(self, argv: tuple[str, ...], data: bytes | None, timeout: float | None, *, readonly: bool,
                 env: Any, **kw: Any) -> Result:
        self.ran.append(argv)
        return super()._execute(argv, data, timeout, readonly=readonly, env=env, **kw)


def _journals(env: dict[str, str]) -> list[str]:
    directory = Path(env["PYBOFH_JOURNAL_DIR"])
    return sorted(p.name for p in directory.glob("*.jsonl")) if directory.exists() else []


def test_send_refuses_an_existing_stream_file_before_btrfs_runs(fs: str, tmp_path: Path) -> None:
    """The stream file must be new: one that exists is refused before ``btrfs send`` (which would truncate it) runs;
    on the CLI that is exit 2 and, nothing having run, no journal is left."""
    ops.snapshot(ops.create_subvolume(f"{fs}/data").path, f"{fs}/snap", readonly=True)
    target = tmp_path / "precious"
    target.write_text("keep me")
    runner = RecordingRunner()
    with use_runner(runner), pytest.raises(ValidationError, match="already exists"):
        ops.send(f"{fs}/snap", str(target))
    assert not [c for c in runner.ran if c[:2] == ("btrfs", "send")]
    env = {**os.environ, "PYBOFH_JOURNAL_DIR": str(tmp_path / "journal")}
    for argv in (["btrfs", "send", f"{fs}/snap", "--stream-file", str(target)],
                 ["btrfs", "send", f"{fs}/snap", "--stream-file", str(target), "--parent", f"{fs}/nope"],
                 ["btrfs", "subvolume", "create", f"{tmp_path}/missing/new"]):
        refused = bofh(*argv, env=env)
        assert refused.returncode == 2 and refused.stdout == "", refused.stderr
    assert target.read_text() == "keep me"
    assert _journals(env) == []


@pytest.fixture
def tiny_fs(loop_factory: Any, tmp_path: Path) -> Iterator[str]:
    """A 16 MiB ext4 on a loop device, mounted: too small for the stream of the snapshot ``big_snapshot`` makes."""
    dev = loop_factory(16 * 1024**2, name="tiny")
    sh("mkfs.ext4", "-q", "-F", dev)
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    sh("mount", "-t", "ext4", dev, str(mnt))
    try:
        yield str(mnt)
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, check=False)


@pytest.mark.parametrize("in_block", [False, True], ids=["direct-call", "atomic-block"])
def test_a_send_that_fails_midway_leaves_no_partial_stream(fs: str, tiny_fs: str, tmp_path: Path, in_block: bool,
                                                          registry: OperationRegistry) -> None:
    """``btrfs send -f`` leaves what it wrote when it fails: an empty file (the subvolume is not read-only: it
    creates the file first) or a partial stream (the disk is full). ``send`` removes it itself, also called
    directly, where no atomic block undoes anything; in a block the rollback then finds nothing left (no
    needs-attention). The CLI: exit 1, nothing left."""
    data = ops.create_subvolume(f"{fs}/data").path
    Path(data, "big").write_bytes(os.urandom(24 * 1024**2))
    ops.snapshot(data, f"{fs}/snap", readonly=True)
    ops.snapshot(data, f"{fs}/rw")
    for snap, stream, why in ((f"{fs}/rw", str(tmp_path / "rw.stream"), "is not read-only"),
                              (f"{fs}/snap", f"{tiny_fs}/full.stream", "No space left on device")):
        with pytest.raises(CommandError, match=why) as info:
            if in_block:
                with Atomic(registry=registry) as atomic:
                    atomic.btrfs.send(snap, stream)
            else:
                ops.send(snap, stream)
        assert f"pybofh: removed the partial stream {stream}" in getattr(info.value, "__notes__", [])
        assert not Path(stream).exists()
    assert sorted(os.listdir(tiny_fs)) == ["lost+found"]
    env = {**os.environ, "PYBOFH_JOURNAL_DIR": str(tmp_path / "journal")}
    failed = bofh("btrfs", "send", f"{fs}/snap", "--stream-file", f"{tiny_fs}/cli.stream", env=env)
    assert failed.returncode == 1 and "No space left" in failed.stderr and "removed the partial stream" in \
        failed.stderr, failed.stderr
    assert sorted(os.listdir(tiny_fs)) == ["lost+found"]
    listed = json.loads(bofh("--json", "journal", "list", env=env).stdout)
    assert [j["status"] for j in listed] == ["rolled-back"]  # it ran a command: its journal stays


def test_send_to_a_pipe_and_cli_stream_on_stdout(fs: str, fs2: str, tmp_path: Path) -> None:
    """``send_to`` writes the stream into an open pipe (here ``btrfs receive``'s stdin), full then incremental;
    ``bofh btrfs send SNAP --stream-file - | btrfs receive DIR`` works, with ``--json`` and ``-v``: the result and
    the log go to stderr, never into the stream. A terminal, or ``-`` with DEST_DIR, is refused (exit 2)."""
    data = ops.create_subvolume(f"{fs}/data").path
    Path(data, "file").write_text("one")
    ops.snapshot(data, f"{fs}/s1", readonly=True)
    Path(data, "file").write_text("two")
    ops.snapshot(data, f"{fs}/s2", readonly=True)
    receiver = subprocess.Popen(["btrfs", "receive", fs2], stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert receiver.stdin is not None
        pipe = receiver.stdin.fileno()
        sent = ops.send_to(f"{fs}/s1", receiver.stdin)
        ops.send_to(f"{fs}/s2", pipe, parent=f"{fs}/s1")
    finally:
        if receiver.stdin:
            receiver.stdin.close()
        receiver.wait(timeout=120)
    assert receiver.returncode == 0, receiver.stderr.read() if receiver.stderr else ""
    assert (sent.snapshot, sent.parent, sent.to) == (f"{fs}/s1", None, f"fd {pipe}")
    assert Path(fs2, "s1", "file").read_text() == "one" and Path(fs2, "s2", "file").read_text() == "two"
    env = {**os.environ, "PYBOFH_JOURNAL_DIR": str(tmp_path / "journal")}
    ops.create_subvolume(f"{fs2}/cli")
    cmd = [sys.executable, "-m", "pybofh_core.cli", "--json", "-v", "btrfs", "send", f"{fs}/s2", "--stream-file", "-"]
    sender = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    got = subprocess.run(["btrfs", "receive", f"{fs2}/cli"], stdin=sender.stdout, capture_output=True, timeout=120)
    assert sender.stdout is not None and sender.stderr is not None
    sender.stdout.close()
    err = sender.stderr.read().decode()
    assert sender.wait(timeout=120) == 0 and got.returncode == 0, (err, got.stderr)
    assert Path(fs2, "cli", "s2", "file").read_text() == "two"
    assert f"run: btrfs send -- {fs}/s2" in err
    result = json.loads(err[err.index("{"): err.rindex("}") + 1])
    assert result == {"snapshot": f"{fs}/s2", "to": "stdout", "parent": None}
    main, tty = os.openpty()
    try:
        on_tty = subprocess.run(cmd[:3] + cmd[5:], env=env, stdout=tty, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(main)
        os.close(tty)
    assert on_tty.returncode == 2 and "refusing to write a binary send stream to a terminal" in on_tty.stderr
    both = bofh("btrfs", "send", f"{fs}/s2", fs2, "--stream-file", "-", env=env)
    assert both.returncode == 2 and "pipe stdout to 'btrfs receive DEST_DIR'" in both.stderr
