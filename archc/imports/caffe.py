"""Caffe's layers → archc ops: a graph of Nodes, each one archc layer with its shape.

A .prototxt is read (prototxt.py), its layers (the new `layer { type: "Convolution" }` or the V1
`layers { type: CONVOLUTION }`) are mapped here one by one, in file order, by caffe_net.py, which
follows the blobs; every option archc cannot express exactly is refused with the layer's name,
type and option (an `unsupported` diagnostic), never approximated. spec.py writes the graph.
The coverage table is docs/import.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..diagnostics import Diagnostic, Span
from .prototxt import Field, Ident, Message

Value = int | float | str | bool | tuple[int, ...] | list[float]  # a list: one number per channel


@dataclass(frozen=True)
class Arg:
    key: str
    value: Value
    positional: bool = False  # written without `key=` (the op's positional slot, or a flag)


@dataclass(eq=False)
class Node:
    caffe: str  # Caffe's layer name ("" for a flatten the importer adds)
    op: str  # an archc op, or "input"
    args: list[Arg]
    inputs: list[Node]
    shape: tuple[int, ...]
    span: Span
    kind: str = ""  # Caffe's layer type
    activation: str | None = None
    readers: list[Node] = field(default_factory=list)


@dataclass
class Graph:
    name: str
    nodes: list[Node] = field(default_factory=list)  # in file order, the input first
    notes: list[Diagnostic] = field(default_factory=list)
    errors: list[Diagnostic] = field(default_factory=list)


# V1 `layers { type: ENUM }` → the new type names.
V1_TYPES = {
    "ABSVAL": "AbsVal", "ACCURACY": "Accuracy", "ARGMAX": "ArgMax", "BNLL": "BNLL", "CONCAT": "Concat",
    "CONTRASTIVE_LOSS": "ContrastiveLoss", "CONVOLUTION": "Convolution", "DATA": "Data", "DECONVOLUTION": "Deconvolution",
    "DROPOUT": "Dropout", "DUMMY_DATA": "DummyData", "EUCLIDEAN_LOSS": "EuclideanLoss", "ELTWISE": "Eltwise", "EXP": "Exp",
    "FLATTEN": "Flatten", "HDF5_DATA": "HDF5Data", "HDF5_OUTPUT": "HDF5Output", "HINGE_LOSS": "HingeLoss", "IM2COL": "Im2col",
    "IMAGE_DATA": "ImageData", "INFOGAIN_LOSS": "InfogainLoss", "INNER_PRODUCT": "InnerProduct", "LRN": "LRN",
    "MEMORY_DATA": "MemoryData", "MULTINOMIAL_LOGISTIC_LOSS": "MultinomialLogisticLoss", "MVN": "MVN", "POOLING": "Pooling",
    "POWER": "Power", "RELU": "ReLU", "SIGMOID": "Sigmoid", "SIGMOID_CROSS_ENTROPY_LOSS": "SigmoidCrossEntropyLoss",
    "SILENCE": "Silence", "SOFTMAX": "Softmax", "SOFTMAX_LOSS": "SoftmaxWithLoss", "SPLIT": "Split", "SLICE": "Slice",
    "TANH": "TanH", "WINDOW_DATA": "WindowData", "THRESHOLD": "Threshold",
}  # fmt: skip
DATA_TYPES = {"Data", "ImageData", "HDF5Data", "MemoryData", "DummyData", "WindowData", "Python"}
DROPPED_TYPES = {
    "Accuracy": "an evaluation metric",
    "Silence": "it only discards blobs",
    **{t: "a training loss" for t in ("SoftmaxWithLoss", "EuclideanLoss", "HingeLoss", "InfogainLoss", "ContrastiveLoss")},
    **{t: "a training loss" for t in ("MultinomialLogisticLoss", "SigmoidCrossEntropyLoss")},
}
ACTIVATIONS = {"ReLU": "relu", "Sigmoid": "sigmoid", "TanH": "tanh", "Softmax": "softmax", "ELU": "elu", "PReLU": "prelu"}
TAKES_ACTIVATION = {"conv", "dense", "batchnorm", "add"}
IGNORED = {"engine", "weight_filler", "bias_filler", "force_nd_im2col", "transpose", "stable_prod_grad", "use_global_stats"}
ACCEPTED = {"name", "type", "bottom", "top", "include", "exclude", "param", "blobs_lr", "weight_decay", "loss_weight", "propagate_down"}
ACCEPTED |= {"phase", "blobs", "transform_param", "data_param", "image_data_param", "hdf5_data_param", "memory_data_param"}
ACCEPTED |= {"window_data_param", "dummy_data_param", "python_param", "accuracy_param", "loss_param", "softmax_param", "input_param"}


class Refusal(Exception):
    def __init__(self, message: str, span: Span, hint: str | None = None) -> None:
        super().__init__(message)
        self.span, self.hint = span, hint


POISON = Node("", "poison", [], [], (), Span.unknown())  # a blob whose layer was refused: readers are skipped quietly


@dataclass
class Layer:
    name: str
    type: str
    bottoms: list[str]
    tops: list[str]
    msg: Message
    span: Span

    def refuse(self, message: str, span: Span | None = None, hint: str | None = None) -> Refusal:
        return Refusal(f"{self.name} ({self.type}): {message}", span or self.span, hint)

    def params(self, name: str) -> Message:
        found = self.msg.message(name)
        return found if found is not None else Message((), self.span, name)


def layers_of(top: Message) -> list[Layer]:
    out: list[Layer] = []
    for f in top.fields:
        if f.name not in ("layer", "layers") or not isinstance(f.value, Message):
            continue
        msg = f.value
        typ = msg.value("type", "")
        if isinstance(typ, Ident) and f.name == "layers":
            typ = V1_TYPES.get(str(typ), str(typ))
        name = str(msg.value("name", "") or f"{typ}_{len(out) + 1}")
        tops = [str(x.value) for x in msg.all("top")]
        out.append(Layer(name, str(typ), [str(x.value) for x in msg.all("bottom")], tops, msg, f.span))
    return out


def in_training(layer: Layer) -> bool:
    """The training graph is the superset: TEST-only layers are metrics and test data."""
    included = [f.value.value("phase") for f in layer.msg.all("include") if isinstance(f.value, Message)]
    excluded = [f.value.value("phase") for f in layer.msg.all("exclude") if isinstance(f.value, Message)]
    return all(p in (None, "TRAIN") for p in included) and "TRAIN" not in excluded


# -- reading option values ---------------------------------------------------------------------------
def whole(layer: Layer, f: Field, low: int = 0) -> int:
    if isinstance(f.value, bool) or not isinstance(f.value, int) or f.value < low:
        raise layer.refuse(f"{f.name} must be a whole number of at least {low}, not {f.value!r}", f.span)
    return f.value


def real(layer: Layer, f: Field) -> float:
    if isinstance(f.value, Ident) or not isinstance(f.value, int | float) or not math.isfinite(f.value):
        raise layer.refuse(f"{f.name} must be a number, not {f.value!r}", f.span)
    return float(f.value)


def flag(layer: Layer, p: Message, name: str, default: bool) -> bool:
    f = p.get(name)
    if f is None:
        return default
    if f.value not in ("true", "false") or not isinstance(f.value, Ident):
        raise layer.refuse(f"{name} must be true or false, not {f.value!r}", f.span)
    return f.value == "true"


def pair(layer: Layer, p: Message, base: str, default: int | None, low: int) -> tuple[int, int]:
    """Caffe's `kernel_size: 3` (repeated: one value, or H and W) or `kernel_h`/`kernel_w`."""
    h, w = p.get(f"{base}_h"), p.get(f"{base}_w")
    plain = {"kernel": "kernel_size"}.get(base, base)
    values = p.all(plain)
    if h is not None or w is not None:
        if values:
            raise layer.refuse(f"both {plain} and {base}_h/{base}_w are given", values[0].span)
        if (h is None or w is None) and base != "pad":  # Caffe's pad_h and pad_w default to 0; the others it requires both
            raise layer.refuse(f"{base}_h and {base}_w come together", layer.span)
        return (0 if h is None else whole(layer, h, low)), (0 if w is None else whole(layer, w, low))
    if not values:
        if default is None:
            raise layer.refuse(f"no {plain} is given", layer.span)
        return default, default
    if len(values) > 2:
        raise layer.refuse(f"{len(values)} values of {plain}: archc's layers are 2-D", values[2].span)
    nums = [whole(layer, v, low) for v in values]
    return (nums[0], nums[-1])


