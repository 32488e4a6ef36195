"""``bofh ssh …``: thin commands over the ssh transport (reachability of the ``--host`` hosts)."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="Check SSH reachability of hosts (use with --host/--hosts-file).")


@app.callback()
def ssh_group() -> None:
    """Check SSH reachability of hosts (use with --host/--hosts-file)."""


@app.command("ping")
def ping() -> None:
    """Open (or reuse) the connection to the --host and show its kernel and round-trip time."""
    from pybofh_core.cli import output

    from .ops import ping_host

    output(ping_host())
