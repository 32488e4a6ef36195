"""The operations' argv against the real drbdadm of this host (no DRBD module needed): ``drbdadm -d`` prints the
drbdsetup/drbdmeta commands it would run, which must equal the recordings of record_host.py.

Both drbdadm 9 and the 8.4 drbdadm that drbd-utils ships are checked, so each argv form works on either kernel.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from pybofh_core.runner import LocalRunner, Result, use_runner
from pybofh_core.session import get_settings
from pybofh_core.testing import Recordings
from pybofh_drbd import ops
from pybofh_drbd.errors import DrbdError

HERE = Path(__file__).resolve().parent
REC = HERE / "recordings"
RECORDINGS = Recordings(REC)
DRBDADM_84 = "/usr/lib/drbd/drbdadm-84"
K = "8.4.11"

pytestmark = pytest.mark.skipif(shutil.which("drbdadm", path="/usr/sbin:/sbin:/usr/bin") is None,
                                reason="drbd-utils is not installed (apt-get install drbd-utils)")


class DryDrbdadm(LocalRunner):
    """Runs drbdadm for real but with ``-d`` on mutating calls; /proc/drbd and blockdev come from recordings."""

    def __init__(self, drbdadm: str) -> None:
        super().__init__()
        self.drbdadm = drbdadm
        self.dry: list[tuple[tuple[str, ...], bytes]] = []

    def _execute(self, argv: tuple[str, ...], data: bytes | None, timeout: float, *, readonly: bool,
                 env: Mapping[str, str] | None) -> Result:
        if argv == ("cat", "/proc/drbd"):  # no module here: the role comes from a guest recording
            return Result(argv, 0, RECORDINGS.output("proc_drbd", f"connected_secondary-{K}.txt"))
        if argv == ("cat", "/sys/block/drbd0/size"):
            return Result(argv, 0, RECORDINGS.output("sysfs", f"block-drbd0-size_secondary-{K}.txt"))
        if argv[0] != "drbdadm":
            raise AssertionError(f"unexpected command {argv}")
        real = (self.drbdadm, *argv[1:]) if readonly else (self.drbdadm, "-d", *argv[1:])
        res = super()._execute(real, data, timeout, readonly=readonly, env=env)
        if not readonly:
            self.dry.append((argv, res.stdout))
        return Result(argv, res.returncode, res.stdout, res.stderr)


@pytest.fixture(params=["v9", "v84"])
def dry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, DryDrbdadm]]:
    """A DryDrbdadm for drbdadm 9 or 8.4, with the recording config (this host's name filled in) as drbd.config_file."""
    variant = request.param
    if variant == "v84" and not Path(DRBDADM_84).exists():
        pytest.skip(f"{DRBDADM_84} is not shipped by this drbd-utils")
    cfg = tmp_path / "r0.res"
    cfg.write_text((REC / "configs" / f"r0-{variant}.res").read_text().replace("@HOST@", socket.gethostname()))
    runner = DryDrbdadm("drbdadm" if variant == "v9" else DRBDADM_84)
    with get_settings().override(drbd__config_file=str(cfg)), use_runner(runner):
        yield variant, runner


CASES: list[tuple[str, str, tuple[Any, ...], dict[str, Any]]] = [
    ("up", "up", (), {}), ("down", "down", (), {}), ("primary", "primary", (), {}),
    ("primary-force", "primary", (), {"authoritative": True}), ("connect", "connect", (), {}),
    ("disconnect", "disconnect", (), {}), ("attach", "attach", (), {}), ("detach", "detach", (), {}),
    # create_md and invalidate destroy data: their data checks (pybofh's own, before drbdadm runs) need force here
    ("create-md", "create_md", ("/dev/loop0",), {"force": True}), ("adjust", "adjust", (), {}),
    ("verify", "verify", (), {}), ("invalidate", "invalidate", (), {"force": True}),
    ("pause-sync", "pause_sync", (), {}), ("resume-sync", "resume_sync", (), {}), ("resize", "resize", (), {}),
    ("resize-size", "resize", (), {"size": 2097152 * 512}),
]


@pytest.mark.parametrize(("case", "op_name", "args", "kwargs"), CASES, ids=[c[0] for c in CASES])
def test_operation_argv_accepted_by_real_drbdadm(dry: tuple[str, DryDrbdadm], case: str, op_name: str,
                                                 args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """The real drbdadm accepts the operation's argv and plans exactly the recorded drbdsetup/drbdmeta commands."""
    variant, runner = dry
    if case == "resize-size":  # -d changes nothing, so the device misses the size asked for: typed error after
        with pytest.raises(DrbdError, match="after resizing"):
            ops.resize("r0", *args, **kwargs)
    else:
        getattr(ops, op_name)("r0", *args, **kwargs)
    (argv, planned), = runner.dry
    expected = RECORDINGS.output("drbdadm", f"dry-run_{case}-{variant}-9.22.0.txt")
    assert planned == expected, argv


def test_secondary_argv(dry: tuple[str, DryDrbdadm]) -> None:
    """secondary (the role read from a recording says Secondary; drbdadm still plans the demotion)."""
    variant, runner = dry
    ops.secondary("r0")
    (_, planned), = runner.dry
    assert planned == RECORDINGS.output("drbdadm", f"dry-run_secondary-{variant}-9.22.0.txt")
