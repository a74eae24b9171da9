"""IR → Keras 3 source: one builder function per spec module, one `build_<network>(aux=False)`.

The generated file imports only `keras` (its layers and ops) and runs under the TensorFlow, JAX
and torch backends. Channels-last throughout. Every layer is named after the spec's layer path,
components joined by `-` (`inception3a-b1-conv_1`): `-` cannot occur in a spec name, so the
mapping is one-to-one, and unlike `.` it is legal in a variable path under the torch backend.
Helper layers a node needs besides its own (explicit padding, an activation after batchnorm)
take the node's name plus a suffix that no sibling in the spec uses.

What Keras lacks (LRN, PyTorch-padded and ceil-mode pooling, connection tables, trainable
subsampling, RBF, LeNet's scaled tanh, layer scale, stochastic depth) is written into the file as small registered layers
from keras_layers.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar

from .. import __version__, ops
from ..expr import rename_python
from ..graph import Network, Node
from ..ops import SYMBOLIC_OPTIONS
from ..shapes import adaptive_windows, sides
from .base import HEADER, MARKER, Backend, Namespace, Unsupported, fmt_float, literal
from .keras_layers import NEEDS, SOURCES
from .keras_scope import Call, FunctionWriter, Scope, name_component

Value = Callable[[str], str]  # an option's value as Python text
# activation → how Keras applies it, given its options' values: a reference that `activation=`
# takes (a Keras name, or a function keras_layers.py writes into the file), or a layer and its
# arguments where Keras' default differs from the spec's (LeakyReLU's slope is 0.3 there).
ACTIVATION: dict[str, Callable[[Value], str | tuple[str, list[str]]]] = {
    "relu": lambda v: '"relu"',
    "relu6": lambda v: '"relu6"',
    "leaky_relu": lambda v: ("layers.LeakyReLU", [f"negative_slope={v('slope')}"]),
    "elu": lambda v: ("layers.ELU", [f"alpha={v('alpha')}"]),
    "gelu": lambda v: '"gelu"' if v("approximate") == '"none"' else "gelu_tanh",
    "silu": lambda v: '"silu"',
    "hardswish": lambda v: '"hard_swish"',
    "hardsigmoid": lambda v: '"hard_sigmoid"',
    "tanh": lambda v: '"tanh"',
    "sigmoid": lambda v: '"sigmoid"',
    "softmax": lambda v: '"softmax"',
    "scaled_tanh": lambda v: "scaled_tanh",
}
# Ops that read a CxHxW tensor.
SPATIAL = frozenset(name for name, op in ops.CATALOGUE.items() if op.spatial)


def order_free(node: Node) -> bool:
    """Whether a layer computes each element alone, whatever its position: a pointwise op whose
    per-channel options (a `rescale scale=a, b, c`) hold one value for all. A flattened vector
    may then keep Keras' H, W, C order through it."""
    op = ops.CATALOGUE[node.op]
    return op.pointwise and all(len(node.attrs[o.name]) == 1 for o in op.options if o.kind == ops.FLOATS)


# Options a module builder takes from its parameters verbatim; all others are written out per
# instance, and instances that then differ get builders of their own (inception, inception_2).
# The options a builder writes as the parameter's expression (a module's or the network's); the
# others are written as numbers, which the module builders' bodies (keyed by their text) keep apart.
PARAM_OPTIONS: dict[str, tuple[str, ...]] = {
    **SYMBOLIC_OPTIONS,
    "layernorm": ("eps",),
    "groupnorm": ("groups", "eps"),
    "layer_scale": ("init",),
    "stochastic_depth": ("rate",),
}
RESERVED = frozenset(
    {"keras", "layers", "ops", "x", "inputs", "name", "aux", "classifier_activation", "i", "math", "make_divisible", "whole", *SOURCES}
)
WHOLE = '''
def whole(value):
    """A whole number the spec computes by division: refused, as archc's checker refuses it, unless whole."""
    if value != int(value):
        raise ValueError(f"{value} is not a whole number (the spec's expression must give one here)")
    return int(value)
'''
MAKE_DIVISIBLE = '''
def make_divisible(v, divisor):
    """torchvision's _make_divisible(v, divisor): v rounded to a multiple of divisor, at most 10% down."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v
'''


