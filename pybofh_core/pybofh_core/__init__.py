"""pybofh's core: plugin discovery, the command runner, atomic blocks with a journal, settings and the CLI.

Plugins import :data:`hookimpl`, :func:`operation` and :func:`undo` from here; everything else loads on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_api

if TYPE_CHECKING:  # imported on first use: pluggy is not needed by ``bofh --help``
    # ``_LAZY`` spelled out for type checkers: a plugin's operations keep their signatures (``import x as x``)
    from .atomic import Atomic as Atomic
    from .atomic import AtomicOperationSequence as AtomicOperationSequence
    from .cli_registry import CliRegistry as CliRegistry
    from .hookspecs import hookimpl as hookimpl
    from .layers import Layer as Layer
    from .operations import OperationRegistry as OperationRegistry
    from .operations import Undo as Undo
    from .operations import operation as operation
    from .operations import undo as undo
    from .runner import DryRunRunner as DryRunRunner
    from .runner import FakeRunner as FakeRunner
    from .runner import LocalRunner as LocalRunner
    from .runner import Result as Result
    from .runner import Runner as Runner
    from .runner import get_runner as get_runner
    from .runner import make_runner as make_runner
    from .runner import run as run
    from .runner import use_runner as use_runner
    from .secret import Secret as Secret
    from .session import get_host as get_host
    from .session import get_plugins as get_plugins
    from .session import get_settings as get_settings
    from .validate import parse_size as parse_size
    from .validate import validate_device as validate_device
    from .validate import validate_name as validate_name
    from .validate import validate_path as validate_path

__version__ = "0.1.0"

#: name → the submodule that defines it (one line to move a name: ``"get_host": "session"``)
_LAZY = {
    "hookimpl": "hookspecs",  # pluggy loads with it: only plugins, when the plugin host imports them, ask for it
    "operation": "operations",
    "undo": "operations",
    "Undo": "operations",
    "OperationRegistry": "operations",
    "Atomic": "atomic",
    "AtomicOperationSequence": "atomic",
    "run": "runner",
    "get_runner": "runner",
    "use_runner": "runner",
    "make_runner": "runner",
    "Runner": "runner",
    "FakeRunner": "runner",
    "DryRunRunner": "runner",
    "LocalRunner": "runner",
    "Result": "runner",
    "Secret": "secret",
    "get_settings": "session",
    "get_host": "session",
    "get_plugins": "session",
    "CliRegistry": "cli_registry",
    "Layer": "layers",
    "parse_size": "validate",
    "validate_name": "validate",
    "validate_path": "validate",
    "validate_device": "validate",
}


__getattr__, __dir__ = lazy_api(__name__, _LAZY)

__all__ = list(_LAZY)
