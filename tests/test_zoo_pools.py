"""specs/zoo/{alexnet,vgg16,vgg16_bn,googlenet}.arch against torchvision.models.NAME(weights=None).

For each: the compiled PyTorch model has torchvision's parameter count; after torchvision's
weights are copied into it, both give the same outputs in eval() (GoogLeNet's aux heads too,
in train() with dropout off); and the Keras build agrees with the torch build after
archc.weights.transfer (archc.verify). The networks are run at small inputs: their adaptive
pools let them take any size torchvision accepts, and AlexNet is run at two.

torchvision's state_dict numbers the members of its nn.Sequential containers
(`features.0.weight`); a spec name cannot be a number, so those keys differ. AlexNet and VGG
are copied in state_dict order, with the container (`features.`, `classifier.`) and every
shape checked to agree; GoogLeNet's keys are torchvision's except inside the Sequential
branches (BRANCHES below), and are copied by name.

torchvision is imported as /work/shared/reference/environment.md explains: its compiled
extension does not load under the CPU build of torch, so `torch.library.register_fake` is a
no-op during the import. Batch-norm statistics are measured on a random batch and the affine
parameters drawn at random first, so that the outputs depend on the input (checked).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import archc

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 1e-5  # of the output's scale (its largest magnitude)

# spec → (torchvision builder, its keywords, an input size)
MODELS: dict[str, tuple[str, dict[str, Any], tuple[int, int, int]]] = {
    "alexnet": ("alexnet", {}, (3, 63, 63)),
    "vgg16": ("vgg16", {}, (3, 32, 32)),
    "vgg16_bn": ("vgg16_bn", {}, (3, 64, 64)),
    "googlenet": ("googlenet", {"aux_logits": True, "transform_input": False, "init_weights": True}, (3, 96, 96)),
}
PARAMS = {"alexnet": 61_100_840, "vgg16": 138_357_544, "vgg16_bn": 138_365_992, "googlenet": 13_004_888}
# GoogLeNet's inception branches as this spec names their members, and as torchvision's nn.Sequential numbers them.
BRANCHES = {"branch2.reduce.": "branch2.0.", "branch2.conv.": "branch2.1.", "branch3.reduce.": "branch3.0.", "branch3.conv.": "branch3.1."}
BRANCHES["branch4.proj."] = "branch4.1."


@pytest.fixture(scope="module")
def torchvision() -> Any:
    real = torch.library.register_fake
    torch.library.register_fake = lambda *args, **kwargs: lambda fn: fn
    try:
        import torchvision
    except ImportError:
        pytest.skip("torchvision is not installed")
    finally:
        torch.library.register_fake = real
    return torchvision


def reference_model(torchvision: Any, spec: str, shape: tuple[int, int, int]) -> Any:
    """torchvision's model, with random batch-norm affine parameters and statistics measured on a batch."""
    name, kwargs, _ = MODELS[spec]
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None, **kwargs)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for bn in bns:
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.normal_(0.0, 0.2)
            bn.momentum = None  # a cumulative average: one batch gives exactly its statistics
            bn.reset_running_stats()
        if bns:
            model.train()
            model(torch.randn(4, *shape))
    for bn in bns:
        bn.momentum = 0.1
    return model.eval()


def their_key(spec: str, ours: str) -> str:
    for mine, theirs in BRANCHES.items():
        ours = ours.replace(f".{mine}", f".{theirs}")
    return ours


def copy_weights(spec: str, theirs: Any, ours: Any) -> str:
    """torchvision's state_dict into the compiled model; says how the keys were matched."""
    src, dst = theirs.state_dict(), ours.state_dict()
    assert len(src) == len(dst)
    if spec == "googlenet":
        mapping = {key: their_key(spec, key) for key in dst}
        how = "by name (the Sequential branches renamed)"
    else:
        mapping = dict(zip(dst, src, strict=True))
        how = "in state_dict order"
        for mine, other in mapping.items():  # same container, same tensor kind: features.conv1.weight ↔ features.0.weight
            assert mine.split(".")[0] == other.split(".")[0] and mine.split(".")[-1] == other.split(".")[-1], (mine, other)
    assert sorted(mapping.values()) == sorted(src), "every torchvision tensor is copied once"
    for mine, other in mapping.items():
        assert dst[mine].shape == src[other].shape, (mine, other)
    ours.load_state_dict({mine: src[other] for mine, other in mapping.items()})
    return how


