"""archc.imports.from_torch: a torch model → a spec that checks clean, is formatted as `archc fmt`
prints it, and compiles to a model that loads the source's state_dict (strict=True, through the
reported key map) and computes the same function, with batch-norm statistics calibrated first."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import archc

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from archc.imports.from_torch import TorchImportError, from_torch, import_callable, import_torch  # noqa: E402
from tests.zoo import torchvision as _torchvision  # noqa: E402  (importable under the CPU torch)

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-5  # of the output's scale


def _calibrate(model: Any, seed: int = 0) -> None:
    """Random batch-norm scale and shift, statistics measured on one random batch (train mode,
    momentum=None), then eval: a fresh model's normalisations would make the output flat."""
    gen = torch.Generator().manual_seed(seed)
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in bns]
    with torch.no_grad():
        for m in bns:
            m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.3)
            m.reset_running_stats()
            m.momentum = None
        model.train()
        model(torch.randn(4, *model.archc_input, generator=gen))
    for m, momentum in zip(bns, momenta, strict=True):
        m.momentum = momentum
    model.eval()


def _formatted(spec: str) -> str:
    from archc.backends.arch import format_program
    from archc.diagnostics import Diagnostics
    from archc.parse import parse

    program = parse(spec, "<import>", Diagnostics())
    assert program is not None
    return format_program(program, spec)


def roundtrip(model: Any, shape: tuple[int, ...], softmax: bool = False) -> tuple[str, float]:
    """The imported spec and the largest output difference relative to the output's scale."""
    model.eval()
    result = import_torch(model, shape)
    spec = result.spec
    assert archc.check(spec) == [], spec  # no error and no warning
    assert _formatted(spec) == spec  # `archc fmt --check` accepts it
    compiled = archc.build_model(spec, softmax=softmax)  # softmax=True keeps a final softmax
    model.archc_input = shape
    _calibrate(model)
    source = model.state_dict()
    assert sorted(result.keys.values()) == sorted(source), "every source tensor has a place"
    compiled.load_state_dict(result.state_dict(source), strict=True)
    compiled.eval()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, *shape, generator=gen)
    with torch.no_grad():
        want, got = model(x), compiled(x)
    assert want.shape == got.shape
    scale = float(want.abs().max())
    moved = float((want[0] - want[1]).abs().max())
    assert moved > 1e-3 * scale, "the output barely depends on the input: the comparison would prove little"
    diff = float((want - got).abs().max()) / scale
    assert diff <= TOLERANCE, f"max difference {diff:.2e} of the output scale\n{spec}"
    return spec, diff


def spec_lines(spec: str) -> int:
    return sum(1 for line in spec.splitlines() if line.strip() and not line.strip().startswith("#"))


# -- small models: each op and option ---------------------------------------------------------------


class Block(nn.Module):
    def __init__(self, c: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c, eps=1e-3, momentum=0.03)
        self.down = nn.Sequential(nn.Conv2d(c, c, 1, stride=stride), nn.BatchNorm2d(c)) if stride > 1 else None

    def forward(self, x: Any) -> Any:
        y = self.bn(self.conv(x))
        return F.relu(torch.add(y, self.down(x) if self.down is not None else x))


