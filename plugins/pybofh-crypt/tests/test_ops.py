"""Operations with a fake runner replaying real cryptsetup recordings: argv of each operation and of its inverse,
validation before any command, error translation, and secrets kept out of argv, logs and the journal."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from pybofh_core.atomic import Atomic
from pybofh_core.errors import (
    IrreversibleOperationError,
    NotFoundError,
    ToolUnavailableError,
    ValidationError,
)
from pybofh_core.operations import spec_of
from pybofh_core.secret import Secret
from pybofh_core.session import get_settings
from pybofh_core.testing import Recording, Recordings
from pybofh_crypt import facts, ops
from pybofh_crypt.errors import MappingNotFoundError, NotLuksError, PassphraseError
from pybofh_crypt.types import KeyFile, LuksVersion

PW = "correct horse battery"
NEW = "new staple 42"
FAST = {"crypt__pbkdf": "pbkdf2", "crypt__pbkdf_force_iterations": 1000}


@pytest.fixture
def dev(tmp_path: Path) -> str:
    """A path that exists (an empty image file): the fake runner stands in for cryptsetup."""
    path = tmp_path / "disk.img"
    path.write_bytes(b"")
    return str(path)


def reply(fake, argv, recording) -> None:
    """Make ``argv`` answer with a recording's stdout, stderr and exit code."""
    fake.expect(argv, stdout=recording.stdout, stderr=recording.stderr, returncode=recording.returncode)


RECORDINGS = Recordings(Path(__file__).resolve().parent / "recordings")


def util_linux(case: str) -> Recording:
    """The util-linux 2.38.1 recording ``case`` (``recordings/util-linux``, read by the one loader)."""
    return RECORDINGS.get("util-linux", case, "2.38.1")


def holds(fake, dev: str, wipefs: str = "wipefs-json-empty-file") -> None:
    """Answer the data check for the image file ``dev``: wipefs (recorded on a real file) and no loop device on it."""
    reply(fake, ["wipefs", "--no-act", "--json", "--", dev], util_linux(wipefs))
    reply(fake, ["losetup", "--list", "--json", "-O", "NAME", "-j", dev], util_linux("losetup-json-no-loop"))


def empty_mapping(fake, name: str) -> None:
    """Answer the shrink check of mapping ``name``: blkid and wipefs find nothing in it (so any size fits)."""
    fake.expect(["blkid", "-p", "-o", "export", "--", f"/dev/mapper/{name}"], returncode=2)
    reply(fake, ["wipefs", "--no-act", "--json", "--", f"/dev/mapper/{name}"], util_linux("wipefs-json-empty-file"))


def without_checks(calls) -> list[tuple[str, ...]]:
    """The commands but the data check's read-only ones (wipefs, losetup -j)."""
    return [c for c in calls if c[0] not in ("wipefs", "losetup")]


def dump_replies(fake, rec, dev: str, text: str, json: str | None = None) -> None:
    reply(fake, ["cryptsetup", "luksDump", "--", dev], rec(text))
    if json:
        reply(fake, ["cryptsetup", "luksDump", "--dump-json-metadata", "--", dev], rec(json))


def backing_luks(fake, rec, text: str = "luksDump-luks2", json: str | None = "luksDump-json-luks2") -> None:
    """The recorded mappings are open over /dev/loop0: answer its LUKS identity (isLuks, luksDump)."""
    fake.paths = {**(fake.paths or {}), "/dev/loop0": "block"}
    fake.expect(["cryptsetup", "isLuks", "--", "/dev/loop0"])
    dump_replies(fake, rec, "/dev/loop0", text, json)


# --- format ----------------------------------------------------------------------------------------------------------


def test_format_luks2_argv_from_settings(fake_runner, dev) -> None:
    """format checks the device holds nothing, builds its options from the crypt settings and sends the passphrase
    on stdin only."""
    holds(fake_runner, dev)
    fake_runner.expect(["cryptsetup", "luksFormat", ...])
    with get_settings().override(**FAST):
        result = ops.format(dev, PW, label="data")
    assert fake_runner.calls[:2] == [("losetup", "--list", "--json", "-O", "NAME", "-j", dev),
                                     ("wipefs", "--no-act", "--json", "--", dev)]
    assert fake_runner.calls[2:] == [(
        "cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", "--cipher", "aes-xts-plain64",
        "--key-size", "512", "--hash", "sha256", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000",
        "--label", "data", "--key-file=-", "--", dev)]
    assert fake_runner.inputs[2:] == [PW.encode()]
    assert (result.version, result.key_bits, result.label) == (LuksVersion.LUKS2, 512, "data")


