"""torch.fx graph → units: each leaf module or function call as an archc op, or a refusal.

A unit is one node of the traced graph mapped to an archc op (`conv`, `relu`, `add`, `concat`,
`identity` for what computes nothing) with its options in a fixed order, the values it reads,
the path of its module (for a leaf module) and the chain of module paths it was called inside.
Anything the language cannot state exactly is a Refusal; nothing is approximated.
"""

from __future__ import annotations

import operator
import warnings
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Refusal:
    path: str  # the module's path ("(the model)" for the top level)
    op: str  # the module class or function
    reason: str


@dataclass
class Unit:
    id: str
    op: str
    inputs: list[str]
    slots: list[tuple[str, Any]] = field(default_factory=list)
    path: str | None = None  # the leaf module's path, when it is one (a layer_scale's: its parameter's)
    stack: tuple[str, ...] = ()  # the module paths it runs inside, outermost first
    activation: str | None = None


class TorchImportError(Exception):
    """The model uses what the language lacks: every refusal, with its module path, op and reason."""

    def __init__(self, refusals: list[Refusal]) -> None:
        self.refusals = refusals
        lines = [f"  {r.path}: {r.op}: {r.reason}" for r in refusals]
        super().__init__("the model cannot be imported exactly:\n" + "\n".join(lines))


class Refuse(Exception):
    """One node's refusal: its reason."""


# Options an op writes by position; defaults a printed layer leaves out.
POSITIONAL = {
    "conv": ("filters", "kernel"),
    "maxpool": ("kernel",),
    "avgpool": ("kernel",),
    "dense": ("units",),
    "dropout": ("rate",),
    "lrn": ("size",),
    "leaky_relu": ("slope",),
    "elu": ("alpha",),
    "stochastic_depth": ("rate",),
    "pointwise_dense": ("units",),
    "layer_scale": ("init",),
    "split": ("parts",),
    "shuffle": ("groups",),
}
DEFAULTS: dict[tuple[str, str], Any] = {
    ("conv", "stride"): 1,
    ("conv", "pad"): 0,
    ("conv", "dilation"): 1,
    ("conv", "groups"): 1,
    ("conv", "bias"): True,
    ("maxpool", "pad"): 0,
    ("avgpool", "pad"): 0,
    ("maxpool", "ceil"): False,
    ("avgpool", "ceil"): False,
    ("batchnorm", "eps"): 1e-5,
    ("batchnorm", "momentum"): 0.1,
    ("dense", "bias"): True,
    ("pointwise_dense", "bias"): True,
    ("global_avgpool", "keep"): False,
    ("split", "part"): 0,
    ("layernorm", "eps"): 1e-5,
}
FLAGS = frozenset({"ceil", "keep"})  # options a printed layer writes as a bare word when true
MERGES = frozenset({"add", "concat", "multiply"})
FUSABLE = frozenset({"relu", "relu6", "silu", "hardswish", "hardsigmoid", "tanh", "sigmoid", "gelu"})
TAKES_ACTIVATION = frozenset({"conv", "dense", "pointwise_dense", "batchnorm"})
STATEFUL = frozenset({"conv", "batchnorm", "dense", "pointwise_dense", "prelu", "layernorm", "layer_scale"})


def text(value: Any, key: str) -> str:
    """An option's value as spec text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        a, b = value
        return f"{a}x{b}" if key == "kernel" or a != b else str(a)
    if isinstance(value, int):
        return f"{value}x{value}" if key == "kernel" else str(value)
    if isinstance(value, float):
        out = repr(value)
        return out if "e" in out or "." in out else out + ".0"
    return str(value)


def is_container(m: Any) -> bool:
    from torch import nn

    return type(m) in (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def is_leaf(m: Any) -> bool:
    return bool(_tracer().is_leaf_module(m, ""))


# torchvision's modules that are archc ops, known by class and module so that torchvision need
# not be imported: StochasticDepth traced through is a call of `stochastic_depth(x, p, mode,
# self.training)` whose training flag is fixed at False, which cannot be told from a call that
# never drops (as a module it reads `self.training` when run); ConvNeXt's LayerNorm2d traced
# through is a permute, an F.layer_norm reading the module's own weight and a permute back.
TORCHVISION_LEAVES = {"StochasticDepth": "torchvision.ops", "LayerNorm2d": "torchvision.models.convnext"}


def _torchvision_leaf(m: Any) -> str | None:
    t = type(m)
    return t.__name__ if t.__module__.startswith(TORCHVISION_LEAVES.get(t.__name__, "\0")) else None


def _tracer() -> Any:
    """torch.fx's tracer, with TORCHVISION_LEAVES as leaf modules."""
    import torch.fx

    class Tracer(torch.fx.Tracer):  # type: ignore[misc]
        def is_leaf_module(self, m: Any, qualname: str) -> bool:
            return _torchvision_leaf(m) is not None or bool(super().is_leaf_module(m, qualname))

    return Tracer()