class Ops(nn.Module):
    """Every leaf module and function the importer maps, once."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding="same", dilation=2)
        self.act = nn.Hardswish()
        self.lrn = nn.LocalResponseNorm(3, alpha=2e-4, beta=0.7, k=1.5)
        self.grouped = nn.Conv2d(8, 16, (1, 3), padding=(0, 1), groups=4)
        self.prelu = nn.PReLU(16)
        self.pool = nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True)
        self.blocks = nn.Sequential(Block(16, 1), Block(16, 1), Block(16, 2))
        self.left = nn.Conv2d(16, 4, 1)
        self.right = nn.Sequential(nn.Conv2d(16, 4, 3, padding=1), nn.LeakyReLU(0.2), nn.ELU(0.5))
        self.gap = nn.AdaptiveAvgPool2d((1, 1))
        self.flat = nn.Flatten()
        self.fc1 = nn.Linear(8, 12)
        self.bn1d = nn.BatchNorm1d(12)
        self.gelu = nn.GELU(approximate="tanh")
        self.drop = nn.Dropout(0.25)
        self.fc2 = nn.Linear(12, 5)

    def forward(self, x: Any) -> Any:
        x = self.lrn(self.act(self.stem(x)))
        x = self.pool(self.prelu(torch.sigmoid(self.grouped(x))))
        x = F.max_pool2d(self.blocks(x), 2, ceil_mode=True)
        x = torch.cat([F.silu(self.left(x)), self.right(x)], dim=1)
        x = F.hardsigmoid(x) + torch.tanh(x)
        x = self.bn1d(self.fc1(self.flat(self.gap(x))))
        return self.fc2(self.drop(F.relu6(self.gelu(x))))


def test_every_mapped_op_round_trips() -> None:
    torch.manual_seed(0)
    spec, diff = roundtrip(Ops(), (3, 20, 20))
    assert diff == 0.0
    for text in ("pad=same dilation=2", "lrn 3 alpha=0.0002 beta=0.7 k=1.5", "conv 16 1x3 pad=0x1 groups=4", "prelu"):
        assert text in spec, spec
    assert "avgpool 3x3 stride=2 pad=1 ceil" in spec and "global_avgpool" in spec and "gelu approximate=tanh" in spec
    assert "leaky_relu 0.2" in spec and "elu 0.5" in spec and "dropout 0.25" in spec and "relu6" in spec


class Functional(nn.Module):
    """The functional and method spellings."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding="valid")
        self.conv2 = nn.Conv2d(6, 6, 1)
        self.keep = nn.Identity()
        self.soft = nn.Softmax(dim=1)
        self.fc = nn.Linear(6 * 3 * 3 + 6 + 6, 4)

    def forward(self, x: Any) -> Any:
        x = F.avg_pool2d(torch.relu(self.conv(x)), 2)
        x = F.gelu(F.elu(F.leaky_relu(x, 0.1), alpha=0.3), approximate="tanh").contiguous()
        y = self.keep(self.conv2(x)).relu()
        a, b, c = torch.flatten(y, 1), x.mean((2, 3)), F.adaptive_avg_pool2d(x, 1).flatten(1)
        return F.softmax(self.fc(self.soft(torch.cat([a, b, c], 1))), dim=1)


def test_functional_spellings_round_trip() -> None:
    torch.manual_seed(0)
    spec, diff = roundtrip(Functional(), (3, 8, 8), softmax=True)
    assert diff == 0.0
    assert "conv 6 3x3 relu" in spec and "avgpool 2x2" in spec and "leaky_relu 0.1" in spec and spec.count("global_avgpool") == 2


def test_a_flat_input() -> None:
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.BatchNorm1d(16), nn.Tanh(), nn.Linear(16, 3))
    spec, diff = roundtrip(mlp, (10,))
    assert "input features: 10" in spec and "dense_0: dense 16 relu" in spec and diff == 0.0, spec


def test_a_class_used_twice_is_a_module_and_identical_calls_a_repeat() -> None:
    torch.manual_seed(0)
    spec, _ = roundtrip(Ops(), (3, 20, 20))
    assert "module block(" in spec and "module block_down(" in spec  # with and without the shortcut conv
    assert "blocks: repeat 2 { block() }" in spec
    assert "batchnorm eps=0.001 momentum=0.03" in spec  # the options that differ from archc's defaults


