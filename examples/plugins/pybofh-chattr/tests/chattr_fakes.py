"""Test helpers of pybofh-chattr: recorded outputs and a fake file whose attributes a fake runner keeps."""

from __future__ import annotations

from pathlib import Path

from pybofh_core.runner import FakeRunner

RECORDINGS = Path(__file__).parent / "recordings"


def recording(name: str) -> str:
    """A real tool output recorded into tests/recordings/ (see recordings/README.md for how)."""
    return (RECORDINGS / name).read_text()


def lsattr_line(path: str, flags: str = "--------------e-------", generation: int | None = 4242) -> str:
    """What ``lsattr -d [-v] -- PATH`` prints for PATH (layout as recorded from e2fsprogs 1.47.0)."""
    return f"{flags} {path}\n" if generation is None else f"{generation:<10} {flags} {path}\n"


IMMUTABLE = "----i---------e-------"
APPEND_ONLY = "-----a--------e-------"
PLAIN = "--------------e-------"
#: ``lsattr -d -v`` on a tmpfs: attributes, but no inode generation (recorded)
NO_GENERATION = recording("lsattr-d-v_tmpfs.stderr.txt")


class FakeFile:
    """A file in a fake runner's world whose attributes ``chattr`` really changes: ``lsattr`` answers what the
    last ``chattr`` left (a ``FakeRunner`` reply added later takes precedence over earlier ones). ``generation``
    None: a filesystem without generations (tmpfs), where ``lsattr -v`` fails and ``lsattr -d`` answers."""

    def __init__(self, runner: FakeRunner, path: str, flags: str = PLAIN, generation: int | None = 4242) -> None:
        self.runner, self.path, self.generation = runner, path, generation
        runner.paths = {**(runner.paths or {}), path: "file"}
        if generation is None:
            runner.expect(["lsattr", "-d", "-v", "--", path], stderr=NO_GENERATION, returncode=1)
        self.set_flags(flags)
        for letter in "ia":
            for sign in "+-":
                runner.expect(["chattr", f"{sign}{letter}", "--", path], effect=self._chattr)

    def set_flags(self, flags: str) -> None:
        self.flags = flags
        argv = ["lsattr", "-d", "-v", "--", self.path] if self.generation is not None else ["lsattr", "-d", "--",
                                                                                             self.path]
        self.runner.expect(argv, lsattr_line(self.path, flags, self.generation))

    def _chattr(self, argv: tuple[str, ...], _stdin: bytes | None) -> None:
        sign, letter = argv[1][0], argv[1][1]
        position = {"i": 4, "a": 5}[letter]
        chars = list(self.flags)
        chars[position] = letter if sign == "+" else "-"
        self.set_flags("".join(chars))
