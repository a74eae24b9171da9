"""Weight transfer between the PyTorch and Keras models of one spec, node by node through the IR.

    transfer(torch_model, keras_model, net)    # or the other way round; the direction is by type

Each layer with parameters is found by its spec path on both sides (the torch state_dict prefix
from `torch_paths`, the Keras layer from `layer_name`) and its tensors are converted:

    conv        OIHW (out, in/groups, kh, kw)  ↔  HWIO (kh, kw, in/groups, out)
    depthwise   (C·m, 1, kh, kw)  ↔  DepthwiseConv2D's (kh, kw, C, m): torch's output map c·m + j
                is Keras' (c, j), for a conv with one group per input map (groups = C)
    table conv  (links, kh, kw) in the same (output map, input map) order on both sides
    dense       (out, in)  ↔  (in, out); after a spatial flatten the `in` axis is also permuted,
                because torch flattens C, H, W and channels-last Keras flattens H, W, C
    rbf         (units, in) on both sides, `in` permuted like dense
    subsample   weight (C,) ↔ coefficient (C,), bias
    prelu       weight (C,) ↔ alpha (1, 1, C) on a CxHxW input (shared over H and W), (F,) on a vector
    batchnorm   weight, bias, running_mean, running_var ↔ gamma, beta, moving_mean, moving_variance
                (scale=false or center=false: the missing weight or bias is missing on both sides)
    layernorm, groupnorm   weight, bias ↔ gamma, beta
    layer_scale weight (C, 1, 1) on a CxHxW input, (F,) on a vector ↔ gamma (C,)

Aux-head layers missing from a Keras model built with aux=False are skipped. torch, keras and
numpy are imported only here, and only when called.

    load_state_dict(model, torchvision_model.state_dict())

loads a checkpoint of another PyTorch implementation of the same network (torchvision's zoo:
tests/test_zoo.py) into a compiled model, pairing the tensors by structure, not by name.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from .backends.keras import depthwise, flatten_source, layer_name
from .backends.pytorch import torch_paths
from .graph import Network, Node
from .memory import non_trainable

# op → (torch name, keras name) of each tensor, in order
TENSORS: dict[str, tuple[tuple[str, str], ...]] = {
    "conv": (("weight", "kernel"), ("bias", "bias")),
    "dense": (("weight", "kernel"), ("bias", "bias")),
    "pointwise_dense": (("weight", "kernel"), ("bias", "bias")),
    "rbf": (("weight", "centres"),),
    "subsample": (("weight", "coefficient"), ("bias", "bias")),
    "batchnorm": (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"), ("running_var", "moving_variance")),
    "layernorm": (("weight", "gamma"), ("bias", "beta")),
    "groupnorm": (("weight", "gamma"), ("bias", "beta")),
    "layer_scale": (("weight", "gamma"),),
    "prelu": (("weight", "alpha"),),
}


def kind(model: Any) -> str:
    """ "keras" or "torch". A Keras model is checked first: under KERAS_BACKEND=torch it is also an nn.Module."""
    keras, torch = sys.modules.get("keras"), sys.modules.get("torch")
    if keras is not None and isinstance(model, keras.Model):
        return "keras"
    if torch is not None and isinstance(model, torch.nn.Module):
        return "torch"
    raise TypeError(f"transfer takes a torch.nn.Module and a keras.Model, got {type(model).__name__}")


def transfer(src: Any, dst: Any, net: Network | None = None) -> list[str]:
    """Copy every parameter of `src` into `dst` (torch → keras or keras → torch).

    `net` is the spec's network both models were built from; models made by
    `archc.build_model` carry it, so it may be left out for them. Returns the layer paths copied.
    """
    kinds = (kind(src), kind(dst))
    if kinds not in (("torch", "keras"), ("keras", "torch")):
        raise TypeError(f"transfer goes between torch and keras, not {kinds[0]} → {kinds[1]}")
    net = net or getattr(src, "archc_network", None) or getattr(dst, "archc_network", None)
    if net is None:
        raise ValueError("transfer needs the network both models come from: pass net=archc.load(spec)")
    torch_model, keras_model = (src, dst) if kinds[0] == "torch" else (dst, src)
    state = torch_model.state_dict()
    paths = torch_paths(net)
    done = []
    for node in net.layers:
        if node.op not in TENSORS or node.params + non_trainable(node) == 0 or node.id not in net.live:
            continue  # nothing to copy (batchnorm scale=false center=false still has its statistics), or a dead layer
        try:
            layer = keras_model.get_layer(layer_name(node))
        except ValueError:
            if node.aux:
                continue  # a Keras model built with aux=False has no aux heads
            raise KeyError(f"the Keras model has no layer {layer_name(node)!r} for {node.qualname}") from None
        variables = {v.name: v for v in layer.weights}
        for torch_name, keras_name in TENSORS[node.op]:
            key = f"{paths[node.path]}.{torch_name}"
            if key not in state and keras_name not in variables:
                continue  # a layer without bias
            if key not in state or keras_name not in variables:
                raise KeyError(f"{node.qualname}: {key} and {layer.name}/{keras_name} are not both present")
            to_keras, to_torch = converters(net, node, torch_name)
            if kinds[0] == "torch":
                variables[keras_name].assign(to_keras(state[key].detach().cpu().numpy()))
            else:
                copy_into(state[key], to_torch(_numpy(variables[keras_name])))
        done.append(node.qualname)
    return done


Array = Any
Convert = Callable[[Array], Array]


def converters(net: Network, node: Node, torch_name: str) -> tuple[Convert, Convert]:
    """(torch array → keras array, keras array → torch array) for one tensor of a node."""
    if torch_name != "weight":
        return _same, _same
    if node.op == "conv" and depthwise(net, node):  # torch output map c·m + j is Keras' (c, j)
        maps, mult = node.attrs["groups"], node.attrs["filters"] // node.attrs["groups"]
        kh, kw = node.attrs["kernel"][0], node.attrs["kernel"][1]
        return (
            (lambda w: w.reshape(maps, mult, kh, kw).transpose(2, 3, 0, 1)),
            (lambda k: k.transpose(2, 3, 0, 1).reshape(maps * mult, 1, kh, kw)),
        )
    if node.op == "conv" and "table" not in node.attrs:
        return (lambda w: w.transpose(2, 3, 1, 0)), (lambda k: k.transpose(3, 2, 0, 1))
    if node.op == "prelu" and len(node.shape) == 3:  # (C,) ↔ (1, 1, C): shared over H and W
        return (lambda w: w.reshape(1, 1, -1)), (lambda k: k.reshape(-1))
    if node.op == "layer_scale" and len(node.shape) == 3:  # (C, 1, 1) ↔ (C,): broadcast over H and W
        return (lambda w: w.reshape(-1)), (lambda k: k.reshape(-1, 1, 1))
    if node.op == "pointwise_dense":  # torch (out, in), Keras (in, out), as dense
        return (lambda w: w.T), (lambda k: k.T)
    if node.op in ("dense", "rbf"):
        dims = flatten_dims(net, node)
        if dims is None:  # features in the same order on both sides
            return ((lambda w: w.T), (lambda k: k.T)) if node.op == "dense" else (_same, _same)
        to_keras_rows, to_torch_rows = _feature_order(dims)
        if node.op == "dense":  # torch (out, in), Keras (in, out)
            return (lambda w: to_keras_rows(w).T), (lambda k: to_torch_rows(k.T))
        return to_keras_rows, to_torch_rows
    return _same, _same


def flatten_dims(net: Network, node: Node) -> tuple[int, int, int] | None:
    """(C, H, W) of the maps a dense or rbf layer reads through a flatten, whose features torch
    orders channel-first (c, h, w) and Keras channel-last (h, w, c); None when there is none."""
    flat = flatten_source(net, node)
    if flat is None:
        return None
    c, h, w = net.nodes[flat.inputs[0]].shape
    return c, h, w


def _feature_order(dims: tuple[int, int, int]) -> tuple[Convert, Convert]:
    """For a weight whose rows are outputs and whose columns are the flattened features: torch's
    (c, h, w) columns in Keras' (h, w, c) order, and back. Each row is reordered on its own (a
    reshape and one transposing copy that keeps the rows in place): a gather over the columns
    took AlexNet's transfer 2.75 s, this 0.67 s; moving the rows as well in the same copy, 2.35 s."""
    c, h, w = dims

    def to_keras(a: Array) -> Array:
        return a.reshape(-1, c, h, w).transpose(0, 2, 3, 1).reshape(a.shape[0], -1)

    def to_torch(a: Array) -> Array:
        return a.reshape(-1, h, w, c).transpose(0, 3, 1, 2).reshape(a.shape[0], -1)

    return to_keras, to_torch