def test_format_over_an_existing_luks_header_needs_force(fake_runner, dev) -> None:
    """A LUKS header found by wipefs (recorded on a real LUKS2 image) is not overwritten without force."""
    from pybofh_core.errors import DataAtRiskError

    holds(fake_runner, dev, "wipefs-json-luks2-file")
    fake_runner.expect(["cryptsetup", "luksFormat", ...])
    with pytest.raises(DataAtRiskError, match=r"already contains crypto_LUKS .UUID 7429ec2a.*--force"):
        ops.format(dev, PW)
    assert [c[1] for c in fake_runner.calls if c[0] == "cryptsetup"] == []
    with get_settings().override(**FAST):
        ops.format(dev, PW, force=True)
    assert fake_runner.calls[-1][:2] == ("cryptsetup", "luksFormat")


def test_format_luks2_argon2_defaults(fake_runner, dev) -> None:
    """Without overrides LUKS2 uses argon2id and lets cryptsetup benchmark; memory/threads come from settings."""
    holds(fake_runner, dev)
    fake_runner.expect(["cryptsetup", "luksFormat", ...])
    with get_settings().override(crypt__pbkdf_memory=65536, crypt__pbkdf_parallel=2, crypt__iter_time=500):
        ops.format(dev, Secret(PW), sector_size=4096)
    argv = fake_runner.calls[-1]
    assert argv[argv.index("--pbkdf"):argv.index("--key-file=-")] == (
        "--pbkdf", "argon2id", "--pbkdf-memory", "65536", "--pbkdf-parallel", "2", "--iter-time", "500",
        "--sector-size", "4096")


def test_format_luks1_argv(fake_runner, dev) -> None:
    """LUKS1 gets no --pbkdf (always pbkdf2) and keeps the iteration setting."""
    holds(fake_runner, dev)
    fake_runner.expect(["cryptsetup", "luksFormat", ...])
    with get_settings().override(**FAST):
        ops.format(dev, PW, luks_type="luks1", key_size=256, cipher="aes-cbc-essiv:sha256")
    assert fake_runner.calls[-1] == (
        "cryptsetup", "luksFormat", "--batch-mode", "--type", "luks1", "--cipher", "aes-cbc-essiv:sha256",
        "--key-size", "256", "--hash", "sha256", "--pbkdf-force-iterations", "1000", "--key-file=-", "--", dev)


def test_format_with_key_file_passes_the_path(fake_runner, dev, tmp_path) -> None:
    """A KeyFile goes to cryptsetup by path; nothing on stdin."""
    key = tmp_path / "k"
    key.write_bytes(b"\x00binary\nkey")
    holds(fake_runner, dev)
    fake_runner.expect(["cryptsetup", "luksFormat", ...])
    ops.format(dev, KeyFile(str(key)))
    assert fake_runner.calls[-1][-4:] == ("--key-file", str(key), "--", dev)
    assert fake_runner.inputs[-1] is None


def test_format_is_irreversible_and_policed_in_atomic_blocks(fake_runner, dev) -> None:
    """format has no inverse; inside an atomic block it is refused on a device the block did not create."""
    spec = spec_of(ops.format)
    assert spec.inverse is None and spec.irreversible and spec.target == "device"
    with pytest.raises(IrreversibleOperationError), Atomic() as atomic:
        atomic.crypt.format(dev, PW)
    assert fake_runner.calls == []


