"""Command line of the VM test bed: boot the guest, run one command in it as root, stream output, exit with its code.

    python3 tests/vm/run.py [--disks 1G,1G] [--accel auto|kvm|tcg] -- CMD [ARG...]

The guest sees the project tree read-only at its host path (cwd defaults to it) and the project's packages on
PYTHONPATH. The VM and its temp files are always removed at the end, also on Ctrl-C, SIGTERM and timeouts.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType

if not __package__:  # run as a script: make the relative imports below work
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    __package__ = "tests.vm"

from . import build
from .guest import GIB, Guest, GuestConfig, GuestError, GuestTimeout


def parse_size(text: str) -> int:
    """Parse a disk size like 512M, 1G or 1073741824 into bytes."""
    units = {"K": 1024, "M": 1024**2, "G": GIB, "T": 1024 * GIB}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM/SIGHUP into KeyboardInterrupt so that the cleanup in finally blocks runs."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, boot, run, report; return the command's exit code (128+N if killed by signal N)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--disks", default="1G,1G", help="comma-separated sizes of the scratch disks ('' for none)")
    parser.add_argument(
        "--accel", default=None, choices=["auto", "kvm", "tcg"], help="default: $PYBOFH_VM_ACCEL or auto"
    )
    parser.add_argument("--memory", type=int, default=1536, help="guest memory in MiB")
    parser.add_argument("--cpus", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=None, help="kill the command after this many seconds")
    parser.add_argument("--cwd", default=None, help="working directory in the guest (default: the project tree)")
    parser.add_argument("--source", type=Path, default=None, help="tree to share (default: this repository)")
    parser.add_argument("--quiet", "-q", action="store_true", help="do not report boot and run times on stderr")
    parser.add_argument("command", nargs="+", help="command to run in the guest (put it after --)")
    args = parser.parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)
    config = GuestConfig(
        disks=tuple(parse_size(s) for s in args.disks.split(",") if s.strip()),
        memory_mb=args.memory,
        cpus=args.cpus,
    )
    if args.accel:
        config = replace(config, accel=args.accel)
    if args.source:
        config = replace(config, source_dir=args.source.resolve())
    t0 = time.monotonic()
    try:
        with Guest(config) as guest:
            if not args.quiet:
                print(f"pybofh-vm: guest ready in {guest.boot_seconds:.1f} s ({guest.accel})", file=sys.stderr)
            t1 = time.monotonic()
            result = guest.run(
                args.command,
                cwd=args.cwd or config.source_dir or "/",
                timeout=args.timeout,
                stdout=sys.stdout.buffer,
                stderr=sys.stderr.buffer,
                capture=False,
            )
            t2 = time.monotonic()
    except GuestTimeout as exc:
        print(f"pybofh-vm: {exc}", file=sys.stderr)
        return 124
    except (GuestError, build.BuildError) as exc:
        print(f"pybofh-vm: {exc}", file=sys.stderr)
        return 125
    except KeyboardInterrupt:
        print("pybofh-vm: interrupted; guest shut down", file=sys.stderr)
        return 130
    if not args.quiet:
        print(
            f"pybofh-vm: command took {t2 - t1:.1f} s, exit {result.returncode}; total {time.monotonic() - t0:.1f} s",
            file=sys.stderr,
        )
    code = result.returncode
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main())