def _same(a: Array) -> Array:
    return a


def _numpy(variable: Any) -> Array:
    import keras

    return keras.ops.convert_to_numpy(variable.value)


def copy_into(tensor: Any, array: Array) -> None:
    import numpy as np
    import torch

    with torch.no_grad():
        tensor.copy_(torch.from_numpy(np.ascontiguousarray(array)).to(tensor.dtype))


# ---------------------------------------------------------------------------------------------
# Checkpoints of another implementation: a torchvision state_dict into the compiled model.

BOOKKEEPING = "num_batches_tracked"  # a batch-norm counter, not a weight: copied where both sides have it


class StateDictMismatch(ValueError):
    """A checkpoint's tensors do not line up with the model's; the message names the first pair that differs.

    `source_key` / `target_key` and their shapes are None where that side has no tensor there
    (a tensor left over, or one that gets nothing).
    """

    def __init__(
        self,
        message: str,
        source_key: str | None,
        target_key: str | None,
        source_shape: tuple[int, ...] | None,
        target_shape: tuple[int, ...] | None,
    ) -> None:
        super().__init__(message)
        self.source_key, self.target_key = source_key, target_key
        self.source_shape, self.target_shape = source_shape, target_shape


Tensor = tuple[str, str, tuple[int, ...]]  # (tensor name within its layer, full key, shape)


