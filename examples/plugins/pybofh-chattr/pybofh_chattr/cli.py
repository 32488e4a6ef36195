"""``bofh chattr``: show and change file attributes (a thin front end over ``facts`` and ``ops``)."""

from __future__ import annotations

import typer

from pybofh_core.cli import output

app = typer.Typer(no_args_is_help=True, help="ext2/3/4 file attributes: immutable, append-only (chattr/lsattr).")

PATH_HELP = "The file or directory (symlinks are followed)."


@app.command("show")
def show(path: str = typer.Argument(..., help=PATH_HELP)) -> None:
    """Show PATH's attributes (lsattr -d), with its device and inode."""
    from . import facts

    output(facts.get_attributes(path))


@app.command("immutable")
def immutable(path: str = typer.Argument(..., help=PATH_HELP)) -> None:
    """Make PATH immutable (chattr +i); undone by making it mutable again."""
    from . import ops

    output(ops.set_immutable(path))


@app.command("mutable")
def mutable(path: str = typer.Argument(..., help=PATH_HELP)) -> None:
    """Make PATH mutable again (chattr -i); undone by making it immutable."""
    from . import ops

    output(ops.clear_immutable(path))


@app.command("append-only")
def append_only(
    path: str = typer.Argument(..., help=PATH_HELP),
    clear: bool = typer.Option(False, "--clear", help="Clear the attribute instead (chattr -a)."),
) -> None:
    """Make PATH append-only (chattr +a), or with --clear not append-only any more."""
    from . import ops

    output(ops.clear_append_only(path) if clear else ops.set_append_only(path))
