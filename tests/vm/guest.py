"""Host side of the VM test bed: boot the cached guest under qemu, run commands in it, always tear it down.

A :class:`Guest` boots the image from :mod:`build` (KVM when it is verified to work here, else TCG), shares the
project tree read-only (virtio-9p, at the same absolute path, with a throw-away tmpfs overlay so tests may write),
shares a per-run ``site`` folder holding the project's distributions (pip-installed on the host, so the guest sees
the current working tree and its entry points without an image rebuild), attaches scratch virtio disks backed by
sparse temp files, and runs commands as root over a virtio-serial channel with live output. :class:`GuestPair`
boots two guests joined by a qemu socket network, for DRBD.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import hashlib
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from . import build

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[1]
GIB = 1024**3
QEMU = "qemu-system-x86_64"
GUEST_SITE = "/run/pybofh-site"
SITE_MAX_AGE = 6 * 3600  # seconds an unused cached site folder is kept
PAIR_SUBNET = "192.0.2."  # TEST-NET-1 (RFC 5737): never routed; lives only inside qemu's socket netdev
IGNORED_PARTS = {
    ".git",
    "__pycache__",
    "build",
    "dist",
    ".venv",
    ".nox",
    ".tox",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    "node_modules",
}

Sink = Callable[[bytes], Any] | IO[bytes] | None


class GuestError(RuntimeError):
    """The guest could not be booted, died, or broke the protocol; the message carries the console's tail."""


class GuestTimeout(GuestError):
    """A command in the guest ran past its timeout (it was killed in the guest; the guest stays usable)."""


class GuestCommandError(GuestError):
    """A command run with ``check=True`` exited non-zero."""

    def __init__(self, result: Result) -> None:
        """Keep the result; the message shows argv, exit code and stderr."""
        self.result = result
        err = result.stderr.decode(errors="replace").strip()
        super().__init__(f"{result.argv!r} exited {result.returncode}: {err[-2000:]}")


@dataclass(frozen=True)
class Result:
    """What a command in the guest did: argv, exit code (negative: killed by that signal) and its output."""

    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def out(self) -> str:
        """Stdout decoded as text."""
        return self.stdout.decode(errors="replace")

    @property
    def err(self) -> str:
        """Stderr decoded as text."""
        return self.stderr.decode(errors="replace")


@dataclass(frozen=True)
class Nic:
    """A virtio NIC on a qemu socket network: listen on or connect to 127.0.0.1:port, with a static address."""

    address: str
    mac: str
    listen: int | None = None
    connect: int | None = None


