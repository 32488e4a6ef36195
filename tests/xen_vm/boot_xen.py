"""Opt-in: boot Debian's Xen 4.17 hypervisor with the VM test bed's Debian kernel as dom0 (qemu, KVM else TCG), run
the real ``xl`` in dom0 (info, list, list -l, create a tiny PV domU, uptime, destroy) and record its outputs.

    python3 tests/xen_vm/boot_xen.py [--out DIR] [--boot-timeout SECONDS]

Needs root and, on the host, Debian's ``xen-utils-4.17``, ``xenstore-utils`` and ``busybox`` (their files are
copied into an extra initramfs layer for dom0) plus what the VM test bed needs. The hypervisor comes from
``apt-get download xen-hypervisor-4.17-amd64``. Every ``xl`` step is recorded with
``pybofh_core.testing.write_recording`` into ``--out`` (default: plugins/pybofh-xen/tests/recordings/xl-nested) as
``<step>-<xen version>`` (argv, exit code, stdout, stderr); ``session.log`` there has every command (the set-up
ones too), its exit code, timing and output.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "pybofh_core"))  # pybofh_core.testing from this checkout if not installed

from pybofh_core.testing import write_recording  # noqa: E402
from tests.vm.guest import Guest, GuestConfig, Result  # noqa: E402

WORK = Path(os.environ.get("PYBOFH_XEN_VM_CACHE", "/var/cache/pybofh-xen-vm"))
XEN_PACKAGES = ("xen-utils-4.17", "xen-utils-common", "xenstore-utils")
XEN_BIN = "/usr/lib/xen-4.17/bin"
XEN_CMDLINE = "console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M loglvl=all guest_loglvl=all noreboot"
DOM0_APPEND = "console=hvc0 earlyprintk=xen quiet panic=-1 mitigations=off"
DOMU_CFG = """# tiny PV domU of the nested-Xen recording session (busybox initramfs, no disk, no network)
name = "tiny"
type = "pv"
kernel = "/var/lib/pybofh-xen/vmlinuz"
ramdisk = "/var/lib/pybofh-xen/tiny.cpio.gz"
extra = "console=hvc0 rdinit=/init quiet"
memory = 96
vcpus = 1
on_poweroff = "destroy"
"""
TINY_INIT = "#!/bin/busybox sh\n/bin/busybox mkdir -p /proc\n/bin/busybox mount -t proc proc /proc\n" \
            "echo tiny domU up\nexec /bin/busybox sleep 100000\n"


def sh(*argv: str) -> str:
    """Run a host command, fail loudly."""
    return subprocess.run(list(argv), check=True, capture_output=True, text=True).stdout


def hypervisor() -> Path:
    """Download and unpack Debian's Xen hypervisor; return the uncompressed multiboot image."""
    out = WORK / "xen-4.17-amd64"
    if out.is_file():
        return out
    debs = WORK / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", "xen-hypervisor-4.17-amd64"], cwd=debs, check=True)
    deb = sorted(debs.glob("xen-hypervisor-4.17-amd64_*.deb"))[-1]
    unpack = WORK / "hv"
    sh("dpkg-deb", "-x", str(deb), str(unpack))
    gz = next(unpack.glob("boot/xen-4.17-amd64.gz"))
    out.write_bytes(gzip.decompress(gz.read_bytes()))
    return out


def _copy(path: str, stage: Path) -> None:
    # Resolve the directory (Debian 12 is usr-merged: /lib -> usr/lib), or the layer's real /lib directory would
    # replace the guest's /lib symlink when the kernel unpacks it, and /init could no longer find its loader.
    src = Path(path)
    path = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
    dst = stage / path.lstrip("/")
    if src.is_symlink():
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists() and not dst.is_symlink():
            dst.symlink_to(os.readlink(src))
    elif src.is_file():
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


def xen_modules(version: str, stage: Path) -> None:
    """Add the dom0 kernel's Xen driver modules (xenfs, evtchn, gntdev, privcmd…), which the test bed omits."""
    debs = WORK / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    if not list(debs.glob(f"linux-image-{version}_*.deb")):
        subprocess.run(["apt-get", "download", f"linux-image-{version}"], cwd=debs, check=True)
    deb = sorted(debs.glob(f"linux-image-{version}_*.deb"))[-1]
    unpack = WORK / "kernel"
    if not unpack.is_dir():
        sh("dpkg-deb", "-x", str(deb), str(unpack))
    src = next(unpack.glob(f"**/modules/{version}/kernel/drivers/xen"))
    dst = stage / f"usr/lib/modules/{version}/kernel/drivers/xen"
    shutil.copytree(src, dst)


