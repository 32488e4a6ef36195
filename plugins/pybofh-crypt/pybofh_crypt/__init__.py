"""pybofh-crypt: LUKS1/LUKS2 encryption with cryptsetup (format, open/close, resize, keys, header backups, layers)."""

from __future__ import annotations

from collections.abc import Mapping as _Mapping
from typing import TYPE_CHECKING, Any

from pybofh_core import hookimpl
from pybofh_core.lazy import Target, lazy_api


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
def pybofh_probe_layer(device: str, probe: _Mapping[str, str]) -> Any:
    """A LuksLayer for a device whose probe says ``TYPE=crypto_LUKS`` (VERSION 1 or 2); None for anything else."""
    if probe.get("TYPE") != "crypto_LUKS" or probe.get("VERSION", "") not in ("", "1", "2"):
        return None
    from .layers import LuksLayer

    return LuksLayer(device, probe)


@hookimpl
def pybofh_probe_status() -> list[Any]:
    """``bofh status``: the open dm-crypt mappings (LUKS1, LUKS2, plain), from one ``dmsetup info``."""
    from .bofh_status import sections

    return sections()


#: the seed's names and other aliases of operations
_ALIASES = {"create_encrypted": "format", "open_encrypted": "open", "close_encrypted": "close",
            "luks_format": "format"}
#: name → the module that defines it, (module, attribute) for an alias, None for a submodule (``crypt.keys``):
#: ``pybofh_core.lazy.lazy_api`` serves it
_API: dict[str, Target] = {
    "format": "ops", "open": "ops", "close": "ops", "resize": "ops", "add_key": "ops", "remove_key": "ops",
    "header_backup": "ops", "header_restore": "ops", "remove_header_backup": "ops",
    **{alias: ("ops", target) for alias, target in _ALIASES.items()},
    "dump": "facts", "status": "facts", "is_open": "facts", "is_luks": "facts", "test_passphrase": "facts",
    "parse_luks_dump": "parsers", "parse_luks2_json": "parsers", "parse_crypt_status": "parsers",
    "LuksLayer": "layers", "provide": "keys", "keys": None,
    "LuksDevice": "types", "CryptStatus": "types", "KeyFile": "types", "Keyslot": "types", "Segment": "types",
    "LuksVersion": "types", "DmDevice": "types",
    "list_dm_devices": "bofh_status", "parse_dmsetup_info": "bofh_status",
    **dict.fromkeys(
        ["Token", "Digest", "Formatted", "OpenMapping", "Mapping", "Resized", "AddedKey", "HeaderBackup"], "types"),
}


__all__ = list(_API)  # help() (pydoc) documents these, each loaded through __getattr__

if TYPE_CHECKING:
    # ``_API`` spelled out for type checkers (nothing of it is imported at run time): ``import x as x``
    # re-exports ``x``. tests/test_typed_api.py checks that these name what ``__getattr__`` returns.
    from . import keys as keys
    from .bofh_status import list_dm_devices as list_dm_devices
    from .bofh_status import parse_dmsetup_info as parse_dmsetup_info
    from .facts import dump as dump
    from .facts import is_luks as is_luks
    from .facts import is_open as is_open
    from .facts import status as status
    from .facts import test_passphrase as test_passphrase
    from .keys import provide as provide
    from .layers import LuksLayer as LuksLayer
    from .ops import add_key as add_key
    from .ops import close as close
    from .ops import format as format  # noqa: A004
    from .ops import header_backup as header_backup
    from .ops import header_restore as header_restore
    from .ops import open as open  # noqa: A004
    from .ops import remove_header_backup as remove_header_backup
    from .ops import remove_key as remove_key
    from .ops import resize as resize
    from .parsers import parse_crypt_status as parse_crypt_status
    from .parsers import parse_luks2_json as parse_luks2_json
    from .parsers import parse_luks_dump as parse_luks_dump
    from .types import CryptStatus as CryptStatus
    from .types import DmDevice as DmDevice
    from .types import KeyFile as KeyFile
    from .types import Keyslot as Keyslot
    from .types import LuksDevice as LuksDevice
    from .types import LuksVersion as LuksVersion
    from .types import Segment as Segment

    # the seed's names and other aliases: ``import x as y`` is re-exported only through ``__all__``
    __all__ += ["create_encrypted", "open_encrypted", "close_encrypted", "luks_format"]
    from .ops import close as close_encrypted
    from .ops import format as create_encrypted
    from .ops import format as luks_format
    from .ops import open as open_encrypted
    from .types import AddedKey as AddedKey
    from .types import Digest as Digest
    from .types import Formatted as Formatted
    from .types import HeaderBackup as HeaderBackup
    from .types import Mapping as Mapping
    from .types import OpenMapping as OpenMapping
    from .types import Resized as Resized
    from .types import Token as Token


__getattr__, __dir__ = lazy_api(__name__, _API)  # the API loads on first use (pybofh_core.lazy)
