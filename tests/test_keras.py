"""The Keras backend against the real framework: counts, shapes, names, saving, portability, training."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")

import archc  # noqa: E402
from archc.backends.base import Unsupported  # noqa: E402
from archc.backends.keras import KerasBackend, entry_point, layer_name  # noqa: E402
from archc.build import BuildError, generate, write_build  # noqa: E402
from archc.runtime import build_model, load_module  # noqa: E402
from tests.golden import ROOT, mismatch  # noqa: E402
from tests.golden_keras import SPECS, source  # noqa: E402


def spec_path(spec: str) -> Path:
    return ROOT / "specs" / f"{spec}.arch"


def channels_last(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (*shape[1:], shape[0]) if len(shape) == 3 else tuple(shape)


def numpy(value: object) -> np.ndarray:
    return keras.ops.convert_to_numpy(value)


def outputs(model: keras.Model, x: np.ndarray) -> list[np.ndarray]:
    out = model(x, training=False)
    return [numpy(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def sample(net: archc.Network, batch: int = 1, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((batch, *channels_last(net.input_shape))).astype("float32")


@pytest.fixture(scope="module", params=SPECS)
def built(request: pytest.FixtureRequest) -> tuple[archc.Network, keras.Model]:
    net = archc.load(spec_path(request.param))
    keras.utils.set_random_seed(0)
    return net, build_model(net, "keras", aux=True)


# -- the models ----------------------------------------------------------------------------------
def test_parameter_counts_equal_summary(built) -> None:
    net, model = built
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == net.total_params
    # count_params() also counts batchnorm's moving mean and variance, which are not parameters
    moving = sum(2 * n.shape[0] for n in net.layers if n.op == "batchnorm")
    assert model.count_params() == net.total_params + moving
    if not moving:
        assert model.count_params() == net.total_params
    if net.aux_heads:
        assert net.inference_params < net.total_params
        assert build_model(net, "keras").count_params() == net.inference_params


def test_every_layer_output_shape_equals_checker(built) -> None:
    net, model = built
    for node in net.layers:
        layer = model.get_layer(layer_name(node))
        assert tuple(layer.output.shape[1:]) == channels_last(node.shape), node.qualname


def test_outputs_main_first_then_aux_heads_deterministic(built) -> None:
    net, model = built
    x = sample(net)
    first, second = outputs(model, x), outputs(model, x)
    heads = [net.nodes[net.output], *(net.node_of(item) for item in net.aux_heads)]
    assert [o.shape for o in first] == [(1, *channels_last(n.shape)) for n in heads]
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert all(np.isfinite(o).all() for o in first)


@pytest.mark.slow
def test_save_and_load_round_trip(built, tmp_path: Path) -> None:
    net, model = built
    path = tmp_path / f"{net.name}.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = sample(net, seed=1)
    for a, b in zip(outputs(model, x), outputs(loaded, x), strict=True):
        np.testing.assert_array_equal(a, b)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    path.unlink()


def test_layer_names_come_from_the_spec() -> None:
    lenet = build_model(spec_path("lenet5"), "keras")
    named = {layer.name for layer in lenet.layers if layer.weights}
    assert named == {"C1", "S2", "C3", "S4", "C5", "F6", "output"}
    google = build_model(spec_path("googlenet"), "keras", aux=True)
    assert tuple(google.get_layer("inception4a-b2-conv_2").kernel.shape) == (3, 3, 96, 208)
    assert tuple(google.get_layer("aux2-fc1").kernel.shape) == (2048, 1024)
    assert entry_point(archc.load(spec_path("googlenet"))) == "build_googlenet"


def test_layer_name_is_one_to_one_and_legal_under_torch() -> None:
    for spec in SPECS:
        net = archc.load(spec_path(spec))
        names = [layer_name(n) for n in net.nodes]
        assert len(set(names)) == len(names)
        assert not any("." in n or "/" in n for n in names)  # torch parameter names, Keras paths


def test_connection_table_has_exactly_the_table_parameters() -> None:
    c3 = build_model(spec_path("lenet5"), "keras").get_layer("C3")
    assert c3.count_params() == 1516  # not the 2,416 of a masked dense conv
    assert tuple(c3.kernel.shape) == (60, 5, 5)
    x = np.random.default_rng(0).standard_normal((1, 14, 14, 6)).astype("float32")
    y = x.copy()
    y[..., 3] += 1.0  # input map 3 feeds output maps 2, 3, 4, ... but not 0 (Table I)
    a, b = numpy(c3(x)), numpy(c3(y))
    np.testing.assert_array_equal(a[..., 0], b[..., 0])
    assert not np.array_equal(a[..., 3], b[..., 3])


def test_logits_drops_the_trailing_softmaxes() -> None:
    net = archc.load(spec_path("googlenet"))
    text = generate([net], "keras", "googlenet.arch", softmax=False)
    assert '"softmax"' not in text and "def build_googlenet(aux=False, classifier_activation=None):" in text
    assert 'def build_googlenet(aux=False, classifier_activation="softmax"):' in generate([net], "keras", "googlenet.arch")
    keras.utils.set_random_seed(0)
    probs = build_model(net, "keras", aux=True)
    x = sample(net)
    # --logits, and classifier_activation=None as keras.applications takes it, both give logits
    for logits in (build_model(net, "keras", aux=True, logits=True), build_model(net, "keras", aux=True, classifier_activation=None)):
        logits.set_weights(probs.get_weights())
        for p, z in zip(outputs(probs, x), outputs(logits, x), strict=True):
            np.testing.assert_allclose(numpy(keras.ops.softmax(z)), p, rtol=1e-5, atol=1e-9)
            assert not np.allclose(z.sum(-1), 1.0)


def test_unsupported_op_is_a_diagnostic_naming_the_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    net = archc.load(spec_path("alexnet"))
    monkeypatch.setattr(KerasBackend, "UNSUPPORTED", {"lrn": "for this test"})
    with pytest.raises(BuildError) as info:
        generate([net], "keras", "alexnet.arch")
    (diag,) = info.value.compilation.errors
    assert diag.code == "unsupported" and "norm1" in diag.message and "for this test" in diag.message
    assert diag.span.line == 12


def test_table_with_groups_is_refused_not_miscompiled() -> None:
    backend = KerasBackend([archc.load(spec_path("lenet5"))], "lenet5.arch")
    node = next(n for n in backend.net.layers if n.name == "C3")
    node.attrs = {**node.attrs, "groups": 2}
    with pytest.raises(Unsupported, match="C3"):
        backend.emit_conv(node)


# -- the generated text --------------------------------------------------------------------------
@pytest.mark.parametrize("spec", SPECS)
def test_golden_source(spec: str) -> None:
    problem = mismatch("keras", f"{spec.split('/')[-1]}.py", source(spec))
    assert problem is None, problem


def test_two_builds_are_byte_identical(tmp_path: Path) -> None:
    nets = archc.compile_file(spec_path("googlenet")).networks
    first = write_build(nets, "specs/googlenet.arch", "keras", tmp_path / "a", line_comments=True).read_bytes()
    second = write_build(nets, "specs/googlenet.arch", "keras", tmp_path / "b", line_comments=True).read_bytes()
    assert first == second and b"# googlenet.arch:" in first  # the spec by its file name, whatever the cwd
    for spec in SPECS:
        assert source(spec) == source(spec)


def variants() -> dict[str, str]:
    out = {f"{spec.split('/')[-1]}.py": source(spec) for spec in (*SPECS, "examples/bottleneck")}
    out["googlenet_logits.py"] = source("googlenet", softmax=False)
    out["lenet5_lines.py"] = source("lenet5", line_comments=True)
    from tests.test_verify import ORACLES  # small networks reaching every op and emitter path

    for name, text in ORACLES.items():
        out[f"oracle_{name}.py"] = generate(archc.compile_source(textwrap.dedent(text)).networks, "keras", f"{name}.arch")
    return out


def test_generated_code_is_ruff_clean(tmp_path: Path) -> None:
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed")
    for name, text in variants().items():
        (tmp_path / name).write_text(text)
    check = subprocess.run([str(ruff), "check", "--isolated", str(tmp_path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    strict = ["--select", "E,F,W,I,B,UP,SIM,RUF", "--ignore", "E501,RUF001,RUF002,RUF003"]
    check = subprocess.run([str(ruff), "check", "--isolated", *strict, str(tmp_path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run([str(ruff), "format", "--isolated", "--check", "--diff", str(tmp_path)], capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_generated_file_imports_only_keras() -> None:
    for name, text in variants().items():
        tree = ast.parse(text)
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert imported <= {"keras"}, (name, imported)
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        assert not names & {"tf", "tensorflow", "torch", "jax", "np", "numpy"}, name


def test_header_and_spec_path_cannot_break_out_of_a_comment() -> None:
    net = archc.load(spec_path("lenet5"))
    text = generate([net], "keras", 'evil"\nimport os\n.arch', line_comments=True)
    tree = ast.parse(text)
    assert text.startswith("# archc-generated sha256=")
    assert not any(isinstance(n, ast.Import) and n.names[0].name == "os" for n in ast.walk(tree))


def test_module_builders_per_module_and_variants() -> None:
    text = source("googlenet")
    assert text.count("def inception(") == 1 and text.count("def aux_classifier(") == 1
    assert 'inception(x, 64, 96, 128, 16, 32, 32, name="inception3a")' in text
    spec = textwrap.dedent(
        """
        module block(c, k) {
            conv c k pad=1 relu
        }
        network Variants {
            input image: 3x8x8
            a: block(4, 3)
            b: block(4, 1)
            c: block(5, 3)
        }
        """
    )
    net = archc.load(spec)
    text = generate([net], "keras", "variants.arch")
    assert "def block(x, c, k, *, name):" in text and "def block_2(x, c, k, *, name):" in text
    assert 'block(x, 5, 3, name="c")' in text and 'block_2(x, 4, 1, name="b")' in text


def test_repeat_of_identical_iterations_is_a_loop() -> None:
    text = source("examples/resnet18")
    assert "for i in range(2):" in text and 'name=f"layer1-{i}")' in text


def test_build_command_writes_importable_module(tmp_path: Path) -> None:
    from archc.cli import main

    assert main(["build", str(spec_path("lenet5")), "--target", "keras", "-o", str(tmp_path)]) == 0
    path = tmp_path / "lenet5_keras.py"
    module = load_module(path.read_text(), "lenet5_keras_test")
    model = module.build_lenet5()
    assert model.name == "LeNet5" and model.count_params() == 60840


# -- other backends and distribution --------------------------------------------------------------
BACKEND_SCRIPT = """
import sys
import numpy as np
import keras
import archc
from archc.runtime import build_model

