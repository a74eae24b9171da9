"""Reads Graphviz's layout (`dot -Tjson`) and lists what would make a diagram hard to read:
text boxes that overlap, and edges that run through any text (node, edge or cluster labels).

Text boxes come from the layout engine's own font metrics (width, baseline, size); leading and
trailing spaces of a label are not ink, so they are trimmed. Edges are sampled along their
Bézier curves. Used by tests/test_render.py on every golden diagram.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import numpy as np

SPACE_EM, DESCENT_EM, ASCENT_EM = 0.278, 0.21, 0.72  # Helvetica / Liberation Sans metrics


def _texts(ops: list[dict[str, Any]] | None, owner: str) -> list[tuple[tuple[float, float, float, float], str, str]]:
    out, size = [], 14.0
    for op in ops or []:
        if op["op"] == "F":
            size = float(op["size"])
        elif op["op"] == "T" and op["text"].strip():
            text, width = op["text"], float(op["width"])
            x, y = op["pt"]
            x0 = {"l": x, "c": x - width / 2, "r": x - width}[op["align"]]
            lead, trail = len(text) - len(text.lstrip(" ")), len(text) - len(text.rstrip(" "))
            space = SPACE_EM * size
            box = (x0 + lead * space, y - DESCENT_EM * size, x0 + width - trail * space, y + ASCENT_EM * size)
            out.append((box, text.strip(), owner))
    return out


def _curve_points(ops: list[dict[str, Any]] | None) -> np.ndarray:
    pts = []
    t = np.linspace(0, 1, 25)[:, None]
    for op in ops or []:
        if op["op"] in ("b", "B"):
            p = np.array(op["points"], dtype=float)
            for i in range(0, len(p) - 3, 3):
                a, b, c, d = p[i : i + 4]
                pts.append((1 - t) ** 3 * a + 3 * (1 - t) ** 2 * t * b + 3 * (1 - t) * t**2 * c + t**3 * d)
    return np.vstack(pts) if pts else np.zeros((0, 2))


def problems(dot_text: str, pad: float = 0.5) -> list[str]:
    layout = json.loads(subprocess.run(["dot", "-Tjson"], input=dot_text.encode(), capture_output=True, check=True, timeout=120).stdout)
    texts = _texts(layout.get("_ldraw_"), "graph")
    for obj in layout.get("objects", []):
        texts += _texts(obj.get("_ldraw_"), obj["name"])
    for edge in layout.get("edges", []):
        texts += _texts(edge.get("_ldraw_"), f"edge {edge['_gvid']}")
    if not texts:
        return []
    boxes = np.array([t[0] for t in texts]) + np.array([pad, pad, -pad, -pad])
    out = []
    for i, box in enumerate(boxes):
        hit = (boxes[:, 0] < box[2]) & (boxes[:, 2] > box[0]) & (boxes[:, 1] < box[3]) & (boxes[:, 3] > box[1])
        hit[: i + 1] = False
        out += [f"text {texts[i][1]!r} ({texts[i][2]}) overlaps {texts[j][1]!r} ({texts[j][2]})" for j in np.nonzero(hit)[0]]
    for edge in layout.get("edges", []):
        if "invis" in edge.get("style", ""):
            continue
        p = _curve_points(edge.get("_draw_"))
        inside = (
            (p[:, None, 0] > boxes[None, :, 0])
            & (p[:, None, 0] < boxes[None, :, 2])
            & (p[:, None, 1] > boxes[None, :, 1])
            & (p[:, None, 1] < boxes[None, :, 3])
        )
        for j in sorted(set(np.nonzero(inside)[1].tolist())):
            out.append(f"edge {edge.get('tooltip', edge['_gvid'])} crosses {texts[j][1]!r} ({texts[j][2]})")
    return out
