"""Input checks of the Xen plugin, shared by its readers, operations and CLI: pure, no command runs."""

from __future__ import annotations

import re
from typing import Any

from pybofh_core.errors import ValidationError
from pybofh_core.validate import validate_name

_DOMAIN_NAME = re.compile(r"^[A-Za-z0-9_.+:@-]+$")  # no shell metacharacters: they are always a quoting mistake


def validate_domain_name(name: Any) -> str:
    """Check a domain name before it reaches xl: no leading '-', '/', whitespace, control characters or all digits."""
    text = validate_name(name, what="domain name", pattern=_DOMAIN_NAME)
    if text.isdigit():
        raise ValidationError(f"domain name: {text!r} is all digits and xl would read it as a domain id")
    return text
