"""A command's stdout sent to an open file descriptor (``Runner.run(stdout=fd)``: ``btrfs send`` to a pipe), and the
journal of a block whose steps were all refused before they ran anything (none is left: issue #16).

``btrfs send`` itself, on loop devices, is tested in ``plugins/pybofh-btrfs/tests/test_loopdev.py``.
"""

from __future__ import annotations

import io
import os
import pty
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pybofh_core.atomic import Atomic
from pybofh_core.errors import CommandError, ValidationError
from pybofh_core.operations import OperationRegistry, operation
from pybofh_core.runner import DryRunRunner, FakeRunner, LocalRunner, Runner, run, use_runner

# --- the runner: stdout=fd -------------------------------------------------------------------------------------------


def _drain(r: int) -> bytes:
    out = b""
    while chunk := os.read(r, 65536):
        out += chunk
    os.close(r)
    return out


def test_local_runner_writes_a_commands_stdout_to_the_descriptor_given(tmp_path: Path) -> None:
    """The command writes straight into the pipe or file (nothing held in the Result); stderr is still collected."""
    r, w = os.pipe()
    try:
        res = LocalRunner().run(["sh", "-c", "printf 'stream\\000bytes'; echo oops >&2"], stdout=w)
    finally:
        os.close(w)
    assert _drain(r) == b"stream\0bytes"
    assert (res.stdout, res.stderr) == (b"", b"oops\n")
    with (tmp_path / "out").open("wb") as fh:
        LocalRunner().run(["printf", "to a file"], stdout=fh.fileno())
    assert (tmp_path / "out").read_bytes() == b"to a file"
    r, w = os.pipe()
    try:
        with pytest.raises(CommandError, match="status 3"):
            LocalRunner().run(["sh", "-c", "printf partial; exit 3"], stdout=w)
    finally:
        os.close(w)
    assert _drain(r) == b"partial"


def test_bad_stdout_descriptors_are_refused_before_anything_runs(tmp_path: Path) -> None:
    fake = FakeRunner().expect(["true"])
    (tmp_path / "f").write_text("x")
    closed = os.open(tmp_path / "f", os.O_RDONLY)
    os.close(closed)
    with open(tmp_path / "f", "rb") as reading:
        for bad in (-1, True, "1", 2.0, closed, reading.fileno()):
            with pytest.raises(ValidationError, match="stdout"):
                fake.run(["true"], stdout=bad)  # type: ignore[arg-type]
    assert fake.calls == []


def test_a_transport_that_cannot_take_a_descriptor_refuses_it() -> None:
    """A transport without ``stdout_fds`` (ssh runs commands elsewhere) refuses before running anything."""
    ran: list[tuple[str, ...]] = []

    class Remote(Runner):
        name = "remote-like"

        def _execute(self, argv, data, timeout, *, readonly, env):  # type: ignore[no-untyped-def]
            ran.append(argv)
            raise AssertionError("must not run")

    r, w = os.pipe()
    try:
        with pytest.raises(ValidationError, match="remote-like transport cannot write"):
            Remote().run(["btrfs", "send", "--", "/mnt/snap"], stdout=w)
        with pytest.raises(ValidationError, match="transport cannot write"):
            DryRunRunner(Remote()).run(["btrfs", "send", "--", "/mnt/snap"], stdout=w)  # a plan refuses it too
    finally:
        os.close(w)
        os.close(r)
    assert ran == []


def test_dry_run_plans_the_command_and_writes_nothing_fake_runner_replays_into_the_descriptor() -> None:
    r, w = os.pipe()
    dry = DryRunRunner(LocalRunner())
    fake = FakeRunner().expect(["btrfs", "send", "--", "/mnt/snap"], stdout=b"btrfs-stream\0recorded")
    try:
        dry.run(["btrfs", "send", "--", "/mnt/snap"], stdout=w)
        dry.run(["printf", "read-only: runs"], stdout=w, readonly=True)
        res = fake.run(["btrfs", "send", "--", "/mnt/snap"], stdout=w)
    finally:
        os.close(w)
    assert [str(c) for c in dry.plan] == ["btrfs send -- /mnt/snap"]
    assert _drain(r) == b"read-only: runsbtrfs-stream\0recorded"
    assert res.stdout == b""


