"""The generated protocol documents: fresh, served, and agreeing with what the clients send."""

from __future__ import annotations

import json
import re
from pathlib import Path

from django.test import Client

from bots import protocol_codes
from conference.errors import ErrorCode
from rtc.signaling import documents
from rtc.signaling.events import EVENTS
from rtc.signaling.routes import ROUTES
from rtc.websocket.envelope import CloseCode, registry

ROOT = Path(__file__).resolve().parents[2]
NAMESPACED = re.compile(r"""['"]((?:rtc|chat|hand|reaction|whiteboard|lobby|events|meeting):"""
                        r"""[A-Za-z]+)['"]""")
GENERATED = {ROOT / "static/src/lib/protocol-codes.js", ROOT / "bots/protocol_codes.py"}


def _client_sources() -> list[Path]:
    files = sorted((ROOT / "static/src").rglob("*.js")) + sorted((ROOT / "bots").rglob("*.py"))
    return [path for path in files if path not in GENERATED]


def test_generated_documents_are_fresh() -> None:
    """JSON Schema, AsyncAPI, PROTOCOL.md's tables and the clients' code tables are what
    the route table gives (`python manage.py protocol_docs` regenerates them)."""
    assert documents.stale() == []


def test_every_message_type_the_clients_name_is_declared() -> None:
    """Every ``ns:name`` string in the browser client and the bots is a request the server
    serves, a reply type of one, or a declared event: nothing a client sends or waits for is
    missing from the route table."""
    declared = set(registry.types) | set(EVENTS)
    declared |= {route.reply for route in ROUTES.values() if route.reply}
    seen: dict[str, str] = {}
    for path in _client_sources():
        for name in NAMESPACED.findall(path.read_text(encoding="utf-8")):
            seen.setdefault(name, str(path.relative_to(ROOT)))
    assert len(seen) > 30, "the scan found the clients' messages"
    assert {n: p for n, p in seen.items() if n not in declared} == {}
    assert set(protocol_codes.REQUEST_TYPES) == set(ROUTES)


def test_every_route_event_is_declared() -> None:
    """The events a route names are in the event table."""
    named = {event for route in ROUTES.values() for event in route.events}
    assert named - set(EVENTS) == set()


def test_client_close_and_error_codes_match_the_server() -> None:
    """The bots' generated codes are the server's; no client hard-codes a 44xx/45xx close
    code or compares an error code the server does not have."""
    assert {c.name: int(c) for c in protocol_codes.CloseCode} == \
        {c.name: int(c) for c in CloseCode}
    assert {c.value for c in protocol_codes.ErrorCode} == {c.value for c in ErrorCode}
    # The browser client's own codes for failures that never reached the server.
    codes = {c.value for c in ErrorCode} | {"error", "refused", "disconnected", "timeout"}
    compared = re.compile(r"""code\s*(?:===?|!==?)\s*['"]([a-z_]+)['"]""")
    literal = re.compile(r"(?:===?|!==?|\bclose\(|code\s*=)\s*4[45]\d\d\b")
    for path in _client_sources():
        text = path.read_text(encoding="utf-8")
        assert not literal.search(text), f"{path}: a close code compared as a literal"
        assert set(compared.findall(text)) <= codes, path


def test_documents_are_served_next_to_the_openapi_schema(db: None) -> None:
    """``/api/schema/socket/`` and ``/api/schema/asyncapi/`` answer the generated documents."""
    client = Client()
    schema = client.get("/api/schema/socket/")
    assert schema.status_code == 200
    titles = {item["title"] for item in schema.json()["oneOf"]}
    assert titles == set(ROUTES)
    api = client.get("/api/schema/asyncapi/").json()
    assert api["asyncapi"] == "3.0.0"
    messages = api["channels"]["meeting"]["messages"]
    assert {m["name"] for m in messages.values()} >= set(ROUTES) | set(EVENTS)
    join = schema.json()["$defs"]["JoinRequest"]
    assert join["required"] == ["displayName"] and join["additionalProperties"] is False


def test_the_json_schema_accepts_what_the_server_accepts() -> None:
    """The generated JSON Schema is a valid 2020-12 schema; browser-like requests of the
    benchmark validate against it and the refused ones do not (getStats' "exactly one id" is
    not expressible there and is left out)."""
    from jsonschema import Draft202012Validator

    from bench.validation import CASES

    schema = documents.json_schema()
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    for name, good, bad in CASES:
        assert validator.is_valid({"type": name, "requestId": "r1", "data": good}), name
        if name != "rtc:getStats":
            assert not validator.is_valid({"type": name, "requestId": "r1", "data": bad}), name
    assert not validator.is_valid({"type": "rtc:nope", "data": {}})


def test_replies_and_events_carry_their_payload_schemas() -> None:
    """The JSON Schema's ``ServerMessage`` and the AsyncAPI document describe every reply and
    event with its model's schema: a real frame validates, a frame with an undeclared field or
    type does not."""
    from jsonschema import Draft202012Validator

    from rtc.signaling.outgoing import reply_model

    schema = documents.json_schema()
    server = Draft202012Validator({"$defs": schema["$defs"], "$ref": "#/$defs/ServerMessage"})
    assert server.is_valid({"type": "rtc:peerJoined", "data": {
        "peerId": "p1", "displayName": "Ada", "role": "member"}})
    assert server.is_valid({"requestId": "r", "data": {"type": "rtc:produced", "id": "x"}})
    assert server.is_valid({"requestId": "r", "error": "no", "code": "forbidden"})
    assert not server.is_valid({"type": "rtc:peerJoined", "data": {"peerId": "p1"}})
    assert not server.is_valid({"type": "rtc:nope", "data": {}})
    assert not server.is_valid({"requestId": "r", "data": {"type": "rtc:produced",
                                                           "id": "x", "extra": 1}})
    messages = documents.asyncapi()["channels"]["meeting"]["messages"]
    for name, event in EVENTS.items():
        data = messages["event_" + documents._message_id(name)]["payload"]["properties"]["data"]
        assert data == {"$ref": f"#/components/schemas/{event.model.__name__}"}, name
    for name in set(ROUTES) | set(registry.types):
        data = messages["reply_" + documents._message_id(name)]["payload"]["properties"]["data"]
        assert data == {"$ref": f"#/components/schemas/{reply_model(name).__name__}"}, name
    assert "error_reply" in messages
    components = documents.asyncapi()["components"]["schemas"]
    assert "#/$defs/" not in json.dumps(components) and "ServerMessage" not in components
