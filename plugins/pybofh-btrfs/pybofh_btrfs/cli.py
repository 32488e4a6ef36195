"""``bofh btrfs …``: a thin typer layer over the ops and facts modules (imported inside each command)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

import typer

from pybofh_core.cli import get_context, output

app = typer.Typer(no_args_is_help=True, help="btrfs subvolumes, snapshots, rotation, send/receive, balance and scrub.")
subvolume_app = typer.Typer(no_args_is_help=True, help="Create, delete, list and show subvolumes.")
balance_app = typer.Typer(no_args_is_help=True, help="Start, watch and cancel a balance.")
scrub_app = typer.Typer(no_args_is_help=True, help="Start, watch and cancel a scrub.")
app.add_typer(subvolume_app, name="subvolume")
app.add_typer(balance_app, name="balance")
app.add_typer(scrub_app, name="scrub")

_LIST_COLUMNS = ["id", "path", "parent_id", "top_level", "readonly", "uuid", "parent_uuid", "received_uuid"]


@subvolume_app.command("create")
def subvolume_create(path: Annotated[str, typer.Argument(help="Path of the new subvolume.")]) -> None:
    """Create an empty subvolume at PATH."""
    from . import ops

    output(ops.create_subvolume(path))


@subvolume_app.command("delete")
def subvolume_delete(
    path: Annotated[str, typer.Argument(help="The subvolume or snapshot to delete.")],
    force: Annotated[bool, typer.Option("--force", help="Delete it even if it holds files, is the default "
                                        "subvolume or is mounted.")] = False,
) -> None:
    """Delete the subvolume at PATH (irreversible; refused while it holds files, unless --force)."""
    from . import ops

    ops.delete_subvolume(path, force=force)
    output({"deleted": path})


@subvolume_app.command("list")
def subvolume_list(path: Annotated[str, typer.Argument(help="Any path on the btrfs filesystem.")]) -> None:
    """List the subvolumes of the filesystem holding PATH, with read-only flags."""
    from . import facts

    output(facts.list_subvolumes(path), columns=_LIST_COLUMNS)


@subvolume_app.command("show")
def subvolume_show(path: Annotated[str, typer.Argument(help="The subvolume to show.")]) -> None:
    """Show one subvolume's uuids, flags and snapshots."""
    from . import facts

    output(facts.get_subvolume(path))


@subvolume_app.command("set-default")
def subvolume_set_default(
    mountpoint: Annotated[str, typer.Argument(help="Where the filesystem is mounted.")],
    subvolume: Annotated[str, typer.Argument(help="Subvolume id, or path of a subvolume.")],
) -> None:
    """Make SUBVOLUME the default subvolume of the filesystem at MOUNTPOINT."""
    from . import ops

    target: int | str = int(subvolume) if subvolume.isdigit() else subvolume
    output(ops.set_default_subvolume(mountpoint, target))


@app.command("snapshot")
def snapshot_cmd(
    src: Annotated[str, typer.Argument(help="The subvolume to snapshot.")],
    dst: Annotated[str, typer.Argument(help="Path of the new snapshot.")],
    readonly: Annotated[bool, typer.Option("--readonly", "-r", help="Make a read-only snapshot.")] = False,
) -> None:
    """Snapshot subvolume SRC as DST."""
    from . import ops

    output(ops.snapshot(src, dst, readonly=readonly))


@app.command("rotate")
def rotate_cmd(
    src: Annotated[str, typer.Argument(help="The subvolume to snapshot.")],
    target_dir: Annotated[str, typer.Argument(help="Directory holding the rotated snapshots.")],
    name: Annotated[str, typer.Argument(help="Snapshots are named <YYYY-MM-DD_HH-MM-SS>-@NAME.")],
    keep: Annotated[int, typer.Option("--keep", "-k", help="How many of the newest snapshots to keep.")] = 7,
) -> None:
    """Snapshot SRC read-only into TARGET_DIR and delete all but the newest KEEP <date>-@NAME snapshots."""
    from . import ops

    output(ops.rotate_snapshots(src, target_dir, name, keep))  # each step undone if a later one fails (core block)


@app.command("send")
def send_cmd(
    snapshot: Annotated[str, typer.Argument(help="Read-only snapshot to send.")],
    dest_dir: Annotated[str, typer.Argument(help="Directory on the receiving btrfs filesystem.")],
    stream_file: Annotated[str, typer.Option("--stream-file", help="Where to write the stream meanwhile.")],
    parent: Annotated[str | None, typer.Option("--parent", "-p", help="Snapshot on both sides: send only the "
                                                "difference.")] = None,
) -> None:
    """Send SNAPSHOT (incrementally with --parent) and receive it into DEST_DIR."""
    from . import ops

    output(ops.send_receive(snapshot, dest_dir, stream_file, parent=parent))


