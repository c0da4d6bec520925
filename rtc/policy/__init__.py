"""Who may do what in a call, and what is kept about who came.

* :mod:`rtc.policy.grants`: a join token's grants and the requests each one allows;
* :mod:`rtc.policy.attendance`: who is present, and the leaves written late;
* :mod:`rtc.policy.turn`: the TURN credentials a peer is given.
"""
