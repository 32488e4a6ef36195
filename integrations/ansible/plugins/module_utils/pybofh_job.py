# Copyright: pybofh contributors
# MIT License (see https://opensource.org/licenses/MIT)
"""The engine of the pybofh.storage.job module, run on the target: a list of pybofh operations as one atomic block.

Before each step runs, ``IDEMPOTENT`` decides from the target's facts whether its effect is already present (then
the step is skipped), absent (it runs) or present but different (a ``Conflict``: the job fails, earlier steps are
undone). Operations missing from the table always run, or are refused up front with ``strict``.
"""

from __future__ import annotations

import inspect
import os
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

PYBOFH_IMPORT_ERROR: str | None = None
try:
    from pybofh import Atomic
    from pybofh_core.errors import PybofhError, RollbackError
    from pybofh_core.operations import redacted_args, same_object, spec_of, target_of
    from pybofh_core.plugins import canonical_name
    from pybofh_core.secret import scrub
    from pybofh_core.session import get_plugins
except ImportError:
    PYBOFH_IMPORT_ERROR = traceback.format_exc()


class Refused(Exception):
    """The job cannot start as given (bad operation list, strict idempotency): nothing ran."""


class Conflict(Exception):
    """A step's object exists but differs from what the step asks for (another size, device…): never overwritten."""


class JobFailed(Exception):
    """The job failed; ``result`` holds what the module returns (operations, rollback, journal id)."""

    def __init__(self, msg: str, result: dict[str, Any]) -> None:
        super().__init__(msg)
        self.msg = msg
        self.result = result


@dataclass
class Item:
    """One entry of the job's operation list, resolved to its registered operation and bound arguments."""

    op: str
    func: Callable[..., Any]
    spec: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    bound: dict[str, Any]
    status: str = "not run"
    reason: str = ""
    steps: list[Any] = field(default_factory=list)  # the pybofh steps it ran (a composite runs several)

    def report(self) -> dict[str, Any]:
        """What the module returns for this entry (secrets masked)."""
        args = {k: "***" if k in self.spec.secrets and v is not None else v for k, v in self.bound.items()}
        return {"op": self.op, "args": redacted_args(args), "status": self.status, "reason": self.reason}


# --- the idempotency table: is a step's effect already there? ---------------------------------------------------------


def _same(a: str, b: str) -> bool:
    return a == b or os.path.realpath(a) == os.path.realpath(b)


def _present_pv(a: Mapping[str, Any]) -> str | None:
    from pybofh_lvm import facts

    device = str(a["device"])
    pv = next((p for p in facts.list_pvs() if facts.same_device(p.name, device)), None)
    return f"{device} is a PV ({pv.uuid})" if pv else None


def _present_vg(a: Mapping[str, Any]) -> str | None:
    from pybofh_core.validate import parse_size
    from pybofh_lvm import facts

    name = str(a["name"])
    vg = next((v for v in facts.list_vgs() if v.name == name), None)
    if vg is None:
        return None
    want = [a["devices"]] if isinstance(a["devices"], str) else list(a["devices"])
    have = [p.name for p in facts.list_pvs() if p.vg == name]
    if sorted(os.path.realpath(d) for d in want) != sorted(os.path.realpath(d) for d in have):
        raise Conflict(f"VG {name} exists on {', '.join(have)}, not on {', '.join(map(str, want))}; "
                       "change its PVs with lvm.extend_vg / lvm.reduce_vg")
    if a.get("extent_size") is not None and parse_size(a["extent_size"], what="extent size") != vg.extent_size:
        raise Conflict(f"VG {name} exists with extent size {vg.extent_size} bytes, not {a['extent_size']}")
    return f"VG {name} exists on {', '.join(have)} ({vg.uuid})"


