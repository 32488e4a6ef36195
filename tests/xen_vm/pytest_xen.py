"""pytest fixtures of the nested Xen: one dom0 booted per test session, domUs reset before each test.

``xen_dom0`` (session) boots Debian's Xen 4.17 under qemu with the VM test bed's kernel and image as dom0
(:mod:`tests.xen_vm.dom0`; hypervisor, Xen userland and dom0 initramfs cached) and starts xenstored/xenconsoled;
``nested_xen`` (per test) hands it over with no domU running, every console log empty and the config directory
:data:`CONFIG_DIR` holding exactly :data:`DOMUS` (tiny busybox PV domUs). Commands run in dom0 as root with
the project's working tree shared and installed as in the VM test bed (``bofh`` and ``python3 -c 'from pybofh
import xen'`` see the current tree).

``PYBOFH_XEN=skip`` skips the ``needs_xen`` tests with a reason; otherwise a dom0 that cannot be built or booted
makes them fail (never a silent skip), as the VM test bed does. Load the fixtures by importing them into a
conftest (``from tests.xen_vm.pytest_xen import nested_xen, xen_dom0``).
"""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from tests.vm.guest import GuestError, Result
from tests.xen_vm import dom0 as xenbed

SKIP_HINT = "set PYBOFH_XEN=skip to skip needs_xen tests instead"
#: the domU config directory pybofh reads in dom0 (``/etc/pybofh/config.toml`` there points at it)
CONFIG_DIR = "/etc/xen/domus"
DOMUS = ("alpha", "beta")
PYBOFH_CONFIG = f"""\
[xen]
domu_config_dirs = ["{CONFIG_DIR}"]
poll_interval = 0.5
"""


def xen_mode() -> str:
    """``PYBOFH_XEN``: ``auto`` (default: boot the nested Xen) or ``skip``."""
    mode = os.environ.get("PYBOFH_XEN", "auto").strip().lower() or "auto"
    if mode not in ("auto", "skip"):
        raise pytest.UsageError(f"PYBOFH_XEN must be auto or skip, not {mode!r}")
    return mode


@dataclass(frozen=True)
class XlDomain:
    """One row of the real ``xl list`` in dom0 (read here without pybofh's parser, to check pybofh against it)."""

    name: str
    domid: int
    memory_mib: int
    state: str