def keras_output(spec):
    net = archc.load(spec)
    model = build_model(net, "keras", logits=True)  # compare VGG's logits, not a flat softmax
    rng = np.random.default_rng(0)
    for variable in model.weights:  # the same weights under every backend, fan-in scaled
        shape = tuple(variable.shape)
        scale = 1 / np.sqrt(np.prod(shape[:-1])) if len(shape) > 1 else 0.1
        variable.assign((rng.standard_normal(shape) * scale).astype("float32"))
    x = np.random.default_rng(1).standard_normal((1, *net.input_shape)).astype("float32")
    return keras.ops.convert_to_numpy(model(np.moveaxis(x, 1, -1), training=False))

if __name__ == "__main__":
    for spec, out in zip(sys.argv[1::2], sys.argv[2::2]):
        np.save(out, keras_output(spec))
    print(keras.backend.backend())
"""


@pytest.mark.slow
def test_lenet5_and_vgg16_under_the_torch_backend(tmp_path: Path) -> None:
    """The same weights give the same outputs under KERAS_BACKEND=torch as under TensorFlow here."""
    pytest.importorskip("torch")  # for Keras' torch backend
    assert keras.backend.backend() == "tensorflow"
    specs = [str(spec_path("lenet5")), str(spec_path("vgg16"))]
    args = [arg for i, spec in enumerate(specs) for arg in (spec, str(tmp_path / f"{i}.npy"))]
    env = {**os.environ, "KERAS_BACKEND": "torch", "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([sys.executable, "-c", BACKEND_SCRIPT, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.split()[-1] == "torch"
    here: dict[str, object] = {}
    exec(BACKEND_SCRIPT, here)
    for i, spec in enumerate(specs):
        a, b = here["keras_output"](spec), np.load(tmp_path / f"{i}.npy")  # type: ignore[operator]
        assert a.shape == b.shape and a.std() > 1e-3 * np.abs(a).max() > 0
        assert np.abs(a - b).max() <= 1e-5 * np.abs(a).max(), spec


DATA_PARALLEL_SCRIPT = """
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import numpy as np
import archc
from archc.runtime import build_model

