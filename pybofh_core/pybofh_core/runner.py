"""The one way pybofh runs external commands: argv lists, no shell, ``LC_ALL=C``, typed errors, redacted secrets.

Every plugin calls ``run()`` (or ``get_runner().run``); which transport executes it (local, dry-run recorder,
fake replay for tests, ssh…) is chosen by the runner active in the current context (``use_runner()``).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import posixpath
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from . import signals
from .errors import (
    CommandError,
    CommandTimeoutError,
    NotFoundError,
    ParseError,
    PluginError,
    ToolUnavailableError,
    ValidationError,
    redact,
)
from .model import BLOCK, DIR, GONE, PlanModel
from .secret import Secret, SecretFile, known_secrets

log = logging.getLogger("pybofh.runner")

RUNNER_GROUP = "pybofh.runners"
DEFAULT_TIMEOUT = 600.0
MAX_READ_BYTES = 1024 * 1024
"""What ``Runner.read_file()`` reads at most by default (it is for small files: configs, not images)."""
_SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")

Input = "bytes | str | Secret | None"


@dataclass(frozen=True, slots=True)
class Result:
    """What a finished command gave back: argv, exit code, raw stdout/stderr bytes."""

    argv: tuple[str, ...]
    returncode: int
    stdout: bytes = b""
    stderr: bytes = b""

    @property
    def text(self) -> str:
        """Stdout decoded as UTF-8; undecodable bytes become U+FFFD (parsers needing bytes use ``stdout``)."""
        return self.stdout.decode("utf-8", "replace")

    @property
    def err(self) -> str:
        """Stderr decoded as UTF-8 with replacement."""
        return self.stderr.decode("utf-8", "replace")


SECRET_FILE_SHOWN = "<secret file>"  # noqa: S105 - a placeholder, not a secret
"""How a ``SecretFile`` argument appears in logs, plans and errors."""


@dataclass(frozen=True, slots=True)
class PathInfo:
    """What a path is where commands run: its kind (``block``, ``dir``, ``file``, ``other``), device and inode."""

    kind: str
    dev: int = 0
    ino: int = 0


def check_argv(argv: Sequence[Any]) -> tuple[str, ...]:
    """Validate an argv list: non-empty strings (or paths) without NUL bytes, and never a Secret.

    A ``SecretFile`` is shown as ``<secret file>``; ``Runner.run()`` hands its content
    to the command as a file that exists only for that command.
    """
    if isinstance(argv, (str, bytes)) or not argv:
        raise ValidationError("a command must be a non-empty argv list, not a string")
    out = []
    for arg in argv:
        if isinstance(arg, SecretFile):
            out.append(SECRET_FILE_SHOWN)
            continue
        if isinstance(arg, Secret):
            raise ValidationError("a secret must travel on stdin or in a key file, never in argv")
        if isinstance(arg, os.PathLike):
            arg = os.fspath(arg)
        if not isinstance(arg, str):
            raise ValidationError(f"argv element {arg!r} is not a string")
        if "\x00" in arg:
            raise ValidationError(f"argv element {arg!r} contains a NUL byte")
        out.append(arg)
    return tuple(out)


def _input_bytes(data: Any) -> tuple[bytes | None, list[str]]:
    """Turn stdin data into bytes and list the secret values it carries (for redaction)."""
    if data is None:
        return None, []
    if isinstance(data, Secret):
        return data.encode(), [data.reveal()]
    if isinstance(data, str):
        return data.encode("utf-8", "surrogateescape"), []
    if isinstance(data, (bytes, bytearray)):
        return bytes(data), []
    raise ValidationError(f"unsupported stdin data type {type(data).__name__}")


#: where :func:`record_commands` collects the mutating commands run in its scope (None: not recording)
_command_log: contextvars.ContextVar[list[PlannedCommand] | None] = contextvars.ContextVar(
    "pybofh_command_log", default=None
)


@contextlib.contextmanager
def record_commands() -> Iterator[list[PlannedCommand]]:
    """Collect every mutating command run (or, in a dry run, planned) in this scope, in order, for the journal.

    Read-only commands are left out: a plan and a run are compared on what changes the system.
    """
    log_: list[PlannedCommand] = []
    token = _command_log.set(log_)
    try:
        yield log_
    finally:
        _command_log.reset(token)


class Runner:
    """Base of all transports. Subclasses implement ``_execute()``; ``run()`` adds checks, logs and errors."""

    name: ClassVar[str] = "abstract"
    host: str | None = None
    #: True for transports that record mutating commands instead of running them.
    dry_run: ClassVar[bool] = False
    #: the planning model of a dry run (``pybofh_core.model``); None where commands really run
    model: PlanModel | None = None
    #: True for transports that can hand a command a secret as a file that exists only for it (``/dev/fd/N``).
    secret_files: ClassVar[bool] = False
    #: True for transports that can give a command one of this process's open file descriptors as its stdout.
    stdout_fds: ClassVar[bool] = False
    _boot_id: str | None = None

    def run(
        self,
        argv: Sequence[Any],
        *,
        input: Any = None,  # noqa: A002 - mirrors subprocess
        check: bool = True,
        ok_codes: Sequence[int] = (0,),
        timeout: float | None = None,
        readonly: bool = False,
        env: Mapping[str, str] | None = None,
        secrets: Sequence[str | Secret] = (),
        stdout: int | None = None,
    ) -> Result:
        """Run ``argv`` and return its ``Result``; raise ``CommandError`` on an exit code not in ``ok_codes``.

        ``readonly=True`` marks a command that only reads state (a dry run still executes it); any other command
        runs with SIGINT/SIGTERM/SIGHUP deferred until it ends, so a signal never cuts a tool off mid-write.
        ``timeout`` (seconds) kills the command when it runs longer; by default a read-only command is killed after
        the ``core.command_timeout`` setting and a mutating one only after ``core.mutating_command_timeout`` (None by
        default: never), with a heartbeat logged while it runs.
        ``secrets`` lists extra values to redact from logs and errors (stdin secrets are redacted anyway).
        A ``SecretFile`` in ``argv`` reaches the command as ``/dev/fd/N`` (a memfd),
        never as a file on disk; transports that cannot do that refuse it.
        ``stdout`` (an open file descriptor of this process, for output too big to hold: a ``btrfs send`` stream)
        becomes the command's standard output, and the ``Result`` has none; transports that cannot refuse it.
        """
        args = check_argv(argv)
        if stdout is not None:
            _check_stdout_fd(stdout)
            if not self.accepts_stdout_fd():
                raise ValidationError(f"the {self.name} transport cannot write a command's output to a file "
                                      "descriptor of this process")
        files = tuple((i, a.secret.encode()) for i, a in enumerate(argv) if isinstance(a, SecretFile))
        if files and not self.accepts_secret_files():
            raise ValidationError(
                f"the {self.name} transport cannot hand a command a secret file; pass the key on stdin instead"
            )
        data, hidden = _input_bytes(input)
        hidden += [s.reveal() if isinstance(s, Secret) else s for s in secrets]
        hidden += [a.secret.reveal() for a in argv if isinstance(a, SecretFile)]
        if env:
            for key, value in env.items():
                if any(h and h in value for h in hidden):
                    raise ValidationError(f"environment variable {key} would carry a secret; use stdin")
        log.debug("run%s: %s", f" on {self.host}" if self.host else "", _shown(args, hidden))
        commands = _command_log.get()
        if commands is not None and not readonly:
            commands.append(PlannedCommand(args, self.host, data is not None))
        started = time.monotonic()
        extra: dict[str, Any] = {"files": files} if files else {}
        if stdout is not None:
            extra["stdout"] = stdout
        limit = timeout if timeout is not None else default_timeout(readonly)
        try:
            with contextlib.nullcontext() if readonly else signals.mutating():
                res = self._execute(args, data, limit, readonly=readonly, env=env, **extra)
        except CommandError as exc:
            raise _redacted_error(exc, hidden) from None
        log.debug("exit %s after %.3fs", res.returncode, time.monotonic() - started)
        if check and res.returncode not in ok_codes:
            raise _redacted_error(
                CommandError(res.argv, res.returncode, res.stdout, res.stderr, host=self.host), hidden
            )
        return res

    def _execute(
        self,
        argv: tuple[str, ...],
        data: bytes | None,
        timeout: float | None,
        *,
        readonly: bool,
        env: Mapping[str, str] | None,
    ) -> Result:
        raise NotImplementedError

    def accepts_secret_files(self) -> bool:
        """Whether this transport can hand a command a ``SecretFile``."""
        return self.secret_files

    def accepts_stdout_fd(self) -> bool:
        """Whether this transport can give a command a file descriptor of this process as its stdout."""
        return self.stdout_fds

    def which(self, tool: str) -> str | None:
        """Return the path of ``tool`` where commands run (PATH plus the sbin directories), or None."""
        return shutil.which(tool, path=_search_path())

    def has_tool(self, tool: str) -> bool:
        """Whether ``tool`` is found where commands run. A tool this runner found once is not looked up again
        (every operation checks its tools before it runs, and on a remote host each look-up is a command); one not
        found is asked again, so installing it mid-job counts."""
        found: set[str] = self.__dict__.setdefault("_tools_found", set())
        if tool in found:
            return True
        if self.which(tool) is None:
            return False
        found.add(tool)
        return True

    def require(self, tool: str, why: str = "") -> str:
        """Return the path of ``tool`` or raise ``ToolUnavailableError`` naming the package to install."""
        path = self.which(tool)
        if path is None:
            raise ToolUnavailableError(tool, why or "not found on PATH or in /sbin, /usr/sbin")
        return path

    def describe(self) -> dict[str, Any]:
        """A JSON-able description from which ``make_runner()`` can build an equivalent runner (for rollback)."""
        return {"runner": self.name, "host": self.host}

    def path_kind(self, path: str) -> str | None:
        """What ``path`` is where commands run: ``block``, ``dir``, ``file``, ``other``, or None if it is missing.

        Remote transports answer with one read-only ``stat`` there; the local runner asks this kernel directly.
        """
        info = self.stat(path)
        return None if info is None else info.kind

    def stat(self, path: str) -> PathInfo | None:
        """Kind, device and inode of ``path`` (symlinks followed) where commands run; None if it is missing."""
        res = self.run(["stat", "-L", "-c", "%F|%d|%i", "--", path], readonly=True, check=False)
        if res.returncode != 0:
            if "No such file" in res.err or "Not a directory" in res.err:
                return None
            raise CommandError(res.argv, res.returncode, res.stdout, res.stderr, host=self.host)
        kind, _, rest = res.text.strip().partition("|")
        dev, _, ino = rest.partition("|")
        names = {"block special file": "block", "directory": "dir", "regular file": "file",
                 "regular empty file": "file"}
        return PathInfo(names.get(kind, "other"), int(dev or 0), int(ino or 0))

    def realpath(self, path: str) -> str:
        """``path`` with every symlink resolved where commands run (missing trailing parts are kept as given)."""
        res = self.run(["realpath", "-m", "--", path], readonly=True)
        return res.text.strip() or path

    def exists(self, path: str) -> bool:
        """Whether anything is at ``path`` where commands run, a dangling symlink included (``os.path.lexists``)."""
        res = self.run(["stat", "-c", "%F", "--", path], readonly=True, check=False)
        if res.returncode == 0:
            return True
        if "No such file" in res.err or "Not a directory" in res.err:
            return False
        raise CommandError(res.argv, res.returncode, res.stdout, res.stderr, host=self.host)

    def same_path(self, a: str, b: str) -> bool:
        """Whether two paths name the same file or device where commands run (equal, or resolving to one path).

        One read-only ``realpath`` for both paths on remote transports.
        """
        if a == b:
            return True
        res = self.run(["realpath", "-m", "-z", "--", a, b], readonly=True)
        parts = res.stdout.split(b"\0")
        if len(parts) != 3 or parts[2]:
            return self.realpath(a) == self.realpath(b)
        return parts[0] == parts[1]

    def read_file(self, path: str, *, max_bytes: int = MAX_READ_BYTES) -> bytes:
        """The content of the small file ``path`` where commands run (a domU config); ``NotFoundError`` when it is
        missing, ``ValidationError`` when it cannot be read or is larger than ``max_bytes``."""
        limit = _check_max_bytes(max_bytes)
        res = self.run(["head", "-c", str(limit + 1), "--", path], readonly=True, check=False)
        if res.returncode != 0:
            reason = (res.err.strip().splitlines() or [f"head exited with {res.returncode}"])[-1]
            reason = reason.rsplit(": ", 1)[-1] if ": " in reason else reason
            if "No such file" in reason or "Not a directory" in reason:
                raise NotFoundError(f"{path}: cannot read it: {reason}")
            raise ValidationError(f"{path}: cannot read it: {reason}")
        return _within(path, res.stdout, limit)

    def list_dir(self, path: str) -> list[str] | None:
        """The sorted names in directory ``path`` where commands run (not ``.``/``..``); None when it is missing or
        not a directory. Remote transports run one read-only POSIX ``sh`` loop (names may hold any byte)."""
        res = self.run(["sh", "-c", _LIST_DIR_SCRIPT, "sh", path], readonly=True, check=False)
        if res.returncode == 3:
            return None
        if res.returncode != 0:
            reason = (res.err.strip().splitlines() or [f"exit status {res.returncode}"])[-1]
            raise ValidationError(f"cannot list {path}: {reason.rsplit(': ', 1)[-1]}")
        return sorted(n.decode("utf-8", "surrogateescape") for n in res.stdout.split(b"\0") if n)

    def boot_id(self) -> str:
        """The kernel's boot id where commands run (changes at every boot; identities of mounts, mappings and loops
        that do not survive a reboot include it)."""
        if self._boot_id is None:
            self._boot_id = self.run(["cat", "/proc/sys/kernel/random/boot_id"], readonly=True).text.strip()
        return self._boot_id


def _check_stdout_fd(fd: Any) -> None:
    """A ``stdout=`` for ``Runner.run``: a file descriptor of this process, open for writing."""
    import fcntl

    if isinstance(fd, bool) or not isinstance(fd, int) or fd < 0:
        raise ValidationError(f"stdout must be an open file descriptor (an int), not {fd!r}")
    try:
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    except OSError:
        raise ValidationError(f"stdout: file descriptor {fd} is not open") from None
    if flags & os.O_ACCMODE == os.O_RDONLY:
        raise ValidationError(f"stdout: file descriptor {fd} is open for reading only")


def default_timeout(readonly: bool) -> float | None:
    """The kill timeout of a command with no timeout of its own: ``core.command_timeout`` for read-only commands,
    ``core.mutating_command_timeout`` (default: none) for the others."""
    try:
        from .settings import current

        core = current().core
    except Exception:  # noqa: BLE001 - no settings (a broken config) must not make commands unkillable or killable
        return DEFAULT_TIMEOUT if readonly else None
    return core.command_timeout if readonly else core.mutating_command_timeout


def _heartbeat_interval() -> float:
    try:
        from .settings import current

        return float(current().core.heartbeat_interval)
    except Exception:  # noqa: BLE001 - see default_timeout
        return 60.0


_T = TypeVar("_T")


def _local(path: str, call: Callable[[], _T], failed: str, *, missing: str | None = None) -> _T | None:
    """``call()`` on this machine's filesystem, its errors mapped once for every ``local_*`` answer: a missing path is
    None (or ``NotFoundError(missing)``), another OSError a ``ValidationError(failed)`` (both formats take ``{path}``
    and ``{why}``), an embedded NUL a ``ValidationError`` saying the path is not valid."""
    try:
        return call()
    except (FileNotFoundError, NotADirectoryError) as exc:
        if missing is None:
            return None
        raise NotFoundError(missing.format(path=path, why=exc.strerror)) from None
    except OSError as exc:
        raise ValidationError(failed.format(path=path, why=exc.strerror)) from None
    except ValueError:  # embedded NUL
        raise ValidationError(f"{path!r} is not a valid path") from None


def local_stat(path: str) -> PathInfo | None:
    """``Runner.stat()`` answered by this machine's kernel (no command)."""
    import stat as _stat

    st = _local(path, lambda: os.stat(path), "cannot access {path}: {why}")
    if st is None:
        return None
    mode = st.st_mode
    kind = ("block" if _stat.S_ISBLK(mode) else "dir" if _stat.S_ISDIR(mode)
            else "file" if _stat.S_ISREG(mode) else "other")
    return PathInfo(kind, st.st_dev, st.st_ino)


