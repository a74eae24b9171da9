"""An imported graph (caffe.py's Nodes) → readable .arch text.

Activations fuse into the layer before them where it takes one and nothing else reads it; the
last output is the network's, every other is an aux head; layers named `block/...` whose group has
one input and one output and is a chain of layers and merges form an instance, and instances with
the same structure (differing only in numbers) become one `module` whose parameters are the
numbers that differ. The text is then put through `archc fmt`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from ..diagnostics import Diagnostic, Severity, Span
from ..ops import CATALOGUE
from .caffe import TAKES_ACTIVATION, Arg, Graph, Node

KEYWORDS = {"network", "module", "input", "repeat", "branch", "connections", "from", "aux"}
# boolean options written as a bare word when true (`ceil`, `keep`, `stored`): the catalogue's flags
FLAGS = {word for op in CATALOGUE.values() for word, (option, value) in op.flags.items() if value is True and word == option}
FUSABLE = {"relu", "sigmoid", "tanh", "softmax", "elu", "relu6", "silu", "hardswish", "hardsigmoid", "gelu"}


def legal(name: str, op: str) -> str:
    """A Caffe name as an archc name: each run of other characters than letters, digits and `_`
    becomes `_` (`inception_3a/1x1` → `inception_3a_1x1`); a leading digit gets the op in front
    (`1x1` → `conv_1x1`); a keyword gets `_` after it."""
    text = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or op
    if text[0].isdigit():
        text = f"{op}_{text}"
    return text + "_" if text in KEYWORDS else text


class Scope:
    def __init__(self, taken: set[str] | None = None) -> None:
        self.taken = set(taken or ())

    def claim(self, base: str) -> str:
        name, k = base, 1
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name


@dataclass(eq=False)
class Merge:
    node: Node
    branches: list[list[Node | Merge]]


Items = list["Node | Merge"]


@dataclass(eq=False)
class Instance:
    prefix: str  # the Caffe group (`inception_3a`), or the aux head's name
    entry: Node
    exit: Node
    items: Items
    aux: bool = False
    module: str = ""
    values: list[str] = field(default_factory=list)  # the call's arguments


class NotABlock(Exception):
    pass


# -- graph passes ---------------------------------------------------------------------------------------
def link(nodes: list[Node]) -> None:
    for n in nodes:
        n.readers = []
    for n in nodes:
        for i in n.inputs:
            i.readers.append(n)


def fuse(nodes: list[Node]) -> list[Node]:
    """`conv; relu` → `conv ... relu` where the conv takes an activation and only the relu reads it."""
    link(nodes)
    kept = []
    for a in nodes:
        p = a.inputs[0] if len(a.inputs) == 1 else None
        if a.op in FUSABLE and not a.args and p is not None and p.op in TAKES_ACTIVATION and p.activation is None and p.readers == [a]:
            p.activation = a.op
            for r in a.readers:
                r.inputs = [p if i is a else i for i in r.inputs]
            p.readers = a.readers
            continue
        kept.append(a)
    link(kept)
    return kept


def ancestors(node: Node) -> set[Node]:
    seen, todo = set(), [node]
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(n.inputs)
    return seen


def group_of(node: Node) -> str:
    if not node.caffe:  # an added flatten: its dense's group
        return group_of(node.readers[0]) if node.readers else ""
    return node.caffe.split("/", 1)[0] if "/" in node.caffe else ""


def local_name(node: Node, prefix: str) -> str:
    return node.caffe[len(prefix) + 1 :] if node.caffe.startswith(prefix + "/") else node.caffe


def series(end: Node, start: Node, members: set[Node], order: dict[Node, int], seen: set[Node]) -> Items:
    """The layers from `start` (exclusive) to `end`, each reading the one before; a merge's inputs
    become branches from the latest node every path to the merge passes."""
    items: Items = []
    n = end
    while n is not start:
        if n not in members or n in seen:
            raise NotABlock
        seen.add(n)
        if len(n.inputs) > 1:
            fork = dominator(n, start, members, order)
            items.append(Merge(n, [series(i, fork, members, order, seen) for i in n.inputs]))
            n = fork
        elif len(n.inputs) == 1:
            items.append(n)
            n = n.inputs[0]
        else:
            raise NotABlock
    return items[::-1]


def dominator(node: Node, start: Node, members: set[Node], order: dict[Node, int]) -> Node:
    doms: dict[Node, set[Node]] = {start: {start}}
    for n in sorted(ancestors(node) & members, key=order.__getitem__):
        if any(i not in doms for i in n.inputs):
            raise NotABlock
        doms[n] = {n}.union(set.intersection(*(doms[i] for i in n.inputs)))
    return max(doms[node] - {node}, key=order.__getitem__)


def block(members: list[Node], outputs: set[Node], order: dict[Node, int]) -> tuple[Node, Node, Items]:
    """A group as one block: one input from outside, one output read outside, all in between a chain."""
    inside = set(members)
    entries = {i for n in members for i in n.inputs if i not in inside}
    exits = {n for n in members if n in outputs or any(r not in inside for r in n.readers)}
    if len(entries) != 1 or len(exits) != 1:
        raise NotABlock
    (entry,), (out,) = entries, exits
    seen: set[Node] = set()
    items = series(out, entry, inside, order, seen)
    if seen != inside:
        raise NotABlock
    return entry, out, items


# -- text ------------------------------------------------------------------------------------------------
def number(v: int | float) -> str:
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    return str(v)


def value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, tuple):
        return "x".join(map(str, v))
    if isinstance(v, str):  # a word: `keras_kernel=grouped`
        return v
    if isinstance(v, list):  # one number per channel: `mean=0.485, 0.456, 0.406`
        return ", ".join(number(x) for x in v)
    assert isinstance(v, int | float)
    return number(v)


def shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


class Writer:
    """Renders items; numbers become holes `\\0k\\0` when `holes` collects them (a module's template)."""

    def __init__(self, holes: list[tuple[str, str]] | None = None) -> None:
        self.holes = holes

    def arg(self, layer: str, a: Arg) -> str:
        if a.key in FLAGS and a.value is True:
            return a.key
        text = value(a.value)
        if self.holes is not None and not isinstance(a.value, bool):
            self.holes.append((text, f"{layer}_{a.key}"))
            text = f"\0{len(self.holes) - 1}\0"
        return text if a.positional else f"{a.key}={text}"

    def op(self, node: Node, name: str) -> str:
        words = [node.op] + [self.arg(name or node.op, a) for a in node.args] + ([node.activation] if node.activation else [])
        return (f"{name}: " if name else "") + " ".join(words)

    def items(self, items: Items, prefix: str, indent: int) -> list[str]:
        scope, lines, pad = Scope(), [], "    " * indent
        for item in items:
            node = item.node if isinstance(item, Merge) else item
            name = scope.claim(legal(local_name(node, prefix), node.op)) if node.caffe else ""
            if isinstance(item, Node):
                lines.append(pad + self.op(item, name))
                continue
            lines.append(pad + self.op(node, name) + " {")
            for br in item.branches:
                inner = self.items(br, prefix, indent + 2)
                if not inner:
                    lines.append(pad + "    branch")
                elif len(inner) == 1 and "{" not in inner[0]:
                    lines.append(pad + "    branch { " + inner[0].strip() + " }")
                else:
                    lines += [pad + "    branch {", *inner, pad + "    }"]
            lines.append(pad + "}")
        return lines


# -- the spec ----------------------------------------------------------------------------------------------
class Refused(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def refuse(message: str, span: Span) -> Refused:
    from .. import codes

    return Refused(Diagnostic(Severity.ERROR, codes.UNSUPPORTED, message, span))


@dataclass
class Plan:
    main: list[Node]
    output: Node
    instances: dict[Node, Instance]  # by exit node
    members: dict[Node, Instance]
    aux: dict[Node, list[Instance]]  # by the node they read


def plan(nodes: list[Node]) -> Plan:
    order = {n: k for k, n in enumerate(nodes)}
    sinks = [n for n in nodes if not n.readers and n.op != "input"]
    if not sinks:
        raise refuse("the net computes nothing: no layer reads its input", nodes[0].span)
    output = sinks[-1]
    main = ancestors(output)
    result = Plan(sorted(main, key=order.__getitem__), output, {}, {}, {})
    taken: set[Node] = set()
    for sink in sinks[:-1]:
        head = ancestors(sink) - main
        groups = {group_of(n) for n in head}
        name = groups.pop() if len(groups) == 1 and "" not in groups else sink.caffe
        if head & taken:
            raise refuse(f"{sink.caffe} ({sink.kind}): an aux head that shares layers with another", sink.span)
        taken |= head
        members = sorted(head, key=order.__getitem__)
        try:
            entry, out, items = block(members, {sink}, order)
        except NotABlock:
            raise refuse(f"{sink.caffe} ({sink.kind}): an output beside the network's that reads it at more than one place,"
                         " or is no chain of layers and merges: archc's aux heads read one layer", sink.span) from None  # fmt: skip
        inst = Instance(name, entry, out, items, aux=True)
        result.aux.setdefault(entry, []).append(inst)
        for m in members:
            result.members[m] = inst
    by_group: dict[str, list[Node]] = {}
    for n in result.main:
        if group_of(n) and n.op != "input":
            by_group.setdefault(group_of(n), []).append(n)
    for prefix, members in by_group.items():
        if len(members) < 2:
            continue
        try:
            entry, out, items = block(members, {output} | set(result.aux), order)
        except NotABlock:
            continue
        inst = Instance(prefix, entry, out, items)
        result.instances[out] = inst
        for m in members:
            result.members[m] = inst
    return result


def modules(p: Plan, taken: set[str]) -> list[str]:
    """Instances of one structure → one module; a main-path group without a twin stays inline."""
    by_key: dict[str, list[tuple[Instance, list[tuple[str, str]]]]] = {}
    for inst in [*p.instances.values(), *(i for heads in p.aux.values() for i in heads)]:
        holes: list[tuple[str, str]] = []
        key = "\n".join(Writer(holes).items(inst.items, inst.prefix, 1))
        by_key.setdefault(key, []).append((inst, holes))
    names = Scope(taken | set(CATALOGUE) | KEYWORDS)
    texts = []
    for key, found in by_key.items():
        insts = [i for i, _ in found]
        if len(found) < 2 and not insts[0].aux:
            for m in [m for m, i in p.members.items() if i is insts[0]]:
                del p.members[m]
            del p.instances[insts[0].exit]
            continue
        common = common_prefix([legal(i.prefix, "block") for i in insts]).rstrip("_")
        if len(insts) == 1:
            common = common.rstrip("0123456789_")
        if insts[0].aux and not common.endswith("head"):  # `loss1/...` names a head whose loss is left out
            common = f"{common}_head".lstrip("_")
        name = names.claim(common if common and common not in names.taken else common + "_block")
        params, fills = Scope({line.split(":")[0].strip() for line in key.split("\n") if ":" in line}), []
        signature: list[str] = []
        for k in range(len(found[0][1])):
            seen = [holes[k][0] for _, holes in found]
            if len(set(seen)) == 1:
                fills.append(seen[0])
            else:
                fills.append(params.claim(found[0][1][k][1]))
                signature.append(fills[-1])
                for inst, holes in found:
                    inst.values.append(holes[k][0])
        for inst in insts:
            inst.module = name
        body = filled(key, fills)
        texts.append(f"module {name}({', '.join(signature)}) {{\n{body}\n}}\n")
    return texts


def filled(template: str, fills: list[str]) -> str:
    return re.sub("\0([0-9]+)\0", lambda m: fills[int(m.group(1))], template)


def common_prefix(names: list[str]) -> str:
    first, last = min(names), max(names)
    k = 0
    while k < len(first) and first[k] == last[k]:
        k += 1
    return first[:k]


def write(graph: Graph, file: str, name: str | None, framework: str = "Caffe") -> str:
    nodes = fuse(graph.nodes)
    p = plan(nodes)
    top = Scope()
    refs: dict[Node, str] = {}
    first = nodes[0]
    refs[first] = top.claim(legal(first.caffe, "input"))
    units: list[tuple[str, Node]] = []
    for n in p.main[1:]:
        inst = p.members.get(n)
        if inst is None:
            units.append((top.claim(legal(n.caffe, n.op)) if n.caffe else "", n))
    # names first, so a module's name never takes a layer's; instances claim theirs after the plain layers
    claimed = {inst.exit: top.claim(legal(inst.prefix, "block")) for inst in p.instances.values()}
    refs.update(claimed)
    for heads in p.aux.values():
        for inst in heads:
            refs[inst.exit] = top.claim(legal(inst.prefix, "aux"))
    for unit_name, n in units:
        refs[n] = unit_name
    module_texts = modules(p, set(top.taken))
    for exit_node, claim in claimed.items():  # a group that did not become a module is inline layers, named below
        if exit_node not in p.instances:
            top.taken.discard(claim)
            del refs[exit_node]
    lines = [f"    input {refs[first]}: {shape_text(first.shape)}"]
    prev = first
    for aux in p.aux.get(first, []):
        lines.append(aux_line(aux, refs))
    for n in p.main[1:]:
        inst = p.members.get(n)
        if inst is not None and n is not inst.exit:
            continue
        if inst is None and n not in refs:
            refs[n] = top.claim(legal(n.caffe, n.op)) if n.caffe else ""
        sources = inst_inputs = [inst.entry] if inst is not None else n.inputs
        if inst is not None:
            body = f"{inst.module}({', '.join(inst.values)})"
        else:
            body = Writer().op(n, "")
        text = (f"{refs[n]}: " if refs[n] else "") + body
        if len(sources) > 1:
            text += " from " + ", ".join(refs[s] for s in sources)
        elif inst_inputs[0] is not prev:
            text += f" from {refs[inst_inputs[0]]}"
        if inst is not None or n is p.output or n.shape != inst_inputs[0].shape:
            text += f"\0-> {shape_text(n.shape)}"
        lines.append("    " + text)
        prev = n
        for aux in p.aux.get(n, []):
            lines.append(aux_line(aux, refs))
    stem = "" if file.startswith("<") else os.path.splitext(os.path.basename(file))[0]
    title = name or legal(graph.name or stem, "Imported")
    source = f"a {framework} {'net' if framework == 'Caffe' else 'model'}" if file.startswith("<") else os.path.basename(file)
    head = [f"# Imported from {source} by `archc import` ({framework})."]
    head += ["# " + " ".join(d.message.split()) for d in graph.notes]  # one line each, whatever the names hold
    return "\n".join([*head, "", *(t for m in module_texts for t in (m, "")), f"network {title} {{", *aligned(lines), "}", ""])


def aligned(lines: list[str]) -> list[str]:
    """The `-> SHAPE` assertions in one column, as the specs that come with archc write them."""
    column = max((line.index("\0") for line in lines if "\0" in line), default=0) + 4
    return [line.replace("\0", " " * (column - line.index("\0"))) if "\0" in line else line for line in lines]


def aux_line(inst: Instance, refs: dict[Node, str]) -> str:
    if inst.module:
        body = f"{inst.module}({', '.join(inst.values)})"
    else:
        body = Writer().op(inst.exit, "")
    return f"    {refs[inst.exit]}: aux {body} from {refs[inst.entry]}\0-> {shape_text(inst.exit.shape)}"
