"""``bofh status``: one screen of what the installed plugins see (disks, LVM, LUKS, filesystems, btrfs, DRBD, domUs).

Each plugin answers the ``pybofh_probe_status`` hook with sections of plain rows built from its read-only facts.
This module asks every plugin on its own, so a plugin that fails (or whose tool is missing) is reported in its own
section and never hides the others, and renders the sections as compact tables, or as one JSON document
``{"sections": [...]}`` with sizes in bytes. Nothing here changes the system: no operation, no atomic block, no
journal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .errors import CommandError, HostUnreachableError, PybofhError, ToolUnavailableError

OK = "ok"
UNAVAILABLE = "unavailable"
ERROR = "error"
T = TypeVar("T")


@dataclass
class StatusSection:
    """One part of ``bofh status``: a titled list of rows (plain JSON values; byte counts as integers).

    ``columns`` are the keys the table shows, in order (empty: every key, in the rows' order); the JSON document
    has every key of every row. ``sizes`` names the columns that hold byte counts (the table shows them
    human-readable), ``headers`` gives a column a heading other than its upper-cased key. A row's ``depth`` key,
    when present, indents its first column (a device tree) and is not a column itself; a row's ``error`` (one
    object of the section could not be read) is always shown. ``unavailable`` says why the plugin's tool cannot be
    used here (not installed, no kernel support); ``error`` why reading failed. ``order`` places the section on the
    screen (the built-in plugins use 10 for block devices up to 70 for domUs).
    """

    name: str
    title: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    columns: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    unavailable: str | None = None
    error: str | None = None
    plugin: str | None = None
    order: int = 50

    @property
    def status(self) -> str:
        """``ok``, ``unavailable`` (the tool cannot be used here) or ``error`` (reading failed)."""
        if self.error is not None:
            return ERROR
        return UNAVAILABLE if self.unavailable is not None else OK

    @classmethod
    def failed(cls, name: str, title: str, exc: BaseException, **kwargs: Any) -> StatusSection:
        """The section ``name`` for a read that raised ``exc``: unavailable when its tool is missing or unusable
        here, else an error (one line, secrets scrubbed)."""
        state, reason = describe_failure(exc)
        if state == UNAVAILABLE:
            return cls(name, title, unavailable=reason, **kwargs)
        return cls(name, title, error=reason, **kwargs)

    def to_json(self) -> dict[str, Any]:
        """``{"name", "title", "plugin", "status", "reason", "rows"}``; ``reason`` only when the status is not ok."""
        from .render import to_plain

        out: dict[str, Any] = {"name": self.name, "title": self.title, "plugin": self.plugin, "status": self.status}
        if self.status != OK:
            out["reason"] = self.error if self.error is not None else self.unavailable
        out["rows"] = to_plain(self.rows)
        return out

    def render_text(self) -> str:
        """The section for people: ``Title:`` and an indented table, or one line when it is empty or failed."""
        from .render import table

        if self.status != OK:
            return f"{self.title}: {self.status}: {self.error if self.error is not None else self.unavailable}"
        if not self.rows:
            return f"{self.title}: none"
        columns = list(self.columns) or [k for k in dict.fromkeys(k for r in self.rows for k in r) if k != "depth"]
        if "error" not in columns and any(r.get("error") for r in self.rows):
            columns.append("error")
        heads = [self.headers.get(c, c) for c in columns]  # table() upper-cases them
        rows = [dict(zip(heads, self._human(row, columns), strict=True)) for row in self.rows]
        return "\n".join([f"{self.title}:", *("  " + ln for ln in table(rows, heads).splitlines())])

    def _human(self, row: Mapping[str, Any], columns: list[str]) -> list[Any]:
        """One row's cells as the table shows them: sizes human-readable, the first one indented by ``depth``."""
        from .render import to_plain
        from .validate import format_size

        cells = [to_plain(row.get(c)) for c in columns]
        for i, col in enumerate(columns):
            if col in self.sizes and isinstance(cells[i], int) and not isinstance(cells[i], bool):
                cells[i] = format_size(cells[i])
        depth = row.get("depth")
        if isinstance(depth, int) and depth > 0 and cells and cells[0] is not None:
            cells[0] = "  " * (depth - 1) + "└─" + str(cells[0])
        return cells


