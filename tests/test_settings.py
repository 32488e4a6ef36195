"""Settings: plugin-declared typed defaults, TOML files, environment, --config and scoped overrides."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pybofh_core.errors import SettingsError
from pybofh_core.settings import Settings, SettingsRegistry


@dataclass
class DemoSettings:
    dirs: list[Path] = field(default_factory=lambda: [Path("/etc/xen")])
    timeout: float = 60.0
    retries: int = 3
    enabled: bool = True
    name: str | None = None


def make(
    tmp_path: Path, files: list[Path] | None = None, env: dict[str, str] | None = None, config: Path | None = None
) -> Settings:
    registry = SettingsRegistry()
    registry.add("demo", DemoSettings)
    return Settings(registry, files=files or [], environ=env or {}, config_file=config)


def test_defaults_come_from_the_plugin_declaration(tmp_path: Path) -> None:
    """With no configuration, values are the dataclass defaults."""
    s = make(tmp_path)
    assert s.demo == DemoSettings()
    assert s.core.runner == "local"


def test_layering_files_then_env_then_config_then_override(tmp_path: Path) -> None:
    """Later sources win: system file < user file < PYBOFH_* < --config < override()."""
    system = tmp_path / "system.toml"
    system.write_text('[demo]\ntimeout = 10\nretries = 1\nname = "sys"\n')
    user = tmp_path / "user.toml"
    user.write_text("[demo]\nretries = 2\n")
    cfg = tmp_path / "cli.toml"
    cfg.write_text('[demo]\nname = "cli"\n[core]\njournal_dir = "~/j"\n')
    env = {
        "PYBOFH_DEMO__DIRS": "/a:/b",
        "PYBOFH_DEMO__ENABLED": "no",
        "PYBOFH_DEMO__NAME": "env",
        "PYBOFH_COMMAND_TIMEOUT": "5",
    }
    s = make(tmp_path, files=[system, user], env=env, config=cfg)
    assert s.demo.timeout == 10.0 and s.demo.retries == 2
    assert s.demo.dirs == [Path("/a"), Path("/b")] and s.demo.enabled is False
    assert s.demo.name == "cli"
    assert s.core.command_timeout == 5.0 and s.core.journal_dir == Path("~/j").expanduser()
    with s.override(demo__retries=9, demo__dirs=["/x"]):
        assert s.demo.retries == 9 and s.demo.dirs == [Path("/x")]
        with s.override(demo__retries=10):
            assert s.demo.retries == 10 and s.demo.dirs == [Path("/x")]
        assert s.demo.retries == 9
    assert s.demo.retries == 2
    assert s.sources() == [str(system), str(user), "environment", str(cfg)]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[demo]\nretrys = 1\n", "unknown setting demo.retrys"),
        ("[demo]\nretries = 'many'\n", "expected an integer"),
        ("[demo]\nenabled = 'perhaps'\n", "expected true or false"),
        ("[demo]\ndirs = 3\n", "expected a list"),
        ("[demo\n", "cli.toml"),
        ("demo = 1\n", "must be a table"),
    ],
)
def test_bad_config_is_a_clear_settings_error(tmp_path: Path, toml: str, message: str) -> None:
    """Typos, wrong types and TOML syntax errors name the file and the key."""
    cfg = tmp_path / "cli.toml"
    cfg.write_text(toml)
    with pytest.raises(SettingsError, match=message):
        make(tmp_path, config=cfg)


def test_unknown_namespace_is_left_for_plugins_not_installed(tmp_path: Path) -> None:
    """A section for a plugin that is not installed here is not an error (shared config across hosts)."""
    cfg = tmp_path / "cli.toml"
    cfg.write_text("[drbd_extra]\nx = 1\n")
    make(tmp_path, config=cfg)


def test_override_rejects_unknown_keys_and_bad_values(tmp_path: Path) -> None:
    """Overrides are checked like files."""
    s = make(tmp_path)
    with pytest.raises(SettingsError, match=r"unknown setting demo\.nope"):
        with s.override(demo__nope=1):
            pass
    with pytest.raises(SettingsError, match="no settings namespace"):
        with s.override(nons__x=1):
            pass
    with pytest.raises(SettingsError, match="expected a number"):
        with s.override(demo__timeout="soon"):
            pass


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    """--config naming a missing file fails instead of silently using defaults."""
    with pytest.raises(SettingsError, match="does not exist"):
        make(tmp_path, config=tmp_path / "missing.toml")


def test_duplicate_namespace_rejected() -> None:
    """Two plugins cannot claim the same settings namespace."""
    registry = SettingsRegistry()
    registry.add("demo", DemoSettings)

    @dataclass
    class Other:
        x: int = 1

    with pytest.raises(SettingsError, match="two plugins"):
        registry.add("demo", Other)


def test_an_unknown_pybofh_variable_is_warned_about_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A typo in a variable name would silently not apply (the same typo in TOML is an error): say so, once."""
    import os
    import subprocess
    import sys

    from pybofh_core import settings

    settings._warned.discard("PYBOFH_JOURNALDIR")
    env = {"PYBOFH_JOURNALDIR": "/x", "PYBOFH_CONFIG_": "1", "PYBOFH_JOURNAL_DIR": str(tmp_path),
           "PYBOFH_DEMO__TIMEOUT": "5", "PYBOFH_OTHERPLUGIN__KEY": "1", "PYBOFH_NO_PLUGIN_CACHE": "1",
           "PYBOFH_VM_ACCEL": "tcg"}
    with caplog.at_level("WARNING", logger="pybofh.settings"):
        make(tmp_path, env=env)
        make(tmp_path, env=env)
    warned = [r.getMessage() for r in caplog.records]
    assert len([m for m in warned if "PYBOFH_JOURNALDIR " in m]) == 1
    assert any("did you mean PYBOFH_JOURNAL_DIR?" in m for m in warned)
    assert any("PYBOFH_CONFIG_ " in m for m in warned)
    assert not any(k in m for m in warned for k in ("DEMO", "OTHERPLUGIN", "NO_PLUGIN_CACHE", "VM_ACCEL"))
    # the CLI says it on stderr, once per run, and goes on
    proc = subprocess.run([sys.executable, "-m", "pybofh_core.cli", "journal", "list"], capture_output=True, text=True,
                          env={**os.environ, "PYBOFH_JOURNALDIR": "/x",
                               "PYBOFH_JOURNAL_DIR": str(tmp_path)}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("PYBOFH_JOURNALDIR is not a pybofh setting") == 1
