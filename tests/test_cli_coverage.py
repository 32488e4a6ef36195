"""The CLI covers the Python API: every operation a plugin registers has a ``bofh`` command, or its plugin's CLI
module says in ``NOT_IN_CLI`` why not (an undo-only or inner step); every public fact (reader) is called by a command,
or ``FACTS_NOT_IN_CLI`` says why not. A new operation or fact without either fails here."""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Iterator
from typing import Any

import pytest
import typer

from pybofh_core.session import get_plugins

HOST = get_plugins()
DOMAINS = [d for d in HOST.operations.domains() if d in HOST.cli.entries]


def _commands(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    if getattr(command, "callback", None) is not None:
        yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, [*path, name])


def _covered(domain: str) -> set[str]:
    """Operations of ``domain`` a command runs: named by the command's path (``lv create`` → create_lv,
    ``pause-sync`` → pause_sync) or called/imported in its function."""
    app = typer.main.get_command(HOST.cli.entries[domain].load())
    names = {s.name for s in HOST.operations.specs(domain)}
    found: set[str] = set()
    for path, command in _commands(app, []):
        words = [w.replace("-", "_") for w in path]
        found |= {"_".join(words), "_".join(reversed(words)), words[-1] if words else ""} & names
        source = inspect.getsource(command.callback)
        found |= {n for n in names if re.search(rf"(?:import [^\n]*\b{n}\b|\b{n}\()", source)}
    return found


def _check_reasons(domain: str, names: set[str], covered: set[str], attr: str, what: str) -> None:
    """Every name in ``names`` is covered by a command or has a reason in the CLI module's ``attr`` map; no reason is
    stale (for a name that is not one, or one a command covers) or empty."""
    entry = HOST.cli.entries[domain]
    entry.load()  # sets entry.module, the module the app came from (whichever test loaded it first)
    assert entry.module is not None, f"the {domain} app was not registered by import path"
    reasons: dict[str, str] = getattr(entry.module, attr, {})
    missing = sorted(names - covered - set(reasons))
    assert not missing, f"bofh {domain} has no command for the {what} {missing} (add one, or say why in {attr})"
    assert all(r.strip() for r in reasons.values())
    stale = sorted((set(reasons) - names) | (set(reasons) & covered))
    assert not stale, f"{attr} of {domain} lists {stale}: not a public {what[:-1]}, or one with a command"


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_operation_has_a_command_or_a_reason(domain: str) -> None:
    _check_reasons(domain, {s.name for s in HOST.operations.specs(domain)}, _covered(domain), "NOT_IN_CLI",
                   "operations")


# --- facts ------------------------------------------------------------------------------------------------------
# The public facts of a plugin are the names its package's ``_API`` map sends to the facts module: snake_case
# functions only (the seed's camelCase aliases such as ``getVGs`` or ``allDomus``, and the classes a facts module
# exports, are left out). Each is called in some command's function, or ``FACTS_NOT_IN_CLI`` says why not.


def _package(domain: str) -> Any:
    entry = HOST.cli.entries[domain]
    module = entry.module.__name__ if entry.module is not None else str(entry.app).partition(":")[0]
    return importlib.import_module(module.rpartition(".")[0])


def _facts(domain: str) -> set[str]:
    package = _package(domain)
    api: dict[str, Any] = getattr(package, "_API", {})
    aliases = set(getattr(package, "_ALIASES", {}))
    found = set()
    for name, where in api.items():
        module = where[0] if isinstance(where, tuple) else where
        if module == "facts" and name not in aliases and re.fullmatch(r"[a-z][a-z0-9_]*", name):
            if inspect.isfunction(getattr(package, name)):
                found.add(name)
    return found


FACT_DOMAINS = [d for d in HOST.cli.entries if _facts(d)]


def _facts_covered(domain: str, names: set[str]) -> set[str]:
    """Facts of ``domain`` some command calls (``name(`` in its function's source)."""
    app = typer.main.get_command(HOST.cli.entries[domain].load())
    found: set[str] = set()
    for _path, command in _commands(app, []):
        source = inspect.getsource(command.callback)
        found |= {n for n in names if re.search(rf"\b{n}\(", source)}
    return found


@pytest.mark.parametrize("domain", FACT_DOMAINS)
def test_every_fact_has_a_command_or_a_reason(domain: str) -> None:
    names = _facts(domain)
    _check_reasons(domain, names, _facts_covered(domain, names), "FACTS_NOT_IN_CLI", "facts")
