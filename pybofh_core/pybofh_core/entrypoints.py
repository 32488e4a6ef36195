"""The plugin discovery cache: what the ``pybofh.plugins`` entry points were, so start-up need not scan for them.

Scanning entry points (stevedore + ``importlib.metadata``) and importing every plugin to ask for its CLI groups costs
more than typer's own start-up. After a full discovery, :func:`store` writes what was found (each entry point, its
distribution and version, the module file and its mtime, the CLI groups the plugin registered) to one JSON file in
the per-user cache dir (``$PYBOFH_CACHE_DIR``, else ``$XDG_CACHE_HOME/pybofh``, else ``~/.cache/pybofh``), atomically.
:func:`load` trusts it only while the *fingerprint* of the installed distributions is unchanged — the names and
mtimes of every ``*.dist-info``, ``*.egg-info``, ``*.egg-link`` and ``*.pth`` (and each ``entry_points.txt``) in
every ``sys.path`` directory, plus the interpreter — and each plugin's module file still has its recorded mtime.
A file that is damaged, of another format, not owned by this user or stale is ignored (and rewritten by the next
full discovery). ``PYBOFH_NO_PLUGIN_CACHE=1`` turns the cache off.

This module must stay cheap to import: ``bofh --help`` imports it and nothing of pluggy, stevedore or the plugins.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path
from typing import Any

try:  # hashlib's import loads OpenSSL (2 ms, 3 % of typer's start-up); blake2 is built in
    from _blake2 import blake2b as _hash
except ImportError:  # pragma: no cover - an interpreter built without it
    from hashlib import sha256 as _hash  # type: ignore[assignment]

#: Bumped whenever the file's layout changes; files of another version are ignored.
CACHE_VERSION = 1
GROUP = "pybofh.plugins"
#: The seed's module names, accepted as aliases of the plugin names.
ALIASES = {"blockdevice": "blockdev", "encryption": "crypt"}
#: Names in a ``sys.path`` directory whose appearance, disappearance or change means a distribution changed.
_DIST_SUFFIXES = (".dist-info", ".egg-info", ".egg-link", ".pth")


def canonical_name(name: str) -> str:
    """Map a seed-era name (``blockdevice``, ``encryption``) to its plugin name."""
    return ALIASES.get(name, name)


def _named(variable: str) -> set[str]:
    return {canonical_name(n.strip()) for n in os.environ.get(variable, "").split(",") if n.strip()}


def selection() -> tuple[set[str] | None, set[str]]:
    """The plugins ``PYBOFH_PLUGINS`` allows (None: every one) and those ``PYBOFH_DISABLE_PLUGINS`` blocks."""
    allowed = _named("PYBOFH_PLUGINS")
    return (allowed or None), _named("PYBOFH_DISABLE_PLUGINS")


def disabled_reason(name: str) -> str | None:
    """Why plugin ``name`` is not to be loaded at all (not even imported), or None when it is."""
    allowed, blocked = selection()
    if canonical_name(name) in blocked:
        return "PYBOFH_DISABLE_PLUGINS names it"
    if allowed is not None and canonical_name(name) not in allowed:
        return "PYBOFH_PLUGINS does not name it"
    return None


def enabled() -> bool:
    """Whether the discovery cache may be used (``PYBOFH_NO_PLUGIN_CACHE`` unset or ``0``)."""
    return os.environ.get("PYBOFH_NO_PLUGIN_CACHE", "") in ("", "0")


def cache_dir() -> Path:
    """The per-user directory of pybofh's caches."""
    explicit = os.environ.get("PYBOFH_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pybofh"


def cache_path() -> Path:
    """The cache file of this interpreter, environment and ``sys.path`` (a script's own directory is its first entry:
    one file per list, so two commands with different paths do not keep rewriting each other's cache)."""
    key = _hash("\0".join([sys.executable, sys.prefix, *sys.path]).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return cache_dir() / f"plugins-{key}.json"


def fingerprint(path: list[str] | None = None) -> str:
    """A hash that changes when a distribution is installed, removed or upgraded anywhere on ``path`` (sys.path).

    Costs one ``listdir`` per directory and one ``stat`` per distribution-metadata name in it.
    """
    h = _hash(f"{CACHE_VERSION}\0{sys.version}\0{sys.prefix}\0".encode())
    for entry in sys.path if path is None else path:
        directory = entry or "."
        h.update(b"P" + os.fsencode(entry) + b"\0")
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue  # missing, a file (zip), unreadable: nothing installed there that we could see either
        for name in names:
            if not name.endswith(_DIST_SUFFIXES):
                continue
            full = os.path.join(directory, name)
            h.update(b"N" + os.fsencode(name) + b"\0" + str(_mtime(full)).encode())
            if name.endswith((".dist-info", ".egg-info")):
                h.update(b"E" + str(_mtime(os.path.join(full, "entry_points.txt"))).encode())
    return h.hexdigest()


def _mtime(path: str) -> int:
    """``st_mtime_ns`` of ``path``, -1 when it does not exist."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def module_origin(module: Any) -> tuple[str | None, int]:
    """The file a plugin object was loaded from and its mtime (None, -1 when it has none)."""
    mod = module if hasattr(module, "__file__") else sys.modules.get(str(getattr(module, "__module__", "")))
    origin = getattr(mod, "__file__", None)
    return (origin, _mtime(origin)) if isinstance(origin, str) else (None, -1)


def _valid(data: Any) -> bool:
    """Whether ``data`` has exactly the shape :func:`store` writes (a damaged file must never be half-trusted)."""
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION or data.get("group") != GROUP:
        return False
    if not isinstance(data.get("fingerprint"), str) or not isinstance(data.get("plugins"), list):
        return False
    for p in data["plugins"]:
        if not isinstance(p, dict) or not all(isinstance(p.get(k), str) for k in ("name", "target")):
            return False
        if not all(p.get(k) is None or isinstance(p.get(k), str) for k in ("distribution", "version", "origin")):
            return False
        if not isinstance(p.get("mtime"), int) or isinstance(p.get("mtime"), bool):
            return False
        cli = p.get("cli")
        if cli is not None and not (isinstance(cli, list) and all(_valid_cli(c) for c in cli)):
            return False
    return True


def _valid_cli(entry: Any) -> bool:
    """Whether ``entry`` is a cached CLI group: ``{"name": …, "app": "module:attr", "help": …}``."""
    return isinstance(entry, dict) and all(isinstance(entry.get(k), str) for k in ("name", "app", "help"))


def load() -> dict[str, Any] | None:
    """The cached discovery if it is intact and still true for this environment, else None."""
    if not enabled():
        return None
    path = cache_path()
    try:
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            if st.st_uid != os.geteuid() or not stat.S_ISREG(st.st_mode):
                return None
            data = json.loads(fh.read())
    except (OSError, ValueError):
        return None
    if not _valid(data) or data["fingerprint"] != fingerprint():
        return None
    for p in data["plugins"]:
        if p["origin"] is not None and _mtime(p["origin"]) != p["mtime"]:
            return None  # a plugin's module was edited (an editable install): its registrations may differ
    return data


def store(plugins: list[dict[str, Any]]) -> None:
    """Write the cache for ``plugins`` (records as :func:`load` returns them) atomically; failures are ignored."""
    if not enabled():
        return
    data = {"version": CACHE_VERSION, "group": GROUP, "fingerprint": fingerprint(), "plugins": plugins}
    if not _valid(data):
        return
    path = cache_path()
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def load_target(target: str) -> Any:
    """Import an entry point's value (``module`` or ``module:attr.sub``) as stevedore would."""
    import importlib

    module_name, _, attrs = target.partition(":")
    obj: Any = importlib.import_module(module_name.strip())
    for attr in filter(None, attrs.strip().split(".")):
        obj = getattr(obj, attr)
    return obj
