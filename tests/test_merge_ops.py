"""multiply, split, shuffle and `global_avgpool keep` (issue 11): shape rules, the reference held
to each op's definition in docs/language.md, both targets against the reference, memory, figures."""

from __future__ import annotations

import pytest

import archc
from archc import memory, reference
from archc.backends.blocks import build_figure
from archc.backends.blocks_draw import Mark
from archc.backends.blocks_layout import layout
from archc.backends.blocks_svg import to_blocks_svg
from archc.backends.dot import DotBackend
from archc.backends.tikz import to_tikz
from archc.shapes import RULES, ShapeProblem
from tests.golden import ROOT

SE_SPEC = """
module se(c, squeeze) {
    multiply {
        branch scale { avgpool: global_avgpool keep; fc1: conv squeeze 1x1 relu; fc2: conv c 1x1 hardsigmoid }
        branch
    }
}

module unit(c) {
    concat {
        branch branch1 { split 2 }
        branch branch2 { split 2 part=1; conv c 1x1 bias=false; batchnorm relu }
    }
    shuffle 2
}

network Gated {
    input image: 3x9x7
    conv1: conv 12 3x3 pad=1 relu
    se1: se(12, 4)                      -> 12x9x7
    u1: unit(6)                         -> 12x9x7
    u2: unit(6)
    third: split 3 part=2               -> 4x9x7
    mixed: shuffle 4
    both: multiply from mixed, third
    gap: global_avgpool
    fc: dense 6
    half: split 2 part=1                -> 3
    dense 4
}
"""


# -- shape rules --------------------------------------------------------------------------------
def test_multiply_broadcasts_a_scale_per_map() -> None:
    out = RULES["multiply"]("gate", {}, [(64, 1, 1), (64, 56, 56)])
    assert out.shape == (64, 56, 56) and out.params == out.macs == 0
    assert out.explain == ["64x1x1 · 64x56x56 → 64x56x56: one factor per map"]
    assert RULES["multiply"]("gate", {}, [(64, 56, 56), (64, 56, 56)]).shape == (64, 56, 56)
    assert RULES["multiply"]("gate", {}, [(10,), (10,)]).shape == (10,)
    assert RULES["multiply"]("gate", {}, [(8, 1, 1), (8, 1, 1)]).shape == (8, 1, 1)


@pytest.mark.parametrize(
    "shapes", [[(32, 1, 1), (64, 28, 28)], [(64, 28, 1), (64, 28, 28)], [(64,), (64, 28, 28)], [(64, 14, 14), (64, 28, 28)], [(3,), (4,)]]
)
def test_multiply_refuses_shapes_that_do_not_broadcast(shapes: list[tuple[int, ...]]) -> None:
    with pytest.raises(ShapeProblem) as err:
        RULES["multiply"]("gate", {}, shapes)
    assert err.value.code == "multiply-shape"


def test_global_avgpool_keeps_the_maps_with_keep() -> None:
    assert RULES["global_avgpool"]("gap", {"keep": True}, [(64, 7, 5)]).shape == (64, 1, 1)
    assert RULES["global_avgpool"]("gap", {"keep": False}, [(64, 7, 5)]).shape == (64,)


def test_split_keeps_one_part() -> None:
    out = RULES["split"]("half", {"parts": 2, "part": 1}, [(116, 28, 28)])
    assert out.shape == (58, 28, 28) and out.explain == ["maps 116/2 = 58: maps 58 to 115"]
    assert RULES["split"]("half", {"parts": 3, "part": 0}, [(12,)]).shape == (4,)
    for attrs, option in (({"parts": 3, "part": 0}, "parts"), ({"parts": 2, "part": 2}, "part"), ({"parts": 2, "part": -1}, "part")):
        with pytest.raises(ShapeProblem) as err:
            RULES["split"]("half", attrs, [(116, 28, 28)])
        assert (err.value.code, err.value.option) == ("split-parts", option)


