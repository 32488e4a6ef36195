"""pybofh benchmarks: every figure is a ratio against a baseline measured in the same run (never a timed assertion).

Run with ``nox -s bench`` (or ``python benchmarks/run.py --json out.json [--only NAME ...]``). Sections:
startup (``bofh --help``, ``bofh lvm --help``, ``bofh --json blockdev list`` vs the same commands of the
floor app ``floor_app.py``), listing (``bofh blockdev list --json`` vs a bare lsblk script),
listing_200 (``list_devices()`` on 200 loop devices vs the bare lsblk + blkid calls), scale (every listing parser
at 1,000 to 20,000 objects vs ``json.loads``/``splitlines`` of the same bytes, and its growth; ``scale.py``),
subprocess counts (a full listing with 1/10/50 devices and LVs), journal (1,000 journalled steps + rollback vs the
same steps unjournalled), blivet (device scan vs ``Blivet().reset()``) and ssh (a read-only job on 1, 20 and
100 loopback hosts vs the same fan-out of bare ``ssh HOST true`` calls, and the per-command cost;
``plugins/pybofh-ssh/bench_ssh.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def timeit(fn: Callable[[], Any], repeat: int = 10) -> dict[str, float]:
    """Run ``fn`` ``repeat`` times; min and median wall seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"min": min(times), "median": statistics.median(times)}


def run_quiet(argv: list[str], **kw: Any) -> None:
    """Run a command, raising if it fails (a benchmark of a failing command would be meaningless)."""
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)


