"""Real cryptsetup on loop devices of this host: header operations work without device-mapper (format, dump,
add/remove key, header backup/restore), rollback in-process and from the journal after kill -9, and no passphrase
ever shows in /proc/*/cmdline, /proc/*/environ, logs or the journal."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pybofh_core.atomic import Atomic
from pybofh_core.cli import app
from pybofh_core.errors import ToolUnavailableError, ValidationError
from pybofh_core.session import get_settings
from pybofh_crypt import facts, ops
from pybofh_crypt.layers import LuksLayer
from pybofh_crypt.types import LuksVersion

pytestmark = pytest.mark.loopdev

PW = "host-test passphrase 1"
NEW = "host-test passphrase 2"
FAST = {"crypt__pbkdf": "pbkdf2", "crypt__pbkdf_force_iterations": 1000}
MIB = 1024**2


@pytest.fixture(autouse=True)
def _needs_cryptsetup() -> None:
    import shutil

    if shutil.which("cryptsetup", path="/usr/sbin:/sbin:/usr/bin:/bin") is None:
        pytest.skip("cryptsetup is not installed (Debian package cryptsetup-bin)")


@pytest.fixture
def fast():
    """Cheap PBKDF settings so each key slot takes milliseconds."""
    with get_settings().override(**FAST) as s:
        yield s


@pytest.fixture
def luks(loop_factory, fast):
    """A 64 MiB loop device formatted as LUKS2 with PW."""
    dev = loop_factory(64 * MIB)
    ops.format(dev, PW)
    return dev


@pytest.mark.parametrize("kind, offset", [("luks1", 2 * MIB), ("luks2", 16 * MIB)])
def test_format_and_dump(loop_factory, fast, kind: str, offset: int) -> None:
    """A formatted loop device dumps as its version with the header size as data offset; the passphrase works."""
    dev = loop_factory(64 * MIB)
    ops.format(dev, PW, luks_type=kind)
    header = facts.dump(dev)
    assert header.version is (LuksVersion.LUKS1 if kind == "luks1" else LuksVersion.LUKS2)
    assert header.data_offset == offset and header.active_keyslots == (0,)
    assert header.cipher == "aes-xts-plain64" and header.key_bits == 512 and header.uuid
    assert facts.is_luks(dev)
    assert facts.test_passphrase(dev, PW) and not facts.test_passphrase(dev, "wrong")
    layer = LuksLayer(dev, {"TYPE": "crypto_LUKS", "VERSION": kind[-1]})
    assert layer.overhead == offset and layer.granularity == 512 and layer.name == f"luks-{header.uuid}"


def test_format_label_and_argon2(loop_factory) -> None:
    """argon2id with low forced costs from settings, and a LUKS2 label, reach the header."""
    dev = loop_factory(64 * MIB)
    with get_settings().override(crypt__pbkdf="argon2id", crypt__pbkdf_force_iterations=4,
                                 crypt__pbkdf_memory=32768, crypt__pbkdf_parallel=1):
        ops.format(dev, PW, label="my data")
    header = facts.dump(dev)
    assert header.label == "my data"
    slot = header.keyslots[0]
    assert (slot.pbkdf, slot.time_cost, slot.memory_kib, slot.threads) == ("argon2id", 4, 32768, 1)


def test_add_key_and_rollback_removes_it(luks) -> None:
    """add_key puts the new passphrase in the first free slot; a failing block kills exactly that slot."""
    with pytest.raises(RuntimeError), Atomic() as atomic:
        added = atomic.crypt.add_key(luks, PW, NEW)
        assert added.slot == 1 and facts.dump(luks).active_keyslots == (0, 1)
        assert facts.test_passphrase(luks, NEW, slot=1)
        raise RuntimeError("a later step failed")
    assert facts.dump(luks).active_keyslots == (0,)
    assert not facts.test_passphrase(luks, NEW) and facts.test_passphrase(luks, PW)


def test_add_key_multiline_new_key_via_temp_file(luks) -> None:
    """A new key with a newline travels in a private key file and works afterwards (exact bytes)."""
    added = ops.add_key(luks, PW, "line one\nline two", slot=5)
    assert added.slot == 5 and facts.test_passphrase(luks, "line one\nline two", slot=5)
    ops.remove_key(luks, 5)
    assert facts.dump(luks).active_keyslots == (0,)


def test_remove_key_refuses_the_last_slot(luks) -> None:
    """cryptsetup --batch-mode would wipe the last key; pybofh refuses, and the header is unchanged."""
    with pytest.raises(ValidationError, match="last key"):
        ops.remove_key(luks, 0)
    assert facts.test_passphrase(luks, PW)


def test_header_backup_restore(luks, tmp_path) -> None:
    """A backup is a 0400 LUKS file; restoring it removes a key added later; rolling back a backup deletes it."""
    backup = tmp_path / "hdr.img"
    b = ops.header_backup(luks, str(backup))
    assert backup.is_file() and stat.S_IMODE(backup.stat().st_mode) == 0o400 and facts.is_luks(b.file)
    ops.add_key(luks, PW, NEW)
    ops.header_restore(luks, str(backup))
    assert facts.dump(luks).active_keyslots == (0,) and not facts.test_passphrase(luks, NEW)
    with pytest.raises(RuntimeError), Atomic() as atomic:
        atomic.crypt.header_backup(luks, str(tmp_path / "second.img"))
        assert (tmp_path / "second.img").exists()
        raise RuntimeError("fail")
    assert not (tmp_path / "second.img").exists() and backup.exists()


def test_open_without_device_mapper_is_tool_unavailable(luks) -> None:
    """On this host (no device-mapper) open fails with ToolUnavailableError naming device-mapper."""
    if Path("/sys/module/dm_mod").exists():
        pytest.skip("this kernel has device-mapper; open is tested by the needs_dm tests")
    with pytest.raises(ToolUnavailableError, match="device-mapper"):
        ops.open(luks, "pybofh-host-test", PW)


def test_rollback_from_journal_after_kill_9(luks, tmp_path, journal_dir) -> None:
    """A process killed inside a block leaves a journal; 'bofh journal rollback' in a new process kills the added
    key slot and deletes the header backup, using no passphrase (the journal holds none)."""
    backup = tmp_path / "killed.img"
    script = textwrap.dedent(f"""
        import os, signal, sys
        from pybofh_core.atomic import Atomic
        from pybofh_core.session import get_settings
        old, new = sys.stdin.read().split("\\n")
        with get_settings().override(crypt__pbkdf="pbkdf2", crypt__pbkdf_force_iterations=1000):
            with Atomic(label="kill-9") as atomic:
                atomic.crypt.add_key({luks!r}, old, new)
                atomic.crypt.header_backup({luks!r}, {str(backup)!r})
                print(atomic.journal_id, flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], input=f"{PW}\n{NEW}", capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == -9, proc.stderr
    jid = proc.stdout.strip()
    assert facts.dump(luks).active_keyslots == (0, 1) and backup.exists()
    journal = (journal_dir / f"{jid}.jsonl").read_text()
    assert PW not in journal and NEW not in journal
    bofh = [sys.executable, "-c", "from pybofh_core.cli import main; main()"]
    out = subprocess.run([*bofh, "journal", "rollback", jid], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert facts.dump(luks).active_keyslots == (0,) and not backup.exists()
    assert facts.test_passphrase(luks, PW) and not facts.test_passphrase(luks, NEW)


def test_passphrase_never_visible_in_proc_logs_or_journal(loop_factory, journal_dir, caplog) -> None:
    """While real cryptsetup processes run, no /proc/*/cmdline or environ holds the passphrase; nor do logs/journal."""
    caplog.set_level(logging.DEBUG)
    secret, new = "Pr0c-visible?-no-7c1e", "N3w-visible?-no-2b9f"
    dev = loop_factory(64 * MIB)
    seen_cryptsetup: list[str] = []
    leaks: list[str] = []
    stop = threading.Event()

    def scan() -> None:
        needles = (secret.encode(), new.encode())
        while not stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit() or int(pid) == os.getpid():
                    continue
                for name in ("cmdline", "environ"):
                    try:
                        data = Path(f"/proc/{pid}/{name}").read_bytes()
                    except OSError:
                        continue
                    if name == "cmdline" and b"cryptsetup" in data.split(b"\0")[0]:
                        seen_cryptsetup.append(data.decode(errors="replace"))
                    if any(n in data for n in needles):
                        leaks.append(f"{pid}/{name}: {data[:200]!r}")
            time.sleep(0.005)

    watcher = threading.Thread(target=scan, daemon=True)
    watcher.start()
    try:
        # a costly PBKDF keeps each cryptsetup alive long enough to be seen
        with get_settings().override(crypt__pbkdf="pbkdf2", crypt__pbkdf_force_iterations=400_000), \
                Atomic(allow_irreversible=True) as atomic:
            atomic.crypt.format(dev, secret)
            atomic.crypt.add_key(dev, secret, new)
            assert facts.test_passphrase(dev, new)
    finally:
        stop.set()
        watcher.join()
    assert seen_cryptsetup, "the watcher never saw cryptsetup run: the test proved nothing"
    assert not leaks
    assert secret not in caplog.text and new not in caplog.text
    journal = "".join(p.read_text() for p in journal_dir.glob("*.jsonl"))
    assert "crypt.add_key" in journal and secret not in journal and new not in journal


def test_cli_on_real_device(loop_factory, tmp_path, fast) -> None:
    """bofh crypt format (key file) then dump --json on a real loop device."""
    dev = loop_factory(64 * MIB)
    key = tmp_path / "key"
    key.write_bytes(b"cli key \x01\x02")
    key.chmod(0o600)
    result = CliRunner().invoke(app, ["crypt", "format", dev, "--key-file", str(key), "--yes", "--label", "cli"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["--json", "crypt", "dump", dev])
    assert result.exit_code == 0, result.output
    assert '"label": "cli"' in result.output and '"data_offset": 16777216' in result.output
    from pybofh_crypt.types import KeyFile

    assert facts.test_passphrase(dev, KeyFile(str(key)))


def test_keys_given_for_a_run_are_tried_where_they_fit(luks, tmp_path) -> None:
    """Keys given for a run (``bofh journal rollback --key-file``): of several, the one cryptsetup accepts for this
    header is used (a wrong one never is); explicit providers win; none that fits is a KeyNeededError, which an
    undo reports as a failure, never as "already undone"."""
    from pybofh_core.errors import KeyNeededError
    from pybofh_core.secret import Secret, given_keys
    from pybofh_crypt import keys
    from pybofh_crypt.types import KeyFile

    right = tmp_path / "right.key"
    right.write_text(PW)  # a key file is read whole by cryptsetup: no trailing newline here
    with given_keys([Secret("not the passphrase"), right]):
        found = keys.lookup(luks)
        assert isinstance(found, KeyFile) and found.path == str(right)
        with keys.provide("explicit"):
            assert keys.lookup(luks).reveal() == "explicit"  # type: ignore[union-attr]
    with given_keys([Secret("wrong one"), Secret("wrong two")]), pytest.raises(KeyNeededError, match="--key-file"):
        keys.lookup(luks)


def test_journal_rollback_key_file_is_checked_before_anything_runs(tmp_path, journal_dir) -> None:
    """``--key-file`` must name a readable file, and ``-`` (stdin) may be given once: otherwise exit 2, one line."""
    env = {**os.environ, "PYBOFH_JOURNAL_DIR": str(journal_dir)}
    for args, message in ((["--key-file", str(tmp_path / "missing")], "is not a readable file"),
                          (["--key-file", "-", "--key-file", "-"], "can be given once")):
        result = subprocess.run([sys.executable, "-m", "pybofh_core.cli", "journal", "rollback", "nope", *args],
                                env=env, capture_output=True, text=True, input="pw", timeout=120)
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and message in result.stderr
