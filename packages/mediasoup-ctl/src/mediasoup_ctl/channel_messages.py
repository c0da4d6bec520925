"""Request and notification messages for the worker channel, as bytes ready to write.

Every message is a size-prefixed ``FBS.Message.Message`` around a ``Request`` or
``Notification``; building one through the FlatBuffers builder costs microseconds even
without a body. Three kinds of request are built once and copied afterwards:

* body-less requests (dumps, stats, pause, resume, ...) differ only in their id: one template
  per (method, handler id), the id patched into a copy;
* requests whose body is one string (``StringTable``: every close, router creation) differ
  in their id and in the bytes of two strings, and FlatBuffers' layout depends only on the
  strings' lengths: one template per (method, body type, body table, both lengths), the id
  and both strings patched in;
* requests with a :class:`~.fbs_template.Templated` body (produce, consume, transport
  creation) differ in a few values the caller names: one template per shape, made from the
  second request of that shape on (see ``fbs_template``).

A template is the very message the builder writes (``tests/mediasoup/test_ms_fbs.py``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Protocol

import FBS.Message.Message as MessageModule
import FBS.Notification.Notification as NotificationModule
import FBS.Request.Request as RequestModule
import flatbuffers
from FBS.Message.Body import Body as MessageBody
from FBS.Message.Message import Message
from FBS.Request.Method import Method
from FBS.Request.Request import Request

from .errors import InvalidParameterError
from .fbs_builder import Builder
from .fbs_read import root, slots
from .fbs_table import StringTable, TableSpec, table_spec
from .fbs_template import Templated, make_template

__all__ = ["MessageWriter", "Body", "BodyBuilder", "MESSAGE_MAX_LEN", "METHOD_NAMES"]

MESSAGE_MAX_LEN = 4194308
"""The worker refuses messages larger than this (4 MiB payload plus the length prefix)."""

METHOD_NAMES = {v: k for k, v in vars(Method).items() if not k.startswith("_")}

_PUT_U32 = struct.Struct("<I").pack_into
_MESSAGE_DATA = slots(Message).Data
_REQUEST_ID = slots(Request).Id
_REQUEST = table_spec(RequestModule, "Id", "Method", "HandlerId", "BodyType", "Body")
_MESSAGE = table_spec(MessageModule, "DataType", "Data")
_NOTIFICATION = table_spec(NotificationModule, "HandlerId", "Event", "BodyType", "Body")
_UNSEEN, _SEEN = object(), object()
_TEMPLATES_MAX = 4096
"""Cached templates (handler ids come and go with objects) before the cache is reset."""


class BodyBuilder(Protocol):
    """Something that writes a request or notification body into a builder."""

    def Pack(self, builder: flatbuffers.Builder) -> int: ...  # noqa: N802 (object API name)


Body = BodyBuilder | Callable[[flatbuffers.Builder], int] | None


class MessageWriter:
    """Builds request and notification messages; keeps the templates described above."""

    def __init__(self) -> None:
        self._builder = Builder(1024)
        # (method, handler id) -> (message, position of the request id)
        self.templates: dict[tuple[int, str], tuple[bytes, int]] = {}
        # (method, body type, spec, handler length, value length)
        #   -> (message, id position, handler position, value position)
        self.string_templates: dict[tuple[Any, ...], tuple[bytes, int, int, int]] = {}

    def request(self, request_id: int, method: int, handler_id: str, body_type: int,
                body: Body) -> bytearray:
        """The request message; raises InvalidParameterError if the worker would refuse it."""
        if body is None:
            template = self.templates.get((method, handler_id))
            if template is None:
                template = self._template(method, handler_id)
            data = bytearray(template[0])
            _PUT_U32(data, template[1], request_id)
            return data
        if type(body) is StringTable:
            return self._string_request(request_id, method, handler_id, body_type, body)
        if type(body) is Templated:
            return self._templated_request(request_id, method, handler_id, body_type, body)
        return _checked(self.build(request_id, method, handler_id, body_type, body), method)

    def build(self, request_id: int, method: int, handler_id: str, body_type: int,
              body: Body) -> bytearray:
        """The request message, built (no template)."""
        builder = self._builder
        builder.Clear()
        try:
            body_offset = _pack(builder, body)
            request = builder.table(_REQUEST, (
                request_id, method, builder.CreateString(handler_id),
                body_type if body_offset else 0, body_offset))
            return _finish(builder, MessageBody.Request, request)
        finally:
            builder.Clear()

    def notification(self, event: int, handler_id: str, body_type: int, body: Body) -> bytearray:
        """The notification message (notifications are never cached: they carry packets)."""
        builder = self._builder
        builder.Clear()
        try:
            body_offset = _pack(builder, body)
            notification = builder.table(_NOTIFICATION, (
                builder.CreateString(handler_id), event, body_type if body_offset else 0,
                body_offset))
            return _finish(builder, MessageBody.Notification, notification)
        finally:
            builder.Clear()

    def _template(self, method: int, handler_id: str) -> tuple[bytes, int]:
        data = bytes(_checked(self.build(0xFFFFFFFF, method, handler_id, 0, None), method))
        template = (data, _request_id_position(data))
        if len(self.templates) >= _TEMPLATES_MAX:
            self.templates.clear()
        self.templates[(method, handler_id)] = template
        return template

    def _string_request(self, request_id: int, method: int, handler_id: str, body_type: int,
                        body: StringTable) -> bytearray:
        handler = handler_id.encode()
        value = body.value.encode()
        key = (method, body_type, body.spec, len(handler), len(value))
        template = self.string_templates.get(key)
        if template is None:
            template = self._string_template(key, method, handler_id, body_type, body.spec,
                                             body.value)
        data = bytearray(template[0])
        _PUT_U32(data, template[1], request_id)
        data[template[2]:template[2] + len(handler)] = handler
        data[template[3]:template[3] + len(value)] = value
        return data

    def _string_template(self, key: tuple[Any, ...], method: int, handler_id: str,
                         body_type: int, spec: TableSpec,
                         value: str) -> tuple[bytes, int, int, int]:
        # Exactly what build() does for StringTable(spec, value).Pack, keeping the offsets.
        builder = self._builder
        builder.Clear()
        try:
            value_offset = builder.CreateString(value)
            body_offset = builder.table(spec, (value_offset,))
            handler_offset = builder.CreateString(handler_id)
            request = builder.table(_REQUEST, (
                0xFFFFFFFF, method, handler_offset, body_type, body_offset))
            data = bytes(_checked(_finish(builder, MessageBody.Request, request), method))
        finally:
            builder.Clear()
        # A string's offset (from the end) points at its length; its bytes follow.
        template = (data, _request_id_position(data), len(data) - handler_offset + 4,
                    len(data) - value_offset + 4)
        if len(self.string_templates) >= _TEMPLATES_MAX:
            self.string_templates.clear()
        self.string_templates[key] = template
        return template

    def _templated_request(self, request_id: int, method: int, handler_id: str,
                           body_type: int, body: Templated) -> bytearray:
        """The request from the template of its shape (made on first use), see fbs_template."""
        values: list[Any] = [request_id, handler_id.encode()]
        shape: list[Any] = [body.key, method, body_type, len(values[1])]
        for value in body.values:
            if type(value) is str:
                data = value.encode()
                shape.append(len(data))
                values.append(data)
            elif type(value) is not int or not 0 < value <= 0xFFFFFFFF:
                # 0 is left out of the message, other values are refused: no template
                return _checked(self.build(request_id, method, handler_id, body_type, body),
                                method)
            else:
                shape.append(-1)
                values.append(value)
        store = body.store
        key = tuple(shape)
        template = store.get(key, _UNSEEN)
        if template is _UNSEEN:  # a shape seen once may never repeat: build it plainly
            if len(store) >= _TEMPLATES_MAX:
                store.clear()
            store[key] = _SEEN
            return _checked(self.build(request_id, method, handler_id, body_type, body), method)
        if template is _SEEN:
            build = body.build

            def message(stand_ins: list[Any]) -> bytearray:
                texts = tuple(v.decode() if type(v) is bytes else v for v in stand_ins[2:])
                return _checked(self.build(stand_ins[0], method, stand_ins[1].decode(),
                                           body_type, lambda b: build(b, texts)), method)

            template = make_template(message, values)
            if len(store) >= _TEMPLATES_MAX:
                store.clear()
            store[key] = template
        if template is None:
            return _checked(self.build(request_id, method, handler_id, body_type, body), method)
        filled: bytearray = template.fill(values)
        return filled


def _request_id_position(data: bytes) -> int:
    request = root(data, 4).table(_MESSAGE_DATA)
    assert request is not None
    return request.at(_REQUEST_ID)


def _checked(data: bytearray, method: int) -> bytearray:
    if len(data) > MESSAGE_MAX_LEN:
        raise InvalidParameterError(f"request too big [method:{METHOD_NAMES.get(method)}]")
    return data


def _pack(builder: flatbuffers.Builder, body: Body) -> int:
    if body is None:
        return 0
    pack = getattr(body, "Pack", None)
    if pack is not None:
        return int(pack(builder))
    return int(body(builder))  # type: ignore[operator]


def _finish(builder: Builder, body_type: int, body_offset: int) -> bytearray:
    builder.FinishSizePrefixed(builder.table(_MESSAGE, (body_type, body_offset)))
    return builder.Output()  # a copy: the builder is reused
