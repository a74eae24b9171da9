"""specs/zoo/convnext_tiny.arch is torchvision's convnext_tiny: the same parameters, and the same
outputs after torchvision's weights are copied in, in eval and (same seed) in train; its Keras
build agrees with the torch one after archc.weights.transfer.

torchvision applies each block's two nn.Linear layers to a channels-last tensor; the spec writes
them as `pointwise_dense`, whose PyTorch form is that: every tensor keeps its shape in the copy
(the 36 pointwise weights were reshaped while the spec wrote 1x1 convs).
"""

from __future__ import annotations

import re

import pytest

import archc
from tests.golden import ROOT

torch = pytest.importorskip("torch")

SPEC = ROOT / "specs" / "zoo" / "convnext_tiny.arch"
INPUT = (3, 64, 64)  # 64 / 4 / 2 / 2 / 2 = 2: the last stage still sees 2x2 maps
STAGES = (3, 3, 9, 3)
TORCHVISION_PARAMS = 28_589_128


def torchvision_models():
    """torchvision under the CPU torch (shared/reference/environment.md): its fake-kernel
    registrations name compiled ops that do not load, so they are skipped during the import."""
    register = torch.library.register_fake
    torch.library.register_fake = lambda *a, **k: lambda f: f
    try:
        tv = pytest.importorskip("torchvision")
    finally:
        torch.library.register_fake = register
    return tv.models


def spec_key(tv_key: str) -> str:
    """torchvision's state_dict key → the compiled model's (the spec's layer paths)."""
    head = {"features.0.0": "stem", "features.0.1": "stem_norm", "classifier.0": "norm", "classifier.2": "fc"}
    prefix, _, name = tv_key.rpartition(".")
    if prefix in head:
        return f"{head[prefix]}.{name}"
    m = re.fullmatch(r"features\.(\d+)\.(\d+)(?:\.block\.(\d))?", prefix)
    assert m is not None, tv_key
    feature, index, layer = int(m[1]), m[2], m[3]
    if name == "layer_scale":  # a CNBlock's own parameter, (C, 1, 1)
        return f"stage{(feature + 1) // 2}_{index}.block.scale.weight"
    if feature % 2 == 0:  # between stages: LayerNorm2d, then the 2x2 stride-2 conv
        return f"down{feature // 2}{'_norm' if index == '0' else ''}.{name}"
    block = {"0": "dwconv", "2": "norm", "3": "pwconv1", "5": "pwconv2"}[layer]
    return f"stage{(feature + 1) // 2}_{index}.block.{block}.{name}"


def randomised(model) -> None:
    """Layer scales and layer-norm tensors away from their initial 1e-6, 1 and 0, so that every
    block and norm moves the output (at 1e-6 the blocks would barely count)."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("layer_scale") or isinstance(model.get_submodule(name.rpartition(".")[0]), torch.nn.LayerNorm):
                scale = torch.rand(p.shape, generator=gen) * 0.5 + 0.5
                p.copy_(scale if not name.endswith("bias") else torch.randn(p.shape, generator=gen) * 0.1)


def copy_weights(tv_model, model) -> list[str]:
    """torchvision's tensors into the compiled model; returns the keys that needed a reshape."""
    state = model.state_dict()
    tv_state = tv_model.state_dict()
    mapped = {spec_key(k): k for k in tv_state}
    assert sorted(mapped) == sorted(state), "the mapping must be one to one"
    reshaped = []
    with torch.no_grad():
        for key, tv_key in mapped.items():
            src, dst = tv_state[tv_key], state[key]
            assert src.numel() == dst.numel(), key
            if src.shape != dst.shape:
                reshaped.append(key)
            dst.copy_(src.reshape(dst.shape))
    return reshaped


@pytest.fixture(scope="module")
def models():
    tv_model = torchvision_models().convnext_tiny(weights=None)
    randomised(tv_model)
    net = archc.load(SPEC, input=INPUT)
    model = archc.build_model(net, "torch")
    reshaped = copy_weights(tv_model, model)
    return net, tv_model.eval(), model.eval(), reshaped