@pytest.mark.parametrize("kwargs, error", [
    ({"device": "relative.img"}, ValidationError),
    ({"device": "-rf"}, ValidationError),
    ({"device": "/nonexistent/disk"}, NotFoundError),
    ({"passphrase": ""}, ValidationError),
    ({"passphrase": 42}, ValidationError),
    ({"luks_type": "luks3"}, ValidationError),
    ({"cipher": "-x"}, ValidationError),
    ({"cipher": "aes xts"}, ValidationError),
    ({"key_size": 7}, ValidationError),
    ({"key_size": -512}, ValidationError),
    ({"luks_type": "luks1", "label": "x"}, ValidationError),
    ({"luks_type": "luks1", "pbkdf": "argon2id"}, ValidationError),
    ({"luks_type": "luks1", "sector_size": 4096}, ValidationError),
    ({"pbkdf": "scrypt"}, ValidationError),
    ({"label": "x" * 48}, ValidationError),
    ({"label": "a\nb"}, ValidationError),
    ({"sector_size": 1000}, ValidationError),
])
def test_format_bad_input_runs_nothing(fake_runner, dev, kwargs, error) -> None:
    """Bad input is a typed error raised before any command."""
    args = {"device": dev, "passphrase": PW, **kwargs}
    with pytest.raises(error):
        ops.format(args.pop("device"), args.pop("passphrase"), **args)
    assert fake_runner.calls == []


# --- open ↔ close ----------------------------------------------------------------------------------------------------


def test_open_argv_and_inverse_close(fake_runner, rec, dev) -> None:
    """open sends the key on stdin; its inverse closes the mapping by name, identified by the LUKS UUID it was
    opened over and the boot id (a mapping does not survive a reboot)."""
    dump_replies(fake_runner, rec, dev, "luksDump-luks2", "luksDump-json-luks2")
    assert fake_runner.calls == []
    fake_runner.expect(["cryptsetup", "open", ...]).expect(["cryptsetup", "close", ...])
    fake_runner.paths = {dev: "file"}
    fake_runner.expect(["cryptsetup", "isLuks", "--", dev])
    m = ops.open(dev, "secret-data", PW, readonly=True, allow_discards=True, keyring=False)
    opened = fake_runner.calls.index(("cryptsetup", "open", "--type", "luks", "--readonly", "--allow-discards",
                                      "--disable-keyring", "--key-file=-", "--", dev, "secret-data"))
    assert fake_runner.inputs[opened] == PW.encode()
    # the result is read back after the open: the UUID of the LUKS volume the mapping is over
    assert [c[:2] for c in fake_runner.calls[opened + 1:]] == [("cryptsetup", "isLuks"), ("cryptsetup", "luksDump"),
                                                               ("cryptsetup", "luksDump")]
    assert (m.name, m.path, m.device, m.uuid) == ("secret-data", "/dev/mapper/secret-data", dev, facts.dump(dev).uuid)
    undo = spec_of(ops.open).undo_for(m, {"device": dev, "name": "secret-data"})
    assert undo.identity == {"uuid": facts.dump(dev).uuid, "boot_id": fake_runner.boot_id()}
    undo()
    assert fake_runner.calls[-1] == ("cryptsetup", "close", "--", "secret-data")
    assert spec_of(ops.open).creates(m) == ["/dev/mapper/secret-data", "secret-data"]


def test_close_accepts_mapper_path(fake_runner) -> None:
    """close takes NAME or /dev/mapper/NAME."""
    fake_runner.expect(["cryptsetup", "close", "--", "x1"])
    ops.close("/dev/mapper/x1")
    assert fake_runner.calls == [("cryptsetup", "close", "--", "x1")]


@pytest.mark.parametrize("name", ["-x", "a/b", "a b", "", "..", "x\n", "é"])
def test_open_bad_name_runs_nothing(fake_runner, dev, name) -> None:
    """Mapping names that could be options or paths are refused before any command."""
    with pytest.raises(ValidationError):
        ops.open(dev, name, PW)
    with pytest.raises(ValidationError):
        ops.close(name)
    assert fake_runner.calls == []


def test_open_wrong_passphrase_is_typed(fake_runner, rec, dev) -> None:
    """cryptsetup's 'No key available' (exit 2, recorded) becomes PassphraseError; the passphrase is not in it."""
    reply(fake_runner, ["cryptsetup", "open", ...], rec("luksAddKey-wrong-passphrase"))
    with pytest.raises(PassphraseError) as info:
        ops.open(dev, "x", PW)
    assert PW not in str(info.value) and info.value.exit_code == 2


