"""Writing one builder function of a generated Keras file: variables, layer names, statements.

A value lives in the function's running variable (`x`, or a branch's own) when its only reader
is the next statement; a value read again later (a `from` reference, an aux head's input, a
network output) gets a variable named after its layer. A module builder names its layers
`f"{name}-…"` after the instance it builds; a `repeat` whose iterations differ only in their
index becomes a `for` loop. Statements are formatted the way `ruff format` formats them.
"""

from __future__ import annotations

import copy
from collections import ChainMap
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

from .. import ir, ops
from ..expr import reads_names
from ..graph import BranchSeq, Instance, Item, Network, Node, RepeatBlock, item_nodes
from .base import Namespace, fmt_float
from .pyformat import exploded

if TYPE_CHECKING:
    from .keras import KerasBackend

LINE = 88  # ruff's default; lines are also stable under longer limits (see render_call)
INDENT = "    "


@dataclass
class Call:
    """`ctor(args, name=name)`, applied to the statement's input unless `apply` is False."""

    ctor: str
    args: list[str]
    name: str | None = None
    apply: bool = True


@dataclass
class Assign:
    target: str  # "return" for a return statement
    call: Call | None
    source: str  # the input expression, or the value of a plain alias when call is None
    comment: str | None = None


@dataclass
class Block:
    header: str
    body: list[Stmt]


Stmt = Union[Assign, Block]


def render_call(head: str, args: list[str], tail: str, indent: int) -> list[str]:
    """`head(args)tail` as ruff formats it (line length 88): on one line if it fits; else the
    arguments on a line of their own; else, or when ruff would rather split `tail`, one per
    line with a trailing comma, which ruff keeps as it is."""
    joined = ", ".join(args)
    one = f"{head}({joined}){tail}"
    if indent + len(one) <= LINE:
        return [one]
    split_tail = tail and indent + len(f"{head}({joined})") + 1 <= LINE
    if args and not split_tail and indent + len(INDENT) + len(joined) <= LINE:
        return [f"{head}(", INDENT + joined, f"){tail}"]
    lines = [line for a in args for line in exploded(a, INDENT, LINE - indent)]
    return [f"{head}(", *lines, f"){tail}"]


def render(stmts: list[Stmt], level: int) -> list[str]:
    out: list[str] = []
    pad = INDENT * level
    for stmt in stmts:
        if isinstance(stmt, Block):
            out.append(pad + stmt.header)
            out += render(stmt.body, level + 1)
            continue
        if stmt.comment:
            out.append(f"{pad}# {stmt.comment}")
        head = "return " if stmt.target == "return" else f"{stmt.target} = "
        if stmt.call is None:
            out.append(pad + head + stmt.source)
            continue
        call = stmt.call
        args = [*call.args, f"name={call.name}"] if call.name else list(call.args)
        tail = f"({stmt.source})" if call.apply else ""
        out += [pad + line for line in render_call(head + call.ctor, args, tail, len(pad))]
    return out


def literal(value: object) -> str:
    """A module argument as Python source: numbers, sizes as tuples, flags as booleans."""
    if isinstance(value, ir.Dims):
        return repr(tuple(value.values))
    if isinstance(value, ir.Ref):
        return {"true": "True", "false": "False"}.get(value.name, repr(value.name))
    if isinstance(value, float):
        return fmt_float(value)
    return repr(value)


def name_component(text: str) -> str:
    """A spec name as TensorFlow accepts it in a name scope ([A-Za-z0-9_.\\/>-]).

    ASCII identifiers pass unchanged; any other character becomes `>` and six hex digits of
    its code point (`층1` → `>00ce351`). Spec names never contain `>`, so this is one-to-one.
    """
    if text.isascii():
        return text
    return "".join(c if c.isascii() else f">{ord(c):06x}" for c in text)