def trace(module: Any, shape: tuple[int, ...]) -> tuple[dict[str, Unit], str, str]:
    """The model's units in graph order, its input's name and its output unit."""
    import torch
    import torch.fx
    from torch.fx.passes.shape_prop import ShapeProp

    was = module.training
    module.eval()
    try:
        tracer = _tracer()
        graph = tracer.trace(module)
        gm = torch.fx.GraphModule(tracer.root, graph, type(module).__name__)
        inputs = [n.name for n in gm.graph.nodes if n.op == "placeholder" and not n.args]  # those without a default
        if len(inputs) == 1:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the model's own warnings (an even 'same' kernel) are for its users
                ShapeProp(gm).propagate(torch.zeros(1, *shape))
    except Exception as exc:
        raise TorchImportError([Refusal("(the model)", type(module).__name__, f"torch.fx cannot trace it: {exc}")]) from exc
    finally:
        module.train(was)
    if len(inputs) != 1:
        raise TorchImportError(
            [Refusal("(the model)", "forward", f"it takes {len(inputs)} inputs ({', '.join(inputs)}): archc networks have one")]
        )
    mods = dict(module.named_modules())
    units: dict[str, Unit] = {}
    refusals: list[Refusal] = []
    flat = Pooled()
    reshaped = Reshapes(gm)
    seen: set[str] = set()
    entry = exit_ = ""
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            entry = entry or node.name
            continue
        if node.op == "output":
            out = node.args[0]
            if not isinstance(out, torch.fx.Node):
                refusals.append(Refusal("(the model)", "forward", "it returns more than one tensor"))
            else:
                flat.keep([out.name])  # a model returning Cx1x1 maps returns them as maps
                exit_ = out.name
            continue
        if node.name in reshaped.skip:
            continue
        stack = tuple(p for p, _ in (node.meta.get("nn_module_stack") or {}).values() if p != node.target)
        where = node.target if node.op == "call_module" else (stack[-1] if stack else "(the model)")
        try:
            if node.name in reshaped.refused:
                raise Refuse(reshaped.refused[node.name])
            unit = _unit(node, mods, flat, reshaped.units.get(node.name), node.name in reshaped.channels_last)
            _check_inplace(node, mods)
        except Refuse as why:
            refusals.append(Refusal(where, _op_name(node, mods), str(why)))
            continue
        unit.stack = stack
        unit.path = reshaped.params.get(node.name, unit.path)  # a layer scale's parameter, where its key is
        if unit.path is not None:
            if unit.path in seen:
                if unit.op in STATEFUL:
                    refusals.append(
                        Refusal(where, _op_name(node, mods), "the module is called twice, sharing its weights; an archc layer owns its own")
                    )
                unit.path = None
            seen.add(node.target)
        units[unit.id] = unit
    if refusals:
        raise TorchImportError(refusals)
    _reassociate(units)
    return _live(units, exit_), entry, exit_


def _check_inplace(node: Any, mods: dict[str, Any]) -> None:
    """An in-place op on a tensor that another layer reads changes what that layer sees, which
    the traced dataflow does not show."""
    import torch.fx

    module = mods.get(node.target) if node.op == "call_module" else None
    inplace = bool(getattr(module, "inplace", False)) or node.kwargs.get("inplace") is True
    inplace |= (node.op == "call_method" and str(node.target).endswith("_")) or node.target is operator.iadd
    source = node.args[0] if node.args else None
    if inplace and isinstance(source, torch.fx.Node) and len(source.users) > 1:
        raise Refuse("it works in place on a tensor that other layers read too")


def _op_name(node: Any, mods: dict[str, Any]) -> str:
    if node.op == "call_module":
        cls = type(mods[node.target])
        return f"nn.{cls.__name__}" if cls.__module__.startswith("torch.nn") else f"{cls.__module__}.{cls.__name__}"
    if node.op == "call_method":
        return f"Tensor.{node.target}"
    if node.op == "get_attr":
        return f"self.{node.target}"
    target = node.target
    mod = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", str(target))
    if name == "fn" and hasattr(target, "__wrapped__"):
        name = target.__wrapped__.__name__
    prefix = {"torch.nn.functional": "F", "_operator": "operator", "torch._C._VariableFunctions": "torch"}.get(mod, mod or "torch")
    return f"{prefix}.{name}"


def _shape(node: Any) -> tuple[int, ...]:
    meta = node.meta.get("tensor_meta")
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else ()


def _pair(v: Any) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    a, b = v
    return (int(a), int(b))


def _square(v: tuple[int, int]) -> Any:
    return v[0] if v[0] == v[1] else v


