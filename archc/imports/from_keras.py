"""A Keras 3 functional model → a readable .arch spec whose Keras build has the model's weight list.

The model's operations are walked in its own order (`model.operations`: its layers, the
operations such as `x + 3.0` its graph applies to tensors, and the layers of a nested model in
place; each one's inbound node), each mapped to one archc Node (caffe.py's, so that spec.py writes it: activations fused, repeated
blocks such as ResNet50's `conv2_block1_*` made modules); every layer or option archc cannot
express exactly is refused with the layer's name and class and the reason, never approximated.
Shapes are Keras' channels-last (H, W, C), written as archc's CxHxW. keras is imported only by the
functions that need it. The coverage table is in docs/import.md ("From Keras").
"""

from __future__ import annotations

import math
import re
from typing import Any

from .. import codes
from ..diagnostics import Diagnostic, Severity, Span
from . import Imported, ImportRefused
from .caffe import Arg, Graph, Node

# Keras activation functions (by __name__) → archc's fused activation, or an op with options.
ACTIVATIONS: dict[str, tuple[str, list[Arg]]] = {
    "relu": ("relu", []),
    "relu6": ("relu6", []),
    "sigmoid": ("sigmoid", []),
    "tanh": ("tanh", []),
    "softmax": ("softmax", []),
    "elu": ("elu", []),
    "gelu": ("gelu", []),  # keras.activations.gelu's default is the exact form, archc's `gelu`
    "silu": ("silu", []),  # also keras.activations.swish
    "hard_sigmoid": ("hardsigmoid", []),  # Keras 3: relu6(x + 3) / 6
    "hard_silu": ("hardswish", []),  # also keras.activations.hard_swish
    "leaky_relu": ("leaky_relu", [Arg("slope", 0.2, True)]),  # keras.activations.leaky_relu's default slope
}
NONNEGATIVE = {"relu", "relu6", "sigmoid", "hardsigmoid", "softmax"}  # outputs ≥ 0: a zero pad is a -inf pad for a max pool
PASS_THROUGH = {"dropout", "relu", "relu6", "sigmoid", "tanh", "elu", "gelu", "silu", "hardswish", "hardsigmoid", "leaky_relu"}


class Refusal(Exception):
    pass


