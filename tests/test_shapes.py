"""Table-driven unit tests of the pure shape rules in archc/shapes.py.

Every expected value below was worked out by hand from the formulas in
shared/reference/numbers.md (the derivation is in the comment beside it), never copied from
the code's output:

    conv / floor pool   out = floor((n + 2p − (d(k − 1) + 1)) / s) + 1
    ceil pool           out = ceil((n + 2p − k) / s) + 1, minus 1 when the last window would
                        start at or beyond n + p (PyTorch: it must start inside the input or
                        the left padding)
    conv params         (kh·kw·(C/groups) + bias)·filters;  MACs  oh·ow·filters·kh·kw·(C/groups)
    dense params        (fan_in + bias)·units;              MACs  fan_in·units
"""

from __future__ import annotations

from typing import Any

import pytest

from archc import ops
from archc.shapes import RULES, Outcome, ShapeProblem, window_out


def attrs(op: str, **given: Any) -> dict[str, Any]:
    """The options as bind.py hands them to a rule: the catalogue's defaults, then the given ones."""
    out: dict[str, Any] = {o.name: o.default for o in ops.CATALOGUE[op].options}
    out.update(given)
    return out


def rule(op: str, shape: tuple[int, ...], **given: Any) -> Outcome:
    return RULES[op]("layer", attrs(op, **given), [shape])


# -- sliding windows ------------------------------------------------------------------------------
# (n, k, s, p, d, expected, derivation)
FLOOR = [
    (227, 11, 4, 0, 1, 55, "(227 − 11)/4 = 54 → 55: AlexNet conv1"),
    (224, 11, 4, 0, 1, 54, "(224 − 11)/4 = 53.25 → 53 + 1: the paper's input"),
    (224, 7, 2, 3, 1, 112, "(224 + 6 − 7)/2 = 111.5 → 111 + 1: GoogLeNet conv1"),
    (56, 3, 1, 1, 1, 56, "(56 + 2 − 3)/1 + 1: a padded 3x3 keeps the size"),
    (32, 5, 1, 0, 1, 28, "(32 − 5) + 1: LeNet C1"),
    (14, 5, 1, 0, 1, 10, "(14 − 5) + 1: LeNet C3"),
    (5, 5, 1, 0, 1, 1, "(5 − 5) + 1: LeNet C5"),
    (28, 2, 2, 0, 1, 14, "(28 − 2)/2 + 1: LeNet S2"),
    (112, 3, 2, 0, 1, 55, "(112 − 3)/2 = 54.5 → 54 + 1: floor where GoogLeNet wants 56"),
    (56, 3, 2, 0, 1, 27, "53/2 → 26 + 1"),
    (28, 3, 2, 0, 1, 13, "25/2 → 12 + 1"),
    (14, 3, 2, 0, 1, 6, "11/2 → 5 + 1"),
    (32, 3, 1, 0, 2, 28, "dilation 2: span 2·2 + 1 = 5; (32 − 5) + 1"),
    (32, 3, 1, 2, 2, 32, "(32 + 4 − 5) + 1"),
    (20, 3, 2, 1, 3, 8, "span 3·2 + 1 = 7; (20 + 2 − 7)/2 = 7.5 → 7 + 1"),
    (10, 3, 3, 0, 1, 3, "(10 − 3)/3 = 2.33 → 2 + 1"),
    (7, 3, 2, 0, 1, 3, "(7 − 3)/2 + 1"),
    (112, 3, 2, 1, 1, 56, "(112 + 2 − 3)/2 = 55.5 → 55 + 1: ResNet's max pool"),
    (4, 7, 1, 0, 1, -2, "(4 − 7) + 1: the window does not fit"),
]


@pytest.mark.parametrize(("n", "k", "s", "p", "d", "expected", "why"), FLOOR, ids=[f"{r[0]}k{r[1]}s{r[2]}p{r[3]}d{r[4]}" for r in FLOOR])
def test_floor_window(n: int, k: int, s: int, p: int, d: int, expected: int, why: str) -> None:
    out, text, _ = window_out(n, k, s, p, d, False, "H")
    assert out == expected, why
    assert text.startswith("floor(") and text.endswith(f"= {expected}")


