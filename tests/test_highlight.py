"""Highlighting: the Pygments lexer and the TextMate grammar classify every token of every spec.

The TextMate grammar runs through tests/textmate.py, a small tokenizer with the editors' rules;
on the shipped specs it gives, character for character, the scopes that vscode-textmate 9.3
with vscode-oniguruma 2.0 gives (checked once by hand with node; see docs/editors.md).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from pygments.token import Error, Name
from pygments.token import Token as PygToken

from archc import ops
from archc.highlight import ArchLexer
from tests.golden import ROOT
from tests.textmate import Grammar, Token, check_portable

GRAMMAR_PATH = ROOT / "editors" / "vscode" / "syntaxes" / "arch.tmLanguage.json"
GRAMMAR = json.loads(GRAMMAR_PATH.read_text(encoding="utf-8"))
SPECS = sorted(ROOT.glob("specs/**/*.arch"))
DOC_EXAMPLES = re.findall(r"^```arch\n(.*?)^```$", (ROOT / "docs" / "language.md").read_text(encoding="utf-8"), re.S | re.M)
SAMPLES = [(p.relative_to(ROOT).as_posix(), p.read_text(encoding="utf-8")) for p in SPECS] + [
    (f"docs/language.md#{k}", text) for k, text in enumerate(DOC_EXAMPLES)
]


def textmate(text: str) -> list[Token]:
    return Grammar(GRAMMAR).tokenize(text)


def unclassified(tokens: list[Token]) -> list[Token]:
    """Tokens with text that only the grammar's base scope covers, or that the grammar calls illegal."""
    return [t for t in tokens if t.text.strip() and (len(t.scopes) < 2 or any(s.startswith("invalid") for s in t.scopes))]


def test_specs_are_there() -> None:
    assert len(SPECS) >= 6 and len(DOC_EXAMPLES) >= 20


@pytest.mark.parametrize(("name", "text"), SAMPLES, ids=[n for n, _ in SAMPLES])
def test_pygments_has_no_error_token(name: str, text: str) -> None:
    tokens = list(ArchLexer().get_tokens(text))
    assert "".join(v for _, v in tokens) == text + ("" if text.endswith("\n") else "\n")
    errors = [(tok, v) for tok, v in tokens if tok in Error]
    assert errors == [], name
    generic = [(tok, v) for tok, v in tokens if v.strip() and tok in (PygToken, PygToken.Text)]
    assert generic == [], name


@pytest.mark.parametrize(("name", "text"), SAMPLES, ids=[n for n, _ in SAMPLES])
def test_textmate_classifies_every_token(name: str, text: str) -> None:
    tokens = textmate(text)
    assert "\n".join("".join(t.text for t in tokens if t.line == k) for k in range(1, text.count("\n") + 2)) == text
    assert unclassified(tokens) == [], name


def test_both_flag_what_is_not_the_language() -> None:
    """The checks above can fail: a stray character is an error in both."""
    text = "network N {\n    input x: 3x8x8\n    c: conv 4 3x3 $ relu\n    d: conv 4 1x1 connections {\n        0: X ? X\n    }\n}\n"
    assert [t.text for t in unclassified(textmate(text))] == ["$", "?"]
    assert [v for tok, v in ArchLexer().get_tokens(text) if tok in Error] == ["$", "?"]


def scopes_of(text: str) -> dict[str, str]:
    """The innermost scope of each text's first occurrence."""
    out: dict[str, str] = {}
    for t in textmate(text):
        if t.text.strip():
            out.setdefault(t.text, t.scopes[-1])
    return out