def layer_name(node: Node) -> str:
    """The Keras layer name of a node: its spec path joined by `-`."""
    return "-".join(name_component(c) for c in node.path)


def entry_point(net: Network) -> str:
    """The name of a network's builder function in the generated file."""
    return "build_" + Namespace(RESERVED).legal(net.name.lower())


def pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def dims(value: tuple[int, int]) -> str:
    return str(value[0]) if value[0] == value[1] else f"({value[0]}, {value[1]})"


def keras_same(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """Keras' `padding="same"`: (output size, padding before); the remainder goes after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return out, total // 2


def depthwise(net: Network, node: Node) -> bool:
    """Whether a conv has one group per input map (and so filters a multiple of them): Keras'
    DepthwiseConv2D, with keras.applications' weight layout, rather than a grouped Conv2D.
    TensorFlow's depthwise kernel refuses strides that differ between H and W: those stay a
    grouped Conv2D, which computes the same; and so do groups a network parameter sets, since the
    builder is written once for every value the parameter may take. `keras_kernel=grouped` asks
    for the grouped Conv2D (keras.applications' ConvNeXt)."""
    a = node.attrs
    if "groups" in node.tainted or "filters" in node.tainted or a.get("keras_kernel") == "grouped":
        return False
    maps = net.nodes[node.inputs[0]].shape[0]
    equal_strides = pair(a["stride"])[0] == pair(a["stride"])[1]
    return node.op == "conv" and "table" not in a and a["groups"] > 1 and a["groups"] == maps and equal_strides


def hwc_flatten(net: Network, node: Node) -> bool:
    """Whether a flatten may use Keras' own H, W, C order: only when every reader reaches a
    dense or rbf layer through elementwise ops, whose rows weights.transfer then permutes,
    and no output of the network is on the way."""
    outputs = {net.output, *(net.node_of(item).id for item in net.aux_heads)}
    readers: dict[int, list[Node]] = {}
    for reader in net.nodes[node.id + 1 :]:
        for i in reader.inputs:
            readers.setdefault(i, []).append(reader)
    todo = [node.id]
    while todo:
        nid = todo.pop()
        if nid in outputs:
            return False
        for reader in readers.get(nid, []):
            if order_free(reader):
                todo.append(reader.id)
            elif reader.op not in ("dense", "rbf"):
                return False
    return True


def flatten_source(net: Network, node: Node) -> Node | None:
    """The spatial flatten in H, W, C order that a dense or rbf layer reads, if any."""
    cur = net.nodes[node.inputs[0]]
    while order_free(cur) and cur.inputs:
        cur = net.nodes[cur.inputs[0]]
    if cur.op != "flatten":
        return None
    shape = net.nodes[cur.inputs[0]].shape
    if len(shape) != 3 or shape[1] * shape[2] == 1 or not hwc_flatten(net, cur):
        return None
    return cur


class KerasBackend(Backend):
    """One `emit_<op>` per op: each returns the calls that compute the node from its input."""

    target: ClassVar[str] = "keras"
    UNSUPPORTED: ClassVar[dict[str, str]] = {}

    def __init__(self, nets: list[Network], spec: str, *, softmax: bool | None = None, line_comments: bool = False) -> None:
        # An output's softmax is never emitted in place: the builder applies its
        # `classifier_activation` argument instead (keras.applications' convention), whose
        # default is the softmax unless `softmax` is False (`archc build --logits`).
        self.nets, self.spec, self.softmax, self.line_comments = nets, spec, softmax, line_comments
        self.local_names: set[str] = set()  # every local and parameter of every builder
        self.spec_text = spec if spec.isprintable() else repr(spec)
        self.used: set[str] = set()
        self.tables: dict[tuple[tuple[int, ...], ...], str] = {}
        self.table_names = Namespace(RESERVED)
        self.net = nets[0]
        self.scope: Scope | None = None
        self.trailing: set[int] = set()  # nodes whose fused activation is a layer after them
        self.expr_helpers: set[str] = set()  # "math", "make_divisible": what the expressions written call

    def emitter(self, node: Node) -> Any:
        method = super().emitter(node)
        ranks = (1, 3) if node.op == "global_avgpool" else (3,)  # global_avgpool: C, or Cx1x1 with `keep`
        if node.op in SPATIAL and (len(self.in_shape(node)) != 3 or len(node.shape) not in ranks):
            shape = "x".join(str(d) for d in self.in_shape(node)) or "a scalar"
            raise self.unsupported(node, f"it needs a CxHxW input, got {shape}")

        def emit(node: Node) -> list[Call]:
            calls: list[Call] = method(node)
            if node.id in self.trailing:  # a fused activation that `activation=` cannot take
                calls = self.then_activation(node, calls)
            return calls

        return emit

    # -- helpers the emitters share ------------------------------------------------------------
    def special(self, name: str) -> str:
        self.used.update((name, *NEEDS.get(name, ())))
        return name

    def value(self, node: Node, option: str) -> str:
        """An option's value: the module parameter it came from, or the literal."""
        assert self.scope is not None
        expr = node.exprs.get(option)
        if expr is not None and option in PARAM_OPTIONS.get(node.op, ()):
            python = self.python(expr)
            if python is not None:
                return python
        return literal(node.attrs[option])

    def python(self, expr: str) -> str | None:
        """Python source over the spec's parameters in this builder's names; None if one is not in scope."""
        assert self.scope is not None
        out = rename_python(expr, self.scope.params.get)
        if out is not None:
            self.expr_helpers.update(h for h in ("make_divisible", "whole") if f"{h}(" in out)
            if re.search(r"(?<![\w.])math\.", out):
                self.expr_helpers.add("math")
        return out

    def activation(self, node: Node, kwargs: list[str]) -> list[str]:
        """A layer's `activation=` argument for its fused activation, or a layer after it (`trailing`)."""
        act = self.output_activation(node)
        if not act:
            return kwargs
        how = self.keras_activation(act, self.defaults(act))
        if isinstance(how, tuple):
            self.trailing.add(node.id)
            return kwargs
        return [*kwargs, f"activation={how}"]

    def keras_activation(self, act: str, value: Value) -> str | tuple[str, list[str]]:
        how = ACTIVATION[act](value)
        if isinstance(how, str) and how in SOURCES:
            self.special(how)
        return how

    @staticmethod
    def defaults(act: str) -> Value:
        attrs = ops.activation_attrs(act)
        return lambda key: literal(attrs[key])

    def activation_layer(self, act: str, value: Value, name: str) -> Call:
        how = self.keras_activation(act, value)
        if isinstance(how, tuple):
            return Call(how[0], how[1], name)
        return Call("layers.Activation", [how], name)

    def output_activation(self, node: Node) -> str | None:
        """The node's activation, less a final softmax: the builder applies classifier_activation there."""
        if node.activation == "softmax" and node.id in self.net.final_softmaxes:
            return None
        return node.activation

    def then_activation(self, node: Node, calls: list[Call]) -> list[Call]:
        act = self.output_activation(node)
        if act:
            calls.append(self.activation_layer(act, self.defaults(act), self.aux_name(node, act)))
        return calls

    def name(self, node: Node) -> str:
        assert self.scope is not None
        return self.scope.layer_name(node.path)

    def aux_name(self, node: Node, suffix: str) -> str:
        assert self.scope is not None
        return self.scope.aux_name(node.path, suffix)

    def in_shape(self, node: Node) -> tuple[int, ...]:
        return tuple(self.net.nodes[node.inputs[0]].shape)

    def unsupported(self, node: Node, reason: str) -> Unsupported:
        from ..diagnostics import Diagnostic, Severity

        message = f"the keras backend cannot express {node.qualname} ({node.op}): {reason}"
        return Unsupported(Diagnostic(Severity.ERROR, "unsupported", message, node.span))

    def padding(self, node: Node, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]) -> tuple[str, list[Call]]:
        """Keras padding mode for a conv, and a ZeroPadding2D before it where "same" differs."""
        pad = node.attrs.get("pad", 0)
        if pad == "same":
            return "same", []
        top, bottom, left, right = sides(0 if pad == "valid" else pad)
        if (top, bottom, left, right) == (0, 0, 0, 0):
            return "valid", []
        _, h, w = self.in_shape(node)
        same = (keras_same(h, kernel[0], stride[0], dilation[0]), keras_same(w, kernel[1], stride[1], dilation[1]))
        if same == ((node.shape[1], top), (node.shape[2], left)):  # the windows start alike: only the output size counts the rest
            return "same", []
        if (top, left) == (bottom, right):
            return "valid", [Call("layers.ZeroPadding2D", [dims((top, left))], self.aux_name(node, "pad"))]
        return "valid", [Call("layers.ZeroPadding2D", [f"(({top}, {bottom}), ({left}, {right}))"], self.aux_name(node, "pad"))]

    # -- emitters, one per op ------------------------------------------------------------------
    def emit_conv(self, node: Node) -> list[Call]:
        a = node.attrs
        if "table" in a and a["groups"] != 1:
            raise self.unsupported(node, "a connection table with groups")
        kernel, stride, dilation = pair(a["kernel"][:2]), pair(a["stride"]), pair(a["dilation"])
        if stride != (1, 1) and dilation != (1, 1):
            raise self.unsupported(node, "Keras' Conv2D refuses a stride above 1 together with a dilation above 1")
        mode, calls = self.padding(node, kernel, stride, dilation)
        if depthwise(self.net, node):
            return [*calls, self.depthwise_conv(node, kernel, stride, dilation, mode)]
        args = [self.value(node, "filters"), dims(kernel)]
        if "table" in a:
            args.append(f"table={self.table(node)}")
        if stride != (1, 1):
            args.append(f"strides={dims(stride)}")
        if mode == "same":
            args.append('padding="same"')
        if dilation != (1, 1):
            args.append(f"dilation_rate={dims(dilation)}")
        if "groups" in node.exprs or a["groups"] != 1:
            args.append(f"groups={self.value(node, 'groups')}")
        args = self.activation(node, args)
        if "bias" in node.exprs or not a["bias"]:
            args.append(f"use_bias={self.value(node, 'bias')}")
        ctor = self.special("ConnectionTableConv2D") if "table" in a else "layers.Conv2D"
        return [*calls, Call(ctor, args, self.name(node))]

    def depthwise_conv(self, node: Node, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int], mode: str) -> Call:
        """A conv with one group per input map, as keras.applications writes it (MobileNet):
        DepthwiseConv2D, whose kernel is (kh, kw, maps, multiplier)."""
        args = [dims(kernel)]
        if stride != (1, 1):
            args.append(f"strides={dims(stride)}")
        if mode == "same":
            args.append('padding="same"')
        multiplier = node.attrs["filters"] // node.attrs["groups"]
        if multiplier != 1:
            args.append(f"depth_multiplier={multiplier}")
        if dilation != (1, 1):
            args.append(f"dilation_rate={dims(dilation)}")
        args = self.activation(node, args)
        if "bias" in node.exprs or not node.attrs["bias"]:
            args.append(f"use_bias={self.value(node, 'bias')}")
        return Call("layers.DepthwiseConv2D", args, self.name(node))

    def table(self, node: Node) -> str:
        table = tuple(tuple(maps) for maps in node.attrs["table"])
        if table not in self.tables:
            self.tables[table] = self.table_names(node.name.upper() + "_TABLE")
        return self.tables[table]

    def pool(self, node: Node, kind: str) -> list[Call]:
        a = node.attrs
        kernel, stride, p = pair(a["kernel"]), pair(a["stride"] or a["kernel"]), pair(a["pad"])
        _, h, w = self.in_shape(node)
        extra = tuple(
            max((o - 1) * s + k - (n + 2 * q), 0) for o, s, k, n, q in zip(node.shape[1:], stride, kernel, (h, w), p, strict=True)
        )
        args = [dims(kernel), f"strides={dims(stride)}"]
        if p == (0, 0) and extra == (0, 0):
            return [Call(f"layers.{kind}Pooling2D", args, self.name(node))]
        same = (keras_same(h, kernel[0], stride[0]), keras_same(w, kernel[1], stride[1]))
        count_pad = a.get("count_pad", True)  # Keras' "same" average leaves the padding out of the divisor
        if (kind == "Max" or not count_pad) and same == ((node.shape[1], p[0]), (node.shape[2], p[1])):
            return [Call(f"layers.{kind}Pooling2D", [*args, 'padding="same"'], self.name(node))]
        args += [f"padding={pair_text(p)}", f"extra={pair_text(extra)}"]
        if not count_pad:
            args.append("count_pad=False")
        return [Call(self.special("PaddedMaxPool2D" if kind == "Max" else "PaddedAvgPool2D"), args, self.name(node))]

    def emit_maxpool(self, node: Node) -> list[Call]:
        return self.pool(node, "Max")

    def emit_avgpool(self, node: Node) -> list[Call]:
        return self.pool(node, "Average")

    def emit_subsample(self, node: Node) -> list[Call]:
        kernel = pair(node.attrs["kernel"])
        stride = pair(node.attrs["stride"] or node.attrs["kernel"])
        args = self.activation(node, [dims(kernel), f"strides={dims(stride)}"])
        return [Call(self.special("Subsampling"), args, self.name(node))]

    def emit_lrn(self, node: Node) -> list[Call]:
        a = node.attrs
        alpha = a["alpha"] * a["size"] if a["convention"] == "paper" else a["alpha"]
        args = [repr(a["size"]), f"alpha={fmt_float(alpha)}", f"beta={self.value(node, 'beta')}", f"k={self.value(node, 'k')}"]
        return [Call(self.special("LocalResponseNorm"), args, self.name(node))]

    def emit_batchnorm(self, node: Node) -> list[Call]:
        momentum = fmt_float(1.0 - node.attrs["momentum"])
        args = [f"epsilon={self.value(node, 'eps')}", f"momentum={momentum}"]
        args += [f"{option}=False" for option in ("scale", "center") if not node.attrs[option]]
        call = Call("layers.BatchNormalization", args, self.name(node))
        return self.then_activation(node, [call])

    def emit_layernorm(self, node: Node) -> list[Call]:
        # over the last axis: the maps at each position of a channels-last tensor, or the features
        return [Call("layers.LayerNormalization", ["axis=-1", f"epsilon={self.value(node, 'eps')}"], self.name(node))]

    def emit_groupnorm(self, node: Node) -> list[Call]:
        args = [f"groups={self.value(node, 'groups')}", "axis=-1", f"epsilon={self.value(node, 'eps')}"]
        return [Call("layers.GroupNormalization", args, self.name(node))]

    def emit_layer_scale(self, node: Node) -> list[Call]:
        return [Call(self.special("LayerScale"), [self.value(node, "init")], self.name(node))]

    def emit_stochastic_depth(self, node: Node) -> list[Call]:
        return [Call(self.special("StochasticDepth"), [self.value(node, "rate")], self.name(node))]

    def emit_dense(self, node: Node) -> list[Call]:
        args = self.activation(node, [self.value(node, "units")])
        if "bias" in node.exprs or not node.attrs["bias"]:
            args.append(f"use_bias={self.value(node, 'bias')}")
        return [Call("layers.Dense", args, self.name(node))]

    def emit_pointwise_dense(self, node: Node) -> list[Call]:
        return self.emit_dense(node)  # Keras' Dense acts on the last axis: on channels-last maps, at each position

    def emit_rbf(self, node: Node) -> list[Call]:
        return [Call(self.special("RBF"), [self.value(node, "units")], self.name(node))]

    def emit_dropout(self, node: Node) -> list[Call]:
        return [Call("layers.Dropout", [self.value(node, "rate")], self.name(node))]

    def emit_flatten(self, node: Node) -> list[Call]:
        shape = self.in_shape(node)
        if len(shape) == 3 and shape[1] * shape[2] > 1 and not hwc_flatten(self.net, node):
            # Read by something that needs PyTorch's C, H, W order: put the maps first.
            permute = Call("layers.Permute", ["(3, 1, 2)"], self.aux_name(node, "chw"))
            return [permute, Call("layers.Flatten", [], self.name(node))]
        return [Call("layers.Flatten", [], self.name(node))]

    def emit_rescale(self, node: Node) -> list[Call]:
        scale = node.attrs["scale"]  # one factor, or a list that Rescaling applies along the channels-last axis
        factor = fmt_float(scale[0]) if len(scale) == 1 else f"[{', '.join(fmt_float(v) for v in scale)}]"
        args = [factor] + ([f"offset={self.value(node, 'offset')}"] if node.attrs["offset"] else [])
        return [Call("layers.Rescaling", args, self.name(node))]

    def emit_normalize(self, node: Node) -> list[Call]:
        # Keras computes (x - mean) / maximum(sqrt(variance), epsilon()), epsilon 1e-7 by default; the
        # variance std² is cast to float32, so a std whose square leaves float32's range is refused too.
        a = node.attrs
        low = next((v for v in a["std"] if v < 1e-7 or v * v >= 3.4e38), None)
        if low is not None:
            raise self.unsupported(
                node, f"Keras' Normalization divides by max(√variance, 1e-7) in float32, which std={low!r} does not survive"
            )

        def listed(values: tuple[float, ...]) -> str:
            return fmt_float(values[0]) if len(values) == 1 else f"[{', '.join(fmt_float(v) for v in values)}]"

        mean, variance = a["mean"], tuple(v * v for v in a["std"])
        if len(mean) != len(variance):  # Keras wants both of one shape: the single number goes to every channel
            c = max(len(mean), len(variance))
            mean, variance = (v * c if len(v) == 1 else v for v in (mean, variance))
        args = [f"mean={listed(mean)}", f"variance={listed(variance)}"]
        if a["stored"]:  # the statistics as weights, as EfficientNet's stem keeps them
            return [Call(self.special("StoredNormalization"), args, self.name(node))]
        return [Call("layers.Normalization", args, self.name(node))]

    def emit_global_avgpool(self, node: Node) -> list[Call]:
        return [Call("layers.GlobalAveragePooling2D", ["keepdims=True"] if node.attrs.get("keep") else [], self.name(node))]

    def adaptive(self, node: Node, kind: str) -> list[Call]:
        """Keras' own pooling where the windows are even (a kernel and a stride), else AdaptivePool2D."""
        _, h, w = self.in_shape(node)
        out = (node.shape[1], node.shape[2])
        if (h, w) == out:
            return [Call("layers.Identity", [], self.name(node))]
        even = [even_windows(size, o) for size, o in zip((h, w), out, strict=True)]
        if even[0] is not None and even[1] is not None:
            kernel, stride = (even[0][0], even[1][0]), (even[0][1], even[1][1])
            args = [dims(kernel)] + ([f"strides={dims(stride)}"] if stride != kernel else [])
            return [Call(f"layers.{kind}Pooling2D", args, self.name(node))]
        mode = '"average"' if kind == "Average" else '"max"'
        return [Call(self.special("AdaptivePool2D"), [dims(out), f"mode={mode}"], self.name(node))]

    def emit_adaptive_avgpool(self, node: Node) -> list[Call]:
        return self.adaptive(node, "Average")

    def emit_adaptive_maxpool(self, node: Node) -> list[Call]:
        return self.adaptive(node, "Max")

    def activation_op(self, node: Node) -> list[Call]:
        if node.op == "softmax" and node.id in self.net.final_softmaxes:
            return [Call("layers.Identity", [], self.name(node))]
        if node.op == "leaky_relu" and node.attrs["slope"] < 0:
            raise self.unsupported(node, "Keras' LeakyReLU refuses a negative slope")
        return [self.activation_layer(node.op, lambda key: self.value(node, key), self.name(node))]

    emit_relu = emit_relu6 = emit_leaky_relu = emit_elu = emit_gelu = emit_silu = activation_op
    emit_hardswish = emit_hardsigmoid = emit_tanh = emit_sigmoid = emit_softmax = emit_scaled_tanh = activation_op

    def emit_prelu(self, node: Node) -> list[Call]:
        # one slope per map, shared over H and W (channels-last), starting at torch's 0.25
        args = ["alpha_initializer=keras.initializers.Constant(0.25)"]
        if len(node.shape) == 3:
            args.append("shared_axes=[1, 2]")
        return [Call("layers.PReLU", args, self.name(node))]

    def emit_concat(self, node: Node) -> list[Call]:
        return [Call("layers.Concatenate", [], self.name(node))]

    def emit_add(self, node: Node) -> list[Call]:
        return self.then_activation(node, [Call("layers.Add", [], self.name(node))])

    def emit_multiply(self, node: Node) -> list[Call]:
        return [Call("layers.Multiply", [], self.name(node))]  # broadcasts a 1x1xC factor over H and W

    def emit_split(self, node: Node) -> list[Call]:
        args = [literal(node.attrs["parts"]), f"part={literal(node.attrs['part'])}"]
        return [Call(self.special("ChannelSplit"), args, self.name(node))]

    def emit_shuffle(self, node: Node) -> list[Call]:
        return [Call(self.special("ChannelShuffle"), [literal(node.attrs["groups"])], self.name(node))]


