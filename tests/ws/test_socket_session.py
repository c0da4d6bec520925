"""`rtc.websocket.auth.SocketSessionMiddleware`: a WebSocket's application sends through the
server's own ``send`` (no session wrapper per frame), HTTP keeps Channels' session-saving wrapper,
and both see the session in their scope."""

from __future__ import annotations

from typing import Any

from rtc.websocket.auth import auth_stack


async def _through_stack(scope_type: str) -> tuple[dict[str, Any], Any, Any]:
    seen: dict[str, Any] = {}

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen["scope"], seen["send"] = scope, send

    async def server_send(message: dict[str, Any]) -> None:
        seen.setdefault("sent", []).append(message)

    async def receive() -> dict[str, Any]:
        return {"type": f"{scope_type}.disconnect"}

    scope = {"type": scope_type, "path": "/ws/x/", "headers": [(b"cookie", b"a=b")]}
    await auth_stack(inner)(scope, receive, server_send)
    return seen, server_send, seen["scope"]["session"]


async def test_a_websocket_gets_the_servers_send_and_its_session():
    """The socket's application is handed the server's send itself; its scope still has the
    (lazy) session and an anonymous user (no session cookie)."""
    seen, server_send, session = await _through_stack("websocket")
    assert seen["send"] is server_send
    assert session.session_key is None
    assert not seen["scope"]["user"].is_authenticated
    await seen["send"]({"type": "websocket.send", "text": "x"})
    assert seen["sent"] == [{"type": "websocket.send", "text": "x"}]


async def test_http_keeps_the_session_saving_wrapper():
    """An HTTP scope through the same stack gets Channels' wrapper (which saves a modified
    session and sets its cookie on the response start)."""
    seen, server_send, _ = await _through_stack("http")
    assert seen["send"] is not server_send
    assert getattr(seen["send"], "__func__", None) is not None
