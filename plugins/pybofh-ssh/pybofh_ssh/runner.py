"""The ``ssh`` runner transport: the same argv, run on a remote host through the system's OpenSSH client.

One ssh connection per host is opened (``ControlMaster=auto`` with a socket in a private 0700 directory and
``ControlPersist``) and every later command rides on it, so N commands cost one handshake. ``BatchMode=yes`` (never
a prompt), the user's ``~/.ssh/config`` is honoured unless ``ssh_config`` names another file. ssh hands the remote
side a *string* for its login shell, so every argv element is quoted with ``shlex.quote()``; the remote command is
``env -- [ENV…] LC_ALL=C LANG=C PATH=…:sbin ARGV…`` behind a start marker on stderr, which tells ssh's own failures
(exit 255 before the command started → ``HostUnreachableError``) from the remote command's exit status.
Secrets travel on ssh's stdin only, never on either command line.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import shlex
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from pybofh_core.errors import CommandError, CommandTimeoutError, NotFoundError, ValidationError
from pybofh_core.runner import LocalRunner, Result, Runner, use_runner

from .errors import HostUnreachableError
from .resident import LOOP, ResidentShell, SessionLost, SessionTimeout, SessionUnavailable

log = logging.getLogger("pybofh.ssh")

#: Printed to stderr by the remote shell right before it execs the command: everything before it on stderr is
#: ssh's (or the login shell's) own chatter, everything after it belongs to the command.
MARKER = b"pybofh-ssh:exec\n"
#: Directories appended to the remote PATH, as the local runner does (tools like lvs live in /sbin).
SBIN = "/usr/local/sbin:/usr/sbin:/sbin"
#: A unix socket path is limited to 108 bytes; ssh appends ".XXXXXXXXXXXXXXXX" while it creates the socket.
_SOCKET_MAX = 107 - 17
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_OPTION = re.compile(r"^[A-Za-z][A-Za-z0-9]*=[^\s\x00-\x1f\x7f]*$")
_TOOL = re.compile(r"^(?:/[^\s\x00-\x1f\x7f]*|[A-Za-z0-9_+.][A-Za-z0-9_+.-]*)$")
_CONTROL_CHARS = re.compile(r"[\s\x00-\x1f\x7f]")


def validate_host(host: Any) -> str:
    """Return ``host`` if it is a usable ssh destination (``db1``, ``root@db1``, ``ssh://root@db1:2222``).

    Refused: empty, whitespace or control characters, and a leading ``-`` (ssh would read it as an option).
    """
    if not isinstance(host, str) or not host:
        raise ValidationError(f"ssh host: expected a non-empty string like 'root@db1', got {host!r}")
    if _CONTROL_CHARS.search(host):
        raise ValidationError(f"ssh host {host!r} contains whitespace or control characters")
    if host.startswith("-"):
        raise ValidationError(f"ssh host {host!r} starts with '-' and would be read as an ssh option")
    if len(host) > 1024:
        raise ValidationError(f"ssh host {host[:40]!r}… is too long")
    return host


def remote_command(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """The command string the remote login shell runs for ``argv``: marker, locale, sbin PATH, then exec of argv.

    Pure. Every argv element and environment value is shell-quoted, so it arrives verbatim (spaces, quotes, ``;``,
    ``$(…)``, newlines). ``argv[0]`` may not contain ``=``: ``env`` would take it for a variable assignment.
    """
    if not argv:
        raise ValidationError("a command must be a non-empty argv list")
    if "=" in argv[0]:
        raise ValidationError(f"command name {argv[0]!r} contains '=', which env(1) would read as an assignment")
    for key, value in (env or {}).items():
        if not _ENV_NAME.match(key):
            raise ValidationError(f"environment variable name {key!r} is not a valid name")
        if "\x00" in value:
            raise ValidationError(f"environment variable {key} contains a NUL byte")
    head = f"printf '%s\\n' {MARKER.decode().strip()} >&2 && "
    return head + exec_line(argv, env)


def exec_line(argv: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """``exec env -- [ENV…] LC_ALL=C LANG=C PATH="$PATH:sbin" ARGV…`` with every word shell-quoted (pure; checked
    by ``remote_command()``, which every caller goes through first or instead)."""
    assigns = [shlex.quote(f"{k}={v}") for k, v in (env or {}).items() if k not in ("LC_ALL", "LANG", "PATH")]
    fixed = f'LC_ALL=C LANG=C PATH="$PATH:{SBIN}"'
    return " ".join(["exec env --", *assigns, fixed, *(shlex.quote(a) for a in argv)])


def split_stderr(stderr: bytes) -> tuple[bytes, bytes, bool]:
    """Split ssh's stderr at the start marker: (ssh and login-shell chatter, the command's stderr, marker seen)."""
    head, sep, tail = stderr.partition(MARKER)
    if not sep:
        return stderr, b"", False
    return head, tail, True


def _settings_defaults() -> Any:
    """The ``[ssh]`` settings if the ssh plugin is registered, else the built-in defaults."""
    from .settings import SshSettings

    try:
        from pybofh_core.session import get_settings

        return get_settings().ssh
    except AttributeError:
        return SshSettings()


def _short_tempdir() -> str:
    """A private 0700 directory for master sockets, in TMPDIR if its path leaves room for a socket name."""
    base = tempfile.gettempdir()
    if len(base) > 40:
        base = "/tmp"
    return tempfile.mkdtemp(prefix="bofh-ssh-", dir=base)


def _close_master(local: Runner, exit_argv: list[str], socket: str, remove_dir: str | None) -> None:
    """Ask the master behind ``socket`` to exit and remove the private dir (a finalizer: never raises)."""
    try:
        if os.path.exists(socket):
            local.run(exit_argv, check=False, timeout=10, readonly=True)
    except Exception as exc:  # noqa: BLE001 - at interpreter exit anything can fail; a master then expires alone
        log.debug("closing ssh master %s failed: %s", socket, exc)
    if remove_dir:
        shutil.rmtree(remove_dir, ignore_errors=True)


class SshRunner(Runner):
    """Run commands on ``host`` through OpenSSH, multiplexed over one connection; see the module docstring.

    :param host: destination as ssh takes it (``db1`` from ``~/.ssh/config``, ``root@db1``, ``ssh://root@db1:2222``).
    :param port: ``-p PORT`` (None = from the ssh config).
    :param ssh_config: file for ``-F`` (None = the user's and system's ssh config).
    :param identity: private key for ``-i``.
    :param connect_timeout: seconds for ``-o ConnectTimeout``.
    :param control_persist: seconds an idle master stays up; 0 = no multiplexing options (the ssh config decides).
    :param control_dir: a 0700 directory of master sockets shared with other processes (their masters are left to
        expire); None = a private temp dir whose master is closed by ``close()`` or at process exit.
    :param options: extra ``Key=Value`` ssh options.
    :param ssh: the ssh client binary.
    :param resident_shell: run commands through one resident remote shell per runner (``pybofh_ssh.resident``:
        one round trip per command, the login shell's rc files read once); False = one ssh session per command.
    Unset options come from the ``[ssh]`` settings.
    """

    name = "ssh"

    def __init__(
        self,
        host: str | None = None,
        *,
        port: int | None = None,
        ssh_config: str | os.PathLike[str] | None = None,
        identity: str | os.PathLike[str] | None = None,
        connect_timeout: float | None = None,
        control_persist: int | None = None,
        control_dir: str | os.PathLike[str] | None = None,
        options: Sequence[str] | None = None,
        ssh: str = "ssh",
        resident_shell: bool | None = None,
        **unknown: Any,
    ) -> None:
        if unknown:
            log.debug("ssh runner: ignoring unknown options %s", sorted(unknown))
        defaults = _settings_defaults()
        self.host = validate_host(host)
        if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
            raise ValidationError(f"ssh port {port!r} is not a port number (1-65535)")
        self.port = port
        self.ssh_config = self._existing(ssh_config if ssh_config is not None else defaults.ssh_config, "ssh config")
        self.identity = self._existing(identity if identity is not None else defaults.identity, "ssh identity")
        timeout = defaults.connect_timeout if connect_timeout is None else connect_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValidationError(f"ssh connect_timeout {timeout!r} must be a positive number of seconds")
        self.connect_timeout = float(timeout)
        persist = defaults.control_persist if control_persist is None else control_persist
        if isinstance(persist, bool) or not isinstance(persist, int) or persist < 0:
            raise ValidationError(f"ssh control_persist {persist!r} must be a whole number of seconds >= 0")
        self.control_persist = persist
        shared = control_dir if control_dir is not None else defaults.control_dir
        self.shared_control_dir = self._control_dir(shared) if shared is not None else None
        opts = list(defaults.options if options is None else options)
        for opt in opts:
            if not isinstance(opt, str) or not _OPTION.match(opt):
                raise ValidationError(f"ssh option {opt!r} must look like Key=Value without spaces")
        self.options = opts
        if not isinstance(ssh, str) or not _TOOL.match(ssh):
            raise ValidationError(f"ssh client {ssh!r} is not a program name or absolute path")
        self.ssh = ssh
        self._local = LocalRunner()
        self._lock = threading.Lock()
        self._private_dir: str | None = None
        self._finalizer: weakref.finalize | None = None
        self._which: dict[str, str | None] = {}
        resident = defaults.resident_shell if resident_shell is None else resident_shell
        if not isinstance(resident, bool):
            raise ValidationError(f"ssh resident_shell {resident!r} must be true or false")
        self.resident_shell = resident
        self._session: ResidentShell | None = None
        self._session_lock = threading.Lock()
        self._resident_failed = False

    # --- options ----------------------------------------------------------------------------------------------
    @staticmethod
    def _existing(path: str | os.PathLike[str] | None, what: str) -> Path | None:
        if path is None:
            return None
        p = Path(os.path.expanduser(os.fspath(path)))
        if _CONTROL_CHARS.search(str(p)):
            raise ValidationError(f"{what} path {str(p)!r} contains whitespace or control characters")
        if not p.is_file():
            raise NotFoundError(f"{what} {p} does not exist")
        return p

    @staticmethod
    def _control_dir(path: str | os.PathLike[str]) -> Path:
        p = Path(os.path.expanduser(os.fspath(path)))
        if _CONTROL_CHARS.search(str(p)) or "%" in str(p):
            raise ValidationError(f"ssh control_dir {str(p)!r} must not contain whitespace, control characters or '%'")
        if len(str(p)) + 2 > _SOCKET_MAX:
            raise ValidationError(f"ssh control_dir {p} is too long for a unix socket path (max {_SOCKET_MAX - 2})")
        if not p.is_dir():
            raise NotFoundError(f"ssh control_dir {p} does not exist")
        st = p.stat()
        if st.st_uid != os.geteuid() or st.st_mode & 0o077:
            raise ValidationError(f"ssh control_dir {p} must be owned by this user with mode 0700")
        return p

    @property
    def multiplexed(self) -> bool:
        """Whether commands share one master connection (``control_persist`` > 0)."""
        return self.control_persist > 0

    @property
    def control_path(self) -> str | None:
        """The master socket path (the private dir is created on first use); None without multiplexing."""
        if not self.multiplexed:
            return None
        if self.shared_control_dir is not None:
            # one socket per destination in a shared dir: ssh's %C hashes local host, host, port and user
            return f"{self.shared_control_dir}/%C"
        with self._lock:
            if self._private_dir is None or not os.path.isdir(self._private_dir):
                self._private_dir = _short_tempdir()
                socket = f"{self._private_dir}/m"
                self._finalizer = weakref.finalize(
                    self, _close_master, self._local,
                    [*self._base_argv(socket), "-O", "exit", "--", self.host or ""], socket, self._private_dir,
                )
            return f"{self._private_dir}/m"

    def _base_argv(self, control_path: str | None) -> list[str]:
        argv = [self.ssh]
        if self.ssh_config is not None:
            argv += ["-F", str(self.ssh_config)]
        argv += ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={math.ceil(self.connect_timeout)}",
                 "-o", "LogLevel=ERROR"]
        if control_path is not None:
            argv += ["-o", "ControlMaster=auto", "-o", f"ControlPath={control_path}",
                     "-o", f"ControlPersist={self.control_persist}"]
        if self.identity is not None:
            argv += ["-i", str(self.identity)]
        if self.port is not None:
            argv += ["-p", str(self.port)]
        for opt in self.options:
            argv += ["-o", opt]
        return argv

    def ssh_argv(self, remote: str) -> list[str]:
        """The local ssh argv that runs the remote command string ``remote`` (no pty, host after ``--``)."""
        return [*self._base_argv(self.control_path), "-T", "--", self.host or "", remote]

    # --- the Runner contract ------------------------------------------------------------------------------------
    def _execute(
        self,
        argv: tuple[str, ...],
        data: bytes | None,
        timeout: float | None,
        *,
        readonly: bool,
        env: Mapping[str, str] | None,
    ) -> Result:
        remote = remote_command(argv, env)  # validates argv and env for both paths
        if self.resident_shell and self._session_lock.acquire(blocking=False):  # busy (another thread): one-shot
            try:
                res = self._execute_resident(argv, data, timeout, env)
            finally:
                self._session_lock.release()
            if res is not None:
                return res
        ssh_argv = self.ssh_argv(remote)
        try:
            res = self._local.run(ssh_argv, input=data, check=False, timeout=timeout, readonly=readonly)
        except CommandTimeoutError as exc:
            _, err, _ = split_stderr(exc.stderr if isinstance(exc.stderr, bytes) else exc.stderr.encode())
            raise CommandTimeoutError(
                argv, None, exc.stdout, err, host=self.host,
                reason=f"{exc.reason} (ssh was killed; the remote command may still be running)",
            ) from None
        except CommandError as exc:
            raise CommandError(argv, None, host=self.host, reason=f"cannot run the ssh client: {exc.reason}") from None
        chatter, err, started = split_stderr(res.stderr)
        if chatter.strip():
            log.debug("ssh %s said: %s", self.host, chatter.decode("utf-8", "replace").strip())
        if not started:
            if res.returncode == 255:
                raise HostUnreachableError(argv, None, b"", chatter, host=self.host, reason="host unreachable over ssh")
            return Result(argv, res.returncode, res.stdout, chatter)
        if res.returncode == 255 and self.multiplexed and not self.master_alive():
            raise HostUnreachableError(
                argv, None, res.stdout, err, host=self.host, reason="ssh connection lost while the command ran"
            )
        return Result(argv, res.returncode, res.stdout, err)

    def _execute_resident(
        self, argv: tuple[str, ...], data: bytes | None, timeout: float | None, env: Mapping[str, str] | None
    ) -> Result | None:
        """Run ``argv`` through this runner's resident shell (started on first use); None when the host cannot run
        one (the caller then uses one ssh per command)."""
        session = self._session
        if session is not None and not session.alive:
            session.close()
            session = self._session = None
        if session is None:
            if self._resident_failed:
                return None
            # over the multiplexing master (opened by it): one-shot commands of this runner (run while the session is
            # busy in another thread) and other processes reuse the same connection
            session = ResidentShell(self.ssh_argv(f"exec sh -c {shlex.quote(LOOP)}"))
            try:
                session.start(self.connect_timeout + 30)
            except SessionUnavailable as exc:
                if exc.returncode == 255:
                    raise HostUnreachableError(argv, None, b"", exc.chatter, host=self.host,
                                               reason="host unreachable over ssh") from None
                log.debug("ssh %s: no resident shell (%s); one ssh per command", self.host, exc)
                self._resident_failed = True
                return None
            self._session = session
        try:
            rc, out, err = session.run(exec_line(argv, env), data, timeout)
        except SessionTimeout:
            self._session = None
            raise CommandTimeoutError(argv, None, b"", b"", host=self.host,
                                      reason=f"timed out after {timeout:g}s (the ssh session was ended; the remote "
                                      "command may still be running)") from None
        except SessionLost as exc:
            self._session = None
            raise HostUnreachableError(argv, None, b"", exc.chatter, host=self.host,
                                       reason=f"ssh connection lost while the command ran ({exc})") from None
        return Result(argv, rc, out, err)

    def which(self, tool: str) -> str | None:
        """The remote path of ``tool`` (``command -v`` with the sbin PATH), None if absent; cached per runner."""
        if not isinstance(tool, str) or not _TOOL.match(tool):
            raise ValidationError(f"tool name {tool!r} is not a program name or absolute path")
        if tool not in self._which:
            res = self.run(["sh", "-c", 'command -v "$1"', "sh", tool], check=False, readonly=True)
            path = res.text.strip()
            self._which[tool] = path if res.returncode == 0 and path.startswith("/") else None
        return self._which[tool]

    def describe(self) -> dict[str, Any]:
        """Options from which ``make_runner("ssh", **options)`` rebuilds this runner (journal rollback)."""
        return {
            "runner": self.name,
            "host": self.host,
            "port": self.port,
            "ssh_config": str(self.ssh_config) if self.ssh_config else None,
            "identity": str(self.identity) if self.identity else None,
            "connect_timeout": self.connect_timeout,
            "control_persist": self.control_persist,
            "control_dir": str(self.shared_control_dir) if self.shared_control_dir else None,
            "options": list(self.options) or None,
            "resident_shell": self.resident_shell,
        }

    # --- connection management ----------------------------------------------------------------------------------
    def master_alive(self) -> bool:
        """Whether a multiplexing master for this host is up (``ssh -O check``)."""
        path = self.control_path
        if path is None:
            return False
        res = self._local.run([*self._base_argv(path), "-O", "check", "--", self.host or ""], check=False,
                              timeout=self.connect_timeout + 5, readonly=True)
        return res.returncode == 0

    def ping(self) -> None:
        """Run ``true`` on the host: opens the master connection; raises HostUnreachableError when it cannot."""
        self.run(["true"], readonly=True, timeout=self.connect_timeout + 30)

    def stop_master(self) -> None:
        """Ask the master connection of this host to exit, also one in a shared ``control_dir``; no-op if none."""
        if self.shared_control_dir is None:
            self.close()
            return
        path = self.control_path
        if path is not None:
            self._local.run([*self._base_argv(path), "-O", "exit", "--", self.host or ""], check=False, timeout=10,
                            readonly=True)

    def close(self) -> None:
        """Close this runner's resident shell and own master connection, and remove its socket dir (both reopen on
        the next command)."""
        session, self._session = self._session, None
        if session is not None:
            session.close()
        with self._lock:
            finalizer, self._finalizer, self._private_dir = self._finalizer, None, None
        if finalizer is not None:
            finalizer()

    def __enter__(self) -> SshRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SshRunner(host={self.host!r})"


@contextlib.contextmanager
def on_host(host: str, **options: Any) -> Iterator[SshRunner]:
    """Run every pybofh command inside the block on ``host``: ``with on_host("root@db1"): lvm.list_lvs()``.

    ``options`` are ``SshRunner``'s. The master connection is closed when the block ends.
    """
    runner = SshRunner(host, **options)
    try:
        with use_runner(runner):
            yield runner
    finally:
        runner.close()
