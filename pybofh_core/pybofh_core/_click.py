"""The click API typer runs on: typer >= 0.29 vendors click as ``typer._click``, older typer uses click itself."""

from __future__ import annotations

try:
    from typer._click.core import Command, Context, Parameter
    from typer._click.exceptions import ClickException
    from typer._click.formatting import HelpFormatter
    from typer._click.globals import get_current_context
    from typer.exceptions import Abort, Exit
except ImportError:  # pragma: no cover - typer < 0.29
    from click import (  # type: ignore[assignment,no-redef]
        Command,
        Context,
        HelpFormatter,
        Parameter,
        get_current_context,
    )
    from click.exceptions import Abort, ClickException, Exit  # type: ignore[assignment,no-redef]

__all__ = ["Abort", "ClickException", "Command", "Context", "Exit", "HelpFormatter", "Parameter",
           "get_current_context"]
