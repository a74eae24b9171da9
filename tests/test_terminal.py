"""Echoed source lines are safe for a terminal, and carets stay under the token (issue 12, part 4)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from archc.compiler import compile_source
from archc.diagnostics import Diagnostic, Severity, Span, render, render_all
from tests.golden import ROOT

UNSAFE = ["\x00", "\x1b", "\x07", "\x7f", "\x9b", "\u202e", "\u2066", "\u2069", "\u200f", "\u2028", "\ufeff", "\u200b"]


def caret_line(text: str) -> str:
    return text.split("\n")[2]


@pytest.mark.parametrize("char", UNSAFE)
def test_control_and_bidi_characters_are_escaped_and_the_caret_follows(char: str) -> None:
    line = f"    a{char}b: konv 8 3x3"
    diag = Diagnostic(Severity.ERROR, "unknown-op", "unknown op `konv`", Span("s.arch", 1, 10, 1, 14))
    shown = render(diag, line)
    assert char not in shown
    escape = f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"
    echoed = shown.split("\n")[1]
    assert echoed == "        a" + escape + "b: konv 8 3x3"
    assert caret_line(shown).index("^") == echoed.index("konv") and caret_line(shown).endswith("^~~~")


def test_wide_characters_take_two_cells() -> None:
    source = "network N {\n    input x: 3x8x8\n    层一: conv 8 3x3 bogus=1\n}\n"
    (diag,) = compile_source(source, "s.arch").diagnostics
    assert (diag.span.line, diag.span.column) == (3, 20)
    shown = render_all([diag], {"s.arch": source})
    echoed, carets = shown.split("\n")[1:3]
    # 层一 are two characters and four cells: the caret sits 2 cells right of the character column
    assert carets == "    " + " " * (4 + 2 * 2 + len(": conv 8 3x3 ")) + "^~~~~~~"
    assert echoed[4:].index("bogus") == diag.span.column - 1  # the span counts characters, the carets cells


def test_combining_marks_take_no_cell_and_an_escape_under_the_caret_is_covered() -> None:
    line = "e\u0301e\u0301 konv"  # é written as e + combining acute, twice
    diag = Diagnostic(Severity.ERROR, "unknown-op", "unknown op", Span("s.arch", 1, 6, 1, 10))
    assert caret_line(render(diag, line)) == "    " + " " * 3 + "^~~~"
    nul = Diagnostic(Severity.ERROR, "syntax", "unexpected character '\\x00'", Span("s.arch", 1, 3, 1, 4))
    assert caret_line(render(nul, "ab\x00cd")) == "    " + "  " + "^~~~"


def test_messages_hints_and_paths_are_escaped_too() -> None:
    diag = Diagnostic(Severity.ERROR, "x", "bad \u202e name", Span("evil\x1b[2J.arch", 1, 1, 1, 2), hint="try \x00")
    shown = render(diag, None)
    assert "\x1b" not in shown and "\u202e" not in shown and "\x00" not in shown
    assert "evil\\x1b[2J.arch" in shown and "\\u202e" in shown and "try \\x00" in shown


def test_the_cli_never_writes_raw_control_characters(tmp_path: Path) -> None:
    spec = tmp_path / "s.arch"
    spec.write_text("network N {\n    input x: 3x8x8\n    x\x00 # \x1b]0;pwned\x07 \u202e\n}\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "archc", "check", str(spec)], capture_output=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 1
    err = proc.stderr.decode("utf-8")
    assert not any(c in err for c in UNSAFE), err
    assert "\\x1b]0;pwned\\x07 \\u202e" in err


def test_a_long_line_is_shown_as_a_window_with_the_caret_under_the_token() -> None:
    line = "    relu; " * 2_000 + "konv 8 3x3"
    column = line.index("konv") + 1
    diag = Diagnostic(Severity.ERROR, "unknown-op", "unknown op `konv`", Span("s.arch", 1, column, 1, column + 4))
    echoed, carets = render(diag, line).split("\n")[1:3]
    assert len(echoed) <= 4 + 500 + 2 and echoed.startswith("    …") and echoed.endswith("konv 8 3x3")
    assert echoed[carets.index("^") :].startswith("konv") and carets.endswith("^~~~")
