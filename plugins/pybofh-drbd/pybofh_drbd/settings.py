"""Settings of the DRBD plugin (namespace ``drbd``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class DrbdSettings:
    """Where drbdadm reads its configuration, and the bases for picking free minors and ports."""

    config_file: Path | None = None
    """Passed to drbdadm as ``-c FILE``; None = drbdadm's default (/etc/drbd.conf)."""
    base_minor: int = 0
    """The lowest minor ``next_free_minor`` hands out."""
    base_port: int = 7788
    """The lowest TCP port ``next_free_port`` hands out (DRBD's customary 7788)."""
    poll_interval: float = 1.0
    """Seconds between two status reads while waiting for a resync."""
