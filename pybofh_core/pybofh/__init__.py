"""The public face of pybofh: ``from pybofh import lvm, xen, blockdevice, Atomic, AtomicOperationSequence``.

Plugin names resolve to the installed plugin that registered them (``blockdevice`` and ``encryption``, the seed's
names, are accepted for ``blockdev`` and ``crypt``); nothing is imported until it is asked for.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_CORE = {
    "Atomic": "pybofh_core.atomic",
    "AtomicOperationSequence": "pybofh_core.atomic",
    "Secret": "pybofh_core.secret",
    "get_settings": "pybofh_core.settings",
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
    "on_host": "pybofh_ssh.runner",
    "fan_out": "pybofh_ssh.fanout",
}


def __getattr__(name: str) -> Any:
    if name in _CORE:
        try:
            module = import_module(_CORE[name])
        except ModuleNotFoundError:
            raise AttributeError(f"pybofh.{name} needs the plugin pybofh-ssh: pip install pybofh-ssh") from None
        return getattr(module, name)
    if name == "settings":
        from pybofh_core.settings import get_settings

        return get_settings()
    if name.startswith("_"):
        raise AttributeError(name)
    from pybofh_core.errors import NotFoundError
    from pybofh_core.plugins import get_host

    try:
        return get_host().plugin(name)
    except NotFoundError as exc:
        raise AttributeError(str(exc)) from None


def __dir__() -> list[str]:
    from pybofh_core.plugins import get_host

    return sorted([*_CORE, "settings", *(i.name for i in get_host().list())])
