"""Weight transfer torch ↔ keras: layouts, groups, tables, the flatten permutation, aux heads."""

from __future__ import annotations

import textwrap

import pytest

torch = pytest.importorskip("torch")
keras = pytest.importorskip("keras")
np = pytest.importorskip("numpy")

import archc  # noqa: E402
from archc import weights  # noqa: E402
from archc.backends.keras import flatten_source  # noqa: E402
from archc.runtime import build_model  # noqa: E402
from archc.verify import verify  # noqa: E402
from tests.golden import ROOT  # noqa: E402

SPATIAL_FLATTEN = textwrap.dedent(
    """
    network Head {
        input image: 3x6x5
        conv 4 3x3 relu
        flatten
        drop: dropout 0.5
        fc: dense 7
        out: rbf 3 from fc
    }
    """
)


def load(spec: str) -> archc.Network:
    return archc.load(ROOT / "specs" / f"{spec}.arch")


def randomise_batchnorm(model: torch.nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)


@pytest.mark.parametrize("spec", ["lenet5", "googlenet", "examples/resnet18"])
def test_torch_keras_torch_round_trip_is_exact(spec: str) -> None:
    net = load(spec)
    torch.manual_seed(1)
    source, target = build_model(net, "torch"), build_model(net, "torch")
    randomise_batchnorm(source)
    middle = build_model(net, "keras", aux=True)
    copied = weights.transfer(source, middle, net)
    assert copied == [n.qualname for n in net.layers if n.params]
    weights.transfer(middle, target, net)
    want, got = source.state_dict(), target.state_dict()
    assert want.keys() == got.keys()
    for key in want:
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(want[key], got[key]), key


def test_keras_to_torch_gives_the_same_function() -> None:
    net = load("examples/resnet18")
    keras.utils.set_random_seed(2)
    source = build_model(net, "keras")
    for layer in source.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(np.random.default_rng(0).uniform(-1, 1, layer.moving_mean.shape))
            layer.moving_variance.assign(np.random.default_rng(1).uniform(0.5, 2, layer.moving_variance.shape))
    target = build_model(net, "torch").eval()
    weights.transfer(source, target, net)
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype("float32")
    with torch.no_grad():
        want = target(torch.from_numpy(x)).numpy()
    got = keras.ops.convert_to_numpy(source(np.moveaxis(x, 1, -1), training=False))
    assert np.abs(want - got).max() <= 1e-4 * np.abs(want).max()


def test_layouts_of_grouped_and_table_convs() -> None:
    net = load("alexnet")
    torch.manual_seed(0)
    source, target = build_model(net, "torch"), build_model(net, "keras")
    weights.transfer(source, target, net)
    w, k = source.conv2.weight.detach().numpy(), keras.ops.convert_to_numpy(target.get_layer("conv2").kernel)
    assert w.shape == (256, 48, 5, 5) and k.shape == (5, 5, 48, 256)
    assert k[1, 2, 47, 200] == w[200, 47, 1, 2]
    lenet = load("lenet5")
    source, target = build_model(lenet, "torch"), build_model(lenet, "keras")
    weights.transfer(source, target, lenet)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(target.get_layer("C3").kernel), source.C3.weight.detach().numpy())
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(target.get_layer("S2").coefficient), source.S2.weight.detach().numpy())


def test_flatten_order_maps_keras_features_to_torch_features() -> None:
    net = archc.load(SPATIAL_FLATTEN)
    fc, out = (n for n in net.layers if n.op in ("dense", "rbf"))
    assert flatten_source(net, fc) is not None and flatten_source(net, out) is None
    assert weights.flatten_dims(net, fc) == (4, 4, 3)
    rng = np.random.default_rng(0)
    maps = rng.standard_normal((4, 4, 3))  # C, H, W
    torch_flat, keras_flat = maps.reshape(-1), maps.transpose(1, 2, 0).reshape(-1)
    w = rng.standard_normal((7, 48))  # torch's (out, in)
    to_keras, to_torch = weights.converters(net, fc, "weight")
    np.testing.assert_allclose(keras_flat @ to_keras(w), w @ torch_flat)  # the same features, each in its own order
    np.testing.assert_array_equal(to_torch(to_keras(w)), w)
    assert verify(net).ok


def test_without_the_permutation_the_outputs_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    net = archc.load(SPATIAL_FLATTEN)
    monkeypatch.setattr(weights, "flatten_dims", lambda net, node: None)
    result = verify(net)
    assert not result.ok and "FAIL" in result.text()


def test_aux_heads_skipped_when_the_keras_model_has_none() -> None:
    net = load("googlenet")
    torch.manual_seed(0)
    source = build_model(net, "torch")
    before = source.aux1.fc2.weight.detach().clone()
    plain = build_model(net, "keras")
    copied = weights.transfer(source, plain, net)
    assert "aux1.fc2" not in copied and "inception5b.b4.conv_1" in copied
    weights.transfer(plain, source, net)
    assert torch.equal(source.aux1.fc2.weight, before)


def test_transfer_refuses_what_it_cannot_map() -> None:
    net = load("lenet5")
    t, k = build_model(net, "torch"), build_model(net, "keras")
    with pytest.raises(TypeError, match="between torch and keras"):
        weights.transfer(t, build_model(net, "torch"), net)
    with pytest.raises(TypeError, match=r"takes a torch\.nn\.Module and a keras\.Model"):
        weights.transfer(object(), k, net)
    assert weights.transfer(t, k) and weights.transfer(k, t)  # build_model's models carry their network
    del t.archc_network, k.archc_network
    with pytest.raises(ValueError, match="net="):
        weights.transfer(t, k)
    with pytest.raises(KeyError, match="no layer"):
        weights.transfer(t, build_model(load("alexnet"), "keras"), net)


def test_load_state_dict_pairs_two_specs_of_one_network_by_structure() -> None:
    """The example ResNet-18 and the zoo's name their layers differently (layer2_0 vs layer2.block0,
    shortcut vs downsample); load_state_dict pairs them by order and shape, and the outputs agree.
    (Against torchvision's own models: tests/test_zoo.py.)"""
    torch.manual_seed(0)
    source = build_model(ROOT / "specs" / "examples" / "resnet18.arch", input=(3, 32, 32))
    randomise_batchnorm(source)
    target = build_model(ROOT / "specs" / "zoo" / "resnet18.arch", input=(3, 32, 32))
    pairs = weights.load_state_dict(target, source.state_dict())
    assert pairs["layer2.block0.downsample.conv.weight"] == "layer2_0.shortcut.conv.weight"
    assert len(pairs) == len([k for k in source.state_dict() if not k.endswith(weights.BOOKKEEPING)])
    x = torch.randn(2, 3, 32, 32)
    source.eval(), target.eval()
    with torch.no_grad():
        assert torch.equal(source(x), target(x))
