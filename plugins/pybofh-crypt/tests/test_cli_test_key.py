"""``bofh crypt test-key`` for real on a LUKS loop device (checking a key needs no device-mapper), through the real
root command: text and ``--json``, a key from a file or the hidden prompt, exit 1 and one line when it does not fit."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pybofh_core.cli import app, main
from pybofh_core.session import get_settings
from pybofh_crypt import ops

pytestmark = pytest.mark.loopdev

PW = "test-key passphrase"
MIB = 1024**2


@pytest.fixture
def luks(loop_factory: Callable[..., str]) -> Iterator[str]:
    """A 32 MiB loop device formatted as LUKS2 with PW (cheap PBKDF: milliseconds per key slot)."""
    if shutil.which("cryptsetup", path="/usr/sbin:/sbin:/usr/bin:/bin") is None:
        pytest.skip("cryptsetup is not installed (Debian package cryptsetup-bin)")
    with get_settings().override(crypt__pbkdf="pbkdf2", crypt__pbkdf_force_iterations=1000):
        dev = loop_factory(32 * MIB)
        ops.format(dev, PW)
        yield dev


def key_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "key"
    path.write_text(text)
    path.chmod(0o600)
    return str(path)


def test_a_key_file_that_fits(luks: str, tmp_path: Path) -> None:
    key = key_file(tmp_path, PW)
    result = CliRunner().invoke(app, ["crypt", "test-key", luks, "--key-file", key])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"device   {luks}", "slot     -", "unlocks  yes"]
    result = CliRunner().invoke(app, ["--json", "crypt", "test-key", luks, "--key-file", key, "--slot", "0"])
    assert json.loads(result.output) == {"device": luks, "slot": 0, "unlocks": True}


def test_a_passphrase_from_the_prompt(luks: str) -> None:
    result = CliRunner().invoke(app, ["--json", "crypt", "test-key", luks], input=f"{PW}\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.split("\n", 1)[1])["unlocks"] is True  # after the prompt line
    assert PW not in result.output


def test_a_key_that_does_not_fit_exits_1(luks: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--json", "crypt", "test-key", luks, "--key-file", key_file(tmp_path, "wrong")])
    out, err = capsys.readouterr()
    assert info.value.code == 1
    assert json.loads(out) == {"device": luks, "slot": None, "unlocks": False}
    assert json.loads(err)["error"] == f"the key does not unlock {luks}"
    with pytest.raises(SystemExit) as info:
        main(["crypt", "test-key", luks, "--slot", "0", "--key-file", key_file(tmp_path, "wrong")])
    out, err = capsys.readouterr()
    assert info.value.code == 1 and out.splitlines()[-1] == "unlocks  no"
    assert err.splitlines() == [f"bofh: error: the key does not unlock key slot 0 of {luks}"]


def test_bad_input_exits_2_before_the_prompt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["crypt", "test-key", str(tmp_path / "nodev")])
    out, err = capsys.readouterr()
    assert (info.value.code, out, len(err.splitlines())) == (2, "", 1) and "Passphrase" not in err
