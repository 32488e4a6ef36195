"""``bofh --host A --host B … COMMAND``: re-run the sub-command once per host, in parallel, and render per-host results.

Proposed core integration (``pybofh_core/cli.py``, ``root()``): when more than one host is given, call
``run_on_hosts(argv, hosts, json_out=json_out)`` with the argv ``main()`` received, and ``raise click.Exit(rc)`` so
the sub-command does not also run locally. Each host gets its own ``bofh --json --host H …`` child process (own
runner, settings, output and exit code: plugins need no change), started after a ``true`` over ssh has opened the
host's master connection in a shared private control dir, which the child reuses (one handshake per host).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from pybofh_core.errors import PybofhError, ValidationError
from pybofh_core.runner import LocalRunner, get_runner

from .fanout import HostResult, HostStatus, fan_out
from .runner import SshRunner, _settings_defaults

#: Root options that take a value, and those of them the fan-out removes (each child gets its own ``--host``).
_VALUED = ("--config", "--host", "--hosts-file")
_HOST_OPTIONS = ("--host", "--hosts-file")
#: How a child bofh is started (not ``-m pybofh_core.cli``: that would load the CLI module twice, as ``__main__``).
BOFH_MAIN = "from pybofh_core.cli import main; main()"
#: A child bofh may run long (resyncs, copies); it is killed only after this many seconds.
CHILD_TIMEOUT = 24 * 3600.0


class HostCommandFailed(PybofhError):
    """The per-host ``bofh`` child exited non-zero; carries its exit code, error lines and parsed output."""

    def __init__(self, host: str, exit_code: int, errors: list[str], output: Any) -> None:
        self.host = host
        self.exit_code = exit_code
        self.errors = errors
        self.output = output
        self.rolled_back = any("rolled back" in e for e in errors)
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


def _parse_output(text: str) -> Any:
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _child_job(sub_argv: list[str], control_dir: str, config: str | None) -> Any:
    """Open the host's master connection, then run ``bofh --json --host H <sub_argv>`` reusing it."""

    def job(host: str) -> Any:
        runner = get_runner()
        if not isinstance(runner, SshRunner):
            raise ValidationError(f"fan-out job for {host}: the current runner is not an ssh runner")
        runner.ping()
        env = {"PYBOFH_SSH__CONTROL_DIR": control_dir}
        if config:
            env["PYBOFH_SSH__SSH_CONFIG"] = config
        argv = [sys.executable, "-c", BOFH_MAIN, "--json", "--host", host, *sub_argv]
        res = LocalRunner().run(argv, check=False, env=env, timeout=CHILD_TIMEOUT)
        errors = [ln.removeprefix("bofh: ").strip() for ln in res.err.splitlines() if ln.startswith("bofh: ")]
        if res.returncode != 0:
            raise HostCommandFailed(host, res.returncode, errors, _parse_output(res.text))
        return _parse_output(res.text)

    return job


def run_on_hosts(
    argv: Sequence[str],
    hosts: Sequence[str],
    *,
    json_out: bool = False,
    max_workers: int | None = None,
    progress: bool | None = None,
) -> int:
    """Run the bofh invocation ``argv`` on every host in parallel; print per-host results; return the exit code.

    Exit code: 0 when every host succeeded, 2 when a host reported bad input, else 1 (failed or unreachable).
    ``progress`` shows a progress bar over hosts on stderr (default: when stderr is a terminal).
    """
    import typer

    from pybofh_core.render import render

    sub = child_argv(argv)
    if not any(not a.startswith("-") for a in sub):  # root flags such as --json may come first
        raise ValidationError("bofh --host …: give a sub-command to run on the hosts")
    control_dir = tempfile.mkdtemp(prefix="bofh-fan-", dir="/tmp")
    defaults = _settings_defaults()
    config = str(defaults.ssh_config) if defaults.ssh_config else None
    show = sys.stderr.isatty() if progress is None else progress
    try:
        if show:
            with typer.progressbar(length=len(hosts), label="hosts", file=sys.stderr) as bar:
                results = fan_out(hosts, _child_job(sub, control_dir, config), max_workers=max_workers,
                                  runner_options={"control_dir": control_dir}, close=False,
                                  on_result=lambda _r: bar.update(1))
        else:
            results = fan_out(hosts, _child_job(sub, control_dir, config), max_workers=max_workers,
                              runner_options={"control_dir": control_dir}, close=False)
    finally:
        for host in hosts:
            try:
                SshRunner(host, control_dir=control_dir).stop_master()
            except PybofhError:
                pass
        shutil.rmtree(control_dir, ignore_errors=True)
    rows = [_row(r) for r in results]
    if json_out:
        typer.echo(json.dumps(rows, indent=2, default=str))
    else:
        for r in results:
            if r.ok and r.value is not None:
                typer.echo(f"== {r.host} ==")
                typer.echo(render(r.value))
        typer.echo(render([{k: row[k] for k in ("host", "status", "seconds", "error")} for row in rows]))
    for r in results:
        if isinstance(r.exception, HostCommandFailed):
            for line in r.exception.errors:
                typer.echo(f"bofh: [{r.host}] {line}", err=True)
    return _exit_code(results)


def _row(r: HostResult) -> dict[str, Any]:
    exc = r.exception
    failed = exc if isinstance(exc, HostCommandFailed) else None
    return {
        "host": r.host,
        "status": r.status.value,
        "exit_code": failed.exit_code if failed else (0 if r.ok else 1),
        "seconds": round(r.seconds, 3),
        "result": r.value if r.ok else (failed.output if failed else None),
        "error": r.error,
        "rolled_back": failed.rolled_back if failed else r.rolled_back,
    }


def _exit_code(results: Sequence[HostResult]) -> int:
    if all(r.status is HostStatus.OK for r in results):
        return 0
    if any(isinstance(r.exception, HostCommandFailed) and r.exception.exit_code == 2 for r in results):
        return 2
    return 1
