"""The journal: fsync'd records, torn writes, real ``kill -9`` of a process mid-block, ``bofh journal rollback``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pybofh_core.errors import JournalError, NotFoundError
from pybofh_core.journal import Journal, parse_journal
from pybofh_core.secret import Secret
from pybofh_core.serialize import to_jsonable

ROOT = Path(__file__).resolve().parents[1]
FAKE = ROOT / "tests" / "fake_plugin"


def plugin_env(journal: Path) -> dict[str, str]:
    """Environment for a child process that loads the test's fake plugin as a site plugin."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(FAKE), env.get("PYTHONPATH", "")])
    env["PYBOFH_EXTRA_PLUGINS"] = "fake=pybofh_fake"
    env["PYBOFH_JOURNAL_DIR"] = str(journal)
    env["PYBOFH_STRICT_PLUGINS"] = "1"
    return env


CHILD = textwrap.dedent(
    """
    import sys, time
    from pybofh import Atomic, fake
    markers, ready, mode = sys.argv[1:4]
    with Atomic(label="killed-job") as atomic:
        atomic.fake.create_marker(markers + "/a")
        atomic.fake.create_marker(markers + "/b")
        open(ready, "w").write(atomic.journal_id)
        if mode == "in-step":
            atomic.fake.hang(3600)
        else:
            time.sleep(3600)
        atomic.fake.create_marker(markers + "/never")
    """
)


def bofh(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the real ``bofh`` CLI in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "pybofh_core.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("mode", ["between-steps", "in-step"])
def test_kill_9_then_journal_rollback(tmp_path: Path, mode: str) -> None:
    """A block killed with SIGKILL leaves a journal; ``bofh journal rollback`` undoes exactly what finished."""
    markers = tmp_path / "markers"
    markers.mkdir()
    ready = tmp_path / "ready"
    journal = tmp_path / "journal"
    env = plugin_env(journal)
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(markers), str(ready), mode], env=env, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while not (ready.exists() and ready.read_text()):
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            assert time.monotonic() < deadline, "child never reached the kill point"
            time.sleep(0.05)
        if mode == "in-step":
            time.sleep(0.5)  # let the hang step start its sleep command
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    jid = ready.read_text()
    assert sorted(p.name for p in markers.iterdir()) == ["a", "b"]

    listed = bofh("--json", "journal", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    row = next(r for r in json.loads(listed.stdout) if r["id"] == jid)
    assert row["status"] == "interrupted" and row["label"] == "killed-job"

    result = bofh("journal", "rollback", jid, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["undone: fake.create_marker", "undone: fake.create_marker"]
    if mode == "in-step":
        assert "fake.hang was running when the process died" in result.stderr
    assert list(markers.iterdir()) == []
    state = Journal(journal).load(jid)
    assert state.status == "rolled-back"
    assert [s.state for s in state.steps][:2] == ["undone", "undone"]

    again = bofh("journal", "rollback", jid, env=env)  # idempotent: nothing left to undo
    assert again.returncode == 0 and again.stdout == ""


def test_rollback_refuses_running_block(tmp_path: Path) -> None:
    """A journal whose block still runs (its lock is held) is not rolled back from under it."""
    journal = Journal(tmp_path)
    writer = journal.create("busy")
    try:
        writer.append({"type": "step", "step": 1, "op": "x.y", "args": {}, "runner": {}})
        assert journal.load(writer.id).status == "running"
        with pytest.raises(JournalError, match="still running"):
            journal.rollback(writer.id, lambda name: print, lambda d: None)
    finally:
        writer.close()
    assert journal.load(writer.id).status == "interrupted"


def test_torn_last_line_is_ignored_but_damage_elsewhere_is_reported(tmp_path: Path) -> None:
    """A write cut by kill -9 (partial last line) is tolerated; a broken line in the middle is an error."""
    good = (
        '{"type":"begin","pid":1}\n{"type":"step","step":1,"op":"a.b","args":{}}\n'
        '{"type":"done","step":1,"undo":null}\n'
    )
    state = parse_journal(tmp_path / "j.jsonl", good + '{"type":"comm')
    assert [s.state for s in state.steps] == ["done"]
    with pytest.raises(JournalError, match="damaged at line 2"):
        parse_journal(tmp_path / "j.jsonl", '{"type":"begin"}\n{oops\n{"type":"commit"}\n')


def test_secrets_never_reach_the_journal(tmp_path: Path) -> None:
    """Secret arguments are journalled as a marker, never their value, and make the undo non-replayable."""
    value, ok = to_jsonable({"passphrase": Secret("hunter2-xyz"), "dev": "/dev/loop0"})
    assert value == {"passphrase": {"__secret__": True}, "dev": "/dev/loop0"} and ok is False
    assert "hunter2-xyz" not in json.dumps(value)


def test_unknown_journal_and_bad_ids(tmp_path: Path) -> None:
    """Unknown ids and path-like ids are NotFoundError, not file access outside the journal dir."""
    journal = Journal(tmp_path)
    for jid in ("nope", "../etc/passwd", "", ".hidden"):
        with pytest.raises(NotFoundError):
            journal.load(jid)


def test_records_are_on_disk_when_append_returns(tmp_path: Path) -> None:
    """Each append is one complete line, readable by another process right away (fsync'd, O_APPEND)."""
    journal = Journal(tmp_path)
    writer = journal.create("x")
    try:
        writer.append({"type": "step", "step": 1, "op": "a.b", "args": {"n": 1}, "runner": {"runner": "local"}})
        text = writer.path.read_text()
        assert text.endswith("\n") and text.count("\n") == 2
        assert json.loads(text.splitlines()[1])["args"] == {"n": 1}
    finally:
        writer.close()


def _killed_job(tmp_path: Path, env: dict[str, str], markers: Path) -> str:
    """Run CHILD until it made its two markers, SIGKILL it; its journal id."""
    ready = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(markers), str(ready), "between-steps"], env=env)
    try:
        deadline = time.monotonic() + 60
        while not (ready.exists() and ready.read_text()):
            assert child.poll() is None and time.monotonic() < deadline, "child never reached the kill point"
            time.sleep(0.05)
    finally:
        child.kill()
        child.wait()
    return ready.read_text()


def test_journal_format_versions_are_checked_never_misread(tmp_path: Path) -> None:
    """A version-1 journal (no ``v``, no step kinds) is still rolled back; one of an unknown version is refused in
    one line with exit 3 (its job's effects are still there), listed as needs-attention, and nothing is undone."""
    markers = tmp_path / "markers"
    markers.mkdir()
    journal = tmp_path / "journal"
    env = plugin_env(journal)
    jid = _killed_job(tmp_path, env, markers)
    path = journal / f"{jid}.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert records[0]["v"] == 2

    records[0]["v"] = 99
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    refused = bofh("journal", "rollback", jid, env=env)
    assert refused.returncode == 3
    assert refused.stderr.strip().splitlines() == [
        f"bofh: error: journal {jid}.jsonl has format version 99; this pybofh reads versions 1, 2 (roll it back "
        "with the pybofh that wrote it)"]
    assert sorted(p.name for p in markers.iterdir()) == ["a", "b"]
    assert path.read_text().count("\n") == len(records)  # nothing was appended to it
    listed = json.loads(bofh("--json", "journal", "list", env=env).stdout)
    assert next(r for r in listed if r["id"] == jid)["status"] == "needs-attention"

    del records[0]["v"]
    for rec in records:
        rec.pop("kind", None)
        rec.pop("boot_id", None)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = bofh("journal", "rollback", jid, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["undone: fake.create_marker", "undone: fake.create_marker"]
    assert list(markers.iterdir()) == []
