"""`archc fmt` as people use formatters: the shipped layout is already formatted, `--check`, `-i`,
several files, idempotent, comments and number spellings kept, and any spec that parses.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from archc.backends import arch, arch_layout
from archc.backends.arch import FormatterBug, format_program
from archc.diagnostics import Diagnostics
from archc.parse import parse
from tests.golden import ROOT
from tests.test_cli import run

SPECS = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "specs").rglob("*.arch"))
DOCS = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
DOC_EXAMPLES = [m[1] for m in re.finditer(r"^```arch\n(.*?)^```$", DOCS, re.S | re.M)]

SHAPE_ERROR = "network N {\n  input x: 3x8x8\n  c: conv 4 3x3x5   pad = 1\n}\n"  # 5 input maps declared, 3 given


def fmt(text: str) -> str:
    diags = Diagnostics()
    program = parse(text, "t.arch", diags)
    assert program is not None, [d.message for d in diags.items]
    return format_program(program, text)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


# -- the shipped layout is the format ---------------------------------------------------------------
@pytest.mark.parametrize("spec", SPECS)
def test_every_shipped_spec_is_already_formatted(spec: str) -> None:
    source = (ROOT / spec).read_text(encoding="utf-8")
    assert fmt(source) == source


def test_every_doc_example_is_already_formatted() -> None:
    assert len(DOC_EXAMPLES) >= 20
    for example in DOC_EXAMPLES:
        assert fmt(example) == example


def test_check_over_the_specs_directory_exits_0_silently() -> None:
    assert run("fmt", "--check", str(ROOT / "specs")) == (0, "", "")


def test_what_the_readme_shows_is_kept() -> None:
    kept = (
        "network N {\n"
        "    input x: 3x224x224\n"
        "    conv1: conv 64 7x7 stride=2 pad=3 relu          -> 64x112x112\n"
        "    norm1: lrn 5 alpha=1e-4 beta=0.75\n"
        "    pool1: maxpool 3x3 stride=2 ceil                -> 64x56x56    # aligned\n"
        "    both: concat {\n"
        "        branch b1 { conv 32 1x1 relu }\n"
        "        branch b2 { conv 16 1x1 relu;  conv 32 3x3 pad=1 relu }\n"
        "    }                                               -> 64x56x56\n"
        "    c: conv 6 1x1 connections {   # a table\n"
        "        # rows  0 1 2\n"
        "              0:  X . X\n"
        "    }\n"
        "}\n"
    )
    assert fmt(kept) == kept


# -- what it mends ----------------------------------------------------------------------------------
def test_indentation_spacing_trailing_whitespace_and_final_newline() -> None:
    messy = (
        "\n\nmodule  m( a ,b ){\n"
        "  conv a 3x3  pad = 1 relu   \n"
        "\t\tconv b 1x1\n"
        "}\n\n\n\n"
        "network N{\n\n"
        "input x:3x8x8\n"
        "  y : m(4 ,2)->2x8x8\n"
        "  relu;conv 2 1x1 ;relu\n\n"
        "}"
    )
    assert fmt(messy) == (
        "module m(a, b) {\n"
        "    conv a 3x3 pad=1 relu\n"
        "    conv b 1x1\n"
        "}\n"
        "\n"
        "network N {\n"
        "    input x: 3x8x8\n"
        "    y: m(4, 2) -> 2x8x8\n"
        "    relu; conv 2 1x1; relu\n"
        "}\n"
    )


def test_comments_are_reindented_and_kept_word_for_word() -> None:
    messy = "# head   \nnetwork N {\n# about x\n      input x: 3x8x8 # shape\n  relu#tight\n        # end  \n}\n"
    assert fmt(messy) == "# head\nnetwork N {\n    # about x\n    input x: 3x8x8 # shape\n    relu  #tight\n    # end\n}\n"


def test_aligned_columns_stay_aligned() -> None:
    source = (
        "network N {\n"
        "  input x: 3x8x8\n"
        "  a: conv 4 3x3 pad = 1     -> 4x8x8      # kept in its column\n"
        "  b: relu                   -> 4x8x8\n"
        "  c: conv 4 3x3 pad=1 relu  -> 4x8x8      # with the line above\n"
        "\n"
        "  a_much_longer_name: conv 4 3x3 pad=1 relu -> 4x8x8\n"
        "  d: relu                                   -> 4x8x8\n"
        "  e: relu -> 4x8x8  # a column of its own\n"
        "}\n"
    )
    assert fmt(source) == (
        "network N {\n"
        "    input x: 3x8x8\n"
        "    a: conv 4 3x3 pad=1      -> 4x8x8     # kept in its column\n"
        "    b: relu                  -> 4x8x8\n"
        "    c: conv 4 3x3 pad=1 relu -> 4x8x8     # with the line above\n"
        "\n"
        "    a_much_longer_name: conv 4 3x3 pad=1 relu -> 4x8x8\n"
        "    d: relu                                   -> 4x8x8\n"
        "    e: relu -> 4x8x8  # a column of its own\n"
        "}\n"
    )


def test_braces_opened_on_one_line_indent_one_level() -> None:
    source = (
        "network N {\n"
        "    input maps: 4x8x8\n"
        "    concat {\n"
        "        branch a { t: conv 2 3x3 pad=1 connections {\n"
        "            0: 0 1\n"
        "            1: 2 3\n"
        "        } }\n"
        "        branch b { relu }\n"
        "    }\n"
        "}\n"
    )
    assert fmt(source) == source
    assert fmt(source.replace("\n    ", "\n")) == source


def test_numbers_keep_their_spelling() -> None:
    source = "network N {\n    input x: 3x8x8\n    lrn 5 alpha=1e-4 beta=.75 k=2.\n    dropout 0.50\n}\n"
    assert fmt(source) == source


def test_line_structure_is_the_authors() -> None:
    assert fmt("network  N{input x:3x8x8;conv   4 3x3   pad=1 relu;  relu}") == (
        "network N { input x: 3x8x8; conv 4 3x3 pad=1 relu;  relu }\n"
    )


def test_crlf_stays_crlf() -> None:
    assert fmt("network N {\r\n  input x: 3x8x8\r\n}\r\n") == "network N {\r\n    input x: 3x8x8\r\n}\r\n"


MESSY = [
    SHAPE_ERROR,
    "network N{input x:3x8x8;conv   4 3x3   pad=1 relu;  relu}",
    "network N {\n input x: 3x8x8\n\tc: conv 6 1x1 connections {\n  0: X .   X # r\n\t   1:X X X\n }   -> 6x8x8 #t\n}",
    "module m(a){concat{branch{relu}branch b{conv a 1x1}}}\nnetwork N{input x:3x8x8\n  m(2)   ->  5x8x8    # z\n}\n",
]


def parses(path: Path) -> bool:
    return parse(path.read_text(encoding="utf-8", errors="replace"), path.name, Diagnostics()) is not None


CORPUS = [p for folder in ("errors", "regressions") for p in sorted((ROOT / "tests" / folder).rglob("*.arch")) if parses(p)]


@pytest.mark.parametrize(
    "source",
    MESSY + [(ROOT / s).read_text(encoding="utf-8") for s in SPECS] + [p.read_text(encoding="utf-8", errors="replace") for p in CORPUS],
)
def test_idempotent_and_the_same_spec(source: str) -> None:
    once = fmt(source)
    assert fmt(once) == once
    diags = Diagnostics()
    assert arch._equal(parse(once, "once", diags), parse(source, "source", diags))  # IR equality, spans aside
    assert re.findall(r"#.*", once) == [c.rstrip() for c in re.findall(r"#.*", source)]


def test_a_formatter_bug_is_caught_before_anyone_sees_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(arch, "reformat", lambda text: text.replace("pad=1", "pad=2"))
    with pytest.raises(FormatterBug):
        fmt("network N {\n    input x: 3x8x8\n    conv 4 3x3 pad=1\n}\n")
    monkeypatch.setattr(arch, "reformat", lambda text: text.replace("# c", "# d"))
    with pytest.raises(FormatterBug):
        fmt("network N {\n    input x: 3x8x8  # c\n}\n")
    assert arch_layout.reformat("x") == "x\n"


# -- the command ------------------------------------------------------------------------------------
def test_check_prints_a_unified_diff_and_exits_1(tmp_path: Path) -> None:
    messy = write(tmp_path, "messy.arch", SHAPE_ERROR)
    clean = write(tmp_path, "clean.arch", fmt(SHAPE_ERROR))
    code, out, err = run("fmt", "--check", str(messy), str(clean))
    assert code == 1
    assert out.startswith(f"--- {messy}\n+++ {messy}\n@@ ")
    assert "-  c: conv 4 3x3x5   pad = 1\n+    input x: 3x8x8\n+    c: conv 4 3x3x5 pad=1\n }\n" in out
    assert str(clean) not in out
    assert f"would reformat {messy}" in err and str(clean) not in err
    assert messy.read_text(encoding="utf-8") == SHAPE_ERROR  # --check changes nothing
    assert run("fmt", "--check", str(clean)) == (0, "", "")


def test_check_diff_of_a_file_without_a_final_newline(tmp_path: Path) -> None:
    spec = write(tmp_path, "n.arch", "network N {\n    input x: 3x8x8\n}")
    code, out, _ = run("fmt", "--check", str(spec))
    assert code == 1 and out.endswith("-}\n\\ No newline at end of file\n+}\n")


def test_in_place_rewrites_only_what_changes_and_keeps_the_mode(tmp_path: Path) -> None:
    messy = write(tmp_path, "messy.arch", SHAPE_ERROR)
    os.chmod(messy, 0o640)
    clean = write(tmp_path, "clean.arch", fmt(SHAPE_ERROR))
    before = clean.stat().st_mtime_ns
    os.utime(clean, ns=(before - 10**9, before - 10**9))
    code, out, err = run("fmt", "-i", str(messy), str(clean))
    assert (code, out) == (0, "")
    assert f"reformatted {messy}" in err and str(clean) not in err
    assert messy.read_text(encoding="utf-8") == fmt(SHAPE_ERROR)
    assert messy.stat().st_mode & 0o777 == 0o640
    assert clean.stat().st_mtime_ns == before - 10**9  # untouched
    assert run("fmt", "--in-place", str(messy)) == (0, "", "")


def test_stdout_by_default_and_stdin(tmp_path: Path) -> None:
    messy = write(tmp_path, "messy.arch", SHAPE_ERROR)
    assert run("fmt", str(messy)) == (0, fmt(SHAPE_ERROR), "")
    from tests.test_cli import process

    done = process("fmt", "-", stdin=SHAPE_ERROR.encode())
    assert (done.returncode, done.stdout.decode()) == (0, fmt(SHAPE_ERROR))
    assert run("fmt", "-i", "-")[0] == 2


def test_a_directory_means_every_spec_below_it(tmp_path: Path) -> None:
    write(tmp_path, "a.arch", SHAPE_ERROR)
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "b.arch", SHAPE_ERROR)
    write(tmp_path, "notes.txt", "not a spec")
    code, _, err = run("fmt", "--check", str(tmp_path))
    assert code == 1
    assert err.splitlines() == [f"would reformat {tmp_path / 'a.arch'}", f"would reformat {tmp_path / 'sub' / 'b.arch'}"]
    assert run("fmt", "--check", str(tmp_path / "sub" / "nothing"))[0] == 2
    (tmp_path / "empty").mkdir()
    assert run("fmt", "--check", str(tmp_path / "empty"))[0] == 2


def test_shape_errors_do_not_stop_it_syntax_errors_do(tmp_path: Path) -> None:
    shape = write(tmp_path, "shape.arch", SHAPE_ERROR)
    assert run("check", str(shape))[0] == 1  # the spec really has an error
    broken = write(tmp_path, "broken.arch", "network N {\n  input x: 3x8x8\n  conv 4 3x3 pad=\n}\n")
    code, out, err = run("fmt", "-i", str(broken), str(shape))
    assert code == 1 and out == ""
    assert f"{broken}:3:" in err and "error:" in err
    assert broken.read_text(encoding="utf-8").startswith("network N {\n  input")  # left alone
    assert shape.read_text(encoding="utf-8") == fmt(SHAPE_ERROR)  # the other file is still formatted


def test_in_place_and_check_exclude_each_other(tmp_path: Path) -> None:
    assert run("fmt", "-i", "--check", str(write(tmp_path, "a.arch", SHAPE_ERROR)))[0] == 2


def test_in_place_writes_through_a_symbolic_link(tmp_path: Path) -> None:
    real = write(tmp_path, "real.arch", SHAPE_ERROR)
    link = tmp_path / "link.arch"
    link.symlink_to(real)
    assert run("fmt", "-i", str(link))[0] == 0
    assert link.is_symlink() and real.read_text(encoding="utf-8") == fmt(SHAPE_ERROR)


def test_in_place_keeps_a_byte_order_mark(tmp_path: Path) -> None:
    spec = tmp_path / "bom.arch"
    spec.write_bytes(b"\xef\xbb\xbf" + SHAPE_ERROR.encode())
    assert run("fmt", "-i", str(spec))[0] == 0
    assert spec.read_bytes() == b"\xef\xbb\xbf" + fmt(SHAPE_ERROR).encode()
    assert run("fmt", "--check", str(spec)) == (0, "", "")


def test_a_formatter_bug_is_an_internal_error_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = write(tmp_path, "a.arch", SHAPE_ERROR)
    monkeypatch.setattr(arch, "reformat", lambda text: text.replace("3x3x5", "3x3x6"))
    code, out, err = run("fmt", "-i", str(spec))
    assert (code, out) == (4, "") and "FormatterBug" in err and "this is a bug in archc" in err
    assert spec.read_text(encoding="utf-8") == SHAPE_ERROR