class Reshapes:
    """The view and chunk patterns that are archc ops, found before the graph is read node by node.

    torchvision's `channel_shuffle` traces as `x.size()`, a view to (N, g, C/g, H, W), a transpose
    of axes 1 and 2, `contiguous()` and a view back to (N, C, H, W): the last view is `shuffle g`
    reading x, the others compute nothing archc states (`skip`). `x.chunk(P, 1)` (or an even
    `x.split(C/P, 1)`) traces as the chunk and a getitem per part: each getitem is `split P part=K`
    reading x. The patterns are matched on the shapes the trace measured, which is exact for the
    spec's one input shape; a view or chunk that matches no pattern is refused as before, and the
    shape arithmetic (`size`, its items, `//`) is skipped only where it feeds a matched view.

    ConvNeXt's block permutes NxCxHxW maps to channels-last (0, 2, 3, 1), applies layers that
    act at each position on its last axis (nn.LayerNorm over it, nn.Linear, elementwise
    activations), each read by the next alone, and permutes back (0, 3, 1, 2): the permutes are
    `identity`, the layers between them `channels_last` (a LayerNorm is archc's `layernorm` over
    the maps at each position, a Linear `pointwise_dense`). Any other permute is refused. And
    a parameter used outside its module by one multiply, (C, 1, 1) against NxCxHxW maps (or (C,)
    against a vector), is a `layer_scale` (CNBlock's `layer_scale * self.block(x)`): `params`
    gives the multiply its parameter's key."""

    def __init__(self, gm: Any) -> None:
        self.skip: set[str] = set()
        self.units: dict[str, tuple[str, list[tuple[str, Any]], Any]] = {}  # node → (op, slots, the tensor it reads)
        self.refused: dict[str, str] = {}
        self.channels_last: set[str] = set()  # the per-position layers between the permutes
        self.params: dict[str, str] = {}  # a layer scale's multiply → its parameter's key
        nodes = list(gm.graph.nodes)
        for node in nodes:
            if _is_call(node, "chunk", "split"):
                self._chunk(node)
            elif _is_call(node, "view", "reshape", "flatten"):
                self._shuffle(node)
            elif node.op == "get_attr":
                self._layer_scale(gm, node, nodes)
        for node in nodes:
            if _is_call(node, "permute") and node.name not in self.units:
                self._channels_last(gm, node)
        for node in reversed(nodes):  # users before what they read
            arithmetic = node.op in ("call_method", "call_function") and "tensor_meta" not in node.meta
            if arithmetic and node.users and all(u.name in self.skip or u.name in self.units for u in node.users):
                self.skip.add(node.name)

    def _chunk(self, node: Any) -> None:
        import torch.fx

        x = node.args[0]
        shape = _shape(x) if isinstance(x, torch.fx.Node) else ()
        size = (
            node.args[1]
            if len(node.args) > 1
            else next((node.kwargs[k] for k in ("chunks", "split_size", "split_size_or_sections") if k in node.kwargs), None)
        )
        dim = node.args[2] if len(node.args) > 2 else node.kwargs.get("dim", 0)
        what = str(node.target) if isinstance(node.target, str) else getattr(node.target, "__name__", "chunk")
        if len(shape) < 2 or not isinstance(dim, int) or dim % len(shape) != 1:
            self.refused[node.name] = f"{what} along dim {dim}: archc's split cuts the maps (dim 1)"
            return
        c = shape[1]
        if what == "chunk":
            parts = size if isinstance(size, int) and size > 0 and c % size == 0 else 0
        elif isinstance(size, int):
            parts = c // size if size > 0 and c % size == 0 else 0
        else:
            sizes = list(size) if isinstance(size, list | tuple) else []
            parts = len(sizes) if sizes and all(isinstance(k, int) for k in sizes) and len(set(sizes)) == 1 and sum(sizes) == c else 0
        if not parts:
            self.refused[node.name] = f"{what}({size!r}) of {c} maps: archc's split cuts them into equal parts"
            return
        users = list(node.users)
        if not all(u.target is operator.getitem and isinstance(u.args[1], int) and -parts <= u.args[1] < parts for u in users):
            self.refused[node.name] = f"its parts are used other than one by one (x.{what}(...)[k]), which archc's split states"
            return
        self.skip.add(node.name)
        for u in users:
            self.units[u.name] = ("split", [("parts", parts), ("part", u.args[1] % parts)], x)

    def _shuffle(self, last: Any) -> None:
        out = _shape(last)
        node = _single(last.args[0] if last.args else None)
        if node is not None and _is_call(node, "contiguous"):
            node = _single(node.args[0], node)
        if node is None or len(out) != 4 or not _is_call(node, "transpose", "permute", "swapaxes"):
            return
        args = node.args[1:]
        if len(args) == 1 and isinstance(args[0], list | tuple):
            args = tuple(args[0])
        swaps = _is_call(node, "permute") and tuple(a % 5 for a in args) == (0, 2, 1, 3, 4)
        swaps |= not _is_call(node, "permute") and len(args) == 2 and {a % 5 for a in args if isinstance(a, int)} == {1, 2}
        first = _single(node.args[0], node)
        if not swaps or first is None or not _is_call(first, "view", "reshape"):
            return
        x = first.args[0]
        n, c, h, w = out
        grouped = _shape(first)
        if _shape(x) != out or len(grouped) != 5 or grouped[0] != n or grouped[3:] != (h, w) or grouped[1] * grouped[2] != c:
            return
        self.units[last.name] = ("shuffle", [("groups", grouped[1])], x)
        self.skip |= {first.name, node.name, *(a.name for a in last.args[:1] if a is not node)}

    def _channels_last(self, gm: Any, node: Any) -> None:
        dims = _dims(node)
        x = node.args[0] if node.args else None
        if len(_shape(node)) != 4 or dims != (0, 2, 3, 1):
            self.refused[node.name] = (
                f"permute{dims}: archc has no transpose; it states ConvNeXt's channels-last permute (0, 2, 3, 1), layers"
                " that act at each position and the permute (0, 3, 1, 2) back"
            )
            return
        chain: list[Any] = []
        v = node
        while True:
            users = list(v.users)
            nxt = users[0] if len(users) == 1 else None
            if nxt is not None and _is_call(nxt, "permute") and _dims(nxt) == (0, 3, 1, 2):
                break
            if nxt is None:
                what = f"{'its value is read by more than one layer' if users else 'nothing reads it'}"
            elif nxt.op == "output":
                what = "it is the model's output"
            else:
                why = _per_position(gm, nxt)
                if why is None:
                    chain.append(nxt)
                    v = nxt
                    continue
                what = why
            self.refused[node.name] = (
                "a channels-last permute (0, 2, 3, 1): archc states it only before layers that act at each position"
                " (nn.LayerNorm over the last axis, nn.Linear, elementwise activations), each read by the next alone, up to"
                f" the permute (0, 3, 1, 2) back; after {len(chain)} such layer(s), {what}"
            )
            return
        back = users[0]
        self.units[node.name] = ("identity", [], x)
        self.units[back.name] = ("identity", [], v)
        self.channels_last |= {n.name for n in chain}

    def _layer_scale(self, gm: Any, node: Any, nodes: list[Any]) -> None:
        import torch
        import torch.fx

        users = list(node.users)
        mul = users[0] if len(users) == 1 else None
        if mul is None or not (_is_call(mul, "mul", "multiply") or mul.target is operator.mul) or len(mul.args) != 2 or mul.kwargs:
            return
        others = [a for a in mul.args if a is not node]
        x = others[0] if len(others) == 1 and isinstance(others[0], torch.fx.Node) else None
        param = _attribute(gm, str(node.target))
        if x is None or not isinstance(param, torch.nn.Parameter):
            return
        shape, c = tuple(param.shape), _shape(x)[1:2]
        if len(_shape(x)) not in (2, 4) or shape != (c + (1, 1) if len(_shape(x)) == 4 else c):
            return
        if sum(1 for n in nodes if n.op == "get_attr" and n.target == node.target) != 1:
            return  # used twice: its refusal stands
        values = param.detach().flatten()
        init = _float32(float(values[0])) if bool((values == values[0]).all()) else 1e-6
        self.skip.add(node.name)
        self.units[mul.name] = ("layer_scale", [("init", init)], x)
        self.params[mul.name] = str(node.target)


