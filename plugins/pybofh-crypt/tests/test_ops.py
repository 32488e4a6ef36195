"""Operations with a fake runner replaying real cryptsetup recordings: argv of each operation and of its inverse,
validation before any command, error translation, and secrets kept out of argv, logs and the journal."""

from __future__ import annotations

import logging
import os
import stat
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
from pybofh_core.settings import get_settings
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
    fake.expect(argv, stdout=recording.stdout, stderr=recording.stderr, returncode=recording.rc)


def dump_replies(fake, rec, dev: str, text: str, json: str | None = None) -> None:
    reply(fake, ["cryptsetup", "luksDump", "--", dev], rec(text))
    if json:
        reply(fake, ["cryptsetup", "luksDump", "--dump-json-metadata", "--", dev], rec(json))


# --- format ----------------------------------------------------------------------------------------------------------


def test_format_luks2_argv_from_settings(fake_runner, dev) -> None:
    """format builds its options from the crypt settings and sends the passphrase on stdin only."""
    fake_runner.expect(["cryptsetup", "luksFormat", ...])
    with get_settings().override(**FAST):
        result = ops.format(dev, PW, label="data")
    assert fake_runner.calls == [(
        "cryptsetup", "luksFormat", "--batch-mode", "--type", "luks2", "--cipher", "aes-xts-plain64",
        "--key-size", "512", "--hash", "sha256", "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000",
        "--label", "data", "--key-file=-", "--", dev)]
    assert fake_runner.inputs == [PW.encode()]
    assert (result.version, result.key_bits, result.label) == (LuksVersion.LUKS2, 512, "data")


def test_format_luks2_argon2_defaults(fake_runner, dev) -> None:
    """Without overrides LUKS2 uses argon2id and lets cryptsetup benchmark; memory/threads come from settings."""
    fake_runner.expect(["cryptsetup", "luksFormat", ...])
    with get_settings().override(crypt__pbkdf_memory=65536, crypt__pbkdf_parallel=2, crypt__iter_time=500):
        ops.format(dev, Secret(PW), sector_size=4096)
    argv = fake_runner.calls[0]
    assert argv[argv.index("--pbkdf"):argv.index("--key-file=-")] == (
        "--pbkdf", "argon2id", "--pbkdf-memory", "65536", "--pbkdf-parallel", "2", "--iter-time", "500",
        "--sector-size", "4096")


def test_format_luks1_argv(fake_runner, dev) -> None:
    """LUKS1 gets no --pbkdf (always pbkdf2) and keeps the iteration setting."""
    fake_runner.expect(["cryptsetup", "luksFormat", ...])
    with get_settings().override(**FAST):
        ops.format(dev, PW, luks_type="luks1", key_size=256, cipher="aes-cbc-essiv:sha256")
    assert fake_runner.calls[0] == (
        "cryptsetup", "luksFormat", "--batch-mode", "--type", "luks1", "--cipher", "aes-cbc-essiv:sha256",
        "--key-size", "256", "--hash", "sha256", "--pbkdf-force-iterations", "1000", "--key-file=-", "--", dev)


def test_format_with_key_file_passes_the_path(fake_runner, dev, tmp_path) -> None:
    """A KeyFile goes to cryptsetup by path; nothing on stdin."""
    key = tmp_path / "k"
    key.write_bytes(b"\x00binary\nkey")
    fake_runner.expect(["cryptsetup", "luksFormat", ...])
    ops.format(dev, KeyFile(str(key)))
    assert fake_runner.calls[0][-4:] == ("--key-file", str(key), "--", dev)
    assert fake_runner.inputs == [None]


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


def test_open_argv_and_inverse_close(fake_runner, dev) -> None:
    """open sends the key on stdin; its inverse closes the mapping by name."""
    fake_runner.expect(["cryptsetup", "open", ...]).expect(["cryptsetup", "close", ...])
    m = ops.open(dev, "secret-data", PW, readonly=True, allow_discards=True, keyring=False)
    assert fake_runner.calls[0] == ("cryptsetup", "open", "--type", "luks", "--readonly", "--allow-discards",
                                    "--disable-keyring", "--key-file=-", "--", dev, "secret-data")
    assert fake_runner.inputs[0] == PW.encode()
    assert (m.name, m.path, m.device) == ("secret-data", "/dev/mapper/secret-data", dev)
    undo = spec_of(ops.open).undo_for(m, {"device": dev, "name": "secret-data"})
    undo()
    assert fake_runner.calls[1] == ("cryptsetup", "close", "--", "secret-data")
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


def test_open_rollback_in_atomic_block_closes(fake_runner, dev, journal_dir) -> None:
    """A failing block closes what it opened; the journal holds neither the passphrase nor a usable copy of it."""
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
    r = ops.resize("rec-luks2", "8M", passphrase=PW)
    assert fake_runner.calls[-1] == ("cryptsetup", "resize", "--size", "16384", "--key-file=-", "--", "rec-luks2")
    assert fake_runner.inputs[-1] == PW.encode()
    assert (r.old_size, r.new_size) == (50331648, 8 * 1024**2)
    undo = spec_of(ops.resize).undo_for(r, {"name": "rec-luks2", "size": "8M", "passphrase": Secret(PW)})
    assert undo.to_json()["replayable"] is False  # carries the passphrase: in-process rollback only
    undo()
    assert fake_runner.calls[-1] == ("cryptsetup", "resize", "--size", "98304", "--key-file=-", "--", "rec-luks2")


