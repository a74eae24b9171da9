"""The lexer requires separation between values and words, and the spellings people bring from
papers, notes and frameworks get a hint toward archc's: `3X3`, `(1,7)`, `pad=(0,3)`, `linear`/`fc`, `p=`."""

from __future__ import annotations

import pytest

import archc
from archc.diagnostics import Diagnostic


def diagnostics(layer: str, extra: str = "") -> list[Diagnostic]:
    spec = f"network N {{\n    input x: 3x32x32\n    {layer}\n{extra}}}\n"
    return archc.compile_source(spec, "l.arch").diagnostics


def one(layer: str) -> Diagnostic:
    diags = diagnostics(layer)
    assert len(diags) == 1, [(d.code, d.message) for d in diags]
    return diags[0]


def token(d: Diagnostic, layer: str) -> str:
    """The text under the caret (the layer sits on line 3, indented by four spaces)."""
    assert d.span.line == d.span.end_line == 3
    return layer[d.span.column - 5 : d.span.end_column - 5]


@pytest.mark.parametrize(
    ("layer", "under", "hint"),
    [
        ("conv 4c 1x1", "4c", "`4 c`"),
        ("conv 8 3x3relu", "3x3relu", "`3x3 relu`"),
        ("conv 8 3x3 pad=1relu", "1relu", "`1 relu`"),
        ("dropout 0.5x", "0.5x", "`0.5 x`"),
        ("conv 8 3x3 pad=-1same", "-1same", "`-1 same`"),
    ],
)
def test_a_value_run_into_a_word_is_an_error_at_the_run(layer: str, under: str, hint: str) -> None:
    d = one(layer)
    assert d.code == "syntax" and d.is_error
    assert token(d, layer) == under
    assert "runs into" in d.message
    assert hint in (d.hint or "")


def test_every_run_together_value_is_reported() -> None:
    diags = diagnostics("conv 8 3x3relu", "    conv 8 3x3 pad=1relu\n    dense 10relu\n")
    assert [(d.code, d.span.line) for d in diags] == [("syntax", 3), ("syntax", 4), ("syntax", 5)]


@pytest.mark.parametrize(("layer", "fix"), [("conv 8 3X3", "3x3"), ("conv 8 3X3 stride=2X2", "2x2"), ("input y: 3X32X32", None)])
def test_a_capital_x_in_a_size(layer: str, fix: str | None) -> None:
    diags = diagnostics(layer)
    assert diags and all(d.code == "syntax" for d in diags)
    d = diags[-1]
    assert "lowercase x" in d.message
    if fix is not None:
        assert d.hint == f"write `{fix}`"


def test_the_study_notes_3X3_is_one_error_with_the_fix() -> None:
    d = one("conv 64 3X3 pad=1 relu")
    assert (d.code, token(d, "conv 64 3X3 pad=1 relu"), d.hint) == ("syntax", "3X3", "write `3x3`")


@pytest.mark.parametrize(
    ("layer", "hint"),
    [
        ("conv 8 (1,7)", "write the size as 1x7, not (1,7)"),
        ("conv 8 ( 1, 7 )", "write the size as 1x7, not (1,7)"),
        ("conv 8 1x7 pad=(0,3)", "write pad=0x3"),
        ("maxpool kernel=(3, 3) stride=2", "write kernel=3x3"),
    ],
)
def test_tuples_get_the_size_spelling(layer: str, hint: str) -> None:
    d = one(layer)
    assert d.code == "syntax"
    assert token(d, layer) == "("
    assert d.hint is not None and hint in d.hint


@pytest.mark.parametrize("word", ["linear", "fc", "Linear", "fully_connected"])
def test_framework_names_of_dense_suggest_dense(word: str) -> None:
    d = one(f"flatten; {word} 10")
    assert d.code == "unknown-op"
    assert d.hint is not None and "`dense`" in d.hint


@pytest.mark.parametrize(("word", "op"), [("conv2d", "conv"), ("maxpool2d", "maxpool"), ("bn", "batchnorm")])
def test_other_framework_op_names(word: str, op: str) -> None:
    d = one(f"{word} 8")
    assert d.code == "unknown-op" and d.hint is not None and f"`{op}`" in d.hint


def test_dropout_p_means_rate_and_is_one_error() -> None:
    d = one("dropout p=0.5")
    assert (d.code, d.message) == ("unknown-option", "dropout has no option `p`")
    assert d.hint is not None and d.hint.startswith("did you mean `rate`?")


@pytest.mark.parametrize(
    ("layer", "option"), [("conv 8 kernel_size=3", "kernel"), ("conv 8 3x3 padding=1", "pad"), ("maxpool 2x2 strides=2", "stride")]
)
def test_framework_option_names(layer: str, option: str) -> None:
    d = one(layer)
    assert d.code == "unknown-option" and d.hint is not None and d.hint.startswith(f"did you mean `{option}`?")


@pytest.mark.parametrize(
    "layer",
    [
        "conv 8 3x3 pad=1 relu",
        "conv4_3: conv 8 3x3",
        "lrn 5 alpha=1e-4 beta=0.75 k=2.0",
        "conv 8 3x3 pad=1;relu",
        "conv 8 3x3 -> 8x30x30",
        "conv 8 3x3->8x30x30",
        "dropout .5",
    ],
)
def test_separated_values_are_fine(layer: str) -> None:
    assert [d for d in diagnostics(layer) if d.is_error] == []
