"""pybofh-chattr: ext2/3/4 file attributes (``chattr``/``lsattr``) as pybofh facts and undoable operations.

``from pybofh import chattr; chattr.set_immutable("/srv/x")``; inside ``Atomic()``:
``atomic.chattr.set_immutable("/srv/x")`` is undone by ``clear_immutable`` on the same file if the block fails.

This module holds only the registration hooks and a lazy re-export of the API: it is imported whenever the plugin
host is built, so it imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pybofh_core import hookimpl
from pybofh_core.lazy import lazy_api

__version__ = "0.1.0"

_API = {
    "get_attributes": "facts",
    "set_immutable": "ops",
    "clear_immutable": "ops",
    "set_append_only": "ops",
    "clear_append_only": "ops",
    "parse_lsattr": "parsers",
    "FileAttributes": "types",
    "AttributeChange": "types",
    "ChattrError": "errors",
    "AttributesUnsupportedError": "errors",
}

__all__ = list(_API)

if TYPE_CHECKING:
    from pybofh_core.cli_registry import CliRegistry
    from pybofh_core.operations import OperationRegistry

    from .errors import AttributesUnsupportedError as AttributesUnsupportedError
    from .errors import ChattrError as ChattrError
    from .facts import get_attributes as get_attributes
    from .ops import clear_append_only as clear_append_only
    from .ops import clear_immutable as clear_immutable
    from .ops import set_append_only as set_append_only
    from .ops import set_immutable as set_immutable
    from .parsers import parse_lsattr as parse_lsattr
    from .types import AttributeChange as AttributeChange
    from .types import FileAttributes as FileAttributes


@hookimpl
def pybofh_register_operations(registry: OperationRegistry) -> None:
    registry.add_module("chattr", "pybofh_chattr.ops")  # imported when a chattr operation is first needed


@hookimpl
def pybofh_register_cli(registry: CliRegistry) -> None:
    registry.add("chattr", "pybofh_chattr.cli:app", help="ext2/3/4 file attributes: immutable, append-only.")


__getattr__, __dir__ = lazy_api(__name__, _API)  # the API loads on first use (pybofh_core.lazy)
