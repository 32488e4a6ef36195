"""pybofh-xen against the real ``xl`` of a nested Xen 4.17 (``tests/xen_vm``): pybofh and ``bofh`` run in dom0,
where two tiny busybox PV domUs (alpha, beta) are configured; every effect is checked against the real ``xl list``
and the domUs' own consoles (their init prints a line per boot and one when it powers off).

One dom0 is booted per test session (``xen_dom0``); each test starts with no domU running (``nested_xen``).
"""

from __future__ import annotations

import json
import textwrap
import time

import pytest

from tests.xen_vm.dom0 import DISK_MARKER, DOMU_KERNEL, SAVE_DIR, domu_config
from tests.xen_vm.pytest_xen import CONFIG_DIR, Dom0

pytestmark = [pytest.mark.needs_xen, pytest.mark.slow]

MIB = 1024**2
DOWN = "pybofh-tiny-domu-down"  # busybox init's shutdown action in the tiny domU (tests/xen_vm/dom0.py)

SEED_EXAMPLE = textwrap.dedent("""\
    from pybofh import xen
    for domu in xen.allDomus():
        if not xen.isDomuRunning(domu):
            xen.startDomu(domu)
""")


def test_the_seeds_example_starts_exactly_the_stopped_domu(nested_xen: Dom0) -> None:
    """The seed README's first example, verbatim, in dom0: alpha runs already, only beta is started."""
    alpha = nested_xen.create("alpha")
    assert set(nested_xen.xl_list()) == {"alpha"}
    res = nested_xen.python(SEED_EXAMPLE)
    assert res.returncode == 0, res.out + res.err
    after = nested_xen.xl_list()
    assert set(after) == {"alpha", "beta"}
    assert after["alpha"].domid == alpha.domid  # untouched: not destroyed and started again
    assert after["beta"].domid > alpha.domid
    nested_xen.wait_up("beta")
    assert len(nested_xen.boots("alpha")) == 1
    # run again: both run, nothing is started
    res = nested_xen.python(SEED_EXAMPLE)
    assert res.returncode == 0, res.out + res.err
    assert {n: d.domid for n, d in nested_xen.xl_list().items()} == {n: d.domid for n, d in after.items()}


def test_bofh_xen_list_shows_both_domus_with_their_state(nested_xen: Dom0) -> None:
    """``bofh xen list`` and ``--json``: configured domUs, running or not, with xl's state and domid."""
    nested_xen.create("alpha", wait_up=False)
    xl = nested_xen.xl_list()
    rows = {r["name"]: r for r in nested_xen.bofh_json("xen", "list")}
    assert set(rows) == {"alpha", "beta"}
    assert rows["alpha"]["running"] is True and rows["alpha"]["domid"] == xl["alpha"].domid
    assert rows["alpha"]["state"] is not None and set(rows["alpha"]["state"]) <= set("rbpscd-")
    assert rows["alpha"]["config_path"] == f"{CONFIG_DIR}/alpha.cfg"
    assert (rows["beta"]["running"], rows["beta"]["domid"], rows["beta"]["state"]) == (False, None, None)
    nested_xen.sh("xl pause alpha")
    assert "p" in nested_xen.xl_list()["alpha"].state
    assert "p" in {r["name"]: r for r in nested_xen.bofh_json("xen", "list")}["alpha"]["state"]
    table = nested_xen.bofh("xen", "list")
    assert table.returncode == 0, table.err
    lines = {line.split()[0]: line for line in table.out.splitlines() if line.split()}
    assert "alpha" in lines and "beta" in lines
    assert str(xl["alpha"].domid) in lines["alpha"].split()


def test_shutdown_waits_until_the_domu_is_gone(nested_xen: Dom0) -> None:
    """``bofh xen shutdown`` (waits by default): the domU's init powers it off, and the command returns only
    after xl no longer lists it."""
    nested_xen.create("alpha")
    res = nested_xen.bofh("xen", "shutdown", "alpha")
    assert res.returncode == 0, res.out + res.err
    assert "alpha" not in nested_xen.xl_list()  # right after the command: it waited
    assert DOWN in nested_xen.console("alpha")  # a clean power-off through init, not a destroy


def test_shutdown_wait_times_out_on_a_domu_that_does_not_stop(nested_xen: Dom0) -> None:
    """A domU whose init ignores the request: ``--timeout 3`` fails (exit 1) after 3 s, and leaves it running."""
    nested_xen.write_config("deaf", domu_config("deaf", deaf=True))
    deaf = nested_xen.create("deaf")
    res = nested_xen.bofh("xen", "shutdown", "deaf", "--timeout", "3")
    assert res.returncode == 1, res.out + res.err
    assert "domain deaf still exists 3s after shutdown" in res.err
    assert nested_xen.xl_list()["deaf"].domid == deaf.domid  # neither destroyed nor started again by the rollback
    assert "pybofh-tiny-domu-ignores-poweroff" in nested_xen.console("deaf")
    assert DOWN not in nested_xen.console("deaf")


