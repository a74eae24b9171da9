"""The specs under specs/zoo/ are torchvision's models: parameters, MACs and outputs (tests/zoo.py).

Outputs are compared after torchvision's weights go into the compiled model through
archc.weights.load_state_dict, with calibrated batch norms, at small inputs and batch 2; the
comparison first checks that the output moves with the input, so that it proves something.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import archc  # noqa: E402
from archc import weights  # noqa: E402
from archc.memory import non_trainable  # noqa: E402
from tests import zoo  # noqa: E402

try:
    zoo.torchvision()
except ImportError:
    pytest.skip("torchvision is not installed", allow_module_level=True)

TOLERANCE = 1e-5  # of the output's scale
MOVES = 1e-2  # two random inputs must change the output by at least this much of its scale


def ids(models: list[zoo.Model]) -> list[str]:
    return [m.name for m in models]


def outputs_cases() -> list[object]:
    return [pytest.param(m, size, id=f"{m.name}-{size}", marks=[pytest.mark.slow] if m.slow else []) for m in zoo.ZOO for size in m.sizes]


def test_every_zoo_spec_has_a_row_and_every_row_a_spec() -> None:
    assert sorted(p.stem for p in zoo.ZOO_DIR.glob("*.arch")) == sorted(zoo.BY_NAME)


@pytest.mark.parametrize("model", zoo.ZOO, ids=ids(zoo.ZOO))
def test_parameters_equal_torchvisions(model: zoo.Model) -> None:
    net = archc.load(model.spec)
    tv = zoo.reference(model, "meta")
    with torch.device("meta"):
        ours = archc.build_model(net)
    count = sum(p.numel() for p in tv.parameters())
    assert net.total_params == count
    assert (net.inference_params if model.published_without_aux else net.total_params) == zoo.published(model)["num_params"]
    assert sum(p.numel() for p in ours.parameters()) == count
    statistics = sum(b.numel() for n, b in tv.named_buffers() if not n.endswith(weights.BOOKKEEPING))
    assert sum(non_trainable(n) for n in net.layers) == statistics  # the summary's running means and variances


@pytest.mark.parametrize("model", zoo.ZOO, ids=ids(zoo.ZOO))
def test_macs_equal_torchvisions(model: zoo.Model) -> None:
    """archc's `macs` (conv and dense weights, inference path, batch 1) is torchvision's `_ops`:
    equal to the multiply-adds of its Conv2d and Linear layers counted on its model, and to the
    published GMACs at the model's own input size (224, Inception's 299) to their 3 decimals."""
    net = archc.load(model.spec)
    assert net.macs == zoo.conv_linear_macs(zoo.reference(model, "meta"), net.nodes[0].shape)
    assert round(net.macs / 1e9, 3) == zoo.published(model)["_ops"]


def test_the_mac_counter_counts_groups_and_linear_layers() -> None:
    """The counter the test above trusts: a grouped conv and a linear layer, by hand."""
    layers = torch.nn.Sequential(torch.nn.Conv2d(4, 6, 3, padding=1, groups=2), torch.nn.Flatten(), torch.nn.Linear(6 * 5 * 5, 10))
    assert zoo.conv_linear_macs(layers.to("meta"), (4, 5, 5)) == 5 * 5 * 6 * 3 * 3 * 2 + 150 * 10


@pytest.mark.parametrize("model", zoo.ZOO, ids=ids(zoo.ZOO))
def test_specs_pass_strict_check_and_are_formatted(model: zoo.Model) -> None:
    from archc.cli import main

    assert main(["check", "--strict", str(model.spec)]) == 0
    assert main(["fmt", "--check", str(model.spec)]) == 0


@pytest.mark.parametrize(("model", "size"), outputs_cases())
def test_outputs_equal_torchvisions(model: zoo.Model, size: int) -> None:
    torch.manual_seed(0)
    tv = zoo.reference(model)
    zoo.calibrate(tv, size=size)
    ours = archc.build_model(model.spec, input=(3, size, size)).eval()
    pairs = weights.load_state_dict(ours, tv.state_dict())
    assert sorted(pairs.values()) == sorted(k for k in tv.state_dict() if not k.endswith(weights.BOOKKEEPING))
    x, y = torch.randn(2, 3, size, size), torch.randn(2, 3, size, size)
    with torch.no_grad():
        want_x, want_y, got_x = tv(x), tv(y), ours(x)
    assert zoo.relative_error(want_y, want_x) > MOVES, "the output hardly depends on the input: the comparison would prove nothing"
    assert got_x.shape == want_x.shape == (2, 1000)
    error = zoo.relative_error(got_x, want_x)
    print(f"\n{model.name} at {size}x{size}: max difference {error:.2e} of torchvision's output scale")  # pytest -s shows the figures
    assert error <= TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("model", [m for m in zoo.ZOO if m.aux], ids=ids([m for m in zoo.ZOO if m.aux]))
def test_aux_outputs_equal_torchvisions_in_train_mode(model: zoo.Model) -> None:
    size = model.sizes[0]
    torch.manual_seed(0)
    tv = zoo.reference(model)
    zoo.calibrate(tv, size=size)
    ours = archc.build_model(model.spec).eval()
    weights.load_state_dict(ours, tv.state_dict())
    tv.train(), ours.train()
    for module in [*tv.modules(), *ours.modules()]:
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0  # the two forwards draw their masks in different orders
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        want = tv(x)
        got = ours(x)
    # (main, aux...) against torchvision's InceptionOutputs(logits, aux_logits) or
    # GoogLeNetOutputs(logits, aux_logits2, aux_logits1), by field
    expected = [want.logits, *(getattr(want, field) for field in model.aux)]
    assert len(got) == len(expected) == len(want)
    for g, w in zip(got, expected, strict=True):
        assert g.shape == w.shape == (2, 1000)
        assert zoo.relative_error(g, w) <= TOLERANCE
    assert zoo.relative_error(expected[1], expected[0]) > MOVES  # two different heads, so the pairing is tested


@pytest.mark.parametrize("model", zoo.ZOO, ids=ids(zoo.ZOO))
def test_state_dict_keys_torchvision_spells_alike(model: zoo.Model) -> None:
    """How many keys the spec's names give exactly as torchvision does; plain strict loading needs
    all of them. No zoo spec gets there: torchvision's keys need a module's input by name (a
    residual sum or concat without branch scopes: `layer1.0.conv1`) and layer names that are
    numbers (`downsample.0`, `features.3`), neither of which the language has."""
    tv = zoo.reference(model, "meta")
    with torch.device("meta"):
        ours = archc.build_model(model.spec)
    same = set(ours.state_dict()) & set(tv.state_dict())
    assert len(same) == model.same_keys
    assert same != set(tv.state_dict())  # so `ours.load_state_dict(tv.state_dict(), strict=True)` fails


# -- archc.weights.load_state_dict: the error path and the bookkeeping ---------------------------
@pytest.fixture(scope="module")
def resnet18() -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
    """The compiled ResNet-18 and a torchvision checkpoint for it (the checkpoint is copied per test)."""
    torch.manual_seed(0)
    return archc.build_model(zoo.BY_NAME["resnet18"].spec), zoo.reference(zoo.BY_NAME["resnet18"]).state_dict()


def mismatch(ours: torch.nn.Module, checkpoint: dict[str, torch.Tensor]) -> weights.StateDictMismatch:
    before = {k: v.clone() for k, v in ours.state_dict().items()}
    with pytest.raises(weights.StateDictMismatch) as caught:
        weights.load_state_dict(ours, checkpoint)
    after = ours.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "a failed load must leave the model as it was"
    return caught.value


def test_a_wrong_shape_names_both_keys_and_shapes(resnet18: tuple[torch.nn.Module, dict[str, torch.Tensor]]) -> None:
    ours, checkpoint = resnet18
    bad = dict(checkpoint, **{"layer2.0.conv1.weight": torch.zeros(128, 64, 1, 1)})
    error = mismatch(ours, bad)
    assert str(error) == (
        "checkpoint tensor layer2.0.conv1.weight (128, 64, 1, 1) does not fit model tensor "
        "layer2.block0.residual.conv1.weight (128, 64, 3, 3) (layer layer2.0.conv1 → layer2.block0.residual.conv1)"
    )
    assert (error.source_key, error.target_key) == ("layer2.0.conv1.weight", "layer2.block0.residual.conv1.weight")
    assert (error.source_shape, error.target_shape) == ((128, 64, 1, 1), (128, 64, 3, 3))
    assert isinstance(error, ValueError)


def test_an_extra_tensor_is_named(resnet18: tuple[torch.nn.Module, dict[str, torch.Tensor]]) -> None:
    ours, checkpoint = resnet18
    error = mismatch(ours, {**checkpoint, "head.weight": torch.zeros(10, 1000)})
    assert str(error) == "checkpoint tensor head.weight (10, 1000) is left over (the model's 41 layers with tensors are all taken)"
    assert (error.source_key, error.target_key, error.target_shape) == ("head.weight", None, None)


def test_an_extra_tensor_inside_a_layer_is_named(resnet18: tuple[torch.nn.Module, dict[str, torch.Tensor]]) -> None:
    ours, checkpoint = resnet18
    with_bias = {}
    for key, value in checkpoint.items():
        with_bias[key] = value
        if key == "conv1.weight":
            with_bias["conv1.bias"] = torch.zeros(64)  # a conv bias the spec's bias=false conv lacks
    error = mismatch(ours, with_bias)
    assert str(error) == "checkpoint tensor conv1.bias (64,) is left over (layer conv1 → conv1)"


def test_a_missing_tensor_is_named(resnet18: tuple[torch.nn.Module, dict[str, torch.Tensor]]) -> None:
    ours, checkpoint = resnet18
    error = mismatch(ours, {k: v for k, v in checkpoint.items() if k != "fc.bias"})
    assert str(error) == "model tensor fc.bias (1000,) gets no checkpoint tensor (layer fc → fc)"
    assert (error.source_key, error.target_key, error.target_shape) == (None, "fc.bias", (1000,))
    error = mismatch(ours, {k: v for k, v in checkpoint.items() if not k.startswith("fc.")})
    assert (
        str(error) == "model tensor fc.weight (1000, 512) gets no checkpoint tensor (the checkpoint's 40 layers with tensors are all used)"
    )


def test_batch_norm_counters_are_copied_where_the_checkpoint_has_them(resnet18: tuple[torch.nn.Module, dict[str, torch.Tensor]]) -> None:
    ours, checkpoint = resnet18
    counted = {k: torch.tensor(7) if k.endswith(weights.BOOKKEEPING) else v for k, v in checkpoint.items()}
    counted["layer1.0.bn1.num_batches_tracked"] = torch.tensor(3)
    weights.load_state_dict(ours, counted)
    state = ours.state_dict()
    assert int(state["layer1.0.residual.bn1.num_batches_tracked"]) == 3
    assert {int(v) for k, v in state.items() if k.endswith(weights.BOOKKEEPING)} == {3, 7}
    # an old checkpoint without counters loads, and the model keeps its own
    old = {k: v for k, v in checkpoint.items() if not k.endswith(weights.BOOKKEEPING)}
    pairs = weights.load_state_dict(ours, old)
    assert int(ours.state_dict()["layer1.0.residual.bn1.num_batches_tracked"]) == 3
    assert len(pairs) == len(old) and len(set(pairs.values())) == len(old)  # every checkpoint tensor used once
    assert torch.equal(ours.state_dict()["layer4.block1.residual.conv2.weight"], checkpoint["layer4.1.conv2.weight"])


def test_tensors_of_one_shape_pair_by_their_names_too(resnet18: tuple[torch.nn.Module, dict[str, torch.Tensor]]) -> None:
    ours, checkpoint = resnet18
    keys = list(checkpoint)
    i = keys.index("bn1.weight")
    keys[i], keys[i + 1] = keys[i + 1], keys[i]  # bn1.bias before bn1.weight: both (64,)
    error = mismatch(ours, {k: checkpoint[k] for k in keys})
    assert str(error) == "checkpoint tensor bn1.bias (64,) does not fit model tensor bn1.weight (64,) (layer bn1 → bn1)"


@pytest.mark.parametrize("model", zoo.ZOO, ids=ids(zoo.ZOO))
def test_the_spec_takes_the_input_sizes_torchvision_takes(model: zoo.Model) -> None:
    """Around torchvision's smallest input and at a few others, the spec shapes exactly where
    torchvision's model runs (on the meta device: shapes only). A model with an aux head is asked
    in train mode, where torchvision runs the head too: the spec shapes its aux heads at every
    input, so it cannot take the sizes torchvision's eval mode alone takes (Inception-v3: 75 to 298)."""
    tv = zoo.reference(model, "meta").train(bool(model.aux))
    low = zoo.published(model)["min_size"][0]
    sizes = sorted({*range(max(1, low - 2), low + 3), 64, 97, 224, 299, 300})
    accepted = {}
    for size in sizes:
        try:
            with torch.no_grad():
                tv(torch.empty(2, 3, size, size, device="meta"))
        except (RuntimeError, ValueError):
            accepted[size] = False
        else:
            accepted[size] = True
    shaped = {}
    for size in sizes:
        try:
            archc.load(model.spec, input=(3, size, size))
        except archc.CompileError:
            shaped[size] = False
        else:
            shaped[size] = True
    assert shaped == accepted
    assert any(accepted.values())
    if low > 1:
        assert not all(accepted.values())  # the sizes reach below torchvision's smallest
