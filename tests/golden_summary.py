"""Golden summaries: the text table and the `--explain` arithmetic of every spec, as `archc summary` prints them."""

from __future__ import annotations

import archc
from archc.summary import explain, to_text
from tests.golden import ROOT

SPECS = ("lenet5", "alexnet", "vgg16", "googlenet", "examples/bottleneck", "examples/resnet18", "examples/resnet50")


def cases() -> dict[str, str]:
    out = {}
    for spec in SPECS:
        rel = f"specs/{spec}.arch"  # the path as a user in the repository root types it
        comp = archc.compile_source((ROOT / rel).read_text(encoding="utf-8"), rel)
        comp.raise_for_errors()
        stem = spec.split("/")[-1]
        # `archc summary` joins several networks with a blank line and print() ends the text
        out[f"{stem}.txt"] = "\n\n".join(to_text(n) for n in comp.networks) + "\n"
        out[f"{stem}.explain.txt"] = "\n\n".join(explain(n) for n in comp.networks) + "\n"
    return out
