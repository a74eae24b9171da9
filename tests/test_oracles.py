"""The hand-written oracles (tests/oracles) checked on their own, then against the generated models.

The oracles are written from the papers, not from archc's generator; `test_generated_matches_oracle`
copies a generated model's weights into its oracle by the spec's layer names and compares outputs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from tests.oracles import alexnet, lenet5  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TOL = 1e-5


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def spec_table(path: Path) -> list[tuple[int, ...]]:
    """Table I as written in the spec: rows = S2 maps, columns = C3 maps; returns inputs per C3 map."""
    rows = re.findall(r"^\s*(\d)\s*:\s*((?:[X.]\s*){16})$", path.read_text(), flags=re.MULTILINE)
    assert len(rows) == 6, rows
    grid = {int(r): marks.split() for r, marks in rows}
    return [tuple(i for i in range(6) if grid[i][j] == "X") for j in range(16)]


# ---------------------------------------------------------------- LeNet-5


def test_lenet5_parameter_counts() -> None:
    model = lenet5.LeNet5()
    assert n_params(model) == 60_840
    per_layer = {name: n_params(getattr(model, name)) for name in ("c1", "s2", "c3", "s4", "c5", "f6", "output")}
    assert per_layer == {"c1": 156, "s2": 12, "c3": 1_516, "s4": 32, "c5": 48_120, "f6": 10_164, "output": 840}


def test_lenet5_output_shape() -> None:
    model = lenet5.LeNet5().eval()
    with torch.no_grad():
        assert model(torch.randn(3, 1, 32, 32)).shape == (3, 10)


def test_lenet5_table_is_the_specs_table() -> None:
    assert spec_table(ROOT / "specs" / "lenet5.arch") == list(lenet5.C3_INPUTS)
    assert sum(len(src) for src in lenet5.C3_INPUTS) == 60
    assert [len(src) for src in lenet5.C3_INPUTS] == [3] * 6 + [4] * 9 + [6]


def test_lenet5_c3_reads_only_connected_maps() -> None:
    torch.manual_seed(0)
    c3 = lenet5.TableConv()
    x = torch.randn(1, 6, 14, 14)
    base = c3(x)
    for i in range(6):
        bumped = x.clone()
        bumped[:, i] += 1.0
        changed = (c3(bumped) - base).abs().amax(dim=(0, 2, 3)) > 1e-6
        expected = torch.tensor([i in src for src in lenet5.C3_INPUTS])
        assert torch.equal(changed, expected), f"S2 map {i}"


def test_lenet5_subsampling_is_window_sum_times_coefficient_plus_bias() -> None:
    s = lenet5.Subsampling(2)
    with torch.no_grad():
        s.coefficient.copy_(torch.tensor([0.5, -2.0]))
        s.bias.copy_(torch.tensor([0.1, 0.3]))
    x = torch.arange(32, dtype=torch.float32).reshape(1, 2, 4, 4)
    window = x[0, 1, 2:4, 0:2].sum()  # map 1, output position (1, 0)
    expected = torch.sigmoid(-2.0 * window + 0.3)
    assert s(x).shape == (1, 2, 2, 2)
    assert torch.allclose(s(x)[0, 1, 1, 0], expected)


def test_lenet5_rbf_and_squashing() -> None:
    rbf = lenet5.RBF(3, 2)
    with torch.no_grad():
        rbf.centres.copy_(torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]]))
    y = rbf(torch.tensor([[1.0, 1.0, 1.0]]))
    assert torch.allclose(y, torch.tensor([[1.0 + 0.0 + 1.0, 0.0]]))
    # LeCun's choice of A and S makes f(±1) = ±1 (to four digits) and f(0) = 0.
    assert abs(lenet5.scaled_tanh(torch.tensor(1.0)).item() - 1.0) < 1e-3
    assert lenet5.scaled_tanh(torch.tensor(0.0)).item() == 0.0


def lenet5_state_dict_like_generated(model: lenet5.LeNet5) -> dict[str, torch.Tensor]:
    """The oracle's weights in the generated layout described in the brief (C3 as 60 kernels)."""
    kernels = torch.cat([conv.weight[0] for conv in model.c3.maps])  # output map, then input map
    return {
        "C1.weight": model.c1.weight,
        "C1.bias": model.c1.bias,
        "S2.weight": model.s2.coefficient,
        "S2.bias": model.s2.bias,
        "C3.weight": kernels,
        "C3.bias": torch.cat([conv.bias for conv in model.c3.maps]),
        "S4.weight": model.s4.coefficient,
        "S4.bias": model.s4.bias,
        "C5.weight": model.c5.weight,
        "C5.bias": model.c5.bias,
        "F6.weight": model.f6.weight,
        "F6.bias": model.f6.bias,
        "output.weight": model.output.centres,
    }


