"""fan_out over a real sshd fleet: per-host results, rollback on the failing host only, bounded parallelism."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from pybofh_core import Atomic
from pybofh_core.errors import ValidationError
from pybofh_core.journal import Journal
from pybofh_core.runner import get_runner, make_runner, run
from pybofh_core.session import get_plugins
from pybofh_core.session import journal as session_journal
from pybofh_ssh.errors import HostUnreachableError
from pybofh_ssh.fanout import HostStatus, fan_out
from pybofh_ssh.runner import SshRunner


def test_one_failing_and_one_unreachable_host_do_not_stop_the_others(sshd, ssh_opts, marker_plugin, tmp_path):
    """h2's third step fails: h2 is rolled back (by h2), h1 and h3 keep their markers, ``dead`` is unreachable."""
    for host in sshd.hosts:
        (tmp_path / host).mkdir()

    def job(host: str) -> int:
        with Atomic(label=f"fan-{host}") as atomic:
            atomic.sshtest.create_marker(str(tmp_path / host / "a"))
            atomic.sshtest.create_marker(str(tmp_path / host / "b"))
            if host == "h2":
                atomic.sshtest.create_marker(str(tmp_path / host / "no-such-dir" / "c"))
        return int(run(["sh", "-c", 'echo "${SSH_CONNECTION##* }"'], readonly=True).text)

    seen = []
    results = fan_out([*sshd.hosts, "dead"], job, runner_options=ssh_opts, on_result=seen.append)
    assert [r.host for r in results] == ["h1", "h2", "h3", "dead"]
    assert sorted(r.host for r in seen) == ["dead", "h1", "h2", "h3"]
    by = {r.host: r for r in results}
    for host in ("h1", "h3"):
        assert by[host].status is HostStatus.OK and by[host].value == sshd.ports[host]
        assert not by[host].rolled_back and by[host].error is None
        for name in ("a", "b"):
            assert (tmp_path / host / name).read_text().split() == [str(sshd.ports[host])]
        assert not list((tmp_path / host).glob("*.removed-by"))
    h2 = by["h2"]
    assert h2.status is HostStatus.FAILED and h2.rolled_back and h2.undone_steps == 2 and h2.undo_failures == 0
    assert "on h2" in (h2.error or "")
    assert not (tmp_path / "h2" / "a").exists() and not (tmp_path / "h2" / "b").exists()
    assert (tmp_path / "h2" / "a.removed-by").read_text().split() == [str(sshd.ports["h2"])]
    assert len(h2.journals) == 1
    state = session_journal().load(h2.journals[0])
    assert state.status == "rolled-back" and {s.runner["host"] for s in state.steps} == {"h2"}
    dead = by["dead"]
    assert dead.status is HostStatus.UNREACHABLE and isinstance(dead.exception, HostUnreachableError)
    assert not dead.rolled_back and "Connection refused" in (dead.error or "")
    assert dead.to_json()["status"] == "unreachable"


def test_pool_is_bounded_and_parallel(sshd, ssh_opts):
    lock = threading.Lock()
    active, peak = [0], [0]

    def job(host: str) -> str:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            run(["sleep", "0.4"])
            return get_runner().host or ""
        finally:
            with lock:
                active[0] -= 1

    hosts = sshd.hosts
    results = fan_out(hosts, job, max_workers=2, runner_options=ssh_opts)
    assert [r.value for r in results] == hosts
    assert peak[0] == 2


def test_inputs_are_validated_before_any_job_runs(ssh_opts):
    calls = []
    for hosts, kwargs in [
        (["h1", "h1"], {}),
        (["h1", "-oProxyCommand=x"], {}),
        (["h1"], {"max_workers": 0}),
        (["h1"], {"runner_options": {"port": -1}}),
    ]:
        with pytest.raises(ValidationError):
            fan_out(hosts, calls.append, **kwargs)
    assert calls == []
    assert fan_out([], calls.append) == []


def test_refuses_to_run_inside_an_atomic_block(ssh_opts, marker_plugin):
    with Atomic(journal=False), pytest.raises(ValidationError):
        fan_out(["h1"], lambda h: None, runner_options=ssh_opts)


CRASHING_CHILD = """
import os, signal, sys
sys.path.insert(0, {tests!r})
import marker_ops
from pybofh_core import Atomic
from pybofh_core.session import get_plugins
from pybofh_ssh.runner import on_host
get_plugins().register(marker_ops.Plugin(), name="sshtest")
with on_host("h3", ssh_config={cfg!r}, control_persist=0):  # no master left behind by the kill
    with Atomic(label="crash") as atomic:
        atomic.sshtest.create_marker({a!r})
        atomic.sshtest.create_marker({b!r})
        print(atomic.journal_id, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
"""


def test_journal_rollback_after_kill_9_undoes_on_the_recorded_host(sshd, marker_plugin, tmp_path, journal_dir):
    """A process killed mid-block over ssh leaves a journal; replaying it rebuilds the ssh runner for h3 and undoes."""
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    script = CRASHING_CHILD.format(tests=os.path.dirname(__file__), cfg=str(sshd.ssh_config), a=a, b=b)
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stderr
    jid = child.stdout.strip()
    assert os.path.exists(a) and os.path.exists(b)
    time.sleep(0.1)
    state = Journal(journal_dir).load(jid)
    assert state.status == "interrupted" and {s.runner["host"] for s in state.steps} == {"h3"}

    def runner_for(desc):  # exactly what `bofh journal rollback` does with a recorded runner description
        options = {k: v for k, v in desc.items() if k != "runner" and v is not None}
        return make_runner(desc.get("runner") or "local", **options)

    report = Journal(journal_dir).rollback(jid, get_plugins().operations.get, runner_for)
    assert report.undone == ["sshtest.create_marker", "sshtest.create_marker"] and report.failed == []
    assert not os.path.exists(a) and not os.path.exists(b)
    assert open(a + ".removed-by").read().split() == [str(sshd.ports["h3"])]
    assert Journal(journal_dir).load(jid).status == "rolled-back"


def test_unreachable_cause_survives_a_failed_rollback(sshd, ssh_opts, marker_plugin, tmp_path):
    """The host goes away mid-block (stand-in: the runner is pointed at ``dead``): undo fails, status is unreachable."""

    def job(host: str) -> None:
        runner = get_runner()
        assert isinstance(runner, SshRunner)
        with Atomic(label="vanish") as atomic:
            atomic.sshtest.create_marker(str(tmp_path / "m"))
            runner.close()
            runner.host = "dead"  # every later command (and the undo) now fails to connect
            atomic.sshtest.create_marker(str(tmp_path / "m2"))

    (result,) = fan_out(["h1"], job, runner_options=ssh_opts)
    assert result.status is HostStatus.UNREACHABLE
    assert result.undo_failures == 1 and not result.rolled_back
    assert "rollback incomplete" in (result.error or "")
    assert (tmp_path / "m").exists()  # could not be undone: the host was gone
