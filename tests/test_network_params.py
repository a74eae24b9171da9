"""Network parameters (docs/language.md, "Network parameters"): `network ResNet50(classes=1000)`."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import archc
from archc.build import generate
from archc.runtime import load_module
from tests.golden import ROOT

RESNET50 = ROOT / "specs" / "examples" / "resnet50.arch"

# Every name here is one the generated code uses itself, or a builtin an expression calls. (A
# statement ends at a newline, also inside parentheses: the header and the dense layer are one line each.)
ODD = """network Odd(self=3, x=4, nn=2, torch=1, forward=0.25, F=5, math=2, max=3, make_divisible=8, aux=2, name=1, keras=1, layers=1, classifier_activation=1, ops=1, inputs=1, in_channels=2, super=1, int=2) {
    input image: 3x8x8
    conv 8 3x3 pad=1 relu
    global_avgpool
    dropout forward*2
    dense self*x+nn-torch+F*math+max(max, 2)+make_divisible(make_divisible*1.5, 8)+aux+name+keras+layers+classifier_activation+ops+inputs+in_channels+super+int//2 softmax
}
"""

# Every option a network parameter may set.
SYMBOLIC = """network Sym(g=2, b=1, r=0.25, e=0.001, beta=0.75, k=2.0, u=10) {
    input image: 4x8x8
    conv 8 3x3 groups=g pad=1
    batchnorm eps=e relu
    lrn size=5 beta=beta k=k
    conv 8 1x1 bias=true
    flatten
    dropout r
    dense u
}
"""
SYMBOLIC_AT = {"g": 4, "r": 0.5, "e": 0.01, "beta": 0.5, "k": 1.0, "u": 3}


def units(net: archc.Network) -> int:
    return int(net.nodes[net.output].shape[0])


def test_defaults_and_overrides() -> None:
    net = archc.load(RESNET50)
    assert units(net) == 1000 and net.total_params == 25_557_032  # torchvision's resnet50
    ten = archc.load(RESNET50, params={"classes": 10})
    assert units(ten) == 10 and ten.params == {"classes": (1000, 10)}
    assert ten.total_params == 25_557_032 - 990 * 2049


def test_a_value_is_a_number_and_a_name_is_one_the_spec_has() -> None:
    with pytest.raises(ValueError, match="must be a number"):
        archc.load(RESNET50, params={"classes": "10"})
    with pytest.raises(archc.CompileError, match="did you mean `classes`"):
        archc.load(RESNET50, params={"clases": 10})


def test_generated_code_takes_the_parameters_as_keywords() -> None:
    net = archc.load(RESNET50)
    torch_src = generate([net], "torch", "resnet50.arch")
    assert "def __init__(self, *, classes: int = 1000) -> None:" in torch_src
    assert "self.fc = nn.Linear(2048, classes)" in torch_src
    keras_src = generate([net], "keras", "resnet50.arch")
    assert re.search(r'def build_resnet50\(aux=False, classifier_activation="softmax", \*, classes=1000\):', keras_src)
    assert "layers.Dense(classes, " in keras_src


def strip_values(source: str) -> str:
    """The generated text less what states the parameters' values: signatures and docstrings."""
    out = re.sub(r"(def build_\w+\(aux=False, classifier_activation=[^,]+, \*,)[^\n]*", "SIGNATURE", source)
    out = re.sub(r"(\w+: (int|float) = )[-0-9.e+]+", r"\1DEFAULT", out)
    out = re.sub(r'"""[^\n]*(input|output)[^\n]*', "DOC", out)
    return re.sub(r"sha256=\w+", "", out)


@pytest.mark.parametrize("target", ["torch", "keras"])
@pytest.mark.parametrize(
    ("spec", "params"), [(RESNET50, {"classes": 10}), (ODD, {"self": 7, "x": 1, "max": 9, "forward": 0.1}), (SYMBOLIC, SYMBOLIC_AT)]
)
def test_a_parameter_changes_no_generated_line_but_its_own(spec: object, params: dict[str, object], target: str) -> None:
    """What the checker accepts is sound: the code generated at other values is the same text."""
    base = archc.load(spec)  # type: ignore[arg-type]
    other = archc.load(spec, params=params)  # type: ignore[arg-type]
    assert base.nodes[base.output].shape != other.nodes[other.output].shape
    assert strip_values(generate([base], target, "x.arch")) == strip_values(generate([other], target, "x.arch"))