def local_path_kind(path: str) -> str | None:
    """``Runner.path_kind()`` answered by this machine's kernel (no command)."""
    info = local_stat(path)
    return None if info is None else info.kind


def local_exists(path: str) -> bool:
    """``Runner.exists()`` answered by this machine's kernel (no command)."""
    return os.path.lexists(path)


def local_same_path(a: str, b: str) -> bool:
    """``Runner.same_path()`` answered by this machine's kernel (no command)."""
    return a == b or os.path.realpath(a) == os.path.realpath(b)


def local_read_file(path: str, *, max_bytes: int = MAX_READ_BYTES) -> bytes:
    """``Runner.read_file()`` answered from this machine's filesystem (no command)."""
    limit = _check_max_bytes(max_bytes)

    def read() -> bytes:
        with open(path, "rb") as fh:
            return fh.read(limit + 1)

    data = _local(path, read, "{path}: cannot read it: {why}", missing="{path}: cannot read it: {why}")
    assert data is not None  # a missing file raised
    return _within(path, data, limit)


def local_list_dir(path: str) -> list[str] | None:
    """``Runner.list_dir()`` answered from this machine's filesystem (no command)."""
    return _local(path, lambda: sorted(os.listdir(path)), "cannot list {path}: {why}")


def same_path(a: str, b: str) -> bool:
    """Whether two paths name the same file or device where the current runner runs commands (see
    ``Runner.same_path``): the one "same device?" check of every plugin."""
    return get_runner().same_path(a, b)


