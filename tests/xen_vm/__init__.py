"""Nested Xen for the test suite: dom0 under qemu with real xl (dom0.py), its pytest fixtures, a recording script."""
