"""A Pygments lexer for .arch specs, registered for `*.arch` through the `pygments.lexers` entry point.

    pygmentize -l arch specs/googlenet.arch          # or any tool that asks Pygments by file name

Imports Pygments, so nothing in archc imports this module; Pygments loads it when asked for
`arch`. The op names come from the catalogue (archc/ops.py), so a new op is highlighted as
one at once. editors/vscode/syntaxes/arch.tmLanguage.json is the same lexical structure as a
TextMate grammar; tests/test_highlight.py runs both over every shipped spec.
"""

from __future__ import annotations

import re
from typing import ClassVar

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, Whitespace

from .ops import CATALOGUE

IDENT = r"[^\W\d]\w*"
KEYWORDS = ("input", "repeat", "branch", "from", "aux")
CONSTANTS = ("true", "false", "same", "valid", "ceil", "caffe", "paper")
NUMBER = r"-?(?:[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+|\.[0-9]+(?:[eE][-+]?[0-9]+)?)"


class ArchLexer(RegexLexer):  # type: ignore[misc]  # Pygments has no type hints
    name = "archc"
    aliases: ClassVar[list[str]] = ["arch", "archc"]
    filenames: ClassVar[list[str]] = ["*.arch"]
    mimetypes: ClassVar[list[str]] = ["text/x-arch"]
    flags = re.MULTILINE | re.UNICODE

    tokens: ClassVar[dict[str, list[object]]] = {
        "root": [
            (r"[ \t\f\r\n]+", Whitespace),
            (r"#.*$", Comment.Single),
            (rf"(network)([ \t]+)({IDENT})", bygroups(Keyword.Declaration, Whitespace, Name.Class)),
            (rf"(module)([ \t]+)({IDENT})", bygroups(Keyword.Declaration, Whitespace, Name.Function)),
            (r"(connections)([ \t]*)(\{)", bygroups(Keyword, Whitespace, Punctuation), "table"),
            (rf"({IDENT})([ \t]*)(:)", bygroups(Name.Label, Whitespace, Punctuation)),
            (rf"({IDENT})([ \t]*)(=)", bygroups(Name.Attribute, Whitespace, Operator)),
            (rf"({IDENT})(?=[ \t]*\()", Name.Function),
            (words(KEYWORDS, suffix=r"\b"), Keyword),
            (words(CONSTANTS, suffix=r"\b"), Keyword.Constant),
            (words(sorted(CATALOGUE, key=len, reverse=True), suffix=r"\b"), Name.Builtin),
            (IDENT, Name.Variable),
            (r"->", Operator),
            (r"//|[-+*/%](?![0-9.])|[+*/%]", Operator),
            (r"[0-9]+(?:x[0-9]+)+\b", Number),
            (NUMBER, Number.Float),
            (r"-?[0-9]+", Number.Integer),
            (r"[{}(),;:]", Punctuation),
        ],
        "table": [
            (r"[ \t\f\r\n]+", Whitespace),
            (r"#.*$", Comment.Single),
            (r"([0-9]+)([ \t]*)(:)", bygroups(Number.Integer, Whitespace, Punctuation)),
            (r"[0-9]+", Number.Integer),
            (r"X", Keyword.Constant),
            (r"\.", Punctuation),
            (r"\}", Punctuation, "#pop"),
        ],
    }

    @staticmethod
    def analyse_text(text: str) -> float:
        return 0.6 if re.search(r"^\s*network\s+[^\W\d]\w*\s*(\([^)]*\)\s*)?\{", text, re.M) else 0.0
