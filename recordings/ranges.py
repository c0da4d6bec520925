"""Serving a stored file with HTTP range requests, so a video element can seek.

Django's ``FileResponse`` always sends the whole file. :func:`ranged_response` answers
``Range: bytes=a-b`` (one range; ``a-``, ``-n`` too) with ``206 Partial Content`` and the
slice, an unsatisfiable range with ``416``, and anything else with the whole file (``200``),
always advertising ``Accept-Ranges: bytes``. The file is read through the storage API, so the
same works for the file system and for S3-compatible storage.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import AsyncIterator, Iterator
from typing import IO

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

__all__ = ["CHUNK", "parse_range", "ranged_response"]

CHUNK = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """``(first, last)`` byte positions for a single satisfiable range; None for no (or an
    ignored) header; False when the range cannot be satisfied."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None  # several ranges or another unit: answer with the whole file
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        length = int(last)
        if length == 0:
            return False
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return False
    return start, end


async def _async_chunks(handle: IO[bytes], start: int, length: int) -> AsyncIterator[bytes]:
    """Under ASGI: each read in a thread. (A sync iterator would be read whole into memory
    by Django before the first byte is sent.)"""
    try:
        await sync_to_async(handle.seek)(start)
        remaining = length
        while remaining > 0:
            data = await sync_to_async(handle.read)(min(CHUNK, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data
    finally:
        await sync_to_async(handle.close)()


def _chunks(handle: IO[bytes], start: int, length: int) -> Iterator[bytes]:
    try:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            data = handle.read(min(CHUNK, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data
    finally:
        handle.close()


def ranged_response(request: HttpRequest, *, handle: IO[bytes], size: int, filename: str,
                    download: bool = False) -> HttpResponse:
    """The file (``handle``, ``size`` bytes) or the requested range of it."""
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    wanted = parse_range(request.headers.get("Range"), size)
    if wanted is False:
        handle.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response
    start, end = wanted if isinstance(wanted, tuple) else (0, size - 1)
    length = max(0, end - start + 1)
    # An ASGIRequest has the connection's scope; under WSGI (and the test client) plain reads.
    asgi = hasattr(request, "scope")
    body = _async_chunks(handle, start, length) if asgi else _chunks(handle, start, length)
    response = StreamingHttpResponse(body,
                                     status=206 if isinstance(wanted, tuple) else 200,
                                     content_type=content_type)
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    if isinstance(wanted, tuple):
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Disposition"] = content_disposition_header(download, filename)
    response["Cache-Control"] = "private, max-age=3600"
    return response
