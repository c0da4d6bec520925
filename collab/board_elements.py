"""What may be drawn on the whiteboard: each element a client adds, checked and made canonical.

Pure functions (no Django, no I/O), shared by the socket schema and the exporter. Coordinates
are in the board's own space (``BOARD_WIDTH`` x ``BOARD_HEIGHT``, whatever the screen), rounded
to a tenth, so every client and the exported image agree. A pen stroke is a flat list
``[x0, y0, x1, y1, ...]``; lines and arrows have exactly two points; rectangles and ellipses a
box; a text its position, size and the text exactly as typed (it is shown as text, never as
markup).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from rtc.signaling.fields import as_object, identifier, integer, invalid, only_keys

__all__ = [
    "BOARD_HEIGHT",
    "BOARD_WIDTH",
    "ELEMENT_TYPES",
    "MAX_PEN_POINTS",
    "MAX_TEXT_CHARS",
    "element_size",
    "parse_element",
    "parse_point",
]

BOARD_WIDTH = 1600
BOARD_HEIGHT = 900
MAX_PEN_POINTS = 2000
MAX_TEXT_CHARS = 500
MAX_STROKE_WIDTH = 40
ELEMENT_TYPES = ("pen", "line", "arrow", "rect", "ellipse", "text")
COLOR_PATTERN = re.compile(r"#[0-9a-fA-F]{6}")


def _number(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(f"{where} must be a number")
    if not math.isfinite(value) or not low <= value <= high:
        raise invalid(f"{where} must be between {low} and {high}")
    number = round(float(value), 1)
    return int(number) if number.is_integer() else number


def _points(value: Any, *, minimum: int, maximum: int) -> list[float]:
    if not isinstance(value, list) or len(value) % 2:
        raise invalid("points must be a flat list of x, y pairs")
    if not minimum <= len(value) // 2 <= maximum:
        raise invalid(f"points must hold {minimum} to {maximum} points")
    return [_number(v, "points", 0, BOARD_WIDTH if i % 2 == 0 else BOARD_HEIGHT)
            for i, v in enumerate(value)]


def parse_point(data: dict[str, Any]) -> tuple[float, float]:
    """A position on the board (the shared pointer)."""
    return (_number(data.get("x"), "x", 0, BOARD_WIDTH),
            _number(data.get("y"), "y", 0, BOARD_HEIGHT))


_KEYS = {
    "pen": frozenset({"id", "type", "color", "width", "points"}),
    "line": frozenset({"id", "type", "color", "width", "points"}),
    "arrow": frozenset({"id", "type", "color", "width", "points"}),
    "rect": frozenset({"id", "type", "color", "width", "x", "y", "w", "h"}),
    "ellipse": frozenset({"id", "type", "color", "width", "x", "y", "w", "h"}),
    "text": frozenset({"id", "type", "color", "x", "y", "size", "text"}),
}


def parse_element(value: Any) -> dict[str, Any]:
    """The canonical form of one element, or ``invalid`` saying what is wrong."""
    raw = as_object(value, "element")
    kind = raw.get("type")
    if kind not in _KEYS:
        raise invalid(f"element.type must be one of {', '.join(ELEMENT_TYPES)}")
    only_keys(raw, _KEYS[kind], "element")
    color = raw.get("color")
    if not isinstance(color, str) or not COLOR_PATTERN.fullmatch(color):
        raise invalid("element.color must be #rrggbb")
    element: dict[str, Any] = {"id": identifier(raw, "id"), "type": kind,
                               "color": color.lower()}
    if kind == "text":
        text = raw.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT_CHARS:
            raise invalid(f"element.text must be 1 to {MAX_TEXT_CHARS} characters")
        if "\x00" in text:
            raise invalid("element.text has a NUL character")
        element.update(x=_number(raw.get("x"), "x", 0, BOARD_WIDTH),
                       y=_number(raw.get("y"), "y", 0, BOARD_HEIGHT),
                       size=integer(raw, "size", required=True, minimum=8, maximum=96),
                       text=text)
        return element
    element["width"] = integer(raw, "width", required=True, minimum=1, maximum=MAX_STROKE_WIDTH)
    if kind == "pen":
        element["points"] = _points(raw.get("points"), minimum=1, maximum=MAX_PEN_POINTS)
    elif kind in ("line", "arrow"):
        element["points"] = _points(raw.get("points"), minimum=2, maximum=2)
    else:
        element.update(x=_number(raw.get("x"), "x", 0, BOARD_WIDTH),
                       y=_number(raw.get("y"), "y", 0, BOARD_HEIGHT),
                       w=_number(raw.get("w"), "w", 0, BOARD_WIDTH),
                       h=_number(raw.get("h"), "h", 0, BOARD_HEIGHT))
    return element


def element_size(element: dict[str, Any]) -> int:
    """The element's JSON size in bytes (what the board's size limits count)."""
    return len(json.dumps(element, separators=(",", ":"), ensure_ascii=False).encode())
