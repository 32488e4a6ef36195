"""Undo by identity of the Xen operations, with a fake runner (unit level: no hypervisor on this host).

The domain is the nested-Xen recording's ``tiny`` (xl 4.17.7: ``xl list -l`` with its UUID, ``xl list`` with its
state, ``xl list -l`` with only dom0 left). Cases no recording shows are derived from those files by changing one
field, and say so: another UUID under the same name, the paused state flag ``p``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pybofh_core.atomic import Atomic
from pybofh_core.errors import CommandError
from pybofh_core.operations import OperationRegistry, bind, spec_of
from pybofh_core.rollback import perform
from pybofh_core.runner import FakeRunner
from pybofh_core.session import get_settings
from pybofh_core.testing import Recordings
from pybofh_xen import ops
from pybofh_xen.types import RestoredDomu, SavedDomu, StartedDomu, StoppedDomu

REC = Recordings(Path(__file__).resolve().parent / "recordings")
TINY_UUID = "7d4cdd96-33c2-46c9-bcd4-b8a49ff3c04c"
OTHER_UUID = "0f8eb4c0-f265-6d43-b9f1-50314766df18"


def rec(name: str) -> bytes:
    return REC.output("xl-nested", f"{name}-4.17.7.txt")


LONG_TINY = rec("list-long-tiny")
LONG_GONE = rec("list-long-dom0")  # "[", blank, "]": only dom0, which xl list -l leaves out
LONG_OTHER = LONG_TINY.replace(TINY_UUID.encode(), OTHER_UUID.encode())  # derived: another domU named tiny
LIST_TINY = rec("list-tiny")
LIST_PAUSED = LIST_TINY.replace(b"-b----       2.4", b"--p---       2.4")  # derived: tiny paused
LIST_GONE = rec("list-dom0")


@pytest.fixture
def xl(fake_runner: FakeRunner) -> Any:
    """Set what ``xl list -l`` and ``xl list`` show now: ``xl(long=..., short=...)``."""
    fake_runner.expect(["xl", "list", "-l"], LONG_TINY)
    fake_runner.expect(["xl", "list"], LIST_TINY)
    long_reply, short_reply = fake_runner.replies[1], fake_runner.replies[0]

    def show(long: bytes | None = None, short: bytes | None = None) -> None:
        if long is not None:
            long_reply.stdout = long
        if short is not None:
            short_reply.stdout = short

    return show


@pytest.fixture
def confdir(tmp_path: Path) -> Iterator[Path]:
    """The recorded domain's config file (as boot_xen.py wrote it: name tiny) in a config directory."""
    d = tmp_path / "xen"
    d.mkdir()
    (d / "tiny.cfg").write_text("name = 'tiny'\nmemory = 96\nkernel = '/var/lib/pybofh-xen/vmlinuz'\n")
    with get_settings().override(xen__domu_config_dirs=[d], xen__poll_interval=0):
        yield d


def verdict(op: Any, identity: dict[str, Any], *args: Any) -> Any:
    spec = spec_of(op)
    return spec.identify(bind(spec, args, {}), identity)


def undo_of(op: Any, result: Any, *args: Any) -> Any:
    spec = spec_of(op)
    return spec.undo_for(result, bind(spec, args, {}))


def dom(runner: FakeRunner, uuid: str = TINY_UUID) -> dict[str, Any]:
    return {"name": "tiny", "uuid": uuid, "boot_id": runner.fake_boot_id}


# --- start / restore ↔ destroy by UUID -----------------------------------------------------------------------------


def test_start_undo_carries_the_uuid_read_back(fake_runner: FakeRunner, xl: Any, confdir: Path) -> None:
    u = undo_of(ops.start_domu, StartedDomu("tiny", str(confdir / "tiny.cfg")), "tiny")
    assert (u.func, u.args, u.identity) == (ops.destroy_domu, ("tiny",), dom(fake_runner))
    assert undo_of(ops.restore_domu, RestoredDomu("/srv/tiny.save", "tiny"), "/srv/tiny.save").identity == \
        dom(fake_runner)