def test_textmate_scopes_of_each_kind_of_token() -> None:
    text = (
        "module block(c) {  # a block\n    conv c 3x3 pad=same\n}\n"
        "network Net {\n    input image: 3x32x32\n    c1: conv 16 5x5 stride=2 relu -> 16x14x14\n"
        "    b: block(16); drop: dropout 0.5; n: lrn 5 alpha=1e-4 beta=-.75\n"
        "    t: conv 2 1x1 connections {\n        0: X .\n        1: 0 1\n    }\n    s: add from c1, b\n}\n"
    )
    got = scopes_of(text)
    assert got["module"] == "storage.type.module.arch" and got["block"] == "entity.name.function.module.arch"
    assert got["network"] == "storage.type.network.arch" and got["Net"] == "entity.name.type.network.arch"
    assert got["# a block"] == "comment.line.number-sign.arch"
    assert got["c"] == "variable.other.arch"  # the module parameter where it is used
    assert got["pad"] == "variable.parameter.option.arch" and got["same"] == "constant.language.arch"
    assert got["input"] == got["from"] == "keyword.control.arch"
    assert got["image"] == got["c1"] == got["drop"] == "entity.name.variable.layer.arch"
    assert got["conv"] == got["relu"] == got["dropout"] == got["add"] == "support.function.op.arch"
    assert got["3x32x32"] == got["16x14x14"] == "constant.numeric.dims.arch"
    assert got["0.5"] == got["1e-4"] == got["-.75"] == "constant.numeric.float.arch"
    assert got["16"] == "constant.numeric.integer.arch"
    assert got["->"] == "keyword.operator.arrow.arch"
    assert got["connections"] == "keyword.other.connections.arch"
    assert got["X"] == "constant.character.mark.connected.arch" and got["."] == "constant.character.mark.unconnected.arch"
    assert [t.scopes for t in textmate(text) if t.text == "1" and t.line == 10] == [
        ("source.arch", "meta.table.connections.arch", "constant.numeric.integer.row.arch"),
        ("source.arch", "meta.table.connections.arch", "constant.numeric.integer.arch"),
    ]
    assert [t.scopes[-1] for t in textmate(text) if t.text == "block" and t.line == 7] == ["entity.name.function.call.arch"]


def test_every_op_is_an_op_in_both() -> None:
    for op in ops.CATALOGUE:
        text = f"network N {{\n    input x: 3x8x8\n    {op}\n}}\n"
        assert [t.scopes[-1] for t in textmate(text) if t.text == op] == ["support.function.op.arch"], op
        assert [tok for tok, v in ArchLexer().get_tokens(text) if v == op] == [Name.Builtin], op
    (rule,) = [r for r in GRAMMAR["repository"]["statement"]["patterns"] if r.get("name") == "support.function.op.arch"]
    listed = re.fullmatch(r"\\b\(\?:([\w|]+)\)\\b", rule["match"])
    assert listed is not None
    assert set(listed.group(1).split("|")) == set(ops.CATALOGUE)  # and no op the language lacks


def test_grammar_regexes_are_portable_and_the_tokenizer_sees_them_all() -> None:
    assert len(check_portable(GRAMMAR)) > 20
    with pytest.raises(ValueError, match="not portable"):
        check_portable({"patterns": [{"match": r"\Gx"}]})


def test_pygments_finds_the_lexer_by_file_name_and_content() -> None:
    from pygments.lexers import get_lexer_by_name, get_lexer_for_filename, guess_lexer

    lexer = get_lexer_for_filename("specs/googlenet.arch")
    if not isinstance(lexer, ArchLexer):
        pytest.fail("the pygments.lexers entry point is not installed: pip install -e '.[dev]'")
    assert isinstance(get_lexer_by_name("arch"), ArchLexer)
    assert isinstance(guess_lexer((ROOT / "specs" / "vgg16.arch").read_text(encoding="utf-8")), ArchLexer)