#: ``Runner.list_dir()`` on a remote machine: exit 3 when not a directory, else every name NUL-terminated
_LIST_DIR_SCRIPT = (
    '[ -d "$1" ] || exit 3; CDPATH= cd -- "$1" || exit 4; '
    'for f in * .[!.]* ..?*; do if [ -e "$f" ] || [ -L "$f" ]; then printf "%s\\0" "$f"; fi; done'
)


def _check_max_bytes(max_bytes: Any) -> int:
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes < 0:
        raise ValidationError(f"max_bytes must be a whole number of bytes >= 0, not {max_bytes!r}")
    return max_bytes


def _within(path: str, data: bytes, limit: int) -> bytes:
    """``data`` read from ``path`` (at most ``limit`` + 1 bytes), refused when it is larger than ``limit``."""
    if len(data) > limit:
        raise ValidationError(f"{path}: cannot read it: larger than {limit} bytes")
    return data


def local_boot_id() -> str:
    """This machine's boot id."""
    with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
        return fh.read().strip()


def _shown(argv: Sequence[str], hidden: Sequence[str]) -> str:
    return redact(" ".join(argv), list(hidden) + known_secrets())


def _redacted_error(exc: CommandError, hidden: Sequence[str]) -> CommandError:
    """Return ``exc`` with every secret removed from its argv, stdout and stderr."""
    secrets = list(hidden) + known_secrets()
    if not secrets:
        return exc

    def clean(v: bytes | str) -> bytes | str:
        if isinstance(v, bytes):
            return redact(v.decode("utf-8", "surrogateescape"), secrets).encode("utf-8", "surrogateescape")
        return redact(v, secrets)

    cls = type(exc)
    new = cls(
        [redact(a, secrets) for a in exc.argv],
        exc.returncode,
        clean(exc.stdout),
        clean(exc.stderr),
        host=exc.host,
        reason=exc.reason,
    )
    return new


