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
    """Resize the device behind a stopped domain's disk VDEV and every layer on it (LV, LUKS, filesystem); of a
    running domain, only grow the device (its guest sees the new size and grows what is inside)."""
    from . import ops

    output(ops.resize_domu_disk(name, vdev, size))


@app.command("info")
def info_cmd() -> None:
    """Show the host and hypervisor summary (xl info)."""
    from . import facts

    output(facts.xl_info())


@app.command("show")
def show_cmd(
    domu: Annotated[str, typer.Argument(metavar="NAME|CONFIG", help="domU name or config file path")],
) -> None:
    """Show a domU as its config file defines it (parsed, never evaluated): type, memory, vCPUs, disks, vifs."""
    from pybofh_core.cli import get_context

    from . import facts

    d = facts.read_domu_config(domu) if domu.startswith("/") else facts.get_domu(domu)
    output(d if get_context().json else {
        "name": d.name, "config_path": d.config_path, "type": d.guest_type, "memory_bytes": d.memory_bytes,
        "vcpus": d.vcpus, "disks": "; ".join(x.spec for x in d.disks), "vifs": "; ".join(v.spec for v in d.vifs)})


@app.command("disks")
def disks_cmd(
    domu: Annotated[str, typer.Argument(metavar="NAME|CONFIG", help="domU name or config file path")],
    cdroms: Annotated[bool, typer.Option("--cdroms", help="Include CD-ROM images.")] = False,
) -> None:
    """List the host paths behind a domU's disks and what each is (block device, image file, missing)."""
    from . import facts

    output(facts.domu_disks(domu, include_cdroms=cdroms))


def _running(ctx: object, incomplete: str) -> list[str]:
    """Domains that exist now (``xl list``), Domain-0 left out; nothing where xl or the hypervisor is missing."""
    from .facts import list_domains

    return [d.name for d in list_domains() if d.domid != 0]


def _configured(ctx: object, incomplete: str) -> list[str]:
    """domU names from the config files (no xl needed); a config that does not parse is skipped without a word."""
    from .facts import config_files, read_domu_config

    names = []
    for path in config_files():
        try:
            names.append(read_domu_config(path).name)
        except Exception:  # noqa: BLE001, S112 - all_domus(on_error="skip") would log a warning into the command line
            continue
    return names


def _domain(ctx: object, incomplete: str) -> list[str]:
    """NAME: a running domain, except for ``resize-disk`` (a stopped domU: the configured names)."""
    if getattr(ctx, "info_name", "") == "resize-disk":
        return _configured(ctx, incomplete)
    return _running(ctx, incomplete)


#: TAB completion of parameters by name (pybofh_core.cli.attach_completers); read-only, and quiet on any error
COMPLETERS = {"name": _domain, "domu": _configured}

#: Public facts (readers) without a command of their own, and why (tests/test_cli_coverage.py)
FACTS_NOT_IN_CLI = {
    "all_domus": "'list' shows every configured domU, with its running state",
    "list_domains": "'list' shows the domains that exist now (xl list), configured or not",
    "running_domus": "'list' shows the running domains; their 'xl list -l' device details are for code",
    "is_domu_running": "a predicate 'list' answers (its RUNNING column)",
    "find_domu": "the form of get_domu that returns None, for code; 'show NAME' runs get_domu",
    "domu_block_devices": "'disks NAME' lists them (KIND block)",
}
