"""parse(print(parse(s))) == parse(s) for every spec, and `archc fmt` is idempotent and keeps comments.

Two printers: `format_program(program, source)` is `archc fmt` (the source's layout mended, see
tests/test_fmt.py); `format_program(program)` prints the IR alone in canonical form.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from archc.backends.arch import format_program
from archc.diagnostics import Diagnostics
from archc.parse import parse
from tests.golden import ROOT

SPECS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "specs").rglob("*.arch"))


def _parse(text: str, name: str):
    diags = Diagnostics()
    program = parse(text, name, diags)
    assert program is not None, [d.message for d in diags.items]
    return program


@pytest.mark.parametrize("spec", SPECS)
def test_print_parse_round_trip(spec: str) -> None:
    source = (ROOT / spec).read_text()
    first = _parse(source, spec)
    printed = format_program(first, source)
    assert _parse(printed, "printed") == first
    assert format_program(_parse(printed, "printed"), printed) == printed  # idempotent
    canonical = format_program(first)
    assert _parse(canonical, "canonical") == first
    assert format_program(_parse(canonical, "canonical")) == canonical


@pytest.mark.parametrize("spec", SPECS)
def test_fmt_keeps_every_comment(spec: str) -> None:
    source = (ROOT / spec).read_text()
    printed = format_program(_parse(source, spec), source)
    comments = [line[line.index("#") :].rstrip() for line in source.splitlines() if "#" in line]
    assert [line[line.index("#") :].rstrip() for line in printed.splitlines() if "#" in line] == comments


def test_canonical_printer_lays_out_the_program_alone(tmp_path: Path) -> None:
    messy = "network  N{input x:3x8x8;conv   4 3x3   pad=1 relu;  relu}"
    printed = format_program(_parse(messy, "messy"))
    assert printed == "network N {\n    input x: 3x8x8\n    conv 4 3x3 pad=1 relu\n    relu\n}\n"
