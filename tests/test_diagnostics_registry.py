"""archc/codes.py is the one registry of diagnostic codes: every code archc emits is in it, with the
severity it is emitted at, and a description (the docs table is checked against it in test_docs)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import archc
from archc import codes
from archc.diagnostics import Diagnostic
from tests.golden import ROOT

SPECS = sorted(
    [*(ROOT / "tests" / "errors").glob("*.arch"), *(ROOT / "tests" / "regressions").glob("*.arch"), *(ROOT / "specs").rglob("*.arch")]
)
# A code given as a literal to whatever makes a diagnostic: diags.error("x", ...), ShapeProblem("x", ...),
# ExprError("x", ...), Diagnostic(Severity.ERROR, "x", ...), and `return "x", f"..."` (parse.py and bind.py hand back tuples).
EMITTED = re.compile(r'(?:\b(?:error|warning|note)|ShapeProblem|ExprError|Diagnostic)\(\s*(?:Severity\.[A-Z]+,\s*)?"([a-z][a-z0-9-]*)"')
RETURNED = re.compile(r'return "([a-z][a-z0-9-]*)", f?"')


def source_codes() -> dict[str, set[str]]:
    """Every code literal in archc's source, and the files it appears in."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "archc").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for code in EMITTED.findall(text) + RETURNED.findall(text):
            found.setdefault(code, set()).add(str(path.relative_to(ROOT)))
    return found


def test_the_scan_finds_the_codes() -> None:
    found = source_codes()
    assert {"syntax", "channel-mismatch", "unsupported", "encoding", "missing-input", "dropped-rows"} <= set(found)
    assert len(found) > 30


def test_every_code_in_the_source_is_registered() -> None:
    missing = {code: sorted(files) for code, files in source_codes().items() if code not in codes.CODES}
    assert missing == {}, "codes emitted but not in archc/codes.py (add them there, with a description, and to docs/language.md)"


def test_every_registered_code_is_emitted_somewhere() -> None:
    unused = set(codes.CODES) - set(source_codes()) - {"limit"}  # `limit` also comes from LimitExceeded, by name
    assert unused == set(), "registered codes that nothing emits"


def test_every_code_has_a_severity_and_a_description() -> None:
    for code in codes.CODES.values():
        assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", code.name), code
        assert code.severity in ("error", "warning", "note"), code
        assert len(code.description) > 10 and not code.description.endswith("."), code
        assert getattr(codes, code.name.upper().replace("-", "_")) == code.name  # a constant per code


@pytest.mark.parametrize("path", SPECS, ids=[f"{p.parent.name}/{p.stem}" for p in SPECS])
def test_what_the_compiler_emits_is_registered_at_its_severity(path: Path) -> None:
    def wrong(d: Diagnostic) -> bool:
        code = codes.CODES.get(d.code)
        return code is None or code.severity != d.severity.value

    assert [d for d in archc.compile_file(path).diagnostics if wrong(d)] == []
