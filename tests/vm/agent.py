"""Guest side of the VM test bed: sets the guest up, then runs the commands the host sends, streaming output back.

Started by the guest's /init (under tini) with Debian's python3; standard library only. It talks to the host over
the virtio-serial port named ``pybofh.agent``, one JSON object per line each way:

host -> guest  {"op": "run", "id": 1, "argv": [...], "env": {...}, "cwd": "/", "stdin": "<base64>" | null}
               {"op": "signal", "id": 1, "signal": 9}     signal the command's process group
               {"op": "poweroff"}                          sync and power off at once
guest -> host  {"op": "ready", "info": {...}, "errors": [...]}
               {"op": "out", "id": 1, "fd": 1 | 2, "data": "<base64>"}
               {"op": "exit", "id": 1, "code": 0}         negative: killed by that signal
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

CTL = Path("/run/pybofh")
PORT_NAME = "pybofh.agent"
LINUX_REBOOT_CMD_POWER_OFF = 0x4321FEDC
BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LC_ALL": "C.UTF-8",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
    "PYBOFH_IN_VM": "1",
    "DM_DISABLE_UDEV": "1",  # no udev here: libdevmapper (dmsetup, lvm, cryptsetup) must create /dev/mapper nodes
}


def log(msg: str) -> None:
    """Write one line to the guest console (the host keeps it in console.log)."""
    print(f"pybofh-agent: {msg}", flush=True)


def run_quiet(argv: list[str]) -> str | None:
    """Run one setup command; return None on success or an error text naming the command."""
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return f"{' '.join(argv)} -> {proc.returncode}: {proc.stderr.strip() or proc.stdout.strip()}"
    return None


def find_port() -> Path:
    """Return the device node of the virtio-serial port named PORT_NAME (no udev here: look in sysfs)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for entry in sorted(Path("/sys/class/virtio-ports").glob("vport*")):
            if (entry / "name").read_text().strip() == PORT_NAME:
                return Path("/dev") / entry.name
        time.sleep(0.05)
    raise RuntimeError(f"virtio-serial port {PORT_NAME} not found")


def mount_share(share: dict[str, Any], errors: list[str]) -> None:
    """Mount one virtio-9p share; with "overlay", put a tmpfs upper layer on it so the guest may write."""
    tag, path = share["tag"], share["path"]
    opts = f"trans=virtio,version=9p2000.L,msize=262144,cache={share.get('cache', 'none')}"
    if share.get("readonly"):
        opts += ",ro"
    if not share.get("overlay"):
        os.makedirs(path, exist_ok=True)
        err = run_quiet(["mount", "-t", "9p", "-o", opts, tag, path])
        if err:
            errors.append(err)
        return
    base = Path("/run/pybofh-overlay") / tag
    lower, upper, work = base / "lower", base / "upper", base / "work"
    base.mkdir(parents=True, exist_ok=True)
    lower.mkdir(exist_ok=True)
    err = run_quiet(["mount", "-t", "9p", "-o", opts, tag, str(lower)])
    if err:
        errors.append(err)
        return
    upper.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    os.makedirs(path, exist_ok=True)
    err = run_quiet(
        ["mount", "-t", "overlay", "overlay", "-o", f"lowerdir={lower},upperdir={upper},workdir={work}", path]
    )
    if err:
        log(f"overlay failed, sharing read-only: {err}")
        err = run_quiet(["mount", "--bind", str(lower), path])
        if err:
            errors.append(err)


def configure_network(nics: list[dict[str, Any]], errors: list[str]) -> None:
    """Bring up lo and give each virtio NIC (found by its MAC) its static address."""
    run_quiet(["ip", "link", "set", "lo", "up"])
    by_mac = {}
    for dev in Path("/sys/class/net").iterdir():
        with_addr = dev / "address"
        if with_addr.exists():
            by_mac[with_addr.read_text().strip().lower()] = dev.name
    for nic in nics:
        name = by_mac.get(nic["mac"].lower())
        if name is None:
            errors.append(f"no network interface with MAC {nic['mac']}")
            continue
        for argv in (["ip", "addr", "add", nic["address"], "dev", name], ["ip", "link", "set", name, "up"]):
            err = run_quiet(argv)
            if err:
                errors.append(err)


