"""IR → canonical .arch text: `archc fmt`, and the printer half of the parse/print round trip.

The language has no string literals, so every `#` starts a comment; comments are carried over
by line: a comment on a statement's first line stays at its end, comment lines stay before the
statement that follows them.
"""

from __future__ import annotations

import re

from .. import ir

INDENT = "    "


def format_program(program: ir.Program, source: str | None = None) -> str:
    lines = source.split("\n") if source else []
    blank = {k for k, line in enumerate(lines, 1) if not line.strip()}
    return Printer(_comments(source) if source else {}, blank).program(program)


def _comments(source: str) -> dict[int, str]:
    out = {}
    for lineno, line in enumerate(source.split("\n"), 1):
        found = re.search(r"#.*$", line)
        if found:
            out[lineno] = found.group(0).rstrip()
    return out


def _value(v: ir.Scalar) -> str:
    if isinstance(v, float):
        text = repr(v)
        return text if "e" in text or "." in text else text + ".0"
    return str(v)


class Printer:
    def __init__(self, comments: dict[int, str], blank: set[int] | None = None) -> None:
        self.comments = comments
        self.blank = blank or set()
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
                self.block(f"network {item.name.text}", item.body, item.span.line)
        self.flush(10**9)
        return "\n".join(self.lines).rstrip("\n") + "\n"

    # -- layout helpers --------------------------------------------------------------------------
    def emit(self, text: str, line: int | None = None) -> None:
        if line is not None:
            self.flush(line)
            self.keep_blank(line)
        trailing = self.comments.pop(line, None) if line is not None else None
        self.lines.append(INDENT * self.level + text + (f"  {trailing}" if trailing else ""))

    def flush(self, before: int) -> None:
        """Comment lines that stand before source line `before`."""
        for lineno in sorted(k for k in self.comments if k < before):
            self.keep_blank(lineno)
            self.lines.append(INDENT * self.level + self.comments.pop(lineno))

    def keep_blank(self, line: int) -> None:
        """One blank line where the source had blank lines (authors group layers that way)."""
        if line - 1 in self.blank and self.lines and self.lines[-1].strip() and not self.lines[-1].endswith("{"):
            self.lines.append("")

    def block(self, head: str, body: ir.Block, line: int) -> None:
        self.emit(head + " {", line)
        self.level += 1
        for stmt in body.stmts:
            self.stmt(stmt)
        self.flush(body.span.end_line)
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
        words = [op.op.text] + [(f"{a.key}=" if a.key else "") + _value(a.value.value) for a in op.args]
        text = head + " ".join(words)
        if op.table is not None:
            self.emit(text + " connections {", line)
            self.level += 1
            for row in op.table.rows:
                cells = " ".join(row.marks) if op.table.matrix else " ".join(map(str, row.ints))
                self.emit(f"{row.index}: {cells}".rstrip(), row.span.line)
            self.flush(op.table.span.end_line)
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
            self.flush(op.span.end_line)
            self.level -= 1
            self.emit("}")
            self._tail(tail)
        else:
            self.emit(text + tail, line)

    def _tail(self, tail: str) -> None:
        if tail:
            self.lines[-1] += tail
