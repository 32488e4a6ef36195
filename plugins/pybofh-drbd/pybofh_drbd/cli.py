"""``bofh drbd``: status, up/down, primary/secondary and waiting for a resync with a progress bar."""

from __future__ import annotations

from typing import Annotated

import typer

from pybofh_core.cli import get_context, output

app = typer.Typer(no_args_is_help=True, help="DRBD replicated block devices.")


@app.command("status")
def status_cmd(resources: Annotated[list[str] | None, typer.Argument(metavar="[RES]...")] = None) -> None:
    """Show roles, disk and connection states and sync progress of resources (all of this host's by default)."""
    from . import facts

    names = resources or facts.list_resources()
    states = [facts.status(n) for n in names]
    if get_context().json:
        output(states)
        return
    rows = []
    for st in states:
        peers = ", ".join(
            f"{c.name or '-'}:{c.state.value}/{c.peer_role.value}/"
            + ",".join(pv.peer_disk.value for pv in c.volumes)
            for c in st.connections
        )
        pct = st.sync_percent
        rows.append({
            "resource": st.name, "role": st.role.value, "disk": ",".join(v.disk.value for v in st.volumes),
            "minor": ",".join(str(m) for m in st.minors), "peers": peers or "-",
            "synced": f"{pct:.1f}%" if pct is not None else "-",
        })
    output(rows)


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
    force: Annotated[bool, typer.Option("--force", help="Promote although the local disk is not UpToDate.")] = False,
) -> None:
    """Promote this node to Primary."""
    from . import ops

    output(ops.primary(res, force=force))


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
    """Wait until a resource is in sync with its peers, showing a progress bar (stderr)."""
    from . import facts

    ctx = get_context()
    if ctx.json:
        output(facts.wait_synced(res, timeout, poll=poll))
        return
    with typer.progressbar(length=1000, label=f"{res} sync", file=_stderr(), show_eta=True) as bar:
        shown = [0]

        def progress(st: facts.DrbdResource) -> None:  # type: ignore[name-defined]
            pct = st.sync_percent
            if pct is None:
                return
            target = min(1000, int(pct * 10))
            if target > shown[0]:
                bar.update(target - shown[0])
                shown[0] = target

        final = facts.wait_synced(res, timeout, poll=poll, on_progress=progress)
    output(final)


def _stderr():  # type: ignore[no-untyped-def]
    import sys

    return sys.stderr