# (n, k, s, p, ceil result, floor result, derivation)
CEIL = [
    (112, 3, 2, 0, 56, 55, "ceil(109/2) = 55 → 56; last window starts at 110 < 112"),
    (56, 3, 2, 0, 28, 27, "ceil(53/2) = 27 → 28"),
    (28, 3, 2, 0, 14, 13, "ceil(25/2) = 13 → 14"),
    (14, 3, 2, 0, 7, 6, "ceil(11/2) = 6 → 7"),
    (28, 3, 1, 1, 28, 28, "inception's 3x3/1 pool: (28 + 2 − 3) + 1 either way"),
    (55, 3, 2, 0, 27, 27, "52/2 exact: ceil and floor agree (AlexNet pool1)"),
    (5, 2, 2, 1, 3, 3, "ceil(5/2) = 3 → 4, but the 4th window would start at 6 = n + p: dropped"),
    (7, 2, 2, 1, 4, 4, "ceil(7/2) = 4 → 5; the 5th would start at 8 = 7 + 1: dropped"),
    (8, 3, 3, 1, 3, 3, "ceil(7/3) = 3 → 4; the 4th would start at 9 = 8 + 1: dropped"),
    (10, 4, 3, 2, 4, 4, "ceil(10/3) = 4 → 5; the 5th would start at 12 = 10 + 2: dropped"),
    (6, 3, 2, 1, 4, 3, "ceil(5/2) = 3 → 4; the 4th starts at 6 < 6 + 1: kept"),
    (1, 3, 2, 1, 1, 1, "(1 + 2 − 3)/2 = 0 → 1"),
]


@pytest.mark.parametrize(("n", "k", "s", "p", "ceil", "floor", "why"), CEIL, ids=[f"{r[0]}k{r[1]}s{r[2]}p{r[3]}" for r in CEIL])
def test_ceil_pool_follows_pytorch(n: int, k: int, s: int, p: int, ceil: int, floor: int, why: str) -> None:
    assert window_out(n, k, s, p, 1, True, "H")[0] == ceil, why
    assert window_out(n, k, s, p, 1, False, "H")[0] == floor, why
    assert rule("maxpool", (3, n, n), kernel=(k, k), stride=(s, s), pad=(p, p), ceil=True).shape == (3, ceil, ceil)
    assert rule("avgpool", (3, n, n), kernel=(k, k), stride=(s, s), pad=(p, p)).shape == (3, floor, floor)


# (n, k, s, p, rows dropped at the end)
DROPPED = [
    (224, 11, 4, 0, 1),  # 213 = 4·53 + 1
    (227, 11, 4, 0, 0),  # 216 = 4·54
    (54, 3, 2, 0, 1),  # 51 = 2·25 + 1
    (55, 3, 2, 0, 0),
    (224, 7, 2, 3, 0),  # 223 = 2·111 + 1, but that 1 is the right padding
    (10, 3, 3, 0, 1),  # 7 = 3·2 + 1
    (12, 3, 4, 0, 0),  # stride > kernel skips rows between windows anyway: not reported as dropped
]


@pytest.mark.parametrize(("n", "k", "s", "p", "dropped"), DROPPED)
def test_rows_dropped_at_the_end(n: int, k: int, s: int, p: int, dropped: int) -> None:
    assert window_out(n, k, s, p, 1, False, "H")[2] == dropped


def test_non_square_windows() -> None:
    out = rule("conv", (3, 32, 20), filters=4, kernel=(5, 3), stride=(1, 2), pad=(2, 0))
    # H: (32 + 4 − 5) + 1 = 32;  W: (20 − 3)/2 = 8.5 → 8 + 1 = 9
    assert out.shape == (4, 32, 9)
    assert out.params == (5 * 3 * 3 + 1) * 4 == 184
    assert out.explain[:2] == ["H: floor((32 + 2·2 − 5)/1) + 1 = 32", "W: floor((20 − 3)/2) + 1 = 9"]


