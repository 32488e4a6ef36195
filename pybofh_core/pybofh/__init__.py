"""The public face of pybofh: ``from pybofh import lvm, xen, blockdevice, Atomic, AtomicOperationSequence``.

Plugin names resolve to the installed plugin that registered them (``blockdevice`` and ``encryption``, the seed's
names, are accepted for ``blockdev`` and ``crypt``); nothing is imported until it is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pybofh_core.lazy import lazy_api

__version__ = "0.1.0"

if TYPE_CHECKING:
    # What ``__getattr__`` resolves lazily, spelled out for type checkers (nothing of it is imported at run time).
    # A plugin may not be installed: its import is then ``Any`` rather than an error (``unused-ignore``: it is).
    import pybofh_blockdev  # type: ignore[import-not-found, unused-ignore]
    import pybofh_btrfs  # type: ignore[import-not-found, unused-ignore]
    import pybofh_crypt  # type: ignore[import-not-found, unused-ignore]
    import pybofh_drbd  # type: ignore[import-not-found, unused-ignore]
    import pybofh_lvm  # type: ignore[import-not-found, unused-ignore]
    import pybofh_ssh  # type: ignore[import-not-found, unused-ignore]
    import pybofh_xen  # type: ignore[import-not-found, unused-ignore]
    from pybofh_core.atomic import Atomic as Atomic
    from pybofh_core.atomic import AtomicOperationSequence as AtomicOperationSequence
    from pybofh_core.errors import CommandError as CommandError
    from pybofh_core.errors import HostUnreachableError as HostUnreachableError
    from pybofh_core.errors import IrreversibleOperationError as IrreversibleOperationError
    from pybofh_core.errors import NotFoundError as NotFoundError
    from pybofh_core.errors import ParseError as ParseError
    from pybofh_core.errors import PybofhError as PybofhError
    from pybofh_core.errors import RollbackError as RollbackError
    from pybofh_core.errors import ToolUnavailableError as ToolUnavailableError
    from pybofh_core.errors import ValidationError as ValidationError
    from pybofh_core.runner import use_runner as use_runner
    from pybofh_core.secret import Secret as Secret
    from pybofh_core.session import get_settings as get_settings
    from pybofh_core.settings import Settings
    from pybofh_ssh.fanout import fan_out as fan_out  # type: ignore[import-not-found, unused-ignore]
    from pybofh_ssh.runner import on_host as on_host  # type: ignore[import-not-found, unused-ignore]

    # the plugins, by their names and the seed's (assignments, so that ``from pybofh import lvm`` is a re-export)
    blockdev = pybofh_blockdev
    blockdevice = pybofh_blockdev
    btrfs = pybofh_btrfs
    crypt = pybofh_crypt
    encryption = pybofh_crypt
    drbd = pybofh_drbd
    lvm = pybofh_lvm
    ssh = pybofh_ssh
    xen = pybofh_xen
    settings: Settings

_CORE = {
    "Atomic": "pybofh_core.atomic",
    "AtomicOperationSequence": "pybofh_core.atomic",
    "Secret": "pybofh_core.secret",
    "get_settings": "pybofh_core.session",
    "use_runner": "pybofh_core.runner",
    "PybofhError": "pybofh_core.errors",
    "CommandError": "pybofh_core.errors",
    "ValidationError": "pybofh_core.errors",
    "NotFoundError": "pybofh_core.errors",
    "ParseError": "pybofh_core.errors",
    "RollbackError": "pybofh_core.errors",
    "IrreversibleOperationError": "pybofh_core.errors",
    "ToolUnavailableError": "pybofh_core.errors",
    "HostUnreachableError": "pybofh_core.errors",
}
#: names re-exported from a plugin's own API (``pybofh.on_host`` is ``pybofh.ssh.on_host``): found through the plugin
#: host like ``pybofh.lvm``, so the core names no plugin module
_FROM_PLUGINS = {"on_host": "ssh", "fan_out": "ssh"}


def _from_plugin_host(name: str) -> Any:
    """What is looked up at every access, never cached (the plugin host and settings can change while the process
    runs): ``settings``, a plugin's re-export (``on_host``) and a plugin by its name; AttributeError when missing."""
    if name == "settings":
        from pybofh_core.session import get_settings

        return get_settings()
    from pybofh_core.errors import NotFoundError, PybofhError
    from pybofh_core.session import get_plugins

    if name in _FROM_PLUGINS:
        plugin = _FROM_PLUGINS[name]
        try:
            return getattr(get_plugins().plugin(plugin), name)
        except PybofhError as exc:
            raise AttributeError(f"pybofh.{name} is the {plugin} plugin's: {exc}") from None
    try:
        return get_plugins().plugin(name)
    except NotFoundError as exc:
        raise AttributeError(str(exc)) from None


def _dynamic_names() -> list[str]:
    """``dir(pybofh)`` beyond ``_CORE``: the names ``_from_plugin_host`` answers, installed plugins included."""
    from pybofh_core.session import get_plugins

    return [*_FROM_PLUGINS, "settings", *(i.name for i in get_plugins().list())]


# ``_CORE`` names are cached once imported; the rest goes through the plugin host at every access
__getattr__, __dir__ = lazy_api(__name__, _CORE, package="", fallback=_from_plugin_host, extra_names=_dynamic_names)
