"""pybofh-xen: Xen domUs with xl — config files, running domains, start/stop/save/migrate with undo.

``from pybofh import xen`` then ``for domu in xen.all_domus(): ...`` (the seed's ``allDomus``/``isDomuRunning``/
``startDomu`` work too). This module only holds hook implementations and a lazy map of the public API.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from pybofh_core import hookimpl


@hookimpl
def pybofh_register_operations(registry) -> None:  # type: ignore[no-untyped-def]
    """Register start/destroy/shutdown/reboot/pause/unpause/save/restore/migrate/start_all under ``xen``."""
    registry.add_module("xen", "pybofh_xen.ops")  # imported when a xen operation is first needed


@hookimpl
def pybofh_register_settings(registry) -> None:  # type: ignore[no-untyped-def]
    """Declare the ``[xen]`` settings (config dirs, config glob, xl command, shutdown timeout)."""
    from .settings import XenSettings

    registry.add("xen", XenSettings)


@hookimpl
def pybofh_register_cli(registry) -> None:  # type: ignore[no-untyped-def]
    """Add ``bofh xen list|start|start-all|shutdown|destroy|info``."""
    registry.add("xen", "pybofh_xen.cli:app", help="Xen domUs: list, start, start-all, shutdown, destroy (xl).")


@hookimpl
def pybofh_probe_status() -> list[Any]:
    """``bofh status``: the running domUs, from one ``xl list``."""
    from .status import sections

    return sections()


_OPS = ("start_domu", "destroy_domu", "shutdown_domu", "reboot_domu", "pause_domu", "unpause_domu", "save_domu",
        "restore_domu", "migrate_domu", "start_all", "resize_domu_disk", "wait_until_gone")
_ALIASES = {
    "startDomu": "start_domu", "destroyDomu": "destroy_domu", "shutdownDomu": "shutdown_domu",
    "reboot": "reboot_domu", "rebootDomu": "reboot_domu", "pause": "pause_domu", "pauseDomu": "pause_domu",
    "unpause": "unpause_domu", "unpauseDomu": "unpause_domu", "save": "save_domu", "saveDomu": "save_domu",
    "restore": "restore_domu", "restoreDomu": "restore_domu", "migrate": "migrate_domu",
    "migrateDomu": "migrate_domu", "startAll": "start_all", "startAllDomus": "start_all",
    "resizeDomuDisk": "resize_domu_disk",
}
_FACTS = ("all_domus", "allDomus", "is_domu_running", "isDomuRunning", "running_domus", "runningDomus",
          "list_domains", "xl_info", "find_domu", "get_domu", "read_domu_config", "domu_disks", "domu_block_devices",
          "overview", "DiskBacking", "DomuOverview")
_PARSERS = ("parse_xl_list", "parse_xl_list_long", "parse_xl_info", "parse_xl_uptime", "parse_libxl_domain_config")
_XLCFG = ("parse_xl_config", "parse_domu_config", "parse_disk_spec", "parse_vif_spec")
_TYPES = ("DomU", "Domain", "DomainDetails", "DomainStatus", "DiskSpec", "DiskAccess", "VifSpec", "XlConfig", "XlInfo",
          "StartedDomu", "StoppedDomu", "SavedDomu", "RestoredDomu", "Uptime")
_ERRORS = ("XenError", "DomuNotFoundError", "DomuTimeoutError")

_API: dict[str, tuple[str, str]] = {
    **{n: ("ops", n) for n in _OPS},
    **{alias: ("ops", target) for alias, target in _ALIASES.items()},
    **{n: ("facts", n) for n in _FACTS},
    **{n: ("parsers", n) for n in _PARSERS},
    **{n: ("xlcfg", n) for n in _XLCFG},
    **{n: ("types", n) for n in _TYPES},
    **{n: ("errors", n) for n in _ERRORS},
}


def __getattr__(name: str) -> Any:
    """Resolve the public API lazily: ``xen.start_domu`` imports ``ops`` on first use."""
    if name in _API:
        module, attr = _API[name]
        return getattr(import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module 'pybofh_xen' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
