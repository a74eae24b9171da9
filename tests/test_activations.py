"""Each activation of the reference executor against its definition in docs/language.md.

The reference calls torch's own kernels (so that the generated code must agree with it bit for
bit); this holds those kernels, with the options as the reference passes them, to the formulas.
"""

from __future__ import annotations

import math

import pytest

from archc import ops, reference
from archc.backends.pytorch import FUSED_INPLACE

torch = pytest.importorskip("torch")

X = torch.linspace(-7, 7, 1401, dtype=torch.float64)


def phi(x):  # the standard normal CDF
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))


def relu6(x):
    return x.clamp(0, 6)


DEFINITIONS = {
    ("relu", ()): lambda x: torch.maximum(x, torch.zeros_like(x)),
    ("relu6", ()): relu6,
    ("leaky_relu", ()): lambda x: torch.where(x >= 0, x, 0.01 * x),
    ("leaky_relu", (("slope", 0.2),)): lambda x: torch.where(x >= 0, x, 0.2 * x),
    ("elu", ()): lambda x: torch.where(x > 0, x, torch.exp(x) - 1),
    ("elu", (("alpha", 0.5),)): lambda x: torch.where(x > 0, x, 0.5 * (torch.exp(x) - 1)),
    ("gelu", ()): lambda x: x * phi(x),
    ("gelu", (("approximate", "tanh"),)): lambda x: 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
    ("silu", ()): lambda x: x / (1 + torch.exp(-x)),
    ("hardswish", ()): lambda x: x * relu6(x + 3) / 6,
    ("hardsigmoid", ()): lambda x: relu6(x + 3) / 6,
    ("tanh", ()): torch.tanh,
    ("sigmoid", ()): lambda x: 1 / (1 + torch.exp(-x)),
    ("scaled_tanh", ()): lambda x: 1.7159 * torch.tanh(2 * x / 3),
}


def test_every_fused_activation_has_a_definition_here() -> None:
    assert {name for name, _ in DEFINITIONS} == set(ops.ACTIVATIONS) - {"softmax"}


@pytest.mark.parametrize(("name", "options"), list(DEFINITIONS), ids=lambda v: str(v))
def test_reference_activation_is_its_definition(name: str, options: tuple[tuple[str, object], ...]) -> None:
    attrs = {**ops.activation_attrs(name), **dict(options)}
    got = reference.ACTIVATIONS[name](X, attrs)
    want = DEFINITIONS[name, options](X)
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-12), float((got - want).abs().max())


def test_softmax_is_over_the_maps() -> None:
    x = torch.randn(2, 5, 3, 3, dtype=torch.float64)
    got = reference.ACTIVATIONS["softmax"](x, {})
    assert torch.allclose(got, x.exp() / x.exp().sum(1, keepdim=True))


def test_prelu_takes_one_slope_per_map() -> None:
    import archc

    net = archc.load("network P {\n input 2x1x2\n prelu\n}")
    node = net.layers[-1]
    x = torch.tensor([[[[-1.0, 2.0]], [[-3.0, 4.0]]]])
    out = reference.OPS["prelu"](node, [x], reference._ParamView({"prelu.weight": torch.tensor([0.5, 0.25])}, "prelu"), False)
    assert out.tolist() == [[[[-0.5, 2.0]], [[-0.75, 4.0]]]]
    assert node.params == 2


@pytest.mark.parametrize("name", sorted(n for n, op in ops.CATALOGUE.items() if op.family == "activation"))
def test_each_activation_builds_and_agrees_in_both_targets(name: str) -> None:
    """Fused and as a layer, every activation compiles to both targets, which equal the reference
    (torch exactly, Keras within tolerance): a table entry left out fails here, not in a user's build."""
    pytest.importorskip("keras")
    from tests.campaign import check_spec

    fused = f"conv 4 3x3 pad=1 {name}\n" if name in ops.ACTIVATIONS else ""
    spec = f"network A {{\n input 3x6x5\n {fused} conv 4 1x1\n {name}\n flatten\n dense 6 {name if name in ops.ACTIVATIONS else ''}\n}}\n"
    assert check_spec(spec) == []


@pytest.mark.parametrize("name", sorted(FUSED_INPLACE))
def test_an_in_place_fused_activation_gives_the_out_of_place_outputs_and_gradients_bit_for_bit(name: str) -> None:
    """The generated code fuses these in place after conv, dense and batch norm (their fresh
    results); training must see exactly what the out-of-place call gives."""
    from torch.nn import functional as F

    from archc.backends.pytorch import ACTIVATION, default_value

    torch.manual_seed(0)
    conv, norm = torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)
    x = torch.randn(2, 3, 9, 9)
    weights = torch.randn(2, 4, 7, 7)
    seen = []
    for table in (ACTIVATION, FUSED_INPLACE):
        conv.zero_grad()
        norm.zero_grad()
        source = x.clone().requires_grad_()
        y = eval(table[name]("t", default_value(name)), {"F": F, "torch": torch, "t": norm(conv(source))})
        (y * weights).sum().backward()
        seen.append([y.detach(), source.grad, conv.weight.grad.clone(), norm.weight.grad.clone()])
    assert "inplace=True" in FUSED_INPLACE[name]("t", default_value(name))
    assert all(torch.equal(a, b) for a, b in zip(*seen, strict=True))


def test_fused_activations_after_fresh_tensors_run_in_place_in_the_generated_code() -> None:
    import archc
    from archc.build import generate

    spec = (
        "network N {\n    input x: 3x8x8\n    conv 4 3x3 relu6\n    batchnorm hardswish\n    silu\n    flatten\n    dense 5 leaky_relu\n}\n"
    )
    comp = archc.compile_source(spec, "n.arch")
    assert not comp.errors
    code = generate(list(comp.networks), "torch", "n.arch")
    assert "x = F.relu6(self.conv_1(x), inplace=True)" in code
    assert "x = F.hardswish(self.batchnorm_1(x), inplace=True)" in code
    assert "x = F.silu(x)\n" in code  # a layer of its own reads a tensor another name may hold: out of place
    assert "x = F.leaky_relu(self.dense_1(x), negative_slope=0.01, inplace=True)" in code
