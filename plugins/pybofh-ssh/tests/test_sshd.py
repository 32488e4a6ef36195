"""The ssh runner against a real OpenSSH server on loopback (the ``sshd`` fixture: hosts h1…h3 and ``dead``)."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import pytest

from pybofh_core import Atomic
from pybofh_core.errors import CommandError, CommandTimeoutError, ValidationError
from pybofh_core.journal import Journal, iter_records
from pybofh_core.runner import LocalRunner, get_runner, make_runner, run
from pybofh_core.secret import Secret
from pybofh_ssh.errors import HostUnreachableError
from pybofh_ssh.runner import SshRunner, on_host


def _server_port(runner: SshRunner) -> int:
    """The sshd port that served a command: tells the fleet's "hosts" apart."""
    return int(runner.run(["sh", "-c", 'echo "${SSH_CONNECTION##* }"'], readonly=True).text)


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if text.encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def test_runs_on_the_named_host_with_c_locale(sshd, ssh_opts):
    with SshRunner("h2", **ssh_opts) as runner:
        res = runner.run(["sh", "-c", 'echo "$LC_ALL $LANG"; echo to-stderr >&2'], readonly=True)
        assert (res.text, res.stderr) == ("C C\n", b"to-stderr\n")
        assert _server_port(runner) == sshd.ports["h2"]


def test_hostile_argv_arrives_verbatim(sshd, ssh_opts, tmp_path, hostile_args):
    """Spaces, quotes, ';', $(...), backticks, newlines, globs: each element reaches the remote program unchanged."""
    args = hostile_args
    with SshRunner("h1", **ssh_opts) as runner:
        res = runner.run(["printf", "%s\\0", *args])
    assert res.stdout.split(b"\0")[:-1] == [a.encode() for a in args]
    assert not list(tmp_path.glob("pwned*"))


def test_stdin_is_forwarded_byte_exact(ssh_opts):
    data = bytes(range(256)) * 64
    with SshRunner("h1", **ssh_opts) as runner:
        assert runner.run(["cat"], input=data).stdout == data
        # without input the remote stdin is closed, not the test's terminal
        assert runner.run(["cat"]).stdout == b""


def test_remote_exit_code_and_stderr_become_command_error(ssh_opts):
    with SshRunner("h3", **ssh_opts) as runner:
        with pytest.raises(CommandError) as info:
            runner.run(["sh", "-c", "echo partial; echo 'it broke' >&2; exit 3"])
        err = info.value
        assert not isinstance(err, HostUnreachableError)
        assert (err.returncode, err.stdout, err.stderr, err.host) == (3, b"partial\n", b"it broke\n", "h3")
        assert "on h3 exited with status 3: it broke" in str(err)
        # a command's own exit 255 is not mistaken for ssh failing: the master is still up
        with pytest.raises(CommandError) as info255:
            runner.run(["sh", "-c", "exit 255"])
        assert not isinstance(info255.value, HostUnreachableError) and info255.value.returncode == 255
        assert runner.run(["false"], check=False).returncode == 1
        missing = runner.run(["no-such-tool-pybofh"], check=False)
        assert missing.returncode == 127 and b"no-such-tool-pybofh" in missing.stderr


def test_unreachable_host_is_reported_distinctly(sshd, ssh_opts):
    started = time.monotonic()
    with SshRunner(sshd.dead_host, **ssh_opts) as runner:
        with pytest.raises(HostUnreachableError) as info:
            runner.run(["true"])
    assert time.monotonic() - started < 10
    assert info.value.returncode is None and info.value.host == "dead"
    assert b"Connection refused" in info.value.stderr
    assert "unreachable" in str(info.value)


def test_authentication_failure_is_unreachable_not_a_prompt(sshd, tmp_path):
    other = tmp_path / "otherkey"
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    cfg = tmp_path / "cfg"
    cfg.write_text(sshd.ssh_config.read_text().replace(f"IdentityFile {sshd.identity}", f"IdentityFile {other}"))
    with SshRunner("h1", ssh_config=cfg) as runner, pytest.raises(HostUnreachableError) as info:
        runner.run(["true"])
    assert b"Permission denied" in info.value.stderr


