"""Settings of the ssh transport (``[ssh]`` in config.toml, ``PYBOFH_SSH__*`` in the environment)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class SshSettings:
    """Defaults for every ``SshRunner``; explicit runner options take precedence."""

    ssh_config: Path | None = None
    """An ssh client config passed with ``-F``; unset = the user's ``~/.ssh/config`` and ``/etc/ssh/ssh_config``."""
    identity: Path | None = None
    """A private key passed with ``-i`` (unset = what the ssh config or agent offers)."""
    connect_timeout: float = 10.0
    """Seconds ssh waits for a TCP connection (``-o ConnectTimeout``)."""
    control_persist: int = 60
    """Seconds an idle multiplexing master stays up (``-o ControlPersist``); 0 disables multiplexing."""
    control_dir: Path | None = None
    """A private (0700) directory for master sockets shared between processes; unset = a temp dir per runner,
    whose masters are closed when the runner is closed or the process exits."""
    options: list[str] = field(default_factory=list)
    """Extra ``-o Key=Value`` options, e.g. ``["ServerAliveInterval=15"]``."""
    max_workers: int = 8
    """Hosts worked on in parallel by ``fan_out()`` and ``bofh --host A --host B …``."""
    resident_shell: bool = True
    """Run a runner's commands through one resident remote shell (one round trip per command, the login shell's rc
    files read once per connection); false = a new ssh session (channel + login shell) per command."""
    json_lines: bool = False
    """``bofh --json --host A --host B …`` prints one JSON object per host, a line each, as each host finishes
    (instead of one JSON array once all are done)."""