def describe_failure(exc: BaseException) -> tuple[str, str]:
    """``("unavailable", why)`` when ``exc`` says a tool is not installed or not usable here (no device-mapper,
    no hypervisor, no kernel module), else ``("error", one line)``."""
    from .secret import scrub

    if isinstance(exc, ToolUnavailableError):
        return UNAVAILABLE, scrub(str(exc))
    if isinstance(exc, CommandError) and not isinstance(exc, HostUnreachableError) and exc.argv:
        missing = exc.returncode == 127 or (exc.returncode is None and "not installed" in (exc.reason or ""))
        if missing:  # 127: the shell or env of a remote transport did not find the tool
            return UNAVAILABLE, f"{exc.argv[0]} is not installed"
    if isinstance(exc, PybofhError):
        return ERROR, scrub(str(exc))
    return ERROR, scrub(f"internal error: {type(exc).__name__}: {exc}")


def section(
    name: str,
    title: str,
    build: Callable[[], Iterable[Mapping[str, Any]]],
    **kwargs: Any,
) -> StatusSection:
    """The section ``name`` with the rows ``build()`` returns; if it raises, the section says why (never raises,
    except for a host that cannot be reached: then no section of that host can be read)."""
    try:
        rows = [dict(r) for r in build()]
    except HostUnreachableError:
        raise
    except Exception as exc:  # noqa: BLE001 - a section's failure is reported in it and hides nothing else
        return StatusSection.failed(name, title, exc, **kwargs)
    return StatusSection(name, title, rows, **kwargs)


def read_once(read: Callable[[], T]) -> Callable[[], T]:
    """``read`` run at most once: later calls return its value or raise its exception again, so several sections
    built from one command (PVs, VGs and LVs from one ``lvm fullreport``) each say why when it failed."""
    memo: list[Any] = []

    def cached() -> T:
        if not memo:
            try:
                memo.append((True, read()))
            except Exception as exc:  # noqa: BLE001 - raised again below, for every section that asks
                memo.append((False, exc))
        ok, value = memo[0]
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    return cached


@dataclass
class StatusReport:
    """Every section of ``bofh status`` in screen order; ``--json`` prints ``{"sections": [...]}``."""

    sections: list[StatusSection]

    @property
    def failed(self) -> list[StatusSection]:
        """The sections whose read failed (not those whose tool is merely unavailable here)."""
        return [s for s in self.sections if s.status == ERROR]

    def to_json(self) -> dict[str, Any]:
        """The one JSON document: ``{"sections": [section.to_json(), ...]}``."""
        return {"sections": [s.to_json() for s in self.sections]}

    def render_text(self) -> str:
        """Every section, one after the other, for one screen."""
        if not self.sections:
            return "no installed plugin reports a status"
        return "\n".join(s.render_text() for s in self.sections)


def collect(host: Any) -> StatusReport:
    """Ask every plugin of ``host`` (the session's ``pybofh_core.plugins.Plugins``) for its sections
    (``pybofh_probe_status``), each on its own; a plugin that raises, returns something else than sections, or
    failed to load becomes one error section under its name."""
    found: list[StatusSection] = []
    for impl in host.pm.hook.pybofh_probe_status.get_hookimpls():  # in the order the plugins registered
        name = impl.plugin_name
        try:
            answer = impl.function()
            items = [answer] if isinstance(answer, StatusSection) else list(answer or ())
        except HostUnreachableError:
            raise
        except Exception as exc:  # noqa: BLE001 - one plugin's failure is its own section
            found.append(StatusSection.failed(name, f"{name} plugin", exc, plugin=name))
            continue
        for item in items:
            if not isinstance(item, StatusSection):
                found.append(StatusSection(name, f"{name} plugin", plugin=name, error="internal error: "
                                           f"pybofh_probe_status returned a {type(item).__name__}, not sections"))
                break
            item.plugin = item.plugin or name
            found.append(item)
    for info in host.list():
        if not info.loaded:
            found.append(StatusSection(info.name, f"{info.name} plugin", plugin=info.name, order=1000,
                                       error=f"the plugin failed to load: {info.error}"))
    found.sort(key=lambda s: s.order)  # stable: a plugin's sections keep their order
    return StatusReport(found)


__all__ = ["StatusReport", "StatusSection", "collect", "describe_failure", "read_once", "section"]