def _search_path() -> str:
    parts = os.environ.get("PATH", os.defpath).split(os.pathsep)
    return os.pathsep.join(parts + [p for p in _SBIN if p not in parts])


class LocalRunner(Runner):
    """Runs commands on this machine with ``subprocess`` (no shell, stdin closed unless data given)."""

    name = "local"
    secret_files = True
    stdout_fds = True

    def __init__(self, **_: Any) -> None:
        self.host = None

    def path_kind(self, path: str) -> str | None:
        """Ask this kernel (no command)."""
        return local_path_kind(path)

    def stat(self, path: str) -> PathInfo | None:
        """Ask this kernel (no command)."""
        return local_stat(path)

    def realpath(self, path: str) -> str:
        """Resolve with this kernel (no command)."""
        return os.path.realpath(path)

    def exists(self, path: str) -> bool:
        """Ask this kernel (no command)."""
        return local_exists(path)

    def same_path(self, a: str, b: str) -> bool:
        """Resolve with this kernel (no command)."""
        return local_same_path(a, b)

    def read_file(self, path: str, *, max_bytes: int = MAX_READ_BYTES) -> bytes:
        """Read this machine's file (no command)."""
        return local_read_file(path, max_bytes=max_bytes)

    def list_dir(self, path: str) -> list[str] | None:
        """List this machine's directory (no command)."""
        return local_list_dir(path)

    def boot_id(self) -> str:
        """Read this kernel's boot id (no command)."""
        return local_boot_id()

    def _execute(
        self,
        argv: tuple[str, ...],
        data: bytes | None,
        timeout: float | None,
        *,
        readonly: bool,
        env: Mapping[str, str] | None,
        files: Sequence[tuple[int, bytes]] = (),
        stdout: int | None = None,
    ) -> Result:
        fds = [_memfd(content) for _, content in files]
        cmd = list(argv)
        for (index, _), fd in zip(files, fds, strict=True):
            cmd[index] = f"/dev/fd/{fd}"
        try:
            proc = _popen(argv, cmd, stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL, env=env,
                          pass_fds=fds, stdout=subprocess.PIPE if stdout is None else stdout)
        finally:
            for fd in fds:
                os.close(fd)
        out, err = _communicate(proc, data, timeout, argv)
        return Result(argv, proc.returncode, out, err)


