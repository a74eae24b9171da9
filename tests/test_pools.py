"""Adaptive pooling and average pooling without the padding (`count_pad=false`).

The reference executor calls torch's kernels (so that the generated code agrees with it bit for
bit); these tests hold those kernels, with the options as the reference passes them, to the
definitions in docs/language.md, written out window by window. Then the shape rule, the
emitters' choices, and Keras against torch on small networks.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import replace

import pytest

import archc
from archc import memory, reference, shapes
from archc.backends import keras as keras_backend
from archc.build import generate

torch = pytest.importorskip("torch")


def _node(spec: str):
    return archc.load(textwrap.dedent(spec)).layers[-1]


def adaptive_by_definition(x, out: tuple[int, int], reduce) -> object:
    """Output (i, j) reduces rows floor(i·H/oh) … ceil((i+1)·H/oh) − 1 and the matching columns."""
    h, w = x.shape[2:]
    oh, ow = out
    y = x.new_empty(*x.shape[:2], oh, ow)
    for i in range(oh):
        for j in range(ow):
            r0, r1 = math.floor(i * h / oh), math.ceil((i + 1) * h / oh)
            c0, c1 = math.floor(j * w / ow), math.ceil((j + 1) * w / ow)
            y[:, :, i, j] = reduce(x[:, :, r0:r1, c0:c1].flatten(2))
    return y


SIZES = [((13, 11), (6, 4)), ((13, 13), (6, 6)), ((12, 12), (6, 6)), ((2, 3), (5, 7)), ((7, 7), (7, 7)), ((5, 9), (1, 1)), ((1, 1), (3, 2))]


@pytest.mark.parametrize(("op", "reduce"), [("adaptive_avgpool", lambda v: v.mean(-1)), ("adaptive_maxpool", lambda v: v.amax(-1))])
@pytest.mark.parametrize(("hw", "out"), SIZES, ids=str)
def test_reference_adaptive_pool_is_its_definition(op: str, reduce, hw: tuple[int, int], out: tuple[int, int]) -> None:
    node = _node(f"network N {{\n input x: 3x{hw[0]}x{hw[1]}\n p: {op} {out[0]}x{out[1]}\n}}\n")
    assert node.shape == (3, *out)
    x = torch.randn(2, 3, *hw, dtype=torch.float64)
    got = reference.OPS[op](node, [x], None, False)
    want = adaptive_by_definition(x, out, reduce)
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-12), float((got - want).abs().max())


def avg_without_padding(x, k: int, s: int, p: int, ceil: bool) -> object:
    """Each window's sum over the input elements it covers, divided by their number."""
    h, w = x.shape[2:]
    oh, ow = (shapes.window_out(n, k, s, p, 1, ceil, "")[0] for n in (h, w))
    y = x.new_empty(*x.shape[:2], oh, ow)
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * s - p, j * s - p
            cells = x[:, :, max(r0, 0) : min(r0 + k, h), max(c0, 0) : min(c0 + k, w)]
            y[:, :, i, j] = cells.flatten(2).mean(-1)
    return y


@pytest.mark.parametrize(("k", "s", "p", "ceil"), [(3, 1, 1, False), (3, 2, 1, True), (2, 2, 1, False), (3, 2, 1, False), (5, 3, 2, True)])
def test_reference_avgpool_without_padding_is_its_definition(k: int, s: int, p: int, ceil: bool) -> None:
    flag = " ceil" if ceil else ""
    node = _node(f"network N {{\n input x: 2x9x8\n p: avgpool {k}x{k} stride={s} pad={p}{flag} count_pad=false drop=ok\n}}\n")
    x = torch.randn(2, 2, 9, 8, dtype=torch.float64)
    got = reference.OPS["avgpool"](node, [x], None, False)
    want = avg_without_padding(x, k, s, p, ceil)
    assert got.shape == want.shape == (2, *node.shape)
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-12), float((got - want).abs().max())
    counted = reference.OPS["avgpool"](replace(node, attrs={**node.attrs, "count_pad": True}), [x], None, False)
    assert not torch.allclose(counted, got)  # the default counts the padding: the option changes the result


def test_shape_rule_explains_the_windows_and_counts_nothing() -> None:
    out = shapes.RULES["adaptive_avgpool"]("p", {"size": (6, 4)}, [(256, 13, 11)])
    assert out.shape == (256, 6, 4) and out.params == 0 and out.macs == 0
    assert out.explain == [
        "H: 13 → 6: windows of 3 from floor(i·13/6) to ceil((i+1)·13/6)",
        "W: 11 → 4: windows of 3 or 4 from floor(i·11/4) to ceil((i+1)·11/4)",
    ]
    assert shapes.RULES["adaptive_maxpool"]("p", {"size": (2, 2)}, [(8, 1, 1)]).shape == (8, 2, 2)  # windows repeat
    with pytest.raises(shapes.ShapeProblem, match="at least 1x1"):
        shapes.RULES["adaptive_maxpool"]("p", {"size": (0, 2)}, [(8, 4, 4)])
    with pytest.raises(shapes.ShapeProblem, match="CxHxW"):
        shapes.RULES["adaptive_avgpool"]("p", {"size": (2, 2)}, [(8,)])


