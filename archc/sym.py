"""Symbolic channel counts inside module definitions.

A module body is resolved once per call with concrete numbers, but the PyTorch backend emits
one class per module whose constructor takes the module's parameters. Each channel count
therefore also carries a linear expression over the module's parameters and `in_channels`,
e.g. inception's output `c1 + c3 + c5 + pp`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field

# The atom for a module's incoming channel count: not a legal spec name, so that a module
# parameter called `in_channels` is a different atom (the backends give each its identifier).
IN_CHANNELS = "<in_channels>"


@dataclass(frozen=True)
class Sym:
    const: int = 0
    terms: tuple[tuple[str, int], ...] = field(default=())  # (atom, coefficient), first use first

    @staticmethod
    def of(value: int) -> Sym:
        return Sym(value)

    @staticmethod
    def atom(name: str) -> Sym:
        return Sym(0, ((name, 1),))

    @property
    def is_const(self) -> bool:
        return not self.terms

    def __add__(self, other: Sym) -> Sym:
        coeffs = dict(self.terms)
        for atom, c in other.terms:
            coeffs[atom] = coeffs.get(atom, 0) + c
        return Sym(self.const + other.const, tuple((a, c) for a, c in coeffs.items() if c))

    def scale(self, k: int) -> Sym:
        return Sym(self.const * k, tuple((a, c * k) for a, c in self.terms if c * k))

    def subst(self, env: dict[str, Sym]) -> Sym:
        out = Sym(self.const)
        for atom, c in self.terms:
            out = out + env.get(atom, Sym.atom(atom)).scale(c)
        return out

    def render(self, rename: Callable[[str], str] = str) -> str:
        parts = [rename(a) if c == 1 else f"{rename(a)} * {c}" for a, c in self.terms]
        if self.const or not parts:
            parts.append(str(self.const))
        return " + ".join(parts)


def sym_of(expr: str | None, value: object) -> Sym:
    """A channel count given by Python source over parameters: linear (`c * 4 + 8`) as a Sym of them,
    anything else (`c // 4`, `make_divisible(c, 8)`) as its value, a constant of this instance."""
    if expr is not None:
        try:
            found = _linear(ast.parse(expr, mode="eval").body)
        except SyntaxError:
            found = None
        if found is not None:
            return found
    return Sym.of(int(value))  # type: ignore[call-overload]


def _linear(node: ast.expr) -> Sym | None:
    if isinstance(node, ast.Name):
        return Sym.atom(node.id)
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return Sym.of(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _linear(node.operand)
        return None if inner is None else inner.scale(-1)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub | ast.Mult):
        a, b = _linear(node.left), _linear(node.right)
        if a is None or b is None:
            return None
        if isinstance(node.op, ast.Add):
            return a + b
        if isinstance(node.op, ast.Sub):
            return a + b.scale(-1)
        if b.is_const:
            return a.scale(b.const)
        if a.is_const:
            return b.scale(a.const)
    return None
