"""archc.imports.from_keras / `archc import model.keras`: Keras functional models → readable specs
whose Keras build has the source's weight list, so that the source's weights give its outputs.

keras.applications' ResNet50, DenseNet121 and MobileNetV2 (weights=None, small inputs) and a
hand-made model with every mapped layer: imported, checked clean, formatted as `archc fmt` prints
it, built for Keras, the source's weights set (batch-norm moving statistics randomised, so that the
outputs depend on them), outputs compared. MobileNetV2 is imported at 33x33, where every
`padding="same"` and `correct_pad` pads each side alike; at 32x32 it is refused (asymmetric).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import archc
from archc.imports import ImportRefused, from_keras
from archc.imports.from_keras import import_keras, keras_weights
from tests.golden import ROOT
from tests.test_cli import run

keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")
layers = keras.layers


def small() -> object:
    """Every mapped layer: ZeroPadding2D folded into a conv, Conv2D with a fused activation, a
    DepthwiseConv2D, BatchNormalization, ReLU(6), LeakyReLU, Add, MaxPooling2D same, Concatenate,
    PReLU, AveragePooling2D, ELU, Activation, Flatten → Dropout → Dense."""
    inp = keras.Input((14, 14, 3))
    x = layers.ZeroPadding2D(1, name="pad")(inp)
    x = layers.Conv2D(8, 3, strides=2, activation="relu", name="stem")(x)
    y = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(x)
    y = layers.BatchNormalization(momentum=0.9, epsilon=1e-3, name="dw_bn")(y)
    y = layers.ReLU(6.0, name="dw_relu")(y)
    z = layers.Conv2D(8, 1, name="proj")(x)
    z = layers.LeakyReLU(0.1, name="proj_leaky")(z)
    x = layers.Add(name="sum")([z, y])
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool")(x)
    w = layers.Conv2D(4, 3, padding="same", activation="silu", name="side")(x)
    w = layers.ELU(0.5, name="side_elu")(w)
    x = layers.Concatenate(name="cat")([x, w])
    x = layers.PReLU(shared_axes=[1, 2], name="prelu")(x)
    x = layers.Activation("hard_sigmoid", name="hsig")(x)
    x = layers.AveragePooling2D(2, name="avg")(x)
    x = layers.Flatten(name="flat")(x)
    x = layers.Dropout(0.2, name="drop")(x)
    x = layers.Dense(10, name="fc")(x)
    return keras.Model(inp, x, name="small")


def randomise(model: object, seed: int = 0) -> None:
    """Batch-norm scales, shifts and moving statistics away from 1, 0, 0, 1, and PReLU slopes away
    from 0.25: a transfer that dropped or swapped any would show in the outputs. The statistics are
    calibrated (the batch statistics of a training-mode pass on random inputs, perturbed), so that
    a deep network's activations stay in range and its output depends on its input."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.PReLU):
            (alpha,) = layer.get_weights()
            layer.set_weights([rng.uniform(-0.5, 0.5, alpha.shape).astype("float32")])
    bns = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    if not bns:
        return
    probe = keras.Model(model.inputs, [layer.input for layer in bns])
    x = rng.normal(size=(8, *tuple(model.inputs[0].shape)[1:])).astype("float32")
    found = probe([x], training=True)
    for layer, t in zip(bns, found if isinstance(found, list | tuple) else [found], strict=True):
        t = np.asarray(t)
        axes = tuple(range(t.ndim - 1))
        mean, var = t.mean(axis=axes), t.var(axis=axes)
        g, b, _, _ = layer.get_weights()
        layer.set_weights(
            [
                rng.uniform(0.5, 1.5, g.shape).astype("float32"),
                rng.normal(0, 0.2, b.shape).astype("float32"),
                (mean + rng.normal(0, 0.1, mean.shape) * np.sqrt(var + 1e-3)).astype("float32"),
                (var * rng.uniform(0.8, 1.25, var.shape) + 1e-3).astype("float32"),
            ]
        )


