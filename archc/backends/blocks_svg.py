"""A block figure as SVG: the same drawing as tikz.py, primitive for primitive, for those without LaTeX.

Pure string building; PNG and PDF are made from this SVG by librsvg's `rsvg-convert`
(Debian: librsvg2-bin) in archc/render.py. Units are points: the SVG is `width` inches wide
at any dpi, and its text is the font size asked for.
"""

from __future__ import annotations

import math
from html import escape

from ..graph import Network
from .blocks import build_figure
from .blocks_draw import Box, Drawing, Line, Mark, Prim, arrow_head, shades
from .blocks_layout import layout

FONT = "'Liberation Sans', Arial, Helvetica, sans-serif"
INK, EDGE = "#333333", "#444444"


def num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def points(pts: list[tuple[float, float]] | tuple[tuple[float, float], ...]) -> str:
    return " ".join(f"{num(x)},{num(y)}" for x, y in pts)


def _clean(text: str) -> str:
    return "".join(c if ord(c) >= 32 and not 0x7F <= ord(c) < 0xA0 else " " for c in text)


def emit(p: Prim) -> list[str]:
    if isinstance(p, Box):
        front, top, side = shades(p.family)
        dash = ' stroke-dasharray="1.5 1"' if p.dashed else ""
        style = f'stroke="{INK}" stroke-width="0.35" stroke-linejoin="round"{dash}'
        x, y, w, h, d = p.x, p.y, p.w, p.h, p.d
        return [
            f'<rect x="{num(x)}" y="{num(y)}" width="{num(w)}" height="{num(h)}" fill="{front}" {style}/>',
            f'<polygon points="{points([(x, y), (x + d, y - d), (x + w + d, y - d), (x + w, y)])}" fill="{top}" {style}/>',
            f'<polygon points="{points([(x + w, y), (x + w + d, y - d), (x + w + d, y + h - d), (x + w, y + h)])}" fill="{side}" {style}/>',
        ]
    if isinstance(p, Line):
        dash = ' stroke-dasharray="2 1.5"' if p.dashed else ""
        out = [f'<polyline points="{points(p.points)}" fill="none" stroke="{EDGE}" stroke-width="0.5" stroke-linejoin="round"{dash}/>']
        if p.arrow and len(p.points) > 1:
            out.append(f'<polygon points="{points(arrow_head(p.points))}" fill="{EDGE}"/>')
        return out
    if isinstance(p, Mark):
        dash = ' stroke-dasharray="1.5 1"' if p.dashed else ""
        k = 0.55 * p.r
        if p.kind == "add":
            inner = f"M{num(p.x - k)},{num(p.y)}H{num(p.x + k)}M{num(p.x)},{num(p.y - k)}V{num(p.y + k)}"
        elif p.kind == "multiply":  # ⊗: the cross of ⊕ turned by 45°
            j = k * math.sqrt(0.5)
            inner = (
                f"M{num(p.x - j)},{num(p.y - j)}L{num(p.x + j)},{num(p.y + j)}M{num(p.x - j)},{num(p.y + j)}L{num(p.x + j)},{num(p.y - j)}"
            )
        else:
            a, b = p.x - 0.3 * p.r, p.x + 0.3 * p.r
            inner = f"M{num(a)},{num(p.y - k)}V{num(p.y + k)}M{num(b)},{num(p.y - k)}V{num(p.y + k)}"
        return [
            f'<circle cx="{num(p.x)}" cy="{num(p.y)}" r="{num(p.r)}" fill="#ffffff" stroke="{INK}" stroke-width="0.5"{dash}/>',
            f'<path d="{inner}" stroke="{INK}" stroke-width="0.5"/>',
        ]
    weight = ' font-weight="bold"' if p.bold else ""
    return [
        f'<text x="{num(p.x)}" y="{num(p.y)}" font-size="{num(p.size)}" text-anchor="{p.anchor}"{weight}>{escape(_clean(p.text))}</text>'
    ]


def svg_document(drawing: Drawing, name: str) -> str:
    w, h = num(drawing.width), num(drawing.height)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}pt" height="{h}pt" viewBox="0 0 {w} {h}" '
        f'font-family="{escape(FONT)}" role="img" aria-label="{escape(_clean(name))}">'
    )
    body = [f'<rect width="{w}" height="{h}" fill="#ffffff"/>', *(line for p in drawing.prims for line in emit(p))]
    return "\n".join(['<?xml version="1.0" encoding="UTF-8"?>', head, *body, "</svg>", ""])


def to_blocks_svg(
    net: Network,
    depth: int | None = None,
    phase: str = "train",
    rankdir: str = "LR",
    width: float = 3.33,
    font: float = 7.0,
    title: str | None = None,
) -> str:
    """The block figure of `net` as SVG text, `width` inches wide with `font`-point text."""
    return svg_document(layout(build_figure(net, depth, phase, title), width, font, rankdir), net.name)
