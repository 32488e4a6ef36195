"""A dry run plans a LUKS job on its planning model, and the plan is what the real run executes.

``Atomic(dry_run=True)`` of LV → format → open used to stop: ``open`` read a header only planned (``luksDump`` of
an LV that did not exist), and the undo of ``open`` knew no LUKS UUID. Now a planned ``format`` puts its header in
the model (UUID ``<uuid of LUKS on DEVICE>``, data at cryptsetup's default offset), a planned ``open`` the mapping
and its block device ``/dev/mapper/NAME``, and crypt's readers lay the model over what cryptsetup reports. On the
host (no device-mapper needed: a dry run opens nothing) the plan is read; in the VM test bed the job then really
runs and rolls back, and its commands — and those of its rollback — equal the plan's, argument by argument.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pybofh_core.atomic import Atomic
from pybofh_core.model import Placeholder
from pybofh_core.session import get_settings
from pybofh_core.testing import planned_undos, same_plan, steps_of, undos_run
from pybofh_crypt import facts
from pybofh_crypt.checks import MAPPER

MIB = 1024**2
PW = "plan-model passphrase 1"
FAST = {"crypt__pbkdf": "pbkdf2", "crypt__pbkdf_force_iterations": 1000}
FORMAT = ("cryptsetup luksFormat --batch-mode --type luks2 --cipher aes-xts-plain64 --key-size 512 --hash sha256 "
          "--pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file=- -- {dev} <stdin")
OPEN = "cryptsetup open --type luks --key-file=- -- {dev} {name} <stdin"


@pytest.fixture(autouse=True)
def _fast() -> Iterator[None]:
    """Cheap PBKDF settings (they are part of the planned luksFormat command)."""
    with get_settings().override(**FAST):
        yield


@pytest.fixture
def tag() -> str:
    """A unique suffix for this test's mapping and VG names."""
    return secrets.token_hex(3)


def blkid_type(device: str) -> str:
    """The signature type on ``device`` as blkid probes it (empty: none)."""
    res = subprocess.run(["blkid", "-p", "-o", "value", "-s", "TYPE", device], capture_output=True, text=True)
    return res.stdout.strip()


@pytest.mark.loopdev
def test_a_dry_run_plans_format_and_open_on_its_model(loop_factory: Callable[..., str], tag: str) -> None:
    """format → open on a loop device: exact commands (the passphrase only as ``<stdin``), the mapping planned at
    the device's size less LUKS2's 16 MiB, its undo a close that names the planned UUID; the device untouched."""
    dev = loop_factory(64 * MIB)
    name = f"pbplan-{tag}"
    with Atomic(dry_run=True, allow_irreversible=True) as atomic:
        atomic.crypt.format(dev, PW)
        header = facts.dump(dev)  # the planned header, read through the model
        assert facts.is_luks(dev) and header.data_offset == 16 * MIB and header.active_keyslots == (0,)
        mapping = atomic.crypt.open(dev, name, PW)
        st = facts.status(name)
        assert facts.is_open(name) and st.device == dev and st.size == 48 * MIB and st.key_location == "keyring"
        assert facts.mapping_over(dev) == name
    assert isinstance(mapping.uuid, Placeholder) and mapping.uuid == f"<uuid of LUKS on {dev}>"
    assert header.uuid == mapping.uuid
    assert steps_of(atomic) == [
        ("crypt.format", [FORMAT.format(dev=dev)]),
        ("crypt.open", [OPEN.format(dev=dev, name=name)]),
    ]
    close = atomic.steps[1].undo
    assert close is not None and close.identity is not None and close.identity["uuid"] == mapping.uuid
    assert [(p["undo"], p["undo_commands"]) for p in atomic.plan][::-1] == [
        (f"crypt.close('{name}')", [f"cryptsetup close -- {name}"]),
        (None, []),  # format is irreversible
    ]
    assert PW not in atomic.format_plan() and PW not in repr(atomic.plan)
    assert blkid_type(dev) == "" and not facts.is_luks(dev)  # nothing was written; no model outside the dry run