def test_resnet50_with_ten_classes_equals_the_reference() -> None:
    """The class generated at the defaults, built as ResNet50(classes=10), is the spec at classes=10."""
    torch = pytest.importorskip("torch")
    from archc import reference
    from archc.backends.pytorch import torch_paths

    at_defaults = archc.load(RESNET50, input=(3, 64, 64))
    ten = archc.load(RESNET50, input=(3, 64, 64), params={"classes": 10})
    source = generate([at_defaults], "torch", "resnet50.arch")
    module = load_module(source, "archc_test_resnet50_params")
    torch.manual_seed(0)
    model = module.ResNet50(classes=10).eval()
    paths = torch_paths(ten)
    params = reference.params_from_torch(ten, model, lambda node: paths[node.path])
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        got = model(x)
    assert got.shape == (2, 10)
    assert torch.equal(got, reference.run(ten, params, x.clone())[ten.output])
    assert sum(p.numel() for p in model.parameters()) == ten.total_params


def test_build_model_at_other_values_in_both_frameworks() -> None:
    """build_model(params=) and the campaign's checks: torch == the reference, Keras ≈ torch."""
    pytest.importorskip("torch")
    from tests.campaign import check_network

    small = archc.load(RESNET50, input=(3, 32, 32), params={"classes": 10})
    assert check_network(small, seed=2, keras=True) == []
    model = archc.build_model(RESNET50, input=(3, 32, 32), params={"classes": 7})
    assert model.fc.out_features == 7


def test_parameters_named_like_the_generated_codes_own_names() -> None:
    pytest.importorskip("torch")
    from tests.campaign import check_network

    for params in ({}, {"self": 5, "x": 2, "max": 1, "forward": 0.2, "int": 9}):
        net = archc.load(ODD, params=params)
        assert check_network(net, seed=3, keras=True) == []
    for params in ({}, SYMBOLIC_AT):
        assert check_network(archc.load(SYMBOLIC, params=params), seed=4, keras=True) == []


def test_the_generated_class_takes_the_keywords_by_their_python_names() -> None:
    torch = pytest.importorskip("torch")
    net = archc.load(ODD)
    module = load_module(generate([net], "torch", "odd.arch"), "archc_test_odd_params")
    model = module.Odd(self_=5, x_=1)
    assert model(torch.randn(1, 3, 8, 8)).shape == (1, units(archc.load(ODD, params={"self": 5, "x": 1})))


def test_cli_param() -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "archc", *args], capture_output=True, text=True, cwd=ROOT, check=False)

    summary = run("summary", str(RESNET50), "--param", "classes=10")
    assert summary.returncode == 0 and re.search(r"fc\s.*2048\s+10\b", summary.stdout), summary.stdout + summary.stderr
    assert run("check", str(RESNET50), "--param", "classes=ten").returncode == 2
    assert run("check", str(RESNET50), "--param", "klasses=10").returncode == 1


def test_an_assertion_holds_at_the_defaults_only() -> None:
    """`fc: dense classes -> 1000` states the default; at classes=10 it is not checked (and not an error)."""
    assert archc.load(RESNET50, params={"classes": 10})
    wrong = archc.compile_source(RESNET50.read_text().replace("-> 1000", "-> 999"), "r.arch")
    assert [d.code for d in wrong.errors] == ["shape-assert"]


HALF = "network Half(classes=10) {\n    input 8\n    dense classes/2\n}\n"


def test_a_division_in_generated_code_refuses_a_fraction_instead_of_truncating() -> None:
    """The checker refuses classes=7 (3.5 units); the generated file, used with 7, must refuse it too."""
    torch = pytest.importorskip("torch")
    net = archc.load(HALF)
    source = generate([net], "torch", "half.arch")
    assert "nn.Linear(8, whole(classes / 2))" in source
    cls = load_module(source, "archc_generated_half").Half
    assert cls(classes=6)(torch.zeros(1, 8)).shape == (1, 3)
    with pytest.raises(ValueError, match=r"3\.5 is not a whole number"):
        cls(classes=7)
    keras_source = generate([net], "keras", "half.arch")
    assert "whole(classes / 2)" in keras_source and "def whole(value):" in keras_source
    assert archc.compile_source(HALF, params={"classes": 7}).errors[0].code == "expr-not-whole"
