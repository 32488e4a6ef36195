"""Plugin discovery: stevedore finds the ``pybofh.plugins`` entry points, pluggy holds them under our hookspecs.

A plugin that fails to import is recorded with its error (``bofh plugins`` shows it) and the others still load;
``PYBOFH_STRICT_PLUGINS=1`` turns load errors into exceptions for plugin authors. A hook implementation whose name
is no pybofh hook (a misspelling) is a load error of its plugin, found before it registers anything.
``PYBOFH_PLUGINS=lvm,blockdev`` loads only the plugins it names and ``PYBOFH_DISABLE_PLUGINS=xen`` none it names;
a plugin left out is not even imported, and ``bofh plugins`` lists it as disabled. What a full discovery found is kept
in the discovery cache (``pybofh_core.entrypoints``); while the installed distributions are unchanged, later
processes import the recorded plugin modules directly instead of scanning entry points with stevedore, and
``bofh --help`` lists the plugins' CLI groups from the cache without importing pluggy or any plugin.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FunctionType, ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Any

from .entrypoints import ALIASES, canonical_name, disabled_reason
from .errors import NotFoundError, PluginError

if TYPE_CHECKING:
    import pluggy

    from .operations import OperationRegistry

log = logging.getLogger("pybofh.plugins")
__all__ = ["ALIASES", "PLUGIN_GROUP", "PluginHost", "PluginInfo", "Plugins", "canonical_name"]

PLUGIN_GROUP = "pybofh.plugins"


@dataclass
class PluginInfo:
    """One plugin as ``bofh plugins`` shows it."""

    name: str
    target: str
    distribution: str | None = None
    version: str | None = None
    error: str | None = None
    module: ModuleType | Any | None = None
    #: Names of the CLI groups this plugin registered (for the discovery cache).
    cli: list[str] = field(default_factory=list)
    #: Why it was left out (``PYBOFH_PLUGINS``, ``PYBOFH_DISABLE_PLUGINS``); it was not imported.
    disabled: str | None = None

    @property
    def loaded(self) -> bool:
        """Whether the plugin imported and registered."""
        return self.error is None and self.module is not None

    def to_json(self) -> dict[str, Any]:
        """Plain dict for ``--json``."""
        return {
            "name": self.name,
            "target": self.target,
            "distribution": self.distribution,
            "version": self.version,
            "loaded": self.loaded,
            "error": self.error,
            "disabled": self.disabled,
        }

    @property
    def status(self) -> str:
        """``ok``, ``disabled: why`` or ``error: why``, as ``bofh plugins`` and ``bofh --version`` show it."""
        if self.disabled:
            return f"disabled: {self.disabled}"
        return "ok" if self.loaded else f"error: {self.error}"


class Plugins:
    """The plugins of one process: discovered plugins, their hooks, operations, settings and CLI apps (the session's,
    ``pybofh_core.session.get_plugins()``; one of its own for tests and embedding)."""

    def __init__(self, *, discover: bool = True) -> None:
        import pluggy

        from . import hookspecs
        from .cli_registry import CliRegistry
        from .operations import OperationRegistry
        from .settings import SettingsRegistry

        self.pm: pluggy.PluginManager = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.operations: OperationRegistry = OperationRegistry()
        self.settings_registry = SettingsRegistry()
        self.cli = CliRegistry()
        self.infos: dict[str, PluginInfo] = {}
        hook = self.pm.hook
        hook.pybofh_register_operations.call_historic(kwargs={"registry": self.operations})
        hook.pybofh_register_settings.call_historic(kwargs={"registry": self.settings_registry})
        hook.pybofh_register_cli.call_historic(kwargs={"registry": self.cli})
        if discover:
            self.discover()

    def discover(self) -> None:
        """Load every ``pybofh.plugins`` entry point; record (or, in strict mode, raise) load failures.

        The entry points come from the discovery cache when it is still true for the installed distributions,
        else from stevedore's scan, whose result is then cached.
        """
        from . import entrypoints

        strict = os.environ.get("PYBOFH_STRICT_PLUGINS", "") not in ("", "0")
        allowed, blocked = entrypoints.selection()
        cached = entrypoints.load()
        if cached is not None:
            self._discover_cached(cached["plugins"], strict)
        elif allowed is not None or blocked:
            self._discover_selected(strict)  # a selection must not import the plugins it leaves out: no stevedore
        else:
            found = self._discover_entry_points(strict)
            entrypoints.store([self._cache_record(name) for name in found])
        self._load_extra(os.environ.get("PYBOFH_EXTRA_PLUGINS", ""), strict)
        for variable, names in (("PYBOFH_PLUGINS", allowed or set()), ("PYBOFH_DISABLE_PLUGINS", blocked)):
            for unknown in sorted(names - set(self.infos)):
                log.warning("%s names %r, which is not an installed plugin (installed: %s)", variable, unknown,
                            ", ".join(sorted(self.infos)) or "none")
        self._check_pending(strict)

    def _check_pending(self, strict: bool) -> None:
        """pluggy's last word after discovery: no hook implementation without a hook (``register`` has already
        refused a plugin with one, so this only fires for plugins put into the plugin manager by other means)."""
        import pluggy

        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            if strict:
                raise PluginError(str(exc)) from exc
            log.warning("%s", exc)

    def _add(self, plugin: Any, info: PluginInfo, strict: bool) -> None:
        """Register ``plugin`` as ``info.name``; a failure is recorded in ``info`` (raised in strict mode)."""
        try:
            self.register(plugin, info.name, info=info)
        except Exception as exc:
            if strict:
                raise
            self._failed(info, exc, "register")

    def _load_and_add(self, info: PluginInfo, load: Callable[[], Any], strict: bool) -> None:
        """Import the plugin with ``load()`` and register it; a failure of either is recorded in ``info`` (raised in
        strict mode)."""
        try:
            plugin = load()
        except Exception as exc:
            if strict:
                raise PluginError(f"plugin {info.name} failed to load: {exc}") from exc
            self._failed(info, exc, "load")
            return
        self._add(plugin, info, strict)

    def _failed(self, info: PluginInfo, exc: BaseException, what: str) -> None:
        info.error = f"{type(exc).__name__}: {exc}"
        info.module = None
        self.infos[info.name] = info
        log.warning("plugin %s failed to %s: %s", info.name, what, exc)

    def _disabled(self, info: PluginInfo) -> bool:
        """Record ``info`` as left out when the selection leaves it out; whether it did."""
        info.disabled = disabled_reason(info.name)
        if info.disabled:
            self.infos[info.name] = info
        return info.disabled is not None

    def _discover_selected(self, strict: bool) -> None:
        """Import and register only the selected entry-point plugins (read with ``importlib.metadata``); the
        result is not cached, as it is not what is installed."""
        from importlib.metadata import entry_points

        for entrypoint in entry_points(group=PLUGIN_GROUP):
            info = PluginInfo(entrypoint.name, entrypoint.value, *_dist_of(entrypoint))
            if not self._disabled(info):
                self._load_and_add(info, entrypoint.load, strict)

    def _discover_cached(self, records: list[dict[str, Any]], strict: bool) -> None:
        """Import and register the plugins the discovery cache lists (no entry-point scan)."""
        from .entrypoints import load_target

        for rec in records:
            info = PluginInfo(rec["name"], rec["target"], rec["distribution"], rec["version"])
            if not self._disabled(info):
                self._load_and_add(info, functools.partial(load_target, rec["target"]), strict)

    def _cache_record(self, name: str) -> dict[str, Any]:
        """What the discovery cache keeps of entry-point plugin ``name`` (its CLI groups only if all are paths)."""
        from .entrypoints import module_origin

        info = self.infos[name]
        origin, mtime = module_origin(info.module) if info.loaded else (None, -1)
        entries = [self.cli.entries[n] for n in info.cli if n in self.cli.entries]
        cli: list[dict[str, str]] | None = [{"name": e.name, "app": e.app, "help": e.help} for e in entries]
        if any(not isinstance(e.app, str) for e in entries) or (info.loaded and origin is None):
            cli = None  # an app object (not an import path) cannot be listed without importing the plugin
        return {"name": name, "target": info.target, "distribution": info.distribution, "version": info.version,
                "origin": origin, "mtime": mtime, "cli": cli}

    def _discover_entry_points(self, strict: bool) -> list[str]:
        """Scan the entry points with stevedore and load them; returns the names found."""
        from stevedore import extension

        failures: list[tuple[Any, BaseException]] = []

        def on_failure(_mgr: Any, entrypoint: Any, exc: BaseException) -> None:
            failures.append((entrypoint, exc))

        mgr = extension.ExtensionManager(PLUGIN_GROUP, invoke_on_load=False, on_load_failure_callback=on_failure)
        for ext in mgr:
            dist, version = _dist_of(ext.entry_point)
            self._add(ext.plugin, PluginInfo(ext.name, ext.entry_point.value, dist, version), strict)
        names = [ext.name for ext in mgr]
        for entrypoint, error in failures:
            if strict:
                raise PluginError(f"plugin {entrypoint.name} failed to load: {error}") from error
            dist, version = _dist_of(entrypoint)
            self.infos[entrypoint.name] = PluginInfo(
                entrypoint.name, entrypoint.value, dist, version, error=f"{type(error).__name__}: {error}"
            )
            log.warning("plugin %s failed to load: %s", entrypoint.name, error)
            names.append(entrypoint.name)
        return names

    def _load_extra(self, spec: str, strict: bool) -> None:
        """Load site plugins named in ``PYBOFH_EXTRA_PLUGINS`` (``name=module,…``), like installed ones."""
        import importlib

        for item in filter(None, (p.strip() for p in spec.split(","))):
            name, sep, target = item.partition("=")
            if not sep:
                name, target = item.rsplit(".", 1)[-1], item
            info = PluginInfo(name, target, distribution="(PYBOFH_EXTRA_PLUGINS)")
            if self._disabled(info):
                continue
            try:
                module = importlib.import_module(target)
                info.version = _version_of(module)
                self.register(module, name, info=info)
            except Exception as exc:
                if strict:
                    raise PluginError(f"plugin {name} failed to load: {exc}") from exc
                self._failed(info, exc, "load")

    def register(self, plugin: Any, name: str, *, info: PluginInfo | None = None) -> None:
        """Register a plugin object (module or instance) under ``name``; historic hooks are replayed for it."""
        if name in self.infos and self.infos[name].loaded:
            if self.infos[name].module is plugin:
                return  # the same module found twice (entry point and PYBOFH_EXTRA_PLUGINS)
            raise PluginError(
                f"two plugins are named {name!r}: {self.infos[name].target} and {getattr(plugin, '__name__', plugin)}"
            )
        info = info or PluginInfo(name, getattr(plugin, "__name__", repr(plugin)))
        hooks = _hooks_of(plugin)
        _check_hooks(hooks, name)  # before pm.register: a plugin with a misspelt hook registers nothing
        before = set(self.cli.entries)
        self.pm.register(hooks, name=name)
        info.cli = [n for n in self.cli.entries if n not in before]
        info.module = plugin
        self.infos[name] = info

    def unregister(self, name: str) -> None:
        """Remove a plugin registered under ``name`` (its registered operations stay; used by test fixtures)."""
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin, name=name)
        self.infos.pop(name, None)

    def plugin(self, name: str) -> Any:
        """The loaded plugin module registered as ``name`` (seed aliases accepted)."""
        name = canonical_name(name)
        info = self.infos.get(name)
        if info is None:
            known = ", ".join(sorted(self.infos)) or "none"
            raise NotFoundError(f"no pybofh plugin named {name!r} is installed (installed: {known})")
        if info.disabled:
            raise PluginError(f"plugin {name!r} is installed but disabled: {info.disabled}")
        if not info.loaded:
            raise PluginError(f"plugin {name!r} is installed but failed to load: {info.error}")
        return info.module

    def list(self) -> list[PluginInfo]:
        """All discovered plugins, loaded or not, by name."""
        return [self.infos[k] for k in sorted(self.infos)]

    def emit(self, event: str, journal_id: str | None, step: dict[str, Any]) -> None:
        """Call every ``pybofh_on_atomic_event`` implementation; one that raises is logged and the others still run."""
        kwargs = {"event": event, "journal_id": journal_id, "step": step}
        for impl in reversed(self.pm.hook.pybofh_on_atomic_event.get_hookimpls()):
            try:
                impl.function(*(kwargs[a] for a in impl.argnames))
            except Exception:
                log.exception("pybofh_on_atomic_event(%s) failed in plugin %s", event, impl.plugin_name)


#: The attribute ``pybofh_core.hookimpl`` (pluggy's HookimplMarker of project "pybofh") sets on a function.
_IMPL_MARK = "pybofh_impl"


def _hooks_of(plugin: Any) -> Any:
    """What pluggy should scan for hookimpls: for a module, only its own ``pybofh_*`` globals and functions marked
    ``@hookimpl`` (a marked function under another name is a misspelt hook, which ``_check_hooks`` reports).

    pluggy looks at every name in ``dir(plugin)``; a plugin module whose lazy ``__getattr__``/``__dir__`` re-export
    its API would otherwise have all of its heavy modules imported at start-up.
    """
    if isinstance(plugin, ModuleType):
        hooks = SimpleNamespace(**{k: v for k, v in vars(plugin).items() if k.startswith("pybofh_")
                                   or (isinstance(v, FunctionType) and hasattr(v, _IMPL_MARK))})
        hooks.__name__ = plugin.__name__  # type: ignore[attr-defined]
        return hooks
    return plugin


def _check_hooks(hooks: Any, name: str) -> None:
    """Raise PluginError when ``hooks`` marks as ``@hookimpl`` a function whose hook pybofh does not have: pluggy's
    ``check_pending()`` for one plugin, before it registers anything (a misspelt hook would otherwise never be
    called, silently)."""
    import difflib

    from . import hookspecs

    known = sorted(k for k, v in vars(hookspecs).items() if hasattr(v, "pybofh_spec"))
    for attr in dir(hooks):
        if attr.startswith("__"):
            continue
        opts = getattr(getattr(hooks, attr, None), _IMPL_MARK, None)
        if not isinstance(opts, dict):
            continue
        hook = opts.get("specname") or attr
        if hook not in known:
            close = difflib.get_close_matches(hook, known, n=1)
            hint = f"; did you mean {close[0]}?" if close else f"; the hooks are {', '.join(known)}"
            raise PluginError(f"plugin {name}: {attr} is marked @hookimpl but pybofh has no hook {hook!r}{hint}")


def _dist_of(entrypoint: Any) -> tuple[str | None, str | None]:
    """Distribution name and version that declared ``entrypoint`` (stevedore's cached entry points lack ``dist``)."""
    from importlib import metadata

    dist = getattr(entrypoint, "dist", None)
    try:
        if dist is None:
            top = entrypoint.value.split(":", 1)[0].split(".", 1)[0]
            names = _packages_distributions().get(top) or []
            if not names:
                return None, None
            dist = metadata.distribution(names[0])
        return dist.metadata["Name"], dist.version
    except Exception:  # noqa: BLE001 - broken metadata must not break listing
        return getattr(dist, "name", None), None


def _version_of(module: Any) -> str | None:
    """A site plugin's version (``PYBOFH_EXTRA_PLUGINS``): its ``__version__``, else its distribution's, else None."""
    version = getattr(module, "__version__", None)
    if isinstance(version, str):
        return version
    from importlib import metadata

    names = _packages_distributions().get(getattr(module, "__name__", "").split(".", 1)[0]) or []
    try:
        return metadata.version(names[0]) if names else None
    except Exception:  # noqa: BLE001 - broken metadata must not break loading
        return None


_PKG_DISTS: list[dict[str, list[str]]] = []


def _packages_distributions() -> dict[str, list[str]]:
    if not _PKG_DISTS:
        from importlib import metadata

        _PKG_DISTS.append(dict(metadata.packages_distributions()))
    return _PKG_DISTS[0]


#: The former name of ``Plugins`` ("host" means an SSH host everywhere else in pybofh).
PluginHost = Plugins