# --- btrfs.send_to through the runner (fake; the real one is in the btrfs plugin's loop-device tests) ------------


@pytest.fixture
def subvolumes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every path is a subvolume root (the fake runner's machine has none)."""
    monkeypatch.setattr("pybofh_btrfs.checks.is_subvolume_root", lambda path, what="": True)


def test_send_to_writes_the_stream_into_an_open_file_or_pipe(fake_runner: FakeRunner, subvolumes: None,
                                                             tmp_path: Path) -> None:
    from pybofh_btrfs import ops

    fake_runner.expect(["btrfs", "send", "-p", "/mnt/s1", "--", "/mnt/s2"], stdout=b"btrfs-stream\0incremental")
    with (tmp_path / "out").open("wb") as fh:
        fh.write(b"before|")  # flushed by send_to before btrfs writes
        sent = ops.send_to("/mnt/s2", fh, parent="/mnt/s1")
    assert (tmp_path / "out").read_bytes() == b"before|btrfs-stream\0incremental"
    assert (sent.snapshot, sent.parent, sent.to) == ("/mnt/s2", "/mnt/s1", str(tmp_path / "out"))
    assert fake_runner.calls == [("btrfs", "send", "-p", "/mnt/s1", "--", "/mnt/s2")]


def test_send_to_refuses_a_terminal_and_an_in_memory_buffer(fake_runner: FakeRunner, subvolumes: None) -> None:
    from pybofh_btrfs import ops

    main, tty = pty.openpty()
    try:
        with pytest.raises(ValidationError, match="terminal"):
            ops.send_to("/mnt/snap", tty)
    finally:
        os.close(main)
        os.close(tty)
    with pytest.raises(ValidationError, match="no open file descriptor"):
        ops.send_to("/mnt/snap", io.BytesIO())
    with pytest.raises(ValidationError, match="file descriptor or an open file"):
        ops.send_to("/mnt/snap", "/tmp/stream")
    assert fake_runner.calls == []


# --- no journal for a block whose steps were all refused before running anything ------------------------------------


@operation(no_undo="a test operation that refuses its input")
def refuse(name: str) -> None:
    run(["probe", name], readonly=True)  # read-only commands may run before the refusal
    raise ValidationError(f"bad name {name!r}")


@operation(no_undo="a test operation whose command fails")
def fail_to_change(name: str) -> None:
    run(["change", name])


@operation(no_undo="a test operation that works")
def change(name: str) -> None:
    run(["change", name])


@pytest.fixture
def registry() -> Iterator[OperationRegistry]:
    reg = OperationRegistry()
    for func in (refuse, fail_to_change, change):
        reg.add("t", func)
    fake = FakeRunner().expect(["probe", ...]).expect(["change", "ok"]).expect(["change", "bad"], returncode=1)
    with use_runner(fake):
        yield reg


def _journals(journal_dir: Path) -> list[str]:
    return sorted(p.name for p in journal_dir.glob("*.jsonl")) if journal_dir.exists() else []


def test_a_lazy_journal_is_removed_when_every_step_was_refused_before_running(registry: OperationRegistry,
                                                                             journal_dir: Path) -> None:
    """The block of a ``bofh`` command (lazy journal): its only step refused by its own checks (exit 2, nothing
    ran) leaves no journal file; a refusal after a finished step, or a step whose mutating command failed, keeps it,
    and so does a block with an eager journal (the API's default)."""
    with pytest.raises(ValidationError), Atomic(registry=registry, lazy_journal=True) as atomic:
        atomic.t.refuse("x")
    assert _journals(journal_dir) == [] and atomic.journal_id is None
    with pytest.raises(ValidationError), Atomic(registry=registry, lazy_journal=True) as atomic:
        atomic.t.change("ok")
        atomic.t.refuse("x")
    kept: list[Any] = _journals(journal_dir)
    assert len(kept) == 1
    with pytest.raises(CommandError), Atomic(registry=registry, lazy_journal=True) as atomic:
        atomic.t.fail_to_change("bad")
    assert len(_journals(journal_dir)) == 2
    with pytest.raises(ValidationError), Atomic(registry=registry) as atomic:
        atomic.t.refuse("x")
    assert len(_journals(journal_dir)) == 3