def _present_lv(a: Mapping[str, Any]) -> str | None:
    from pybofh_core.validate import size_spec
    from pybofh_lvm import facts

    vg, name = str(a["vg"]), str(a["name"])
    lv = next((v for v in facts.list_lvs(include_hidden=True) if v.vg == vg and v.name == name), None)
    if lv is None:
        return None
    spec = size_spec(a["size"], what="LV size", relative=False, percent=True)
    if spec.kind != "absolute":  # 50%FREE means another size once the LV exists: only the name can be compared
        return f"LV {vg}/{name} exists ({lv.size_bytes} bytes; {spec.text} is relative, so only its name is compared)"
    want = spec.amount
    if a.get("round") in ("up", "down"):
        extent = facts.get_vg(vg).extent_size or 1
        whole, rest = divmod(want, extent)
        want = (whole + (1 if rest and a["round"] == "up" else 0)) * extent
    if lv.size_bytes != want:
        raise Conflict(f"LV {vg}/{name} exists with {lv.size_bytes} bytes, not the {want} bytes asked for; "
                       "change its size with lvm.resize_lv or blockdev.resize")
    return f"LV {vg}/{name} exists with {want} bytes ({lv.uuid})"


def _present_luks(a: Mapping[str, Any]) -> str | None:
    from pybofh_crypt import facts

    device = str(a["device"])
    if not os.path.exists(device) or not facts.is_luks(device):
        return None
    head = facts.dump(device)
    version = f"luks{int(head.version)}"
    if a.get("luks_type") and str(a["luks_type"]).lower() != version:
        return None  # another LUKS version: the step's own data check refuses it unless force
    if a.get("label") is not None and head.label != a["label"]:
        return None
    return f"{device} holds a {version.upper()} header ({head.uuid})"


def _present_mapping(a: Mapping[str, Any]) -> str | None:
    from pybofh_crypt import facts

    name, device = str(a["name"]).removeprefix("/dev/mapper/"), str(a["device"])
    if not os.path.lexists(f"/dev/mapper/{name}") or not facts.is_open(name):
        return None
    st = facts.status(name)
    if st.device and _same(st.device, device):
        return f"/dev/mapper/{name} is open over {device}"
    raise Conflict(f"/dev/mapper/{name} is open over {st.device}, not {device}")


def _present_filesystem(a: Mapping[str, Any]) -> str | None:
    from pybofh_blockdev import facts

    device, fstype = str(a["device"]), str(a.get("fstype") or "ext4")
    if not os.path.exists(device):
        return None
    found = facts.probe(device)
    if found.get("TYPE") != fstype:
        return None  # empty, or another signature: the step's own data check refuses that unless force
    for param, tag in (("label", "LABEL"), ("uuid", "UUID")):
        if a.get(param) is not None and found.get(tag) != str(a[param]):
            return None
    return f"{device} holds {fstype} ({found.get('UUID')})"


def _present_mount(a: Mapping[str, Any]) -> str | None:
    from pybofh_blockdev import facts

    device, mountpoint = str(a["device"]), str(a["mountpoint"])
    found = facts.mount_at(os.path.realpath(mountpoint))
    if found is None:
        return None
    if _same(found.device, device):
        return f"{found.source} is mounted on {found.target}"
    raise Conflict(f"{found.target} has {found.source} mounted, not {device}")


#: operation → a check returning why its effect is already present (None: absent); raises Conflict when different
IDEMPOTENT: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
    "lvm.create_pv": _present_pv,
    "lvm.create_vg": _present_vg,
    "lvm.create_lv": _present_lv,
    "crypt.format": _present_luks,
    "crypt.open": _present_mapping,
    "blockdev.create_filesystem": _present_filesystem,
    "blockdev.mount": _present_mount,
}


# --- the job -------------------------------------------------------------------------------------------------------