def relative(a: Any, b: Any) -> float:
    return float((a - b).abs().max() / b.abs().max())


def compiled(spec: str, shape: tuple[int, int, int]) -> Any:
    net = archc.load(ROOT / "specs" / "zoo" / f"{spec}.arch", input=shape)
    return net, archc.build_model(net, "torch")


def check_eval(torchvision: Any, spec: str, shape: tuple[int, int, int]) -> float:
    theirs = reference_model(torchvision, spec, shape)
    net, ours = compiled(spec, shape)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters()) == PARAMS[spec]
    assert net.total_params == PARAMS[spec]
    copy_weights(spec, theirs, ours)
    ours.eval()
    x, other = torch.randn(2, *shape), torch.randn(2, *shape)
    with torch.no_grad():
        want, got = theirs(x), ours(x)
        moved = relative(theirs(other), want)
    assert got.shape == want.shape == (2, 1000)
    assert moved > 1e-2, f"the output barely depends on the input ({moved:.1e} of its scale): the comparison proves little"
    diff = relative(got, want)
    assert diff <= TOLERANCE, diff
    return diff


@pytest.mark.parametrize("spec", ["vgg16", "vgg16_bn", "googlenet"])
def test_outputs_equal_torchvisions(torchvision: Any, spec: str) -> None:
    check_eval(torchvision, spec, MODELS[spec][2])


@pytest.mark.parametrize("side", [63, 100])  # 63: every window repeats one value; 100: 2x2 → 6x6, uneven
def test_alexnet_at_two_input_sizes(torchvision: Any, side: int) -> None:
    check_eval(torchvision, "alexnet", (3, side, side))


def test_googlenet_aux_heads_equal_torchvisions_in_train(torchvision: Any) -> None:
    """train(): batch statistics, and every output; dropout off, so that the outputs are deterministic."""
    shape = MODELS["googlenet"][2]
    theirs = reference_model(torchvision, "googlenet", shape)
    _, ours = compiled("googlenet", shape)
    copy_weights("googlenet", theirs, ours)
    for model in (theirs, ours):
        model.train()
        for m in model.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0
    x = torch.randn(3, *shape)
    with torch.no_grad():
        logits, aux2, aux1 = theirs(x)  # torchvision's GoogLeNetOutputs order
        main, mine1, mine2 = ours(x)
    for want, got in ((logits, main), (aux1, mine1), (aux2, mine2)):
        assert relative(got, want) <= TOLERANCE
    assert relative(aux1, aux2) > 1e-2  # two different heads


def test_spec_names_match_torchvision_where_the_language_allows(torchvision: Any) -> None:
    shape = MODELS["googlenet"][2]
    theirs = reference_model(torchvision, "googlenet", shape)
    _, ours = compiled("googlenet", shape)
    same = set(ours.state_dict()) & set(theirs.state_dict())
    assert "conv1.conv.weight" in same and "inception3a.branch1.bn.running_var" in same and "aux1.fc2.bias" in same
    differ = {k for k in ours.state_dict() if k not in same}
    assert all(re.search(r"\.branch[234]\.(reduce|conv|proj)\.", k) for k in differ), sorted(differ)[:5]


@pytest.mark.parametrize("spec", list(MODELS))
def test_keras_build_agrees_with_torch(spec: str) -> None:
    from archc.verify import verify

    net = archc.load(ROOT / "specs" / "zoo" / f"{spec}.arch", input=MODELS[spec][2])
    result = verify(net)
    assert result.ok, result.text()
