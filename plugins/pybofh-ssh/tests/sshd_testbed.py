"""A throwaway OpenSSH server on loopback standing in for a fleet: one sshd, one listening port per "host".

Used by the tests and by ``bench_ssh.py``. Everything lives in a private temp dir (host key, user key,
authorized_keys, sshd_config, client ssh_config with one ``Host hN`` alias per port, known_hosts, logs); ``stop()``
kills sshd and every session process it forked, then removes the dir. Needs root (Debian's sshd requires its
privilege-separation dir ``/run/sshd``, which is created if missing, as the ssh service would) and openssh-server.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SSHD = "/usr/sbin/sshd"
MAX_LISTEN = 16


def unavailable() -> str | None:
    """Why a test sshd cannot run here, or None."""
    if not os.path.exists(SSHD):
        return "openssh-server is not installed (apt-get install -y openssh-server)"
    if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "openssh-client is not installed"
    if os.geteuid() != 0:
        return "the test sshd logs in as root and needs /run/sshd: run as root"
    return None


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports that were free on 127.0.0.1 a moment ago."""
    socks, ports = [], []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def _children(pid: int) -> list[int]:
    """All descendants of ``pid`` (via /proc/*/stat), deepest last."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    out, todo = [], [pid]
    while todo:
        cur = todo.pop()
        kids = [p for p, pp in parents.items() if pp == cur]
        out += kids
        todo += kids
    return out


class SshdTestbed:
    """Start with :meth:`start`, always :meth:`stop` (also on failure). ``hosts`` are ssh_config aliases."""

    def __init__(self, n_hosts: int = 3, *, log_level: str = "DEBUG3") -> None:
        self.n_hosts = n_hosts
        self.log_level = log_level
        self.dir = Path(tempfile.mkdtemp(prefix="bofh-sshd-", dir="/tmp"))
        self.procs: list[subprocess.Popen[bytes]] = []
        self.ports: dict[str, int] = {}
        self.hosts: list[str] = []
        self.dead_host = "dead"
        self.dead_port = 0

    @property
    def ssh_config(self) -> Path:
        """The client config with ``Host hN`` aliases, the throwaway identity and a private known_hosts."""
        return self.dir / "ssh_config"

    @property
    def identity(self) -> Path:
        """The throwaway private key authorized for root on the test sshd."""
        return self.dir / "userkey"

    @property
    def log(self) -> Path:
        """The sshds' log (LogLevel DEBUG3 by default: connections, authentications, sessions and channel traffic)."""
        return self.dir / "sshd.log"

    def options(self) -> dict[str, object]:
        """SshRunner options that reach the fleet."""
        return {"ssh_config": str(self.ssh_config)}

    def start(self) -> SshdTestbed:
        """Make keys and configs, start sshd listening on one port per host, wait until every port accepts.

        On failure everything started is stopped again before the error propagates.
        """
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        for key in ("hostkey", "userkey"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"bofh-test-{key}",
                            "-f", str(self.dir / key)], check=True, capture_output=True)
        shutil.copy(self.dir / "userkey.pub", self.dir / "authorized_keys")
        ports = free_ports(self.n_hosts + 1)
        self.dead_port = ports.pop()  # nobody listens there: an unreachable host
        self.hosts = [f"h{i + 1}" for i in range(self.n_hosts)]
        self.ports = dict(zip(self.hosts, ports, strict=True))
        aliases = "".join(
            f"Host {h}\n  HostName 127.0.0.1\n  Port {p}\n  User root\n" for h, p in self.ports.items()
        ) + f"Host {self.dead_host}\n  HostName 127.0.0.1\n  Port {self.dead_port}\n  User root\n"
        self.ssh_config.write_text(
            aliases + f"Host *\n  IdentityFile {self.identity}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {self.dir}/known_hosts\n  GlobalKnownHostsFile /dev/null\n"
            "  StrictHostKeyChecking accept-new\n"
        )
        # one sshd listens on at most 16 sockets (MAX_LISTEN_SOCKS): start one per 16 "hosts"
        for n, first in enumerate(range(0, len(ports), MAX_LISTEN)):
            self._start_one(n, ports[first:first + MAX_LISTEN])
        deadline = time.monotonic() + 15
        pending = set(ports)
        while pending and time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"test sshd exited with {proc.returncode}: {self.log.read_text()[-2000:]}")
            for port in list(pending):
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        pending.discard(port)
            time.sleep(0.02)
        if pending:
            raise RuntimeError(f"test sshd did not listen on {sorted(pending)} within 15s")

    def _start_one(self, n: int, ports: list[int]) -> None:
        listen = "".join(f"ListenAddress 127.0.0.1:{p}\n" for p in ports)
        config = self.dir / f"sshd_config.{n}"
        config.write_text(
            f"{listen}HostKey {self.dir}/hostkey\nAuthorizedKeysFile {self.dir}/authorized_keys\n"
            f"PidFile {self.dir}/sshd.{n}.pid\nStrictModes no\nUsePAM no\nPermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
            "X11Forwarding no\nPrintMotd no\nPrintLastLog no\nUseDNS no\nAcceptEnv LANG LC_* SHLVL\n"
            f"MaxStartups 200:30:400\nMaxSessions 200\nLogLevel {self.log_level}\n"
        )
        with self.log.open("ab") as log:  # -e: sshd and every session child it forks log to this stderr
            self.procs.append(subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
            ))

    def session_pids(self) -> list[int]:
        """Processes the sshds forked for connections (and the commands they run)."""
        return [pid for proc in self.procs if proc.poll() is None for pid in _children(proc.pid)]

    def stop(self) -> None:
        """Kill every sshd and every process they forked, then remove the temp dir; never raises."""
        try:
            kids = self.session_pids()
            for proc in self.procs:
                if proc.poll() is None:
                    proc.terminate()
            for proc in self.procs:
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            for pid in reversed(kids):
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
