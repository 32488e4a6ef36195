"""Build, once, and cache the VM test bed's guest: Debian 12's kernel plus an initramfs holding a minimal root.

Everything comes from Debian's packages (debootstrap, apt-get download) and PyPI (pip, at the versions of the
repository's constraints.txt), so a fresh machine gets the same guest. The result lives in
``${PYBOFH_VM_CACHE:-/var/cache/pybofh-vm}/images/<key>``, where ``<key>`` hashes the recipe (this file, the
package lists, init.sh, the pinned pip requirements and constraints): a rebuild happens only when the recipe
changes. Run ``python3 tests/vm/build.py`` to build ahead of time.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: exact versions of everything pip takes from PyPI, for the host's venvs and the guest alike (``nox -s lock``).
CONSTRAINTS = HERE.parents[1] / "constraints.txt"
RECIPE_VERSION = 3
SUITE = "bookworm"
KERNEL_META_PACKAGE = "linux-image-amd64"
GUEST_PYTHON = "3.11"
GUEST_SITE = f"usr/local/lib/python{GUEST_PYTHON}/dist-packages"
RECIPE_FILES = ("build.py", "init.sh", "guest-packages.txt", "guest-requirements.txt")

#: host command -> Debian package that provides it (installed on demand by ensure_host_tools).
HOST_TOOLS = {
    "qemu-system-x86_64": "qemu-system-x86",
    "debootstrap": "debootstrap",
    "cpio": "cpio",
    "depmod": "kmod",
    "dpkg-deb": "dpkg",
}

#: kernel module folders copied whole into the guest (their dependencies are added automatically).
MODULE_DIRS = (
    "kernel/drivers/md",
    "kernel/drivers/block/drbd",
    "kernel/drivers/virtio",
    "kernel/crypto",
    "kernel/arch/x86/crypto",
    "kernel/fs/btrfs",
    "kernel/fs/xfs",
    "kernel/fs/ext4",
    "kernel/fs/9p",
    "kernel/fs/overlayfs",
    "kernel/fs/squashfs",
    "kernel/fs/fat",
    "kernel/net/9p",
)
#: single kernel modules copied into the guest, by name.
MODULE_NAMES = (
    "loop",
    "brd",
    "nbd",
    "virtio_blk",
    "virtio_net",
    "virtio_console",
    "virtio_rng",
    "vmw_vsock_virtio_transport",
    "scsi_debug",
)

#: lvm.conf settings for a guest without udev, so that lvcreate & co. never wait for udev events.
LVM_SETTINGS = {
    "devices": ("obtain_device_list_from_udev = 0", 'external_device_info_source = "none"'),
    "activation": ("udev_sync = 0", "udev_rules = 0", "monitoring = 0"),
}

#: folders of the debootstrapped root that the guest never needs.
PRUNE = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/lintian",
    "var/cache/apt",
    "var/lib/apt/lists",
    "var/cache/debconf",
    "var/log",
)


class BuildError(RuntimeError):
    """The guest image could not be built; the message says which step failed and why."""


@dataclass(frozen=True)
class Image:
    """A built guest: the kernel and initramfs qemu boots, and the manifest describing them."""

    path: Path
    kernel: Path
    initrd: Path
    manifest: dict[str, object]


def cache_dir() -> Path:
    """Return the cache folder (``$PYBOFH_VM_CACHE`` or /var/cache/pybofh-vm)."""
    return Path(os.environ.get("PYBOFH_VM_CACHE") or "/var/cache/pybofh-vm")


def mirror() -> str:
    """Return the Debian mirror debootstrap uses (``$PYBOFH_VM_MIRROR`` or deb.debian.org)."""
    return os.environ.get("PYBOFH_VM_MIRROR") or "http://deb.debian.org/debian"


def _log(msg: str) -> None:
    """Print one progress line to stderr (builds take a minute or two: say what is going on)."""
    print(f"pybofh-vm build: {msg}", file=sys.stderr, flush=True)


def _run(argv: Sequence[str | os.PathLike[str]], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run one build command (argv list, no shell); raise BuildError with its output if it fails."""
    proc = subprocess.run(
        [str(a) for a in argv],
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-40:])
        raise BuildError(f"command failed ({proc.returncode}): {' '.join(map(str, argv))}\n{tail}")
    return proc


def _read_list(name: str) -> list[str]:
    """Read one of the recipe's list files: one entry a line, '#' comments and blank lines ignored."""
    lines = (line.split("#", 1)[0].strip() for line in (HERE / name).read_text().splitlines())
    return [line for line in lines if line]


