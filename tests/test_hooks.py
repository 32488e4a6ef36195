"""One test per hookspec (``test_hook_<name>``), plus meta-tests on the specs' documentation and the plugins."""

from __future__ import annotations

import ast
import inspect
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from pybofh_core import hookimpl, hookspecs, operation
from pybofh_core.atomic import Atomic
from pybofh_core.layers import Layer
from pybofh_core.plugins import Plugins
from pybofh_core.session import get_plugins, set_plugins
from pybofh_core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
HOOKS = sorted(n for n, f in vars(hookspecs).items() if n.startswith("pybofh_") and callable(f))


@pytest.fixture
def host() -> Iterator[Plugins]:
    """A fresh plugin host (built-in plugins discovered) installed as the process host for the test."""
    fresh = Plugins()
    set_plugins(fresh)
    try:
        yield fresh
    finally:
        set_plugins(None)


def test_hook_pybofh_register_operations(host: Plugins) -> None:
    """A plugin's operations are registered under its domain and reachable from ``Atomic()``."""

    @operation(inverse=lambda _: None)
    def ping() -> str:
        """Say pong."""
        return "pong"

    class P:
        @hookimpl
        def pybofh_register_operations(self, registry):  # type: ignore[no-untyped-def]
            registry.add("pingdom", ping)

    host.register(P(), "pingdom")
    with Atomic(journal=False) as atomic:
        assert atomic.pingdom.ping() == "pong"


def test_hook_pybofh_register_settings(host: Plugins) -> None:
    """Declared settings get their defaults and are overridable by environment variables."""

    @dataclass
    class PingSettings:
        count: int = 3

    class P:
        @hookimpl
        def pybofh_register_settings(self, registry):  # type: ignore[no-untyped-def]
            registry.add("ping", PingSettings)

    host.register(P(), "ping")
    settings = Settings(host.settings_registry, files=[], environ={"PYBOFH_PING__COUNT": "7"})
    assert settings.ping.count == 7


def test_hook_pybofh_register_cli(host: Plugins) -> None:
    """A plugin's typer app becomes ``bofh NAME …``, with the global options available to it."""
    from pybofh_core.cli import app, output

    ping_app = typer.Typer(no_args_is_help=True)

    @ping_app.command("hello")
    def hello(name: str) -> None:
        """Greet."""
        output({"hello": name})

    @ping_app.command("noop")
    def noop() -> None:
        """Nothing."""

    class P:
        @hookimpl
        def pybofh_register_cli(self, registry):  # type: ignore[no-untyped-def]
            registry.add("ping", ping_app, help="Ping things.")

    host.register(P(), "ping")
    result = CliRunner().invoke(app, ["--json", "ping", "hello", "world"])
    assert result.exit_code == 0, result.output
    assert '"hello": "world"' in result.output
    helped = CliRunner().invoke(app, ["--help"])
    assert "Ping things." in helped.output


def test_hook_pybofh_run_on_hosts(host: Plugins, capsys: pytest.CaptureFixture[str]) -> None:
    """Several ``--host``: the core hands the invocation to the first plugin that runs commands on hosts (it knows
    no transport itself) and exits with that plugin's code; with no such plugin, one line says what to install."""
    from pybofh_core.cli import main

    seen: list[tuple[list[str], list[str], bool]] = []

    class Fleet:
        @hookimpl(tryfirst=True)
        def pybofh_run_on_hosts(self, argv, hosts, json_out):  # type: ignore[no-untyped-def]
            seen.append((list(argv), list(hosts), json_out))
            return 3

    host.register(Fleet(), "fleet")
    with pytest.raises(SystemExit) as info:
        main(["--host", "a", "--host", "b", "status", "--json"])
    assert info.value.code == 3
    # the command line as the root parsed it: global options (``--json`` given anywhere) first
    assert seen == [(["--host", "a", "--host", "b", "--json", "status"], ["a", "b"], True)]
    host.unregister("fleet")
    host.unregister("ssh")
    with pytest.raises(SystemExit) as info:
        main(["--host", "a", "--host", "b", "status"])
    assert info.value.code == 1
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "bofh: error: several --host need a plugin that runs commands on hosts: pip install pybofh-ssh")


