"""The meeting socket: its consumer, its per-socket session and the services the consumer
delegates to (rate limit, admission, lobby).

* :mod:`rtc.websocket.consumer`: ``MeetingConsumer``, Channels' hooks, each handing its work on;
* :mod:`rtc.websocket.join`: the join flow (admission, the join's database trip, the way out);
* :mod:`rtc.websocket.lobby`: the socket's side of the lobby;
* :mod:`rtc.websocket.requests`: frames decoded, requests validated and dispatched, replies;
* :mod:`rtc.websocket.session`: a socket's session (slot, rate, attendance hold, call link);
* :mod:`rtc.websocket.rate`: a socket's frame and request budgets and its flood cut-off;
* :mod:`rtc.websocket.limits`: open sockets per user and per client address;
* :mod:`rtc.websocket.auth`: who a socket is (Django session or join token);
* :mod:`rtc.websocket.envelope`: the message envelope, close codes and the request registry;
* :mod:`rtc.websocket.builtin_requests`: the built-in requests (``ping``, ``meeting:state``);
* :mod:`rtc.websocket.event_text`: a group event encoded once for all of a meeting's sockets.
"""
