"""Error specs as data: every tests/errors/*.arch file carries its expected diagnostics in comments.

On the line a diagnostic points at (the first line of its span) write, as mypy's test data do,

    conv1: konv 8 3x3 relu     # E:12: [unknown-op] unknown op `konv`
    module stage(c, spare) {   # W:17: [unused-param] never uses its parameter spare

`E` is an error, `W` a warning and `N` a note; the number is the column of the caret (1-based, where
the span starts), `[code]` the diagnostic's code, and the rest a substring of its message. An
optional ` hint: TEXT` at the end also requires TEXT in the diagnostic's hint. One line may carry
several expectations, one after another: `# E:5: [a] ... # W:20: [b] ...`.

A diagnostic on a line that cannot carry a comment (the end of a file, or line 1 of a file that is
all comments) is written `# E@LINE:COL: [code] message` — on the first line of the file by convention.

Each file is compiled by the real compiler (archc.compile_file) and the multiset of
(line, column, severity, code) must equal the expectations exactly: a missing diagnostic fails, and
so does an unexpected one, or one whose caret sits on another token. Adding a regression test means
adding a file.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

import archc
from archc.diagnostics import Diagnostic, render

ROOT = Path(__file__).resolve().parent.parent
ERRORS = ROOT / "tests" / "errors"
FILES = sorted(ERRORS.glob("*.arch"))
FRONT_END = ["parse.py", "bind.py", "resolve.py", "shapes.py", "tables.py", "compiler.py"]

MARK = re.compile(r"#\s*(?P<sev>[EWN])(?:@(?P<line>\d+))?:(?P<col>\d+)?:?\s*\[(?P<code>[a-z][a-z0-9-]*)\]\s*")
SEVERITY = {"E": "error", "W": "warning", "N": "note"}


@dataclass(frozen=True)
class Expected:
    line: int
    column: int | None  # None only when the file forgot it: test_every_expectation_pins_its_column fails then
    severity: str  # "error", "warning" or "note"
    code: str
    message: str
    hint: str | None

    @property
    def key(self) -> tuple[int, int | None, str, str]:
        return (self.line, self.column, self.severity, self.code)


def expectations(path: Path) -> list[Expected]:
    out = []
    for lineno, text in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        marks = list(MARK.finditer(text))
        for i, m in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
            rest = text[m.end() : end].strip()
            message, _, hint = rest.partition(" hint: ")
            line = int(m["line"]) if m["line"] else lineno
            column = int(m["col"]) if m["col"] else None
            out.append(Expected(line, column, SEVERITY[m["sev"]], m["code"], message.strip(), hint.strip() or None))
    return out


def key(d: Diagnostic) -> tuple[int, int | None, str, str]:
    return (d.span.line, d.span.column, d.severity.value, d.code)


def show(diags: list[Diagnostic]) -> str:
    return "\n".join(f"  {d.span.line}:{d.span.column} {d.severity.value} [{d.code}] {d.message} | hint: {d.hint}" for d in diags)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_error_file(path: Path) -> None:
    wanted = expectations(path)
    assert wanted, f"{path.name} states no expected diagnostic"
    comp = archc.compile_file(path)
    got = comp.diagnostics
    assert Counter(key(d) for d in got) == Counter(e.key for e in wanted), f"{path.name}: diagnostics differ; got\n{show(got)}"
    unmatched = list(got)
    for exp in wanted:
        match = next(
            (d for d in unmatched if key(d) == exp.key and exp.message in d.message and (exp.hint is None or exp.hint in (d.hint or ""))),
            None,
        )
        assert match is not None, (
            f"{path.name}:{exp.line}: no {exp.severity} [{exp.code}] with {exp.message!r} / hint {exp.hint!r}; got\n{show(got)}"
        )
        unmatched.remove(match)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_expectation_pins_its_column(path: Path) -> None:
    unpinned = [e for e in expectations(path) if e.column is None]
    assert unpinned == [], f"{path.name}: write each expectation with its caret's column, `# E:COL: [code] message`"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_diagnostic_is_located(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    for d in archc.compile_file(path).diagnostics:
        s = d.span
        assert s.file == str(path)
        assert 1 <= s.line <= len(lines), d
        assert 1 <= s.column <= len(lines[s.line - 1]) + 1, d
        assert (s.end_line, s.end_column) >= (s.line, s.column), d


def test_harness_reads_expectations() -> None:
    """The comment syntax itself: positions, several marks on a line, hints, and @LINE."""
    path = ERRORS / "unknown_argument.arch"
    got = expectations(path)
    assert [(e.line, e.column, e.severity, e.code) for e in got] == [
        (3, 23, "error", "unknown-argument"),
        (3, 30, "error", "unknown-argument"),
    ]
    assert got[0].message == "conv does not take `stride`" and got[0].hint == "write it as stride=VALUE"
    assert got[1].message == "conv has no place for the value 2"
    eof = expectations(ERRORS / "syntax_missing_brace_eof.arch")
    assert [(e.line, e.column, e.code) for e in eof] == [(9, 2, "syntax")]


def test_a_caret_on_the_wrong_token_fails(tmp_path: Path) -> None:
    """The column is part of the expectation: the right code on the right line at another column is a miss."""
    text = (ERRORS / "unknown_op.arch").read_text(encoding="utf-8")
    moved = tmp_path / "unknown_op.arch"
    moved.write_text(text.replace("# E:12: [unknown-op]", "# E:5: [unknown-op]"), encoding="utf-8")
    assert expectations(moved) != expectations(ERRORS / "unknown_op.arch")
    with pytest.raises(AssertionError, match="diagnostics differ"):
        test_error_file(moved)


def front_end_codes() -> set[str]:
    """Every diagnostic code the front end's source emits (as a literal first argument)."""
    emitted: set[str] = set()
    for name in FRONT_END:
        text = (ROOT / "archc" / name).read_text(encoding="utf-8")
        emitted |= set(re.findall(r'(?:\berror|\bwarning|ShapeProblem)\(\s*"([a-z][a-z-]*)"', text))
        emitted |= set(re.findall(r'return "([a-z][a-z-]*)", f?"', text))
    assert len(emitted) > 25, emitted  # the regexes still find the codes
    return emitted


