"""ONNX model → a readable `.arch` spec and the weights of its compiled PyTorch model.

    spec_text, tensors = from_onnx("resnet18.onnx")
    import_onnx_file("resnet18.onnx", "resnet18.arch", "resnet18.safetensors")   # `archc import`

The graph is read node by node (archc works out the shapes; the output's is checked against ONNX
shape inference) and each node becomes an archc op, or is refused: every node the language cannot
express exactly is listed in one OnnxImportError, with its name, op type and reason. Nothing is approximated. docs/import.md ("From ONNX") has the table.

Structure: an Add or Concat whose inputs are chains of layers forking from one layer becomes a
merge with branches (a ResNet block, a SqueezeNet fire), any other merge reads its inputs by
name (`concat from a, b, c`, DenseNet). A merge block and the layers before it that share its
module scope (the torch exporter names nodes `/layer1/layer1.0/conv1/Conv`) form an instance;
instances that print the same but for their widths become one `module` with the widths as
parameters, and the instances `P.0`, `P.1`, ... of one module and arguments a `repeat` named P.

The tensors are keyed by the compiled torch model's state_dict keys (archc.backends.pytorch
`torch_paths`), in its layouts: ONNX's Conv weight is already OIHW, a Gemm's weight is transposed
where transB=0 and a MatMul's always. Each batch norm gets `num_batches_tracked` = 0 (ONNX keeps
no such counter), so that `model.load_state_dict(tensors, strict=True)` loads them.

onnx, numpy and safetensors are imported inside the functions only: `import archc` stays light.
"""

from __future__ import annotations

import ast
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
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
    "Split": "archc has no channel split",
    "Pad": "archc pads only inside conv and pool windows",
    "LayerNormalization": "no layer norm in archc",
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


# ---------------------------------------------------------------------------------------------
# Shaping the layers into a spec


def _fuse(layers: list[Layer], output: int) -> tuple[list[Layer], int]:
    """An activation with default options, alone in reading a conv, batchnorm, dense or add, becomes its fused activation."""
    consumers: dict[int, list[int]] = {}
    for layer in layers:
        for i in layer.inputs:
            consumers.setdefault(i, []).append(layer.id)
    replaced: dict[int, int] = {}
    kept = []
    for layer in layers:
        layer.inputs = [replaced.get(i, i) for i in layer.inputs]
        src = layers[layer.inputs[0]] if layer.inputs and layer.inputs[0] != NETWORK_INPUT else None
        op = CATALOGUE[layer.op]
        fusable = op.family == "activation" and not op.trainable and not layer.args
        if fusable and src and src.op in FUSES and src.activation is None and consumers[src.id] == [layer.id] and src.id != output:
            src.activation = layer.op
            replaced[layer.id] = src.id
            continue
        kept.append(layer)
    return kept, replaced.get(output, output)


def _consumers(items: list[Item]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for item in items:
        for i in _inputs(item):
            out.setdefault(i, []).append(item.id)
    return out


def _inputs(item: Item) -> list[int]:
    if isinstance(item, Layer):
        return item.inputs
    if isinstance(item, Block):
        return [item.fork]
    return _inputs(item.items[0])


def _blocks(items: list[Item], output: int) -> list[Item]:
    """Each merge whose inputs are chains forking from one item becomes a Block with those chains as branches."""
    by_id = {item.id: item for item in items}
    for merge in [i for i in items if isinstance(i, Layer) and i.op in ("add", "concat")]:
        consumers = _consumers(list(by_id.values()))
        chains, forks = [], set()
        for start in merge.inputs:
            chain: list[Item] = []
            n = start
            while (
                n != NETWORK_INPUT
                and len(_inputs(by_id[n])) == 1
                and consumers.get(n) == [chain[0].id if chain else merge.id]
                and n != output
            ):
                chain.insert(0, by_id[n])
                n = _inputs(by_id[n])[0]
            chains.append(chain)
            forks.add(n)
        if len(forks) != 1:
            continue
        fork = forks.pop()
        firsts = sorted(c[0].id if c else merge.id for c in chains)
        if sorted(consumers.get(fork, [])) != firsts:
            continue  # the fork feeds something else too
        block = Block(merge, chains, fork)
        for chain in chains:
            for item in chain:
                del by_id[item.id]
        by_id[merge.id] = block
    order = sorted(by_id.values(), key=lambda i: i.id)
    return order


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + ".")