def parse_operations(entries: Any) -> list[Item]:
    """Resolve ``[{"lvm.create_lv": {...}}, …]`` to registered operations with bound arguments (nothing runs)."""
    if not isinstance(entries, list) or not entries:
        raise Refused("operations: give a non-empty list of 'domain.operation: {arguments}' entries")
    registry = get_plugins().operations
    items = []
    for n, entry in enumerate(entries, 1):
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise Refused(f"operations[{n}]: expected one 'domain.operation: {{arguments}}' mapping, got {entry!r}")
        ((name, value),) = entry.items()
        domain, dot, op = str(name).partition(".")
        if not dot or not op:
            raise Refused(f"operations[{n}]: {name!r} is not of the form domain.operation (lvm.create_lv)")
        try:
            func = registry.get(f"{canonical_name(domain)}.{op}")
        except PybofhError as exc:
            raise Refused(f"operations[{n}]: {exc}") from None
        spec = spec_of(func)
        if value is None:
            args, kwargs = (), {}
        elif isinstance(value, Mapping):
            args, kwargs = (), {str(k): v for k, v in value.items()}
        elif isinstance(value, list):
            args, kwargs = tuple(value), {}
        else:
            raise Refused(f"operations[{n}] {name}: arguments must be a mapping or a list, got {value!r}")
        try:
            bound = inspect.signature(spec.func).bind(*args, **kwargs)
        except TypeError as exc:
            raise Refused(f"operations[{n}] {spec.qualname}: {exc}") from None
        bound.apply_defaults()
        items.append(Item(spec.qualname, func, spec, args, kwargs, dict(bound.arguments)))
    return items


def secret_values(items: list[Item]) -> list[str]:
    """The values of every secret parameter (passphrases) given to the job, for Ansible's no_log masking."""
    out = []
    for item in items:
        for param in item.spec.secrets:
            value = item.bound.get(param)
            if isinstance(value, (str, bytes)) and value:
                out.append(value.decode("utf-8", "replace") if isinstance(value, bytes) else value)
    return out


def present(item: Item) -> str | None:
    """Why the step's effect is already on the target (None: absent, or an operation the table does not know);
    raises Conflict when its object exists but differs."""
    check = IDEMPOTENT.get(item.op)
    return check(item.bound) if check else None


def _line(exc: BaseException) -> str:
    """One line for an error, secrets scrubbed; a RollbackError names its cause."""
    if isinstance(exc, RollbackError) and exc.__cause__ is not None:
        exc = exc.__cause__
    text = str(exc) or type(exc).__name__
    if isinstance(exc, (Conflict, Refused)):
        return text
    return scrub(text if isinstance(exc, PybofhError) else f"{type(exc).__name__}: {text}")


def run_job(items: list[Item], *, check_mode: bool, allow_irreversible: bool = False, strict: bool = False,
            label: str = "ansible pybofh.storage.job", wait: bool = False) -> dict[str, Any]:
    """Run (or, in check mode, plan) the job; return the module's result, or raise JobFailed / Refused."""
    if strict:
        unknown = sorted({i.op for i in items if i.op not in IDEMPOTENT})
        if unknown:
            raise Refused(f"strict_idempotency: cannot tell whether the effect of {', '.join(unknown)} is already "
                          f"present (known: {', '.join(IDEMPOTENT)}); nothing ran")
    if check_mode:
        return _plan(items, allow_irreversible=allow_irreversible, label=label)
    return _apply(items, allow_irreversible=allow_irreversible, label=label, wait=wait)


def _plan(items: list[Item], *, allow_irreversible: bool, label: str) -> dict[str, Any]:
    """Check mode: skip what is present, plan the rest (commands and undo commands); nothing changes.

    pybofh plans on the system as it is: a step that needs what an earlier step only planned (an LV in a planned VG)
    stops the plan there (``plan_complete: false``); a step refused on the system as it is fails, as the run would.
    """
    stopped = None
    block = Atomic(dry_run=True, allow_irreversible=allow_irreversible, label=label)
    with block:
        for item in items:
            try:
                why = present(item)
                if why is not None:
                    item.status, item.reason = "present", why
                    continue
                block(item.func)(*item.args, **item.kwargs)
                item.status = "planned"
            except Exception as exc:  # noqa: BLE001 - every error becomes the module's answer
                if isinstance(exc, Conflict) or not any(i.status == "planned" for i in items):
                    item.status, item.reason = "failed", _line(exc)
                    result = {"changed": False, "operations": [i.report() for i in items], "plan": block.plan}
                    raise JobFailed(f"{item.op} would fail: {_line(exc)}; nothing was changed", result) from None
                item.status = "not planned"
                item.reason = stopped = f"planning stopped here (it needs what an earlier step only planned): " \
                                        f"{_line(exc)}"
                break
    planned = any(i.status == "planned" for i in items)
    return {"changed": planned, "operations": [i.report() for i in items], "plan": block.plan,
            "plan_complete": stopped is None, "journal_id": None, "diff_text": _text(items, block.format_plan())}