@dataclass
class Scope:
    """How the function being written spells layer names and which nodes it must return."""

    siblings: dict[tuple[str, ...], set[str]]
    chosen: dict[tuple[tuple[str, ...], str], str]
    readers: dict[int, list[int]]
    outputs: set[int]
    prefix: tuple[str, ...] | None = None  # the path `name` stands for in a module builder
    params: dict[str, str] = field(default_factory=dict)
    loops: dict[int, str] = field(default_factory=dict)  # path position → loop variable

    def layer_name(self, path: tuple[str, ...], suffix: str = "") -> str:
        comps = [f"{{{self.loops[i]}}}" if i in self.loops else name_component(c) for i, c in enumerate(path)]
        if suffix:  # a helper layer after the node (its last component may be a loop's index)
            comps[-1] += suffix
        if self.prefix is not None:
            comps = ["{name}", *comps[len(self.prefix) :]]
        text = "-".join(comps)
        return f'f"{text}"' if "{" in text else f'"{text}"'

    def aux_name(self, path: tuple[str, ...], suffix: str) -> str:
        """A helper layer's name: the node's plus a suffix no sibling of the node is called."""
        key = (path, suffix)
        if key not in self.chosen:
            taken = self.siblings.setdefault(path[:-1], set())
            leaf, k = f"{path[-1]}_{suffix}", 1
            while (leaf if k == 1 else f"{leaf}_{k}") in taken:
                k += 1
            self.chosen[key] = leaf if k == 1 else f"{leaf}_{k}"
            taken.add(self.chosen[key])
        return self.layer_name(path, self.chosen[key][len(path[-1]) :])


def siblings(net: Network) -> dict[tuple[str, ...], set[str]]:
    out: dict[tuple[str, ...], set[str]] = {}
    for node in net.nodes:
        for k in range(len(node.path)):
            out.setdefault(node.path[:k], set()).add(node.path[k])
    return out


def readers(net: Network) -> dict[int, list[int]]:
    """Each node → the nodes that read it."""
    out: dict[int, list[int]] = {}
    for node in net.nodes:
        for i in node.inputs:
            out.setdefault(i, []).append(node.id)
    return out


def positions(items: list[Item]) -> dict[int, int]:
    """Each node of a scope → the position of the item that holds it."""
    return {n.id: j for j, item in enumerate(items) for n in item_nodes(item)}


def output_of(item: Item) -> int:
    return item.id if isinstance(item, Node) else item.output