def even_windows(size: int, out: int) -> tuple[int, int] | None:
    """(kernel, stride) when PyTorch's adaptive windows along an axis are those of a plain pool."""
    windows = adaptive_windows(size, out)
    kernel = windows[0][1]
    stride = windows[1][0] if out > 1 else kernel
    if stride < 1 or any(win != (i * stride, i * stride + kernel) for i, win in enumerate(windows)):
        return None
    return kernel, stride


def pair_text(value: tuple[int, ...]) -> str:
    return f"({value[0]}, {value[1]})"


def generate(nets: list[Network], spec: str, *, softmax: bool | None = None, line_comments: bool = False) -> str:
    """The Keras source for every network of a spec."""
    backend = KerasBackend(nets, spec, softmax=softmax, line_comments=line_comments)
    entries = [entry_point(net) for net in nets]
    if len(set(entries)) != len(entries):
        raise backend.unsupported(nets[1].input, "two networks whose names differ only in case")
    # Builders and every function's locals avoid each other, so no local shadows a builder.
    functions = Namespace(RESERVED | set(entries), avoid=backend.local_names)
    builders: list[str] = []
    modules: dict[tuple[str, str], str] = {}  # (module name, body text) → function name
    for net in nets:
        backend.net = net
        writer = FunctionWriter(backend, net, functions, modules, builders)
        builders.append(writer.network(entry_point(net)))
    return assemble(backend, spec, builders)


