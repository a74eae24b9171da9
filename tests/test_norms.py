"""layernorm, groupnorm, layer_scale, stochastic_depth and batchnorm scale=false / center=false.

The reference executor calls torch's own kernels, as the generated code does; here they are held
to the definitions in docs/language.md, the generated helpers to torchvision's semantics, and
both targets to the reference through the campaign's property (tests/campaign.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import archc
from archc import reference

torch = pytest.importorskip("torch")

SPATIAL = "network N {{\n    input x: 6x5x4\n    {}\n}}\n"
FLAT = "network N {{\n    input x: 6\n    {}\n}}\n"


def node_of(spec: str) -> tuple[archc.Network, archc.graph.Node]:
    net = archc.load(spec)
    return net, net.layers[-1]


def run_op(spec: str, x, params: dict[str, object]):
    _, node = node_of(spec)
    view = reference._ParamView({f"{node.qualname}.{k}": v for k, v in params.items()}, node.qualname)
    return reference.OPS[node.op](node, [x], view, False)


def test_layernorm_on_maps_normalises_the_maps_at_each_position() -> None:
    x = torch.randn(2, 6, 5, 4, dtype=torch.float64)
    g, b = torch.rand(6, dtype=torch.float64) + 0.5, torch.randn(6, dtype=torch.float64)
    got = run_op(SPATIAL.format("layernorm eps=1e-3"), x, {"weight": g, "bias": b})
    mean = x.mean(1, keepdim=True)
    var = ((x - mean) ** 2).mean(1, keepdim=True)  # biased
    want = (x - mean) / torch.sqrt(var + 1e-3) * g.view(1, -1, 1, 1) + b.view(1, -1, 1, 1)
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-12)


def test_layernorm_on_a_vector_normalises_the_features() -> None:
    x = torch.randn(3, 6, dtype=torch.float64)
    g, b = torch.rand(6, dtype=torch.float64), torch.randn(6, dtype=torch.float64)
    got = run_op(FLAT.format("layernorm"), x, {"weight": g, "bias": b})
    mean, var = x.mean(1, keepdim=True), x.var(1, unbiased=False, keepdim=True)
    assert torch.allclose(got, (x - mean) / torch.sqrt(var + 1e-5) * g + b, rtol=1e-12, atol=1e-12)


def test_groupnorm_normalises_each_group_over_its_maps_and_positions() -> None:
    x = torch.randn(2, 6, 5, 4, dtype=torch.float64)
    g, b = torch.rand(6, dtype=torch.float64), torch.randn(6, dtype=torch.float64)
    got = run_op(SPATIAL.format("groupnorm 3"), x, {"weight": g, "bias": b})
    grouped = x.reshape(2, 3, 2 * 5 * 4)
    mean, var = grouped.mean(-1, keepdim=True), grouped.var(-1, unbiased=False, keepdim=True)
    want = ((grouped - mean) / torch.sqrt(var + 1e-5)).reshape(x.shape) * g.view(1, -1, 1, 1) + b.view(1, -1, 1, 1)
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-12)


def test_layer_scale_scales_each_map() -> None:
    x = torch.randn(2, 6, 5, 4, dtype=torch.float64)
    gamma = torch.randn(6, 1, 1, dtype=torch.float64)
    got = run_op(SPATIAL.format("layer_scale"), x, {"weight": gamma})
    assert torch.equal(got, x * gamma.view(1, 6, 1, 1))


def test_batchnorm_without_scale_or_shift_fixes_them_at_1_and_0() -> None:
    x = torch.randn(4, 6, 5, 4, dtype=torch.float64)
    mean, var = torch.randn(6, dtype=torch.float64), torch.rand(6, dtype=torch.float64) + 0.5
    beta = torch.randn(6, dtype=torch.float64)
    stats = {"running_mean": mean, "running_var": var}
    normed = (x - mean.view(1, -1, 1, 1)) / torch.sqrt(var.view(1, -1, 1, 1) + 1e-5)
    got = run_op(SPATIAL.format("batchnorm scale=false"), x, {**stats, "bias": beta})
    assert torch.allclose(got, normed + beta.view(1, -1, 1, 1), rtol=1e-12, atol=1e-12)
    got = run_op(SPATIAL.format("batchnorm scale=false center=false"), x, stats)
    assert torch.allclose(got, normed, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("op", "params", "names"),
    [
        ("batchnorm", 12, ["weight", "bias", "running_mean", "running_var"]),
        ("batchnorm scale=false", 6, ["bias", "running_mean", "running_var"]),
        ("batchnorm center=false", 6, ["weight", "running_mean", "running_var"]),
        ("batchnorm scale=false center=false", 0, ["running_mean", "running_var"]),
        ("layernorm", 12, ["weight", "bias"]),
        ("groupnorm 2", 12, ["weight", "bias"]),
        ("layer_scale 0.5", 6, ["weight"]),
        ("stochastic_depth 0.2", 0, []),
    ],
)
def test_parameters_counted_and_built(op: str, params: int, names: list[str]) -> None:
    net, node = node_of(SPATIAL.format(op))
    assert node.params == params == net.total_params
    assert list(reference.param_shapes(net, node)) == names
    model = archc.build_model(net, "torch")
    assert sum(p.numel() for p in model.parameters()) == params
    assert sorted(k.split(".")[-1] for k in model.state_dict() if not k.endswith("num_batches_tracked")) == sorted(names)


def test_layer_scale_weight_has_torchvisions_layout() -> None:
    model = archc.build_model(archc.load(SPATIAL.format("layer_scale 0.25")), "torch")
    (weight,) = model.parameters()
    assert weight.shape == (6, 1, 1) and torch.all(weight == 0.25)
    model = archc.build_model(archc.load(FLAT.format("layer_scale")), "torch")
    assert next(model.parameters()).shape == (6,)


def test_groups_that_do_not_divide_the_maps_are_located() -> None:
    spec = SPATIAL.format("groupnorm 4")
    comp = archc.compile_source(spec, "g.arch")
    (d,) = comp.errors
    assert d.code == "groups" and "groups=4 does not divide the 6 input maps" in d.message
    assert (d.span.line, d.span.column) == (3, spec.split("\n")[2].index("4") + 1)


@pytest.mark.parametrize(
    ("op", "lines"),
    [
        ("layernorm", ["normalised over the 6 maps at each of 5·4 positions", "2·6 = 12 params (γ and β per map)"]),
        ("groupnorm 3", ["3 groups of 2 maps", "2·6 = 12 params (γ and β per map)"]),
        ("layer_scale", ["1·6 = 6 params (a γ per map)"]),
        ("batchnorm center=false", ["1·6 = 6 params (γ only)"]),
    ],
)
def test_explain_lines(op: str, lines: list[str]) -> None:
    _, node = node_of(SPATIAL.format(op))
    assert node.explain == lines


@pytest.mark.parametrize("spec", ["stochastic_depth 1", "stochastic_depth -0.1", "layernorm eps=0", "groupnorm 0"])
def test_bad_options_are_diagnosed(spec: str) -> None:
    assert not archc.compile_source(SPATIAL.format(spec)).ok


def _torchvision():
    """torchvision under the CPU torch: its fake-kernel registrations name ops that never load
    (shared/reference/environment.md), so they are skipped during the import."""
    register = torch.library.register_fake
    torch.library.register_fake = lambda *a, **k: lambda f: f
    try:
        return pytest.importorskip("torchvision")
    finally:
        torch.library.register_fake = register


def test_stochastic_depth_is_torchvisions_in_train_and_the_identity_in_eval() -> None:
    tv = _torchvision()
    model = archc.build_model(archc.load(SPATIAL.format("stochastic_depth 0.4")), "torch")
    x = torch.randn(64, 6, 5, 4)
    model.train()
    torch.manual_seed(3)
    got = model(x)
    torch.manual_seed(3)
    want = tv.ops.stochastic_depth(x, 0.4, "row", training=True)
    assert torch.equal(got, want)
    kept = got.flatten(1).abs().sum(1) > 0
    assert 0 < int(kept.sum()) < 64  # whole samples dropped, the others scaled by 1/(1 − p)
    assert torch.allclose(got[kept], x[kept] / 0.6)
    model.eval()
    assert model(x) is x
    assert torch.equal(run_op(SPATIAL.format("stochastic_depth 0.4"), x, {}), x)  # the reference: the identity


def test_keras_stochastic_depth_drops_whole_samples_in_training_only() -> None:
    keras = pytest.importorskip("keras")
    import numpy as np

    model = archc.build_model(archc.load(SPATIAL.format("stochastic_depth 0.4")), "keras")
    x = np.random.default_rng(0).standard_normal((64, 5, 4, 6)).astype("float32")
    assert np.array_equal(keras.ops.convert_to_numpy(model(x, training=False)), x)
    got = keras.ops.convert_to_numpy(model(x, training=True))
    kept = np.abs(got).reshape(64, -1).sum(1) > 0
    assert 0 < kept.sum() < 64
    assert np.allclose(got[kept], x[kept] / 0.6, rtol=1e-6)


ALL_OPS = """
module res(c, r) {
    add {
        branch { conv c 3x3 pad=1 groups=2; layernorm eps=1e-6; conv c 1x1; gelu; layer_scale 0.5; stochastic_depth r }
        branch
    }
}