@dataclass(frozen=True)
class GuestConfig:
    """How to boot one guest; every field has a default that suits a test run."""

    hostname: str = "pybofh-vm"
    memory_mb: int = 1536
    cpus: int = 1
    disks: tuple[int, ...] = (GIB, GIB)
    #: existing image files to use as the disks instead of fresh ones (kept after the guest is gone: a later guest
    #: can boot with the same disks, as a machine does after a power cut)
    disk_files: tuple[Path, ...] = ()
    source_dir: Path | None = DEFAULT_SOURCE
    extra_shares: tuple[Path, ...] = ()
    projects: tuple[str, ...] | None = None
    accel: str = field(default_factory=lambda: os.environ.get("PYBOFH_VM_ACCEL", "auto"))
    boot_timeout: float = 120.0
    kvm_probe_timeout: float = 20.0
    nics: tuple[Nic, ...] = ()
    hosts: tuple[tuple[str, str], ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    modules: tuple[str, ...] = ("dm_mod", "loop")
    kernel_args: str = field(default_factory=lambda: os.environ.get("PYBOFH_VM_KERNEL_ARGS", ""))
    machine: str = field(default_factory=lambda: os.environ.get("PYBOFH_VM_MACHINE", "pc"))
    tmp_root: Path | None = None
    #: run udevd in the guest (lvm.conf syncing with it, no DM_DISABLE_UDEV), as on a production host
    udev: bool = False


@dataclass
class _Call:
    """Book-keeping of one running command: where its output goes and when it finished."""

    stdout: Sink
    stderr: Sink
    capture: bool
    out: bytearray = field(default_factory=bytearray)
    err: bytearray = field(default_factory=bytearray)
    code: int | None = None
    done: threading.Event = field(default_factory=threading.Event)


_LIVE: weakref.WeakSet[Guest] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Backstop: shut down every guest still running when the interpreter exits."""
    for guest in list(_LIVE):
        guest.close()


def _set_pdeathsig() -> None:
    """In the qemu child: get SIGKILL when the parent dies, so no qemu outlives a killed test run."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _pid_alive(pid: int) -> bool:
    """Return whether a process with this pid exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def tmp_root(config: GuestConfig | None = None) -> Path:
    """Return the folder that holds the per-run temp folders (``$PYBOFH_VM_TMPDIR`` or the system temp dir)."""
    if config is not None and config.tmp_root is not None:
        return config.tmp_root
    return Path(os.environ.get("PYBOFH_VM_TMPDIR") or tempfile.gettempdir())


def remove_stale_tmpdirs(root: Path) -> None:
    """Delete per-run folders left by runs that were killed (their owner pid is gone)."""
    for path in root.glob("pybofh-vm-*"):
        try:
            owner = int((path / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if not _pid_alive(owner):
            shutil.rmtree(path, ignore_errors=True)


def qemu_version() -> str:
    """Return qemu's version line (part of the key under which the KVM verdict is cached)."""
    proc = subprocess.run([QEMU, "--version"], capture_output=True, text=True, check=False)
    return proc.stdout.splitlines()[0] if proc.stdout else "unknown"


def _verdict_key() -> str:
    """Return the key of this host's KVM verdict: host kernel and qemu version."""
    return f"{os.uname().release}|{qemu_version()}"


def kvm_verdict() -> str | None:
    """Return the cached answer to 'does KVM boot the guest here?' ("kvm" or "tcg"), or None if never tried."""
    try:
        data = json.loads((build.cache_dir() / "accel.json").read_text())
    except (OSError, ValueError):
        return None
    value = data.get(_verdict_key())
    return value if value in ("kvm", "tcg") else None


def save_kvm_verdict(value: str) -> None:
    """Remember whether KVM worked on this host, so later runs do not pay for the probe again."""
    path = build.cache_dir() / "accel.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    data[_verdict_key()] = value
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n")


def accel_plan(requested: str) -> list[str]:
    """Return the accelerators to try in order for ``requested`` ("auto", "kvm" or "tcg")."""
    if requested in ("kvm", "tcg"):
        return [requested]
    if requested != "auto":
        raise GuestError(f"PYBOFH_VM_ACCEL must be auto, kvm or tcg, not {requested!r}")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return ["tcg"]
    verdict = kvm_verdict()
    if verdict == "tcg":
        return ["tcg"]
    return ["kvm", "tcg"]


def find_projects(source: Path, names: Sequence[str] | None = None) -> list[Path]:
    """Return the project's distributions to install for the guest: pyproject folders under ``source``.

    ``names`` (or ``$PYBOFH_VM_PROJECTS``, separated by ':') lists them relative to ``source``; by default the
    root (if it has a pyproject.toml), ``pybofh_core`` and every ``plugins/*``.
    """
    if names is None and "PYBOFH_VM_PROJECTS" in os.environ:
        names = [n for n in os.environ["PYBOFH_VM_PROJECTS"].split(os.pathsep) if n]
    if names is not None:
        return [source / n for n in names]
    found = [source] if (source / "pyproject.toml").is_file() else []
    found += [source / "pybofh_core"] if (source / "pybofh_core" / "pyproject.toml").is_file() else []
    found += sorted(p for p in (source / "plugins").glob("*") if (p / "pyproject.toml").is_file())
    return found


def _tree_digest(projects: Sequence[Path]) -> str:
    """Hash the projects' files (paths, sizes, mtimes) so an unchanged tree reuses its installed site folder."""
    digest = hashlib.sha256(sys.version.encode())
    for project in projects:
        ignore = _ignore_for(project)
        for dirpath, dirnames, filenames in os.walk(project):
            skip = set(ignore(dirpath, [*dirnames, *filenames]))
            dirnames[:] = sorted(d for d in dirnames if d not in skip)
            for name in sorted(f for f in filenames if f not in skip):
                with contextlib.suppress(OSError):
                    st = os.stat(os.path.join(dirpath, name))
                    digest.update(f"{dirpath}/{name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def prepare_site(projects: Sequence[Path]) -> Path | None:
    """Pip-install ``projects`` (no deps) into a cached site folder the guest puts on PYTHONPATH.

    Each project is copied first, so the build leaves no build/ or *.egg-info in the shared work tree.
    Console scripts get Debian's python3 as interpreter. Returns None when there is nothing to install.
    """
    if not projects:
        return None
    sites = build.cache_dir() / "site"
    final = sites / _tree_digest(projects)
    if final.is_dir():
        os.utime(final)
        return final
    sites.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="site-", dir=sites) as tmp:
        copies = []
        for i, project in enumerate(projects):
            copy = Path(tmp) / "src" / f"{i}-{project.name}"
            shutil.copytree(project, copy, symlinks=True, ignore=_ignore_for(project))
            copies.append(str(copy))
        site = Path(tmp) / "site"
        base = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-compile",
            "--no-warn-script-location",
            "--root-user-action=ignore",
            "--target",
            str(site),
        ]
        # Without build isolation it takes a few seconds instead of half a minute; isolation is the fallback
        # for build back-ends the host's Python does not have, which then come at constraints.txt's versions
        # (PIP_CONSTRAINT reaches the build environment of older pip, PIP_BUILD_CONSTRAINT that of pip >= 25.3).
        pinned = {"PIP_CONSTRAINT": str(build.CONSTRAINTS), "PIP_BUILD_CONSTRAINT": str(build.CONSTRAINTS)}
        for isolation in (["--no-build-isolation"], []):
            shutil.rmtree(site, ignore_errors=True)
            proc = subprocess.run(
                [*base, *isolation, *copies],
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                check=False,
                env={**os.environ, **pinned},
            )
            if proc.returncode == 0:
                break
        else:
            raise GuestError(f"pip install of {[str(p) for p in projects]} failed:\n{proc.stdout}{proc.stderr}")
        for script in (site / "bin").glob("*") if (site / "bin").is_dir() else ():
            text = script.read_bytes()
            if text.startswith(b"#!"):
                script.write_bytes(b"#!/usr/bin/python3" + text[text.index(b"\n") :])
        with contextlib.suppress(OSError):
            site.rename(final)
    cutoff = time.time() - SITE_MAX_AGE
    for old in sites.iterdir():  # by age, not count: another session's running guest may still share it
        with contextlib.suppress(OSError):
            if old != final and old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
    return final


