"""Django settings of the daphne that ``bench/signaling.py`` starts: the project's, plus limits.

Everything comes from ``conference.settings`` (and so from the environment); only the RTC
limits change, because the benchmark's peers never finish DTLS and each row stops its server:

* no transport connect deadline (a transport waiting for DTLS is not closed mid-row);
* no reconnect grace (a peer whose socket closes goes at once);
* a request rate that the scripted client can never hit by accident;
* meetings as large as a meeting's capacity allows (``--per-meeting`` decides).
"""

from __future__ import annotations

import conference.settings as _base

globals().update({name: value for name, value in vars(_base).items() if name.isupper()})

RTC_LIMITS = {
    **getattr(_base, "RTC_LIMITS", {}),
    "TRANSPORT_CONNECT_TIMEOUT_SECONDS": 0,
    "RECONNECT_GRACE_SECONDS": 0,
    "REQUESTS_PER_SECOND": 1000,
    "REQUEST_BURST": 1000,
    "MAX_PEERS_PER_MEETING": 500,
}
