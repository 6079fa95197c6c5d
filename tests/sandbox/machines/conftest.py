"""The machines fixtures live in machinekit.py (the tests import its helpers too)."""
from tests.sandbox.machines.machinekit import machines_sandbox  # noqa: F401 - a fixture
