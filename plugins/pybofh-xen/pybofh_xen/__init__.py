"""pybofh-xen: Xen domUs with xl — config files, running domains, start/stop/save/migrate with undo.

``from pybofh import xen`` then ``for domu in xen.all_domus(): ...`` (the seed's ``allDomus``/``isDomuRunning``/
``startDomu`` work too). This module only holds hook implementations and a lazy map of the public API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pybofh_core import hookimpl
from pybofh_core.lazy import Target, lazy_api


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
    from .bofh_status import sections

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

_API: dict[str, Target] = {  # (module, attribute): the seed's names are aliases
    **{n: ("ops", n) for n in _OPS},
    **{alias: ("ops", target) for alias, target in _ALIASES.items()},
    **{n: ("facts", n) for n in _FACTS},
    **{n: ("parsers", n) for n in _PARSERS},
    **{n: ("xlcfg", n) for n in _XLCFG},
    **{n: ("types", n) for n in _TYPES},
    **{n: ("errors", n) for n in _ERRORS},
}


__all__ = list(_API)  # help() (pydoc) documents these, each loaded through __getattr__

if TYPE_CHECKING:
    # ``_API`` spelled out for type checkers (nothing of it is imported at run time): ``import x as x``
    # re-exports ``x``. tests/test_typed_api.py checks that these name what ``__getattr__`` returns.
    from .errors import DomuNotFoundError as DomuNotFoundError
    from .errors import DomuTimeoutError as DomuTimeoutError
    from .errors import XenError as XenError
    from .facts import DiskBacking as DiskBacking
    from .facts import DomuOverview as DomuOverview
    from .facts import all_domus as all_domus
    from .facts import allDomus as allDomus
    from .facts import domu_block_devices as domu_block_devices
    from .facts import domu_disks as domu_disks
    from .facts import find_domu as find_domu
    from .facts import get_domu as get_domu
    from .facts import is_domu_running as is_domu_running
    from .facts import isDomuRunning as isDomuRunning
    from .facts import list_domains as list_domains
    from .facts import overview as overview
    from .facts import read_domu_config as read_domu_config
    from .facts import running_domus as running_domus
    from .facts import runningDomus as runningDomus
    from .facts import xl_info as xl_info
    from .ops import destroy_domu as destroy_domu
    from .ops import migrate_domu as migrate_domu
    from .ops import pause_domu as pause_domu
    from .ops import reboot_domu as reboot_domu
    from .ops import resize_domu_disk as resize_domu_disk
    from .ops import restore_domu as restore_domu
    from .ops import save_domu as save_domu
    from .ops import shutdown_domu as shutdown_domu
    from .ops import start_all as start_all
    from .ops import start_domu as start_domu
    from .ops import unpause_domu as unpause_domu
    from .ops import wait_until_gone as wait_until_gone
    from .parsers import parse_libxl_domain_config as parse_libxl_domain_config
    from .parsers import parse_xl_info as parse_xl_info
    from .parsers import parse_xl_list as parse_xl_list
    from .parsers import parse_xl_list_long as parse_xl_list_long
    from .parsers import parse_xl_uptime as parse_xl_uptime
    from .types import DiskAccess as DiskAccess
    from .types import DiskSpec as DiskSpec
    from .types import Domain as Domain
    from .types import DomainDetails as DomainDetails
    from .types import DomainStatus as DomainStatus
    from .types import DomU as DomU
    from .types import RestoredDomu as RestoredDomu
    from .types import SavedDomu as SavedDomu
    from .types import StartedDomu as StartedDomu
    from .types import StoppedDomu as StoppedDomu
    from .types import Uptime as Uptime
    from .types import VifSpec as VifSpec
    from .types import XlConfig as XlConfig
    from .types import XlInfo as XlInfo
    from .xlcfg import parse_disk_spec as parse_disk_spec
    from .xlcfg import parse_domu_config as parse_domu_config
    from .xlcfg import parse_vif_spec as parse_vif_spec
    from .xlcfg import parse_xl_config as parse_xl_config

    # the seed's names and other aliases: ``import x as y`` is re-exported only through ``__all__``
    __all__ += ["startDomu", "destroyDomu", "shutdownDomu", "reboot", "rebootDomu", "pause", "pauseDomu", "unpause",
        "unpauseDomu", "save", "saveDomu", "restore", "restoreDomu", "migrate", "migrateDomu", "startAll",
        "startAllDomus", "resizeDomuDisk"]
    from .ops import destroy_domu as destroyDomu
    from .ops import migrate_domu as migrate
    from .ops import migrate_domu as migrateDomu
    from .ops import pause_domu as pause
    from .ops import pause_domu as pauseDomu
    from .ops import reboot_domu as reboot
    from .ops import reboot_domu as rebootDomu
    from .ops import resize_domu_disk as resizeDomuDisk
    from .ops import restore_domu as restore
    from .ops import restore_domu as restoreDomu
    from .ops import save_domu as save
    from .ops import save_domu as saveDomu
    from .ops import shutdown_domu as shutdownDomu
    from .ops import start_all as startAll
    from .ops import start_all as startAllDomus
    from .ops import start_domu as startDomu
    from .ops import unpause_domu as unpause
    from .ops import unpause_domu as unpauseDomu


__getattr__, __dir__ = lazy_api(__name__, _API)  # the API loads on first use (pybofh_core.lazy)
