"""Nested Xen for tests: Debian's Xen 4.17 hypervisor booted by qemu with the VM test bed's kernel and image as PV
dom0, plus a cached initramfs layer holding the Xen userland, the dom0 Xen drivers and tiny busybox PV domUs.

Nothing is installed on the host: the hypervisor, ``xen-utils-4.17`` and its libraries, and the kernel package's
Xen drivers are fetched with ``apt-get download`` and unpacked into the layer (installing xl on the host would
change what the host's own tests see). The layer and the dom0 initramfs (the test bed's image with the layer
appended) are cached in ``$PYBOFH_XEN_VM_CACHE`` (default ``/var/cache/pybofh-xen-vm``) under a key hashing this
file, the test bed's image key and the busybox binary; ``.deb`` files are kept in ``<cache>/debs``.

:class:`XenGuest` boots it (qemu multiboot: ``xen`` with the dom0 kernel and initramfs as modules);
:func:`start_xen` loads the drivers and starts xenstored and xenconsoled in dom0, as Debian's ``xencommons`` does.
A tiny domU (``domu_config``) boots the same Debian kernel with a busybox initramfs whose ``init`` is busybox init:
the kernel answers ``xl shutdown``/``xl reboot`` (xenstore ``control/shutdown``) with ``orderly_poweroff`` /
``orderly_reboot``, which run ``/sbin/poweroff`` / ``/sbin/reboot`` (busybox), which signal init, which stops and
powers off; it prints :data:`UP_MARKER` on its console (logged by xenconsoled) once it can do so.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.vm import build
from tests.vm.guest import GUEST_SITE, Guest, GuestConfig, GuestError

HERE = Path(__file__).resolve().parent
RECIPE_VERSION = 1
XEN_SERIES = "4.17"
HYPERVISOR_PACKAGE = f"xen-hypervisor-{XEN_SERIES}-amd64"
#: Debian's Xen userland and its Xen libraries (the closure of their Depends on Xen packages); the other
#: libraries they link come from the host (Debian 12 too) when the test bed's image lacks them.
USERLAND_PACKAGES = (
    f"xen-utils-{XEN_SERIES}", "xen-utils-common", "xenstore-utils", "libxencall1", "libxendevicemodel1",
    "libxenevtchn1", "libxenforeignmemory1", "libxengnttab1", "libxenhypfs1", f"libxenmisc{XEN_SERIES}",
    "libxenstore4", "libxentoolcore1", "libxentoollog1", "libyajl2",
)
XEN_BIN = f"/usr/lib/xen-{XEN_SERIES}/bin"
#: binaries whose shared libraries must all resolve in dom0
LINKED = (f"{XEN_BIN}/xl", f"{XEN_BIN}/xenstored", f"{XEN_BIN}/xenconsoled", f"{XEN_BIN}/xen-init-dom0",
          "/usr/bin/xenstore")
#: glibc's libraries: the test bed's image has its own (same Debian release), never replaced
GLIBC = re.compile(r"^(libc|libm|libpthread|libdl|librt|libresolv|ld-linux-x86-64)\.so")
DOM0_MODULES = ("xenfs", "xen-evtchn", "xen-gntdev", "xen-gntalloc", "xen-privcmd", "xen-blkback", "xen-netback")
DOMU_MODULES = ("xen-blkfront",)
XEN_CMDLINE = "console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M loglvl=all guest_loglvl=all noreboot"
DOM0_APPEND = "console=hvc0 earlyprintk=xen quiet panic=-1 mitigations=off"
#: where dom0 keeps the domUs' kernel and ramdisk
DATA = "/var/lib/pybofh-xen"
DOMU_KERNEL = f"{DATA}/vmlinuz"
DOMU_RAMDISK = f"{DATA}/tiny.cpio.gz"
CONSOLE_LOGS = "/var/log/xen/console"
#: where domU state files go: a tmpfs of its own (the initramfs root has little room left)
SAVE_DIR = "/var/lib/xen/save"
UP_MARKER = "pybofh-tiny-domu-up"
#: ``DISK_MARKER SECTORS``: the size of the domU's xvda (512-byte sectors) as its kernel sees it
DISK_MARKER = "pybofh-tiny-domu-xvda-sectors"
DEAF = "pybofh.deaf"
#: PATH in dom0: the project's console scripts (bofh) first, Debian's xl wrapper in /usr/sbin
DOM0_PATH = f"{GUEST_SITE}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

TINY_INITTAB = """\
::sysinit:/etc/rc
::shutdown:/bin/echo pybofh-tiny-domu-down
"""
TINY_RC = f"""\
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
for m in /lib/modules/*.ko; do insmod "$m"; done
echo "{UP_MARKER} boot=$(cat /proc/sys/kernel/random/boot_id) blkfront=$(test -d /sys/module/xen_blkfront && echo yes)"
# a domU with a disk says its size in sectors on the console whenever it changes; the read after dropping the
# page cache is I/O that makes dom0's blkback notice a grown backing device and tell blkfront
mount -t devtmpfs dev /dev 2>/dev/null
(last=; while :; do
    if test -e /sys/block/xvda/size; then
        now=$(cat /sys/block/xvda/size)
        test "$now" = "$last" || echo "{DISK_MARKER} $now"
        last=$now
        echo 1 > /proc/sys/vm/drop_caches
        dd if=/dev/xvda of=/dev/null bs=4096 count=1 2>/dev/null
    fi
    sleep 1
done) &
"""
#: busybox applets the tiny domU uses, linked in /bin; /sbin gets the ones the kernel's orderly_* helpers run
TINY_APPLETS = ("sh", "mount", "insmod", "echo", "cat", "test", "sleep", "ls", "grep", "dd")
TINY_SBIN = ("init", "reboot", "halt")
#: the kernel's orderly_poweroff runs this; a domU booted with ``pybofh.deaf`` on its command line ignores it (a
#: guest that does not stop when asked, for the timeout of ``shutdown --wait``)
TINY_POWEROFF = f"""\
#!/bin/sh
if grep -qw {DEAF} /proc/cmdline; then echo pybofh-tiny-domu-ignores-poweroff >/dev/console; exit 0; fi
exec /bin/busybox poweroff "$@"
"""


class XenBuildError(RuntimeError):
    """The nested-Xen layer could not be built; the message names the step."""


@dataclass(frozen=True)
class Dom0Image:
    """A built nested Xen: the hypervisor, the dom0 kernel and its initramfs (test bed image + Xen layer)."""

    path: Path
    xen: Path
    kernel: Path
    initrd: Path
    manifest: dict[str, Any]


def cache_dir() -> Path:
    """The nested Xen's cache folder (``$PYBOFH_XEN_VM_CACHE`` or /var/cache/pybofh-xen-vm)."""
    return Path(os.environ.get("PYBOFH_XEN_VM_CACHE") or "/var/cache/pybofh-xen-vm")


def _log(msg: str) -> None:
    """Progress of a build, on stderr (a build takes a minute; say what happens)."""
    print(f"pybofh-xen-vm: {msg}", file=sys.stderr, flush=True)


def _run(argv: Sequence[str | os.PathLike[str]], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run one build command; a failure becomes XenBuildError carrying its output."""
    proc = subprocess.run([str(a) for a in argv], capture_output=True, text=True, check=False,
                          stdin=subprocess.DEVNULL, **kwargs)
    if proc.returncode != 0:
        raise XenBuildError(f"{' '.join(map(str, argv))} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return proc


def cache_key(image: build.Image) -> str:
    """The key of the layer built for ``image``: this recipe, the image's key and the busybox binary."""
    digest = hashlib.sha256(f"{RECIPE_VERSION}|{image.path.name}\n".encode())
    digest.update(Path(__file__).read_bytes())
    digest.update(_busybox().read_bytes())
    return digest.hexdigest()[:16]


def _busybox() -> Path:
    """The host's static busybox (Debian's busybox-static), copied into the tiny domUs."""
    path = Path(shutil.which("busybox") or "/bin/busybox")
    if not path.is_file():
        raise XenBuildError("busybox not found: apt-get install busybox-static")
    return path.resolve()


def _load(path: Path) -> Dom0Image:
    """The Dom0Image stored in ``path``."""
    manifest = json.loads((path / "manifest.json").read_text())
    return Dom0Image(path, path / "xen", Path(manifest["kernel"]), path / "initrd.img", manifest)


def ensure_dom0(image: build.Image | None = None) -> Dom0Image:
    """The cached nested Xen for the test bed's ``image`` (default: its current build), building it if needed."""
    image = image or build.ensure_image()
    key = cache_key(image)
    root = cache_dir() / "dom0"
    final = root / key
    if (final / "manifest.json").is_file():
        os.utime(final)
        return _load(final)
    with build._locked(cache_dir() / "build.lock"):  # concurrent sessions build the layer once
        if (final / "manifest.json").is_file():
            return _load(final)
        work = root / f"{key}.tmp"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        try:
            _build(work, image, key)
            work.rename(final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        for old in sorted((p for p in root.iterdir() if p.is_dir() and p != final), key=lambda p: p.stat().st_mtime):
            if not old.name.endswith(".tmp"):
                shutil.rmtree(old, ignore_errors=True)  # a layer for another image: rebuilt if ever needed again
    return _load(final)


def _deb(package: str) -> Path:
    """The cached ``.deb`` of ``package`` in ``<cache>/debs``, downloaded with apt-get on first use."""
    debs = cache_dir() / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if found:
        return found[-1]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    argv = ["apt-get", "-q", "-o", "APT::Sandbox::User=root", "download", package]
    try:
        _run(argv, cwd=debs, env=env)
    except XenBuildError:
        _run(["apt-get", "-q", "update"], env=env)
        _run(argv, cwd=debs, env=env)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        raise XenBuildError(f"apt-get download {package} left no {package}_*.deb in {debs}")
    return found[-1]


def _build(work: Path, image: build.Image, key: str) -> None:
    """Build into ``work``: ``xen`` (uncompressed multiboot image), ``initrd.img`` and ``manifest.json``."""
    t0 = time.monotonic()
    build.ensure_host_tools()
    kversion = str(image.manifest["kernel_version"])
    _log(f"building the nested-Xen layer {key} for dom0 kernel {kversion}")
    hv_deb = _deb(HYPERVISOR_PACKAGE)
    _run(["dpkg-deb", "-x", hv_deb, work / "hv"])
    gz = next((work / "hv/boot").glob(f"xen-{XEN_SERIES}-amd64.gz"))
    (work / "xen").write_bytes(gzip.decompress(gz.read_bytes()))
    shutil.rmtree(work / "hv")
    stage = work / "stage"
    debs = [_deb(p) for p in USERLAND_PACKAGES]
    for deb in debs:
        _run(["dpkg-deb", "-x", deb, stage])
    _merge_usr(stage)
    for prune in ("usr/share/doc", "usr/share/man", "usr/share/bash-completion", "usr/include"):
        shutil.rmtree(stage / prune, ignore_errors=True)
    host_libs = _add_libraries(stage)
    kdeb = _deb(f"linux-image-{kversion}")
    tree = work / "kernel"
    _run(["dpkg-deb", "-x", kdeb, tree])
    _run(["depmod", "-b", tree, kversion])
    moddir = tree / "lib/modules" / kversion
    dom0_mods = _module_closure(moddir, DOM0_MODULES)
    for rel in dom0_mods:
        dst = stage / "usr/lib/modules" / kversion / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(moddir / rel, dst)
    data = stage / DATA.lstrip("/")
    data.mkdir(parents=True)
    shutil.copy2(image.kernel, data / "vmlinuz")
    (data / "tiny.cpio.gz").write_bytes(gzip.compress(_tiny_ramdisk(work / "tiny", moddir), 9))
    shutil.rmtree(tree)
    for d in ("run/xen", "var/lib/xen", "var/lib/xenstored", "var/log/xen/console"):
        (stage / d).mkdir(parents=True, exist_ok=True)
    layer = _cpio(stage)
    shutil.rmtree(stage)
    with open(work / "initrd.img", "wb") as out:  # the kernel unpacks concatenated cpio archives in order
        with open(image.initrd, "rb") as src:
            shutil.copyfileobj(src, out, 1 << 20)
        out.write(layer)
    manifest = {
        "key": key, "image": image.path.name, "kernel": str(image.kernel), "kernel_version": kversion,
        "debs": sorted(p.name for p in [hv_deb, *debs, kdeb]), "host_libraries": host_libs,
        "dom0_modules": sorted(dom0_mods), "layer_bytes": len(layer), "seconds": round(time.monotonic() - t0, 1),
    }
    (work / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    _log(f"built in {manifest['seconds']} s")


def _merge_usr(stage: Path) -> None:
    """Move top-level bin/sbin/lib* into usr/: Debian 12 is usr-merged, and a real /lib in the layer would replace
    the image's ``/lib -> usr/lib`` symlink when the kernel unpacks it (then /init cannot find its loader)."""
    for top in ("bin", "sbin", "lib", "lib64"):
        src = stage / top
        if src.is_dir() and not src.is_symlink():
            shutil.copytree(src, stage / "usr" / top, symlinks=True, dirs_exist_ok=True)
            shutil.rmtree(src)


def _add_libraries(stage: Path) -> list[str]:
    """Copy the non-Xen, non-glibc libraries the Xen binaries link from the host into the layer; return them."""
    libdir = stage / "usr/lib/x86_64-linux-gnu"
    env = dict(os.environ, LD_LIBRARY_PATH=str(libdir))
    copied: set[str] = set()
    for binary in LINKED:
        out = _run(["ldd", stage / binary.lstrip("/")], env=env).stdout
        for line in out.splitlines():
            name, _, rest = line.strip().partition(" => ")
            if "not found" in rest:
                raise XenBuildError(f"{binary} needs {name}, which neither the Xen packages nor the host have")
            path = rest.split(" (")[0].strip()
            if not path.startswith("/") or path.startswith(str(stage)) or GLIBC.match(name):
                continue
            real = Path(os.path.realpath(path))
            dst = libdir / name
            if not dst.exists():
                libdir.mkdir(parents=True, exist_ok=True)
                shutil.copy2(real, dst)
                copied.add(name)
    return sorted(copied)


def _module_closure(moddir: Path, names: Sequence[str]) -> list[str]:
    """The modules ``names`` and what they depend on, dependencies first (paths relative to ``moddir``)."""
    deps: dict[str, list[str]] = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
    by_name = {Path(p).name.split(".ko")[0].replace("_", "-"): p for p in deps}
    ordered: list[str] = []

    def visit(path: str) -> None:
        if path in ordered:
            return
        for dep in deps[path]:
            visit(dep)
        ordered.append(path)

    for name in names:
        if name not in by_name:
            raise XenBuildError(f"kernel module {name} not found in {moddir}")
        visit(by_name[name])
    return ordered


def _tiny_ramdisk(root: Path, moddir: Path) -> bytes:
    """The tiny domU's initramfs (uncompressed cpio): static busybox as init, blkfront, a console marker."""
    for d in ("bin", "sbin", "etc", "proc", "sys", "dev", "lib/modules", "tmp"):
        (root / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(_busybox(), root / "bin/busybox")
    for applet in TINY_APPLETS:
        (root / "bin" / applet).symlink_to("busybox")
    for applet in TINY_SBIN:
        (root / "sbin" / applet).symlink_to("../bin/busybox")
    (root / "init").symlink_to("bin/busybox")  # rdinit=/init: busybox runs as "init"
    (root / "etc/inittab").write_text(TINY_INITTAB)
    (root / "etc/rc").write_text(TINY_RC)
    (root / "etc/rc").chmod(0o755)
    (root / "sbin/poweroff").write_text(TINY_POWEROFF)
    (root / "sbin/poweroff").chmod(0o755)
    os.mknod(root / "dev/console", 0o600 | stat.S_IFCHR, os.makedev(5, 1))
    os.mknod(root / "dev/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    for i, rel in enumerate(_module_closure(moddir, DOMU_MODULES)):  # insmod in this (dependency) order
        shutil.copy2(moddir / rel, root / "lib/modules" / f"{i:02d}-{Path(rel).name}")
    return _cpio(root)


def _cpio(root: Path) -> bytes:
    """An uncompressed newc cpio archive of ``root``, as the kernel unpacks it (owner root)."""
    names = subprocess.run(["find", "."], cwd=root, capture_output=True, check=True).stdout
    return subprocess.run(["cpio", "-o", "-H", "newc", "--quiet", "-R", "0:0"], cwd=root, input=names,
                          capture_output=True, check=True).stdout


class XenGuest(Guest):
    """The VM test bed's guest booted as Xen dom0: qemu loads ``xen`` (multiboot) with the dom0 kernel and the
    cached dom0 initramfs as its modules."""

    def __init__(self, config: GuestConfig | None = None, *, cpu: str = "qemu64") -> None:
        """A dom0 guest (not booted); ``cpu`` is qemu's CPU model under TCG."""
        super().__init__(config or dom0_config())
        self.cpu = cpu
        self.dom0: Dom0Image | None = None

    def prepare(self) -> None:
        """Build or find the test bed's image and the Xen layer, then prepare as the test bed does."""
        super().prepare()
        assert self.image is not None
        self.dom0 = ensure_dom0(self.image)

    def qemu_argv(self, accel: str) -> list[str]:
        """The test bed's qemu argv with xen as the kernel and the dom0 kernel + initramfs as multiboot modules."""
        argv = super().qemu_argv(accel)
        assert self.dom0 is not None
        argv[argv.index("-kernel") + 1] = str(self.dom0.xen)
        append = f"{DOM0_APPEND} {self.config.kernel_args}".strip()
        argv[argv.index("-initrd") + 1] = f"{self.dom0.kernel} {append},{self.dom0.initrd}"
        argv[argv.index("-append") + 1] = XEN_CMDLINE
        if accel != "kvm":  # with TCG's "-cpu max" the PV dom0 kernel faults at once (recordings README)
            argv[argv.index("-cpu") + 1] = self.cpu
        return argv


def dom0_config(**overrides: Any) -> GuestConfig:
    """The GuestConfig of dom0: 2 GiB (1 GiB for dom0, the rest for domUs), one vCPU, no scratch disks."""
    base: dict[str, Any] = {"memory_mb": 2048, "cpus": 1, "disks": (), "boot_timeout": 300.0,
                            "hostname": "pybofh-dom0", "env": (("PATH", DOM0_PATH),)}
    base.update(overrides)
    return GuestConfig(**base)


#: dom0's start-up after the agent is ready: what Debian's xencommons does, without an init system
START_XEN = f"""
depmod -a
modprobe -a {' '.join(DOM0_MODULES)}
mountpoint -q /proc/xen || mount -t xenfs xenfs /proc/xen
mkdir -p /run/xen /run/xenstored /var/lib/xenstored /var/lib/xen/save /var/log/xen {CONSOLE_LOGS} /run/lock
mountpoint -q {SAVE_DIR} || mount -t tmpfs -o size=512m,mode=0700 xen-save {SAVE_DIR}
{XEN_BIN}/xenstored --pid-file /run/xenstored.pid
i=0; until xenstore-read /local >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 100 ] || exit 3; sleep 0.1; done
{XEN_BIN}/xen-init-dom0
xenstore-read /local/pool/0/name >/dev/null 2>&1 || xenstore-write /local/pool/0/name Pool-0
{XEN_BIN}/xenconsoled --pid-file=/run/xenconsoled.pid --log=guest --log-dir={CONSOLE_LOGS}
xl info >/dev/null
"""


def start_xen(guest: Guest, timeout: float = 180) -> float:
    """Load the Xen drivers and start xenstored, dom0's xenstore entries and xenconsoled; return the seconds."""
    t0 = time.monotonic()
    res = guest.run(["sh", "-ec", START_XEN], timeout=timeout)
    if res.returncode != 0:
        raise GuestError(f"starting Xen in dom0 failed ({res.returncode}):\n{res.out}{res.err}\n{guest.diagnostics()}")
    return time.monotonic() - t0


def domu_config(name: str, *, memory_mb: int = 96, deaf: bool = False, on_reboot: str = "restart",
                more: str = "") -> str:
    """An xl config of a tiny PV domU (busybox initramfs, no disk, no network); ``deaf``: it ignores shutdown
    requests; ``more``: further config lines."""
    cmdline = f"console=hvc0 rdinit=/init quiet{' ' + DEAF if deaf else ''}"
    return (
        f"# tiny PV domU of pybofh's nested-Xen tests\n"
        f'name = "{name}"\n'
        'type = "pv"\n'
        f'kernel = "{DOMU_KERNEL}"\n'
        f'ramdisk = "{DOMU_RAMDISK}"\n'
        f'extra = "{cmdline}"\n'
        f"memory = {memory_mb}\n"
        "vcpus = 1\n"
        'on_poweroff = "destroy"\n'
        f'on_reboot = "{on_reboot}"\n'
        'on_crash = "destroy"\n'
        f"{more}"
    )


def boot_dom0(config: GuestConfig | None = None, *, cpu: str = "qemu64") -> XenGuest:
    """Boot a dom0 and start Xen in it; on failure the guest is closed and the error re-raised."""
    guest = XenGuest(config, cpu=cpu)
    try:
        guest.prepare()
        guest.boot()
        guest.ready_info["xen_start_seconds"] = start_xen(guest)
    except BaseException:
        guest.close()
        raise
    return guest