def test_values_that_differ_between_instances_become_parameters() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = Block(8, 1)
            self.b = nn.Sequential(nn.Conv2d(8, 16, 1), Block(16, 1))
            self.c = Block(16, 1)

        def forward(self, x: Any) -> Any:
            return self.c(self.b(self.a(x)))

    class Wide(nn.Module):
        def __init__(self, c: int, k: int) -> None:
            super().__init__()
            self.conv = nn.Conv2d(c, c * 2, k, padding=k // 2)

        def forward(self, x: Any) -> Any:
            return F.relu(self.conv(x))

    class Two(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w1, self.w2 = Wide(4, 3), Wide(8, 5)

        def forward(self, x: Any) -> Any:
            return self.w2(self.w1(x))

    torch.manual_seed(0)
    roundtrip(Net(), (8, 6, 6))
    spec, _ = roundtrip(Two(), (4, 9, 9))
    assert "module wide(c, k, pad)" in spec and "w1: wide(8, 3x3, 1)" in spec and "w2: wide(16, 5x5, 2)" in spec, spec


def test_module_names_never_take_an_op_or_keyword_name() -> None:
    class Conv(nn.Module):  # `conv` is an op
        def __init__(self) -> None:
            super().__init__()
            self.inner = nn.Conv2d(3, 3, 1)

        def forward(self, x: Any) -> Any:
            return self.inner(x)

    class Branch(Conv):  # `branch` is a keyword
        pass

    torch.manual_seed(0)
    spec, _ = roundtrip(nn.Sequential(Conv(), Conv(), Branch(), Branch(), nn.Flatten()), (3, 4, 4))
    assert "module conv_2()" in spec and "module branch_2()" in spec, spec


def test_names_that_read_alike_are_refused_not_miscompiled() -> None:
    class Clash(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Sequential(nn.Conv2d(3, 3, 1))
            self.a_0 = nn.Conv2d(3, 3, 1)  # `a.0` is written a_0 too

        def forward(self, x: Any) -> Any:
            return self.a_0(self.a(x))

    with pytest.raises(TorchImportError, match="duplicate-name"):
        from_torch(Clash(), (3, 4, 4))


def test_a_pool_stride_is_written_where_the_kernel_is_a_parameter() -> None:
    class Pool(nn.Module):
        def __init__(self, k: int, ceil: bool) -> None:
            super().__init__()
            self.pool = nn.MaxPool2d(k, stride=2, ceil_mode=ceil)

        def forward(self, x: Any) -> Any:
            return self.pool(x)

    class Pools(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.p1, self.p2 = Pool(2, False), Pool(3, True)

        def forward(self, x: Any) -> Any:
            return torch.flatten(self.p2(self.p1(x)), 1)

    spec, _ = roundtrip(Pools(), (2, 15, 15))
    assert "pool: maxpool k stride=2 ceil=ceil" in spec and "p1: pool(2x2, false)" in spec, spec


def test_the_key_map_is_reported_where_archc_names_differ() -> None:
    torch.manual_seed(0)
    model = Ops()
    result = import_torch(model.eval(), (3, 20, 20))
    assert result.renamed
    assert result.keys["stem.weight"] == "stem.weight"  # a top-level layer keeps its key
    inv = {v: k for k, v in result.keys.items()}
    assert inv["blocks.2.down.0.weight"] == "blocks_2.branch2.down_0.weight"  # a branch is a step of the path
    assert inv["right.0.bias"] == "branch2.right_0.bias"


def test_densenet_style_concat_of_all_features_so_far() -> None:
    class Layer(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.bn, self.conv = nn.BatchNorm2d(c), nn.Conv2d(c, 4, 3, padding=1, bias=False)

        def forward(self, feats: list[Any]) -> Any:
            return self.conv(F.relu(self.bn(torch.cat(feats, 1))))

    class Dense(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList(Layer(4 + 4 * k) for k in range(3))

        def forward(self, x: Any) -> Any:
            feats = [x]
            for layer in self.layers:
                feats.append(layer(feats))
            return torch.cat(feats, 1)

    torch.manual_seed(0)
    spec, diff = roundtrip(Dense(), (4, 6, 6))
    assert diff == 0.0 and "layers: repeat 3 { layer() }" in spec, spec


class Lambda(nn.Module):
    """A function as a model (torch.fx traces through it)."""

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: Any) -> Any:
        return self.fn(x)


class Shuffles(nn.Module):
    """ShuffleNetV2's split and channel shuffle, in torchvision's spelling and two others."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)

    def forward(self, x: Any) -> Any:
        a, b = x.chunk(2, dim=1)
        y = torch.cat((a, self.conv(b)), 1)
        n, c, h, w = y.size()
        y = torch.transpose(y.view(n, 2, c // 2, h, w), 1, 2).contiguous().view(n, c, h, w)  # torchvision's
        y = y.reshape(n, 4, 2, h, w).permute(0, 2, 1, 3, 4).flatten(1, 2)
        p, q = torch.split(y, 4, dim=1)
        return torch.cat([q, p], 1).flatten(1)


def test_channel_split_and_shuffle_round_trip() -> None:
    torch.manual_seed(0)
    spec, diff = roundtrip(Shuffles(), (8, 5, 5))
    assert "shuffle 2" in spec and "shuffle 4" in spec and spec.count("split 2") == 4 and "split 2 part=1" in spec, spec
    assert diff == 0.0


@pytest.mark.parametrize(
    ("fn", "reason"),
    [
        (lambda x: torch.cat(x.chunk(2, 2), 1), "Tensor.chunk: chunk along dim 2: archc's split cuts the maps (dim 1)"),
        (lambda x: x.chunk(3, 1)[0], "chunk(3) of 8 maps: archc's split cuts them into equal parts"),
        (lambda x: torch.cat(x.chunk(2, 1), 1), "its parts are used other than one by one"),
        (lambda x: x.view(1, 2, 4, 4, 4).transpose(1, 3).reshape(1, 8, 4, 4), "Tensor.view: no archc op computes it"),
    ],
)
def test_a_view_or_chunk_that_is_no_shuffle_or_split_is_refused(fn: Any, reason: str) -> None:
    with pytest.raises(TorchImportError, match=re.escape(reason)):
        from_torch(Lambda(fn), (8, 4, 4))


# -- refusals ---------------------------------------------------------------------------------------


class Rolls(nn.Module):
    def forward(self, x: Any) -> Any:
        return torch.roll(x, 1, dims=2)


class Unsupported(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.shift = nn.Sequential(Rolls())
        self.up = nn.Upsample(scale_factor=2)
        self.pool = nn.AvgPool2d(2, count_include_pad=False, padding=1)

    def forward(self, x: Any) -> Any:
        return self.pool(self.up(self.shift(self.conv(x)))) * 2


def test_unsupported_ops_are_reported_with_their_module_path_and_op() -> None:
    with pytest.raises(TorchImportError) as info:
        from_torch(Unsupported(), (3, 16, 16))
    got = {(r.path, r.op) for r in info.value.refusals}
    assert got == {("shift.0", "torch.roll"), ("up", "nn.Upsample"), ("pool", "nn.AvgPool2d"), ("(the model)", "operator.mul")}
    assert "count_include_pad=False" in str(info.value) and "shift.0: torch.roll: no archc op computes it" in str(info.value)


@pytest.mark.parametrize(
    ("module", "reason"),
    [
        (nn.PReLU(), "archc's prelu has one per map"),
        (nn.Conv2d(3, 3, 3, padding=1, padding_mode="reflect"), "padding_mode='reflect'"),
        (nn.Conv2d(3, 3, 2, padding="same"), "even effective kernel"),
        (nn.MaxPool2d(3, dilation=2), "dilated"),
        (nn.AdaptiveAvgPool2d((2, None)), "None (keep that size)"),
        (nn.BatchNorm2d(3, affine=False), "without affine"),
        (nn.BatchNorm2d(3, momentum=None), "momentum=None"),
        (nn.Dropout2d(0.2), "no archc op"),
    ],
)
def test_options_the_language_lacks_are_refused(module: Any, reason: str) -> None:
    with pytest.raises(TorchImportError, match=re.escape(reason)):
        from_torch(nn.Sequential(module), (3, 8, 8))


def test_a_module_called_twice_shares_its_weights_and_is_refused() -> None:
    class Shared(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x: Any) -> Any:
            return self.conv(self.conv(x))

    with pytest.raises(TorchImportError, match="called twice"):
        from_torch(Shared(), (3, 8, 8))


class Tangled(nn.Module):
    """a feeds both merges: a dataflow that is not a nest of branches and merges."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 3, 1), nn.Conv2d(3, 3, 1)

    def forward(self, x: Any) -> Any:
        a = self.a(x)
        return a + (a + self.b(x))


class InPlace(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.relu = nn.Conv2d(3, 3, 1), nn.ReLU(inplace=True)

    def forward(self, x: Any) -> Any:
        y = self.conv(x)
        return self.relu(y) + y  # eagerly: relu(y) + relu(y)


class TwoInputs(nn.Module):
    def forward(self, x: Any, y: Any) -> Any:
        return x + y


class FunctionalDropout(nn.Module):
    def forward(self, x: Any) -> Any:
        return F.dropout(x, 0.5, self.training)


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        (Tangled(), "(the model): forward: its dataflow is not a nest of branches and merges"),
        (InPlace(), "relu: nn.ReLU: it works in place on a tensor that other layers read too"),
        (FunctionalDropout(), "F.dropout: F.dropout's training flag is fixed when tracing"),
        (TwoInputs(), "(the model): forward: it takes 2 inputs (x, y): archc networks have one"),
    ],
)
def test_what_the_trace_cannot_state_is_refused(model: Any, reason: str) -> None:
    with pytest.raises(TorchImportError, match=re.escape(reason)):
        from_torch(model, (3, 8, 8))


def test_a_1x1_adaptive_pool_read_as_maps_keeps_them() -> None:
    torch.manual_seed(0)
    spec, diff = roundtrip(nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(3, 4, 1), nn.Flatten()), (3, 8, 8))
    assert "global_avgpool keep" in spec and "flatten" in spec and diff == 0.0, spec
    spec, _ = roundtrip(nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1)), (3, 8, 8))  # returned as Cx1x1 maps
    assert "global_avgpool keep" in spec, spec


class Excite(nn.Module):
    """Squeeze-and-excitation in its spellings: a pooled gate times the maps, either way round."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Conv2d(c, 2, 1), nn.Conv2d(2, c, 1), nn.Conv2d(c, c, 1)

    def forward(self, x: Any) -> Any:
        gate = torch.sigmoid(self.fc2(F.relu(self.fc1(F.adaptive_avg_pool2d(x, 1)))))
        y = torch.mul(x, gate)
        y = F.hardsigmoid(self.fc3(y.mean((2, 3), keepdim=True))).mul(y)
        return (y * y).flatten(1)  # same shapes multiply too


def test_squeeze_and_excitation_is_a_multiply() -> None:
    torch.manual_seed(0)
    spec, diff = roundtrip(Excite(6), (6, 5, 5))
    assert spec.count("multiply {") == 3 and spec.count("global_avgpool keep") == 2 and diff == 0.0, spec


@pytest.mark.parametrize(
    ("fn", "reason"),
    [
        (lambda x: x * 2, "no constants"),
        (lambda x: x * x[:, :1], "NxCx1x1 scale"),
        (lambda x: x * x.mean(1), "a mean other than over H and W"),
    ],
)
def test_a_multiply_archc_cannot_broadcast_is_refused(fn: Any, reason: str) -> None:
    with pytest.raises(TorchImportError, match=re.escape(reason)):
        from_torch(Lambda(fn), (3, 4, 4))


def test_torchvision_squeeze_excitation_and_stochastic_depth() -> None:
    ops = _torchvision().ops

    class Residual(nn.Module):
        def __init__(self, c: int, p: float) -> None:
            super().__init__()
            self.block = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), ops.SqueezeExcitation(c, 2, nn.SiLU))
            self.stochastic_depth = ops.StochasticDepth(p, "row")

        def forward(self, x: Any) -> Any:
            return self.stochastic_depth(self.block(x)) + x

    torch.manual_seed(0)
    spec, diff = roundtrip(nn.Sequential(Residual(4, 0.0), Residual(4, 0.1), nn.Flatten()), (4, 6, 6))
    assert "stochastic_depth: stochastic_depth rate" in spec and "fc1: conv 2 1x1 silu" in spec and diff == 0.0, spec
    assert "residual_1: residual(0.1)" in spec
    assert "multiply {" in spec and "global_avgpool keep" in spec
    with pytest.raises(TorchImportError, match=re.escape("stochastic_depth drops each sample (mode 'row')")):
        from_torch(nn.Sequential(ops.StochasticDepth(0.1, "batch")), (3, 4, 4))


def test_layer_norms_over_the_maps_or_a_vector() -> None:
    norm2d = _torchvision().models.convnext.LayerNorm2d
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), norm2d(4, eps=1e-6), nn.Conv2d(4, 4, 1), nn.Flatten(), nn.LayerNorm(64), nn.Linear(64, 3))
    spec, diff = roundtrip(model, (3, 6, 6))
    assert "layernorm_1: layernorm eps=1e-06" in spec and "layernorm_4: layernorm\n" in spec, spec
    assert diff < 1e-6  # not 0: archc's LayerNorm2d hands the next conv a contiguous tensor, torchvision's a permuted one
    with pytest.raises(TorchImportError, match=re.escape("layer norm over (6, 6) of a rank-4 tensor")):
        from_torch(nn.Sequential(nn.LayerNorm((6, 6))), (3, 6, 6))


class ChannelsLast(nn.Module):
    """ConvNeXt's block in plain torch: a permute to channels-last, per-position layers, the permute
    back, and a parameter of the block itself as a layer scale."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.dw = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.norm, self.up, self.down = nn.LayerNorm(c, eps=1e-6), nn.Linear(c, 3 * c), nn.Linear(3 * c, c, bias=False)
        self.gamma = nn.Parameter(torch.full((c, 1, 1), 0.5))

    def forward(self, x: Any) -> Any:
        y = self.dw(x).permute(0, 2, 3, 1)
        y = torch.permute(self.down(F.relu(self.up(self.norm(y)))).contiguous(), [0, -1, 1, 2])
        return x + y * self.gamma


def test_channels_last_layers_between_permutes_and_a_layer_scale_parameter() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(ChannelsLast(4), ChannelsLast(4))
    spec = from_torch(model, (4, 5, 5))
    assert "norm: layernorm eps=1e-06" in spec and "up: pointwise_dense 12 relu" in spec and "down: pointwise_dense 4 bias=false" in spec
    assert "gamma: layer_scale 0.5" in spec and "permute" not in spec, spec  # the init: the value a fresh model's scale has
    with torch.no_grad():
        for block in model:
            block.gamma.copy_(torch.rand(4, 1, 1) + 0.5)
            block.norm.weight.copy_(torch.rand(4) + 0.5)
    spec, diff = roundtrip(model, (4, 5, 5))
    assert "gamma: layer_scale 1e-06" in spec, spec  # values that differ: the language's default init; the weights load anyway
    assert diff <= 1e-6
    inv = {v: k for k, v in import_torch(model, (4, 5, 5)).keys.items()}
    assert inv["1.gamma"].endswith("gamma.weight") and inv["1.up.weight"].endswith("up.weight")


class Buffered(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("gamma", torch.ones(3, 1, 1))

    def forward(self, x: Any) -> Any:
        return x * self.gamma


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        (Lambda(lambda x: x.permute(0, 1, 3, 2)), "Tensor.permute: permute(0, 1, 3, 2): archc has no transpose"),
        (Lambda(lambda x: x.permute(0, 3, 1, 2)), "permute(0, 3, 1, 2): archc has no transpose"),
        (nn.Sequential(Lambda(lambda x: x.permute(0, 2, 3, 1)), nn.Linear(3, 3)), "after 1 such layer(s), it is the model's output"),
        (
            Lambda(lambda x: x.permute(0, 2, 3, 1).softmax(-1).permute(0, 3, 1, 2)),
            "after 0 such layer(s), Tensor.softmax follows",
        ),
        (
            Lambda(lambda x: (lambda y: (y.relu() + y).permute(0, 3, 1, 2))(x.permute(0, 2, 3, 1))),
            "after 0 such layer(s), its value is read by more than one layer",
        ),
        (Buffered(), "self.gamma: a parameter or buffer used outside its module"),
    ],
)
def test_a_permute_or_parameter_that_is_no_convnext_pattern_is_refused(model: Any, reason: str) -> None:
    with pytest.raises(TorchImportError, match=re.escape(reason)):
        from_torch(model, (3, 4, 4))


