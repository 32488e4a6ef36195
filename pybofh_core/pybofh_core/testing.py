"""pybofh's pytest plugin: the fixtures pybofh's own tests use, shipped so a plugin's tests can use them too.

Installed with pybofh-core as the ``pytest11`` entry point ``pybofh``, so a plugin's test suite gets these fixtures
without a conftest. None is autouse: a project that has pybofh-core installed but tests something else sees nothing
of it. A plugin's ``tests/conftest.py`` typically turns on the isolation for every test::

    import pytest

    @pytest.fixture(autouse=True)
    def _isolated(pybofh_isolated):       # own journal, lock and config directories per test
        yield pybofh_isolated

The fixtures:

* ``pybofh_isolated``: this test's own journal, lock and mount-pool directories, no user or system config
  file, and the session's own plugin discovery cache; settings are reset before and after. Yields the journal
  directory.
* ``fake_runner``: a ``pybofh_core.runner.FakeRunner`` made current for the test (``expect()`` replies,
  ``calls``, ``paths`` and ``tools`` tables). Without ``paths`` (None) existence checks look at this machine's real
  filesystem; set ``fake_runner.paths = {}`` (nothing exists) or list the paths the test's machine has.
* ``loop_factory``: real loop devices backed by sparse temp files (root and ``losetup`` needed, else the test is
  skipped with the reason); every one is unmounted and detached at teardown, also when the test failed.
* ``bofh``: run ``bofh ARGV`` in-process as the command would (plugins found by discovery, errors as one line and
  an exit code): ``bofh("lvm", "lv", "list", "--json")`` returns a ``BofhRun`` (``code``, ``out``, ``err``);
  ``bofh.ok(…)`` requires exit 0 and returns stdout.
* ``pybofh_recordings``: the recordings of real tool outputs beside the test (its ``tests/recordings``), read
  with ``load_recording`` (below): ``pybofh_recordings.get("lvs", "two-lvs-unknown")``.

Recordings. A plugin's tests replay outputs recorded from the real tools, kept under ``tests/recordings/<tool>/``
in one format, read by one loader. One recording is up to three files with one stem, ``<case>-<version>``
(``version``: the tool's, ``1.47.0``, ``9.22.0-k8.4.11``):

* ``<stem>.meta.json`` -- the side-car, always there: what ran and how it ended.
* ``<stem>.txt`` -- stdout, the verbatim bytes (absent: the command printed nothing on stdout).
* ``<stem>.stderr.txt`` -- stderr, the verbatim bytes (absent: nothing on stderr).

The side-car is one JSON object::

    {"argv": ["lvs", "--reportformat", "json", "--", "$VG"],   # as run; null if the recorder did not keep it
     "returncode": 5,                                           # the exit status
     "paths": {"VG": "pybofhrec"},                              # optional: what $NAME in argv stood for
     "where": "vm",                                             # optional: where it was recorded
     "note": "a PV is missing",                                 # optional: anything a reader should know
     "expected": {"lvs": [...]}}                                # optional: the plugin's expectation, any JSON

Other keys are refused, so a typo does not silently drop an expectation. ``load_recording`` reads one
side-car and its outputs into a ``Recording``; ``Recordings`` finds them in a directory
(``get(tool, case)``: the newest version of a case; ``all(tool)``: every recording, for a test that walks them).
The scripts that record them write every recording with ``write_recording`` (the one writer: what it writes is
what the loader reads, byte for byte).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .runner import FakeRunner, use_runner

__all__ = [
    "PLACEHOLDER",
    "BofhCommand",
    "BofhRun",
    "Recording",
    "Recordings",
    "SIDECAR",
    "bofh",
    "fake_runner",
    "load_recording",
    "loop_factory",
    "pybofh_isolated",
    "planned_undos",
    "pybofh_recordings",
    "release_loop",
    "same_plan",
    "steps_of",
    "undos_run",
    "write_recording",
]


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker ``loopdev`` the fixtures' users put on tests that attach loop devices (``--strict-markers``
    then accepts it without a declaration of the plugin's own)."""
    config.addinivalue_line("markers", "loopdev: runs real commands on loop devices backed by temp files (root)")


