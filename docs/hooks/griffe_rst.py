"""A griffe extension of the documentation site, for the docstrings that use Sphinx fields (``:param x:``).

* ``.. versionadded:: X`` renders as "Added in version X.": the hookspecs keep that line because the project's
  style asks for it and ``tests/test_hooks.py`` checks it; Markdown has no such directive.
* Prose after the fields (the hookspecs' constraints, "Unset options come from…") is moved before them: griffe's
  Sphinx parser would otherwise read it as part of the last field (the return value's description).

Every other docstring is Markdown as written (``tests/test_docs_site.py`` checks that none holds reST markup).
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension

VERSIONADDED = re.compile(r"^\.\. versionadded:: *(\S+)\s*$", re.MULTILINE)
FIELD = re.compile(r"^:\w+( [\w.]+)?:")


def tail_first(text: str) -> str:
    """``text`` with the unindented lines that follow its field list moved in front of the field list."""
    lines = text.splitlines()
    fields = [i for i, line in enumerate(lines) if FIELD.match(line)]
    if not fields:
        return text
    end = fields[-1] + 1
    while end < len(lines) and (lines[end].startswith((" ", "\t")) or not lines[end].strip()):
        end += 1
    tail = lines[end:]
    if not tail:
        return text
    body, field_block = lines[: fields[0]], lines[fields[0] : end]
    return "\n".join([*body, *tail, "", *field_block]).rstrip()


class SphinxFieldsLast(Extension):
    """Rewrite every docstring as it is loaded."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            text = VERSIONADDED.sub(r"*Added in version \1.*", obj.docstring.value)
            obj.docstring.value = tail_first(text)