def test_open_without_device_mapper_is_tool_unavailable(fake_runner, rec, dev) -> None:
    """The recorded failure of 'cryptsetup open' on a kernel without device-mapper is a ToolUnavailableError."""
    reply(fake_runner, ["cryptsetup", "open", ...], rec("open-no-device-mapper"))
    with pytest.raises(ToolUnavailableError, match="device-mapper"):
        ops.open(dev, "x", PW)


def test_open_rollback_in_atomic_block_closes(fake_runner, rec, dev, journal_dir) -> None:
    """A failing block closes what it opened (after checking the mapping is open over the same LUKS volume); the
    journal holds neither the passphrase nor a usable copy of it."""
    dump_replies(fake_runner, rec, dev, "luksDump-luks2", "luksDump-json-luks2")
    reply(fake_runner, ["cryptsetup", "status", "--", "vault"], rec("status-luks2"))  # open over /dev/loop0
    fake_runner.paths = {dev: "file", "/dev/loop0": "block"}
    fake_runner.expect(["cryptsetup", "isLuks", "--", dev])
    fake_runner.expect(["cryptsetup", "isLuks", "--", "/dev/loop0"])
    dump_replies(fake_runner, rec, "/dev/loop0", "luksDump-luks2", "luksDump-json-luks2")  # the same LUKS UUID
    fake_runner.expect(["cryptsetup", "open", ...]).expect(["cryptsetup", "close", ...])
    with pytest.raises(RuntimeError), Atomic() as atomic:
        atomic.crypt.open(dev, "vault", PW)
        raise RuntimeError("later step failed")
    assert fake_runner.calls[-1] == ("cryptsetup", "close", "--", "vault")
    text = "".join(p.read_text() for p in journal_dir.glob("*.jsonl"))
    assert '"crypt.close"' in text and '"vault"' in text
    assert PW not in text and "__secret__" in text


# --- status / resize -------------------------------------------------------------------------------------------------


def test_status_parses_recording(fake_runner, rec) -> None:
    """status runs read-only and returns sizes in bytes."""
    reply(fake_runner, ["cryptsetup", "status", "--", "rec-luks2"], rec("status-luks2"))
    st = facts.status("rec-luks2")
    assert (st.size, st.offset, st.key_location) == (50331648, 16777216, "keyring")


def test_status_inactive_is_not_found(fake_runner, rec) -> None:
    """The recorded 'is inactive.' (exit 4) is MappingNotFoundError, and is_open says False."""
    reply(fake_runner, ["cryptsetup", "status", "--", "rec-absent"], rec("status-inactive"))
    with pytest.raises(MappingNotFoundError):
        facts.status("rec-absent")
    assert facts.is_open("rec-absent") is False


def test_status_without_device_mapper(fake_runner, rec) -> None:
    """The recorded host failure (no device-mapper) is a ToolUnavailableError, not 'inactive'."""
    reply(fake_runner, ["cryptsetup", "status", "--", "x"], rec("status-no-device-mapper"))
    with pytest.raises(ToolUnavailableError):
        facts.is_open("x")


def test_resize_keyring_needs_passphrase_and_inverse_resizes_back(fake_runner, rec) -> None:
    """Shrinking a keyring mapping sends the key on stdin; the inverse restores the old size with it."""
    reply(fake_runner, ["cryptsetup", "status", "--", "rec-luks2"], rec("status-luks2"))
    fake_runner.expect(["cryptsetup", "resize", ...])
    empty_mapping(fake_runner, "rec-luks2")
    r = ops.resize("rec-luks2", "8M", passphrase=PW)
    assert [c[1] for c in without_checks(fake_runner.calls) if c[0] != "blkid"] == ["status", "status", "resize"]
    # (the shrink check reads the status and the content; no identity read outside an atomic block)
    backing_luks(fake_runner, rec)
    assert fake_runner.calls[-1] == ("cryptsetup", "resize", "--size", "16384", "--key-file=-", "--", "rec-luks2")
    assert fake_runner.inputs[-1] == PW.encode()
    assert (r.old_size, r.new_size) == (50331648, 8 * 1024**2)
    undo = spec_of(ops.resize).undo_for(r, {"name": "rec-luks2", "size": "8M", "passphrase": Secret(PW)})
    journalled = undo.to_json()
    assert journalled["kwargs"] == {"passphrase": None} and journalled["replayable"] is True  # never written; a
    # replay finds the key itself (providers, crypt.key_dir) or says how to give one
    undo()
    assert fake_runner.calls[-1] == ("cryptsetup", "resize", "--size", "98304", "--key-file=-", "--", "rec-luks2")


