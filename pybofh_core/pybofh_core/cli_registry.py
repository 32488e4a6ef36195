"""Where plugins put their typer sub-apps; ``bofh`` imports an app only when its sub-command runs."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from .errors import PluginError


@dataclass
class CliEntry:
    """One plugin sub-command group: its name, the app (object or ``module:attr``) and its help line."""

    name: str
    app: Any
    help: str = ""
    plugin: str | None = None
    #: the module the app was imported from: its ``COMPLETERS`` complete values on TAB (see ``cli.completers``)
    module: Any = None

    def load(self) -> Any:
        """Return the typer app, importing it if it was given as a ``module:attr`` path."""
        if isinstance(self.app, str):
            module, _, attr = self.app.partition(":")
            try:
                self.module = importlib.import_module(module)
                self.app = getattr(self.module, attr or "app")
            except (ImportError, AttributeError) as exc:
                raise PluginError(f"cannot load CLI of {self.name!r} from {self.app!r}: {exc}") from exc
        return self.app


class CliRegistry:
    """Sub-apps added through ``pybofh_register_cli``."""

    def __init__(self) -> None:
        self.entries: dict[str, CliEntry] = {}

    def add(self, name: str, app: Any, help: str = "", plugin: str | None = None) -> None:  # noqa: A002
        """Add a sub-command group ``bofh NAME …``; ``app`` is a typer app or a ``module:attr`` import path."""
        if name in self.entries:
            raise PluginError(f"two plugins add the CLI group {name!r}")
        self.entries[name] = CliEntry(name, app, help, plugin or name)
