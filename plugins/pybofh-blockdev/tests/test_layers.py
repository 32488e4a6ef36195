"""The layer model: probing through the hooks (open to other plugins), granularity, overheads, resize order."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pybofh_blockdev import layers
from pybofh_core import hookimpl
from pybofh_core.errors import ValidationError
from pybofh_core.layers import Layer
from pybofh_core.session import get_plugins

CALLS: list[tuple[str, str, int | None]] = []


class FakeDevice(layers.SizedLayer):
    """Stands for an LV (granularity: a 4 MiB extent)."""

    kind = "fake-lv"
    container = True

    def open(self) -> str:
        return self.device

    @property
    def inner(self) -> str:
        return self.device

    @property
    def granularity(self) -> int:
        return 4 * 1024**2

    def resize(self, size: int | None) -> None:
        CALLS.append(("resize", self.kind, size))


class FakeLuks(Layer):
    """Stands for a LUKS layer from another plugin: 16 MiB header, opens to a mapping, closes it again."""

    kind = "fake-luks"
    container = True

    def __init__(self, device: str) -> None:
        super().__init__(device)
        self.opened = False

    @property
    def overhead(self) -> int:
        return 16 * 1024**2

    @property
    def inner(self) -> str | None:
        return None

    def open(self) -> str:
        CALLS.append(("open", self.kind, None))
        return "/dev/mapper/fake"

    def close(self) -> None:
        CALLS.append(("close", self.kind, None))

    def resize(self, size: int | None) -> None:
        CALLS.append(("resize", self.kind, size))


class FakeFs(layers.SizedLayer):
    """Stands for a filesystem leaf with a 4096-byte block and a 100 MiB minimum."""

    kind = "fake-fs"

    @property
    def granularity(self) -> int:
        return 4096

    def minimum_size(self) -> int:
        return 100 * 1024**2

    def resize(self, size: int | None) -> None:
        CALLS.append(("resize", self.kind, size))


class OtherPlugin:
    """A third-party plugin answering the probe hooks for its devices and contents."""

    @hookimpl
    def pybofh_probe_device(self, device: str) -> Layer | None:
        return FakeDevice(device) if device == "/dev/vg/lv" else None

    @hookimpl
    def pybofh_probe_layer(self, device: str, probe) -> Layer | None:  # type: ignore[no-untyped-def]
        if probe.get("TYPE") == "crypto_LUKS":
            return FakeLuks(device)
        if device == "/dev/mapper/fake":
            return FakeFs(device)
        return None


@pytest.fixture
def other_plugin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Register the fake plugin in this process; probes answer from a table, sizes from a dict."""
    host = get_plugins()
    host.register(OtherPlugin(), "test-other-layers")
    probes = {"/dev/vg/lv": {"TYPE": "crypto_LUKS"}, "/dev/mapper/fake": {"TYPE": "fakefs"}}
    monkeypatch.setattr("pybofh_blockdev.facts.probe", lambda dev: probes[dev])
    monkeypatch.setattr("pybofh_blockdev.facts.get_size", lambda dev: 1024 * 1024**2)
    monkeypatch.setattr("pybofh_core.runner.local_path_kind", lambda path: "block")
    CALLS.clear()
    try:
        yield
    finally:
        host.unregister("test-other-layers")


def test_stack_opens_other_plugins_layers_and_closes_them(other_plugin) -> None:
    """device (other plugin) → LUKS (other plugin, opened) → filesystem; the LUKS layer is closed on exit."""
    with layers.BlockDeviceStack.open("/dev/vg/lv") as stack:
        assert [layer.kind for layer in stack.layers] == ["fake-lv", "fake-luks", "fake-fs"]
        assert stack.granularity == 4 * 1024**2  # lcm(4 MiB, 512, 4096)
        assert CALLS == [("open", "fake-luks", None)]
    assert CALLS[-1] == ("close", "fake-luks", None)


def test_grow_goes_outer_to_inner_with_overheads(other_plugin) -> None:
    """Growing 1 GiB → 2 GiB: the LV first, then LUKS (minus nothing), then the fs gets 2 GiB - 16 MiB."""
    with layers.BlockDeviceStack.open("/dev/vg/lv") as stack:
        CALLS.clear()
        res = stack.resize("2G")
    assert res.direction == "grow"
    assert CALLS[:3] == [("resize", "fake-lv", 2048 * 1024**2), ("resize", "fake-luks", 2032 * 1024**2),
                         ("resize", "fake-fs", 2032 * 1024**2)]


