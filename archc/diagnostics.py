"""Source spans, diagnostics, and their rendering in the mypy/gcc shape editors parse.

specs/vgg16.arch:31:5: error: conv4_3 expects 512 input maps, filters declare 256  [channel-mismatch]
    conv4_3: conv 512 3x3x256 pad=1 relu
                      ^~~~~~~
hint: the previous layer conv4_2 outputs 512x28x28
"""

from __future__ import annotations

import json
import unicodedata
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
    NOTE = "note"  # information, never a failure: e.g. that --input left the shape assertions unchecked


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

    def note(self, code: str, message: str, span: Span, hint: str | None = None, notes: tuple[str, ...] = ()) -> None:
        self.items.append(Diagnostic(Severity.NOTE, code, message, span, hint, notes))

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
        return [d for d in self.items if d.severity is Severity.WARNING]

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.items, key=lambda d: (d.span.file, d.span.line, d.span.column))


class CompileError(Exception):
    """Raised by the public API when a spec has errors; carries every diagnostic."""

    def __init__(self, diagnostics: list[Diagnostic], sources: dict[str, str] | None = None) -> None:
        self.diagnostics = diagnostics
        self.sources = sources or {}
        super().__init__(render_all(diagnostics, self.sources, color=False))


def render(diag: Diagnostic, source: str | None, color: bool = False, lines: list[str] | None = None) -> str:
    """One diagnostic: the located message, the source line, a caret under the token, the hint.

    Text from the spec is shown with control and bidirectional-formatting characters escaped
    (`\\x00`, `\\u202e`), so a spec cannot move the terminal's cursor or reorder what it shows;
    the carets count display cells, so they stay under the token after escapes and wide (CJK) characters.
    """
    sev = diag.severity.value
    if color:
        tint = {Severity.ERROR: "\033[1;31m", Severity.WARNING: "\033[1;35m"}.get(diag.severity, "\033[1;36m")
        sev = f"{tint}{sev}\033[0m"
    s = diag.span
    out = [f"{safe(s.file)}:{s.line}:{s.column}: {sev}: {safe(diag.message)}  [{diag.code}]"]
    text = _source_line(source, s.line, lines)
    if text is not None:
        out += _excerpt(text, s)
    for note in diag.notes:
        out.append(f"note: {safe(note)}")
    if diag.hint:
        out.append(f"hint: {safe(diag.hint)}")
    return "\n".join(out)


MAX_SHOWN_CHARS = 500  # a longer source line is shown as a window around the span, cut with `…`


def _excerpt(text: str, s: Span) -> list[str]:
    """The source line (or a window of it around the span) and the caret line under the span."""
    line = text[:-1] if text.endswith("\r") else text  # no copy of a long line: one may echo it many times
    start = min(max(s.column, 1), len(line) + 1)
    end = s.end_column if s.end_line == s.line else len(line) + 1
    end = min(max(end, start + 1), len(line) + 1)
    lo, hi = 0, len(line)
    if hi > MAX_SHOWN_CHARS:  # a 10 MB one-line spec is not echoed whole
        lo = max(0, start - 1 - MAX_SHOWN_CHARS // 4)
        hi = min(len(line), lo + MAX_SHOWN_CHARS)
        end = min(end, hi + 1)
    window = line[lo:hi].replace("\t", " ")  # a tab is one column, as Lark counts it
    before, after = ("…" if lo > 0 else ""), ("…" if hi < len(line) else "")
    if window.isascii() and window.isprintable():  # the usual case: one cell per character
        lead, width, text = start - 1 - lo, end - start, window
    else:
        shown = [_display(c) for c in window]
        lead = sum(_width(x) for x in shown[: start - 1 - lo])
        width = sum(_width(x) for x in shown[start - 1 - lo : end - 1 - lo])
        text = "".join(shown)
    return ["    " + before + text + after, "    " + " " * (len(before) + lead) + "^" + "~" * (max(1, width) - 1)]


def render_all(diags: list[Diagnostic], sources: dict[str, str], color: bool = False) -> str:
    split: dict[str, list[str]] = {}  # each source split into lines once, however many diagnostics it has
    for file, text in sources.items():
        if any(d.span.file == file for d in diags):
            split[file] = text.split("\n")
    return "\n".join(render(d, sources.get(d.span.file), color, split.get(d.span.file)) for d in diags)


# Characters never echoed raw: C0/C1 controls and DEL (Cc), formatting characters such as the bidi
# overrides and isolates, zero-width joiners and the BOM (Cf), line and paragraph separators, and
# unassigned or private-use code points, whose display no one can predict.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def _display(char: str) -> str:
    """How one source character is shown: itself, or an escape such as \\x1b or \\u202e."""
    if char == " " or unicodedata.category(char) not in _ESCAPED_CATEGORIES:
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _width(shown: str) -> int:
    """Terminal cells taken by a shown character (or by an escape, which is plain ASCII)."""
    if len(shown) > 1:
        return len(shown)
    if unicodedata.combining(shown) or unicodedata.category(shown) in ("Mn", "Me"):
        return 0
    return 2 if unicodedata.east_asian_width(shown) in ("W", "F") else 1


def safe(text: str) -> str:
    """Text that may hold spec characters (names, paths, hints), with every unsafe character escaped."""
    if text.isprintable():
        return text
    return "".join(_display(c) if c != "\n" else "\\n" for c in text)


def to_json(diags: list[Diagnostic]) -> str:
    return json.dumps([d.as_dict() for d in diags], indent=2)


def _source_line(source: str | None, line: int, lines: list[str] | None = None) -> str | None:
    if source is None:
        return None
    if lines is None:
        lines = source.split("\n")
    if 1 <= line <= len(lines):
        return lines[line - 1]
    return None
