"""Operations: plugin functions that change the system, each declaring its inverse or why it has none.

A plugin writes:

    @operation(inverse=lambda lv: undo(remove_lv, lv.vg, lv.name), creates=lambda lv: [lv.path])
    def create_lv(vg: str, name: str, size: int | str) -> LogicalVolume: ...

and registers its ``ops`` module through the ``pybofh_register_operations`` hook. ``Atomic``
then knows how to undo each step, and journals the undo by operation name so another process can replay it.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

from . import recording
from .errors import IrreversibleOperationError, NotFoundError, PluginError, PybofhError, ToolUnavailableError
from .runner import get_runner
from .secret import Secret
from .serialize import to_jsonable
from .validate import named_path

if TYPE_CHECKING:
    from .identity import Verdict
    from .model import PlanModel

F = TypeVar("F", bound=Callable[..., Any])


#: Parameters that name a path an operation acts on (locked by default while a block runs it).
PATH_PARAMS = ("device", "devices", "path", "mountpoint", "target", "file", "src", "dst", "snapshot", "stream_file",
               "dest_dir", "target_dir", "disk")
#: Parameters that name an object of the operation's domain by name (a DRBD resource, a domU).
NAME_PARAMS = ("res", "domu")


@dataclass
class OperationSpec:
    """What pybofh knows about one operation: the contract declared on ``@operation`` next to the function.

    Its inverse (or why it has none), its data check (what ``force`` overrides), how it recognises its object when
    it runs as an undo (``identify``), its target, what it creates, the tools it needs, its secret parameters.
    """

    func: Callable[..., Any]
    inverse: Callable[..., Any] | None = None
    irreversible: str | None = None
    target: str | Callable[[Mapping[str, Any]], Any] | None = None
    creates: Callable[[Any], Iterable[str]] | None = None
    composite: bool = False
    aliases: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    domain: str | None = None
    check: Callable[[Mapping[str, Any]], None] | None = None
    #: ``f(model, result, bound_args)``: what the call made, changed or removed, written into a dry run's model
    effects: Callable[[PlanModel, Any, Mapping[str, Any]], None] | None = None
    identify: Callable[[Mapping[str, Any], Mapping[str, Any]], Verdict] | None = None
    no_undo: str | None = None
    locks: Callable[[Mapping[str, Any]], Iterable[Any]] | None = None
    takes_away: bool | Callable[[Mapping[str, Any]], bool] = False

    def takes_away_ground(self, bound: Mapping[str, Any]) -> bool:
        """Whether this call may take away what it acts on (removal, unmount, close, detach, shrink), so it is
        refused on the ground of the running block's journal."""
        if self.irreversible:
            return True
        if callable(self.takes_away):
            try:
                return bool(self.takes_away(bound))
            except PybofhError:
                return False  # bad input: the operation's own checks refuse it with a typed error
        return self.takes_away

    def lock_keys(self, bound: Mapping[str, Any]) -> list[str]:
        """The objects a call acts on, for the atomic block's per-object locks: ``locks=``, else its ``target`` and
        the arguments of the conventional path parameters (``device``, ``path``, ``mountpoint``…) and of the name
        parameters ``res`` and ``domu`` (prefixed by the domain)."""
        if self.locks is not None:
            return [str(k) for k in self.locks(bound) if k is not None]
        keys: list[str] = []
        target = target_of(self, bound)
        if target is not None:
            keys.append(str(target))
        for param in PATH_PARAMS:
            value = bound.get(param)
            for v in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(v, (str, os.PathLike)) and str(v):
                    keys.append(os.fspath(v))
        for param in NAME_PARAMS:
            value = bound.get(param)
            if value is not None:
                keys.append(f"{self.domain}:{param}={getattr(value, 'name', value)}")
        return list(dict.fromkeys(keys))

    @property
    def name(self) -> str:
        """The function's own name (``create_lv``)."""
        return self.func.__name__

    @property
    def qualname(self) -> str:
        """The registered name, ``domain.name`` (``lvm.create_lv``); the function's module path if unregistered."""
        return f"{self.domain}.{self.name}" if self.domain else f"{self.func.__module__}.{self.name}"

    def undo_for(self, result: Any, bound: Mapping[str, Any]) -> Undo | None:
        """Compute the undo of a finished call from its result and arguments (None = nothing to undo)."""
        if self.inverse is None:
            return None
        sig = inspect.signature(self.inverse)
        params = list(sig.parameters.values())
        kwargs: dict[str, Any] = {}
        takes_var_kw = any(p.kind is p.VAR_KEYWORD for p in params)
        for p in params[1:]:
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name in bound:
                kwargs[p.name] = bound[p.name]
        if takes_var_kw:
            kwargs.update({k: v for k, v in bound.items() if k not in kwargs})
        out = self.inverse(result, **kwargs) if params else self.inverse()
        if out is not None and not isinstance(out, Undo):
            raise PluginError(f"inverse of {self.qualname} returned {type(out).__name__}, expected Undo or None")
        return out