def test_windows_follow_pytorch() -> None:
    assert shapes.adaptive_windows(13, 6) == [(0, 3), (2, 5), (4, 7), (6, 9), (8, 11), (10, 13)]
    assert shapes.adaptive_windows(2, 4) == [(0, 1), (0, 1), (1, 2), (1, 2)]
    assert keras_backend.even_windows(12, 6) == (2, 2)
    assert keras_backend.even_windows(5, 4) == (2, 1)  # overlapping but even: a plain pool with stride 1
    assert keras_backend.even_windows(13, 6) == (3, 2)  # AlexNet's 13 → 6: a 3x3 pool of stride 2
    assert keras_backend.even_windows(13, 5) is None  # windows of 3, 4, 3, 4, 3
    assert keras_backend.even_windows(2, 4) is None  # repeated windows: stride 0
    assert keras_backend.even_windows(9, 1) == (9, 9)


def _emit(spec: str, target: str) -> str:
    return generate([archc.load(textwrap.dedent(spec))], target, "t.arch")


def test_keras_uses_its_own_pools_where_the_windows_allow() -> None:
    text = _emit(
        """
        network K {
            input x: 4x12x13
            a: adaptive_avgpool 6x13
            b: adaptive_maxpool 3x13
            c: adaptive_avgpool 4x5
            d: avgpool 3x3 stride=1 pad=1 count_pad=false
            e: avgpool 3x3 stride=2 pad=1 count_pad=false
            f: adaptive_maxpool 2x3
        }
        """,
        "keras",
    )
    assert 'layers.AveragePooling2D((2, 1), name="a")' in text
    assert 'layers.MaxPooling2D((2, 1), name="b")' in text
    assert 'AdaptivePool2D((4, 5), mode="average", name="c")' in text
    assert 'layers.AveragePooling2D(3, strides=1, padding="same", name="d")' in text
    assert 'layers.Identity(name="f")' in text  # 2x3 → 2x3
    assert "count_pad=False" in text and "PaddedAvgPool2D(" in text  # 4 rows: Keras pads 0 above, torch 1


def test_torch_emits_torchvision_spelling() -> None:
    text = _emit("network T {\n input x: 4x12x13\n a: adaptive_avgpool 6\n b: avgpool 3 stride=1 pad=1 count_pad=false\n}\n", "torch")
    assert "nn.AdaptiveAvgPool2d((6, 6))" in text
    assert "count_include_pad=False" in text


def test_memory_follows_torch_autograd() -> None:
    net = archc.load("network M {\n input x: 4x6x6\n conv 4 1x1\n a: adaptive_avgpool 1\n b: adaptive_maxpool 1\n}\n")
    a, b = net.layers[-2], net.layers[-1]
    assert list(memory.saves(net, a)) == []  # torch takes the mean at 1x1 and keeps nothing
    assert [s.key[0] for s in memory.saves(net, b)] == ["out", "indices"]


SMALL = {
    "adaptive": """
        network Adaptive {
            input image: 3x13x11
            c: conv 6 3x3 pad=1 relu
            a: adaptive_avgpool 6x4
            b: adaptive_maxpool 8
            d: adaptive_avgpool 5
            e: adaptive_maxpool 5x2
            flatten
            fc: dense 4
        }
    """,
    "count_pad": """
        network CountPad {
            input image: 3x10x9
            c: conv 6 3x3 relu
            p: avgpool 3x3 stride=2 pad=1 count_pad=false ceil
            q: avgpool 3 stride=1 pad=1 count_pad=false
            r: avgpool 2x3 stride=2 pad=1 count_pad=false drop=ok
            flatten
            fc: dense 4
        }
    """,
}


@pytest.mark.parametrize("name", SMALL)
def test_torch_is_the_reference_and_keras_agrees(name: str) -> None:
    """The campaign's property: generated torch == reference bit for bit, Keras ≈ torch."""
    from tests.campaign import check_network

    net = archc.load(textwrap.dedent(SMALL[name]))
    assert check_network(net, 0, keras=True) == []


def test_activation_memory_is_what_torch_saves(tmp_path) -> None:
    from archc.summary import to_json
    from tests.test_summary_features import torch_saved_bytes

    spec = tmp_path / "m.arch"
    spec.write_text(
        "network M {\n input x: 4x13x13\n c: conv 8 3x3 relu\n a: adaptive_avgpool 5\n"
        " m: adaptive_maxpool 3x2\n g: adaptive_avgpool 1\n flatten\n fc: dense 3\n}\n"
    )
    measured = torch_saved_bytes(str(spec), 4)
    assert to_json(archc.load(spec), batch=4)["activation_bytes"] == measured
