"""``bofh --host A --host B … COMMAND``: run the sub-command once per host, in parallel, and render per-host results.

Called through the ``pybofh_run_on_hosts`` hook (the core's ``bofh`` root asks it when more than one host is given)
with the argv ``main()`` received; it returns the exit code. Each host's command runs in a worker thread of this process
(no new Python per host) with an :class:`SshRunner` for that host as the current runner, through the same ``bofh``
command tree (parsing, one atomic block per command, exit codes), its results captured instead of printed. Every
runner opens one connection and one resident remote shell; the pool is ``ssh.max_workers`` wide. With ``--json`` and
the setting ``ssh.json_lines`` each host's result is printed as one JSON line as soon as that host finishes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pybofh_core.cli import GLOBAL_VALUED
from pybofh_core.errors import PybofhError, ValidationError
from pybofh_core.secret import scrub

from .fanout import HostResult, HostStatus, _is_unreachable, fan_out
from .runner import _settings_defaults

#: Root options that take a value (the core's one list), and those of them the fan-out removes (each child gets its
#: own ``--host``).
_VALUED = GLOBAL_VALUED
_HOST_OPTIONS = ("--host", "--hosts-file")
#: Root options already applied by the invocation that fans out (settings are per process, not per host).
_APPLIED = ("--config",)


class HostCommandError(PybofhError):
    """The per-host ``bofh`` child exited non-zero; carries its exit code, error lines and parsed output."""

    def __init__(self, host: str, exit_code: int, errors: list[str], output: Any) -> None:
        self.host = host
        self.exit_code = exit_code
        self.errors = errors
        self.output = output
        super().__init__("; ".join(errors) or f"bofh exited with status {exit_code} on {host}")


def child_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` without the root ``--host``/``--hosts-file`` options (the sub-command's own options are kept)."""
    out: list[str] = []
    i = 0
    args = list(argv)
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0]
        if arg == "--" or not arg.startswith("-"):
            return out + args[i:]  # the sub-command and everything after it
        if name in _VALUED and "=" not in arg:
            if name not in _HOST_OPTIONS:
                out += args[i:i + 2]
            i += 2
            continue
        if name not in _HOST_OPTIONS:
            out.append(arg)
        i += 1
    return out


def _json_value(values: list[Any]) -> Any:
    """What a command printed with ``--json``, as plain JSON values (one result, a list of them, or None)."""
    from pybofh_core.render import render

    parsed = [json.loads(render(v, as_json=True) or "null") for v in values]
    return parsed[0] if len(parsed) == 1 else (parsed or None)


@dataclass(frozen=True)
class Captured:
    """What a command printed on one host: the objects themselves (for the text view, rendered by their own
    renderers as on one host) and their JSON form (for ``--json`` and the rows)."""

    objects: list[Any]
    json: Any


def _json_of(value: Any) -> Any:
    return value.json if isinstance(value, Captured) else value


def _host_job(sub_argv: list[str]) -> Any:
    """The fan-out job: run ``bofh --json <sub_argv>`` in this thread (the host's runner is current)."""
    import typer

    from pybofh_core import _click as click
    from pybofh_core import cli

    args = ["--json", *_without_applied(sub_argv)]

    def job(host: str) -> Any:
        values: list[Any] = []
        rc: Any = 0
        try:
            with cli.captured_output(values):
                rc = typer.main.get_command(cli.app).main(args=args, prog_name="bofh", standalone_mode=False)
        except click.Exit as exc:
            rc = exc.exit_code
        except click.ClickException as exc:
            raise HostCommandError(host, 2 if exc.exit_code == 2 else exc.exit_code, [exc.format_message()],
                                    None) from None
        except PybofhError as exc:
            if _is_unreachable(exc):
                raise
            lines = [scrub(str(exc)), *(scrub(n) for n in getattr(exc, "__notes__", []))]
            raise HostCommandError(host, getattr(exc, "exit_code", 1), lines, _json_value(values)) from exc
        if isinstance(rc, int) and rc != 0:
            raise HostCommandError(host, rc, [], _json_value(values))
        return Captured(values, _json_value(values))

    return job


def _without_applied(argv: list[str]) -> list[str]:
    """``argv`` without the root options the fanning-out invocation already applied (``--config FILE``)."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--" or not arg.startswith("-"):
            return out + argv[i:]
        name = arg.split("=", 1)[0]
        if name in _APPLIED:
            i += 1 if "=" in arg else 2
            continue
        out.append(arg)
        i += 1
    return out


def run_on_hosts(
    argv: Sequence[str],
    hosts: Sequence[str],
    *,
    json_out: bool = False,
    max_workers: int | None = None,
    progress: bool | None = None,
) -> int:
    """Run the bofh invocation ``argv`` on every host in parallel; print per-host results; return the exit code.

    ``max_workers`` defaults to the ``ssh.max_workers`` setting. Exit code: 0 when every host succeeded, 2 when a
    host reported bad input, else 1 (failed or unreachable).
    ``progress`` shows a progress bar over hosts on stderr (default: when stderr is a terminal).
    """
    import typer

    from pybofh_core.render import render

    sub = child_argv(argv)
    if not any(not a.startswith("-") for a in sub):  # root flags such as --json may come first
        raise ValidationError("bofh --host …: give a sub-command to run on the hosts")
    defaults = _settings_defaults()
    lines = json_out and defaults.json_lines
    show = sys.stderr.isatty() if progress is None else progress
    bar: Any = None

    def on_result(result: HostResult) -> None:
        if lines:
            typer.echo(json.dumps(_row(result), default=str))  # click's echo flushes: one line per finished host
        if bar is not None:
            bar.update(1)

    if show:
        with typer.progressbar(length=len(hosts), label="hosts", file=sys.stderr) as bar:
            results = fan_out(hosts, _host_job(sub), max_workers=max_workers, on_result=on_result)
    else:
        results = fan_out(hosts, _host_job(sub), max_workers=max_workers, on_result=on_result)
    rows = [_row(r) for r in results]
    if lines:
        pass  # printed as each host finished
    elif json_out:
        typer.echo(json.dumps(rows, indent=2, default=str))
    else:
        for r in results:
            shown = r.value.objects if isinstance(r.value, Captured) else [r.value]
            if r.ok and any(v is not None for v in shown):
                typer.echo(f"== {r.host} ==")
                for value in shown:
                    typer.echo(render(value))
        typer.echo(render([{k: row[k] for k in ("host", "status", "seconds", "error")} for row in rows]))
    for r in results:
        if isinstance(r.exception, HostCommandError):
            for line in r.exception.errors:
                typer.echo(f"bofh: [{r.host}] {line}", err=True)
    return _exit_code(results)


def _row(r: HostResult) -> dict[str, Any]:
    exc = r.exception
    failed = exc if isinstance(exc, HostCommandError) else None
    return {
        "host": r.host,
        "status": r.status.value,
        "exit_code": failed.exit_code if failed else (0 if r.ok else 1),
        "seconds": round(r.seconds, 3),
        "result": _json_of(r.value) if r.ok else (failed.output if failed else None),
        "error": r.error,
        "rolled_back": r.rolled_back,  # counted from the host's atomic-block events, as fan_out() counts them
    }


def _exit_code(results: Sequence[HostResult]) -> int:
    if all(r.status is HostStatus.OK for r in results):
        return 0
    if any(isinstance(r.exception, HostCommandError) and r.exception.exit_code == 2 for r in results):
        return 2
    return 1
