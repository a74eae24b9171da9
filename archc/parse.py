"""Text → syntax IR. The Lark parser is built once; its exceptions become our diagnostics."""

from __future__ import annotations

import hashlib
import os
import re
import stat
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import lark
from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from . import ir
from .diagnostics import Diagnostics, Span

# How each terminal reads to a user; Lark's own names (RBRACE, __ANON_3) never reach a message.
TERMINAL_TEXT = {
    "NAME": "a name",
    "INT": "a number",
    "FLOAT": "a decimal number",
    "NEG_INT": "a negative number",
    "NEG_FLOAT": "a negative decimal number",
    "DIMS": "a size like 3x3",
    "MARK": "'X' or '.'",
    "_NL": "end of line",
    "AUX": "'aux'",
    "$END": "end of file",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COLON": "':'",
    "COMMA": "','",
    "EQUAL": "'='",
    "MINUS": "'-'",
    "PLUS": "'+'",
    "STAR": "'*'",
    "SLASH": "'/'",
    "DSLASH": "'//'",
    "PERCENT": "'%'",
    "FUNC": "a call like max(",
}

MAX_SHOWN_EXPECTED = 8


def grammar_text() -> str:
    """The grammar shipped inside the wheel, or the repository's copy in a source checkout."""
    packaged = resources.files("archc").joinpath("grammar/arch.lark")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parent.parent / "grammar" / "arch.lark").read_text(encoding="utf-8")


# The statement separator folds blank and comment lines into one token. Python's regex engine keeps
# a backtracking record per repetition of such a group: 1,000,000 comment lines took ~900 MB. A
# possessive repetition (Python 3.11+) keeps none; it cannot give anything back that the grammar
# would need, since whatever follows a separator starts with neither a newline, ';', blank nor '#'.
NL_PATTERN = r"/((\r?\n|;)[ \t\f]*(#[^\n]*)?)+/"
NL_POSSESSIVE = r"/(?:(?:\r?\n|;)[ \t\f]*(?:#[^\n]*)?)++/"


@lru_cache(maxsize=1)
def parser() -> Lark:
    """The LALR parser. Its analysis (and strict mode's collision check, ~0.5 s) is cached per user."""
    text = grammar_text()
    if sys.version_info >= (3, 11):
        text = text.replace(NL_PATTERN, NL_POSSESSIVE)
    return Lark(text, parser="lalr", strict=True, maybe_placeholders=True, transformer=_BUILDER, cache=cache_path(text) or False)


