"""The whiteboard as a picture: SVG (text, escaped) and PNG (Pillow), for the meeting page.

Both draw the same elements the same way the call page's canvas does (round caps and joins,
arrow heads of the same size) on a white board of ``BOARD_WIDTH`` x ``BOARD_HEIGHT``. Texts
are written as XML character data, escaped, so a text that looks like markup stays text.
"""

from __future__ import annotations

import io
import math
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from PIL import Image, ImageDraw, ImageFont

from collab.board_elements import BOARD_HEIGHT, BOARD_WIDTH

__all__ = ["ARROW_HEAD", "board_png", "board_svg"]

ARROW_HEAD = 14.0
"""Length of an arrow's head in board units."""


def _head(points: list[float], width: float) -> list[tuple[float, float]]:
    """The two far ends of an arrow head at the second point."""
    x1, y1, x2, y2 = points
    angle = math.atan2(y2 - y1, x2 - x1)
    size = ARROW_HEAD + width
    return [(x2 - size * math.cos(angle - math.pi / 6), y2 - size * math.sin(angle - math.pi / 6)),
            (x2 - size * math.cos(angle + math.pi / 6), y2 - size * math.sin(angle + math.pi / 6))]


def _pairs(points: list[float]) -> list[tuple[float, float]]:
    return list(zip(points[0::2], points[1::2], strict=True))


def _svg_element(element: dict[str, Any]) -> str:
    kind, color = element["type"], quoteattr(element["color"])
    if kind == "text":
        return (f'<text x="{element["x"]}" y="{element["y"]}" fill={color} '
                f'font-size="{element["size"]}" font-family="sans-serif" '
                f'dominant-baseline="hanging" xml:space="preserve">'
                f'{escape(element["text"])}</text>')
    stroke = (f'stroke={color} stroke-width="{element["width"]}" fill="none" '
              f'stroke-linecap="round" stroke-linejoin="round"')
    if kind == "rect":
        return (f'<rect x="{element["x"]}" y="{element["y"]}" width="{element["w"]}" '
                f'height="{element["h"]}" {stroke}/>')
    if kind == "ellipse":
        rx, ry = element["w"] / 2, element["h"] / 2
        return (f'<ellipse cx="{element["x"] + rx}" cy="{element["y"] + ry}" rx="{rx}" '
                f'ry="{ry}" {stroke}/>')
    points = element["points"]
    path = " ".join(f"{x},{y}" for x, y in _pairs(points))
    if len(points) == 2:  # a dot
        path = f"{path} {path}"
    shape = f'<polyline points="{path}" {stroke}/>'
    if kind == "arrow":
        (ax, ay), (bx, by) = _head(points, element["width"])
        shape += (f'<polyline points="{ax},{ay} {points[2]},{points[3]} {bx},{by}" '
                  f'{stroke}/>')
    return shape


def board_svg(elements: list[dict[str, Any]]) -> str:
    """The board as a standalone SVG document."""
    body = "\n".join(_svg_element(element) for element in elements)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{BOARD_WIDTH}" '
            f'height="{BOARD_HEIGHT}" viewBox="0 0 {BOARD_WIDTH} {BOARD_HEIGHT}">\n'
            f'<rect width="100%" height="100%" fill="#ffffff"/>\n{body}\n</svg>\n')


def _png_element(draw: ImageDraw.ImageDraw, element: dict[str, Any]) -> None:
    kind, color = element["type"], element["color"]
    if kind == "text":
        font = ImageFont.load_default(size=element["size"])
        draw.multiline_text((element["x"], element["y"]), element["text"], fill=color,
                            font=font)
        return
    width = int(element["width"])
    if kind in ("rect", "ellipse"):
        box = (element["x"], element["y"], element["x"] + element["w"],
               element["y"] + element["h"])
        (draw.rectangle if kind == "rect" else draw.ellipse)(box, outline=color, width=width)
        return
    points = _pairs(element["points"])
    radius = width / 2
    for x, y in points:  # round caps and joins
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=color)
    if len(points) > 1:
        draw.line(points, fill=color, width=width)
    if kind == "arrow":
        a, b = _head(element["points"], width)
        draw.line([a, points[1], b], fill=color, width=width)


def board_png(elements: list[dict[str, Any]]) -> bytes:
    """The board as a PNG image."""
    image = Image.new("RGB", (BOARD_WIDTH, BOARD_HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    for element in elements:
        _png_element(draw, element)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