def same_weight_list(source: object, compiled: object) -> None:
    """Same count, same order, same shapes: a DepthwiseConv2D kernel (kh, kw, C, m) is the only
    difference, held by archc's Conv2D(groups=C) as (kh, kw, 1, C·m), the same values in order."""
    src, dst = source.weights, compiled.weights
    assert len(src) == len(dst)
    for a, b in zip(src, dst, strict=True):
        if tuple(a.shape) != tuple(b.shape):
            assert isinstance(source.get_layer(a.path.split("/")[0]), layers.DepthwiseConv2D), (a.path, a.shape, b.path, b.shape)
            assert tuple(b.shape) == (*a.shape[:2], 1, a.shape[2] * a.shape[3])


def roundtrip(model: object, tmp_path: Path) -> tuple[str, float]:
    """Imports the model, checks the spec, compares outputs; returns the spec and the largest
    difference relative to the output scale."""
    spec = from_keras(model)
    path = tmp_path / f"{model.name}.arch"
    path.write_text(spec, encoding="utf-8")
    assert archc.check(spec) == [], archc.check(spec)
    assert run("fmt", "--check", str(path))[0] == 0
    compiled = archc.build_model(spec, target="keras")
    same_weight_list(model, compiled)
    randomise(model)
    compiled.set_weights(keras_weights(model, compiled))
    shape = tuple(model.inputs[0].shape)[1:]
    x = np.random.default_rng(1).normal(size=(2, *shape)).astype("float32")
    want = np.asarray(model(x, training=False))
    got = np.asarray(compiled(x, training=False))
    scale = float(np.abs(want).max())
    assert float(np.abs(want[0] - want[1]).max()) > 1e-3 * scale  # the output depends on the input
    diff = float(np.abs(want - got).max()) / scale
    assert diff <= 1e-5, diff
    return spec, diff


def test_a_hand_made_model_imports_with_its_weight_list_and_outputs(tmp_path: Path) -> None:
    spec, _ = roundtrip(small(), tmp_path)
    body = " ".join(spec.split())
    for line in (
        "stem: conv 8 3x3 stride=2 pad=1 relu",  # the ZeroPadding2D folded in
        "dw: conv 8 3x3 pad=1 groups=8 bias=false",
        "dw_bn: batchnorm eps=0.001 momentum=0.1 relu6",  # Keras' momentum 0.9 is archc's 0.1
        "proj_leaky: leaky_relu 0.1",
        "sum: add from proj_leaky, dw_bn",  # Keras' input order
        "pool: maxpool 3x3 stride=2 pad=1",
        "side: conv 4 3x3 pad=1 silu",
        "side_elu: elu 0.5",
        "cat: concat from pool, side_elu",
        "prelu: prelu",
        "hsig: hardsigmoid",
        "avg: avgpool 2x2",
        "flat: flatten",
        "drop: dropout 0.2",
        "fc: dense 10",
    ):
        assert line in body, line


def test_import_archc_does_not_import_keras() -> None:
    code = "import sys, archc, archc.imports; print(any(m.split('.')[0] in ('keras', 'tensorflow') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("app", "shape", "module"),
    [
        ("ResNet50", (32, 32, 3), "module conv_block"),
        ("DenseNet121", (32, 32, 3), "module conv"),
        ("MobileNetV2", (33, 33, 3), "module block"),
    ],
)
def test_keras_applications_import_exactly(app: str, shape: tuple[int, ...], module: str, tmp_path: Path) -> None:
    model = getattr(keras.applications, app)(weights=None, input_shape=shape, classifier_activation=None)
    spec, _ = roundtrip(model, tmp_path)
    assert module in spec  # repeated blocks became modules


@pytest.mark.slow
def test_mobilenet_v2_at_an_even_size_is_refused_naming_the_padding() -> None:
    model = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3))
    with pytest.raises(ImportRefused) as info:
        import_keras(model)
    messages = [d.message for d in info.value.diagnostics]
    # the stem is refused; what reads it is skipped rather than reported again
    assert messages == [
        'Conv1 (Conv2D): padding="same" at its 32x32 input pads 0 before and 1 after in height and 0 before and 1 after in width:'
        " archc pads each side alike (an input size for which the remainder is even maps exactly)"
    ]