class FunctionWriter:
    """Writes the network's builder, and the builder of every module it calls on the way."""

    def __init__(
        self,
        backend: KerasBackend,
        net: Network,
        functions: Namespace,
        modules: dict[tuple[str, str], str],
        builders: list[str],
        scope: Scope | None = None,
    ) -> None:
        self.backend, self.net, self.functions, self.modules, self.builders = backend, net, functions, modules, builders
        # A module's builder returns its output alone (module_function); only the network's
        # builder reads the network's body and heads, which would cost every instance's writer
        # a pass over the whole network (quadratic in the number of calls).
        self.returned: set[int] = set()
        self.top: list[Item] = []
        if scope is None:  # the network's builder: its parameters are the network's
            heads = [output_of(item) for item in net.aux_heads]
            names = Namespace(set(backend_reserved()) | module_names(net), avoid=functions.used, publish=backend.local_names)
            params = {key: names.fresh(key) for key in net.params}
            scope = Scope(siblings(net), {}, readers(net), {net.output, *heads}, params=params)
            self.returned = {net.output, *heads}
            self.top = [item for item in net.body if net.is_live(item)]  # the network's body; dead layers are left out
        self.scope = scope
        self.readers = self.scope.readers
        reserved = set(backend_reserved()) | module_names(net) | set(functions.used) | set(self.scope.params.values())
        self.used: MutableMapping[str, bool] = dict.fromkeys(reserved, True)
        self.legal = Namespace(reserved).legal
        self.var_of: MutableMapping[int, str] = {}

    # -- variables -------------------------------------------------------------------------------
    def fresh(self, base: str) -> str:
        """A new local: never a name taken here, nor a builder's (written already or later:
        builders avoid every local handed out, backend.local_names)."""
        ident = self.legal(base)
        cand, k = ident, 1
        while cand in self.used or cand in self.functions.used:
            k += 1
            cand = f"{ident}_{k}"
        self.used[cand] = True
        self.backend.local_names.add(cand)
        return cand

    def target(self, items: list[Item], k: int, chain: str, result: int, index: dict[int, int]) -> str:
        """The variable item k of a scope writes: the running one, or its own.

        `index` maps each node of the scope to the position of the item that holds it."""
        out = output_of(items[k])
        inside = {index.get(r, -1) for r in self.readers.get(out, [])} - {k}
        if (items[k].aux and items is self.top) or (out in self.returned and out != result):
            return self.fresh(items[k].name)
        if k + 1 < len(items):
            ok = inside == {k + 1} and not (items[k + 1].aux and items is self.top)
        else:
            ok = out == result and inside <= {-1}
        return chain if ok else self.fresh(items[k].name)

    # -- statements ------------------------------------------------------------------------------
    def items(self, items: list[Item], chain: str, result: int) -> list[Stmt]:
        stmts: list[Stmt] = []
        items = self.top if items is self.net.body else [item for item in items if self.net.is_live(item)]
        index = positions(items)
        for k, item in enumerate(items):
            body = self.item(items, k, chain, result, index)
            if item.aux and self.scope.prefix is None and items is self.top:
                stmts.append(Block("if aux:", body))
            else:
                stmts += body
        return merge_aux_blocks(stmts)

    def item(self, items: list[Item], k: int, chain: str, result: int, index: dict[int, int]) -> list[Stmt]:
        item = items[k]
        if isinstance(item, Node):
            return self.node(item, lambda: self.target(items, k, chain, result, index))
        if isinstance(item, Instance):
            target = self.target(items, k, chain, result, index)
            stmt = Assign(target, self.instance_call(item), "", self.comment(item))
            self.var_of[item.output] = target
            return [stmt]
        return self.repeat(items, k, chain, result, index)

    def node(self, node: Node, target_of: Callable[[], str]) -> list[Stmt]:
        stmts: list[Stmt] = []
        for branch in node.branches:
            stmts += self.branch(branch)
        self.backend.scope = self.scope
        calls = self.backend.emitter(node)(node)
        source = self.source(node)
        target = target_of()
        for j, call in enumerate(calls):
            stmts.append(Assign(target, call, source, self.comment(node) if j == 0 else None))
            source = target
        self.var_of[node.id] = target if calls else source
        return stmts

    def source(self, node: Node) -> str:
        if not ops.CATALOGUE[node.op].merge:
            return self.var_of[node.inputs[0]]
        return "[" + ", ".join(self.var_of[i] for i in node.inputs) + "]"

    def branch(self, branch: BranchSeq) -> list[Stmt]:
        if not branch.items:
            return []
        var = self.fresh(branch.name)
        return self.items(branch.items, var, branch.output)

    def comment(self, item: Item) -> str | None:
        if not self.backend.line_comments:
            return None
        return f"{self.backend.spec_text}:{item.span.line}"

    # -- module calls and repeats ----------------------------------------------------------------
    def instance_call(self, inst: Instance) -> Call:
        fn = self.module_function(inst)
        args = [self.var_of[inst.input]]
        for value, expr in zip(inst.args, inst.arg_exprs, strict=True):
            python = self.backend.python(expr) if reads_names(expr) else None
            args.append(python if python is not None else literal(value))
        args.append(f"name={self.scope.layer_name(inst.path)}")
        return Call(fn, args, None, apply=False)

    def module_function(self, inst: Instance) -> str:
        """The builder of the instance's module, written on first use; instances whose bodies
        read differently (a parameter-dependent padding, say) get builders of their own."""
        mdef = self.net.modules[inst.module]
        names = Namespace(set(backend_reserved()) | module_names(self.net), avoid=self.functions.used, publish=self.backend.local_names)
        params = {p.text: names.fresh(p.text) for p in mdef.params}
        inside = {n.id for n in item_nodes(inst)}
        scope = Scope(self.scope.siblings, self.scope.chosen, self.readers, self.scope.outputs & inside, inst.path, params)
        inner = FunctionWriter(self.backend, self.net, self.functions, self.modules, self.builders, scope)
        readers = {j for j, item in enumerate(inst.body) for n in item_nodes(item) if inst.input in n.inputs}
        x = "x" if readers <= {0} else "inputs"
        inner.used.update({"x": True, x: True})
        inner.var_of[inst.input] = x
        body = finish(inner.items(inst.body, "x", inst.output), inner.var_of.get(inst.output, x))
        text = "\n".join(render(body, 1))
        key = (inst.module, text)
        if key not in self.modules:
            variants = sum(1 for m, _ in self.modules if m == inst.module)
            base = Namespace(backend_reserved()).legal(inst.module)
            self.modules[key] = self.functions(f"{base}_{variants + 1}" if variants else base)
            signature = ", ".join([x, *params.values()])
            doc = f'    """The spec\'s module {mdef.name.text}; `name` prefixes its layer names."""'
            self.builders.append(f"def {self.modules[key]}({signature}, *, name):\n{doc}\n{text}\n")
        return self.modules[key]

    def repeat(self, items: list[Item], k: int, chain: str, result: int, index: dict[int, int]) -> list[Stmt]:
        """A loop over one iteration's statements, or, when iterations differ, all of them."""
        rep = items[k]
        assert isinstance(rep, RepeatBlock)
        loop = self.loop_body(rep, chain)
        if loop is None:
            flat = [it for body in rep.iterations for it in body]
            expanded = [*items[:k], *flat, *items[k + 1 :]]
            where = positions(expanded)
            stmts: list[Stmt] = []
            for j in range(k, k + len(flat)):
                stmts += self.item(expanded, j, chain, result, where)
            return stmts
        target = self.target(items, k, chain, result, index)
        var, body = loop
        stmts = [] if self.var_of[rep.input] == chain else [Assign(chain, None, self.var_of[rep.input])]
        stmts.append(Block(f"for {var} in range({rep.count}):", body))
        if target != chain:
            stmts.append(Assign(target, None, chain))
        self.var_of[rep.output] = target
        return stmts

    def loop_body(self, rep: RepeatBlock, chain: str) -> tuple[str, list[Stmt]] | None:
        """The statements of one iteration with its index as a loop variable, when every
        iteration reads the same apart from the index; None otherwise."""
        position = len(rep.path)
        var = "i" if not self.scope.loops else self.fresh(f"i{len(self.scope.loops) + 1}")
        first: tuple[str, list[Stmt], FunctionWriter] | None = None
        source = rep.input
        for body in rep.iterations:
            trial = copy.copy(self)  # writes go to overlays, so that each trial starts afresh
            trial.used, trial.var_of = overlay(self.used, {var: True}), overlay(self.var_of, {})
            trial.scope = copy.copy(self.scope)
            trial.scope.loops = {**self.scope.loops, position: var}
            trial.var_of[source] = chain
            source = output_of(body[-1])
            stmts = trial.items(body, chain, source)
            text = "\n".join(render(stmts, 0))
            if trial.var_of.get(source) != chain or (first is not None and text != first[0]):
                return None
            first = first or (text, stmts, trial)
        assert first is not None
        _, stmts, trial = first
        assert isinstance(trial.used, ChainMap)
        self.used.update(trial.used.maps[0])  # what the trial wrote: the rest is self.used already
        return var, stmts

    # -- the network builder ---------------------------------------------------------------------
    def network(self, entry: str) -> str:
        net = self.net
        image = self.fresh(net.input_name)
        self.var_of[net.input.id] = image
        shape = repr(channels_last(net.input_shape))
        first = Assign(image, Call("keras.Input", [f"shape={shape}"], self.scope.layer_name(net.input.path), apply=False), "")
        body = [first, *self.items(net.body, "x", net.output)]
        main = self.var_of[net.output]
        model = f'name="{net.name}"'
        heads = [self.var_of[output_of(item)] for item in net.aux_heads]
        body += self.classifier(net.nodes[net.output], main)
        if heads:
            wraps = [stmt for item, var in zip(net.aux_heads, heads, strict=True) for stmt in self.classifier(net.node_of(item), var)]
            ret = Assign("return", Call("keras.Model", [image, f"[{', '.join([main, *heads])}]", model], apply=False), "")
            body.append(Block("if aux:", [*wraps, ret]))
        body.append(Assign("return", Call("keras.Model", [image, main, model], apply=False), ""))
        doc = self.docstring(heads)
        default = '"softmax"' if self.backend.softmax is not False else "None"
        extra = "".join(f", {self.scope.params[k]}={v!r}" for k, (_, v) in net.params.items())
        extra = f", *{extra}" if extra else ""
        return f"def {entry}(aux=False, classifier_activation={default}{extra}):\n{doc}\n" + "\n".join(render(body, 1)) + "\n"

    def classifier(self, node: Node, var: str) -> list[Stmt]:
        """An output that ends in the spec's softmax gets `classifier_activation`, as in
        keras.applications: the softmax by default, None for logits (the layer before it)."""
        if node.id not in self.net.final_softmaxes:
            return []
        call = Call("layers.Activation", ["classifier_activation"], self.scope.aux_name(node.path, "classifier"))
        return [Block("if classifier_activation is not None:", [Assign(var, call, var)])]

    def docstring(self, heads: list[str]) -> str:
        net = self.net
        shape, out = (", ".join(["batch", *map(str, channels_last(s))]) for s in (net.input_shape, net.nodes[net.output].shape))
        at = " at " + ", ".join(f"{k}={v!r}" for k, (_, v) in net.params.items()) if net.params else ""
        lines = [f'    """{net.name}: input ({shape}), output ({out}){at}.', ""]
        if heads:
            lines.append(f"    aux=True adds the aux heads' outputs after the main one: {', '.join(heads)}.")
        else:
            lines.append(f"    {net.name} has no aux heads; `aux` is accepted for a uniform API.")
        if net.final_softmaxes:
            lines.append("    classifier_activation: applied to the outputs the spec ends in softmax (None: logits).")
        lines.append('    """')
        return "\n".join(lines)