def _units(items: list[Item]) -> list[Item]:
    """A block and the items before and after it under the block's module scope, each reading the one before."""
    out: list[Item] = []
    i = 0
    while i < len(items):
        item = items[i]
        if isinstance(item, Block) and item.path:
            prefix = item.path
            start = len(out)
            while (
                start > 0
                and _under(out[start - 1].path, prefix)
                and _chained(out[start - 1 :] + [item])
                and not isinstance(out[start - 1], Unit)
            ):
                start -= 1
            end = i + 1
            while end < len(items) and _under(items[end].path, prefix) and _chained([*items[i:end], items[end]]):
                end += 1
            members = [*out[start:], *items[i:end]]
            inner = {m.id for m in members}
            rest = [*out[:start], *items[end:]]
            if any(k in inner - {members[-1].id} for other in rest for k in _inputs(other)):
                out.append(item)  # a later layer reads inside: not an instance
                i += 1
                continue
            del out[start:]
            out.append(Unit(prefix, members))
            i = end
        else:
            out.append(item)
            i += 1
    return out


def _chained(items: list[Item]) -> bool:
    return all(_inputs(b) == [a.id] for a, b in itertools.pairwise(items))


def _legal(text: str, op: str) -> str:
    name = re.sub(r"\W", "_", text, flags=re.ASCII).strip("_")
    if not name:
        return ""
    if name[0].isdigit():
        name = f"{op}{name}"
    return name + "_" if name in KEYWORDS else name


def _relative(path: str, prefix: str) -> str:
    if not prefix:
        return path
    return path[len(prefix) + 1 :] if path.startswith(prefix + ".") else ("" if path == prefix else path)


class Scope:
    def __init__(self) -> None:
        self.taken: set[str] = set()

    def name(self, wanted: str) -> str:
        """`wanted`, or `wanted_2`, ... if taken; "" stays "" (an unnamed layer)."""
        if not wanted:
            return ""
        name, k = wanted, 1
        while name in self.taken:
            k += 1
            name = f"{wanted}_{k}"
        self.taken.add(name)
        return name


class Writer:
    """Prints items; `number` turns a width into text (a literal, or a module parameter's placeholder)."""

    def __init__(self, number: Any) -> None:
        self.number = number
        self.order: list[Layer] = []  # the layers with tensors, in the order the spec expands them

    def layer(self, layer: Layer, name: str, source: list[str] | None) -> str:
        parts = [f"{name}:"] if name else []
        parts.append(layer.op)
        if layer.number is not None:
            parts.append(self.number(layer.number))
        parts += layer.args
        if layer.activation:
            parts.append(layer.activation)
        if source:
            parts.append("from " + ", ".join(source))
        if layer.tensors:
            self.order.append(layer)
        return " ".join(parts)

    def body(self, items: list[Item], prefix: str, depth: int) -> list[str]:
        scope = Scope()
        lines = []
        for item in items:
            lines += self.item(item, _legal(_relative(item.path, prefix), _op(item)), prefix, depth, scope)
        return lines

    def item(self, item: Item, wanted: str, prefix: str, depth: int, scope: Scope) -> list[str]:
        pad = "    " * depth
        name = scope.name(wanted) if wanted else ""
        if isinstance(item, Layer):
            return [pad + self.layer(item, name, None)]
        assert isinstance(item, Block)
        head = ([f"{name}:"] if name else []) + [item.merge.op] + ([item.merge.activation] if item.merge.activation else [])
        lines = [pad + " ".join(head) + " {"]
        unnamed = [c for c in item.branches if c and not _common(c, item.path or prefix)]
        for chain in item.branches:
            rel = _common(chain, item.path or prefix)
            bname = _legal(rel, "branch") if rel else ""
            if not bname and chain and item.merge.op == "add" and unnamed == [chain]:
                bname = "residual"  # the one branch of a residual block that is not its shortcut
            if bname and not name:
                bname = scope.name(bname)
            if not chain:
                lines.append(pad + "    branch" + (f" {bname}" if bname else " shortcut" if item.merge.op == "add" else ""))
                continue
            lines.append(pad + "    branch" + (f" {bname}" if bname else "") + " {")
            lines += self.body(chain, ".".join(filter(None, (item.path or prefix, rel))) if rel else (item.path or prefix), depth + 2)
            lines.append(pad + "    }")
        if item.merge.tensors:
            self.order.append(item.merge)
        return [*lines, pad + "}"]


def _shape(item: Item) -> str:
    """An item's output shape as a `-> SHAPE` assertion writes it."""
    while not isinstance(item, Layer):
        item = item.merge if isinstance(item, Block) else item.items[-1]
    return "x".join(map(str, item.shape))


def _op(item: Item) -> str:
    return item.op if isinstance(item, Layer) else "block"


def _common(chain: list[Item], prefix: str) -> str:
    """The module scope that every item of a branch shares below the block's (torchvision's `downsample`)."""
    rels = [_relative(i.path, prefix) for i in chain]
    if not rels or not all(rels):
        return ""
    first = rels[0].split(".")[0]
    return first if all(r.split(".")[0] == first and "." in r for r in rels) else ""


