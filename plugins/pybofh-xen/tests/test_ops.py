"""Operations through the fake runner: argv of each operation and of its undo, validation before any command, the
shutdown wait, dry runs, and the seed's example. ``xl list`` replies are real outputs read in place from the shared
corpus; the "no hypervisor" replies are this project's recordings of xl 4.17 on this host.

Undos carry the domain's UUID, read with ``xl list -l`` (and a state file's identity, with ``stat``): those replies
are the nested-Xen recording of ``xl list -l`` with the domain's name, id and UUID changed (:func:`list_long`), and
those reads are left out of the argv comparisons (:func:`mutating`), which pin the same commands as before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from pybofh_core.atomic import Atomic
from pybofh_core.errors import (
    IrreversibleOperationError,
    NotFoundError,
    ParseError,
    ToolUnavailableError,
    ValidationError,
)
from pybofh_core.runner import DryRunRunner, FakeRunner, use_runner
from pybofh_core.session import get_settings
from pybofh_core.testing import Recording, Recordings
from pybofh_xen import facts, ops
from pybofh_xen.errors import DomuNotFoundError, DomuTimeoutError

REC = Recordings(Path(__file__).resolve().parent / "recordings")
LIST_WITH_FREEBSD = "xl_list_xen-4.17_armhf_real-tabs-in-header_xen-devel-ml.txt"  # Domain-0 and freebsd
LIST_DOM0_ONLY = "xl_list_xen-4.0.1_dom0-only.txt"


class Boom(Exception):
    """Raised inside atomic blocks to force a rollback."""


@pytest.fixture
def confdir(tmp_path: Path) -> Iterator[Path]:
    """Two domU configs (test input files) in a temp config dir, selected through the settings."""
    d = tmp_path / "xen"
    d.mkdir()
    (d / "web.cfg").write_text("name = 'web'\nmemory = 256\ndisk = [ 'phy:/dev/vg0/web-disk,xvda,w' ]\n")
    (d / "freebsd.cfg").write_text("name = \"freebsd\"\nmemory = 1152\nvcpus = 1\n")
    (d / "xl.conf").write_text("autoballoon = 'off'\n")  # not a domU config: excluded by the glob
    with get_settings().override(xen__domu_config_dirs=[d], xen__poll_interval=0):
        yield d


def corpus_list(corpus: Path, name: str) -> bytes:
    return (corpus / "xen" / name).read_bytes()


def list_long(*domains: tuple[str, str]) -> bytes:
    """``xl list -l`` with these (name, uuid) domains: the recorded 4.17.7 output for ``tiny``, one copy per domain
    with its name, domid and uuid changed (derived from real structure; no recording has these domains)."""
    entry = json.loads(REC.output("xl-nested", "list-long-tiny-4.17.7.txt"))[0]
    out = []
    for domid, (name, uuid) in enumerate(domains, start=1):
        e = json.loads(json.dumps(entry))
        e["domid"], e["config"]["c_info"]["name"], e["config"]["c_info"]["uuid"] = domid, name, uuid
        out.append(e)
    return json.dumps(out, indent=4).encode() + b"\n"


UUIDS = {"web": "2e0b3c1a-5f43-4c38-9a8e-4d1f0b8a7c11", "mail": "8b7f0c1e-2d3a-4b5c-8d9e-0f1a2b3c4d5e",
         "db": "c4f1a2b3-6d7e-4f80-9a1b-2c3d4e5f6071", "freebsd": "0c6a4b8e-1f2d-4e3c-b5a6-978877665544"}


GIVEN_UUID = re.compile(r'uuid="([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12})"')


def plain(calls: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """``calls`` with the ``uuid="…"`` pybofh adds to ``xl create`` of a config without a uuid taken off (after
    checking it is a fresh random UUID)."""
    out = []
    for c in calls:
        if c[:2] == ("xl", "create") and len(c) == 5:
            assert GIVEN_UUID.fullmatch(c[4]), c
            c = c[:4]
        out.append(c)
    return out


def xl_creates_with_the_given_uuid(fake_runner: FakeRunner) -> None:
    """``xl create`` as Xen does it: the domain (named as its config file) gets the UUID on the command line, and
    ``xl list -l`` shows every domain created so far."""
    made: list[tuple[str, str]] = []

    def effect(argv: tuple[str, ...], data: bytes | None) -> None:
        found = GIVEN_UUID.fullmatch(argv[-1])
        assert found, argv
        made.append((Path(argv[3]).stem, found.group(1)))
        fake_runner.expect(["xl", "list", "-l"], list_long(*made))

    fake_runner.expect(["xl", "create", ...], effect=effect)


def mutating(calls: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """The calls without the identity reads (``xl list -l``, ``stat``), ``uuid="…"`` taken off (``plain``)."""
    return plain([c for c in calls if c != ("xl", "list", "-l") and c[0] != "stat"])


def test_seed_example_runs_as_written(fake_runner: FakeRunner, confdir: Path, corpus: Path) -> None:
    fake_runner.expect(["xl", "list"], corpus_list(corpus, LIST_WITH_FREEBSD))
    fake_runner.expect(["xl", "create", ...])
    from pybofh import xen

    for domu in xen.allDomus():
        if not xen.isDomuRunning(domu):
            xen.startDomu(domu)
    assert plain(fake_runner.calls) == [("xl", "list"), ("xl", "list"),
                                        ("xl", "create", "--", str(confdir / "web.cfg"))]
    assert [d.name for d in xen.all_domus()] == ["freebsd", "web"]


def test_start_domu_undo_destroys(fake_runner: FakeRunner, confdir: Path) -> None:
    fake_runner.expect(["xl", ...])
    xl_creates_with_the_given_uuid(fake_runner)
    with pytest.raises(Boom), Atomic() as atomic:
        started = atomic.xen.start_domu("web")
        assert (started.name, started.config_path) == ("web", str(confdir / "web.cfg"))
        assert atomic.steps[-1].undo.identity == {"name": "web", "uuid": started.uuid,
                                                  "boot_id": fake_runner.fake_boot_id}
        raise Boom
    assert mutating(fake_runner.calls) == [("xl", "create", "--", str(confdir / "web.cfg")),
                                           ("xl", "destroy", "--", "web")]


def test_start_domu_by_config_path_and_dom_object(fake_runner: FakeRunner, confdir: Path) -> None:
    fake_runner.expect(["xl", "create", ...])
    ops.start_domu(confdir / "freebsd.cfg")
    ops.start_domu(facts.get_domu("web"))
    assert plain(fake_runner.calls) == [("xl", "create", "--", str(confdir / "freebsd.cfg")),
                                        ("xl", "create", "--", str(confdir / "web.cfg"))]


def test_shutdown_waits_then_undo_starts_again(fake_runner: FakeRunner, confdir: Path, corpus: Path) -> None:
    fake_runner.expect(["xl", "list"], corpus_list(corpus, LIST_DOM0_ONLY))
    fake_runner.expect(["xl", "list"], corpus_list(corpus, LIST_WITH_FREEBSD), times=2)
    fake_runner.expect(["xl", "shutdown", "--", "freebsd"])
    fake_runner.expect(["xl", "create", ...])
    with pytest.raises(Boom), Atomic() as atomic:
        stopped = atomic.xen.shutdown_domu("freebsd")
        assert stopped.config_path == str(confdir / "freebsd.cfg")
        raise Boom
    assert fake_runner.calls[:4] == [("xl", "shutdown", "--", "freebsd"), ("xl", "list"), ("xl", "list"),
                                     ("xl", "list")]  # the wait polls until it is gone
    assert plain(fake_runner.calls[4:]) == [("xl", "list"),  # the undo's check: not running (already undone if so)
                                            ("xl", "create", "--", str(confdir / "freebsd.cfg"))]


def test_shutdown_times_out_with_a_typed_error(fake_runner: FakeRunner, confdir: Path, corpus: Path) -> None:
    fake_runner.expect(["xl", "list"], corpus_list(corpus, LIST_WITH_FREEBSD))
    fake_runner.expect(["xl", "shutdown", "--", "freebsd"])
    with pytest.raises(DomuTimeoutError, match="freebsd still exists 0s after shutdown"):
        ops.shutdown_domu("freebsd", timeout=0)
    assert fake_runner.calls == [("xl", "shutdown", "--", "freebsd"), ("xl", "list")]


def test_shutdown_without_wait_and_unknown_config_has_no_undo(fake_runner: FakeRunner, confdir: Path) -> None:
    fake_runner.expect(["xl", ...])
    with Atomic() as atomic:
        res = atomic.xen.shutdown_domu("elsewhere", wait=False)
        assert res.config_path is None
        assert atomic.steps[-1].undo is None
    assert fake_runner.calls == [("xl", "shutdown", "--", "elsewhere")]


def test_pause_unpause_reboot_inverses(fake_runner: FakeRunner) -> None:
    fake_runner.expect(["xl", ...])
    fake_runner.expect(["xl", "list", "-l"], list_long(*((n, UUIDS[n]) for n in ("web", "db", "mail"))))
    # at rollback: web paused (by the step), mail running (unpaused by the step): the recorded 4.17.7 xl list, its
    # tiny row copied for them with the name and the state flags changed (derived)
    listing = REC.output("xl-nested", "list-tiny-4.17.7.txt").decode()
    tiny = listing.splitlines()[-1]
    fake_runner.expect(["xl", "list"], listing.replace(tiny, tiny.replace("tiny", "web ").replace("-b----", "--p---"))
                       + tiny.replace("tiny", "mail") + "\n")
    with pytest.raises(Boom), Atomic() as atomic:
        atomic.xen.pause_domu("web")
        atomic.xen.reboot_domu("db")
        atomic.xen.unpause_domu("mail")
        raise Boom
    assert [c for c in mutating(fake_runner.calls) if c != ("xl", "list")] == [
        ("xl", "pause", "--", "web"), ("xl", "reboot", "--", "db"), ("xl", "unpause", "--", "mail"),
        ("xl", "pause", "--", "mail"), ("xl", "unpause", "--", "web"),
    ]


def test_save_undo_restores_and_restore_undo_destroys(fake_runner: FakeRunner, tmp_path: Path, corpus: Path) -> None:
    state = tmp_path / "web.save"
    fake_runner.expect(["xl", "list", "-l"], list_long(("web", UUIDS["web"])))
    running = fake_runner.replies[0]

    def saved_effect(argv: tuple[str, ...], _data: bytes | None) -> None:
        Path(argv[-1]).write_bytes(b"")
        running.stdout = REC.output("xl-nested", "list-long-dom0-4.17.7.txt")  # web is gone

    fake_runner.expect(["xl", "save", ...], effect=saved_effect)
    fake_runner.expect(["stat", "-c", "%d:%i:%W", "--", str(state)], "65024:2171790:1796214281\n")
    fake_runner.expect(["xl", "restore", ...])
    fake_runner.expect(["xl", "list"], corpus_list(corpus, LIST_DOM0_ONLY))
    with pytest.raises(Boom), Atomic() as atomic:
        saved = atomic.xen.save_domu("web", state)
        assert saved.path == str(state)
        assert atomic.steps[-1].undo.identity == {"name": "web", "uuid": UUIDS["web"],
                                                  "file": "65024:2171790:1796214281"}
        raise Boom
    assert mutating(fake_runner.calls) == [("xl", "save", "--", "web", str(state)), ("xl", "list"),
                                           ("xl", "restore", "--", str(state)), ("xl", "list")]

    fake_runner.calls.clear()
    fake_runner.expect(["xl", "list"], corpus_list(corpus, LIST_WITH_FREEBSD))
    fake_runner.expect(["xl", "list"], corpus_list(corpus, LIST_DOM0_ONLY), times=1)
    fake_runner.expect(["xl", "destroy", ...])
    fake_runner.expect(["xl", "list", "-l"], list_long(("freebsd", UUIDS["freebsd"])))
    with pytest.raises(Boom), Atomic() as atomic:
        restored = atomic.xen.restore_domu(state)
        assert restored.name == "freebsd"
        raise Boom
    assert mutating(fake_runner.calls) == [("xl", "list"), ("xl", "restore", "--", str(state)), ("xl", "list"),
                                           ("xl", "destroy", "--", "freebsd")]


def test_migrate_argv_and_refused_in_atomic_block(fake_runner: FakeRunner) -> None:
    fake_runner.expect(["xl", "migrate", ...])
    assert ops.migrate_domu("web", "root@host2.example.org") == "root@host2.example.org"
    assert fake_runner.calls == [("xl", "migrate", "--", "web", "root@host2.example.org")]
    fake_runner.calls.clear()
    with pytest.raises(IrreversibleOperationError), Atomic() as atomic:
        atomic.xen.migrate_domu("web", "host2")
    assert fake_runner.calls == []


def test_destroy_allowed_on_a_domain_started_in_the_same_block(fake_runner: FakeRunner, confdir: Path) -> None:
    fake_runner.expect(["xl", ...])
    with Atomic() as atomic:
        atomic.xen.start_domu("web")
        atomic.xen.destroy_domu("web")
    with pytest.raises(IrreversibleOperationError), Atomic() as atomic:
        atomic.xen.destroy_domu("freebsd")
    assert mutating(fake_runner.calls) == [("xl", "create", "--", str(confdir / "web.cfg")),
                                           ("xl", "destroy", "--", "web")]


def test_start_all_is_composite_and_rolls_back(fake_runner: FakeRunner, confdir: Path, corpus: Path) -> None:
    (confdir / "mail.cfg").write_text("name = 'mail'\n")
    fake_runner.expect(["xl", "list"], corpus_list(corpus, LIST_WITH_FREEBSD))
    xl_creates_with_the_given_uuid(fake_runner)
    fake_runner.expect(["xl", "destroy", ...])
    with pytest.raises(Boom), Atomic() as atomic:
        started = atomic.xen.start_all()
        assert [s.name for s in started] == ["mail", "web"]
        raise Boom
    assert mutating(fake_runner.calls) == [
        ("xl", "list"), ("xl", "create", "--", str(confdir / "mail.cfg")),
        ("xl", "create", "--", str(confdir / "web.cfg")),
        ("xl", "destroy", "--", "web"), ("xl", "destroy", "--", "mail"),
    ]


def test_dry_run_plans_without_waiting(fake_runner: FakeRunner, confdir: Path) -> None:
    dry = DryRunRunner(fake_runner)
    with use_runner(dry):
        ops.shutdown_domu("freebsd", wait=True)
        ops.start_domu("web")
    assert [str(c) for c in dry.plan] == ["xl shutdown -- freebsd",
                                          f'xl create -- {confdir / "web.cfg"} uuid="<uuid of domU web>"']
    assert fake_runner.calls == []


@pytest.mark.parametrize("bad", ["-rf", "a b", "12", "../x", "", "x/y", "tab\tname"])
def test_bad_names_rejected_before_any_command(fake_runner: FakeRunner, bad: str) -> None:
    for op in (ops.destroy_domu, ops.pause_domu, ops.unpause_domu, ops.reboot_domu, ops.shutdown_domu):
        with pytest.raises(ValidationError):
            op(bad)
    with pytest.raises(ValidationError):
        ops.migrate_domu(bad, "host2")
    with pytest.raises(ValidationError):
        facts.is_domu_running(bad)
    assert fake_runner.calls == []


def test_other_bad_input_rejected_before_any_command(fake_runner: FakeRunner, confdir: Path, tmp_path: Path) -> None:
    (confdir / "py.cfg").write_text("name = 'py'\nmemory = 64 * 2\n")
    existing = tmp_path / "exists.save"
    existing.write_bytes(b"")
    with pytest.raises(NotFoundError):
        ops.start_domu("/nonexistent/x.cfg")
    with pytest.raises(DomuNotFoundError):
        ops.start_domu("nosuch")
    with pytest.raises(ParseError, match="line 2"):
        ops.start_domu(confdir / "py.cfg")
    with pytest.raises(ValidationError, match="already exists"):
        ops.save_domu("web", existing)
    with pytest.raises(ValidationError, match="absolute"):
        ops.save_domu("web", "relative.save")
    with pytest.raises(NotFoundError):
        ops.restore_domu(tmp_path / "missing.save")
    with pytest.raises(ValidationError, match="host"):
        ops.migrate_domu("web", "-oProxyCommand=sh")
    with pytest.raises(ValidationError, match="timeout"):
        ops.shutdown_domu("web", timeout=-1)
    assert fake_runner.calls == []


def test_all_domus_raises_on_broken_config_unless_skipping(confdir: Path) -> None:
    (confdir / "broken.cfg").write_text("name = 'b'\ndef f(): pass\n")
    with pytest.raises(ParseError, match="line 2"):
        facts.all_domus()
    assert [d.name for d in facts.all_domus(on_error="skip")] == ["freebsd", "web"]


@pytest.mark.parametrize("recording", [r for r in REC.all("xl") if r.case.startswith("list-no-hypervisor-")],
                         ids=lambda r: r.name)
def test_no_hypervisor_becomes_tool_unavailable(fake_runner: FakeRunner, recording: Recording) -> None:
    fake_runner.expect(["xl", "list"], stderr=recording.stderr, returncode=recording.returncode)
    with pytest.raises(ToolUnavailableError, match="not a Xen dom0"):
        facts.is_domu_running("web")


def test_xl_command_setting_is_used(fake_runner: FakeRunner, corpus: Path) -> None:
    fake_runner.expect(["/opt/xen/bin/xl", "list"], corpus_list(corpus, LIST_WITH_FREEBSD))
    with get_settings().override(xen__xl_command="/opt/xen/bin/xl"):
        assert facts.is_domu_running("freebsd")
        assert not facts.is_domu_running("web")


def test_domu_disks_resolve_host_paths(tmp_path: Path) -> None:
    image = tmp_path / "disk.img"
    image.write_bytes(b"\0" * 512)
    cfg = tmp_path / "d.cfg"
    cfg.write_text(f"name = 'd'\ndisk = [ 'file:{image},xvda,w', 'phy:/dev/vg0/nosuch-lv,xvdb,r',"
                   f" 'file:/srv/x.iso,hdc:cdrom,r', 'drbd:r0,xvdc,w' ]\n")
    backing = facts.domu_disks(cfg)
    assert [(b.vdev, b.path, b.kind, b.writable) for b in backing] == [
        ("xvda", str(image), "file", True), ("xvdb", "/dev/vg0/nosuch-lv", "missing", False)]
    assert facts.domu_block_devices(cfg) == []
