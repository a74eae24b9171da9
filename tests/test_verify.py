"""`archc verify`: the PyTorch and Keras models of a spec agree, every op of the catalogue included."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("torch")
pytest.importorskip("keras")

import archc
from archc import weights
from archc.build import generate
from archc.cli import main
from archc.verify import OutputDiff, VerifyResult, verify
from tests.golden import ROOT


def spec_path(spec: str) -> str:
    return str(ROOT / "specs" / f"{spec}.arch")


@pytest.mark.parametrize("spec", ["lenet5", "alexnet", "googlenet", "examples/resnet18", pytest.param("vgg16", marks=pytest.mark.slow)])
def test_seed_specs_agree(spec: str) -> None:
    net = archc.load(spec_path(spec))
    result = verify(net, batch=1)
    assert result.ok, result.text()
    names = [o.name for o in result.outputs]
    heads = ["output", *(item.name for item in net.aux_heads)]  # GoogLeNet: output, aux1, aux2
    softmax = spec != "examples/resnet18" and spec != "lenet5"
    assert names == heads + [f"{h} (logits)" for h in heads] * softmax  # probabilities nearly uniform
    assert all(o.scale > 0 and o.max_rel <= 1e-4 for o in result.outputs)
    text = result.text()
    assert text.count("max abs") == text.count("max rel") == len(names) and text.endswith(f"{net.name}: ok")


# Small networks that between them reach every op and every emitter path of both backends.
ORACLES = {
    "pools": """
        network MaxCeilPad { input image: 3x17x15; a: maxpool 3x3 stride=2 pad=1 ceil }
        network AvgCeilPad { input image: 3x17x15; b: avgpool 3x3 stride=2 pad=1 ceil }
        network AvgPad { input image: 3x16x15; c: avgpool 2x3 stride=2 pad=1 }
        network MaxCeilRect { input image: 3x16x15; d: maxpool 3x2 stride=2x1 ceil }
        network MaxSame { input image: 3x14x14; e: maxpool 3x3 stride=2 ceil; f: maxpool 3x3 stride=1 pad=1 }
        network Sub { input image: 2x12x12; s: subsample 2x2 stride=2 tanh; t: subsample 3x3 stride=2 }
        network AvgUncounted { input image: 3x16x15; u: avgpool 3x3 stride=2 pad=1 count_pad=false ceil }
        network Adaptive { input image: 3x13x11; v: adaptive_avgpool 6x4; w: adaptive_maxpool 8; y: adaptive_avgpool 8 }
    """,
    "norms": """
        network Lrn {
            input image: 7x5x5
            e: lrn 4 alpha=1e-2 beta=0.75 k=2 convention=paper
            f: lrn 3 alpha=1e-1 beta=0.5 k=1
            g: batchnorm eps=1e-3 momentum=0.01 sigmoid
        }
        network LayerNorms {
            input image: 4x6x5
            a: conv 4 3x3 pad=1
            h: layernorm eps=1e-6
            i: groupnorm 2
            j: batchnorm scale=false relu
            k: batchnorm center=false
            l: layer_scale 0.5
            m: stochastic_depth 0.1
            gap: global_avgpool
            n: layernorm
            o: batchnorm scale=false center=false
            fc: dense 3
        }
    """,
    "convs": """
        module block(c, k) {
            conv c k pad=1 relu
            conv c 3x3 stride=2 pad=1 bias=false
            batchnorm tanh
        }
        network Convs {
            input image: 4x64x64
            a: conv 8 3x3 stride=2 pad=1 relu
            b: conv 8 5x5 same dilation=2 sigmoid
            c: conv 8 3x3 dilation=2 pad=2 groups=2 scaled_tanh
            d: block(8, 3)
            e: block(6, 1)
            f: repeat 2 { conv 6 3x3 pad=1 relu }
            g: conv 12 3x3 stride=2x1 pad=1x0 from f
            t: conv 4 2x2 stride=2 connections { 0: 0 1; 1: 1 2 3; 2: 4 5 6 7 8 9 10 11; 3: 0 11 }
            flatten
            softmax
        }
    """,
    "depthwise": """
        module dw(c, p) { conv c 3x3 stride=2 pad=p groups=c bias=false; batchnorm relu6 }
        network Depthwise {
            input image: 4x10x9
            a: conv 8 3x3 pad=1 groups=4 relu6
            b: dw(8, 0x1x0x1)
            c: dw(8, 1)
            d: conv 6 2x2 pad=1x0x0x1 sigmoid
            g: conv 6 3x3 pad=1 groups=6 keras_kernel=grouped
            p: pointwise_dense 5 gelu
            q: pointwise_dense 4 bias=false
            flatten
            fc: dense 3
        }
    """,
    "preprocessing": """
        network Preprocessing {
            input image: 3x6x5
            rescale 1/127.5 offset=-1
            normalize mean=0.485, 0.456, 0.406 std=0.229, 0.224, 0.225
            rescale scale=2.09, 2.11, 2.1 offset=0.5
            conv 4 3x3 pad=1 relu
            flatten
            rescale scale=PER_FEATURE                   # a factor per feature after a flatten
            dense 3
        }
    """,
    "gates": """
        network Gates {
            input image: 8x6x5
            a: conv 8 3x3 pad=1 relu
            se: multiply {
                branch { global_avgpool keep; conv 2 1x1 relu; conv 8 1x1 sigmoid }
                branch
            }
            left: split 2 from se
            right: split 2 part=1 from se
            both: concat from left, right
            shuffle 4
            gated: multiply from both, a
            flatten
            dense 3
        }
    """,
    "activations": """
        network Activations {
            input image: 3x6x5
            conv 4 3x3 pad=1 relu6; conv 4 1x1 leaky_relu; conv 4 1x1 elu; conv 4 1x1 gelu; conv 4 1x1 silu
            conv 4 1x1 hardswish; conv 4 1x1 hardsigmoid
            leaky_relu 0.2; elu alpha=0.5; gelu approximate=tanh; prelu; relu6; silu; hardswish; hardsigmoid
            flatten
            dense 3
        }
    """,
    "merges": """
        network Merges {
            input image: 3x9x9
            a: conv 4 3x3 pad=1 relu
            b: conv 4 1x1 from image
            s: add from a, b
            c: concat { branch p { conv 2 1x1 } branch q { maxpool 3x3 stride=1 pad=1 } branch }
            t: add relu { branch { conv 10 3x3 pad=1 } branch }
            relu; tanh; sigmoid; scaled_tanh
            gap: global_avgpool
            bn: batchnorm
            drop: dropout 0.3
            fc: dense 5 tanh
            out: rbf 3
        }
    """,
    "loops": """
        module pair(c) { a: conv c 1x1 relu; b: conv c 3x3 pad=1 from a; s: add from a, b }
        network Loops {
            input image: 3x7x7
            r: repeat 2 { conv 4 3x3 stride=2 pad=1 relu }
            p: repeat 2 { pair(4) }
            q: repeat 2 { conv 4 1x1; dropout 0.1 }
            flatten
            fc: dense 3
        }
    """,
    "flat": """
        network FlatOut {
            input image: 2x3x4
            a: conv 3 1x1
            aux1: aux flatten from a
            relu
            flatten
        }
    """,
    "heads": """
        module head(n) { avgpool 3x3 stride=2; conv 4 1x1 relu; flatten; dense n softmax }
        network Heads {
            input image: 3x12x12
            a: conv 6 3x3 pad=1 relu
            aux1: aux head(5) from a
            b: conv 6 3x3 stride=2 relu
            flatten
            fc: dense 5 softmax
        }
    """,
}
# 4 maps of 6x5 flattened: one factor each, in PyTorch's C, H, W order (the Keras flatten keeps its own)
ORACLES["preprocessing"] = ORACLES["preprocessing"].replace("PER_FEATURE", ", ".join(str(round(0.5 + k / 60, 3)) for k in range(120)))


@pytest.mark.parametrize("name", ORACLES)
def test_small_networks_agree(name: str) -> None:
    comp = archc.compile_source(textwrap.dedent(ORACLES[name]))
    comp.raise_for_errors()
    for net in comp.networks:
        result = verify(net)
        assert result.ok, result.text()


def test_oracles_reach_every_op_and_emitter_path() -> None:
    ops, keras_text = set(), ""
    for text in ORACLES.values():
        comp = archc.compile_source(textwrap.dedent(text))
        assert comp.errors == [], comp.errors  # an oracle with errors would drop its networks unseen
        nets = comp.networks
        ops |= {n.op for net in nets for n in net.layers}
        keras_text += generate(nets, "keras", "oracle.arch")
    assert ops == set(archc.ops.CATALOGUE)
    paths = ["PaddedMaxPool2D(", "PaddedAvgPool2D(", 'padding="same", name="e"', "ZeroPadding2D((1, 0)", "LocalResponseNorm("]
    paths += ["count_pad=False", "AdaptivePool2D(", 'Identity(name="y")']
    paths += ["ConnectionTableConv2D(", "Subsampling(", "RBF(", "layers.Permute(", "for i in range(2):", "if aux:", "def block_2("]
    paths += ["layers.DepthwiseConv2D(", "ZeroPadding2D(((0, 1), (0, 1))", "ZeroPadding2D(((1, 0), (0, 1))"]
    paths += ["groups=6", 'layers.Dense(5, activation="gelu", name="p")', "layers.Rescaling([2.09, 2.11, 2.1], offset=0.5"]
    paths += ['name="r-1_pad"', 'x = pair_(x, 4, name=f"p-{i}")', 'a = layers.Conv2D(c, 1, activation="relu", name=f"{name}-a")(x)']
    assert [p for p in paths if p not in keras_text] == []


def test_wrong_weights_fail_and_the_cli_says_so(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", spec_path("lenet5")]) == 0
    assert "LeNet5: ok" in capsys.readouterr().out
    transfer = weights.transfer

    def off_by_a_little(src, dst, net=None):  # type: ignore[no-untyped-def]
        done = transfer(src, dst, net)
        layer = dst.get_layer("F6")
        layer.bias.assign(layer.bias.value + 1e-3)
        return done

    monkeypatch.setattr(weights, "transfer", off_by_a_little)
    assert main(["verify", spec_path("lenet5"), "--seed", "3"]) == 1
    out = capsys.readouterr().out
    assert "seed 3" in out and "FAIL" in out and "LeNet5: FAILED" in out


def test_tolerance_is_relative_to_each_output_scale() -> None:
    result = VerifyResult("Net", atol=1e-4, seed=0, outputs=[OutputDiff("output", (10,), 5e-4, 10.0)])
    assert result.ok  # 5e-5 of the scale
    result.outputs.append(OutputDiff("aux1", (10,), 5e-4, 1.0))
    assert not result.ok and "aux1" in result.text()
    assert not VerifyResult("Empty", 1e-4, 0).ok
    assert OutputDiff("zero", (1,), 0.0, 0.0).max_rel == 0.0


def test_an_output_that_does_not_move_is_inconclusive_not_a_pass() -> None:
    # a softmax over one map is 1 everywhere: the dense layer's output is its bias, whatever the input
    net = archc.load("network Flat {\n    input image: 1x4x4\n    softmax\n    global_avgpool\n    dense 3\n}\n")
    result = verify(net)
    assert result.outputs[0].max_rel <= result.atol and result.sensitivity is not None and result.sensitivity < 1e-6
    assert result.inconclusive and not result.ok
    assert "INCONCLUSIVE" in result.text() and "sensitivity" in result.text()


def test_sensitivity_is_measured_and_layers_names_the_first_divergence(monkeypatch: pytest.MonkeyPatch) -> None:
    net = archc.load(
        "network Deep {\n    input image: 3x12x12\n    c1: conv 8 3x3 pad=1\n    b1: batchnorm relu\n"
        "    c2: conv 8 3x3 pad=1\n    b2: batchnorm relu\n    gap: global_avgpool\n    fc: dense 4\n}\n"
    )
    result = verify(net, layers=True)
    assert result.ok and result.sensitivity is not None and result.sensitivity > 10 * result.atol
    assert result.first_divergence is None
    transfer = weights.transfer

    def wrong_c2(src, dst, net=None):  # type: ignore[no-untyped-def]
        done = transfer(src, dst, net)
        layer = dst.get_layer("c2")
        layer.bias.assign(layer.bias.value + 0.5)
        return done

    monkeypatch.setattr(weights, "transfer", wrong_c2)
    result = verify(net, layers=True)
    assert not result.ok and result.first_divergence == "c2"


def test_the_cli_imports_keras_without_its_scikit_learn_wrappers() -> None:
    """1 s of `archc verify`'s start-up; scikit-learn stays importable afterwards."""
    pytest.importorskip("sklearn")
    code = (
        "import sys\n"
        "from archc.cli import main\n"
        "assert main(['verify', 'specs/lenet5.arch', '--quiet']) == 0\n"
        "assert 'keras' in sys.modules and 'sklearn' not in sys.modules, sorted(m for m in sys.modules if 'sklearn' in m)[:3]\n"
        "import sklearn\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


FULLY_CONVOLUTIONAL = "network F {\n input 3x256x256\n conv 8 3x3 pad=1 relu\n maxpool 2\n conv 4 1x1\n global_avgpool\n}\n"


def test_verify_runs_at_a_smaller_size_that_fits_the_budget_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from archc.verify import fit_budget, verify_bytes

    net = archc.load(FULLY_CONVOLUTIONAL)
    full = verify_bytes(net, 2) + net.total_params * 4
    monkeypatch.setenv("ARCHC_MAX_MODEL_BYTES", str(full // 3))
    smaller, note = fit_budget(net, 2)
    assert smaller.input_shape == (3, 128, 128) and smaller.total_params == net.total_params
    assert note.startswith("verified at 3x128x128, not 3x256x256") and "ARCHC_MAX_MODEL_BYTES" in note
    monkeypatch.setenv("ARCHC_MAX_MODEL_BYTES", str(full))
    assert fit_budget(net, 2) == (net, "")


def test_a_network_whose_parameters_depend_on_the_size_is_refused_not_shrunk(monkeypatch: pytest.MonkeyPatch) -> None:
    from archc.runtime import ModelTooLarge
    from archc.verify import fit_budget, verify_bytes

    net = archc.load("network D {\n input 3x64x64\n conv 4 3x3\n flatten\n dense 10\n}\n")
    monkeypatch.setenv("ARCHC_MAX_MODEL_BYTES", str((verify_bytes(net, 2) + net.total_params * 4) // 2))
    with pytest.raises(ModelTooLarge, match="over the budget"):
        fit_budget(net, 2)


def test_the_smaller_size_reaches_the_report(monkeypatch: pytest.MonkeyPatch) -> None:
    from archc.verify import verify_bytes

    net = archc.load(FULLY_CONVOLUTIONAL)
    monkeypatch.setenv("ARCHC_MAX_MODEL_BYTES", str((verify_bytes(net, 2) + net.total_params * 4) // 3))
    result = verify(net)
    assert result.ok and "note: verified at 3x128x128" in result.text()


@pytest.mark.slow
def test_verify_of_lenet5_costs_at_most_twice_a_bare_import_of_torch() -> None:
    """Issue 12's yardstick, measured as bench/verify_time.py does (CPU time of fresh processes,
    alternating): the least of three verifies against the least of three `import torch`s, after
    one verify that fills the JAX compilation cache as a user's first run does."""
    from bench.verify_time import timed

    verify_cmd = [sys.executable, "-m", "archc", "verify", spec_path("lenet5"), "--quiet"]
    timed(verify_cmd)
    reference, cost = [], []
    for _ in range(3):
        reference.append(timed([sys.executable, "-c", "import torch"])[0])
        cost.append(timed(verify_cmd)[0])
    assert min(cost) <= 2 * min(reference), f"verify {min(cost):.2f} s of CPU, import torch {min(reference):.2f} s"


def test_the_command_exits_with_its_code_and_its_output_whole_after_a_framework_loaded() -> None:
    """`archc` skips the interpreter's teardown once torch or JAX is loaded (archc.cli.entry):
    the exit code and everything written to both streams must survive it."""
    preload = "import sys, torch; from archc.cli import entry; sys.argv[0] = 'archc'; entry()"
    summary = subprocess.run(
        [sys.executable, "-c", preload, "summary", spec_path("googlenet")], capture_output=True, text=True, check=False
    )
    plain = subprocess.run([sys.executable, "-m", "archc", "summary", spec_path("googlenet")], capture_output=True, text=True, check=True)
    assert summary.returncode == 0, summary.stderr
    assert summary.stdout == plain.stdout and len(summary.stdout) > 2000
    missing = subprocess.run([sys.executable, "-c", preload, "check", "no/such.arch"], capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and "no/such.arch" in missing.stderr