def test_resize_keyring_without_passphrase_is_refused(fake_runner, rec) -> None:
    """cryptsetup would fail (recorded: 'Nothing to read on input.'); pybofh says what to do before trying."""
    reply(fake_runner, ["cryptsetup", "status", "--", "rec-luks2"], rec("status-luks2"))
    backing_luks(fake_runner, rec)  # no key provider and no crypt.key_dir knows its UUID
    empty_mapping(fake_runner, "rec-luks2")
    with pytest.raises(ValidationError, match="keyring"):
        ops.resize("rec-luks2", "8M")
    assert all(c[1] in ("status", "isLuks", "luksDump") for c in without_checks(fake_runner.calls) if c[0] != "blkid")


def test_resize_dm_crypt_key_needs_no_passphrase_and_undo_replays(fake_runner, rec) -> None:
    """A LUKS1 mapping (key in dm-crypt) resizes without a passphrase; its undo is replayable from the journal."""
    reply(fake_runner, ["cryptsetup", "status", "--", "rec-luks1"], rec("status-luks1"))
    fake_runner.expect(["cryptsetup", "resize", ...])
    empty_mapping(fake_runner, "rec-luks1")
    r = ops.resize("rec-luks1", 32 * 1024**2)
    assert fake_runner.calls[-1] == ("cryptsetup", "resize", "--size", "65536", "--", "rec-luks1")
    backing_luks(fake_runner, rec, "luksDump-luks1", None)
    uuid = facts.dump("/dev/loop0").uuid
    undo = spec_of(ops.resize).undo_for(r, {"name": "rec-luks1", "size": 32 * 1024**2, "passphrase": None})
    assert undo.to_json() == {"op": "crypt.resize", "args": ["rec-luks1", 65011712],
                              "kwargs": {"passphrase": None}, "replayable": True,
                              "identity": {"uuid": uuid, "boot_id": fake_runner.boot_id()}}


@pytest.mark.parametrize("size", ["abc", -512, 1000, 0, "1.5", "100b", True])
def test_resize_bad_size_runs_nothing(fake_runner, size) -> None:
    """Sizes that are not whole 512-byte sectors are refused before any command."""
    with pytest.raises(ValidationError):
        ops.resize("x", size)
    assert fake_runner.calls == []


# --- add_key ↔ remove_key --------------------------------------------------------------------------------------------


def test_add_key_line_mode_and_inverse_kills_the_slot(fake_runner, rec, dev) -> None:
    """Both passphrases go as stdin lines; the result names the slot; the inverse kills it without a passphrase."""
    dump_replies(fake_runner, rec, dev, "luksDump-luks2", "luksDump-json-luks2")
    fake_runner.expect(["cryptsetup", "luksAddKey", ...])
    with get_settings().override(**FAST):
        added = ops.add_key(dev, PW, NEW, slot=7)
    assert fake_runner.calls[-1] == ("cryptsetup", "luksAddKey", "--batch-mode", "--key-slot", "7", "--pbkdf",
                                     "pbkdf2", "--pbkdf-force-iterations", "1000", "--", dev)
    assert fake_runner.inputs[-1] == f"{PW}\n{NEW}\n".encode()
    assert (added.device, added.slot) == (dev, 7)
    # the header now has slots 0 and 7 (recorded from a real header with exactly those)
    dump_replies(fake_runner, rec, dev, "luksDump-luks2-label-argon2id-two-keyslots",
                 "luksDump-json-luks2-label-argon2id-two-keyslots")
    undo = spec_of(ops.add_key).undo_for(added, {})
    assert undo.to_json() == {"op": "crypt.remove_key", "args": [dev, 7], "kwargs": {}, "replayable": True,
                              "identity": {"uuid": added.uuid}}
    assert added.uuid == "9ee13460-8717-40a8-9df1-52aa3af9ecc8"  # the LUKS UUID read before luksAddKey
    fake_runner.expect(["cryptsetup", "luksKillSlot", ...])
    undo()
    assert fake_runner.calls[-1] == ("cryptsetup", "luksKillSlot", "--batch-mode", "--", dev, "7")
    assert fake_runner.inputs[-1] is None


