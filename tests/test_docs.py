"""docs/language.md stays true: its examples compile clean, and its tables match the code.

Every ```arch block in the reference is a complete spec and must compile without a single
diagnostic; the op tables must list the catalogue's options and defaults; the diagnostic codes and
the limits must be the ones the front end has.
"""

from __future__ import annotations

import re

import pytest

import archc
from archc import codes, compiler, ops, parse, resolve
from archc.diagnostics import render
from tests.golden import ROOT
from tests.test_errors import front_end_codes

DOC = ROOT / "docs" / "language.md"
TEXT = DOC.read_text(encoding="utf-8")
BLOCKS = [(TEXT[: m.start()].count("\n") + 2, m[1]) for m in re.finditer(r"^```arch\n(.*?)^```$", TEXT, re.S | re.M)]


def section(heading: str) -> str:
    start = TEXT.index(f"\n{heading}\n")
    level = heading.split(" ")[0]
    end = re.search(rf"^#{{1,{len(level)}}} ", TEXT[start + len(heading) + 2 :], re.M)
    return TEXT[start : start + len(heading) + 2 + (end.start() if end else len(TEXT))]


def test_there_are_examples() -> None:
    assert len(BLOCKS) >= 20


@pytest.mark.parametrize(("line", "spec"), BLOCKS, ids=[f"line{line}" for line, _ in BLOCKS])
def test_example_compiles_clean(line: int, spec: str) -> None:
    assert re.search(r"^network \w+(\([^)]*\))? \{", spec, re.M), f"docs/language.md:{line}: an ```arch block must be a complete network"
    comp = archc.compile_source(spec, f"docs/language.md:{line}")
    assert comp.diagnostics == [], "\n".join(render(d, spec) for d in comp.diagnostics)
    assert comp.networks


def op_table(heading: str) -> dict[str, str]:
    rows = re.findall(r"^\| `(\w+)` \| [^|]* \| ([^|]*) \|", section(heading), re.M)
    return {name: default.strip() for name, default in rows}


def shown_default(option: ops.Option) -> str:
    if option.required:
        return "required"
    if option.default is None:
        return "the kernel"
    if isinstance(option.default, bool):
        return str(option.default).lower()
    return str(option.default)


@pytest.mark.parametrize("op", sorted(ops.CATALOGUE))
def test_every_op_is_documented_with_its_options(op: str) -> None:
    headings = [h for h in re.findall(r"^### (.*)$", TEXT, re.M) if f"`{op}`" in h]
    assert len(headings) == 1, f"no single ### heading for {op}"
    table = op_table(f"### {headings[0]}")
    opdef = ops.CATALOGUE[op]
    assert table == {o.name: shown_default(o) for o in opdef.options}
    for flag in opdef.flags:
        assert f"`{flag}`" in section(f"### {headings[0]}")


def test_diagnostic_codes_are_the_registrys() -> None:
    """The docs table is archc/codes.py's registry: the same codes in the same order, severities, descriptions."""
    listed = re.findall(r"^\| `([a-z-]+)` \| (error|warning|note) \| (.*) \|$", section("## Diagnostics"), re.M)
    assert len(listed) == len({code for code, _, _ in listed}), "a code listed twice"
    assert listed == [(c.name, c.severity, c.description) for c in codes.CODES.values()]
    assert front_end_codes() <= set(codes.CODES)


def test_limits_are_the_front_ends() -> None:
    limits = section("## Limits")

    def shown(n: int) -> str:
        return f"{n:,}"

    assert f"| {resolve.MAX_NESTING} levels |" in limits
    assert f"| 1 to {shown(resolve.MAX_REPEAT)} |" in limits
    assert f"| {shown(resolve.MAX_LAYERS)} | `MAX_LAYERS`" in limits
    assert f"| {shown(resolve.MAX_STEPS)} | `MAX_STEPS`" in limits
    assert f"| {shown(resolve.PARAM_BUDGET)} | `PARAM_BUDGET`" in limits
    assert f"| {parse.MAX_LITERAL_DIGITS} |" in limits
    assert f"| {parse.MAX_SYNTAX_ERRORS} | `MAX_SYNTAX_ERRORS`" in limits
    assert f"| {compiler.MAX_SOURCE_BYTES // 2**20} MiB |" in limits


def test_the_rendered_diagnostic_is_real() -> None:
    shown = re.search(r"^    (specs/vgg16\.arch:.*?)\n\n", section("## Diagnostics"), re.S | re.M)
    assert shown is not None
    expected = "\n".join(line.removeprefix("    ") for line in shown[1].split("\n"))
    source = (ROOT / "specs" / "vgg16.arch").read_text(encoding="utf-8")
    typo = source.replace("conv4_3: conv 512 3x3x512", "conv4_3: conv 512 3x3x256")
    assert typo != source
    (d,) = archc.compile_source(typo, "specs/vgg16.arch").diagnostics
    assert render(d, typo) == expected


def test_generated_names_example() -> None:
    spec = next(spec for _, spec in BLOCKS if "network Naming" in spec)
    net = archc.load(spec)
    stated = re.findall(r"#\s+([\w.]+)", spec)
    names = {n.qualname for n in net.layers}
    assert stated == ["conv_1", "c", "conv_2", "relu_1", "m.branch1.conv_1", "m.wide.conv_1", "m.branch2"]
    assert set(stated) - {"m.branch2"} <= names  # the identity branch has no layer of its own
    assert [b.path for b in net.nodes[net.output].branches] == [("m", "branch1"), ("m", "wide"), ("m", "branch2")]


def test_repeat_naming_as_documented() -> None:
    spec = next(spec for _, spec in BLOCKS if "network Stacks" in spec)
    names = [n.qualname for n in archc.load(spec).layers]
    assert "layer1.0.residual.conv1" in names and "layer1.1.residual.conv1" in names
    assert "stack.0.conv_1" in names and "stack.2.batchnorm_1" in names