def test_start_journals_its_undo_before_xl_create_with_the_uuid_it_gives(fake_runner: FakeRunner, xl: Any,
                                                                        confdir: Path, journal_dir: Path) -> None:
    """While ``xl create`` runs (where a ``kill -9`` would cut the step), the journal already holds the undo:
    destroy tiny, this boot, with the UUID the command line gives the domain; a config's own uuid is used as is."""
    seen: list[tuple[tuple[str, ...], list[dict[str, Any]]]] = []

    def journalled(argv: tuple[str, ...], data: bytes | None) -> None:
        lines = [json.loads(ln) for p in journal_dir.glob("*.jsonl") for ln in p.read_text().splitlines()]
        seen.append((argv, [e for e in lines if e.get("type") == "ahead"]))

    fake_runner.expect(["xl", "create", ...], effect=journalled)
    with Atomic() as atomic:
        started = atomic.xen.start_domu("tiny")
    (argv, ahead), = seen
    assert argv == ("xl", "create", "--", str(confdir / "tiny.cfg"), f'uuid="{started.uuid}"')
    assert [(e["undo"]["op"], e["undo"]["args"], e["undo"]["identity"]) for e in ahead] == [
        ("xen.destroy_domu", ["tiny"], dom(fake_runner, started.uuid))]
    (confdir / "tiny.cfg").write_text(f"name = 'tiny'\nuuid = '{TINY_UUID.upper()}'\n")
    seen.clear()
    for done in journal_dir.glob("*.jsonl"):  # the first block's, committed
        done.unlink()
    with Atomic() as atomic:
        assert atomic.xen.start_domu("tiny").uuid == TINY_UUID
    (argv, ahead), = seen
    assert argv == ("xl", "create", "--", str(confdir / "tiny.cfg"))
    assert ahead[0]["undo"]["identity"] == dom(fake_runner)


def test_destroy_undo_verdicts(fake_runner: FakeRunner, xl: Any) -> None:
    """The step's domU (same UUID): destroyed; gone: already undone; another domU named tiny: left alone, named."""
    assert verdict(ops.destroy_domu, dom(fake_runner), "tiny").action == "act"
    xl(long=LONG_GONE)
    v = verdict(ops.destroy_domu, dom(fake_runner), "tiny")
    assert (v.action, v.detail) == ("already", f"domain tiny ({TINY_UUID}) is gone")
    xl(long=LONG_OTHER)
    v = verdict(ops.destroy_domu, dom(fake_runner), "tiny")
    assert (v.action, v.detail) == ("other", f"domain tiny is now domU {OTHER_UUID}, not {TINY_UUID} which the "
                                             "step made or changed")
    outcome = perform(ops.destroy_domu, ["tiny"], {}, dom(fake_runner), fake_runner)
    assert outcome.state == "left-alone"
    assert not any(c[:2] == ("xl", "destroy") for c in fake_runner.calls)


def test_a_reboot_of_dom0_took_the_domain_with_it(fake_runner: FakeRunner, xl: Any) -> None:
    """Recorded in another boot of dom0: the step's domain is gone even if one with its UUID runs now (a config
    with a fixed uuid, started at boot)."""
    v = verdict(ops.destroy_domu, {**dom(fake_runner), "boot_id": "another-boot"}, "tiny")
    assert v.action == "already" and "before the last reboot" in v.detail


# --- pause ↔ unpause -----------------------------------------------------------------------------------------------


def test_pause_and_unpause_undo_verdicts(fake_runner: FakeRunner, xl: Any) -> None:
    xl(short=LIST_PAUSED)
    assert verdict(ops.unpause_domu, dom(fake_runner), "tiny").action == "act"
    v = verdict(ops.pause_domu, dom(fake_runner), "tiny")
    assert (v.action, v.detail) == ("already", "domain tiny is paused again")
    xl(short=LIST_TINY)
    assert verdict(ops.pause_domu, dom(fake_runner), "tiny").action == "act"
    v = verdict(ops.unpause_domu, dom(fake_runner), "tiny")
    assert (v.action, v.detail) == ("already", "domain tiny is not paused any more")
    xl(long=LONG_OTHER)
    assert verdict(ops.unpause_domu, dom(fake_runner), "tiny").action == "other"


def test_pause_journals_its_undo_ahead(fake_runner: FakeRunner, xl: Any) -> None:
    """``xl pause`` fails after pausing (or the process dies): the unpause journalled ahead finds it paused."""
    registry = OperationRegistry()
    registry.add_module("xen", ops)
    fake_runner.expect(["xl", "pause", "--", "tiny"], returncode=1, stderr=b"libxl: error\n",
                       effect=lambda _a, _d: xl(short=LIST_PAUSED))
    fake_runner.expect(["xl", "unpause", "--", "tiny"], effect=lambda _a, _d: xl(short=LIST_TINY))
    with pytest.raises(CommandError), Atomic(registry=registry) as atomic:
        atomic.xen.pause_domu("tiny")
    [(step, outcome)] = atomic.outcomes
    assert step.uncertain and step.undo.identity == dom(fake_runner) and outcome.state == "undone"
    assert fake_runner.calls[-1] == ("xl", "unpause", "--", "tiny")


