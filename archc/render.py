"""Draw a network: DOT text from archc.backends.dot, laid out by Graphviz's `dot` program.

`--format dot` needs nothing installed; svg, png and pdf need the `graphviz` Python package and
the `dot` binary, and raise MissingDependency (exit code 3 in the CLI) with an install hint
when either is missing. Files are written by archc.files.write_atomic: a reader never sees half a
diagram.
"""

from __future__ import annotations

from pathlib import Path

from .backends.dot import to_dot
from .env import MissingDependency, require_graphviz
from .files import write_atomic
from .graph import Network

FORMATS = ("svg", "png", "pdf", "dot")


def render_bytes(net: Network, fmt: str, rankdir: str = "TB", depth: int | None = None, phase: str = "train") -> bytes:
    """The diagram in one of FORMATS, as the bytes of the file."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    source = to_dot(net, rankdir=rankdir, depth=depth, phase=phase)
    if fmt == "dot":
        return source.encode("utf-8")
    return layout(source, fmt)


def layout(source: str, fmt: str) -> bytes:
    """Runs `dot -T<fmt>` on DOT text through the graphviz package."""
    graphviz = require_graphviz()
    try:
        result: bytes = graphviz.pipe("dot", fmt, source.encode("utf-8"), quiet=True)
    except graphviz.ExecutableNotFound as exc:  # dot vanished between the check and the call
        raise MissingDependency(f"Graphviz's `dot` could not be run ({exc}); install it with: apt-get install graphviz") from None
    except graphviz.CalledProcessError as exc:
        stderr = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else str(exc.stderr)
        raise RuntimeError(f"Graphviz's dot failed on archc's DOT output (please report this): {stderr.strip()}") from None
    return result


def render_svg(net: Network, rankdir: str = "TB", depth: int | None = None, phase: str = "train") -> str:
    """The diagram as SVG text, for the notebook display and the HTML report."""
    return render_bytes(net, "svg", rankdir=rankdir, depth=depth, phase=phase).decode("utf-8")


def render_to_file(net: Network, out: Path, fmt: str, rankdir: str = "TB", depth: int | None = None, phase: str = "train") -> None:
    write_atomic(Path(out), render_bytes(net, fmt, rankdir=rankdir, depth=depth, phase=phase))
