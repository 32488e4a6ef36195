"""``bofh drbd``: status, up/down, primary/secondary and waiting for a resync with a progress bar."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from pybofh_core.cli import get_context, output

if TYPE_CHECKING:
    from .types import DrbdResource, ResourceConfig

app = typer.Typer(no_args_is_help=True, help="DRBD replicated block devices.")


def _rows(states: list[DrbdResource]) -> list[dict[str, str]]:
    """One table row per resource: role, disks, minors, peers (name:state/role/disks) and sync percentage."""
    rows = []
    for st in states:
        peers = ", ".join(
            f"{c.name or '-'}:{c.state.value}/{c.peer_role.value}/" + ",".join(pv.peer_disk.value for pv in c.volumes)
            for c in st.connections
        )
        pct = st.sync_percent
        rows.append({
            "resource": st.name, "role": st.role.value, "disk": ",".join(v.disk.value for v in st.volumes),
            "minor": ",".join(str(m) for m in st.minors), "peers": peers or "-",
            "synced": f"{pct:.1f}%" if pct is not None else "-",
        })
    return rows


@app.command("status")
def status_cmd(resources: Annotated[list[str] | None, typer.Argument(metavar="[RES]...")] = None) -> None:
    """Show roles, disk and connection states and sync progress of resources (all of this host's by default)."""
    from . import facts

    names = resources or facts.list_resources()
    states = [facts.status(n) for n in names]
    output(states if get_context().json else _rows(states))


def _config_rows(resources: tuple[ResourceConfig, ...]) -> list[dict[str, object]]:
    """One table row per resource, host and volume: address, minor, backing disk and meta-disk."""
    rows: list[dict[str, object]] = []
    for r in resources:
        for h in r.hosts or (None,):
            volumes = r.volumes_for(h.name) if h is not None and h.name else r.volumes
            for v in volumes or (None,):
                rows.append({
                    "resource": r.name, "host": h.name if h is not None else None,
                    "address": str(h.address) if h is not None and h.address is not None else None,
                    "volume": v.number if v else None, "minor": v.minor if v else None, "disk": v.disk if v else None,
                    "meta_disk": v.meta_disk if v else None,
                })
    return rows


@app.command("config")
def config_cmd(res: Annotated[str | None, typer.Argument(help="Only this resource.")] = None) -> None:
    """Show the configuration (drbdadm dump): each resource's hosts, addresses, minors and disks."""
    from . import facts
    from .checks import check_resource_name

    if res is None:
        config = facts.read_config()
        output(config if get_context().json else _config_rows(config.resources))
    else:
        one = facts.resource_config(check_resource_name(res))  # an empty RES is refused, not read as "all"
        output(one if get_context().json else _config_rows((one,)))


@app.command("next-free")
def next_free_cmd() -> None:
    """Show the lowest minor and port no configured resource uses (from the drbd.base_minor and drbd.base_port
    settings up), for a new resource."""
    from . import facts

    output({"minor": facts.next_free_minor(), "port": facts.next_free_port()})


@app.command("proc")
def proc_cmd() -> None:
    """Show /proc/drbd: the loaded module's version and, on DRBD 8, each minor's states and resync progress."""
    from . import facts

    proc = facts.read_proc_drbd()
    if get_context().json:
        output(proc)
        return
    output({"version": proc.version, "api": proc.api, "proto": proc.proto, "build": proc.build})
    output([{"minor": d.minor, "state": d.state.value if d.state else "Unconfigured",
             "role": f"{d.role.value if d.role else '-'}/{d.peer_role.value if d.peer_role else '-'}",
             "disk": f"{d.disk.value if d.disk else '-'}/{d.peer_disk.value if d.peer_disk else '-'}",
             "protocol": d.protocol, "synced": f"{d.progress.percent:.1f}%" if d.progress else None}
            for d in proc.devices])


@app.command("up")
def up_cmd(res: str) -> None:
    """Bring a resource up (drbdadm up)."""
    from . import ops

    output({"resource": ops.up(res), "state": "up"})


@app.command("down")
def down_cmd(res: str) -> None:
    """Take a resource down (drbdadm down)."""
    from . import ops

    output({"resource": ops.down(res), "state": "down"})


@app.command("primary")
def primary_cmd(
    res: str,
    authoritative: Annotated[bool, typer.Option(
        "--authoritative", help="Promote although the local disk is not UpToDate: this node's data becomes the one "
        "the peer syncs from (DRBD's own --force).")] = False,
    old_force: Annotated[bool, typer.Option("--force", hidden=True, help="Deprecated: --authoritative.")] = False,
) -> None:
    """Promote this node to Primary."""
    from . import ops

    if old_force:
        typer.echo("bofh: warning: 'drbd primary --force' is now --authoritative (--force overrides pybofh's data "
                   "checks)", err=True)
    output(ops.primary(res, authoritative=authoritative or old_force))


@app.command("secondary")
def secondary_cmd(res: str) -> None:
    """Demote this node to Secondary."""
    from . import ops

    output(ops.secondary(res))


@app.command("wait-sync")
def wait_sync_cmd(
    res: str,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Give up after this many seconds.")] = None,
    poll: Annotated[float | None, typer.Option("--poll", help="Seconds between status reads.")] = None,
) -> None:
    """Wait until a resource is in sync with its peers, showing progress on stderr (a bar on a terminal)."""
    import sys

    from . import facts

    if get_context().json:
        output(facts.wait_synced(res, timeout, poll=poll))
        return
    err = sys.stderr
    if err.isatty():
        with typer.progressbar(length=1000, label=f"{res} sync", file=err) as bar:
            done = [0]

            def draw(st: DrbdResource) -> None:
                pct = st.sync_percent
                if pct is not None and int(pct * 10) > done[0]:
                    bar.update(int(pct * 10) - done[0])
                    done[0] = int(pct * 10)

            final = facts.wait_synced(res, timeout, poll=poll, on_progress=draw)
    else:
        last: list[float | None] = [None]

        def log(st: DrbdResource) -> None:
            pct = st.sync_percent
            if pct is not None and pct != last[0]:
                typer.echo(f"{res} sync: {pct:.1f}%", err=True)
                last[0] = pct

        final = facts.wait_synced(res, timeout, poll=poll, on_progress=log)
    output(_rows([final]))


def _simple(name: str, op: str, doc: str) -> None:
    """A command ``bofh drbd NAME RES`` that runs ``ops.OP(res)`` (each one undoable: see the plugin README)."""

    def command(res: str) -> None:
        from . import ops

        output({"resource": getattr(ops, op)(res), "done": name})

    command.__doc__ = doc
    command.__name__ = f"{op}_cmd"
    app.command(name)(command)


_simple("connect", "connect", "Connect a resource to its peers (drbdadm connect).")
_simple("disconnect", "disconnect", "Disconnect a resource from its peers (drbdadm disconnect).")
_simple("attach", "attach", "Attach a resource's backing disk (drbdadm attach).")
_simple("detach", "detach", "Detach a resource's backing disk; the resource goes on diskless (drbdadm detach).")
_simple("adjust", "adjust", "Make the running resource match its configuration (drbdadm adjust).")
_simple("verify", "verify", "Start an online verify of a resource against its peer (drbdadm verify).")
_simple("pause-sync", "pause_sync", "Pause a running resync (drbdadm pause-sync).")
_simple("resume-sync", "resume_sync", "Resume a paused resync (drbdadm resume-sync).")


@app.command("create-md")
def create_md_cmd(
    res: str,
    disk: Annotated[str | None, typer.Option("--disk", help="The backing disk you mean to overwrite; it must be "
                                                            "the resource's configured one.")] = None,
    max_peers: Annotated[int | None, typer.Option("--max-peers", help="Peer slots to reserve (DRBD 9).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Write although the backing disk holds a signature or is "
                                                         "in use (pybofh's check; it is destroyed).")] = False,
) -> None:
    """Write fresh DRBD metadata on a resource's backing disk (refused on a disk holding data unless --force)."""
    from . import ops

    output({"resource": res, "disk": ops.create_md(res, disk, max_peers=max_peers, force=force)})


@app.command("invalidate")
def invalidate_cmd(
    res: str,
    force: Annotated[bool, typer.Option("--force", help="Discard this node's data and resync it from the peer.")
                     ] = False,
) -> None:
    """Mark this node's data invalid and resync it from the peer (refused unless --force: the local copy is lost)."""
    from . import ops

    output({"resource": ops.invalidate(res, force=force), "done": "invalidate"})


@app.command("resize")
def resize_cmd(
    res: str,
    size: Annotated[str | None, typer.Argument(help="New size (10G, bytes); default: the backing disk's size.")
                    ] = None,
    assume_peer_has_space: Annotated[bool, typer.Option(
        "--assume-peer-has-space", help="Grow while the peer is away (it must have the space).")] = False,
) -> None:
    """Resize a resource's device to its backing disk, or to SIZE (a shrink cuts off what lies beyond SIZE)."""
    from . import ops

    output(ops.resize(res, size, assume_peer_has_space=assume_peer_has_space))


#: Public facts (readers) without a command of their own, and why (tests/test_cli_coverage.py)
FACTS_NOT_IN_CLI = {
    "is_up": "a predicate 'status RES' answers: it shows the resource, or fails when it is not up",
    "minors": "'config RES' shows each volume's minor (drbdadm sh-minor is the same for code)",
    "backing_disks": "'config RES' shows each volume's backing disk (drbdadm sh-ll-dev is the same for code)",
}
