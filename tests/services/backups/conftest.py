"""Fixtures for the backup tests: the small disk (``small_disk``) is in tests/conftest.py."""