class FakeLayer(Layer):
    """A layer used only to see which plugin answered a probe."""

    def __init__(self, device: str, who: str) -> None:
        super().__init__(device)
        self.who = who

    def resize(self, size: int | None) -> None:
        """Not used."""


def test_hook_pybofh_probe_layer() -> None:
    """The first plugin that recognises the content answers; ``None`` passes; trylast answers come last."""

    class Generic:
        @hookimpl(trylast=True)
        def pybofh_probe_layer(self, device, probe):  # type: ignore[no-untyped-def]
            return FakeLayer(device, "generic")

    class Luks:
        @hookimpl
        def pybofh_probe_layer(self, device, probe):  # type: ignore[no-untyped-def]
            return FakeLayer(device, "luks") if probe.get("TYPE") == "crypto_LUKS" else None

    bare = Plugins(discover=False)
    bare.register(Generic(), "t-generic")
    bare.register(Luks(), "t-luks")
    hook = bare.pm.hook.pybofh_probe_layer
    assert hook(device="/dev/x", probe={"TYPE": "crypto_LUKS"}).who == "luks"
    assert hook(device="/dev/x", probe={"TYPE": "ext4"}).who == "generic"


def test_hook_pybofh_probe_device() -> None:
    """Device kinds are answered by the plugin that owns them; unknown devices give None from a bare host."""

    class Lvm:
        @hookimpl
        def pybofh_probe_device(self, device):  # type: ignore[no-untyped-def]
            return FakeLayer(device, "lv") if device.startswith("/dev/mapper/tvg-") else None

    bare = Plugins(discover=False)
    bare.register(Lvm(), "t-lvm")
    assert bare.pm.hook.pybofh_probe_device(device="/dev/mapper/tvg-a").who == "lv"
    assert bare.pm.hook.pybofh_probe_device(device="/dev/sdz") is None


def test_hook_pybofh_probe_status() -> None:
    """Every plugin answers with its sections; one that raises becomes an error section and hides none."""
    from pybofh_core.status import collect, section

    class Disks:
        @hookimpl
        def pybofh_probe_status(self):  # type: ignore[no-untyped-def]
            return [section("disks", "Disks", lambda: [{"name": "/dev/sda", "size": 2**30}], sizes=("size",))]

    class Buggy:
        @hookimpl
        def pybofh_probe_status(self):  # type: ignore[no-untyped-def]
            raise RuntimeError("bug")

    bare = Plugins(discover=False)
    bare.register(Disks(), "t-disks")
    bare.register(Buggy(), "t-buggy")
    report = collect(bare)
    assert [(s.name, s.plugin, s.status) for s in report.sections] == [("disks", "t-disks", "ok"),
                                                                       ("t-buggy", "t-buggy", "error")]
    assert report.to_json()["sections"][0]["rows"] == [{"name": "/dev/sda", "size": 2**30}]


def test_every_installed_plugin_answers_the_status_hook_without_raising(host: Plugins) -> None:
    """Each built-in plugin's status sections, on a fake runner that fails every command: unavailable or error
    sections, never an exception (a section's failure hides nothing)."""
    from pybofh_core.errors import CommandError
    from pybofh_core.runner import FakeRunner, use_runner
    from pybofh_core.status import collect

    class Failing(FakeRunner):
        def _execute(self, argv, data, timeout, **kw):  # type: ignore[no-untyped-def]
            raise CommandError(argv, None, reason=f"cannot run {argv[0]}: not installed")

    with use_runner(Failing()):
        report = collect(host)
    plugins = {s.plugin for s in report.sections}
    assert {"blockdev", "lvm", "crypt", "btrfs", "drbd", "xen"} <= plugins
    assert {s.status for s in report.sections} == {"unavailable"}


