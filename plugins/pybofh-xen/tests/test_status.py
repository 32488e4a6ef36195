"""pybofh-xen's ``bofh status`` section: the running domUs from one ``xl list`` (recorded in a nested Xen 4.17.7);
a host without xl or without a hypervisor says so in the section."""

from __future__ import annotations

from pathlib import Path

from pybofh_core.errors import CommandError
from pybofh_core.runner import FakeRunner, use_runner
from pybofh_core.testing import Recordings
from pybofh_xen.bofh_status import sections

REC = Recordings(Path(__file__).resolve().parent / "recordings")
MiB = 1024**2


def test_running_domus_without_domain_0(fake_runner: FakeRunner) -> None:
    fake_runner.expect(["xl", "list"], REC.output("xl-nested", "list-tiny-4.17.7.txt"))
    (sec,) = sections()
    assert sec.rows == [{"name": "tiny", "id": 1, "status": "blocked", "state": "-b----", "memory": 96 * MiB,
                         "vcpus": 1, "cpu_seconds": 2.4}]
    assert sec.render_text().splitlines() == ["Xen domUs:", "  NAME  ID  STATUS   MEMORY  VCPUS  CPU(S)",
                                              "  tiny  1   blocked  96.0M   1      2.4"]
    assert fake_runner.calls == [("xl", "list")]


def test_dom0_alone_is_no_domu(fake_runner: FakeRunner) -> None:
    fake_runner.expect(["xl", "list"], REC.output("xl-nested", "list-dom0-4.17.7.txt"))
    (sec,) = sections()
    assert (sec.status, sec.render_text()) == ("ok", "Xen domUs: none")


def test_no_hypervisor_is_unavailable(fake_runner: FakeRunner) -> None:
    """xl installed on a machine that is not a Xen dom0 (recorded): the section says so."""
    err = REC.output("xl", "list-no-hypervisor-binary-4.17.stderr.txt")
    fake_runner.expect(["xl", "list"], stderr=err, returncode=1)
    (sec,) = sections()
    assert sec.status == "unavailable" and "not a Xen dom0" in (sec.unavailable or "")


def test_no_xl_is_unavailable() -> None:
    """As on this host: xl is not installed (the local runner cannot start it)."""

    class NoXl(FakeRunner):
        def _execute(self, argv, data, timeout, **kw):  # type: ignore[no-untyped-def]
            raise CommandError(argv, None, reason=f"cannot run {argv[0]}: not installed")

    with use_runner(NoXl()):
        (sec,) = sections()
    assert (sec.status, sec.unavailable) == ("unavailable",
                                             "xl is not available: not installed (Debian: apt-get install xen-utils)")
