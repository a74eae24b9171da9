"""docs/zoo.md's tables hold each zoo spec's figures as archc computes them, and list every zoo spec."""

from __future__ import annotations

import re

import archc
from tests.golden import ROOT

PAGE = (ROOT / "docs" / "zoo.md").read_text(encoding="utf-8")
ROW = re.compile(
    r"^\| \[`([\w/]+)`\]\(\.\./specs/zoo/([\w/]+)\.arch\) \| ([\d,]+)(?: \(([\d,]+) without aux\))? \| ([\d,]+) \| (\d+x\d+x\d+) \|", re.M
)


def number(text: str) -> int:
    return int(text.replace(",", ""))


def test_every_zoo_spec_is_on_the_page_with_its_figures() -> None:
    rows = ROW.findall(PAGE)
    listed = {path for _, path, *_ in rows}
    on_disk = {p.relative_to(ROOT / "specs" / "zoo").with_suffix("").as_posix() for p in (ROOT / "specs" / "zoo").rglob("*.arch")}
    assert listed == on_disk
    for shown, path, params, without_aux, macs, shape in rows:
        assert shown == path
        net = archc.load(ROOT / "specs" / "zoo" / f"{path}.arch")
        assert number(params) == net.total_params, path
        assert (number(without_aux) if without_aux else net.total_params) == net.inference_params, path
        assert number(macs) == net.macs, path
        assert shape == "x".join(map(str, net.input_shape)), path