def _dims(node: Any) -> tuple[int, ...]:
    """A permute's dims, whichever way they are spelled, each taken modulo the rank."""
    args = list(node.args[1:]) or [node.kwargs.get("dims", ())]
    if len(args) == 1 and isinstance(args[0], list | tuple):
        args = list(args[0])
    rank = len(_shape(node)) or 1
    return tuple(a % rank if isinstance(a, int) else a for a in args)


def _per_position(gm: Any, node: Any) -> str | None:
    """None for a layer that acts at each position of a channels-last tensor; else what it is."""
    from torch import nn

    what = _op_name(node, dict(gm.named_modules()))
    if node.op == "call_module":
        m = gm.get_submodule(str(node.target))
        t = type(m)
        if t is nn.LayerNorm:
            c = _shape(node)[-1:]
            return None if tuple(m.normalized_shape) == c else f"{what} over {tuple(m.normalized_shape)}, not the last axis alone"
        elementwise = {nn.Linear, nn.Identity, nn.Dropout, nn.GELU, nn.LeakyReLU, nn.ELU, nn.ReLU, nn.ReLU6, nn.SiLU}
        elementwise |= {nn.Hardswish, nn.Hardsigmoid, nn.Sigmoid, nn.Tanh}
        return None if t in elementwise else f"{what} follows"
    name = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", "")
    known = node.op == "call_method" or (node.op == "call_function" and _from_torch(node.target))
    op = FUNCTIONS.get(name) if known else None
    return None if op in FUSABLE | {"leaky_relu", "elu", "identity"} else f"{what} follows"


def _attribute(gm: Any, target: str) -> Any:
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part, None)
    return obj