def overlay(kernel: Path, version: str) -> Path:
    """An initramfs layer with xl, xenstored, xenconsoled, their libraries, a domU config and its kernel/initrd."""
    stage = WORK / "overlay"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    xen_modules(version, stage)
    files: set[str] = set()
    for pkg in XEN_PACKAGES:
        files.update(line for line in sh("dpkg", "-L", pkg).splitlines() if line.startswith("/"))
    for binary in ("xl", "xenstored", "xenconsoled"):
        for line in sh("ldd", f"{XEN_BIN}/{binary}").splitlines():
            parts = line.split("=>")
            lib = (parts[1] if len(parts) > 1 else parts[0]).split("(")[0].strip()
            if lib.startswith("/"):
                files.add(lib)
                files.add(os.path.realpath(lib))
    for f in sorted(files):
        _copy(f, stage)
    data = stage / "var/lib/pybofh-xen"
    data.mkdir(parents=True)
    shutil.copy2(kernel, data / "vmlinuz")
    (stage / "etc/xen").mkdir(parents=True, exist_ok=True)
    (stage / "etc/xen/tiny.cfg").write_text(DOMU_CFG)
    tiny = WORK / "tiny"
    shutil.rmtree(tiny, ignore_errors=True)
    (tiny / "bin").mkdir(parents=True)
    shutil.copy2("/usr/bin/busybox", tiny / "bin/busybox")
    (tiny / "init").write_text(TINY_INIT)
    (tiny / "init").chmod(0o755)
    cpio = subprocess.run("find . | cpio -o -H newc --quiet | gzip -9", shell=True, cwd=tiny, check=True,
                          capture_output=True).stdout
    (data / "tiny.cpio.gz").write_bytes(cpio)
    layer = WORK / "overlay.cpio"
    layer.write_bytes(subprocess.run("find . | cpio -o -H newc --quiet", shell=True, cwd=stage, check=True,
                                     capture_output=True).stdout)
    return layer


class XenGuest(Guest):
    """The VM test bed's guest, booted as Xen dom0: qemu loads xen (multiboot) with the kernel and initrd as modules."""

    xen: Path
    layer: Path
    cpu: str = "qemu64"

    def qemu_argv(self, accel: str) -> list[str]:
        argv = super().qemu_argv(accel)
        assert self.image is not None and self.tmpdir is not None
        combined = self.tmpdir / "dom0-initrd.img"
        if not combined.exists():
            with combined.open("wb") as out:
                for part in (self.image.initrd, self.layer):
                    with part.open("rb") as src:
                        shutil.copyfileobj(src, out)
        i = argv.index("-kernel")
        argv[i + 1] = str(self.xen)
        argv[argv.index("-initrd") + 1] = f"{self.image.kernel} {DOM0_APPEND},{combined}"
        argv[argv.index("-append") + 1] = XEN_CMDLINE
        if accel != "kvm":  # with TCG's "-cpu max" the PV dom0 kernel faults at once (see recordings README)
            argv[argv.index("-cpu") + 1] = self.cpu
        return argv