def _network_name(text: str) -> str:
    name = _legal(text, "net") or "Imported"
    return name[0].upper() + name[1:]


def generate(reader: Reader, name: str, origin: str) -> tuple[str, list[Layer]]:
    output = reader.value.get(reader.output_name, NETWORK_INPUT)
    layers, output = _fuse(reader.layers, output)
    items = _units(_blocks(list(layers), output))
    if not items or items[-1].id != output:
        why = "the graph's output is its input" if output == NETWORK_INPUT else "the graph's output is not its last layer (archc's is)"
        raise OnnxImportError([(reader.output_name, "output", why)])

    # module instances: units that print alike but for their widths
    templates: dict[str, list[Unit]] = {}
    for unit in (i for i in items if isinstance(i, Unit)):
        writer = Writer(lambda n, w=unit.widths: (w.append(n), f"\0{len(w) - 1}\0")[1])
        unit.template = "\n".join(writer.body(unit.items, unit.prefix, 1))
        templates.setdefault(unit.template, []).append(unit)
    modules: dict[str, Module] = {}
    names = Scope()
    for text, units in templates.items():
        if len(units) < 2:
            continue
        classes: list[int] = []  # each width → the parameter it is: widths equal in every instance share one
        for j in range(len(units[0].widths)):
            same = next((k for k in range(j) if all(u.widths[k] == u.widths[j] for u in units)), None)
            classes.append(classes[same] if same is not None else max(classes, default=-1) + 1)
        params = ["c" if k == 0 else f"c{k + 1}" for k in range(max(classes, default=-1) + 1)]
        last = units[0].items[-1]
        mname = names.name("residual" if isinstance(last, Block) and last.merge.op == "add" else "block")
        body = re.sub("\0(\\d+)\0", lambda m, c=classes, p=params: p[c[int(m.group(1))]], text)  # type: ignore[misc]
        modules[text] = Module(mname, params, [classes.index(k) for k in range(len(params))], body)

    def call(unit: Unit) -> str:
        """`residual(64)`, or "" for a unit printed in place."""
        module = modules.get(unit.template)
        return f"{module.name}({', '.join(str(unit.widths[j]) for j in module.first)})" if module else ""

    writer = Writer(str)
    lines = [f"network {_network_name(name)} {{"]
    shape = reader.input_shape
    in_name = "image" if len(shape) == 3 else "features"
    lines.append(f"    input {in_name}: {'x'.join(map(str, shape))}")
    lines.append("")
    scope = Scope()
    scope.taken.add(in_name)
    ref: dict[int, str] = {NETWORK_INPUT: in_name}
    previous = NETWORK_INPUT
    named = set()  # the items a later one reads by name
    flat = [sub for item in items for sub in (item.items if isinstance(item, Unit) else [item])]
    for before, sub in zip([None, *flat], flat, strict=False):
        inputs = _inputs(sub)
        if (isinstance(sub, Layer) and sub.op in ("add", "concat")) or inputs != [before.id if before else NETWORK_INPUT]:
            named.update(inputs)
    i = 0
    while i < len(items):
        item = items[i]
        if isinstance(item, Unit) and call(item):
            text = call(item)
            run = [item]
            parent, _, index = item.prefix.rpartition(".")
            if index == "0" and parent:
                while i + len(run) < len(items):
                    nxt = items[i + len(run)]
                    if not isinstance(nxt, Unit) or call(nxt) != text or nxt.prefix != f"{parent}.{len(run)}":
                        break
                    if run[-1].id in named:  # a later layer reads inside the repeat: not one
                        break
                    run.append(nxt)
            tail = "" if _inputs(item) == [previous] else f" from {ref[_inputs(item)[0]]}"
            if len(run) > 1:
                rname = scope.name(_legal(parent, "repeat") or "stack")
                lines.append(f"    {rname}: repeat {len(run)} {{ {text} }}{tail} -> {_shape(run[-1])}")
            else:
                rname = scope.name(_legal(item.prefix, "block") or "block")
                lines.append(f"    {rname}: {text}{tail} -> {_shape(item)}")
            for unit in run:
                w = Writer(str)
                w.body(unit.items, unit.prefix, 1)
                writer.order += w.order
            ref[run[-1].id] = rname
            previous = run[-1].id
            i += len(run)
            continue
        members = item.items if isinstance(item, Unit) else [item]
        for sub in members:
            wanted = _legal(sub.path, _op(sub)) or (f"{_op(sub)}" if sub.id in named else "")
            inputs = _inputs(sub)
            if isinstance(sub, Layer):
                merge = sub.op in ("add", "concat")
                source: list[str] | None = [ref[k] for k in inputs] if merge or inputs != [previous] else None
                name = scope.name(wanted)
                shown = sub.op in ("maxpool", "avgpool", "global_avgpool", "flatten") or sub.id == output
                lines.append("    " + writer.layer(sub, name, source) + (f" -> {_shape(sub)}" if shown else ""))
            else:
                name = scope.name(wanted)
                block_lines = writer.item(sub, "", "", 1, Scope())
                head = f"    {name}: " + block_lines[0].strip()
                if inputs != [previous]:
                    block_lines[-1] += f" from {ref[inputs[0]]}"
                block_lines[-1] += f" -> {_shape(sub)}"
                lines += [head, *block_lines[1:]]
            ref[sub.id] = name
            previous = sub.id
        i += 1
    lines.append("}")
    header = f"# Imported from {origin} by archc import (ONNX"
    opset = next((o.version for o in reader.model.opset_import if o.domain in ("", "ai.onnx")), None)
    header += f" opset {opset}" if opset else ""
    producer = reader.model.producer_name
    header += f", produced by {producer} {reader.model.producer_version})." if producer else ")."
    notes = [f"# {n}" for n in reader.notes[:5]]
    if len(reader.notes) > 5:
        notes.append(f"# ... and {len(reader.notes) - 5} more")
    module_text = [f"module {m.name}({', '.join(m.params)}) {{\n{m.body}\n}}\n" for m in modules.values()]
    text = "\n".join([header, *notes, "", *module_text, *lines]) + "\n"
    return text, writer.order


