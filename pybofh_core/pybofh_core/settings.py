"""Typed settings declared by plugins, read from TOML files, ``PYBOFH_*`` variables, ``--config`` and overrides.

Replaces the seed's ``site_specific.py``. Each plugin declares a namespace with a dataclass of defaults:

    @dataclass
    class XenSettings:
        domu_config_dirs: list[Path] = field(default_factory=lambda: [Path("/etc/xen")])

and reads ``pybofh_core.session.get_settings().xen.domu_config_dirs``. Later sources win:
``/etc/pybofh/config.toml``, the user's
``$XDG_CONFIG_HOME/pybofh/config.toml``, ``PYBOFH_<NS>__<KEY>`` (core keys also as ``PYBOFH_<KEY>``), the file
given by ``--config`` (or ``PYBOFH_CONFIG``), then ``Settings.override()`` scopes. Any other ``PYBOFH_*`` variable
is a typo as far as pybofh can tell (a setting that would silently not apply): it is warned about once per process.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import difflib
import json
import logging
import os
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .errors import SettingsError

SYSTEM_CONFIG = Path("/etc/pybofh/config.toml")
#: PYBOFH_* variables that are not settings: read by the core and the plugin loader
VARIABLES = frozenset({"PYBOFH_CONFIG", "PYBOFH_STRICT_PLUGINS", "PYBOFH_EXTRA_PLUGINS", "PYBOFH_NO_PLUGIN_CACHE",
                       "PYBOFH_CACHE_DIR", "PYBOFH_PLUGINS", "PYBOFH_DISABLE_PLUGINS"})
#: ... and the prefixes of those that the project's test beds, fuzzing and benchmarks read (tests/vm/README.md …)
TOOLING_PREFIXES = ("PYBOFH_VM_", "PYBOFH_XEN_VM_", "PYBOFH_IN_VM", "PYBOFH_FUZZ_", "PYBOFH_CORPUS",
                    "PYBOFH_BENCH_", "PYBOFH_ANSIBLE_", "PYBOFH_BLIVET_")
log = logging.getLogger("pybofh.settings")
_warned: set[str] = set()


@dataclasses.dataclass
class CoreSettings:
    """Settings of pybofh itself (namespace ``core``)."""

    journal_dir: Path | None = None
    """Where atomic blocks journal their steps (default /var/lib/pybofh/journal for root)."""
    runner: str = "local"
    """The runner transport commands go through (``pybofh.runners`` entry point name)."""
    command_timeout: float | None = 600.0
    """Seconds after which a read-only command is killed and reported as failed (None: never)."""
    mutating_command_timeout: float | None = None
    """Seconds after which a command that changes the system is killed (None, the default: never — killing mkfs,
    resize2fs, lvresize or cryptsetup mid-write can destroy data; a heartbeat is logged instead)."""
    heartbeat_interval: float = 60.0
    """While a command runs longer than this many seconds, a line saying so is logged every interval."""
    mountpool_lock_dir: Path = Path("/run/lock/pybofh")
    """Directory holding MountPool slot locks shared between processes."""
    lock_dir: Path = Path("/run/lock/pybofh/objects")
    """Directory of the per-object locks atomic blocks hold (two jobs never change one object at once)."""



class SettingsRegistry:
    """Namespaces declared through ``pybofh_register_settings``: name → dataclass type."""

    def __init__(self) -> None:
        self.namespaces: dict[str, type] = {"core": CoreSettings}

    def add(self, namespace: str, schema: type) -> None:
        """Declare namespace ``namespace`` whose keys and defaults are the fields of dataclass ``schema``."""
        if not dataclasses.is_dataclass(schema):
            raise SettingsError(f"settings of {namespace!r} must be a dataclass")
        if namespace in self.namespaces and self.namespaces[namespace] is not schema:
            raise SettingsError(f"two plugins declare the settings namespace {namespace!r}")
        self.namespaces[namespace] = schema


def coerce(value: Any, tp: Any, where: str) -> Any:
    """Convert a TOML/env value to the declared field type, or raise SettingsError naming ``where``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, where)
            except SettingsError as exc:
                errors.append(str(exc))
        raise SettingsError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin in (list, tuple, set, frozenset):
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise SettingsError(f"{where}: {exc}") from None
            else:
                value = [v for v in text.replace(os.pathsep, ",").split(",") if v]
        if not isinstance(value, (list, tuple)):
            raise SettingsError(f"{where}: expected a list, got {value!r}")
        inner = args[0] if args else str
        items = [coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
        return origin(items) if origin is not list else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise SettingsError(f"{where}: expected a table, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        raise SettingsError(f"{where}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise SettingsError(f"{where}: expected an integer, got {value!r}")
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{where}: expected an integer, got {value!r}") from None
    if tp is float:
        if isinstance(value, bool):
            raise SettingsError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{where}: expected a number, got {value!r}") from None
    if tp is str:
        if not isinstance(value, str):
            raise SettingsError(f"{where}: expected a string, got {value!r}")
        return value
    if tp is Path:
        if not isinstance(value, (str, Path)) or not str(value):
            raise SettingsError(f"{where}: expected a path, got {value!r}")
        return Path(os.path.expanduser(str(value)))
    if tp is Any:
        return value
    if isinstance(tp, type) and issubclass(tp, (str, int)):  # enums and str/int subclasses
        try:
            return tp(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{where}: bad value {value!r}") from None
    return value


def _field_types(schema: type) -> dict[str, Any]:
    hints = typing.get_type_hints(schema)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(schema)}


def user_config_path() -> Path:
    """The user's config file, ``$XDG_CONFIG_HOME/pybofh/config.toml``."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return Path(base) / "pybofh" / "config.toml"


def read_toml(path: Path) -> dict[str, Any]:
    """Parse one TOML config file; a syntax error is a SettingsError naming the file."""
    import tomllib  # only where a config file exists: most runs have none

    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: {exc}") from None
    except OSError as exc:
        raise SettingsError(f"cannot read config file {path}: {exc.strerror}") from None


def _warn_unknown(key: str, core_keys: set[str]) -> None:
    """Say once per process that ``key`` means nothing to pybofh, naming the closest known variable."""
    if key in _warned:
        return
    _warned.add(key)
    known = sorted(VARIABLES | {f"PYBOFH_{k.upper()}" for k in core_keys})
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    log.warning("pybofh: %s is not a pybofh setting or variable and is ignored (%ssettings of a plugin are "
                "PYBOFH_<PLUGIN>__<KEY>)", key, hint)


class Settings:
    """Resolved settings: ``settings.core.journal_dir``, ``settings.xen.domu_config_dirs``…"""

    def __init__(
        self,
        registry: SettingsRegistry,
        *,
        files: list[Path] | None = None,
        environ: Mapping[str, str] | None = None,
        config_file: Path | None = None,
    ) -> None:
        self._registry = registry
        self._layers: list[tuple[str, dict[str, dict[str, Any]]]] = []
        environ = os.environ if environ is None else environ
        for path in files if files is not None else [SYSTEM_CONFIG, user_config_path()]:
            if path.is_file():
                self._layers.append((str(path), read_toml(path)))
        self._layers.append(("environment", self._from_env(environ)))
        config_file = config_file or (Path(environ["PYBOFH_CONFIG"]) if environ.get("PYBOFH_CONFIG") else None)
        if config_file is not None:
            if not config_file.is_file():
                raise SettingsError(f"config file {config_file} does not exist")
            self._layers.append((str(config_file), read_toml(config_file)))
        self._overrides: contextvars.ContextVar[tuple[dict[str, dict[str, Any]], ...]] = contextvars.ContextVar(
            f"pybofh_overrides_{id(self)}", default=()
        )
        self._cache: dict[str, Any] = {}
        self.validate()

    def _from_env(self, environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        core_keys = {f.name for f in dataclasses.fields(CoreSettings)}
        for key, value in environ.items():
            if not key.startswith("PYBOFH_") or key in VARIABLES or key.startswith(TOOLING_PREFIXES):
                continue
            rest = key[len("PYBOFH_") :].lower()
            if "__" in rest:
                ns, _, name = rest.partition("__")  # a namespace of no plugin here is left alone, like TOML's
            elif rest in core_keys:
                ns, name = "core", rest
            else:
                _warn_unknown(key, core_keys)
                continue
            out.setdefault(ns, {})[name] = value
        return out

    def validate(self) -> None:
        """Check every key of every layer against the declared namespaces (unknown namespaces are left alone)."""
        for source, layer in self._layers:
            for ns, values in layer.items():
                schema = self._registry.namespaces.get(ns)
                if schema is None:
                    continue  # a plugin that is not installed here
                if not isinstance(values, Mapping):
                    raise SettingsError(f"{source}: [{ns}] must be a table")
                types_ = _field_types(schema)
                for key, value in values.items():
                    if key not in types_:
                        raise SettingsError(
                            f"{source}: unknown setting {ns}.{key} (known: {', '.join(sorted(types_))})"
                        )
                    coerce(value, types_[key], f"{source}: {ns}.{key}")

    def namespace(self, ns: str) -> Any:
        """The resolved dataclass instance of namespace ``ns``."""
        schema = self._registry.namespaces.get(ns)
        if schema is None:
            raise AttributeError(f"no settings namespace {ns!r} (is its plugin installed?)")
        overrides = self._overrides.get()
        key = ns if not overrides else None
        if key is not None and key in self._cache:
            return self._cache[key]
        types_ = _field_types(schema)
        values: dict[str, Any] = {}
        for source, layer in [*self._layers, *(("override", o) for o in overrides)]:
            for name, value in layer.get(ns, {}).items():
                values[name] = coerce(value, types_[name], f"{source}: {ns}.{name}")
        obj = schema(**values)
        if key is not None:
            self._cache[key] = obj
        return obj

    def __getattr__(self, ns: str) -> Any:
        if ns.startswith("_"):
            raise AttributeError(ns)
        return self.namespace(ns)

    @contextlib.contextmanager
    def override(self, **values: Any) -> Iterator[Settings]:
        """Override settings inside a ``with`` block: ``override(xen__domu_config_dirs=[...], core__runner="ssh")``."""
        layer: dict[str, dict[str, Any]] = {}
        for key, value in values.items():
            ns, sep, name = key.partition("__")
            if not sep:
                ns, name = "core", key
            schema = self._registry.namespaces.get(ns)
            if schema is None:
                raise SettingsError(f"override {key}: no settings namespace {ns!r}")
            types_ = _field_types(schema)
            if name not in types_:
                raise SettingsError(f"override {key}: unknown setting {ns}.{name}")
            layer.setdefault(ns, {})[name] = coerce(value, types_[name], f"override {key}")
        token = self._overrides.set((*self._overrides.get(), layer))
        try:
            yield self
        finally:
            self._overrides.reset(token)

    def sources(self) -> list[str]:
        """Where values came from, lowest priority first (files, environment, --config)."""
        return [s for s, _ in self._layers]


_settings: list[Settings] = []
_config_file: list[Path] = []


def current() -> Settings:
    """The process's settings, built on first use from the config sources: the ``core`` namespace always, the
    plugins' once the session has given its namespace source (``pybofh_core.session.get_settings()`` does)."""
    if not _settings:
        _settings.append(Settings(_NAMESPACES, config_file=_config_file[0] if _config_file else None))  # type: ignore[arg-type]
    return _settings[0]


class _Namespaces:
    """The process's settings namespaces: ``core`` here, the plugins' from the source the session installs (asked
    only when a namespace other than ``core`` is wanted: a command that reads only core settings, as every runner
    does, starts without the plugin machinery)."""

    def __init__(self) -> None:
        self.source: Callable[[str], type | None] | None = None

    @property
    def namespaces(self) -> _Namespaces:
        return self

    def get(self, ns: str, default: type | None = None) -> type | None:
        """The dataclass of namespace ``ns`` (``core`` here; others from the installed source)."""
        if ns == "core":
            return CoreSettings
        found = self.source(ns) if self.source is not None else None
        return default if found is None else found


_NAMESPACES = _Namespaces()


def use_namespaces(source: Callable[[str], type | None]) -> None:
    """Where the process's settings find namespaces other than ``core`` (the session gives its plugins')."""
    _NAMESPACES.source = source


def configure(config_file: Path | None = None) -> Settings:
    """Rebuild the process's settings, optionally adding a ``--config`` file; returns the new settings."""
    _settings.clear()
    _config_file.clear()
    if config_file is not None:
        _config_file.append(config_file)
    return current()


def reset_settings() -> None:
    """Forget the process's settings (tests; the next ``get_settings()`` re-reads everything)."""
    _settings.clear()
    _config_file.clear()
