"""specs/zoo/keras: each spec's compiled Keras model is its keras.applications model.

For each spec, keras.applications.NAME(weights=None) at a small input size the application
accepts: the compiled model has the application's weight list (the same shapes in the same
order), and after `compiled.set_weights(app.get_weights())` the two give the same outputs in
inference, with batch-norm statistics calibrated so that the output depends on the input.
Keras runs under the backend KERAS_BACKEND names (TensorFlow when unset: tests/conftest.py sets
only TF_ENABLE_ONEDNN_OPTS).
"""

from __future__ import annotations

import pytest

keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")

import archc  # noqa: E402
from archc.build import generate  # noqa: E402
from tests.golden import ROOT  # noqa: E402

SIZE = 32  # the least input keras.applications takes for most of them
# and for the others; keras.applications builds EfficientNet's ImageNet graph (a second Rescaling,
# by 1/sqrt(stddev), after the Normalization) only for weights="imagenet", which takes 224x224 alone
SIZES = {"InceptionV3": 75, "EfficientNetB0": 224}
# Inputs are standard normal, or pixels about 128 ± 64 for an application that normalises them
# itself (ConvNeXt divides by ImageNet's std of about 58: unit noise would barely reach its output).
PIXELS = {"ConvNeXtTiny": (128.0, 64.0)}
# specs/zoo/keras/NAME.arch is keras.applications.NAME (the application's own name keeps the
# stem apart from specs/vgg16.arch: `archc examples` lists specs by stem).
NAMES = ("VGG16", "ResNet50", "DenseNet121", "MobileNetV2", "InceptionV3", "ConvNeXtTiny", "MobileNetV3Small", "EfficientNetB0")
ZOO = [pytest.param(name, marks=pytest.mark.slow) for name in NAMES]
# Kernels that would hold the application's numbers in its order but under another shape: none.
# (ConvNeXtTiny had 54 before `keras_kernel=grouped` and `pointwise_dense`: its depthwise convs
# as DepthwiseConv2D and its pointwise layers as 1x1 Conv2Ds.)
RESHAPED: dict[str, int] = {}
# Tolerances above 1e-5 of the output's scale: none. (EfficientNetB0 and MobileNetV3Small were
# 1.7e-5 and 1.0e-5 apart while their specs divided where keras.applications multiplies: by
# sqrt(stddev) with `normalize` before `rescale` took a factor per map, and by 6 in archc's
# hardsigmoid where the SE gate multiplies by 1/6.)
TOLERANCES: dict[str, float] = {}


def spec_path(spec: str) -> str:
    return str(ROOT / "specs" / "zoo" / "keras" / f"{spec}.arch")


def size(spec: str) -> int:
    return SIZES.get(spec, SIZE)


def images(spec: str, rng: np.random.Generator, *shape: int) -> np.ndarray:
    mean, std = PIXELS.get(spec, (0.0, 1.0))
    s = size(spec)
    return (mean + std * rng.standard_normal((*shape, s, s, 3))).astype("float32")


def application(spec: str, size: int) -> keras.Model:
    """keras.applications.NAME at size, returning logits, with freshly initialised weights.

    EfficientNet's graph for weights="imagenet" (the default) has a layer more than with
    weights=None; it is built here as for "imagenet", with the weights file's download and loading
    stubbed out, so its weights stay the initialiser's."""
    build = getattr(keras.applications, spec)
    if spec.startswith("EfficientNet"):
        from keras.src.applications import efficientnet
        from keras.src.models import Functional

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(efficientnet.file_utils, "get_file", lambda *args, **kwargs: "not downloaded")
            patch.setattr(Functional, "load_weights", lambda self, path: None)
            return build(weights="imagenet", input_shape=(size, size, 3), classifier_activation=None)
    return build(weights=None, input_shape=(size, size, 3), classifier_activation=None)


def models(spec: str) -> tuple[keras.Model, keras.Model]:
    """The application and the compiled spec at size(spec), both returning logits; initialised from a seed."""
    keras.utils.set_random_seed(0)
    s = size(spec)
    app = application(spec, s)
    compiled = archc.build_model(spec_path(spec), "keras", input=(3, s, s), classifier_activation=None)
    return app, compiled


def batchnorms(model: keras.Model) -> list[keras.layers.Layer]:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


def calibrate(model: keras.Model, x: np.ndarray, rng: np.random.Generator) -> None:
    """Random scale and shift per map (those a batch norm has: InceptionV3's have no scale), then
    moving statistics measured on x: one training-mode pass with momentum 0 sets each batch
    norm's moving mean and variance to those of its input. Layer scales (ConvNeXt's, 1e-6 at
    first, which would hide their blocks) become random too."""
    layers = batchnorms(model)
    for layer in layers:
        drawn = [rng.uniform(0.5, 1.5, layer.gamma.shape)] if layer.scale else []
        drawn += [rng.uniform(-0.5, 0.5, layer.beta.shape)] if layer.center else []
        layer.set_weights(drawn + layer.get_weights()[len(drawn) :])
    for layer in model.layers:
        if type(layer).__name__ == "LayerScale":
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape) for w in layer.get_weights()])
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.momentum = 0.0
    model(x, training=True)
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum


