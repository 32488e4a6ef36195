"""The session: the one module that wires a process together — its plugins (with their operations, settings
namespaces and CLI groups), its settings, and where its journal and object locks live.

Modules below this one take what they need as arguments (``Journal(directory)``, ``ObjectLocks(directory=...)``,
``Atomic(registry=...)``, ``Undo.to_json(registry)``, ``status.collect(plugins)``); only this module and the ones
above it (atomic blocks, the CLI, the ``pybofh`` facade) look up the process's plugins and settings. So nothing at
the bottom of the core reaches up, and serialising or replaying an undo imports only the plugin it names.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from . import settings as _settings
from .plugins import Plugins
from .settings import Settings, configure, reset_settings

if TYPE_CHECKING:
    from .journal import Journal

_plugins: list[Plugins] = []
_lock = threading.Lock()
_validated: list[Settings] = []


def get_plugins() -> Plugins:
    """The process's plugins, discovered on first use."""
    if not _plugins:
        with _lock:
            if not _plugins:
                _plugins.append(Plugins())
    return _plugins[0]


def peek_plugins() -> Plugins | None:
    """The process's plugins if they were already discovered (never triggers discovery)."""
    return _plugins[0] if _plugins else None


def set_plugins(plugins: Plugins | None) -> None:
    """Replace (or forget, with None) the process's plugins; for tests and embedding."""
    with _lock:
        _plugins.clear()
        if plugins is not None:
            _plugins.append(plugins)


def _plugin_namespace(ns: str) -> type | None:
    """A settings namespace declared by a plugin (discovering the plugins on first use)."""
    return get_plugins().settings_registry.namespaces.get(ns)


_settings.use_namespaces(_plugin_namespace)


def get_settings() -> Settings:
    """The process's settings: ``core`` and every plugin's namespace (``get_settings().xen.domu_config_dirs``).

    Settings first built before a plugin namespace could be asked for (a runner reads only ``core``) have their
    plugin sections checked here, once, as a fresh build would.
    """
    current = _settings.current()
    if not any(s is current for s in _validated):
        current.validate()
        _validated[:] = [current]
    return current


def journal_dir() -> Path:
    """Where this process's atomic blocks journal (``core.journal_dir``, else the default for this user)."""
    from .journal import default_journal_dir

    configured = _settings.current().core.journal_dir
    return Path(configured) if configured else default_journal_dir()


def journal() -> Journal:
    """The process's journal (``bofh journal`` reads this one)."""
    from .journal import Journal

    return Journal(journal_dir())


def lock_dir() -> Path:
    """Where object locks live (``core.lock_dir``)."""
    return Path(_settings.current().core.lock_dir)


#: Former names ("host" means an SSH host everywhere else in pybofh).
get_host = get_plugins
peek_host = peek_plugins
set_host = set_plugins

__all__ = ["configure", "get_host", "get_plugins", "get_settings", "journal", "journal_dir", "lock_dir",
           "peek_host", "peek_plugins", "reset_settings", "set_host", "set_plugins"]
