"""Golden Keras sources: `archc build SPEC --target keras` for every reference spec."""

from __future__ import annotations

import archc
from archc.build import generate
from tests.golden import ROOT

SPECS = ("lenet5", "alexnet", "vgg16", "googlenet", "examples/resnet18", "examples/resnet50")


def source(spec: str, **options: bool) -> str:
    path = f"specs/{spec}.arch"
    comp = archc.compile_file(ROOT / path)
    comp.raise_for_errors()
    for net in comp.networks:
        net.file = path  # the header names the spec as a user would pass it, independent of the checkout
    return generate(comp.networks, "keras", path, **options)


def cases() -> dict[str, str]:
    return {f"{spec.split('/')[-1]}.py": source(spec) for spec in SPECS}
