"""``bofh --host H ssh ping`` through the real CLI, and the proposed multi-host fan-out ``run_on_hosts``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from pybofh_ssh.cli_fanout import child_argv, run_on_hosts


def _bofh(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-c", "from pybofh_core.cli import main; main()", *args]
    return subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **env}, timeout=120)


@pytest.fixture
def ssh_env(sshd, monkeypatch) -> dict[str, str]:
    """Point the ``[ssh]`` settings at the test fleet's client config (for this process and child bofh processes)."""
    env = {"PYBOFH_SSH__SSH_CONFIG": str(sshd.ssh_config)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def test_single_host_cli_runs_over_ssh(sshd, ssh_env):
    proc = _bofh("--host", "h2", "--json", "ssh", "ping", env=ssh_env)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["host"] == "h2" and out["hostname"] == os.uname().nodename
    assert out["kernel"] == f"{os.uname().sysname} {os.uname().release} {os.uname().machine}"


def test_single_unreachable_host_is_one_error_line_and_exit_1(sshd, ssh_env):
    proc = _bofh("--host", "dead", "ssh", "ping", env=ssh_env)
    assert proc.returncode == 1
    assert proc.stderr.startswith("bofh: error: command 'uname -n -s -r -m' on dead host unreachable over ssh")


def test_ping_without_a_host_is_bad_input(ssh_env):
    proc = _bofh("ssh", "ping", env=ssh_env)
    assert proc.returncode == 2 and "needs a remote host" in proc.stderr


def test_child_argv_drops_only_root_host_options():
    argv = ["--json", "--host", "a", "--hosts-file=f", "--config", "c.toml", "--host=b", "lvm", "lv-list"]
    argv += ["--host", "x"]
    assert child_argv(argv) == ["--json", "--config", "c.toml", "lvm", "lv-list", "--host", "x"]


def _accepted(sshd) -> int:
    return sshd.log.read_text(errors="replace").count("Accepted publickey for root")


def test_fan_out_cli_json_one_handshake_per_host(sshd, ssh_env, capsys):
    before = _accepted(sshd)
    rc = run_on_hosts(["--host", "h1", "--host", "h3", "--host", "dead", "ssh", "ping"], ["h1", "h3", "dead"],
                      json_out=True, progress=False)
    rows = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert [(r["host"], r["status"]) for r in rows] == [("h1", "ok"), ("h3", "ok"), ("dead", "unreachable")]
    assert rows[0]["result"]["host"] == "h1" and rows[1]["result"]["host"] == "h3"
    assert "Connection refused" in rows[2]["error"]
    # the child bofh reused the master the parent opened: two reachable hosts, two authentications
    assert _accepted(sshd) - before == 2
    assert not [d for d in os.listdir("/tmp") if d.startswith("bofh-fan-")]


def test_fan_out_cli_table_and_failed_child(sshd, ssh_env, capsys):
    rc = run_on_hosts(["--host", "h1", "--host", "h2", "ssh", "ping"], ["h1", "h2"], progress=True)
    out, err = capsys.readouterr()
    assert rc == 0
    assert "== h1 ==" in out and "== h2 ==" in out
    table = out.splitlines()[-3:]
    assert table[0].split() == ["HOST", "STATUS", "SECONDS", "ERROR"]
    assert table[1].split()[:2] == ["h1", "ok"] and table[2].split()[:2] == ["h2", "ok"]
    assert "hosts" in err  # the progress bar's label
    rc = run_on_hosts(["--host", "h1", "ssh", "no-such-command"], ["h1"], json_out=True, progress=False)
    rows = json.loads(capsys.readouterr().out)
    assert rc == 2 and rows[0]["status"] == "failed" and rows[0]["exit_code"] == 2


def test_bofh_with_several_hosts_fans_out_through_the_core(sshd, ssh_env, tmp_path):
    """``bofh --host A --hosts-file F ssh ping --json`` runs once per host and reports a per-host result."""
    hosts = tmp_path / "hosts"
    hosts.write_text("# fleet\nh3\ndead\n")
    proc = _bofh("--host", "h1", "--hosts-file", str(hosts), "ssh", "ping", "--json", env=ssh_env)
    assert proc.returncode == 1, proc.stderr  # one host unreachable
    rows = json.loads(proc.stdout)
    by_host = {r["host"]: r for r in (rows if isinstance(rows, list) else rows["hosts"])}
    assert by_host["h1"]["status"] == "ok" and by_host["h3"]["status"] == "ok"
    assert by_host["dead"]["status"] == "unreachable"


def test_fan_out_text_renders_each_hosts_objects_as_one_host_would(sshd, ssh_env, capsys):
    """``bofh --host h1 --host h2 status`` shows each host's status as ``bofh status`` does on one host (its own
    sections and tables), not the JSON rows of the objects; ``--json`` still gives the rows."""
    rc = run_on_hosts(["--host", "h1", "--host", "h2", "status"], ["h1", "h2"], progress=False)
    out, _ = capsys.readouterr()
    assert rc == 0
    for host in ("h1", "h2"):
        assert f"== {host} ==" in out
    assert out.count("Block devices:") == 2 and out.count("Filesystems:") == 2
    assert "'sections'" not in out and '"sections"' not in out and "{'" not in out
    rc = run_on_hosts(["--host", "h1", "status"], ["h1"], json_out=True, progress=False)
    rows = json.loads(capsys.readouterr().out)
    assert rc == 0 and rows[0]["host"] == "h1" and isinstance(rows[0]["result"], dict)


def test_fan_out_cli_reports_a_rolled_back_host_from_its_blocks_events(sshd, ssh_env, marker_plugin, tmp_path,
                                                                         capsys):
    """``bofh --host h1 --host h2 --json run JOB``: h2's job fails after a step, which is undone; its row says
    ``rolled_back`` (counted from the block's undo events, not guessed from the error text), h1's does not."""
    job = tmp_path / "job.py"
    job.write_text(textwrap.dedent('''
        from pathlib import Path
        from pybofh import Atomic

        base, host = args

        def job():
            with Atomic() as atomic:
                atomic.sshtest.create_marker(f"{base}/{host}-a")
                if host == "h2":
                    atomic.sshtest.create_marker(f"{base}/no-such-dir/{host}-b")
    '''))
    rows = {}
    for host in ("h1", "h2"):
        rc = run_on_hosts(["--host", host, "run", str(job), str(tmp_path), host], [host], json_out=True,
                          progress=False)
        rows[host] = json.loads(capsys.readouterr().out)[0]
        assert rc == (0 if host == "h1" else 1)
    assert rows["h1"]["status"] == "ok" and rows["h1"]["rolled_back"] is False
    assert rows["h2"]["status"] == "failed" and rows["h2"]["exit_code"] == 1 and rows["h2"]["rolled_back"] is True
    assert (tmp_path / "h1-a").exists() and not (tmp_path / "h2-a").exists()
