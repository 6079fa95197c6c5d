"""The pipeline's sandbox fixture, for checks that run before and after a real deploy."""
from tests.pipeline.conftest import sb  # noqa: F401  (a fixture, found by name)
