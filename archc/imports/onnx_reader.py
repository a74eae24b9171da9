"""ONNX graph → archc layers: each node read as an archc op with its shape, or refused.

Part of the ONNX importer (archc/imports/from_onnx.py has the entry points): Reader walks the
graph node by node, works out every tensor's shape with archc's own window arithmetic, folds
constant subgraphs, and gives a flat list of Layers, or collects each node the language cannot
express exactly, with its name, op type and reason. onnx and numpy are imported inside functions.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from ..ops import CATALOGUE
from ..shapes import window_out

KEYWORDS = ("network", "module", "input", "repeat", "branch", "connections", "from", "aux")
FUSES = ("conv", "batchnorm", "dense", "add")  # archc ops that take a fused activation
NETWORK_INPUT = -1
FOLDED = ("Unsqueeze", "Squeeze", "Reshape", "Cast")  # computed when every input is a constant

# ONNX ops with no archc op, and why (the others get a generic reason).
REASONS = {
    "Resize": "no upsampling op in archc",
    "Upsample": "no upsampling op in archc",
    "Transpose": "archc has no op that permutes axes",
    "Gather": "archc has no indexing op",
    "Slice": "archc has no op that slices a tensor",
    "Split": "not mapped from ONNX yet (archc's `split P part=K` keeps one of P even parts of the maps)",
    "Pad": "archc pads only inside conv and pool windows",
    "LayerNormalization": "not mapped from ONNX yet (archc's `layernorm` normalises over the maps at each position)",
    "InstanceNormalization": "no instance norm in archc",
    "ConvTranspose": "no transposed convolution in archc",
    "Erf": "an Erf outside a recognised pattern (export GELU as the Gelu op, opset 20)",
    "Div": "archc has no element-wise division",
    "Sub": "archc has no element-wise subtraction",
    "GlobalMaxPool": "archc has no global max pooling",
    "Squeeze": "archc has no reshaping op but flatten",
    "Unsqueeze": "archc has no reshaping op but flatten",
    "LSTM": "archc has no recurrent layers",
    "GRU": "archc has no recurrent layers",
    "Attention": "archc has no attention",
}


class OnnxImportError(ValueError):
    """The model has nodes archc cannot express; `refusals` lists (node name, op type, reason)."""

    def __init__(self, refusals: list[tuple[str, str, str]]) -> None:
        self.refusals = refusals
        lines = [f"node {name!r} ({op}): {why}" for name, op, why in refusals]
        super().__init__(f"cannot import the ONNX model: {len(refusals)} node(s) refused\n  " + "\n  ".join(lines))


@dataclass
class Layer:
    id: int
    op: str
    path: str  # the torch module path of the node ("layer1.0.conv1"), "" when unknown
    onnx_name: str
    onnx_op: str
    inputs: list[int]
    number: int | None = None  # the width (conv filters, dense units), which a module may take as a parameter
    args: list[str] = field(default_factory=list)  # the arguments after the width
    activation: str | None = None
    tensors: dict[str, Any] = field(default_factory=dict)  # torch name → array, in the compiled model's layout
    shape: tuple[int, ...] = ()  # archc's output shape (CxHxW or N)


@dataclass
class Block:
    """A merge with branches: `add relu { branch {...} branch }`."""

    merge: Layer
    branches: list[list[Item]]
    fork: int  # the item every branch reads

    @property
    def id(self) -> int:
        return self.merge.id

    @property
    def path(self) -> str:
        return self.merge.path


@dataclass
class Unit:
    """Consecutive items under one module scope: a module instance when another prints the same."""

    prefix: str
    items: list[Item]
    widths: list[int] = field(default_factory=list)  # the conv filters and dense units, in print order
    template: str = ""  # its body as a module would print it, each width a placeholder

    @property
    def id(self) -> int:
        return self.items[-1].id

    @property
    def path(self) -> str:
        return self.prefix


Item = Layer | Block | Unit


@dataclass
class Module:
    name: str
    params: list[str]
    first: list[int]  # each parameter → the first width it stands for
    body: str


# ---------------------------------------------------------------------------------------------
# Reading the graph


def _module_path(node_name: str) -> str:
    """`/layer1/layer1.0/conv1/Conv` → `layer1.0.conv1` (the torch exporter's scope names)."""
    if not node_name.startswith("/"):
        return ""
    path, last = "", ""
    for comp in node_name.strip("/").split("/")[:-1]:
        # a Sequential's child is named after it: `/layer2/layer2.0/downsample/downsample.0/Conv`
        tail = comp[len(last) + 1 :] if last and comp.startswith(last + ".") else comp
        path, last = (f"{path}.{tail}" if path else tail), comp
    return path


def _number(value: float) -> str:
    """The shortest text that gives the float32 value back."""
    import numpy as np

    text = str(np.float32(value))
    if "e" in text:
        mantissa, exp = text.split("e")
        text = f"{mantissa.rstrip('0').rstrip('.') if '.' in mantissa else mantissa}e{int(exp)}"
    elif text.endswith(".0"):
        text = text[:-2]
    return text


def _size(values: list[int] | tuple[int, ...]) -> str:
    return str(values[0]) if all(v == values[0] for v in values) else "x".join(map(str, values))


class Reader:
    def __init__(self, model: Any) -> None:
        import numpy as np
        import onnx
        from onnx import numpy_helper

        self.np = np
        self.model = model
        graph = model.graph
        self.consts: dict[str, Any] = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
        self.attr = onnx.helper.get_attribute_value
        self.refusals: list[tuple[str, str, str]] = []
        self.notes: list[str] = []
        self.layers: list[Layer] = []
        self.value: dict[str, int] = {}  # ONNX value name → the layer that computes it
        self.flat: set[str] = set()  # ONNX values that archc holds as flat vectors (a Cx1x1 global pool's output)
        self.consumers: dict[str, int] = {}
        for node in graph.node:
            for name in node.input:
                self.consumers[name] = self.consumers.get(name, 0) + 1
        for out in graph.output:
            self.consumers[out.name] = self.consumers.get(out.name, 0) + 1
        inputs = [i for i in graph.input if i.name not in self.consts]
        if len(inputs) != 1:
            self.refuse(graph.name, "graph", f"archc networks have one input, this graph has {len(inputs)}")
            self.input_shape: tuple[int, ...] = ()
        else:
            dims = [d.dim_value if d.HasField("dim_value") else 0 for d in inputs[0].type.tensor_type.shape.dim]
            if len(dims) not in (2, 4) or not all(d > 0 for d in dims[1:]):
                self.refuse(inputs[0].name, "input", f"the input must be N x C x H x W or N x F with fixed sizes, not {dims}")
            self.input_shape = tuple(dims[1:])
            self.value[inputs[0].name] = NETWORK_INPUT
            self.input_name = inputs[0].name
        if len(graph.output) != 1:
            self.refuse(graph.name, "graph", f"archc networks have one output, this graph has {len(graph.output)}")
        self.output_name = graph.output[0].name if graph.output else ""
        self.shapes = {self.input_name: self.input_shape} if inputs else {}
        poisoned: set[str] = set()  # the outputs of refused nodes: what reads them is refused only for itself
        for node in graph.node:
            try:
                if any(name in poisoned for name in node.input):
                    if node.domain not in ("", "ai.onnx") or not hasattr(self, f"op_{node.op_type}"):
                        raise _Refused(REASONS.get(node.op_type, "archc has no op for it"))
                    poisoned.update(node.output)
                    continue
                self.node(node)
            except _Refused as exc:
                self.refuse(node.name or node.output[0], node.op_type, str(exc))
                poisoned.update(node.output)

    def refuse(self, name: str, op: str, why: str) -> None:
        self.refusals.append((name, op, why))

    # helpers -----------------------------------------------------------------------------
    def attrs(self, node: Any) -> dict[str, Any]:
        out = {}
        for a in node.attribute:
            v = self.attr(a)
            out[a.name] = v.decode() if isinstance(v, bytes) else v
        return out

    def const(self, name: str) -> Any:
        if name not in self.consts:
            raise _Refused(f"its input {name!r} must be a constant (an initializer)")
        return self.consts[name]

    def src(self, name: str) -> int:
        if name not in self.value:
            raise _Refused(f"its input {name!r} is not a tensor archc computes (a constant or an unsupported node's output)")
        return self.value[name]

    def shape_of(self, name: str) -> tuple[int, ...]:
        return self.shapes[name]

    def add(self, node: Any, op: str, inputs: list[int], shape: tuple[int, ...], **kw: Any) -> Layer:
        layer = Layer(len(self.layers), op, self.path(node), node.name, node.op_type, inputs, shape=shape, **kw)
        self.layers.append(layer)
        self.value[node.output[0]] = layer.id
        self.shapes[node.output[0]] = shape
        return layer

    def path(self, node: Any) -> str:
        """The layer's module path: the torch exporter's scope, else its weight's name (`fc.weight`), else the node's name."""
        if node.name.startswith("/"):
            return _module_path(node.name)
        weight = node.input[1] if len(node.input) > 1 else ""
        if weight in self.consts and weight.endswith(".weight"):
            return weight.removesuffix(".weight")
        meta = {p.key: p.value for p in node.metadata_props}
        if "pkg.torch.onnx.name_scopes" in meta:  # the dynamo exporter: ['', 'layer1', 'layer1.0', 'layer1.0.relu', 'relu_1']
            scopes = ast.literal_eval(meta["pkg.torch.onnx.name_scopes"])
            return scopes[-2] if len(scopes) > 1 else ""
        if "/" in node.name:  # `fc/MatMul`: the op under its layer's scope
            return str(node.name).rpartition("/")[0].replace("/", ".")
        return str(node.name)

    def alias(self, node: Any, name: str) -> None:
        if name in self.consts:
            self.consts[node.output[0]] = self.consts[name]
        else:
            self.value[node.output[0]] = self.src(name)
            self.shapes[node.output[0]] = self.shapes[name]

    def spatial(self, node: Any) -> tuple[int, int, int]:
        shape = self.shape_of(node.input[0])
        if len(shape) != 3:
            raise _Refused(f"it reads a flat vector of {shape[0]} features; archc's {node.op_type} equivalent needs C x H x W")
        return shape  # type: ignore[return-value]

    # the nodes ---------------------------------------------------------------------------
    def node(self, node: Any) -> None:
        if node.op_type in FOLDED and node.input and all(not n or n in self.consts for n in node.input):
            self.consts[node.output[0]] = self.fold(node, self.attrs(node))  # exporters reshape constants at run time
            return
        handler = getattr(self, f"op_{node.op_type}", None)
        if node.domain not in ("", "ai.onnx") or handler is None:
            raise _Refused(REASONS.get(node.op_type, "archc has no op for it"))
        handler(node, self.attrs(node))

    def fold(self, node: Any, a: dict[str, Any]) -> Any:
        np = self.np
        x = self.consts[node.input[0]]
        given = len(node.input) > 1 and node.input[1]
        axes: list[int] = [int(v) for v in self.consts[node.input[1]].reshape(-1)] if given else list(a.get("axes", []))
        if node.op_type == "Unsqueeze":
            for axis in sorted(v % (x.ndim + len(axes)) for v in axes):
                x = np.expand_dims(x, axis)
            return x
        if node.op_type == "Squeeze":
            return np.squeeze(x, axis=tuple(axes) if axes else None)
        if node.op_type == "Reshape":
            target = [int(v) for v in self.consts[node.input[1]].reshape(-1)]
            return x.reshape([x.shape[i] if v == 0 else v for i, v in enumerate(target)])
        from onnx.helper import tensor_dtype_to_np_dtype

        return x.astype(tensor_dtype_to_np_dtype(a["to"]))  # Cast

    def op_Identity(self, node: Any, a: dict[str, Any]) -> None:
        self.alias(node, node.input[0])

    def op_Dropout(self, node: Any, a: dict[str, Any]) -> None:
        if len(node.output) > 1 and self.consumers.get(node.output[1]):
            raise _Refused("its mask output is used")
        self.notes.append(f"{node.name}: Dropout is the identity in inference and was left out")
        self.alias(node, node.input[0])

    def op_Constant(self, node: Any, a: dict[str, Any]) -> None:
        from onnx import numpy_helper

        if "value" not in a:
            raise _Refused("only a Constant given by its `value` tensor is read")
        self.consts[node.output[0]] = numpy_helper.to_array(a["value"])

    def op_Conv(self, node: Any, a: dict[str, Any]) -> None:
        np = self.np
        _, h, w = self.spatial(node)
        weight = self.const(node.input[1]).astype(np.float32)
        if weight.ndim != 4:
            raise _Refused(f"a {weight.ndim - 2}-D convolution; archc's conv is 2-D")
        kernel = list(weight.shape[2:])
        group = a.get("group", 1)
        strides, dilations = a.get("strides", [1, 1]), a.get("dilations", [1, 1])
        pads = self.pads(a, kernel, dilations)
        args = ["x".join(map(str, kernel))]
        if strides != [1, 1]:
            args.append(f"stride={_size(strides)}")
        if pads != [0, 0]:
            args.append(f"pad={_size(pads)}")
        if dilations != [1, 1]:
            args.append(f"dilation={_size(dilations)}")
        if group != 1:
            args.append(f"groups={group}")
        tensors = {"weight": weight}
        if len(node.input) > 2 and node.input[2]:
            tensors["bias"] = self.const(node.input[2]).astype(np.float32)
        else:
            args.append("bias=false")
        (oh, _, drop_h), (ow, _, drop_w) = (
            window_out(n, k, s, p, d, False, axis)
            for n, k, s, p, d, axis in zip((h, w), kernel, strides, pads, dilations, "HW", strict=True)
        )
        if drop_h or drop_w:
            args.append("drop=ok")  # the ONNX model leaves the last rows unread too
        self.add(
            node, "conv", [self.src(node.input[0])], (weight.shape[0], oh, ow), number=int(weight.shape[0]), args=args, tensors=tensors
        )

    def pads(self, a: dict[str, Any], kernel: list[int], dilations: list[int]) -> list[int]:
        auto = a.get("auto_pad", "NOTSET")
        if auto == "VALID":
            return [0, 0]
        if auto != "NOTSET":
            raise _Refused(f"auto_pad={auto}: export with explicit pads (archc pads symmetrically)")
        pads = list(a.get("pads", [0, 0, 0, 0]))
        if len(pads) != 4:
            raise _Refused(f"pads {pads} are not those of a 2-D window")
        if pads[:2] != pads[2:]:
            raise _Refused(f"asymmetric padding {pads} (begin {pads[:2]}, end {pads[2:]}): archc pads each side alike")
        return pads[:2]

    def op_BatchNormalization(self, node: Any, a: dict[str, Any]) -> None:
        np = self.np
        if a.get("training_mode", 0):
            raise _Refused("a batch norm in training mode (export the model in eval mode)")
        if len(node.output) > 1 and any(self.consumers.get(o) for o in node.output[1:]):
            raise _Refused("its running statistics outputs are used")
        scale, bias, mean, var = (self.const(n).astype(np.float32) for n in node.input[1:5])
        args = []
        eps = float(np.float32(a.get("epsilon", 1e-5)))
        if eps != float(np.float32(1e-5)):
            args.append(f"eps={_number(eps)}")
        momentum = round(1 - a.get("momentum", 0.9), 6)  # ONNX keeps 1 − torch's momentum, in float32
        if abs(momentum - 0.1) > 1e-6:
            args.append(f"momentum={_number(momentum)}")
        tensors = {
            "weight": scale,
            "bias": bias,
            "running_mean": mean,
            "running_var": var,
            "num_batches_tracked": np.array(0, dtype=np.int64),
        }
        shape = self.shape_of(node.input[0])
        self.add(node, "batchnorm", [self.src(node.input[0])], shape, args=args, tensors=tensors)

    def activation(self, node: Any, op: str, *args: str) -> None:
        if op not in CATALOGUE:
            raise _Refused(f"archc has no {op} activation")
        self.add(node, op, [self.src(node.input[0])], self.shape_of(node.input[0]), args=list(args))

    def op_Relu(self, node: Any, a: dict[str, Any]) -> None:
        self.activation(node, "relu")

    def op_Sigmoid(self, node: Any, a: dict[str, Any]) -> None:
        self.activation(node, "sigmoid")

    def op_Tanh(self, node: Any, a: dict[str, Any]) -> None:
        self.activation(node, "tanh")

    def op_HardSwish(self, node: Any, a: dict[str, Any]) -> None:
        self.activation(node, "hardswish")

    def op_HardSigmoid(self, node: Any, a: dict[str, Any]) -> None:
        alpha, beta = a.get("alpha", 0.2), a.get("beta", 0.5)
        if abs(alpha - 1 / 6) > 1e-7 or abs(beta - 0.5) > 1e-7:
            raise _Refused(f"HardSigmoid alpha={alpha}, beta={beta}: archc's hardsigmoid is relu6(x + 3)/6 (alpha 1/6, beta 0.5)")
        self.activation(node, "hardsigmoid")

    def op_LeakyRelu(self, node: Any, a: dict[str, Any]) -> None:
        slope = a.get("alpha", 0.01)
        self.activation(node, "leaky_relu", *([] if abs(slope - 0.01) < 1e-9 else [_number(slope)]))

    def op_Elu(self, node: Any, a: dict[str, Any]) -> None:
        alpha = a.get("alpha", 1.0)
        self.activation(node, "elu", *([] if alpha == 1.0 else [_number(alpha)]))

    def op_Gelu(self, node: Any, a: dict[str, Any]) -> None:
        approximate = a.get("approximate", "none")
        self.activation(node, "gelu", *([] if approximate == "none" else [f"approximate={approximate}"]))

    def op_Softmax(self, node: Any, a: dict[str, Any]) -> None:
        shape = self.shape_of(node.input[0])
        opset = next((o.version for o in self.model.opset_import if o.domain in ("", "ai.onnx")), 13)
        axis = a.get("axis", -1 if opset >= 13 else 1)
        if len(shape) != 1 or axis not in (1, -1):
            raise _Refused(f"a softmax over axis {axis} of a {len(shape) + 1}-D tensor: archc's softmax is over a flat vector's features")
        self.activation(node, "softmax")

    def op_Clip(self, node: Any, a: dict[str, Any]) -> None:
        np = self.np
        lo = a.get("min", float("-inf"))
        hi = a.get("max", float("inf"))
        if len(node.input) > 1 and node.input[1]:
            lo = float(self.const(node.input[1]))
        if len(node.input) > 2 and node.input[2]:
            hi = float(self.const(node.input[2]))
        if lo == 0 and hi == 6:
            self.activation(node, "relu6")
        elif lo == 0 and (hi == float("inf") or hi >= float(np.finfo(np.float32).max)):
            self.activation(node, "relu")
        else:
            raise _Refused(f"Clip({lo}, {hi}): archc has relu6 (0, 6) and relu (0, ∞) only")

    def op_PRelu(self, node: Any, a: dict[str, Any]) -> None:
        slope = self.const(node.input[1]).astype(self.np.float32)
        shape = self.shape_of(node.input[0])
        if slope.size != shape[0]:
            raise _Refused(f"a PRelu slope of shape {tuple(slope.shape)}: archc's prelu has one slope per map ({shape[0]})")
        self.add(node, "prelu", [self.src(node.input[0])], shape, tensors={"weight": slope.reshape(-1)})

    def op_Mul(self, node: Any, a: dict[str, Any]) -> None:
        for x, s in (node.input, node.input[::-1]):
            layer = self.layers[self.value[s]] if self.value.get(s, NETWORK_INPUT) != NETWORK_INPUT else None
            if layer and layer.op == "sigmoid" and x in self.value and layer.inputs == [self.value[x]] and self.consumers.get(s) == 1:
                layer.op = "silu"  # x · sigmoid(x)
                self.value[node.output[0]] = layer.id
                self.shapes[node.output[0]] = layer.shape
                return
        raise _Refused("an element-wise product other than x·sigmoid(x) (silu): archc has no multiply op")

    def pool(self, node: Any, a: dict[str, Any], op: str) -> None:
        c, h, w = self.spatial(node)
        kernel = list(a["kernel_shape"])
        if len(kernel) != 2:
            raise _Refused(f"a {len(kernel)}-D pool; archc pools are 2-D")
        dilations = a.get("dilations", [1, 1])
        if dilations != [1, 1]:
            raise _Refused(f"pool dilations {dilations}: archc pools have none")
        if len(node.output) > 1 and self.consumers.get(node.output[1]):
            raise _Refused("its indices output is used")
        strides = list(a.get("strides", [1, 1]))
        pads = self.pads(a, kernel, [1, 1])
        ceil = bool(a.get("ceil_mode", 0))
        if op == "avgpool" and any(pads) and not a.get("count_include_pad", 0):
            raise _Refused(
                "an average pool with padding that the average leaves out (count_include_pad=0): archc's avgpool counts the padded zeros"
            )
        args = ["x".join(map(str, kernel))]
        if strides != kernel:
            args.append(f"stride={_size(strides)}")
        if pads != [0, 0]:
            args.append(f"pad={_size(pads)}")
        if ceil:
            args.append("ceil")
        windows = [window_out(n, k, s, p, 1, ceil, axis) for n, k, s, p, axis in zip((h, w), kernel, strides, pads, "HW", strict=True)]
        if any(drop for _, _, drop in windows):
            args.append("drop=ok")  # the ONNX model leaves the last rows unread too
        out = [size for size, _, _ in windows]
        self.add(node, op, [self.src(node.input[0])], (c, *out), args=args)

    def op_MaxPool(self, node: Any, a: dict[str, Any]) -> None:
        self.pool(node, a, "maxpool")

    def op_AveragePool(self, node: Any, a: dict[str, Any]) -> None:
        self.pool(node, a, "avgpool")

    def op_GlobalAveragePool(self, node: Any, a: dict[str, Any]) -> None:
        c, _, _ = self.spatial(node)
        self.add(node, "global_avgpool", [self.src(node.input[0])], (c,))

    def op_ReduceMean(self, node: Any, a: dict[str, Any]) -> None:
        shape = self.spatial(node)
        axes = [int(v) for v in self.const(node.input[1]).reshape(-1)] if len(node.input) > 1 and node.input[1] else a.get("axes")
        if sorted(v % 4 for v in axes or ()) != [2, 3]:
            raise _Refused(f"a mean over axes {axes}: archc averages over H and W only (global_avgpool)")
        self.add(node, "global_avgpool", [self.src(node.input[0])], (shape[0],))

    def op_Flatten(self, node: Any, a: dict[str, Any]) -> None:
        if a.get("axis", 1) != 1:
            raise _Refused(f"Flatten axis={a['axis']}: archc flattens all but the batch axis")
        self.flatten(node)

    def flatten(self, node: Any) -> None:
        shape = self.shape_of(node.input[0])
        if len(shape) == 1:
            self.alias(node, node.input[0])  # already flat: a global pool's output
        else:
            self.add(node, "flatten", [self.src(node.input[0])], (shape[0] * shape[1] * shape[2],))

    def op_Reshape(self, node: Any, a: dict[str, Any]) -> None:
        target = [int(v) for v in self.const(node.input[1]).reshape(-1)]
        shape = self.shape_of(node.input[0])
        size = 1
        for d in shape:
            size *= d
        if len(target) == 2 and target[0] in (0, 1, -1) and target[1] in (-1, size) and target != [-1, -1]:
            self.flatten(node)
        else:
            raise _Refused(f"a Reshape to {target}: archc reshapes only by flatten (to N x {size})")

    def dense(self, node: Any, weight: Any, bias: Any | None) -> Layer:
        shape = self.shape_of(node.input[0])
        if len(shape) != 1:
            raise _Refused("it reads a C x H x W tensor; flatten it first")
        tensors = {"weight": weight.astype(self.np.float32)}
        args = []
        if bias is not None:
            tensors["bias"] = bias.reshape(-1).astype(self.np.float32)
        else:
            args.append("bias=false")
        units = int(weight.shape[0])
        return self.add(node, "dense", [self.src(node.input[0])], (units,), number=units, args=args, tensors=tensors)

    def op_Gemm(self, node: Any, a: dict[str, Any]) -> None:
        if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
            raise _Refused("a Gemm with transA, alpha or beta other than 0, 1, 1 is not a dense layer")
        weight = self.const(node.input[1])
        weight = weight if a.get("transB", 0) else weight.T
        bias = self.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        if bias is not None and bias.size != weight.shape[0]:
            raise _Refused(f"a Gemm bias of shape {bias.shape}: a dense layer has one per unit")
        self.dense(node, weight, bias)

    def op_MatMul(self, node: Any, a: dict[str, Any]) -> None:
        weight = self.const(node.input[1])
        if weight.ndim != 2:
            raise _Refused("a MatMul by a tensor that is not a 2-D constant")
        self.dense(node, weight.T, None)

    def op_Add(self, node: Any, a: dict[str, Any]) -> None:
        x, y = node.input
        for v, b in ((x, y), (y, x)):
            layer = self.layers[self.value[v]] if self.value.get(v, NETWORK_INPUT) != NETWORK_INPUT else None
            if layer and b in self.consts and layer.onnx_op == "MatMul" and "bias" not in layer.tensors and self.consumers.get(v) == 1:
                bias = self.consts[b]
                if bias.size == layer.number and bias.ndim <= 2:  # MatMul + Add: a dense layer's bias
                    layer.tensors["bias"] = bias.reshape(-1).astype(self.np.float32)
                    layer.args.remove("bias=false")
                    self.value[node.output[0]] = layer.id
                    self.shapes[node.output[0]] = layer.shape
                    return
        if x in self.consts or y in self.consts:
            raise _Refused("it adds a constant tensor: archc's add sums layer outputs")
        if self.shape_of(x) != self.shape_of(y):
            raise _Refused(f"it broadcasts {self.shape_of(x)} and {self.shape_of(y)}: archc's add needs equal shapes")
        self.add(node, "add", [self.src(x), self.src(y)], self.shape_of(x))

    def op_Concat(self, node: Any, a: dict[str, Any]) -> None:
        shapes = [self.shape_of(n) for n in node.input]
        if len(node.input) == 1:
            self.alias(node, node.input[0])
            return
        if any(len(s) != 3 for s in shapes) or a.get("axis") not in (1, -3):
            raise _Refused(f"a Concat on axis {a.get('axis')}: archc concatenates C x H x W maps along C")
        self.add(node, "concat", [self.src(n) for n in node.input], (sum(s[0] for s in shapes), *shapes[0][1:]))

    def op_LRN(self, node: Any, a: dict[str, Any]) -> None:
        self.spatial(node)
        args = [str(a["size"])]
        for key, name, default in (("alpha", "alpha", 1e-4), ("beta", "beta", 0.75), ("bias", "k", 1.0)):
            value = a.get(key, default)
            if float(self.np.float32(value)) != float(self.np.float32(default)):
                args.append(f"{name}={_number(value)}")
        self.add(node, "lrn", [self.src(node.input[0])], self.shape_of(node.input[0]), args=args)


class _Refused(Exception):
    pass