def test_commands_share_one_connection_and_close_ends_it(ssh_opts):
    """N commands ride on one master connection (same client port); close() stops the master and removes its dir."""
    runner = SshRunner("h1", **ssh_opts)
    ports = {runner.run(["sh", "-c", 'echo "$SSH_CONNECTION"'], readonly=True).text for _ in range(4)}
    assert len(ports) == 1
    control_dir = os.path.dirname(runner.control_path or "")
    assert runner.master_alive()
    assert _processes_mentioning(control_dir)  # the master: "ssh: <dir>/m [mux]"
    runner.close()
    deadline = time.monotonic() + 5
    while _processes_mentioning(control_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _processes_mentioning(control_dir)
    assert not os.path.exists(control_dir)
    # a closed runner reconnects on its next command
    assert runner.run(["echo", "again"]).text == "again\n"
    runner.close()


def test_which_looks_on_the_remote_path_with_sbin(ssh_opts):
    with SshRunner("h1", **ssh_opts) as runner:
        assert runner.which("losetup") in ("/usr/sbin/losetup", "/sbin/losetup")
        assert runner.which("sh") in ("/usr/bin/sh", "/bin/sh")
        assert runner.which("no-such-tool-pybofh") is None
        assert runner.which("cd") is None  # a shell builtin is not a tool
        with pytest.raises(ValidationError):
            runner.which("sh; touch /tmp/x")


def test_timeout_kills_the_local_client(ssh_opts):
    with SshRunner("h1", **ssh_opts) as runner:
        started = time.monotonic()
        with pytest.raises(CommandTimeoutError) as info:
            runner.run(["sleep", "10"], timeout=1)
        assert time.monotonic() - started < 5
        assert info.value.host == "h1" and info.value.argv == ["sleep", "10"]


def test_on_host_installs_the_runner_for_the_block(sshd, ssh_opts):
    assert isinstance(get_runner(), LocalRunner)
    with on_host("h3", **ssh_opts) as runner:
        assert get_runner() is runner
        assert int(run(["sh", "-c", 'echo "${SSH_CONNECTION##* }"']).text) == sshd.ports["h3"]
    assert isinstance(get_runner(), LocalRunner)


def test_make_runner_from_a_journal_description_reaches_the_same_host(sshd, ssh_opts):
    with SshRunner("h2", **ssh_opts) as runner:
        desc = runner.describe()
    options = {k: v for k, v in desc.items() if k != "runner" and v is not None}
    rebuilt = make_runner(desc["runner"], **options)
    try:
        assert _server_port(rebuilt) == sshd.ports["h2"]  # type: ignore[arg-type]
    finally:
        rebuilt.close()  # type: ignore[attr-defined]


def test_secret_never_in_process_list_logs_or_journal(sshd, ssh_opts, marker_plugin, tmp_path, caplog, journal_dir):
    """A secret on stdin reaches the remote file, but no /proc/*/cmdline, log record, sshd log or journal has it."""
    caplog.set_level(logging.DEBUG)
    secret = Secret("pw-" + os.urandom(8).hex())
    target = tmp_path / "secret-h1"
    seen_running, leaked = [], []
    stop = threading.Event()

    def scan() -> None:
        while not stop.is_set():
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
                except OSError:
                    continue
                if secret.reveal().encode() in cmdline:
                    leaked.append(cmdline)
                if str(target).encode() in cmdline and b"sleep" in cmdline:
                    seen_running.append(cmdline)
            time.sleep(0.01)

    scanner = threading.Thread(target=scan)
    scanner.start()
    try:
        with on_host("h1", **ssh_opts):
            # the remote command holds the secret in memory for 1.5 s while the scanner reads every cmdline
            run(["sh", "-c", 'cat > "$1" && sleep 1.5', "sh", str(target)], input=secret)
            with Atomic(label="secret-test") as atomic:
                atomic.sshtest.write_secret(str(tmp_path / "secret-atomic"), secret)
    finally:
        stop.set()
        scanner.join()
    assert seen_running, "the scanner never saw the remote command run, so it proved nothing"
    assert leaked == []
    assert target.read_text() == secret.reveal()
    assert (tmp_path / "secret-atomic").read_text() == secret.reveal()
    assert "cat >" in caplog.text  # commands were logged at debug…
    assert secret.reveal() not in caplog.text  # …without the secret
    assert secret.reveal() not in sshd.log.read_text(errors="replace")
    journals = list(journal_dir.glob("*.jsonl"))
    assert journals
    for path in journals:
        text = path.read_text()
        assert secret.reveal() not in text
        steps = [r for r in iter_records(path) if r["type"] == "step"]
        assert steps and all(r["runner"]["host"] == "h1" for r in steps)


def test_atomic_rollback_undoes_on_the_host_that_did_the_step(sshd, ssh_opts, marker_plugin, tmp_path, journal_dir):
    """A step on h2 fails mid-block: the finished steps are undone on h2 (its sshd port), the journal names h2."""
    a, b = tmp_path / "a", tmp_path / "b"
    with on_host("h2", **ssh_opts), pytest.raises(CommandError) as info:
        with Atomic(label="rollback-test") as atomic:
            atomic.sshtest.create_marker(str(a))
            atomic.sshtest.create_marker(str(b))
            atomic.sshtest.create_marker(str(tmp_path / "missing-dir" / "c"))
    assert info.value.host == "h2"
    assert not a.exists() and not b.exists()
    port = str(sshd.ports["h2"])
    assert (tmp_path / "a.removed-by").read_text().split() == [port]
    assert (tmp_path / "b.removed-by").read_text().split() == [port]
    (state,) = Journal(journal_dir).list()
    assert state.status == "rolled-back"
    assert {s.runner["host"] for s in state.steps} == {"h2"}
    assert all(s.runner["runner"] == "ssh" for s in state.steps)


def test_path_checks_run_on_the_remote_host(sshd, ssh_opts, tmp_path):
    """Existence checks (``validate_path``) under ``on_host`` ask the remote side with one read-only stat."""
    from pybofh_core.errors import NotFoundError
    from pybofh_core.validate import validate_path

    (tmp_path / "file").write_text("x")
    with on_host("h1", **ssh_opts) as runner:
        assert runner.path_kind(str(tmp_path)) == "dir"
        assert runner.path_kind(str(tmp_path / "file")) == "file"
        assert runner.path_kind(str(tmp_path / "missing")) is None
        assert validate_path(str(tmp_path), kind="dir") == str(tmp_path)
        with pytest.raises(NotFoundError):
            validate_path(str(tmp_path / "missing"), must_exist=True)
        with pytest.raises(ValidationError, match="not a block device"):
            validate_path(str(tmp_path / "file"), kind="block")
