"""`archc import` / archc.imports.from_caffe: Caffe .prototxt → readable .arch specs.

The BVLC model zoo's networks are written by tests/caffe_nets.py (AlexNet and GoogLeNet with Input
layers, CaffeNet in the old V1 `layers { type: CONVOLUTION }` form with `input_dim`, GoogLeNet's
train_val with its data, loss and accuracy layers); the imported specs must give the published
parameter and MAC counts exactly.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest

import archc
from archc.imports import ImportRefused, from_caffe, import_caffe
from archc.imports.caffe import pool_size
from archc.imports.spec import legal
from archc.shapes import window_out
from tests.caffe_nets import alexnet_deploy, caffenet_deploy, googlenet_deploy, googlenet_train_val
from tests.test_cli import run

ZOO = {  # net: (network, params, MACs), as published
    alexnet_deploy: ("AlexNet", 60_965_224, 724_406_816),
    caffenet_deploy: ("CaffeNet", 60_965_224, 724_406_816),
    googlenet_deploy: ("GoogleNet", 6_998_552, 1_582_671_872),
}


def imported(net: Callable[[], str]) -> str:
    return from_caffe(net())


def written(net: Callable[[], str], folder: Path) -> Path:
    """The net's text in a .prototxt file, for the command line."""
    path = folder / f"{net.__name__}.prototxt"
    path.write_text(net(), encoding="utf-8")
    return path


def one_space(spec: str) -> str:
    """The spec with its aligned `->` column closed up to one space, for matching lines."""
    return re.sub(r"(?<=\S) +->", " ->", spec)


def refusal(text: str, **kw: object) -> list[str]:
    with pytest.raises(ImportRefused) as info:
        import_caffe(text, "net.prototxt", **kw)  # type: ignore[arg-type]
    return [f"{d.span.line}:{d.span.column}: {d.code}: {d.message}" for d in info.value.diagnostics]


NET = 'input: "data"\ninput_shape { dim: 1 dim: 3 dim: 32 dim: 32 }\n'


def layer(name: str, typ: str, bottom: str | list[str], top: str, params: str = "") -> str:
    bottoms = [bottom] if isinstance(bottom, str) else bottom
    return f'layer {{ name: "{name}" type: "{typ}" {" ".join(f"bottom: {b!r}".replace(chr(39), chr(34)) for b in bottoms)} top: "{top}" {params} }}\n'


# -- the model zoo ------------------------------------------------------------------------------------
@pytest.mark.parametrize("net", list(ZOO), ids=lambda net: net.__name__)
def test_zoo_summary_gives_the_published_figures(net: Callable[[], str], tmp_path: Path) -> None:
    name, params, macs = ZOO[net]
    spec = tmp_path / "model.arch"
    code, out, err = run("import", str(written(net, tmp_path)), "-o", str(spec))
    assert (code, err) == (0, "") and f"wrote {spec}" in out
    code, out, _ = run("summary", str(spec), "--json")
    figures = json.loads(out)
    assert code == 0 and figures["network"] == name
    assert (figures["inference_params"], figures["macs"]) == (params, macs)
    assert archc.check(spec) == []  # clean: no error, no warning
    assert run("fmt", "--check", str(spec)) == (0, "", "")


def test_googlenet_train_val_gives_the_aux_classifiers(tmp_path: Path) -> None:
    """The training graph: both auxiliary classifiers as aux heads, the data, losses and metrics left out."""
    path = written(googlenet_train_val, tmp_path)
    result = import_caffe(path.read_text(encoding="utf-8"), str(path), input_shape=(3, 224, 224))
    net = archc.load(result.spec)
    assert (net.total_params, net.inference_params) == (13_378_280, 6_998_552)  # specs/googlenet.arch's figures
    assert (net.training_macs, net.macs) == (1_591_044_096, 1_582_671_872)
    assert "module loss_head() {" in one_space(result.spec) and "    loss2: aux loss_head() from inception_4d -> 1000" in one_space(
        result.spec
    )
    assert archc.check(result.spec) == [] and len(result.notes) == 11  # 2 data layers, 3 losses, 6 accuracies
    code, _, err = run("import", str(path), "-o", str(tmp_path / "g.arch"))
    assert code == 1 and "give the input shape (archc import --input CxHxW)" in err and not (tmp_path / "g.arch").exists()