# ---------------------------------------------------------------------------------------------
# The entry points


def from_onnx(model_or_path: Any, name: str | None = None) -> tuple[str, dict[str, Any]]:
    """(spec text, {state_dict key: numpy array}) for an ONNX model (a path or an onnx.ModelProto).

    Raises OnnxImportError listing every node archc cannot express.
    """
    import onnx

    from ..backends.arch import format_program
    from ..backends.arch_layout import reformat
    from ..backends.pytorch import torch_paths
    from ..compiler import compile_source
    from ..diagnostics import Diagnostics
    from ..parse import parse
    from ..weights import TENSORS

    if isinstance(model_or_path, (str, Path)):
        path = Path(model_or_path)
        model = onnx.load(str(path))
        source, stem = path.name, path.stem
    else:
        model = model_or_path
        source, stem = "an ONNX model", model.graph.name or "Imported"
    reader = Reader(model)
    if reader.refusals:
        raise OnnxImportError(reader.refusals)
    text, order = generate(reader, name or stem, source)
    text = reformat(text)
    comp = compile_source(text, f"{stem}.arch")
    comp.raise_for_errors()
    program = parse(text, "<import>", Diagnostics())
    if program is None or format_program(program, text) != text:
        raise AssertionError("archc bug: the imported spec is not as archc fmt prints it")
    net = comp.networks[0]
    want = _declared_output(model)
    if want is not None and want != net.nodes[net.output].shape:
        raise AssertionError(f"archc bug: the imported spec's output is {net.nodes[net.output].shape}, the ONNX model's {want}")
    paths = torch_paths(net)
    nodes = [n for n in net.layers if n.op in TENSORS and n.params and n.id in net.live]
    if [n.op for n in nodes] != [layer.op for layer in order]:
        raise AssertionError("archc bug: the imported spec's layers do not line up with the ONNX model's")
    tensors: dict[str, Any] = {}
    for node, layer in zip(nodes, order, strict=True):
        counted = sum(a.size for k, a in layer.tensors.items() if k in ("weight", "bias"))
        if counted != node.params:
            raise AssertionError(f"archc bug: {node.qualname} has {node.params} parameters, the ONNX node {layer.onnx_name} {counted}")
        for key, array in layer.tensors.items():
            tensors[f"{paths[node.path]}.{key}"] = array
    return text, tensors


def _declared_output(model: Any) -> tuple[int, ...] | None:
    """The ONNX model's output shape without the batch, as archc writes it (a Cx1x1 global pool's output is C)."""
    import onnx

    try:
        model = onnx.shape_inference.infer_shapes(model)
    except Exception:  # a model that shape inference cannot follow is checked by its outputs alone
        return None
    dims = [d.dim_value if d.HasField("dim_value") else 0 for d in model.graph.output[0].type.tensor_type.shape.dim][1:]
    if not dims or not all(dims):
        return None
    return (dims[0],) if dims[1:] == [1] * (len(dims) - 1) else tuple(dims)


def import_onnx_file(path: str | Path, out_spec: str | Path, weights_path: str | Path | None = None) -> tuple[str, dict[str, Any]]:
    """`archc import model.onnx -o model.arch --weights model.safetensors`: writes the spec and, if asked, the weights."""
    from safetensors.numpy import save_file

    from ..files import write_atomic

    text, tensors = from_onnx(path, name=Path(out_spec).stem)
    write_atomic(Path(out_spec), text)
    if weights_path is not None:
        import numpy as np

        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(weights_path))
    return text, tensors