def test_destroy_pulls_the_plug(nested_xen: Dom0) -> None:
    """``bofh xen destroy``: gone at once, without its init shutting down."""
    nested_xen.create("alpha")
    res = nested_xen.bofh("xen", "destroy", "alpha")
    assert res.returncode == 0, res.out + res.err
    assert "alpha" not in nested_xen.xl_list()
    assert DOWN not in nested_xen.console("alpha")


def test_pause_and_unpause(nested_xen: Dom0) -> None:
    """``bofh xen pause`` / ``unpause`` flip xl's ``p`` flag; a rolled-back pause is unpaused again."""
    nested_xen.create("alpha")
    assert nested_xen.bofh("xen", "pause", "alpha").returncode == 0
    assert "p" in nested_xen.xl_list()["alpha"].state
    assert nested_xen.bofh("xen", "unpause", "alpha").returncode == 0
    assert "p" not in nested_xen.xl_list()["alpha"].state
    res = nested_xen.python(textwrap.dedent("""\
        import subprocess
        from pybofh import Atomic, xen
        try:
            with Atomic() as atomic:
                atomic.xen.pause_domu("alpha")
                print(subprocess.run(["xl", "list", "alpha"], capture_output=True, text=True).stdout)
                raise RuntimeError("boom")
        except RuntimeError:
            pass
    """))
    assert res.returncode == 0, res.out + res.err
    assert res.out.split("\n")[1].split()[4].count("p") == 1  # paused inside the block
    assert "p" not in nested_xen.xl_list()["alpha"].state  # unpaused by the rollback


def test_save_and_restore_keep_the_running_domu(nested_xen: Dom0) -> None:
    """``bofh xen save`` stops the domU into a state file; ``restore`` brings that same boot back (no new boot)."""
    nested_xen.create("alpha")
    uuid = _uuid(nested_xen, "alpha")
    state = "/var/lib/xen/save/alpha.state"
    res = nested_xen.bofh("xen", "save", "alpha", state)
    assert res.returncode == 0, res.out + res.err
    assert "alpha" not in nested_xen.xl_list()
    assert int(nested_xen.sh(f"stat -c %s {state}").out) > 0
    res = nested_xen.bofh("--json", "xen", "restore", state)
    assert res.returncode == 0, res.out + res.err
    assert json.loads(res.stdout)["name"] == "alpha"
    assert "alpha" in nested_xen.xl_list()
    assert _uuid(nested_xen, "alpha") == uuid
    assert len(nested_xen.boots("alpha")) == 1 and DOWN not in nested_xen.console("alpha")


ROLLED_BACK = """\
from pybofh import Atomic
try:
    with Atomic() as atomic:
{body}
        raise RuntimeError("boom")
except RuntimeError:
    print("rolled back")
"""


def _rolled_back(dom0: Dom0, *steps: str) -> None:
    """Run ``steps`` (pybofh calls on ``atomic``) in dom0 in one atomic block that then fails: rolled back."""
    res = dom0.python(ROLLED_BACK.format(body="\n".join(f"        {step}" for step in steps)))
    assert res.returncode == 0 and "rolled back" in res.out, res.out + res.err


def test_shutdown_save_and_restore_are_undone_against_the_real_xl(nested_xen: Dom0) -> None:
    """One atomic block shuts alpha down and saves beta to a state file, then fails: the rollback restores beta
    (the same domain: its UUID, no new boot) and starts alpha again (a second boot). A restore rolled back: the
    restored domain is destroyed."""
    nested_xen.create("alpha")
    nested_xen.create("beta")
    beta = _uuid(nested_xen, "beta")
    state = f"{SAVE_DIR}/beta.state"
    _rolled_back(nested_xen, 'atomic.xen.shutdown_domu("alpha")', f'atomic.xen.save_domu("beta", "{state}")')
    assert set(nested_xen.xl_list()) == {"alpha", "beta"}
    assert _uuid(nested_xen, "beta") == beta and len(nested_xen.boots("beta")) == 1
    assert len(nested_xen.wait_up("alpha", boots=2)) == 2 and DOWN in nested_xen.console("alpha")
    nested_xen.sh(f"xl save beta {state}")  # the real xl, not pybofh
    assert "beta" not in nested_xen.xl_list()
    _rolled_back(nested_xen, f'atomic.xen.restore_domu("{state}")')
    assert set(nested_xen.xl_list()) == {"alpha"}