def test_googlenet_inception_blocks_are_one_module_called_nine_times() -> None:
    spec = imported(googlenet_deploy)
    assert spec.count("module ") == 1
    assert "module inception(conv_1x1_filters, conv_3x3_reduce_filters, conv_3x3_filters, " in spec
    calls = [line.split(":")[0].strip() for line in spec.splitlines() if ": inception(" in line]
    assert calls == [f"inception_{b}" for b in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")]
    assert "    inception_3a: inception(64, 96, 128, 16, 32, 32)" in spec
    assert "    inception_5b: inception(384, 192, 384, 48, 128, 128)" in spec
    # the numbers every instance shares stay in the body; the relus are fused into their convs
    assert "conv_3x3: conv conv_3x3_filters 3x3 pad=1 relu" in spec and "pool: maxpool 3x3 stride=1 pad=1 ceil" in spec
    assert "relu_1x1" not in spec and "loss3_classifier: dense 1000 softmax" in spec
    assert len({line.index("->") for line in spec.splitlines() if "->" in line}) == 1  # the assertions in one column


def test_caffenet_differs_from_alexnet_only_in_the_lrn_pool_order() -> None:
    alex = imported(alexnet_deploy).splitlines()
    caffe = imported(caffenet_deploy).splitlines()
    assert sorted(set(alex) ^ set(caffe)) == ["network AlexNet {", "network CaffeNet {"]
    order = [line.split(":")[0].strip() for line in caffe if "pool" in line or "norm" in line]
    assert order == ["pool1", "norm1", "pool2", "norm2", "pool5"]
    assert [line.split(":")[0].strip() for line in alex if "pool" in line or "norm" in line][:4] == ["norm1", "pool1", "norm2", "pool2"]


@pytest.mark.parametrize("target", ["torch", "keras"])
def test_imported_specs_build(target: str) -> None:
    pytest.importorskip(target)
    for source in (alexnet_deploy, googlenet_deploy):
        net = archc.load(imported(source))
        model = archc.build_model(net, target)
        count = model.count_params() if target == "keras" else sum(p.numel() for p in model.parameters())
        assert count == net.inference_params, source.__name__


# -- the text format ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "where", "says"),
    [
        ('name: "x"\nlayer {\n  name: "a"\n', "4:1", "the file ends inside layer (opened at line 2)"),
        ('name: "x\nlayer { }\n', "1:7", "unterminated string"),
        ('layer {\n  name "a"\n}\n', "2:8", "expected ':' or '{'"),
        ("layer {\n  top: }\n", "2:8", "expected a value"),
        ('layer { name: "a" } }\n', "1:21", "expected a field name, found '}'"),
        ("layer { name: @ }\n", "1:15", "unexpected character '@'"),
    ],
)
def test_malformed_prototxt_is_a_located_syntax_error(text: str, where: str, says: str, tmp_path: Path) -> None:
    (problem,) = refusal(text)
    assert problem.startswith(f"{where}: syntax: ") and says in problem
    path = tmp_path / "bad.prototxt"
    path.write_text(text, encoding="utf-8")
    code, out, err = run("import", str(path), "-o", str(tmp_path / "bad.arch"))
    assert code == 1 and out == "" and err.startswith(f"{path}:{where}: error: ") and "Traceback" not in err
    assert not (tmp_path / "bad.arch").exists()


def test_the_text_format_reads_lists_comments_adjacent_strings_and_angle_brackets() -> None:
    text = (
        "# a comment\n"
        'name: "Ne" "t"  # joined\n'
        "input: 'data' input_shape < dim: [1, 3, 8, 8] >;\n"
        'layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 4 kernel_size: [3, 1] } }\n'
    )
    spec = from_caffe(text)
    assert "network Net {" in spec and "input data: 3x8x8" in spec and "c: conv 4 3x1" in spec


