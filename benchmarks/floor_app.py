"""The start-up floor: the smallest typer app making the same tool calls as ``bofh`` (benchmarks only).

``bofh --help``, ``bofh lvm --help`` and ``bofh --json blockdev list`` are compared with this app's ``--help``,
``lvm --help`` and ``--json blockdev list`` in the same run (``benchmarks/run.py``, section ``startup``). It has the
same shape (a root callback with ``--json``, sub-apps with a few commands, plain help like bofh's root) and runs the
same commands (``lsblk -J -b -O``, then one ``blkid -c /dev/null -o export`` over the devices lsblk left without a
filesystem type), printing the JSON. Everything it costs beyond ``python`` is typer's own start-up (pydantic
included), which every typer CLI pays.
"""

from __future__ import annotations

import json
import subprocess
from typing import Annotated

import typer

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="The floor: a typer app with bofh's shape.",
)
lvm_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="LVM volumes.")
lv_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Logical volumes.")
blockdev_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Block devices.")
app.add_typer(lvm_app, name="lvm")
lvm_app.add_typer(lv_app, name="lv")
app.add_typer(blockdev_app, name="blockdev")
_JSON: list[bool] = [False]


@app.callback()
def root(json_out: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False) -> None:
    """The floor app."""
    _JSON[0] = json_out


@lv_app.command("create")
def lv_create(vg: str, name: str, size: str) -> None:
    """Create a logical volume."""


@lv_app.command("list")
def lv_list() -> None:
    """List logical volumes."""


@blockdev_app.command("list")
def blockdev_list() -> None:
    """List block devices: the same lsblk and blkid calls as ``bofh blockdev list``."""
    env = {"LC_ALL": "C", "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    tree = json.loads(
        subprocess.run(
            ["lsblk", "-J", "-b", "-O"], capture_output=True, check=True, env=env, stdin=subprocess.DEVNULL
        ).stdout
    )
    todo: list[str] = []

    def walk(devs: list[dict[str, object]]) -> None:
        for d in devs:
            if (
                d.get("path")
                and not d.get("fstype")
                and not d.get("pttype")
                and (d.get("size") or 0)
                and d.get("type") != "rom"
            ):
                todo.append(str(d["path"]))
            walk(d.get("children") or [])  # type: ignore[arg-type]

    walk(tree["blockdevices"])
    if todo:
        subprocess.run(
            ["blkid", "-c", "/dev/null", "-o", "export", *dict.fromkeys(todo)],
            capture_output=True,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    typer.echo(json.dumps(tree, indent=2) if _JSON[0] else f"{len(tree['blockdevices'])} devices")


if __name__ == "__main__":
    app()