def test_every_front_end_code_has_an_error_file() -> None:
    emitted = front_end_codes()
    # "empty": a file cannot say it (tested below); "internal": a safety net no input should reach
    covered = {e.code for path in FILES for e in expectations(path)} | {"empty", "internal"}
    assert emitted - covered == set(), "codes without a tests/errors file"


@pytest.mark.parametrize("text", ["", "  \n\t\n", "\ufeff"])
def test_empty_spec(text: str) -> None:
    (d,) = archc.compile_source(text, "empty.arch").diagnostics
    assert (d.code, d.span.line, d.span.column) == ("empty", 1, 1)
    assert d.message == "the spec is empty"


def test_rendered_diagnostic_has_location_source_line_and_caret() -> None:
    path = ERRORS / "vgg16_conv4_3_depth.arch"
    comp = archc.compile_file(path)
    (d,) = comp.errors
    lines = render(d, comp.source).split("\n")
    source_line = comp.source.split("\n")[d.span.line - 1]
    assert re.fullmatch(rf"{re.escape(str(path))}:{d.span.line}:{d.span.column}: error: .+  \[channel-mismatch\]", lines[0])
    assert lines[0].endswith("but its filters are declared 3x3x256  [channel-mismatch]")
    assert lines[1] == "    " + source_line
    caret = lines[2]
    start = caret.index("^")
    assert caret[:start].strip() == ""
    assert lines[1][start:].startswith("3x3x256")  # the caret sits under the offending token
    assert caret[start:] == "^" + "~" * (len("3x3x256") - 1)
    assert lines[3] == "hint: the previous layer conv4_2 outputs 512x28x28"


def test_cli_prints_every_error_rendered() -> None:
    path = ERRORS / "multiple_errors.arch"
    run = subprocess.run([sys.executable, "-m", "archc", "check", str(path)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert run.returncode == 1
    headers = [line for line in run.stderr.split("\n") if re.match(rf"{re.escape(str(path))}:\d+:\d+: (error|warning): ", line)]
    assert len([h for h in headers if ": error: " in h]) == 8, run.stderr
    assert len([h for h in headers if ": warning: " in h]) == 1, run.stderr
    # three networks, each with its own mistakes: a broken network does not hide the next
    lines = sorted({int(h.split(":")[1]) for h in headers})
    assert lines[0] < 12 < lines[4] < 18 < lines[-1], lines
    assert run.stderr.count("\n    ") >= 2 * len(headers)  # a source line and a caret line each


@pytest.mark.slow
def test_calls_of_empty_modules_hit_the_work_budget() -> None:
    """Regression: 2^45 calls of modules without layers never reached MAX_LAYERS and ran forever."""
    mods = "module m0() {\n}\n" + "".join(f"module m{i}() {{\n    m{i - 1}(); m{i - 1}()\n}}\n" for i in range(1, 45))
    comp = archc.compile_source(mods + "network Empty {\n    input x: 3x8x8\n    m44()\n}\n", "empty.arch")
    assert [d.code for d in comp.errors] == ["limit"]
    assert "steps" in comp.errors[0].message


def test_a_mistake_in_a_module_body_names_the_call() -> None:
    comp = archc.compile_file(ERRORS / "module_body_error_names_the_call.arch")
    (d,) = comp.errors
    assert d.notes == ("in b2 = block(16, 2.5), line 9",)
    nested = archc.compile_source(
        "module inner(k) {\n    conv 8 k\n}\nmodule outer(k) {\n    i: inner(k)\n}\nnetwork N {\n    input x: 3x8x8\n    o: outer(2.5)\n}\n"
    )
    (d,) = nested.errors
    assert (d.span.line, d.code) == (2, "option-type")
    assert d.notes == ("in o.i = inner(2.5), line 5", "in o = outer(2.5), line 9")