def layers_of(state: Any) -> list[tuple[str, list[Tensor]]]:
    """A state_dict's tensors grouped by layer (the key up to its last dot), in the order the
    network runs them, without bookkeeping.

    That is the dict's order, but for a tensor registered on a module that also holds layers
    (torchvision's ConvNeXt block keeps its `layer_scale` beside its `block`): torch lists it before
    the module's layers, and it is moved after them, where such a tensor acts.
    """
    groups: dict[str, list[Tensor]] = {}
    for key, value in state.items():
        prefix, _, name = key.rpartition(".")
        if name != BOOKKEEPING:
            groups.setdefault(prefix, []).append((name, key, tuple(value.shape)))
    ordered = list(groups.items())
    for prefix, tensors in list(ordered):
        inner = [i for i, (p, _) in enumerate(ordered) if p.startswith(prefix + ".")] if prefix else []
        if inner:
            ordered.remove((prefix, tensors))
            ordered.insert(max(i for i, (p, _) in enumerate(ordered) if p.startswith(prefix + ".")) + 1, (prefix, tensors))
    return ordered


def _owned(prefix: str, layers: list[tuple[str, list[Tensor]]]) -> bool:
    """Whether a layer's tensors are registered on a module that holds other layers (unnamed by convention)."""
    return bool(prefix) and any(p.startswith(prefix + ".") for p, _ in layers)


