"""pytest plugin of the VM test bed: ``needs_dm`` tests run inside a qemu guest when the host has no device-mapper.

On a host whose kernel has no device-mapper every collected ``needs_dm`` test is swapped for a stand-in item,
placed after the host's own tests. When the test loop starts, each guest batch (plain, and udev) boots its guest
in a background thread and runs all its tests there in one pytest invocation, while the host's tests run; the
guest reports each phase (setup/call/teardown) as JSON lines in the shared folder, and each stand-in waits for
its batch and reports exactly what the guest saw: passed, failed with the guest's traceback, or skipped with the
guest's reason. Inside the
guest (``PYBOFH_IN_VM=1``) or on a host with device-mapper, ``needs_dm`` tests simply run.

Environment: ``PYBOFH_VM=auto`` (default) | ``skip`` (skip needs_dm tests instead of using a VM) | ``always``
(use the VM even if the host has device-mapper); ``PYBOFH_VM_PYTEST_ARGS`` (extra args for the guest's pytest);
``PYBOFH_VM_TIMEOUT`` (seconds for the whole guest run, default 2400); ``PYBOFH_VM_PARALLEL=0`` (run each batch
in the foreground when its first stand-in runs, one guest at a time, as before). Fixtures: ``vm_guest`` (the session's
booted :class:`~tests.vm.guest.Guest`) and ``vm_pair`` (two guests on one network, for DRBD).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import build
from .guest import GUEST_SITE, Guest, GuestConfig, GuestError, GuestPair

PLUGIN_NAME = "pybofh-vm-testbed"
MARKERS = (
    "needs_dm: needs device-mapper: runs inside the VM test bed",
    "vm_pair: needs two VM guests connected by a network (DRBD); use the vm_pair fixture",
    "vm_udev(on=True): a needs_dm test that also runs in a second guest with udev running, as on a production host "
    "(vm_udev(False) on one parameter opts it out)",
)
#: fixtures of host tests that wait for the plain batch's guest or boot the two networked guests
USES_GUESTS = frozenset({"vm_guest", "vm_pair", "drbd_vm_pair"})
#: suffix of the udev stand-ins' names: ``test_x`` -> ``test_x[udev]``, ``test_x[a]`` -> ``test_x[a-udev]``
UDEV_ID = "udev"
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

    def __init__(self, *, original: pytest.Item, batch: Batch, **kwargs: Any) -> None:
        """Take the original item's identity (same parent; same name, or the udev variant's name)."""
        super().__init__(**kwargs)
        self.original = original
        self.batch = batch
        self.guest_reports: dict[str, pytest.TestReport] = {}
        self.add_marker("needs_dm")

    def reportinfo(self) -> tuple[Any, int | None, str]:
        """Report at the original test's place."""
        return self.original.reportinfo()

    def setup(self) -> None:
        """Wait for the batch (running it here if it was not started in the background); pick up this test's reports."""
        if self.batch.testbed.mode == "skip":
            pytest.skip("needs device-mapper, which this host lacks, and the VM test bed is off (PYBOFH_VM=skip)")
        self.batch.wait()
        self.guest_reports = self.batch.reports.get(self.original.nodeid, {})

    def runtest(self) -> None:
        """Fail with a clear message if the guest could not run this test (its own outcome replaces ours)."""
        if self.guest_reports:
            return
        if self.batch.error:
            pytest.fail(f"VM test bed unavailable: {self.batch.error}\n({SKIP_HINT})", pytrace=False)
        pytest.fail(f"the guest reported nothing for {self.nodeid}\n{self.batch.output_tail()}", pytrace=False)


def udev_name(name: str) -> str:
    """Return the udev stand-in's name for a test named ``name`` (a parameter id, so -k and node ids work)."""
    if name.endswith("]") and "[" in name:
        return f"{name[:-1]}-{UDEV_ID}]"
    return f"{name}[{UDEV_ID}]"


