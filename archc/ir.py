"""The syntax IR: what a spec says, with a span on every node.

Spans never take part in equality, so that `parse(print(parse(s))) == parse(s)` holds
for a printed spec whose positions differ from the original.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from .diagnostics import Span


def _span() -> Span:
    return field(default_factory=Span.unknown, compare=False, repr=False)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Dims:
    """A size written as `5x5` or `3x3x256`."""

    values: tuple[int, ...]

    def __str__(self) -> str:
        return "x".join(str(v) for v in self.values)


@dataclass(frozen=True)
class Ref:
    """A bare name in value position: a module parameter, a flag (`ceil`) or a keyword (`same`)."""

    name: str

    def __str__(self) -> str:
        return self.name


class Numbers(tuple):  # type: ignore[type-arg]
    """The numbers a `Values` list evaluates to, written back as the spec writes them."""

    def __str__(self) -> str:
        return ", ".join(str(v) for v in self)


Scalar = Union[int, float, Dims, Ref, Numbers]


@dataclass(frozen=True)
class BinOp:
    """`left op right`, op one of + - * / // % (docs/language.md, "Expressions")."""

    op: str
    left: Value
    right: Value


@dataclass(frozen=True)
class Neg:
    """A unary minus on anything but a number (`-c`; `-1` is the number -1)."""

    operand: Value


@dataclass(frozen=True)
class Func:
    """A function call in an expression: min, max, make_divisible, ceil, floor."""

    name: str
    args: tuple[Value, ...]


@dataclass(frozen=True)
class Values:
    """A keyword's comma-separated values, one per channel: `mean=0.485, 0.456, 0.406`."""

    items: tuple[Value, ...]


Expr = Union[BinOp, Neg, Func]
Term = Union[Scalar, Expr, Values]  # what a value is written as; an Expr is evaluated when the network is shaped


@dataclass(frozen=True)
class Value:
    value: Term
    span: Span = _span()


@dataclass(frozen=True)
class Arg:
    """A positional (`key is None`) or keyword argument of an op."""

    key: str | None
    value: Value
    span: Span = _span()


@dataclass(frozen=True)
class Name:
    text: str
    span: Span = _span()


@dataclass(frozen=True)
class TableRow:
    """One row of a connection table: `out: in in in` or a row of the paper's X matrix."""

    index: int
    ints: tuple[int, ...]
    marks: str  # "X.X..." for the matrix form, "" for the list form
    span: Span = _span()


@dataclass(frozen=True)
class Table:
    rows: tuple[TableRow, ...]
    matrix: bool
    span: Span = _span()


@dataclass(frozen=True)
class Branch:
    name: Name | None
    body: Block | None  # None: the identity branch
    span: Span = _span()


@dataclass(frozen=True)
class Op:
    op: Name
    args: tuple[Arg, ...]
    table: Table | None = None
    branches: tuple[Branch, ...] | None = None
    span: Span = _span()


@dataclass(frozen=True)
class Call:
    module: Name
    args: tuple[Value, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Repeat:
    count: Value
    body: Block
    span: Span = _span()


Body = Union[Op, Call, Repeat]


@dataclass(frozen=True)
class Layer:
    name: Name | None
    body: Body
    aux: bool = False
    sources: tuple[Name, ...] = ()
    assertion: ShapeLit | None = None
    span: Span = _span()


@dataclass(frozen=True)
class ShapeLit:
    dims: tuple[int, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Input:
    name: Name | None
    shape: ShapeLit
    span: Span = _span()


Stmt = Union[Input, Layer]


@dataclass(frozen=True)
class Block:
    stmts: tuple[Stmt, ...]
    span: Span = _span()


@dataclass(frozen=True)
class ModuleDef:
    name: Name
    params: tuple[Name, ...]
    body: Block
    span: Span = _span()


@dataclass(frozen=True)
class NetParam:
    """A network parameter and its default: `network ResNet50(classes=1000)`."""

    name: Name
    default: Value
    span: Span = _span()


@dataclass(frozen=True)
class NetworkDef:
    name: Name
    body: Block
    span: Span = _span()
    params: tuple[NetParam, ...] = ()


@dataclass(frozen=True)
class Program:
    file: str = field(compare=False)
    modules: tuple[ModuleDef, ...]
    networks: tuple[NetworkDef, ...]
    span: Span = _span()