def test_reboot_boots_the_domu_again(nested_xen: Dom0) -> None:
    """``bofh xen reboot``: init stops, the domain is rebuilt (new domid) and boots again (second boot id)."""
    before = nested_xen.create("alpha")
    res = nested_xen.bofh("xen", "reboot", "alpha")
    assert res.returncode == 0, res.out + res.err
    boots = nested_xen.wait_up("alpha", boots=2)
    assert boots[0] != boots[1]
    assert nested_xen.xl_list()["alpha"].domid != before.domid


def _uuid(dom0: Dom0, name: str) -> str:
    """The domain's UUID from the real ``xl list -l`` JSON."""
    for dom in json.loads(dom0.sh("xl list -l").out):
        if dom["config"]["c_info"]["name"] == name:
            return str(dom["config"]["c_info"]["uuid"])
    raise AssertionError(f"{name} not in xl list -l")



def test_start_all_is_one_atomic_block(nested_xen: Dom0) -> None:
    """``bofh xen start-all`` with a third config whose kernel is missing (it parses; ``xl create`` fails on it):
    alpha and beta, started first, are destroyed again, exit 1, and the journal records each undo (zulu's, journalled
    before its ``xl create``, finds no domain: already undone)."""
    broken = domu_config("zulu").replace(DOMU_KERNEL, f"{DOMU_KERNEL}-missing")
    nested_xen.write_config("zulu", broken)
    res = nested_xen.bofh("xen", "start-all")
    assert res.returncode == 1, res.out + res.err
    assert "rolled back 3 step(s) of xen.start_all" in res.err
    assert nested_xen.xl_list() == {}
    (entry,) = nested_xen.bofh_json("journal", "list")
    assert (entry["status"], entry["label"]) == ("rolled-back", "bofh xen start-all")
    steps = nested_xen.bofh_json("journal", "show", entry["id"])["steps"]
    rows = [(s["op"], s["args"].get("domu", {}).get("name"), s["state"], s["undo_commands"]) for s in steps]
    assert rows == [
        ("xen.start_all", None, "failed", []),
        ("xen.start_domu", "alpha", "undone", ["xl destroy -- alpha"]),
        ("xen.start_domu", "beta", "undone", ["xl destroy -- beta"]),
        ("xen.start_domu", "zulu", "already", []),
    ]
    # the same with every config sound: all three start, nothing is undone
    nested_xen.write_config("zulu", domu_config("zulu"))
    res = nested_xen.bofh("--json", "xen", "start-all")
    assert res.returncode == 0, res.out + res.err
    assert sorted(r["name"] for r in json.loads(res.stdout)) == ["alpha", "beta", "zulu"]
    assert set(nested_xen.xl_list()) == {"alpha", "beta", "zulu"}


KILL_MID_START_ALL = """\
bofh xen start-all >/tmp/start-all.out 2>&1 &
pid=$!
i=0
until grep -qs '"type":"done","step":2' /var/lib/pybofh/journal/*.jsonl && xl list beta >/dev/null 2>&1; do
    i=$((i+1)); [ $i -lt 1200 ] || { echo "start-all never reached beta"; kill -9 $pid; exit 7; }; sleep 0.1
done
kill -9 $pid
wait $pid || echo "bofh killed: exit $?"
"""


def test_start_all_killed_mid_way_then_journal_rollback(nested_xen: Dom0) -> None:
    """``kill -9`` of ``bofh xen start-all`` while beta is being created (alpha's start journalled done):
    ``bofh journal rollback`` destroys alpha, and beta too — its start was in flight, but its undo, naming the UUID
    the command line gave beta, was journalled before ``xl create`` (exit 0, journal rolled-back)."""
    out = nested_xen.sh(KILL_MID_START_ALL, timeout=300).out
    assert "bofh killed: exit 137" in out
    (entry,) = nested_xen.bofh_json("journal", "list")
    assert entry["status"] == "interrupted"
    assert set(nested_xen.xl_list()) == {"alpha", "beta"}
    res = nested_xen.bofh("journal", "rollback", entry["id"])
    assert res.returncode == 0, res.out + res.err
    assert (res.out + res.err).count("undone: xen.start_domu") == 2, res.out + res.err
    assert nested_xen.xl_list() == {}
    (entry,) = nested_xen.bofh_json("journal", "list")
    assert entry["status"] == "rolled-back"


