"""The resident remote shell and the fleet fan-out on a real sshd: exact framing, one login per host, a host lost
mid-run reported on its own, results streamed as hosts finish, the pool size setting honoured, secrets on stdin."""

from __future__ import annotations

import io
import json
import os
import threading
import time
from typing import Any

import pytest

from pybofh_core.errors import CommandError, HostUnreachableError
from pybofh_core.runner import run
from pybofh_core.secret import Secret
from pybofh_ssh import cli_fanout
from pybofh_ssh.fanout import HostStatus, fan_out
from pybofh_ssh.runner import SshRunner


def _accepted(sshd: Any) -> int:
    return sshd.log.read_text(errors="replace").count("Accepted publickey for root")


def test_framing_binary_stdout_stderr_exit_code_and_stdin(ssh_opts: dict[str, Any]) -> None:
    """Every byte value, empty and large outputs, stderr apart from stdout, the exact exit code, and stdin — also
    stdin the command leaves unread — all pass through one session in step."""
    every_byte = bytes(range(256)) * 4
    with SshRunner("h1", **ssh_opts) as runner:
        res = runner.run(["sh", "-c", 'cat; printf "e\\0rr\\n" >&2; exit 7'], input=every_byte, check=False)
        assert (res.returncode, res.stdout, res.stderr) == (7, every_byte, b"e\x00rr\n")
        big = os.urandom(3 * 1024 * 1024)
        assert runner.run(["cat"], input=big).stdout == big
        unread = runner.run(["true"], input=b"x" * 500_000)  # never read: drained, the next command is unaffected
        assert (unread.returncode, unread.stdout, unread.stderr) == (0, b"", b"")
        assert runner.run(["head", "-c", "3"], input=b"abcdef").stdout == b"abc"
        assert runner.run(["printf", "%s", ""]).stdout == b""
        assert runner.run(["sh", "-c", "printf 'no newline'"]).stdout == b"no newline"
        assert runner.run(["sh", "-c", 'read -r x; echo "[$x]"'], input=b"line\nrest").stdout == b"[line]\n"
        res = runner.run(["sh", "-c", "test -t 0 || echo not-a-tty; cat"], check=False)  # no input: /dev/null
        assert res.stdout == b"not-a-tty\n"
        with pytest.raises(CommandError) as info:
            runner.run(["ls", "/nonexistent-pybofh"])
        assert info.value.returncode == 2 and b"No such file" in info.value.stderr
        missing = runner.run(["pybofh-no-such-tool"], check=False)
        assert missing.returncode == 127
        assert runner._session is not None and not runner._resident_failed


def test_one_session_runs_every_command(sshd: Any, ssh_opts: dict[str, Any]) -> None:
    """Many commands: one authentication and one remote login shell (the same loop shell runs each command)."""
    before = _accepted(sshd)
    with SshRunner("h2", **ssh_opts) as runner:
        parents = {runner.run(["sh", "-c", "echo $PPID"]).text.strip() for _ in range(10)}
    assert len(parents) == 1, parents
    assert _accepted(sshd) - before == 1


def test_resident_shell_off_runs_one_session_per_command(ssh_opts: dict[str, Any]) -> None:
    """``resident_shell=False`` (``ssh.resident_shell = false``): each command is its own ssh session (its parent
    is sshd itself, not the resident loop shell)."""
    parent = ["sh", "-c", "cat /proc/$PPID/comm"]
    with SshRunner("h2", resident_shell=False, **ssh_opts) as runner:
        assert runner.run(parent).text.strip().startswith("sshd")
        assert runner._session is None
    with SshRunner("h2", **ssh_opts) as runner:
        assert runner.run(parent).text.strip() == "sh"


