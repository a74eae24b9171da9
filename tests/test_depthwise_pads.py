"""Depthwise convs (Keras' DepthwiseConv2D, keras.applications' weight layout) and asymmetric
padding (`pad=TxBxLxR`, keras.applications' ZeroPadding2D and correct_pad)."""

from __future__ import annotations

import textwrap

import pytest

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")

import archc  # noqa: E402
from archc import reference, weights  # noqa: E402
from archc.backends.dot import DotBackend  # noqa: E402
from archc.backends.pytorch import torch_paths  # noqa: E402
from archc.build import generate  # noqa: E402
from archc.render import render_bytes  # noqa: E402
from archc.runtime import build_model  # noqa: E402
from tests.campaign import check_spec  # noqa: E402

SPEC = textwrap.dedent(
    """
    network Dw {
        input image: 4x9x8
        c0: conv 8 3x3 stride=2 pad=0x1x0x1 bias=false
        dw: conv 16 3x3 groups=8 pad=1 relu6
        dw2: conv 16 3x3 stride=2 groups=16 pad=1x0x0x1
        dw3: conv 16 3x3 groups=16 pad=0x1x1x1 bias=false
        c4: conv 4 2x2 pad=1x1x2x2 groups=2
        flatten
        fc: dense 3
    }
    """
)
# A module's pad and groups from its parameters: instances that differ get classes of their own.
MODULE_SPEC = textwrap.dedent(
    """
    module m(p, g) {
        conv 8 3x3 pad=p groups=g
        batchnorm relu
    }
    network M {
        input image: 8x8x8
        a: m(0x1x0x1, 8)
        b: m(1, 8)
        c: m(1x0x1x0, 2)
        d: m(1, 1)
        global_avgpool
        fc: dense 3
    }
    """
)


def net_of(text: str) -> archc.Network:
    comp = archc.compile_source(text, "dw.arch")
    assert comp.ok, [d.message for d in comp.errors]
    return comp.networks[0]


def test_a_conv_with_one_group_per_map_is_keras_depthwiseconv2d() -> None:
    model = build_model(net_of(SPEC), "keras")
    dw = model.get_layer("dw")
    assert type(dw).__name__ == "DepthwiseConv2D" and dw.depth_multiplier == 2
    assert [tuple(w.shape) for w in dw.weights] == [(3, 3, 8, 2), (16,)]  # keras.applications' layout
    assert [tuple(w.shape) for w in model.get_layer("dw3").weights] == [(3, 3, 16, 1)]
    grouped = model.get_layer("c4")  # 2 groups of 8 maps: a grouped Conv2D
    assert type(grouped).__name__ == "Conv2D" and tuple(grouped.weights[0].shape) == (2, 2, 8, 4)


def test_depthwise_transfer_keeps_torch_output_map_c_times_m_plus_j_as_keras_c_j() -> None:
    net = net_of(SPEC)
    torch_model, keras_model = build_model(net, "torch"), build_model(net, "keras")
    with torch.no_grad():  # each output map's kernel holds its own index
        torch_model.dw.weight.copy_(torch.arange(16.0).reshape(16, 1, 1, 1).expand(16, 1, 3, 3))
    weights.transfer(torch_model, keras_model, net)
    kernel = keras.ops.convert_to_numpy(keras_model.get_layer("dw").weights[0].value)
    for c in range(8):
        for j in range(2):
            assert (kernel[:, :, c, j] == c * 2 + j).all()
    back = build_model(net, "torch")
    weights.transfer(keras_model, back, net)
    for key, value in torch_model.state_dict().items():
        assert torch.equal(value, back.state_dict()[key]), key


# TensorFlow's depthwise kernel refuses strides that differ between H and W (the campaign's
# seed 102 crashed in DepthwiseConv2D.call): such a conv stays a grouped Conv2D.
UNEQUAL_STRIDES = "network U {\n input image: 2x9x9\n u: conv 4 3x3 stride=1x2 groups=2 pad=0x1x1x0\n flatten\n}\n"


def test_depthwise_strides_that_differ_are_a_grouped_conv2d() -> None:
    model = build_model(net_of(UNEQUAL_STRIDES), "keras")
    assert type(model.get_layer("u")).__name__ == "Conv2D"


@pytest.mark.parametrize("text", [SPEC, MODULE_SPEC, UNEQUAL_STRIDES], ids=["network", "module", "unequal-strides"])
def test_torch_equals_the_reference_and_keras_matches_it_after_transfer(text: str) -> None:
    """tests/campaign.py: generated torch == reference bit for bit (eval and train), Keras ≈ torch."""
    assert check_spec(text) == []


def test_asymmetric_pad_shapes_and_arithmetic() -> None:
    net = net_of(SPEC)
    shapes = {n.name: n.shape for n in net.layers}
    assert shapes["c0"] == (8, 4, 4)  # H: (9 + 0 + 1 − 3)//2 + 1, W: (8 + 0 + 1 − 3)//2 + 1
    assert shapes["dw2"] == (16, 2, 2) and shapes["dw3"] == (16, 1, 2) and shapes["c4"] == (4, 2, 5)
    explain = next(n for n in net.layers if n.name == "dw2").explain
    assert "H: floor((4 + 1 + 0 − 3)/2) + 1 = 2" in explain


