"""The LUKS layer (probe hook, overhead from the header, open/resize with provided keys), key providers, and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pybofh_core.cli import app
from pybofh_core.secret import Secret
from pybofh_core.session import get_plugins, get_settings
from pybofh_crypt import keys
from pybofh_crypt import pybofh_probe_layer as probe_hook
from pybofh_crypt.errors import KeyNotFoundError
from pybofh_crypt.layers import LuksLayer
from pybofh_crypt.types import KeyFile

PW = "layer passphrase"


@pytest.fixture
def dev(tmp_path: Path) -> str:
    """An existing path standing in for the LUKS device."""
    path = tmp_path / "disk.img"
    path.write_bytes(b"")
    return str(path)


def reply(fake, argv, recording) -> None:
    fake.expect(argv, stdout=recording.stdout, stderr=recording.stderr, returncode=recording.returncode)


@pytest.mark.parametrize("probe, expected", [
    ({"TYPE": "crypto_LUKS", "VERSION": "2", "UUID": "u"}, "luks2"),
    ({"TYPE": "crypto_LUKS", "VERSION": "1"}, "luks1"),
    ({"TYPE": "crypto_LUKS"}, "luks"),
    ({"TYPE": "crypto_LUKS", "VERSION": "3"}, None),
    ({"TYPE": "ext4"}, None),
    ({}, None),
])
def test_probe_hook(probe, expected) -> None:
    """crypto_LUKS version 1/2 (or unknown) gives a LuksLayer; anything else is 'not mine'."""
    layer = probe_hook("/dev/x", probe)
    assert (layer.kind if layer else None) == expected
    if layer:
        assert isinstance(layer, LuksLayer) and layer.container


def test_probe_hook_is_registered() -> None:
    """Through the plugin manager, a LUKS probe answers with this plugin's layer."""
    layer = get_plugins().pm.hook.pybofh_probe_layer(device="/dev/x", probe={"TYPE": "crypto_LUKS", "VERSION": "2"})
    assert isinstance(layer, LuksLayer)


@pytest.mark.parametrize("text, json, overhead, granularity", [
    ("luksDump-luks2", "luksDump-json-luks2", 16 * 1024**2, 512),
    ("luksDump-luks1", None, 2 * 1024**2, 512),
])
def test_overhead_and_granularity_come_from_the_header(fake_runner, rec, dev, text, json, overhead,
                                                        granularity) -> None:
    """The layer reads the data offset and sector size from luksDump (recorded), not from constants."""
    reply(fake_runner, ["cryptsetup", "luksDump", "--", dev], rec(text))
    if json:
        reply(fake_runner, ["cryptsetup", "luksDump", "--dump-json-metadata", "--", dev], rec(json))
    layer = LuksLayer(dev, {"TYPE": "crypto_LUKS"})
    assert (layer.overhead, layer.granularity) == (overhead, granularity)
    assert layer.name == f"luks-{layer.header.uuid}"
    calls = len(fake_runner.calls)
    assert layer.overhead == overhead and len(fake_runner.calls) == calls  # header read once per layer


def test_layer_open_uses_provided_key(fake_runner, rec, dev) -> None:
    """open() asks the key providers, then opens the mapping with the key on stdin."""
    reply(fake_runner, ["cryptsetup", "status", "--", "rec-absent"], rec("status-inactive"))
    fake_runner.expect(["cryptsetup", "open", ...])
    fake_runner.expect(["cryptsetup", "isLuks", "--", dev], returncode=1)  # open's read-back of the LUKS UUID
    layer = LuksLayer(dev, {"TYPE": "crypto_LUKS", "VERSION": "2", "UUID": "abc"}, name="rec-absent")
    with keys.provide(PW, uuid="ABC"):
        assert layer.open() == "/dev/mapper/rec-absent"
    opened = ("cryptsetup", "open", "--type", "luks", "--key-file=-", "--", dev, "rec-absent")
    assert opened in fake_runner.calls
    assert fake_runner.inputs[fake_runner.calls.index(opened)] == PW.encode()