def _float32(v: float) -> float:
    """The shortest decimal that is float32 `v` (1e-06 rather than 9.999999974752427e-07)."""
    import struct

    def f32(x: float) -> float:
        return float(struct.unpack("f", struct.pack("f", x))[0])

    for digits in range(1, 10):
        short = float(f"{v:.{digits}g}")
        if f32(short) == f32(v):
            return short
    return v


def _is_call(node: Any, *names: str) -> bool:
    """A call of Tensor.NAME or torch.NAME for one of the names."""
    if node.op == "call_method":
        return node.target in names
    return node.op == "call_function" and _from_torch(node.target) and getattr(node.target, "__name__", "") in names


def _single(node: Any, user: Any = None) -> Any:
    """The node, when it is one and only `user` (or one node) reads it."""
    import torch.fx

    if not isinstance(node, torch.fx.Node) or len(node.users) != 1 or (user is not None and user not in node.users):
        return None
    return node


class Pooled:
    """The values torch holds as Cx1x1 maps after a 1x1 adaptive pool (or a mean with keepdim)
    that archc holds as the C vector of a plain `global_avgpool`, as long as nothing reads them as
    maps: a classifier's `pool → flatten → dense` reads best as `global_avgpool; dense`. Once a
    layer does read one as maps (a squeeze-and-excitation gate's 1x1 conv, a `multiply`, the
    model's output), the pools it comes from become `global_avgpool keep` and the flattens after
    them flatten again, so that every value has torch's shape."""

    def __init__(self) -> None:
        self.origins: dict[str, frozenset[str]] = {}  # value → the pools it comes from
        self.pools: dict[str, Unit] = {}
        self.flattens: list[tuple[Unit, frozenset[str]]] = []  # flattens left out, with their input's pools

    def __contains__(self, value: str) -> bool:
        return value in self.origins

    def pool(self, unit: Unit) -> None:
        self.pools[unit.id] = unit
        self.origins[unit.id] = frozenset({unit.id})

    def derive(self, value: str, inputs: list[str]) -> None:
        self.origins[value] = frozenset().union(*(self.origins[i] for i in inputs))

    def flatten(self, unit: Unit, value: str) -> None:
        unit.op, unit.slots = "identity", []
        self.flattens.append((unit, self.origins[value]))

    def keep(self, values: list[str]) -> None:
        kept = frozenset().union(*(self.origins[v] for v in values if v in self.origins))
        grown = bool(kept)
        while grown:  # a value that several pools feed (an add of two) needs every one of them kept
            grown = False
            for o in self.origins.values():
                if o & kept and not o <= kept:
                    kept, grown = kept | o, True
        for pid in kept:
            self.pools[pid].slots = [("keep", True)]
        self.origins = {v: o for v, o in self.origins.items() if not o & kept}
        for unit, o in self.flattens:
            if o <= kept:
                unit.op = "flatten"


# Ops that act on each element alone (or, for concat and split, on whole maps): on Cx1x1 maps and
# on the C vector archc holds for them, they compute the same values. So does a layernorm over the
# maps at their one position (ConvNeXt's head: LayerNorm2d on the pooled maps) and over the vector.
ELEMENTWISE = frozenset({"add", "concat", "multiply", "dropout", "identity", "leaky_relu", "elu", "softmax", "split"})


def _unit(
    node: Any,
    mods: dict[str, Any],
    flat: Pooled,
    reshaped: tuple[str, list[tuple[str, Any]], Any] | None = None,
    channels_last: bool = False,
) -> Unit:
    import torch.fx

    if node.op == "get_attr":
        raise Refuse("a parameter or buffer used outside its module: archc's layers own their tensors")
    tensors = [a for a in (*node.args, *node.kwargs.values()) if isinstance(a, torch.fx.Node)]
    lists = [a for a in node.args if isinstance(a, list | tuple)]
    for lst in lists:
        tensors += [a for a in lst if isinstance(a, torch.fx.Node)]
    if reshaped is not None:  # a channel shuffle's last view, or one part of a chunk: it reads the tensor they take apart
        tensors = [reshaped[2]]
    ins = [t.name for t in tensors]
    in_flat = [t.name in flat for t in tensors]
    rank = len(_shape(tensors[0])) if tensors else 0
    if reshaped is not None:
        op, slots = reshaped[0], reshaped[1]
        unit = Unit(node.name, op, ins, slots)
    elif node.op == "call_module":
        op, slots = _module(mods[node.target], rank, _shape(tensors[0]) if tensors else (), channels_last)
        unit = Unit(node.name, op, ins[:1], slots, path=node.target)
    else:
        op, slots = _function(node, rank)
        unit = Unit(node.name, op, ins if op in MERGES else ins[:1], slots)
        if op == "add" and (len(tensors) != 2 or _shape(tensors[0]) != _shape(tensors[1])):
            raise Refuse("add needs two tensors of one shape (no constants, no broadcasting)")
        if op == "multiply" and (len(tensors) != 2 or not _multipliable(_shape(tensors[0]), _shape(tensors[1]))):
            raise Refuse("multiply needs two tensors of one shape, or NxCxHxW maps and an NxCx1x1 scale (no constants)")
    if any(in_flat):
        if op == "flatten":
            flat.flatten(unit, tensors[0].name)
        elif all(in_flat) and (op in ELEMENTWISE or op in FUSABLE or op == "layernorm"):
            flat.derive(node.name, ins)
        else:
            flat.keep([t.name for t, f in zip(tensors, in_flat, strict=True) if f])
    if op == "global_avgpool" and len(_shape(node)) == 4:
        flat.pool(unit)
    if op in ("conv", "maxpool", "avgpool", "lrn") and rank != 4:
        raise Refuse(f"{op} needs NxCxHxW input; it gets rank {rank}")
    if op == "dense" and rank != 2:
        raise Refuse(f"a linear layer on a rank-{rank} tensor: archc's dense reads a flat vector")
    return unit