def imagenet_statistics(app: keras.Model) -> None:
    """EfficientNet's Normalization gets the ImageNet mean and variance its weights file holds
    (the spec's constants: the PyTorch model keeps them, and the compiled Keras model reads its
    weights, which set_weights brings). Keras' Normalization computes from constants taken by
    finalize_state, load_weights' last step, so set_weights alone would leave it at 0 and 1."""
    if app.name.startswith("efficientnet"):
        from keras.src.applications.efficientnet import IMAGENET_STDDEV_RGB

        norm = next(layer for layer in app.layers if isinstance(layer, keras.layers.Normalization))
        norm.set_weights([np.array([0.485, 0.456, 0.406]), np.square(IMAGENET_STDDEV_RGB), norm.get_weights()[2]])
        norm.finalize_state()


def outputs(model: keras.Model, x: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(x, training=False))


@pytest.mark.parametrize("spec", ZOO)
def test_compiled_model_is_the_application(spec: str) -> None:
    app, compiled = models(spec)
    want = [tuple(w.shape) for w in app.weights]
    got = [tuple(w.shape) for w in compiled.weights]
    assert len(got) == len(want)
    reshaped = [i for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w]
    assert len(reshaped) == RESHAPED.get(spec, 0), [(i, got[i], want[i]) for i in reshaped]
    for i in reshaped:  # the same numbers in the same order: only the 1s stand elsewhere
        assert [d for d in got[i] if d != 1] == [d for d in want[i] if d != 1], (i, got[i], want[i])
    assert compiled.count_params() == app.count_params()
    # keras.applications' batch-norm conventions, layer by layer: epsilon and Keras' momentum
    conventions = [v for bn in batchnorms(app) for v in (bn.epsilon, bn.momentum)]
    assert [v for bn in batchnorms(compiled) for v in (bn.epsilon, bn.momentum)] == pytest.approx(conventions, rel=1e-12)

    rng = np.random.default_rng(0)
    imagenet_statistics(app)
    calibrate(app, images(spec, rng, 4), rng)
    compiled.set_weights([w.reshape(shape) for w, shape in zip(app.get_weights(), got, strict=True)])
    a, b = images(spec, rng, 2, 2)
    scale = max(np.abs(outputs(app, a)).max(), np.abs(outputs(app, b)).max())
    diff = max(np.abs(outputs(compiled, inp) - outputs(app, inp)).max() for inp in (a, b))
    assert diff <= TOLERANCES.get(spec, 1e-5) * scale, f"{spec}: max difference {diff:.3e} at output scale {scale:.3e}"
    moved = np.abs(outputs(app, a) - outputs(app, b)).max()
    assert moved > 0.05 * scale, f"{spec}: the output barely depends on the input ({moved:.3e} at scale {scale:.3e})"
    print(
        f"\n{spec}: {len(want)} weights ({len(reshaped)} reshaped), {app.count_params():,} params, max difference {diff:.2e} (output scale {scale:.2e})"
    )


@pytest.mark.parametrize("spec", NAMES)
def test_top_is_the_softmax_classifier(spec: str) -> None:
    """include_top=True, classes=1000: classifier_activation defaults to softmax, as in keras.applications."""
    net = archc.load(spec_path(spec))
    assert net.nodes[net.output].shape == (1000,) and net.output in net.final_softmaxes
    assert 'classifier_activation="softmax"' in generate([net], "keras", spec_path(spec))


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["MobileNetV2", "InceptionV3", "ConvNeXtTiny", "MobileNetV3Small", "EfficientNetB0"])
def test_the_torch_model_computes_the_application_after_transfer(spec: str) -> None:
    """keras.applications' weights through weights.transfer into the generated PyTorch model:
    its depthwise kernels, correct_pad's zeros (F.pad) and batch norms give the application's output,
    InceptionV3's batch norms without γ and its average pools, ConvNeXt's layer norms, layer scales
    and normalisation too."""
    torch = pytest.importorskip("torch")
    from archc import weights

    app, compiled = models(spec)
    rng = np.random.default_rng(1)
    imagenet_statistics(app)
    calibrate(app, images(spec, rng, 4), rng)
    shapes = [tuple(w.shape) for w in compiled.weights]
    compiled.set_weights([w.reshape(shape) for w, shape in zip(app.get_weights(), shapes, strict=True)])
    net = archc.load(spec_path(spec), input=(3, size(spec), size(spec)))
    model = archc.build_model(net, "torch").eval()
    weights.transfer(compiled, model, net)
    x = images(spec, rng, 2)
    with torch.no_grad():
        got = model(torch.from_numpy(x.transpose(0, 3, 1, 2).copy())).numpy()
    want = outputs(app, x)
    scale = np.abs(want).max()
    diff = np.abs(got - want).max()
    assert diff <= 1e-4 * scale, f"{spec}: torch differs from keras.applications by {diff:.3e} at output scale {scale:.3e}"
    print(f"\n{spec}: torch vs keras.applications max difference {diff:.2e} (output scale {scale:.2e})")
