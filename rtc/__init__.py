"""Real-time layer: the meeting WebSocket and (in `rtc.mediasoup`) the mediasoup control layer."""
