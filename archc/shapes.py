"""One small pure rule per op: input shapes and options → output shape, params, MACs.

Conventions (shared/reference/numbers.md): params are trainable weights and biases; MACs are
multiply-accumulates of weights only (conv, dense, table conv, RBF), batch 1. Spatial
arithmetic follows the frameworks: floor for conv and pools, PyTorch's rule for ceil pools.
Each rule also returns the arithmetic in textbook form for `archc summary --explain`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import ops

Shape = tuple[int, ...]


@dataclass
class Outcome:
    shape: Shape
    params: int = 0
    macs: int = 0
    explain: list[str] = field(default_factory=list)
    warnings: list[ShapeProblem] = field(default_factory=list)
    known: bool = True  # False: only the shape is known, recovered after an error


class ShapeProblem(Exception):
    """A rule's objection; `option` names the argument to point the caret at."""

    def __init__(self, code: str, message: str, hint: str | None = None, option: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.option = option


def fmt_shape(shape: Shape) -> str:
    return "x".join(str(d) for d in shape)


def n(value: int) -> str:
    return f"{value:,}"


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, tuple):
        return (v[0], v[0]) if len(v) == 1 else (v[0], v[1])
    return (int(v), int(v))


def _spatial(shape: Shape, op: str) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise ShapeProblem(
            "needs-spatial",
            f"{op} needs a CxHxW tensor, got {fmt_shape(shape)}",
            "spatial ops come before `flatten`, `global_avgpool` and `dense`",
        )
    return shape[0], shape[1], shape[2]


