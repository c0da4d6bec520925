"""The start-up, shutdown and probe tests use the operations tests' settings and scrape helper
(``tests/rtc/operations/conftest.py``); the call fixtures come from ``tests/rtc/conftest.py``."""

from tests.rtc.operations.conftest import ops_settings, scrape  # noqa: F401
