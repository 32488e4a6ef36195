"""Benchmark of the ssh transport (not a timed test): one read-only job on 1, 5 and 20 loopback "hosts".

Starts a throwaway sshd with 20 listeners (tests/sshd_testbed.py), then measures in the same run:
  * fan-out wall time of the job (``uname -a`` 5x, then ``lsblk -J -b``) on 1, 5 and 20 hosts, cold (fresh runners,
    so each host pays its handshake), with the default pool (8) and with one worker per host; ratio 20:1;
  * per-command cost local vs over ssh with the master connection up (median of N), and the cold first command;
each twice: with the remote account's shell rc files (as configured) and rc-free (see VARIANTS).
Usage: ``python3 bench_ssh.py [OUT.json] [--repeat N]``. Needs root and openssh-server.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _testbed() -> Any:
    spec = importlib.util.spec_from_file_location("pybofh_ssh_bench_testbed", HERE / "tests" / "sshd_testbed.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: The remote login shell as the account has it (root's ~/.bashrc runs for every command: bash sources it when
#: started by sshd), and without rc files: SHLVL=1 sent with SetEnv (accepted by the test sshd) makes bash skip it.
VARIANTS: dict[str, list[str]] = {"login-rc": [], "rc-free": ["SetEnv=SHLVL=1"]}


def job(host: str) -> int:
    """The read-only job: five small commands and one lsblk, all through the current (ssh) runner."""
    from pybofh_core.runner import run

    for _ in range(5):
        run(["uname", "-a"], readonly=True)
    return len(run(["lsblk", "-J", "-b"], readonly=True).stdout)


def per_command(runner: Any, n: int) -> list[float]:
    """Seconds of each of ``n`` runs of ``uname -a`` through ``runner``."""
    times = []
    for _ in range(n):
        started = time.perf_counter()
        runner.run(["uname", "-a"], readonly=True)
        times.append(time.perf_counter() - started)
    return times


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a table, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="bench-ssh.json", help="where to write the JSON results")
    parser.add_argument("--repeat", type=int, default=3, help="fan-out runs per size (the minimum is reported)")
    parser.add_argument("--commands", type=int, default=30, help="commands for the per-command overhead")
    args = parser.parse_args(argv)

    from pybofh_core.runner import LocalRunner
    from pybofh_ssh.fanout import fan_out
    from pybofh_ssh.runner import SshRunner

    testbed = _testbed()
    reason = testbed.unavailable()
    if reason:
        print(f"bench_ssh: skipped: {reason}", file=sys.stderr)
        return 0
    bed = testbed.SshdTestbed(20, log_level="ERROR").start()
    results: dict[str, Any] = {"machine": platform.node(), "python": platform.python_version(), "variants": {}}
    try:
        # warm-up: accept every host key once, so known_hosts writes do not skew the first size measured
        fan_out(bed.hosts, lambda h: None, runner_options=bed.options(), max_workers=20)
        local = per_command(LocalRunner(), args.commands)
        for variant, extra in VARIANTS.items():
            opts = {**bed.options(), "options": extra}
            out: dict[str, Any] = {"fan_out": {}}
            for pool_name, workers in (("pool8", None), ("pool=N", "N")):
                sizes = {}
                for n in (1, 5, 20):
                    walls = []
                    for _ in range(args.repeat):
                        started = time.perf_counter()
                        res = fan_out(bed.hosts[:n], job, runner_options=opts,
                                      max_workers=n if workers == "N" else None)
                        walls.append(time.perf_counter() - started)
                        bad = [r for r in res if not r.ok]
                        if bad:
                            raise SystemExit(f"bench_ssh: job failed on {bad[0].host}: {bad[0].error}")
                    sizes[n] = min(walls)
                out["fan_out"][pool_name] = {
                    "wall_s": {str(k): round(v, 4) for k, v in sizes.items()},
                    "ratio_20_to_1": round(sizes[20] / sizes[1], 2),
                }
            runner = SshRunner("h1", **opts)
            try:
                cold = per_command(runner, 1)[0]
                warm = per_command(runner, args.commands)
            finally:
                runner.close()
            out["per_command"] = {
                "n": args.commands,
                "local_median_ms": round(statistics.median(local) * 1000, 2),
                "ssh_warm_median_ms": round(statistics.median(warm) * 1000, 2),
                "ssh_cold_first_ms": round(cold * 1000, 2),
                "ssh_overhead_ms": round((statistics.median(warm) - statistics.median(local)) * 1000, 2),
            }
            results["variants"][variant] = out
    finally:
        bed.stop()

    print(f"fan-out of one read-only job (uname -a x5 + lsblk -J -b), cold runners, min of {args.repeat}")
    print(f"{'remote shell':14} {'pool':7} {'1 host':>9} {'5 hosts':>9} {'20 hosts':>9} {'20:1':>6}")
    for variant, out in results["variants"].items():
        for pool_name, row in out["fan_out"].items():
            w = row["wall_s"]
            print(f"{variant:14} {pool_name:7} {w['1']:>8.3f}s {w['5']:>8.3f}s {w['20']:>8.3f}s "
                  f"{row['ratio_20_to_1']:>6}")
    for variant, out in results["variants"].items():
        pc = out["per_command"]
        print(f"{variant}: per command (uname -a, median of {pc['n']}): local {pc['local_median_ms']} ms, "
              f"ssh with master up {pc['ssh_warm_median_ms']} ms, overhead {pc['ssh_overhead_ms']} ms; "
              f"first ssh command (handshake) {pc['ssh_cold_first_ms']} ms")
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