# -- conv -------------------------------------------------------------------------------------------
# (input, options, shape, params, MACs)
CONV = [
    # AlexNet conv1: (11·11·3 + 1)·96; MACs 55·55·96·11·11·3
    ((3, 227, 227), {"filters": 96, "kernel": (11, 11, 3), "stride": (4, 4)}, (96, 55, 55), 34_944, 105_415_200),
    # AlexNet conv2, two towers: each filter 5x5x48; (1200 + 1)·256; 27·27·256·1200
    ((96, 27, 27), {"filters": 256, "kernel": (5, 5, 48), "pad": (2, 2), "groups": 2}, (256, 27, 27), 307_456, 223_948_800),
    # AlexNet conv3 crosses the towers: (9·256 + 1)·384; 13·13·384·2304
    ((256, 13, 13), {"filters": 384, "kernel": (3, 3), "pad": (1, 1)}, (384, 13, 13), 885_120, 149_520_384),
    # AlexNet conv4: groups 2 → 192 per filter: (1728 + 1)·384 = 663,936; 169·384·1728
    ((384, 13, 13), {"filters": 384, "kernel": (3, 3), "pad": (1, 1), "groups": 2}, (384, 13, 13), 663_936, 112_140_288),
    # VGG conv1_1: (27 + 1)·64 = 1,792; 224²·64·27
    ((3, 224, 224), {"filters": 64, "kernel": (3, 3), "pad": (1, 1)}, (64, 224, 224), 1_792, 86_704_128),
    # GoogLeNet conv1: (7·7·3 + 1)·64 = 9,472; 112²·64·147 = 118,013,952
    ((3, 224, 224), {"filters": 64, "kernel": (7, 7), "stride": (2, 2), "pad": (3, 3)}, (64, 112, 112), 9_472, 118_013_952),
    # the bottleneck example: 14²·48·25·480 = 112,896,000; (25·480 + 1)·48 = 576,048
    ((480, 14, 14), {"filters": 48, "kernel": (5, 5, 480), "pad": (2, 2)}, (48, 14, 14), 576_048, 112_896_000),
    # ... reduced: 1x1 to 16 maps: 196·16·480 = 1,505,280; then 5x5x16: 196·48·400 = 3,763,200
    ((480, 14, 14), {"filters": 16, "kernel": (1, 1)}, (16, 14, 14), 7_696, 1_505_280),
    ((16, 14, 14), {"filters": 48, "kernel": (5, 5), "pad": (2, 2)}, (48, 14, 14), 19_248, 3_763_200),
    # no bias (ResNet): 9·64·64 = 36,864; pad=same with stride 1 keeps 56
    ((64, 56, 56), {"filters": 64, "kernel": (3, 3), "pad": "same", "bias": False}, (64, 56, 56), 36_864, 115_605_504),
    # pad=valid is 0; dilation 2 gives an effective 5x5: 32 − 5 + 1 = 28
    ((8, 32, 32), {"filters": 4, "kernel": (3, 3), "pad": "valid", "dilation": (2, 2)}, (4, 28, 28), 292, 225_792),
    # pad=same with dilation 2: pad 2 keeps 32
    ((8, 32, 32), {"filters": 4, "kernel": (3, 3), "pad": "same", "dilation": (2, 2)}, (4, 32, 32), 292, 294_912),
    # depthwise as groups = channels: (9·1 + 1)·32; 16²·32·9
    ((32, 16, 16), {"filters": 32, "kernel": (3, 3), "pad": (1, 1), "groups": 32}, (32, 16, 16), 320, 73_728),
]


@pytest.mark.parametrize(("shape", "options", "out", "params", "macs"), CONV)
def test_conv(shape: tuple[int, ...], options: dict[str, Any], out: tuple[int, ...], params: int, macs: int) -> None:
    result = rule("conv", shape, **options)
    assert (result.shape, result.params, result.macs) == (out, params, macs)


def test_conv_explain_reads_like_a_textbook() -> None:
    out = RULES["conv"]("conv1", attrs("conv", filters=96, kernel=(11, 11, 3), stride=(4, 4)), [(3, 227, 227)])
    assert out.explain[0] == "floor((227 − 11)/4) + 1 = 55"
    assert out.explain[1] == "(11·11·3+1)·96 = 34,944 params"


# LeNet-5's Table I, per C3 map (numbers.md): 6 of 3 contiguous, 6 of 4 contiguous, 3 of 4 not, 1 of all 6.
C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)  # fmt: skip


def test_connection_table_conv_counts_only_connected_maps() -> None:
    out = RULES["conv"]("C3", attrs("conv", filters=16, kernel=(5, 5), table=C3_TABLE), [(6, 14, 14)])
    assert out.shape == (16, 10, 10)
    # (25·3 + 1)·6 + (25·4 + 1)·6 + (25·4 + 1)·3 + (25·6 + 1)·1 = 456 + 606 + 303 + 151
    assert out.params == 1_516
    # 60 links, each a 5x5 kernel over a 10x10 output: 100·25·60
    assert out.macs == 150_000
    assert "(5·5·3+1)·6 + (5·5·4+1)·6 + (5·5·4+1)·3 + (5·5·6+1)·1 = 1,516" in out.explain[1]