def count(layer: Layer, p: Message, name: str, default: int, low: int = 1) -> int:
    found = p.get(name)
    return default if found is None else whole(layer, found, low)


def option(layer: Layer, p: Message, name: str, default: float) -> float:
    found = p.get(name)
    return default if found is None else real(layer, found)


def at(p: Message, name: str, layer: Layer) -> Span:
    """Where an option is written (the layer, when it is not)."""
    found = p.get(name)
    return layer.span if found is None else found.span


def only(layer: Layer, p: Message, known: set[str]) -> None:
    """Refuse an option the mapping does not know: it might change the layer's function."""
    for f in p.fields:
        if f.name not in known and f.name not in IGNORED:
            raise layer.refuse(f"option {f.name} is not supported by archc's import", f.span)


def fmt(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def spatial(layer: Layer, shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(shape) != 3:
        raise layer.refuse(f"it needs a CxHxW input, and its input is {fmt(shape)}")
    return shape[0], shape[1], shape[2]


def size(v: tuple[int, int]) -> int | tuple[int, int]:
    """A stride or pad as written: one number when square."""
    return v[0] if v[0] == v[1] else v


# -- the mapping, one function per Caffe type: (layer, its input nodes) → a node -----------------------
def convolution(layer: Layer, ins: list[Node]) -> Node:
    p = layer.params("convolution_param")
    only(layer, p, {"num_output", "bias_term", "pad", "pad_h", "pad_w", "kernel_size", "kernel_h", "kernel_w", "stride", "stride_h"}
         | {"stride_w", "group", "dilation", "axis"})  # fmt: skip
    if p.value("axis", 1) != 1:
        raise layer.refuse("axis other than 1 (the channels)", at(p, "axis", layer))
    out_f = p.get("num_output")
    if out_f is None:
        raise layer.refuse("no num_output is given")
    filters = whole(layer, out_f, 1)
    k, s = pair(layer, p, "kernel", None, 1), pair(layer, p, "stride", 1, 1)
    pad, d = pair(layer, p, "pad", 0, 0), pair(layer, p, "dilation", 1, 1)
    group = count(layer, p, "group", 1)
    c, h, w = spatial(layer, ins[0].shape)
    if c % group or filters % group:
        raise layer.refuse(f"group {group} does not divide its {c} input maps and {filters} outputs")
    oh, ow = (math.floor((n + 2 * pp - (dd * (kk - 1) + 1)) / ss) + 1 for n, kk, ss, pp, dd in zip((h, w), k, s, pad, d, strict=True))
    if oh < 1 or ow < 1:
        raise layer.refuse(f"its window does not fit its {fmt(ins[0].shape)} input")
    args = [Arg("filters", filters, True), Arg("kernel", k, True)]
    args += [Arg(key, size(v)) for key, v, one in (("stride", s, 1), ("pad", pad, 0), ("dilation", d, 1)) if v != (one, one)]
    if group != 1:
        args.append(Arg("groups", group))
    if not flag(layer, p, "bias_term", True):
        args.append(Arg("bias", False))
    return Node(layer.name, "conv", args, ins, (filters, oh, ow), layer.span)


def pool_size(n: int, k: int, s: int, p: int, ceil: bool) -> int | None:
    """Caffe's pooled size (pooling_layer.cpp), or None where Caffe's own check fails."""
    if not ceil:
        return (n + 2 * p - k) // s + 1
    out = math.ceil((n + 2 * p - k) / s) + 1
    if p > 0 and (out - 1) * s >= n + p:
        out -= 1  # the last window would start in the padding: Caffe clips it, as PyTorch's ceil mode does
    return out if (out - 1) * s < n + p else None  # Caffe CHECK_LTs this; without padding it can fail


def pooling(layer: Layer, ins: list[Node]) -> Node:
    p = layer.params("pooling_param")
    only(layer, p, {"pool", "kernel_size", "kernel_h", "kernel_w", "stride", "stride_h", "stride_w", "pad", "pad_h", "pad_w"}
         | {"global_pooling", "round_mode"})  # fmt: skip
    kind = str(p.value("pool", "MAX"))
    if kind not in ("MAX", "AVE"):
        raise layer.refuse(f"pool: {kind} has no archc op (only MAX and AVE)", at(p, "pool", layer))
    c, h, w = spatial(layer, ins[0].shape)
    if flag(layer, p, "global_pooling", False):
        if kind == "MAX":
            raise layer.refuse("global MAX pooling: archc has only global_avgpool", at(p, "global_pooling", layer))
        if pair(layer, p, "pad", 0, 0) != (0, 0) or pair(layer, p, "stride", 1, 1) != (1, 1):
            raise layer.refuse("global pooling with padding or a stride (Caffe requires neither)")
        return Node(layer.name, "global_avgpool", [], ins, (c,), layer.span)
    k, s, pad = pair(layer, p, "kernel", None, 1), pair(layer, p, "stride", 1, 1), pair(layer, p, "pad", 0, 0)
    round_mode = str(p.value("round_mode", "CEIL"))
    if round_mode not in ("CEIL", "FLOOR"):
        raise layer.refuse(f"round_mode: {round_mode} is neither CEIL nor FLOOR", at(p, "round_mode", layer))
    ceil = round_mode == "CEIL"
    if any(pp > kk // 2 for pp, kk in zip(pad, k, strict=True)):
        raise layer.refuse(f"pad {fmt(pad)} is over half the kernel {fmt(k)}: archc (as PyTorch) pads a pool at most k/2")
    out = [pool_size(n, kk, ss, pp, ceil) for n, kk, ss, pp in zip((h, w), k, s, pad, strict=True)]
    if None in out:
        raise layer.refuse(
            f"at its {fmt(ins[0].shape)} input Caffe's last window would start past the input, which Caffe rejects",
            hint="ceil rounding without padding: archc would drop that window, Caffe stops with a failed check",
        )
    oh, ow = out[0], out[1]
    assert oh is not None and ow is not None
    if oh < 1 or ow < 1:
        raise layer.refuse(f"its window does not fit its {fmt(ins[0].shape)} input")
    args = [Arg("kernel", k, True)]
    if s != k:
        args.append(Arg("stride", size(s)))
    if pad != (0, 0):
        args.append(Arg("pad", size(pad)))
    if ceil:
        args.append(Arg("ceil", True, True))
    return Node(layer.name, "maxpool" if kind == "MAX" else "avgpool", args, ins, (c, oh, ow), layer.span)


def lrn(layer: Layer, ins: list[Node]) -> Node:
    p = layer.params("lrn_param")
    only(layer, p, {"local_size", "alpha", "beta", "k", "norm_region"})
    if str(p.value("norm_region", "ACROSS_CHANNELS")) != "ACROSS_CHANNELS":
        raise layer.refuse("norm_region: WITHIN_CHANNEL has no archc op (lrn is across channels)", at(p, "norm_region", layer))
    n = count(layer, p, "local_size", 5)
    if n % 2 == 0:
        raise layer.refuse(f"local_size {n} is even (Caffe requires an odd size)", at(p, "local_size", layer))
    alpha = option(layer, p, "alpha", 1.0)
    beta = option(layer, p, "beta", 0.75)
    k = option(layer, p, "k", 1.0)
    spatial(layer, ins[0].shape)
    args = [Arg("size", n, True), Arg("alpha", alpha), Arg("beta", beta)] + ([Arg("k", k)] if k != 1.0 else [])
    return Node(layer.name, "lrn", args, ins, ins[0].shape, layer.span)


def inner_product(layer: Layer, ins: list[Node]) -> Node:
    p = layer.params("inner_product_param")
    only(layer, p, {"num_output", "bias_term", "axis"})
    if p.value("axis", 1) != 1:
        raise layer.refuse("axis other than 1", at(p, "axis", layer))
    units = count(layer, p, "num_output", 0)
    if units == 0:
        raise layer.refuse("no num_output is given")
    args = [Arg("units", units, True)] + ([] if flag(layer, p, "bias_term", True) else [Arg("bias", False)])
    return Node(layer.name, "dense", args, ins, (units,), layer.span)


def dropout(layer: Layer, ins: list[Node]) -> Node:
    p = layer.params("dropout_param")
    only(layer, p, {"dropout_ratio", "scale_train"})
    if not flag(layer, p, "scale_train", True):
        raise layer.refuse(
            "scale_train: false scales at test time instead: archc's dropout scales while training", at(p, "scale_train", layer)
        )
    rate = option(layer, p, "dropout_ratio", 0.5)
    if not 0 <= rate < 1:
        raise layer.refuse(f"dropout_ratio {rate} is outside [0, 1)")
    return Node(layer.name, "dropout", [Arg("rate", rate, True)], ins, ins[0].shape, layer.span)


def concat(layer: Layer, ins: list[Node]) -> Node:
    p = layer.params("concat_param")
    only(layer, p, {"axis", "concat_dim"})
    axis = p.value("axis", p.value("concat_dim", 1))
    if axis != 1:
        raise layer.refuse(f"axis {axis}: archc concatenates along the channels (axis 1) only")
    shapes = {n.shape[1:] for n in ins}
    if len(shapes) != 1 or len({len(n.shape) for n in ins}) != 1:
        raise layer.refuse("its inputs differ in size: " + ", ".join(fmt(n.shape) for n in ins))
    return Node(layer.name, "concat", [], ins, (sum(n.shape[0] for n in ins), *ins[0].shape[1:]), layer.span)


def eltwise(layer: Layer, ins: list[Node]) -> Node:
    p = layer.params("eltwise_param")
    only(layer, p, {"operation", "coeff"})
    operation = str(p.value("operation", "SUM"))
    if operation != "SUM":
        raise layer.refuse(f"operation: {operation}: archc has add (SUM) only, no element-wise product or maximum",
                           at(p, "operation", layer))  # fmt: skip
    if any(real(layer, c) != 1.0 for c in p.all("coeff")):
        raise layer.refuse("coefficients other than 1: archc's add is a plain sum", p.all("coeff")[0].span)
    if len({n.shape for n in ins}) != 1:
        raise layer.refuse("its inputs differ in shape: " + ", ".join(fmt(n.shape) for n in ins))
    return Node(layer.name, "add", [], ins, ins[0].shape, layer.span)


def activation(layer: Layer, ins: list[Node]) -> Node:
    op = ACTIVATIONS[layer.type]
    args: list[Arg] = []
    if layer.type == "ReLU":
        p = layer.params("relu_param")
        only(layer, p, {"negative_slope"})
        slope = option(layer, p, "negative_slope", 0.0)
        if slope != 0.0:
            op, args = "leaky_relu", [Arg("slope", slope, True)]
    elif layer.type == "ELU":
        p = layer.params("elu_param")
        only(layer, p, {"alpha"})
        alpha = option(layer, p, "alpha", 1.0)
        args = [] if alpha == 1.0 else [Arg("alpha", alpha, True)]
    elif layer.type == "PReLU":
        p = layer.params("prelu_param")
        only(layer, p, {"channel_shared", "filler"})
        if flag(layer, p, "channel_shared", False):
            raise layer.refuse("channel_shared: one slope for all maps: archc's prelu has one per map")
    elif layer.type == "Softmax":
        p = layer.params("softmax_param")
        only(layer, p, {"axis"})
        if p.value("axis", 1) != 1:
            raise layer.refuse("axis other than 1 (the channels)")
    return Node(layer.name, op, args, ins, ins[0].shape, layer.span)


def batch_norm(layer: Layer, ins: list[Node]) -> Node:
    """Half of a batchnorm: the Scale that follows supplies the learned scale and shift (see scale)."""
    p = layer.params("batch_norm_param")
    only(layer, p, {"moving_average_fraction", "eps"})
    eps = option(layer, p, "eps", 1e-5)
    fraction = option(layer, p, "moving_average_fraction", 0.999)
    if eps <= 0 or not 0 <= fraction <= 1:
        raise layer.refuse("eps must be above 0 and moving_average_fraction in [0, 1]")
    args = ([Arg("eps", eps)] if eps != 1e-5 else []) + [Arg("momentum", round(1 - fraction, 12))]
    return Node(layer.name, "batchnorm_pending", args, ins, ins[0].shape, layer.span, kind="BatchNorm")


def scale(layer: Layer, ins: list[Node]) -> Node:
    p = layer.params("scale_param")
    only(layer, p, {"axis", "num_axes", "bias_term", "filler", "bias_filler"})
    bn = ins[0]
    if len(ins) != 1 or bn.op != "batchnorm_pending":
        raise layer.refuse("a Scale that does not follow a BatchNorm: archc has no separate per-map scale")
    if p.value("axis", 1) != 1 or p.value("num_axes", 1) != 1 or not flag(layer, p, "bias_term", False):
        raise layer.refuse("after a BatchNorm it must scale and shift each map (axis 1, num_axes 1, bias_term: true)")
    bn.op = "batchnorm"
    return bn


def flatten(layer: Layer, ins: list[Node]) -> Node:
    p = layer.params("flatten_param")
    only(layer, p, {"axis", "end_axis"})
    if p.value("axis", 1) != 1 or p.value("end_axis", -1) != -1:
        raise layer.refuse("only axis 1 to the end flattens as archc's flatten does")
    if len(ins[0].shape) == 1:
        return ins[0]
    return Node(layer.name, "flatten", [], ins, (math.prod(ins[0].shape),), layer.span)


MAPPING = {
    "Convolution": convolution, "Pooling": pooling, "LRN": lrn, "InnerProduct": inner_product, "Dropout": dropout,
    "Concat": concat, "Eltwise": eltwise, "BatchNorm": batch_norm, "Scale": scale, "Flatten": flatten,
    **{t: activation for t in ACTIVATIONS},
}  # fmt: skip