@pytest.fixture(scope="session")
def _pybofh_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin discovery cache of the test session (not the user's ``~/.cache/pybofh``)."""
    return tmp_path_factory.mktemp("pybofh-cache")


@pytest.fixture
def pybofh_isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch,
                    _pybofh_cache_dir: Path) -> Iterator[Path]:
    """This test's own journal, lock and mount-pool directories, no user or system config file, and the session's
    own plugin discovery cache (nothing is written under the user's home)."""
    from . import settings

    base = tmp_path_factory.mktemp("pybofh")
    monkeypatch.setenv("PYBOFH_CACHE_DIR", str(_pybofh_cache_dir))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    monkeypatch.setenv("PYBOFH_JOURNAL_DIR", str(base / "journal"))
    monkeypatch.setenv("PYBOFH_MOUNTPOOL_LOCK_DIR", str(base / "locks"))
    monkeypatch.setenv("PYBOFH_LOCK_DIR", str(base / "object-locks"))
    monkeypatch.setattr(settings, "SYSTEM_CONFIG", base / "etc-config.toml")
    settings.reset_settings()
    yield base / "journal"
    settings.reset_settings()


@pytest.fixture
def fake_runner() -> Iterator[FakeRunner]:
    """A FakeRunner active for the test: add replies with ``fake_runner.expect(argv, stdout)``; read ``.calls``."""
    runner = FakeRunner()
    with use_runner(runner):
        yield runner


def _loop_unusable() -> str | None:
    if os.geteuid() != 0:
        return "needs root to attach loop devices"
    if shutil.which("losetup", path="/usr/sbin:/sbin:/usr/bin:/bin") is None:
        return "losetup is not installed"
    return None


