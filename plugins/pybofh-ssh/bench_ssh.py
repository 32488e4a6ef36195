"""Benchmark of the ssh transport (not a timed test): one read-only job on 1, 20 and 100 loopback "hosts".

Starts throwaway sshds with 100 listeners (tests/sshd_testbed.py), then measures in the same run, interleaved,
with the same pool (``ssh.max_workers``, 8) and the same account and ssh config:
  * floor: the same fan-out made of bare ``ssh HOST true`` calls (one new connection and login per host, what a
    shell loop over the fleet costs);
  * pybofh: ``fan_out(hosts, job)`` where the job runs ``uname -a`` 5x then ``lsblk -J -b`` through the runner, cold
    (fresh runners: each host pays its handshake), with the resident shell (default) and without it;
  * the CLI: ``bofh --json --host h1 … ssh ping`` as a new process (start-up included) vs the bare calls;
  * per-command cost on an open connection, local vs resident shell vs one ssh session per command.
Each with the remote account's shell rc files (as configured: root's ``.bashrc``) and rc-free (see VARIANTS).
Usage: ``python3 bench_ssh.py [OUT.json] [--repeat N] [--hosts 1,20,100]``. Needs root and openssh-server.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
POOL = 8


def _testbed() -> Any:
    spec = importlib.util.spec_from_file_location("pybofh_ssh_bench_testbed", HERE / "tests" / "sshd_testbed.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: The remote login shell as the account has it (root's ~/.bashrc runs for every login: bash sources it when
#: started by sshd), and without rc files: SHLVL=1 sent with SetEnv (accepted by the test sshd) makes bash skip it.
VARIANTS: dict[str, list[str]] = {"login-rc": [], "rc-free": ["SetEnv=SHLVL=1"]}


def job(host: str) -> int:
    """The read-only job: five small commands and one lsblk, all through the current (ssh) runner."""
    from pybofh_core.runner import run

    for _ in range(5):
        run(["uname", "-a"], readonly=True)
    return len(run(["lsblk", "-J", "-b"], readonly=True).stdout)


def bare_fan_out(hosts: list[str], ssh_config: str, extra: list[str]) -> None:
    """The floor: ``ssh HOST true`` for every host, ``POOL`` at a time, same account and config; no pybofh."""
    opts = [o for x in extra for o in ("-o", x)]

    def one(host: str) -> None:
        subprocess.run(
            ["ssh", "-F", ssh_config, "-o", "BatchMode=yes", *opts, "-T", host, "true"],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    with ThreadPoolExecutor(max_workers=POOL) as pool:
        list(pool.map(one, hosts))


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
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (the minimum is reported)")
    parser.add_argument("--commands", type=int, default=30, help="commands for the per-command overhead")
    parser.add_argument("--hosts", default="1,20,100", help="fleet sizes, comma-separated")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.hosts.split(",")]

    from pybofh_core.runner import LocalRunner
    from pybofh_ssh.fanout import fan_out
    from pybofh_ssh.runner import SshRunner

    testbed = _testbed()
    reason = testbed.unavailable()
    if reason:
        print(f"bench_ssh: skipped: {reason}", file=sys.stderr)
        return 0
    bed = testbed.SshdTestbed(max(sizes), log_level="ERROR").start()
    cfg = str(bed.ssh_config)
    results: dict[str, Any] = {
        "machine": platform.node(),
        "python": platform.python_version(),
        "pool": POOL,
        "nproc": os.cpu_count(),
        "variants": {},
    }
    bofh = [sys.executable, "-c", "from pybofh_core.cli import main; main()"]
    try:
        # warm-up: accept every host key once, so known_hosts writes do not skew the first size measured
        fan_out(bed.hosts, lambda h: None, runner_options=bed.options(), max_workers=20)
        bare_fan_out(bed.hosts, cfg, [])
        local = per_command(LocalRunner(), args.commands)
        for variant, extra in VARIANTS.items():
            opts = {**bed.options(), "options": extra}

            def pybofh(hosts: list[str], resident: bool, opts: dict[str, Any] = opts) -> None:
                res = fan_out(hosts, job, runner_options={**opts, "resident_shell": resident}, max_workers=POOL)
                bad = [r for r in res if not r.ok]
                if bad:
                    raise SystemExit(f"bench_ssh: job failed on {bad[0].host}: {bad[0].error}")

            def cli(hosts: list[str], extra: list[str] = extra) -> None:
                host_args = [a for h in hosts for a in ("--host", h)]
                env = {**os.environ, "PYBOFH_SSH__SSH_CONFIG": cfg, "PYBOFH_SSH__OPTIONS": json.dumps(extra)}
                proc = subprocess.run([*bofh, "--json", *host_args, "ssh", "ping"], capture_output=True, env=env)
                if proc.returncode != 0:
                    raise SystemExit(f"bench_ssh: bofh fan-out failed: {proc.stderr.decode()[-500:]}")

            out: dict[str, Any] = {}
            for n in sizes:
                hosts = bed.hosts[:n]
                cases = {
                    "bare_ssh_true": lambda hosts=hosts, extra=extra: bare_fan_out(hosts, cfg, extra),
                    "pybofh_resident": lambda hosts=hosts: pybofh(hosts, True),
                    "pybofh_one_ssh_per_command": lambda hosts=hosts: pybofh(hosts, False),
                    "bofh_cli_ssh_ping": lambda hosts=hosts: cli(hosts),
                }
                best = {k: float("inf") for k in cases}
                for _ in range(args.repeat):
                    for name, fn in cases.items():
                        started = time.perf_counter()
                        fn()
                        best[name] = min(best[name], time.perf_counter() - started)
                row: dict[str, Any] = {k: round(v, 4) for k, v in best.items()}
                for k in ("pybofh_resident", "pybofh_one_ssh_per_command", "bofh_cli_ssh_ping"):
                    row[f"ratio_{k}_vs_bare"] = round(best[k] / best["bare_ssh_true"], 2)
                out[str(n)] = row
            if 1 in sizes:
                for n in sizes:
                    if n != 1:
                        out[f"growth_{n}_to_1"] = {
                            k: round(out[str(n)][k] / out["1"][k], 2)
                            for k in ("bare_ssh_true", "pybofh_resident", "pybofh_one_ssh_per_command")
                        }
            timings: dict[str, list[float]] = {}
            for mode in (True, False):
                runner = SshRunner("h1", **{**opts, "resident_shell": mode})
                try:
                    per_command(runner, 1)
                    timings["resident" if mode else "one_ssh_per_command"] = per_command(runner, args.commands)
                finally:
                    runner.close()
            out["per_command_ms"] = {
                "n": args.commands,
                "local_median": round(statistics.median(local) * 1000, 2),
                **{k: round(statistics.median(v) * 1000, 2) for k, v in timings.items()},
            }
            results["variants"][variant] = out
    finally:
        bed.stop()

    print(f"fan-out of one read-only job (uname -a x5 + lsblk -J -b), pool {POOL}, cold, min of {args.repeat};")
    print("floor: bare `ssh HOST true` per host with the same pool and account")
    for variant, out in results["variants"].items():
        print(f"-- remote shell: {variant}")
        print(
            f"{'hosts':>6} {'bare ssh':>9} {'resident':>9} {'ratio':>6} {'1-shot':>9} {'ratio':>6} {'bofh CLI':>9} "
            f"{'ratio':>6}"
        )
        for n in sizes:
            r = out[str(n)]
            print(
                f"{n:>6} {r['bare_ssh_true']:>8.3f}s {r['pybofh_resident']:>8.3f}s "
                f"{r['ratio_pybofh_resident_vs_bare']:>6} {r['pybofh_one_ssh_per_command']:>8.3f}s "
                f"{r['ratio_pybofh_one_ssh_per_command_vs_bare']:>6} {r['bofh_cli_ssh_ping']:>8.3f}s "
                f"{r['ratio_bofh_cli_ssh_ping_vs_bare']:>6}"
            )
        print(f"   per command (median ms): {out['per_command_ms']}")
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
