"""A tiny in-test plugin: operations that create/remove marker files through the current runner.

Each marker records the server port of the ssh connection it came through (``$SSH_CONNECTION``), and each removal
appends that port to ``<marker>.removed-by``, so a test can tell which "host" (sshd port) ran a step or its undo.
"""

from __future__ import annotations

from pybofh_core import hookimpl, operation, undo
from pybofh_core.runner import run
from pybofh_core.secret import Secret


@operation(inverse=lambda _res, path: undo(remove_marker, path))
def create_marker(path: str) -> None:
    """Write the serving sshd port into ``path`` (fails when its directory does not exist)."""
    run(["sh", "-c", 'printf "%s\\n" "${SSH_CONNECTION##* }" > "$1"', "sh", path])


@operation(irreversible="removes the marker")
def remove_marker(path: str) -> None:
    """Log the serving sshd port to ``path.removed-by`` and remove ``path``."""
    run(["sh", "-c", 'printf "%s\\n" "${SSH_CONNECTION##* }" >> "$1.removed-by" && rm -- "$1"', "sh", path])


@operation(inverse=lambda _res, path: undo(remove_marker, path))
def write_secret(path: str, secret: Secret) -> None:
    """Write ``secret`` into ``path`` from stdin (it must never appear in argv, logs or the journal)."""
    run(["sh", "-c", 'cat > "$1"', "sh", path], input=secret)


class Plugin:
    """Registers the operations above under the domain ``sshtest``."""

    @hookimpl
    def pybofh_register_operations(self, registry):  # type: ignore[no-untyped-def]
        if not registry.has("sshtest.create_marker"):
            for func in (create_marker, remove_marker, write_secret):
                registry.add("sshtest", func)
