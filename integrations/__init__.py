"""Integrations: API keys, join tokens (JWT), the live-room API and signed webhooks.

Other products embed calls: their backend mints a join token with its integration's secret,
the meeting WebSocket accepts it in place of a Django login (`rtc.websocket.auth`), every rtc
request is checked against the token's grants (`rtc.policy.grants`), and the integration hears what
happened through signed webhooks.
"""
