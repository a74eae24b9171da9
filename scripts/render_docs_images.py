"""Render the README's diagrams of the seed networks into docs/images/ (PNG and SVG), and the
block figures of docs/figures.md (blocks-*.png: the TikZ compiled with pdflatex, rasterised at
300 dpi with pdftoppm, at a 3.33 in column's width).

    .venv/bin/python scripts/render_docs_images.py          # or: make docs-images

Needs Graphviz's `dot`; the block figures need pdflatex and pdftoppm (texlive-latex-base,
texlive-pictures, poppler-utils) and are skipped with a note without them. The output depends
only on the specs, archc and the tools' versions, so rerunning it on an unchanged tree changes no file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import archc  # noqa: E402
from archc.backends.tikz import to_tikz  # noqa: E402
from archc.env import MissingDependency  # noqa: E402
from archc.render import render_to_file  # noqa: E402

OUT = ROOT / "docs" / "images"
# (spec, file stem, depth): every layer of each seed network, and GoogLeNet's one-box-per-module overview
IMAGES = [
    ("lenet5", "lenet5", None),
    ("alexnet", "alexnet", None),
    ("vgg16", "vgg16", None),
    ("googlenet", "googlenet", None),
    ("googlenet", "googlenet-depth1", 1),
]

# (spec, depth) of each block figure: the chains with every layer, VGG16 and GoogLeNet by stage and module
BLOCK_FIGURES = [("lenet5", None), ("alexnet", None), ("vgg16", 1), ("googlenet", 1)]


def block_figures() -> None:
    if not (shutil.which("pdflatex") and shutil.which("pdftoppm")):
        print("render_docs_images: pdflatex or pdftoppm missing; block figures not redrawn", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for spec, depth in BLOCK_FIGURES:
            (Path(tmp) / f"{spec}.tex").write_text(to_tikz(archc.load(ROOT / "specs" / f"{spec}.arch"), depth=depth), encoding="utf-8")
            subprocess.run(
                ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", f"{spec}.tex"], cwd=tmp, check=True, capture_output=True
            )
            out = OUT / f"blocks-{spec}"
            subprocess.run(["pdftoppm", "-r", "300", "-png", "-singlefile", str(Path(tmp) / f"{spec}.pdf"), str(out)], check=True)
            print(f"wrote {out.relative_to(ROOT)}.png")


def main() -> int:
    for spec, stem, depth in IMAGES:
        net = archc.load(ROOT / "specs" / f"{spec}.arch")
        for fmt in ("svg", "png"):
            out = OUT / f"{stem}.{fmt}"
            try:
                render_to_file(net, out, fmt, depth=depth)
            except MissingDependency as exc:
                print(f"render_docs_images: {exc}", file=sys.stderr)
                return 3
            print(f"wrote {out.relative_to(ROOT)}")
    block_figures()
    return 0


if __name__ == "__main__":
    sys.exit(main())
