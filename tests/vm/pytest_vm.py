"""pytest plugin of the VM test bed: ``needs_dm`` tests run inside a qemu guest when the host has no device-mapper.

On a host whose kernel has no device-mapper every collected ``needs_dm`` test is swapped for a stand-in item. The
first stand-in to run boots the guest once and runs all of them there in one pytest invocation; the guest
reports each phase (setup/call/teardown) as JSON lines in the shared folder, and each stand-in reports exactly
what the guest saw: passed, failed with the guest's traceback, or skipped with the guest's reason. Inside the
guest (``PYBOFH_IN_VM=1``) or on a host with device-mapper, ``needs_dm`` tests simply run.

Environment: ``PYBOFH_VM=auto`` (default) | ``skip`` (skip needs_dm tests instead of using a VM) | ``always``
(use the VM even if the host has device-mapper); ``PYBOFH_VM_PYTEST_ARGS`` (extra args for the guest's pytest);
``PYBOFH_VM_TIMEOUT`` (seconds for the whole guest run, default 2400). Fixtures: ``vm_guest`` (the session's
booted :class:`~tests.vm.guest.Guest`) and ``vm_pair`` (two guests on one network, for DRBD).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import build
from .guest import GUEST_SITE, Guest, GuestConfig, GuestError, GuestPair, GuestTimeout

PLUGIN_NAME = "pybofh-vm-testbed"
MARKERS = (
    "needs_dm: needs device-mapper: runs inside the VM test bed",
    "vm_pair: needs two VM guests connected by a network (DRBD); use the vm_pair fixture",
)
SKIP_HINT = "set PYBOFH_VM=skip to skip needs_dm tests instead"


def pytest_configure(config: pytest.Config) -> None:
    """Register the test bed once per session, whatever name(s) this module was imported under."""
    if config.pluginmanager.get_plugin(PLUGIN_NAME) is None:
        config.pluginmanager.register(VmTestBed(config), PLUGIN_NAME)


def in_vm() -> bool:
    """Whether this process runs inside the test-bed guest."""
    return os.environ.get("PYBOFH_IN_VM") == "1"


def host_has_dm() -> bool:
    """Whether this kernel has a live device-mapper driver (then needs_dm tests run right here).

    The /dev/mapper/control node alone proves nothing: dmsetup and lvm create it even where the kernel has no
    device-mapper, so ask the kernel's list of registered misc devices.
    """
    try:
        return any(line.split()[1:] == ["device-mapper"] for line in Path("/proc/misc").read_text().splitlines())
    except (OSError, IndexError):
        return False


def vm_mode() -> str:
    """Return PYBOFH_VM: auto, skip or always."""
    mode = os.environ.get("PYBOFH_VM", "auto").strip().lower() or "auto"
    if mode not in ("auto", "skip", "always"):
        raise pytest.UsageError(f"PYBOFH_VM must be auto, skip or always, not {mode!r}")
    return mode


def _module_name_and_root() -> tuple[str, Path]:
    """Return the name the host imported this module under, and the folder that must be on sys.path for it.

    The guest's pytest loads the plugin under the same name, so that a conftest importing it again finds the
    same module (and the plugin object registered once).
    """
    return __name__, Path(__file__).resolve().parents[__name__.count(".")]


class VmItem(pytest.Item):
    """Host stand-in for a needs_dm test: no host fixtures; its reports are the guest's reports of that test."""

    def __init__(self, *, original: pytest.Item, testbed: VmTestBed, **kwargs: Any) -> None:
        """Take the original item's identity (same parent and name, hence the same node id)."""
        super().__init__(**kwargs)
        self.original = original
        self.testbed = testbed
        self.guest_reports: dict[str, pytest.TestReport] = {}
        self.add_marker("needs_dm")

    def reportinfo(self) -> tuple[Any, int | None, str]:
        """Report at the original test's place."""
        return self.original.reportinfo()

    def setup(self) -> None:
        """Run the batch in the guest (the first stand-in does it for all) and pick up this test's reports."""
        if self.testbed.mode == "skip":
            pytest.skip("needs device-mapper, which this host lacks, and the VM test bed is off (PYBOFH_VM=skip)")
        self.testbed.run_batch()
        self.guest_reports = self.testbed.reports.get(self.nodeid, {})

    def runtest(self) -> None:
        """Fail with a clear message if the guest could not run this test (its own outcome replaces ours)."""
        if self.guest_reports:
            return
        if self.testbed.batch_error:
            pytest.fail(f"VM test bed unavailable: {self.testbed.batch_error}\n({SKIP_HINT})", pytrace=False)
        pytest.fail(f"the guest reported nothing for {self.nodeid}\n{self.testbed.guest_output_tail()}", pytrace=False)


