"""The language server's outline names layers and branches exactly as the resolver does: both
use archc/naming.py, which keeps explicit branch names from unnamed branches."""

from __future__ import annotations

from pathlib import Path

import pytest

import archc
from archc.graph import Node
from archc.lsp.analysis import Analysis, Symbol

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted([*ROOT.glob("specs/**/*.arch"), *(ROOT / "tests" / "regressions").glob("*.arch")])


def _outline(symbols: list[Symbol]) -> list[str]:
    """Top-level layer and branch names of the network, as the outline shows them."""
    out = []
    for sym in symbols:
        if sym.kind in ("layer", "call", "repeat"):
            out.append(sym.name)
            out += [b.name for b in sym.children if b.kind == "branch"]
    return out


def _resolved(net: archc.graph.Network) -> list[str]:
    out = []
    for item in net.body:
        out.append(item.name)
        if isinstance(item, Node):
            out += [b.name for b in item.branches]
    return out


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_outline_names_are_the_resolvers(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    analysis = Analysis(text, path.name)
    nets = {n.name: n for n in archc.compile_source(text, path.name).networks}
    checked = 0
    for sym in analysis.symbols:
        if sym.kind == "network" and sym.name in nets:
            assert _outline(sym.children) == _resolved(nets[sym.name])
            checked += 1
    assert checked == len(nets)


def test_an_explicit_branch_name_later_in_the_scope_is_never_given_away() -> None:
    text = (ROOT / "tests" / "regressions" / "unnamed_then_branch1.arch").read_text()
    (net,) = archc.compile_source(text).networks
    assert _resolved(net) == ["concat_1", "branch3", "branch1", "add_1", "branch4", "branch2"]
