"""Read-only queries of the ssh transport (no operation here changes a system, so none needs an inverse)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from pybofh_core.errors import ValidationError
from pybofh_core.runner import get_runner


@dataclass(frozen=True, slots=True)
class PingResult:
    """A host answered: its name, ``uname -srm`` and the seconds one command took (handshake included if cold)."""

    host: str
    hostname: str
    kernel: str
    seconds: float


def ping_host() -> PingResult:
    """Run ``uname -n -s -r -m`` on the current runner's host; HostUnreachableError when ssh cannot connect."""
    from .runner import SshRunner

    runner = get_runner()
    inner = getattr(runner, "inner", runner)  # a dry run still executes read-only commands on its inner runner
    if not isinstance(inner, SshRunner):
        raise ValidationError("bofh ssh ping needs a remote host: bofh --host HOST ssh ping")
    started = time.monotonic()
    res = runner.run(["uname", "-n", "-s", "-r", "-m"], readonly=True)
    seconds = time.monotonic() - started
    parts = res.text.split()
    if len(parts) != 4:
        from pybofh_core.errors import ParseError

        raise ParseError("uname", "expected 4 fields (-n -s -r -m)", res.text)
    sysname, nodename, release, machine = parts
    return PingResult(inner.host or "", nodename, f"{sysname} {release} {machine}", round(seconds, 4))
