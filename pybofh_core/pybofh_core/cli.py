"""The ``bofh`` command: global options, plugin sub-apps loaded on demand, ``plugins`` and ``journal`` groups.

Errors become one line on stderr and an exit code: 0 ok, 1 an operation failed (and was rolled back), 2 bad input.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core

from . import _click as click
from .errors import PybofhError, RollbackError
from .secret import given_keys, scrub


@dataclass
class CliContext:
    """Global options, put on the typer context by the root callback; plugin commands read it from there."""

    dry_run: bool = False
    json: bool = False
    config: Path | None = None
    hosts: list[str] = field(default_factory=list)
    verbose: int = 0
    dry_runner: Any = None
    argv: list[str] = field(default_factory=list)
    wait: bool = False
    #: a dry run's block, once the command finished planning (its plan is printed at the end)
    planned: Any = None
    #: with ``--dry-run --json``: the command's results, printed with the plan as one JSON document
    dry_results: list[Any] = field(default_factory=list)
    #: keys given on the command line (``--key-file``), known to the command's block and its rollback
    keys: list[Any] = field(default_factory=list)

    def output(self, value: Any, columns: list[str] | None = None) -> None:
        """Print an API result as a table, or JSON with ``--json`` (or hand it to ``captured_output()``; in a JSON
        dry run it is kept for the plan document)."""
        sink = _sink.get()
        if sink is not None:
            sink.append(value)
            return
        from .render import render

        if self.dry_run and self.json:
            self.dry_results.append(value)
            return

        text = render(value, as_json=self.json, columns=columns)
        if text:
            typer.echo(text)


_sink: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("bofh_output_sink", default=None)


@contextlib.contextmanager
def captured_output(values: list[Any]) -> Iterator[list[Any]]:
    """Collect the results commands would print (API values, not yet rendered) into ``values`` instead of printing
    them, in this context only: a fan-out runs one ``bofh`` command per host in threads of one process."""
    token = _sink.set(values)
    try:
        yield values
    finally:
        _sink.reset(token)


def get_context(ctx: click.Context | None = None) -> CliContext:
    """The ``CliContext`` of the running ``bofh`` invocation (a default one outside the CLI)."""
    click_ctx = ctx or click.get_current_context(silent=True)
    while click_ctx is not None:
        if isinstance(click_ctx.obj, CliContext):
            return click_ctx.obj
        click_ctx = click_ctx.parent
    return CliContext()


def output(value: Any, columns: list[str] | None = None) -> None:
    """Print an API result the way the user asked (table or ``--json``)."""
    get_context().output(value, columns)


def _refuse_unloaded_plugin(ctx: click.Context, name: str) -> None:
    """``bofh NAME`` where NAME is an installed plugin that was left out or failed to load: say so (not "No such
    command"). Only asked once the command is unknown, so it costs nothing on the way to a known one."""
    from .entrypoints import disabled_reason
    from .session import get_plugins

    why = disabled_reason(name)
    why = f"disabled: {why}" if why else None
    info = get_plugins().infos.get(name)
    if why is None and info is not None and info.error:
        why = f"failed to load: {info.error}"
    if why is not None and info is not None:
        ctx.fail(f"bofh {name}: the plugin {name} is installed but {why}")


class BofhGroup(typer.core.TyperGroup):
    """The root group: built-in commands plus plugin sub-apps, imported only when their command runs.

    Until something needs the plugins themselves, the sub-apps are listed from the discovery cache
    (``_cached_entries()``), so ``bofh --help`` and ``bofh lvm --help`` import neither pluggy nor any plugin.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _plain_help(self)  # the root and its own commands; plugin sub-apps get it as they load (get_command)
        attach_completers(self, {"jid": _journal_ids})

    def _entries(self) -> dict[str, Any]:
        if _peek_host() is None:
            cached = self._cached()
            if cached is not None:
                return cached[0]
        from .session import get_plugins

        return get_plugins().cli.entries

    def _provider(self, entry: Any) -> str | None:
        """``DIST VERSION`` of the plugin that added ``entry`` (for the sub-app's epilog)."""
        name = entry.plugin or entry.name
        if _peek_host() is None:
            cached = self._cached()
            if cached is not None:
                return cached[1].get(name)
        from .session import get_plugins

        info = get_plugins().infos.get(name)
        if info is not None and info.distribution:
            return f"{info.distribution} {info.version or ''}".rstrip()
        return None

    def _cached(self) -> tuple[dict[str, Any], dict[str, str]] | None:
        """``_cached_entries()``, read once per invocation (each ``main()`` builds a new root group)."""
        if not hasattr(self, "_cache_memo"):
            self._cache_memo = _cached_entries()
        return self._cache_memo

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._entries()))

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None,
                                                                           list[str]]:
        """Like click's, but an unknown command names the closest known ones (``bofh lvn`` → did you mean lvm?)."""
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            import difflib

            from .plugins import canonical_name

            if self.get_command(ctx, canonical_name(name)) is None:
                _refuse_unloaded_plugin(ctx, canonical_name(name))
                close = difflib.get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.6)
                hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
                ctx.fail(f"No such command {name!r}.{hint}")
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        builtin = super().get_command(ctx, cmd_name)
        if builtin is not None:
            return builtin
        from .entrypoints import canonical_name

        entry = self._entries().get(canonical_name(cmd_name))
        if entry is None:
            return None
        command = typer.main.get_command(entry.load())
        _plain_help(command)
        attach_completers(command, getattr(entry.module, "COMPLETERS", {}))
        _run_in_one_block(command)
        provider = self._provider(entry)
        if provider:
            command.epilog = f"provided by {provider}"
        if entry.help and not command.help:
            command.help = entry.help
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List commands using registered help lines, without importing every plugin's CLI module."""
        entries = self._entries()
        rows = []
        for name in self.list_commands(ctx):
            if name in entries and super().get_command(ctx, name) is None:
                rows.append((name, entries[name].help))
            else:
                cmd = super().get_command(ctx, name)
                if cmd is not None and not cmd.hidden:
                    rows.append((name, cmd.get_short_help_str(limit=formatter.width)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _peek_host() -> Any:
    """The process's plugin host if one was made, without importing the plugin machinery when none was."""
    session = sys.modules.get(f"{__package__}.session")
    return session.peek_plugins() if session is not None else None


def _cached_entries() -> tuple[dict[str, Any], dict[str, str]] | None:
    """The plugins' CLI groups and their providers from the discovery cache; None when the plugins must be loaded
    (no valid cache, a plugin whose CLI is not an import path, or site plugins in ``PYBOFH_EXTRA_PLUGINS``)."""
    if os.environ.get("PYBOFH_EXTRA_PLUGINS"):
        return None
    from . import entrypoints
    from .cli_registry import CliEntry

    data = entrypoints.load()
    if data is None or any(p["cli"] is None for p in data["plugins"]):
        return None
    entries = {c["name"]: CliEntry(c["name"], c["app"], c["help"], p["name"])
               for p in data["plugins"] if not entrypoints.disabled_reason(p["name"]) for c in p["cli"]}
    providers = {p["name"]: f"{p['distribution']} {p['version'] or ''}".rstrip()
                 for p in data["plugins"] if p["distribution"]}
    return entries, providers


_COMPLETION_PARAMS = ("install_completion", "show_completion")
#: A completer: (click context, the word typed so far) → the values it could be. Read-only and quick: it runs on
#: every TAB. A plugin's CLI module lists its own as ``COMPLETERS = {"vg": vg_names, …}`` keyed by parameter name.
Completer = Callable[[Any, str], Iterable[str]]


def attach_completers(command: click.Command, completers: Mapping[str, Completer]) -> None:
    """Complete the values of ``command``'s parameters (and its sub-commands') that ``completers`` names."""
    for param in command.params:
        fn = completers.get(param.name or "")
        if fn is not None and hasattr(param, "_custom_shell_complete"):
            param._custom_shell_complete = _quiet(fn)  # type: ignore[attr-defined]
    for sub in getattr(command, "commands", {}).values():
        attach_completers(sub, completers)


def _quiet(fn: Completer) -> Callable[[Any, Any, str], list[str]]:
    """A completer that never breaks the shell: what it cannot read (no tool, no permission) completes nothing."""

    def complete(ctx: Any, param: Any, incomplete: str) -> list[str]:
        try:
            return sorted({str(v) for v in fn(ctx, incomplete) if str(v).startswith(incomplete)})
        except Exception:  # noqa: BLE001 - a completion must not print a traceback into the command line
            return []

    return complete


def _journal_ids(ctx: Any, incomplete: str) -> list[str]:
    """Journal ids, newest first (``bofh journal show|rollback <TAB>``)."""
    from .session import journal

    return [s.id for s in journal().list()]


def _plain_help(command: click.Command) -> None:
    """One help style at every level, the root's: plain text (rich help costs an import of rich and markdown-it,
    more than typer's whole start-up), docstring markup (````--json````) shown as plain words, metavars as names
    (``VG``, ``--thin-pool THIN_POOL``) instead of typer's ``<str>``, ``<list[str]>``, and no completion options on
    sub-apps (completion is the root's)."""
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    if command.help:
        command.help = _MARKUP.sub(r"\1", command.help)
    if not isinstance(command, BofhGroup):  # completion is the root's
        command.params = [p for p in command.params if p.name not in _COMPLETION_PARAMS]
    for param in command.params:
        _plain_param(param)
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub)


_MARKUP = re.compile(r"``([^`]+)``")


def _plain_param(param: click.Parameter) -> None:
    """Show one parameter click's way: ``VG``/``[VG]``/``VG...`` in usage and help, an option's value by name."""
    help_text = getattr(param, "help", None)
    if help_text:
        param.help = _MARKUP.sub(r"\1", help_text)  # type: ignore[attr-defined]
    if not hasattr(param, "display_type_rich"):
        return  # not a typer parameter
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return
    label = (param.metavar or (param.name or "value").upper()).strip("[].")
    if param.param_type_name == "argument":
        param.metavar = label
        many = "..." if param.nargs != 1 else ""
        shown = f"{label}{many}"
        param._rich_display_name = lambda: shown  # type: ignore[attr-defined]
        param._usage_display_name = lambda: shown if param.required else f"[{shown}]"  # type: ignore[attr-defined]
        param.display_type_rich = lambda ctx: ""  # type: ignore[attr-defined]
    else:
        param.display_type_rich = lambda ctx: label  # type: ignore[attr-defined]


def _run_in_one_block(command: click.Command) -> None:
    """Make every invocation of a plugin's command (group) one journalled atomic block: each operation it calls is a
    step, so a failure undoes what the command did (exit 1 means exactly that), and a command that changes nothing
    leaves no journal. Irreversible steps are allowed: the user named what they act on (data checks still apply)."""
    original = command.invoke

    def invoke(ctx: click.Context) -> Any:
        with cli_block(ctx):
            return original(ctx)

    command.invoke = invoke  # type: ignore[method-assign]


@contextlib.contextmanager
def cli_block(ctx: click.Context | None = None, *, allow_irreversible: bool = True, eager: bool = False
              ) -> Iterator[Any]:
    """The atomic block of one ``bofh`` command (core policy: commands do not open blocks of their own).

    A command names what it destroys, so irreversible steps are allowed; ``bofh run`` turns that off for job files.
    The block opens when the command calls its first operation (``_LazyBlock``): a read-only command (a listing)
    never imports the atomic-block, journal and lock machinery, and leaves no journal either way. A dry run opens it
    at once (blocks the command opens itself plan into it), and so does ``eager`` (a job file gets the real block).
    Keys given with ``--key-file`` (``state.keys``) are known to the block and to its rollback.
    """
    from . import recording

    state = get_context(ctx)
    label = "bofh " + " ".join(state.argv) if state.argv else "bofh"
    with given_keys(state.keys), contextlib.ExitStack() as stack:

        def open_block() -> Any:
            from .atomic import Atomic

            return stack.enter_context(Atomic(journal=not state.dry_run, lazy_journal=True,
                                              allow_irreversible=allow_irreversible, label=label, wait=state.wait))

        lazy = _LazyBlock(open_block)
        if eager or state.dry_run:
            lazy.open()
        with recording.recording(lazy.block or lazy):  # every operation the command calls is a step of this block
            yield lazy.block if eager else lazy
    if state.dry_run:
        state.planned = lazy.block  # planned to the end (undo commands included): the plan is printed on exit


class _LazyBlock:
    """Stands in for a command's atomic block until the command's first operation, which opens it."""

    def __init__(self, opener: Any) -> None:
        self._opener = opener
        self.block: Any = None

    def open(self) -> Any:
        """Open the real block (once) and return it."""
        if self.block is None:
            self.block = self._opener()
        return self.block

    def record(self, spec: Any, wrapper: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Open the real block (once) and record the operation call as its step."""
        return self.open().record(spec, wrapper, args, kwargs)


app = typer.Typer(
    name="bofh",
    cls=BofhGroup,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="pybofh: storage and virtualization administration with rollback.",
)
journal_app = typer.Typer(no_args_is_help=True, help="Inspect atomic-block journals and roll back interrupted jobs.")
app.add_typer(journal_app, name="journal")


@app.callback()
def root(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the commands (and their undo) instead of running them.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
    config: Annotated[Path | None, typer.Option("--config", metavar="FILE",
                                                help="Read settings from this TOML file too.")] = None,
    host: Annotated[list[str] | None, typer.Option("--host", help="Run on this host over SSH (repeatable).")] = None,
    hosts_file: Annotated[
        Path | None, typer.Option("--hosts-file", metavar="FILE", help="Read hosts from this file, one per line.")
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="Log commands to stderr (-vv: debug).")
    ] = 0,
    wait: Annotated[bool, typer.Option("--wait", help="When another job is changing an object this command acts on, "
                                       "wait for it instead of refusing.")] = False,
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=lambda v: _print_version(v),
                                          help="Print the version of pybofh-core and of every plugin, and exit.")
                       ] = False,
) -> None:
    """pybofh: storage and virtualization administration where every step can be rolled back."""
    from .settings import configure

    hosts = list(host or [])
    if hosts_file is not None:
        hosts += _read_hosts_file(hosts_file)
    state = CliContext(dry_run=dry_run, json=json_out, config=config, hosts=hosts, verbose=verbose,
                       argv=list(_ARGV), wait=wait)
    ctx.obj = state
    if verbose:
        import logging

        logging.basicConfig(
            level=logging.DEBUG if verbose > 1 else logging.INFO,
            stream=sys.stderr,
            format="bofh: %(name)s: %(message)s",
        )
        logging.getLogger("pybofh.runner").setLevel(logging.DEBUG)
    if config is not None:
        configure(config)
    if len(hosts) > 1:
        _fan_out(state)
    if len(hosts) == 1:
        from .runner import make_runner, use_runner

        ctx.with_resource(use_runner(make_runner("ssh", host=hosts[0])))
    if dry_run:
        from .runner import DryRunRunner, get_runner, use_runner

        state.dry_runner = DryRunRunner(get_runner())
        ctx.with_resource(use_runner(state.dry_runner))
        ctx.call_on_close(lambda: _print_plan(state))


_ARGV: list[str] = []


def _print_version(wanted: bool) -> None:
    """``--version``: pybofh-core's version, then one line per plugin (its distribution and version, or why it did
    not load); JSON with --json anywhere on the command line."""
    if not wanted:
        return
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    from .session import get_plugins

    try:
        core = dist_version("pybofh-core")
    except PackageNotFoundError:
        core = "unknown"
    rows: list[dict[str, str | None]] = [{"name": "core", "distribution": "pybofh-core", "version": core,
                                          "status": "ok"}]
    for info in get_plugins().list():
        rows.append({"name": info.name, "distribution": info.distribution, "version": info.version,
                     "status": info.status})
    if "--json" in _ARGV:
        from .render import render

        typer.echo(render(rows, as_json=True))
    else:
        for r in rows:
            typer.echo(f"{r['distribution'] or r['name']} {r['version'] or '?'}"
                       + ("" if r["status"] == "ok" else f" ({r['status']})"))
    raise click.Exit(0)


def _fan_out(state: CliContext) -> None:
    """Run this invocation once per host through the plugin that answers ``pybofh_run_on_hosts`` (pybofh-ssh), which
    prints the per-host results, and exit with its code. The core knows no transport."""
    from .session import get_plugins

    rc = get_plugins().pm.hook.pybofh_run_on_hosts(argv=list(state.argv), hosts=list(state.hosts), json_out=state.json)
    if rc is None:
        from .errors import PluginError

        raise PluginError("several --host need a plugin that runs commands on hosts: pip install pybofh-ssh")
    raise click.Exit(rc)


def _read_hosts_file(path: Path) -> list[str]:
    from .errors import ValidationError

    try:
        text = path.read_text()
    except OSError as exc:
        raise ValidationError(f"--hosts-file {path}: {exc.strerror}") from None
    return [ln.split("#", 1)[0].strip() for ln in text.splitlines() if ln.split("#", 1)[0].strip()]


def _print_plan(state: CliContext) -> None:
    """After a dry run that planned to the end: each step's commands and its undo's (JSON: one document)."""
    from .render import render

    block = state.planned
    if block is None:  # bad input, a refusal, or a command with no block (journal rollback prints its own plan)
        for value in state.dry_results:
            typer.echo(render(value, as_json=True))
        return
    if state.json:
        results = state.dry_results
        doc = {"dry_run": True, "steps": block.plan, "result": results[0] if len(results) == 1 else results or None}
        typer.echo(render(doc, as_json=True))
        return
    if not block.steps:
        typer.echo("dry run: nothing was changed, and nothing would change", err=True)
        return
    typer.echo("dry run: nothing was changed; the plan (each step's commands, then its undo):", err=True)
    typer.echo(block.format_plan(), err=True)


@app.command("plugins")
def plugins_cmd(
    operations: Annotated[
        bool, typer.Option("--operations", help="List each plugin's operations: undo, the tools each runs and which "
                           "of them are missing here.")
    ] = False,
) -> None:
    """List installed plugins: name, version, distribution, and load error if any."""
    from .session import get_plugins

    host = get_plugins()
    if operations:
        from .operations import missing_tools

        rows = []
        for spec in host.operations.specs():
            if spec.inverse is not None:
                undo = "yes"
            elif spec.irreversible:
                undo = f"irreversible: {spec.irreversible}"
            elif spec.no_undo:
                undo = f"none needed: {spec.no_undo}"
            else:
                undo = "composite" if spec.composite else "none declared"
            missing = missing_tools(spec)
            rows.append({"operation": spec.qualname, "undo": undo, "tools": list(spec.requires), "missing": missing,
                         "aliases": list(spec.aliases)})
        output(rows)
        return
    if get_context().json:
        output([i.to_json() for i in host.list()])
    else:
        output([{"name": i.name, "version": i.version, "distribution": i.distribution, "status": i.status}
                for i in host.list()])


@app.command("status")
def status_cmd() -> None:
    """Storage at a glance: disks, LVM, LUKS, filesystems, btrfs, DRBD and domUs.

    One screen from the installed plugins: block devices, LVM PVs and VGs with their free space, LVs, open LUKS
    (dm-crypt) mappings, filesystems with size, used, free and mountpoints, btrfs subvolume counts, DRBD roles and
    running domUs. Read-only, no journal. A plugin whose tool is missing here says so in its section; a section
    that cannot be read says why, the others still show, and the exit code is then 1. With --json: one document
    {"sections": [...]}, sizes in bytes.
    """
    from .errors import PybofhError
    from .session import get_plugins
    from .status import collect

    report = collect(get_plugins())
    output(report)
    if report.failed:
        raise PybofhError(f"{len(report.failed)} status section(s) could not be read: "
                          + ", ".join(s.title for s in report.failed))


@app.command("run", context_settings={"allow_interspersed_args": False})
def run_job(
    job: Annotated[Path, typer.Argument(metavar="JOB.py", help="A Python file: module code, or a job() function.")],
    args: Annotated[list[str] | None, typer.Argument(metavar="[ARGS]...", help="Given to the job as `args`.")] = None,
) -> None:
    """Run a job file as one journalled atomic block: every operation it calls is a step; a failure undoes them all.

    The file may define ``job()`` (or ``job(atomic)`` to get the block), which is called; otherwise its module code
    is the job. ``args`` holds the extra arguments. With --dry-run the plan is printed (--json: one document) and
    no operation changes anything; the job's own Python still runs, so it checks ``dry_run`` before writing files
    itself. Irreversible steps are refused on what the job did not create, unless the job opens its own
    ``Atomic(allow_irreversible=True)``. A file that does not compile, or fails before its first step, is exit 2.
    """
    import inspect

    from .errors import JobError, JobInputError, PybofhError
    from .signals import Interrupted

    try:
        source = job.read_text()
    except OSError as exc:
        raise JobInputError(f"job file {job}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise JobInputError(f"job file {job} is not UTF-8 text") from None
    try:
        code = compile(source, str(job), "exec")
    except SyntaxError as exc:
        raise JobInputError(f"job file {job} does not compile: line {exc.lineno}: {exc.msg}") from None
    namespace: dict[str, Any] = {"__name__": "__pybofh_job__", "__file__": str(job), "args": list(args or []),
                                 "dry_run": get_context().dry_run}
    block = None
    try:
        with cli_block(allow_irreversible=False, eager=True) as block:
            exec(code, namespace)  # noqa: S102 - running the administrator's own job file is the point
            func = namespace.get("job")
            result = None
            if callable(func):
                wants_block = len(inspect.signature(func).parameters) >= 1
                result = func(block) if wants_block else func()
        if result is not None:
            output(result)
    except (PybofhError, Interrupted, KeyboardInterrupt, click.Exit):
        raise
    except Exception as exc:  # the job's own error: one line, and the exit code says what ran
        what = f"{type(exc).__name__}: {exc}"
        if block is None or block.steps_started == 0:
            raise JobInputError(f"job {job} failed before its first step (nothing ran): {what}") from exc
        raise JobError(f"job {job} failed: {what}; every step it finished was undone") from exc


@journal_app.command("list")
def journal_list() -> None:
    """List journals of atomic blocks with their status."""
    from .session import journal

    rows = [
        {"id": s.id, "status": s.status, "steps": len(s.steps), "label": s.label, "pid": s.pid}
        for s in journal().list()
    ]
    output(rows)


@journal_app.command("show")
def journal_show(jid: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Show the steps of one journal: each step's commands, its undo, and the commands the undo ran."""
    from .session import journal

    state = journal().load(jid)
    ctx = get_context()
    if ctx.json:
        output(state.to_json())
        return
    typer.echo(f"journal {state.id}: {state.status} (pid {state.pid}, {state.label or 'no label'})")
    output(
        [
            {"step": s.step, "op": s.op, "state": s.state, "ran": "; ".join(s.commands) or None,
             "undo": (s.undo or {}).get("op"), "undo ran": "; ".join(s.undo_commands) or None, "error": s.error}
            for s in state.steps
        ]
    )


@journal_app.command("prune")
def journal_prune(
    older_than: Annotated[str, typer.Option(
        "--older-than", metavar="AGE", help="Only journals begun longer ago than this: 30d, 12h, 90m, 0.")] = "30d",
    status: Annotated[list[str] | None, typer.Option("--status", metavar="STATUS",
                                                     help="Only this status (repeatable): committed, rolled-back, "
                                                          "merged, empty. Default: all four.")] = None,
) -> None:
    """Delete the journals of blocks that ended with nothing left to undo (never interrupted, needs-attention or
    running ones). With --dry-run, list what would be deleted."""
    from .journal import PRUNABLE
    from .session import journal

    removed = journal().prune(older_than=_age_seconds(older_than), statuses=tuple(status or PRUNABLE),
                              dry_run=get_context().dry_run)
    output([{"id": jid, "pruned": not get_context().dry_run} for jid in removed])


def _age_seconds(text: str) -> float:
    """``30d`` / ``12h`` / ``90m`` / ``45s`` / ``0`` in seconds; ValidationError (exit 2) for anything else."""
    from .errors import ValidationError

    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    value = text.strip().lower()
    number, unit = (value[:-1], value[-1]) if value[-1:] in units else (value, "s")
    if not number.isdecimal():
        raise ValidationError(f"--older-than: cannot read {text!r} (use e.g. 30d, 12h, 90m or 0)")
    return int(number) * units[unit]


@journal_app.command("rollback")
def journal_rollback(
    jid: Annotated[str, typer.Argument(metavar="ID")],
    key_files: Annotated[list[str] | None, typer.Option(
        "--key-file", metavar="FILE|-",
        help="A key for undos that must open something a restart closed (a LUKS volume): a key file, or - to read "
             "it from stdin. Repeat for several; each is tried where it fits. Never stored.")] = None,
) -> None:
    """Undo what an interrupted block finished, newest first (safe to repeat: undone steps are skipped).

    Each undo first checks that its object is the one the step made: a gone object counts as already undone, a
    different one is left alone and reported. With --dry-run nothing changes: the undo plan is printed.
    """
    with given_keys(read_key_files(key_files or [])):
        _journal_rollback(jid)


#: help of a ``--key-file`` option (plugins' commands that may open a LUKS volume use it with read_key_files)
KEY_FILE_HELP = ("A key for a LUKS volume the command must open: a key file, or - to read it from stdin. Repeat "
                 "for several; each is tried where it fits. Never stored.")


#: help of a ``--round`` option (plugins' commands that take a size use it)
ROUND_HELP = ("Round a size that is not a whole number of extents/sectors up or down (else it is refused, naming "
              "the nearest valid sizes). Relative sizes always round down.")


def size_argument(size: str | None, grow_by: str | None, shrink_by: str | None) -> str:
    """One size from SIZE, ``--grow-by`` or ``--shrink-by`` (a leading ``-`` on the command line reads as an
    option: ``-- -1G`` or ``--shrink-by 1G`` say it). Exactly one must be given: else a ValidationError (exit 2)."""
    from .errors import ValidationError

    given = [v for v in (size, grow_by, shrink_by) if v is not None]
    if len(given) != 1:
        raise ValidationError("give exactly one of SIZE, --grow-by and --shrink-by")
    for flag, value in (("--grow-by", grow_by), ("--shrink-by", shrink_by)):
        if value is not None and value.strip()[:1] in ("+", "-"):
            raise ValidationError(f"{flag}: {value!r}: give the amount without a sign")
    if grow_by is not None:
        return "+" + grow_by.strip()
    if shrink_by is not None:
        return "-" + shrink_by.strip()
    assert size is not None
    return size


def give_key_files(names: list[str] | None) -> None:
    """A command's ``--key-file`` values: read now (bad input: exit 2 before anything runs) and known to the
    command's atomic block, its rollback included, for as long as the command runs; never stored."""
    get_context().keys.extend(read_key_files(list(names or [])))


def read_key_files(names: list[str]) -> list[Any]:
    """``--key-file`` values as keys for ``given_keys()``: a Path for a readable file, a
    Secret for ``-`` (stdin, read once). Bad input is a ValidationError (exit 2) before anything runs."""
    from .errors import ValidationError
    from .secret import Secret

    keys: list[Any] = []
    if names.count("-") > 1:
        raise ValidationError("--key-file: - (stdin) can be given once")
    for name in names:
        if name == "-":
            data = sys.stdin.buffer.read()
            if not data:
                raise ValidationError("--key-file -: stdin is empty")
            keys.append(Secret(data))
            continue
        path = Path(name).absolute()
        if not path.is_file() or not os.access(path, os.R_OK):
            raise ValidationError(f"--key-file: {name} is not a readable file")
        keys.append(path)
    return keys


def _journal_rollback(jid: str) -> None:
    """``bofh journal rollback`` with the given keys in place."""
    from .errors import NeedsAttentionError
    from .runner import make_runner
    from .session import get_plugins, journal

    host = get_plugins()
    ctx = get_context()

    def runner_for(desc: dict[str, Any]) -> Any:
        options = {k: v for k, v in desc.items() if k != "runner" and v is not None}
        return make_runner(desc.get("runner") or "local", **options)

    report = journal().rollback(jid, host.operations.get, runner_for, dry_run=ctx.dry_run)
    if ctx.json:
        output(_report_json(report))
    else:
        _print_report(report)
    if report.already_rolled_back or report.complete:
        return
    problems = [f"{op}: {detail}" for op, detail in report.left_alone]
    problems += [f"{op}: {scrub(str(e))}" for op, e in report.failed]
    problems += [f"{op}: was running when its process died; its effect is unknown" for op in report.unknown]
    if not report.dry_run:
        raise NeedsAttentionError(f"journal {jid} needs attention: {len(problems)} step(s) not undone", jid,
                                  problems)


def _report_json(report: Any) -> dict[str, Any]:
    """``bofh --json journal rollback``: what each step's undo did (or, in a dry run, would do)."""
    out: dict[str, Any] = {
        "id": report.id,
        "dry_run": report.dry_run,
        "already_rolled_back": report.already_rolled_back,
        "status": "rolled-back" if report.already_rolled_back or report.complete else "needs-attention",
        "undone": report.undone,
        "already_undone": [{"op": op, "detail": d} for op, d in report.already],
        "left_alone": [{"op": op, "detail": d} for op, d in report.left_alone],
        "failed": [[op, scrub(str(e))] for op, e in report.failed],
        "in_flight": report.in_flight,
        "unknown": report.unknown,
    }
    if report.dry_run:
        out["steps"] = [
            {"op": op, "undo": undo.get("op"), "args": undo.get("args", []), "kwargs": undo.get("kwargs", {}),
             "identity": undo.get("identity"), "verdict": outcome.state, "detail": outcome.detail,
             "undo_commands": commands}
            for op, undo, commands, outcome in report.plan
        ]
    return out


def _print_report(report: Any) -> None:
    """Tell what a journal rollback did, a line per step; problems go to stderr."""
    if report.already_rolled_back:
        typer.echo(f"journal {report.id} was already rolled back; nothing to do", err=True)
        return
    if report.dry_run:
        typer.echo(f"dry run: nothing was changed; rolling back journal {report.id} would:", err=True)
        for op, undo, commands, outcome in report.plan:
            verdict = {"undone": "undo", "already": "skip (already undone)", "left-alone": "leave alone",
                       "failed": "fail"}[outcome.state]
            typer.echo(f"  {verdict}: {op} → {undo.get('op')}" + (f" ({outcome.detail})" if outcome.detail else ""),
                       err=True)
            for cmd in commands:
                typer.echo(f"    $ {cmd}", err=True)
        if not report.plan:
            typer.echo("  (nothing to undo)", err=True)
        return
    for op in report.undone:
        typer.echo(f"undone: {op}")
    for op, detail in report.already:
        typer.echo(f"already undone: {op} ({detail})")
    for op, detail in report.left_alone:
        typer.echo(f"left alone: {op}: {detail}", err=True)
    for op in report.in_flight:
        if op in report.unknown:
            typer.echo(f"warning: {op} was running when the process died; check its effect by hand", err=True)
        else:
            typer.echo(f"note: {op} was running when the process died (its undo was journalled ahead, or it "
                       "needs none)", err=True)
    if report.journal_broken:
        typer.echo(f"warning: the journal could not be written ({report.journal_broken})", err=True)


#: under ``--json``, the error lines of a failing command, printed at the end as one JSON object on stderr
_ERROR_LINES: list[list[str]] = []


def _say(line: str) -> None:
    """One line on stderr; a terminal that is gone (EIO after SIGHUP) must not turn an exit code into a traceback."""
    if _ERROR_LINES:
        _ERROR_LINES[-1].append(line)
        return
    try:
        typer.echo(line, err=True)
    except OSError:
        pass


@contextlib.contextmanager
def _json_errors() -> Iterator[None]:
    """With ``--json``, a failing command's error lines become one JSON object on stderr for scripts:
    ``{"error": the first line, "exit_code": N, "messages": [every line]}``."""
    if "--json" not in _ARGV:
        yield
        return
    _ERROR_LINES.append([])
    try:
        yield
    except SystemExit as exc:
        lines = _ERROR_LINES.pop()
        if lines:
            import json

            first = lines[0].removeprefix("bofh: ").removeprefix("error: ")
            doc = {"error": first, "exit_code": exc.code, "messages": [ln.removeprefix("bofh: ") for ln in lines]}
            try:
                typer.echo(json.dumps(doc), err=True)
            except OSError:
                pass
        raise
    else:
        _ERROR_LINES.pop()


@contextlib.contextmanager
def _errors_to_exit() -> Iterator[None]:
    """Map every failure to one stderr line and an exit code (never a traceback):
    0 done, 1 failed and fully undone, 2 bad input and nothing ran, 3 not fully undone, 128+N after signal N."""
    from .errors import NeedsAttentionError

    try:
        yield
    except RollbackError as exc:
        _say(f"bofh: error: {scrub(str(exc.__cause__ or exc.message))}")
        for sub in exc.exceptions:
            _say(f"bofh: rollback failure: {scrub(str(sub))}")
        _say("bofh: not everything was undone; see 'bofh journal list'")
        raise SystemExit(exc.exit_code) from None
    except NeedsAttentionError as exc:
        _say(f"bofh: error: {scrub(str(exc))}")
        for detail in exc.details:
            _say(f"bofh: {scrub(detail)}")
        raise SystemExit(exc.exit_code) from None
    except PybofhError as exc:
        _say(f"bofh: error: {scrub(str(exc))}")
        for note in getattr(exc, "__notes__", []):
            _say(f"bofh: {scrub(note)}")
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt as exc:
        signals = sys.modules.get(f"{__package__}.signals")  # only signals.py raises Interrupted: no import here
        if signals is None or not isinstance(exc, signals.Interrupted):
            _say("bofh: interrupted")
            raise SystemExit(130) from None
        rolled = [n for n in getattr(exc, "__notes__", [])]
        _say(f"bofh: {exc}" + ("" if rolled else "; nothing was left to undo"))
        for note in rolled:
            _say(f"bofh: {scrub(note)}")
        raise SystemExit(getattr(exc, "exit_code", 130)) from None
    except click.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except click.Abort:
        _say("bofh: aborted")
        raise SystemExit(1) from None
    except click.ClickException as exc:
        try:
            exc.show()
        except OSError:
            pass
        raise SystemExit(2 if exc.exit_code == 2 else exc.exit_code) from None
    except OSError as exc:
        _say(f"bofh: error: {scrub(exc.strerror or str(exc))}" + (f": {exc.filename}" if exc.filename else ""))
        raise SystemExit(1) from None
    except Exception as exc:  # noqa: BLE001 - a bug, but still one line and an exit code
        _say(f"bofh: internal error: {type(exc).__name__}: {scrub(str(exc))} (please report it)")
        raise SystemExit(1) from None


GLOBAL_FLAGS = ("--json", "--dry-run")  # not --wait: sub-commands have their own (wait for a job to end)
#: the root's options that take a value (``--host db1`` or ``--host=db1``), accepted anywhere too
GLOBAL_VALUED = ("--host", "--hosts-file", "--config")
_VERBOSE = re.compile(r"-v+|--verbose")


def hoist_global_flags(argv: list[str]) -> list[str]:
    """Let the root's options (``--json``, ``--dry-run``, ``-v``, ``--host``, ``--hosts-file``, ``--config``) also
    follow the sub-command (``bofh lvm list --host db1 -v``) by moving them first, in their order.

    Not moved: anything after ``--``, and the arguments of ``bofh run JOB.py …``, which belong to the job.
    """
    hoisted: list[str] = []
    rest: list[str] = []
    positionals: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--" or (positionals[:1] == ["run"] and len(positionals) >= 2):
            rest += argv[i:]
            break
        name = arg.split("=", 1)[0]
        if arg in GLOBAL_FLAGS or _VERBOSE.fullmatch(arg):
            hoisted.append(arg)
        elif name in GLOBAL_VALUED:
            takes_next = "=" not in arg and i + 1 < len(argv)
            hoisted += argv[i:i + 2] if takes_next else [arg]
            i += 1 if takes_next else 0
        else:
            rest.append(arg)
            if not arg.startswith("-"):
                positionals.append(arg)
        i += 1
    return hoisted + rest


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``bofh``: run the CLI and map errors to one stderr line and an exit code."""
    argv = hoist_global_flags(list(sys.argv[1:] if argv is None else argv))
    _ARGV[:] = argv
    command = typer.main.get_command(app)
    with _json_errors(), _errors_to_exit():
        rc = command.main(args=argv, prog_name="bofh", standalone_mode=False)
    raise SystemExit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    # Import by name: running this file as __main__ would otherwise give plugins a second copy of CliContext.
    from pybofh_core.cli import main as _main

    _main()