# -- refusals --------------------------------------------------------------------------------------------
def test_unsupported_layers_and_options_are_reported_by_name_type_and_option(tmp_path: Path) -> None:
    text = (
        NET
        + layer("crop1", "Crop", "data", "crop1")
        + layer("pool1", "Pooling", "data", "pool1", "pooling_param { pool: STOCHASTIC kernel_size: 2 stride: 2 }")
        + layer("prod", "Eltwise", ["data", "data"], "prod", "eltwise_param { operation: PROD }")
        + layer("norm", "LRN", "data", "norm", "lrn_param { norm_region: WITHIN_CHANNEL }")
        + layer("conv", "Convolution", "data", "conv", "convolution_param { num_output: 4 kernel_size: 3 weird: 1 }")
        + layer("after", "ReLU", "crop1", "after")  # reads a refused layer: not reported again
    )
    problems = refusal(text)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "unsupported: crop1 (Crop): this layer type has no archc op",
        "unsupported: pool1 (Pooling): pool: STOCHASTIC has no archc op (only MAX and AVE)",
        "unsupported: prod (Eltwise): operation: PROD: archc has add (SUM) only, no element-wise product or maximum",
        "unsupported: norm (LRN): norm_region: WITHIN_CHANNEL has no archc op (lrn is across channels)",
        "unsupported: conv (Convolution): option weird is not supported by archc's import",
    ]
    lines = text.split("\n")
    for problem, word in zip(problems, ("type", "pool", "operation", "norm_region", "weird"), strict=True):
        line, col = map(int, problem.split(":")[:2])  # located at the option (or the type) that is refused
        assert lines[line - 1][col - 1 :].startswith(word), problem
    path, out = tmp_path / "net.prototxt", tmp_path / "net.arch"
    path.write_text(text, encoding="utf-8")
    code, stdout, err = run("import", str(path), "-o", str(out))
    assert code == 1 and stdout == "" and "crop1 (Crop)" in err and not out.exists()


def test_a_batchnorm_needs_its_scale() -> None:
    bn = "batch_norm_param { eps: 0.001 }"
    ok = NET + layer("bn", "BatchNorm", "data", "data", bn) + layer("sc", "Scale", "data", "data", "scale_param { bias_term: true }")
    spec = from_caffe(ok + layer("c", "Convolution", "data", "c", "convolution_param { num_output: 2 kernel_size: 1 }"))
    assert "bn: batchnorm eps=0.001 momentum=0.001" in spec and archc.check(spec) == []
    assert refusal(NET + layer("bn", "BatchNorm", "data", "bn"))[0].endswith(
        "no Scale follows it: archc's batchnorm always learns a scale and shift"
    )
    assert "archc has no separate per-map scale" in refusal(NET + layer("sc", "Scale", "data", "sc"))[0]


# -- pooling: Caffe's arithmetic against archc's --------------------------------------------------------
def caffe_pooled(n: int, k: int, s: int, p: int) -> int:
    """pooling_layer.cpp, transcribed."""
    pooled = math.ceil(float(n + 2 * p - k) / s) + 1
    if p and (pooled - 1) * s >= n + p:
        pooled -= 1
    return pooled


