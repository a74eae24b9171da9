"""archc.imports.from_keras / `archc import model.keras`: Keras functional models → readable specs
whose Keras build has the source's weight list, so that the source's weights give its outputs.

keras.applications' ResNet50, DenseNet121, MobileNetV2, MobileNetV3Small, EfficientNetB0 and
ConvNeXtTiny (weights=None, small inputs) and hand-made models with every mapped layer: imported,
checked clean, formatted as `archc fmt` prints it, built for Keras, the source's weights set with
`compiled.set_weights(source.get_weights())` (batch-norm moving statistics randomised, so that the
outputs depend on them), outputs compared. MobileNetV2 is imported at 33x33, where every
`padding="same"` and `correct_pad` pads each side alike, and at 32x32, where they pad one more
after than before (`pad=0x1x0x1`).
"""

from __future__ import annotations

import re
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


def newer() -> object:
    """The mappings of the newer ops: Rescaling per channel, a constant Normalization, a
    ZeroPadding2D that pads one more after than before and a conv whose "same" does, a Conv2D with
    one group per map, squeeze-and-excitation (GlobalAveragePooling2D keepdims and as Reshape,
    Multiply), operations on tensors (`x + 3.0`, `x * (1 / 6)`, `x - 1.0`, `2.0 - x`, `x + y`),
    BatchNormalization without a scale, LayerNormalization, GroupNormalization, Dense on maps,
    stochastic depth, GlobalMaxPooling2D."""
    inp = keras.Input((12, 12, 3))
    x = layers.Rescaling([0.5, 0.25, 2.0], offset=0.1, name="scale")(inp)
    x = layers.Normalization(mean=[0.1, 0.2, 0.3], variance=[4.0, 1.0, 0.25], name="norm")(x)
    x = layers.ZeroPadding2D(((0, 1), (0, 1)), name="stem_pad")(x)
    x = layers.Conv2D(8, 3, strides=2, use_bias=False, name="stem")(x)  # 13 → 6
    x = layers.BatchNormalization(scale=False, name="stem_bn")(x)
    x = layers.Conv2D(8, 3, strides=2, padding="same", activation="hard_silu", name="down")(x)  # 6 → 3: pads 0 before, 1 after
    y = layers.Conv2D(8, 3, padding="same", groups=8, name="grouped")(x)
    g = layers.GlobalAveragePooling2D(keepdims=True, name="se_pool")(y)
    g = layers.Conv2D(8, 1, name="se_fc")(g)
    g = layers.ReLU(6.0)(g + 3.0) * (1.0 / 6.0)
    y = layers.Multiply(name="se_mul")([y, g])
    h = layers.GlobalAveragePooling2D(name="se2_pool")(y)
    h = layers.Reshape((1, 1, 8), name="se2_reshape")(h)
    h = layers.Conv2D(8, 1, activation="sigmoid", name="se2_fc")(h)
    y = layers.Multiply(name="se2_mul")([h, y])
    y = layers.LayerNormalization(epsilon=1e-6, name="ln")(y)
    y = layers.Dense(16, activation="gelu", name="pw1")(y)
    y = layers.Dense(8, name="pw2")(y)
    y = layers.Dropout(0.1, noise_shape=(None, 1, 1, 1), name="drop_path")(y)
    x = x + y
    x = 2.0 - (x - 1.0)
    x = layers.GroupNormalization(4, epsilon=1e-3, name="gn")(x)
    x = layers.GlobalMaxPooling2D(name="gmp")(x)
    x = layers.Dense(5, name="fc")(x)
    return keras.Model(inp, x, name="newer")


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
        learnt = [rng.uniform(0.5, 1.5, mean.shape)] if layer.scale else []
        learnt += [rng.normal(0, 0.2, mean.shape)] if layer.center else []
        moving = [mean + rng.normal(0, 0.1, mean.shape) * np.sqrt(var + 1e-3), var * rng.uniform(0.8, 1.25, var.shape) + 1e-3]
        layer.set_weights([w.astype("float32") for w in learnt + moving])