def match_state_dicts(source: Any, target: Any) -> dict[str, str]:
    """{target key: source key}, pairing the two state_dicts by structure rather than by name.

    The n-th layer with tensors of `source` goes to the n-th of `target`, and within a layer the
    tensors go in order; each pair must have the same tensor name (weight, bias, running_mean, ...)
    and the same shape, but for a Linear's (out, in) weight going to a 1x1 conv's (out, in, 1, 1)
    (`pointwise_linear`), and a tensor registered on a module beside its layers (`layers_of`), which
    is matched by shape alone. That holds when both implementations register their layers in the order
    the network runs them, branches in the same order, as torchvision and archc's PyTorch models do.
    Two neighbouring layers of equal shapes given in the other order would pass unnoticed: compare
    outputs to be sure. Every source tensor is used once; the first one that does not fit raises
    StateDictMismatch naming both keys and shapes.
    """
    src, dst = layers_of(source), layers_of(target)
    pairs: dict[str, str] = {}
    for (s_prefix, s_tensors), (t_prefix, t_tensors) in zip(src, dst, strict=False):  # the longer one is reported below
        # a tensor registered on a module beside its layers has no conventional name: shapes decide
        any_name = _owned(s_prefix, src) or _owned(t_prefix, dst)
        for i in range(max(len(s_tensors), len(t_tensors))):
            s = s_tensors[i] if i < len(s_tensors) else None
            t = t_tensors[i] if i < len(t_tensors) else None
            named_alike = s is not None and t is not None and (s[0] == t[0] or any_name)
            if s is None or t is None or not named_alike or not (s[2] == t[2] or pointwise_linear(s[2], t[2])):
                raise _mismatch(s, t, f"layer {s_prefix or '(top)'} → {t_prefix or '(top)'}")
            pairs[t[1]] = s[1]
    if len(src) > len(dst):
        raise _mismatch(src[len(dst)][1][0], None, f"the model's {len(dst)} layers with tensors are all taken")
    if len(dst) > len(src):
        raise _mismatch(None, dst[len(src)][1][0], f"the checkpoint's {len(src)} layers with tensors are all used")
    return pairs


def pointwise_linear(source: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """A Linear's (out, in) weight for a 1x1 conv's (out, in, 1, 1): the same function on a
    channels-last tensor (ConvNeXt's pointwise layers), the one layout difference matched."""
    return len(source) == 2 and target == (*source, 1, 1)


def _mismatch(s: Tensor | None, t: Tensor | None, where: str) -> StateDictMismatch:
    def shown(x: Tensor | None) -> str:
        return f"{x[1]} {tuple(x[2])}" if x else "nothing"

    if s is None:
        message = f"model tensor {shown(t)} gets no checkpoint tensor ({where})"
    elif t is None:
        message = f"checkpoint tensor {shown(s)} is left over ({where})"
    else:
        message = f"checkpoint tensor {shown(s)} does not fit model tensor {shown(t)} ({where})"
    return StateDictMismatch(message, s and s[1], t and t[1], s and s[2], t and t[2])


def load_state_dict(model: Any, state_dict: Any) -> dict[str, str]:
    """Load a checkpoint of another implementation of the same network (torchvision's, say) into `model`.

    The tensors are matched by structure (`match_state_dicts`), not by name, so a spec need not
    spell torchvision's keys. Batch-norm `num_batches_tracked` counters are not matched: each is
    copied from the source layer paired with the model's, where both have one, and otherwise left
    as it is (old checkpoints lack them). Returns {model key: checkpoint key}; raises
    StateDictMismatch and leaves the model untouched when the two do not line up.
    """
    target = model.state_dict()
    pairs = match_state_dicts(state_dict, target)
    loaded = {key: state_dict[pairs[key]].reshape(value.shape) if key in pairs else value for key, value in target.items()}
    layer = {t.rpartition(".")[0]: s.rpartition(".")[0] for t, s in pairs.items()}
    for key in target:
        prefix, _, name = key.rpartition(".")
        source_key = ".".join(filter(None, (layer.get(prefix), BOOKKEEPING))) if prefix in layer else None
        if name == BOOKKEEPING and source_key in state_dict:
            loaded[key] = state_dict[source_key]
    model.load_state_dict(loaded, strict=True)
    return pairs