def test_hook_pybofh_on_atomic_event(host: Plugins) -> None:
    """Auditors hear step-done, commit, step-failed and undone; an auditor that raises breaks nothing."""
    events: list[tuple[str, dict[str, Any]]] = []

    from pybofh_core import undo

    @operation(inverse=lambda _: None)
    def unstep(n: int) -> None:
        """Undo nothing."""

    @operation(inverse=lambda res, n: undo(unstep, n))
    def step(n: int) -> int:
        """Fail for n == 99."""
        if n == 99:
            raise RuntimeError("no")
        return n

    class Auditor:
        @hookimpl
        def pybofh_register_operations(self, registry):  # type: ignore[no-untyped-def]
            registry.add("aud", step)
            registry.add("aud", unstep)

        @hookimpl
        def pybofh_on_atomic_event(self, event, journal_id, step):  # type: ignore[no-untyped-def]
            events.append((event, dict(step)))

    class Crashing:
        @hookimpl
        def pybofh_on_atomic_event(self, event, journal_id, step):  # type: ignore[no-untyped-def]
            raise ValueError("auditor bug")

    host.register(Auditor(), "auditor")
    host.register(Crashing(), "crashing")
    with Atomic(journal=False) as atomic:
        atomic.aud.step(1)
    with pytest.raises(RuntimeError):
        with Atomic(journal=False) as atomic:
            atomic.aud.step(2)
            atomic.aud.step(99)
    assert [e for e, _ in events] == ["step-done", "commit", "step-done", "step-failed", "undone"]
    assert events[0][1] == {"step": 1, "op": "aud.step", "args": {"n": 1}}


# ---------------------------------------------------------------------------------------------------------------
# Meta-tests
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOOKS)
def test_every_hookspec_is_documented(name: str) -> None:
    """Each spec documents every argument, its return, its version, and firstresult specs say so literally."""
    func = getattr(hookspecs, name)
    doc = inspect.getdoc(func) or ""
    for param in inspect.signature(func).parameters:
        assert f":param {param}:" in doc, f"{name} does not document {param}"
    assert ":returns:" in doc and ".. versionadded::" in doc
    opts = getattr(func, "pybofh_spec", {})
    if opts.get("firstresult"):
        assert "Stops at first non-None result." in doc
    assert name.startswith(("pybofh_register_", "pybofh_probe_", "pybofh_run_", "pybofh_on_"))


def test_every_hook_has_a_test() -> None:
    """For each hookspec there is a ``test_hook_<name>`` in this file."""
    tree = ast.parse(Path(__file__).read_text())
    tests = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    assert [h for h in HOOKS if f"test_hook_{h}" not in tests] == []


def test_every_registered_operation_declares_undo_or_why_not() -> None:
    """Every operation of every installed plugin has an inverse, is marked irreversible, says why it needs no undo
    (``no_undo=``), or is composite; an operation with a data check takes ``force``."""
    missing = [
        s.qualname
        for s in get_plugins().operations.specs()
        if s.inverse is None and not s.irreversible and not s.no_undo and not s.composite
    ]
    assert missing == []
    for spec in get_plugins().operations.specs():
        if spec.check is not None:
            assert "force" in inspect.signature(spec.func).parameters, spec.qualname
    for spec in get_plugins().operations.specs():
        assert (spec.func.__doc__ or "").strip(), f"{spec.qualname} has no docstring"


PLUGINS = sorted(
    p.name.removeprefix("pybofh-") for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists()
)


@pytest.mark.parametrize("plugin", PLUGINS)
def test_plugin_import_is_cheap_and_side_effect_free(plugin: str) -> None:
    """Importing a plugin with an empty PATH and a runner that fails on any call runs no command."""
    code = (
        "import sys\n"
        "from pybofh_core import runner\n"
        "def boom(*a, **k): raise SystemExit('command run at import: %r' % (a,))\n"
        "runner.Runner.run = boom\n"
        f"import pybofh_{plugin}\n"
        "heavy = [m for m in ('rich', 'pydantic', 'typer') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    env = dict(os.environ, PATH="")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"pybofh_{plugin} imports {out.stdout.strip()} at import time"


def test_startup_imports_no_plugin_internals() -> None:
    """Plugin discovery imports plugin ``__init__`` and settings modules only: no ops, facts, parsers or types."""
    code = "import json, sys\nfrom pybofh_core.session import get_plugins\nget_plugins()\n"
    code += "print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    loaded = [m for m in json.loads(out.stdout) if m.startswith("pybofh_") and not m.startswith("pybofh_core")]
    assert [m for m in loaded if "." in m and not m.endswith(".settings")] == []