def test_a_layer_norm_over_more_than_the_last_axis_is_no_per_position_layer() -> None:
    class Wide(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm = nn.LayerNorm((4, 3))

        def forward(self, x: Any) -> Any:
            return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    with pytest.raises(TorchImportError, match=re.escape("nn.LayerNorm over (4, 3), not the last axis alone")):
        from_torch(Wide(), (3, 4, 4))


def test_a_layer_scale_parameter_of_another_shape_is_refused() -> None:
    class Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gamma = nn.Parameter(torch.ones(3))  # (C,) against maps: it would scale the columns

        def forward(self, x: Any) -> Any:
            return x * self.gamma

    with pytest.raises(TorchImportError, match=re.escape("self.gamma: a parameter or buffer used outside its module")):
        from_torch(Odd(), (3, 3, 3))


def test_import_callable_resolves_a_factory_and_archc_alone_imports_no_torch() -> None:
    with pytest.raises(ValueError, match=re.escape("PACKAGE.MODULE:CALLABLE")):
        import_callable("torchvision.models.resnet18", (3, 64, 64))
    code = "import sys, archc, archc.imports.from_torch; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.slow
def test_import_callable_of_torchvision_resnet18() -> None:
    _torchvision()
    spec = import_callable("torchvision.models:resnet18", "3x64x64")
    assert "network ResNet" in spec and "layer1: repeat 2 { basic_block(64) }" in spec


# -- torchvision's classification models ------------------------------------------------------------

ZOO_KW = {"googlenet": {"aux_logits": False, "transform_input": False, "init_weights": False}}
ZOO_KW["inception_v3"] = ZOO_KW["googlenet"]
ZOO_INPUT = {"inception_v3": (3, 75, 75)}  # its smallest input: 75x75


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        *("resnet18", "resnet50", "densenet121", "squeezenet1_1", "googlenet", "inception_v3", "mobilenet_v2", "mnasnet1_0"),
        *("regnet_x_400mf", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0", "regnet_y_400mf"),  # squeeze-and-excitation
        "shufflenet_v2_x1_0",  # channel split and shuffle
    ],
)
def test_torchvision_model_round_trips(name: str) -> None:
    tv = _torchvision()
    torch.manual_seed(0)
    model = getattr(tv.models, name)(**ZOO_KW.get(name, {}))
    spec, diff = roundtrip(model, ZOO_INPUT.get(name, (3, 64, 64)))
    print(f"{name}: {spec_lines(spec)} lines, max difference {diff:.1e} of the output scale")
    if name == "resnet50":
        assert spec_lines(spec) <= 150


