"""A package, so that pytest and the test modules import conftest as one module (tests.conftest)."""
