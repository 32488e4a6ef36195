"""pybofh over SSH: the ``ssh`` runner transport, ``on_host`` and ``fan_out`` over fleets of hosts.

Hookimpls only (settings, the ``bofh ssh`` sub-app, ``bofh --host A --host B`` through ``pybofh_run_on_hosts``, and an
atomic-event listener that tells ``fan_out`` what was rolled back); the public API is re-exported lazily so
importing this module stays cheap.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pybofh_core import hookimpl
from pybofh_core.lazy import lazy_api

__version__ = "0.1.0"

_API = {
    "SshRunner": "runner",
    "on_host": "runner",
    "validate_host": "runner",
    "remote_command": "runner",
    "HostUnreachableError": "errors",
    "fan_out": "fanout",
    "HostResult": "fanout",
    "HostStatus": "fanout",
    "run_on_hosts": "cli_fanout",
}


@hookimpl
def pybofh_register_settings(registry: Any) -> None:
    """Declare the ``[ssh]`` settings (ssh config, identity, timeouts, multiplexing, fan-out width)."""
    from .settings import SshSettings

    registry.add("ssh", SshSettings)


@hookimpl
def pybofh_register_cli(registry: Any) -> None:
    """Add ``bofh ssh …`` (reachability of hosts)."""
    registry.add("ssh", "pybofh_ssh.cli:app", help="Check SSH reachability of hosts (use with --host/--hosts-file).")


@hookimpl
def pybofh_run_on_hosts(argv: Sequence[str], hosts: Sequence[str], json_out: bool) -> int:
    """``bofh --host A --host B …``: the invocation once per host over ssh, in parallel (``cli_fanout``)."""
    from .cli_fanout import run_on_hosts

    return run_on_hosts(argv, hosts, json_out=json_out)


@hookimpl
def pybofh_on_atomic_event(event: str, journal_id: str | None, step: Mapping[str, Any]) -> None:
    """Count undone steps for the ``fan_out`` job running in this context (no-op outside fan_out)."""
    fanout = sys.modules.get(f"{__name__}.fanout")
    if fanout is None:
        return  # fan_out was never imported, so no fan-out job runs in this process: nothing to import or count
    record_atomic_event = fanout.record_atomic_event

    record_atomic_event(event, journal_id)


__all__ = list(_API)  # help() (pydoc) documents these, each loaded through __getattr__

if TYPE_CHECKING:
    # ``_API`` spelled out for type checkers (nothing of it is imported at run time): ``import x as x``
    # re-exports ``x``. tests/test_typed_api.py checks that these name what ``__getattr__`` returns.
    from .cli_fanout import run_on_hosts as run_on_hosts
    from .errors import HostUnreachableError as HostUnreachableError
    from .fanout import HostResult as HostResult
    from .fanout import HostStatus as HostStatus
    from .fanout import fan_out as fan_out
    from .runner import SshRunner as SshRunner
    from .runner import on_host as on_host
    from .runner import remote_command as remote_command
    from .runner import validate_host as validate_host


__getattr__, __dir__ = lazy_api(__name__, _API)  # the API loads on first use (pybofh_core.lazy)
