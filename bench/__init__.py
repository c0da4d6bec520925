"""Benchmarks of the conference stack (control plane, media forwarding, signaling).

Each script prints a table and finishes in a few minutes on a 2-core machine; see README.md.
They are measurements, not tests: ``tests/bench`` only checks that ``--quick`` runs cleanly.
"""