def window_out(size: int, k: int, s: int, p: int | tuple[int, int], d: int, ceil: bool, axis: str) -> tuple[int, str, int]:
    """Output length of a sliding window, its arithmetic, and input rows left uncovered at the end.

    `p` pads both ends alike, or is (before, after) for an asymmetric padding (`pad=0x1x0x1`)."""
    before, after = (p, p) if isinstance(p, int) else p
    span = d * (k - 1) + 1
    num = size + before + after - span
    pad_text = pad_terms(p)
    k_text = f"{span}" if d == 1 else f"({d}·({k} − 1) + 1)"
    if ceil:
        out = -(-num // s) + 1
        if out > 0 and (out - 1) * s >= size + before:  # PyTorch: the last window must start inside input + left pad
            out -= 1
        text = f"ceil(({size}{pad_text} − {k_text})/{s}) + 1 = {out}"
        return out, text, 0
    out = num // s + 1
    text = f"floor(({size}{pad_text} − {k_text})/{s}) + 1 = {out}"
    dropped = num % s - after if num >= 0 and span >= s else 0
    return out, text, max(0, dropped)


def _total(p: int | tuple[int, int]) -> int:
    return 2 * p if isinstance(p, int) else p[0] + p[1]


def pad_terms(p: int | tuple[int, int]) -> str:
    """` + 2·1` for a padding on both ends, ` + 0 + 1` for (before, after), `` for none."""
    if isinstance(p, int):
        return f" + 2·{p}" if p else ""
    return "" if p == (0, 0) else f" + 2·{p[0]}" if p[0] == p[1] else f" + {p[0]} + {p[1]}"


def sides(pad: Any) -> tuple[int, int, int, int]:
    """A numeric padding as (top, bottom, left, right): `1`, `1x2` (HxW) or `0x1x0x1` as written."""
    if isinstance(pad, tuple) and len(pad) == 4:
        return (pad[0], pad[1], pad[2], pad[3])
    ph, pw = _pair(pad)
    return (ph, ph, pw, pw)


def _window(shape: Shape, op: str, kernel: Any, stride: Any, pad: Any, dilation: Any = 1, ceil: bool = False) -> Outcome:
    c, h, w = _spatial(shape, op)
    kh, kw = _pair(kernel)
    sh, sw = _pair(stride)
    top, bottom, left, right = sides(pad)
    ph = (top, bottom) if top != bottom else top  # int: both ends alike; (before, after) otherwise
    pw = (left, right) if left != right else left
    dh, dw = _pair(dilation)
    if min(kh, kw) < 1:
        raise ShapeProblem("option-value", f"{op} kernel must be at least 1x1", option="kernel")
    if min(sh, sw) < 1:
        raise ShapeProblem("option-value", f"{op} stride must be at least 1", option="stride")
    if min(top, bottom, left, right) < 0:
        raise ShapeProblem("option-value", f"{op} padding cannot be negative", option="pad")
    if min(dh, dw) < 1:
        raise ShapeProblem("option-value", f"{op} dilation must be at least 1", option="dilation")
    oh, th, drop_h = window_out(h, kh, sh, ph, dh, ceil, "H")
    ow, tw, drop_w = window_out(w, kw, sw, pw, dw, ceil, "W")
    explain = [th] if th == tw else [f"H: {th}", f"W: {tw}"]
    if oh <= 0 or ow <= 0:
        raise ShapeProblem(
            "empty-output",
            f"{op} output would be {oh}x{ow}: " + ("; ".join(explain)),
            f"the {kh}x{kw} window does not fit the {h}x{w} input; pad it or use a smaller kernel",
            option="kernel",
        )
    out = Outcome((c, oh, ow), explain=explain)
    if drop_h or drop_w:
        span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
        out.warnings.append(_dropped_rows(op, [("H", h, span_h, sh, ph, drop_h), ("W", w, span_w, sw, pw, drop_w)]))
    return out


def _dropped_rows(op: str, axes: list[tuple[str, int, int, int, int | tuple[int, int], int]]) -> ShapeProblem:
    """The warning for windows that leave input rows unread; `axes` holds (axis, n, span, s, p, dropped) for H and W.

    The axis that drops is named (`along W`) unless both drop alike, so that a 224x224x3 input's
    dropped column is blamed on its W = 3, not on H = 224.
    """
    arith = {axis: f"{size}{pad_terms(p)} − {span} is not divisible by stride {s}" for axis, size, span, s, p, _ in axes}
    (_, _, kh, sh, _, dh), (*_, dw) = axes
    fix = [size + (s - (size + _total(p) - span) % s) % s if drop else size for _, size, span, s, p, drop in axes]
    if dh == dw and arith["H"] == arith["W"]:
        why, what = arith["H"], f"{dh} row{'s' if dh != 1 else ''} and column{'s' if dh != 1 else ''}"
        exact = f"a {fix[0]}x{fix[1]} input"
    else:
        why = " and ".join(f"{arith[axis]} along {axis}" for axis, *_, drop in axes if drop)
        what = " and ".join(
            f"{drop} {unit}{'s' if drop != 1 else ''}" for (*_, drop), unit in zip(axes, ("row", "column"), strict=True) if drop
        )
        exact = f"a {fix[0]}x{fix[1]} input (HxW)"
    return ShapeProblem(
        "dropped-rows",
        f"{why}: {op} drops {what} of its input",
        f"{exact} to {op} makes it exact" + (" (Caffe's AlexNet used a 227x227 image for this reason)" if (kh, sh) == (11, 4) else ""),
        option="stride",
    )


def _acknowledged(out: Outcome, attrs: dict[str, Any]) -> Outcome:
    """`drop=ok` acknowledges a drop the original model makes on purpose; otherwise the hint offers it."""
    if attrs.get("drop") == "ok":
        out.warnings = [w for w in out.warnings if w.code != "dropped-rows"]
    for warn in out.warnings:
        if warn.code == "dropped-rows":
            warn.hint = f"{warn.hint}; if the original model drops them too, say so with `drop=ok`"
    return out


CHANNEL_COUNTS = (1, 3, 4)  # grey, RGB, RGBA: what the last size of a channels-last image is


def layout_problem(shape: Shape, written: str) -> ShapeProblem | None:
    """An image input that reads as channels-last (`224x224x3`, as Keras and many notes write it).

    The last size looks like a channel count and the first does not; a square map of such a size
    (`480x4x4`, `1024x1x1`) is a feature map, not a layout slip.
    """
    if len(shape) != 3:
        return None
    c, h, w = shape
    if w not in CHANNEL_COUNTS or c in CHANNEL_COUNTS or h == w:
        return None
    fixed = fmt_shape((w, c, h))
    return ShapeProblem(
        "input-layout",
        f"{written} reads as {c} maps of {h}x{w}: did you mean {fixed}? archc shapes are CxHxW",
        f"channels first, as PyTorch orders them: Keras' HxWxC {fmt_shape(shape)} is written {fixed} "
        "(the generated Keras model is channels-last all the same)",
    )


def conv(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    (shape,) = shapes
    c = _spatial(shape, name)[0]
    filters, groups = attrs["filters"], attrs["groups"]
    kernel = attrs["kernel"]
    kh, kw = kernel[0], kernel[1]
    if filters < 1:
        raise ShapeProblem("option-value", "conv needs at least 1 filter", option="filters")
    if groups < 1 or c % groups or filters % groups:
        bad = c if groups < 1 or c % groups else filters
        what = "input maps" if bad == c else "filters"
        raise ShapeProblem(
            "groups",
            f"groups={groups} does not divide the {bad} {what}",
            f"with {c} input maps and {filters} filters, groups must divide both",
            option="groups",
        )
    depth = c // groups
    if len(kernel) == 3 and kernel[2] != depth:
        raise ShapeProblem(
            "channel-mismatch",
            f"{name} takes {c} input maps{f' in {groups} groups' if groups > 1 else ''}, "
            f"so each filter is {kh}x{kw}x{depth}, but its filters are declared {kh}x{kw}x{kernel[2]}",
            option="kernel",
        )
    pad = attrs["pad"]
    dil = attrs["dilation"]
    if pad == "same":
        dh, dw = _pair(dil)
        if _pair(attrs["stride"]) != (1, 1):
            raise ShapeProblem("option-value", "pad=same needs stride 1 (PyTorch's rule)", "give the padding as a number", option="pad")
        if (dh * (kh - 1)) % 2 or (dw * (kw - 1)) % 2:
            lo, hi = (dh * (kh - 1)) // 2, (dh * (kh - 1) + 1) // 2
            left, right = (dw * (kw - 1)) // 2, (dw * (kw - 1) + 1) // 2
            raise ShapeProblem(
                "option-value",
                "pad=same needs an odd kernel here",
                f"give the padding side by side: pad={lo}x{hi}x{left}x{right} (top, bottom, left, right) keeps the size as Keras' same does",
                option="pad",
            )
        pad = (dh * (kh - 1) // 2, dw * (kw - 1) // 2)
    elif pad == "valid":
        pad = 0
    out = _window(shape, name, (kh, kw), attrs["stride"], pad, dil)
    _, oh, ow = out.shape
    out.shape = (filters, oh, ow)
    table = attrs.get("table")
    bias = 1 if attrs["bias"] else 0
    b = "+1" if bias else ""
    if table is not None:
        links = sum(len(ins) for ins in table)
        out.params = sum(kh * kw * len(ins) + bias for ins in table)
        out.macs = oh * ow * kh * kw * links
        terms = " + ".join(f"({kh}·{kw}·{cnt}{b})·{reps}" for cnt, reps in _table_runs(table, c))
        out.explain.append(f"{terms} = {n(out.params)} params")
        out.explain.append(f"{oh}·{ow}·{kh}·{kw}·{links} links = {n(out.macs)} MACs")
        return _acknowledged(out, attrs)
    out.params = (kh * kw * depth + bias) * filters
    out.macs = oh * ow * filters * kh * kw * depth
    out.explain.append(f"({kh}·{kw}·{depth}{b})·{filters} = {n(out.params)} params")
    out.explain.append(f"{oh}·{ow}·{filters} · {kh}·{kw}·{depth} = {n(out.macs)} MACs")
    return _acknowledged(out, attrs)


def _table_runs(table: tuple[tuple[int, ...], ...], maps: int) -> list[tuple[int, int]]:
    """Groups output maps as the paper does: runs of equal input count and equal contiguity."""

    def contiguous(ins: tuple[int, ...]) -> bool:
        s = set(ins)
        return any(all((start + i) % maps in s for i in range(len(s))) for start in s)  # a run starts at one of its maps

    runs: list[tuple[tuple[int, bool], int]] = []
    for ins in table:
        key = (len(ins), contiguous(ins))
        if runs and runs[-1][0] == key:
            runs[-1] = (key, runs[-1][1] + 1)
        else:
            runs.append((key, 1))
    return [(key[0], reps) for key, reps in runs]


def pool(op: str) -> Callable[[str, dict[str, Any], list[Shape]], Outcome]:
    def rule(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
        stride = attrs["stride"] if attrs["stride"] is not None else attrs["kernel"]
        kh, kw = _pair(attrs["kernel"])
        ph, pw = _pair(attrs["pad"])
        if ph * 2 > kh or pw * 2 > kw:
            raise ShapeProblem("option-value", f"{op} padding must be at most half the kernel (PyTorch's rule)", option="pad")
        out = _window(shapes[0], name, attrs["kernel"], stride, attrs["pad"], 1, attrs["ceil"])
        if out.warnings and not attrs["ceil"]:
            rounded_up = _window(shapes[0], name, attrs["kernel"], stride, attrs["pad"], 1, True).shape
            for warn in out.warnings:
                warn.hint = f"{warn.hint}; or `ceil` keeps a last partial window ({fmt_shape(rounded_up)})"
        return _acknowledged(out, attrs)

    return rule


def subsample(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    stride = attrs["stride"] if attrs["stride"] is not None else attrs["kernel"]
    out = _window(shapes[0], name, attrs["kernel"], stride, 0)
    c = out.shape[0]
    out.params = 2 * c
    out.explain.append(f"(1+1)·{c} = {n(out.params)} params")
    return _acknowledged(out, attrs)


def same_shape(op: str) -> Callable[[str, dict[str, Any], list[Shape]], Outcome]:
    def rule(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
        return Outcome(shapes[0])

    return rule


def prelu(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    c = shapes[0][0] if shapes[0] else 1
    out = Outcome(shapes[0], params=c)
    out.explain.append(f"1·{c} = {n(c)} params (a slope per {'map' if len(shapes[0]) == 3 else 'feature'})")
    return out


def lrn(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    _spatial(shapes[0], name)
    if attrs["size"] < 1:
        raise ShapeProblem("option-value", "lrn size must be at least 1", option="size")
    if attrs["k"] <= 0 or attrs["alpha"] < 0:
        bad = "k" if attrs["k"] <= 0 else "alpha"
        raise ShapeProblem(
            "option-value", f"lrn needs k > 0 and alpha ≥ 0, got {bad}={attrs[bad]}", "below that, k + α·Σx² can reach 0", option=bad
        )
    return Outcome(shapes[0])


def batchnorm(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    if attrs["eps"] <= 0:
        raise ShapeProblem(
            "option-value", f"batchnorm eps must be above 0, got {attrs['eps']}", "it keeps √(var + eps) away from 0", option="eps"
        )
    if not 0 <= attrs["momentum"] <= 1:
        raise ShapeProblem("option-value", f"batchnorm momentum must be in [0, 1], got {attrs['momentum']}", option="momentum")
    c = shapes[0][0]
    kept = [sym for sym, option in (("γ", "scale"), ("β", "center")) if attrs.get(option, True)]
    out = Outcome(shapes[0], params=len(kept) * c)
    if kept:
        only = "" if len(kept) == 2 else f" ({kept[0]} only)"
        out.explain.append(f"{len(kept)}·{c} = {n(out.params)} params{only}")
    return out


def _eps(op: str, attrs: dict[str, Any]) -> None:
    if attrs["eps"] <= 0:
        raise ShapeProblem(
            "option-value", f"{op} eps must be above 0, got {attrs['eps']}", "it keeps √(var + eps) away from 0", option="eps"
        )


def _per_map(shape: Shape) -> str:
    return "map" if len(shape) == 3 else "feature"


def layernorm(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    _eps("layernorm", attrs)
    shape = shapes[0]
    c = shape[0]
    out = Outcome(shape, params=2 * c)
    over = f"over the {c} maps at each of {shape[1]}·{shape[2]} positions" if len(shape) == 3 else f"over the {c} features"
    out.explain.append(f"normalised {over}")
    out.explain.append(f"2·{c} = {n(out.params)} params (γ and β per {_per_map(shape)})")
    return out


def groupnorm(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    _eps("groupnorm", attrs)
    shape = shapes[0]
    c, groups = shape[0], attrs["groups"]
    if groups < 1 or c % groups:
        raise ShapeProblem(
            "groups",
            f"groups={groups} does not divide the {c} {'input maps' if len(shape) == 3 else 'features'}",
            f"with {c} {_per_map(shape)}s, groups must divide {c}",
            option="groups",
        )
    out = Outcome(shape, params=2 * c)
    out.explain.append(f"{groups} groups of {c // groups} {_per_map(shape)}s")
    out.explain.append(f"2·{c} = {n(out.params)} params (γ and β per {_per_map(shape)})")
    return out


def layer_scale(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    shape = shapes[0]
    c = shape[0]
    out = Outcome(shape, params=c)
    out.explain.append(f"1·{c} = {n(c)} params (a γ per {_per_map(shape)})")
    return out


def stochastic_depth(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    if not 0 <= attrs["rate"] < 1:
        raise ShapeProblem("option-value", f"stochastic_depth rate must be in [0, 1), got {attrs['rate']}", option="rate")
    return Outcome(shapes[0])


def dropout(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    if not 0 <= attrs["rate"] < 1:
        raise ShapeProblem("option-value", f"dropout rate must be in [0, 1), got {attrs['rate']}", option="rate")
    return Outcome(shapes[0])


def _flat_input(shape: Shape, op: str) -> int:
    if len(shape) != 1:
        raise ShapeProblem(
            "needs-flatten",
            f"{op} reads a {fmt_shape(shape)} tensor, but it takes a flat vector",
            "insert `flatten` before this layer",
        )
    return shape[0]


def dense(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    fan_in = _flat_input(shapes[0], name)
    units = attrs["units"]
    if units < 1:
        raise ShapeProblem("option-value", "dense needs at least 1 unit", option="units")
    bias = 1 if attrs["bias"] else 0
    out = Outcome((units,), params=(fan_in + bias) * units, macs=fan_in * units)
    out.explain.append(f"({fan_in}{'+1' if bias else ''})·{units} = {n(out.params)} params")
    out.explain.append(f"{fan_in}·{units} = {n(out.macs)} MACs")
    return out


def pointwise_dense(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    c, h, w = _spatial(shapes[0], name)
    units = attrs["units"]
    if units < 1:
        raise ShapeProblem("option-value", "pointwise_dense needs at least 1 unit", option="units")
    bias = 1 if attrs["bias"] else 0
    out = Outcome((units, h, w), params=(c + bias) * units, macs=c * units * h * w)
    out.explain.append(f"({c}{'+1' if bias else ''})·{units} = {n(out.params)} params (one dense layer, shared by every position)")
    out.explain.append(f"{c}·{units}·{h}·{w} = {n(out.macs)} MACs")
    return out


def rbf(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    fan_in = _flat_input(shapes[0], name)
    units = attrs["units"]
    if units < 1:
        raise ShapeProblem("option-value", "rbf needs at least 1 unit", option="units")
    out = Outcome((units,), params=fan_in * units, macs=fan_in * units)
    out.explain.append(f"{fan_in}·{units} = {n(out.params)} params")
    return out


def flatten(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    shape = shapes[0]
    total = 1
    for d in shape:
        total *= d
    return Outcome((total,), explain=[f"{'·'.join(str(d) for d in shape)} = {n(total)}"] if len(shape) > 1 else [])


def rescale(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    shape = shapes[0]
    _per_channel(name, "scale", attrs["scale"], shape)
    return Outcome(shape)


def _per_channel(name: str, key: str, values: tuple[float, ...], shape: Shape) -> None:
    """One value for every channel, or one per channel (map or feature)."""
    c = shape[0]
    what = "maps" if len(shape) == 3 else "features"
    if len(values) not in (1, c):
        raise ShapeProblem(
            "channel-count",
            f"{name} {key} has {len(values)} values, but its {fmt_shape(shape)} input has {c} {what}",
            f"give one value per {what[:-1]} ({c}), or one value for all",
            option=key,
        )


def normalize(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    shape = shapes[0]
    for key in ("mean", "std"):
        _per_channel(name, key, attrs[key], shape)
    bad = next((v for v in attrs["std"] if v <= 0), None)
    if bad is not None:
        raise ShapeProblem("option-value", f"{name} std must be above 0, got {bad!r}", "each channel is divided by its std", option="std")
    return Outcome(shape)


def global_avgpool(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    c, _, _ = _spatial(shapes[0], name)
    return Outcome((c, 1, 1) if attrs.get("keep") else (c,))


def adaptive_windows(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive pooling windows along one axis: [floor(i·size/out), ceil((i+1)·size/out))."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def _adaptive_text(axis: str, size: int, out: int) -> str:
    lengths = sorted({stop - start for start, stop in adaptive_windows(size, out)})
    rows = " or ".join(map(str, lengths))
    return f"{axis}{size} → {out}: windows of {rows} from floor(i·{size}/{out}) to ceil((i+1)·{size}/{out})"


def adaptive(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    c, h, w = _spatial(shapes[0], name)
    oh, ow = _pair(attrs["size"])
    if min(oh, ow) < 1:
        raise ShapeProblem("option-value", f"{name} output size must be at least 1x1", option="size")
    explain = [_adaptive_text("", h, oh)] if (h, oh) == (w, ow) else [_adaptive_text("H: ", h, oh), _adaptive_text("W: ", w, ow)]
    return Outcome((c, oh, ow), explain=explain)


def concat(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    if not shapes:
        raise ShapeProblem("empty-merge", "concat needs at least one branch")
    ranks = {len(s) for s in shapes}
    if len(ranks) > 1:
        raise ShapeProblem("concat-shape", "concat of flat and spatial tensors: " + ", ".join(fmt_shape(s) for s in shapes))
    if len({s[1:] for s in shapes}) > 1:
        raise ShapeProblem(
            "concat-shape",
            "concat of different spatial sizes: " + ", ".join(fmt_shape(s) for s in shapes),
            "every branch must keep the same HxW; check each branch's stride and padding",
        )
    total = sum(s[0] for s in shapes)
    out = Outcome((total,) + shapes[0][1:])
    out.explain.append(f"maps {' + '.join(str(s[0]) for s in shapes)} = {total}")
    return out


def add(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    if not shapes:
        raise ShapeProblem("empty-merge", "add needs at least one branch")
    if len(set(shapes)) > 1:
        raise ShapeProblem(
            "add-shape",
            "add of different shapes: " + ", ".join(fmt_shape(s) for s in shapes),
            "a downsampling branch needs a 1x1 conv with the same stride and filters",
        )
    return Outcome(shapes[0])


def multiply(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    """Equal shapes, or CxHxW maps scaled by Cx1x1 (one factor per map, broadcast over H and W)."""
    if not shapes:
        raise ShapeProblem("empty-merge", "multiply needs at least one branch")
    full = max(shapes, key=lambda s: (len(s), *s))
    scale = (full[0], 1, 1) if len(full) == 3 else full
    if any(s not in (full, scale) for s in shapes):
        raise ShapeProblem(
            "multiply-shape",
            "multiply of shapes that do not broadcast: " + ", ".join(fmt_shape(s) for s in shapes),
            f"each branch must be {fmt_shape(full)}" + (f" or a scale per map, {fmt_shape(scale)}" if scale != full else ""),
        )
    out = Outcome(full)
    if len(set(shapes)) > 1:
        out.explain.append(" · ".join(fmt_shape(s) for s in shapes) + f" → {fmt_shape(full)}: one factor per map")
    return out


def split(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    (shape,) = shapes
    if not shape:
        raise ShapeProblem("needs-spatial", f"{name} needs maps or features to split, got a scalar")
    c, parts, part = shape[0], attrs["parts"], attrs["part"]
    if parts < 1:
        raise ShapeProblem("option-value", f"split needs at least 1 part, got {parts}", option="parts")
    what = "maps" if len(shape) == 3 else "features"
    if c % parts:
        raise ShapeProblem(
            "split-parts",
            f"split {parts} does not divide the {c} {what}",
            f"the parts must be equal: {parts} must divide {c}",
            option="parts",
        )
    if not 0 <= part < parts:
        raise ShapeProblem(
            "split-parts", f"part={part} is not one of the {parts} parts", f"parts count from 0 to {parts - 1}", option="part"
        )
    size = c // parts
    out = Outcome((size, *shape[1:]))
    out.explain.append(f"{what} {c}/{parts} = {size}: {what} {part * size} to {(part + 1) * size - 1}")
    return out


def shuffle(name: str, attrs: dict[str, Any], shapes: list[Shape]) -> Outcome:
    c, _, _ = _spatial(shapes[0], name)
    groups = attrs["groups"]
    if groups < 1:
        raise ShapeProblem("option-value", f"shuffle needs at least 1 group, got {groups}", option="groups")
    if c % groups:
        raise ShapeProblem(
            "groups",
            f"shuffle {groups} does not divide the {c} maps",
            f"the groups must be equal: {groups} must divide {c}",
            option="groups",
        )
    out = Outcome(shapes[0])
    out.explain.append(f"{groups} groups of {c // groups} maps, interleaved: map j·{groups} + g ← map g·{c // groups} + j")
    return out


RULES: dict[str, Callable[[str, dict[str, Any], list[Shape]], Outcome]] = {
    "conv": conv,
    "maxpool": pool("maxpool"),
    "avgpool": pool("avgpool"),
    "subsample": subsample,
    "lrn": lrn,
    "batchnorm": batchnorm,
    "layernorm": layernorm,
    "groupnorm": groupnorm,
    "layer_scale": layer_scale,
    "stochastic_depth": stochastic_depth,
    "dense": dense,
    "pointwise_dense": pointwise_dense,
    "rbf": rbf,
    "dropout": dropout,
    "flatten": flatten,
    "rescale": rescale,
    "normalize": normalize,
    "global_avgpool": global_avgpool,
    "adaptive_avgpool": adaptive,
    "adaptive_maxpool": adaptive,
    **{name: same_shape(name) for name in ops.ACTIVATIONS},
    "prelu": prelu,
    "concat": concat,
    "add": add,
    "multiply": multiply,
    "split": split,
    "shuffle": shuffle,
}
