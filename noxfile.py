"""Developer sessions: tests, lint, typecheck, integration, per-plugin install-alone checks, fuzz, benchmarks, docs,
lock.

Every install takes its versions from constraints.txt (``nox -s lock`` refreshes it).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import nox
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parent
PLUGINS = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists())
CONSTRAINTS = ROOT / "constraints.txt"
DEV_REQUIREMENTS = ROOT / "requirements-dev.txt"
DOCS_REQUIREMENTS = ROOT / "requirements-docs.txt"
ANSIBLE_REQUIREMENTS = ROOT / "requirements-ansible.txt"
#: the Python the lock is resolved for: the host's and the VM guest's (Debian 12's python3.11).
LOCK_PYTHON = "3.11"
LOCK_HEADER = f"""\
# Exact versions of everything pybofh's install paths take from PyPI, every transitive dependency included:
# the runtime dependencies and the build back-end of pybofh-core and the plugins, pip itself, and the tools of
# requirements-dev.txt, requirements-docs.txt and requirements-ansible.txt; resolved for CPython {LOCK_PYTHON} on Linux
# x86_64. scripts/setup, noxfile.py, the VM guest (tests/vm/build.py) and the tests that build venvs pass it to pip
# as -c (and --build-constraint).
# Generated; do not edit by hand. Refresh (newest releases within the pyproject.toml bounds, in a clean venv):
#     .venv/bin/nox -s lock
"""
nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True

_pip_pinned: set[str] = set()


def install(session: nox.Session, *args: str) -> None:
    """``session.install`` with every version, build back-ends included, taken from constraints.txt.

    The session's pip is brought to its pinned version first (once per venv): that pip knows --build-constraint.
    """
    venv = str(getattr(session.virtualenv, "location", ""))
    if venv not in _pip_pinned:
        session.install("-c", str(CONSTRAINTS), "pip")
        _pip_pinned.add(venv)
    session.install("-c", str(CONSTRAINTS), "--build-constraint", str(CONSTRAINTS), *args)


def install_all(session: nox.Session) -> None:
    """Install the core and every plugin (compat editable: the checkout stays importable)."""
    args = ["-e", "./pybofh_core"]
    for plugin in PLUGINS:
        args += ["-e", f"./plugins/{plugin}"]
    install(session, "--config-settings", "editable_mode=compat", *args)


@nox.session
def tests(session: nox.Session) -> None:
    """The default suite: unit, corpus, loop-device and VM-backed device-mapper tests."""
    install_all(session)
    install(session, "pytest", "hypothesis")
    session.run("pytest", *session.posargs)


@nox.session
def unit(session: nox.Session) -> None:
    """Only tests that need neither root, loop devices nor the VM."""
    install_all(session)
    install(session, "pytest", "hypothesis")
    session.run("pytest", "-m", "not loopdev and not needs_dm and not vm_pair", "--ignore=tests/vm", *session.posargs)


@nox.session
def integration(session: nox.Session) -> None:
    """Only the real-device tests: loop devices on the host and device-mapper tests in the VM test bed."""
    install_all(session)
    install(session, "pytest", "hypothesis")
    session.run("pytest", "-m", "loopdev or needs_dm or vm_pair", *session.posargs)


@nox.session(venv_backend="none")
def vm(session: nox.Session) -> None:
    """Build the VM test bed's guest (cached) and run its self-tests."""
    session.run("python3", "tests/vm/build.py")
    session.run("python3", "-m", "pytest", "tests/vm", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the whole tree."""
    install(session, "ruff")
    session.run("ruff", "check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy over the core (plugins are checked as far as they are annotated)."""
    install_all(session)
    install(session, "mypy")
    session.run("mypy", "--ignore-missing-imports", "pybofh_core/pybofh_core", "pybofh_core/pybofh")


@nox.session
@nox.parametrize("plugin", PLUGINS)
def install_alone(session: nox.Session, plugin: str) -> None:
    """Each plugin installs with only the core, imports, and shows up alone in ``bofh plugins``."""
    install(session, "./pybofh_core", f"./plugins/{plugin}")
    name = plugin.removeprefix("pybofh-")
    session.run("python", "-c", f"import pybofh_{name.replace('-', '_')}")
    if name != "ssh":
        out = session.run("bofh", "plugins", "--json", silent=True)
        import json

        names = [r["name"] for r in json.loads(out)]
        if names != [name]:
            session.error(f"expected only {name!r} in bofh plugins, got {names}")


@nox.session
def fuzz(session: nox.Session) -> None:
    """Every public parser fuzzed with many examples and fresh randomness (the default suite runs 20, fixed)."""
    install_all(session)
    install(session, "pytest", "hypothesis")
    examples = os.environ.get("PYBOFH_FUZZ_EXAMPLES", "2000")
    session.run("pytest", "-q", "tests/test_fuzz_parsers.py", *session.posargs, env={"PYBOFH_FUZZ_EXAMPLES": examples})


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks (ratios against baselines measured in the same run); writes bench-results.json."""
    install_all(session)
    install(session, "pytest", "hypothesis")
    session.run("python", "benchmarks/run.py", "--json", "bench-results.json", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site (mkdocs.yml) into site/ with ``mkdocs build --strict``: any warning fails."""
    install_all(session)
    install(session, "-r", str(DOCS_REQUIREMENTS))
    session.run("mkdocs", "build", "--strict", *session.posargs, env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session
def ansible(session: nox.Session) -> None:
    """The Ansible collection (integrations/ansible): ansible-test sanity, ansible-playbook against localhost, a
    loopback sshd host and the VM test bed (tests/test_ansible.py)."""
    install_all(session)
    install(session, "pytest", "hypothesis", "-r", str(ANSIBLE_REQUIREMENTS))
    session.run("pytest", "tests/test_ansible.py", *session.posargs)


def project_requirements() -> list[str]:
    """Return what pybofh's own distributions take from PyPI: their build back-end and runtime dependencies."""
    reqs: set[str] = set()
    for folder in [ROOT / "pybofh_core", *(ROOT / "plugins" / p for p in PLUGINS)]:
        data = tomllib.loads((folder / "pyproject.toml").read_text())
        meta = data["project"]
        reqs.update(data["build-system"]["requires"], meta.get("dependencies", []))
        for extra in meta.get("optional-dependencies", {}).values():
            reqs.update(extra)
    return sorted(r for r in reqs if not canonicalize_name(Requirement(r).name).startswith("pybofh-"))


@nox.session(python=LOCK_PYTHON, venv_backend="venv", reuse_venv=False)
def lock(session: nox.Session) -> None:
    """Rewrite constraints.txt: the newest releases (within the pyproject.toml bounds) resolved in a clean venv."""
    unpinned: dict[str, str | None] = {"PIP_CONSTRAINT": None, "PIP_BUILD_CONSTRAINT": None}  # resolve afresh
    session.install("--upgrade", "pip", env=unpinned)
    session.install("--upgrade", *project_requirements(), "-r", str(DEV_REQUIREMENTS), "-r", str(DOCS_REQUIREMENTS),
                    "-r", str(ANSIBLE_REQUIREMENTS), env=unpinned)
    session.run("python", "-m", "pip", "check", env=unpinned)
    frozen = session.run("python", "-m", "pip", "freeze", "--all", silent=True, env=unpinned)
    pins: dict[str, str] = {}
    for line in str(frozen).splitlines():
        name, sep, version = line.partition("==")
        if not sep:
            session.error(f"cannot pin this line of pip freeze: {line!r}")
        if not canonicalize_name(name).startswith("pybofh-"):
            pins[canonicalize_name(name)] = version
    old = CONSTRAINTS.read_text() if CONSTRAINTS.exists() else ""
    new = LOCK_HEADER + "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))
    before = {line for line in old.splitlines() if line and not line.startswith("#")}
    after = {line for line in new.splitlines() if line and not line.startswith("#")}
    CONSTRAINTS.write_text(new)
    for line in sorted(before - after):
        session.log(f"- {line}")
    for line in sorted(after - before):
        session.log(f"+ {line}")
    session.log(f"{CONSTRAINTS.name}: {len(pins)} pins, {'unchanged' if old == new else 'updated'}")
