"""Test support shared by every test folder: the manual clock (`tests.support.clock`), the
tier markers and the fast tier's guard (`tests.support.tiers`), waiting helpers
(`tests.support.waiting`). ``tests/conftest.py`` loads the fixtures and hooks as plugins."""