def _popen(argv: tuple[str, ...], cmd: list[str], *, stdin: int, env: Mapping[str, str] | None = None,
           pass_fds: Sequence[int] = (), bufsize: int = -1, stdout: int = subprocess.PIPE) -> subprocess.Popen[bytes]:
    """Start ``cmd`` (``argv`` as logged and reported) the way every child of pybofh starts: ``LC_ALL=C``, sbin on
    PATH, and its own process group, so a terminal's Ctrl-C reaches pybofh, which lets a mutating tool finish; a
    tool that cannot start is a ``CommandError`` naming it."""
    full_env = {**os.environ, **(env or {}), "LC_ALL": "C", "LANG": "C", "PATH": _search_path()}
    try:
        return subprocess.Popen(cmd, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, env=full_env,
                                process_group=0, pass_fds=pass_fds, bufsize=bufsize)
    except FileNotFoundError:
        raise CommandError(argv, None, reason=f"cannot run {argv[0]}: not installed") from None
    except PermissionError as exc:
        raise CommandError(argv, None, reason=f"cannot run {argv[0]}: {exc.strerror}") from None


def spawn(argv: Sequence[str]) -> subprocess.Popen[bytes]:
    """Start a long-lived helper process with pipes on stdin, stdout and stderr (unbuffered), for transports that
    run many commands through one process (an ssh session), started as ``LocalRunner`` starts commands.
    Logged like a command; the caller owns the process and must end it. Never a shell; no secret in ``argv``."""
    args = check_argv(argv)
    log.debug("spawn: %s", _shown(args, []))
    return _popen(args, list(args), stdin=subprocess.PIPE, bufsize=0)


def _communicate(proc: subprocess.Popen[bytes], data: bytes | None, timeout: float | None,
                 argv: tuple[str, ...]) -> tuple[bytes, bytes]:
    """Feed ``data``, collect the output, and kill the child only past ``timeout`` (None: never); log a heartbeat
    while it runs long. An exception here (a signal outside a deferral: only read-only commands) kills the child."""
    started = time.monotonic()
    beat = max(0.01, _heartbeat_interval())
    pending: bytes | None = data
    try:
        while True:
            left = None if timeout is None else timeout - (time.monotonic() - started)
            wait = beat if left is None else max(0.0, min(beat, left))
            try:
                out, err = proc.communicate(input=pending, timeout=wait)
                return out or b"", err or b""  # no stdout pipe when the command writes to a given descriptor
            except subprocess.TimeoutExpired:
                pending = None  # given once: a retried communicate() keeps feeding what is left
                elapsed = time.monotonic() - started
                if timeout is not None and elapsed >= timeout:
                    _kill_group(proc)
                    raise CommandTimeoutError(argv, None, reason=f"timed out after {timeout:g}s") from None
                log.info("still running after %.0f s: %s", elapsed, argv[0])
    except BaseException:
        _kill_group(proc)
        raise


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's process group (it is its own group leader) and reap it; its pipes may stay open in a
    grandchild, so the output is not waited for."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, 9)
        proc.wait()