def _ignore_for(project: Path) -> Callable[[str, list[str]], list[str]]:
    """Return a copytree filter skipping caches, VCS data and, for a root project, the plugins folder."""

    def ignore(directory: str, names: list[str]) -> list[str]:
        skip = [n for n in names if n in IGNORED_PARTS or n.endswith(".egg-info")]
        if Path(directory) == project:  # a project's own tests are not installed; a root project's plugins are apart
            skip += [n for n in names if n in ("plugins", "tests")]
        return skip

    return ignore


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_listening(port: int) -> bool:
    """Return whether some process listens on TCP ``port`` (read from /proc, without connecting to it)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as fh:
            for line in fh.readlines()[1:]:
                cols = line.split()
                if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                    return True
    return False


class Guest:
    """One booted guest. Use as a context manager; :meth:`close` always kills qemu and deletes temp files."""

    def __init__(self, config: GuestConfig | None = None, *, image: build.Image | None = None) -> None:
        """Prepare (not boot) a guest from ``config``; ``image`` defaults to the cached build of the recipe."""
        self.config = config or GuestConfig()
        self.image = image
        self.tmpdir: Path | None = None
        self.accel: str | None = None
        self.ready_info: dict[str, Any] = {}
        self.boot_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._calls: dict[int, _Call] = {}
        self._next_id = 0
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._ready: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._dead = threading.Event()
        self._closed = False
        #: os.environ as it was at prepare(): what qemu gets (see prepare)
        self._launch_env: dict[str, str] | None = None

    # -- life cycle ---------------------------------------------------------------------------------------------

    def __enter__(self) -> Guest:
        """Boot the guest."""
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Shut the guest down and delete its temp files, whatever happened."""
        self.close()

    def start(self) -> None:
        """Boot the guest and wait until its agent is ready; on any failure, clean up and re-raise."""
        try:
            self.prepare()
            self.boot()
        except BaseException:
            self.close()
            raise

    def prepare(self) -> None:
        """Build or find the image, create the temp folder, the control share, the site folder and the disks.

        The environment qemu will get is taken here: a guest prepared on one thread and booted on another (the
        pytest plugin's background batches) does not see what tests running meanwhile put in ``os.environ``.
        """
        _LIVE.add(self)
        self._launch_env = dict(os.environ)
        if self.image is None:
            self.image = build.ensure_image()
        else:
            build.ensure_host_tools()
        root = tmp_root(self.config)
        root.mkdir(parents=True, exist_ok=True)
        remove_stale_tmpdirs(root)
        self.tmpdir = Path(tempfile.mkdtemp(prefix="pybofh-vm-", dir=root))
        (self.tmpdir / "owner.pid").write_text(str(os.getpid()))
        ctl = self.tmpdir / "ctl"
        (ctl / "out").mkdir(parents=True)
        shutil.copy2(HERE / "agent.py", ctl / "agent.py")
        cfg = self.config
        self.site = None
        if cfg.source_dir is not None:
            self.site = prepare_site(find_projects(cfg.source_dir, cfg.projects))
        if not cfg.disk_files:
            for i, size in enumerate(cfg.disks):
                with open(self.tmpdir / f"disk{i}.img", "wb") as fh:
                    fh.truncate(size)
        (ctl / "config.json").write_text(json.dumps(self._guest_config(), indent=2))

    def _guest_config(self) -> dict[str, Any]:
        """Return the config.json the agent applies in the guest: hostname, modules, shares, network, env."""
        cfg = self.config
        shares: list[dict[str, Any]] = []
        env = {"PYTHONDONTWRITEBYTECODE": "1"}
        if cfg.source_dir is not None:
            shares.append(
                {"tag": "pybofh_src", "path": str(cfg.source_dir), "readonly": True, "overlay": True, "cache": "loose"}
            )
        for i, path in enumerate(cfg.extra_shares):
            shares.append(
                {"tag": f"pybofh_x{i}", "path": str(path), "readonly": True, "overlay": True, "cache": "loose"}
            )
        if self.site is not None:
            shares.append({"tag": "pybofh_site", "path": GUEST_SITE, "readonly": True, "cache": "loose"})
            env["PYTHONPATH"] = GUEST_SITE
            env["PATH"] = f"{GUEST_SITE}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        env.update(dict(cfg.env))
        return {
            "hostname": cfg.hostname,
            "modules": list(cfg.modules),
            "shares": shares,
            "nics": [{"address": n.address, "mac": n.mac} for n in cfg.nics],
            "hosts": dict(cfg.hosts),
            "env": env,
            "udev": cfg.udev,
        }

    @property
    def out_dir(self) -> Path:
        """Host path of the guest's writable /run/pybofh/out folder (results written there are readable here)."""
        assert self.tmpdir is not None, "guest not prepared"
        return self.tmpdir / "ctl" / "out"

    def boot(self) -> None:
        """Start qemu and wait for the agent; in auto mode try KVM first and fall back to TCG if it fails.

        A boot that times out is tried once more: an emulated boot that hangs is rare, and a retry is cheap.
        """
        plan = accel_plan(self.config.accel)
        for accel in plan:
            probing = accel == "kvm" and len(plan) > 1
            attempts = 1 if probing else 2
            for attempt in range(1, attempts + 1):
                self.launch(accel)
                try:
                    self.wait_ready(self.config.kvm_probe_timeout if probing else self.config.boot_timeout)
                except GuestError as exc:
                    first_line = str(exc).splitlines()[0]
                    self._kill_qemu()
                    if probing:
                        print(f"pybofh-vm: KVM did not boot the guest ({first_line}); using TCG", file=sys.stderr)
                        save_kvm_verdict("tcg")
                        break
                    if attempt == attempts or "not ready after" not in first_line:
                        raise
                    print(f"pybofh-vm: {first_line}; booting again", file=sys.stderr)
                    continue
                if probing:
                    save_kvm_verdict("kvm")
                return
        raise GuestError(f"no accelerator of {plan} booted the guest")

    def qemu_argv(self, accel: str) -> list[str]:
        """Return qemu's argv for this guest with accelerator ``accel``."""
        assert self.image is not None and self.tmpdir is not None
        cfg, tmp = self.config, self.tmpdir
        bus = "device" if cfg.machine.startswith("microvm") else "pci"  # microvm has virtio-mmio, no PCI
        argv = [
            QEMU,
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-no-reboot",
            "-machine",
            cfg.machine,
            "-m",
            str(cfg.memory_mb),
            "-smp",
            str(cfg.cpus),
            *(["-accel", "kvm", "-cpu", "host"] if accel == "kvm" else ["-accel", "tcg,thread=multi", "-cpu", "max"]),
            "-kernel",
            str(self.image.kernel),
            "-initrd",
            str(self.image.initrd),
            "-append",
            f"console=ttyS0 quiet panic=-1 mitigations=off {cfg.kernel_args}".strip(),
            "-chardev",
            f"file,id=con,path={tmp / 'console.log'}",
            "-serial",
            "chardev:con",
            "-device",
            f"virtio-serial-{bus},id=vser",
            "-chardev",
            f"socket,id=agent,path={tmp / 'agent.sock'},server=on,wait=off",
            "-device",
            "virtserialport,bus=vser.0,chardev=agent,name=pybofh.agent",
            "-device",
            f"virtio-rng-{bus}",
            "-fsdev",
            f"local,id=ctl,path={tmp / 'ctl'},security_model=none",
            "-device",
            f"virtio-9p-{bus},fsdev=ctl,mount_tag=pybofh_ctl",
        ]
        if cfg.source_dir is not None:
            argv += [
                "-fsdev",
                f"local,id=src,path={cfg.source_dir},security_model=none,readonly=on",
                "-device",
                f"virtio-9p-{bus},fsdev=src,mount_tag=pybofh_src",
            ]
        for i, path in enumerate(cfg.extra_shares):
            argv += [
                "-fsdev",
                f"local,id=x{i},path={path},security_model=none,readonly=on",
                "-device",
                f"virtio-9p-{bus},fsdev=x{i},mount_tag=pybofh_x{i}",
            ]
        if self.site is not None:
            argv += [
                "-fsdev",
                f"local,id=site,path={self.site},security_model=none,readonly=on",
                "-device",
                f"virtio-9p-{bus},fsdev=site,mount_tag=pybofh_site",
            ]
        disks = list(cfg.disk_files) or [tmp / f"disk{i}.img" for i in range(len(cfg.disks))]
        for i, disk in enumerate(disks):
            argv += [
                "-drive",
                f"file={disk},if=none,id=disk{i},format=raw,cache=unsafe,discard=unmap",
                "-device",
                f"virtio-blk-{bus},drive=disk{i},serial=pybofh-scratch-{i}",
            ]
        for i, nic in enumerate(cfg.nics):
            where = f"listen=127.0.0.1:{nic.listen}" if nic.listen else f"connect=127.0.0.1:{nic.connect}"
            argv += ["-netdev", f"socket,id=net{i},{where}", "-device", f"virtio-net-{bus},netdev=net{i},mac={nic.mac}"]
        return argv

    def launch(self, accel: str) -> None:
        """Start qemu (in its own session, killed if we die) and connect to the agent's socket."""
        assert self.tmpdir is not None
        self.accel = accel
        self._dead.clear()
        self._ready = queue.Queue()
        for stale in ("agent.sock", "console.log"):
            (self.tmpdir / stale).unlink(missing_ok=True)
        self._t_launch = time.monotonic()
        with open(self.tmpdir / "qemu.log", "ab") as log:
            self._proc = subprocess.Popen(
                self.qemu_argv(accel),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_set_pdeathsig,
                env=dict(self._launch_env or os.environ, TMPDIR=str(self.tmpdir)),
            )
        sock_path = str(self.tmpdir / "agent.sock")
        deadline = time.monotonic() + 30
        while True:
            if self._proc.poll() is not None:
                raise GuestError(f"qemu exited with {self._proc.returncode} at start\n{self.diagnostics()}")
            try:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.connect(sock_path)
                break
            except OSError:
                sock.close()
                if time.monotonic() > deadline:
                    raise GuestError(f"qemu's agent socket never appeared\n{self.diagnostics()}") from None
                time.sleep(0.02)
        self._sock = sock
        self._reader = threading.Thread(target=self._read_loop, args=(sock,), name="pybofh-vm-reader", daemon=True)
        self._reader.start()

    def wait_ready(self, timeout: float) -> None:
        """Wait until the agent reports ready (or qemu dies, or ``timeout`` passes)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self._ready.get(timeout=0.2)
            except queue.Empty:
                msg = None
                if self._proc is not None and self._proc.poll() is not None:
                    raise GuestError(
                        f"qemu exited with {self._proc.returncode} while booting\n{self.diagnostics()}"
                    ) from None
                if time.monotonic() > deadline:
                    raise GuestError(
                        f"guest not ready after {timeout:.0f} s ({self.accel})\n{self.diagnostics()}"
                    ) from None
                continue
            if msg is None:
                raise GuestError(f"agent channel closed while booting\n{self.diagnostics()}")
            break
        self.boot_seconds = time.monotonic() - self._t_launch
        self.ready_info = msg.get("info", {})
        if msg.get("errors"):
            raise GuestError(f"guest setup failed: {msg['errors']}\n{self.diagnostics()}")

    def diagnostics(self, lines: int = 40) -> str:
        """Return the tail of the guest console and of qemu's own output, for error messages."""
        parts = []
        for name in ("console.log", "qemu.log"):
            path = self.tmpdir / name if self.tmpdir else None
            if path is not None and path.exists():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {name} (last {len(text)} lines) ---\n" + "\n".join(text))
        return "\n".join(parts)

    def close(self) -> None:
        """Shut the guest down (poweroff, then SIGTERM, then SIGKILL) and delete its temp folder. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._proc is not None and self._proc.poll() is None:
                with contextlib.suppress(Exception):
                    self._send({"op": "poweroff"})
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(timeout=2)
            self._kill_qemu()
        finally:
            if self.tmpdir is not None:
                shutil.rmtree(self.tmpdir, ignore_errors=True)
            _LIVE.discard(self)

    def crash(self) -> None:
        """Cut the power: SIGKILL qemu at once (no shutdown, the guest's page cache is lost), then clean up.

        What the guest wrote and flushed (fsync) is in the disk files; ``disk_files`` keeps them for the next boot.
        """
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=10)
        self.close()

    def _kill_qemu(self) -> None:
        """Stop qemu for sure (SIGTERM, then SIGKILL) and close the channel."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
                try:
                    proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
            self._sock = None
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None
        self._dead.set()
        for call in list(self._calls.values()):
            call.done.set()

    @property
    def pid(self) -> int | None:
        """Pid of the qemu process (None before boot)."""
        return self._proc.pid if self._proc else None

    @property
    def alive(self) -> bool:
        """Whether qemu is running."""
        return self._proc is not None and self._proc.poll() is None

    # -- channel --------------------------------------------------------------------------------------------------

    def _send(self, msg: dict[str, Any]) -> None:
        """Send one request line to the agent."""
        if self._sock is None:
            raise GuestError("guest is not running")
        data = (json.dumps(msg, separators=(",", ":")) + "\n").encode()
        with self._send_lock:
            self._sock.sendall(data)

    def _read_loop(self, sock: socket.socket) -> None:
        """Reader thread: dispatch the agent's messages to the waiting calls; on EOF, wake everyone."""
        buf = b""
        try:
            while True:
                chunk = sock.recv(262144)
                if not chunk:
                    break
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        self._dispatch(json.loads(line))
        except (OSError, ValueError):
            pass
        finally:
            self._dead.set()
            self._ready.put(None)
            for call in list(self._calls.values()):
                call.done.set()

    def _dispatch(self, msg: dict[str, Any]) -> None:
        """Handle one message from the agent."""
        op = msg.get("op")
        if op == "ready":
            self._ready.put(msg)
            return
        call = self._calls.get(msg.get("id", -1))
        if call is None:
            return
        if op == "out":
            data = base64.b64decode(msg["data"])
            sink = call.stdout if msg["fd"] == 1 else call.stderr
            if call.capture:
                (call.out if msg["fd"] == 1 else call.err).extend(data)
            if sink is not None:
                if callable(sink):
                    sink(data)
                else:
                    sink.write(data)
                    sink.flush()
        elif op == "exit":
            call.code = int(msg["code"])
            call.done.set()

    # -- running commands -------------------------------------------------------------------------------------------

    def run(
        self,
        argv: Sequence[str],
        *,
        input: bytes | str | None = None,
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
        stdout: Sink = None,
        stderr: Sink = None,
        capture: bool = True,
        check: bool = False,
    ) -> Result:
        """Run ``argv`` as root in the guest and return its Result; output streams live to ``stdout``/``stderr``.

        ``input`` is written to the command's stdin (then closed; without it stdin is /dev/null). On
        ``timeout`` the command's process group is killed in the guest and GuestTimeout is raised.
        """
        if isinstance(input, str):
            input = input.encode()  # noqa: A001
        with self._lock:
            self._next_id += 1
            rid = self._next_id
        call = _Call(stdout=stdout, stderr=stderr, capture=capture)
        self._calls[rid] = call
        try:
            self._send(
                {
                    "op": "run",
                    "id": rid,
                    "argv": [str(a) for a in argv],
                    "env": env or {},
                    "cwd": str(cwd) if cwd is not None else None,
                    "stdin": base64.b64encode(input).decode() if input is not None else None,
                }
            )
            deadline = None if timeout is None else time.monotonic() + timeout
            while not call.done.wait(0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))):
                if deadline is not None and time.monotonic() >= deadline:
                    self._kill_call(rid, call)
                    raise GuestTimeout(f"{list(argv)!r} timed out after {timeout} s in the guest")
                if not self.alive:
                    break
            if call.code is None:
                raise GuestError(f"guest died while running {list(argv)!r}\n{self.diagnostics()}")
            result = Result(tuple(str(a) for a in argv), call.code, bytes(call.out), bytes(call.err))
        except KeyboardInterrupt:
            self._kill_call(rid, call)
            raise
        finally:
            self._calls.pop(rid, None)
        if check and result.returncode != 0:
            raise GuestCommandError(result)
        return result

    def _kill_call(self, rid: int, call: _Call) -> None:
        """Kill a running command's process group in the guest and wait a little for its exit report."""
        with contextlib.suppress(Exception):
            self._send({"op": "signal", "id": rid, "signal": int(signal.SIGKILL)})
            call.done.wait(5)

    def sh(self, script: str, **kwargs: Any) -> Result:
        """Run a /bin/sh script in the guest (a convenience for tests; the script is one argv element)."""
        return self.run(["sh", "-ec", script], **kwargs)


