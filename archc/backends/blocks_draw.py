"""The primitives of a block figure, in points with y down, shared by the layout and both emitters.

Boxes (a front face and its depth drawn up and right at 45°), polylines with an arrowhead,
merge marks (⊕ add, ⊗ multiply, ‖ concat) and text; plus the colours per op family and a text-width
estimate the layout uses to keep labels apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Union

from .dot import PALETTE


@dataclass(frozen=True)
class Box:
    """A 3-D box: front face with top-left (x, y), w × h; its depth drawn up and right by (d, d)."""

    x: float
    y: float
    w: float
    h: float
    d: float
    family: str
    dashed: bool


@dataclass(frozen=True)
class Line:
    points: tuple[tuple[float, float], ...]
    arrow: bool = True
    dashed: bool = False


@dataclass(frozen=True)
class Mark:
    x: float
    y: float
    r: float
    kind: str  # a merge op: "add", "multiply" or "concat"
    dashed: bool


@dataclass(frozen=True)
class Text:
    x: float
    y: float  # baseline
    text: str
    size: float
    anchor: str = "middle"  # "start", "middle", "end"
    bold: bool = False


Prim = Union[Box, Line, Mark, Text]


@dataclass
class Drawing:
    width: float
    height: float
    font: float
    prims: list[Prim]
    boxes: dict[str, list[Box]] = field(default_factory=dict)  # block key → its boxes, for tests
    rows: int = 1


CHAR_EM = {" ": 0.28, ".": 0.28, ",": 0.28, ":": 0.28, "/": 0.5, "×": 0.78, "·": 0.28, "–": 0.5, "+": 0.78, "‖": 0.5}


def text_width(text: str, size: float) -> float:
    """A generous estimate for sans-serif text (Computer Modern Sans, Liberation Sans, Arial)."""
    em = sum(CHAR_EM.get(c, 0.66 if c.isupper() else 0.56) for c in text)
    return em * size


def bounds(prims: list[Prim]) -> tuple[float, float, float, float]:
    xs: list[float] = []
    ys: list[float] = []
    for p in prims:
        if isinstance(p, Box):
            xs += [p.x, p.x + p.w + p.d]
            ys += [p.y - p.d, p.y + p.h]
        elif isinstance(p, Line):
            xs += [x for x, _ in p.points]
            ys += [y for _, y in p.points]
        elif isinstance(p, Mark):
            xs += [p.x - p.r, p.x + p.r]
            ys += [p.y - p.r, p.y + p.r]
        else:
            w = text_width(p.text, p.size) * (1.06 if p.bold else 1.0)
            left = p.x - {"start": 0.0, "middle": w / 2, "end": w}[p.anchor]
            xs += [left, left + w]
            ys += [p.y - 0.75 * p.size, p.y + 0.25 * p.size]
    return min(xs), min(ys), max(xs), max(ys)


def shift(p: Prim, dx: float, dy: float) -> Prim:
    if isinstance(p, Line):
        return Line(tuple((x + dx, y + dy) for x, y in p.points), p.arrow, p.dashed)
    return replace(p, x=p.x + dx, y=p.y + dy)


def arrow_head(points: tuple[tuple[float, float], ...], length: float = 3.2, half: float = 1.4) -> list[tuple[float, float]]:
    """The triangle at the end of a polyline, its tip on the last point."""
    (x0, y0), (x1, y1) = points[-2], points[-1]
    norm = math.hypot(x1 - x0, y1 - y0) or 1.0
    ux, uy = (x1 - x0) / norm, (y1 - y0) / norm
    bx, by = x1 - length * ux, y1 - length * uy
    return [(x1, y1), (bx - half * uy, by + half * ux), (bx + half * uy, by - half * ux)]


def _mix(hexcode: str, other: str, t: float) -> str:
    a = [int(hexcode[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(other[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


def shades(family: str) -> tuple[str, str, str]:
    """Front, top and side fills of a box: the Graphviz diagram's colour per op family, lit from above."""
    front = PALETTE.get(family, "#ffffff")
    if front.lower() == "#ffffff":
        return front, "#f2f2f2", "#dcdcdc"
    return front, _mix(front, "#ffffff", 0.45), _mix(front, "#000000", 0.2)