def test_shrink_goes_inner_to_outer_rounded_to_granularity_only_when_asked(other_plugin) -> None:
    """500 MiB + 1 byte is not whole 4 MiB extents: refused naming 500 and 504 MiB, nothing resized; with
    round="up" it becomes 504 MiB and the fs is resized first."""
    with layers.BlockDeviceStack.open("/dev/vg/lv") as stack:
        CALLS.clear()
        with pytest.raises(ValidationError, match=r"ask for 524288000 bytes \(500.0 MiB\) or "
                                                  r"528482304 bytes \(504.0 MiB\), or round it"):
            stack.resize(500 * 1024**2 + 1)
        assert [c for c in CALLS if c[0] == "resize"] == []
        res = stack.resize(500 * 1024**2 + 1, round="up")
    assert (res.size, res.requested, res.direction) == (504 * 1024**2, 500 * 1024**2 + 1, "shrink")
    assert CALLS[:3] == [("resize", "fake-fs", 488 * 1024**2), ("resize", "fake-luks", 488 * 1024**2),
                         ("resize", "fake-lv", 504 * 1024**2)]


@pytest.mark.parametrize("size, expected", [
    ("+1G", 2048 * 1024**2),
    ("-512M", 512 * 1024**2),
    ("+1M", 1024 * 1024**2),  # relative sizes round down to the 4 MiB step: no change
    ("-1M", 1020 * 1024**2),
])
def test_relative_sizes_start_from_the_current_size_and_round_down(other_plugin, size, expected) -> None:
    """``+1G`` / ``-512M`` resolve against the outer device's current 1 GiB, then down to whole 4 MiB extents."""
    with layers.BlockDeviceStack.open("/dev/vg/lv") as stack:
        res = stack.resize(size)
    assert res.size == expected


@pytest.mark.parametrize("size, message", [
    ("-2G", "below the minimum"),
    ("+-1G", "cannot read"),
    ("50%FREE", "not accepted here"),
    ("+5%VG", "not accepted here"),
])
def test_bad_relative_sizes_are_refused_before_anything(other_plugin, size, message) -> None:
    """Below zero, doubly signed, or a percentage (a stack has no free space to take a share of): refused."""
    with pytest.raises(ValidationError, match=message):
        layers.resize_stack("/dev/vg/lv", size)


def test_shrink_below_the_leaf_minimum_is_refused_before_anything(other_plugin) -> None:
    """The fs needs 100 MiB; 112 MiB outer leaves 96 MiB after the LUKS header: refused, nothing resized."""
    with layers.BlockDeviceStack.open("/dev/vg/lv") as stack:
        CALLS.clear()
        with pytest.raises(ValidationError, match="below its minimum"):
            stack.resize("112M")
    assert [c for c in CALLS if c[0] == "resize"] == []


def test_generic_layers_for_probes() -> None:
    """pybofh-blockdev's trylast answer: filesystems, swap, empty, and unknown content that refuses resizing."""
    assert isinstance(layers.layer_for_probe("/d", {"TYPE": "xfs"}), layers.FilesystemLayer)
    assert layers.layer_for_probe("/d", {"TYPE": "xfs"}).can_shrink is False
    assert layers.layer_for_probe("/d", {"TYPE": "swap"}).kind == "swap"
    assert isinstance(layers.layer_for_probe("/d", {}), layers.EmptyLayer)
    unknown = layers.layer_for_probe("/d", {"TYPE": "crypto_LUKS"})
    assert isinstance(unknown, layers.UnknownLayer) and not unknown.can_grow
    with pytest.raises(ValidationError, match="crypto_LUKS"):
        unknown.resize(10)
    assert "partition table" in layers.layer_for_probe("/d", {"PTTYPE": "gpt"}).kind
    assert isinstance(layers.device_layer("/dev/loop3"), layers.LoopDeviceLayer)
    assert layers.device_layer("/dev/sda") is None


def test_hooks_are_registered_trylast() -> None:
    """The generic content answer runs after every other plugin's (so LUKS/LVM plugins win)."""
    host = get_plugins()
    impls = host.pm.hook.pybofh_probe_layer.get_hookimpls()
    ours = [i for i in impls if i.plugin_name == "blockdev"]
    assert ours and ours[0].trylast
    assert isinstance(host.pm.hook.pybofh_probe_device(device="/dev/loop7"), layers.LoopDeviceLayer)
