"""VM test bed: boots a small Debian guest under qemu to run tests that need device-mapper, DRBD and friends."""
