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


@app.command("reboot")
def reboot_cmd(name: Annotated[str, typer.Argument(metavar="NAME")]) -> None:
    """Reboot a domain (xl reboot): its running state is lost, it comes back running."""
    from . import ops

    output({"domain": ops.reboot_domu(name), "done": "reboot"})


@app.command("pause")
def pause_cmd(name: Annotated[str, typer.Argument(metavar="NAME")]) -> None:
    """Pause a domain's vCPUs (xl pause); undo: unpause."""
    from . import ops

    output({"domain": ops.pause_domu(name), "done": "pause"})


@app.command("unpause")
def unpause_cmd(name: Annotated[str, typer.Argument(metavar="NAME")]) -> None:
    """Unpause a paused domain (xl unpause); undo: pause."""
    from . import ops

    output({"domain": ops.unpause_domu(name), "done": "unpause"})


@app.command("save")
def save_cmd(name: Annotated[str, typer.Argument(metavar="NAME")],
             file: Annotated[str, typer.Argument(metavar="FILE", help="A new file for the domain's memory.")]) -> None:
    """Save a domain's memory to FILE and stop it (xl save); undo: restore it from FILE."""
    from . import ops

    output(ops.save_domu(name, file))


@app.command("restore")
def restore_cmd(file: Annotated[str, typer.Argument(metavar="FILE", help="A state file made by save.")]) -> None:
    """Restore a saved domain from FILE (xl restore; the file is kept); undo: destroy the restored domain."""
    from . import ops

    output(ops.restore_domu(file))


@app.command("migrate")
def migrate_cmd(name: Annotated[str, typer.Argument(metavar="NAME")],
                host: Annotated[str, typer.Argument(metavar="HOST", help="The dom0 to move it to (over ssh).")]
                ) -> None:
    """Live-migrate a domain to HOST (xl migrate); it stops running here."""
    from . import ops

    output({"domain": ops.migrate_domu(name, host), "to": host})


@app.command("resize-disk")
def resize_disk_cmd(name: Annotated[str, typer.Argument(metavar="NAME")],
                    vdev: Annotated[str, typer.Argument(metavar="VDEV", help="The guest's disk: xvda, xvdb…")],
                    size: Annotated[str, typer.Argument(metavar="SIZE", help="New size (10G, +5G, bytes).")]) -> None:
    """Resize the device behind a stopped domain's disk VDEV and every layer on it (LV, LUKS, filesystem)."""
    from . import ops

    output(ops.resize_domu_disk(name, vdev, size))


@app.command("info")
def info_cmd() -> None:
    """Show the host and hypervisor summary (xl info)."""
    from . import facts

    output(facts.xl_info())