def test_planned_resize_keys_and_close_on_an_image_file(tmp_path: Any, tag: str) -> None:
    """Each crypt effect on an image file (no loop device, nothing opened): the readers see the plan's header and
    mapping as the steps leave them — resized, a key added in slot 1, closed — and the file stays all zeros."""
    import shutil

    if shutil.which("cryptsetup", path="/usr/sbin:/sbin:/usr/bin:/bin") is None:
        pytest.skip("cryptsetup is not installed (Debian package cryptsetup-bin)")
    img = tmp_path / "luks.img"
    img.write_bytes(b"")
    with img.open("r+b") as fh:
        fh.truncate(64 * MIB)
    dev, name = str(img), f"pbplan-{tag}"
    with Atomic(dry_run=True, allow_irreversible=True) as atomic:
        atomic.crypt.format(dev, PW, luks_type="luks1")
        assert facts.dump(dev).data_offset == 2 * MIB
        atomic.crypt.open(dev, name, PW)
        assert facts.status(name).size == 62 * MIB and facts.status(name).key_location == "dm-crypt"
        atomic.crypt.resize(name, "32M")
        assert facts.status(name).size == 32 * MIB
        assert atomic.crypt.resize(name).new_size == 62 * MIB  # filling the device again
        key = atomic.crypt.add_key(dev, PW, PW + "2")
        assert key.slot == 1 and facts.dump(dev).active_keyslots == (0, 1)
        atomic.crypt.close(name)
        assert not facts.is_open(name) and facts.mapping_over(dev) is None
    assert key.uuid == f"<uuid of LUKS on {dev}>"
    assert steps_of(atomic)[2:4] == [("crypt.resize", [f"cryptsetup resize --size {32 * MIB // 512} -- {name}"]),
                                     ("crypt.resize", [f"cryptsetup resize -- {name}"])]
    assert atomic.plan[4]["undo_commands"] == [f"cryptsetup luksKillSlot --batch-mode -- {dev} 1"]
    assert img.read_bytes() == bytes(64 * MIB) and not facts.is_luks(dev)


@pytest.fixture
def names(tag: str) -> Iterator[dict[str, str]]:
    """This test's mapping and VG names; whatever is left of them is removed at teardown, even on failure."""
    made = {"map": f"pbplan-{tag}", "vg": f"pbplanvg{tag}"}
    try:
        yield made
    finally:
        subprocess.run(["cryptsetup", "close", made["map"]], capture_output=True)
        subprocess.run(["vgchange", "--activate", "n", made["vg"]], capture_output=True)
        subprocess.run(["vgremove", "--yes", "--force", made["vg"]], capture_output=True)


def provision(atomic: Atomic, device: str, names: dict[str, str]) -> Any:
    """The job: a PV on ``device``, a VG on it, a 64 MiB LV, LUKS on the LV, opened."""
    pv = atomic.lvm.create_pv(device)
    atomic.lvm.create_vg(names["vg"], [pv], extent_size="4M")
    lv = atomic.lvm.create_lv(names["vg"], "secret", "64M")
    atomic.crypt.format(lv, PW)
    return atomic.crypt.open(lv, names["map"], PW)


@pytest.mark.loopdev
def test_a_dry_run_plans_mkfs_on_the_planned_mapping(loop_factory: Callable[..., str], names: dict[str, str]) -> None:
    """PV → VG → LV → format → open → mkfs on ``/dev/mapper/NAME``: every step is planned (the mapping a planned
    open made is a block device of the plan), and nothing is made on the host."""
    device = loop_factory(128 * MIB)
    with Atomic(dry_run=True) as plan:
        mapping = provision(plan, device, names)
        plan.blockdev.create_filesystem(mapping, "ext4")
    assert [q for q, _ in steps_of(plan)] == ["lvm.create_pv", "lvm.create_vg", "lvm.create_lv", "crypt.format",
                                              "crypt.open", "blockdev.create_filesystem"]
    mkfs = steps_of(plan)[-1][1]
    assert len(mkfs) == 1 and mkfs[0].startswith("mkfs.ext4 ") and mkfs[0].endswith(f" {MAPPER}{names['map']}")
    assert blkid_type(device) == ""


