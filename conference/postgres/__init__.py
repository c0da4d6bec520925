"""Django's PostgreSQL backend with a circuit breaker (see :mod:`conference.postgres.base`)."""
