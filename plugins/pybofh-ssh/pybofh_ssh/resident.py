"""A resident remote shell: one ssh session per runner runs every command, so a command costs one round trip.

Without it each command opens a new ssh channel and the account's login shell runs again (root's ``.bashrc`` is
read for every command: tens of milliseconds when it sets up pyenv or conda). The session runs the small POSIX sh
loop :data:`LOOP` (``exec sh -c LOOP``); the protocol on its stdin and stdout is length-framed, so any bytes pass:

* request: ``"<script bytes> <stdin bytes>\\n"``, then the script (``exec env -- … ARGV``, every word shell-quoted,
  as :func:`~pybofh_ssh.runner.remote_command` builds it), then the command's stdin. ``head -c`` hands the command
  exactly that many bytes through a pipe (a secret never touches the remote disk) and whatever the command did not
  read is drained, so the stream stays in step. Without stdin the command gets ``/dev/null``.
* reply: ``"pybofh-rs <exit code> <stdout bytes> <stderr bytes>\\n"``, then stdout, then stderr (collected in a
  private 0700 temp dir on the host, removed when the session ends).

A session that cannot start (no ``sh``, ``mktemp`` or ``head -c`` on the host) turns the runner back to one ssh
per command; a session that dies while a command runs reports the host as unreachable, and the next command opens
a new session. A command that times out ends its session (the remote command may still run, as with plain ssh).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from typing import Any

log = logging.getLogger("pybofh.ssh")

#: Printed once the loop runs (login-shell chatter on stdout before it is skipped).
READY = b"pybofh-rs ready"
#: Starts every reply header.
REPLY = b"pybofh-rs "
#: The remote command loop (POSIX sh). ``read`` reads a pipe byte by byte, ``head -c N`` never reads past N bytes.
LOOP = r"""d=$(mktemp -d "${TMPDIR:-/tmp}/bofh-rs.XXXXXX") || exit 97
trap 'rm -rf "$d"' EXIT
trap 'exit 129' HUP
trap 'exit 143' TERM
head -c 0 </dev/null >/dev/null 2>&1 || exit 97
printf 'pybofh-rs ready\n'
while read -r n m; do
  c=$(head -c "$n"; printf x); c=${c%x}
  if [ "$m" -gt 0 ]; then
    head -c "$m" | { (eval "$c") >"$d/o" 2>"$d/e"; r=$?; cat >/dev/null; exit $r; }
  else
    (eval "$c") </dev/null >"$d/o" 2>"$d/e"
  fi
  r=$?
  set -- $(wc -c "$d/o" "$d/e")
  printf 'pybofh-rs %s %s %s\n' "$r" "$1" "$3"
  cat "$d/o" "$d/e"
  : >"$d/o"; : >"$d/e"