def test_connection_table_without_bias() -> None:
    table = ((0,), (0, 1), (1,))
    out = RULES["conv"]("t", attrs("conv", filters=3, kernel=(3, 3), bias=False, table=table), [(2, 5, 5)])
    assert (out.shape, out.params, out.macs) == ((3, 3, 3), 9 * 4, 9 * 9 * 4)  # 4 links of 3x3


# (input, options, code, option the caret goes to)
CONV_PROBLEMS = [
    ((3, 32, 32), {"filters": 8, "kernel": (3, 3), "groups": 2}, "groups", "groups"),  # 3 maps
    ((4, 32, 32), {"filters": 6, "kernel": (3, 3), "groups": 4}, "groups", "groups"),  # 6 filters
    ((4, 32, 32), {"filters": 8, "kernel": (3, 3), "groups": 0}, "groups", "groups"),
    ((512, 28, 28), {"filters": 512, "kernel": (3, 3, 256), "pad": (1, 1)}, "channel-mismatch", "kernel"),  # VGG conv4_3
    ((96, 27, 27), {"filters": 256, "kernel": (5, 5, 96), "groups": 2}, "channel-mismatch", "kernel"),  # 48 per tower
    ((3, 8, 8), {"filters": 4, "kernel": (9, 9)}, "empty-output", "kernel"),
    ((3, 8, 8), {"filters": 0, "kernel": (3, 3)}, "option-value", "filters"),
    ((3, 8, 8), {"filters": 4, "kernel": (3, 3), "stride": (0, 0)}, "option-value", "stride"),
    ((3, 8, 8), {"filters": 4, "kernel": (3, 3), "pad": (-1, -1)}, "option-value", "pad"),
    ((3, 8, 8), {"filters": 4, "kernel": (3, 3), "dilation": (0, 0)}, "option-value", "dilation"),
    ((3, 8, 8), {"filters": 4, "kernel": (3, 3), "stride": (2, 2), "pad": "same"}, "option-value", "pad"),
    ((3, 8, 8), {"filters": 4, "kernel": (4, 4), "pad": "same"}, "option-value", "pad"),
    ((192,), {"filters": 4, "kernel": (3, 3)}, "needs-spatial", None),
]


@pytest.mark.parametrize(("shape", "options", "code", "option"), CONV_PROBLEMS)
def test_conv_problems(shape: tuple[int, ...], options: dict[str, Any], code: str, option: str | None) -> None:
    with pytest.raises(ShapeProblem) as info:
        rule("conv", shape, **options)
    assert (info.value.code, info.value.option) == (code, option)


def test_channel_mismatch_message_names_both_depths() -> None:
    with pytest.raises(ShapeProblem) as info:
        RULES["conv"]("conv4_3", attrs("conv", filters=512, kernel=(3, 3, 256), pad=(1, 1)), [(512, 28, 28)])
    assert info.value.message == "conv4_3 takes 512 input maps, so each filter is 3x3x512, but its filters are declared 3x3x256"


def test_empty_output_shows_the_arithmetic() -> None:
    with pytest.raises(ShapeProblem) as info:
        RULES["conv"]("conv3", attrs("conv", filters=8, kernel=(7, 7)), [(8, 4, 4)])
    assert "floor((4 − 7)/1) + 1 = -2" in info.value.message


def test_dropped_rows_warning_names_227() -> None:
    out = RULES["conv"]("conv1", attrs("conv", filters=96, kernel=(11, 11, 3), stride=(4, 4)), [(3, 224, 224)])
    assert out.shape == (96, 54, 54)
    (warn,) = out.warnings
    assert warn.code == "dropped-rows" and warn.option == "stride"
    assert warn.message.startswith("224 − 11 is not divisible by stride 4: conv1 drops 1 row and column")
    assert warn.hint is not None and "227x227" in warn.hint
    assert RULES["conv"]("conv1", attrs("conv", filters=96, kernel=(11, 11, 3), stride=(4, 4)), [(3, 227, 227)]).warnings == []