@pytest.mark.slow
@pytest.mark.parametrize("name", ["vgg16", "alexnet"])
def test_torchvision_model_with_adaptive_pool_round_trips(name: str) -> None:
    tv = _torchvision()
    torch.manual_seed(0)
    roundtrip(getattr(tv.models, name)(), (3, 64, 64))


@pytest.mark.slow
def test_torchvision_convnext_tiny_round_trips() -> None:
    """CNBlock: depthwise conv, Permute, LayerNorm, Linear, GELU, Linear, Permute back, its own
    `layer_scale` parameter, StochasticDepth and the residual add; the head LayerNorm2d, Flatten, Linear."""
    from tests.test_zoo_convnext import randomised

    tv = _torchvision()
    torch.manual_seed(0)
    model = tv.models.convnext_tiny()
    randomised(model)  # layer scales away from 1e-6, or the blocks would barely count
    spec, diff = roundtrip(model, (3, 64, 64))  # 64 / 4 / 2 / 2 / 2: the last stage sees 2x2 maps
    print(f"convnext_tiny: {spec_lines(spec)} lines, max difference {diff:.1e} of the output scale")
    assert "layer_scale: layer_scale 1e-06" in spec and "block_3: pointwise_dense units gelu" in spec and "permute" not in spec, spec
    assert "avgpool: global_avgpool\n" in spec and "classifier_0: layernorm eps=1e-06\n" in spec, spec
    assert spec_lines(spec) <= 50
    keys = import_torch(model, (3, 64, 64)).keys
    assert keys["features_1_0.branch1.layer_scale.weight"] == "features.1.0.layer_scale", sorted(keys)[:20]


