"""Golden DOT diagrams: `archc render SPEC --format dot`, every layer and `--depth 1`, for the seed specs."""

from __future__ import annotations

import archc
from archc.backends.dot import to_dot
from tests.golden import ROOT

SPECS = ("lenet5", "alexnet", "vgg16", "googlenet", "examples/resnet18")


def cases() -> dict[str, str]:
    out = {}
    for spec in SPECS:
        net = archc.load(ROOT / "specs" / f"{spec}.arch")
        stem = spec.split("/")[-1]
        out[f"{stem}.dot"] = to_dot(net)
        out[f"{stem}.depth1.dot"] = to_dot(net, depth=1)
    return out