@dataclass(frozen=True)
class Undo:
    """A call that undoes a step: an operation (or plain function) with its arguments, and the identity of the
    object the step made or changed (checked before the call by the undo operation's ``identify``)."""

    func: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    identity: Mapping[str, Any] | None = None

    def __call__(self) -> Any:
        """Run the undo (without its identity check; ``pybofh_core.rollback.perform()`` does both)."""
        return self.func(*self.args, **dict(self.kwargs))

    def expecting(self, **identity: Any) -> Undo:
        """This undo, acting only on the object with ``identity`` (UUIDs, inode, boot id…; JSON-able values).

        The undo operation must declare ``identify=``: before the call it compares the object it finds with this
        identity — gone counts as already undone, a different object is left alone.
        """
        spec = spec_of(self.func)
        if spec is None or spec.identify is None:
            name = getattr(self.func, "__name__", repr(self.func))
            raise PluginError(f"undo {name} declares no identify= on its @operation, so it cannot check an identity")
        return Undo(self.func, self.args, self.kwargs, {**(self.identity or {}), **identity})

    @property
    def op(self) -> str:
        """The registered operation name, used to replay this undo from the journal."""
        spec = spec_of(self.func)
        if spec is not None:
            return spec.qualname
        return f"{getattr(self.func, '__module__', '?')}.{getattr(self.func, '__qualname__', repr(self.func))}"

    def describe(self) -> str:
        """A readable ``op(arg, key=value)`` form, secrets masked."""
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.op}({', '.join(parts)})"

    def to_json(self, registry: OperationRegistry | None = None) -> dict[str, Any]:
        """The journal form: operation name, arguments, and whether another process can replay it. ``registry``
        gives an operation imported directly its domain (without one, such an undo is not replayable)."""
        spec = spec_of(self.func)
        if spec is not None and registry is not None:
            ensure_registered(spec, registry)
        replayable = spec is not None and spec.domain is not None
        args, ok_a = to_jsonable(list(self.args))
        # A secret given by keyword to an operation that declares it (secrets=) is never written: a replay passes
        # None, and the operation finds its key itself (key providers, key files) or says how to give one.
        hidden = set(spec.secrets) if spec is not None else set()
        kwargs, ok_k = to_jsonable({k: None if k in hidden else v for k, v in self.kwargs.items()})
        out = {"op": self.op, "args": args, "kwargs": kwargs, "replayable": replayable and ok_a and ok_k}
        if self.identity is not None:
            out["identity"], _ = to_jsonable(dict(self.identity))
        return out