network Norms {
    input x: 4x7x6
    res(4, RATE)
    batchnorm scale=false relu
    groupnorm 2 eps=1e-3
    batchnorm center=false
    batchnorm scale=false center=false
    layer_scale init=2
    global_avgpool
    layernorm
    batchnorm scale=false
    layer_scale
    stochastic_depth RATE
    groupnorm 2
    dense 3
}
"""


@pytest.mark.parametrize("rate", ["0", "0.3"])
def test_every_new_op_passes_the_campaign_property(rate: str) -> None:
    """Torch == the reference bit for bit in eval and (at rate 0) train; Keras ≈ torch after the
    weight transfer, the missing batch-norm tensors and the (C, 1, 1) layer scale included."""
    pytest.importorskip("keras")
    from tests.campaign import check_spec

    assert check_spec(ALL_OPS.replace("RATE", rate), seed=1) == []


def test_train_mode_is_compared_when_stochastic_depth_has_rate_0(monkeypatch: pytest.MonkeyPatch) -> None:
    """At rate 0 the campaign compares train mode too: a wrong reference is caught there."""
    from tests import campaign

    spec = ALL_OPS.replace("RATE", "0")
    monkeypatch.setitem(reference.OPS, "stochastic_depth", lambda node, ins, p, train: ins[0] * 2 if train else ins[0])
    assert any("train" in p for p in campaign.check_spec(spec, keras=False))


def test_weight_transfer_round_trips_without_the_missing_tensors() -> None:
    pytest.importorskip("keras")
    from archc.weights import transfer

    net = archc.load(ALL_OPS.replace("RATE", "0.1"))
    src = archc.build_model(net, "torch")
    with torch.no_grad():
        for p in src.parameters():
            p.copy_(torch.randn(p.shape))
    kmodel = archc.build_model(net, "keras")
    back = archc.build_model(net, "torch")
    transfer(src, kmodel, net)
    transfer(kmodel, back, net)
    for (key, want), (_, got) in zip(src.state_dict().items(), back.state_dict().items(), strict=True):
        assert torch.equal(want, got), key


def test_generated_helpers_are_ruff_clean(tmp_path: Path) -> None:
    ruff = Path(sys.executable).with_name("ruff")
    if not ruff.exists():
        pytest.skip("ruff is not installed")
    from archc.build import generate

    net = archc.load(ALL_OPS.replace("RATE", "0.1"))
    for target in ("torch", "keras"):
        (tmp_path / f"norms_{target}.py").write_text(generate([net], target, "norms.arch"), encoding="utf-8")
    for args in (["check"], ["format", "--check"]):
        result = subprocess.run([str(ruff), *args, "--isolated", str(tmp_path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout


def test_activation_memory_of_the_new_ops_is_what_torch_saves(tmp_path: Path) -> None:
    from archc.summary import to_json
    from tests.test_summary_features import torch_saved_bytes

    path = tmp_path / "norms.arch"
    path.write_text(ALL_OPS.replace("RATE", "0.3"), encoding="utf-8")
    measured = torch_saved_bytes(str(path), 4)
    figure = to_json(archc.load(path), batch=4)["activation_bytes"]
    assert 0.9 <= figure / measured <= 1.1, (figure, measured)


@pytest.mark.slow
def test_generated_helpers_pass_mypy_strict_script_and_export(tmp_path: Path) -> None:
    """As tests/test_generated_review.py holds the shipped specs' files."""
    import importlib.util
    import warnings

    from archc.backends.pytorch import entry_point
    from archc.build import generate

    net = archc.load(ALL_OPS.replace("RATE", "0.2"))
    path = tmp_path / "review_norms.py"
    path.write_text(generate([net], "torch", "norms.arch"), encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--ignore-missing-imports", "--no-incremental", str(path)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    model = getattr(module, entry_point(net))().eval()
    x = torch.randn(2, *net.input_shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript's deprecation notice
        scripted = torch.jit.script(model)
    with torch.no_grad():
        want = model(x)
        torch.testing.assert_close(scripted(x), want, rtol=0, atol=0)
        torch.testing.assert_close(torch.export.export(model, (x,)).module()(x), want, rtol=1e-6, atol=1e-6)
    scripted.train()
    assert scripted(x).shape == want.shape  # stochastic depth's train branch compiles too


@pytest.mark.parametrize(
    ("layer", "hint"),
    [
        ("LayerNorm2d", "`layernorm`"),
        ("layer_norm", "`layernorm`"),
        ("GroupNorm 2", "`groupnorm`"),
        ("LayerScale", "`layer_scale`"),
        ("drop_path 0.1", "`stochastic_depth`"),
        ("StochasticDepth 0.1", "`stochastic_depth`"),
        ("groupnorm num_groups=2", "`groups`"),
    ],
)
def test_other_frameworks_names_suggest_the_op(layer: str, hint: str) -> None:
    (d,) = archc.compile_source(SPATIAL.format(layer)).errors
    assert d.code in ("unknown-op", "unknown-option") and d.hint is not None and hint in d.hint, (d.code, d.hint)


def test_diagram_labels_and_block_figures_name_the_norms() -> None:
    from archc.backends.blocks import build_figure
    from archc.backends.dot import DotBackend

    net = archc.load(
        "network N {\n    input x: 6x5x4\n    conv 6 1x1; layernorm\n    conv 6 1x1; groupnorm 3\n"
        "    layer_scale\n    stochastic_depth 0.25\n}\n"
    )
    labels = [DotBackend().op_text(n) for n in net.layers]
    assert labels == ["conv 1x1/1, 6", "layer norm", "conv 1x1/1, 6", "group norm 3", "layer scale", "stochastic depth 0.25"]
    lines = [line for block in build_figure(net).blocks() for line in block.lines]
    assert any(line.endswith("· LN") for line in lines) and any(line.endswith("· GN") for line in lines)
