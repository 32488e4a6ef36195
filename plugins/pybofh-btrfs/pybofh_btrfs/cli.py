"""``bofh btrfs …``: a thin typer layer over the ops and facts modules (imported inside each command)."""

from __future__ import annotations

import sys
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


@subvolume_app.command("get-default")
def subvolume_get_default(
    mountpoint: Annotated[str, typer.Argument(help="Where the filesystem is mounted.")],
) -> None:
    """Show the default subvolume (mounted when no subvol= is given) of the filesystem at MOUNTPOINT."""
    from . import facts

    output(facts.get_default_subvolume(mountpoint))


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
    stream_file: Annotated[str, typer.Option("--stream-file", help="A new file for the stream (removed after "
                                             "DEST_DIR received it), or - for stdout (no DEST_DIR).")],
    dest_dir: Annotated[str | None, typer.Argument(help="Directory on the receiving btrfs filesystem; without it "
                                                   "the stream is only written to --stream-file.")] = None,
    parent: Annotated[str | None, typer.Option("--parent", "-p", help="Snapshot on both sides: send only the "
                                                "difference.")] = None,
) -> None:
    """Send SNAPSHOT (incrementally with --parent) and receive it into DEST_DIR, or write the stream to a file.

    With DEST_DIR the stream passes through --stream-file, removed at the end. Without it the stream is written to
    --stream-file (undo: remove it; a failed send leaves no partial file), or with --stream-file - to stdout, for
    'bofh btrfs send SNAP --stream-file - | ssh HOST btrfs receive DIR': nothing to undo then (what was sent is the
    reader's), a terminal is refused, and the result goes to stderr (JSON with --json), never into the stream.
    """
    from pybofh_core.errors import ValidationError

    from . import ops

    if stream_file == "-":
        if dest_dir is not None:
            raise ValidationError("--stream-file - writes the stream to stdout; to receive it into DEST_DIR give a "
                                  "file, or pipe stdout to 'btrfs receive DEST_DIR'")
        sys.stdout.flush()
        sent = ops.send_to(snapshot, sys.stdout.fileno(), parent=parent)  # journalled and planned as out=1
        _to_stderr(sent)
    elif dest_dir is None:
        output(ops.send(snapshot, stream_file, parent=parent))
    else:
        output(ops.send_receive(snapshot, dest_dir, stream_file, parent=parent))


def _to_stderr(value: Any) -> None:
    """Print a result on stderr (JSON with --json): stdout carries a stream."""
    from pybofh_core.render import render

    text = render(value, as_json=get_context().json)
    if text:
        typer.echo(text, err=True)


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


@app.command("show")
def show_cmd(
    target: Annotated[str | None, typer.Argument(help="A device or mountpoint (default: every btrfs filesystem).")
                      ] = None,
) -> None:
    """List btrfs filesystems and their devices, sizes in bytes (btrfs filesystem show --raw)."""
    from pybofh_core.validate import validate_path

    from . import facts

    if target is not None:
        target = validate_path(target, what="device or mountpoint", must_exist=True)
    shown = facts.filesystem_show(target)
    output(shown if get_context().json else [
        {"label": fs.label, "uuid": fs.uuid, "devid": d.devid, "path": d.path or "MISSING", "size": d.size,
         "used": d.used} for fs in shown.filesystems for d in fs.devices])


@app.command("df")
def df_cmd(path: Annotated[str, typer.Argument(help="Any path on the btrfs filesystem.")]) -> None:
    """Show space per block-group type and profile, in bytes (btrfs filesystem df)."""
    from . import facts

    df = facts.filesystem_df(path)
    output(df if get_context().json else list(df.spaces))


@app.command("device-usage")
def device_usage_cmd(path: Annotated[str, typer.Argument(help="Any path on the btrfs filesystem.")]) -> None:
    """Show each device's size, unallocated space and chunks, in bytes (btrfs device usage -b)."""
    from . import facts

    devices = facts.device_usage(path)
    output(devices if get_context().json else [
        {"path": d.path, "devid": d.devid, "size": d.size, "slack": d.slack, "unallocated": d.unallocated,
         "chunks": " ".join(f"{kind}={size}" for kind, size in d.chunks)} for d in devices])


