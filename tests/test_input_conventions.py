"""Input conventions (issue 13, items 2 and 5): the layout of an input, the axis that drops rows,
an acknowledged drop, and a different input size (`--input`, `build_model(input=...)`)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

import archc
from archc.build import generate
from archc.cli import main
from archc.diagnostics import Diagnostic, Severity
from tests.golden import ROOT

ALEXNET = str(ROOT / "specs" / "alexnet.arch")
LENET = str(ROOT / "specs" / "lenet5.arch")


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def diags(spec: str, input_shape: tuple[int, ...] | None = None) -> list[Diagnostic]:
    return archc.compile_source(spec, "t.arch", input_shape).diagnostics


def net(input_line: str, *layers: str) -> str:
    return "network N {\n    " + input_line + "\n" + "".join(f"    {layer}\n" for layer in layers) + "}\n"


# -- item 2: the input's layout ---------------------------------------------------------------------
def test_a_channels_last_input_warns_with_the_fix() -> None:
    found = [d for d in diags(net("input image: 224x224x3", "conv1: conv 64 3x3 pad=1 relu")) if d.code == "input-layout"]
    assert len(found) == 1
    (d,) = found
    assert d.severity is Severity.WARNING
    assert (d.span.line, d.span.column) == (2, 18)  # on the shape
    assert "did you mean 3x224x224? archc shapes are CxHxW" in f"{d.message} {d.hint}"


@pytest.mark.parametrize("shape", ["32x32x1", "480x640x4", "64x56x3"])
def test_every_channels_last_look_warns(shape: str) -> None:
    h, w, c = shape.split("x")
    (d,) = [d for d in diags(net(f"input image: {shape}", "relu")) if d.code == "input-layout"]
    assert f"did you mean {c}x{h}x{w}?" in f"{d.message} {d.hint}"


@pytest.mark.parametrize("shape", ["3x224x224", "1x32x32", "480x4x4", "1024x1x1", "4x4x3", "3x3x3", "96x27x27", "784"])
def test_channels_first_inputs_and_small_maps_do_not_warn(shape: str) -> None:
    assert [d for d in diags(net(f"input x: {shape}", "relu")) if d.code == "input-layout"] == []


def test_the_override_is_checked_for_layout_too() -> None:
    found = [d for d in archc.compile_file(LENET, (32, 32, 1)).diagnostics if d.code == "input-layout"]
    assert len(found) == 1 and "did you mean 1x32x32?" in f"{found[0].message} {found[0].hint}"
    assert "--input 32x32x1" in found[0].message


# -- item 2: the axis that drops rows ----------------------------------------------------------------
def dropped(spec: str) -> list[Diagnostic]:
    return [d for d in diags(spec) if d.code == "dropped-rows"]


def test_a_drop_along_w_is_blamed_on_w() -> None:
    (d,) = dropped(net("input image: 224x224x3", "pool1: maxpool 2x2 stride=2"))
    assert "224 − 2" not in d.message
    assert d.message == "3 − 2 is not divisible by stride 2 along W: pool1 drops 1 column of its input"
    assert d.hint is not None and d.hint.startswith("a 224x4 input (HxW) to pool1 makes it exact")


def test_a_drop_along_h_is_blamed_on_h() -> None:
    (d,) = dropped(net("input x: 3x224x225", "conv1: conv 8 3x3 stride=2"))
    assert d.message == "224 − 3 is not divisible by stride 2 along H: conv1 drops 1 row of its input"
    assert d.hint is not None and d.hint.startswith("a 225x225 input (HxW) to conv1 makes it exact")


def test_different_drops_on_both_axes_name_both() -> None:
    (d,) = dropped(net("input x: 3x226x20", "conv1: conv 8 5x7 stride=4"))
    # H: (226 − 5) mod 4 = 1; W: (20 − 7) mod 4 = 1, but the arithmetic differs
    assert d.message == (
        "226 − 5 is not divisible by stride 4 along H and 20 − 7 is not divisible by stride 4 along W: "
        "conv1 drops 1 row and 1 column of its input"
    )
    assert d.hint is not None and d.hint.startswith("a 229x23 input (HxW) to conv1 makes it exact")


def test_the_same_drop_on_both_axes_keeps_the_short_form() -> None:
    (d,) = dropped(net("input image: 3x224x224", "conv1: conv 96 11x11 stride=4"))
    assert d.message == "224 − 11 is not divisible by stride 4: conv1 drops 1 row and column of its input"
    assert d.hint == (
        "a 227x227 input to conv1 makes it exact (Caffe's AlexNet used a 227x227 image for this reason); "
        "if the original model drops them too, say so with `drop=ok`"
    )


def test_a_dilated_drop_shows_the_effective_kernel() -> None:
    (d,) = dropped(net("input x: 3x32x32", "conv1: conv 8 3x3 stride=2 dilation=2"))
    # the dilated 3x3 spans 5: (32 − 5) mod 2 = 1
    assert d.message.startswith("32 − 5 is not divisible by stride 2:")


# -- item 2: an acknowledged drop ---------------------------------------------------------------------
SQUEEZENET_STEM = net(
    "input image: 3x224x224",
    "conv1: conv 96 7x7 stride=2 drop=ok relu   -> 96x109x109   # torchvision squeezenet1_0: 224 − 7 is odd",
    "pool1: maxpool 3x3 stride=2 ceil          -> 96x54x54",
)
AUX_POOL = net(
    "input maps: 512x15x15",
    "pool: avgpool 5x5 stride=3 drop=ok        -> 512x4x4",
    "conv: conv 128 1x1 relu",
)


@pytest.mark.parametrize("spec", [SQUEEZENET_STEM, AUX_POOL], ids=["squeezenet-conv1", "aux-pool"])
def test_drop_ok_acknowledges_an_intended_drop(spec: str) -> None:
    assert diags(spec) == []
    assert [d.code for d in diags(spec.replace(" drop=ok", ""))] == ["dropped-rows"]


def test_check_strict_passes_on_an_acknowledged_drop(tmp_path: Path) -> None:
    path = tmp_path / "squeezenet_stem.arch"
    path.write_text(SQUEEZENET_STEM, encoding="utf-8")
    assert run("check", "--strict", str(path)) == (0, "", "")
    path.write_text(SQUEEZENET_STEM.replace(" drop=ok", ""), encoding="utf-8")
    code, _, err = run("check", "--strict", str(path))
    assert code == 1 and "[dropped-rows]" in err and "drop=ok" in err  # the hint says how to acknowledge it


def test_drop_takes_only_warn_or_ok() -> None:
    (d,) = diags(net("input x: 3x8x8", "conv 8 3x3 drop=yes"))
    assert d.code == "option-type" and "warn" in d.message and "ok" in d.message


def test_drop_ok_does_not_hide_other_warnings() -> None:
    found = diags(net("input image: 224x224x3", "pool1: maxpool 2x2 stride=2 drop=ok"))
    assert [d.code for d in found] == ["input-layout"]


def test_every_backend_ignores_drop() -> None:
    with_ok, without = (archc.load(s) for s in (SQUEEZENET_STEM, SQUEEZENET_STEM.replace(" drop=ok", "")))
    for target in ("torch", "keras"):
        assert generate([with_ok], target, "squeezenet.arch") == generate([without], target, "squeezenet.arch")
    from archc.backends.dot import to_dot

    assert to_dot(with_ok) == to_dot(without)


def test_fmt_keeps_drop_ok() -> None:
    from archc.backends.arch import format_program
    from archc.diagnostics import Diagnostics
    from archc.parse import parse

    program = parse(SQUEEZENET_STEM, "t.arch", Diagnostics())
    assert program is not None and "stride=2 drop=ok relu" in format_program(program, SQUEEZENET_STEM)


# -- item 5: a different input size --------------------------------------------------------------------
def test_assertions_hold_for_the_declared_input_and_are_skipped_once_for_another() -> None:
    comp = archc.compile_file(ALEXNET, (3, 224, 224))
    assert comp.errors == []
    notes = [d for d in comp.diagnostics if d.severity is Severity.NOTE]
    assert len(notes) == 1
    (note,) = notes
    assert note.code == "input-override" and (note.span.line, note.span.column) == (8, 18)
    assert "--input 3x224x224" in note.message and "3x227x227" in note.message
    assert "10 shape assertions" in note.message  # every `-> SHAPE` of specs/alexnet.arch
    assert [d.code for d in comp.warnings] == ["dropped-rows"] * 4  # at 224, conv1 and the pools drop rows


def test_the_docs_alexnet_at_224_example_runs() -> None:
    code, out, err = run("summary", ALEXNET, "--input", "3x224x224")
    assert code == 0, err
    assert "96x54x54" in out and "[shape-assert]" not in err
    assert err.count(": note: ") == 1 and err.count("[input-override]") == 1


def test_the_declared_input_given_again_checks_the_assertions() -> None:
    spec = net("input image: 3x32x32", "conv1: conv 8 3x3 -> 8x32x32")
    assert [d.code for d in diags(spec, (3, 32, 32))] == ["shape-assert"]
    assert [d.code for d in diags(spec, (3, 34, 34))] == ["input-override"]  # at 34, 8x32x32 holds; it is not checked


def test_a_spec_without_assertions_gets_no_note() -> None:
    assert diags(net("input image: 3x32x32", "conv1: conv 8 3x3"), (3, 64, 64)) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("160x160", "CxHxW"),  # two sizes for an image network
        ("abc", "CxHxW"),
        ("3x160", "CxHxW"),
        ("0x224x224", "at least 1"),
        ("3x224x224x1", "CxHxW"),
        ("784", "CxHxW"),  # AlexNet's input is an image: a flat length does not fit it
    ],
)
def test_a_malformed_input_is_a_usage_error(value: str, expected: str) -> None:
    code, out, err = run("summary", ALEXNET, "--input", value)
    assert code == 2, err
    assert out == "" and expected in err and "[input-shape]" not in err


def test_a_flat_network_takes_a_flat_input() -> None:
    spec = net("input features: 784", "hidden: dense 300 relu -> 300")
    comp = archc.compile_source(spec, "t.arch", (100,))
    assert comp.errors == [] and comp.networks[0].total_params == 101 * 300
    with pytest.raises(archc.InputShapeError, match="N, a length"):
        archc.compile_source(spec, "t.arch", (3, 32, 32))


def test_load_takes_an_input() -> None:
    at_160 = archc.load(ALEXNET, input=(3, 160, 160))
    assert at_160.input_shape == (3, 160, 160)
    assert at_160.nodes[at_160.output].shape == (1000,)
    assert at_160.total_params < archc.load(ALEXNET).total_params


def test_build_model_torch_takes_an_input() -> None:
    torch = pytest.importorskip("torch")
    model = archc.build_model(LENET, "torch", input=(1, 36, 36))
    assert model.archc_network.input_shape == (1, 36, 36)
    model.eval()
    assert tuple(model(torch.zeros(2, 1, 36, 36)).shape) == (2, 10)
    assert sum(p.numel() for p in model.parameters()) == model.archc_network.total_params


def test_build_model_of_a_network_re_resolves_it() -> None:
    pytest.importorskip("torch")
    lenet = archc.load(LENET)
    model = archc.build_model(lenet, "torch", input=(1, 36, 36))
    assert model.archc_network.input_shape == (1, 36, 36) and lenet.input_shape == (1, 32, 32)


def test_build_model_keras_takes_an_input() -> None:
    pytest.importorskip("keras")
    np = pytest.importorskip("numpy")
    model = archc.build_model(LENET, "keras", input=(1, 36, 36))
    assert tuple(model.input_shape) == (None, 36, 36, 1)
    assert tuple(model(np.zeros((2, 36, 36, 1), dtype="float32")).shape) == (2, 10)
    assert model.count_params() == model.archc_network.total_params


@pytest.mark.parametrize("bad", [(160, 160), (3, 0, 32), ("3", 32, 32)])
def test_build_model_refuses_a_malformed_input(bad: tuple[object, ...]) -> None:
    with pytest.raises(archc.InputShapeError, match="CxHxW"):
        archc.build_model(LENET, "torch", input=bad)  # type: ignore[arg-type]


def test_a_size_the_network_cannot_take_is_a_spec_error() -> None:
    with pytest.raises(archc.CompileError, match=re.escape("[empty-output]")):
        archc.load(LENET, input=(1, 8, 8))