def test_vscode_extension_points_at_the_grammar() -> None:
    package = json.loads((ROOT / "editors" / "vscode" / "package.json").read_text(encoding="utf-8"))
    (grammar,) = package["contributes"]["grammars"]
    assert grammar["scopeName"] == GRAMMAR["scopeName"] == "source.arch"
    assert Path(ROOT / "editors" / "vscode" / grammar["path"]).resolve() == GRAMMAR_PATH.resolve()
    (language,) = package["contributes"]["languages"]
    assert language["extensions"] == [".arch"] and language["id"] == grammar["language"]
    assert (ROOT / "editors" / "vscode" / language["configuration"]).is_file()
    assert (ROOT / "editors" / "vscode" / package["main"]).is_file()


# -- Vim ------------------------------------------------------------------------------------------
VIM_SYNTAX = ROOT / "editors" / "vim" / "syntax" / "arch.vim"
VIM_SCRIPT = """
set nocompatible
syntax on
let &runtimepath = '{runtime},' . &runtimepath
for name in readfile('{listing}')
  execute 'edit! ' . fnameescape(name)
  set filetype=arch
  let out = []
  for l in range(1, line('$'))
    let text = getline(l)
    let row = []
    for c in range(1, strlen(text))
      call add(row, synIDattr(synID(l, c, 1), 'name'))
    endfor
    call add(out, join(row, ','))
  endfor
  call writefile(out, name . '.syn')
endfor
qa!
"""


def vim_groups(tmp_path: Path, texts: list[str]) -> list[list[list[str]]]:
    """Vim's syntax group of every byte of every line of each text (ASCII texts only)."""
    vim = shutil.which("vim")
    if vim is None:
        pytest.skip("vim is not installed")
    names = []
    for k, text in enumerate(texts):
        path = tmp_path / f"t{k}.arch"
        path.write_text(text, encoding="utf-8")
        names.append(str(path))
    listing = tmp_path / "files.txt"
    listing.write_text("\n".join(names) + "\n", encoding="utf-8")
    script = tmp_path / "groups.vim"
    script.write_text(VIM_SCRIPT.format(runtime=VIM_SYNTAX.parent.parent, listing=listing), encoding="utf-8")
    subprocess.run([vim, "-Nu", "NONE", "-es", "-S", str(script)], check=False, timeout=120, stdin=subprocess.DEVNULL, capture_output=True)
    out = []
    for name in names:
        rows = Path(name + ".syn").read_text(encoding="utf-8").split("\n")[:-1]
        out.append([row.split(",") if row else [] for row in rows])
    return out


def vim_unclassified(text: str, groups: list[list[str]]) -> list[tuple[int, int, str]]:
    bad = []
    for lineno, (line, row) in enumerate(zip(text.split("\n"), groups, strict=False), 1):
        data = line.encode("utf-8")
        for col, group in enumerate(row):
            if chr(data[col]).strip() and group in ("", "archError", "archTable"):
                bad.append((lineno, col + 1, group))
    return bad


def test_vim_syntax_classifies_every_character(tmp_path: Path) -> None:
    ascii_samples = [(n, t) for n, t in SAMPLES if t.isascii()]
    assert len(ascii_samples) >= len(SAMPLES) - 3
    stray = "network N {\n    input x: 3x8x8\n    c: conv 4 3x3 $ relu\n    d: conv 4 1x1 connections {\n        0: X ? X\n    }\n}\n"
    results = vim_groups(tmp_path, [t for _, t in ascii_samples] + [stray])
    for (name, text), groups in zip(ascii_samples, results, strict=False):
        assert vim_unclassified(text, groups) == [], name
    assert [(line, col) for line, col, _ in vim_unclassified(stray, results[-1])] == [(3, 19), (5, 14)]  # the check can fail
    ops_line = results[-1][2]
    assert ops_line[stray.split("\n")[2].index("conv")] == "archOp"


def test_vim_syntax_knows_every_op() -> None:
    found = re.search(r"^syn keyword archOp (.*)$", VIM_SYNTAX.read_text(encoding="utf-8"), re.M)
    assert found is not None and set(found.group(1).split()) == set(ops.CATALOGUE)
