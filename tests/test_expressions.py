"""Integer expressions in values (docs/language.md, "Expressions"): parsing, evaluation, printing,
--explain, and the Python the code generators write for them."""

from __future__ import annotations

import itertools

import pytest

import archc
from archc import ir
from archc.backends.arch import _equal, format_program
from archc.build import generate
from archc.diagnostics import Diagnostics
from archc.expr import arch_source, make_divisible
from archc.parse import parse
from archc.summary import explain


def torchvision_make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    """torchvision.models._utils._make_divisible, verbatim (torchvision 0.28)."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    # Make sure that round down does not go down by more than 10%.
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def net_of(body: str, header: str = "network N", modules: str = "", inp: str = "16x8x8") -> archc.Network:
    return archc.load(f"{modules}\n{header} {{\n    input {inp}\n{body}\n}}\n")


def layer(net: archc.Network, name: str) -> archc.graph.Node:
    return next(n for n in net.layers if n.qualname == name)


def program(text: str) -> ir.Program:
    diags = Diagnostics()
    prog = parse(text, "t.arch", diags)
    assert prog is not None, diags.items
    return prog


def first_value(text: str) -> ir.Value:
    prog = program(f"network N {{\n    input 4\n    dense {text}\n}}\n")
    stmt = prog.networks[0].body.stmts[1]
    assert isinstance(stmt, ir.Layer) and isinstance(stmt.body, ir.Op)
    return stmt.body.args[0].value


def test_make_divisible_is_torchvisions() -> None:
    for v, d in itertools.product([0.5, 1, 3, 7.5, 8, 11.9, 12, 13, 24.0, 32 * 0.75, 37, 100, 1000 * 0.35, 4.0 * 0.9], [1, 3, 8, 16]):
        assert make_divisible(v, d) == torchvision_make_divisible(v, d), (v, d)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2+3*4", 14),
        ("(2+3)*4", 20),
        ("7//2", 3),
        ("10+-7//2", 6),
        ("7%3", 1),
        ("10-4-3", 3),
        ("10-(4-3)", 9),
        ("6/3", 2),
        ("max(3, 9, 4)", 9),
        ("min(3, 9, 4)", 3),
        ("make_divisible(32*0.75, 8)", 24),
        ("ceil(1.2*3)", 4),
        ("floor(7/2)", 3),
        ("(-(2+3))*-1", 5),
    ],
)
def test_operators_and_functions(text: str, value: int) -> None:
    net = net_of(f"    fc: dense {text}", inp="4")
    assert layer(net, "fc").attrs["units"] == value


def test_module_parameters_in_expressions() -> None:
    net = net_of("    m: widen(64)", modules="module widen(c) {\n    expand: conv c*4 1x1\n    k: conv c//8 kernel=c//32+1 pad=(3-1)//2\n}")
    assert layer(net, "m.expand").attrs["filters"] == 256
    assert layer(net, "m.k").attrs["filters"] == 8
    assert layer(net, "m.k").attrs["kernel"] == (3, 3)  # a whole number is a square size
    assert layer(net, "m.k").attrs["pad"] == (1, 1)
    text = explain(net)
    assert "m.expand  filters = c*4 = 256" in text
    assert "kernel = c//32+1 = 3x3" in text


def test_module_call_arguments_and_repeat_counts() -> None:
    net = net_of("    r: repeat ceil(1.2*2) { twice(8*2) }", modules="module twice(c) {\n    conv c 1x1\n    conv c 1x1\n}")
    assert net.nodes[net.output].shape == (16, 8, 8)
    assert len([n for n in net.layers if n.op == "conv"]) == 6


def test_a_fraction_is_refused_where_a_whole_number_is_needed() -> None:
    comp = archc.compile_source("network N {\n    input 16x8x8\n    conv 10*0.75 1x1\n}\n")
    [err] = comp.errors
    assert err.code == "expr-not-whole" and (err.span.line, err.span.column) == (3, 10)
    ok = net_of("    dropout 1/4", inp="4")  # a float option takes a fraction
    assert ok.layers[0].attrs["rate"] == 0.25


def test_numbers_sizes_negatives_and_sources_still_read_as_before() -> None:
    prog = program(
        "network N {\n    input 3x8x8\n    a: conv 4 3x3 pad=-1 stride=1\n    b: conv 4 3x3 c -1 1e-4\n"
        "    c: conv 4 3x3 c-1 c - 1\n    d: concat from a, b\n}\n"
    )
    stmts = [s for s in prog.networks[0].body.stmts if isinstance(s, ir.Layer)]
    a, b, c, _ = (s.body for s in stmts)
    assert isinstance(a, ir.Op) and a.args[1].value.value == ir.Dims((3, 3)) and a.args[2].value.value == -1
    assert isinstance(b, ir.Op) and [x.value.value for x in b.args[2:]] == [ir.Ref("c"), -1, 1e-4]  # `c -1` is two values
    assert isinstance(c, ir.Op) and len(c.args) == 4  # `c-1` and `c - 1` are one each
    assert all(isinstance(x.value.value, ir.BinOp) for x in c.args[2:])
    assert stmts[3].sources and [s.text for s in stmts[3].sources] == ["a", "b"]


def test_a_positional_value_cannot_start_with_a_unary_minus_on_a_name() -> None:
    comp = archc.compile_source("network N {\n    input 4\n    dense -c\n}\n")
    [err] = comp.errors
    assert err.code == "syntax" and "(-b)" in (err.hint or "")
    assert program("network N(c=2) {\n    input 4\n    dense (-c)*-2\n}\n")


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("(a+b)*2", "(a+b)*2"),
        ("((a))*(2)", "a*2"),
        ("a-(b-c)", "a-(b-c)"),
        ("(a-b)-c", "a-b-c"),
        ("a+(b+c)", "a+(b+c)"),
        ("-(a+b)", "-(a+b)"),
        ("a*-1", "a*-1"),
        ("a - -1", "a--1"),
        ("a//(b%c)", "a//(b%c)"),
        ("max( a,b )", "max(a, b)"),
        ("make_divisible(a*0.75, 8)", "make_divisible(a*0.75, 8)"),
    ],
)
def test_printing_uses_the_fewest_parentheses(written: str, canonical: str) -> None:
    assert arch_source(first_value(f"({written})")) == canonical


ROUND_TRIP = """module m(a, b) {
    conv (-a*2) 1x1
    conv (-a)*-1+(a-(a-1))-a//(a%3)+max(a, -b, 3) 3x3 pad=(3-1)//2
    conv make_divisible(a*0.75, 8) kernel=b*2+1 stride=min(2, b)
    dropout rate=-a/100+0.5
}