def _canonical(name: str) -> str:
    """Return a distribution name as pip compares it (PEP 503: lower case, runs of ``-_.`` as one ``-``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_constraints(path: Path | None = None) -> dict[str, str]:
    """Return the pins of constraints.txt (or ``path``) as {canonical name: version}."""
    path = path or CONSTRAINTS
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9_.-]*)==([^\s=;]+)", line)
        if not match:
            raise BuildError(f"{path}: not an exact pin (name==version): {line!r}")
        pins[_canonical(match.group(1))] = match.group(2)
    return pins


def guest_requirements(constraints: Path | None = None) -> list[str]:
    """Return the guest's pip requirements, each bare name pinned to its version in constraints.txt.

    A name constraints.txt does not pin is an error: the guest gets nothing that CI did not resolve and test.
    """
    pins = read_constraints(constraints)
    out = []
    for req in _read_list("guest-requirements.txt"):
        if re.fullmatch(r"[A-Za-z0-9_.-]+", req):
            if _canonical(req) not in pins:
                raise BuildError(
                    f"{req} (tests/vm/guest-requirements.txt) has no pin in {constraints or CONSTRAINTS}: "
                    "add what installs it to the lock (noxfile.py, session lock) and run nox -s lock"
                )
            req = f"{req}=={pins[_canonical(req)]}"
        out.append(req)
    return out


def recipe() -> dict[str, object]:
    """Return every input of the build; the cache key is a hash of it."""
    return {
        "recipe_version": RECIPE_VERSION,
        "suite": SUITE,
        "kernel": KERNEL_META_PACKAGE,
        "packages": _read_list("guest-packages.txt"),
        "requirements": guest_requirements(),
        # the transitive dependencies the guest's pip resolves are pinned by constraints.txt too
        "constraints": [f"{name}=={version}" for name, version in sorted(read_constraints().items())],
        "files": {n: hashlib.sha256((HERE / n).read_bytes()).hexdigest() for n in RECIPE_FILES},
    }


def cache_key() -> str:
    """Return the short hash naming the image this recipe builds."""
    blob = json.dumps(recipe(), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def missing_host_tools() -> list[str]:
    """Return the Debian packages providing host tools the build or the runner needs that are not installed."""
    return sorted({pkg for cmd, pkg in HOST_TOOLS.items() if shutil.which(cmd) is None})


def apt_get(args: Sequence[str]) -> None:
    """Run apt-get (non-interactive); if it fails, run 'apt-get update' once and try again."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    argv = ["apt-get", "-q", "-o", "APT::Sandbox::User=root", *args]
    for attempt in (1, 2):
        try:
            _run(argv, env=env)
            return
        except BuildError:
            if attempt == 2:
                raise
            _log("apt-get failed; running apt-get update and retrying")
            _run(["apt-get", "-q", "update"], env=env)


def ensure_host_tools() -> None:
    """Install (idempotently, with apt-get) the host tools the build and qemu need."""
    missing = missing_host_tools()
    if not missing:
        return
    if os.geteuid() != 0:
        raise BuildError(f"missing host packages {missing}; install them: apt-get install {' '.join(missing)}")
    _log(f"installing host packages: {' '.join(missing)}")
    apt_get(["install", "-y", "--no-install-recommends", *missing])


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``path`` so that concurrent builders do not build the same image twice."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _load(path: Path) -> Image:
    """Return the Image stored in folder ``path``."""
    manifest = json.loads((path / "manifest.json").read_text())
    return Image(path, path / "vmlinuz", path / "initrd.img", manifest)


def find_image() -> Image | None:
    """Return the cached image for the current recipe, or None if it was not built yet."""
    path = cache_dir() / "images" / cache_key()
    return _load(path) if (path / "manifest.json").is_file() else None


