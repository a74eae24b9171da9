"""The diagram: DOT text (golden files, notation, escaping), Graphviz layout, `archc render`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import archc
from archc.backends.dot import DotBackend, html, quote, to_dot
from archc.env import MissingDependency
from archc.graph import Network
from archc.ops import CATALOGUE
from archc.render import render_svg, render_to_file
from tests import golden, golden_dot, layout_check
from tests.golden import ROOT

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed (apt-get install graphviz)")
SVG = "{http://www.w3.org/2000/svg}"
CASES = golden_dot.cases()


def load(spec: str) -> Network:
    return archc.load(ROOT / "specs" / f"{spec}.arch")


def dot_run(source: str, fmt: str = "svg") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["dot", f"-T{fmt}"], input=source.encode(), capture_output=True, timeout=120)


# -- golden files and determinism -----------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    problem = golden.mismatch("dot", name, CASES[name])
    assert problem is None, problem


def test_goldens_cover_the_seed_specs_in_both_depths() -> None:
    for spec in ("lenet5", "alexnet", "vgg16", "googlenet"):
        assert {f"{spec}.dot", f"{spec}.depth1.dot"} <= set(CASES)


def test_output_does_not_depend_on_hash_seed() -> None:
    code = "import archc, sys; from archc.backends.dot import to_dot; sys.stdout.write(to_dot(archc.load('specs/googlenet.arch')))"
    outs = {
        subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True, text=True, check=True
        ).stdout
        for seed in ("1", "2")
    }
    assert outs == {to_dot(load("googlenet"))}


# -- what the diagram says ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "text"),
    [
        ("googlenet", "conv 7x7/2, 64 · ReLU"),
        ("googlenet", "maxpool 3x3/2 ceil"),
        ("googlenet", "LRN n=5"),
        ("alexnet", "dense 4096 · ReLU"),
        ("alexnet", "groups=2"),
        ("alexnet", "37,752,832 params"),
        ("lenet5", "60/96 links"),
        ("lenet5", "subsample 2x2/2 · sigmoid"),
        ("lenet5", "RBF 10"),
        ("vgg16", "dropout 0.5"),
    ],
)
def test_paper_notation(spec: str, text: str) -> None:
    assert text in to_dot(load(spec))


def test_every_edge_carries_the_tensor_shape() -> None:
    edges = [line for line in to_dot(load("googlenet")).splitlines() if " -> " in line and "invis" not in line]
    assert len(edges) > 100
    for line in edges:
        assert re.search(r'label="\s*\d+(×\d+)*\s*"', line), line


def test_every_op_has_a_label() -> None:
    missing = [op for op in CATALOGUE if not DotBackend.handles(op)]
    assert missing == []


def test_one_cluster_per_module_instance() -> None:
    text = to_dot(load("googlenet"))
    clusters = re.findall(r'subgraph "cluster_([^"]+)"', text)
    expected = [f"inception{k}" for k in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")] + ["aux1", "aux2"]
    assert sorted(clusters) == sorted(expected)


def test_aux_heads_dashed_and_training_only_and_hidden_in_eval() -> None:
    net = load("googlenet")
    train, evaluation = to_dot(net), to_dot(net, phase="eval")
    aux_nodes = [line for line in train.splitlines() if "aux1." in line.split("tooltip=")[-1][:12] and "[label=<" in line]
    assert aux_nodes and all("dashed" in line for line in aux_nodes)
    assert "training only" in train
    assert "aux1" not in evaluation and "aux2" not in evaluation and "training only" not in evaluation
    assert "inception4a" in evaluation and "dashed" not in evaluation
    assert "aux1" not in to_dot(net, depth=1, phase="eval")


def test_depth_1_draws_each_instance_as_one_node_with_totals() -> None:
    text = to_dot(load("googlenet"), depth=1)
    assert "subgraph" not in text.replace("{rank=same", "")
    assert "<B>inception4a</B><BR/>inception(192, 96, 208, 16, 48, 64)<BR/>376,176 params  ·  73.6M MACs" in text
    assert "b2.conv_2" not in text
    assert text.count("[label=<") == len(load("googlenet").body) + 2  # input, one node per top-level item, output


def test_repeat_drawn_once_with_count_when_iterations_match() -> None:
    net = load("examples/resnet18")
    full, top = to_dot(net), to_dot(net, depth=1)
    assert "repeat ×2, one iteration drawn" in full
    assert 'subgraph "cluster_layer1.0"' in full and 'subgraph "cluster_layer1.1"' not in full
    assert "basic(64) ×2" in top


def test_repeat_with_different_iterations_is_drawn_in_full() -> None:
    net = archc.load("network R {\n input x: 3x8x8\n r: repeat 2 { conv 8 3x3 pad=1 relu }\n}\n")
    text = to_dot(net)
    assert "repeat ×2" in text and "one iteration drawn" not in text
    assert text.count("<BR/>conv 3x3/1, 8 · ReLU<BR/>") == 2  # both iterations, in their node labels


def test_bad_options_are_refused() -> None:
    net = load("lenet5")
    for kwargs in ({"depth": 0}, {"phase": "test"}, {"rankdir": "XY"}):
        with pytest.raises(ValueError):
            to_dot(net, **kwargs)  # type: ignore[arg-type]


# -- escaping: layer names come from users ----------------------------------------------------------
def test_quote_and_html_escape_everything_dot_would_read() -> None:
    assert quote('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    assert quote("x\\") == '"x\\\\"'
    assert html("<b>&\"'\n") == "&lt;b&gt;&amp;&quot;&#39;<BR/>"
    assert quote("a\x00b\rc") == '"a b c"'


HOSTILE = ['evil"] n99 [label="pwned', "back\\slash\\", "<i>tag</i> & -->", "two\nlines", "}\n digraph x {", "\\N \\G \\L"]


@needs_dot
def test_hostile_names_do_not_break_the_dot() -> None:
    net = load("lenet5")
    net.name = 'net" { pwned'
    for node, name in zip(net.layers, HOSTILE, strict=False):
        node.name, node.path = name, (name,)
    text = to_dot(net)
    result = dot_run(text, "plain")
    assert result.returncode == 0, result.stderr.decode()
    nodes = [line for line in result.stdout.decode().splitlines() if line.startswith("node ")]
    assert len(nodes) == len(net.nodes) + 1  # every layer and the output; nothing injected
    svg = dot_run(text).stdout.decode()
    root = ET.fromstring(svg)  # still well-formed XML
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "pwned" in texts and "back\\slash\\" in texts and "<i>tag</i> & -->" in texts


# -- Graphviz ---------------------------------------------------------------------------------------
@needs_dot
@pytest.mark.parametrize("name", sorted(CASES))
def test_dot_lays_out_every_golden(name: str) -> None:
    result = dot_run(CASES[name])
    assert result.returncode == 0 and result.stderr == b"", result.stderr.decode()
    assert ET.fromstring(result.stdout).tag == f"{SVG}svg"


@needs_dot
def test_googlenet_svg_clusters_and_edge_into_inception4a() -> None:
    net = load("googlenet")
    root = ET.fromstring(render_svg(net))
    groups = list(root.iter(f"{SVG}g"))
    clusters = [g.findtext(f"{SVG}title") for g in groups if g.get("class") == "cluster"]
    for k in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"):
        assert clusters.count(f"cluster_inception{k}") == 1
    module = {f"n{n.id}": n.module for n in net.nodes}
    into_4a = []
    for g in groups:
        if g.get("class") != "edge":
            continue
        tail, head = (g.findtext(f"{SVG}title") or "").split("->")
        if module.get(head) == "inception4a" and module.get(tail) != "inception4a":
            into_4a.append(" ".join(t.text or "" for t in g.iter(f"{SVG}text")).strip())
    assert into_4a == ["480×14×14"] * 4  # pool3 into each of the four branches


@needs_dot
def test_render_to_file_every_format(tmp_path: Path) -> None:
    net = load("lenet5")
    magic = {"svg": b"<?xml", "png": b"\x89PNG", "pdf": b"%PDF", "dot": b'digraph "LeNet5"'}
    for fmt, start in magic.items():
        out = tmp_path / "sub" / f"lenet.{fmt}"
        render_to_file(net, out, fmt)
        assert out.read_bytes().startswith(start), fmt
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == sorted(f"lenet.{f}" for f in magic)  # no temp files left


def test_render_to_file_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "net.dot"
    out.write_text("old")
    out.chmod(0o640)
    render_to_file(load("lenet5"), out, "dot")
    assert out.read_text() == to_dot(load("lenet5")) and (out.stat().st_mode & 0o777) == 0o640

    def fail(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        render_to_file(load("alexnet"), out, "dot")
    assert out.read_text() == to_dot(load("lenet5"))
    assert [p.name for p in tmp_path.iterdir()] == ["net.dot"]


def test_missing_dot_raises_with_install_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingDependency, match="apt-get install graphviz"):
        render_svg(load("lenet5"))
    assert load("lenet5")._repr_svg_() is None  # the notebook falls back to the text repr


def cli(args: list[str], path: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "archc", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_cli_format_dot_works_without_dot_and_svg_exits_3(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    spec = str(ROOT / "specs" / "googlenet.arch")
    ok = cli(["render", spec, "--format", "dot", "-o", "g.dot", "--phase", "eval"], str(empty), tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "g.dot").read_text() == to_dot(load("googlenet"), phase="eval")
    bad = cli(["render", spec, "--format", "svg", "-o", "g.svg"], str(empty), tmp_path)
    assert bad.returncode == 3
    assert "apt-get install graphviz" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "g.svg").exists()


@needs_dot
def test_cli_render_svg_depth_1(tmp_path: Path) -> None:
    result = cli(
        ["render", str(ROOT / "specs" / "vgg16.arch"), "-o", "v.svg", "--depth", "1", "--rankdir", "LR"], os.environ["PATH"], tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert ET.fromstring((tmp_path / "v.svg").read_bytes()).tag == f"{SVG}svg"


@needs_dot
def test_notebook_repr_is_svg() -> None:
    svg = load("alexnet")._repr_svg_()
    assert svg is not None and "<svg" in svg and "conv5" in svg


# -- size -------------------------------------------------------------------------------------------
def deep_spec(layers: int = 1000) -> str:
    body = "\n".join(f"    l{i}: conv 8 3x3 pad=1 relu" for i in range(layers))
    return f"network Deep {{\n    input x: 8x16x16\n{body}\n}}\n"


def wide_spec(blocks: int = 143) -> str:
    """143 inception-like blocks of 7 layers: 1,001 layers with branches and clusters."""
    module = (
        "module block(c) {\n concat {\n  branch { conv c 1x1 relu }\n  branch { conv c 1x1 relu; conv c 3x3 pad=1 relu }\n"
        "  branch { maxpool 3x3 stride=1 pad=1; conv c 1x1 relu }\n }\n conv c 1x1 relu\n}\n"
    )
    calls = "\n".join(f"    b{i}: block(16)" for i in range(blocks))
    return f"{module}network Wide {{\n    input x: 16x8x8\n{calls}\n}}\n"


@pytest.mark.parametrize("make", [deep_spec, wide_spec])
def test_1000_layers_to_dot_under_a_second(make: object) -> None:
    net = archc.load(make())  # type: ignore[operator]
    assert len(net.layers) >= 1000
    start = time.perf_counter()
    text = to_dot(net)
    elapsed = time.perf_counter() - start
    print(f"\n{net.name}: {len(net.layers)} layers to DOT in {elapsed:.3f} s ({len(text):,} bytes)")
    assert elapsed < 1.0


@needs_dot
@pytest.mark.parametrize("make", [deep_spec, wide_spec])
def test_1000_layers_to_svg(make: object) -> None:
    net = archc.load(make())  # type: ignore[operator]
    start = time.perf_counter()
    svg = render_svg(net)
    elapsed = time.perf_counter() - start
    print(f"\n{net.name}: {len(net.layers)} layers to SVG in {elapsed:.2f} s ({len(svg):,} bytes)")
    assert svg.count('class="node"') >= 1000
    assert elapsed < 60


# -- legibility: no overlapping text, no edge through a label ---------------------------------------
@needs_dot
@pytest.mark.parametrize("name", sorted(CASES))
def test_no_text_overlaps_and_no_edge_crosses_a_label(name: str) -> None:
    assert layout_check.problems(CASES[name]) == []


@needs_dot
@pytest.mark.parametrize("spec", ["googlenet", "examples/resnet18"])
def test_legible_left_to_right_and_in_eval(spec: str) -> None:
    net = load(spec)
    for kwargs in ({"rankdir": "LR"}, {"rankdir": "LR", "depth": 1}, {"phase": "eval"}):
        assert layout_check.problems(to_dot(net, **kwargs)) == [], kwargs  # type: ignore[arg-type]


@needs_dot
def test_layout_check_catches_a_label_crossed_by_edges() -> None:
    crowded = CASES["googlenet.dot"].replace(
        'graph [label="", style="rounded"', 'graph [label="a long cluster title", labelloc=t, style="rounded"'
    )
    assert any("crosses 'a long cluster title'" in p for p in layout_check.problems(crowded))
    tight = CASES["googlenet.dot"].replace('label="  ', 'label="').replace("nodesep=0.3", "nodesep=0.02")
    assert any("crosses '" in p for p in layout_check.problems(tight))


def test_a_group_norm_whose_groups_equal_its_maps_is_no_depthwise_conv() -> None:
    """The fuzz test found DOT reading a conv's filters on every op with `groups`."""
    net = archc.load("network G {\n input 3x4x4\n groupnorm 3\n shuffle 3\n}\n")
    text = to_dot(net)
    assert "depthwise" not in text and "towers" not in text