network N(classes=10, drop=0.5) {
    input 16x16x16
    m(16, 1)
    global_avgpool
    dropout drop
    dense classes*2 -> 20
}
"""


def test_print_parse_round_trip_of_expressions() -> None:
    prog = program(ROUND_TRIP)
    printed = format_program(prog)
    assert _equal(program(printed), prog)
    assert format_program(program(printed)) == printed
    assert "network N(classes=10, drop=0.5) {" in printed and "conv (-a*2) 1x1" in printed


def test_fmt_keeps_expressions_as_written() -> None:
    text = "network N(c=2) {\n    input 4x4x4\n    conv (c)-1 (c)  kernel=1\n    conv  c - 1 1\n}\n"
    assert format_program(program(text), text) == "network N(c=2) {\n    input 4x4x4\n    conv (c)-1 (c) kernel=1\n    conv c - 1 1\n}\n"


MODULES = """module widen(c) {
    conv c 1x1 relu
    expand: conv c*4 1x1
    batchnorm
}

module slim(w) {
    conv make_divisible(w*0.75, 8) 1x1 relu
    conv ceil(w/3) 3x3 pad=1
}

network Expr {
    input image: 16x8x8
    widen(8)
    widen(16)
    slim(32)
    slim(40)
    global_avgpool
    dense 10
}
"""


def test_pytorch_writes_expressions_over_module_parameters() -> None:
    source = generate(archc.compile_source(MODULES).networks, "torch", "expr.arch")
    assert "nn.Conv2d(c, c * 4, kernel_size=1)" in source and "nn.BatchNorm2d(c * 4)" in source
    assert "make_divisible(w * 0.75, 8)" in source and "math.ceil(w / 3)" in source
    assert "import math" in source and "def make_divisible(" in source
    assert source.count("class Widen") == 1  # c*4 is linear in c: one class serves both calls


def test_keras_writes_expressions_over_module_parameters() -> None:
    source = generate(archc.compile_source(MODULES).networks, "keras", "expr.arch")
    assert "layers.Conv2D(c * 4, 1" in source and "make_divisible(w * 0.75, 8)" in source
    assert "math.ceil(w / 3)" in source and "import math" in source and "def make_divisible(" in source


def test_generated_models_of_expressions_equal_the_reference() -> None:
    pytest.importorskip("torch")
    from tests.campaign import check_network

    for net in archc.compile_source(MODULES).networks:
        assert check_network(net, seed=1, keras=True) == []
