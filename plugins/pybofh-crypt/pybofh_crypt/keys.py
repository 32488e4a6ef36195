"""Where the layer model gets passphrases: providers pushed for a scope, then key files in ``crypt.key_dir``.

A block-device stack opens LUKS layers without knowing any key itself. Give it one for the duration of a job:

    from pybofh_crypt import keys
    with keys.provide(Secret(pw)):                        # any LUKS device
        stack.open()
    with keys.provide(KeyFile("/root/k"), uuid="1234-…"):  # only this header
        ...
    with keys.provide(callback=ask):                      # ask(device, uuid) -> Secret | KeyFile | None
        ...

Providers live in a context variable (never on disk, never in the journal); the innermost matching one wins.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pybofh_core.errors import ValidationError
from pybofh_core.runner import get_runner, same_path
from pybofh_core.secret import Secret, as_secret

from .errors import KeyNotFoundError
from .types import KeyFile

Key = Secret | KeyFile
Callback = Callable[[str, str | None], "Key | None"]


@dataclass(frozen=True)
class _Provider:
    key: Key | None
    device: str | None
    uuid: str | None
    callback: Callback | None

    def lookup(self, device: str, uuid: str | None) -> Key | None:
        if self.device is not None and not same_path(self.device, device):
            return None
        if self.uuid is not None and (uuid is None or self.uuid.lower() != uuid.lower()):
            return None
        if self.callback is not None:
            found = self.callback(device, uuid)
            return None if found is None else as_key(found)
        return self.key


_providers: contextvars.ContextVar[tuple[_Provider, ...]] = contextvars.ContextVar("pybofh_crypt_keys", default=())


def as_key(value: str | bytes | Secret | KeyFile) -> Key:
    """Wrap a passphrase (str/bytes) as a Secret; pass Secrets and KeyFiles through."""
    if isinstance(value, KeyFile):
        return value
    return as_secret(value)


@contextlib.contextmanager
def provide(
    key: str | bytes | Secret | KeyFile | None = None,
    *,
    device: str | None = None,
    uuid: str | None = None,
    callback: Callback | None = None,
) -> Iterator[None]:
    """Make ``key`` (or ``callback(device, uuid)``) the passphrase of LUKS devices opened inside the ``with`` block.

    ``device`` or ``uuid`` restrict it to one device/header; without them it applies to every LUKS device.
    """
    if (key is None) == (callback is None):
        raise TypeError("provide() takes a key or a callback, not both or neither")
    entry = _Provider(None if key is None else as_key(key), device, uuid, callback)
    token = _providers.set((*_providers.get(), entry))
    try:
        yield
    finally:
        _providers.reset(token)


def lookup(device: str, uuid: str | None = None) -> Key:
    """The key for LUKS ``device`` (header ``uuid``): innermost provider first, then the keys given for this run
    (``bofh journal rollback --key-file``; of several, the one that opens this header), then
    ``<crypt.key_dir>/<uuid>``."""
    for provider in reversed(_providers.get()):
        found = provider.lookup(device, uuid)
        if found is not None:
            return found
    given = _given_key(device)
    if given is not None:
        return given
    from pybofh_core.session import get_settings

    key_dir = get_settings().crypt.key_dir
    if key_dir is not None and uuid:
        for name in (uuid, f"{uuid}.key"):
            path = key_dir / name
            if _is_file(str(path)):
                return KeyFile(str(path))
    hint = f" or put a key file named {uuid} in crypt.key_dir ({key_dir})" if uuid else ""
    raise KeyNotFoundError(
        f"no passphrase is known for LUKS device {device}"
        + (f" (UUID {uuid})" if uuid else "")
        + f": give one (--key-file FILE|- of bofh blockdev resize or bofh journal rollback; in Python "
        f"pybofh_crypt.keys.provide(...)){hint}"
    )


def _is_file(path: str) -> bool:
    """Whether a key file is at ``path`` where cryptsetup runs (it reads a KeyFile there, by path); a path that
    cannot be looked at (permissions) is no key file."""
    try:
        return get_runner().path_kind(path) == "file"
    except ValidationError:
        return False


def _given_key(device: str) -> Key | None:
    """The key given for this run that opens ``device``: the only one given, or the first of several that
    ``cryptsetup open --test-passphrase`` accepts (read-only)."""
    from pybofh_core.secret import keys_given

    given = [k if isinstance(k, Secret) else KeyFile(str(k)) for k in keys_given()]
    if len(given) <= 1:
        return given[0] if given else None
    from ._cmd import cryptsetup, key_args

    for key in given:
        opts, stdin = key_args(key)
        res = cryptsetup(["open", "--test-passphrase", *opts, "--", device], input=stdin, readonly=True,
                         ok_codes=(0, 1, 2))
        if res.returncode == 0:
            return key
    return None