class VmTestBed:
    """The plugin object: swaps needs_dm items for VmItems, runs them in the guest, owns the session's guests."""

    def __init__(self, config: pytest.Config) -> None:
        """Register the markers and read the mode from the environment."""
        self.config = config
        for line in MARKERS:
            config.addinivalue_line("markers", line)
        self.mode = vm_mode()
        self.report_path = os.environ.get("PYBOFH_VM_REPORT") if in_vm() else None
        self.remote: list[VmItem] = []
        self.reports: dict[str, dict[str, pytest.TestReport]] = {}
        self.batch_done = False
        self.batch_error: str | None = None
        self.batch_seconds: float | None = None
        self.guest_output = ""
        self.guest_exit: int | None = None
        self._guest: Guest | None = None
        self._guest_error: str | None = None
        self._pair: GuestPair | None = None
        self.boot_note: str | None = None

    def runs_locally(self) -> bool:
        """Whether needs_dm tests run in this process (inside the guest, or on a host with device-mapper)."""
        return in_vm() or (self.mode != "always" and host_has_dm())

    # -- host: swap needs_dm items ------------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Replace each selected needs_dm item by a VmItem with the same node id (after -k/-m deselection)."""
        if self.runs_locally():
            return
        for i, item in enumerate(items):
            if item.get_closest_marker("needs_dm") is not None and item.parent is not None:
                stand_in = VmItem.from_parent(item.parent, name=item.name, original=item, testbed=self)
                items[i] = stand_in
                self.remote.append(stand_in)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
        """For a VmItem, replace the host's report of each phase by the guest's report of that phase."""
        report = yield
        if isinstance(item, VmItem) and call.when in item.guest_reports:
            return item.guest_reports[call.when]
        return report

    def run_batch(self) -> None:
        """Boot the session guest (once) and run every remote needs_dm test in it with one pytest invocation."""
        if self.batch_done:
            return
        self.batch_done = True
        capman = self.config.pluginmanager.get_plugin("capturemanager")
        # Output capture is on during the stand-in's setup: suspend it so that progress reaches the terminal.
        with capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext():
            self._run_batch()

    def _run_batch(self) -> None:
        """The body of run_batch (capture suspended)."""
        ids = [item.nodeid for item in self.remote]
        try:
            guest = self.session_guest()
        except (GuestError, build.BuildError, OSError) as exc:
            self.batch_error = str(exc)
            return
        rootdir = self.config.rootpath
        modname, _ = _module_name_and_root()
        report = guest.out_dir / "needs_dm-report.jsonl"
        report.unlink(missing_ok=True)
        argv = ["python3", "-m", "pytest", "-p", modname, "--rootdir", str(rootdir)]
        if self.config.inipath is not None:
            argv += ["-c", str(self.config.inipath)]
        argv += [
            "-p",
            "no:cacheprovider",
            f"--tb={self.config.option.tbstyle}",
            *shlex.split(os.environ.get("PYBOFH_VM_PYTEST_ARGS", "")),
            *ids,
        ]
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            tr.write_line(
                f"pybofh-vm: running {len(ids)} needs_dm test(s) in the guest "
                f"(booted in {guest.boot_seconds or 0:.1f} s, {guest.accel})"
            )
        live = _LivePrinter(tr) if tr is not None and self.config.option.verbose >= 2 else None
        t0 = time.monotonic()
        try:
            result = guest.run(
                argv,
                cwd=str(rootdir),
                env={"PYBOFH_VM_REPORT": "/run/pybofh/out/" + report.name},
                timeout=float(os.environ.get("PYBOFH_VM_TIMEOUT", "2400")),
                stdout=live,
                stderr=live,
            )
        except GuestTimeout as exc:
            self.batch_error = str(exc)
        except GuestError as exc:
            self.batch_error = str(exc)
        else:
            self.guest_exit = result.returncode
            self.guest_output = result.out + result.err
        self.batch_seconds = time.monotonic() - t0
        self._load_reports(report)

    def _load_reports(self, path: Path) -> None:
        """Turn the guest's JSON-lines report into TestReports, indexed by node id and phase."""
        if not path.exists():
            return
        for line in path.read_text().splitlines():
            data = json.loads(line)
            rep = self.config.hook.pytest_report_from_serializable(config=self.config, data=data)
            if isinstance(rep, pytest.TestReport):
                if isinstance(rep.longrepr, list):  # a skip's (path, line, reason): JSON made the tuple a list
                    rep.longrepr = tuple(rep.longrepr)
                self.reports.setdefault(rep.nodeid, {})[rep.when] = rep

    def guest_output_tail(self, lines: int = 60) -> str:
        """Return the end of the guest pytest's output (for tests the guest did not report)."""
        tail = "\n".join(self.guest_output.splitlines()[-lines:])
        return f"guest pytest exited {self.guest_exit}; its output ended with:\n{tail}"

    # -- guest: report every phase ------------------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """In the guest, append each test report (every phase) to $PYBOFH_VM_REPORT for the host."""
        if self.report_path:
            self._write_report(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """In the guest, record collection failures too (the host shows them in the missing tests' failures)."""
        if self.report_path and report.failed:
            self._write_report(report)

    def _write_report(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        """Serialize a report with pytest's own hook and append it as one line (flushed: a crash loses nothing)."""
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        assert self.report_path is not None
        with open(self.report_path, "a") as fh:
            fh.write(json.dumps(data) + "\n")

    # -- guests owned by the session --------------------------------------------------------------------------

    def session_guest(self) -> Guest:
        """Return the session's guest, booting it on first use (later calls re-raise a failed boot's error)."""
        if self._guest_error is not None:
            raise GuestError(self._guest_error)
        if self._guest is None:
            rootdir = self.config.rootpath
            _, import_root = _module_name_and_root()
            inside = import_root == rootdir or rootdir in import_root.parents
            extra = () if inside else (import_root,)
            env = (("PYTHONPATH", f"{GUEST_SITE}:{import_root}"),)
            guest = Guest(GuestConfig(source_dir=rootdir, extra_shares=extra, env=env))
            try:
                guest.start()
            except BaseException as exc:
                self._guest_error = f"{type(exc).__name__}: {exc}"
                raise
            self._guest = guest
            self.boot_note = f"guest booted in {guest.boot_seconds or 0:.1f} s ({guest.accel})"
        return self._guest

    def session_pair(self) -> GuestPair:
        """Return the session's pair of networked guests, booting them on first use."""
        if self._pair is None:
            pair = GuestPair(GuestConfig(source_dir=self.config.rootpath, disks=(1024**3,)))
            pair.start()
            self._pair = pair
        return self._pair

    def close(self) -> None:
        """Shut down every guest this session booted."""
        for owner in (self._pair, self._guest):
            if owner is not None:
                owner.close()
        self._pair = None
        self._guest = None

    def pytest_sessionfinish(self) -> None:
        """Shut the guests down at the end of the session (also after Ctrl-C)."""
        self.close()

    def pytest_unconfigure(self) -> None:
        """Backstop for sessions that end before sessionfinish."""
        self.close()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Say how long the VM took, and show the guest's output when its pytest did not report everything."""
        if not self.batch_done and self.boot_note is None:
            return
        tr = terminalreporter
        tr.section("pybofh VM test bed")
        if self.boot_note:
            tr.write_line(self.boot_note)
        if self.batch_seconds is not None:
            tr.write_line(f"{len(self.remote)} needs_dm test(s) ran in the guest in {self.batch_seconds:.1f} s")
        if self.batch_error:
            tr.write_line(f"guest run failed: {self.batch_error.splitlines()[0]}")
        missing = [item.nodeid for item in self.remote if item.nodeid not in self.reports]
        if self.batch_done and missing and self.guest_output:
            tr.write_line(self.guest_output_tail())


class _LivePrinter:
    """With -vv, show the guest pytest's output on the terminal as it comes, line by line, prefixed "[vm]"."""

    def __init__(self, terminal: Any) -> None:
        """Write to pytest's terminal reporter."""
        self.terminal = terminal
        self.partial = b""

    def __call__(self, data: bytes) -> None:
        """Print every complete line received so far."""
        *lines, self.partial = (self.partial + data).split(b"\n")
        for line in lines:
            self.terminal.write_line("[vm] " + line.decode(errors="replace"))


def _testbed(config: pytest.Config) -> VmTestBed:
    """Return the session's registered VmTestBed."""
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    assert isinstance(plugin, VmTestBed)
    return plugin


def _skip_if_unavailable() -> None:
    """Skip fixtures that need a VM inside the guest itself or when PYBOFH_VM=skip."""
    if in_vm():
        pytest.skip("already inside the VM test bed (no nested guests)")
    if vm_mode() == "skip":
        pytest.skip("the VM test bed is off (PYBOFH_VM=skip)")


@pytest.fixture(scope="session")
def vm_guest(pytestconfig: pytest.Config) -> Guest:
    """The session's booted guest (shared with the needs_dm batch): run commands in it with ``.run(argv)``."""
    _skip_if_unavailable()
    try:
        return _testbed(pytestconfig).session_guest()
    except (GuestError, build.BuildError, OSError) as exc:
        pytest.fail(f"VM test bed unavailable: {exc}\n({SKIP_HINT})", pytrace=False)


@pytest.fixture(scope="session")
def vm_pair(pytestconfig: pytest.Config) -> tuple[Guest, Guest]:
    """Two booted guests on one network: ``a`` is 192.0.2.1 (pybofh-vm1), ``b`` is 192.0.2.2 (pybofh-vm2)."""
    _skip_if_unavailable()
    try:
        pair = _testbed(pytestconfig).session_pair()
    except (GuestError, build.BuildError, OSError) as exc:
        pytest.fail(f"VM test bed unavailable: {exc}\n({SKIP_HINT})", pytrace=False)
    return pair.a, pair.b