def channels_last(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (*shape[1:], shape[0]) if len(shape) == 3 else tuple(shape)


def variant(modules: dict[tuple[str, str], str], module: str) -> int:
    return 1 + sum(1 for m, _ in modules if m == module)


def finish(body: list[Stmt], result: str) -> list[Stmt]:
    """End a module builder: return its last statement's value directly where it can."""
    last = body[-1] if body else None
    if isinstance(last, Assign) and last.target == result and last.call is not None:
        return [*body[:-1], Assign("return", last.call, last.source, last.comment)]
    return [*body, Assign("return", None, result)]


def merge_aux_blocks(stmts: list[Stmt]) -> list[Stmt]:
    out: list[Stmt] = []
    for stmt in stmts:
        if isinstance(stmt, Block) and stmt.header == "if aux:" and out and isinstance(out[-1], Block) and out[-1].header == "if aux:":
            out[-1] = Block("if aux:", out[-1].body + stmt.body)
        else:
            out.append(stmt)
    return out


def overlay(base: MutableMapping[Any, Any], top: dict[Any, Any]) -> ChainMap[Any, Any]:
    """`top` over `base`: writes go to `top`. An overlay of an overlay is one ChainMap of all
    their maps, not a chain of ChainMaps: nested repeats (one overlay per level) would
    otherwise pay a Python call per level on every lookup."""
    return ChainMap(top, *(base.maps if isinstance(base, ChainMap) else [base]))


def module_names(net: Network) -> set[str]:
    legal = Namespace(backend_reserved()).legal
    return {legal(name) for name in net.modules}


def backend_reserved() -> frozenset[str]:
    from .keras import RESERVED

    return RESERVED
