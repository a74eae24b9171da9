"""Memory figures: parameter memory, and the activation memory a training step keeps for backward.

Parameters: float32, 4 bytes each, trainable ones and the non-trainable batch-norm running
statistics (a running mean and a running variance per map: buffers in PyTorch, non-trainable
weights in Keras).

Activations, the convention: the tensors PyTorch's autograd saves for backward during one
training-mode forward of the model archc generates (CPU kernels), each distinct tensor counted
once, at batch N, the model's own parameters and buffers left out (they are the parameter memory):

    conv, dense           the input (a connection table: also its dense kernel, once per step)
    maxpool               the input + int64 indices
    avgpool               the input                         batchnorm  the input + 2 floats per map (per step)
    layernorm             the input + 2 floats per position (per sample on a vector)
    groupnorm             the input + 2 floats per group    layer_scale  the input
    stochastic_depth      a float32 draw per sample (nothing at rate 0)
    subsample             the input + the window sums       lrn        the input + 3 temporaries
    rbf                   the differences x − w (units × inputs)
    dropout               its float32 mask                  flatten    nothing (a view)
    rescale, normalize    nothing (constant scale and std)
    relu, sigmoid, tanh, softmax    the output              scaled_tanh  tanh's output
    add, concat, global_avgpool     nothing
    adaptive_avgpool      the input (nothing at 1x1: torch takes the mean)
    adaptive_maxpool      the input + int64 indices
    multiply              every factor                      split, shuffle  nothing (a view; a copy)

A flatten or a split is a view of its input (a shuffle too, where it keeps the order): a layer
that saves it keeps its input's whole tensor.

A tensor two layers save (a conv's output that a relu saves and the next conv reads) counts once.
tests/test_summary_features.py measures the generated models with
torch.autograd.graph.saved_tensors_hooks and holds these figures to within 10%.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .graph import Network, Node

FLOAT32 = 4
INT64 = 8
CONVENTION = "what a PyTorch training step saves for backward: float32, max-pool indices int64, each tensor once"

# op → what autograd keeps of its forward (torch's derivatives.yaml): "input", "output", or a
# tensor of its own that saves() describes. For an activation fused into a layer, "input" is
# the layer's result before the activation.
SAVES: dict[str, tuple[str, ...]] = {
    "conv": ("input",),
    "dense": ("input",),
    "pointwise_dense": ("input",),
    "avgpool": ("input",),
    "maxpool": ("input", "indices"),
    "batchnorm": ("input", "batch statistics"),
    "layernorm": ("input", "position statistics"),
    "groupnorm": ("input", "group statistics"),
    "layer_scale": ("input",),
    "stochastic_depth": ("row mask",),
    "subsample": ("input", "window sums"),
    "lrn": ("input", "lrn"),
    "rbf": ("differences",),
    "dropout": ("mask",),
    "flatten": (),
    "rescale": (),  # x·s + o: its gradient is the constant s
    "normalize": (),  # (x − m)/s: autograd keeps only the constant std, a buffer
    "global_avgpool": (),
    "adaptive_avgpool": ("input",),
    "adaptive_maxpool": ("input", "indices"),
    "relu": ("output",),
    "relu6": ("input",),
    "leaky_relu": ("input",),
    "elu": ("input",),
    "gelu": ("input",),
    "silu": ("input",),
    "hardswish": ("input",),
    "hardsigmoid": ("input",),
    "prelu": ("input",),
    "tanh": ("output",),
    "sigmoid": ("output",),
    "softmax": ("output",),
    "scaled_tanh": ("tanh",),
    "concat": (),
    "add": (),
    "multiply": ("inputs",),
    "split": (),
    "shuffle": (),
}


@dataclass(frozen=True)
class Saved:
    """One tensor autograd keeps: `per_sample` bytes times the batch, plus `fixed` bytes."""

    key: tuple[object, ...]
    per_sample: int
    fixed: int = 0

    def bytes(self, batch: int) -> int:
        return self.per_sample * batch + self.fixed


def non_trainable(node: Node) -> int:
    """Values a layer keeps that training does not update: batch norm's running mean and variance."""
    return 2 * node.shape[0] if node.op == "batchnorm" and node.shape else 0  # () after an error: unknown


def elements(shape: tuple[int, ...]) -> int:
    total = 1
    for d in shape:
        total *= d
    return total


def param_bytes(net: Network) -> int:
    """float32 bytes of every live layer's parameters and running statistics."""
    return FLOAT32 * sum(n.params + non_trainable(n) for n in net.layers if n.id in net.live)