@app.command("receive")
def receive_cmd(
    stream_file: Annotated[str, typer.Argument(help="A send stream written by 'btrfs send' (or --stream-file).")],
    dest_dir: Annotated[str, typer.Argument(help="Directory on the receiving btrfs filesystem.")],
    name: Annotated[str | None, typer.Option("--name", help="The sent snapshot's name: checked before receiving "
                                             "(refused if DEST_DIR already has it) and against the result.")] = None,
) -> None:
    """Receive the send stream in STREAM_FILE into DEST_DIR (undo: delete the received subvolume, by its UUID)."""
    from . import ops

    output(ops.receive(stream_file, dest_dir, expect_name=name))


@app.command("usage")
def usage_cmd(path: Annotated[str, typer.Argument(help="Any path on the btrfs filesystem.")]) -> None:
    """Show filesystem usage in bytes (btrfs filesystem usage -b)."""
    from . import facts

    output(facts.filesystem_usage(path))


def _progress(statuses: Iterable[Any], describe: Any, label: str) -> Any:
    """Show a progress bar on stderr while ``statuses`` yields; return the last status."""
    if get_context().json or get_context().dry_run:
        return list(statuses)[-1]
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    last = None
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task(label, total=100.0)
        for last in statuses:
            percent, text = describe(last)
            bar.update(task, completed=percent if percent is not None else 0.0, description=f"{label}: {text}")
    return last


@balance_app.command("start")
def balance_start(
    path: Annotated[str, typer.Argument(help="Mountpoint of the btrfs filesystem.")],
    data_usage: Annotated[int | None, typer.Option("--data-usage", help="Only data chunks at most N% full.")] = None,
    metadata_usage: Annotated[int | None, typer.Option("--metadata-usage", help="Only metadata chunks at most N% "
                                                       "full.")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Show progress until it ends.")] = True,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between status polls.")] = 1.0,
) -> None:
    """Start a balance in the background and (by default) follow it with a progress bar."""
    from . import facts, ops

    started = ops.start_balance(path, data_usage=data_usage, metadata_usage=metadata_usage)
    if not wait:
        output(started)
        return

    def describe(st: Any) -> tuple[float | None, str]:
        if st.chunks_total:
            return st.percent_done, f"{st.chunks_balanced}/{st.chunks_total} chunks"
        return (100.0 if st.state.value == "none" else None), st.state.value

    output(_progress(facts.watch_balance(started.path, interval), describe, "balance"))


@balance_app.command("status")
def balance_status_cmd(path: Annotated[str, typer.Argument(help="Mountpoint of the btrfs filesystem.")]) -> None:
    """Show whether a balance runs and how far it got."""
    from . import facts

    output(facts.balance_status(path))


@balance_app.command("cancel")
def balance_cancel(path: Annotated[str, typer.Argument(help="Mountpoint of the btrfs filesystem.")]) -> None:
    """Cancel a running balance (no error if none runs)."""
    from . import ops

    output({"path": path, "cancelled": ops.cancel_balance(path)})


@scrub_app.command("start")
def scrub_start(
    path: Annotated[str, typer.Argument(help="Mountpoint or device of the btrfs filesystem.")],
    readonly: Annotated[bool, typer.Option("--readonly", "-r", help="Report errors, do not repair.")] = False,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Show progress until it ends.")] = True,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between status polls.")] = 1.0,
) -> None:
    """Start a scrub in the background and (by default) follow it with a progress bar."""
    from . import facts, ops

    started = ops.start_scrub(path, readonly=readonly)
    if not wait:
        output(started)
        return

    def describe(st: Any) -> tuple[float | None, str]:
        if st.done:
            return 100.0, st.state.value
        return st.percent, st.state.value

    output(_progress(facts.watch_scrub(started.path, interval), describe, "scrub"))


@scrub_app.command("status")
def scrub_status_cmd(
    path: Annotated[str, typer.Argument(help="Mountpoint or device of the btrfs filesystem.")],
) -> None:
    """Show the state, progress and errors of the last or running scrub."""
    from . import facts

    output(facts.scrub_status(path))


@scrub_app.command("cancel")
def scrub_cancel(path: Annotated[str, typer.Argument(help="Mountpoint or device of the btrfs filesystem.")]) -> None:
    """Cancel a running scrub (no error if none runs)."""
    from . import ops

    output({"path": path, "cancelled": ops.cancel_scrub(path)})


#: Operations without a command of their own, and why (tests/test_cli_coverage.py holds every plugin to this)
NOT_IN_CLI = {"remove_stream": "the undo of 'send --stream-file': a rollback runs it; a stream file is removed with rm"}