# -- pools ------------------------------------------------------------------------------------------
POOLS = [
    ("maxpool", (96, 55, 55), {"kernel": (3, 3), "stride": (2, 2)}, (96, 27, 27)),  # 52/2 + 1: overlapping
    ("maxpool", (64, 224, 224), {"kernel": (2, 2), "stride": (2, 2)}, (64, 112, 112)),
    ("maxpool", (64, 224, 224), {"kernel": (2, 2)}, (64, 112, 112)),  # stride defaults to the kernel
    ("maxpool", (64, 112, 112), {"kernel": (3, 3), "stride": (2, 2), "ceil": True}, (64, 56, 56)),
    ("maxpool", (64, 112, 112), {"kernel": (3, 3), "stride": (2, 2), "pad": (1, 1)}, (64, 56, 56)),
    ("avgpool", (512, 14, 14), {"kernel": (5, 5), "stride": (3, 3)}, (512, 4, 4)),  # aux head: 9/3 + 1
    ("avgpool", (528, 14, 14), {"kernel": (5, 5), "stride": (3, 3)}, (528, 4, 4)),
    ("avgpool", (8, 7, 7), {"kernel": (7, 7)}, (8, 1, 1)),
]


@pytest.mark.parametrize(("op", "shape", "options", "out"), POOLS)
def test_pools_have_no_parameters(op: str, shape: tuple[int, ...], options: dict[str, Any], out: tuple[int, ...]) -> None:
    result = rule(op, shape, **options)
    assert (result.shape, result.params, result.macs) == (out, 0, 0)


def test_pool_padding_at_most_half_the_kernel() -> None:
    with pytest.raises(ShapeProblem) as info:
        rule("maxpool", (3, 32, 32), kernel=(3, 3), stride=(2, 2), pad=(2, 2))
    assert (info.value.code, info.value.option) == ("option-value", "pad")
    assert rule("maxpool", (3, 32, 32), kernel=(2, 2), stride=(2, 2), pad=(1, 1)).shape == (3, 17, 17)  # (32 + 2 − 2)/2 + 1


def test_floor_pool_that_drops_rows_mentions_ceil() -> None:
    out = rule("maxpool", (64, 112, 112), kernel=(3, 3), stride=(2, 2))
    (warn,) = out.warnings
    assert warn.code == "dropped-rows"
    assert warn.hint is not None and "`ceil`" in warn.hint and "64x56x56" in warn.hint
    assert rule("maxpool", (64, 112, 112), kernel=(3, 3), stride=(2, 2), ceil=True).warnings == []


def test_subsample_has_a_coefficient_and_a_bias_per_map() -> None:
    s2 = rule("subsample", (6, 28, 28), kernel=(2, 2), stride=(2, 2))
    assert (s2.shape, s2.params, s2.macs) == ((6, 14, 14), 12, 0)  # (1 + 1)·6
    s4 = rule("subsample", (16, 10, 10), kernel=(2, 2))
    assert (s4.shape, s4.params) == ((16, 5, 5), 32)  # (1 + 1)·16


def test_global_avgpool() -> None:
    assert rule("global_avgpool", (1024, 7, 7)).shape == (1024,)
    with pytest.raises(ShapeProblem, match="needs a CxHxW tensor"):
        rule("global_avgpool", (1024,))


# -- per-map and element-wise ops ---------------------------------------------------------------------
def test_batchnorm_holds_a_scale_and_a_shift_per_map() -> None:
    out = rule("batchnorm", (64, 112, 112))
    assert (out.shape, out.params, out.macs) == ((64, 112, 112), 128, 0)
    assert rule("batchnorm", (10,)).params == 20


def test_lrn_keeps_the_shape_and_holds_nothing() -> None:
    out = rule("lrn", (96, 27, 27), size=5, alpha=1e-4, beta=0.75, k=1.0)
    assert (out.shape, out.params, out.macs) == ((96, 27, 27), 0, 0)
    with pytest.raises(ShapeProblem):
        rule("lrn", (96, 27, 27), size=0)
    with pytest.raises(ShapeProblem, match="CxHxW"):
        rule("lrn", (96,))


@pytest.mark.parametrize("op", list(ops.ACTIVATIONS))
def test_activations_keep_the_shape(op: str) -> None:
    for shape in [(6, 28, 28), (84,)]:
        out = rule(op, shape)
        assert (out.shape, out.params, out.macs) == (shape, 0, 0)