@pytest.fixture
def loop_factory(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Make loop devices backed by sparse files in tmp_path: ``loop_factory(size_bytes) -> '/dev/loopN'``.

    Every loop made is unmounted (lazily if needed) and detached at teardown, even when the test failed, and its
    backing file removed (pytest keeps a session's tmp_path directories; in the VM test bed they are in RAM).
    """
    reason = _loop_unusable()
    if reason:
        pytest.skip(reason)
    made: list[str] = []
    files: list[Path] = []

    def make(size: int = 256 * 1024**2, *, name: str | None = None) -> str:
        fd, path = tempfile.mkstemp(dir=tmp_path, prefix=name or "loop", suffix=".img")
        backing = Path(path)
        files.append(backing)
        try:  # an fd left open keeps the unlinked file's blocks (RAM in the VM test bed) until the process ends
            os.ftruncate(fd, size)
        finally:
            os.close(fd)
        out = subprocess.run(
            ["losetup", "--find", "--show", str(backing)], check=True, capture_output=True, text=True
        ).stdout.strip()
        made.append(out)
        return out

    try:
        yield make
    finally:
        for dev in reversed(made):
            release_loop(dev)
        for backing in files:
            backing.unlink(missing_ok=True)


def release_loop(dev: str) -> None:
    """Unmount everything on loop device ``dev`` (and its partitions) and detach it; never raises."""
    try:
        mounts = subprocess.run(["findmnt", "-rn", "-o", "SOURCE,TARGET"], capture_output=True, text=True).stdout
        for line in reversed(mounts.splitlines()):
            parts = line.split(" ", 1)
            if len(parts) == 2 and (parts[0] == dev or parts[0].startswith(dev + "p")):
                subprocess.run(["umount", "-l", parts[1].encode().decode("unicode_escape")], capture_output=True)
        # Partitions added with partx (no partscan flag) outlive the detach and would show up on the next device
        # attached to this loop number, which then looks "in use".
        subprocess.run(["partx", "-d", dev], capture_output=True)
        subprocess.run(["losetup", "-d", dev], capture_output=True)
    except OSError:
        pass


@dataclass(frozen=True)
class BofhRun:
    """What one in-process ``bofh`` invocation did: its exit code and what it printed."""

    code: int
    out: str
    err: str


class BofhCommand:
    """The ``bofh`` fixture: ``bofh(*argv)`` runs the command in this process through ``main()`` (one-line errors,
    exit codes) with the current runner and returns a ``BofhRun``; ``bofh.ok(*argv)`` also requires exit 0
    and returns what it printed on stdout."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def __call__(self, *argv: str) -> BofhRun:
        from .cli import main

        self._capsys.readouterr()  # only what this invocation prints
        try:
            main(list(argv))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = self._capsys.readouterr()
        return BofhRun(code, out, err)

    def ok(self, *argv: str) -> str:
        """Run ``bofh ARGV``; it must exit 0. Its stdout."""
        done = self(*argv)
        assert done.code == 0, f"bofh {' '.join(argv)} exited {done.code}: {done.err.strip()}"
        return done.out


@pytest.fixture
def bofh(capsys: pytest.CaptureFixture[str]) -> BofhCommand:
    """Run ``bofh ARGV`` in this process as the command would: ``bofh(*argv)`` or ``bofh.ok(*argv)``."""
    return BofhCommand(capsys)


# -------------------------------------------------------------------------------------------------------------------
# Recordings of real tool outputs (the format is in the module docstring)
# -------------------------------------------------------------------------------------------------------------------

SIDECAR = ".meta.json"
_SIDECAR_KEYS = {"argv", "returncode", "paths", "where", "note", "expected"}
_STEM = re.compile(r"^(?P<case>.+?)-(?P<version>\d+(?:\.\d+)+(?:-[\w.]+)?)$")


@dataclass(frozen=True)
class Recording:
    """One recorded command: its verbatim stdout and stderr, exit status, argv and the side-car's other fields."""

    path: Path
    """The side-car ``<stem>.meta.json``."""
    case: str
    version: str
    argv: list[str] | None
    returncode: int
    stdout: bytes
    stderr: bytes
    paths: dict[str, str] = field(default_factory=dict)
    where: str | None = None
    note: str | None = None
    expected: Any = None

    @property
    def name(self) -> str:
        """The stem, ``<case>-<version>``."""
        return self.path.name[: -len(SIDECAR)]

    @property
    def tool(self) -> str:
        """The directory the recording is in (the tool's name by convention)."""
        return self.path.parent.name

    @property
    def stdout_path(self) -> Path:
        """Where stdout is kept (it may not exist: an empty stdout)."""
        return self.path.with_name(self.name + ".txt")

    @property
    def text(self) -> str:
        """Stdout as UTF-8 text (a recording that is not UTF-8 raises: read ``stdout`` then)."""
        return self.stdout.decode()

    def filled_argv(self) -> list[str]:
        """``argv`` with every ``$NAME`` of ``paths`` replaced by its path (longest names first)."""
        if self.argv is None:
            raise ValueError(f"{self.path}: the recorder did not keep the argv")
        out = []
        for arg in self.argv:
            for name in sorted(self.paths, key=len, reverse=True):
                arg = arg.replace(f"${name}", self.paths[name])
            out.append(arg)
        return out


def _field(meta: dict[str, Any], key: str, kind: type | tuple[type, ...], sidecar: Path) -> Any:
    value = meta.get(key)
    if value is not None and not isinstance(value, kind):
        raise ValueError(f"{sidecar}: {key!r} is {type(value).__name__}, expected {kind}")
    return value


def load_recording(sidecar: Path | str) -> Recording:
    """Read one recording from its side-car ``<case>-<version>.meta.json`` and the outputs beside it.

    Raises ``ValueError`` naming the file for a side-car that is not the format (unknown keys, wrong types, a name
    without a version) and ``FileNotFoundError`` when it is missing.
    """
    sidecar = Path(sidecar)
    if not sidecar.name.endswith(SIDECAR):
        raise ValueError(f"{sidecar}: a recording's side-car is named <case>-<version>{SIDECAR}")
    stem = sidecar.name[: -len(SIDECAR)]
    m = _STEM.match(stem)
    if m is None:
        raise ValueError(f"{sidecar}: the name has no tool version (<case>-<version>{SIDECAR}, e.g. list-2.38.1)")
    meta = json.loads(sidecar.read_text(encoding="utf-8"))
    if not isinstance(meta, dict):
        raise ValueError(f"{sidecar}: the side-car is not a JSON object")
    unknown = set(meta) - _SIDECAR_KEYS
    if unknown or "argv" not in meta or "returncode" not in meta:
        raise ValueError(f"{sidecar}: needs 'argv' and 'returncode', may have {sorted(_SIDECAR_KEYS)}; "
                         f"unknown {sorted(unknown)}")
    argv = _field(meta, "argv", list, sidecar)
    if argv is not None and not all(isinstance(a, str) for a in argv):
        raise ValueError(f"{sidecar}: 'argv' must be a list of strings")
    returncode = meta["returncode"]
    if not isinstance(returncode, int) or isinstance(returncode, bool):
        raise ValueError(f"{sidecar}: 'returncode' must be an integer")
    paths = _field(meta, "paths", dict, sidecar) or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in paths.items()):
        raise ValueError(f"{sidecar}: 'paths' maps names to path strings")
    out, err = sidecar.with_name(stem + ".txt"), sidecar.with_name(stem + ".stderr.txt")
    return Recording(
        path=sidecar, case=m.group("case"), version=m.group("version"), argv=argv, returncode=returncode,
        stdout=out.read_bytes() if out.is_file() else b"", stderr=err.read_bytes() if err.is_file() else b"",
        paths=paths, where=_field(meta, "where", str, sidecar), note=_field(meta, "note", str, sidecar),
        expected=meta.get("expected"),
    )


_NOTHING_PRINTED = "the command printed nothing on stdout or stderr"


def _checked(name: str, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if value is not None and not isinstance(value, kind):
        raise TypeError(f"write_recording: {name} must be {what}, not {type(value).__name__}")
    return value


def write_recording(directory: Path | str, tool: str, case: str, version: str, *, argv: Sequence[str] | None,
                    stdout: bytes, stderr: bytes, returncode: int, paths: Mapping[str, str] | None = None,
                    where: str | None = None, note: str | None = None, expected: Any = None) -> Path:
    """Write one recording in the format :func:`load_recording` reads; return its side-car's path.

    The files go to ``directory/tool/<case>-<version>.*``: ``.txt`` (stdout) and ``.stderr.txt`` (stderr) hold
    the bytes verbatim and are removed, not left stale or empty, when that stream is empty; ``.meta.json`` is
    written last, its keys always in the format's order (``argv``, ``returncode``, ``paths``, ``where``,
    ``note``, ``expected``; the optional ones only when given), one-space indented, ASCII, ending in a newline, so
    re-recording the same output changes no byte. A recording with neither output gets a note saying so (the
    meta-tests require one). Everything is checked before any file is written: a bad argument raises
    ``TypeError`` or ``ValueError`` and leaves the directory as it was. ``argv`` is what ran (pass None only when
    the recorder cannot know it, and say what ran in ``note``); ``expected`` is any JSON.
    """
    for name, value in (("tool", tool), ("case", case), ("version", version)):
        if not isinstance(value, str):
            raise TypeError(f"write_recording: {name} must be a string, not {type(value).__name__}")
        if not value or "/" in value or "\\" in value or value in (".", ".."):
            raise ValueError(f"write_recording: {name} {value!r} cannot be part of a file name")
    stem = f"{case}-{version}"
    m = _STEM.match(stem)
    if m is None or (m.group("case"), m.group("version")) != (case, version):
        raise ValueError(f"write_recording: {stem!r} does not read back as case {case!r}, version {version!r} "
                         "(a version is digits and dots, e.g. 2.38.1 or 9.22.0-k8.4.11)")
    if argv is not None and (not isinstance(argv, (list, tuple)) or not all(isinstance(a, str) for a in argv)):
        raise TypeError(f"write_recording: argv must be a list of strings or None, not {argv!r}")
    for name, stream in (("stdout", stdout), ("stderr", stderr)):
        if not isinstance(stream, bytes):
            raise TypeError(f"write_recording: {name} must be the bytes the command wrote, not "
                            f"{type(stream).__name__}")
    if not isinstance(returncode, int) or isinstance(returncode, bool):
        raise TypeError(f"write_recording: returncode must be an int, not {returncode!r}")
    _checked("paths", paths, Mapping, "a mapping of names to paths")
    if paths and not all(isinstance(k, str) and isinstance(v, str) for k, v in paths.items()):
        raise TypeError("write_recording: paths maps names (str) to paths (str)")
    _checked("where", where, str, "a string")
    _checked("note", note, str, "a string")
    if not stdout and not stderr and not note:
        note = _NOTHING_PRINTED
    meta: dict[str, Any] = {"argv": None if argv is None else list(argv), "returncode": returncode}
    if paths:
        meta["paths"] = dict(paths)
    if where:
        meta["where"] = where
    if note:
        meta["note"] = note
    if expected is not None:
        meta["expected"] = expected
    try:
        text = json.dumps(meta, indent=1, ensure_ascii=True, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise ValueError(f"write_recording: expected is not JSON: {exc}") from exc
    folder = Path(directory) / tool
    folder.mkdir(parents=True, exist_ok=True)
    for suffix, data in ((".txt", stdout), (".stderr.txt", stderr)):
        target = folder / f"{stem}{suffix}"
        if data:
            target.write_bytes(data)
        else:
            target.unlink(missing_ok=True)
    sidecar = folder / f"{stem}{SIDECAR}"
    sidecar.write_text(text, encoding="ascii")
    return sidecar


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version))


class Recordings:
    """The recordings under one directory (a plugin's ``tests/recordings``), by tool directory and case."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def all(self, tool: str | None = None) -> list[Recording]:
        """Every recording (of one tool directory), sorted by path: what a test that walks them parametrizes over."""
        pattern = f"{tool}/*{SIDECAR}" if tool else f"**/*{SIDECAR}"
        return [load_recording(p) for p in sorted(self.directory.glob(pattern))]

    def get(self, tool: str, case: str, version: str | None = None) -> Recording:
        """The recording ``<tool>/<case>-<version>``; without ``version`` the case's newest version."""
        if version is not None:
            return load_recording(self.directory / tool / f"{case}-{version}{SIDECAR}")
        found = [r for r in self.all(tool) if r.case == case]
        if not found:
            raise FileNotFoundError(f"no recording {tool}/{case}-<version>{SIDECAR} in {self.directory}")
        return max(found, key=lambda r: _version_key(r.version))

    def output(self, tool: str, file_name: str) -> bytes:
        """The stream a recording's file name names: ``<stem>.txt`` its stdout, ``<stem>.stderr.txt`` its stderr
        (read through the side-car, so a file without one is an error)."""
        stem = file_name.removesuffix(".stderr.txt").removesuffix(".txt")
        rec = load_recording(self.directory / tool / f"{stem}{SIDECAR}")
        return rec.stderr if file_name.endswith(".stderr.txt") else rec.stdout

    def __call__(self, tool: str, case: str, version: str | None = None) -> Recording:
        """Same as :meth:`get`."""
        return self.get(tool, case, version)


@pytest.fixture
def pybofh_recordings(request: pytest.FixtureRequest) -> Recordings:
    """The ``recordings`` directory nearest above the test file (a plugin's ``tests/recordings``)."""
    here = Path(str(request.path)).resolve().parent
    for folder in (here, *here.parents):
        if (folder / "recordings").is_dir():
            return Recordings(folder / "recordings")
    pytest.skip(f"no recordings directory above {here}")


# --- plan equals execution --------------------------------------------------------------------------------------

#: A placeholder inside a planned command (``<uuid of LV vg0/data>``, or in a path ``/dev/loop(next free, for F)``,
#: ``pybofh_core.model.planned_path``): a value known only once the run made it.
PLACEHOLDER = re.compile(r"<[^<>]*>|\([^()]*\)")


def steps_of(block: Any) -> list[tuple[str, list[str]]]:
    """Each step of an atomic block with the commands it ran, or (a dry run) would run: ``(op, [command…])``.
    Read it before the block ends in a failure: a rollback empties the block's steps."""
    return [(s.spec.qualname, [str(c) for c in s.commands]) for s in block.steps]


def planned_undos(block: Any) -> list[tuple[str, list[str]]]:
    """A dry-run block's planned undos with their commands, newest first, as a rollback runs them (steps without
    an undo, such as irreversible ones, are left out)."""
    return [(s.spec.qualname, [str(c) for c in s.undo_commands]) for s in reversed(block.steps) if s.undo is not None]


def undos_run(block: Any) -> list[tuple[str, list[str]]]:
    """What a block's rollback ran: each undone step's operation and the undo's commands, in the order they ran."""
    return [(step.spec.qualname, list(outcome.commands)) for step, outcome in block.outcomes]


def same_plan(planned: list[tuple[str, list[str]]], ran: list[tuple[str, list[str]]], *,
              placeholder: re.Pattern[str] = PLACEHOLDER) -> bool:
    """Whether ``ran`` is ``planned``: the same operations with the same commands, in order and argument by argument,
    where a placeholder of the plan (``placeholder``: ``<…>`` or ``(…)`` by default) stands for any text of the run
    without spaces."""
    if len(planned) != len(ran):
        return False
    for (p_op, p_cmds), (r_op, r_cmds) in zip(planned, ran, strict=True):
        if p_op != r_op or len(p_cmds) != len(r_cmds):
            return False
        for p, r in zip(p_cmds, r_cmds, strict=True):
            if re.fullmatch(r"\S+".join(re.escape(part) for part in placeholder.split(p)), r) is None:
                return False
    return True
