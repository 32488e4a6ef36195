"""The VM test bed's pytest plugin (tests/vm/pytest_vm.py) is loaded by the root conftest for every test folder."""