def test_caffe_ceil_pooling_is_archcs_ceil_wherever_caffe_accepts_the_layer() -> None:
    differ = []
    for n in range(1, 30):
        for k in range(1, 8):
            for s in range(1, 5):
                for p in range(0, k // 2 + 1):
                    if n + 2 * p < k:
                        continue
                    caffe, ours = caffe_pooled(n, k, s, p), pool_size(n, k, s, p, True)
                    archc_out = window_out(n, k, s, p, 1, True, "H")[0]
                    if (caffe - 1) * s < n + p:  # Caffe's CHECK_LT holds: it accepts the layer
                        assert caffe == ours == archc_out, (n, k, s, p)
                    else:
                        assert ours is None  # refused: Caffe stops, archc would drop the window
                        differ.append((n, k, s, p))
    assert differ and all(p == 0 and k < s for _, k, s, p in differ)  # only without padding, a kernel under the stride


def test_caffe_average_pooling_divides_as_archcs_avgpool() -> None:
    torch = pytest.importorskip("torch")

    def caffe_ave(x: list[list[float]], k: int, s: int, p: int) -> list[list[float]]:
        n, out = len(x), caffe_pooled(len(x), k, s, p)
        rows = []
        for ph in range(out):
            row = []
            for pw in range(out):
                hs, ws = ph * s - p, pw * s - p
                he, we = min(hs + k, n + p), min(ws + k, n + p)
                size = (he - hs) * (we - ws)
                hs, ws, he, we = max(hs, 0), max(ws, 0), min(he, n), min(we, n)
                row.append(sum(x[i][j] for i in range(hs, he) for j in range(ws, we)) / size)
            rows.append(row)
        return rows

    torch.manual_seed(0)
    for n, k, s, p in [(14, 5, 3, 0), (6, 3, 2, 1), (7, 3, 2, 1), (10, 4, 3, 2), (5, 2, 2, 1)]:
        x = torch.rand(1, 1, n, n, dtype=torch.float64)
        ours = torch.nn.functional.avg_pool2d(x, k, s, p, ceil_mode=True, count_include_pad=True)[0, 0]
        assert torch.allclose(ours, torch.tensor(caffe_ave(x[0, 0].tolist(), k, s, p), dtype=torch.float64)), (n, k, s, p)


def test_pools_map_with_caffes_rounding_and_its_stride_default() -> None:
    text = NET + layer("p", "Pooling", "data", "p", "pooling_param { pool: AVE kernel_size: 3 stride: 2 pad: 1 }")
    text += layer("q", "Pooling", "p", "q", "pooling_param { pool: MAX kernel_size: 2 round_mode: FLOOR }")
    text += layer("g", "Pooling", "q", "g", "pooling_param { pool: AVE global_pooling: true }")
    spec = from_caffe(text)
    assert "p: avgpool 3x3 stride=2 pad=1 ceil" in one_space(spec) and "q: maxpool 2x2 stride=1 -> 3x16x16" in one_space(spec)
    assert "g: global_avgpool" in spec and archc.check(spec) == []
    refused = refusal(
        NET + layer("p", "Pooling", "data", "p", "pooling_param { pool: MAX kernel_size: 1 stride: 3 }"), input_shape=(3, 5, 5)
    )
    assert "Caffe's last window would start past the input, which Caffe rejects" in refused[0]


# -- forms, phases, names ---------------------------------------------------------------------------------
CONV = "convolution_param { num_output: 8 kernel_size: 3 pad: 1 }"


@pytest.mark.parametrize(
    "head",
    [
        'input: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 32\ninput_dim: 32\n',
        NET,
        'layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 32 dim: 32 } } }\n',
    ],
)
def test_the_three_input_forms_and_both_layer_forms(head: str) -> None:
    new = head + layer("conv1", "Convolution", "data", "conv1", CONV) + layer("relu1", "ReLU", "conv1", "conv1")
    v1 = head + 'layers { name: "conv1" type: CONVOLUTION bottom: "data" top: "conv1" ' + CONV + " }\n"
    v1 += 'layers { name: "relu1" type: RELU bottom: "conv1" top: "conv1" }\n'
    assert from_caffe(new, "N") == from_caffe(v1, "N")
    assert "    input data: 3x32x32\n    conv1: conv 8 3x3 pad=1 relu" in from_caffe(new, "N")


def test_train_val_aux_heads_and_dropped_layers(tmp_path: Path) -> None:
    data = 'layer { name: "d" type: "Data" top: "data" top: "label" include { phase: TRAIN } }\n'
    data += 'layer { name: "dt" type: "Data" top: "data" top: "label" include { phase: TEST } }\n'
    text = 'name: "Tiny"\n' + data + layer("c/a", "Convolution", "data", "c/a", CONV) + layer("c/r", "ReLU", "c/a", "c/a")
    for k in (1, 2):
        text += layer(f"loss{k}/pool", "Pooling", "c/a", f"loss{k}/pool", "pooling_param { pool: AVE kernel_size: 4 stride: 4 }")
        text += layer(f"loss{k}/fc", "InnerProduct", f"loss{k}/pool", f"loss{k}/fc", f"inner_product_param {{ num_output: {10 * k} }}")
        text += layer(f"loss{k}/loss", "SoftmaxWithLoss", [f"loss{k}/fc", "label"], f"loss{k}/loss", "loss_weight: 0.3")
    text += layer("fc", "InnerProduct", "c/a", "fc", "inner_product_param { num_output: 10 }")
    text += layer("loss", "SoftmaxWithLoss", ["fc", "label"], "loss")
    text += 'layer { name: "acc" type: "Accuracy" bottom: "fc" bottom: "label" top: "acc" include { phase: TEST } }\n'
    assert "give the input shape" in refusal(text)[0]
    result = import_caffe(text, "train_val.prototxt", input_shape=(3, 32, 32))
    spec = result.spec
    assert "module loss_head(fc_units) {" in spec
    assert "    loss1: aux loss_head(10) from c_a -> 10" in one_space(spec) and "    loss2: aux loss_head(20) from c_a -> 20" in one_space(
        spec
    )
    assert "fc: dense 10 -> 10" in one_space(spec) and "\n    flatten" in one_space(spec)
    assert repr(archc.load(spec)).endswith("2 aux heads>")
    assert archc.check(spec) == []
    notes = [n.message for n in result.notes]
    assert (
        "dt (Data) left out: a TEST-phase layer" in notes
        and "loss (SoftmaxWithLoss) left out: a training loss, not part of the network" in notes
    )
    assert "\n# acc (Accuracy) left out: a TEST-phase layer\n" in spec


def test_a_resnet_block_batchnorm_scale_relu_and_eltwise() -> None:
    def conv_bn(name: str, bottom: str, n: int, k: int, s: int = 1, pad: int = 0, relu: bool = True) -> str:
        conv = f"convolution_param {{ num_output: {n} kernel_size: {k} stride: {s} pad: {pad} bias_term: false }}"
        text = layer(name, "Convolution", bottom, name, conv)
        text += layer(f"bn_{name}", "BatchNorm", name, name, "batch_norm_param { use_global_stats: true }")
        text += layer(f"scale_{name}", "Scale", name, name, "scale_param { bias_term: true }")
        return text + (layer(f"{name}_relu", "ReLU", name, name) if relu else "")

    text = NET + conv_bn("conv1", "data", 16, 3, pad=1) + conv_bn("res2a_branch1", "conv1", 32, 1, 2, relu=False)
    text += conv_bn("res2a_branch2a", "conv1", 32, 3, 2, 1) + conv_bn("res2a_branch2b", "res2a_branch2a", 32, 3, 1, 1, relu=False)
    text += layer("res2a", "Eltwise", ["res2a_branch1", "res2a_branch2b"], "res2a") + layer("res2a_relu", "ReLU", "res2a", "res2a")
    spec = from_caffe(text, "Res")
    assert "    bn_conv1: batchnorm momentum=0.001 relu\n" in spec
    assert "res2a_branch2a: conv 32 3x3 stride=2 pad=1 bias=false from bn_conv1 -> 32x16x16" in one_space(spec)
    assert "    res2a: add relu from bn_res2a_branch1, bn_res2a_branch2b -> 32x16x16\n" in one_space(spec)
    assert archc.check(spec) == [] and archc.load(spec).inference_params == 16 * 27 + 32 * (16 + 144 + 288) + 2 * (16 + 3 * 32)


def test_caffe_names_become_legal_names() -> None:
    assert legal("inception_3a/1x1", "conv") == "inception_3a_1x1"
    assert legal("1x1", "conv") == "conv_1x1" and legal("loss1/top-1", "x") == "loss1_top_1"
    assert legal("input", "conv") == "input_" and legal("///", "relu") == "relu"


def test_eltwise_sum_and_concat_read_their_layers_by_name() -> None:
    text = NET + layer("a", "Convolution", "data", "a", CONV) + layer("b", "Convolution", "data", "b", CONV)
    text += layer("sum", "Eltwise", ["a", "b"], "sum") + layer("r", "ReLU", "sum", "sum")
    text += layer("cat", "Concat", ["sum", "a"], "cat")
    spec = from_caffe(text, "Merges")
    assert "sum: add relu from a, b" in one_space(spec) and "cat: concat from sum, a -> 16x32x32" in one_space(spec)
    assert "b: conv 8 3x3 pad=1 from data" in spec and archc.check(spec) == []


# -- the command ------------------------------------------------------------------------------------------
def test_import_prints_to_stdout_notes_to_stderr_and_never_overwrites_unasked(tmp_path: Path) -> None:
    text = NET + layer("fc", "InnerProduct", "data", "fc", "inner_product_param { num_output: 10 }")
    text += layer("loss", "SoftmaxWithLoss", "fc", "loss")
    path = tmp_path / "net.prototxt"
    path.write_text(text, encoding="utf-8")
    code, out, err = run("import", str(path), "--name", "Tiny")
    assert code == 0 and out == import_caffe(text, str(path), "Tiny").spec and "network Tiny {" in out
    assert err == f"{path}:4:1: note: loss (SoftmaxWithLoss) left out: a training loss, not part of the network\n"
    target = tmp_path / "tiny.arch"
    target.write_text("mine\n", encoding="utf-8")
    code, _, err = run("import", str(path), "-o", str(target))
    assert code == 2 and "--force" in err and target.read_text(encoding="utf-8") == "mine\n"
    assert run("import", str(path), "-o", str(target), "--force", "--input", "3x16x16")[0] == 0
    assert "input data: 3x16x16" in target.read_text(encoding="utf-8")


def test_import_loads_no_framework(tmp_path: Path) -> None:
    from tests.test_imports import PROBE, probe

    fixture = written(googlenet_deploy, tmp_path)
    code = PROBE.replace('    archc.load("specs/alexnet.arch")\n', f'    codes.append(main(["import", {str(fixture)!r}]))\n')
    result = probe(code)
    assert result["codes"] == [1, 0, 0, 0, 0] and result["loaded"] == []


# -- never a traceback ----------------------------------------------------------------------------------------
PIECES = ["{", "}", ":", '"', "'", "#", "[", "]", ",", ";", "<", ">", "-", "0", "1e400", "nan", "MAX", "layer {", 'top: "x"', "\n", "\\"]


def mutated(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    kind = rng.randrange(5)
    at = rng.randrange(len(text))
    if kind == 0:
        return text[:at] + text[at + rng.randrange(1, 40) :]
    if kind == 1:
        return text[:at] + rng.choice(PIECES) + text[at:]
    if kind == 2:
        k = rng.randrange(len(lines))
        return "\n".join(lines[:k] + lines[k + 1 :])
    if kind == 3:
        k, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        lines[k], lines[j] = lines[j], lines[k]
        return "\n".join(lines)
    number = re.compile(r"\b\d+\b")
    spots = list(number.finditer(text))
    hit = rng.choice(spots)
    return text[: hit.start()] + rng.choice(["0", "1", "2", "7", "99999", "-3", "2.5"]) + text[hit.end() :]


def test_mutated_prototxts_give_a_spec_or_located_errors_never_a_crash() -> None:
    rng = random.Random(15)
    sources = [alexnet_deploy(), caffenet_deploy()]
    outcomes = {"spec": 0, "refused": 0}
    for k in range(400):
        text = mutated(mutated(sources[k % 2], rng), rng)
        try:
            spec = from_caffe(text)
        except ImportRefused as exc:
            assert exc.diagnostics and all(d.span.line >= 1 and d.span.column >= 1 for d in exc.diagnostics)
            assert all(d.code in ("syntax", "unsupported") for d in exc.diagnostics), exc
            outcomes["refused"] += 1
            continue
        comp = archc.compile_source(spec)
        assert [d for d in comp.errors if d.code != "limit"] == [], spec  # the import and archc agree on every shape
        outcomes["spec"] += 1
    assert min(outcomes.values()) > 20, outcomes  # both outcomes were exercised


def test_import_reads_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    text = alexnet_deploy()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode("utf-8"))))
    code, out, err = run("import", "-")
    assert (code, err) == (0, "") and out == from_caffe(text)


