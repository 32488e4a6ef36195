"""pybofh-crypt: LUKS1/LUKS2 encryption with cryptsetup (format, open/close, resize, keys, header backups, layers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pybofh_core import hookimpl


@hookimpl
def pybofh_register_operations(registry: Any) -> None:
    """Register format, open/close, resize, add_key/remove_key and header backup/restore under ``crypt``."""
    registry.add_module("crypt", "pybofh_crypt.ops")  # imported when a crypt operation is first needed


@hookimpl
def pybofh_register_settings(registry: Any) -> None:
    """Declare the ``crypt`` settings (LUKS type, cipher, PBKDF costs, key directory)."""
    from .settings import CryptSettings

    registry.add("crypt", CryptSettings)


@hookimpl
def pybofh_register_cli(registry: Any) -> None:
    """Add ``bofh crypt …``."""
    registry.add("crypt", "pybofh_crypt.cli:app", help="LUKS encryption: format, open, close, keys, header backups.")


@hookimpl
def pybofh_probe_layer(device: str, probe: Mapping[str, str]) -> Any:
    """A LuksLayer for a device whose probe says ``TYPE=crypto_LUKS`` (VERSION 1 or 2); None for anything else."""
    if probe.get("TYPE") != "crypto_LUKS" or probe.get("VERSION", "") not in ("", "1", "2"):
        return None
    from .layer import LuksLayer

    return LuksLayer(device, probe)


@hookimpl
def pybofh_probe_status() -> list[Any]:
    """``bofh status``: the open dm-crypt mappings (LUKS1, LUKS2, plain), from one ``dmsetup info``."""
    from .status import sections

    return sections()


_API = {
    "format": "ops", "open": "ops", "close": "ops", "resize": "ops", "add_key": "ops", "remove_key": "ops",
    "header_backup": "ops", "header_restore": "ops", "remove_header_backup": "ops",
    "create_encrypted": "ops", "open_encrypted": "ops", "close_encrypted": "ops", "luks_format": "ops",
    "dump": "facts", "status": "facts", "is_open": "facts", "is_luks": "facts", "test_passphrase": "facts",
    "parse_luks_dump": "parsers", "parse_luks2_json": "parsers", "parse_crypt_status": "parsers",
    "LuksLayer": "layer", "provide": "keys", "keys": None,
    "LuksDevice": "types", "CryptStatus": "types", "KeyFile": "types", "Keyslot": "types", "Segment": "types",
    "LuksVersion": "types", "DmDevice": "types",
    "list_dm_devices": "status", "parse_dmsetup_info": "status",
}
_ALIASES = {"create_encrypted": "format", "luks_format": "format", "open_encrypted": "open",
            "close_encrypted": "close"}


def __getattr__(name: str) -> Any:
    """Lazy public API: ``from pybofh import crypt; crypt.open(...)`` imports ``ops`` only then."""
    if name in _API:
        from importlib import import_module

        module = _API[name]
        if module is None:
            return import_module(f".{name}", __name__)
        return getattr(import_module(f".{module}", __name__), _ALIASES.get(name, name))
    raise AttributeError(f"module 'pybofh_crypt' has no attribute {name!r}")