def _multipliable(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """One shape, or maps and a per-map scale (either way round): what archc's multiply broadcasts."""
    return a == b or any(len(x) == 4 and y == (*x[:2], 1, 1) for x, y in ((a, b), (b, a)))


def _module(m: Any, rank: int, in_shape: tuple[int, ...], channels_last: bool = False) -> tuple[str, list[tuple[str, Any]]]:
    from torch import nn

    t = type(m)
    if channels_last and t is nn.LayerNorm:  # between ConvNeXt's permutes, over the last axis (Reshapes checked)
        if not m.elementwise_affine or m.bias is None:
            raise Refuse("layer norm without a scale and shift: archc's layernorm has both")
        return "layernorm", [("eps", float(m.eps))]
    if channels_last and t is nn.Linear:
        return "pointwise_dense", [("units", m.out_features), ("bias", m.bias is not None)]
    if t is nn.LayerNorm or _torchvision_leaf(m) == "LayerNorm2d":
        maps = t is not nn.LayerNorm  # LayerNorm2d: over the maps at each position
        if not m.elementwise_affine or m.bias is None:
            raise Refuse("layer norm without a scale and shift: archc's layernorm has both")
        if rank != (4 if maps else 2) or tuple(m.normalized_shape) != in_shape[1:2]:
            raise Refuse(
                f"layer norm over {tuple(m.normalized_shape)} of a rank-{rank} tensor: archc's layernorm is over the maps"
                " at each position (LayerNorm2d) or over a vector's features"
            )
        return "layernorm", [("eps", float(m.eps))]
    if _torchvision_leaf(m) == "StochasticDepth":
        if m.mode != "row":
            raise Refuse(f"mode={m.mode!r} drops the whole batch at once; archc's stochastic_depth drops each sample (mode 'row')")
        if not 0 <= m.p < 1:
            raise Refuse(f"p={m.p}: archc's stochastic_depth takes a rate from 0 up to 1")
        return "stochastic_depth", [("rate", float(m.p))]
    if t is nn.Conv2d:
        if m.padding_mode != "zeros":
            raise Refuse(f"padding_mode={m.padding_mode!r}: archc pads with zeros")
        k, d = _pair(m.kernel_size), _pair(m.dilation)
        pad: Any
        if m.padding == "same":
            if any(dd * (kk - 1) % 2 for kk, dd in zip(k, d, strict=True)):
                raise Refuse("padding='same' with an even effective kernel pads unevenly")
            pad = "same"
        elif m.padding == "valid":
            pad = 0
        else:
            pad = _square(_pair(m.padding))
        slots = [("filters", m.out_channels), ("kernel", _square(k)), ("stride", _square(_pair(m.stride))), ("pad", pad)]
        return "conv", [*slots, ("dilation", _square(d)), ("groups", m.groups), ("bias", m.bias is not None)]
    if t in (nn.BatchNorm2d, nn.BatchNorm1d):
        if not m.affine or not m.track_running_stats:
            raise Refuse("batch norm without affine parameters or running statistics")
        if m.momentum is None:
            raise Refuse("momentum=None (a cumulative average) is not archc's batchnorm momentum")
        if (t is nn.BatchNorm2d) != (rank == 4) or rank not in (2, 4):
            raise Refuse(f"batch norm on a rank-{rank} tensor")
        return "batchnorm", [("eps", float(m.eps)), ("momentum", float(m.momentum))]
    if t is nn.Linear:
        return "dense", [("units", m.out_features), ("bias", m.bias is not None)]
    if t in (nn.MaxPool2d, nn.AvgPool2d):
        return _pool(
            "maxpool" if t is nn.MaxPool2d else "avgpool",
            m.kernel_size,
            m.stride,
            m.padding,
            m.ceil_mode,
            getattr(m, "dilation", 1),
            getattr(m, "return_indices", False),
            getattr(m, "count_include_pad", True),
            getattr(m, "divisor_override", None),
        )
    if t is nn.AdaptiveAvgPool2d:
        return _adaptive(m.output_size)
    if t is nn.Dropout:
        return "dropout", [("rate", float(m.p))]
    if t is nn.Flatten:
        if (m.start_dim, m.end_dim) != (1, -1):
            raise Refuse(f"Flatten({m.start_dim}, {m.end_dim}): archc flattens everything but the batch")
        return "flatten", []
    if t is nn.LocalResponseNorm:
        return "lrn", [("size", m.size), ("alpha", float(m.alpha)), ("beta", float(m.beta)), ("k", float(m.k))]
    if t is nn.Identity:
        return "identity", []
    if t is nn.PReLU:
        if m.num_parameters != (in_shape[1] if len(in_shape) > 1 else 1):
            raise Refuse(f"PReLU with {m.num_parameters} slope(s): archc's prelu has one per map")
        return "prelu", []
    if t is nn.Softmax:
        if m.dim not in (1, -1 if rank == 2 else 1):
            raise Refuse(f"softmax over dim {m.dim}: archc's softmax is over the maps (dim 1)")
        return "softmax", []
    simple = {nn.ReLU: "relu", nn.ReLU6: "relu6", nn.SiLU: "silu", nn.Hardswish: "hardswish", nn.Hardsigmoid: "hardsigmoid"}
    simple |= {nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}
    if t in simple:
        return simple[t], []
    if t is nn.GELU:
        return "gelu", [] if m.approximate == "none" else [("approximate", m.approximate)]
    if t is nn.LeakyReLU:
        return "leaky_relu", [("slope", float(m.negative_slope))]
    if t is nn.ELU:
        return "elu", [("alpha", float(m.alpha))]
    raise Refuse("no archc op computes it" + ("" if t.__module__.startswith("torch.nn") else " (a leaf module archc does not know)"))


def _pool(
    op: str, k: Any, s: Any, p: Any, ceil: bool, dil: Any, indices: bool, include: bool, divisor: Any
) -> tuple[str, list[tuple[str, Any]]]:
    if _pair(dil) != (1, 1):
        raise Refuse("a dilated pool")
    if indices:
        raise Refuse("return_indices=True")
    if not include:
        raise Refuse("count_include_pad=False: archc's avgpool counts the zero padding")
    if divisor is not None:
        raise Refuse("divisor_override")
    kk = _pair(k)
    ss = kk if s is None or s == [] else _pair(s)
    return op, [("kernel", _square(kk)), ("stride", _square(ss)), ("pad", _square(_pair(p))), ("ceil", bool(ceil))]


def _adaptive(size: Any) -> tuple[str, list[tuple[str, Any]]]:
    if size in (1, (1, 1), [1, 1]):
        return "global_avgpool", []
    if isinstance(size, int):
        size = (size, size)
    if any(s is None for s in size):
        raise Refuse(f"an adaptive average pool to {size}: None (keep that size) has no archc form")
    return "adaptive_avgpool", [("size", _square(_pair(size)))]


FUNCTIONS: dict[str, str] = {
    "relu": "relu", "relu_": "relu", "relu6": "relu6", "silu": "silu", "hardswish": "hardswish",
    "hardsigmoid": "hardsigmoid", "sigmoid": "sigmoid", "tanh": "tanh", "gelu": "gelu",
    "leaky_relu": "leaky_relu", "elu": "elu", "softmax": "softmax", "flatten": "flatten",
    "max_pool2d": "maxpool", "avg_pool2d": "avgpool", "adaptive_avg_pool2d": "adaptive",
    "dropout": "dropout", "cat": "concat", "concat": "concat", "concatenate": "concat",
    "add": "add", "iadd": "add", "add_": "add", "contiguous": "identity", "mean": "mean",
    "mul": "multiply", "multiply": "multiply",
}  # fmt: skip
SIGNATURES: dict[str, tuple[tuple[str, Any], ...]] = {
    "maxpool": (("kernel_size", None), ("stride", None), ("padding", 0), ("dilation", 1), ("ceil_mode", False), ("return_indices", False)),
    "avgpool": (
        ("kernel_size", None),
        ("stride", None),
        ("padding", 0),
        ("ceil_mode", False),
        ("count_include_pad", True),
        ("divisor_override", None),
    ),
    "adaptive": (("output_size", None),),
    "dropout": (("p", 0.5), ("training", True), ("inplace", False)),
    "flatten": (("start_dim", 0), ("end_dim", -1)),
    "concat": (("dim", 0),),
    "softmax": (("dim", None),),
    "gelu": (("approximate", "none"),),
    "leaky_relu": (("negative_slope", 0.01), ("inplace", False)),
    "elu": (("alpha", 1.0), ("inplace", False)),
    "add": (("other", None), ("alpha", 1)),
    "mean": (("dim", None), ("keepdim", False)),
}


def _function(node: Any, rank: int) -> tuple[str, list[tuple[str, Any]]]:
    target = node.target
    name = target if isinstance(target, str) else getattr(target, "__name__", "")
    if name == "fn" and hasattr(target, "__wrapped__"):
        name = target.__wrapped__.__name__
    if name == "fn":  # F.max_pool2d is a boolean dispatch
        import torch.nn.functional as F

        name = {id(F.max_pool2d): "max_pool2d"}.get(id(target), name)
    known = node.op == "call_method" or target in (operator.add, operator.iadd, operator.mul) or _from_torch(target)
    op = FUNCTIONS.get(name) if known else None
    if op is None:
        raise Refuse("no archc op computes it")
    a = _bind(node, SIGNATURES.get(op, ()))
    if op == "add":
        if a.get("alpha", 1) != 1:
            raise Refuse("torch.add with alpha")
        return "add", []
    if op == "concat":
        dim = a["dim"]
        if dim not in (1, 1 - rank):
            raise Refuse(f"concatenation along dim {dim}: archc's concat joins maps (dim 1)")
        return "concat", []
    if op == "flatten":
        if (a["start_dim"], a["end_dim"]) != (1, -1):
            raise Refuse(f"flatten({a['start_dim']}, {a['end_dim']}): archc flattens everything but the batch")
        return "flatten", []
    if op == "mean":
        dims = (a["dim"],) if isinstance(a["dim"], int) else a["dim"]
        if rank == 4 and dims is not None and sorted(d % 4 for d in dims) == [2, 3]:
            return "global_avgpool", []  # with keepdim, Cx1x1: Pooled decides whether it is `keep`
        raise Refuse("a mean other than over H and W")
    if op in ("maxpool", "avgpool"):
        return _pool(op, a["kernel_size"], a["stride"], a["padding"], a["ceil_mode"], a.get("dilation", 1),
                     a.get("return_indices", False), a.get("count_include_pad", True), a.get("divisor_override"))  # fmt: skip
    if op == "adaptive":
        return _adaptive(a["output_size"])
    if op == "dropout":
        # its `training` flag is read when tracing (in eval mode): `self.training` and `False`
        # look alike, and the default True drops in eval too; archc's dropout is nn.Dropout
        raise Refuse("F.dropout's training flag is fixed when tracing; nn.Dropout is what archc's dropout is")
    if op == "softmax":
        if a["dim"] != 1 and not (rank == 2 and a["dim"] == -1):
            raise Refuse(f"softmax over dim {a['dim']}: archc's softmax is over the maps (dim 1)")
        return "softmax", []
    if op == "gelu":
        return "gelu", [] if a["approximate"] == "none" else [("approximate", a["approximate"])]
    if op == "leaky_relu":
        return "leaky_relu", [("slope", float(a["negative_slope"]))]
    if op == "elu":
        return "elu", [("alpha", float(a["alpha"]))]
    return op, []


def _from_torch(target: Any) -> bool:
    mod = getattr(target, "__module__", None) or ""
    return mod.startswith("torch") or (mod == "" and getattr(target, "__self__", None) is not None)


def _bind(node: Any, sig: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    rest = node.args[1:]
    out = {k: (rest[i] if i < len(rest) else node.kwargs.get(k, d)) for i, (k, d) in enumerate(sig)}
    return out


def _reassociate(units: dict[str, Unit]) -> None:
    """DenseNet's `torch.cat(all features so far)` as a chain of two-way concats, each moved into
    the module whose output it appends: the same tensors, a nest of branches archc can state."""
    cats: dict[tuple[str, ...], str] = {}
    for u in units.values():
        if u.op != "concat":
            continue
        if len(u.inputs) == 1:
            u.op = "identity"
            continue
        for j in range(len(u.inputs) - 1, 1, -1):
            prefix = cats.get(tuple(u.inputs[:j]))
            if prefix is not None:
                cats[tuple(u.inputs)] = u.id
                u.inputs = [prefix, *u.inputs[j:]]
                break
        else:
            cats[tuple(u.inputs)] = u.id
        if len(u.inputs) == 2:
            _absorb(units, u)


def _absorb(units: dict[str, Unit], cat: Unit) -> None:
    a, b = cat.inputs
    if b not in units:
        return
    sb = units[b].stack
    common = 0
    while common < min(len(sb), len(cat.stack)) and sb[common] == cat.stack[common]:
        common += 1
    if common >= len(sb):
        return
    scope = sb[: common + 1]
    inside = {u.id for u in units.values() if u.stack[: len(scope)] == scope and u.id != cat.id}
    outside = {i for uid in inside for i in units[uid].inputs if i not in inside}
    if outside == {a}:
        cat.stack = scope


def _live(units: dict[str, Unit], exit_: str) -> dict[str, Unit]:
    live: set[str] = set()
    todo = [exit_]
    while todo:
        uid = todo.pop()
        if uid in live or uid not in units:
            continue
        live.add(uid)
        todo.extend(units[uid].inputs)
    return {k: u for k, u in units.items() if k in live}
