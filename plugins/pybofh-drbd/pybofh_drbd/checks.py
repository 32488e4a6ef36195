"""Input checks of the DRBD plugin, shared by its readers, operations and CLI: pure, no command runs."""

from __future__ import annotations

from typing import Any

from pybofh_core.errors import ValidationError
from pybofh_core.validate import validate_name

from .types import DrbdResource, ResizeResult, ResourceConfig, RoleChange


def check_resource_name(res: Any) -> str:
    """Validate a resource name (no leading '-', no '/', whitespace…); ``all`` is refused (its undo is ambiguous).

    A resource result is accepted too: ``DrbdResource``/``ResourceConfig`` by name, ``RoleChange``/``ResizeResult``
    by their resource."""
    if isinstance(res, (DrbdResource, ResourceConfig)):
        res = res.name
    elif isinstance(res, (RoleChange, ResizeResult)):
        res = res.resource
    name = validate_name(res, what="DRBD resource name")
    if name == "all":
        raise ValidationError("DRBD resource name: 'all' is not accepted; name one resource so its undo is exact")
    return name
