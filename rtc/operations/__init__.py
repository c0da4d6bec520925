"""What operators see and do: media samples, staff actions, the admin's live page, metrics.

* :mod:`rtc.operations.media_sampling`: stats samples of live calls and staff actions on them;
* :mod:`rtc.operations.admin_page`: the admin's live page;
* :mod:`rtc.operations.metrics`: ``/metrics`` (Prometheus).
"""
