"""Developer sessions: tests, lint, typecheck, integration, per-plugin install-alone checks, benchmarks."""

from __future__ import annotations

from pathlib import Path

import nox

ROOT = Path(__file__).parent
PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists())
nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


def install_all(session: nox.Session) -> None:
    """Install the core and every plugin (compat editable: the checkout stays importable)."""
    args = ["-e", "./pybofh_core"]
    for plugin in PLUGINS:
        args += ["-e", f"./plugins/{plugin}"]
    session.install("--config-settings", "editable_mode=compat", *args)


@nox.session
def tests(session: nox.Session) -> None:
    """The default suite: unit, corpus, loop-device and VM-backed device-mapper tests."""
    install_all(session)
    session.install("pytest", "hypothesis")
    session.run("pytest", *session.posargs)


@nox.session
def unit(session: nox.Session) -> None:
    """Only tests that need neither root, loop devices nor the VM."""
    install_all(session)
    session.install("pytest", "hypothesis")
    session.run("pytest", "-m", "not loopdev and not needs_dm and not vm_pair", "--ignore=tests/vm", *session.posargs)


@nox.session
def integration(session: nox.Session) -> None:
    """Only the real-device tests: loop devices on the host and device-mapper tests in the VM test bed."""
    install_all(session)
    session.install("pytest", "hypothesis")
    session.run("pytest", "-m", "loopdev or needs_dm or vm_pair", *session.posargs)


@nox.session(venv_backend="none")
def vm(session: nox.Session) -> None:
    """Build the VM test bed's guest (cached) and run its self-tests."""
    session.run("python3", "tests/vm/build.py")
    session.run("python3", "-m", "pytest", "tests/vm", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the whole tree."""
    session.install("ruff")
    session.run("ruff", "check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over the core (plugins are checked as far as they are annotated)."""
    install_all(session)
    session.install("mypy")
    session.run("mypy", "--ignore-missing-imports", "pybofh_core/pybofh_core", "pybofh_core/pybofh")


@nox.session
@nox.parametrize("plugin", PLUGINS)
def install_alone(session: nox.Session, plugin: str) -> None:
    """Each plugin installs with only the core, imports, and shows up alone in ``bofh plugins``."""
    session.install("./pybofh_core", f"./plugins/{plugin}")
    name = plugin.removeprefix("pybofh-")
    session.run("python", "-c", f"import pybofh_{name.replace('-', '_')}")
    if name != "ssh":
        out = session.run("bofh", "plugins", "--json", silent=True)
        import json

        names = [r["name"] for r in json.loads(out)]
        if names != [name]:
            session.error(f"expected only {name!r} in bofh plugins, got {names}")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (ratios against baselines measured in the same run); writes bench-results.json."""
    install_all(session)
    session.install("pytest", "hypothesis")
    session.run("python", "benchmarks/run.py", "--json", "bench-results.json", *session.posargs)
