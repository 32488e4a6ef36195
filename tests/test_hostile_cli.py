"""Hostile input through the ``bofh`` CLI: every plugin command argument naming a thing, a size or a path.

Each hostile value must end in exit code 2 with one ``bofh: error:`` line (or click's usage error), no traceback,
and no command run. Commands are discovered from the installed plugins' typer apps.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
import typer

from pybofh_core.cli import main
from pybofh_core.runner import FakeRunner, use_runner
from pybofh_core.session import get_plugins

from .test_hostile import NAME_PARAMS, NAMES, PATH_PARAMS, PATHS, RELATIVE, SIZE_PARAMS, SIZES

#: commands whose SIZE may be relative ("-1G" after -- is a shrink by 1 GiB, not hostile input)
RELATIVE_COMMANDS = {("blockdev", "resize"), ("lvm", "lv", "resize")}

CLI_NAMES = NAME_PARAMS | {"resources"}
CLI_PATHS = PATH_PARAMS
GOOD = {
    "name": "pybofhok", "vg": "pybofhvg", "new_name": "pybofhnew", "origin": "orig0", "res": "r0", "resources": "r0",
    "domu": "domu0", "size": "64M", "device": "/dev/loop0", "devices": "/dev/loop0", "mountpoint": "/tmp",
    "target": "/tmp", "path": "/tmp", "src": "/tmp", "dst": "/tmp/pybofh-new", "target_dir": "/tmp",
    "dest_dir": "/tmp", "snapshot": "/tmp", "file": "/tmp/pybofh-header", "slot": "1", "subvolume": "256",
}


def _walk(cmd: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    subs = getattr(cmd, "commands", None)
    if subs:
        for name, sub in subs.items():
            yield from _walk(sub, [*path, name])
    else:
        yield path, cmd


def commands() -> list[tuple[list[str], list[str]]]:
    """(command path, argument names) of every plugin CLI command with a name, size or path argument."""
    out = []
    for name, entry in sorted(get_plugins().cli.entries.items()):
        for path, cmd in _walk(typer.main.get_command(entry.load()), [name]):
            args = [p.name for p in cmd.params if p.param_type_name == "argument"]
            if set(args) & (CLI_NAMES | CLI_PATHS | SIZE_PARAMS):
                out.append((path, args))
    return out


def _values(arg: str) -> list[str]:
    pool = NAMES if arg in CLI_NAMES else SIZES if arg in SIZE_PARAMS else PATHS if arg in CLI_PATHS else []
    return [v for v in pool if isinstance(v, str) and v != "0"]


@pytest.mark.parametrize(("path", "args"), commands(), ids=lambda x: " ".join(x) if x and isinstance(x[0], str)
                         and len(x) < 4 and not any(a in GOOD for a in x) else None)
def test_cli_refuses_hostile_arguments(path: list[str], args: list[str], capfd: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Exit 2, one error line, no traceback, no command — for every hostile value of every argument."""
    wrong: list[str] = []
    for attacked in args:
        for value in _values(attacked):
            if value in RELATIVE and tuple(path) in RELATIVE_COMMANDS:
                continue
            argv = [GOOD.get(a, "x") if a != attacked else value for a in args]
            monkeypatch.setattr("sys.stdin", io.StringIO("a-passphrase-1\n" * 4))
            fake = FakeRunner()
            with use_runner(fake), pytest.raises(SystemExit) as info:
                main([*path, "--", *argv])
            _, err = capfd.readouterr()
            if info.value.code != 2:
                wrong.append(f"{attacked}={value!r}: exit {info.value.code}: {err.strip()[:200]}")
            elif fake.calls:
                wrong.append(f"{attacked}={value!r}: ran {fake.calls}")
            elif "Traceback" in err or not err.strip():
                wrong.append(f"{attacked}={value!r}: no clean error line: {err[:200]!r}")
    assert wrong == [], f"bofh {' '.join(path)}:\n  " + "\n  ".join(wrong)
