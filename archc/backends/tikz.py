"""A block figure as a standalone LaTeX/TikZ file (pdflatex), from archc/backends/blocks_layout.py's drawing.

The file needs only TikZ and the LaTeX base (Debian: texlive-latex-base, texlive-pictures): no
`standalone` class; the page is cropped to the picture with pdfTeX's page size. The picture
between the `% figure` markers can be pasted into a paper as it is. Coordinates are points,
y down (`y=-1bp`; 1 bp = 1/72 in, as in SVG and PDF), exactly as the SVG emitter draws them.
"""

from __future__ import annotations

import math

from ..graph import Network
from .blocks import build_figure
from .blocks_draw import Box, Drawing, Line, Mark, Prim, arrow_head, shades
from .blocks_layout import layout

_ESCAPES = {
    "\\": r"$\backslash$",
    "{": r"$\{$",
    "}": r"$\}$",
    "_": r"\_",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "^": r"\^{}",
    "~": r"$\sim$",
    "×": r"$\times$",
    "·": r"$\cdot$",
    "–": "--",
    "‖": r"$\Vert$",
    "<": r"$<$",
    ">": r"$>$",
    "|": r"$|$",
}


def tex(text: str) -> str:
    """Text safe in LaTeX: specials escaped, the few symbols archc writes as math, anything else non-ASCII as `?`."""
    out = []
    for c in text:
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif 32 <= ord(c) < 127:
            out.append(c)
        else:
            out.append("?")
    return "".join(out).replace("$$", "")


def num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def pt(x: float, y: float) -> str:
    return f"({num(x)},{num(y)})"