@app.command("device-stats")
def device_stats_cmd(path: Annotated[str, typer.Argument(help="Any path on the btrfs filesystem.")]) -> None:
    """Show each device's error counters (btrfs device stats)."""
    from . import facts

    stats = facts.device_stats(path)
    output(stats if get_context().json else [{"device": s.device, "devid": s.devid, **dict(s.counters)}
                                             for s in stats])


@app.command("qgroups")
def qgroups_cmd(path: Annotated[str, typer.Argument(help="Any path on the btrfs filesystem.")]) -> None:
    """List quota groups with referenced and exclusive bytes and limits (quotas must be enabled)."""
    from . import facts

    output(facts.list_qgroups(path))


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


def _mountpoints(ctx: object, incomplete: str) -> list[str]:
    """Where btrfs filesystems are mounted (one ``findmnt``)."""
    from .facts import btrfs_mounts

    return [m.target for m in btrfs_mounts()]


def _subvolume_paths(incomplete: str, readonly: bool = False) -> list[str]:
    """Paths of the subvolumes (``readonly``: only read-only ones) visible under the btrfs mounts that ``incomplete``
    could lead to: one ``btrfs subvolume list`` pair per filesystem (it needs root: otherwise nothing). A relative
    ``incomplete`` is completed relative to the working directory."""
    import os
    import posixpath

    from .facts import btrfs_mounts, list_subvolumes

    cwd = os.getcwd()
    typed = incomplete if incomplete.startswith("/") else posixpath.join(cwd, incomplete)
    mounts = [m for m in btrfs_mounts()
              if typed.startswith(m.target.rstrip("/") + "/") or m.target.startswith(typed) or typed == m.target]
    listed: dict[str, list[Any]] = {}
    found = []
    for m in mounts:
        key = m.majmin or m.target
        if key not in listed:
            listed[key] = list_subvolumes(m.target)
        root = (m.fsroot or "/").strip("/")
        for sub in listed[key]:
            if readonly and not sub.readonly:
                continue
            if not root:
                found.append(posixpath.join(m.target, sub.path))
            elif sub.path == root:
                found.append(m.target)
            elif sub.path.startswith(root + "/"):
                found.append(posixpath.join(m.target, sub.path[len(root) + 1:]))
    if incomplete.startswith("/"):
        return found
    return [posixpath.relpath(p, cwd) for p in found if p.startswith(cwd.rstrip("/") + "/")]


def _subvolumes(ctx: object, incomplete: str) -> list[str]:
    return _subvolume_paths(incomplete)


def _readonly_snapshots(ctx: object, incomplete: str) -> list[str]:
    """What ``send`` takes: read-only snapshots (for SNAPSHOT and --parent)."""
    return _subvolume_paths(incomplete, readonly=True)


def _path(ctx: object, incomplete: str) -> list[str]:
    """PATH names a subvolume for ``subvolume delete|show``, a new one for ``create`` (the shell's file names), else
    the filesystem (its mountpoints)."""
    command = getattr(ctx, "info_name", "")
    if command in ("delete", "show"):
        return _subvolume_paths(incomplete)
    if command == "create":
        return []
    return _mountpoints(ctx, incomplete)


#: TAB completion of parameters by name (pybofh_core.cli.attach_completers); read-only, and quiet on any error
COMPLETERS = {"path": _path, "src": _subvolumes, "subvolume": _subvolumes, "snapshot": _readonly_snapshots,
              "parent": _readonly_snapshots, "mountpoint": _mountpoints}


#: Operations without a command of their own, and why (tests/test_cli_coverage.py holds every plugin to this)
NOT_IN_CLI = {"remove_stream": "the undo of 'send --stream-file': a rollback runs it; a stream file is removed with rm"}

#: Public facts (readers) without a command of their own, and why (tests/test_cli_coverage.py)
FACTS_NOT_IN_CLI = {
    "is_readonly": "a predicate 'subvolume show PATH' and 'subvolume list' answer (their readonly flag)",
    "subvolume_id": "'subvolume show PATH' and 'subvolume list' show the ids; this resolves any path inside a "
                    "subvolume to its id, for code",
}