def _apply(items: list[Item], *, allow_irreversible: bool, label: str, wait: bool) -> dict[str, Any]:
    """Run the job as one journalled atomic block; on failure every finished step is undone, newest first."""
    block = Atomic(allow_irreversible=allow_irreversible, lazy_journal=True, label=label, wait=wait)
    finished: list[Any] = []
    failed: Item | None = None
    try:
        with block:
            for item in items:
                try:
                    why = present(item)
                    if why is not None:
                        item.status, item.reason = "present", why
                        continue
                    first = len(block.steps)
                    block(item.func)(*item.args, **item.kwargs)
                    item.status, item.steps = "changed", block.steps[first:]
                except BaseException as exc:
                    item.status, item.reason, failed = "failed", _line(exc), item
                    finished[:] = block.steps  # the rollback empties block.steps
                    raise
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - KeyboardInterrupt: a signal rolled it back
        raise JobFailed(*_failure(items, failed, finished, block, exc)) from None
    changed = any(i.status == "changed" for i in items)
    return {"changed": changed, "operations": [i.report() for i in items], "plan": block.plan,
            "journal_id": block.journal_id, "diff_text": _text(items, block.format_plan())}


def _settled(step: Any, created: list[str]) -> bool:
    """Whether a finished step's effect is gone after the rollback: undone, nothing to undo (read-only), or an
    irreversible step on something an earlier step of the job made (its undo took it away)."""
    if step.outcome is not None:
        return bool(step.outcome.settled)
    if not step.spec.irreversible:
        return True
    target = target_of(step.spec, step.bound)
    return target is not None and any(same_object(str(target), c) for c in created)


def _failure(items: list[Item], failed: Item | None, finished: list[Any], block: Any, exc: BaseException
             ) -> tuple[str, dict[str, Any]]:
    """The message and result of a failed run: what ran, how each step was undone, the journal id."""
    complete = not isinstance(exc, RollbackError)
    undone, lasting = [], []
    for step in reversed(finished):
        outcome = step.outcome
        if outcome is not None:
            state, detail, commands = outcome.state, outcome.detail, outcome.commands
        else:
            state, commands = "not undone", []
            detail = f"irreversible: {step.spec.irreversible}" if step.spec.irreversible else "nothing to undo"
            if not _settled(step, block.created):
                lasting.append(f"{step.spec.qualname} on {target_of(step.spec, step.bound)}")
        undone.append({"step": step.index, "op": step.spec.qualname, "operation": step.describe(),
                       "undo": step.undo.describe() if step.undo else None, "state": state, "detail": detail,
                       "undo_commands": commands})
    for item in items:
        if item.status == "changed" and complete:
            item.status = "undone" if all(_settled(s, block.created) for s in item.steps) else "not undone"
    where = f" (journal {block.journal_id})" if block.journal_id else ""
    what = failed.op if failed is not None else "the job"
    if not complete:
        tail = f"not everything was undone{where}: see rollback, then 'bofh journal show' / 'bofh journal rollback'"
    elif lasting:
        tail = f"every step it finished was undone{where} but {len(lasting)} irreversible one(s): {', '.join(lasting)}"
    elif finished:
        tail = f"every step it finished was undone{where}"
    else:
        tail = "nothing had changed"
    status = ("rolled-back" if finished else "nothing-ran") if complete else "needs-attention"
    result = {"changed": not complete or bool(lasting), "operations": [i.report() for i in items],
              "journal_id": block.journal_id, "rolled_back": complete and not lasting and bool(finished),
              "rollback": {"status": status, "steps": undone}}
    return f"{what} failed: {_line(exc)}; {tail}", result


def _text(items: list[Item], plan: str) -> str:
    """The plan as text for diff mode: steps skipped as present, then each step's commands and its undo."""
    lines = [f"present, skipped: {i.op}: {i.reason}" for i in items if i.status == "present"]
    lines += [plan] if plan else []
    lines += [f"{i.status}: {i.op}: {i.reason}" for i in items if i.status == "not planned"]
    return "\n".join(lines) + "\n" if lines else ""
