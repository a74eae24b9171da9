"""Paper figures: the block drawing (archc/backends/blocks*.py) as TikZ, SVG, PDF or PNG, and the
Graphviz diagram's PNG at any dpi.

`tex` and `svg` are plain text and need nothing installed. PDF and PNG of the block drawing
are made from its SVG by librsvg's `rsvg-convert` (Debian: librsvg2-bin): the same drawing
without LaTeX; `pdflatex` on the .tex gives it with LaTeX's fonts. A missing tool raises
MissingDependency (exit code 3 in the CLI) with the package to install.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .backends.blocks_svg import to_blocks_svg
from .backends.dot import to_dot
from .backends.tikz import to_tikz
from .env import MissingDependency
from .files import write_atomic
from .graph import Network
from .render import layout

STYLES = ("graph", "blocks")
BLOCK_FORMATS = ("tex", "svg", "png", "pdf")


@dataclass(frozen=True)
class FigureOptions:
    width: float = 3.33  # inches: a one-column figure
    font: float = 7.0  # points, at that width
    dpi: int = 300
    title: str | None = None  # None: the network's name; "": no title

    def __post_init__(self) -> None:
        if not 0.5 <= self.width <= 100:
            raise ValueError(f"the width is in inches, between 0.5 and 100, not {self.width:g}")
        if not 3 <= self.font <= 72:
            raise ValueError(f"the font size is in points, between 3 and 72, not {self.font:g}")
        if not 10 <= self.dpi <= 2400:
            raise ValueError(f"dpi must be between 10 and 2400, not {self.dpi}")


def block_figure(
    net: Network, fmt: str, rankdir: str = "LR", depth: int | None = None, phase: str = "train", options: FigureOptions | None = None
) -> bytes:
    """The block figure in one of BLOCK_FORMATS, as the bytes of the file."""
    o = options or FigureOptions()
    if fmt not in BLOCK_FORMATS:
        raise ValueError(f"unknown format {fmt!r} for a block figure: choose one of {', '.join(BLOCK_FORMATS)}")
    if fmt == "tex":
        return to_tikz(net, depth, phase, rankdir, o.width, o.font, o.title).encode("utf-8")
    svg = to_blocks_svg(net, depth, phase, rankdir, o.width, o.font, o.title)
    return svg.encode("utf-8") if fmt == "svg" else svg_convert(svg, fmt, o.dpi)


def svg_convert(svg: str, fmt: str, dpi: int) -> bytes:
    """PNG or PDF from SVG text with `rsvg-convert`; the SVG's size is in points, so dpi sets the pixels."""
    tool = shutil.which("rsvg-convert")
    if tool is None:
        raise MissingDependency(
            "librsvg's `rsvg-convert` is not on PATH; install it with: apt-get install librsvg2-bin "
            "(or brew install librsvg); `--format tex` and `--format svg` work without it"
        )
    cmd = [tool, "-f", fmt, "-d", str(dpi), "-p", str(dpi)]
    done = subprocess.run(cmd, input=svg.encode("utf-8"), capture_output=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"rsvg-convert failed on archc's SVG (please report this): {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def graph_png(net: Network, rankdir: str = "TB", depth: int | None = None, phase: str = "train", dpi: int = 96) -> bytes:
    """The Graphviz diagram as PNG at `dpi` (Graphviz's own default is 96)."""
    source = to_dot(net, rankdir=rankdir, depth=depth, phase=phase)
    source = re.sub(r"\{\n", f"{{\n  graph [dpi={int(dpi)}];\n", source, count=1)
    return layout(source, "png")


def write_figure(path: Path, data: bytes) -> None:
    write_atomic(Path(path), data)
