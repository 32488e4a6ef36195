"""A plugin that fails at import, as a plugin with a missing dependency would."""

import pybofh_no_such_dependency  # noqa: F401
