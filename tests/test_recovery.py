"""Every independent mistake in one run: after a shape error the check goes on with the shape the
spec declares (a conv's filters, the layer's `-> SHAPE`), or marks what follows unknown, and
`summary` / `summary --explain` show what they can, the unknowns marked `?` (exit 1)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import archc
from tests.golden import ROOT

VGG16 = (ROOT / "specs" / "vgg16.arch").read_text(encoding="utf-8")


def two_typos() -> str:
    """The study note's VGG16: conv4_3 and conv5_1 both written 3x3x256 after 512 maps."""
    text = VGG16.replace("conv4_3: conv 512 3x3x512", "conv4_3: conv 512 3x3x256").replace(
        "conv5_1: conv 512 3x3x512", "conv5_1: conv 512 3x3x256"
    )
    assert text.count("3x3x256") == VGG16.count("3x3x256") + 2
    return text


def archc_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archc", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_both_wrong_filter_depths_are_reported() -> None:
    comp = archc.compile_source(two_typos(), "vgg16.arch")
    got = [(d.code, d.message.split(" ")[0]) for d in comp.diagnostics]
    assert got == [("channel-mismatch", "conv4_3"), ("channel-mismatch", "conv5_1")]
    assert comp.diagnostics[1].hint == "the previous layer pool4 outputs 512x14x14"


def test_a_wrong_depth_keeps_the_declared_output_shape() -> None:
    (net,) = archc.compile_source(two_typos(), "vgg16.arch").networks
    by_name = {n.name: n for n in net.layers}
    assert by_name["conv4_3"].shape == (512, 28, 28) and not by_name["conv4_3"].known
    assert by_name["conv5_2"].known and by_name["conv5_2"].params == 2_359_808


def test_no_cascade_after_a_failed_assertion() -> None:
    """A wrong `->` is reported once; the layers after it are checked against the declared shape."""
    text = VGG16.replace("pool1: maxpool 2x2 stride=2  ", "pool1: maxpool 2x2 stride=1  ")
    assert text != VGG16
    comp = archc.compile_source(text, "vgg16.arch")
    assert [d.code for d in comp.diagnostics] == ["shape-assert"]


def test_unknown_after_an_error_without_assertion_is_not_reported_again() -> None:
    spec = "network N {\n    input x: 3x8x8\n    conv 8 3x3x4\n    conv 8 3x3x5\n    maxpool 2x2\n    conv 8 3x3x9\n}\n"
    comp = archc.compile_source(spec)
    assert [(d.code, d.span.line) for d in comp.diagnostics] == [("channel-mismatch", 3), ("channel-mismatch", 4), ("channel-mismatch", 6)]
    spec = "network N {\n    input x: 3x8x8\n    conv 8 3x3 groups=2\n    conv 8 3x3x5\n    dense 10\n}\n"
    comp = archc.compile_source(spec)
    assert [(d.code, d.span.line) for d in comp.diagnostics] == [("groups", 3)]  # the rest is unknown, not wrong


def test_summary_of_a_spec_with_errors_prints_what_it_can(tmp_path: Path) -> None:
    spec = tmp_path / "vgg16.arch"
    spec.write_text(two_typos(), encoding="utf-8")
    run = archc_cli("summary", str(spec))
    assert run.returncode == 1
    assert run.stderr.count(": error: ") == 2
    rows = {line.split()[0]: line.split() for line in run.stdout.split("\n") if line.startswith(("conv", "fc"))}
    assert rows["conv4_3"][-2:] == ["?", "?"] and rows["conv4_3"][-3] == "512x28x28"
    assert rows["conv5_2"][-2:] == ["2,359,808", "462,422,016"]
    assert "total params           133,637,928" in run.stdout and "2 marked ? are not counted" in run.stdout


def test_explain_of_a_spec_with_errors_prints_what_it_can(tmp_path: Path) -> None:
    spec = tmp_path / "vgg16.arch"
    spec.write_text(two_typos(), encoding="utf-8")
    run = archc_cli("summary", "--explain", str(spec))
    assert run.returncode == 1
    assert "conv5_2    (3·3·512+1)·512 = 2,359,808 params" in run.stdout
    assert "conv4_3    conv → 512x28x28 as declared; params unknown" in run.stdout
    assert "without the 2 layers marked ?/unknown" in run.stdout


def test_summary_marks_unknown_shapes_and_json_has_nulls() -> None:
    path = ROOT / "tests" / "errors" / "recover_at_assertion.arch"
    run = archc_cli("summary", str(path))
    assert run.returncode == 1
    conv5 = next(line for line in run.stdout.split("\n") if line.startswith("conv5"))
    assert conv5.split()[2:] == ["?", "?", "?", "?"]
    out = json.loads(archc_cli("summary", "--json", str(path)).stdout)
    layers = {layer["name"]: layer for layer in out["layers"]}
    assert layers["conv5"]["output_shape"] is None and layers["conv5"]["params"] is None
    assert layers["conv3"]["params"] == 18_496 and layers["fc"]["output_shape"] == [10]


def test_summary_of_a_spec_that_does_not_parse_prints_nothing() -> None:
    run = archc_cli("summary", str(ROOT / "tests" / "errors" / "syntax_missing_brace_eof.arch"))
    assert (run.returncode, run.stdout) == (1, "")


def test_a_call_s_span_takes_in_its_closing_parenthesis() -> None:
    """The carets under a module call cover `block(16)`, not `block(16`."""
    spec = "module block(c, d) {\n    conv c 3x3\n    conv d 3x3\n}\nnetwork N {\n    input x: 3x8x8\n    b: block(16)\n}\n"
    (d,) = archc.compile_source(spec).errors
    assert d.code == "module-arity"
    assert (d.span.line, d.span.column, d.span.end_column) == (7, 8, 17)