class TikzEmitter:
    def __init__(self, drawing: Drawing) -> None:
        self.d = drawing
        self.colours: dict[str, str] = {}

    def colour(self, hexcode: str) -> str:
        name = "archc" + "abcdefghijklmnopqrstuvwxyz"[len(self.colours) % 26] + str(len(self.colours) // 26)
        return self.colours.setdefault(hexcode, name)

    def emit(self, p: Prim) -> list[str]:
        if isinstance(p, Box):
            front, top, side = (self.colour(c) for c in shades(p.family))
            style = "draw=archcink, line width=0.35pt" + (", dash pattern=on 1.5pt off 1pt" if p.dashed else "")
            x, y, w, h, d = p.x, p.y, p.w, p.h, p.d
            return [
                f"\\filldraw[{style}, fill={front}] {pt(x, y)} rectangle {pt(x + w, y + h)};",
                f"\\filldraw[{style}, fill={top}] {pt(x, y)} -- {pt(x + d, y - d)} -- {pt(x + w + d, y - d)} -- {pt(x + w, y)} -- cycle;",
                f"\\filldraw[{style}, fill={side}] {pt(x + w, y)} -- {pt(x + w + d, y - d)} -- {pt(x + w + d, y + h - d)} -- {pt(x + w, y + h)} -- cycle;",
            ]
        if isinstance(p, Line):
            style = "draw=archcedge, line width=0.5pt" + (", dash pattern=on 2pt off 1.5pt" if p.dashed else "")
            out = [f"\\draw[{style}] " + " -- ".join(pt(x, y) for x, y in p.points) + ";"]
            if p.arrow and len(p.points) > 1:
                out.append("\\fill[archcedge] " + " -- ".join(pt(x, y) for x, y in arrow_head(p.points)) + " -- cycle;")
            return out
        if isinstance(p, Mark):
            style = "draw=archcink, line width=0.5pt" + (", dash pattern=on 1.5pt off 1pt" if p.dashed else "")
            k = 0.55 * p.r
            j = k * math.sqrt(0.5)  # ⊗: the cross of ⊕ turned by 45°
            inner = (
                f"{pt(p.x - k, p.y)} -- {pt(p.x + k, p.y)} {pt(p.x, p.y - k)} -- {pt(p.x, p.y + k)}"
                if p.kind == "add"
                else f"{pt(p.x - j, p.y - j)} -- {pt(p.x + j, p.y + j)} {pt(p.x - j, p.y + j)} -- {pt(p.x + j, p.y - j)}"
                if p.kind == "multiply"
                else f"{pt(p.x - 0.3 * p.r, p.y - k)} -- {pt(p.x - 0.3 * p.r, p.y + k)} {pt(p.x + 0.3 * p.r, p.y - k)} -- {pt(p.x + 0.3 * p.r, p.y + k)}"
            )
            return [
                f"\\filldraw[{style}, fill=white] {pt(p.x, p.y)} circle[radius={num(p.r)}];",
                f"\\draw[archcink, line width=0.5pt] {inner};",
            ]
        anchor = {"start": "base west", "middle": "base", "end": "base east"}[p.anchor]
        size = f"\\sffamily\\fontsize{{{num(p.size)}}}{{{num(1.2 * p.size)}}}\\selectfont"
        weight = "\\bfseries" if p.bold else ""
        return [f"\\node[anchor={anchor}, inner sep=0pt, font={{{size}{weight}}}] at {pt(p.x, p.y)} {{{tex(p.text)}}};"]

    def document(self, net: Network) -> str:
        body = [line for p in self.d.prims for line in self.emit(p)]
        colours = [f"\\definecolor{{{name}}}{{HTML}}{{{code.lstrip('#').upper()}}}" for code, name in self.colours.items()]
        font = f"\\fontsize{{{num(self.d.font)}}}{{{num(1.2 * self.d.font)}}}\\selectfont"
        return "\n".join(
            [
                f"% {tex_comment(net.name)}: a block figure drawn by archc from {tex_comment(net.file)}.",
                f"% {num(self.d.width / 72)} in x {num(self.d.height / 72)} in, text {num(self.d.font)} pt; compile with: pdflatex FILE.tex",
                "% Box sizes: S(n) = 3 pt (1 + log2 n) for height H and depth W/2, T(C) = 1 pt (1 + log2 C) thick;",
                "% a vector of N features is a bar 2 pt (1 + log2 N) tall.",
                "\\documentclass{article}",
                "\\usepackage{fix-cm}",
                "\\usepackage{tikz}",
                "\\pagestyle{empty}",
                "\\definecolor{archcink}{HTML}{333333}",
                "\\definecolor{archcedge}{HTML}{444444}",
                *colours,
                "\\newsavebox{\\archcfigure}",
                "\\begin{document}",
                "\\begin{lrbox}{\\archcfigure}%",
                "% figure",
                f"\\begin{{tikzpicture}}[x=1bp, y=-1bp, line join=round, font=\\sffamily{font}]",
                f"\\path {pt(0, 0)} rectangle {pt(self.d.width, self.d.height)};  % the page, margins included",
                *body,
                "\\end{tikzpicture}%",
                "% end of figure",
                "\\end{lrbox}%",
                "\\ifdefined\\pdfpagewidth",
                "  \\pdfpagewidth=\\wd\\archcfigure \\pdfpageheight=\\dimexpr\\ht\\archcfigure+\\dp\\archcfigure\\relax",
                "\\else",
                "  \\pagewidth=\\wd\\archcfigure \\pageheight=\\dimexpr\\ht\\archcfigure+\\dp\\archcfigure\\relax",
                "\\fi",
                "\\hoffset=-1in \\voffset=-1in",
                "\\shipout\\box\\archcfigure",
                "\\end{document}",
                "",
            ]
        )


def tex_comment(text: str) -> str:
    return "".join(c if 32 <= ord(c) < 127 else "?" for c in text)


def to_tikz(
    net: Network,
    depth: int | None = None,
    phase: str = "train",
    rankdir: str = "LR",
    width: float = 3.33,
    font: float = 7.0,
    title: str | None = None,
) -> str:
    """The standalone .tex file of `net`'s block figure, `width` inches wide with `font`-point text."""
    drawing = layout(build_figure(net, depth, phase, title), width, font, rankdir)
    return TikzEmitter(drawing).document(net)