class Batch:
    """The needs_dm tests one guest runs in one pytest invocation: the plain guest's, or the udev guest's."""

    def __init__(self, testbed: VmTestBed, *, udev: bool) -> None:
        """An empty batch for the plain guest, or (``udev``) for the guest with udev running."""
        self.testbed = testbed
        self.udev = udev
        self.label = "needs_dm (udev running)" if udev else "needs_dm"
        self.items: list[VmItem] = []
        #: the guest's reports, indexed by the ORIGINAL test's node id and phase
        self.reports: dict[str, dict[str, pytest.TestReport]] = {}
        self.done = False
        self.error: str | None = None
        self.seconds: float | None = None
        self.output = ""
        self.exit: int | None = None
        self._thread: threading.Thread | None = None
        self._finished = threading.Event()
        #: lines for the terminal, written by ``wait`` (a background thread does not write between test dots)
        self._notes: list[str] = []

    def start(self) -> None:
        """Boot this batch's guest and run its tests in a background thread (the host's own tests go on meanwhile)."""
        if self.done or self._thread is not None or not self.items:
            return
        self._thread = threading.Thread(target=self._run_in_background, name=f"pybofh-vm {self.label}", daemon=True)
        self._thread.start()

    def _run_in_background(self) -> None:
        """The thread's body: run the batch, then stay alive until the session ends.

        qemu is started with PR_SET_PDEATHSIG, which Linux fires when the *thread* that forked it exits: a guest
        booted here must outlive the batch (the ``vm_guest`` fixture uses it later).
        """
        try:
            self._run_guarded()
        finally:
            self._finished.set()
        self.testbed.closing.wait()

    def wait(self) -> None:
        """Return once the batch has run: join its background thread, or run it here if it was never started."""
        if self.done or not self.items:
            self.done = self.done or not self.items
            return
        capman = self.testbed.config.pluginmanager.get_plugin("capturemanager")
        # Output capture is on during the stand-in's setup: suspend it so that progress reaches the terminal.
        with capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext():
            if self._thread is not None:
                self._finished.wait()
            else:
                self._run_guarded()
            tr = self.testbed.config.pluginmanager.get_plugin("terminalreporter")
            if tr is not None:
                for line in self._notes:
                    tr.write_line(line)
        self.done = True

    def _run_guarded(self) -> None:
        """Run the batch; any exception becomes the batch's error (each stand-in then fails with it)."""
        try:
            self._run()
        except Exception as exc:  # a background thread must not die silently
            self.error = self.error or f"{type(exc).__name__}: {exc}"

    def _run(self) -> None:
        """Boot the guest (once) and run all the batch's tests in it with one pytest invocation."""
        config = self.testbed.config
        ids = list(dict.fromkeys(item.original.nodeid for item in self.items))
        try:
            guest = self.testbed.udev_guest() if self.udev else self.testbed.session_guest()
        except (GuestError, build.BuildError, OSError) as exc:
            self.error = str(exc)
            return
        rootdir = config.rootpath
        modname, _ = _module_name_and_root()
        report = guest.out_dir / "needs_dm-report.jsonl"
        report.unlink(missing_ok=True)
        argv = ["python3", "-m", "pytest", "-p", modname, "--rootdir", str(rootdir)]
        if config.inipath is not None:
            argv += ["-c", str(config.inipath)]
        argv += [
            "-p",
            "no:cacheprovider",
            f"--tb={config.option.tbstyle}",
            *shlex.split(os.environ.get("PYBOFH_VM_PYTEST_ARGS", "")),
            *ids,
        ]
        tr = config.pluginmanager.get_plugin("terminalreporter")
        self._notes.append(
            f"pybofh-vm: ran {len(ids)} {self.label} test(s) in the guest "
            f"(booted in {guest.boot_seconds or 0:.1f} s, {guest.accel})"
        )
        live = _LivePrinter(tr, self.udev) if tr is not None and config.option.verbose >= 2 else None
        t0 = time.monotonic()
        try:
            result = guest.run(
                argv,
                cwd=str(rootdir),
                env={
                    "PYBOFH_VM_REPORT": "/run/pybofh/out/" + report.name,
                    "PYBOFH_VM_VARIANT": "udev" if self.udev else "plain",
                },
                timeout=float(os.environ.get("PYBOFH_VM_TIMEOUT", "2400")),
                stdout=live,
                stderr=live,
            )
        except GuestError as exc:  # GuestTimeout included
            self.error = str(exc)
        else:
            self.exit = result.returncode
            self.output = result.out + result.err
        self.seconds = time.monotonic() - t0
        self._load_reports(report)

    def _load_reports(self, path: Path) -> None:
        """Turn the guest's JSON-lines report into TestReports for the stand-ins, by original node id and phase."""
        if not path.exists():
            return
        config = self.testbed.config
        stand_in_id = {item.original.nodeid: item.nodeid for item in self.items}
        for line in path.read_text().splitlines():
            data = json.loads(line)
            rep = config.hook.pytest_report_from_serializable(config=config, data=data)
            if isinstance(rep, pytest.TestReport):
                if isinstance(rep.longrepr, list):  # a skip's (path, line, reason): JSON made the tuple a list
                    rep.longrepr = tuple(rep.longrepr)
                original = rep.nodeid
                rep.nodeid = stand_in_id.get(original, original)
                self.reports.setdefault(original, {})[rep.when] = rep

    def output_tail(self, lines: int = 60) -> str:
        """Return the end of the guest pytest's output (for tests the guest did not report)."""
        tail = "\n".join(self.output.splitlines()[-lines:])
        return f"guest pytest exited {self.exit}; its output ended with:\n{tail}"

    def summary(self, tr: Any) -> None:
        """Write this batch's lines of the terminal summary."""
        if self.seconds is not None:
            tr.write_line(f"{len(self.items)} {self.label} test(s) ran in the guest in {self.seconds:.1f} s")
        if self.error:
            tr.write_line(f"guest run failed ({self.label}): {self.error.splitlines()[0]}")
        missing = [item.nodeid for item in self.items if item.original.nodeid not in self.reports]
        if self.done and missing and self.output:
            tr.write_line(self.output_tail())