def test_parameters_are_torchvisions() -> None:
    net = archc.load(SPEC)
    assert net.total_params == TORCHVISION_PARAMS
    assert net.macs == 4_455_531_264  # torchvision's meta: 4.46 GFLOPs (multiply-adds)


@pytest.mark.slow
def test_same_parameters_and_nothing_reshaped(models) -> None:
    _, tv_model, model, reshaped = models
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in tv_model.parameters()) == TORCHVISION_PARAMS
    assert reshaped == []
    blocks = [f"stage{s}_{i}" for s, n in enumerate(STAGES, 1) for i in range(n)]
    linears = [model.get_submodule(f"{b}.block.{layer}") for b in blocks for layer in ("pwconv1", "pwconv2")]
    assert len(linears) == 36 and all(isinstance(m, torch.nn.Linear) for m in linears)


@pytest.mark.slow
def test_stochastic_depth_rates_and_norm_eps_are_torchvisions(models) -> None:
    _, tv_model, model, _ = models
    tv_blocks = [block for stage in tv_model.features[1::2] for block in stage]
    ours = [m for name, m in model.named_modules() if name.endswith("block.drop")]
    assert [m.p for m in ours] == [b.stochastic_depth.p for b in tv_blocks]
    assert ours[0].p == 0.0 and ours[-1].p == 0.1
    tv_eps = [m.eps for m in tv_model.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert [m.eps for m in model.modules() if isinstance(m, torch.nn.LayerNorm)] == tv_eps == [1e-6] * len(tv_eps)


def relative(a, b) -> float:
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.slow
def test_outputs_equal_torchvisions_in_eval(models) -> None:
    _, tv_model, model, _ = models
    gen = torch.Generator().manual_seed(1)
    x1, x2 = torch.randn(2, *INPUT, generator=gen), torch.randn(2, *INPUT, generator=gen)
    with torch.no_grad():
        want1, want2 = tv_model(x1), tv_model(x2)
        got1, got2 = model(x1), model(x2)
    assert relative(want1, want2) > 0.1  # the output depends on the input: the comparison means something
    assert relative(got1, want1) <= 1e-5 and relative(got2, want2) <= 1e-5


@pytest.mark.slow
def test_train_mode_drops_the_same_blocks_as_torchvision(models) -> None:
    """Stochastic depth draws one number per sample and block, in the same order as torchvision."""
    _, tv_model, model, _ = models
    x = torch.randn(8, *INPUT, generator=torch.Generator().manual_seed(2))
    try:
        tv_model.train()
        model.train()
        with torch.no_grad():
            torch.manual_seed(5)
            want = tv_model(x)
            torch.manual_seed(5)
            got = model(x)
            torch.manual_seed(6)
            other = model(x)
    finally:
        tv_model.eval()
        model.eval()
    assert relative(got, want) <= 1e-5
    assert relative(other, want) > 1e-3  # other draws drop other blocks


@pytest.mark.slow
def test_keras_agrees_with_torch_after_the_weight_transfer(models) -> None:
    keras = pytest.importorskip("keras")
    import numpy as np

    from archc.weights import transfer

    net, _, model, _ = models
    kmodel = archc.build_model(net, "keras")
    assert sum(int(np.prod(w.shape)) for w in kmodel.trainable_weights) == TORCHVISION_PARAMS
    copied = transfer(model, kmodel, net)
    assert "stage1_0.block.scale" in copied and "stem_norm" in copied
    x = torch.randn(2, *INPUT, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        want = model(x).numpy()
    got = keras.ops.convert_to_numpy(kmodel(np.ascontiguousarray(x.numpy().transpose(0, 2, 3, 1)), training=False))
    assert float(np.abs(got - want).max() / np.abs(want).max()) <= 1e-5
