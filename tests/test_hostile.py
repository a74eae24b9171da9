"""Hostile names and text: generated code compiles, runs, keeps every layer reachable, runs nothing else."""

from __future__ import annotations

import ast
import keyword

import pytest

import archc
from archc.backends.pytorch import MODULE_ATTRS, attribute_name, torch_paths
from archc.build import generate

HOSTILE = [
    *keyword.kwlist,
    *("self", "x", "torch", "nn", "F", "forward", "super", "keras", "layers", "ops", "Model", "build"),
    *("print", "list", "type", "id", "object", "training", "state_dict", "to", "cuda", "parameters"),
    *("__init__", "__class__", "__dict__", "_modules", "_parameters", "in_channels", "NamedTuple"),
    *("층1", "ﬁlter", "層", "層2", "Ω", "réseau_à_1"),
    "a" * 200,
    "a" * 200 + "b",
    "X",
]
# `input` starts the input statement; everything else above is a legal spec name
HOSTILE = [n for n in dict.fromkeys(HOSTILE) if n != "input"]


def hostile_spec(comment: str = "") -> str:
    layers = []
    for k, name in enumerate(HOSTILE):
        op = "conv 4 3x3 pad=1 relu" if k % 3 == 0 else "batchnorm" if k % 3 == 1 else "relu"
        layers.append(f"    {name}: {op}")
    params = ", ".join(["self", "x", "in_channels", "class_"])
    return (
        f"# {comment}\n"
        f"module nn({params}) {{\n    self: conv x 3x3 pad=1\n    in_channels: conv class_ 1x1\n    conv self 1x1\n}}\n"
        "network torch {\n    input image: 4x8x8\n" + "\n".join(layers) + "\n    block: nn(4, 4, 4, 4)\n    flatten\n    head: dense 3\n}\n"
    )


def test_attribute_mapping_is_documented_and_safe() -> None:
    assert attribute_name("forward") == "forward_" and attribute_name("class") == "class_"
    assert attribute_name("_modules") == "layer_modules" and attribute_name("conv1") == "conv1"
    assert "forward" in MODULE_ATTRS and "training" in MODULE_ATTRS


def test_hostile_names_compile_run_and_stay_reachable() -> None:
    torch = pytest.importorskip("torch")
    text = hostile_spec()
    net = archc.load(text)
    source = generate([net], "torch", "hostile.arch")
    compile(source, "hostile", "exec")
    model = archc.build_model(net, "torch").eval()
    assert sum(p.numel() for p in model.parameters()) == net.total_params
    with torch.no_grad():
        assert model(torch.randn(2, 4, 8, 8)).shape == (2, 3)
    keys = set(model.state_dict())
    paths = torch_paths(net)
    for node in net.layers:
        if node.params:
            assert f"{paths[node.path]}.weight" in keys, node.qualname
    assert len({paths[n.path] for n in net.layers}) == len(net.layers)  # a distinct key for every layer


def test_mapping_is_deterministic() -> None:
    net = archc.load(hostile_spec())
    assert generate([net], "torch", "h.arch") == generate([archc.load(hostile_spec())], "torch", "h.arch")


@pytest.mark.parametrize(
    "comment",
    ['"""; __import__("os").system("echo pwned")', "\\n import os", "'''", "\x00\x1b[31m"],
)
def test_comments_never_reach_generated_code(comment: str) -> None:
    plain = generate([archc.load(hostile_spec())], "torch", "h.arch")
    assert generate([archc.load(hostile_spec(comment))], "torch", "h.arch") == plain
    assert "__import__" not in plain and "pwned" not in plain


@pytest.mark.parametrize("spec_path", ['evil"""\nimport os.arch', "a\\b\x1b.arch", "/tmp/dir with space/x.arch"])
def test_spec_path_only_changes_inert_text(spec_path: str) -> None:
    net = archc.load(hostile_spec())
    net.file = spec_path
    source = generate([net], "torch", spec_path, line_comments=True)
    tree = ast.parse(source)  # still valid Python
    imports = {n.names[0].name for n in ast.walk(tree) if isinstance(n, ast.Import)}
    assert imports <= {"torch", "torch.nn.functional"}
    assert "\nimport os" not in source


@pytest.mark.slow
def test_hostile_names_in_keras() -> None:
    pytest.importorskip("keras")
    import numpy as np

    from archc.backends.keras import layer_name

    net = archc.load(hostile_spec())
    source = generate([net], "keras", "hostile.arch")
    compile(source, "hostile_keras", "exec")
    model = archc.build_model(net, "keras")
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)  # count_params() adds BN statistics
    assert trainable == net.total_params
    assert model.predict(np.zeros((1, 8, 8, 4), dtype="float32"), verbose=0).shape == (1, 3)
    names = {layer.name for layer in model.layers}
    for node in net.layers:
        if node.params:
            assert layer_name(node) in names, node.qualname