@pytest.mark.needs_dm
@pytest.mark.loopdev
def test_the_plan_of_lv_format_open_is_what_runs_and_rolls_back(loop_factory: Callable[..., str],
                                                                 names: dict[str, str]) -> None:
    """Plan PV → VG → LV → format → open, run it for real, roll it back: the commands are the plan's."""
    device = loop_factory(128 * MIB)
    vg, lv_path = names["vg"], f"/dev/{names['vg']}/secret"
    with Atomic(dry_run=True) as plan:
        planned = provision(plan, device, names)
    assert [q for q, _ in steps_of(plan)] == ["lvm.create_pv", "lvm.create_vg", "lvm.create_lv", "crypt.format",
                                              "crypt.open"]
    assert steps_of(plan)[3:] == [("crypt.format", [FORMAT.format(dev=lv_path)]),
                                  ("crypt.open", [OPEN.format(dev=lv_path, name=names["map"])])]
    assert planned.uuid == f"<uuid of LUKS on {lv_path}>"
    assert planned_undos(plan)[0] == ("crypt.open", [f"cryptsetup close -- {names['map']}"])

    class Stop(Exception):
        pass

    try:
        with pytest.raises(Stop), Atomic() as real:
            opened = provision(real, device, names)
            assert opened.uuid and not isinstance(opened.uuid, Placeholder)
            assert facts.status(names["map"]).size == 64 * MIB - 16 * MIB
            ran = steps_of(real)  # read before the rollback takes the steps
            raise Stop
        assert same_plan(steps_of(plan), ran), (steps_of(plan), ran)
        undone = undos_run(real)
        assert same_plan(planned_undos(plan), undone), (planned_undos(plan), undone)
        assert [o.state for _, o in real.outcomes] == ["undone"] * 4
        assert not facts.is_open(names["map"])
        vgs = subprocess.run(["vgs", "--noheadings", "-o", "vg_name"], capture_output=True, text=True).stdout
        assert vg not in vgs.split() and blkid_type(device) == ""
    finally:
        subprocess.run(["pvremove", "--yes", "--force", "--force", device], capture_output=True)


@pytest.mark.needs_dm  # reading whether a mapping is open needs device-mapper
@pytest.mark.loopdev
def test_a_dry_run_through_a_closed_luks_says_its_content_is_known_only_to_the_run(
        loop_factory: Callable[..., str], tag: str) -> None:
    """A stack grow of a loop device holding a closed LUKS volume: the plan opens, resizes and closes the mapping,
    and the content inside — which a dry run cannot read without opening it — is listed as known only once opened
    (not taken for an empty device); nothing is opened or resized on the host."""
    from pybofh_crypt import keys

    dev = loop_factory(64 * MIB)
    subprocess.run(["cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", "--pbkdf", "pbkdf2",
                    "--pbkdf-force-iterations", "1000", "--key-file=-", dev], input=PW.encode(), check=True,
                   capture_output=True)
    uuid = subprocess.run(["cryptsetup", "luksUUID", dev], capture_output=True, text=True, check=True).stdout.strip()
    size = subprocess.run(["blockdev", "--getsize64", dev], capture_output=True, text=True, check=True).stdout
    with keys.provide(PW), Atomic(dry_run=True) as atomic:
        resized = atomic.blockdev.resize_stack(dev, "+16M")
    ops = [op for op, _ in steps_of(atomic)]
    assert ops == ["crypt.open", "blockdev.resize_loop", "crypt.resize", "crypt.close", "blockdev.resize_stack"], ops
    kinds = [kind for kind, _, _ in resized.layers]
    assert kinds[:2] == ["loop", "luks2"] and kinds[2] == (
        f"what LUKS on {dev} holds: known once opened, resized by the run as found"), kinds
    assert resized.layers[2][1] == f"{MAPPER}luks-{uuid}" and resized.layers[2][2] == 64 * MIB
    assert subprocess.run(["blockdev", "--getsize64", dev], capture_output=True, text=True).stdout == size
    assert not facts.is_open(f"luks-{uuid}")