class Dom0:
    """dom0 of the session's nested Xen: run commands there, read ``xl list``, drive ``bofh`` and pybofh."""

    def __init__(self, guest: xenbed.XenGuest) -> None:
        """Wrap a booted dom0 with Xen started."""
        self.guest = guest

    def run(self, argv: list[str], **kwargs: Any) -> Result:
        """Run ``argv`` in dom0 as root (``Guest.run``)."""
        return self.guest.run(argv, **kwargs)

    def sh(self, script: str, *, check: bool = True, timeout: float = 180.0, input: str | None = None) -> Result:
        """Run a shell script in dom0; with ``check``, a non-zero exit fails the test with its output."""
        res = self.guest.run(["sh", "-ec", script], timeout=timeout, input=input)
        if check and res.returncode != 0:
            raise AssertionError(f"dom0: {script!r} exited {res.returncode}:\n{res.out}{res.err}")
        return res

    def xl_list(self) -> dict[str, XlDomain]:
        """The domUs that exist now, by name, from the real ``xl list`` (Domain-0 left out)."""
        out = self.sh("xl list").out.splitlines()
        assert out and out[0].split()[:2] == ["Name", "ID"], out
        rows = {}
        for line in out[1:]:
            name, domid, mem, _vcpus, state, _time = line.rsplit(None, 5)
            if int(domid) != 0:
                rows[name] = XlDomain(name, int(domid), int(mem), state)
        return rows

    def bofh(self, *args: str, timeout: float = 300.0, env: Mapping[str, str] | None = None) -> Result:
        """Run ``bofh ARGS`` in dom0 (its exit code is the caller's to check)."""
        return self.guest.run(["bofh", *args], timeout=timeout, env=dict(env or {}))

    def bofh_json(self, *args: str, timeout: float = 300.0) -> Any:
        """Run ``bofh --json ARGS`` in dom0, which must succeed; return its parsed output."""
        res = self.bofh("--json", *args, timeout=timeout)
        assert res.returncode == 0, f"bofh --json {' '.join(args)} exited {res.returncode}:\n{res.out}{res.err}"
        return json.loads(res.stdout)

    def python(self, code: str, *, timeout: float = 300.0) -> Result:
        """Run Python code in dom0 (Debian's python3 with the project installed as the test bed installs it)."""
        return self.guest.run(["python3", "-c", code], timeout=timeout)

    def config_path(self, name: str) -> str:
        """The config file of domU ``name`` in the config directory."""
        return f"{CONFIG_DIR}/{name}.cfg"

    def write_config(self, name: str, text: str) -> str:
        """Write one config file into the config directory; return its path."""
        path = self.config_path(name)
        self.sh(f"cat > {shlex.quote(path)}", input=text)
        return path

    def create(self, name: str, *, wait_up: bool = True) -> XlDomain:
        """Start domU ``name`` with the real ``xl create`` (not pybofh); with ``wait_up``, wait for its init."""
        self.sh(f"xl create {shlex.quote(self.config_path(name))}")
        if wait_up:
            self.wait_up(name)
        return self.xl_list()[name]

    def console(self, name: str) -> str:
        """What domU ``name`` wrote on its console since the last reset (xenconsoled's log)."""
        return self.sh(f"cat {xenbed.CONSOLE_LOGS}/guest-{name}.log 2>/dev/null || true").out

    def boots(self, name: str) -> list[str]:
        """The boot ids domU ``name`` reported on its console, one per boot whose init came up."""
        return [line.split("boot=")[1].split()[0] for line in self.console(name).splitlines()
                if line.startswith(xenbed.UP_MARKER)]

    def wait_up(self, name: str, boots: int = 1, timeout: float = 180.0) -> list[str]:
        """Wait until domU ``name`` has come up ``boots`` times (its init runs and handles shutdown requests)."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.boots(name)
            if len(seen) >= boots:
                return seen
            if time.monotonic() > deadline:
                raise AssertionError(f"domU {name} did not come up {boots} time(s) in {timeout:g}s; xl list: "
                                     f"{self.xl_list()}; console:\n{self.console(name)}")
            time.sleep(0.5)

    def wait_gone(self, name: str, timeout: float = 120.0) -> None:
        """Wait until no domain is called ``name`` (real ``xl list``)."""
        deadline = time.monotonic() + timeout
        while name in self.xl_list():
            if time.monotonic() > deadline:
                raise AssertionError(f"domain {name} still exists after {timeout:g}s: {self.xl_list()}")
            time.sleep(0.5)

    def reset(self) -> None:
        """Destroy every domU, empty the console logs and the journal, and write the config directory afresh."""
        for name in self.xl_list():
            self.sh(f"xl destroy {shlex.quote(name)}")
        self.sh(f"rm -rf {CONFIG_DIR} {xenbed.SAVE_DIR}/*; mkdir -p {CONFIG_DIR} /etc/pybofh; "
                f"for f in {xenbed.CONSOLE_LOGS}/*.log; do [ -e \"$f\" ] && : > \"$f\"; done; "
                "rm -rf /root/.local/state/pybofh /var/lib/pybofh/journal")
        self.sh("cat > /etc/pybofh/config.toml", input=PYBOFH_CONFIG)
        for name in DOMUS:
            self.write_config(name, xenbed.domu_config(name))


class _Session:
    """The session's dom0 (booted on first use) and what its boot cost, for the terminal summary."""

    def __init__(self, items: list[pytest.Item]) -> None:
        self.dom0: Dom0 | None = None
        self.error: str | None = None
        self.notes: list[str] = []
        users = [item for item in items if "xen_dom0" in getattr(item, "fixturenames", ())]
        #: the last test of the session that uses dom0 (in run order): dom0 is shut down right after it, so the
        #: rest of the run gets its memory and CPU back
        self.last = users[-1] if users else None

    def get(self) -> Dom0:
        """The booted dom0; a failed boot is not tried again in the same session."""
        if self.error is not None:
            raise GuestError(self.error)
        if self.dom0 is None:
            t0 = time.monotonic()
            try:
                guest = xenbed.boot_dom0()
            except Exception as exc:  # build or boot: every needs_xen test fails with this
                self.error = f"{type(exc).__name__}: {exc}"
                raise
            self.dom0 = Dom0(guest)
            self.notes.append(
                f"dom0 ready in {time.monotonic() - t0:.1f} s (qemu to agent {guest.boot_seconds or 0:.1f} s, "
                f"xenstored/xenconsoled {guest.ready_info.get('xen_start_seconds', 0):.1f} s, {guest.accel})")
        return self.dom0

    def close(self) -> None:
        """Shut dom0 down (qemu stopped, temp files deleted)."""
        if self.dom0 is not None:
            self.dom0.guest.close()
            self.dom0 = None

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        """Shut dom0 down after the session's last test that uses it (its own teardown has run by now)."""
        if item is self.last and self.dom0 is not None:
            self.notes.append("dom0 shut down after the last needs_xen test")
            self.close()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Say what the nested Xen cost."""
        if self.notes or self.error:
            terminalreporter.section("pybofh nested Xen")
            for note in self.notes:
                terminalreporter.write_line(note)
            if self.error:
                terminalreporter.write_line(f"nested Xen unavailable: {self.error.splitlines()[0]}")


@pytest.fixture(scope="session")
def xen_dom0(request: pytest.FixtureRequest, pytestconfig: pytest.Config) -> Iterator[Dom0]:
    """The session's dom0 (booted once); tests normally take ``nested_xen``, which resets it first."""
    if os.environ.get("PYBOFH_IN_VM") == "1":
        pytest.skip("already inside the VM test bed (no nested guests)")
    if xen_mode() == "skip":
        pytest.skip("the nested Xen is off (PYBOFH_XEN=skip)")
    session = pytestconfig.pluginmanager.get_plugin("pybofh-xen-vm")
    if session is None:
        session = _Session(request.session.items)
        pytestconfig.pluginmanager.register(session, "pybofh-xen-vm")
    try:
        dom0 = session.get()
    except (GuestError, xenbed.XenBuildError, OSError, RuntimeError) as exc:
        pytest.fail(f"nested Xen unavailable: {exc}\n({SKIP_HINT})", pytrace=False)
    try:
        yield dom0
    finally:
        session.close()


@pytest.fixture
def nested_xen(xen_dom0: Dom0) -> Iterator[Dom0]:
    """dom0 with no domU running, empty console logs and journal, and :data:`DOMUS` configured; reset after too."""
    xen_dom0.reset()
    yield xen_dom0
    for name in xen_dom0.xl_list():
        xen_dom0.sh(f"xl destroy {shlex.quote(name)}", check=False)
