"""The input preprocessing ops `rescale` and `normalize` (docs/language.md): the reference against
their definitions, both targets against the reference and against Keras' own Rescaling and
Normalization layers, the per-channel list in the language and its diagnostics."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

import archc
from archc import ops, parse, reference
from archc.backends.arch import format_program
from archc.diagnostics import Diagnostics
from tests.campaign import check_spec

torch = pytest.importorskip("torch")

IMAGENET = "mean=0.485, 0.456, 0.406 std=0.229, 0.224, 0.225"


def net_of(body: str, shape: str = "3x5x4") -> archc.Network:
    return archc.load(f"network P {{\n    input {shape}\n{body}\n}}\n")


def node(net: archc.Network, op: str):
    return next(n for n in net.layers if n.op == op)


def test_reference_rescale_is_its_definition() -> None:
    net = net_of("    rescale scale=1/127.5 offset=-1")
    x = torch.rand(2, 3, 5, 4, dtype=torch.float64) * 255
    got = reference.OPS["rescale"](node(net, "rescale"), [x], None, False)
    assert torch.allclose(got, x / 127.5 - 1, rtol=1e-12, atol=1e-12)


def test_reference_normalize_is_its_definition_per_map_and_per_feature() -> None:
    net = net_of(f"    normalize {IMAGENET}")
    x = torch.rand(2, 3, 5, 4, dtype=torch.float64)
    got = reference.OPS["normalize"](node(net, "normalize"), [x], None, False)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    for c in range(3):
        assert torch.allclose(got[:, c], (x[:, c] - mean[c]) / std[c], rtol=1e-12, atol=1e-12)
    flat = net_of("    normalize mean=1, 2 std=4, 8", shape="2")
    v = torch.tensor([[3.0, 10.0]], dtype=torch.float64)
    assert reference.OPS["normalize"](node(flat, "normalize"), [v], None, False).tolist() == [[0.5, 1.0]]


def test_a_single_number_broadcasts_to_every_channel() -> None:
    one = node(net_of("    normalize mean=0.5 std=0.25"), "normalize")
    three = node(net_of("    normalize mean=0.5, 0.5, 0.5 std=0.25, 0.25, 0.25"), "normalize")
    assert one.attrs == {"mean": (0.5,), "std": (0.25,), "stored": False}
    x = torch.randn(2, 3, 5, 4)
    assert torch.equal(reference.OPS["normalize"](one, [x], None, False), reference.OPS["normalize"](three, [x], None, False))


SPECS = {
    "imagenet": f"    rescale scale=1/255\n    normalize {IMAGENET}\n    conv 4 3x3 relu\n    flatten\n    dense 3",
    "mobilenetv3": "    rescale 1/127.5 offset=-1\n    conv 2 1x1\n    global_avgpool",
    "broadcast": "    normalize mean=0.5 std=0.5\n    rescale scale=-2 offset=0.25",
    "mixed": "    normalize mean=0.1, 0.2, 0.3 std=2\n    normalize mean=1 std=0.5, 1, 2 stored",
    "flat": "    conv 2 3x3\n    flatten\n    normalize mean=0.1 std=2\n    rescale 3\n    dense 2",
    "per_feature": "    conv 2 3x3\n    flatten\n    normalize mean="
    + ", ".join(str(i / 10) for i in range(12))
    + " std="
    + ", ".join(str(1 + i / 7) for i in range(12))
    + "\n    dense 2",
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_both_targets_agree_with_the_reference(name: str) -> None:
    """Generated torch == the reference bit for bit, Keras ≈ torch (tests/campaign.py's check)."""
    assert check_spec(f"network P {{\n    input 3x5x4\n{SPECS[name]}\n}}\n") == []


def keras_model(net: archc.Network):
    return archc.build_model(net, target="keras")


def test_keras_and_torch_match_keras_own_layers() -> None:
    keras = pytest.importorskip("keras")
    net = net_of(f"    rescale scale=1/127.5 offset=-1\n    normalize {IMAGENET}")
    x = np.random.default_rng(0).uniform(0, 255, (2, 5, 4, 3)).astype("float32")  # channels last
    y = keras.layers.Rescaling(scale=1 / 127.5, offset=-1.0)(x)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    want = np.asarray(keras.layers.Normalization(axis=-1, mean=mean, variance=[s * s for s in std])(y))
    got_keras = np.asarray(keras_model(net)(x))
    np.testing.assert_allclose(got_keras, want, rtol=0, atol=1e-6)
    torch_model = archc.build_model(net, target="torch").eval()
    with torch.no_grad():
        got_torch = torch_model(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(got_torch, want, rtol=0, atol=1e-6)


def test_no_parameters_and_no_state() -> None:
    net = net_of(f"    rescale 2\n    normalize {IMAGENET}")
    assert net.total_params == 0
    model = archc.build_model(net, target="torch")
    assert dict(model.state_dict()) == {} and list(model.parameters()) == []
    buffers = list(model.buffers())  # constants that follow .to(device), in no state_dict
    assert len(buffers) == 2 and torch.equal(buffers[0], torch.tensor([0.485, 0.456, 0.406]))
    pytest.importorskip("keras")
    assert keras_model(net).weights == []


def test_the_torch_code_is_readable() -> None:
    from archc.backends.pytorch import generate

    source = generate([net_of(f"    rescale scale=1/127.5 offset=-1\n    imagenet: normalize {IMAGENET}")], "p.arch")
    assert "x = x * 0.00784313725490196 - 1.0" in source
    assert "self.imagenet = Normalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))" in source
    assert 'register_buffer("mean", torch.tensor(mean), persistent=False)' in source


def errors(body: str, shape: str = "3x5x4") -> list[tuple[str, int, int, str]]:
    comp = archc.compile_source(f"network P {{\n    input {shape}\n{body}\n}}\n", "p.arch")
    return [(d.code, d.span.line, d.span.column, d.message) for d in comp.diagnostics]


def test_a_list_of_the_wrong_length_is_a_located_diagnostic() -> None:
    assert errors("    normalize mean=0.1, 0.2 std=1") == [
        ("channel-count", 3, 20, "normalize_1 mean has 2 values, but its 3x5x4 input has 3 maps")
    ]
    assert errors("    normalize mean=0 std=1, 2, 3", shape="4") == [
        ("channel-count", 3, 26, "normalize_1 std has 3 values, but its 4 input has 4 features")
    ]


def test_value_diagnostics() -> None:
    assert [e[0] for e in errors("    normalize mean=0 std=1, 0, 2")] == ["option-value"]
    assert [e[0] for e in errors("    normalize mean=0")] == ["missing-option"]
    assert [e[0] for e in errors("    normalize mean=0, relu, 1 std=1")] == ["option-type"]
    got = errors("    conv 4 3x3 stride=1, 2")  # a list where one value belongs
    assert [e[0] for e in got] == ["option-type"] and "got 1, 2" in got[0][3]
    assert [e[0] for e in errors("    rescale scale=1, 2")] == ["channel-count"]  # a factor for all, or one per map (3)
    assert errors("    rescale scale=1, 2, 0.5 offset=1") == []
    assert [e[0] for e in errors("    rescale scale=1, relu, 2")] == ["option-type"]
    assert [e[0] for e in errors("    rescale 2 offset=1, 2")] == ["option-type"]  # the offset is one number


def test_module_parameters_in_a_list() -> None:
    net = archc.load("module pre(m) {\n    normalize mean=m, m/2, 0 std=1\n}\nnetwork P {\n    input 3x4x4\n    pre(0.5)\n}\n")
    assert node(net, "normalize").attrs["mean"] == (0.5, 0.25, 0.0)


def test_keras_refuses_a_std_below_its_epsilon() -> None:
    from archc.backends.base import Unsupported
    from archc.backends.keras import generate

    with pytest.raises(Unsupported, match=r"max\(√variance, 1e-7\).*std=1e-08"):
        generate([net_of("    normalize mean=0 std=1e-8")], "p.arch")


def test_commas_elsewhere_still_parse() -> None:
    text = (
        "module blk(a, b) {\n    conv a*b 1x1\n}\nnetwork P {\n    input 3x4x4\n    x: normalize mean=1, 2, 3 std=1\n"
        "    y: blk(2, max(1, 2))\n    z: conv 2 1x1 from x\n    concat from y, z\n}\n"
    )
    assert archc.check(text) == []


def test_fmt_round_trip() -> None:
    text = (
        f"module pre(m) {{\n    normalize mean=m*2,1 std=0.5\n}}\nnetwork P {{\n    input 3x4x4\n"
        f"    rescale 1/127.5 offset=-1\n    n: normalize {IMAGENET}\n    normalize   mean=0.5 ,0.25, 1 std=2\n}}\n"
    )
    program = parse.parse(text, "p.arch", Diagnostics())
    for printed in (format_program(program), format_program(program, text)):  # the printer and the layout keeper
        assert "n: normalize mean=0.485, 0.456, 0.406 std=0.229, 0.224, 0.225" in printed
        assert "normalize mean=m*2, 1 std=0.5" in printed and "normalize mean=0.5, 0.25, 1 std=2" in printed
        again = parse.parse(printed, "p.arch", Diagnostics())
        assert again == program
        assert format_program(again, printed) == printed


def test_catalogue_kind() -> None:
    assert ops.CATALOGUE["normalize"].option("mean").kind == ops.FLOATS and ops.FLOATS in ops.KIND_TEXT


def test_memory_figure_is_what_torch_saves() -> None:
    """SAVES: neither op keeps anything for backward (a constant factor, a constant std buffer)."""
    from archc.summary import to_json
    from tests.test_summary_features import torch_saved_bytes

    text = f"network P {{\n    input 3x6x6\n    conv 3 3x3\n    rescale 2 offset=1\n    normalize {IMAGENET}\n    conv 2 3x3\n}}\n"
    path = Path(tempfile.mkdtemp()) / "p.arch"
    path.write_text(text, encoding="utf-8")
    measured = torch_saved_bytes(str(path), 4)
    assert to_json(archc.load(path), batch=4)["activation_bytes"] == measured


def test_stored_statistics_match_efficientnets_weight_list() -> None:
    """`stored`: the Keras layer's weights are EfficientNet's stem Normalization's (mean, variance,
    count, non-trainable), so set_weights(app.get_weights()) loads an application's statistics."""
    keras = pytest.importorskip("keras")
    net = net_of(f"    rescale scale=1/255\n    stem: normalize {IMAGENET} stored", shape="3x8x8")
    model = keras_model(net)
    app = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Rescaling(1 / 255), keras.layers.Normalization(axis=-1)])
    assert [(w.shape, w.trainable) for w in model.weights] == [(w.shape, w.trainable) for w in app.weights]
    assert [w.path.split("/")[-1] for w in model.weights] == ["mean", "variance", "count"]
    x = np.random.default_rng(1).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    direct = keras.layers.Normalization(mean=mean, variance=[s * s for s in std])(x / np.float32(255))
    np.testing.assert_allclose(np.asarray(model(x)), np.asarray(direct), rtol=0, atol=1e-6)  # starts at the spec's values
    other = [np.array([0.1, 0.2, 0.3], "float32"), np.array([4.0, 9.0, 16.0], "float32"), np.array(5)]
    app.set_weights(other)
    model.set_weights(app.get_weights())
    # Keras' own Normalization reads mean and variance copied when it was built (finalize_state), so
    # set_weights leaves the application computing with the old ones; StoredNormalization reads its weights.
    want = (x / np.float32(255) - other[0]) / np.sqrt(other[1])
    np.testing.assert_allclose(np.asarray(model(x)), want, rtol=0, atol=1e-6)
    torch_model = archc.build_model(net, target="torch")
    assert dict(torch_model.state_dict()) == {}  # PyTorch: constants either way
    assert net.total_params == 0
    line = next(t for t in net.summary().splitlines() if t.startswith("stored statistics"))
    assert line.split()[2] == "7" and line.endswith("(Keras non-trainable weights mean, variance, count of stem; in no total)")
    assert not any(t.startswith("stored statistics") for t in net_of(f"    normalize {IMAGENET}").summary().splitlines())


def test_stored_keras_model_round_trips_through_a_keras_file(tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    net = net_of("    normalize mean=0.5, 1, 2 std=2 stored")
    model = keras_model(net)
    x = np.random.default_rng(2).normal(size=(2, 5, 4, 3)).astype("float32")
    path = tmp_path / "m.keras"
    model.save(path)
    again = keras.models.load_model(path)
    np.testing.assert_array_equal(np.asarray(again(x)), np.asarray(model(x)))


def test_module_instances_with_other_values_agree_with_the_reference() -> None:
    text = (
        "module pre(s, m) {\n    rescale s offset=m\n    normalize mean=m, 0, 1 std=s stored\n}\n"
        "network N {\n    input 3x4x4\n    pre(2, 0.5)\n    pre(0.5, -1)\n    conv 2 1x1\n}\n"
    )
    assert check_spec(text) == []


def test_a_network_parameter_cannot_set_them() -> None:
    comp = archc.compile_source("network N(s=2) {\n    input 3x4x4\n    rescale scale=s\n    normalize mean=s, 1, 2 std=1\n}\n")
    assert [(d.code, d.span.line, d.span.column) for d in comp.diagnostics] == [("network-param", 3, 19), ("network-param", 4, 20)]
