"""The process's life: start-up, shutdown and the health probes.

* :mod:`rtc.lifecycle.startup`: the worker pool starts with the server;
* :mod:`rtc.lifecycle.shutdown`: sockets, calls and the pool closed in order; the ASGI lifespan;
* :mod:`rtc.lifecycle.health`: ``/healthz`` and ``/readyz``.
"""