class GuestPair:
    """Two guests on one qemu socket network (A listens on 127.0.0.1:port, B connects), with static addresses.

    Addresses are ``192.0.2.1`` (A, host name ``<prefix>1``) and ``192.0.2.2`` (B, ``<prefix>2``) by default; each
    guest's /etc/hosts knows both. Meant for DRBD tests between two machines.
    """

    def __init__(
        self,
        config: GuestConfig | None = None,
        *,
        prefix: str = "pybofh-vm",
        subnet: str = PAIR_SUBNET,
        image: build.Image | None = None,
    ) -> None:
        """Prepare (not boot) the pair; ``config`` is the template of both guests."""
        base = config or GuestConfig()
        self.port = free_port()
        self.addresses = (f"{subnet}1", f"{subnet}2")
        self.names = (f"{prefix}1", f"{prefix}2")
        hosts = tuple(zip(self.names, self.addresses, strict=True))
        a = replace(
            base,
            hostname=self.names[0],
            hosts=hosts,
            nics=(Nic(f"{self.addresses[0]}/24", "52:54:00:b0:f0:01", listen=self.port),),
        )
        b = replace(
            base,
            hostname=self.names[1],
            hosts=hosts,
            nics=(Nic(f"{self.addresses[1]}/24", "52:54:00:b0:f0:02", connect=self.port),),
        )
        self.a = Guest(a, image=image)
        self.b = Guest(b, image=image)

    def __enter__(self) -> tuple[Guest, Guest]:
        """Boot both guests."""
        self.start()
        return self.a, self.b

    def __exit__(self, *exc: object) -> None:
        """Shut both guests down."""
        self.close()

    def start(self) -> None:
        """Boot A (probing KVM if needed), start B once A listens, wait for both; clean up on failure."""
        try:
            image = self.a.image or build.ensure_image()
            self.a.image = self.b.image = image
            self.a.prepare()
            self.b.prepare()
            plan = accel_plan(self.a.config.accel)
            if len(plan) > 1:
                self.a.boot()  # probes KVM and records the verdict
                accel = self.a.accel or "tcg"
            else:
                accel = plan[0]
                self.a.launch(accel)
            deadline = time.monotonic() + 30
            while not port_listening(self.port):
                if not self.a.alive or time.monotonic() > deadline:
                    raise GuestError(f"guest A never listened on port {self.port}\n{self.a.diagnostics()}")
                time.sleep(0.02)
            self.b.launch(accel)
            if self.a.boot_seconds is None:
                self.a.wait_ready(self.a.config.boot_timeout)
            self.b.wait_ready(self.b.config.boot_timeout)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Shut both guests down and delete their temp files."""
        try:
            self.b.close()
        finally:
            self.a.close()


@contextlib.contextmanager
def booted(config: GuestConfig | None = None) -> Iterator[Guest]:
    """Boot one guest for the duration of a with-block."""
    with Guest(config) as guest:
        yield guest