def ensure_image(*, force: bool = False) -> Image:
    """Return the cached image for the current recipe, building it first if needed (takes a minute or two)."""
    key = cache_key()
    images = cache_dir() / "images"
    final = images / key
    if not force and (final / "manifest.json").is_file():
        return _load(final)
    ensure_host_tools()
    with _locked(cache_dir() / "build.lock"):
        if not force and (final / "manifest.json").is_file():
            return _load(final)  # another process built it while we waited
        for stale in images.glob("*.tmp"):
            shutil.rmtree(stale, ignore_errors=True)
        work = images / f"{key}.tmp"
        work.mkdir(parents=True)
        try:
            _build(work, key)
            if final.exists():
                shutil.rmtree(final)
            work.rename(final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        _prune(images, keep=final)
    return _load(final)


def _prune(images: Path, keep: Path) -> None:
    """Delete images of older recipes, keeping ``keep`` and the most recent other one."""
    others = sorted((p for p in images.iterdir() if p.is_dir() and p != keep), key=lambda p: p.stat().st_mtime)
    for old in others[:-1]:
        shutil.rmtree(old, ignore_errors=True)


def _build(work: Path, key: str) -> None:
    """Build the image into ``work``: kernel, root tree, initramfs and manifest."""
    t0 = time.monotonic()
    root = work / "root"
    debs = cache_dir() / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    packages = _read_list("guest-packages.txt")
    _log(f"debootstrap {SUITE} ({len(packages)} extra packages) from {mirror()}")
    _run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(packages)}",
            f"--cache-dir={debs}",
            SUITE,
            root,
            mirror(),
        ]
    )
    t_boot = time.monotonic()
    kversion = _install_kernel(work, root)
    t_kernel = time.monotonic()
    requirements = guest_requirements()
    _log(f"pip install into the guest: {' '.join(requirements)}")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--target",
            root / GUEST_SITE,
            "--only-binary=:all:",
            "--platform",
            "manylinux2014_x86_64",
            "--python-version",
            GUEST_PYTHON,
            "--implementation",
            "cp",
            "--abi",
            f"cp{GUEST_PYTHON.replace('.', '')}",
            "--constraint",
            CONSTRAINTS,
            *requirements,
        ]
    )
    t_pip = time.monotonic()
    pip_packages = _installed_distributions(root / GUEST_SITE)
    _configure_root(root)
    _log("byte-compiling the guest's Python")
    _run(
        [
            "chroot",
            root,
            "python3",
            "-m",
            "compileall",
            "-q",
            "--invalidation-mode",
            "unchecked-hash",
            f"/usr/lib/python{GUEST_PYTHON}",
            f"/{GUEST_SITE}",
            "/usr/lib/python3/dist-packages",
        ]
    )
    t_compile = time.monotonic()
    versions = _run(["chroot", root, "dpkg-query", "-W", "-f", "${Package} ${Version}\n"]).stdout.split("\n")
    for rel in PRUNE:
        shutil.rmtree(root / rel, ignore_errors=True)
        (root / rel).mkdir(parents=True, exist_ok=True)
    _log("packing the initramfs")
    _pack_cpio(root, work / "initrd.img")
    t_cpio = time.monotonic()
    shutil.rmtree(root)
    manifest = {
        "key": key,
        "recipe": recipe(),
        "kernel_version": kversion,
        "debian_packages": [v for v in versions if v],
        "pip_packages": pip_packages,
        "initrd_bytes": (work / "initrd.img").stat().st_size,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": {
            "debootstrap": round(t_boot - t0, 1),
            "kernel": round(t_kernel - t_boot, 1),
            "pip": round(t_pip - t_kernel, 1),
            "configure_and_compile": round(t_compile - t_pip, 1),
            "cpio": round(t_cpio - t_compile, 1),
            "total": round(time.monotonic() - t0, 1),
        },
    }
    (work / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    _log(f"built image {key} in {manifest['seconds']['total']} s")  # type: ignore[index]


def _installed_distributions(site: Path) -> list[str]:
    """Return ``name==version`` of every distribution pip installed into ``site`` (from the *.dist-info folders)."""
    dists = importlib.metadata.distributions(path=[str(site)])
    return sorted(f"{_canonical(d.metadata['Name'])}=={d.version}" for d in dists)


def _install_kernel(work: Path, root: Path) -> str:
    """Download Debian's current 6.1 kernel package, copy vmlinuz out and the needed modules into the root."""
    kdir = work / "kernel"
    kdir.mkdir()
    _apt_download(KERNEL_META_PACKAGE, kdir)
    meta = next(kdir.glob("*.deb"))
    depends = _run(["dpkg-deb", "-f", meta, "Depends"]).stdout
    match = re.search(r"(linux-image-[0-9][^\s,(]*)", depends)
    if not match:
        raise BuildError(f"cannot find the kernel image package in {KERNEL_META_PACKAGE}'s Depends: {depends!r}")
    _log(f"downloading {match.group(1)}")
    _apt_download(match.group(1), kdir)
    image_deb = next(p for p in kdir.glob("linux-image-[0-9]*.deb"))
    tree = kdir / "tree"
    _run(["dpkg-deb", "-x", image_deb, tree])
    (vmlinuz,) = (tree / "boot").glob("vmlinuz-*")
    kversion = vmlinuz.name.removeprefix("vmlinuz-")
    shutil.copy2(vmlinuz, work / "vmlinuz")
    src = tree / "lib/modules" / kversion
    _run(["depmod", "-b", tree, kversion])
    wanted = _module_closure(src)
    dst = root / "usr/lib/modules" / kversion
    for rel in sorted(wanted):
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, dst / rel)
    for name in ("modules.builtin", "modules.builtin.modinfo", "modules.order"):
        shutil.copy2(src / name, dst / name)
    _run(["depmod", "-b", root, kversion])
    shutil.rmtree(kdir)
    _log(f"kernel {kversion}: {len(wanted)} modules")
    return kversion