def test_shuffle_needs_groups_that_divide_the_maps() -> None:
    out = RULES["shuffle"]("mix", {"groups": 2}, [(116, 28, 28)])
    assert out.shape == (116, 28, 28) and out.params == 0
    with pytest.raises(ShapeProblem) as err:
        RULES["shuffle"]("mix", {"groups": 3}, [(116, 28, 28)])
    assert (err.value.code, err.value.option) == ("groups", "groups")
    with pytest.raises(ShapeProblem) as err:
        RULES["shuffle"]("mix", {"groups": 2}, [(116,)])
    assert err.value.code == "needs-spatial"


def test_the_spec_checks_clean_and_a_module_after_a_split_reads_the_right_maps() -> None:
    comp = archc.compile_source(SE_SPEC, "se.arch")
    assert comp.diagnostics == []
    net = comp.networks[0]
    # unit(6) reads 12 maps; its branch2 conv reads the split's 6, not the module's 12
    conv = next(n for n in net.layers if n.qualname == "u1.branch2.conv_1")
    assert conv.in_sym.render() == "6" and conv.params == 36
    assert net.nodes[net.output].shape == (4,)


# -- the reference against the definitions -------------------------------------------------------
torch = pytest.importorskip("torch")


def node_of(spec: str, op: str):  # type: ignore[no-untyped-def]
    net = archc.load(spec)
    return next(n for n in net.layers if n.op == op)


def test_shuffle_is_the_definition_and_torchvisions_channel_shuffle() -> None:
    node = node_of("network S {\n input 12x3x2\n shuffle 3\n}", "shuffle")
    x = torch.randn(2, 12, 3, 2)
    got = reference.OPS["shuffle"](node, [x], reference._ParamView({}, ""), False)
    per_group = 12 // 3
    for j in range(per_group):
        for g in range(3):
            assert torch.equal(got[:, j * 3 + g], x[:, g * per_group + j])
    # torchvision.models.shufflenetv2.channel_shuffle, verbatim
    tv = x.view(2, 3, per_group, 3, 2).transpose(1, 2).contiguous().view(2, 12, 3, 2)
    assert torch.equal(got, tv)


def test_split_is_the_definition() -> None:
    x = torch.randn(2, 12, 3, 2)
    for part in range(3):
        node = node_of(f"network S {{\n input 12x3x2\n split 3 part={part}\n}}", "split")
        got = reference.OPS["split"](node, [x], reference._ParamView({}, ""), False)
        assert torch.equal(got, x[:, 4 * part : 4 * part + 4])
        assert torch.equal(got, x.chunk(3, dim=1)[part])


def test_multiply_scales_each_map_by_its_factor() -> None:
    node = node_of("network M {\n input 3x2x2\n g: global_avgpool keep\n multiply from g, input\n}", "multiply")
    x, s = torch.randn(2, 3, 2, 2), torch.randn(2, 3, 1, 1)
    got = reference.OPS["multiply"](node, [s, x], reference._ParamView({}, ""), False)
    for c in range(3):
        assert torch.equal(got[:, c], x[:, c] * s[:, c, 0, 0].view(2, 1, 1))


def test_global_avgpool_keep_is_the_mean_of_each_map() -> None:
    node = node_of("network G {\n input 3x4x5\n global_avgpool keep\n}", "global_avgpool")
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    got = reference.OPS["global_avgpool"](node, [x], reference._ParamView({}, ""), False)
    assert got.shape == (2, 3, 1, 1)
    assert torch.allclose(got[:, :, 0, 0], x.sum((2, 3)) / 20)


@pytest.mark.slow
def test_torch_is_the_reference_exactly_and_keras_agrees() -> None:
    pytest.importorskip("keras")
    from tests.campaign import check_spec

    assert check_spec(SE_SPEC) == []