def undo(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Undo:
    """Build an ``Undo`` for an ``inverse=`` lambda: ``inverse=lambda lv: undo(remove_lv, lv.vg, lv.name)``;
    add the identity of the object with ``.expecting(uuid=lv.uuid)``."""
    return Undo(func, args, kwargs)


def undo_ahead(u: Undo | Callable[[], Undo | None] | None) -> None:
    """Journal ``u`` as the undo of the running step *before* its command runs (write-ahead undo).

    Call it in an operation once the undo is known (the old size, the old name, the old label) and before the
    mutating command. If the process dies during the command, ``bofh journal rollback`` runs ``u`` — so it must be
    idempotent and carry an identity. ``u`` may be a function building the undo: it is called only inside an
    atomic block (outside one this does nothing, and reads nothing).
    """
    if u is None or not recording.announcing():
        return
    if not isinstance(u, Undo):
        u = u()
    if u is not None:
        recording.announce(u)


expected_identity = recording.expected_identity
undoing = recording.undoing
current_block = recording.current_block


def ensure_registered(spec: OperationSpec, registry: OperationRegistry) -> None:
    """Give ``spec`` its domain when its module was imported directly before ``registry`` loaded it lazily: only
    the domain that registered that module by import path is loaded (serialising an LVM undo imports no other
    plugin's operations); every pending domain only when none names it."""
    if spec.domain is None:
        registry.load_module(spec.func.__module__)
        if spec.domain is None:
            registry._load()


def spec_of(func: Any) -> OperationSpec | None:
    """Return the ``OperationSpec`` of an operation function (or of a plain function: None)."""
    return getattr(func, "__pybofh_operation__", None)


def operation(
    *,
    inverse: Callable[..., Undo | None] | None = None,
    irreversible: str | None = None,
    no_undo: str | None = None,
    target: str | Callable[[Mapping[str, Any]], Any] | None = None,
    creates: Callable[[Any], Iterable[str]] | None = None,
    check: Callable[[Mapping[str, Any]], None] | None = None,
    identify: Callable[[Mapping[str, Any], Mapping[str, Any]], Verdict] | None = None,
    locks: Callable[[Mapping[str, Any]], Iterable[Any]] | None = None,
    takes_away: bool | Callable[[Mapping[str, Any]], bool] = False,
    composite: bool = False,
    aliases: Iterable[str] = (),
    requires: Iterable[str] = (),
    secrets: Iterable[str] = (),
    effects: Callable[[PlanModel, Any, Mapping[str, Any]], None] | None = None,
) -> Callable[[F], F]:
    """Mark a plugin function as an operation.

    :param inverse: ``f(result, **named_args) -> Undo | None``, computed after the operation ran. An undo known
        before the command runs is also handed to ``undo_ahead()`` (write-ahead).
    :param irreversible: why it cannot be undone (mkfs, luksFormat, removals); refused inside an atomic block
        unless its ``target`` argument names something the same block created, or the block allows it.
    :param no_undo: why it needs no undo (it changes nothing that could be restored: a read-only check, a wait).
    :param target: the parameter naming the object the operation destroys, overwrites or shrinks, or a function
        of the bound arguments returning it (``target=lambda a: f"/dev/{a['vg']}/{a['name']}"``).
    :param creates: ``f(result) -> paths`` the operation created (so later irreversible steps may use them).
    :param check: the data check, ``f(bound_args)`` raising ``DataAtRiskError`` when the
        call would destroy or hide data (signatures, mounts, holders, used space). It runs before the operation
        unless ``force=True`` was passed (the operation must take ``force``), the target was created by the same
        atomic block, or the operation runs as an identified undo. It may run read-only commands.
    :param identify: ``f(bound_args, identity) -> Verdict`` for an operation that undoes other steps: before it runs
        as an undo, whether the object it would act on is the one ``identity`` names (``act``), is gone or already
        as the undo would leave it (``already``), or is another object (``other``: left alone, reported).
    :param locks: ``f(bound_args) -> keys`` of the objects the call acts on (paths, ``lvm:vg/lv``…): an atomic block
        holds a lock per object until it ends, so two jobs never change one object at once (default: the target).
    :param takes_away: the operation makes its object unavailable (unmount, close, detach, deactivate), or
        ``f(bound_args) -> bool`` says when it does (a shrink): like an irreversible one, it is refused on what the
        running block's journal lives on.
    :param composite: the operation is made of other operations, each recorded as its own step.
    :param aliases: other names (the seed's camelCase ones) under which it is registered.
    :param requires: the external tools it runs on every call (``"a|b"``: one of them, as for a filesystem's own
        tool), found where commands run before it runs anything, else ``ToolUnavailableError``; a composite's list
        is only shown (its steps check their own). ``bofh plugins --operations`` shows them and which are missing.
    :param secrets: parameters holding passphrases or keys: a plain ``str`` given there is wrapped in
        ``Secret`` before anything (journal, logs, errors) can see it.
    :param effects: ``f(model, result, bound_args)`` writes what the call made, changed or removed into the
        ``PlanModel`` of a dry run (``model.put("lvm.vg", name, vg)``, ``model.remove(...)``; values known only
        after a real run as ``placeholder("uuid of VG vg0")``), so later steps and the undo plan see it. Called
        only in a dry run, after the operation returned.
    """
    if sum(x is not None for x in (inverse, irreversible, no_undo)) > 1:
        raise PluginError("an operation has an inverse, is irreversible, or needs no undo: one of them")
    for what, why in (("irreversible", irreversible), ("no_undo", no_undo)):
        if why is not None and not why.strip():
            raise PluginError(f"{what}= must say why")

    def deco(func: F) -> F:
        spec = OperationSpec(
            func=func,
            inverse=inverse,
            irreversible=irreversible,
            target=target,
            creates=creates,
            composite=composite,
            aliases=tuple(aliases),
            requires=tuple(requires),
            secrets=tuple(secrets),
            check=check,
            identify=identify,
            effects=effects,
            no_undo=no_undo,
            locks=locks,
            takes_away=takes_away,
        )
        sig = inspect.signature(func)
        for name in spec.secrets:
            if name not in sig.parameters:
                raise PluginError(f"operation {func.__name__}: secret {name!r} is not one of its parameters")
        if isinstance(target, str) and target not in inspect.signature(func).parameters:
            raise PluginError(f"operation {func.__name__}: target {target!r} is not one of its parameters")
        if check is not None and "force" not in sig.parameters:
            raise PluginError(f"operation {func.__name__}: a data check needs a 'force' parameter to override it")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            args, kwargs = passed_on(args, kwargs)
            if spec.secrets:
                args, kwargs = _wrap_secrets(sig, spec.secrets, args, kwargs)
            if recording.inside_step():
                tools_check(spec)
                data_check(spec, args, kwargs)
                ground_check(spec, args, kwargs)
                return apply_effects(spec, func(*args, **kwargs), args, kwargs)
            recorder = recording.recorder()
            if recorder is not None:
                return recorder.record(spec, wrapper, args, kwargs)
            block = recording.current_block()
            if block is not None and spec.irreversible:
                block.check_irreversible(spec, bind(spec, args, kwargs))
            tools_check(spec)
            data_check(spec, args, kwargs)
            ground_check(spec, args, kwargs)
            return apply_effects(spec, func(*args, **kwargs), args, kwargs)

        wrapper.__pybofh_operation__ = spec  # type: ignore[attr-defined]
        spec.func = func
        return wrapper  # type: ignore[return-value]

    return deco


def _as_text(value: Any) -> Any:
    """A path-like value (a result passed on: ``LoopDevice``, ``LogicalVolume``, ``Mount``, ``pathlib.Path``…) as
    the path it names; a list or tuple of them element by element; anything else unchanged."""
    if isinstance(value, (list, tuple)) and any(isinstance(v, os.PathLike) for v in value):
        return type(value)(named_path(v) for v in value)
    return named_path(value)


def passed_on(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Every argument that names a path or device by ``__fspath__`` turned into that path, before anything else sees
    the call: so a result is accepted wherever its path is (checks, locks, journal, the irreversible-target check and
    the operation all see the same text), and no plugin has to know another plugin's types."""
    if not any(isinstance(v, (os.PathLike, list, tuple)) for v in (*args, *kwargs.values())):
        return args, kwargs
    return tuple(_as_text(v) for v in args), {k: _as_text(v) for k, v in kwargs.items()}


def _wrap_secrets(
    sig: inspect.Signature, names: tuple[str, ...], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Wrap plain str/bytes values of the secret parameters in Secret (a bad call is left for Python to report)."""
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError:
        return args, kwargs
    for name in names:
        value = bound.arguments.get(name)
        if isinstance(value, (str, bytes)):
            bound.arguments[name] = Secret(value)
    return bound.args, bound.kwargs


def apply_effects(spec: OperationSpec, result: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """In a dry run, write what the call made, changed or removed into the runner's planning model (``effects=``);
    return ``result``. Nothing happens where commands really run."""
    model = get_runner().model
    if spec.effects is not None and model is not None:
        spec.effects(model, result, bind(spec, args, kwargs))
    return result


def missing_tools(spec: OperationSpec) -> list[str]:
    """The entries of ``spec.requires`` with no tool found where commands run (``a|b`` for alternatives)."""
    runner = get_runner()
    return [entry for entry in spec.requires if not any(runner.has_tool(tool) for tool in entry.split("|"))]


def tools_check(spec: OperationSpec) -> None:
    """Refuse a call before it runs anything when a tool it runs on every call is not installed where commands run:
    one message naming the tool, not a failure half-way through (a composite's steps check their own)."""
    if spec.composite or not spec.requires:
        return
    missing = missing_tools(spec)
    if missing:
        host = get_runner().host
        where = f"on {host}" if host else "on PATH or in /sbin, /usr/sbin"
        raise ToolUnavailableError(missing[0].replace("|", " or "), f"{spec.qualname} runs it and it is not found "
                                   f"{where}; nothing was run")


def data_check(spec: OperationSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Run ``spec``'s data check unless ``force`` was passed, its target was created by the open atomic block, or
    it runs as an identified undo of a rollback that undid every newer step (then the object holds what it held
    when its step ran). A call that does not bind is left for the operation to report."""
    if spec.check is None:
        return
    undoing = recording.undoing()
    if undoing and not recording.undo_checked():
        return
    try:
        bound = bind(spec, args, kwargs)
    except TypeError:
        return
    if bound.get("force"):
        return
    block = recording.current_block()
    if (not undoing and block is not None and spec.target is not None
            and block.created_here(target_of(spec, bound))):
        return
    spec.check(bound)


def ground_check(spec: OperationSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Refuse an operation that would remove, unmount, close or detach what the open block's journal lives on."""
    if not (spec.irreversible or spec.takes_away) or recording.undoing():
        return
    block = recording.current_block()
    if block is None:
        return
    try:
        bound = bind(spec, args, kwargs)
    except TypeError:
        return
    block.check_ground(spec, bound)


def bind(spec: OperationSpec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Map a call's arguments to parameter names (with defaults), raising TypeError as a call would."""
    sig = inspect.signature(spec.func)
    bound = sig.bind(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def same_object(a: str, b: str) -> bool:
    """Whether two paths name one existing object where commands run (string equal, or resolving to the same
    file/device there): asked of the runner, so under ``--host`` the remote machine answers."""
    if a == b:
        return True
    try:
        runner = get_runner()
        return runner.same_path(a, b) and runner.exists(a)
    except (PybofhError, OSError, ValueError):
        return False


class OperationRegistry:
    """All registered operations by domain; filled by each plugin's ``pybofh_register_operations`` hook.

    Modules may be registered by import path (``add_module("lvm", "pybofh_lvm.ops")``): they are imported only
    when an operation of that domain is first looked up, so ``bofh`` starts without importing every plugin's code.
    """

    def __init__(self) -> None:
        self._ops: dict[str, dict[str, OperationSpec]] = {}
        self._wrappers: dict[str, Callable[..., Any]] = {}
        self._pending: dict[str, list[str]] = {}

    def add(self, domain: str, func: Callable[..., Any]) -> None:
        """Register one operation function under ``domain`` (and its aliases)."""
        spec = spec_of(func)
        if spec is None:
            raise PluginError(f"{func!r} is not decorated with @operation")
        if spec.domain not in (None, domain):
            raise PluginError(f"operation {spec.name} is already registered in domain {spec.domain!r}")
        spec.domain = domain
        table = self._ops.setdefault(domain, {})
        for name in (spec.name, *spec.aliases):
            if name in table and table[name] is not spec:
                raise PluginError(f"operation {domain}.{name} is registered twice")
            table[name] = spec
            self._wrappers[f"{domain}.{name}"] = func

    def add_module(self, domain: str, module: ModuleType | str) -> None:
        """Register every ``@operation`` function defined in ``module`` (a module, or its import path: lazy)."""
        if isinstance(module, str):
            self._pending.setdefault(domain, []).append(module)
            return
        for value in vars(module).values():
            spec = spec_of(value)
            if spec is not None and spec.func.__module__ == module.__name__:
                self.add(domain, value)

    def _load(self, domain: str | None = None) -> None:
        """Import the modules registered by path for ``domain`` (all domains when None)."""
        for dom in [domain] if domain else list(self._pending):
            for path in self._pending.pop(dom, []):
                self._import(dom, path)

    def _import(self, domain: str, path: str) -> None:
        """Import one operations module registered by path and register its operations under ``domain``."""
        import importlib

        try:
            module = importlib.import_module(path)
        except Exception as exc:
            raise PluginError(f"cannot load operations of {domain!r} from {path}: {exc}") from exc
        self.add_module(domain, module)

    def load_module(self, module: str) -> None:
        """Import the operations module ``module`` if a domain registered it by import path (and only that one)."""
        for dom, paths in list(self._pending.items()):
            if module in paths:
                paths.remove(module)
                if not paths:
                    del self._pending[dom]
                self._import(dom, module)

    def domains(self) -> list[str]:
        """Domains that registered at least one operation."""
        return sorted(set(self._ops) | set(self._pending))

    def specs(self, domain: str | None = None) -> Iterator[OperationSpec]:
        """Every distinct operation spec (of one domain, or all)."""
        self._load(domain)
        seen: set[int] = set()
        for dom in [domain] if domain else sorted(self._ops):
            for spec in self._ops.get(dom, {}).values():
                if id(spec) not in seen:
                    seen.add(id(spec))
                    yield spec

    def get(self, qualname: str) -> Callable[..., Any]:
        """The callable operation for ``domain.name`` (or an alias); NotFoundError when unknown."""
        self._load(qualname.split(".", 1)[0])
        try:
            return self._wrappers[qualname]
        except KeyError:
            raise NotFoundError(f"no operation {qualname!r} is registered (is its plugin installed?)") from None

    def has(self, qualname: str) -> bool:
        """Whether ``domain.name`` is registered."""
        self._load(qualname.split(".", 1)[0])
        return qualname in self._wrappers


def target_of(spec: OperationSpec, bound: Mapping[str, Any]) -> Any:
    """The object an irreversible call would destroy (from its ``target`` parameter or function)."""
    if callable(spec.target):
        return spec.target(bound)
    return bound.get(spec.target) if spec.target else None


def refuse_irreversible(spec: OperationSpec, bound: Mapping[str, Any], why: str) -> IrreversibleOperationError:
    """The error for an irreversible operation refused inside an atomic block."""
    what = f" on {target_of(spec, bound)!r}" if spec.target else ""
    hint = (
        "create the target in the same atomic block, or pass" if spec.target else "call it outside the block, or pass"
    )
    return IrreversibleOperationError(
        f"{spec.qualname}{what} cannot be undone ({spec.irreversible}) and {why}; "
        f"{hint} Atomic(allow_irreversible=True)"
    )


def redacted_args(bound: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments as JSON-able values for the journal, with secrets replaced."""
    out, _ = to_jsonable({k: v for k, v in bound.items()})
    return out  # type: ignore[no-any-return]


__all__ = [
    "OperationRegistry",
    "OperationSpec",
    "Secret",
    "Undo",
    "data_check",
    "operation",
    "spec_of",
    "undo",
    "undo_ahead",
    "undoing",
]
