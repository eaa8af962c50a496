"""covguard: coverage-driven unit-test and rogue-code detector for safety-critical C firmware."""

__version__ = "0.1.0"