LV_DISK = """\
truncate -s 192M /tmp/pbxen-pv.img
loop=$(losetup --find --show /tmp/pbxen-pv.img)
pvcreate -q "$loop"
vgcreate -q pbxen "$loop"
lvcreate -q -y -L 64M -n disk pbxen
mkfs.ext4 -q /dev/pbxen/disk
"""
LV_DISK_GONE = """\
vgremove -q -f pbxen 2>/dev/null || true
for loop in $(losetup -j /tmp/pbxen-pv.img -O NAME -n); do pvremove -q -ff -y "$loop" || true; losetup -d "$loop"; done
rm -f /tmp/pbxen-pv.img
"""


PLAN_THEN_RUN = """\
import json
from pybofh_core.atomic import Atomic
from pybofh_core.testing import planned_undos, same_plan, steps_of, undos_run

class Stop(Exception):
    pass

with Atomic(dry_run=True) as plan:
    plan.xen.resize_domu_disk("gamma", "xvda", "96M")
try:
    with Atomic(journal=False) as real:
        real.xen.resize_domu_disk("gamma", "xvda", "96M")
        ran = steps_of(real)
        raise Stop
except Stop:
    pass
print(json.dumps({"plan": steps_of(plan), "ran": ran, "same": same_plan(steps_of(plan), ran),
                  "undo_plan": planned_undos(plan), "undo_ran": undos_run(real),
                  "same_undo": same_plan(planned_undos(plan), undos_run(real)),
                  "outcomes": [o.state for _, o in real.outcomes]}))
"""


def _sizes(dom0: Dom0) -> tuple[int, int]:
    """(the LV's size, its ext4's size) in bytes, read in dom0."""
    lv = int(dom0.sh("blockdev --getsize64 /dev/pbxen/disk").out)
    fields = dict(ln.split(":", 1) for ln in dom0.sh("dumpe2fs -h /dev/pbxen/disk 2>/dev/null").out.splitlines()
                  if ":" in ln)
    return lv, int(fields["Block count"]) * int(fields["Block size"])


def _guest_sees(dom0: Dom0, name: str, size: int, timeout: float = 120.0) -> None:
    """Wait until domU ``name`` reports on its console that its xvda has ``size`` bytes."""
    deadline = time.monotonic() + timeout
    want = f"{DISK_MARKER} {size // 512}"
    while want not in dom0.console(name).splitlines():
        assert time.monotonic() < deadline, f"{name} never saw {size} bytes; console:\n{dom0.console(name)}"
        time.sleep(0.5)


def test_an_lv_backed_disk_grows_with_the_domu_stopped_and_running(nested_xen: Dom0) -> None:
    """A domU whose xvda is an LV in dom0 (``phy:``): stopped, ``bofh xen resize-disk`` grows the LV and the ext4
    on it (planned first: the plan's commands and undo commands are what the run and its rollback ran); running,
    it grows only the LV, the guest's blkfront sees the new size, and the ext4 (the guest's) is left alone; a
    shrink of the running domU's disk is refused (exit 2) and changes nothing."""
    nested_xen.sh(LV_DISK)
    try:
        nested_xen.write_config("gamma", domu_config("gamma", more="disk = [ 'phy:/dev/pbxen/disk,xvda,w' ]\n"))
        # plan equals execution: the dry run's commands are the run's, its undo commands the rollback's
        checked = json.loads(nested_xen.python(PLAN_THEN_RUN).out)
        assert [op for op, _ in checked["plan"]] == ["lvm.resize_lv", "blockdev.resize_filesystem",
                                                     "blockdev.resize_stack", "xen.resize_domu_disk"], checked
        assert checked["same"] and checked["same_undo"], checked
        assert checked["outcomes"] == ["undone", "undone"], checked
        assert _sizes(nested_xen) == (64 * MIB, 64 * MIB)
        res = nested_xen.bofh("xen", "resize-disk", "gamma", "xvda", "96M")
        assert res.returncode == 0, res.out + res.err
        assert _sizes(nested_xen) == (96 * MIB, 96 * MIB)
        nested_xen.create("gamma")
        _guest_sees(nested_xen, "gamma", 96 * MIB)
        res = nested_xen.bofh("xen", "resize-disk", "gamma", "xvda", "+32M")
        assert res.returncode == 0, res.out + res.err
        assert _sizes(nested_xen) == (128 * MIB, 96 * MIB)
        _guest_sees(nested_xen, "gamma", 128 * MIB)
        res = nested_xen.bofh("xen", "resize-disk", "gamma", "xvda", "64M")
        assert res.returncode == 2 and "only a grow" in res.err, res.out + res.err
        assert _sizes(nested_xen) == (128 * MIB, 96 * MIB)
        assert "gamma" in nested_xen.xl_list()
    finally:
        nested_xen.sh("xl destroy gamma 2>/dev/null || true")
        nested_xen.sh(LV_DISK_GONE)
