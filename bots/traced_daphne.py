"""``daphne`` with the join path traced: ``python -m bots.traced_daphne PATH ARGS...``.

Django is set up and `bots.join_trace` installed before daphne loads the application, so the
trace wraps the same modules the application then uses. SIGUSR1 forgets what was noted so far
(sent after the warm-up), SIGUSR2 writes the trace to PATH (sent when the measured row is done),
the signals `bots.profiled_daphne` answers too.
"""

from __future__ import annotations

import sys


def main() -> None:
    path, sys.argv = sys.argv[1], ["daphne", *sys.argv[2:]]
    import django

    django.setup()
    from bots import join_trace

    join_trace.install(path)
    from daphne.cli import CommandLineInterface

    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