done
"""


class SessionUnavailable(Exception):
    """The resident shell could not start on the host (the runner falls back to one ssh per command)."""

    def __init__(self, reason: str, returncode: int | None, chatter: bytes) -> None:
        super().__init__(reason)
        self.returncode = returncode
        self.chatter = chatter


class SessionLost(Exception):
    """The session ended while a command ran (connection lost, host down, remote shell killed)."""

    def __init__(self, reason: str, chatter: bytes) -> None:
        super().__init__(reason)
        self.chatter = chatter


class SessionTimeout(Exception):
    """The command did not answer within its timeout; the session was ended."""


class ResidentShell:
    """One ssh process running :data:`LOOP`; :meth:`run` sends a command and reads its framed reply."""

    def __init__(self, argv: list[str]) -> None:
        from pybofh_core.runner import spawn

        self.proc = spawn(argv)
        assert self.proc.stdin is not None
        os.set_blocking(self.proc.stdin.fileno(), False)  # writes wait in select(), with the command's deadline
        self._buf = b""
        self._chatter = bytearray()
        self._stderr_done = threading.Event()
        # the thread holds the stream, not this object: a session dropped without close() is still collected (its
        # pipes close, the remote loop reads end of file and exits, and so does ssh)
        threading.Thread(
            target=_drain,
            args=(self.proc.stderr, self._chatter, self._stderr_done),
            name="bofh-ssh-stderr",
            daemon=True,
        ).start()

    @property
    def chatter(self) -> bytes:
        """What ssh and the login shell wrote to stderr so far (the tail)."""
        return bytes(self._chatter)

    @property
    def alive(self) -> bool:
        """Whether the ssh process still runs."""
        return self.proc.poll() is None

    # --- reading with a deadline ------------------------------------------------------------------------------
    def _fill(self, deadline: float | None) -> bool:
        """Read more of stdout into the buffer; False at end of file. Raises SessionTimeout past ``deadline``."""
        stream = self.proc.stdout
        assert stream is not None
        fd = stream.fileno()
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise SessionTimeout()
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    return False
                self._buf += chunk
                return True

    def _line(self, deadline: float | None) -> bytes | None:
        while b"\n" not in self._buf:
            if not self._fill(deadline):
                return None
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def _exact(self, n: int, deadline: float | None) -> bytes | None:
        while len(self._buf) < n:
            if not self._fill(deadline):
                return None
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    # --- the protocol -----------------------------------------------------------------------------------------------
    def start(self, timeout: float) -> None:
        """Wait for the loop's ready line; raise SessionUnavailable when the session ended first."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                line = self._line(deadline)
                if line is None:
                    chatter = self._chatter_after_end()  # ssh says why (refused, denied) as it exits
                    rc = self.proc.returncode
                    raise SessionUnavailable(f"the resident shell did not start (exit {rc})", rc, chatter)
                if line.strip() == READY:
                    return
                log.debug("ssh login shell said on stdout: %r", line[:200])
        except SessionTimeout:
            self.kill()
            raise SessionUnavailable(
                f"the resident shell did not start within {timeout:g}s", None, self.chatter
            ) from None

    def run(self, script: str, data: bytes | None, timeout: float | None) -> tuple[int, bytes, bytes]:
        """Run ``script`` (a shell command line) with ``data`` on its stdin; return exit code, stdout, stderr."""
        body = script.encode()
        payload = b"%d %d\n" % (len(body), len(data or b"")) + body + (data or b"")
        deadline = None if timeout is None else time.monotonic() + timeout
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            try:
                _write_all(stdin.fileno(), payload, deadline)
            except BrokenPipeError:
                raise SessionLost("the ssh session ended", self._chatter_after_end()) from None
            header = self._line(deadline)
            if header is None or not header.startswith(REPLY):
                if header is not None:
                    log.debug("ssh resident shell: unexpected reply %r", header[:200])
                raise SessionLost("the ssh session ended while the command ran", self._chatter_after_end())
            try:
                rc, n_out, n_err = (int(x) for x in header[len(REPLY) :].split())
            except ValueError:
                self.close()
                raise SessionLost(f"the resident shell sent a bad reply {header[:80]!r}", self.chatter) from None
            out = self._exact(n_out, deadline)
            err = self._exact(n_err, deadline)
            if out is None or err is None:
                raise SessionLost("the ssh session ended while sending output", self._chatter_after_end())
            return rc, out, err
        except SessionTimeout:
            self.kill()
            raise

    def _chatter_after_end(self) -> bytes:
        """ssh's stderr once the session ended (ssh prints why it lost the connection as it exits)."""
        self._end()
        self._stderr_done.wait(2)
        return self.chatter

    def _end(self) -> int | None:
        """Wait briefly for the ssh process to exit (it is ending), then kill it; its exit code."""
        try:
            return self.proc.wait(timeout=2)
        except Exception:  # noqa: BLE001 - still running: kill below
            self.close()
            return self.proc.returncode

    def close(self) -> None:
        """End the session: close its stdin (the loop ends and removes its temp dir), kill ssh if it lingers."""
        with contextlib.suppress(OSError, ValueError):
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=2)
        except Exception:  # noqa: BLE001 - hung: kill it
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, 9)
            with contextlib.suppress(Exception):
                self.proc.wait(timeout=5)
        for stream in (self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(OSError, ValueError):
                if stream is not None:
                    stream.close()

    def kill(self) -> None:
        """End the session at once (a timed-out command): SIGKILL the ssh process group."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, 9)
        self.close()


def _drain(stream: Any, chatter: bytearray, done: threading.Event) -> None:
    """Keep ssh's own stderr (and the login shell's) flowing; the last 16 KiB are kept for error messages."""
    try:
        while chunk := stream.read(65536):
            chatter += chunk
            del chatter[:-16384]
    except (OSError, ValueError):
        pass
    finally:
        done.set()


def _write_all(fd: int, data: bytes, deadline: float | None) -> None:
    """Write all of ``data`` to the pipe ``fd``, waiting for room until ``deadline``."""
    view = memoryview(data)
    while view:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            raise SessionTimeout()
        _, ready, _ = select.select([], [fd], [], left)
        if ready:
            with contextlib.suppress(BlockingIOError):
                view = view[os.write(fd, view[: 1 << 16]) :]