def fmt(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def archc_shape(keras_shape: Any) -> tuple[int, ...]:
    dims = tuple(keras_shape)[1:]
    if len(dims) == 3:
        return (dims[2], dims[0], dims[1])
    return tuple(dims)


Sides = tuple[int, int, int, int]  # top, bottom, left, right


def sides(pad: Sides) -> tuple[int, ...]:
    """archc's `pad=`: (H, W) where each axis pads both sides alike, else TxBxLxR."""
    top, bottom, left, right = pad
    return (top, left) if top == bottom and left == right else pad


def same_pad(n: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """Keras' padding="same" along one axis: (before, after)."""
    out = -(-n // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def keras_name(node: Node) -> str:
    """The Keras layer's name (group_name's `/` is a `_` there: Keras names hold no `/`)."""
    return node.caffe.replace("/", "_")


def group_name(name: str) -> str:
    """`conv2_block1_1_conv` → `conv2_block1/1_conv` (keras.applications' block prefixes), so that
    spec.py groups a block's layers; `pool2_conv` → `pool2/conv`, `expanded_conv_3_expand` →
    `expanded_conv_3/expand`; other names as they are."""
    m = re.match(r"^(.*?block_?\d+[a-z]?)_(.+)$", name) or re.match(r"^([A-Za-z]+\d+)_(.+)$", name)
    m = m or re.match(r"^([A-Za-z][A-Za-z_]*?_\d+)_(.+)$", name)  # `expanded_conv_3_expand` (MobileNetV3)
    return f"{m.group(1)}/{m.group(2)}" if m else name


def refused(reason: str) -> Any:
    """A Walker method that refuses the layer: what the catalogue lacks, named with the reason."""

    def method(self: Walker, layer: Any, ins: list[Node]) -> None:
        raise Refusal(reason)

    method.refusal = True  # type: ignore[attr-defined]
    return method


class Walker:
    def __init__(self, model: Any, file: str) -> None:
        # a keras.Sequential walks the functional model it builds (whose layers include the input)
        self.model, self.file = getattr(model, "_functional", None) or model, file
        self.graph = Graph(str(getattr(model, "name", "") or ""))
        self.nodes: dict[tuple[str, int, int], Node] = {}  # a Keras tensor's history → its node
        self.pads: dict[int, tuple[tuple[int, int], tuple[int, int], str]] = {}  # id(node) → a pending ZeroPadding2D
        self.automatic: set[int] = set()  # id(node) of weightless layers that carry Keras' own names

    def span(self) -> Span:
        return Span.unknown(self.file)

    def error(self, message: str) -> None:
        self.graph.errors.append(Diagnostic(Severity.ERROR, codes.UNSUPPORTED, message, self.span()))

    def run(self) -> Graph:
        self.walk(self.model)
        for node in self.graph.nodes:
            if id(node) in self.pads:
                self.error(f"{keras_name(node)} (ZeroPadding2D): no conv or pool reads it alone, so its padding cannot be merged into one")
        if len(getattr(self.model, "outputs", [])) != 1 and not self.graph.errors:
            self.error(f"the model has {len(self.model.outputs)} outputs: an archc network has one (and aux heads)")
        self.unname()
        return self.graph

    def walk(self, model: Any, nested: bool = False) -> None:
        """The model's operations in order: its layers, and the operations its graph applies to
        tensors (`x + 3.0`, `x * (1 / 6)`: keras.applications' hard_sigmoid); a nested model (a
        keras.Sequential such as ConvNeXt's stem) is walked in place, its input the tensor it reads."""
        for op in model.operations:
            kind = type(op).__name__
            if nested and kind == "InputLayer":
                continue  # the tensor the nested model reads, mapped by nested()
            try:
                inner = getattr(op, "_functional", None) or op
                if op is not model and hasattr(inner, "operations") and hasattr(inner, "inputs") and kind != "InputLayer":
                    self.nested(op, inner)
                else:
                    self.layer(op, kind)
            except Refusal as exc:
                self.error(f"{op.name} ({kind}): {exc}")
                for t in op._inbound_nodes[0].input_tensors if op._inbound_nodes else []:
                    read = self.nodes.get(history(t))
                    self.pads.pop(id(read), None)  # its reader is refused: not reported again
                for k, _ in enumerate(self.outputs(op)):
                    self.nodes[(op.name, 0, k)] = POISON

    def nested(self, outer: Any, inner: Any) -> None:
        ins = self.inputs(outer)
        if len(ins) != 1 or len(inner.inputs) != 1 or len(inner.outputs) != 1:
            raise Refusal("a nested model with more than one input or output")
        self.nodes[history(inner.inputs[0])] = ins[0]
        self.walk(inner, nested=True)
        self.nodes[(outer.name, 0, 0)] = self.nodes[history(inner.outputs[0])]

    def unname(self) -> None:
        """Layers and operations Keras named itself (`re_lu_3`, `add_2`, `activation_5`) that hold
        no weights take their op's name in the group of the latest layer they read, so that blocks
        which differ only in Keras' counters are one module (the compiled model pairs weights by
        name, so a layer with weights keeps its own)."""
        order = {id(n): k for k, n in enumerate(self.graph.nodes)}
        for n in self.graph.nodes:
            if id(n) not in self.automatic:
                continue
            latest = max(n.inputs, key=lambda i: order.get(id(i), -1)) if n.inputs else None
            group = latest.caffe.split("/", 1)[0] if latest is not None and "/" in latest.caffe else ""
            n.caffe = f"{group}/{n.op}" if group else n.op

    @staticmethod
    def outputs(layer: Any) -> list[Any]:
        out = layer.output
        return list(out) if isinstance(out, list | tuple) else [out]

    def inputs(self, layer: Any) -> list[Node]:
        inbound = layer._inbound_nodes
        if len(inbound) != 1:
            raise Refusal(f"used {len(inbound)} times: archc layers are not shared")
        found = []
        for t in inbound[0].input_tensors:
            node = self.nodes.get(history(t))
            if node is None:
                raise Refusal(f"it reads {t._keras_history[0].name}, which is no earlier layer of the model")
            found.append(node)
        return found

    def add(self, layer: Any, op: str, args: list[Arg], ins: list[Node], activation: str | None = None) -> Node:
        shape = archc_shape(layer.output.shape)
        node = Node(group_name(layer.name), op, args, ins, shape, self.span(), kind=type(layer).__name__, activation=activation)
        self.graph.nodes.append(node)
        self.nodes[(layer.name, 0, 0)] = node
        if automatic(layer):
            self.automatic.add(id(node))
        return node

    def alias(self, layer: Any, node: Node) -> None:
        self.nodes[(layer.name, 0, 0)] = node

    # -- options ------------------------------------------------------------------------------------------
    def channels_last(self, layer: Any) -> None:
        if getattr(layer, "data_format", "channels_last") != "channels_last":
            raise Refusal(f"data_format={layer.data_format}: the import reads channels-last models")

    def spatial(self, node: Node) -> tuple[int, int, int]:
        if len(node.shape) != 3:
            raise Refusal(f"it needs an image (HxWxC) input, and its input is {fmt(node.shape)}")
        return node.shape[0], node.shape[1], node.shape[2]

    def activation_of(self, layer: Any) -> tuple[str | None, list[Arg]]:
        fn = getattr(layer, "activation", None)
        name = getattr(fn, "__name__", None) if fn is not None else "linear"
        if name in (None, "linear"):
            if fn is not None and name is None:
                raise Refusal(f"activation {fn!r} is no Keras activation archc knows")
            return None, []
        if name not in ACTIVATIONS:
            raise Refusal(f"activation {name} has no archc activation")
        return ACTIVATIONS[name]

    def with_activation(self, layer: Any, node: Node, act: str | None, act_args: list[Arg]) -> None:
        """A fused activation: on the node when archc's default options are Keras', else an activation layer after it."""
        if act is None:
            return
        if not act_args:
            node.activation = act
            return
        after = Node("", act, act_args, [node], node.shape, self.span(), kind=type(layer).__name__)
        self.graph.nodes.append(after)
        self.alias(layer, after)

    def padding(self, layer: Any, src: Node, k: tuple[int, int], s: tuple[int, int], d: tuple[int, int], pool: bool = False) -> Sides:
        """Keras' `padding` as archc's (top, bottom, left, right), or a refusal: a conv pads each
        side as it likes (`pad=TxBxLxR`), a pool each side alike."""
        _, h, w = self.spatial(src)
        if layer.padding == "valid":
            return 0, 0, 0, 0
        if layer.padding != "same":
            raise Refusal(f'padding="{layer.padding}": archc has valid and same')
        pads = [same_pad(n, kk, ss, dd) for n, kk, ss, dd in zip((h, w), k, s, d, strict=True)]
        if pool and any(a != b for a, b in pads):
            shown = " and ".join(f"{a} before and {b} after in {axis}" for (a, b), axis in zip(pads, ("height", "width"), strict=True))
            raise Refusal(
                f'padding="same" at its {h}x{w} input pads {shown}: archc pads each side of a pool alike '
                "(an input size for which the remainder is even maps exactly)"
            )
        return pads[0][0], pads[0][1], pads[1][0], pads[1][1]

    def merged_pad(self, layer: Any, src: Node, pad: Sides, pool: str = "") -> tuple[Node, Sides]:
        """A ZeroPadding2D the layer reads alone folds into its padding, where that is exact."""
        pending = self.pads.get(id(src))
        if pending is None:
            return src, pad
        (top, bottom), (left, right), name = pending
        if pool and (top != bottom or left != right):
            raise Refusal(
                f"it reads {name} (ZeroPadding2D), whose padding (top {top}, bottom {bottom}, left {left}, right {right})"
                " is not alike on each side: archc's pools pad each side alike"
            )
        if self.readers(name) != 1:
            raise Refusal(f"{name} (ZeroPadding2D) has other readers: its padding cannot be merged into this layer's")
        if pool == "max" and any(pad):
            raise Refusal(f"it reads {name} (ZeroPadding2D) and pads itself as well: zeros and -inf padding together")
        inner = src.inputs[0]
        if pool == "max" and not (inner.activation in NONNEGATIVE or (inner.op in NONNEGATIVE and not inner.args)):
            raise Refusal(
                f"it reads {name} (ZeroPadding2D): zeros pad a max pool exactly only after a relu or another activation ≥ 0, and {keras_name(inner) or inner.op} may be negative"
            )
        if pool == "avg" and any(pad):
            raise Refusal('padding="same" after a ZeroPadding2D: Keras\' average leaves its own padding out')
        del self.pads[id(src)]
        self.graph.nodes.remove(src)
        return inner, (pad[0] + top, pad[1] + bottom, pad[2] + left, pad[3] + right)

    def all_operations(self, model: Any = None) -> list[Any]:
        found = []
        for op in (model or self.model).operations:
            inner = getattr(op, "_functional", None) or op
            found.append(op)
            if op is not (model or self.model) and hasattr(inner, "operations") and type(op).__name__ != "InputLayer":
                found += self.all_operations(inner)
        return found

    def reader_layers(self, name: str) -> list[Any]:
        return [
            la for la in self.all_operations() for node in la._inbound_nodes for t in node.input_tensors if t._keras_history[0].name == name
        ]

    def readers(self, name: str) -> int:
        return len(self.reader_layers(name))

    # -- the mapping, by class -----------------------------------------------------------------------------
    def layer(self, layer: Any, kind: str) -> None:
        if kind == "InputLayer":
            if any(n.op == "input" for n in self.graph.nodes):
                raise Refusal("a second input: an archc network has one input")
            shape = archc_shape(layer.output.shape)
            if len(shape) not in (1, 3) or any(not isinstance(d, int) or d < 1 for d in shape):
                raise Refusal(f"its shape {tuple(layer.output.shape)[1:]} is not HxWxC or N with every size known")
            self.add(layer, "input", [], [])
            return
        ins = self.inputs(layer)
        if any(n is POISON for n in ins):
            for k, _ in enumerate(self.outputs(layer)):
                self.nodes[(layer.name, 0, k)] = POISON
            return
        if not is_layer(layer):  # an operation on tensors: `x + 3.0`, `x * y`
            method = getattr(self, f"op_{kind}", None)
            if method is None:
                raise Refusal("this operation has no archc op")
            method(layer, ins)
            return
        method = getattr(self, f"map_{kind}", None)
        if method is None:
            raise Refusal("this layer has no archc op")
        if kind not in ("Concatenate", "Add", "Multiply") and len(ins) != 1 and not getattr(method, "refusal", False):
            raise Refusal(f"it reads {len(ins)} tensors and takes one")
        method(layer, ins)

    def conv_common(self, layer: Any, ins: list[Node], filters: int, groups: int, dilation: tuple[int, int], grouped: bool = False) -> None:
        self.channels_last(layer)
        src = ins[0]  # a pending ZeroPadding2D has the padded shape, at which Keras' "same" is reckoned
        c, _, _ = self.spatial(src)
        k, s = tuple(layer.kernel_size), tuple(layer.strides)
        pad = self.padding(layer, src, k, s, dilation)
        src, pad = self.merged_pad(layer, src, pad)
        act, act_args = self.activation_of(layer)
        args = [Arg("filters", filters, True), Arg("kernel", k, True)]
        for key, v, one in (("stride", s, (1, 1)), ("pad", sides(pad), (0, 0)), ("dilation", dilation, (1, 1))):
            if v != one:
                args.append(Arg(key, v[0] if len(v) == 2 and v[0] == v[1] else v))
        if groups != 1:
            args.append(Arg("groups", groups))
        if grouped:  # a Conv2D with one group per map: kernel (kh, kw, 1, filters), not DepthwiseConv2D's
            args.append(Arg("keras_kernel", "grouped"))
        if not layer.use_bias:
            args.append(Arg("bias", False))
        node = self.add(layer, "conv", args, [src])
        if node.shape[0] != filters or c % groups:
            raise Refusal("its output shape is not the conv's")  # the importer's bug, never the model's
        self.with_activation(layer, node, act, act_args)

    def map_Conv2D(self, layer: Any, ins: list[Node]) -> None:
        d = tuple(layer.dilation_rate)
        if tuple(layer.strides) != (1, 1) and d != (1, 1):
            raise Refusal("a stride and a dilation above 1 together")
        c, _, _ = self.spatial(ins[0])
        self.conv_common(layer, ins, layer.filters, layer.groups, d, grouped=layer.groups == c and c > 1)

    def map_DepthwiseConv2D(self, layer: Any, ins: list[Node]) -> None:
        c, _, _ = self.spatial(ins[0])
        self.conv_common(layer, ins, c * layer.depth_multiplier, c, tuple(layer.dilation_rate))

    def map_ZeroPadding2D(self, layer: Any, ins: list[Node]) -> None:
        self.channels_last(layer)
        self.spatial(ins[0])
        (top, bottom), (left, right) = layer.padding
        node = self.add(layer, "zeropad", [], ins)
        self.pads[id(node)] = ((top, bottom), (left, right), layer.name)

    def pool(self, layer: Any, ins: list[Node], op: str) -> None:
        self.channels_last(layer)
        src = ins[0]
        self.spatial(src)
        k, s = tuple(layer.pool_size), tuple(layer.strides)
        pad4 = self.padding(layer, src, k, s, (1, 1), pool=True)
        # Keras' own `same` padding is left out of the average: archc's `count_pad=false`
        # (a ZeroPadding2D's zeros, merged below, are counted, and merged_pad refuses the two together)
        uncounted = op == "avgpool" and any(pad4)
        src, pad4 = self.merged_pad(layer, src, pad4, pool=op[:3])
        pad = (pad4[0], pad4[2])
        if any(p > kk // 2 for p, kk in zip(pad, k, strict=True)):
            raise Refusal(f"padding {fmt(pad)} is over half the window {fmt(k)}: archc pads a pool at most k/2")
        args = [Arg("kernel", k, True)]
        if s != k:
            args.append(Arg("stride", s[0] if s[0] == s[1] else s))
        if pad != (0, 0):
            args.append(Arg("pad", pad[0] if pad[0] == pad[1] else pad))
        if uncounted:
            args.append(Arg("count_pad", False))
        self.add(layer, op, args, [src])

    def map_MaxPooling2D(self, layer: Any, ins: list[Node]) -> None:
        self.pool(layer, ins, "maxpool")

    def map_AveragePooling2D(self, layer: Any, ins: list[Node]) -> None:
        self.pool(layer, ins, "avgpool")

    def map_GlobalAveragePooling2D(self, layer: Any, ins: list[Node]) -> None:
        self.channels_last(layer)
        self.spatial(ins[0])
        self.add(layer, "global_avgpool", [Arg("keep", True, True)] if layer.keepdims else [], ins)

    def map_GlobalMaxPooling2D(self, layer: Any, ins: list[Node]) -> None:
        self.channels_last(layer)
        self.spatial(ins[0])
        node = self.add(layer, "adaptive_maxpool", [Arg("size", 1, True)], ins)  # the largest of each map: Cx1x1
        if not layer.keepdims:
            node.shape = (ins[0].shape[0], 1, 1)
            name = f"{group_name(layer.name)}_flatten"  # named, so that any reader can name it in `from`
            flat = Node(name, "flatten", [], [node], (ins[0].shape[0],), self.span(), kind="GlobalMaxPooling2D")
            self.graph.nodes.append(flat)
            self.alias(layer, flat)

    def map_Reshape(self, layer: Any, ins: list[Node]) -> None:
        """keras.applications' squeeze-and-excitation: GlobalAveragePooling2D then Reshape((1, 1, C)),
        which is `global_avgpool keep`; and Cx1x1 maps to a vector of C (MobileNet's head), which is
        `flatten` (one position: no order to keep). No other reshape has an archc op."""
        src = ins[0]
        target = tuple(layer.target_shape)
        if len(src.shape) == 3 and src.shape[1:] == (1, 1) and target == (src.shape[0],):
            self.add(layer, "flatten", [], ins)
            return
        pooled = src.op == "global_avgpool" and not src.args and len(src.shape) == 1
        if not pooled or target != (1, 1, src.shape[0]) or self.readers(keras_name(src) or "") != 1:
            raise Refusal(
                f"target_shape={target}: archc reshapes only a GlobalAveragePooling2D's vector, read by nothing else, to its 1x1 maps (global_avgpool keep), and 1x1 maps to a vector (flatten)"
            )
        src.args = [Arg("keep", True, True)]
        src.shape = (src.shape[0], 1, 1)
        self.alias(layer, src)

    def map_BatchNormalization(self, layer: Any, ins: list[Node]) -> None:
        axis = layer.axis if isinstance(layer.axis, int) else None
        if axis not in (-1, len(ins[0].shape)):
            raise Refusal(f"axis={layer.axis}: archc normalises each map (the last axis, channels-last)")
        if getattr(layer, "renorm", False):
            raise Refusal("batch renormalisation has no archc op")
        args = [Arg("eps", float(layer.epsilon)), Arg("momentum", round(1.0 - float(layer.momentum), 12))]
        args += [Arg(key, False) for key in ("scale", "center") if not getattr(layer, key)]
        self.add(layer, "batchnorm", args, ins)

    def last_axis(self, layer: Any, ins: list[Node], what: str) -> None:
        axis = layer.axis if isinstance(layer.axis, int) else list(layer.axis)
        if axis not in (-1, len(ins[0].shape), [-1], [len(ins[0].shape)]):
            raise Refusal(f"axis={layer.axis}: archc's {what} normalises over the maps (the last axis, channels-last)")

    def map_LayerNormalization(self, layer: Any, ins: list[Node]) -> None:
        self.last_axis(layer, ins, "layernorm")
        if not layer.center or not layer.scale or getattr(layer, "rms_scaling", False):
            raise Refusal("center=False, scale=False or rms_scaling: archc's layernorm learns a scale and a shift")
        self.add(layer, "layernorm", [Arg("eps", float(layer.epsilon))], ins)

    def map_GroupNormalization(self, layer: Any, ins: list[Node]) -> None:
        self.last_axis(layer, ins, "groupnorm")
        if not layer.center or not layer.scale:
            raise Refusal("center=False or scale=False: archc's groupnorm learns a scale and a shift")
        self.add(layer, "groupnorm", [Arg("groups", int(layer.groups), True), Arg("eps", float(layer.epsilon))], ins)

    def map_LayerScale(self, layer: Any, ins: list[Node]) -> None:
        """keras.applications' ConvNeXt LayerScale: one learnt factor per map, from init_values."""
        (weight,) = layer.weights
        c = ins[0].shape[0]
        if tuple(weight.shape) != (c,):
            raise Refusal(f"its scale has shape {tuple(weight.shape)}: archc's layer_scale has one per map, ({c},)")
        self.add(layer, "layer_scale", [Arg("init", float(layer.init_values), True)], ins)

    def map_Rescaling(self, layer: Any, ins: list[Node]) -> None:
        scale, offset = constants(layer.scale), constants(layer.offset)
        c = ins[0].shape[0]
        if len(set(offset)) != 1:
            raise Refusal("an offset per channel: archc's rescale adds one offset")
        if len(scale) not in (1, c):
            raise Refusal(f"{len(scale)} factors on {c} channels")
        args = [Arg("scale", scale[0], True)] if len(set(scale)) == 1 else [Arg("scale", scale)]
        if offset[0]:
            args.append(Arg("offset", offset[0]))
        self.add(layer, "rescale", args, ins)

    def map_Normalization(self, layer: Any, ins: list[Node]) -> None:
        """(x − mean)/max(√variance, 1e-7): `normalize mean= std=`, `stored` where the statistics are
        the layer's weights (an adapted Normalization, EfficientNet's) rather than constants."""
        import numpy as np

        c = ins[0].shape[0]
        axis = tuple(layer.axis) if isinstance(layer.axis, list | tuple) else (layer.axis,)
        if axis not in ((-1,), (len(ins[0].shape),)):
            raise Refusal(f"axis={layer.axis}: archc's normalize has one mean and deviation per channel (the last axis)")
        if getattr(layer, "invert", False):
            raise Refusal("invert=True: archc's normalize standardises, it does not undo it")
        mean = np.asarray(layer.mean, dtype="float32").reshape(-1)
        variance = np.asarray(layer.variance, dtype="float32").reshape(-1)
        if len(mean) not in (1, c) or len(variance) not in (1, c):
            raise Refusal(f"{len(mean)} means and {len(variance)} variances on {c} channels")
        if float(variance.min()) < 1e-14:
            raise Refusal("a variance below 1e-14: Keras divides by max(√variance, 1e-7), archc's normalize by its std")
        args = [
            Arg("mean", [shortest(float(v), float(v)) for v in mean]),
            Arg("std", [shortest(math.sqrt(v), float(v), squared=True) for v in variance]),
        ]
        if layer.weights:
            args.append(Arg("stored", True, True))
        self.add(layer, "normalize", args, ins)

    def activation_layer(self, layer: Any, ins: list[Node], op: str, args: list[Arg]) -> None:
        self.add(layer, op, args, ins)

    def map_Activation(self, layer: Any, ins: list[Node]) -> None:
        act, args = self.activation_of(layer)
        if act is None:
            self.alias(layer, ins[0])  # `linear`: the identity
            return
        self.activation_layer(layer, ins, act, args)

    def map_ReLU(self, layer: Any, ins: list[Node]) -> None:
        top = None if layer.max_value is None else float(layer.max_value)
        slope, threshold = float(layer.negative_slope), float(layer.threshold)
        if threshold != 0:
            raise Refusal(f"threshold={threshold}: archc's relu bends at 0")
        if top is None and slope == 0:
            self.activation_layer(layer, ins, "relu", [])
        elif top == 6 and slope == 0:
            self.activation_layer(layer, ins, "relu6", [])
        elif top is None:
            self.activation_layer(layer, ins, "leaky_relu", [Arg("slope", slope, True)])
        else:
            raise Refusal(f"max_value={top} with negative_slope={slope}: archc has relu, relu6 (max_value=6) and leaky_relu")

    def map_LeakyReLU(self, layer: Any, ins: list[Node]) -> None:
        self.activation_layer(layer, ins, "leaky_relu", [Arg("slope", float(layer.negative_slope), True)])

    def map_ELU(self, layer: Any, ins: list[Node]) -> None:
        alpha = float(layer.alpha)
        self.activation_layer(layer, ins, "elu", [] if alpha == 1.0 else [Arg("alpha", alpha, True)])

    def map_Softmax(self, layer: Any, ins: list[Node]) -> None:
        if layer.axis not in (-1, len(ins[0].shape)):
            raise Refusal(f"axis={layer.axis}: archc's softmax normalises over the maps (the last axis)")
        self.activation_layer(layer, ins, "softmax", [])

    def map_PReLU(self, layer: Any, ins: list[Node]) -> None:
        shape = tuple(layer.alpha.shape)
        want = (1, 1, ins[0].shape[0]) if len(ins[0].shape) == 3 else ins[0].shape
        if shape != want:
            raise Refusal(f"its slopes have shape {shape}: archc's prelu has one per map (shared_axes=[1, 2]), {want}")
        self.add(layer, "prelu", [], ins)

    def map_Flatten(self, layer: Any, ins: list[Node]) -> None:
        if len(ins[0].shape) == 1:
            self.alias(layer, ins[0])  # a vector already
            return
        if ins[0].shape[1] * ins[0].shape[2] > 1 and not self.reaches_dense(layer.name):
            raise Refusal(
                "Keras flattens in H, W, C order and archc in C, H, W order: they agree only where a dense layer reads the flatten, and here something else does"
            )
        self.add(layer, "flatten", [], ins)

    def reaches_dense(self, name: str) -> bool:
        readers = self.reader_layers(name)
        if not readers or self.model.outputs[0]._keras_history[0].name == name:
            return False
        for r in readers:
            kind = type(r).__name__
            if kind == "Dense":
                continue
            if kind in ("Dropout", "Activation", "ReLU", "LeakyReLU", "ELU") and self.reaches_dense(r.name):
                continue
            return False
        return True

    def map_Dense(self, layer: Any, ins: list[Node]) -> None:
        """On a vector `dense`; on channels-last maps (ConvNeXt's pointwise layers) `pointwise_dense`,
        the same Dense at each position."""
        act, act_args = self.activation_of(layer)
        args = [Arg("units", layer.units, True)] + ([] if layer.use_bias else [Arg("bias", False)])
        node = self.add(layer, "dense" if len(ins[0].shape) == 1 else "pointwise_dense", args, ins)
        self.with_activation(layer, node, act, act_args)

    def map_Dropout(self, layer: Any, ins: list[Node]) -> None:
        noise = None if layer.noise_shape is None else tuple(layer.noise_shape)
        if noise is None:
            self.add(layer, "dropout", [Arg("rate", float(layer.rate), True)], ins)
        elif noise[1:] == (1,) * len(ins[0].shape):  # a whole sample at once: stochastic depth (EfficientNet's blocks)
            self.add(layer, "stochastic_depth", [Arg("rate", float(layer.rate), True)], ins)
        else:
            raise Refusal(f"noise_shape={noise}: archc's dropout drops each element alone, stochastic_depth each sample")

    def merge(self, layer: Any, ins: list[Node], op: str) -> None:
        if len(ins) < 2:
            raise Refusal(f"it reads {len(ins)} tensor: a merge reads two or more")
        if len({id(n) for n in ins}) != len(ins):
            raise Refusal("it reads one tensor twice: archc's merges read each layer once")
        shapes = {n.shape for n in ins}
        if op == "add" and len(shapes) != 1:
            raise Refusal(f"it adds tensors of shapes {', '.join(fmt(s) for s in shapes)}: archc's add reads one shape")
        if op == "multiply" and len(shapes) != 1:
            full = max(shapes, key=len)
            if len(shapes) != 2 or len(full) != 3 or (full[0], 1, 1) not in shapes:
                raise Refusal(
                    f"it multiplies tensors of shapes {', '.join(fmt(s) for s in shapes)}: archc's multiply reads one shape, or CxHxW and Cx1x1"
                )
        self.add(layer, op, [], ins)

    def map_Concatenate(self, layer: Any, ins: list[Node]) -> None:
        if layer.axis not in (-1, len(ins[0].shape)):
            raise Refusal(f"axis={layer.axis}: archc's concat stacks the maps (the last axis)")
        self.merge(layer, ins, "concat")

    def map_Add(self, layer: Any, ins: list[Node]) -> None:
        self.merge(layer, ins, "add")

    def map_Multiply(self, layer: Any, ins: list[Node]) -> None:
        self.merge(layer, ins, "multiply")

    def map_Identity(self, layer: Any, ins: list[Node]) -> None:
        self.alias(layer, ins[0])

    # -- operations on tensors (keras.ops, `x + 3.0` in a functional graph) ----------------------------------
    def arithmetic(self, op: Any, ins: list[Node], kind: str) -> None:
        """`x + c`, `x - c`, `c - x`, `x * c` as `rescale` (x·1 + c and x·c are exact in floating point);
        two tensors as `add` or `multiply`."""
        node = op._inbound_nodes[0]
        args, kwargs = list(node.arguments.args), dict(node.arguments.kwargs)
        if kwargs or len(args) != 2:
            raise Refusal(f"{len(args)} arguments{' and keywords' if kwargs else ''}: archc reads an operation on two")
        tensors = [is_tensor(a) for a in args]
        if all(tensors):
            if kind in ("add", "multiply"):
                self.merge(op, ins, kind)
                return
            raise Refusal(f"a {kind} of two tensors has no archc op")
        c = scalar(args[1] if tensors[0] else args[0])
        if c is None:
            raise Refusal("it reads a constant that is not one number: archc's rescale takes one factor and one offset")
        if kind == "add":
            rescale = [Arg("scale", 1, True), Arg("offset", c)]
        elif kind == "subtract":
            rescale = [Arg("scale", 1, True), Arg("offset", -c)] if tensors[0] else [Arg("scale", -1, True), Arg("offset", c)]
        elif kind == "multiply":
            rescale = [Arg("scale", c, True)]
        else:
            raise Refusal(f"archc's rescale multiplies, and x·(1/c) rounds otherwise than a {kind}")
        self.add(op, "rescale", rescale, ins)

    def op_Add(self, op: Any, ins: list[Node]) -> None:
        self.arithmetic(op, ins, "add")

    def op_Subtract(self, op: Any, ins: list[Node]) -> None:
        self.arithmetic(op, ins, "subtract")

    def op_Multiply(self, op: Any, ins: list[Node]) -> None:
        self.arithmetic(op, ins, "multiply")

    def op_Divide(self, op: Any, ins: list[Node]) -> None:
        self.arithmetic(op, ins, "divide")

    def op_TrueDivide(self, op: Any, ins: list[Node]) -> None:
        self.arithmetic(op, ins, "divide")

    map_SeparableConv2D = refused("a depthwise and a pointwise conv in one layer: its weight list is no archc layer's")
    map_UpSampling2D = refused("archc's catalogue has no upsampling")
    map_Lambda = refused("a Python function: archc cannot read what it computes")


POISON = Node("", "poison", [], [], (), Span.unknown())


def history(t: Any) -> tuple[str, int, int]:
    op, node_index, tensor_index = t._keras_history
    return op.name, node_index, tensor_index


def is_layer(op: Any) -> bool:
    from keras import layers

    return isinstance(op, layers.Layer)


def is_tensor(v: Any) -> bool:
    return hasattr(v, "_keras_history")


def scalar(v: Any) -> float | None:
    """A Python or NumPy number (a 0-d or one-element array too), or None."""
    import numpy as np

    if isinstance(v, bool) or is_tensor(v):
        return None
    try:
        a = np.asarray(v, dtype="float64")
    except (TypeError, ValueError):
        return None
    return float(a.reshape(-1)[0]) if a.size == 1 else None


def constants(v: Any) -> list[float]:
    import numpy as np

    return [float(x) for x in np.asarray(v, dtype="float64").reshape(-1)]


def shortest(v: float, want: float, squared: bool = False) -> float:
    """The shortest decimal whose float32 (or its square's) is want's: `0.485`, not 0.48500001430511475."""
    import numpy as np

    goal = np.float32(want)
    for digits in range(1, 18):
        c = float(f"{v:.{digits}g}")
        if np.float32(c * c if squared else c) == goal:
            return c
    return v


def snake(kind: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", kind).lower()


def automatic(layer: Any) -> bool:
    """Whether a weightless layer or operation carries the name Keras gave it (`re_lu_3`, `add`)."""
    if getattr(layer, "weights", None):
        return False
    kind = type(layer).__name__
    return re.fullmatch(rf"({snake(kind)}|{kind.lower()})(_\d+)?", layer.name) is not None


def import_keras(model: Any, name: str | None = None, file: str = "<keras>") -> Imported:
    """A Keras functional model as a spec; raises ImportRefused listing every layer archc cannot express exactly."""
    from ..backends.arch import format_program
    from ..diagnostics import Diagnostics
    from ..parse import parse as parse_arch
    from .spec import Refused, write

    try:
        built = bool((getattr(model, "_functional", None) or model).inputs)
    except (AttributeError, ValueError):
        built = False
    if not hasattr(model, "layers") or not built:
        message = "not a built Keras functional model (a Sequential needs its keras.Input)"
        raise ImportRefused([Diagnostic(Severity.ERROR, codes.UNSUPPORTED, message, Span.unknown(file))])
    graph = Walker(model, file).run()
    if graph.errors:
        raise ImportRefused(graph.errors)
    try:
        spec = write(graph, file, name, framework="Keras")
    except Refused as exc:
        raise ImportRefused([exc.diagnostic]) from None
    diags = Diagnostics()
    program = parse_arch(spec, "<import>", diags)
    if program is None:  # the writer's bug, never the model's
        raise AssertionError(f"archc import wrote a spec that does not parse: {diags.items[0].message}\n{spec}")
    return Imported(format_program(program, spec), graph.notes)


def from_keras(model: Any, name: str | None = None) -> str:
    """The spec's text of a Keras functional model; `name` names the network (default: the model's name)."""
    return import_keras(model, name).spec


def import_keras_file(path: str, name: str | None = None) -> str:
    """The spec's text of a `.keras` file (keras.saving.load_model)."""
    from ..env import require

    keras = require("keras")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as exc:  # Keras raises ValueError, OSError, zipfile's and h5py's errors, and more
        message = f"Keras cannot load it: {' '.join(str(exc).split())[:300] or type(exc).__name__}"
        raise ImportRefused([Diagnostic(Severity.ERROR, codes.UNSUPPORTED, message, Span.unknown(str(path)))]) from None
    return import_keras(model, name, file=str(path)).spec


def keras_weights(source: Any, compiled: Any) -> list[Any]:
    """The source's weights in the compiled model's order and shapes, checked weight by weight.

    The compiled model (archc.build_model(spec, target="keras") of the imported spec) holds them in
    the same order: both are Keras functional models of the same graph, and the spec keeps every
    merge's inputs in Keras' order. Each pair is checked by name (the compiled layer's last name
    is the source layer's, legalised, and the weight's own name agrees, or is Keras' `variable` for
    a weight created without a name, as ConvNeXt's LayerScale's) and by shape. The shapes are equal
    (a DepthwiseConv2D is one in the compiled model, a Conv2D(groups=C) one with
    `keras_kernel=grouped`, so `compiled.set_weights(source.get_weights())` works as well); a
    DepthwiseConv2D kernel (kh, kw, C, m) is still reshaped for a compiled Conv2D(groups=C) of shape
    (kh, kw, 1, C·m), the same values in the same order. Raises ValueError where a pair disagrees,
    so that weights are never set on the wrong layer.
    """
    src, dst = source.weights, compiled.weights
    if len(src) != len(dst):
        raise ValueError(f"{len(src)} weights in the source, {len(dst)} in the compiled model")
    out = []
    for a, b, value in zip(src, dst, source.get_weights(), strict=True):
        (a_layer, a_name), (b_layer, b_name) = a.path.rsplit("/", 1), b.path.rsplit("/", 1)
        named = (
            a_name.replace("depthwise_", "") == b_name or re.fullmatch(r"variable(_\d+)?", a_name) is not None
        )  # Keras' name for a weight given none (LayerScale's)
        if not same_layer(a_layer, b_layer) or not named:
            raise ValueError(f"the weights are in another order: {a.path} in the source where the compiled model has {b.path}")
        shape, want = tuple(a.shape), tuple(b.shape)
        if shape != want:
            depthwise = len(shape) == 4 and len(want) == 4 and want[2] == 1 and shape[:2] == want[:2] and shape[2] * shape[3] == want[3]
            if not depthwise:
                raise ValueError(f"{a.path}: {shape} in the source, {want} in the compiled model")
            value = value.reshape(want)
        out.append(value)
    return out


def same_layer(source: str, compiled: str) -> bool:
    """Whether a compiled layer (`conv2_block1-add-branch2-conv_1_conv`) is the source's
    (`conv2_block1_1_conv`): its last name is the source's name, or its end, legalised (a name
    that starts with a digit has the op in front)."""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", source)
    leaf = compiled.split("-")[-1]
    tails = {leaf, leaf.split("_", 1)[-1], leaf.rstrip("_")}
    return any(name == t or name.endswith("_" + t) for t in tails)


__all__ = ["from_keras", "import_keras", "import_keras_file", "keras_weights"]
