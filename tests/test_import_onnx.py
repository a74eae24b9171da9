"""archc.imports.from_onnx: torchvision models exported to ONNX, imported, compiled and run against onnxruntime.

The models are exported with the TorchScript exporter (dynamo=False) and do_constant_folding=False:
that exporter names each node after its module scope (`/layer1/layer1.0/conv1/Conv`), which gives
the spec its names and structure, and without constant folding it keeps each BatchNormalization
node (folding merges it into the conv before it, losing the running statistics). Batch norms are
calibrated first (tests/zoo.py), so that the outputs depend on the input.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
safetensors_torch = pytest.importorskip("safetensors.torch")
np = pytest.importorskip("numpy")

import archc  # noqa: E402
from archc.imports.from_onnx import OnnxImportError, from_onnx, import_onnx_file  # noqa: E402
from archc.runtime import build_model  # noqa: E402
from tests import zoo  # noqa: E402

TOLERANCE = 1e-5  # relative to the output's scale


def export(model: torch.nn.Module, path: Path, shape: tuple[int, ...] = (3, 64, 64)) -> None:
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, (torch.randn(1, *shape),), str(path), dynamo=False, do_constant_folding=False)


def onnx_output(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def relative(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.abs(got - want).max() / np.abs(want).max())


def imported(tmp_path: Path, model: torch.nn.Module, name: str, shape: tuple[int, ...] = (3, 64, 64)) -> tuple[Path, Path, Path, str]:
    onnx_path, spec, weights = tmp_path / f"{name}.onnx", tmp_path / f"{name}.arch", tmp_path / f"{name}.safetensors"
    export(model, onnx_path, shape)
    text, _ = import_onnx_file(onnx_path, spec, weights)
    return onnx_path, spec, weights, text


def torch_model(spec: Path, weights: Path) -> torch.nn.Module:
    model = build_model(spec, "torch", softmax=True)
    model.load_state_dict(safetensors_torch.load_file(str(weights)), strict=True)
    return model.eval()


def fmt_check(spec: Path) -> None:
    from archc.cli import _formatted

    source, text = _formatted(str(spec))
    assert text == source, "archc fmt --check would reformat the imported spec"


def compare(onnx_path: Path, model: torch.nn.Module, shape: tuple[int, ...] = (3, 64, 64), moves: float = 1e-2) -> float:
    gen = np.random.default_rng(0)
    x1, x2 = (gen.standard_normal((1, *shape)).astype(np.float32) for _ in range(2))
    want1, want2 = onnx_output(onnx_path, x1), onnx_output(onnx_path, x2)
    assert relative(want1, want2) > moves, "the output barely moves with the input: the comparison would prove nothing"
    with torch.no_grad():
        got = model(torch.from_numpy(x1)).numpy()
    assert got.shape == want1.shape
    error = relative(got, want1)
    assert error <= TOLERANCE, error
    return error


def code_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.strip() and not line.strip().startswith("#"))


MODELS = [
    pytest.param("resnet18", 40, marks=pytest.mark.slow),
    pytest.param("squeezenet1_1", 28, marks=pytest.mark.slow),
    pytest.param("densenet121", 308, marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("name", "lines"), MODELS)
def test_torchvision_models_import_and_match_onnxruntime(tmp_path: Path, name: str, lines: int) -> None:
    tv = getattr(zoo.torchvision().models, name)(weights=None)
    zoo.calibrate(tv)
    onnx_path, spec, weights, text = imported(tmp_path, tv, name)
    assert archc.check(spec) == []
    fmt_check(spec)
    assert code_lines(text) == lines
    model = torch_model(spec, weights)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in tv.parameters())
    compare(onnx_path, model)


def test_resnet_blocks_become_modules_and_a_repeat(tmp_path: Path) -> None:
    tv = zoo.torchvision().models.resnet18(weights=None)
    text, tensors = from_onnx(export_bytes(tv))
    assert "module residual(c) {" in text and "module residual_2(c) {" in text
    assert "layer1: repeat 2 { residual(64) }" in text
    assert "layer2_0: residual_2(128)" in text
    assert "branch downsample {" in text
    # the keys are the compiled model's: a repeat's iterations are numbered as torchvision's blocks
    assert "layer1.0.residual.conv1.weight" in tensors and "layer2_0.downsample.conv0.weight" in tensors
    assert tensors["bn1.num_batches_tracked"].dtype == np.int64


def test_squeezenet_fires_become_one_module_with_its_widths_as_parameters(tmp_path: Path) -> None:
    tv = zoo.torchvision().models.squeezenet1_1(weights=None)
    text, _ = from_onnx(export_bytes(tv))
    assert "module block(c, c2) {" in text
    assert "features_3: block(16, 64)" in text and "features_12: block(64, 256)" in text
    assert "drop=ok" in text  # features.0 leaves a row of the 64x64 input unread, as torchvision's does


@pytest.mark.slow
def test_densenet_concatenations_read_their_inputs_by_name(tmp_path: Path) -> None:
    tv = zoo.torchvision().models.densenet121(weights=None)
    text, _ = from_onnx(export_bytes(tv))
    assert "features_denseblock1_denselayer2: concat from features_pool0, features_denseblock1_denselayer1_conv2\n" in text
    assert "features_transition1_pool: avgpool 2x2 -> 128x8x8\n" in text


@pytest.mark.slow
def test_keras_model_matches_after_transfer(tmp_path: Path) -> None:
    keras = pytest.importorskip("keras")
    from archc import weights as transfer

    tv = zoo.torchvision().models.squeezenet1_1(weights=None)
    onnx_path, spec, weights_path, _ = imported(tmp_path, tv, "squeezenet1_1")
    model = torch_model(spec, weights_path)
    keras_model = build_model(spec, "keras")
    transfer.transfer(model, keras_model)
    x = np.random.default_rng(1).standard_normal((1, 3, 64, 64)).astype(np.float32)
    want = onnx_output(onnx_path, x)
    got = keras.ops.convert_to_numpy(keras_model(x.transpose(0, 2, 3, 1), training=False))
    assert relative(got, want) <= TOLERANCE


def export_bytes(model: torch.nn.Module, shape: tuple[int, ...] = (3, 64, 64)) -> onnx.ModelProto:
    buffer = io.BytesIO()
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, (torch.randn(1, *shape),), buffer, dynamo=False, do_constant_folding=False)
    return onnx.load_from_string(buffer.getvalue())


class Ops(torch.nn.Module):
    """One of each op the importer reads from a torch export, at sizes that keep it fast."""

    def __init__(self) -> None:
        super().__init__()
        nn = torch.nn
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU6())
        self.grouped = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4, bias=False)
        self.bn = nn.BatchNorm2d(8, eps=1e-3, momentum=0.01)
        self.hardswish = nn.Hardswish()
        self.leaky = nn.LeakyReLU(0.2)
        self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.prelu = nn.PReLU(8)
        self.elu = nn.ELU(0.5)
        self.avg = nn.AvgPool2d(3, stride=1, padding=1)
        self.conv_silu = nn.Sequential(nn.Conv2d(8, 8, 1), nn.SiLU())
        self.conv_gelu = nn.Sequential(nn.Conv2d(8, 8, 1), nn.GELU(approximate="tanh"))
        self.conv_hsig = nn.Sequential(nn.Conv2d(8, 8, 1), nn.Hardsigmoid())
        self.conv_tanh = nn.Sequential(nn.Conv2d(8, 8, 1), nn.Tanh())
        self.fc = nn.Linear(8 * 8 * 8, 10)
        self.sigmoid = nn.Sigmoid()
        self.out = nn.Linear(10, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.grouped(self.stem(x)))
        x = self.leaky(self.hardswish(x))
        x = self.elu(self.prelu(self.pool(x)))
        x = self.conv_tanh(self.conv_hsig(self.conv_gelu(self.conv_silu(self.avg(x)))))
        x = self.sigmoid(self.fc(torch.flatten(x, 1)))
        return torch.softmax(self.out(x), dim=1)


def test_each_op_imports_and_matches_onnxruntime(tmp_path: Path) -> None:
    model = Ops()
    zoo.calibrate(model, size=17)
    with torch.no_grad():  # wide enough that the sigmoid and softmax at the end still move with the input
        for layer in (model.conv_silu[0], model.conv_gelu[0], model.conv_hsig[0], model.conv_tanh[0], model.fc, model.out):
            layer.weight.mul_(8)
    onnx_path, spec, weights, text = imported(tmp_path, model, "ops", (3, 17, 17))
    assert archc.check(spec) == []
    fmt_check(spec)
    for line in (
        "stem_0: conv 8 3x3 pad=1 relu6",
        "grouped: conv 8 3x3 pad=2 dilation=2 groups=4 bias=false",
        "bn: batchnorm eps=0.001 momentum=0.01 hardswish",
        "leaky: leaky_relu 0.2",
        "pool: maxpool 3x3 stride=2 ceil",
        "prelu: prelu",
        "elu: elu 0.5",
        "avg: avgpool 3x3 stride=1 pad=1",
        "conv_silu_0: conv 8 1x1 silu",
        "conv_gelu_0: conv 8 1x1",
        "conv_hsig_0: conv 8 1x1 hardsigmoid",
        "conv_tanh_0: conv 8 1x1 tanh",
        "flatten",
        "fc: dense 10 sigmoid",
        "out: dense 5 softmax",
    ):
        assert f"    {line}" in text, line
    assert "gelu approximate=tanh" in text
    compare(onnx_path, torch_model(spec, weights), (3, 17, 17), moves=1e-3)  # a softmax of sigmoids moves little


# ---------------------------------------------------------------------------------------------
# Graphs written with onnx.helper: ops a torch export does not give, and refusals

helper = onnx.helper
FLOAT = onnx.TensorProto.FLOAT


def graph(nodes: list[onnx.NodeProto], inits: dict[str, np.ndarray], out: str, shape: list[int], out_shape: list[int]) -> onnx.ModelProto:
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", FLOAT, [1, *shape])],
        [helper.make_tensor_value_info(out, FLOAT, [1, *out_shape])],
        [onnx.numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def conv(name: str, x: str, y: str, **attrs: object) -> onnx.NodeProto:
    return helper.make_node("Conv", [x, "w"], [y], name=name, kernel_shape=[3, 3], **attrs)


W = np.random.default_rng(0).standard_normal((4, 3, 3, 3))


def run_graph(model: onnx.ModelProto, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """onnxruntime's output and the imported torch model's on one random input."""
    text, tensors = from_onnx(model)
    assert archc.check(text) == []
    net = build_model(text, "torch", softmax=True)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    x = np.random.default_rng(2).standard_normal((1, *shape)).astype(np.float32)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        return session.run(None, {"x": x})[0], net.eval()(torch.from_numpy(x)).numpy()


def test_matmul_and_add_become_one_dense_layer_with_its_bias() -> None:
    gen = np.random.default_rng(1)
    model = graph(
        [helper.make_node("MatMul", ["x", "w"], ["m"], name="fc/MatMul"), helper.make_node("Add", ["m", "b"], ["y"], name="fc/Add")],
        {"w": gen.standard_normal((6, 4)), "b": gen.standard_normal(4)},
        "y",
        [6],
        [4],
    )
    text, tensors = from_onnx(model)
    assert "    fc: dense 4 -> 4\n" in text and "bias=false" not in text
    assert sorted(tensors) == ["fc.bias", "fc.weight"] and tensors["fc.weight"].shape == (4, 6)  # torch's (out, in)
    want, got = run_graph(model, (6,))
    assert relative(got, want) <= TOLERANCE


def test_lrn_keeps_its_options() -> None:
    model = graph(
        [conv("c", "x", "h"), helper.make_node("LRN", ["h"], ["y"], name="norm1", size=3, alpha=2e-4, beta=0.7, bias=2.0)],
        {"w": W},
        "y",
        [3, 8, 8],
        [4, 6, 6],
    )
    text, _ = from_onnx(model)
    assert "lrn 3 alpha=0.0002 beta=0.7 k=2 -> 4x6x6\n" in text
    want, got = run_graph(model, (3, 8, 8))
    assert relative(got, want) <= TOLERANCE


def test_clip_to_0_6_is_relu6_and_x_times_its_sigmoid_is_silu() -> None:
    model = graph(
        [
            conv("c", "x", "h"),
            helper.make_node("Clip", ["h", "lo", "hi"], ["r"], name="act"),
            helper.make_node("Sigmoid", ["r"], ["s"], name="gate"),
            helper.make_node("Mul", ["s", "r"], ["y"], name="swish"),
        ],
        {"w": W, "lo": np.array(0.0), "hi": np.array(6.0)},
        "y",
        [3, 8, 8],
        [4, 6, 6],
    )
    text, _ = from_onnx(model)
    assert "conv 4 3x3 bias=false relu6\n" in text and "silu -> 4x6x6\n" in text and "sigmoid" not in text
    want, got = run_graph(model, (3, 8, 8))
    assert relative(got, want) <= TOLERANCE


@pytest.mark.parametrize(
    ("node", "inits", "why"),
    [
        (
            helper.make_node("Resize", ["h", "", "scales"], ["y"], name="up", mode="nearest"),
            {"scales": np.array([1, 1, 2, 2])},
            "upsampling",
        ),
        (helper.make_node("Transpose", ["h"], ["y"], name="swap", perm=[0, 1, 3, 2]), {}, "permutes axes"),
        (helper.make_node("Mul", ["h", "h"], ["y"], name="square"), {}, "no multiply op"),
        (helper.make_node("Clip", ["h", "lo", "hi"], ["y"], name="clamp"), {"lo": np.array(-1.0), "hi": np.array(1.0)}, "Clip(-1.0, 1.0)"),
        (helper.make_node("HardSigmoid", ["h"], ["y"], name="hsig"), {}, "alpha=0.2"),
        (helper.make_node("Add", ["h", "bias"], ["y"], name="shift"), {"bias": np.ones((1, 4, 1, 1))}, "adds a constant"),
        (helper.make_node("Softmax", ["h"], ["y"], name="sm", axis=1), {}, "softmax over axis 1 of a 4-D tensor"),
        (
            helper.make_node("AveragePool", ["h"], ["y"], name="avg", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            {},
            "count_include_pad=0",
        ),
        (
            helper.make_node("MaxPool", ["h"], ["y"], name="asym", kernel_shape=[2, 2], pads=[0, 0, 1, 1]),
            {},
            "asymmetric padding [0, 0, 1, 1]",
        ),
    ],
    ids=lambda v: v.op_type if isinstance(v, onnx.NodeProto) else None,
)
def test_what_archc_cannot_express_is_refused_with_node_name_and_op(node: onnx.NodeProto, inits: dict[str, np.ndarray], why: str) -> None:
    model = graph([conv("stem", "x", "h"), node], {"w": W, **inits}, "y", [3, 8, 8], [4, 6, 6])
    with pytest.raises(OnnxImportError) as caught:
        from_onnx(model)
    assert caught.value.refusals == [(node.name, node.op_type, caught.value.refusals[0][2])]
    assert f"node {node.name!r} ({node.op_type}): " in str(caught.value)
    assert why in caught.value.refusals[0][2]


def test_every_refusal_is_listed_and_what_reads_a_refused_node_is_not_blamed_for_it() -> None:
    model = graph(
        [
            conv("stem", "x", "h"),
            helper.make_node("Transpose", ["h"], ["t"], name="swap", perm=[0, 1, 3, 2]),
            helper.make_node("Relu", ["t"], ["r"], name="act"),
            helper.make_node("Resize", ["r", "", "scales"], ["y"], name="up", mode="nearest"),
        ],
        {"w": W, "scales": np.array([1, 1, 2, 2])},
        "y",
        [3, 8, 8],
        [4, 12, 12],
    )
    with pytest.raises(OnnxImportError) as caught:
        from_onnx(model)
    assert [(name, op) for name, op, _ in caught.value.refusals] == [("swap", "Transpose"), ("up", "Resize")]


def test_asymmetric_conv_padding_is_refused() -> None:
    model = graph([conv("stem", "x", "y", pads=[1, 1, 0, 0])], {"w": W}, "y", [3, 8, 8], [4, 7, 7])
    with pytest.raises(OnnxImportError, match=r"node 'stem' \(Conv\): asymmetric padding"):
        from_onnx(model)


def test_import_writes_the_spec_and_weights_and_archc_stays_light(tmp_path: Path) -> None:
    import subprocess
    import sys

    model = graph([conv("stem", "x", "y", pads=[1, 1, 1, 1])], {"w": W}, "y", [3, 8, 8], [4, 8, 8])
    onnx.save(model, str(tmp_path / "m.onnx"))
    import_onnx_file(tmp_path / "m.onnx", tmp_path / "m.arch", tmp_path / "m.safetensors")
    assert "stem: conv 4 3x3 pad=1 bias=false -> 4x8x8\n" in (tmp_path / "m.arch").read_text()
    assert set(safetensors_torch.load_file(str(tmp_path / "m.safetensors"))) == {"stem.weight"}
    code = "import sys, archc, archc.imports.from_onnx; print(sorted({'onnx', 'torch', 'numpy', 'safetensors'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.slow
def test_a_dynamo_export_imports_too(tmp_path: Path) -> None:
    """The torch.export-based exporter folds each batch norm into its conv and pools with ReduceMean; names come from the weights."""
    pytest.importorskip("onnxscript")
    tv = zoo.torchvision().models.resnet18(weights=None)
    zoo.calibrate(tv)
    path = tmp_path / "resnet18.onnx"
    torch.onnx.export(tv.eval(), (torch.randn(1, 3, 64, 64),), str(path), dynamo=True, verbose=False)
    text, _ = import_onnx_file(path, tmp_path / "resnet18.arch", tmp_path / "resnet18.safetensors")
    assert "layer1: repeat 2 { residual(64) }" in text and "avgpool: global_avgpool" in text and "batchnorm" not in text
    compare(path, torch_model(tmp_path / "resnet18.arch", tmp_path / "resnet18.safetensors"))


@pytest.mark.parametrize(
    ("attrs", "size"),
    [
        ({"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}, 3),
        ({"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "count_include_pad": 1, "ceil_mode": 1}, 4),
        ({"kernel_shape": [2, 2], "count_include_pad": 0}, 6),  # ONNX strides default to 1
    ],
    ids=["ceil", "ceil-padded", "plain"],
)
def test_average_pools_match_onnxruntime(attrs: dict[str, object], size: int) -> None:
    pool = helper.make_node("AveragePool", ["h"], ["y"], name="pool", **attrs)
    model = graph([conv("c", "x", "h"), pool], {"w": W}, "y", [3, 9, 9], [4, size, size])
    want, got = run_graph(model, (3, 9, 9))
    assert got.shape == want.shape and relative(got, want) <= TOLERANCE


def test_dropout_is_left_out_and_said_so() -> None:
    model = graph(
        [
            conv("stem", "x", "h"),
            helper.make_node("Dropout", ["h"], ["d"], name="drop"),
            helper.make_node("Relu", ["d"], ["y"], name="act"),
        ],
        {"w": W},
        "y",
        [3, 8, 8],
        [4, 6, 6],
    )
    text, _ = from_onnx(model)
    assert "# drop: Dropout is the identity in inference and was left out\n" in text
    assert "    stem: conv 4 3x3 bias=false relu -> 4x6x6\n" in text and "dropout" not in text


def test_an_output_that_is_not_the_last_layer_is_refused() -> None:
    model = graph(
        [conv("stem", "x", "y"), helper.make_node("Relu", ["y"], ["dead"], name="unused")],
        {"w": W},
        "y",
        [3, 8, 8],
        [4, 6, 6],
    )
    with pytest.raises(OnnxImportError, match="not its last layer"):
        from_onnx(model)


def test_layers_without_names_stay_unnamed_and_clashing_names_are_told_apart() -> None:
    model = graph(
        [
            conv("c", "x", "h"),
            helper.make_node("LeakyRelu", ["h"], ["a"], alpha=0.2),
            helper.make_node("Elu", ["a"], ["b"], alpha=0.5),
            helper.make_node("LeakyRelu", ["b"], ["d"], name="c.act", alpha=0.3),
            helper.make_node("Elu", ["d"], ["y"], name="c-act", alpha=0.7),
        ],
        {"w": W},
        "y",
        [3, 8, 8],
        [4, 6, 6],
    )
    text, _ = from_onnx(model)
    assert "\n    leaky_relu 0.2\n    elu 0.5\n" in text
    assert "    c_act: leaky_relu 0.3\n    c_act_2: elu 0.7 -> 4x6x6\n" in text
    want, got = run_graph(model, (3, 8, 8))
    assert relative(got, want) <= TOLERANCE


def test_the_cli_writes_the_spec_and_the_weights(tmp_path: Path) -> None:
    from archc.cli import main

    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 8 * 8, 2))
    export(model, tmp_path / "tiny.onnx", (3, 8, 8))
    spec, weights = tmp_path / "tiny.arch", tmp_path / "tiny.safetensors"
    assert main(["import", str(tmp_path / "tiny.onnx"), "-o", str(spec), "--weights", str(weights)]) == 0
    compiled = build_model(spec, "torch")
    compiled.load_state_dict(safetensors_torch.load_file(str(weights)))
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(compiled.eval()(x), model(x))
    assert main(["import", str(tmp_path / "tiny.onnx"), "-o", str(spec), "--weights", str(weights)]) == 2  # exists: --force
    assert main(["import", str(tmp_path / "tiny.onnx")]) == 2  # no -o