def private_cache_dir(*parts: str) -> str | None:
    """A per-user cache directory only we can write, or None (ARCHC_NO_CACHE set, or no safe place).

    Lark's own default is a shared temporary directory; a pickle another user could plant
    there would run as us, so archc's caches live in a directory only we can write.
    """
    if os.environ.get("ARCHC_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "archc", *parts)
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.stat(folder)
    except OSError:
        return None
    if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    return folder


def cache_path(grammar: str) -> str | None:
    """The parser's cache file in the private cache directory, or None."""
    folder = private_cache_dir()
    if folder is None:
        return None
    digest = hashlib.sha256(grammar.encode("utf-8")).hexdigest()[:16]
    return os.path.join(folder, f"grammar-{lark.__version__}-{digest}.cache")


def parse(text: str, file: str, diags: Diagnostics) -> ir.Program | None:
    """Parse one spec; on syntax errors, report them (several, when they can be told apart) and return None."""
    with _BUILDING:  # one builder, shared by the cached parser: one file at a time
        _BUILDER.start_parse(file, text)
        try:
            tree: object = parser().parse(text)
        except _ValueTooLarge as exc:  # a value the grammar admits but Python cannot hold
            diags.error("syntax", str(exc), exc.span)
            _report_run_together(diags)
            return None
        except LimitExceeded as exc:  # checked while parsing: the parse stops where the limit is passed
            diags.error("limit", str(exc), exc.span, hint=exc.hint)
            return None
        except UnexpectedInput as exc:
            first = _translate(exc, text, file)
            if not _BUILDER.explained(first[2]):
                diags.error(*first)
            try:
                for later in _later_syntax_errors(text, file, first, exc):  # a generator: a limit may stop it halfway
                    if not _BUILDER.explained(later[2]):
                        diags.error(*later)
            except LimitExceeded as limit:  # reading on after the error passed a limit: say so, and stop
                diags.error("limit", str(limit), limit.span, hint=limit.hint)
            finally:
                _forget()
            _report_run_together(diags)
            return None
        if _report_run_together(diags):
            return None
    assert isinstance(tree, ir.Program)  # the inline builder made the IR while parsing
    return tree


def _report_run_together(diags: Diagnostics) -> bool:
    """Report the values that ran into a word (`3x3relu`, `4c`, `3X3`); True if there were any."""
    for message, span, hint in _BUILDER.run_together:
        diags.error("syntax", message, span, hint=hint)
    return bool(_BUILDER.run_together)


# A value must end where a word could go on: `3x3relu`, `pad=1relu` and `4c` are one run of
# characters that reads as two tokens, and `3X3` (a capital X) as the number 3 and the name X3.
WORD_RUN = re.compile(r"\w*")
SIZE_WITH_CAPITAL_X = re.compile(r"[0-9]+([xX][0-9]+)+")


def run_together(value: str, rest: str, span: Span) -> tuple[str, Span, str]:
    """The syntax error for a value token followed at once by word characters."""
    run = value + rest
    if SIZE_WITH_CAPITAL_X.fullmatch(run):
        return f"`{run}` is not a size: sizes are written with a lowercase x", span, f"write `{run.lower()}`"
    hint = f"write `{value} {rest}`"
    if value.isdigit():
        hint += f", or, if `{run}` is a name, start it with a letter"
    return f"the value {value} runs into `{rest}`: a value ends before a letter, digit or '_'", span, hint


MAX_SYNTAX_ERRORS = 10


def _later_syntax_errors(
    text: str, file: str, first: tuple[str, str, Span, str | None], exc: UnexpectedInput
) -> Iterator[tuple[str, str, Span, str | None]]:
    """Further syntax errors, found as if the failing line were blank, while that line holds no brace.

    The parser is not started again: it drops what it read of the failing line and goes on from
    the next one, so finding every further error costs one parse of the file in all (a re-parse
    per error took 40 s on 3.6 MB). Only when the braces pair up, and only inside a block: a brace
    astray would make every later line a ghost error.
    """
    lines = _lines(text)
    depth = _depths(text)
    line = first[2].line
    found = 0
    session = _Resumable.of(exc)
    if session is None or depth[line - 1] == 0 or not _balanced(text):
        return
    previous = first
    while found < MAX_SYNTAX_ERRORS - 1 and 1 <= line <= len(lines):
        code = lines[line - 1].split("#", 1)[0]
        if "{" in code or "}" in code:
            break
        try:
            session.skip_line(line, text)
            break  # the rest parses
        except _ValueTooLarge:
            break
        except UnexpectedInput as later:
            error = _translate(later, text, file)
        if error[2].line <= line or depth[error[2].line - 1] == 0:  # no progress, or a ghost outside any block
            break
        if _expectation(error) == _expectation(previous) and not any(_code(x) for x in lines[line : error[2].line - 1]):
            break  # the very next statement fails the same way: one cause (a missing `branch`, say), not two
        previous = error
        yield error
        found += 1
        line = error[2].line


class _Resumable:
    """A stopped LALR parse that can drop the tokens of one line and go on after it."""

    def __init__(self, interactive: Any) -> None:
        self.interactive = interactive  # Lark's handle on the stopped parse; its state is changed in place
        self.state, self.lexer = interactive.parser_state, interactive.lexer_thread

    @staticmethod
    def of(exc: UnexpectedInput) -> _Resumable | None:
        ip = getattr(exc, "interactive_parser", None)
        return None if ip is None else _Resumable(ip)

    def skip_line(self, line: int, text: str) -> None:
        """Parse on as if `line` were blank; raises the next UnexpectedInput, or returns at the end."""
        try:
            self._skip_line(line, text)
        except UnexpectedInput as exc:
            exc.interactive_parser = self.interactive  # what Lark attaches itself: the tokens accepted here
            raise

    def _skip_line(self, line: int, text: str) -> None:
        values, states = self.state.value_stack, self.state.state_stack
        keep = len(values)
        while keep and _line_of(values[keep - 1], line) >= line:
            keep -= 1
        del values[keep:]
        del states[keep + 1 :]
        # Go on at the next code after the line: the separator before the line already stands for
        # the blank and comment lines (and any leading `;`) that a blanked line would fold into it.
        lines, start = _lines(text), _line_starts(text)
        at, row, col = len(text), len(lines), len(lines[-1]) + 1
        for number in range(line + 1, len(lines) + 1):
            code = lines[number - 1].split("#", 1)[0]
            rest = code.lstrip(" \t\f;\r")
            if rest:
                row, col = number, len(code) - len(rest) + 1
                at = start[number - 1] + col - 1
                break
        counter = self.lexer.state.line_ctr
        counter.char_pos, counter.line, counter.column, counter.line_start_pos = at, row, col, at - col + 1
        self.lexer.state.last_token = None
        for tok in self.lexer.lex(self.state):
            self.state.feed_token(tok)
        self.state.feed_token(Token("$END", "", len(text), row, col), True)


def _line_of(value: Any, default: int) -> int:
    """The line a parser-stack value starts on; `default` when it has no position (nothing read yet)."""
    pos = _start(value)
    return default if pos is None else pos[0]


def _expectation(error: tuple[str, str, Span, str | None]) -> str:
    return error[1].partition(", expected ")[2]


def _code(raw: str) -> str:
    return raw.split("#", 1)[0].strip()


# What error recovery asks about the text again and again, computed once per text.
def _forget() -> None:
    for cached in (_lines, _line_starts, _depths, _balanced, _braces):
        cached.cache_clear()


@lru_cache(maxsize=2)
def _lines(text: str) -> list[str]:
    return text.split("\n")


@lru_cache(maxsize=2)
def _line_starts(text: str) -> list[int]:
    """The offset at which each line starts."""
    starts, at = [0], 0
    for raw in _lines(text)[:-1]:
        at += len(raw) + 1
        starts.append(at)
    return starts


@lru_cache(maxsize=2)
def _depths(text: str) -> list[int]:
    """How many blocks are open at the start of each line (comments skipped)."""
    out, depth = [], 0
    for raw in _lines(text):
        out.append(depth)
        code = raw.split("#", 1)[0]
        depth += code.count("{") - code.count("}")
    return out


@lru_cache(maxsize=2)
def _balanced(text: str) -> bool:
    depth = 0
    for raw in _lines(text):
        code = raw.split("#", 1)[0]
        if "{" not in code and "}" not in code:
            continue
        for char in code:
            depth += (char == "{") - (char == "}")
            if depth < 0:
                return False
    return depth == 0


def _translate(exc: UnexpectedInput, text: str, file: str) -> tuple[str, str, Span, str | None]:
    line = max(1, getattr(exc, "line", 1) or 1)
    column = max(1, getattr(exc, "column", 1) or 1)
    braces = _braces(text)
    if braces.definition_inside is not None and braces.definition_inside[0] <= line:
        # `network B {` inside an unclosed block parses as a layer; say what really went wrong.
        at, word, opened = braces.definition_inside
        span = Span(file, at, 1 + _indent(text, at), at, 1 + _indent(text, at) + len(word))
        return "syntax", f"`{word}` inside an unclosed block: a '}}' is missing before this line", span, _still_open(opened)
    if (isinstance(exc, UnexpectedToken) and exc.token.type == "$END") or isinstance(exc, UnexpectedEOF):
        line, column = _end_position(text)
        expected = _expected_text(getattr(exc, "expected", set()) or getattr(exc, "accepts", set()))
        hint = _still_open(braces.unclosed) if braces.unclosed else None
        return "syntax", f"unexpected end of file, expected {expected}", Span(file, line, column, line, column + 1), hint
    if isinstance(exc, UnexpectedToken) and (tup := _tuple_around(exc.token, text)) is not None:
        tok = tup  # `(1,7)`: parentheses hold an expression now, so the parse fails at the comma
        hint = _tuple_hint(tok, text)
        m = TUPLE.match(text, tok.start_pos or 0)
        size = "x".join([m[1], *(p.strip() for p in m[2].split(",")[1:])]) if m else "3x3"
        return (
            "syntax",
            f"unexpected '(' (a size is not a tuple), expected a size like {size}",
            Span(file, tok.line or 1, tok.column or 1, tok.line or 1, (tok.column or 1) + 1),
            hint,
        )
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        shown = _token_text(tok)
        expected = _expected_text(exc.accepts or exc.expected)
        end = column + max(1, len(str(tok)) if tok.type != "_NL" else 1)
        hint = (
            _hint_for(tok, exc.accepts or exc.expected)
            or _tuple_hint(tok, text)
            or _keyword_as_name(tok, text)
            or _closed_early(tok, exc.accepts or exc.expected, text)
        )
        return "syntax", f"unexpected {shown}, expected {expected}", Span(file, line, column, line, end), hint
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        char = text[pos] if 0 <= pos < len(text) else "?"
        expected = _expected_text(exc.allowed or set())
        return "syntax", f"unexpected character {char!r}, expected {expected}", Span(file, line, column, line, column + 1), None
    return "syntax", "invalid syntax", Span(file, line, column, line, column + 1), None


def _token_text(tok: Token) -> str:
    if tok.type == "_NL":
        return "end of line"
    if tok.type == "$END":
        return "end of file"
    return repr(str(tok))


def _expected_text(names: set[str] | frozenset[str]) -> str:
    shown = sorted({_terminal_text(n) for n in names})
    if not shown:
        return "something else"
    if len(shown) > MAX_SHOWN_EXPECTED:
        shown = shown[:MAX_SHOWN_EXPECTED] + ["…"]
    return shown[0] if len(shown) == 1 else "one of " + ", ".join(shown)


def _terminal_text(name: str) -> str:
    if name in TERMINAL_TEXT:
        return TERMINAL_TEXT[name]
    pattern = _literal_of(name)
    return f"'{pattern}'" if pattern else name.lower()


@cache
def _literal_of(name: str) -> str | None:
    for term in parser().terminals:
        if term.name == name and term.pattern.type == "str":
            return str(term.pattern.value)
    return None


def _hint_for(tok: Token, expected: set[str] | frozenset[str]) -> str | None:
    if "RBRACE" in expected and tok.type in ("network", "NETWORK", "MODULE"):
        return "a '}' is missing before this line"
    if str(tok) in ("network", "module") and "RBRACE" in expected:
        return "a '}' is missing before this line"
    if tok.type == "FLOAT" and "INT" in expected:
        return "this position takes a whole number"
    if str(tok) == "x" and "MARK" in expected:
        return "mark a connection with a capital X, and no connection with '.'"
    if tok.type == "NAME" and str(tok).startswith("x") and (str(tok)[1:].isdigit() or str(tok) == "x"):
        return "write a size without spaces: 3x224x224"
    if tok.type == "MINUS":
        return "an op's argument cannot start with '-' before a name or '(' (`conv a -b` would read two ways): write (-b)"
    if str(tok) == "," and "COMMA" not in expected:
        return "separate an op's arguments with spaces, not commas"
    return None


TUPLE = re.compile(r"\(\s*([0-9]+)\s*((?:,\s*[0-9]+\s*)+)\)")
OPTION_BEFORE = re.compile(r"(\w+)\s*=\s*$")


def _tuple_around(tok: Token, text: str) -> Token | None:
    """The `(` of a tuple of numbers (`(1,7)`) whose comma `tok` is, as a token; else None."""
    if str(tok) != "," or tok.start_pos is None:
        return None
    opened = text.rfind("(", text.rfind("\n", 0, tok.start_pos) + 1, tok.start_pos)
    m = TUPLE.match(text, opened) if opened >= 0 else None
    if m is None or not m.start() < tok.start_pos < m.end():
        return None
    col = (tok.column or 1) - (tok.start_pos - opened)
    return Token("LPAR", "(", start_pos=opened, line=tok.line, column=col, end_line=tok.line, end_column=col + 1)


def _tuple_hint(tok: Token, text: str) -> str | None:
    """`(1,7)` and `pad=(0,3)`, as Python and the frameworks write sizes: archc writes 1x7, pad=0x3."""
    if str(tok) != "(" or tok.start_pos is None:
        return None
    m = TUPLE.match(text, tok.start_pos)
    if m is None:
        return None
    sizes = [m[1], *(p.strip() for p in m[2].split(",")[1:])]
    size = "x".join(sizes)
    line_start = text.rfind("\n", 0, tok.start_pos) + 1
    key = OPTION_BEFORE.search(text, line_start, tok.start_pos)
    if key is not None:
        return f"write {key[1]}={size}: a size is written with x, not as a tuple"
    return f"write the size as {size}, not ({','.join(sizes)})"


KEYWORDS = ("network", "module", "input", "repeat", "branch", "connections", "from", "aux")


def _keyword_as_name(tok: Token, text: str) -> str | None:
    """`input: conv ...`: a keyword where a layer name was meant."""
    if str(tok) not in (":", "=") or tok.line is None or tok.column is None:
        return None
    before = _lines(text)[tok.line - 1][: tok.column - 1].split()
    if not before or before[-1] not in KEYWORDS:
        return None
    if str(tok) == ":":
        return f"`{before[-1]}` is a keyword, not a name: call it something else"
    return f"`{before[-1]}` is a keyword, not an option" + (": write `from LAYER`" if before[-1] == "from" else "")


def _closed_early(tok: Token, expected: set[str] | frozenset[str], text: str) -> str | None:
    """A statement after the end of every block: name the '}' that closed the last one."""
    if "NETWORK" not in expected or tok.type in ("NETWORK", "MODULE") or tok.line is None:
        return None
    depth, last = 0, None
    for lineno, raw in enumerate(text.split("\n")[: tok.line], start=1):
        for col, char in enumerate(raw.split("#", 1)[0], start=1):
            if (lineno, col) >= (tok.line, tok.column or 1):
                break
            depth += (char == "{") - (char == "}")
            if char == "}" and depth == 0:
                last = (lineno, col)
    if last is None:
        return None
    return f"the '}}' at line {last[0]}, column {last[1]} closed the block: one too many, or one too early?"


def _end_position(text: str) -> tuple[int, int]:
    lines = list(_lines(text))
    while len(lines) > 1 and not lines[-1].strip():
        lines.pop()
    return len(lines), len(lines[-1]) + 1


@dataclass
class _Braces:
    unclosed: tuple[int, int] | None = None  # the '{' most likely left open: (line, column)
    definition_inside: tuple[int, str, tuple[int, int]] | None = None  # (line, keyword, open brace)


@lru_cache(maxsize=2)
def _braces(text: str) -> _Braces:
    """Where braces go wrong, judged by nesting and indentation (comments skipped).

    A `}` that starts a line at another indentation than the line of the `{` it closes
    suggests that this `{` lacks its own `}`, and the `}` belongs to an outer block.
    """
    out = _Braces()
    stack: list[tuple[int, int, int]] = []  # (line, column, indentation of that line)
    suspect: tuple[int, int] | None = None
    for lineno, raw in enumerate(_lines(text), start=1):
        code = raw.split("#", 1)[0]
        indent = len(code) - len(code.lstrip())
        first = code.split(None, 1)[0] if code.strip() else ""
        if stack and first in ("network", "module") and out.definition_inside is None:
            top = stack[-1]
            out.definition_inside = (lineno, first, suspect or (top[0], top[1]))
        for col, char in enumerate(code, start=1):
            if char == "{":
                stack.append((lineno, col, indent))
            elif char == "}" and stack:
                opened = stack.pop()
                if suspect is None and col == indent + 1 and indent != opened[2]:
                    suspect = (opened[0], opened[1])
    if stack:
        out.unclosed = suspect or (stack[-1][0], stack[-1][1])
    return out


def _still_open(brace: tuple[int, int]) -> str:
    return f"the '{{' at line {brace[0]}, column {brace[1]} is never closed"


def _indent(text: str, line: int) -> int:
    raw = _lines(text)[line - 1]
    return len(raw) - len(raw.lstrip())


class _ValueTooLarge(Exception):
    def __init__(self, message: str, span: Span) -> None:
        super().__init__(message)
        self.span = span


class LimitExceeded(Exception):
    """A limit on the spec's size, passed while parsing; the parse stops there."""

    def __init__(self, message: str, span: Span, hint: str) -> None:
        super().__init__(message)
        self.span = span
        self.hint = hint


# Limits on what a spec writes, checked while Lark parses, before the work they bound: parsing
# costs ~7 µs a token on the 2-core machine and checking a layer ~40 µs, so these keep any spec
# up to the 10 MB size limit within a few seconds (bench/scaling.py, tests/test_scaling.py).
MAX_TOKENS = 320_000  # every token but `->`: names, numbers, keywords, punctuation, statement ends; comments are free
MAX_STATEMENTS = 20_000  # layer statements written; repeats and module calls make up to resolve.MAX_LAYERS of them
MAX_BRACES = 1_000  # open braces at once; resolve reports nesting past 64 levels (MAX_NESTING) more precisely


MAX_LITERAL_DIGITS = 30


class _ToIR:
    """Builds the IR bottom-up, one method per rule: `rule(meta, children)`."""

    def __init__(self, file: str) -> None:
        self.file = file

    def _span(self, meta: Any) -> Span:
        if getattr(meta, "empty", True):
            return Span.unknown(self.file)
        return Span(self.file, meta.line, meta.column, meta.end_line, meta.end_column)

    def _tok_span(self, tok: Token) -> Span:
        return Span(self.file, tok.line or 1, tok.column or 1, tok.end_line or tok.line or 1, tok.end_column or 1)

    def _name(self, tok: Token | None) -> ir.Name | None:
        return None if tok is None else ir.Name(str(tok), self._tok_span(tok))

    def _int(self, tok: Token) -> int:
        if len(tok) > MAX_LITERAL_DIGITS:
            raise _ValueTooLarge(f"number {str(tok)[:12]}… has more than {MAX_LITERAL_DIGITS} digits", self._tok_span(tok))
        return int(tok)

    def start(self, meta: Any, children: list[Any]) -> ir.Program:
        modules = tuple(c for c in children if isinstance(c, ir.ModuleDef))
        networks = tuple(c for c in children if isinstance(c, ir.NetworkDef))
        return ir.Program(self.file, modules, networks, self._span(meta))

    def module_def(self, meta: Any, children: list[Any]) -> ir.ModuleDef:
        name, *rest = children
        body = rest[-1]
        params = tuple(self._name(t) for t in rest[:-1] if t is not None)
        return ir.ModuleDef(self._name(name), params, body, self._span(meta))  # type: ignore[arg-type]

    def network_def(self, meta: Any, children: list[Any]) -> ir.NetworkDef:
        name, params, body = children
        return ir.NetworkDef(self._name(name), body, self._span(meta), tuple(params or ()))  # type: ignore[arg-type]

    def net_params(self, meta: Any, children: list[Any]) -> tuple[ir.NetParam, ...]:
        return tuple(c for c in children if isinstance(c, ir.NetParam))

    def net_param(self, meta: Any, children: list[Any]) -> ir.NetParam:
        return ir.NetParam(self._name(children[0]), self._val(children[1]), self._span(meta))  # type: ignore[arg-type]

    def _val(self, child: Any) -> ir.Value:
        """A value child: a token, or an expression already built."""
        return child if isinstance(child, ir.Value) else self._value_of(child)

    def binop(self, meta: Any, children: list[Any]) -> ir.Value:
        left, op, right = children
        return ir.Value(ir.BinOp(str(op), self._val(left), self._val(right)), self._span(meta))

    def neg(self, meta: Any, children: list[Any]) -> ir.Value:
        operand = self._val(children[1])
        v = operand.value
        if isinstance(v, (int, float)):  # `- 1`, `-(1)`: the number -1, as `-1` is
            return ir.Value(-v, self._span(meta))
        return ir.Value(ir.Neg(operand), self._span(meta))

    def paren(self, meta: Any, children: list[Any]) -> ir.Value:
        inner = self._val(children[-1])
        return ir.Value(inner.value, self._span(meta))  # the span takes the parentheses in

    def func(self, meta: Any, children: list[Any]) -> ir.Value:
        name, *args = children
        values = tuple(self._val(a) for a in args if a is not None)
        return ir.Value(ir.Func(str(name)[:-1], values), self._span(meta))

    def _func_name(self, tok: Token) -> ir.Name:
        """`max(` → the name max, without its parenthesis."""
        span = self._tok_span(tok)
        return ir.Name(str(tok)[:-1], Span(span.file, span.line, span.column, span.end_line, span.end_column - 1))

    def block(self, meta: Any, children: list[Any]) -> ir.Block:
        return ir.Block(tuple(children), self._span(meta))

    def input(self, meta: Any, children: list[Any]) -> ir.Input:
        return ir.Input(self._name(children[0]), children[1], self._span(meta))

    def layer(self, meta: Any, children: list[Any]) -> ir.Layer:
        name, aux, body, sources, assertion = children
        return ir.Layer(self._name(name), body, aux is not None, tuple(sources or ()), assertion, self._span(meta))

    def op(self, meta: Any, children: list[Any]) -> ir.Op:
        name, *args, extra = children
        table = extra if isinstance(extra, ir.Table) else None
        branches = extra if isinstance(extra, tuple) else None
        return ir.Op(self._name(name), tuple(args), table, branches, self._span(meta))  # type: ignore[arg-type]

    def call(self, meta: Any, children: list[Any]) -> ir.Call:
        name, *values = children
        return ir.Call(self._func_name(name), tuple(self._val(v) for v in values if v is not None), self._span(meta))

    def repeat(self, meta: Any, children: list[Any]) -> ir.Repeat:
        return ir.Repeat(self._val(children[0]), children[1], self._span(meta))

    def arg(self, meta: Any, children: list[Any]) -> ir.Arg:
        return ir.Arg(None, self._val(children[0]), self._span(meta))

    def kwarg(self, meta: Any, children: list[Any]) -> ir.Arg:
        return ir.Arg(str(children[0]), self._val(children[1]), self._span(meta))

    def kwlist(self, meta: Any, children: list[Any]) -> ir.Arg:
        key, *items = children
        values = tuple(self._val(v) for v in items)
        span = Span(self.file, key.line or 1, key.column or 1, values[-1].span.end_line, values[-1].span.end_column)
        first = values[0].span
        return ir.Arg(
            str(key), ir.Value(ir.Values(values), Span(self.file, first.line, first.column, span.end_line, span.end_column)), span
        )

    def source(self, meta: Any, children: list[Any]) -> tuple[ir.Name, ...]:
        return tuple(self._name(t) for t in children)  # type: ignore[misc]

    def assertion(self, meta: Any, children: list[Any]) -> ir.ShapeLit:
        return children[0]  # type: ignore[no-any-return]

    def branches(self, meta: Any, children: list[Any]) -> tuple[ir.Branch, ...]:
        return tuple(children)

    def branch(self, meta: Any, children: list[Any]) -> ir.Branch:
        return ir.Branch(self._name(children[0]), children[1], self._span(meta))

    def table(self, meta: Any, children: list[Any]) -> ir.Table:
        rows = tuple(children)
        return ir.Table(rows, any(r.marks for r in rows), self._span(meta))

    def table_row(self, meta: Any, children: list[Any]) -> ir.TableRow:
        index, *cells = children
        ints = tuple(self._int(c) for c in cells if c.type == "INT")
        marks = "".join(str(c) for c in cells if c.type == "MARK")
        return ir.TableRow(self._int(index), ints, marks, self._span(meta))

    def shape(self, meta: Any, children: list[Any]) -> ir.ShapeLit:
        tok = children[0]
        dims = tuple(self._int(Token("INT", p)) for p in str(tok).split("x"))
        return ir.ShapeLit(dims, self._tok_span(tok))

    def _value_of(self, tok: Token) -> ir.Value:
        """The value a token spells: 64, 0.5, 3x3 (Dims), relu (Ref), -1."""
        kind, text = tok.type, str(tok)
        value: ir.Scalar
        if kind in ("INT", "NEG_INT"):
            value = self._int(tok)
        elif kind in ("FLOAT", "NEG_FLOAT"):
            value = float(text)
        elif kind == "DIMS":
            value = ir.Dims(tuple(self._int(Token("INT", p)) for p in text.split("x")))
        else:
            value = ir.Ref(text)
        return ir.Value(value, self._tok_span(tok))


# -- building the IR while parsing -----------------------------------------------------------------
# Lark calls a transformer given to the LALR parser at every reduction, so no parse tree is
# built and walked afterwards; a 10,000-layer spec compiles ~30% faster. Lark offers no
# positions there, so each node's span runs from its first to its last token; the grammar
# names the keywords and closing braces it needs for that, and they are dropped before the
# rule's method sees its children.
POSITION_ONLY = frozenset({"MODULE", "NETWORK", "INPUT", "REPEAT", "BRANCH", "CONNECTIONS", "RBRACE", "RPAR"})


class _Meta:
    """What `_ToIR._span` reads: the region from the first to the last positioned child."""

    __slots__ = ("column", "empty", "end_column", "end_line", "line")

    def __init__(self, children: list[Any]) -> None:
        first = next((p for p in map(_start, children) if p is not None), None)
        last = next((p for p in map(_end, reversed(children)) if p is not None), None)
        self.empty = first is None or last is None
        if first is not None and last is not None:
            self.line, self.column = first
            self.end_line, self.end_column = last


def _start(child: Any) -> tuple[int, int] | None:
    if isinstance(child, Token):
        return (child.line or 1, child.column or 1)
    span = getattr(child, "span", None)
    if span is not None:
        return (span.line, span.column)
    if isinstance(child, tuple) and child:
        return _start(child[0])
    if isinstance(child, lark.Tree):
        return next((p for p in map(_start, child.children) if p is not None), None)
    return None


def _end(child: Any) -> tuple[int, int] | None:
    if isinstance(child, Token):
        return (child.end_line or child.line or 1, child.end_column or 1)
    span = getattr(child, "span", None)
    if span is not None:
        return (span.end_line, span.end_column)
    if isinstance(child, tuple) and child:
        return _end(child[-1])
    return None


class _Spanned(tuple):  # type: ignore[type-arg]
    """A tuple of IR nodes (a merge's branches) that knows where its closing brace is."""

    span: Span


def _inline(method: Any) -> Any:
    def build(self: _ToIR, children: list[Any]) -> Any:
        kept = [c for c in children if not (isinstance(c, Token) and c.type in POSITION_ONLY)]
        return method(self, _Meta(children), kept)

    return build


class _Builder(_ToIR):
    file = "<string>"
    tokens = 0
    statements = 0
    depth = 0

    def __init__(self) -> None:  # the file is set per parse
        pass

    text = ""
    run_together: list[tuple[str, Span, str]] = []  # reset per parse

    def start_parse(self, file: str, text: str = "") -> None:
        self.file, self.tokens, self.statements, self.depth = file, 0, 0, 0
        self.text, self.run_together = text, []

    def _value(self, tok: Token) -> Token:
        """A number or size token: counted, and an error noted when a word character follows at once."""
        self._count(tok)
        end = tok.end_pos
        if end is None:
            return tok
        after = self.text[end : end + 1]
        if after and (after.isalnum() or after == "_"):  # re's \w, without a regex call per number
            rest = WORD_RUN.match(self.text, end)
            word = rest[0] if rest else ""
            span = Span(self.file, tok.line or 1, tok.column or 1, tok.line or 1, (tok.column or 1) + len(tok) + len(word))
            if not any(span == seen for _, seen, _ in self.run_together):  # recovery may lex a line twice
                self.run_together.append(run_together(str(tok), word, span))
        return tok

    def explained(self, span: Span) -> bool:
        """A syntax error inside a run-together value (`3X32X32`'s X32X32) is its echo, not news."""
        return any(seen.line == span.line and seen.column <= span.column < seen.end_column for _, seen, _ in self.run_together)

    def _open(self, tok: Token) -> Token:
        self.depth += 1
        if self.depth > MAX_BRACES:
            raise LimitExceeded(
                f"blocks nested more than {MAX_BRACES:,} braces deep",
                self._tok_span(tok),
                "modules, branches and repeats nest at most 64 levels deep",
            )
        return self._count(tok)

    def _close(self, tok: Token) -> Token:
        self.depth -= 1
        return self._count(tok)

    def _count(self, tok: Token) -> Token:
        """Lark calls this for every counted token it shifts (see the names bound below)."""
        self.tokens += 1
        if self.tokens > MAX_TOKENS:
            raise LimitExceeded(
                f"the spec has more than {MAX_TOKENS:,} tokens (names, numbers, punctuation, line ends), the most archc reads",
                self._tok_span(tok),
                "a spec this large is generated: write the repetition as `repeat N {...}` or a module",
            )
        return tok

    def layer(self, meta: Any, children: list[Any]) -> ir.Layer:
        self.statements += 1
        if self.statements > MAX_STATEMENTS:
            raise LimitExceeded(
                f"the spec writes more than {MAX_STATEMENTS:,} layer statements, the most archc reads",
                self._span(meta),
                "write the repetition as `repeat N {...}` or a module",
            )
        return super().layer(meta, children)

    def branches(self, meta: Any, children: list[Any]) -> tuple[ir.Branch, ...]:
        out = _Spanned(children)
        out.span = self._span(meta)
        return out


for _rule in ("start", "module_def", "network_def", "block", "input", "layer", "op", "call", "repeat", "arg", "kwarg",
              "kwlist", "source", "assertion", "branches", "branch", "table", "table_row", "shape", "net_params", "net_param",
              "binop", "neg", "paren", "func"):  # fmt: skip
    setattr(_Builder, _rule, _inline(getattr(_Builder, _rule)))


def _arg(self: _Builder, children: list[Any]) -> ir.Arg:
    """`arg: _atom | ...`, the commonest node of all: mostly one token, whose span is the argument's."""
    child = children[0]
    value = child if isinstance(child, ir.Value) else self._value_of(child)
    return ir.Arg(None, value, value.span)


def _kwarg(self: _Builder, children: list[Any]) -> ir.Arg:
    """`NAME "=" _expr`: the name token and the value (Lark drops the "=")."""
    key, tok = children
    value = self._val(tok)
    return ir.Arg(str(key), value, Span(self.file, key.line or 1, key.column or 1, value.span.end_line, value.span.end_column))


_Builder.arg = _arg  # type: ignore[method-assign,assignment]
_Builder.kwarg = _kwarg  # type: ignore[method-assign,assignment]

# Lark calls a transformer's method named after a terminal on every token of it that it shifts.
COUNTED = ("NAME", "INT", "FLOAT", "NEG_INT", "NEG_FLOAT", "DIMS", "MARK", "_NL", "AUX", "MODULE", "NETWORK", "INPUT", "REPEAT", "FROM",
           "BRANCH", "CONNECTIONS", "COLON", "COMMA", "EQUAL", "LPAR", "RPAR", "FUNC", "PLUS", "MINUS", "STAR", "SLASH",
           "DSLASH", "PERCENT")  # fmt: skip
for _terminal in COUNTED:
    setattr(_Builder, _terminal, _Builder._count)
for _terminal in ("INT", "FLOAT", "NEG_INT", "NEG_FLOAT", "DIMS"):
    setattr(_Builder, _terminal, _Builder._value)
_Builder.LBRACE = _Builder._open  # type: ignore[attr-defined]
_Builder.RBRACE = _Builder._close  # type: ignore[attr-defined]


_BUILDER = _Builder()
_BUILDING = threading.Lock()
