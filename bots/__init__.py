"""Python participants of a meeting: load and test bots, and a recorder (pymediasoup + aiortc).

They speak the meeting socket's rtc:* protocol (``rtc/signaling/PROTOCOL.md``) like a browser
and import nothing from Django, so they run wherever the server can be reached:

* :mod:`bots.signaling`: the socket, requests matched to replies, events;
* :mod:`bots.device`: the pymediasoup Device, its transports and what it receives;
* :mod:`bots.peer`: the call flow (join, publish, consume, reconnect, leave);
* :mod:`bots.media`: the tone and test pattern a bot sends;
* :mod:`bots.recorder`, ``python -m bots.record``: writes every track of a meeting to files;
* ``python -m bots.join``: joins with a tone and a test pattern;
* :mod:`bots.live_daphne`: a live daphne on a free port, for tests and benchmarks.
"""
