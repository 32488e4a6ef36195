"""Fixtures of the ssh transport's tests: a real sshd fleet on loopback and an in-process marker-file plugin."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


def load_helper(name: str) -> ModuleType:
    """Import a helper module of this tests dir by file path (tests run with --import-mode=importlib)."""
    modname = f"pybofh_ssh_tests_{name}"
    if modname in sys.modules:
        return sys.modules[modname]
    spec = importlib.util.spec_from_file_location(modname, HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    spec.loader.exec_module(module)
    return module


HOSTILE = [
    "a b", "it's", 'say "hi"', "x; touch {tmp}/pwned1", "$(touch {tmp}/pwned2)", "`touch {tmp}/pwned3`", "l1\nl2",
    "*", "~", "$HOME", "a\\b", "-n", "\t tab ", "ünï ☃", "", "&& touch {tmp}/pwned4 ||", "'", "%s", "\\'\"",
]


@pytest.fixture
def hostile_args(tmp_path: Path) -> list[str]:
    """Argv elements a shell would mangle or execute unquoted; injected commands would create tmp_path/pwned*."""
    return [h.format(tmp=tmp_path) for h in HOSTILE]


@pytest.fixture(scope="session")
def sshd() -> Iterator[Any]:
    """A running test sshd with hosts h1…h3 (ports on 127.0.0.1) and an unreachable ``dead`` host; always stopped."""
    testbed = load_helper("sshd_testbed")
    reason = testbed.unavailable()
    if reason:
        pytest.skip(reason)
    bed = testbed.SshdTestbed(3)
    try:
        bed.start()
        yield bed
    finally:
        bed.stop()


@pytest.fixture
def ssh_opts(sshd: Any) -> dict[str, Any]:
    """SshRunner options reaching the test fleet (its private ssh_config)."""
    return sshd.options()


@pytest.fixture
def marker_plugin() -> Iterator[ModuleType]:
    """Register the ``sshtest`` operations (marker files made and removed through the runner) in the plugin host."""
    from pybofh_core.session import get_plugins

    ops = load_helper("marker_ops")
    host = get_plugins()
    plugin = ops.Plugin()
    host.register(plugin, name="sshtest")
    try:
        yield ops
    finally:
        host.unregister("sshtest")
