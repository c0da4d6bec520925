"""The socket frames' JSON (`rtc.websocket.frame_json`): the values ``json`` gives, and what it
refuses is a malformed frame."""

from __future__ import annotations

import json
import uuid

import pytest

from rtc.websocket import frame_json


def test_dumps_reads_back_as_the_standard_library_wrote_it():
    """Non-ASCII text, nested values, non-string keys and booleans read back (with the
    standard library's decoder) as ``json.dumps`` wrote them."""
    value = {"name": "Zoë ☃", "n": [1, 2.5, None, True], 3: {"deep": {"x": ""}}}
    assert json.loads(frame_json.dumps(value)) == json.loads(json.dumps(value))
    assert frame_json.dumps({"a": 1}) == '{"a":1}'


def test_dumps_refuses_what_json_cannot_hold():
    with pytest.raises(TypeError):
        frame_json.dumps({"a": object()})
    assert frame_json.dumps(uuid.UUID(int=1)) == '"00000000-0000-0000-0000-000000000001"'


@pytest.mark.parametrize("text", [
    '{"a": NaN}', '"\\ud800"', "[" * 2000 + "]" * 2000, "{", "", '{"a": 1} x'])
def test_loads_refuses_malformed_text_with_a_value_error(text):
    """Each of these is a malformed frame, refused with the one error the socket answers."""
    with pytest.raises(frame_json.DecodeError) as caught:
        frame_json.loads(text)
    assert isinstance(caught.value, ValueError)


def test_loads_reads_what_json_reads():
    text = '{"requestId": "r1", "type": "rtc:join", "data": {"n": 1, "f": 0.5, "s": "\\u00e9"}}'
    assert frame_json.loads(text) == json.loads(text)
    assert frame_json.loads(text.encode()) == json.loads(text)