# --- shutdown ↔ start again ----------------------------------------------------------------------------------------


def test_shutdown_undo_verdicts(fake_runner: FakeRunner, xl: Any, confdir: Path) -> None:
    config = str(confdir / "tiny.cfg")
    u = undo_of(ops.shutdown_domu, StoppedDomu("tiny", config), "tiny")
    assert (u.func, u.args) == (ops.start_domu, (config,))
    assert u.identity == {"name": "tiny", "config": config, "boot_id": fake_runner.fake_boot_id}
    assert verdict(ops.start_domu, u.identity, config).action == "already"  # tiny runs (again)
    xl(short=LIST_GONE)
    assert verdict(ops.start_domu, u.identity, config).action == "act"
    (confdir / "tiny.cfg").write_text("name = 'other'\n")
    v = verdict(ops.start_domu, u.identity, config)
    assert (v.action, v.detail) == ("other", f"{config} now defines domain other, not tiny which the step shut down")
    (confdir / "tiny.cfg").unlink()
    v = verdict(ops.start_domu, u.identity, config)
    assert v.action == "other" and "is gone" in v.detail


def test_shutdown_cut_short_is_probed(fake_runner: FakeRunner, xl: Any, confdir: Path) -> None:
    """``xl shutdown`` fails: the start journalled ahead finds tiny still running and counts as undone."""
    registry = OperationRegistry()
    registry.add_module("xen", ops)
    fake_runner.expect(["xl", "shutdown", "--", "tiny"], returncode=1, stderr=b"libxl: error\n")
    with pytest.raises(CommandError), Atomic(registry=registry) as atomic:
        atomic.xen.shutdown_domu("tiny")
    [(step, outcome)] = atomic.outcomes
    assert step.uncertain and outcome.state == "already" and "running again" in outcome.detail
    assert not any(c[:2] == ("xl", "create") for c in fake_runner.calls)


# --- save ↔ restore ------------------------------------------------------------------------------------------------


def test_save_undo_verdicts(fake_runner: FakeRunner, xl: Any, tmp_path: Path) -> None:
    state = str(tmp_path / "tiny.save")
    stat = ["stat", "-c", "%d:%i:%W", "--", state]
    fake_runner.expect(stat, b"65024:2171790:1796214281\n")  # the format recorded by pybofh-btrfs (coreutils 9.1)
    u = undo_of(ops.save_domu, SavedDomu("tiny", state, TINY_UUID), "tiny", state)
    assert (u.func, u.args) == (ops.restore_domu, (state,))
    assert u.identity == {"name": "tiny", "uuid": TINY_UUID, "file": "65024:2171790:1796214281"}
    v = verdict(ops.restore_domu, u.identity, state)
    assert (v.action, v.detail) == ("already", f"domain tiny ({TINY_UUID}) is running again")
    xl(long=LONG_OTHER)
    assert verdict(ops.restore_domu, u.identity, state).action == "other"  # another tiny took the name
    xl(long=LONG_GONE)
    assert verdict(ops.restore_domu, u.identity, state).action == "act"
    fake_runner.expect(stat, b"65024:2171791:1796214281\n")
    v = verdict(ops.restore_domu, u.identity, state)
    assert v.action == "other" and "is now file 65024:2171791" in v.detail
    fake_runner.expect(stat, stderr=b"stat: cannot statx: No such file or directory\n", returncode=1)
    v = verdict(ops.restore_domu, u.identity, state)
    assert v.action == "other" and "is gone; it cannot be restored" in v.detail


def test_every_operation_declares_an_undo_or_why_not() -> None:
    registry = OperationRegistry()
    registry.add_module("xen", ops)
    for spec in registry.specs("xen"):
        kinds = [spec.inverse is not None, spec.irreversible is not None, spec.no_undo is not None, spec.composite]
        assert sum(kinds) == 1, spec.name
    assert spec_of(ops.reboot_domu).no_undo  # it was inverse=lambda res: None
