"""What every plugin's parsers share at their boundary (a toolkit for plugin authors).

``public_parsers()`` wraps each public ``parse_*`` function of a parsers module with the two rules common to all
of them: the cyclic garbage collector is paused while a parser builds its result (results hold no reference cycles,
and on a host with 20,000 devices the collector's passes over the growing object graph cost more than the parsing),
and the ``ValueError`` that ``int()`` raises for more than ``sys.get_int_max_str_digits()`` digits becomes the
plugin's ``ParseError`` (no tool prints such a number; the input is searched for one only after a ValueError
escaped, so reading real output costs nothing).
"""

from __future__ import annotations

import functools
import gc
import re
import sys
from collections.abc import Callable, MutableMapping
from typing import Any

from .errors import ParseError


def boundary(parse: Callable[..., Any]) -> Callable[..., Any]:
    """``parse`` with the GC paused while it runs and huge numbers refused as ``ParseError``."""

    @functools.wraps(parse)
    def wrapper(data: Any, *args: Any, **kwargs: Any) -> Any:
        collecting = gc.isenabled()
        if collecting:
            gc.disable()
        try:
            return parse(data, *args, **kwargs)
        except ValueError:
            limit = getattr(sys, "get_int_max_str_digits", lambda: 0)()
            text = data.decode("ascii", "replace") if isinstance(data, bytes) else data
            huge = re.search(f"[0-9]{{{limit + 1}}}", text) if limit and isinstance(text, str) else None
            if huge is None:
                raise
            raise ParseError(parse.__name__.removeprefix("parse_").replace("_", " "), "a number of thousands of "
                             "digits is not tool output", huge.group(0)[:20], kwargs.get("source")) from None
        finally:
            if collecting:
                gc.enable()

    return wrapper


def public_parsers(namespace: MutableMapping[str, Any]) -> None:
    """Wrap every ``parse_*`` function defined in the module whose globals are ``namespace`` with ``boundary()``.

    Call it at the end of a parsers module: ``public_parsers(globals())``.
    """
    module = namespace.get("__name__")
    for name, value in list(namespace.items()):
        if name.startswith("parse_") and callable(value) and getattr(value, "__module__", None) == module:
            namespace[name] = boundary(value)


__all__ = ["boundary", "public_parsers"]