def _memfd(content: bytes) -> int:
    """An anonymous in-memory file holding ``content``, positioned at its start; never on any filesystem."""
    fd = os.memfd_create("pybofh-secret", os.MFD_CLOEXEC)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view):]
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


@dataclass(frozen=True, slots=True)
class PlannedCommand:
    """A command a dry run would have executed (stdin content is never kept, only whether there was one)."""

    argv: tuple[str, ...]
    host: str | None = None
    has_input: bool = False

    def __str__(self) -> str:
        where = f"[{self.host}] " if self.host else ""
        return where + " ".join(self.argv) + (" <stdin" if self.has_input else "")


class DryRunRunner(Runner):
    """Records mutating commands instead of running them; read-only commands still run on ``inner`` for real.

    Mutating commands "succeed" with empty output, so operations compute their results from their arguments.
    """

    name = "dry-run"
    dry_run = True

    def __init__(self, inner: Runner | None = None, *, model: PlanModel | None = None, **_: Any) -> None:
        self.inner = inner or LocalRunner()
        self.host = self.inner.host
        self.plan: list[PlannedCommand] = []
        #: what the planned steps made, changed or removed (shared with a dry-run runner this one wraps)
        self.model: PlanModel = model or (self.inner.model if isinstance(self.inner, DryRunRunner) else PlanModel())

    def _execute(
        self,
        argv: tuple[str, ...],
        data: bytes | None,
        timeout: float | None,
        *,
        readonly: bool,
        env: Mapping[str, str] | None,
        files: Sequence[tuple[int, bytes]] = (),
        stdout: int | None = None,
    ) -> Result:
        if readonly:
            extra: dict[str, Any] = {"files": files} if files else {}
            if stdout is not None:
                extra["stdout"] = stdout
            return self.inner._execute(argv, data, timeout, readonly=True, env=env, **extra)
        self.plan.append(PlannedCommand(argv, self.host, data is not None))
        return Result(argv, 0, b"", b"")

    def which(self, tool: str) -> str | None:
        """Tools are looked up where the inner runner would run them."""
        return self.inner.which(tool)

    def has_tool(self, tool: str) -> bool:
        """Tools are looked up where the inner runner would run them (with its memory of what it found)."""
        return self.inner.has_tool(tool)

    def accepts_secret_files(self) -> bool:
        """A plan refuses what the real run would refuse."""
        return self.inner.accepts_secret_files()

    def accepts_stdout_fd(self) -> bool:
        """A plan refuses what the real run would refuse (a planned command writes nothing to it)."""
        return self.inner.accepts_stdout_fd()

    def path_kind(self, path: str) -> str | None:
        """Paths are looked up where the inner runner would run commands, with the planned devices laid over."""
        info = self.stat(path)
        return None if info is None else info.kind

    def stat(self, path: str) -> PathInfo | None:
        """Paths are looked up where the inner runner would run commands; a device a planned step made is a block
        device (no device or inode number yet), one a planned step removed is missing."""
        for kind, name in ((BLOCK, "block"), (DIR, "dir")):
            planned = self.model.get(kind, path)
            if planned is GONE:
                return None
            if planned is not None:
                return PathInfo(name, 0, 0)
        return self.inner.stat(path)

    def realpath(self, path: str) -> str:
        """Paths are resolved where the inner runner would run commands (a planned device resolves to itself)."""
        return path if self._planned(path) else self.inner.realpath(path)

    def exists(self, path: str) -> bool:
        """Paths are looked up where the inner runner would run commands, with the planned devices laid over."""
        for kind in (BLOCK, DIR):
            planned = self.model.get(kind, path)
            if planned is not None:
                return planned is not GONE
        return self.inner.exists(path)

    def same_path(self, a: str, b: str) -> bool:
        """Paths are resolved where the inner runner would run commands (planned devices: by their path)."""
        if self._planned(a) or self._planned(b):
            return a == b
        return self.inner.same_path(a, b)

    def _planned(self, path: str) -> bool:
        """Whether a planned step made (or removed) the device or directory at ``path``."""
        return self.model.get(BLOCK, path) is not None or self.model.get(DIR, path) is not None

    def read_file(self, path: str, *, max_bytes: int = MAX_READ_BYTES) -> bytes:
        """Files are read where the inner runner would run commands."""
        return self.inner.read_file(path, max_bytes=max_bytes)

    def list_dir(self, path: str) -> list[str] | None:
        """Directories are listed where the inner runner would run commands."""
        return self.inner.list_dir(path)

    def boot_id(self) -> str:
        """The boot id where the inner runner runs commands."""
        return self.inner.boot_id()

    def describe(self) -> dict[str, Any]:
        """A plan is made for the inner runner's machine."""
        return self.inner.describe()


