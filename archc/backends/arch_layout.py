"""`archc fmt`: the spec's own layout, with only what is clearly wrong put right.

A formatter people keep mends the text instead of re-printing the program. Every line stays a
line (a statement ends at a newline or `;`, so the author's lines are the program's structure)
and every token keeps its spelling (`1e-4` stays `1e-4`, `3x3` stays `3x3`); only whitespace
changes:

- indentation is four spaces a level: a line inside braces stands one level deeper than the line
  that opened the innermost of them, a line that starts with `}` level with the line that opened
  that brace (so `branch a { t: conv 2 3x3 connections {` opens one level, and `} }` closes it);
  inside a `connections { }` table a deeper indent lines the rows up under a comment and stays,
  and so does the spacing within a row;
- inside a statement, one space between words; none before `:` `,` `;` `)` `=`, nor before a `(`
  that follows a word at once (a call: `twice(64)`, `max(a, b)`; `conv (c)` keeps its space), nor
  after `(` `=`; one after `:` and `,`;
- after `;` and after `}` the author's spacing stays (it groups statements on one line);
- the `->` and trailing `#` columns are the author's: lines in a run (no blank line between) whose
  `->` (or `#`) stood in one column stay aligned in a column; set off by more than one space
  (two for `#`) the run keeps that column, or moves right as a whole when a line no longer fits;
  set off tightly, the column stays just after the run's longest line;
- trailing whitespace goes, and so do blank lines at either end of the file or just inside a
  brace; runs of blank lines become one; the file ends in one newline (CRLF files stay CRLF).

`reformat(source)` is pure text to text; `archc.backends.arch.format_program` checks that the
result parses to the same program, with the same comments, before anyone sees it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

INDENT = "    "
TAB = 8  # columns of a tab when measuring where an aligned `->` or `#` stood

TOKEN = re.compile(r"->|[{}():=,;]|(?:(?!->)[^\s{}():=,;#])+")
NO_SPACE_BEFORE = frozenset({":", ",", ";", ")", "=", "("})
NO_SPACE_AFTER = frozenset({"(", "="})
KEEP_SPACE_AFTER = frozenset({";", "}"})
ARROW, COMMENT = 0, 1
LEAST = {ARROW: 1, COMMENT: 2}  # the least spacing before `->` and before a trailing comment


@dataclass
class _Frames:
    """The braces open at a point of the text: whether each opens a connection table, and the level of its line."""

    open: list[tuple[bool, int]] = field(default_factory=list)
    level: int = 0  # the level of the line being read

    @property
    def in_table(self) -> bool:
        return bool(self.open) and self.open[-1][0]

    def start(self, closes: bool) -> int:
        """The level of a line that starts inside the open braces (with a `}`: `closes`)."""
        inner = self.open[-1][1] if self.open else -1
        self.level = max(0, inner if closes else inner + 1)
        return self.level

    def take(self, token: str, previous: str | None) -> None:
        if token == "{":
            self.open.append((previous == "connections", self.level))
        elif token == "}" and self.open:
            self.open.pop()


@dataclass
class _Line:
    """One output line as parts: the text before the first `->`, the rest of the code, the trailing comment.

    `source` holds, for the `->` and the comment, the column where it stood and the spacing before
    it; `pad` the spacing it gets. A line without parts to align (blank, a comment, a table row) is all `head`.
    """

    head: str
    arrow: str = ""
    comment: str = ""
    source: dict[int, tuple[int, int]] = field(default_factory=dict)
    pad: dict[int, int] = field(default_factory=dict)

    def before(self, part: int) -> str:
        text = self.head
        if ARROW in self.source:
            text += " " * self.pad.get(ARROW, 1) + self.arrow
        return text if part == COMMENT else self.head

    def text(self) -> str:
        return self.before(COMMENT) + (" " * self.pad.get(COMMENT, 2) + self.comment if COMMENT in self.source else "")


def reformat(source: str) -> str:
    newline = "\r\n" if re.match(r"[^\n]*\r\n", source) else "\n"
    frames = _Frames()
    lines = [_line(raw, frames) for raw in source.split("\n")]
    for part in (ARROW, COMMENT):
        _align(lines, part)
    text = _blank_lines([line.text() for line in lines])
    return newline.join(text) + (newline if text else "")


def _line(raw: str, frames: _Frames) -> _Line:
    text = raw.rstrip()
    if not text.strip():
        return _Line("")
    hash_at = text.find("#")
    code = text if hash_at < 0 else text[:hash_at]
    tokens = [(m.group(), m.start(), m.end()) for m in TOKEN.finditer(code)]
    closes = bool(tokens) and tokens[0][0] == "}"
    indent = INDENT * frames.start(closes)
    if frames.in_table and not closes:  # a row, or a comment among rows: its spacing is its columns
        _scan(tokens, frames)
        written = text[: len(text) - len(text.lstrip())]
        return _Line((written.expandtabs(TAB) if _width(written) > len(indent) else indent) + text.lstrip())
    if not tokens:  # a comment line
        return _Line(indent + text.lstrip())
    line = _Line(indent)
    out, previous, end = [indent], None, 0
    for token, start, stop in tokens:
        if previous is not None:
            gap = code[end:start]
            if token == "->" and ARROW not in line.source:
                line.head = "".join(out)
                line.source[ARROW] = (_width(code[:start]), _width(code[:start]) - _width(code[:end]))
                out = []
            else:
                out.append(_spacing(previous, token, gap, frames.in_table))
        out.append(token)
        frames.take(token, previous)
        previous, end = token, stop
    if ARROW in line.source:
        line.arrow = "".join(out)
    else:
        line.head = "".join(out)
    if hash_at >= 0:
        line.comment = text[hash_at:]
        line.source[COMMENT] = (_width(text[:hash_at]), _width(text[:hash_at]) - _width(code[:end]))
    return line


def _scan(tokens: list[tuple[str, int, int]], frames: _Frames) -> None:
    previous: str | None = None
    for token, _, _ in tokens:
        frames.take(token, previous)
        previous = token


def _spacing(previous: str, token: str, gap: str, in_table: bool) -> str:
    if in_table:
        return gap
    if token == "(" and previous not in ("(", ",", "=") and gap:  # `conv (c)` is an argument, `twice(c)` a call
        return " "
    if (previous == ")" or previous[-1] in "+-*/%") and token[0] in "+-*/%(" and not gap:
        return ""  # `(a)-1` is one expression; `(a) -1` would be two arguments
    if token in NO_SPACE_BEFORE or previous in NO_SPACE_AFTER:
        return ""
    if previous in KEEP_SPACE_AFTER:
        return gap.replace("\t", " ") or " "
    return " "


def _align(lines: list[_Line], part: int) -> None:
    """Set the spacing before `part` on each run of lines where it stood in one column."""
    run: list[_Line] = []
    for line in [*lines, _Line("")]:
        at = line.source.get(part)
        blank = not line.head and not line.source
        if run and (blank or (at is not None and at[0] != run[0].source[part][0])):
            _align_run(run, part)
            run = []
        if at is not None:
            run.append(line)


def _align_run(run: list[_Line], part: int) -> None:
    column = run[0].source[part][0]
    widest = max(len(line.before(part)) for line in run)
    tightest = min(line.source[part][1] for line in run)
    least = LEAST[part]
    if tightest <= least:  # set just after the widest line, as the author did
        target = widest + (tightest or least)
    else:  # the author's column, or further right as a whole
        target = max(column, widest + least)
    for line in run:
        line.pad[part] = target - len(line.before(part))


def _width(text: str) -> int:
    return len(text.expandtabs(TAB))


def _blank_lines(lines: list[str]) -> list[str]:
    """One blank line where the author left one or more, except at the file's ends and just inside a brace."""
    out: list[str] = []
    pending = False
    for line in lines:
        if not line:
            pending = bool(out)
            continue
        if pending and not _code(out[-1]).endswith("{") and not _code(line).startswith("}"):
            out.append("")
        pending = False
        out.append(line)
    return out


def _code(line: str) -> str:
    return line.split("#", 1)[0].strip()