def test_add_key_picks_first_free_slot_luks1(fake_runner, rec, dev) -> None:
    """Without a slot the first free one is used (LUKS1: slots 0 and 5 used → 1); LUKS1 gets no --pbkdf."""
    dump_replies(fake_runner, rec, dev, "luksDump-luks1-two-keyslots")
    fake_runner.expect(["cryptsetup", "luksAddKey", ...])
    with get_settings().override(**FAST):
        assert ops.add_key(dev, PW, NEW).slot == 1
    assert fake_runner.calls[-1] == ("cryptsetup", "luksAddKey", "--batch-mode", "--key-slot", "1",
                                     "--pbkdf-force-iterations", "1000", "--", dev)


def test_add_key_existing_key_file(fake_runner, rec, dev, tmp_path) -> None:
    """An existing KeyFile is given by path; the new passphrase is the only stdin line."""
    key = tmp_path / "old.key"
    key.write_text(PW)
    dump_replies(fake_runner, rec, dev, "luksDump-luks2", "luksDump-json-luks2")
    fake_runner.expect(["cryptsetup", "luksAddKey", ...])
    ops.add_key(dev, KeyFile(str(key)), NEW)
    assert fake_runner.calls[-1][-4:] == ("--key-file", str(key), "--", dev)
    assert fake_runner.inputs[-1] == f"{NEW}\n".encode()


def test_add_key_multiline_new_key_travels_in_memory(fake_runner, rec, dev) -> None:
    """A new key that cannot be a stdin line reaches cryptsetup as /dev/fd/N of an in-memory file (a memfd): it
    never exists on a filesystem, so nothing is left to find even after kill -9."""
    dump_replies(fake_runner, rec, dev, "luksDump-luks2", "luksDump-json-luks2")
    fake_runner.expect(["cryptsetup", "luksAddKey", ...])
    ops.add_key(dev, PW, "two\nlines")
    argv = fake_runner.calls[-1]
    assert argv[-3:] == ("--", dev, "/dev/fd/3") and "--key-file=-" in argv
    assert fake_runner.inputs[-1] == PW.encode()
    assert fake_runner.files[-1] == (b"two\nlines",)


def test_add_key_into_used_slot_is_refused(fake_runner, rec, dev) -> None:
    """Slot 0 holds a key: refused after the read-only dump, before luksAddKey."""
    dump_replies(fake_runner, rec, dev, "luksDump-luks2", "luksDump-json-luks2")
    with pytest.raises(ValidationError, match="already holds a key"):
        ops.add_key(dev, PW, NEW, slot=0)
    with pytest.raises(ValidationError, match="slots 0 to 31"):
        ops.add_key(dev, PW, NEW, slot=32)
    assert {c[1] for c in fake_runner.calls} == {"luksDump"}


@pytest.mark.parametrize("args", [("", NEW), (PW, ""), (PW, NEW, -1), (PW, NEW, True)])
def test_add_key_bad_input_runs_nothing(fake_runner, dev, args) -> None:
    """Empty passphrases and bad slot numbers are refused before any command."""
    with pytest.raises(ValidationError):
        ops.add_key(dev, *args[:2], slot=args[2] if len(args) > 2 else None)
    assert fake_runner.calls == []


def test_remove_key_refuses_last_slot(fake_runner, rec, dev) -> None:
    """Killing the only key would make the data unreadable (cryptsetup --batch-mode would do it): refused."""
    dump_replies(fake_runner, rec, dev, "luksDump-luks1")
    with pytest.raises(ValidationError, match="last key"):
        ops.remove_key(dev, 0)
    with pytest.raises(NotFoundError, match="holds no key"):
        ops.remove_key(dev, 3)
    assert {c[1] for c in fake_runner.calls} == {"luksDump"}