class UnexpectedCommandError(AssertionError):
    """A fake runner got a command no recording was given for: the test's expectations are wrong."""


@dataclass
class Reply:
    """One canned answer of a ``FakeRunner``: matching argv (``...`` at the end = any rest) and the output."""

    argv: tuple[Any, ...]
    stdout: bytes = b""
    stderr: bytes = b""
    returncode: int = 0
    times: int | None = None  # None = any number of times
    effect: Callable[[tuple[str, ...], bytes | None], None] | None = None
    used: int = field(default=0)

    def matches(self, argv: tuple[str, ...]) -> bool:
        """Whether ``argv`` is this reply's command (exact, or prefix when the pattern ends in ``...``)."""
        if self.times is not None and self.used >= self.times:
            return False
        pattern = self.argv
        if pattern and pattern[-1] is Ellipsis:
            return argv[: len(pattern) - 1] == tuple(pattern[:-1])
        return argv == tuple(pattern)


def _b(v: bytes | str) -> bytes:
    return v if isinstance(v, bytes) else v.encode()


class FakeRunner(Runner):
    """Replays recorded outputs for unit tests and records every argv; an unknown command fails the test loudly."""

    name = "fake"

    def __init__(self, replies: Sequence[Reply] = (), *, host: str | None = None, **_: Any) -> None:
        self.replies: list[Reply] = list(replies)
        self.calls: list[tuple[str, ...]] = []
        self.inputs: list[bytes | None] = []
        self.files: list[tuple[bytes, ...]] = []  # per call: the secret files it was handed (as /dev/fd/N)
        self.host = host
        self.tools: set[str] | None = None  # None = every tool "exists"
        self.paths: dict[str, str] | None = None  # path -> kind; None = ask this machine (no command either way)
        self.links: dict[str, str] = {}  # path -> what it resolves to (realpath); others resolve to themselves
        self.contents: dict[str, bytes] = {}  # path -> content of a file (read_file); each is a "file" for stat too
        self.fake_boot_id = "00000000-0000-4000-8000-000000000000"

    def expect(
        self,
        argv: Sequence[Any],
        stdout: bytes | str = b"",
        *,
        stderr: bytes | str = b"",
        returncode: int = 0,
        times: int | None = None,
        effect: Callable[[tuple[str, ...], bytes | None], None] | None = None,
    ) -> FakeRunner:
        """Add a canned reply (later replies take precedence over earlier ones) and return self for chaining."""
        self.replies.insert(0, Reply(tuple(argv), _b(stdout), _b(stderr), returncode, times, effect))
        return self

    secret_files = True
    stdout_fds = True

    def _execute(
        self,
        argv: tuple[str, ...],
        data: bytes | None,
        timeout: float | None,
        *,
        readonly: bool,
        env: Mapping[str, str] | None,
        files: Sequence[tuple[int, bytes]] = (),
        stdout: int | None = None,
    ) -> Result:
        if files:
            cmd = list(argv)
            for n, (index, _) in enumerate(files):
                cmd[index] = f"/dev/fd/{3 + n}"
            argv = tuple(cmd)
        self.calls.append(argv)
        self.inputs.append(data)
        self.files.append(tuple(content for _, content in files))
        for reply in self.replies:
            if reply.matches(argv):
                reply.used += 1
                if reply.effect:
                    reply.effect(argv, data)
                if stdout is not None:  # the recorded output goes where the command's stdout was sent
                    view = memoryview(reply.stdout)
                    while view:
                        view = view[os.write(stdout, view):]
                    return Result(argv, reply.returncode, b"", reply.stderr)
                return Result(argv, reply.returncode, reply.stdout, reply.stderr)
        raise UnexpectedCommandError(f"fake runner: unexpected command {list(argv)!r}")

    def path_kind(self, path: str) -> str | None:
        """From ``paths`` when the test declared them, else from this machine; never a command."""
        info = self.stat(path)
        return None if info is None else info.kind

    def stat(self, path: str) -> PathInfo | None:
        """From ``paths`` (inode: a stable number derived from the path) when declared, else from this machine."""
        import zlib

        if self.realpath(path) in self.contents:
            kind: str | None = "file"
        elif self.paths is not None:
            kind = self.paths.get(self.realpath(path))
        else:
            kind = local_path_kind(path)  # tests may patch this one function to fake a machine's paths
        if kind is None:
            return None
        real = local_stat(path) if self.paths is None else None
        if real is not None and real.kind == kind:
            return real
        return PathInfo(kind, 1, zlib.crc32(self.realpath(path).encode()))

    def realpath(self, path: str) -> str:
        """From ``links`` when the test declared the path there, else the path itself (never this machine's)."""
        return self.links.get(path, path)

    def exists(self, path: str) -> bool:
        """From ``links``, ``contents`` and ``paths`` when the test declared paths, else from this machine (a
        declared link exists even when what it points to does not)."""
        if path in self.links or self.realpath(path) in self.contents:
            return True
        if self.paths is not None:
            return self.realpath(path) in self.paths
        return local_exists(path)

    def same_path(self, a: str, b: str) -> bool:
        """Equal, or resolving to the same path through ``links``."""
        return a == b or self.realpath(a) == self.realpath(b)

    def read_file(self, path: str, *, max_bytes: int = MAX_READ_BYTES) -> bytes:
        """From ``contents``; else missing or unreadable when ``paths`` says so, else this machine's file (a test
        may declare a file in ``paths`` and keep its content on disk)."""
        limit = _check_max_bytes(max_bytes)
        real = self.realpath(path)
        if real in self.contents:
            return _within(path, self.contents[real], limit)
        kind = "file" if self.paths is None else self.paths.get(real)
        if kind is None:
            raise NotFoundError(f"{path}: cannot read it: No such file or directory")
        if kind != "file":
            raise ValidationError(f"{path}: cannot read it: {'Is a directory' if kind == 'dir' else 'not a file'}")
        return local_read_file(path, max_bytes=limit)

    def list_dir(self, path: str) -> list[str] | None:
        """The names under ``path`` among the keys of ``paths``, ``contents`` and ``links`` when the test declared
        paths or contents (None unless ``path`` is a declared directory or has declared children), else this
        machine's directory."""
        if self.paths is None and not self.contents:
            return local_list_dir(path)
        real = self.realpath(path).rstrip("/") or "/"
        names = {posixpath.basename(p) for p in (*(self.paths or {}), *self.contents, *self.links)
                 if p != real and posixpath.dirname(p.rstrip("/")) == real}
        if not names and (self.paths or {}).get(real) != "dir":
            return None
        return sorted(names)

    def boot_id(self) -> str:
        """A fixed boot id (``fake_boot_id``; change it to simulate a reboot)."""
        return self.fake_boot_id

    def has_tool(self, tool: str) -> bool:
        """Asked of ``tools`` every time (a test may change them between calls)."""
        return self.which(tool) is not None

    def which(self, tool: str) -> str | None:
        """Every tool exists unless ``tools`` restricts them."""
        if self.tools is None or tool in self.tools:
            return f"/usr/sbin/{tool}"
        return None