def test_layer_open_without_key_says_how(fake_runner, rec, dev) -> None:
    """No provider and no key_dir: a KeyNotFoundError naming the device and the ways to give a key."""
    reply(fake_runner, ["cryptsetup", "status", "--", "rec-absent"], rec("status-inactive"))
    layer = LuksLayer(dev, {"TYPE": "crypto_LUKS", "UUID": "abc"}, name="rec-absent")
    with keys.provide(PW, uuid="other"), pytest.raises(KeyNotFoundError, match=r"keys\.provide"):
        layer.open()
    assert all(c[1] == "status" for c in fake_runner.calls)


def test_layer_open_reuses_open_mapping(fake_runner, rec) -> None:
    """A mapping already open over the same device is reused, not opened twice."""
    reply(fake_runner, ["cryptsetup", "status", "--", "rec-luks2"], rec("status-luks2"))
    layer = LuksLayer("/dev/loop0", {"TYPE": "crypto_LUKS"}, name="rec-luks2")
    assert layer.open() == "/dev/mapper/rec-luks2"
    assert layer.inner == "/dev/mapper/rec-luks2"
    assert {c[1] for c in fake_runner.calls} == {"status"}


def test_layer_resize_passes_key_for_keyring_mapping(fake_runner, rec, pybofh_recordings) -> None:
    """A LUKS2 mapping with its key in the keyring is resized with the layer's key on stdin."""
    reply(fake_runner, ["cryptsetup", "status", "--", "rec-luks2"], rec("status-luks2"))
    fake_runner.expect(["cryptsetup", "resize", ...])
    fake_runner.expect(["blkid", "-p", "-o", "export", "--", "/dev/mapper/rec-luks2"], returncode=2)  # the shrink
    reply(fake_runner, ["wipefs", "--no-act", "--json", "--", "/dev/mapper/rec-luks2"],  # check: nothing in it
          pybofh_recordings.get("util-linux", "wipefs-json-empty-file", "2.38.1"))
    layer = LuksLayer("/dev/loop0", {"TYPE": "crypto_LUKS"}, name="rec-luks2", key=Secret(PW))
    layer.resize(8 * 1024**2)
    assert fake_runner.calls[-1] == ("cryptsetup", "resize", "--size", "16384", "--key-file=-", "--", "rec-luks2")
    assert fake_runner.inputs[-1] == PW.encode()


def test_layer_resize_dm_crypt_mapping_needs_no_key(fake_runner, rec) -> None:
    """A LUKS1 mapping (key in dm-crypt) is resized without asking for a key."""
    reply(fake_runner, ["cryptsetup", "status", "--", "rec-luks1"], rec("status-luks1"))
    fake_runner.expect(["cryptsetup", "resize", ...])
    LuksLayer("/dev/loop0", {"TYPE": "crypto_LUKS"}, name="rec-luks1").resize(None)
    resizes = [c for c in fake_runner.calls if c[1] == "resize"]
    assert resizes == [("cryptsetup", "resize", "--", "rec-luks1")]
    assert fake_runner.calls[-1][1] == "status"  # the new size is read back


def test_layer_resize_closed(fake_runner, rec) -> None:
    """A closed LUKS device already spans its device (None is a no-op); a size needs it open."""
    reply(fake_runner, ["cryptsetup", "status", "--", "rec-absent"], rec("status-inactive"))
    layer = LuksLayer("/dev/loop0", {"TYPE": "crypto_LUKS"}, name="rec-absent")
    layer.resize(None)
    with pytest.raises(ValueError, match="not open"):
        layer.resize(4096)


# --- keys ------------------------------------------------------------------------------------------------------------


def test_providers_innermost_first_and_filters(tmp_path) -> None:
    """The innermost matching provider wins; device/uuid filters apply; callbacks are asked."""
    with keys.provide("outer"):
        assert keys.lookup("/dev/a", "u1").reveal() == "outer"
        with keys.provide("only-u2", uuid="u2"), keys.provide(callback=lambda d, u: "cb" if d == "/dev/b" else None):
            assert keys.lookup("/dev/a", "u2").reveal() == "only-u2"
            assert keys.lookup("/dev/b", "u1").reveal() == "cb"
            assert keys.lookup("/dev/a", "u1").reveal() == "outer"
    with pytest.raises(KeyNotFoundError):
        keys.lookup("/dev/a", "u1")
    with pytest.raises(TypeError):
        keys.provide().__enter__()


