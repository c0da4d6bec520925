"""Real-time layer: the meeting WebSocket and (in `mediasoup_ctl`) the mediasoup control layer."""