def test_the_cli_imports_a_callable(tmp_path: Path) -> None:
    from archc.cli import main

    out = tmp_path / "tiny.arch"
    assert main(["import", "tests.data.tiny_torch:tiny", "-o", str(out), "--input", "3x8x8"]) == 0
    net = archc.load(out.read_text())
    assert [n.op for n in net.layers] == ["conv", "global_avgpool", "dense"] and net.total_params == 3 * 4 * 9 + 4 + 4 * 2 + 2


def test_the_cli_names_what_cannot_be_imported(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from archc.cli import main

    out = tmp_path / "rolled.arch"
    assert main(["import", "tests.data.tiny_torch:rolled", "-o", str(out), "--input", "3x8x8"]) == 1
    assert "roll" in capsys.readouterr().err and not out.exists()
    assert main(["import", "tests.data.tiny_torch:nothing_here"]) == 2


def test_the_package_exposes_the_importers_as_functions() -> None:
    """The issue's API: archc.imports.from_torch(module, input_shape) -> str (and from_onnx beside it)."""
    import archc.imports
    from tests.data.tiny_torch import tiny

    text = archc.imports.from_torch(tiny(), (3, 8, 8))
    assert isinstance(text, str) and archc.load(text).total_params == 3 * 4 * 9 + 4 + 4 * 2 + 2
    assert callable(archc.imports.from_onnx) and callable(archc.imports.from_keras)


def test_a_package_that_fails_to_load_is_the_environments_error_not_archcs(tmp_path, monkeypatch, capsys) -> None:
    """A torchvision built for another torch raises RuntimeError while it is imported: exit 3
    with the package's own message, no archc traceback (it was exit 4, "a bug in archc")."""
    from archc.cli import main

    (tmp_path / "broken_models.py").write_text('raise RuntimeError("operator torchvision::nms does not exist")\n')
    (tmp_path / "failing_factory.py").write_text("def make():\n    raise ValueError('no weights here')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["import", "broken_models:resnet18"]) == 3
    err = capsys.readouterr().err
    assert "importing broken_models failed: RuntimeError: operator torchvision::nms does not exist" in err
    assert "Traceback" not in err and "bug in archc" not in err
    assert main(["import", "failing_factory:make"]) == 3
    assert "failing_factory:make() failed: ValueError: no weights here" in capsys.readouterr().err
