"""A reference executor: runs a shaped network straight from its graph, with no generated code.

    params = reference.params_from_torch(net, model, key_of)   # the spec's names → tensors
    values = reference.run(net, params, x)                      # node id → tensor, aux heads too

It is the oracle the differential campaign (tests/test_campaign.py) holds the generated PyTorch
code to, and, through the weight transfer, the generated Keras code. It shares nothing with the
code generators but the spec's graph: values are keyed by node id, parameters by the spec's
layer path (`inception3a.b1.conv_1.weight`), and every op is written out below with torch's
functional ops, from the op's definition in docs/language.md rather than from an emitter, so
that on the same parameters the generated model must agree with it bit for bit. torch is
imported only when a function here is called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .graph import Network, Node
from .ops import activation_attrs

Tensor = Any  # torch.Tensor, imported lazily
Params = dict[str, Tensor]
Attrs = dict[str, Any]


def _pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _in_shape(net: Network, node: Node) -> tuple[int, ...]:
    return tuple(net.nodes[node.inputs[0]].shape) if node.inputs else ()


def _conv_params(a: dict[str, Any], shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    kh, kw = a["kernel"][0], a["kernel"][1]
    table = a.get("table")
    weight = (sum(len(ins) for ins in table), kh, kw) if table is not None else (a["filters"], shape[0] // a["groups"], kh, kw)
    return {"weight": weight, **({"bias": (a["filters"],)} if a["bias"] else {})}


def _dense_params(a: dict[str, Any], shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    return {"weight": (a["units"], _numel(shape)), **({"bias": (a["units"],)} if a["bias"] else {})}


def _batchnorm_params(a: dict[str, Any], shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    names = [*(["weight"] if a["scale"] else []), *(["bias"] if a["center"] else []), "running_mean", "running_var"]
    return {name: (shape[0],) for name in names}


# trainable op → the tensors a layer owns, by name, with their shapes (torch's layout), from its
# options and its input's shape
PARAMS: dict[str, Callable[[dict[str, Any], tuple[int, ...]], dict[str, tuple[int, ...]]]] = {
    "conv": _conv_params,
    "dense": _dense_params,
    "pointwise_dense": lambda a, shape: {"weight": (a["units"], shape[0]), **({"bias": (a["units"],)} if a["bias"] else {})},
    "rbf": lambda a, shape: {"weight": (a["units"], _numel(shape))},
    "subsample": lambda a, shape: {"weight": (shape[0],), "bias": (shape[0],)},
    "batchnorm": _batchnorm_params,
    "layernorm": lambda a, shape: {"weight": (shape[0],), "bias": (shape[0],)},
    "groupnorm": lambda a, shape: {"weight": (shape[0],), "bias": (shape[0],)},
    "layer_scale": lambda a, shape: {"weight": (shape[0], *[1] * (len(shape) - 1))},  # (C, 1, 1): broadcast over H and W
    "prelu": lambda a, shape: {"weight": (shape[0],)},
}


def param_shapes(net: Network, node: Node) -> dict[str, tuple[int, ...]]:
    """The tensors a layer owns, by name, with their shapes (torch's layout)."""
    rule = PARAMS.get(node.op)
    return rule(node.attrs, _in_shape(net, node)) if rule is not None else {}


def _numel(shape: tuple[int, ...]) -> int:
    total = 1
    for d in shape:
        total *= d
    return total


def params_from_torch(net: Network, model: Any, key_of: Callable[[Node], str]) -> Params:
    """A generated model's tensors under the spec's names; `key_of(node)` is its state_dict prefix."""
    state = model.state_dict()
    return {
        f"{node.qualname}.{name}": state[f"{key_of(node)}.{name}"].detach().clone()
        for node in net.layers
        if node.id in net.live
        for name in param_shapes(net, node)
    }


def run(net: Network, params: Params, x: Tensor, train: bool = False, logits: bool = False) -> dict[int, Tensor]:
    """Every live node's value on input `x` (batch first, CxHxW), in eval() or train() semantics.

    In train(), batch norm normalises with the batch's statistics (without updating the
    running ones) and dropout and stochastic depth are left out, so that the result is deterministic. `logits`
    leaves out the final softmaxes (Network.final_softmaxes), as a PyTorch build does by default.
    """
    values: dict[int, Tensor] = {net.input.id: x}
    for node in net.layers:
        if node.id not in net.live:
            continue  # dead: no output depends on it, and the generated models leave it out
        ins = [values[i] for i in node.inputs]
        final = logits and node.id in net.final_softmaxes
        op = _identity if final and node.op == "softmax" else OPS[node.op]
        out = op(node, ins, _ParamView(params, node.qualname), train)
        if node.activation and not final:
            out = ACTIVATIONS[node.activation](out, activation_attrs(node.activation))
        values[node.id] = out
    return values


class _ParamView:
    def __init__(self, params: Params, prefix: str) -> None:
        self.params, self.prefix = params, prefix

    def __getitem__(self, name: str) -> Tensor:
        return self.params[f"{self.prefix}.{name}"]

    def get(self, name: str) -> Tensor | None:
        return self.params.get(f"{self.prefix}.{name}")


# -- the ops, one function each ----------------------------------------------------------------
def _conv(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    import torch.nn.functional as F

    (x,) = ins
    a = node.attrs
    kh, kw = a["kernel"][0], a["kernel"][1]
    dil = _pair(a["dilation"])
    if a["pad"] == "same":
        pad = (dil[0] * (kh - 1) // 2, dil[1] * (kw - 1) // 2)
    elif isinstance(a["pad"], tuple) and len(a["pad"]) == 4:  # top, bottom, left, right: pad, then convolve
        top, bottom, left, right = a["pad"]
        if (top, left) == (bottom, right):  # the same zeros as the conv's own padding (its kernel, its bits)
            pad = (top, left)
        else:
            x, pad = F.pad(x, (left, right, top, bottom)), (0, 0)
    else:
        pad = (0, 0) if a["pad"] == "valid" else _pair(a["pad"])
    weight, groups = p["weight"], a["groups"]
    if a.get("table") is not None:  # one kernel per (output map, input map) link, in table order
        dense = weight.new_zeros(a["filters"], x.shape[1], kh, kw)
        link = 0
        for out_map, in_maps in enumerate(a["table"]):
            for in_map in in_maps:
                dense[out_map, in_map] = weight[link]
                link += 1
        weight, groups = dense, 1
    return F.conv2d(x, weight, p.get("bias"), _pair(a["stride"]), pad, dil, groups)


def _window(node: Node) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    a = node.attrs
    kernel = _pair(a["kernel"])
    stride = _pair(a["stride"]) if a["stride"] is not None else kernel
    return kernel, stride, _pair(a.get("pad", 0))


def _maxpool(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    import torch.nn.functional as F

    kernel, stride, pad = _window(node)
    return F.max_pool2d(ins[0], kernel, stride, pad, ceil_mode=node.attrs["ceil"])


def _avgpool(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    import torch.nn.functional as F

    kernel, stride, pad = _window(node)
    count_pad = node.attrs["count_pad"]
    return F.avg_pool2d(ins[0], kernel, stride, pad, ceil_mode=node.attrs["ceil"], count_include_pad=count_pad)


def _subsample(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    import torch.nn.functional as F

    kernel, stride, _ = _window(node)
    sums = F.avg_pool2d(ins[0], kernel, stride) * (kernel[0] * kernel[1])
    return sums * p["weight"].view(1, -1, 1, 1) + p["bias"].view(1, -1, 1, 1)


def _lrn(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    """x / (k + α/n · Σ x²)^β over the maps c − n//2 … c + (n−1)//2; the paper's α is not divided by n."""
    import torch.nn.functional as F

    a = node.attrs
    alpha = a["alpha"] * a["size"] if a["convention"] == "paper" else a["alpha"]  # torch divides by n
    return F.local_response_norm(ins[0], a["size"], alpha, a["beta"], a["k"])


def _batchnorm(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    """eval(): the running statistics; train(): the batch's (biased variance), running ones untouched."""
    import torch.nn.functional as F

    mean, var = (None, None) if train else (p["running_mean"], p["running_var"])
    return F.batch_norm(ins[0], mean, var, p.get("weight"), p.get("bias"), train, 0.0, node.attrs["eps"])  # scale=false: no weight


def _layernorm(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    """(x − mean)/√(var + eps)·γ + β, mean and (biased) var over the maps at each position (or over the features)."""
    import torch
    import torch.nn.functional as F

    x = ins[0]
    if x.dim() == 2:
        return F.layer_norm(x, (x.shape[1],), p["weight"], p["bias"], node.attrs["eps"])
    normed = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), p["weight"], p["bias"], node.attrs["eps"])
    # channels-last and back, in the layout of every other op: a clone, as .contiguous() would keep
    # one map's channels-last strides
    return normed.permute(0, 3, 1, 2).clone(memory_format=torch.contiguous_format)


def _groupnorm(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    """Each of `groups` groups of maps normalised over its maps and positions, then γ and β per map."""
    import torch.nn.functional as F

    return F.group_norm(ins[0], node.attrs["groups"], p["weight"], p["bias"], node.attrs["eps"])


def _layer_scale(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    return p["weight"] * ins[0]


def _dense(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    import torch.nn.functional as F

    return F.linear(ins[0], p["weight"], p.get("bias"))


def _pointwise_dense(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    """y[:, :, i, j] = W·x[:, :, i, j] + b: a dense layer over the maps, shared by every position,
    as one batched product W @ x over the (N, C, H·W) view (the kernel the generated code calls)."""
    import torch

    x = ins[0]
    n, c, h, w = x.shape
    weight, maps = p["weight"].expand(n, -1, -1), x.reshape(n, c, h * w)
    bias = p.get("bias")
    y = torch.bmm(weight, maps) if bias is None else torch.baddbmm(bias[:, None], weight, maps)
    return y.view(n, -1, h, w)


def _rbf(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    return ((ins[0].unsqueeze(1) - p["weight"]) ** 2).sum(-1)


def _identity(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    return ins[0]  # dropout and stochastic depth are the identity in eval(), and left out of train() here


def _flatten(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    return ins[0].reshape(ins[0].shape[0], -1)


def _rescale(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    """x·scale + offset, every element (Keras' Rescaling); a scale per channel multiplies its map (or feature)."""
    import torch

    x, scale = ins[0], node.attrs["scale"]
    if len(scale) == 1:
        return x * scale[0] + node.attrs["offset"]
    factors = torch.tensor(scale, dtype=x.dtype).view(1, -1, *([1] * (x.dim() - 2)))
    return x * factors + node.attrs["offset"]


def _normalize(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    """(x − mean_c)/std_c per map (or feature) c, in float32; a one-number list holds for every channel."""
    import torch

    x = ins[0]
    shape = (1, -1, *([1] * (x.dim() - 2)))
    mean = torch.tensor(node.attrs["mean"], dtype=x.dtype).view(shape)
    std = torch.tensor(node.attrs["std"], dtype=x.dtype).view(shape)
    return (x - mean) / std


def _global_avgpool(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    return ins[0].mean((2, 3), keepdim=bool(node.attrs.get("keep")))


def _adaptive_avgpool(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    """The mean of rows floor(i·H/oh) … ceil((i+1)·H/oh) − 1 and the matching columns; torch's
    kernel, held to that definition by tests/test_pools.py."""
    import torch.nn.functional as F

    return F.adaptive_avg_pool2d(ins[0], _pair(node.attrs["size"]))


def _adaptive_maxpool(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    """The maximum over the same windows as _adaptive_avgpool."""
    import torch.nn.functional as F

    return F.adaptive_max_pool2d(ins[0], _pair(node.attrs["size"]))


def _activation(name: str) -> Callable[[Node, list[Tensor], _ParamView, bool], Tensor]:
    return lambda node, ins, p, train: ACTIVATIONS[name](ins[0], node.attrs)


def _prelu(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    x, slope = ins[0], p["weight"]
    slope = slope.reshape(1, -1, *([1] * (x.dim() - 2)))  # one slope per map (or feature)
    return x.clamp(min=0) + slope * x.clamp(max=0)


def _concat(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    import torch

    return torch.cat(ins, 1)


def _add(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    total = ins[0]
    for other in ins[1:]:
        total = total + other
    return total


def _multiply(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    """The product in branch order; a Cx1x1 factor broadcasts over H and W."""
    total = ins[0]
    for other in ins[1:]:
        total = total * other
    return total


def _split(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    """Maps part·C/parts … (part + 1)·C/parts − 1."""
    x, parts, part = ins[0], node.attrs["parts"], node.attrs["part"]
    size = x.shape[1] // parts
    return x.narrow(1, part * size, size)


def _shuffle(node: Node, ins: list[Tensor], p: _ParamView, train: bool) -> Tensor:
    """Output map j·G + g is input map g·(C/G) + j: the maps as G rows of C/G, read by columns."""
    import torch

    x, groups = ins[0], node.attrs["groups"]
    c = x.shape[1]
    order = [g * (c // groups) + j for j in range(c // groups) for g in range(groups)]
    return x.index_select(1, torch.tensor(order, device=x.device))


def _torch_activation(name: str, **options: str) -> Callable[[Tensor, Attrs], Tensor]:
    """torch.nn.functional's `name`, with the spec's options under torch's keywords. The same
    kernels as the generated code, so that they agree bit for bit; tests/test_activations.py holds
    each of these to its mathematical definition in docs/language.md."""

    def act(x: Tensor, a: Attrs) -> Tensor:
        import torch.nn.functional as F

        return getattr(F, name)(x, **{torch_kw: a[spec_kw] for spec_kw, torch_kw in options.items()})

    return act


def _softmax(x: Tensor, a: Attrs) -> Tensor:
    return x.softmax(1)  # over the maps (or features): channels-last Keras takes its last axis


ACTIVATIONS: dict[str, Callable[[Tensor, Attrs], Tensor]] = {
    "relu": lambda x, a: x.relu(),
    "relu6": _torch_activation("relu6"),
    "leaky_relu": _torch_activation("leaky_relu", slope="negative_slope"),
    "elu": _torch_activation("elu", alpha="alpha"),
    "gelu": _torch_activation("gelu", approximate="approximate"),
    "silu": _torch_activation("silu"),
    "hardswish": _torch_activation("hardswish"),
    "hardsigmoid": _torch_activation("hardsigmoid"),
    "tanh": lambda x, a: x.tanh(),
    "sigmoid": lambda x, a: x.sigmoid(),
    "softmax": _softmax,
    "scaled_tanh": lambda x, a: 1.7159 * (x * (2.0 / 3.0)).tanh(),  # LeNet-5's f(a) = A tanh(S a)
}

OPS: dict[str, Callable[[Node, list[Tensor], _ParamView, bool], Tensor]] = {
    "conv": _conv,
    "maxpool": _maxpool,
    "avgpool": _avgpool,
    "subsample": _subsample,
    "lrn": _lrn,
    "batchnorm": _batchnorm,
    "layernorm": _layernorm,
    "groupnorm": _groupnorm,
    "layer_scale": _layer_scale,
    "stochastic_depth": _identity,
    "dense": _dense,
    "pointwise_dense": _pointwise_dense,
    "rbf": _rbf,
    "dropout": _identity,
    "flatten": _flatten,
    "rescale": _rescale,
    "normalize": _normalize,
    "global_avgpool": _global_avgpool,
    "adaptive_avgpool": _adaptive_avgpool,
    "adaptive_maxpool": _adaptive_maxpool,
    "concat": _concat,
    "add": _add,
    "multiply": _multiply,
    "split": _split,
    "shuffle": _shuffle,
    "prelu": _prelu,
    **{name: _activation(name) for name in ACTIVATIONS},
}