@pytest.mark.parametrize(
    ("typ", "params", "line"),
    [
        ("ReLU", "relu_param { negative_slope: 0.1 }", "x: leaky_relu 0.1"),
        ("Sigmoid", "", "x: sigmoid"),
        ("TanH", "", "x: tanh"),
        ("ELU", "elu_param { alpha: 0.5 }", "x: elu 0.5"),
        ("PReLU", "", "x: prelu"),
        ("Softmax", "", "x: softmax"),
        ("Flatten", "", "x: flatten -> 3072"),
        ("Dropout", "", "x: dropout 0.5"),
        ("LRN", "lrn_param { local_size: 3 alpha: 0.5 beta: 0.25 k: 2 }", "x: lrn 3 alpha=0.5 beta=0.25 k=2"),
        ("Convolution", "convolution_param { num_output: 4 kernel_h: 3 kernel_w: 1 pad_h: 1 stride: 2 dilation: 2 group: 1 }",
         "x: conv 4 3x1 stride=2 pad=1x0 dilation=2 -> 4x15x16"),
        ("Pooling", "pooling_param { pool: MAX kernel_size: 3 stride: 2 }", "x: maxpool 3x3 stride=2 ceil -> 3x16x16"),
        ("Pooling", "pooling_param { pool: MAX kernel_size: 2 stride: 2 pad: 1 }", "x: maxpool 2x2 pad=1 ceil -> 3x17x17"),
    ],
)  # fmt: skip
def test_each_mapping(typ: str, params: str, line: str) -> None:
    spec = from_caffe(NET + layer("x", typ, "data", "x", params) + layer("y", "Split", "x", "y"))
    assert re.search(rf"^    {re.escape(line)}( -> 3x32x32)?$", one_space(spec), re.M) and archc.check(spec) == []