def same_weight_list(source: object, compiled: object) -> None:
    """Same count, same order, same shapes (a DepthwiseConv2D is one in the compiled model too, a
    Conv2D with groups=C one with `keras_kernel=grouped`)."""
    src, dst = source.weights, compiled.weights
    assert len(src) == len(dst)
    for a, b in zip(src, dst, strict=True):
        assert tuple(a.shape) == tuple(b.shape), (a.path, a.shape, b.path, b.shape)


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
    assert len(keras_weights(model, compiled)) == len(model.weights)  # every pair agrees by name
    compiled.set_weights(model.get_weights())
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


def test_the_newer_ops_import_with_their_weight_list_and_outputs(tmp_path: Path) -> None:
    spec, _ = roundtrip(newer(), tmp_path)
    body = " ".join(spec.split())
    for line in (
        "scale: rescale scale=0.5, 0.25, 2 offset=0.1",
        "norm: normalize mean=0.1, 0.2, 0.3 std=2, 1, 0.5",
        "stem: conv 8 3x3 stride=2 pad=0x1x0x1 bias=false",  # the ZeroPadding2D folded in
        "stem_bn: batchnorm eps=0.001 momentum=0.01 scale=false",
        "down: conv 8 3x3 stride=2 pad=0x1x0x1 hardswish",  # "same" at 6x6, stride 2
        "grouped: conv 8 3x3 pad=1 groups=8 keras_kernel=grouped",
        "se_pool: global_avgpool keep",
        "rescale 1 offset=3",
        "relu6",
        "rescale 0.16666666666666666",
        "se2_pool: global_avgpool keep",  # GlobalAveragePooling2D + Reshape((1, 1, C))
        "ln: layernorm eps=1e-06",
        "pw1: pointwise_dense 16 gelu",
        "pw2: pointwise_dense 8",
        "drop_path: stochastic_depth 0.1",
        "rescale 1 offset=-1",  # x - 1
        "rescale -1 offset=2",  # 2 - x
        "gn: groupnorm 4 eps=0.001",
        "gmp: adaptive_maxpool 1",
        "gmp_flatten: flatten",
        "fc: dense 5",
    ):
        assert line in body, line
    assert "multiply {" in spec or "se_mul: multiply from" in spec