def assemble(backend: KerasBackend, spec: str, builders: list[str]) -> str:
    names = ", ".join(net.name for net in backend.nets)
    plural = "s" if len(backend.nets) > 1 else ""
    header = (
        f"{MARKER}\n# {HEADER.format(version=__version__, spec=backend.spec_text)}\n"
        f'"""Keras 3 model{plural} of {names}, channels-last (batch, height, width, maps).\n\n'
        'Imports only keras: runs under the TensorFlow, JAX and torch backends.\n"""\n\n'
        + ("import math\n\n" if "math" in backend.expr_helpers else "")
        + "import keras\nfrom keras import "
        + ("layers, ops" if any(re.search(r"(?<![\w.])ops\.", SOURCES[name]) for name in backend.used) else "layers")
    )
    parts = [header]
    if "make_divisible" in backend.expr_helpers:
        parts.append(MAKE_DIVISIBLE)
    if "whole" in backend.expr_helpers:
        parts.append(WHOLE)
    parts += [SOURCES[name].strip("\n") for name in SOURCES if name in backend.used]
    for table, const in sorted(backend.tables.items(), key=lambda kv: kv[1]):
        rows = "".join(f"    {row!r},\n" for row in table)
        parts.append(f"# Output map j of the connection table reads input maps {const}[j].\n{const} = (\n{rows})")
    parts += builders
    return "\n\n\n".join(part.strip("\n") for part in parts) + "\n"


__all__ = ["KerasBackend", "depthwise", "entry_point", "flatten_source", "generate", "layer_name"]
