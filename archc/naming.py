"""How unnamed layers and branches are named: one rule, shared by the resolver and the language
server (which indexes the syntax IR even when the spec does not resolve)."""

from __future__ import annotations

from collections.abc import Sequence

from . import ir


def auto_name(base: str, counters: dict[str, int], taken: set[str], reserved: set[str]) -> str:
    """`conv_1`, `conv_2`, … (`branch1`, `branch2`, … for branches), counted per scope, skipping
    every name the scope already holds or will hold (`taken`, `reserved`); the name is taken."""
    while True:
        k = counters.get(base, 0) + 1
        counters[base] = k
        name = f"{base}{k}" if base.endswith("branch") else f"{base}_{k}"
        if name not in taken and name not in reserved:
            taken.add(name)
            return name


def reserve(stmts: Sequence[ir.Stmt], taken: set[str], reserved: set[str]) -> None:
    """Before a block is named: its layers' explicit names are taken, and the explicit branch
    names of its unnamed merges (which live in this scope) are kept from unnamed branches."""
    for stmt in stmts:
        if isinstance(stmt, ir.Layer) and stmt.name is not None:
            taken.add(stmt.name.text)
        elif isinstance(stmt, ir.Layer) and isinstance(stmt.body, ir.Op):
            reserved.update(br.name.text for br in stmt.body.branches or () if br.name is not None)
