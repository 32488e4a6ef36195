"""The exception hierarchy of pybofh: everything raised derives from ``PybofhError``.

Plugins translate low-level failures (``CalledProcessError``, ``JSONDecodeError``, ``KeyError`` while parsing) into
these types at their boundary, so callers catch by meaning, and the CLI maps them to exit codes.
"""

from __future__ import annotations

from collections.abc import Sequence

REDACTED = "***"


class PybofhError(Exception):
    """Base class of every error pybofh raises."""

    #: CLI exit code: 1 failed (and whatever ran was undone), 2 bad input (nothing ran), 3 not fully undone.
    exit_code = 1


class ValidationError(PybofhError, ValueError):
    """Bad input (name, size, path, option) detected before any command ran."""

    exit_code = 2


class NotFoundError(PybofhError, LookupError):
    """A named object (device, LV, domain, journal…) does not exist."""

    exit_code = 2


class CommandError(PybofhError):
    """An external command exited non-zero (or could not be started, or timed out)."""

    def __init__(
        self,
        argv: Sequence[str],
        returncode: int | None,
        stdout: bytes | str = b"",
        stderr: bytes | str = b"",
        *,
        host: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.host = host
        self.reason = reason
        super().__init__(self._message())

    def _message(self) -> str:
        where = f" on {self.host}" if self.host else ""
        err = self.stderr.decode("utf-8", "replace") if isinstance(self.stderr, bytes) else self.stderr
        lines = [ln.strip() for ln in err.strip().splitlines() if ln.strip()]
        detail = lines[-1] if lines else (self.reason or "")
        what = self.reason if self.returncode is None else f"exited with status {self.returncode}"
        text = f"command {' '.join(self.argv)!r}{where} {what}"
        if detail and detail != what:
            text += f": {detail}"
        return text


class CommandTimeoutError(CommandError):
    """An external command did not finish within its timeout and was killed."""


class HostUnreachableError(CommandError):
    """A remote transport could not reach its host (connection refused, timeout, authentication, host key).

    ``returncode`` is None (no remote exit status exists); ``stderr`` holds the transport's own diagnostics.
    """


class ToolUnavailableError(PybofhError):
    """A tool pybofh needs is not installed or not usable here (e.g. no device-mapper)."""

    def __init__(self, tool: str, reason: str) -> None:
        self.tool = tool
        self.reason = reason
        super().__init__(f"{tool} is not available: {reason}")


class ParseError(PybofhError):
    """A tool's output did not have the shape its parser claims to read; never a half result."""

    def __init__(self, tool: str, message: str, excerpt: str | bytes = "", source: str | None = None) -> None:
        self.tool = tool
        self.excerpt = excerpt if isinstance(excerpt, str) else excerpt.decode("utf-8", "replace")
        self.source = source
        where = f" in {source}" if source else ""
        snippet = self.excerpt.strip().splitlines()[0][:120] if self.excerpt.strip() else ""
        super().__init__(f"cannot parse {tool} output{where}: {message}" + (f" (near {snippet!r})" if snippet else ""))


class DataAtRiskError(ValidationError):
    """An operation would destroy or hide data its target holds (a signature, a mount, a holder, used space);
    nothing ran. ``force=True`` / ``--force`` overrides the check."""


class IdentityMismatchError(PybofhError):
    """An undo found a different object where the one its step made should be, and left it alone."""

    exit_code = 3


class StepKeptError(PybofhError):
    """An undo that by design leaves its step's effect in place (a grown xfs cannot shrink): the step is not undone,
    so the undos of older steps run with their data checks (a plan of the rollback shows them so too)."""

    exit_code = 3


class JournalGroundError(ValidationError):
    """A step would unmount, close, detach or remove what the journal directory lives on; nothing ran (no force
    overrides it: the rollback could not be written)."""


class IrreversibleOperationError(PybofhError):
    """An irreversible operation was refused inside an atomic block."""

    exit_code = 2


class PluginError(PybofhError):
    """A plugin could not be loaded, or two plugins claim the same name."""


class SettingsError(ValidationError):
    """A configuration file, environment variable or override has a bad key or value."""


class KeyNeededError(PybofhError):
    """A key (a LUKS passphrase…) is needed and none was given; never taken as "the object is gone" by an undo.
    Give one with the plugin's key providers or ``bofh journal rollback --key-file``."""


class JournalError(PybofhError):
    """A journal file is unreadable, unwritable, locked by a running process, or refers to unknown operations."""


class JournalUnreadableError(JournalError):
    """A journal is damaged or of a format version this pybofh does not read: it is never misread, and what its job
    did is still there, so this needs attention (exit 3)."""

    exit_code = 3


class NeedsAttentionError(PybofhError):
    """A rollback finished but could not undo everything: steps were left alone (another object is there now) or
    their outcome is unknown. The journal says ``needs-attention``; ``journal_id`` names it."""

    exit_code = 3

    def __init__(self, message: str, journal_id: str | None = None, details: Sequence[str] = ()) -> None:
        self.journal_id = journal_id
        self.details = list(details)
        super().__init__(message)


class RollbackError(ExceptionGroup, PybofhError):  # type: ignore[misc]
    """Some undo steps failed during rollback; ``exceptions`` holds each failure, ``__cause__`` the original error."""

    exit_code = 3

    def derive(self, excs):  # type: ignore[no-untyped-def,override]
        """Keep the class when ``except*`` splits the group."""
        return RollbackError(self.message, excs)


def redact(text: str, secrets: Sequence[str]) -> str:
    """Replace every occurrence of each secret in ``text`` by ``***`` (longest first, so overlaps cannot leak)."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


class JobError(PybofhError):
    """A job file of ``bofh run`` raised an error of its own after steps ran (they were rolled back: exit 1)."""


class JobInputError(ValidationError):
    """A job file of ``bofh run`` could not be read or compiled, or failed before its first step (nothing ran)."""