def test_remove_key_is_irreversible(fake_runner, dev) -> None:
    """remove_key is irreversible on its device, so an atomic block refuses it on a device it did not create."""
    assert spec_of(ops.remove_key).irreversible and spec_of(ops.remove_key).target == "device"
    with pytest.raises(IrreversibleOperationError), Atomic() as atomic:
        atomic.crypt.remove_key(dev, 1)
    assert fake_runner.calls == []


def test_dump_of_non_luks_device_is_typed(fake_runner, rec, dev) -> None:
    """The recorded 'is not a valid LUKS device' is NotLuksError (a ValidationError)."""
    reply(fake_runner, ["cryptsetup", "luksDump", "--", dev], rec("luksDump-not-luks"))
    with pytest.raises(NotLuksError):
        facts.dump(dev)


def test_dump_luks2_merges_text_and_json(fake_runner, rec, dev) -> None:
    """LUKS2: key slots from the JSON metadata, UUID and label from the text dump."""
    dump_replies(fake_runner, rec, dev, "luksDump-luks2-label-argon2id-two-keyslots",
                 "luksDump-json-luks2-label-argon2id-two-keyslots")
    header = facts.dump(dev)
    assert header.uuid == "198e881b-ef32-4801-89fa-f68f84c2386c" and header.label == "rec label"
    assert header.active_keyslots == (0, 7) and header.digests[0].segments == (0,)


def test_dump_luks1_runs_text_only(fake_runner, rec, dev) -> None:
    """LUKS1 has no JSON metadata: one command."""
    dump_replies(fake_runner, rec, dev, "luksDump-luks1")
    assert facts.dump(dev).version is LuksVersion.LUKS1
    assert len(fake_runner.calls) == 1


# --- header backup / restore -----------------------------------------------------------------------------------------


def test_header_backup_and_inverse(fake_runner, rec, dev, tmp_path) -> None:
    """header_backup writes a new file; its inverse deletes it after checking it is a LUKS header."""
    target = str(tmp_path / "hdr.bin")
    fake_runner.expect(["cryptsetup", "luksHeaderBackup", ...],
                       effect=lambda argv, data: Path(target).write_bytes(b"x"))  # the fake writes the file
    b = ops.header_backup(dev, target)
    assert fake_runner.calls[-1] == ("cryptsetup", "luksHeaderBackup", "--header-backup-file", target, "--", dev)
    fake_runner.expect(["cryptsetup", "isLuks", "--", target]).expect(["rm", "-f", "--", target])
    dump_replies(fake_runner, rec, target, "luksDump-luks2", "luksDump-json-luks2")
    inverse = spec_of(ops.header_backup).undo_for(b, {})
    info = os.stat(target)
    assert inverse.identity == {"uuid": facts.dump(target).uuid, "inode": f"{info.st_dev}:{info.st_ino}"}
    inverse()
    assert fake_runner.calls[-2:] == [("cryptsetup", "isLuks", "--", target), ("rm", "-f", "--", target)]


def test_remove_header_backup_refuses_other_files(fake_runner, tmp_path) -> None:
    """An undo never deletes a file that is not a LUKS header."""
    other = tmp_path / "precious"
    other.write_text("data")
    fake_runner.expect(["cryptsetup", "isLuks", "--", str(other)], returncode=1)
    with pytest.raises(ValidationError, match="not a LUKS header"):
        ops.remove_header_backup(str(other))
    assert ("rm", "-f", "--", str(other)) not in fake_runner.calls


def test_header_backup_existing_file_refused(fake_runner, dev, tmp_path) -> None:
    """cryptsetup refuses to overwrite (recorded); pybofh says so before running it."""
    existing = tmp_path / "hdr.bin"
    existing.write_bytes(b"")
    with pytest.raises(ValidationError, match="already exists"):
        ops.header_backup(dev, str(existing))
    with pytest.raises(NotFoundError):
        ops.header_backup(dev, str(tmp_path / "nodir" / "hdr.bin"))
    assert fake_runner.calls == []