def test_import_archc_does_not_import_keras() -> None:
    code = "import sys, archc, archc.imports; print(any(m.split('.')[0] in ('keras', 'tensorflow') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("app", "shape", "found"),
    [
        ("ResNet50", (32, 32, 3), ["module conv_block"]),
        ("DenseNet121", (32, 32, 3), ["module conv"]),
        ("MobileNetV2", (33, 33, 3), ["module block"]),
        ("MobileNetV2", (32, 32, 3), ["module block", "Conv1: conv 32 3x3 stride=2 pad=0x1x0x1 bias=false"]),
        ("MobileNet", (32, 32, 3), ["conv_dw_2: conv 64 3x3 stride=2 pad=0x1x0x1 groups=64 bias=false", "flatten: flatten"]),
        (
            "MobileNetV3Small",
            (32, 32, 3),
            ["module expanded_conv", "rescale: rescale 0.00784313725490196 offset=-1", "global_avgpool keep", "multiply {"]
            + ["rescale 1 offset=3", "relu6: relu6", "rescale 0.16666666666666666"],  # hard_sigmoid as Keras computes it
        ),
        (
            "EfficientNetB0",
            (32, 32, 3),
            ["module block", "normalization: normalize mean=0, 0, 0 std=1, 1, 1 stored", "drop: stochastic_depth drop_rate"]
            + ["se_squeeze: global_avgpool keep", "se_expand: conv se_expand_filters 1x1 sigmoid", "5x5, 1x2x1x2"],
        ),
        ("InceptionV3", (75, 75, 3), ["average_pooling2d: avgpool 3x3 stride=1 pad=1 count_pad=false", "scale=false"]),
        (
            "ConvNeXtTiny",
            (32, 32, 3),
            ["module convnext_tiny_stage", "normalize mean=123.675, 116.28, 103.53 std=58.395, 57.12, 57.375"]
            + ["keras_kernel=grouped", "pointwise_dense", "layer_scale 1e-06", "layernorm eps=1e-06"],
        ),
    ],
)
def test_keras_applications_import_exactly(app: str, shape: tuple[int, ...], found: list[str], tmp_path: Path) -> None:
    model = getattr(keras.applications, app)(weights=None, input_shape=shape, classifier_activation=None)
    spec, _ = roundtrip(model, tmp_path)
    for text in found:  # repeated blocks became modules; the new ops as keras.applications computes them
        assert text in spec, text


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
        (lambda: [layers.Rescaling(0.5, offset=[0.0, 1.0, 2.0], name="scale")], "scale (Rescaling): an offset per channel"),
        (lambda: [layers.Normalization(mean=0.0, variance=1.0, invert=True, name="n")], "n (Normalization): invert=True"),
        (lambda: [layers.Dropout(0.5, noise_shape=(None, 1, 1, 3), name="d")], "d (Dropout): noise_shape=(None, 1, 1, 3)"),
        (lambda: [layers.Reshape((4, 16, 3), name="r")], "r (Reshape): target_shape=(4, 16, 3)"),
        (lambda: [lambda t: t / 2.0], "true_divide (TrueDivide): archc's rescale multiplies, and x·(1/c) rounds otherwise"),
        (lambda: [lambda t: t * t], "multiply (Multiply): it reads one tensor twice"),
        (
            lambda: [layers.MaxPooling2D(3, strides=2, padding="same", name="mp")],
            'mp (MaxPooling2D): padding="same" at its 8x8 input pads 0 before and 1 after',
        ),
        (
            lambda: [layers.Conv2D(4, 3, padding="same", activation="softplus", name="c")],
            "c (Conv2D): activation softplus has no archc activation",
        ),
        (lambda: [layers.LayerNormalization(center=False, name="ln")], "ln (LayerNormalization): center=False, scale=False or rms_scaling"),
        (lambda: [layers.Conv2D(4, 2, strides=2, padding="same", name="c")], None),  # 8 → 4: no padding, exact
        (
            lambda: [layers.ZeroPadding2D(((1, 0), (1, 0)), name="zp"), layers.MaxPooling2D(2, name="mp")],
            "mp (MaxPooling2D): it reads zp (ZeroPadding2D), whose padding (top 1, bottom 0, left 1, right 0) is not alike",
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
        (lambda: [layers.PReLU(name="pr")], "pr (PReLU): its slopes have shape (8, 8, 3)"),
        (lambda: [layers.ReLU(threshold=0.5, name="r")], "r (ReLU): threshold=0.5"),
    ],
)
def test_what_archc_cannot_express_is_refused_naming_the_layer(make: object, message: str | None) -> None:
    if message is None:  # the control: a stride-2 "same" that pads nothing imports
        inp = keras.Input((8, 8, 3))
        assert "c: conv 4 2x2 stride=2" in from_keras(keras.Model(inp, make()[0](inp)))
        return
    messages = [re.sub(r"^([a-z_]+?)_\d+ \(", r"\1 (", m) for m in refused(*make())]  # Keras' own names count up
    assert len(messages) == 1 and messages[0].startswith(message), messages


def test_every_refusal_is_listed() -> None:
    inp = keras.Input((8, 8, 3))
    a = layers.Conv2D(3, 1, name="a")(inp)
    m = layers.Lambda(lambda t: t * 2, name="gate")(a)
    u = layers.UpSampling2D(name="up")(inp)
    out = layers.Concatenate(name="cat")([layers.Conv2D(3, 2, strides=2, name="b")(u), m])
    with pytest.raises(ImportRefused) as info:
        import_keras(keras.Model(inp, out))
    messages = [d.message for d in info.value.diagnostics]
    assert sorted(m.split(":")[0] for m in messages) == ["gate (Lambda)", "up (UpSampling2D)"], (
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
