"""IR → .arch text: `archc fmt`, and the printer half of the parse/print round trip.

With the spec's source, `format_program` is `archc fmt`: the author's layout mended (see
arch_layout.py), and checked to parse to the same program with the same comments, so that a
formatter bug is an internal error, never a changed spec. Without a source it prints the IR in
canonical form, which is what a program made by a tool (and no author) needs.
"""

from __future__ import annotations

import dataclasses
import re

from .. import ir
from ..diagnostics import Diagnostics
from ..expr import arch_source
from ..parse import parse  # only to check what the formatter wrote
from .arch_layout import reformat

INDENT = "    "


class FormatterBug(Exception):
    """The formatted text would not be the same spec: a bug in archc."""


def format_program(program: ir.Program, source: str | None = None) -> str:
    if source is None:
        return Printer().program(program)
    text = reformat(source)
    _same_spec(program, source, text)
    return text


def _same_spec(program: ir.Program, source: str, text: str) -> None:
    diags = Diagnostics()
    again = parse(text, "<formatted>", diags)
    if again is None or not _equal(again, program):
        why = diags.items[0].message if diags.items else "it parses to a different program"
        raise FormatterBug(f"archc fmt would change the spec: {why}")
    if _comments(text) != _comments(source):
        raise FormatterBug("archc fmt would change the spec's comments")


def _equal(a: object, b: object) -> bool:
    """IR equality (spans aside) without recursion: a spec may nest a thousand braces deep."""
    pending = [(a, b)]
    while pending:
        x, y = pending.pop()
        if type(x) is not type(y):
            return False
        if dataclasses.is_dataclass(x):
            pending += [(getattr(x, f.name), getattr(y, f.name)) for f in dataclasses.fields(x) if f.compare]
        elif isinstance(x, tuple | list) and isinstance(y, tuple | list):
            if len(x) != len(y):
                return False
            pending += zip(x, y, strict=True)
        elif x != y:
            return False
    return True


def _comments(source: str) -> list[str]:
    return [found.group(0).rstrip() for found in re.finditer(r"#.*", source)]


def _value(v: ir.Term) -> str:
    return arch_source(ir.Value(v))


def _positional(v: ir.Term) -> str:
    """An op's positional argument: one that starts with a unary minus on a name (`-c*2`) is
    parenthesised, since `conv a -c` would read as two arguments; `-1` is a number and stays."""
    text = _value(v)
    return f"({text})" if text.startswith("-") and not re.match(r"-[0-9.]", text) else text


class Printer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.level = 0

    def program(self, program: ir.Program) -> str:
        items: list[ir.ModuleDef | ir.NetworkDef] = sorted(
            [*program.modules, *program.networks], key=lambda d: (d.span.line, d.span.column)
        )
        for item in items:
            if self.lines and self.lines[-1]:
                self.lines.append("")
            if isinstance(item, ir.ModuleDef):
                params = ", ".join(p.text for p in item.params)
                self.block(f"module {item.name.text}({params})", item.body, item.span.line)
            else:
                params = ", ".join(f"{p.name.text}={_value(p.default.value)}" for p in item.params)
                self.block(f"network {item.name.text}" + (f"({params})" if item.params else ""), item.body, item.span.line)
        return "\n".join(self.lines).rstrip("\n") + "\n"

    # -- layout helpers --------------------------------------------------------------------------
    def emit(self, text: str, line: int | None = None) -> None:
        self.lines.append(INDENT * self.level + text)

    def block(self, head: str, body: ir.Block, line: int) -> None:
        self.emit(head + " {", line)
        self.level += 1
        for stmt in body.stmts:
            self.stmt(stmt)
        self.level -= 1
        self.emit("}")

    # -- statements ------------------------------------------------------------------------------
    def stmt(self, stmt: ir.Stmt) -> None:
        if isinstance(stmt, ir.Input):
            name = f"{stmt.name.text}: " if stmt.name else ""
            self.emit(f"input {name}{'x'.join(map(str, stmt.shape.dims))}", stmt.span.line)
            return
        head = f"{stmt.name.text}: " if stmt.name else ""
        if stmt.aux:
            head += "aux "
        tail = ""
        if stmt.sources:
            tail += " from " + ", ".join(s.text for s in stmt.sources)
        if stmt.assertion is not None:
            tail += " -> " + "x".join(map(str, stmt.assertion.dims))
        body = stmt.body
        line = stmt.span.line
        if isinstance(body, ir.Call):
            self.emit(f"{head}{body.module.text}({', '.join(_value(v.value) for v in body.args)}){tail}", line)
        elif isinstance(body, ir.Repeat):
            self.block(f"{head}repeat {_value(body.count.value)}", body.body, line)
            self._tail(tail)
        else:
            self.op(head, body, tail, line)

    def op(self, head: str, op: ir.Op, tail: str, line: int) -> None:
        words = [op.op.text] + [f"{a.key}={_value(a.value.value)}" if a.key else _positional(a.value.value) for a in op.args]
        text = head + " ".join(words)
        if op.table is not None:
            self.emit(text + " connections {", line)
            self.level += 1
            for row in op.table.rows:
                cells = " ".join(row.marks) if op.table.matrix else " ".join(map(str, row.ints))
                self.emit(f"{row.index}: {cells}".rstrip(), row.span.line)
            self.level -= 1
            self.emit("}")
            self._tail(tail)
        elif op.branches is not None:
            self.emit(text + " {", line)
            self.level += 1
            for br in op.branches:
                name = f" {br.name.text}" if br.name else ""
                if br.body is None:
                    self.emit(f"branch{name}", br.span.line)
                else:
                    self.block(f"branch{name}", br.body, br.span.line)
            self.level -= 1
            self.emit("}")
            self._tail(tail)
        else:
            self.emit(text + tail, line)

    def _tail(self, tail: str) -> None:
        if tail:
            self.lines[-1] += tail