XL = f"{XEN_BIN}/xl"
DESTROY = f"LC_ALL=C {XL} destroy tiny; LC_ALL=C {XL} list"
# (name, dom0 script, argv of the recording or None: a set-up step, only in session.log, note)
STEPS: list[tuple[str, str, list[str] | None, str | None]] = [
    ("xenfs", "depmod -a; modprobe -a xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd; "
              "mount -t xenfs xenfs /proc/xen; ls /proc/xen; cat /sys/hypervisor/version/major 2>&1 || true",
     None, None),
    ("xenstored", f"mkdir -p /var/run/xen /var/run/xenstored /var/lib/xenstored /var/log/xen /var/lib/xen; "
                  f"{XEN_BIN}/xenstored --pid-file /var/run/xenstored.pid; sleep 2; "
                  "xenstore-write /local/domain/0/name Domain-0; xenstore-write /local/domain/0/domid 0; "
                  "xenstore-write /local/pool/0/name Pool-0; "
                  f"{XEN_BIN}/xenconsoled --pid-file=/var/run/xenconsoled.pid; echo started", None, None),
    ("info", f"LC_ALL=C {XL} info", [XL, "info"], None),
    ("list-dom0", f"LC_ALL=C {XL} list", [XL, "list"], None),
    ("list-long-dom0", f"LC_ALL=C {XL} list -l", [XL, "list", "-l"], None),
    ("create-tiny", f"LC_ALL=C {XL} create /etc/xen/tiny.cfg", [XL, "create", "/etc/xen/tiny.cfg"], None),
    ("list-tiny", f"sleep 5; LC_ALL=C {XL} list", [XL, "list"], None),
    ("list-long-tiny", f"LC_ALL=C {XL} list -l", [XL, "list", "-l"], None),
    ("uptime", f"LC_ALL=C {XL} uptime", [XL, "uptime"], None),
    ("pybofh", "PYBOFH_XEN__XL_COMMAND=" + XL + " PYBOFH_XEN__DOMU_CONFIG_DIRS=/etc/xen python3 -c "
               "'from pybofh import xen; print(xen.xl_info()); print(xen.running_domus()); "
               "print([(d.name, xen.is_domu_running(d)) for d in xen.all_domus()])'", None, None),
    ("destroy-tiny", DESTROY, ["sh", "-ec", DESTROY], "xl destroy tiny; xl list: stdout is the list after the destroy"),
]


def xen_version(info: bytes, default: str = "4.17") -> str:
    """The hypervisor's version from ``xl info`` output (``xen_version : 4.17.7``), else ``default``: the version
    in the recordings' names."""
    for line in info.decode(errors="replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "xen_version" and re.fullmatch(r"\d+(\.\d+)+", value.strip()):
            return value.strip()
    return default


def save(out: Path, name: str, version: str, argv: list[str], res: Result, note: str | None) -> Path:
    """Write one step's outputs as ``out/<name>-<version>`` (``pybofh_core.testing.write_recording``; ``out`` is
    the tool folder, ``recordings/xl-nested`` by default)."""
    return write_recording(out.parent, out.name, name, version, argv=argv, stdout=res.stdout, stderr=res.stderr,
                           returncode=res.returncode, note=note,
                           where=f"nested Xen {version} (tests/xen_vm/boot_xen.py; session.log)")


def main() -> int:
    """Boot, run every step, write recordings and a session log; exit 0 only if xl info worked."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "plugins/pybofh-xen/tests/recordings/xl-nested")
    ap.add_argument("--boot-timeout", type=float, default=1500.0)
    ap.add_argument("--cpu", default="qemu64", help="qemu -cpu model under TCG (default qemu64)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    log = (args.out / "session.log").open("a")

    def note(text: str) -> None:
        print(text, file=sys.stderr)
        log.write(text + "\n")
        log.flush()

    guest = XenGuest(GuestConfig(memory_mb=2048, cpus=1, disks=(), boot_timeout=args.boot_timeout))
    guest.xen = hypervisor()
    guest.cpu = args.cpu
    started = time.monotonic()
    guest.prepare()
    assert guest.image is not None
    guest.layer = overlay(guest.image.kernel, str(guest.image.manifest["kernel_version"]))
    note(f"== {time.strftime('%F %T')} booting xen {guest.xen} + dom0 {guest.image.kernel} (tcg cpu {args.cpu})")
    ok = False
    try:
        try:
            guest.boot()
        except BaseException as exc:
            note(f"boot failed after {time.monotonic() - started:.0f}s: {exc}")
            note(guest.diagnostics(120))
            return 1
        note(f"dom0 ready after {time.monotonic() - started:.0f}s (accel {guest.accel})")
        version = "4.17"
        for name, script, argv, remark in STEPS:
            t0 = time.monotonic()
            res = guest.sh(script, timeout=600)
            note(f"-- {name}: exit {res.returncode} in {time.monotonic() - t0:.1f}s\n$ {script}\n{res.out}{res.err}")
            if name == "info":
                version = xen_version(res.stdout, version)
            if argv is not None:
                save(args.out, name, version, argv, res, remark)
            ok = ok or (name == "info" and res.returncode == 0)
    finally:
        guest.close()
        log.close()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