def test_lenet5_c3_layout_equals_a_masked_dense_conv() -> None:
    """The 60-kernel layout, scattered into a masked 16x6 dense conv, computes the same C3."""
    torch.manual_seed(1)
    src = lenet5.LeNet5()
    state = {k: v.detach().clone() for k, v in lenet5_state_dict_like_generated(src).items()}
    dense = nn.Conv2d(6, 16, 5)
    with torch.no_grad():
        dense.weight.zero_()
        link = 0
        for j, inputs in enumerate(lenet5.C3_INPUTS):
            for i in inputs:
                dense.weight[j, i] = state["C3.weight"][link]
                link += 1
        dense.bias.copy_(state["C3.bias"])
    oracle = lenet5.load_generated(lenet5.LeNet5(), state)
    x = torch.randn(2, 6, 14, 14)
    torch.testing.assert_close(oracle.c3(x), dense(x), rtol=TOL, atol=TOL)


def test_lenet5_load_generated_round_trip_and_strictness() -> None:
    torch.manual_seed(2)
    src = lenet5.LeNet5().eval()
    state = {k: v.detach().clone() for k, v in lenet5_state_dict_like_generated(src).items()}
    dst = lenet5.load_generated(lenet5.LeNet5().eval(), state)
    x = torch.randn(4, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(dst(x), src(x), rtol=0, atol=0)
    with pytest.raises(KeyError, match=r"C3\.bias"):
        lenet5.load_generated(lenet5.LeNet5(), {k: v for k, v in state.items() if k != "C3.bias"})
    with pytest.raises(KeyError, match="extra"):
        lenet5.load_generated(lenet5.LeNet5(), {**state, "extra.weight": torch.zeros(3)})
    with pytest.raises(ValueError, match=r"C3\.weight"):
        lenet5.load_generated(lenet5.LeNet5(), {**state, "C3.weight": torch.zeros(16, 6, 5, 5)})
    # An integer buffer (an index table) is not a weight.
    lenet5.load_generated(lenet5.LeNet5(), {**state, "C3.index": torch.zeros(60, dtype=torch.long)})


# ---------------------------------------------------------------- AlexNet


def test_alexnet_parameter_counts() -> None:
    model = alexnet.AlexNet()
    assert n_params(model) == 60_965_224
    per_layer = {name: n_params(getattr(model, name)) for name in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")}
    assert per_layer == {
        "conv1": 34_944,
        "conv2": 307_456,
        "conv3": 885_120,
        "conv4": 663_936,
        "conv5": 442_624,
        "fc6": 37_752_832,
        "fc7": 16_781_312,
        "fc8": 4_097_000,
    }


def test_alexnet_output_shape_and_softmax() -> None:
    model = alexnet.AlexNet().eval()
    with torch.no_grad():
        y = model(torch.randn(2, 3, 227, 227))
    assert y.shape == (2, 1000)
    torch.testing.assert_close(y.sum(dim=1), torch.ones(2))


def test_alexnet_lrn_is_torchs_local_response_norm() -> None:
    torch.manual_seed(3)
    x = torch.randn(2, 12, 5, 5) * 10
    for size, alpha, beta, k in [(5, 1e-4, 0.75, 1.0), (5, 0.5, 0.75, 1.0), (4, 0.3, 0.6, 2.0)]:
        expected = nn.LocalResponseNorm(size, alpha, beta, k)(x)
        torch.testing.assert_close(alexnet.lrn(x, size, alpha, beta, k), expected, rtol=1e-6, atol=1e-6)


def test_alexnet_towers_equal_a_groups2_conv_after_load() -> None:
    """Splitting `conv2.weight` (256, 48, 5, 5) into towers reproduces nn.Conv2d(groups=2)."""
    torch.manual_seed(4)
    grouped = nn.Conv2d(96, 256, 5, padding=2, groups=2)
    state = {k: v.detach().clone() for k, v in alexnet.AlexNet().state_dict().items()}
    state = {k: v for k, v in state.items() if not k.startswith("conv2.")}
    state["conv2.weight"] = grouped.weight.detach().clone()
    state["conv2.bias"] = grouped.bias.detach().clone()
    for name in ("conv4", "conv5"):
        w = torch.cat([state.pop(f"{name}.tower_a.weight"), state.pop(f"{name}.tower_b.weight")])
        b = torch.cat([state.pop(f"{name}.tower_a.bias"), state.pop(f"{name}.tower_b.bias")])
        state[f"{name}.weight"], state[f"{name}.bias"] = w, b
    oracle = alexnet.load_generated(alexnet.AlexNet(), state)
    x = torch.randn(1, 96, 27, 27)
    with torch.no_grad():
        torch.testing.assert_close(oracle.conv2(x), grouped(x), rtol=TOL, atol=TOL)
        # A swapped tower would not pass: tower B's filters must read maps 48..95.
        assert not torch.allclose(oracle.conv2.tower_b(x[:, :48]), grouped(x)[:, 128:], atol=1e-3)


# ---------------------------------------------------------------- generated vs oracle

ORACLES = {
    "lenet5": (lenet5.LeNet5, lenet5.load_generated, (4, 1, 32, 32)),
    "alexnet": (alexnet.AlexNet, alexnet.load_generated, (2, 3, 227, 227)),
}


@torch.no_grad()
def _informative_init(model: nn.Module) -> None:
    """Weights that keep activations from fading, so outputs differ visibly when anything is wrong."""
    for p in model.parameters():
        if p.dim() > 1:
            nn.init.kaiming_normal_(p.view(p.shape[0], -1) if p.dim() == 3 else p, nonlinearity="relu")
        else:
            nn.init.uniform_(p, -0.5, 0.5)


@pytest.mark.parametrize("name", sorted(ORACLES))
def test_generated_matches_oracle(name: str) -> None:
    from archc.runtime import build_model

    make_oracle, load, shape = ORACLES[name]
    torch.manual_seed(0)
    generated = build_model(ROOT / "specs" / f"{name}.arch", "torch", softmax=True).eval()  # the spec exactly
    _informative_init(generated)
    assert n_params(generated) == n_params(make_oracle())
    oracle = load(make_oracle().eval(), generated.state_dict())
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1234))
    with torch.no_grad():
        got, want = generated(x), oracle(x)
        assert got.shape == want.shape
        assert want.std() > 100 * TOL, "outputs too uniform for the comparison to mean anything"
        torch.testing.assert_close(got, want, rtol=TOL, atol=TOL)
        assert torch.equal(generated(x), got), "eval is not deterministic"
    if name == "alexnet":  # the logits too, which the softmax would flatten
        logits_model = build_model(ROOT / "specs" / "alexnet.arch", "torch", logits=True).eval()
        logits_model.load_state_dict(generated.state_dict())
        logits_oracle = load(alexnet.AlexNet(softmax=False).eval(), generated.state_dict())
        with torch.no_grad():
            want = logits_oracle(x)
            assert want.std() > 100 * TOL
            torch.testing.assert_close(logits_model(x), want, rtol=TOL, atol=TOL)