def _source(net: Network, nid: int) -> Node:
    """The node whose tensor holds a node's output: a flatten or a split is a view of its input,
    dropout at rate 0 its input, and so is a shuffle that leaves the order as it is (1 group, or
    one map per group: torch's reshape then copies nothing)."""
    node = net.nodes[nid]
    while _view(node):
        node = net.nodes[node.inputs[0]]
    return node


def _view(node: Node) -> bool:
    if node.op == "shuffle":
        return node.attrs.get("groups") in (1, node.shape[0] if node.shape else None)
    return node.op in ("flatten", "split") or (node.op in ("dropout", "stochastic_depth") and node.attrs.get("rate") == 0)


def _value(net: Network, nid: int) -> tuple[object, ...]:
    return ("out", _source(net, nid).id)


def _input(net: Network, nid: int) -> Saved:
    """A saved input: the whole tensor it is a view of (a split's half keeps all of its input alive)."""
    src = _source(net, nid)
    return Saved(("out", src.id), elements(src.shape) * FLOAT32)


def saves(net: Network, node: Node) -> Iterator[Saved]:
    """The tensors one layer's forward hands to autograd, by the convention in the module docstring."""
    out = elements(node.shape) * FLOAT32
    kinds = SAVES[node.op]
    if "input" in kinds and not (node.op == "adaptive_avgpool" and node.shape[1:] == (1, 1)):  # torch takes a mean there
        yield _input(net, node.inputs[0])
    if "inputs" in kinds:  # a product's backward needs every factor
        yield from (_input(net, i) for i in node.inputs)
    if node.op == "conv" and node.attrs.get("table") is not None:  # the dense kernel scattered from the table
        kh, kw = node.attrs["kernel"][:2]
        yield Saved(("table kernel", node.id), 0, node.attrs["filters"] * net.nodes[node.inputs[0]].shape[0] * kh * kw * FLOAT32)
    if "indices" in kinds:
        yield Saved(("indices", node.id), elements(node.shape) * INT64)
    if "batch statistics" in kinds:
        yield Saved(("batch statistics", node.id), 0, 2 * node.shape[0] * FLOAT32)
    if "position statistics" in kinds:  # a mean and a 1/std per position (per sample on a vector)
        yield Saved(("position statistics", node.id), 2 * elements(node.shape[1:]) * FLOAT32)
    if "group statistics" in kinds:
        yield Saved(("group statistics", node.id), 2 * node.attrs["groups"] * FLOAT32)
    if "row mask" in kinds and node.attrs.get("rate") != 0:
        yield Saved(("row mask", node.id), FLOAT32)
    if "window sums" in kinds:
        yield Saved(("window sums", node.id), out)
    if "lrn" in kinds:
        c, h, w = node.shape
        yield Saved(("padded squares", node.id), (c + node.attrs["size"] - 1) * h * w * FLOAT32)
        yield Saved(("k + α·mean", node.id), out)
        yield Saved(("denominator", node.id), out)
    if "differences" in kinds:
        yield Saved(("differences", node.id), elements(net.nodes[node.inputs[0]].shape) * node.shape[0] * FLOAT32)
    if "mask" in kinds and node.attrs.get("rate") != 0:
        yield Saved(("mask", node.id), out)
    if "output" in kinds:
        yield Saved(_value(net, node.id), out)
    if node.activation:  # a fused activation keeps its input (the layer's own result) or its output
        fused = SAVES[node.activation]
        if "output" in fused:
            yield Saved(_value(net, node.id), out)
        elif "input" in fused:
            yield Saved(("pre-activation", node.id), out)
        elif "tanh" in fused:
            yield Saved(("tanh", node.id), out)
    elif "tanh" in kinds:
        yield Saved(("tanh", node.id), out)


def saved_bytes(net: Network, batch: int = 1) -> dict[int, int]:
    """Bytes each live layer is the first to save, at `batch`; the values add up to the total."""
    seen: set[tuple[object, ...]] = set()
    out: dict[int, int] = {}
    for node in net.layers:
        if node.id not in net.live:
            continue
        fresh = {s.key: s for s in saves(net, node) if s.key not in seen}  # `x * x` saves x once
        seen.update(fresh)
        out[node.id] = sum(s.bytes(batch) for s in fresh.values())
    return out


def activation_bytes(net: Network, batch: int = 1) -> int:
    return sum(saved_bytes(net, batch).values())
