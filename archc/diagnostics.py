"""Source spans, diagnostics, and their rendering in the mypy/gcc shape editors parse.

specs/vgg16.arch:31:5: error: conv4_3 expects 512 input maps, filters declare 256  [channel-mismatch]
    conv4_3: conv 512 3x3x256 pad=1 relu
                      ^~~~~~~
hint: the previous layer conv4_2 outputs 512x28x28
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple


class Span(NamedTuple):
    """A half-open region of a source file; 1-based lines and columns.

    A NamedTuple rather than a dataclass: the parser makes one per IR node, and tuples are
    several times cheaper to create.
    """

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @staticmethod
    def unknown(file: str = "<unknown>") -> Span:
        return Span(file, 1, 1, 1, 1)


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    code: str
    message: str
    span: Span
    hint: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "severity": self.severity.value,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "notes": list(self.notes),
        }


class Diagnostics:
    """Collects every diagnostic of a run so that users see all errors at once."""

    def __init__(self) -> None:
        self.items: list[Diagnostic] = []

    def error(self, code: str, message: str, span: Span, hint: str | None = None, notes: tuple[str, ...] = ()) -> None:
        self.items.append(Diagnostic(Severity.ERROR, code, message, span, hint, notes))

    def warning(self, code: str, message: str, span: Span, hint: str | None = None, notes: tuple[str, ...] = ()) -> None:
        self.items.append(Diagnostic(Severity.WARNING, code, message, span, hint, notes))

    def extend(self, other: Diagnostics) -> None:
        self.items.extend(other.items)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if not d.is_error]

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.items, key=lambda d: (d.span.file, d.span.line, d.span.column))


class CompileError(Exception):
    """Raised by the public API when a spec has errors; carries every diagnostic."""

    def __init__(self, diagnostics: list[Diagnostic], sources: dict[str, str] | None = None) -> None:
        self.diagnostics = diagnostics
        self.sources = sources or {}
        super().__init__(render_all(diagnostics, self.sources, color=False))


def render(diag: Diagnostic, source: str | None, color: bool = False) -> str:
    """One diagnostic: the located message, the source line, a caret under the token, the hint."""
    sev = diag.severity.value
    if color:
        tint = "\033[1;31m" if diag.is_error else "\033[1;35m"
        sev = f"{tint}{sev}\033[0m"
    s = diag.span
    lines = [f"{s.file}:{s.line}:{s.column}: {sev}: {diag.message}  [{diag.code}]"]
    text = _source_line(source, s.line)
    if text is not None:
        shown = text.expandtabs(1).rstrip("\r")
        lines.append("    " + shown)
        width = s.end_column - s.column if s.end_line == s.line else len(shown) - s.column + 1
        width = max(1, min(width, max(1, len(shown) - s.column + 1)))
        lines.append("    " + " " * (s.column - 1) + "^" + "~" * (width - 1))
    for note in diag.notes:
        lines.append(f"note: {note}")
    if diag.hint:
        lines.append(f"hint: {diag.hint}")
    return "\n".join(lines)


def render_all(diags: list[Diagnostic], sources: dict[str, str], color: bool = False) -> str:
    return "\n".join(render(d, sources.get(d.span.file), color) for d in diags)


def to_json(diags: list[Diagnostic]) -> str:
    return json.dumps([d.as_dict() for d in diags], indent=2)


def _source_line(source: str | None, line: int) -> str | None:
    if source is None:
        return None
    lines = source.split("\n")
    if 1 <= line <= len(lines):
        return lines[line - 1]
    return None
