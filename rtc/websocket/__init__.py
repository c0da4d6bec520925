"""The meeting socket: its consumer, its per-socket session and the services the consumer
delegates to (rate limit, admission, lobby)."""
