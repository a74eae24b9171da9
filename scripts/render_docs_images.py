"""Render the README's diagrams of the seed networks into docs/images/ (PNG and SVG).

    .venv/bin/python scripts/render_docs_images.py          # or: make docs-images

Needs Graphviz's `dot`. The output depends only on the specs, archc and the Graphviz version,
so rerunning it on an unchanged tree changes no file.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import archc  # noqa: E402
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