@pytest.mark.parametrize(("rate", "ok"), [(0.0, True), (0.5, True), (0.7, True), (1.0, False), (1.5, False), (-0.1, False)])
def test_dropout_rate(rate: float, ok: bool) -> None:
    if ok:
        assert rule("dropout", (4096,), rate=rate).shape == (4096,)
    else:
        with pytest.raises(ShapeProblem) as info:
            rule("dropout", (4096,), rate=rate)
        assert info.value.option == "rate"


# -- flat layers ---------------------------------------------------------------------------------------
FLATTEN = [((512, 7, 7), 25_088), ((256, 6, 6), 9_216), ((120, 1, 1), 120), ((128, 4, 4), 2_048), ((10,), 10)]


@pytest.mark.parametrize(("shape", "total"), FLATTEN)
def test_flatten(shape: tuple[int, ...], total: int) -> None:
    out = rule("flatten", shape)
    assert (out.shape, out.params) == ((total,), 0)


DENSE = [
    (25_088, 4_096, True, 102_764_544, 102_760_448),  # VGG fc6: (25088 + 1)·4096
    (9_216, 4_096, True, 37_752_832, 37_748_736),  # AlexNet fc6
    (4_096, 1_000, True, 4_097_000, 4_096_000),  # fc8
    (120, 84, True, 10_164, 10_080),  # LeNet F6: 121·84
    (1_024, 1_000, True, 1_025_000, 1_024_000),  # GoogLeNet classifier
    (2_048, 1_024, True, 2_098_176, 2_097_152),  # aux fc1: 128·4·4 inputs
    (512, 10, False, 5_120, 5_120),
]


@pytest.mark.parametrize(("fan_in", "units", "bias", "params", "macs"), DENSE)
def test_dense(fan_in: int, units: int, bias: bool, params: int, macs: int) -> None:
    out = rule("dense", (fan_in,), units=units, bias=bias)
    assert (out.shape, out.params, out.macs) == ((units,), params, macs)


def test_dense_on_a_spatial_tensor_asks_for_flatten() -> None:
    with pytest.raises(ShapeProblem) as info:
        RULES["dense"]("fc6", attrs("dense", units=4096), [(512, 7, 7)])
    assert info.value.code == "needs-flatten"
    assert "512x7x7" in info.value.message
    assert info.value.hint is not None and "flatten" in info.value.hint


def test_rbf_has_one_centre_per_unit_and_no_bias() -> None:
    out = rule("rbf", (84,), units=10)
    assert (out.shape, out.params, out.macs) == ((10,), 840, 840)  # 84·10
    with pytest.raises(ShapeProblem, match="flat vector"):
        rule("rbf", (84, 1, 1), units=10)


@pytest.mark.parametrize("op", ["dense", "rbf"])
def test_at_least_one_unit(op: str) -> None:
    with pytest.raises(ShapeProblem) as info:
        rule(op, (10,), units=0)
    assert info.value.option == "units"


# -- merges ---------------------------------------------------------------------------------------------
def concat(*shapes: tuple[int, ...]) -> Outcome:
    return RULES["concat"]("merge", {}, list(shapes))


def test_concat_adds_maps() -> None:
    # inception 3a: 64 + 128 + 32 + 32 = 256
    out = concat((64, 28, 28), (128, 28, 28), (32, 28, 28), (32, 28, 28))
    assert (out.shape, out.params) == ((256, 28, 28), 0)
    assert concat((10,), (20,)).shape == (30,)


@pytest.mark.parametrize(
    "shapes",
    [
        [(64, 28, 28), (128, 26, 26)],  # a forgotten pad=1
        [(64, 28, 28), (64, 28, 27)],
        [(64, 28, 28), (64,)],  # flat with spatial
        [],
    ],
)
def test_concat_rejects(shapes: list[tuple[int, ...]]) -> None:
    with pytest.raises(ShapeProblem) as info:
        RULES["concat"]("merge", {}, shapes)
    assert info.value.code in ("concat-shape", "empty-merge")


def test_add_needs_equal_shapes() -> None:
    assert RULES["add"]("sum", {}, [(64, 56, 56), (64, 56, 56)]).shape == (64, 56, 56)
    with pytest.raises(ShapeProblem) as info:
        RULES["add"]("sum", {}, [(128, 28, 28), (64, 56, 56)])
    assert info.value.code == "add-shape"
    with pytest.raises(ShapeProblem):
        RULES["add"]("sum", {}, [])


def test_every_op_has_a_rule() -> None:
    assert set(RULES) == set(ops.CATALOGUE)