def setup(config: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Apply the host's per-run config.json: hostname, modules, shares, network; return info and errors."""
    errors: list[str] = []
    Path("/proc/sys/kernel/hostname").write_text(config.get("hostname", "pybofh-vm"))
    if config.get("modules"):
        err = run_quiet(["modprobe", "-a", *config["modules"]])
        if err:
            errors.append(err)
    for share in config.get("shares", []):
        mount_share(share, errors)
    configure_network(config.get("nics", []), errors)
    if config.get("udev"):
        info_udev = start_udev(errors)
    else:
        info_udev = None
    hosts = "".join(f"{addr} {name}\n" for name, addr in config.get("hosts", {}).items())
    if hosts:
        with open("/etc/hosts", "a") as fh:
            fh.write(hosts)
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    info = {"uptime": uptime, "kernel": os.uname().release, "hostname": os.uname().nodename, "udev": info_udev}
    return info, errors


#: lvm.conf settings the image writes for a guest without udev, and what they become when udev runs.
LVM_UDEV_SETTINGS = {
    "obtain_device_list_from_udev = 0": "obtain_device_list_from_udev = 1",
    'external_device_info_source = "none"': 'external_device_info_source = "udev"',
    "udev_sync = 0": "udev_sync = 1",
    "udev_rules = 0": "udev_rules = 1",
}
UDEVD = "/lib/systemd/systemd-udevd"


def start_udev(errors: list[str]) -> str | None:
    """Run udevd as a production host does: lvm.conf syncs with udev, existing devices are announced, queue settled.

    Returns udevd's version, or None (with the reason in ``errors``) when udev could not be started.
    """
    lvm_conf = Path("/etc/lvm/lvm.conf")
    text = lvm_conf.read_text()
    for old, new in LVM_UDEV_SETTINGS.items():
        if old not in text:
            errors.append(f"lvm.conf lacks {old!r}: cannot switch it to udev")
            return None
        text = text.replace(old, new)
    lvm_conf.write_text(text)
    for argv in (
        [UDEVD, "--daemon"],
        ["udevadm", "trigger", "--type=subsystems", "--action=add"],
        ["udevadm", "trigger", "--type=devices", "--action=add"],
        ["udevadm", "settle", "--timeout=60"],
    ):
        err = run_quiet(argv)
        if err:
            errors.append(err)
            return None
    proc = subprocess.run(["udevadm", "--version"], capture_output=True, text=True, check=False)
    return proc.stdout.strip() or "unknown"


class Agent:
    """Serves the host's requests on the virtio-serial port; each command runs in its own threads."""

    def __init__(self, fd: int, env: dict[str, str]) -> None:
        """Use the open port ``fd``; ``env`` is the base environment of every command."""
        self.fd = fd
        self.env = env
        self.lock = threading.Lock()
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    def send(self, msg: dict[str, Any]) -> None:
        """Write one message line to the host (whole, even if the port takes it in pieces)."""
        data = memoryview((json.dumps(msg, separators=(",", ":")) + "\n").encode())
        with self.lock:
            while data:
                try:
                    n = os.write(self.fd, data)
                except (BlockingIOError, BrokenPipeError, ConnectionError):
                    time.sleep(0.05)  # the host is not connected (yet): keep it until it is
                    continue
                data = data[n:]

    def serve(self) -> None:
        """Read requests forever and dispatch them."""
        buf = b""
        while True:
            chunk = os.read(self.fd, 65536)
            if not chunk:
                time.sleep(0.05)  # host side closed or not yet open
                continue
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    self.dispatch(json.loads(line))

    def dispatch(self, msg: dict[str, Any]) -> None:
        """Handle one request."""
        op = msg.get("op")
        if op == "run":
            threading.Thread(target=self.run, args=(msg,), daemon=True).start()
        elif op == "signal":
            proc = self.procs.get(msg["id"])
            if proc is not None:
                try:
                    os.killpg(proc.pid, int(msg.get("signal", signal.SIGKILL)))
                except ProcessLookupError:
                    pass
        elif op == "poweroff":
            poweroff()
        elif op == "ping":
            self.send({"op": "pong", "id": msg.get("id")})
        else:
            log(f"unknown request {msg!r}")

    def run(self, msg: dict[str, Any]) -> None:
        """Run one command, stream its stdout/stderr, then report its exit code."""
        rid = msg["id"]
        env = dict(self.env)
        env.update(msg.get("env") or {})
        stdin_data = base64.b64decode(msg["stdin"]) if msg.get("stdin") is not None else None
        try:
            proc = subprocess.Popen(
                msg["argv"],
                cwd=msg.get("cwd") or "/",
                env=env,
                start_new_session=True,
                stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            text = f"pybofh-agent: cannot run {msg['argv']!r}: {exc}\n".encode()
            self.send({"op": "out", "id": rid, "fd": 2, "data": base64.b64encode(text).decode()})
            self.send({"op": "exit", "id": rid, "code": 127 if isinstance(exc, FileNotFoundError) else 126})
            return
        self.procs[rid] = proc
        pumps = [
            threading.Thread(target=self.pump, args=(rid, 1, proc.stdout), daemon=True),
            threading.Thread(target=self.pump, args=(rid, 2, proc.stderr), daemon=True),
        ]
        for t in pumps:
            t.start()
        if stdin_data is not None:
            assert proc.stdin is not None
            try:
                proc.stdin.write(stdin_data)
                proc.stdin.close()
            except BrokenPipeError:
                pass
        code = proc.wait()
        for t in pumps:
            t.join(timeout=2)  # a daemon the command left behind may keep the pipes open: do not wait for it
        self.procs.pop(rid, None)
        self.send({"op": "exit", "id": rid, "code": code})

    def pump(self, rid: int, fd: int, pipe: Any) -> None:
        """Forward one output pipe of a command to the host, chunk by chunk, as it comes."""
        while True:
            chunk = os.read(pipe.fileno(), 65536)
            if not chunk:
                return
            self.send({"op": "out", "id": rid, "fd": fd, "data": base64.b64encode(chunk).decode()})


def poweroff() -> None:
    """Sync and power the guest off at once (qemu then exits)."""
    os.sync()
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.reboot(LINUX_REBOOT_CMD_POWER_OFF)


def main() -> None:
    """Set the guest up from the control share's config.json, announce readiness, serve requests."""
    config = json.loads((CTL / "config.json").read_text())
    info, errors = setup(config)
    env = dict(BASE_ENV)
    if config.get("udev"):
        del env["DM_DISABLE_UDEV"]  # udev runs: libdevmapper waits for it to make the /dev/mapper nodes, as on a host
    env.update(config.get("env", {}))
    fd = os.open(find_port(), os.O_RDWR)
    agent = Agent(fd, env)
    log(f"ready after {info['uptime']:.2f} s of uptime; errors: {errors}")
    print("PYBOFH-VM-READY", flush=True)
    agent.send({"op": "ready", "info": info, "errors": errors})
    agent.serve()


if __name__ == "__main__":
    try:
        main()
    except BaseException as exc:
        log(f"fatal: {exc!r}")
        sys.stdout.flush()
        poweroff()