@contextmanager
def loop_devices(count: int, size: int = 64 * 1024**2, fstype: str | None = "ext4") -> Iterator[list[str]]:
    """``count`` loop devices on sparse temp files, each with a filesystem; always detached afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="pybofh-bench-"))
    devs: list[str] = []
    try:
        for i in range(count):
            img = tmp / f"d{i}.img"
            with img.open("wb") as fh:
                fh.truncate(size)
            dev = subprocess.run(["losetup", "-f", "--show", str(img)], check=True, capture_output=True,
                                 text=True).stdout.strip()
            devs.append(dev)
            if fstype:
                run_quiet([f"mkfs.{fstype}", "-q", "-L", f"bench{i}", dev])
        yield devs
    finally:
        for dev in devs:
            subprocess.run(["losetup", "-d", dev], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


FLOOR_APP = [PY, str(ROOT / "benchmarks" / "floor_app.py")]
#: ``bofh`` as users start it: the installed console script (``-m pybofh_core.cli`` would import the CLI twice).
BOFH_SCRIPT = [PY, str(Path(PY).parent / "bofh")] if (Path(PY).parent / "bofh").exists() else [
    PY, "-c", "from pybofh_core.cli import main; main()"]


def interleaved(cases: dict[str, list[str]], repeat: int) -> dict[str, float]:
    """Min wall seconds of each command, runs interleaved (A B C A B C …) so load changes hit all alike."""
    best = {name: float("inf") for name in cases}
    for _ in range(repeat):
        for name, argv in cases.items():
            t0 = time.perf_counter()
            run_quiet(argv)
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def bench_startup(repeat: int = 15) -> dict[str, Any]:
    """Cold ``bofh --help``, ``bofh lvm --help`` and ``bofh --json blockdev list`` against the same commands of the
    floor app (``benchmarks/floor_app.py``: the smallest typer app making the same tool calls), side by side.

    The discovery cache is warmed first (one ``bofh plugins``), as it is after the first run on any machine.
    """
    run_quiet([*BOFH_SCRIPT, "plugins"])
    with loop_devices(10):
        t = interleaved({
            "python_pass": [PY, "-c", "pass"],
            "import_typer": [PY, "-c", "import typer"],
            "floor_help": [*FLOOR_APP, "--help"],
            "bofh_help": [*BOFH_SCRIPT, "--help"],
            "floor_lvm_help": [*FLOOR_APP, "lvm", "--help"],
            "bofh_lvm_help": [*BOFH_SCRIPT, "lvm", "--help"],
            "floor_blockdev_list": [*FLOOR_APP, "--json", "blockdev", "list"],
            "bofh_blockdev_list": [*BOFH_SCRIPT, "--json", "blockdev", "list"],
            "bofh_plugins": [*BOFH_SCRIPT, "plugins"],
        }, repeat)
    out: dict[str, Any] = {f"{k}_s": v for k, v in t.items()}
    out["ratio_help_vs_floor"] = t["bofh_help"] / t["floor_help"]
    out["ratio_lvm_help_vs_floor"] = t["bofh_lvm_help"] / t["floor_lvm_help"]
    out["ratio_blockdev_list_vs_floor"] = t["bofh_blockdev_list"] / t["floor_blockdev_list"]
    out["ratio_plugins_vs_floor_help"] = t["bofh_plugins"] / t["floor_help"]
    no_cache = {**os.environ, "PYBOFH_NO_PLUGIN_CACHE": "1"}
    cold = timeit(lambda: run_quiet([*BOFH_SCRIPT, "--help"], env=no_cache), repeat=max(3, repeat // 3))
    out["bofh_help_without_cache_s"] = cold["min"]
    return out


BARE_LSBLK = (
    "import json, subprocess\n"
    "out = subprocess.run(['lsblk', '-J', '-b', '-O'], capture_output=True, check=True).stdout\n"
    "print(len(json.loads(out)['blockdevices']))\n"
)


def bench_listing() -> dict[str, Any]:
    """``bofh blockdev list --json`` vs a bare Python script making the same lsblk call, on 10 loop devices."""
    with loop_devices(10):
        bare = timeit(lambda: run_quiet([PY, "-c", BARE_LSBLK]))
        bofh = timeit(lambda: run_quiet([*BOFH_SCRIPT, "--json", "blockdev", "list"]))
        from pybofh_blockdev import facts

        inproc = timeit(lambda: facts.list_devices(), repeat=20)
        bare_inproc = timeit(
            lambda: json.loads(subprocess.run(["lsblk", "-J", "-b", "-O"], capture_output=True).stdout), repeat=20
        )
    return {
        "bare_lsblk_script_s": bare["min"],
        "bofh_blockdev_list_json_s": bofh["min"],
        "ratio_cli": bofh["min"] / bare["min"],
        "list_devices_in_process_s": inproc["min"],
        "bare_lsblk_in_process_s": bare_inproc["min"],
        "ratio_in_process": inproc["min"] / bare_inproc["min"],
    }


class _Counting:
    """Wraps the local runner and counts the commands it executes."""

    def __init__(self) -> None:
        from pybofh_core.runner import LocalRunner

        class Counting(LocalRunner):
            calls: list[tuple[str, ...]] = []

            def _execute(self, argv, data, timeout, *, readonly, env):  # type: ignore[no-untyped-def]
                Counting.calls.append(argv)
                return super()._execute(argv, data, timeout, readonly=readonly, env=env)

        self.runner = Counting()
        self.calls = Counting.calls


def count_listing(full: Callable[[], Any]) -> tuple[int, list[str]]:
    """How many commands ``full()`` runs, and which."""
    from pybofh_core.runner import use_runner

    counting = _Counting()
    with use_runner(counting.runner):
        full()
    return len(counting.calls), sorted({c[0] for c in counting.calls})


def bench_subprocess_count() -> dict[str, Any]:
    """Commands run by a full block-device listing with 1, 10 and 50 devices (must not grow with the count)."""
    from pybofh_blockdev import facts

    out: dict[str, Any] = {}
    for n in (1, 10, 50):
        with loop_devices(n, size=8 * 1024**2, fstype=None):
            count, tools = count_listing(facts.list_devices)
        out[f"devices_{n}"] = {"commands": count, "tools": tools}
    lvm = lvm_counts_in_guest()
    if lvm:
        out.update(lvm)
    return out


def lvm_counts_in_guest() -> dict[str, Any] | None:
    """LVM listing command counts for 1/10/50 LVs, measured inside the VM test bed (host has no device-mapper)."""
    script = ROOT / "benchmarks" / "guest_lvm_count.py"
    runner = ROOT / "tests" / "vm" / "run.py"
    if not runner.exists() or os.environ.get("PYBOFH_BENCH_SKIP_VM"):
        return None
    proc = subprocess.run([PY, str(runner), "--disks", "", "--", "python3", str(script)],
                          capture_output=True, text=True, timeout=1800)
    for line in proc.stdout.splitlines():
        if line.startswith("LVMCOUNT "):
            return json.loads(line[len("LVMCOUNT "):])
    return {"lvm_error": (proc.stderr or proc.stdout)[-2000:]}


def bench_journal(steps: int = 1000) -> dict[str, Any]:
    """1,000 journalled steps + rollback, against the same steps without a journal (in-memory only)."""
    from pybofh_core import operation, undo
    from pybofh_core.atomic import Atomic
    from pybofh_core.journal import Journal
    from pybofh_core.operations import OperationRegistry

    @operation(inverse=lambda res, n: undo(unstep, n))
    def step(n: int) -> int:
        """A step with no side effect (the journal's cost is what is measured)."""
        return n

    @operation(irreversible="bench")
    def unstep(n: int) -> None:
        """Undo nothing."""

    registry = OperationRegistry()
    registry.add("bench", step)
    registry.add("bench", unstep)

    def job(journal: Any) -> None:
        try:
            with Atomic(registry=registry, journal=journal) as atomic:
                for i in range(steps):
                    atomic.bench.step(i)
                raise RuntimeError("roll back")
        except RuntimeError:
            pass

    tmp = Path(tempfile.mkdtemp(prefix="pybofh-bench-journal-"))
    try:
        memory = timeit(lambda: job(False), repeat=3)
        journalled = timeit(lambda: job(Journal(tmp)), repeat=3)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "steps": steps,
        "in_memory_s": memory["min"],
        "journalled_s": journalled["min"],
        "journalled_ms_per_step": journalled["min"] / steps * 1000,
        "ratio_journal_vs_memory": journalled["min"] / memory["min"],
    }