@pytest.mark.parametrize(
    ("typ", "params", "says"),
    [
        ("Dropout", "dropout_param { scale_train: false }", "archc's dropout scales while training"),
        ("Pooling", "pooling_param { pool: MAX global_pooling: true }", "global MAX pooling: archc has only global_avgpool"),
        ("Pooling", "pooling_param { pool: MAX kernel_size: 3 pad: 2 }", "pad 2x2 is over half the kernel 3x3"),
        ("Convolution", "convolution_param { num_output: 4 kernel_size: 3 axis: 2 }", "axis other than 1"),
        ("Convolution", "convolution_param { num_output: 4 kernel_size: 3 kernel_size: 3 kernel_size: 3 }", "archc's layers are 2-D"),
        ("Convolution", "convolution_param { num_output: 4 kernel_size: 3 group: 2 }", "group 2 does not divide its 3 input maps"),
        ("Convolution", "convolution_param { num_output: 4 kernel_size: 33 }", "its window does not fit its 3x32x32 input"),
        ("PReLU", "prelu_param { channel_shared: true }", "archc's prelu has one per map"),
        ("LRN", "lrn_param { local_size: 4 }", "local_size 4 is even"),
        ("Softmax", "softmax_param { axis: 2 }", "axis other than 1"),
        ("InnerProduct", "inner_product_param { }", "no num_output is given"),
        ("Flatten", "flatten_param { axis: 2 }", "only axis 1 to the end"),
        ("Deconvolution", "", "this layer type has no archc op"),
    ],
)
def test_each_refusal(typ: str, params: str, says: str) -> None:
    (problem,) = refusal(NET + layer("x", typ, "data", "x", params))
    assert f"unsupported: x ({typ}): " in problem and says in problem


def test_merges_refuse_what_archc_cannot_express() -> None:
    conv = layer("a", "Convolution", "data", "a", "convolution_param { num_output: 4 kernel_size: 3 }")
    assert "its inputs differ in size: 3x32x32, 4x30x30" in refusal(NET + conv + layer("c", "Concat", ["data", "a"], "c"))[0]
    axis = layer("c", "Concat", ["data", "data"], "c", "concat_param { axis: 2 }")
    assert "archc concatenates along the channels (axis 1) only" in refusal(NET + axis)[0]
    coeff = layer("e", "Eltwise", ["data", "data"], "e", "eltwise_param { coeff: 1 coeff: -1 }")
    assert "coefficients other than 1" in refusal(NET + coeff)[0]
    assert "a second input" in refusal(NET + 'input: "other"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n')[0]
    assert "no earlier layer's top" in refusal(NET + layer("r", "ReLU", "nothing", "r"))[0]
