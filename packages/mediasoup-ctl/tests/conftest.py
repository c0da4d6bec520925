"""The library's tests use its own pytest plugin: a real mediasoup-worker per test, checked
for leaks on teardown (`mediasoup_ctl.testing`, also used by the application's tests)."""

pytest_plugins = ["mediasoup_ctl.testing"]
