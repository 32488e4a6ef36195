"""The ``[xen]`` settings namespace: where domU configs live, which ``xl`` to run, how long to wait."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class XenSettings:
    """Settings of pybofh-xen (``get_settings().xen``; ``PYBOFH_XEN__<KEY>``; ``[xen]`` in config.toml)."""

    domu_config_dirs: list[Path] = field(default_factory=lambda: [Path("/etc/xen")])
    """Directories whose domU config files ``all_domus()`` reads (replaces the seed's site_specific.py)."""
    config_glob: str = "*.cfg"
    """Which files of those directories are domU configs (``/etc/xen/xl.conf`` and ``xlexample.*`` are not)."""
    xl_command: str = "xl"
    """The xl executable (a name looked up on PATH and in the sbin directories, or an absolute path)."""
    shutdown_timeout: float = 300.0
    """Seconds ``shutdown_domu(wait=True)`` waits for the domain to disappear before failing."""
    poll_interval: float = 1.0
    """Seconds between two ``xl list`` polls while waiting."""