def test_secret_on_stdin_never_in_argv_or_logs(ssh_opts: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    """A secret sent through the resident shell is in no process's command line (local or remote) and no log line."""
    caplog.set_level("DEBUG")
    secret = Secret("pybofh-resident-secret-4711")
    seen: list[str] = []
    done = threading.Event()

    def scan() -> None:
        while not done.is_set():
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
                    except OSError:
                        continue
                    if b"4711" in cmdline and b"resident-secret" in cmdline:
                        seen.append(cmdline.decode(errors="replace"))
            time.sleep(0.01)

    with SshRunner("h1", **ssh_opts) as runner:
        scanner = threading.Thread(target=scan)
        scanner.start()
        try:
            res = runner.run(["sh", "-c", "cat >/dev/null; sleep 0.5; echo ok"], input=secret)
        finally:
            done.set()
            scanner.join()
    assert res.stdout == b"ok\n"
    assert seen == []
    assert "resident-secret" not in caplog.text


def test_session_lost_mid_command_is_unreachable_and_the_next_command_reconnects(ssh_opts: dict[str, Any]) -> None:
    """The remote session dies while a command runs: HostUnreachableError for that command; the next one opens a
    new session."""
    with SshRunner("h3", **ssh_opts) as runner:
        assert runner.run(["true"]).returncode == 0
        with pytest.raises(HostUnreachableError, match="connection lost"):
            runner.run(["sh", "-c", "kill -9 $PPID; sleep 5"])  # $PPID: the resident loop shell
        assert runner.run(["echo", "again"]).stdout == b"again\n"


def test_host_going_down_mid_run_is_reported_for_that_host_only(sshd: Any, ssh_opts: dict[str, Any]) -> None:
    """In a fan-out, the host whose ssh server connection dies mid-job is ``unreachable``; the others finish."""

    def job(host: str) -> str:
        run(["true"], readonly=True)
        if host == "h2":  # kill the sshd process serving this connection: the host "goes down" under the job
            run(["sh", "-c", "read -r _ _ _ pp _ </proc/$PPID/stat; kill -9 $pp; sleep 5"], readonly=True)
        return run(["uname", "-n"], readonly=True).text.strip()

    results = fan_out(["h1", "h2", "h3"], job, runner_options=ssh_opts)
    assert [(r.host, r.status) for r in results] == [
        ("h1", HostStatus.OK),
        ("h2", HostStatus.UNREACHABLE),
        ("h3", HostStatus.OK),
    ]
    assert "lost" in (results[1].error or "")


def test_pool_size_setting_is_honoured(ssh_opts: dict[str, Any]) -> None:
    """``ssh.max_workers`` bounds how many hosts are worked on at once (no explicit ``max_workers``)."""
    from pybofh_core.session import get_settings

    lock = threading.Lock()
    running = [0]
    peak = [0]

    def job(host: str) -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.15)
        with lock:
            running[0] -= 1

    hosts = [f"h{i}" for i in range(1, 8)]
    with get_settings().override(ssh__max_workers=2):
        started = time.monotonic()
        results = fan_out(hosts, job, runner_options=ssh_opts)
        wall = time.monotonic() - started
    assert all(r.ok for r in results)
    assert peak[0] == 2
    assert wall >= 4 * 0.15  # 7 hosts, 2 at a time: at least 4 rounds


def test_cli_fan_out_streams_json_lines_as_hosts_finish(
    sshd: Any, ssh_opts: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ssh.json_lines``: each host's row is printed as one JSON line when that host finishes — the fast host's
    line is out while the slow host still runs — and the rows are those of the JSON array mode."""
    from pybofh_core.session import get_settings

    out = io.StringIO()
    h3_printed = threading.Event()

    class Stdout(io.StringIO):
        def write(self, text: str) -> int:
            out.write(text)
            if '"h3"' in text:
                h3_printed.set()
            return len(text)

    def job_for(_sub: list[str]) -> Any:
        def job(host: str) -> dict[str, Any]:
            if host == "h1":  # the slow host finishes only after the fast one's line was printed
                assert h3_printed.wait(10), "h3's result was not streamed while h1 still ran"
            elif host == "h2":
                time.sleep(0.2)
            return {"host": host, "kernel": run(["uname", "-s"], readonly=True).text.strip()}

        return job

    monkeypatch.setattr(cli_fanout, "_host_job", job_for)
    monkeypatch.setattr("sys.stdout", Stdout())
    with get_settings().override(ssh__json_lines=True, ssh__ssh_config=ssh_opts["ssh_config"]):
        rc = cli_fanout.run_on_hosts(["--json", "ssh", "ping"], ["h1", "h2", "h3"], json_out=True, progress=False)
    assert rc == 0
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["host"] for r in rows] == ["h3", "h2", "h1"]
    assert all(r["status"] == "ok" and r["result"]["kernel"] == "Linux" for r in rows)


def test_cli_fan_out_runs_in_process_one_login_per_host(sshd: Any, ssh_opts: dict[str, Any], capsys: Any) -> None:
    """``bofh --host … ssh ping`` over several hosts runs each host's command in this process (no child bofh) with
    one authentication per host."""
    import subprocess as sp

    from pybofh_core.session import get_settings

    spawned: list[list[str]] = []
    real_popen = sp.Popen

    class Popen(real_popen):  # type: ignore[misc,valid-type]
        def __init__(self, args: Any, *a: Any, **kw: Any) -> None:
            spawned.append(list(args))
            super().__init__(args, *a, **kw)

    before = _accepted(sshd)
    sp.Popen = Popen  # type: ignore[misc]
    try:
        with get_settings().override(ssh__ssh_config=ssh_opts["ssh_config"]):
            rc = cli_fanout.run_on_hosts(
                ["--host", "h1", "--host", "h2", "ssh", "ping"], ["h1", "h2"], json_out=True, progress=False
            )
    finally:
        sp.Popen = real_popen  # type: ignore[misc]
    rows = json.loads(capsys.readouterr().out)
    assert rc == 0 and [r["host"] for r in rows] == ["h1", "h2"]
    assert not [a for a in spawned if "pybofh_core.cli" in " ".join(map(str, a))], "a child bofh was started"
    assert _accepted(sshd) - before == 2