def test_header_restore_argv(fake_runner, rec, dev, tmp_path) -> None:
    """header_restore is irreversible and runs luksHeaderRestore in batch mode, after checking the device holds the
    backup's own LUKS volume (same UUID); another LUKS volume there is refused without force."""
    from pybofh_core.errors import DataAtRiskError

    backup = tmp_path / "hdr.bin"
    backup.write_bytes(b"")
    for path in (str(backup), dev):
        fake_runner.expect(["cryptsetup", "isLuks", "--", path])
    dump_replies(fake_runner, rec, str(backup), "luksDump-luks2", "luksDump-json-luks2")
    dump_replies(fake_runner, rec, dev, "luksDump-luks2", "luksDump-json-luks2")
    fake_runner.expect(["cryptsetup", "luksHeaderRestore", ...])
    ops.header_restore(dev, str(backup))
    assert fake_runner.calls[-1] == ("cryptsetup", "luksHeaderRestore", "--batch-mode", "--header-backup-file",
                                     str(backup), "--", dev)
    assert spec_of(ops.header_restore).irreversible
    dump_replies(fake_runner, rec, dev, "luksDump-luks1")  # now another LUKS volume is on the device
    fake_runner.calls.clear()
    with pytest.raises(DataAtRiskError, match=r"holds LUKS .* not LUKS .* of the backup"):
        ops.header_restore(dev, str(backup))
    assert all(c[1] != "luksHeaderRestore" for c in fake_runner.calls)


# --- secrets and registration ----------------------------------------------------------------------------------------


def test_plain_str_passphrase_never_reaches_journal_or_logs(fake_runner, rec, dev, journal_dir, caplog) -> None:
    """A passphrase given as a plain str is wrapped before the block journals the call; logs are scrubbed."""
    caplog.set_level(logging.DEBUG)
    secret = "plain-str-passphrase-9876"
    new = "another-plain-secret-5432"
    dump_replies(fake_runner, rec, dev, "luksDump-luks2", "luksDump-json-luks2")
    fake_runner.expect(["cryptsetup", "isLuks", "--", dev])  # identities: the LUKS UUID of the device
    fake_runner.expect(["cryptsetup", "luksAddKey", ...]).expect(["cryptsetup", "open", ...])
    with pytest.raises(RuntimeError), Atomic() as atomic:
        atomic.crypt.add_key(dev, secret, new, slot=7)
        atomic.crypt.open(dev, "m1", secret)
        reply(fake_runner, ["cryptsetup", "status", "--", "m1"], rec("status-luks2"))  # open over /dev/loop0
        backing_luks(fake_runner, rec)  # the header m1 was opened over (its UUID is the mapping's identity)
        fake_runner.paths[dev] = "file"
        fake_runner.expect(["cryptsetup", "close", ...]).expect(["cryptsetup", "luksKillSlot", ...])
        raise RuntimeError("boom")
    assert ("cryptsetup", "close", "--", "m1") in fake_runner.calls
    journal = "".join(p.read_text() for p in journal_dir.glob("*.jsonl"))
    assert journal and secret not in journal and new not in journal
    assert secret not in caplog.text and new not in caplog.text
    assert all(secret not in a and new not in a for argv in fake_runner.calls for a in argv)


def test_dry_run_plan_shows_stdin_not_secret(fake_runner, rec, dev) -> None:
    """A dry run lists the command with '<stdin', never the passphrase."""
    dump_replies(fake_runner, rec, dev, "luksDump-luks2", "luksDump-json-luks2")
    with Atomic(dry_run=True) as atomic:
        atomic.crypt.add_key(dev, PW, NEW)
    text = atomic.format_plan()
    assert "luksAddKey" in text and "<stdin" in text and PW not in text and NEW not in text
    assert "crypt.remove_key" in text


def test_every_operation_has_inverse_or_reason() -> None:
    """Each crypt operation declares an inverse or why it is irreversible."""
    from pybofh_core.session import get_plugins

    specs = list(get_plugins().operations.specs("crypt"))
    assert {s.name for s in specs} >= {"format", "open", "close", "resize", "add_key", "remove_key",
                                       "header_backup", "header_restore"}
    for s in specs:
        assert (s.inverse is None) != (s.irreversible is None), s.name
    reg = get_plugins().operations
    assert reg.get("crypt.create_encrypted") is reg.get("crypt.format")
    assert reg.get("crypt.open_encrypted") is reg.get("crypt.open")