def test_the_generated_torch_code_reads_as_torchvisions() -> None:
    from archc.build import generate

    net = archc.load(SE_SPEC)
    source = generate([net], "torch", "se.arch")
    assert "def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:" in source
    assert "scale = x.mean((2, 3), keepdim=True)" in source
    assert "x = scale * x" in source
    assert "branch1 = x.chunk(2, 1)[0]" in source and "x = channel_shuffle(x, 2)" in source
    keras = generate([net], "keras", "se.arch")
    assert "class ChannelShuffle(layers.Layer):" in keras and "layers.Multiply(" in keras
    assert "layers.GlobalAveragePooling2D(" in keras and "keepdims=True," in keras


# -- memory, labels, figures ---------------------------------------------------------------------
def test_multiply_saves_both_factors() -> None:
    net = archc.load("network M {\n input 3x4x4\n a: conv 3 1x1\n b: conv 3 1x1 from input\n multiply from a, b\n}")
    node = net.layers[-1]
    saved = list(memory.saves(net, node))
    assert [s.key for s in saved] == [("out", net.layers[-3].id), ("out", net.layers[-2].id)]
    assert all(s.per_sample == 3 * 4 * 4 * 4 for s in saved)


def test_dot_labels() -> None:
    net = archc.load(SE_SPEC)
    dot = DotBackend()
    labels = {dot.op_text(n) for n in net.layers}
    assert {"multiply", "split 0/2", "split 1/2", "split 2/3", "channel shuffle 2", "channel shuffle 4"} <= labels
    assert {"global avgpool (keep 1x1)", "global avgpool"} <= labels


def test_multiply_is_drawn_as_a_circled_times() -> None:
    net = archc.load(SE_SPEC)
    marks = [p for p in layout(build_figure(net), 3.33, 7.0, "LR").prims if isinstance(p, Mark)]
    assert [m.kind for m in marks] == ["multiply", "concat", "concat", "multiply"]
    svg = to_blocks_svg(net)
    diagonal = [line for line in svg.splitlines() if line.startswith("<path") and "L" in line]
    assert len(diagonal) == 2  # the ⊗ of each multiply: two strokes at 45°
    tikz = to_tikz(net)
    assert tikz.count("circle[radius=") == 4


@pytest.mark.parametrize(
    "spec", ["se", "specs/zoo/shufflenet_v2_x1_0.arch", pytest.param("specs/zoo/mobilenet_v3_small.arch", marks=pytest.mark.slow)]
)
def test_activation_memory_is_what_torch_saves(spec: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Split halves and order-keeping shuffles are views that keep their input alive; a product saves each factor once."""
    from archc.summary import to_json
    from tests.test_summary_features import torch_saved_bytes

    if spec == "se":
        (tmp_path / "se.arch").write_text(SE_SPEC, encoding="utf-8")
        spec = str(tmp_path / "se.arch")
    measured = torch_saved_bytes(spec, 2)
    figure = to_json(archc.load(ROOT / spec), batch=2)["activation_bytes"]
    assert 0.99 <= figure / measured <= 1.01, (figure, measured)


@pytest.mark.slow
def test_the_generated_torch_code_scripts_exports_and_is_mypy_strict(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """channel_shuffle, chunk and the broadcasting product pass the review every shipped spec does
    (tests/test_generated_review.py): TorchScript exactly, torch.export, mypy --strict."""
    import subprocess
    import sys
    import warnings

    from archc.backends.pytorch import entry_point
    from archc.build import generate
    from tests.test_generated_review import _import

    net = archc.load(SE_SPEC)
    path = tmp_path / "review_merge_ops.py"
    path.write_text(generate([net], "torch", "se.arch"), encoding="utf-8")
    model = getattr(_import(path), entry_point(net))().eval()
    x = torch.randn(2, *net.input_shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's deprecation notice
        scripted = torch.jit.script(model)
    with torch.no_grad():
        want = model(x)
        torch.testing.assert_close(scripted(x), want, rtol=0, atol=0)
        torch.testing.assert_close(torch.export.export(model, (x,)).module()(x), want, rtol=1e-6, atol=1e-6)
    mypy = [sys.executable, "-m", "mypy", "--strict", "--ignore-missing-imports", "--no-incremental", str(path)]
    result = subprocess.run(mypy, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
