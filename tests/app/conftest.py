from tests.sandbox.machines.machinekit import machines_sandbox  # noqa: F401 - a fixture