_current: contextvars.ContextVar[Runner | None] = contextvars.ContextVar("pybofh_runner", default=None)
_default: list[Runner] = []


def get_runner() -> Runner:
    """The runner of the current context (see ``use_runner()``), else the process's local runner."""
    runner = _current.get()
    if runner is not None:
        return runner
    if not _default:
        _default.append(LocalRunner())
    return _default[0]


@contextlib.contextmanager
def use_runner(runner: Runner) -> Iterator[Runner]:
    """Run every pybofh command inside the ``with`` block through ``runner``."""
    token = _current.set(runner)
    try:
        yield runner
    finally:
        _current.reset(token)


def run(argv: Sequence[Any], **kwargs: Any) -> Result:
    """Run ``argv`` through the current runner; see ``Runner.run()`` for the options."""
    return get_runner().run(argv, **kwargs)


def device_size(path: str) -> int:
    """The size in bytes of the block device at ``path`` where commands run (``blockdev --getsize64``, read-only);
    in a dry run, the size a planned step made or resized it to (looked up by the path and by what it resolves to).

    The one place every plugin reads a device's size, so the LV a plan grew is seen grown by the LUKS resize and the
    filesystem resize planned after it.
    """
    runner = get_runner()
    model = runner.model
    if model is not None:
        planned = model.device_size(path)
        if planned is None and model.get(BLOCK, path) is None:
            planned = model.device_size(runner.realpath(path))
        if planned is not None:
            return planned
    text = runner.run(["blockdev", "--getsize64", path], readonly=True).text.strip()  # no "--": blockdev refuses it
    if not text.isdigit():
        raise ParseError("blockdev", "expected a byte count", text, f"blockdev --getsize64 {path}")
    return int(text)


_BUILTIN: dict[str, type[Runner]] = {"local": LocalRunner, "dry-run": DryRunRunner, "fake": FakeRunner}


def make_runner(name: str = "local", **options: Any) -> Runner:
    """Build a transport by its name in the ``pybofh.runners`` entry-point group (stevedore ``DriverManager``).

    The built-in ``local`` runner is made directly, skipping the entry-point scan that would slow every command.
    """
    if name == "local" and not options.get("host"):
        return LocalRunner()
    try:
        from stevedore import driver

        mgr: Any = driver.DriverManager(RUNNER_GROUP, name, invoke_on_load=True, invoke_kwds=options)
    except ValidationError:
        raise  # the transport refused its options (a host that ssh would read as an option): bad input, exit 2
    except Exception as exc:
        if name in _BUILTIN:
            return _BUILTIN[name](**options)
        raise PluginError(f"runner transport {name!r} is not available: {exc}") from exc
    runner: Runner = mgr.driver
    return runner