def bench_blivet() -> dict[str, Any]:
    """pybofh's device scan vs blivet's ``Blivet().reset()`` on the same 10 loop devices, with udev running."""
    venv = Path(os.environ.get("PYBOFH_BLIVET_VENV", "/var/cache/pybofh-bench/blivet-venv"))
    setup = ROOT / "benchmarks" / "setup_blivet.sh"
    if not (venv / "bin" / "python").exists():
        subprocess.run(["bash", str(setup), str(venv)], check=True)
    probe = (
        "import time, blivet\n"
        "b = blivet.Blivet()\n"
        "best = 1e9\n"
        "for _ in range(5):\n"
        "    t = time.perf_counter(); b.reset(); best = min(best, time.perf_counter() - t)\n"
        "print(best, len([d for d in b.devices if d.format and d.format.type]))\n"
    )
    with udev_running(), loop_devices(10) as devs:
        subprocess.run(["udevadm", "settle"], check=False)
        blv = subprocess.run([str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True, timeout=900)
        if blv.returncode != 0:
            return {"error": blv.stderr[-2000:]}
        blivet_s, blivet_fs = blv.stdout.split()
        from pybofh_blockdev import facts

        ours = timeit(lambda: facts.list_devices(), repeat=5)
        tree = facts.list_devices()
        ours_fs = sum(1 for d in tree if d.fstype and d.path in devs)
    Path("/tmp/lvm.log").unlink(missing_ok=True)
    return {
        "blivet_reset_s": float(blivet_s),
        "pybofh_list_devices_s": ours["min"],
        "ratio_blivet_vs_pybofh": float(blivet_s) / ours["min"],
        "filesystems_seen_blivet": int(blivet_fs),
        "filesystems_seen_pybofh_on_the_10_loops": ours_fs,
    }


@contextmanager
def udev_running() -> Iterator[None]:
    """Start systemd-udevd for the duration (blivet needs it), and stop it again."""
    daemon = "/lib/systemd/systemd-udevd"
    if not os.path.exists(daemon):
        subprocess.run(["apt-get", "install", "-y", "-q", "udev"], check=True, capture_output=True)
    already = subprocess.run(["pgrep", "-x", "systemd-udevd"], capture_output=True).returncode == 0
    if not already:
        subprocess.run([daemon, "--daemon"], check=True)
    try:
        subprocess.run(["udevadm", "trigger", "--action=change"], check=False)
        subprocess.run(["udevadm", "settle"], check=False)
        yield
    finally:
        if not already:
            subprocess.run(["pkill", "-x", "systemd-udevd"], check=False)


def bench_scale() -> dict[str, Any]:
    """Every listing parser at 1,000 to 20,000 objects vs json.loads or splitlines (benchmarks/scale.py)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import scale

    results = scale.bench_parsers()
    print(scale.summary(results))
    return results


def bench_listing_200(count: int = 200) -> dict[str, Any]:
    """``list_devices()`` on 200 loop devices with ext4 vs the same two commands bare (lsblk + json.loads, blkid)."""
    from pybofh_blockdev import facts
    from pybofh_core.runner import use_runner

    with loop_devices(count, size=8 * 1024**2) as devs:
        counting = _Counting()
        with use_runner(counting.runner):
            tree = facts.list_devices()
        commands = [c[0] for c in counting.calls]
        blkid_argv = next(list(a) for a in counting.calls if a[0] == "blkid")
        bare_argvs = (["lsblk", "-J", "-b", "-O"], blkid_argv)

        def bare() -> None:
            json.loads(subprocess.run(bare_argvs[0], capture_output=True, check=True).stdout)
            subprocess.run(bare_argvs[1], capture_output=True, check=False)

        ours = timeit(facts.list_devices, repeat=10)
        bare_t = timeit(bare, repeat=10)
        found = sum(1 for d in devs if tree.get(d).fstype == "ext4")
    return {
        "loop_devices": count,
        "ext4_found": found,
        "commands": commands,
        "devices_listed": len(tree),
        "bare_lsblk_blkid_s": bare_t["min"],
        "list_devices_s": ours["min"],
        "ratio": ours["min"] / bare_t["min"],
    }


def bench_ssh() -> dict[str, Any]:
    """The ssh transport: a job on 1/20/100 loopback hosts vs bare ``ssh HOST true`` fan-out (pybofh-ssh's script)."""
    script = ROOT / "plugins" / "pybofh-ssh" / "bench_ssh.py"
    if not script.exists():
        return {"error": "plugins/pybofh-ssh/bench_ssh.py not present"}
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        proc = subprocess.run([PY, str(script), out.name], capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            return {"error": proc.stderr[-2000:]}
        return json.loads(Path(out.name).read_text())


SECTIONS: dict[str, Callable[[], dict[str, Any]]] = {
    "startup": bench_startup,
    "listing": bench_listing,
    "listing_200": bench_listing_200,
    "scale": bench_scale,
    "subprocess_count": bench_subprocess_count,
    "journal": bench_journal,
    "blivet": bench_blivet,
    "ssh": bench_ssh,
}


def main() -> int:
    """Run the chosen sections, print a table, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path, help="write results here")
    parser.add_argument("--only", nargs="*", choices=sorted(SECTIONS), help="run only these sections")
    args = parser.parse_args()
    results: dict[str, Any] = {"python": sys.version.split()[0], "nproc": os.cpu_count()}
    for name in args.only or SECTIONS:
        t0 = time.perf_counter()
        try:
            results[name] = SECTIONS[name]()
        except Exception as exc:  # noqa: BLE001 - one failing section must not hide the others
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        results[name]["section_wall_s"] = round(time.perf_counter() - t0, 2)
        print(f"== {name}")
        for key, value in results[name].items():
            shown = f"{value:.4g}" if isinstance(value, float) else value
            print(f"   {key:34} {shown}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
