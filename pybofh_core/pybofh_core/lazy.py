"""Lazy module attributes (PEP 562) from one table, so importing a package stays cheap.

``import pybofh_lvm`` loads only its hook implementations; ``pybofh_lvm.create_lv`` imports ``pybofh_lvm.ops`` on
first use. Each package states *what* is lazy (a name → module table) and this module says *how*, once:

```python
_API = {"create_lv": "ops", "createLV": ("ops", "create_lv"), "keys": None}
__getattr__, __dir__ = lazy_api(__name__, _API)
```

A leaf: it imports the standard library only, so ``pybofh_core/__init__`` itself can use it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from importlib import import_module
from typing import Any, TypeAlias

#: Where a lazy name is found: ``"ops"``, the attribute of the same name in that module; ``("ops", "create_lv")``,
#: another attribute (an alias, a renamed function); ``None``, the name is itself the module (``crypt.keys``).
Target: TypeAlias = str | tuple[str, str] | None
#: Module-level ``__getattr__`` and ``__dir__``, in that order.
LazyHooks: TypeAlias = tuple[Callable[[str], Any], Callable[[], list[str]]]


def _resolve(package: str, name: str, target: Target) -> Any:
    """Import what ``target`` names for ``name``, module names relative to ``package`` ("" for absolute ones)."""
    if target is None:
        module, attr = name, None
    elif isinstance(target, tuple):
        module, attr = target
    else:
        module, attr = target, name
    loaded = import_module(f"{package}.{module}" if package else module)
    return loaded if attr is None else getattr(loaded, attr)


def lazy_api(
    module: str,
    api: Mapping[str, Target],
    *,
    package: str | None = None,
    fallback: Callable[[str], Any] | None = None,
    extra_names: Callable[[], Iterable[str]] | None = None,
) -> LazyHooks:
    """``__getattr__`` and ``__dir__`` for ``module`` (call it with ``__name__``, as the module runs) serving ``api``.

    A name in ``api`` is imported on first access and cached in the module's globals, so later lookups never reach
    ``__getattr__`` again. ``package`` is what the table's module names are relative to: by default ``module``
    itself (its submodules); another package (``__package__`` from a submodule), or ``""`` for absolute names.

    ``fallback(name)`` answers any other public name (no leading ``_``) and is *not* cached: for what can change
    while the process runs (``pybofh.settings``, a plugin found through the plugin host); it raises AttributeError
    for a name it does not know. ``extra_names()`` adds such names to ``dir()``. Without a fallback, an unknown name
    raises ``AttributeError("module 'x' has no attribute 'y'")``, as Python's own lookup does.
    """
    try:
        namespace = vars(sys.modules[module])
    except KeyError:
        raise ValueError(f"lazy_api({module!r}): no such module is being imported; pass __name__") from None
    base = module if package is None else package

    def __getattr__(name: str) -> Any:
        if name in api:
            value = _resolve(base, name, api[name])
            namespace[name] = value  # cached: the next lookup finds it without calling __getattr__
            return value
        if fallback is not None and not name.startswith("_"):
            return fallback(name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        names = {*namespace.copy(), *api}  # copy(): another thread may be caching a name meanwhile
        if extra_names is not None:
            names.update(extra_names())
        return sorted(names)

    __getattr__.__qualname__ = "__getattr__"
    __dir__.__qualname__ = "__dir__"
    __getattr__.__module__ = __dir__.__module__ = module
    __getattr__.__doc__ = f"Import {module}'s public API on first use (pybofh_core.lazy)."
    __dir__.__doc__ = f"{module}'s globals and its lazy API (pybofh_core.lazy)."
    return __getattr__, __dir__
