"""A reader for the protocol-buffer TEXT format (Caffe's .prototxt), written from its grammar.

No protobuf and no schema: the text is read into a tree of messages, and the Caffe mapping
(archc/imports/caffe.py) asks for the fields it knows.

    message  = { field }
    field    = NAME ( ":" value | [":"] "{" message "}" | [":"] "<" message ">" ) [ ";" | "," ]
    value    = STRING { STRING } | NUMBER | IDENT | "[" [ value { "," value } ] "]"
    comments run from "#" to the end of the line

A string is single- or double-quoted with C escapes, adjacent strings are joined; a number is an
integer (decimal, or hex `0x1F`) or a float (`1e-4`, `.5`, `0.75f`, `inf`, `nan`); an identifier
(`MAX`, `true`) is an enum value. A field given several times is repeated; `[a, b]` is the short
form of a repeated field. Malformed text raises PrototxtError with a located `syntax` diagnostic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import codes
from ..diagnostics import Diagnostic, Severity, Span


class Ident(str):
    """An enum value or a bare word (`MAX`, `TRAIN`, `true`), told apart from a quoted string."""


Scalar = str | int | float  # a str that is not an Ident was quoted


@dataclass(frozen=True)
class Field:
    name: str
    value: Scalar | Message
    span: Span  # the field's name


@dataclass(frozen=True)
class Message:
    fields: tuple[Field, ...]
    span: Span  # the opening brace (the whole file for the top level)
    name: str = ""  # the field name it is the value of ("" at the top level)

    def all(self, name: str) -> list[Field]:
        return [f for f in self.fields if f.name == name]

    def get(self, name: str) -> Field | None:
        """The field's last occurrence (protobuf's rule for a singular field given twice)."""
        found = self.all(name)
        return found[-1] if found else None

    def value(self, name: str, default: object = None) -> object:
        found = self.get(name)
        return default if found is None else found.value

    def message(self, name: str) -> Message | None:
        found = self.get(name)
        return found.value if found is not None and isinstance(found.value, Message) else None


class PrototxtError(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic
        super().__init__(diagnostic.message)


TOKEN = re.compile(
    r"""
    (?P<space>[ \t\r\f\v]+|\n)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>-?\s*(?:0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fF]?)(?![\w.]))
  | (?P<ident>-?[A-Za-z_][\w.]*)
  | (?P<punct>[{}<>\[\]:;,])
    """,
    re.VERBOSE,
)
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b", "f": "\f", "v": "\v", "?": "?"}
MAX_DEPTH = 100  # nested messages; Caffe's deepest is 3


@dataclass
class Token:
    kind: str
    text: str
    span: Span


@dataclass
class Reader:
    text: str
    file: str
    tokens: list[Token] = field(default_factory=list)
    at: int = 0

    def fail(self, message: str, span: Span, hint: str | None = None) -> PrototxtError:
        return PrototxtError(Diagnostic(Severity.ERROR, codes.SYNTAX, message, span, hint))

    def lex(self) -> None:
        line, start, pos = 1, 0, 0
        while pos < len(self.text):
            found = TOKEN.match(self.text, pos)
            col = pos - start + 1
            if found is None:
                ch = self.text[pos]
                what = "an unterminated string" if ch in "\"'" else f"unexpected character {ch!r}"
                raise self.fail(what, Span(self.file, line, col, line, col + 1))
            kind, tok = found.lastgroup or "", found.group(0)
            if kind == "space" and tok == "\n":
                line, start = line + 1, found.end()
            elif kind not in ("space", "comment"):
                self.tokens.append(Token(kind, tok, Span(self.file, line, col, line, col + len(tok))))
            pos = found.end()
        end = len(self.text) - start + 1
        self.tokens.append(Token("end", "", Span(self.file, line, end, line, end)))

    def peek(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        tok = self.tokens[self.at]
        self.at += 1
        return tok

    def expect(self, text: str, what: str) -> Token:
        tok = self.take()
        if tok.text != text or tok.kind not in ("punct",):
            raise self.fail(f"expected {what}, found {shown(tok)}", tok.span)
        return tok

    def message(self, close: str, span: Span, name: str, depth: int) -> Message:
        if depth > MAX_DEPTH:
            raise self.fail(f"messages nested more than {MAX_DEPTH} deep", span)
        fields: list[Field] = []
        while True:
            tok = self.peek()
            if tok.kind == "end" and close:
                raise self.fail(f"the file ends inside {name or 'a message'} (opened at line {span.line}): expected {close!r}", tok.span)
            if tok.text == close and tok.kind in ("punct", "end"):
                self.take()
                return Message(tuple(fields), span, name)
            fields.extend(self.field(depth))

    def field(self, depth: int) -> list[Field]:
        tok = self.take()
        if tok.kind != "ident" or tok.text.startswith("-"):
            hint = "extensions ([pkg.ext]) are not part of Caffe's format" if tok.text == "[" else None
            raise self.fail(f"expected a field name, found {shown(tok)}", tok.span, hint)
        colon = self.peek().text == ":" and self.peek().kind == "punct"
        if colon:
            self.take()
        nxt = self.peek()
        if nxt.kind == "punct" and nxt.text in "{<":
            self.take()
            body = self.message("}" if nxt.text == "{" else ">", nxt.span, tok.text, depth + 1)
            values: list[Scalar | Message] = [body]
        elif not colon:
            raise self.fail(f"expected ':' or '{{' after the field name {tok.text!r}, found {shown(nxt)}", nxt.span)
        elif nxt.kind == "punct" and nxt.text == "[":
            values = list(self.listed(tok.text, depth))
        else:
            values = [self.scalar()]
        sep = self.peek()
        if sep.kind == "punct" and sep.text in ";,":
            self.take()
        return [Field(tok.text, v, tok.span) for v in values]

    def listed(self, name: str, depth: int) -> list[Scalar | Message]:
        self.take()  # [
        values: list[Scalar | Message] = []
        while not (self.peek().kind == "punct" and self.peek().text == "]"):
            if values:
                self.expect(",", f"',' or ']' in the list of {name!r}")
            nxt = self.peek()
            if nxt.kind == "punct" and nxt.text in "{<":
                self.take()
                values.append(self.message("}" if nxt.text == "{" else ">", nxt.span, name, depth + 1))
            else:
                values.append(self.scalar())
        self.take()
        return values

    def scalar(self) -> Scalar:
        tok = self.take()
        if tok.kind == "string":
            parts = [unquote(tok.text)]
            while self.peek().kind == "string":
                parts.append(unquote(self.take().text))
            return "".join(parts)
        if tok.kind == "number":
            return number(tok.text)
        if tok.kind == "ident":
            low = tok.text.lower().lstrip("-")
            if low in ("inf", "infinity", "nan"):
                return float(tok.text.replace("infinity", "inf"))
            if tok.text.startswith("-"):
                raise self.fail(f"expected a value, found {shown(tok)}", tok.span)
            return Ident(tok.text)
        raise self.fail(f"expected a value, found {shown(tok)}", tok.span)


def shown(tok: Token) -> str:
    return "the end of the file" if tok.kind == "end" else repr(tok.text)


def unquote(text: str) -> str:
    body, out, i = text[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in ESCAPES:
                out.append(ESCAPES[nxt])
                i += 2
                continue
            octal = re.match(r"[0-7]{1,3}", body[i + 1 :])
            if octal:
                out.append(chr(int(octal.group(0), 8)))
                i += 1 + len(octal.group(0))
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def number(text: str) -> int | float:
    text = re.sub(r"\s+", "", text)
    if re.fullmatch(r"-?0[xX][0-9a-fA-F]+", text):
        return int(text, 16)
    if re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    return float(text.rstrip("fF"))


def parse(text: str, file: str = "<prototxt>") -> Message:
    """The file's top-level message; raises PrototxtError at the first malformed token."""
    reader = Reader(text.removeprefix("\ufeff"), file)
    reader.lex()
    return reader.message("", Span(file, 1, 1, 1, 1), "", 0)
