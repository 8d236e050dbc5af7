"""The test suite, laid out like the code: tests/index/ for the engine, tests/bot/ (with discord/ and slack/) for
the chat side, whole-repo tests and shared helpers at this level. Packages, so `from tests.x import ...` is one module."""
