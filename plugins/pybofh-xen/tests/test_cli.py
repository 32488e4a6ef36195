"""``bofh xen ...`` end to end through the core CLI entry point, with the fake runner and a temp config dir."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from pybofh_core.cli import main
from pybofh_core.runner import FakeRunner
from pybofh_core.session import get_settings
from pybofh_core.testing import Recordings

LIST_WITH_FREEBSD = "xl_list_xen-4.17_armhf_real-tabs-in-header_xen-devel-ml.txt"
REC = Recordings(Path(__file__).resolve().parent / "recordings")
TINY_UUID = "7d4cdd96-33c2-46c9-bcd4-b8a49ff3c04c"  # in list-long-tiny-4.17.7.txt


@pytest.fixture
def confdir(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "xen"
    d.mkdir()
    (d / "web.cfg").write_text("name = 'web'\nmemory = 256\nvcpus = 2\n")
    (d / "freebsd.cfg").write_text("name = 'freebsd'\n")
    with get_settings().override(xen__domu_config_dirs=[d], xen__poll_interval=0):
        yield d


def bofh(*argv: str) -> int:
    try:
        main(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_list_shows_configured_and_running(fake_runner: FakeRunner, confdir: Path, corpus: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    fake_runner.expect(["xl", "list"], (corpus / "xen" / LIST_WITH_FREEBSD).read_bytes())
    assert bofh("xen", "list", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["running"], r["domid"], r["state"]) for r in rows] == [
        ("freebsd", True, 1, "r-----"), ("web", False, None, None)]
    assert rows[1]["memory_bytes"] == 256 * 1024 * 1024
    assert bofh("xen", "list") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["NAME", "RUNNING", "DOMID"]
    assert table[2].split()[:3] == ["web", "no", "-"]


def test_start_and_start_all(fake_runner: FakeRunner, confdir: Path, corpus: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    fake_runner.expect(["xl", "list"], (corpus / "xen" / LIST_WITH_FREEBSD).read_bytes())
    fake_runner.expect(["xl", "create", ...])
    assert bofh("--json", "xen", "start", "web") == 0
    started = json.loads(capsys.readouterr().out)
    # web.cfg has no uuid: pybofh gives the domain one, which its undo (journalled before xl create) names
    assert started == {"name": "web", "config_path": str(confdir / "web.cfg"), "uuid": started["uuid"]}
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", started["uuid"])
    assert bofh("xen", "start-all") == 0
    assert "web" in capsys.readouterr().out
    first, listing, second = fake_runner.calls
    assert first == ("xl", "create", "--", str(confdir / "web.cfg"), f'uuid="{started["uuid"]}"')
    assert listing == ("xl", "list") and second[:4] == first[:4] and second[4] != first[4]  # a fresh UUID each start


def test_start_all_is_one_atomic_block(fake_runner: FakeRunner, confdir: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """``bofh xen start-all``: when a start fails, the domains it already started are destroyed again (exit 1). The
    nested-Xen recordings: ``tiny`` is started (``xl list -l`` then shows it with its UUID), ``web`` fails."""
    (confdir / "freebsd.cfg").unlink()
    # the config names the UUID the recording shows, so the undo finds its domain (xl create gets no uuid=)
    (confdir / "tiny.cfg").write_text(f'name = "tiny"\nmemory = 32\nuuid = "{TINY_UUID.upper()}"\n')
    fake_runner.expect(["xl", "list"], REC.output("xl-nested", "list-dom0-4.17.7.txt"))
    fake_runner.expect(["xl", "create", "--", str(confdir / "tiny.cfg")], effect=lambda argv, data: (
        fake_runner.expect(["xl", "list", "-l"], REC.output("xl-nested", "list-long-tiny-4.17.7.txt"))))
    fake_runner.expect(["xl", "create", "--", str(confdir / "web.cfg"), ...], stderr=b"boom", returncode=3)
    fake_runner.expect(["xl", "destroy", ...])
    assert bofh("xen", "start-all") == 1
    err = capsys.readouterr().err
    assert "boom" in err and "rolled back 2 step(s)" in err, err  # web: its write-ahead undo finds no domain
    changes = [c[:4] for c in fake_runner.calls if c[:2] in (("xl", "create"), ("xl", "destroy"))]
    assert changes == [("xl", "create", "--", str(confdir / "tiny.cfg")),
                       ("xl", "create", "--", str(confdir / "web.cfg")), ("xl", "destroy", "--", "tiny")]


def test_shutdown_timeout_exit_1_and_destroy(fake_runner: FakeRunner, confdir: Path, corpus: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    fake_runner.expect(["xl", "list"], (corpus / "xen" / LIST_WITH_FREEBSD).read_bytes())
    fake_runner.expect(["xl", "shutdown", ...])
    fake_runner.expect(["xl", "destroy", ...])
    assert bofh("xen", "shutdown", "freebsd", "--timeout", "0") == 1
    assert "still exists" in capsys.readouterr().err
    assert bofh("xen", "destroy", "freebsd") == 0
    assert fake_runner.calls[-1] == ("xl", "destroy", "--", "freebsd")


def test_bad_input_exit_2_without_commands(fake_runner: FakeRunner, confdir: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert bofh("xen", "destroy", "a b") == 2
    assert bofh("xen", "start", "nosuch") == 2
    assert "no domU config named 'nosuch'" in capsys.readouterr().err
    assert fake_runner.calls == []


def test_dry_run_prints_plan(fake_runner: FakeRunner, confdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert bofh("--dry-run", "xen", "start", "web") == 0
    assert f'xl create -- {confdir / "web.cfg"} uuid="<uuid of domU web>"' in capsys.readouterr().err
    assert fake_runner.calls == []


def _completions(command: str, param: str, incomplete: str = "") -> list[str]:
    """What TAB offers for ``bofh xen COMMAND``'s parameter ``param`` (the plugin's COMPLETERS, attached the way the
    root command attaches them)."""
    import typer
    from click import Context

    from pybofh_core.cli import attach_completers
    from pybofh_xen.cli import COMPLETERS, app

    group = typer.main.get_command(app)
    attach_completers(group, COMPLETERS)
    sub = group.commands[command]  # type: ignore[attr-defined]
    ctx = Context(sub, info_name=command)
    found = next(p for p in sub.params if p.name == param)
    return [item.value for item in found.shell_complete(ctx, incomplete)]


def test_tab_completes_running_domains_and_configured_domus(fake_runner: FakeRunner, confdir: Path) -> None:
    """Domains that take a running domain complete from ``xl list`` (the nested-Xen recording with ``tiny``),
    Domain-0 left out; ``start`` and ``resize-disk`` (a stopped domU) from the config files, a broken one skipped
    without a word; on a host without a hypervisor (the recorded refusal) nothing is offered and nothing raised."""
    fake_runner.expect(["xl", "list"], REC.output("xl-nested", "list-tiny-4.17.7.txt"))
    for command in ("shutdown", "destroy", "reboot", "pause", "unpause", "save", "migrate"):
        assert _completions(command, "name") == ["tiny"]
    assert _completions("shutdown", "name", "x") == []
    (confdir / "broken.cfg").write_text("name = \n")
    assert _completions("start", "domu") == ["freebsd", "web"]
    assert _completions("resize-disk", "name", "w") == ["web"]
    no_xen = REC.get("xl", "list-no-hypervisor-binary", "4.17")
    fake_runner.expect(["xl", "list"], stderr=no_xen.stderr, returncode=no_xen.returncode)
    assert _completions("shutdown", "name") == []