def refused(*body: object, shape: tuple[int, ...] = (8, 8, 3)) -> list[str]:
    inp = keras.Input(shape)
    x = inp
    for layer in body:
        x = layer(x)
    with pytest.raises(ImportRefused) as info:
        import_keras(keras.Model(inp, x))
    return [d.message for d in info.value.diagnostics]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: [layers.UpSampling2D(name="up")], "up (UpSampling2D): archc's catalogue has no upsampling"),
        (lambda: [layers.Lambda(lambda t: t * 2, name="double")], "double (Lambda): a Python function"),
        (lambda: [layers.Rescaling(1 / 255, name="scale")], "scale (Rescaling): archc's catalogue has no op that scales"),
        (lambda: [layers.GlobalMaxPooling2D(name="gmp")], "gmp (GlobalMaxPooling2D): archc has only global_avgpool"),
        (
            lambda: [layers.Conv2D(4, 3, padding="same", activation="softplus", name="c")],
            "c (Conv2D): activation softplus has no archc activation",
        ),
        (lambda: [layers.BatchNormalization(center=False, name="bn")], "bn (BatchNormalization): center=False or scale=False"),
        (
            lambda: [layers.AveragePooling2D(3, strides=1, padding="same", name="ap")],
            'ap (AveragePooling2D): padding="same" averages over the input only',
        ),
        (lambda: [layers.Conv2D(4, 2, strides=2, padding="same", name="c")], None),  # 8 → 4: no padding, exact
        (
            lambda: [layers.Conv2D(4, 3, strides=2, padding="same", name="c")],
            'c (Conv2D): padding="same" at its 8x8 input pads 0 before and 1 after',
        ),
        (
            lambda: [layers.ZeroPadding2D(((1, 0), (1, 0)), name="zp"), layers.Conv2D(4, 3, name="c")],
            "c (Conv2D): it reads zp (ZeroPadding2D), whose padding (top 1, bottom 0, left 1, right 0) is not alike",
        ),
        (
            lambda: [layers.ZeroPadding2D(1, name="zp"), layers.MaxPooling2D(3, name="mp")],
            "mp (MaxPooling2D): it reads zp (ZeroPadding2D): zeros pad a max pool exactly only after a relu",
        ),
        (lambda: [layers.ZeroPadding2D(1, name="zp")], "zp (ZeroPadding2D): no conv or pool reads it alone"),
        (
            lambda: [
                layers.Conv2D(3, 1, name="conv1_conv"),
                layers.ZeroPadding2D(1, name="pool1_pad"),
                layers.MaxPooling2D(3, 2, name="pool1_pool"),
            ],
            "pool1_pool (MaxPooling2D): it reads pool1_pad (ZeroPadding2D): zeros pad a max pool exactly only after a relu"
            " or another activation ≥ 0, and conv1_conv may be negative",  # Keras' names, as the model has them
        ),
        (lambda: [layers.Flatten(name="flat")], "flat (Flatten): Keras flattens in H, W, C order"),
        (lambda: [layers.Dense(4, name="fc")], "fc (Dense): it reads a 3x8x8 tensor"),
        (lambda: [layers.PReLU(name="pr")], "pr (PReLU): its slopes have shape (8, 8, 3)"),
        (lambda: [layers.ReLU(threshold=0.5, name="r")], "r (ReLU): threshold=0.5"),
    ],
)
def test_what_archc_cannot_express_is_refused_naming_the_layer(make: object, message: str | None) -> None:
    if message is None:  # the control: a stride-2 "same" that pads nothing imports
        inp = keras.Input((8, 8, 3))
        assert "c: conv 4 2x2 stride=2" in from_keras(keras.Model(inp, make()[0](inp)))
        return
    messages = refused(*make())
    assert len(messages) == 1 and messages[0].startswith(message), messages


def test_a_multiply_is_refused_and_every_refusal_is_listed() -> None:
    inp = keras.Input((8, 8, 3))
    a = layers.Conv2D(3, 1, name="a")(inp)
    m = layers.Multiply(name="gate")([a, inp])
    u = layers.UpSampling2D(name="up")(inp)
    out = layers.Concatenate(name="cat")([layers.Conv2D(3, 2, strides=2, name="b")(u), m])
    with pytest.raises(ImportRefused) as info:
        import_keras(keras.Model(inp, out))
    messages = [d.message for d in info.value.diagnostics]
    assert sorted(m.split(":")[0] for m in messages) == ["gate (Multiply)", "up (UpSampling2D)"], (
        messages
    )  # cat reads them: not reported again