def _apt_download(package: str, into: Path) -> None:
    """Download one .deb (no install) into ``into`` with apt-get, updating the package lists if needed."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    argv = ["apt-get", "-q", "-o", "APT::Sandbox::User=root", "download", package]
    try:
        _run(argv, cwd=into, env=env)
    except BuildError:
        _run(["apt-get", "-q", "update"], env=env)
        _run(argv, cwd=into, env=env)


def _module_closure(moddir: Path) -> set[str]:
    """Return the relative paths of the modules the guest gets: MODULE_DIRS, MODULE_NAMES and all they need."""
    deps: dict[str, list[str]] = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        deps[path] = rest.split()
    by_name = {Path(p).name.split(".ko")[0].replace("-", "_"): p for p in deps}
    todo = [p for p in deps if any(p.startswith(d + "/") for d in MODULE_DIRS)]
    for name in MODULE_NAMES:
        if name not in by_name:
            raise BuildError(f"kernel module {name} not found in {moddir}")
        todo.append(by_name[name])
    seen: set[str] = set()
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo.extend(deps[path])
    return seen


def _configure_root(root: Path) -> None:
    """Make the debootstrapped tree a bootable, udev-less test guest: init, lvm.conf, hostname, fstab."""
    shutil.copy2(HERE / "init.sh", root / "init")
    (root / "init").chmod(0o755)
    console = root / "dev/console"
    if not console.exists():
        os.mknod(console, 0o600 | stat.S_IFCHR, os.makedev(5, 1))
    lvm_conf = root / "etc/lvm/lvm.conf"
    text = lvm_conf.read_text()
    for section, settings in LVM_SETTINGS.items():
        lines = "".join(f"\t{s}\n" for s in settings)
        text, n = re.subn(rf"^{section} {{\n", lambda m, lines=lines: m.group(0) + lines, text, count=1, flags=re.M)
        if n != 1:
            raise BuildError(f"section {section!r} not found in {lvm_conf}")
    lvm_conf.write_text(text)
    (root / "etc/hostname").write_text("pybofh-vm\n")
    (root / "etc/fstab").write_text("# the guest's init mounts everything it needs\n")
    (root / "etc/hosts").write_text("127.0.0.1 localhost\n::1 localhost\n")


def _pack_cpio(root: Path, out: Path) -> None:
    """Pack ``root`` into an uncompressed newc cpio (the kernel unpacks it faster than a compressed one)."""
    names = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        for name in [*dirnames, *sorted(filenames)]:
            names.append(os.path.normpath(os.path.join(rel, name)))
    listing = "\0".join(names).encode() + b"\0"
    with open(out, "wb") as fh:
        proc = subprocess.run(
            ["cpio", "--null", "--create", "--format=newc", "--owner=0:0", "--reproducible", "--quiet"],
            input=listing,
            stdout=fh,
            stderr=subprocess.PIPE,
            cwd=root,
            check=False,
        )
    if proc.returncode != 0:
        raise BuildError(f"cpio failed: {proc.stderr.decode(errors='replace')}")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: build the guest image if needed and print where it is."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even if the cached image is current")
    parser.add_argument("--print-key", action="store_true", help="print the recipe's cache key and exit")
    args = parser.parse_args(argv)
    if args.print_key:
        print(cache_key())
        return 0
    try:
        image = ensure_image(force=args.force)
    except BuildError as exc:
        print(f"pybofh-vm build failed: {exc}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "path": str(image.path),
                "key": image.manifest["key"],
                "kernel": image.manifest["kernel_version"],
                "seconds": image.manifest["seconds"],
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
