"""Server-side recording of a live call: each producer of the meeting's router is consumed onto
a PlainTransport and written to a file by FFmpeg, following the call as it changes.

* :mod:`rtc.recording.sdp`: the SDP that tells FFmpeg what arrives on its port;
* :mod:`rtc.recording.tool`: FFmpeg as a supervised subprocess (start, stop, exit reason);
* :mod:`rtc.recording.track`: one producer's segment (transport, consumer, tool, file);
* :mod:`rtc.recording.session`: one meeting's recording (follows producers, writes a manifest);
* :mod:`rtc.recording.manager`: the process's recordings by meeting, stopped with the call;
* :mod:`rtc.recording.compose`: the tracks composed into one file (FFmpeg, after the call).

No Django models here: the ``recordings`` app keeps the ORM side and registers a callback for
finished sessions.
"""
