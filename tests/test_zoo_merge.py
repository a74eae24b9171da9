"""The squeeze-and-excitation, channel-split and shuffle zoo (issue 11) against torchvision 0.28.

Each spec in specs/zoo/ is torchvision's model exactly: the same parameter count, and the same
function once torchvision's tensors are copied into the compiled model. The copy goes in
state_dict order, pair by pair, each pair of equal shape (the spec's layer names are readable
ones, `block4.se.scale.fc1`, not torchvision's `features.4.block.2.fc1`), so that a layer out of
order or of another size fails the copy. Before comparing, torchvision's batch norms get random
scales and shifts and statistics measured on a batch (train mode with momentum=None, then eval):
fresh from the initialiser the output barely depends on the input (environment.md), and the test
checks that it moves between two inputs. Inputs are small (3x64x64), the specs shaped there with
`input=`.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest

import archc
from archc.weights import transfer
from tests.golden import ROOT

torch = pytest.importorskip("torch")

ZOO = ROOT / "specs" / "zoo"
INPUT = (3, 64, 64)
TOLERANCE = 1e-5  # of the output's scale
# spec → torchvision's builder and its parameter count (the weights' meta["num_params"])
MODELS = {
    "mobilenet_v3_small": 2_542_856,
    "regnet_y_400mf": 4_344_144,
    "shufflenet_v2_x1_0": 2_278_604,
    "mobilenet_v3_large": 5_483_032,
    "mnasnet1_0": 4_383_312,
}


@functools.cache
def torchvision() -> Any:
    """torchvision under the CPU torch: its fake-kernel registrations name ops the CUDA-built
    extension would have registered (environment.md), so they are no-ops during the import."""
    register = torch.library.register_fake
    torch.library.register_fake = lambda *args, **kwargs: lambda fn: fn
    try:
        import torchvision as tv
    finally:
        torch.library.register_fake = register
    return tv


def calibrated(model: Any, seed: int) -> Any:
    """Random batch-norm scales and shifts, and running statistics measured on a random batch."""
    gen = torch.Generator().manual_seed(seed)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in norms:
            bn.weight.copy_(torch.rand(bn.weight.shape, generator=gen) + 0.5)
            bn.bias.copy_(torch.randn(bn.bias.shape, generator=gen) * 0.2)
            bn.reset_running_stats()
        momenta = [bn.momentum for bn in norms]
        for bn in norms:
            bn.momentum = None  # a cumulative average: after one batch, that batch's statistics
        model.train()
        model(torch.randn(8, *INPUT, generator=gen))
        for bn, momentum in zip(norms, momenta, strict=True):
            bn.momentum = momentum
    return model.eval()


def copy_in_order(src: Any, dst: Any) -> int:
    """Every tensor of src's state_dict into dst's, pair by pair in order; shapes must agree."""
    theirs, ours = src.state_dict(), dst.state_dict()
    assert len(theirs) == len(ours), f"{len(theirs)} tensors in torchvision's state_dict, {len(ours)} in the compiled model's"
    with torch.no_grad():
        for (tk, tv), (ok, ov) in zip(theirs.items(), ours.items(), strict=True):
            assert tv.shape == ov.shape, f"torchvision's {tk} is {tuple(tv.shape)}, the compiled {ok} is {tuple(ov.shape)}"
            ov.copy_(tv)
    return len(ours)


@functools.cache
def pair(name: str) -> tuple[Any, Any]:
    """(torchvision's model, the compiled one), calibrated, with the same tensors, in eval()."""
    theirs = calibrated(getattr(torchvision().models, name)(weights=None), seed=1)
    ours = archc.build_model(ZOO / f"{name}.arch", "torch", input=INPUT)
    copy_in_order(theirs, ours)
    return theirs, ours.eval()


def relative(a: Any, b: Any) -> float:
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("name", list(MODELS))
def test_the_spec_is_clean_and_counts_torchvisions_parameters(name: str) -> None:
    comp = archc.compile_file(str(ZOO / f"{name}.arch"))
    assert comp.diagnostics == []
    (net,) = comp.networks
    assert sum(n.params for n in net.layers) == MODELS[name]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MODELS))
def test_the_compiled_model_computes_torchvisions_function(name: str) -> None:
    theirs, ours = pair(name)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters()) == MODELS[name]
    gen = torch.Generator().manual_seed(2)
    x1, x2 = torch.randn(2, *INPUT, generator=gen), torch.randn(2, *INPUT, generator=gen)
    with torch.no_grad():
        want1, want2 = theirs(x1), theirs(x2)
        got1, got2 = ours(x1), ours(x2)
    assert got1.shape == want1.shape == (2, 1000)
    assert relative(want2, want1) > 1e-2, "the output hardly moves between two inputs: the comparison would prove little"
    assert relative(got1, want1) <= TOLERANCE
    assert relative(got2, want2) <= TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mobilenet_v3_small", "shufflenet_v2_x1_0"])
def test_the_keras_build_agrees_after_the_weight_transfer(name: str) -> None:
    pytest.importorskip("keras")
    _, ours = pair(name)
    keras_model = archc.build_model(ZOO / f"{name}.arch", "keras", input=INPUT, classifier_activation=None)
    transfer(ours, keras_model)
    x = torch.randn(2, *INPUT, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        want = ours(x)
    got = np.array(keras_model(np.transpose(x.numpy(), (0, 2, 3, 1)), training=False))
    assert relative(torch.from_numpy(got), want) <= 1e-4