def test_cli_imports_a_keras_file_and_refuses_naming_the_layer(tmp_path: Path) -> None:
    path = tmp_path / "small.keras"
    small().save(path)
    out = tmp_path / "small.arch"
    code, stdout, stderr = run("import", str(path), "-o", str(out))
    assert code == 0, stderr
    written = out.read_text(encoding="utf-8")
    assert written.startswith("# Imported from small.keras by `archc import` (Keras).\n")
    assert written.split("\n", 1)[1] == from_keras(keras.saving.load_model(path)).split("\n", 1)[1]
    assert archc.check(out.read_text(encoding="utf-8")) == []
    code, stdout, _ = run("import", "--from", "keras", str(path), "--name", "Small")
    assert code == 0 and "network Small {" in stdout

    inp = keras.Input((8, 8, 3))
    bad = tmp_path / "bad.keras"
    keras.Model(inp, layers.UpSampling2D(name="up")(inp)).save(bad)
    code, stdout, stderr = run("import", str(bad), "-o", str(tmp_path / "bad.arch"))
    assert code == 1 and stdout == ""
    assert "up (UpSampling2D): archc's catalogue has no upsampling" in stderr
    assert not (tmp_path / "bad.arch").exists()

    junk = tmp_path / "junk.keras"
    junk.write_text("not a zip archive", encoding="utf-8")
    code, stdout, stderr = run("import", "--from", "keras", str(junk))
    assert code == 1 and stdout == "" and "Keras cannot load it" in stderr


def test_a_fused_activation_with_other_defaults_than_archc_s_becomes_a_layer(tmp_path: Path) -> None:
    """keras.activations.leaky_relu's slope is 0.2, archc's leaky_relu's 0.01: the conv's fused
    activation is written as a layer after it, with the slope; gelu and elu fuse (same defaults)."""
    inp = keras.Input((6, 6, 2))
    x = layers.Conv2D(4, 3, activation="leaky_relu", name="c")(inp)
    x = layers.Conv2D(4, 1, activation="gelu", name="g")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(5, activation="elu", name="fc")(x)
    x = layers.Dense(3, activation="tanh", name="out")(x)
    spec, _ = roundtrip(keras.Model(inp, x, name="fused"), tmp_path)
    body = " ".join(spec.split())
    assert "c: conv 4 3x3 leaky_relu 0.2 g: conv 4 1x1 gelu" in body.replace("-> 4x4x4 ", "")
    assert "fc: dense 5 elu out: dense 3 tanh" in body.replace("-> 5 ", "")


def test_keras_weights_refuses_a_list_whose_layers_do_not_pair_up() -> None:
    """Same shapes, another layer: the pairing is checked by name, so no weight lands on the wrong layer."""
    model = small()
    spec = from_keras(model).replace("proj:", "other:").replace("from proj\n", "from other\n")
    compiled = archc.build_model(spec, target="keras")
    assert [tuple(w.shape) for w in compiled.weights][3:5] == [tuple(w.shape) for w in model.weights][3:5]
    with pytest.raises(ValueError, match="proj/kernel in the source where the compiled model has other/kernel"):
        keras_weights(model, compiled)
    assert len(keras_weights(model, archc.build_model(from_keras(model), target="keras"))) == len(model.weights)


def test_a_sequential_model_imports_and_an_unbuilt_one_is_refused(tmp_path: Path) -> None:
    seq = keras.Sequential(
        [keras.Input((8, 8, 3)), layers.Conv2D(4, 3, activation="relu", name="c"), layers.Flatten(name="f"), layers.Dense(2, name="fc")],
        name="seq",
    )
    spec, _ = roundtrip(seq, tmp_path)
    assert "network seq {" in spec and "c: conv 4 3x3 relu" in spec
    with pytest.raises(ImportRefused, match=r"a Sequential needs its keras\.Input"):
        import_keras(keras.Sequential([layers.Dense(2)]))
