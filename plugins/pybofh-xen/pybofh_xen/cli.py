"""``bofh xen``: list configured and running domUs, start one or all, shut down, destroy, show xl info."""

from __future__ import annotations

from typing import Annotated

import typer

from pybofh_core.cli import output

app = typer.Typer(no_args_is_help=True, help="Xen domUs: list, start, start-all, shutdown, destroy (xl).")


@app.command("list")
def list_cmd() -> None:
    """List configured domUs with their running state, and running domains no config defines."""
    from . import facts

    output(facts.overview(), columns=["name", "running", "domid", "state", "memory_bytes", "vcpus", "config_path"])


@app.command("start")
def start_cmd(
    domu: Annotated[str, typer.Argument(metavar="NAME|CONFIG", help="domU name or config file path")],
) -> None:
    """Start a domU from its config file (xl create)."""
    from . import ops

    output(ops.start_domu(domu))


@app.command("start-all")
def start_all_cmd() -> None:
    """Start every configured domU that is not running."""
    from . import ops

    output(ops.start_all(), columns=["name", "config_path"])


@app.command("shutdown")
def shutdown_cmd(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait until the domain is gone.")] = True,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Seconds to wait (default: setting).")] = None,
) -> None:
    """Shut a domain down cleanly (xl shutdown), waiting until it is gone."""
    from . import ops

    output(ops.shutdown_domu(name, wait=wait, timeout=timeout))


@app.command("destroy")
def destroy_cmd(name: Annotated[str, typer.Argument(metavar="NAME")]) -> None:
    """Destroy a domain at once (xl destroy): like pulling its power cord."""
    from . import ops

    output({"destroyed": ops.destroy_domu(name)})


@app.command("info")
def info_cmd() -> None:
    """Show the host and hypervisor summary (xl info)."""
    from . import facts

    output(facts.xl_info())