def test_resize_keyring_without_passphrase_is_refused(fake_runner, rec) -> None:
    """cryptsetup would fail (recorded: 'Nothing to read on input.'); pybofh says what to do before trying."""
    reply(fake_runner, ["cryptsetup", "status", "--", "rec-luks2"], rec("status-luks2"))
    with pytest.raises(ValidationError, match="keyring"):
        ops.resize("rec-luks2", "8M")
    assert all(c[1] == "status" for c in fake_runner.calls)


def test_resize_dm_crypt_key_needs_no_passphrase_and_undo_replays(fake_runner, rec) -> None:
    """A LUKS1 mapping (key in dm-crypt) resizes without a passphrase; its undo is replayable from the journal."""
    reply(fake_runner, ["cryptsetup", "status", "--", "rec-luks1"], rec("status-luks1"))
    fake_runner.expect(["cryptsetup", "resize", ...])
    r = ops.resize("rec-luks1", 32 * 1024**2)
    assert fake_runner.calls[-1] == ("cryptsetup", "resize", "--size", "65536", "--", "rec-luks1")
    undo = spec_of(ops.resize).undo_for(r, {"name": "rec-luks1", "size": 32 * 1024**2, "passphrase": None})
    assert undo.to_json() == {"op": "crypt.resize", "args": ["rec-luks1", 65011712],
                              "kwargs": {"passphrase": None}, "replayable": True}


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
    assert undo.to_json() == {"op": "crypt.remove_key", "args": [dev, 7], "kwargs": {}, "replayable": True}
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


def test_add_key_multiline_new_key_uses_private_temp_file(fake_runner, rec, dev) -> None:
    """A new key that cannot be a stdin line travels in a 0600 file in a 0700 dir, removed afterwards."""
    seen: dict[str, object] = {}

    def inspect(argv, data) -> None:
        path = argv[-1]
        seen["path"], seen["content"] = path, Path(path).read_bytes()
        seen["mode"] = stat.S_IMODE(os.stat(path).st_mode)
        seen["dir_mode"] = stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode)

    dump_replies(fake_runner, rec, dev, "luksDump-luks2", "luksDump-json-luks2")
    fake_runner.expect(["cryptsetup", "luksAddKey", ...], effect=inspect)
    ops.add_key(dev, PW, "two\nlines")
    argv = fake_runner.calls[-1]
    assert argv[-3:-1] == ("--", dev) and "--key-file=-" in argv
    assert fake_runner.inputs[-1] == PW.encode()
    assert seen["content"] == b"two\nlines" and seen["mode"] == 0o600 and seen["dir_mode"] == 0o700
    assert not os.path.exists(str(seen["path"])) and not os.path.exists(os.path.dirname(str(seen["path"])))


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


def test_header_backup_and_inverse(fake_runner, dev, tmp_path) -> None:
    """header_backup writes a new file; its inverse deletes it after checking it is a LUKS header."""
    target = str(tmp_path / "hdr.bin")
    fake_runner.expect(["cryptsetup", "luksHeaderBackup", ...])
    b = ops.header_backup(dev, target)
    assert fake_runner.calls[-1] == ("cryptsetup", "luksHeaderBackup", "--header-backup-file", target, "--", dev)
    Path(target).write_bytes(b"x")  # the fake did not write it
    fake_runner.expect(["cryptsetup", "isLuks", "--", target]).expect(["rm", "-f", "--", target])
    spec_of(ops.header_backup).undo_for(b, {})()
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


def test_header_restore_argv(fake_runner, dev, tmp_path) -> None:
    """header_restore is irreversible and runs luksHeaderRestore in batch mode."""
    backup = tmp_path / "hdr.bin"
    backup.write_bytes(b"")
    fake_runner.expect(["cryptsetup", "luksHeaderRestore", ...])
    ops.header_restore(dev, str(backup))
    assert fake_runner.calls == [("cryptsetup", "luksHeaderRestore", "--batch-mode", "--header-backup-file",
                                  str(backup), "--", dev)]
    assert spec_of(ops.header_restore).irreversible


# --- secrets and registration ----------------------------------------------------------------------------------------


def test_plain_str_passphrase_never_reaches_journal_or_logs(fake_runner, rec, dev, journal_dir, caplog) -> None:
    """A passphrase given as a plain str is wrapped before the block journals the call; logs are scrubbed."""
    caplog.set_level(logging.DEBUG)
    secret = "plain-str-passphrase-9876"
    new = "another-plain-secret-5432"
    dump_replies(fake_runner, rec, dev, "luksDump-luks2", "luksDump-json-luks2")
    fake_runner.expect(["cryptsetup", "luksAddKey", ...]).expect(["cryptsetup", "open", ...])
    with pytest.raises(RuntimeError), Atomic() as atomic:
        atomic.crypt.add_key(dev, secret, new, slot=7)
        atomic.crypt.open(dev, "m1", secret)
        dump_replies(fake_runner, rec, dev, "luksDump-luks2-label-argon2id-two-keyslots",
                     "luksDump-json-luks2-label-argon2id-two-keyslots")
        fake_runner.expect(["cryptsetup", "close", ...]).expect(["cryptsetup", "luksKillSlot", ...])
        raise RuntimeError("boom")
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
    from pybofh_core.plugins import get_host

    specs = list(get_host().operations.specs("crypt"))
    assert {s.name for s in specs} >= {"format", "open", "close", "resize", "add_key", "remove_key",
                                       "header_backup", "header_restore"}
    for s in specs:
        assert (s.inverse is None) != (s.irreversible is None), s.name
    reg = get_host().operations
    assert reg.get("crypt.create_encrypted") is reg.get("crypt.format")
    assert reg.get("crypt.open_encrypted") is reg.get("crypt.open")