def test_torch_pads_before_the_conv_whose_key_stays_the_layer_name() -> None:
    net = net_of(SPEC)
    source = generate([net], "torch", "dw.arch")
    assert "self.c0 = nn.Conv2d(4, 8, kernel_size=3, stride=2, bias=False)" in source
    assert "x = self.c0(F.pad(x, (0, 1, 0, 1)))" in source  # F.pad takes (left, right, top, bottom)
    assert "x = self.dw3(F.pad(x, (1, 1, 0, 1)))" in source
    assert "self.c4 = nn.Conv2d(16, 4, kernel_size=2, padding=(1, 2), groups=2)" in source  # equal opposite sides
    keys = build_model(net, "torch").state_dict()
    assert {"c0.weight", "dw.weight", "dw.bias", "dw3.weight"} <= set(keys)


def test_keras_zero_pads_each_side_as_written() -> None:
    source = generate([net_of(SPEC)], "keras", "dw.arch")
    assert 'layers.ZeroPadding2D(((0, 1), (0, 1)), name="c0_pad")' in source  # 9 rows: "same" would pad 1 on top
    assert 'layers.ZeroPadding2D(((1, 0), (0, 1)), name="dw2_pad")' in source
    assert 'layers.ZeroPadding2D((1, 2), name="c4_pad")' in source


def test_correct_pad_at_an_even_size_is_keras_same() -> None:
    """correct_pad's ((0, 1), (0, 1)) before a 3x3 stride-2 conv on an even size starts its windows
    where Keras' padding="same" does, so the conv says so (MobileNetV2's Conv1 does the same)."""
    net = net_of("network E {\n input 3x8x8\n c: conv 4 3x3 stride=2 pad=0x1x0x1\n}\n")
    source = generate([net], "keras", "e.arch")
    assert 'layers.Conv2D(4, 3, strides=2, padding="same", name="c")' in source and "ZeroPadding2D" not in source


def test_the_reference_pads_as_written_then_convolves() -> None:
    """The reference, held to the definition: zeros on each side as written, then a correlation."""
    net = net_of("network R {\n input 2x4x5\n c: conv 3 2x3 stride=2 pad=1x0x2x1\n}\n")
    node = next(n for n in net.layers if n.name == "c")
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, 2, 4, 5, generator=gen, dtype=torch.float64)
    w, b = torch.randn(3, 2, 2, 3, generator=gen, dtype=torch.float64), torch.randn(3, generator=gen, dtype=torch.float64)
    got = reference.run(net, {"c.weight": w, "c.bias": b}, x)[node.id]
    padded = np.zeros((2, 4 + 1 + 0, 5 + 2 + 1))
    padded[:, 1:5, 2:7] = x[0].numpy()
    want = np.zeros(node.shape)
    for o in range(3):
        for i in range(node.shape[1]):
            for j in range(node.shape[2]):
                want[o, i, j] = (padded[:, 2 * i : 2 * i + 2, 2 * j : 2 * j + 3] * w[o].numpy()).sum() + b[o].item()
    assert node.shape == (3, 2, 3)  # H: (4 + 1 + 0 − 2)//2 + 1, W: (5 + 2 + 1 − 3)//2 + 1
    np.testing.assert_allclose(got[0].numpy(), want, rtol=1e-12)


def test_the_diagram_shows_the_four_sides() -> None:
    net = net_of(SPEC)
    dw2 = next(n for n in net.layers if n.name == "dw2")
    assert "pad 1x0x0x1" in DotBackend().detail(dw2)
    dot = render_bytes(net, "dot").decode()
    assert "depthwise ×2" in dot and "groups=8 (8 towers)" not in dot
    assert torch_paths(net)[dw2.path] == "dw2"


@pytest.mark.parametrize(
    ("line", "code", "message"),
    [
        ("conv 4 3x3 pad=1x1x1", "option-type", "TOPxBOTTOMxLEFTxRIGHT like 0x1x0x1"),
        ("conv 4 3x3 pad=1x1x1x1x1", "option-type", "got 1x1x1x1x1"),
        ("conv 4 3x3 pad=-1", "option-value", "padding cannot be negative"),
        ("maxpool 2x2 pad=0x1x0x1", "option-type", "maxpool pad takes a size like 3x3 or a whole number"),
        ("conv 4 9x9 pad=0x0x4x4", "empty-output", "conv_1 output would be 0x8"),
    ],
)
def test_malformed_pads_are_diagnostics(line: str, code: str, message: str) -> None:
    comp = archc.compile_source(f"network N {{\n    input 3x8x8\n    {line}\n}}\n", "bad.arch")
    errors = [(d.code, d.message) for d in comp.errors]
    assert any(c == code and message in m for c, m in errors), errors


def test_same_with_an_even_kernel_hints_the_four_sides_that_keep_the_size() -> None:
    comp = archc.compile_source("network N {\n    input 3x8x8\n    c: conv 4 4x2 same\n}\n", "even.arch")
    (error,) = comp.errors
    assert "pad=1x2x0x1" in (error.hint or "")
    fixed = net_of("network N {\n    input 3x8x8\n    c: conv 4 4x2 pad=1x2x0x1\n}\n")
    assert fixed.nodes[fixed.output].shape == (4, 8, 8)