class VmTestBed:
    """The plugin object: swaps needs_dm items for VmItems, runs them in the guest, owns the session's guests."""

    def __init__(self, config: pytest.Config) -> None:
        """Register the markers and read the mode from the environment."""
        self.config = config
        for line in MARKERS:
            config.addinivalue_line("markers", line)
        self.mode = vm_mode()
        self.report_path = os.environ.get("PYBOFH_VM_REPORT") if in_vm() else None
        self.plain = Batch(self, udev=False)
        self.with_udev = Batch(self, udev=True)
        self._guest: Guest | None = None
        self._guest_error: str | None = None
        self._udev_guest: Guest | None = None
        self._pair: GuestPair | None = None
        self.boot_notes: list[str] = []
        #: guests are booted from the batches' threads and from fixtures: one boot of each at a time
        self._boot_lock = threading.RLock()
        #: set when the session ends: the batches' threads (which own their guests' qemu) may exit
        self.closing = threading.Event()
        #: guests prepared on the main thread (image, temp folder, site, disks), booted later by a batch's thread
        self._prepared: dict[str, Guest] = {}

    def runs_locally(self) -> bool:
        """Whether needs_dm tests run in this process (inside the guest, or on a host with device-mapper)."""
        return in_vm() or (self.mode != "always" and host_has_dm())

    # -- host: swap needs_dm items ------------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Replace each selected needs_dm item by a VmItem with the same node id (after -k/-m deselection).

        The stand-ins go after the host's own tests (their batches run in the background meanwhile), and the host
        tests using the ``vm_guest`` or a pair of guests go just before them. A ``vm_udev`` test also gets a
        second stand-in, ``name[udev]``, run in a guest with udev running.
        """
        if self.runs_locally():
            return
        host_items: list[pytest.Item] = []
        for item in items:
            if item.get_closest_marker("needs_dm") is not None and item.parent is not None:
                stand_in = VmItem.from_parent(item.parent, name=item.name, original=item, batch=self.plain)
                self.plain.items.append(stand_in)
                udev = item.get_closest_marker("vm_udev")  # vm_udev(False) on a parameter opts it out
                if udev is not None and (not udev.args or udev.args[0]):
                    twin = VmItem.from_parent(
                        item.parent, name=udev_name(item.name), original=item, batch=self.with_udev
                    )
                    self.with_udev.items.append(twin)
            else:
                host_items.append(item)
        # Host tests driving the session's guest wait for the plain batch (vm_guest) or boot two more (vm_pair): run
        # them after the other host tests (the nested Xen's among them), so that those run while the batches do.
        waits = [item for item in host_items if USES_GUESTS & set(getattr(item, "fixturenames", ()))]
        rest = [item for item in host_items if item not in waits]
        items[:] = [*rest, *waits, *self.plain.items, *self.with_udev.items]

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        """Start both guest batches in the background before the first test (unless PYBOFH_VM_PARALLEL=0).

        One TCG guest keeps one core busy; the host's tests use the other, so the VM's time mostly hides behind
        theirs instead of adding to it.
        """
        config = session.config
        if config.option.collectonly or self.mode == "skip" or os.environ.get("PYBOFH_VM_PARALLEL", "1") == "0":
            return
        if session.testsfailed and not config.option.continue_on_collection_errors:
            return  # pytest stops after collection errors: boot nothing
        # Everything that reads the host's files and environment happens here, before any test can monkeypatch
        # them; the threads only boot qemu and talk to it.
        for key, batch in (("plain", self.plain), ("udev", self.with_udev)):
            if batch.items:
                guest = self._new_guest(udev=key == "udev")
                try:
                    guest.prepare()
                except Exception:  # the batch's thread tries again and reports the error
                    guest.close()
                else:
                    self._prepared[key] = guest
        self.plain.start()
        self.with_udev.start()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
        """For a VmItem, replace the host's report of each phase by the guest's report of that phase."""
        report = yield
        if isinstance(item, VmItem) and call.when in item.guest_reports:
            return item.guest_reports[call.when]
        return report

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
        with self._boot_lock:
            return self._session_guest()

    def _session_guest(self) -> Guest:
        """The body of session_guest (boot lock held)."""
        if self._guest_error is not None:
            raise GuestError(self._guest_error)
        if self._guest is None:
            try:
                guest = self._boot("plain")
            except BaseException as exc:
                self._guest_error = f"{type(exc).__name__}: {exc}"
                raise
            self._guest = guest
            self.boot_notes.append(f"guest booted in {guest.boot_seconds or 0:.1f} s ({guest.accel})")
        return self._guest

    def udev_guest(self) -> Guest:
        """Return the guest with udev running for the vm_udev batch, booting it on first use."""
        with self._boot_lock:
            return self._udev_guest_locked()

    def _udev_guest_locked(self) -> Guest:
        """The body of udev_guest (boot lock held)."""
        if self._udev_guest is None:
            guest = self._boot("udev")
            self._udev_guest = guest
            udev = guest.ready_info.get("udev")
            self.boot_notes.append(
                f"udev guest (udev {udev}) booted in {guest.boot_seconds or 0:.1f} s ({guest.accel})"
            )
        return self._udev_guest

    def _new_guest(self, *, udev: bool) -> Guest:
        """A guest (not yet prepared) sharing the project tree, with or without udev running."""
        rootdir = self.config.rootpath
        _, import_root = _module_name_and_root()
        inside = import_root == rootdir or rootdir in import_root.parents
        extra = () if inside else (import_root,)
        env = (("PYTHONPATH", f"{GUEST_SITE}:{import_root}"),)
        return Guest(GuestConfig(source_dir=rootdir, extra_shares=extra, env=env, udev=udev))

    def _boot(self, key: str) -> Guest:
        """Boot the ``key`` ("plain" or "udev") guest, prepared at the loop's start if it was; clean up on failure."""
        guest = self._prepared.pop(key, None)
        try:
            if guest is None:
                guest = self._new_guest(udev=key == "udev")
                guest.prepare()
            guest.boot()
        except BaseException:
            if guest is not None:
                guest.close()
            raise
        return guest

    def session_pair(self) -> GuestPair:
        """Return the session's pair of networked guests, booting them on first use."""
        if self._pair is None:
            pair = GuestPair(GuestConfig(source_dir=self.config.rootpath, disks=(1024**3,)))
            pair.start()
            self._pair = pair
        return self._pair

    def close(self) -> None:
        """Shut down every guest this session booted (a batch still running in the background then fails)."""
        for owner in (self._pair, self._guest, self._udev_guest, *self._prepared.values()):
            if owner is not None:
                owner.close()
        self._prepared.clear()
        self.closing.set()
        self._pair = None
        self._guest = None
        self._udev_guest = None

    def pytest_sessionfinish(self) -> None:
        """Shut the guests down at the end of the session (also after Ctrl-C)."""
        self.close()

    def pytest_unconfigure(self) -> None:
        """Backstop for sessions that end before sessionfinish."""
        self.close()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Say how long the VM took, and show the guest's output when its pytest did not report everything."""
        if not (self.plain.done or self.with_udev.done or self.boot_notes):
            return
        tr = terminalreporter
        tr.section("pybofh VM test bed")
        for note in self.boot_notes:
            tr.write_line(note)
        self.plain.summary(tr)
        self.with_udev.summary(tr)


class _LivePrinter:
    """With -vv, show the guest pytest's output on the terminal as it comes, line by line, prefixed "[vm]"."""

    def __init__(self, terminal: Any, udev: bool = False) -> None:
        """Write to pytest's terminal reporter, prefixing "[vm]" (or "[vm udev]")."""
        self.terminal = terminal
        self.prefix = "[vm udev] " if udev else "[vm] "
        self.partial = b""

    def __call__(self, data: bytes) -> None:
        """Print every complete line received so far."""
        *lines, self.partial = (self.partial + data).split(b"\n")
        for line in lines:
            self.terminal.write_line(self.prefix + line.decode(errors="replace"))


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
    """The session's booted guest (shared with the needs_dm batch): run commands in it with ``.run(argv)``.

    It waits for the needs_dm batch first: those tests and a host-driven one must not share the scratch disks.
    """
    _skip_if_unavailable()
    testbed = _testbed(pytestconfig)
    testbed.plain.wait()
    try:
        return testbed.session_guest()
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