def test_key_dir_gives_key_file(tmp_path) -> None:
    """With crypt.key_dir set, a file named after the LUKS UUID is used by path."""
    (tmp_path / "1234-uuid").write_bytes(b"k")
    with get_settings().override(crypt__key_dir=str(tmp_path)):
        assert keys.lookup("/dev/a", "1234-uuid") == KeyFile(str(tmp_path / "1234-uuid"))
        with pytest.raises(KeyNotFoundError, match="key_dir"):
            keys.lookup("/dev/a", "other")


# --- CLI -------------------------------------------------------------------------------------------------------------


def test_cli_open_prompts_hidden_and_sends_stdin(fake_runner, rec, dev) -> None:
    """The passphrase comes from the prompt (not argv), goes to stdin, and is not echoed. The open is a step of the
    command's atomic block, so its undo (close) is identified by the LUKS UUID read first (recorded luksDump)."""
    fake_runner.expect(["cryptsetup", "isLuks", "--", dev])
    for argv, case in ((["cryptsetup", "luksDump", "--", dev], "luksDump-luks2"),
                       (["cryptsetup", "luksDump", "--dump-json-metadata", "--", dev], "luksDump-json-luks2")):
        reply(fake_runner, argv, rec(case))
    fake_runner.expect(["cryptsetup", "open", ...])
    result = CliRunner().invoke(app, ["crypt", "open", dev, "cli-map"], input=f"{PW}\n")
    assert result.exit_code == 0, result.output
    opens = [c for c in fake_runner.calls if c[1] == "open"]
    assert opens == [("cryptsetup", "open", "--type", "luks", "--key-file=-", "--", dev, "cli-map")]
    assert [i for i in fake_runner.inputs if i] == [PW.encode()]
    assert PW not in result.output and "/dev/mapper/cli-map" in result.output


def test_cli_format_key_file_and_confirmation(fake_runner, dev, tmp_path, pybofh_recordings) -> None:
    """format asks before destroying data unless --yes; --key-file passes the path."""
    key = tmp_path / "k"
    key.write_bytes(b"secret")
    result = CliRunner().invoke(app, ["crypt", "format", dev, "--key-file", str(key)], input="n\n")
    assert result.exit_code != 0 and fake_runner.calls == []
    reply(fake_runner, ["wipefs", "--no-act", "--json", "--", dev],
          pybofh_recordings.get("util-linux", "wipefs-json-empty-file", "2.38.1"))
    reply(fake_runner, ["losetup", "--list", "--json", "-O", "NAME", "-j", dev],
          pybofh_recordings.get("util-linux", "losetup-json-no-loop", "2.38.1"))
    fake_runner.expect(["cryptsetup", "luksFormat", ...])
    with get_settings().override(crypt__pbkdf="pbkdf2", crypt__pbkdf_force_iterations=1000):
        result = CliRunner().invoke(app, ["--json", "crypt", "format", dev, "--key-file", str(key), "--yes",
                                          "--type", "luks1"])
    assert result.exit_code == 0, result.output
    assert fake_runner.calls[-1][-4:] == ("--key-file", str(key), "--", dev)
    assert '"version": 1' in result.output


def test_cli_add_key_and_dump(fake_runner, rec, dev) -> None:
    """add-key prompts for both passphrases (the new one twice); dump prints the header and its key slots."""
    for argv, case in ((["cryptsetup", "luksDump", "--", dev], "luksDump-luks2"),
                       (["cryptsetup", "luksDump", "--dump-json-metadata", "--", dev], "luksDump-json-luks2")):
        reply(fake_runner, argv, rec(case))
    fake_runner.expect(["cryptsetup", "luksAddKey", ...])
    result = CliRunner().invoke(app, ["crypt", "add-key", dev], input="old-pw\nnew-pw\nnew-pw\n")
    assert result.exit_code == 0, result.output
    assert fake_runner.inputs[-1] == b"old-pw\nnew-pw\n"
    result = CliRunner().invoke(app, ["crypt", "dump", dev])
    assert "9ee13460-8717-40a8-9df1-52aa3af9ecc8" in result.output and "16777216" in result.output


def test_cli_has_no_passphrase_option() -> None:
    """No command takes a passphrase as an argument value."""
    for cmd in ("format", "open", "add-key", "resize"):
        out = CliRunner().invoke(app, ["crypt", cmd, "--help"]).output.lower()
        assert "--passphrase" not in out and "--password" not in out