net = archc.load(sys_spec)
rng = np.random.default_rng(0)
x = rng.standard_normal((16, 32, 32, 1)).astype("float32")
y = rng.integers(0, 10, 16)
keras.utils.set_random_seed(0)
initial = build_model(net, "keras").get_weights()


def loss(labels, distances):  # RBF outputs are distances: the nearest centre is the class
    return keras.losses.sparse_categorical_crossentropy(labels, -distances, from_logits=True)


def train(strategy):
    with strategy.scope():
        model = build_model(net, "keras")
        model.set_weights(initial)
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss=loss)
    history = model.fit(x, y, batch_size=16, epochs=6, shuffle=False, verbose=0)
    return model.get_weights(), history.history["loss"]


mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
assert mirrored.num_replicas_in_sync == 2
parallel, losses = train(mirrored)
single, single_losses = train(tf.distribute.OneDeviceStrategy("/cpu:0"))
assert losses[-1] < losses[0], losses
worst = max(float(np.abs(a - b).max()) for a, b in zip(parallel, single))
moved = max(float(np.abs(a - b).max()) for a, b in zip(parallel, initial))
assert worst < 1e-5 and moved > 1e-3, (worst, moved)
print("ok", losses[0], losses[-1], worst)
"""


@pytest.mark.slow
def test_lenet5_trains_data_parallel_on_two_cpu_replicas() -> None:
    pytest.importorskip("tensorflow")
    script = f"sys_spec = {str(spec_path('lenet5'))!r}\n" + DATA_PARALLEL_SCRIPT
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("ok")
