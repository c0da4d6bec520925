"""Recordings of meetings: the ORM side, the API, playback, processing and retention.

The live side (tracks into files while the call runs) is :mod:`rtc.recording`; this app
starts and stops it (:mod:`recordings.live`), stores what came out (:mod:`recordings.models`,
:mod:`recordings.services`), composes it into one file in the background
(:mod:`recordings.processing`) and serves it with HTTP ranges (:mod:`recordings.ranges`).
"""
