"""A PyTorch nn.Module → a readable .arch spec that compiles back to the same function.

`from_torch(module, (3, 224, 224))` traces the module with torch.fx, maps each leaf module and
function to an archc op (or refuses it: `TorchImportError` lists every module path, op and
reason, and nothing is approximated), and rebuilds the structure from the module hierarchy:
forks and merges become `add { branch ... }` / `concat { branch ... }`, a submodule class used
more than once becomes a `module` with a parameter for each value that differs between its
instances, and consecutive identical instances become a `repeat`.

archc names a layer by its spec path (a branch, a repeat iteration and a module call each add a
step), which cannot always spell the source's state_dict keys (`layer1.0.downsample.0`):
`import_torch` returns the spec together with `keys`, the compiled model's key → the source's
key, and `TorchImport.state_dict(source)` renames a source state_dict so that the compiled
model loads it with `strict=True`. torch is imported only inside these functions.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Any

from . import torch_ops
from .torch_ops import DEFAULTS, Refusal, TorchImportError, Unit

__all__ = ["Refusal", "TorchImport", "TorchImportError", "from_torch", "import_callable", "import_torch"]


@dataclass
class TorchImport:
    """The spec's text, and the compiled model's state_dict key → the source's key."""

    spec: str
    keys: dict[str, str]

    @property
    def renamed(self) -> bool:
        """Whether any key differs, so that a source state_dict needs `state_dict()` to load."""
        return any(k != v for k, v in self.keys.items())

    def state_dict(self, source: dict[str, Any]) -> dict[str, Any]:
        """A source state_dict under the compiled model's keys (load it with strict=True)."""
        return {mine: source[theirs] for mine, theirs in self.keys.items()}


DEFAULT_INPUT = (3, 224, 224)


def import_callable(target: str, input_shape: tuple[int, ...] | str = DEFAULT_INPUT) -> str:
    """`package.module:callable` (e.g. `torchvision.models:resnet50`), called with no arguments, as spec text."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"{target!r}: expected PACKAGE.MODULE:CALLABLE, e.g. torchvision.models:resnet50")
    factory: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        factory = getattr(factory, part)
    return from_torch(factory(), input_shape)


def from_torch(module: Any, input_shape: tuple[int, ...] | str = DEFAULT_INPUT) -> str:
    """The spec's text of a torch nn.Module at `input_shape` (CxHxW or N, no batch)."""
    return import_torch(module, input_shape).spec


def import_torch(module: Any, input_shape: tuple[int, ...] | str = DEFAULT_INPUT, name: str | None = None) -> TorchImport:
    """The spec and the state_dict key map; raises TorchImportError listing every refusal."""
    shape = _shape(input_shape)
    units, entry, exit_ = torch_ops.trace(module, shape)
    counts: dict[str, int] = {}
    for path, sub in module.named_modules():
        if path and not torch_ops.is_container(sub) and not torch_ops.is_leaf(sub):
            counts[type(sub).__name__] = counts.get(type(sub).__name__, 0) + 1
    order = {p: k for k, (p, _) in enumerate(module.named_modules())}
    builder = Builder(units, counts, {p: type(m).__name__ for p, m in module.named_modules()})
    body = builder.scope((), "", entry, exit_)
    if builder.refusals:
        raise TorchImportError(builder.refusals)
    builder.groups.sort(key=lambda g: min(order[i.path] for i in g.instances))  # in the order of the model's modules
    net_name = name or re.sub(r"\W", "_", type(module).__name__)
    _name_groups(builder.groups, net_name)
    cls = type(module)
    header = f"# {net_name}: {cls.__module__}.{cls.__qualname__} at {'x'.join(map(str, shape))}, imported by archc from PyTorch.\n"
    spec = header + Printer(builder.groups).program(net_name, shape, body)
    spec, keys = _finish(spec, body, dict(module.state_dict()))
    if any(k != v for k, v in keys.items()):
        note = "# Layer paths differ from the source's state_dict keys: load it through import_torch(...).state_dict().\n"
        spec = header + note + spec[len(header) :]
    return TorchImport(spec, keys)


def _name_groups(groups: list[Group], network: str) -> None:
    """A module is named after its class; a class with several structures: the plainest keeps the
    class's name, each other one is named after a layer only it has (`bottleneck_downsample`), or
    `_residual` for the one that adds its input, or numbered. No name is an op's, a keyword or
    another module's."""
    from ..ops import CATALOGUE

    by_class: dict[str, list[Group]] = {}
    for g in groups:
        by_class.setdefault(g.name, []).append(g)
    for base, gs in by_class.items():
        if len(gs) == 1:
            continue
        names = {id(g): [n for n in _layer_names(g.instances[0].items)] for g in gs}
        plain = min(gs, key=lambda g: len(names[id(g)]))
        taken = {base}
        for k, g in enumerate(gs, 1):
            if g is plain:
                continue
            stems = {n.split("_")[0] for n in names[id(plain)]}
            extra = [n.split("_")[0] for n in names[id(g)] if n.split("_")[0] not in stems]
            if not extra and _has_add(g.instances[0].items) and not _has_add(plain.instances[0].items):
                extra = ["residual"]
            name = f"{base}_{extra[0]}" if extra else f"{base}_{k}"
            while name in taken:
                name = f"{name}_{k}"
            taken.add(name)
            g.name = name
    used = {*CATALOGUE, *KEYWORDS, network}
    for g in groups:
        name, k = g.name, 2
        while name in used:
            name, k = f"{g.name}_{k}", k + 1
        g.name = name
        used.add(name)


def _has_add(items: list[Any]) -> bool:
    return any(isinstance(item, Merge) and item.unit.op == "add" for item in items)


def _layer_names(items: list[Any]) -> list[str]:
    out: list[str] = []
    for item in items:
        if isinstance(item, Layer | Call | Repeat) and item.name:
            out.append(item.name)
        if isinstance(item, Merge):
            for _, br in item.branches:
                out += _layer_names(br)
    return out


def _shape(input_shape: tuple[int, ...] | str) -> tuple[int, ...]:
    if isinstance(input_shape, str):
        return tuple(int(p) for p in input_shape.split("x"))
    return tuple(int(p) for p in input_shape)


# -- the spec's items --------------------------------------------------------------------------------


@dataclass
class Layer:
    name: str | None
    unit: Unit


@dataclass
class Merge:
    unit: Unit  # the add or cat
    branches: list[tuple[str | None, list[Any]]]
    activation: Unit | None = None


@dataclass
class Call:
    name: str
    instance: Instance


@dataclass
class Repeat:
    name: str
    calls: list[Call]


@dataclass
class Instance:
    path: str  # the source module's path
    cls: str
    items: list[Any]
    group: Group | None = None

    def raw(self) -> list[Any]:
        return _raw(self.items)


@dataclass
class Group:
    """One spec module: the instances of one class that share a structure."""

    name: str
    signature: Any
    instances: list[Instance] = field(default_factory=list)
    varying: dict[int, str] = field(default_factory=dict)  # raw slot → parameter
    params: list[tuple[str, int]] = field(default_factory=list)  # (parameter, its first raw slot)

    def finish(self) -> None:
        vectors = [inst.raw() for inst in self.instances]
        by_values: dict[tuple[Any, ...], str] = {}
        used: dict[str, int] = {}
        for slot, values in enumerate(zip(*vectors, strict=True)):
            if len(set(values)) == 1:
                continue
            if values not in by_values:
                base = PARAM_NAMES.get(self.slot_keys[slot], self.slot_keys[slot])
                used[base] = used.get(base, 0) + 1
                pname = base if used[base] == 1 else f"{base}{used[base]}"
                by_values[values] = pname
                self.params.append((pname, slot))
            self.varying[slot] = by_values[values]

    @property
    def slot_keys(self) -> list[str]:
        return _slot_keys(self.instances[0].items)

    def args(self, inst: Instance) -> list[Any]:
        raw = inst.raw()
        return [raw[slot] for _, slot in self.params]


PARAM_NAMES = {"filters": "c", "units": "units", "kernel": "k", "count": "n"}


def _raw(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if isinstance(item, Layer):
            out += [v for _, v in item.unit.slots]
        elif isinstance(item, Merge):
            for _, br in item.branches:
                out += _raw(br)
        elif isinstance(item, Call):
            out += item.instance.raw()
        else:
            out += [len(item.calls), *item.calls[0].instance.raw()]
    return out


def _slot_keys(items: list[Any]) -> list[str]:
    out: list[str] = []
    for item in items:
        if isinstance(item, Layer):
            out += [k for k, _ in item.unit.slots]
        elif isinstance(item, Merge):
            for _, br in item.branches:
                out += _slot_keys(br)
        elif isinstance(item, Call):
            out += _slot_keys(item.instance.items)
        else:
            out += ["count", *_slot_keys(item.calls[0].instance.items)]
    return out


def _signature(items: list[Any]) -> Any:
    out: list[Any] = []
    for item in items:
        if isinstance(item, Layer):
            u = item.unit
            out.append((item.name, u.op, tuple(k for k, _ in u.slots), u.activation))
        elif isinstance(item, Merge):
            act = item.activation.op if item.activation else None
            out.append((item.unit.op, act, tuple((n, _signature(b)) for n, b in item.branches)))
        elif isinstance(item, Call):
            out.append(("call", item.name, id(item.instance.group)))
        else:
            out.append(("repeat", item.name, id(item.calls[0].instance.group)))
    return tuple(out)


# -- structure: the module hierarchy and the dataflow's branches and merges ---------------------------


class Builder:
    def __init__(self, units: dict[str, Unit], counts: dict[str, int], classes: dict[str, str]) -> None:
        self.units, self.counts, self.classes = units, counts, classes
        self.order = {uid: k for k, uid in enumerate(units)}
        self.readers: dict[str, list[str]] = {}
        for u in units.values():
            for i in u.inputs:
                self.readers.setdefault(i, []).append(u.id)
        self.refusals: list[Refusal] = []
        self.groups: list[Group] = []

    def scope(self, stack: tuple[str, ...], root: str, entry: str, exit_: str, ids: list[str] | None = None) -> list[Any]:
        """The items of the units under `stack` (a module path chain), from `entry` to `exit_`.

        `root` is the path of the module instance whose spec body holds them: layers are named by
        their path relative to it. A child module with one input and one output is a unit; one
        with more (a list input, two results) is dissolved into this scope.
        """
        mine = ids if ids is not None else [u for u in self.units if self.units[u].stack[: len(stack)] == stack]
        members = set(mine)
        nodes: dict[str, tuple[str, Any]] = {}  # output value → ("unit", id) | ("child", (path, input))
        pending = [(len(stack), mine)]
        while pending:
            depth, todo = pending.pop()
            children: dict[str, list[str]] = {}
            for uid in todo:
                st = self.units[uid].stack
                if len(st) > depth:
                    children.setdefault(st[depth], []).append(uid)
                else:
                    nodes[uid] = ("unit", uid)
            for path, sub in children.items():
                inside = set(sub)
                ins = {i for u in sub for i in self.units[u].inputs if i not in inside}
                outs = {u for u in sub if u == exit_ or any(r not in inside for r in self.readers.get(u, []))}
                if len(ins) == 1 and len(outs) == 1 and members >= inside:
                    out = next(iter(outs))
                    nodes[out] = ("child", (path, next(iter(ins)), sub))
                else:
                    pending.append((depth + 1, sub))
        sp = SeriesParallel(self, nodes, entry)
        items = sp.seq(entry, exit_, root, stack)
        if sp.emitted != set(nodes) and not self.refusals:
            where = stack[-1] if stack else "(the model)"
            self.refusals.append(Refusal(where, self.classes.get(where, "forward"), "its dataflow is not a nest of branches and merges"))
        return items

    def child(self, path: str, entry: str, exit_: str, ids: list[str], root: str, stack: tuple[str, ...]) -> list[Any]:
        cls = self.classes[path]
        sub_stack = (*stack, path)
        if self.counts.get(cls, 0) > 1:  # a class used more than once: a spec module
            inst = Instance(path, cls, self.scope(sub_stack, path, entry, exit_, ids))
            self._group(inst)
            return [Call(_local(path, root, _snake(cls)), inst)]
        return self.scope(sub_stack, root, entry, exit_, ids)

    def _group(self, inst: Instance) -> None:
        sig = (inst.cls, _signature(inst.items))
        for g in self.groups:
            if g.signature == sig:
                g.instances.append(inst)
                inst.group = g
                return
        g = Group(_snake(inst.cls), sig, [inst])
        inst.group = g
        self.groups.append(g)


class SeriesParallel:
    """The nodes of one scope as a sequence of layers, calls and merges with branches."""

    def __init__(self, builder: Builder, nodes: dict[str, tuple[str, Any]], entry: str) -> None:
        self.b, self.nodes, self.entry = builder, nodes, entry
        self.emitted: set[str] = set()
        order = builder.order
        self.dom: dict[str, set[str]] = {entry: {entry}}
        for out in sorted(nodes, key=lambda u: order[u]):
            ins = self.inputs(out)
            doms = [self.dom[i] for i in ins if i in self.dom]
            if len(doms) == len(ins) and doms:
                self.dom[out] = {out} | set.intersection(*doms)

    def inputs(self, out: str) -> list[str]:
        kind, what = self.nodes[out]
        return list(self.b.units[out].inputs) if kind == "unit" else [what[1]]

    def seq(self, start: str, end: str, root: str, stack: tuple[str, ...]) -> list[Any]:
        items: list[Any] = []
        v = end
        while v != start:
            if v not in self.nodes or v in self.emitted or v not in self.dom:
                self.emitted.add("<bad>")
                return items[::-1]
            self.emitted.add(v)
            kind, what = self.nodes[v]
            if kind == "child":
                path, inp, ids = what
                items.extend(reversed(self.b.child(path, inp, v, ids, root, stack)))
                v = inp
                continue
            unit = self.b.units[v]
            if unit.op in ("add", "concat"):
                fork = max(self.dom[v] - {v}, key=lambda u: -1 if u == self.entry else self.b.order[u])
                branches: list[tuple[str | None, list[Any]]] = [(None, self.seq(fork, i, root, stack)) for i in unit.inputs]
                items.append(Merge(unit, branches))
                v = fork
            else:
                if unit.op != "identity":
                    items.append(Layer(_local(unit.path, root, unit.op) if unit.path else None, unit))
                v = unit.inputs[0]
        return _repeats(_fuse(items[::-1]))


def _fuse(items: list[Any]) -> list[Any]:
    """An activation with its default options after a layer that takes one becomes that layer's."""
    out: list[Any] = []
    for item in items:
        prev = out[-1] if out else None
        if isinstance(item, Layer) and item.unit.op in torch_ops.FUSABLE and not item.unit.slots:
            if isinstance(prev, Layer) and prev.unit.op in torch_ops.TAKES_ACTIVATION and prev.unit.activation is None:
                prev.unit.activation = item.unit.op
                continue
            if isinstance(prev, Merge) and prev.unit.op == "add" and prev.activation is None:
                prev.activation = item.unit
                continue
        out.append(item)
    return out


KEYWORDS = frozenset({"network", "module", "input", "repeat", "branch", "connections", "from", "aux"})


def _local(path: str, root: str, what: str) -> str:
    """A source path relative to the spec scope's module as a layer name (`downsample.0` →
    `downsample_0`); a bare index is prefixed with what the layer is (`0` → `conv_0`)."""
    rel = path[len(root) + 1 :] if root else path
    name = re.sub(r"\W", "_", rel.replace(".", "_"))
    if not (name[:1].isalpha() or (name[:1] == "_" and len(name) > 1)):
        return f"{what}_{name}"
    return name + "_" if name in KEYWORDS else name


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower().strip("_") or "block"


# -- text --------------------------------------------------------------------------------------------


class Printer:
    INDENT = "    "

    def __init__(self, groups: list[Group]) -> None:
        self.groups = groups
        for g in groups:
            g.finish()

    def program(self, name: str, shape: tuple[int, ...], body: list[Any]) -> str:
        out: list[str] = []
        for g in self.groups:
            params = ", ".join(p for p, _ in g.params)
            self.varying, self.slot = g.varying, 0
            out += [f"module {g.name}({params}) {{", *self.items(g.instances[0].items, 1), "}", ""]
        self.varying, self.slot = {}, 0
        kind = "image" if len(shape) == 3 else "features"
        out += [f"network {name} {{", f"    input {kind}: {'x'.join(map(str, shape))}", "", *self.items(body, 1), "}"]
        return "\n".join(out) + "\n"

    def items(self, items: list[Any], level: int) -> list[str]:
        pad = self.INDENT * level
        lines: list[str] = []
        for item in items:
            if isinstance(item, Layer):
                lines.append(pad + self.layer(item))
            elif isinstance(item, Merge):
                act = f" {item.activation.op}" if item.activation else ""
                lines.append(f"{pad}{item.unit.op}{act} {{")
                for bname, br in item.branches:
                    label = f"branch {bname}" if bname else "branch"
                    if not br:
                        lines.append(pad + self.INDENT + label)
                    else:
                        lines += [f"{pad}{self.INDENT}{label} {{", *self.items(br, level + 2), pad + self.INDENT + "}"]
                lines.append(pad + "}")
            elif isinstance(item, Call):
                lines.append(f"{pad}{item.name}: {self.call(item.instance)}")
            else:
                count = self.value(len(item.calls), "count")
                lines.append(f"{pad}{item.name}: repeat {count} {{ {self.call(item.calls[0].instance)} }}")
        return lines

    def value(self, v: Any, key: str) -> str:
        slot = self.slot
        self.slot += 1
        return self.varying[slot] if slot in self.varying else torch_ops.text(v, key)

    def call(self, inst: Instance) -> str:
        g = inst.group
        assert g is not None
        base = self.slot
        args = [
            self.varying.get(base + slot) or torch_ops.text(v, g.slot_keys[slot])
            for (_, slot), v in zip(g.params, g.args(inst), strict=True)
        ]
        self.slot += len(inst.raw())
        return f"{g.name}({', '.join(args)})"

    def layer(self, layer: Layer) -> str:
        u = layer.unit
        words = [u.op]
        kernel: Any = None  # a pool's stride defaults to its kernel, when that is the same in every instance
        for key, v in u.slots:
            text = self.value(v, key)
            literal = self.slot - 1 not in self.varying
            if literal and text == torch_ops.text(DEFAULTS.get((u.op, key), kernel if key == "stride" else None), key):
                continue
            if key == "kernel" and literal:
                kernel = v
            if key in torch_ops.POSITIONAL.get(u.op, ()):
                words.append(text)
            elif key == "ceil" and literal:
                words.append("ceil")
            else:
                words.append(f"{key}={text}")
        if u.activation:
            words.append(u.activation)
        return (f"{layer.name}: " if layer.name else "") + " ".join(words)


def _repeats(items: list[Any]) -> list[Any]:
    """Consecutive calls of one module with the same values become one repeat."""
    runs: list[list[Any]] = []
    for item in items:
        last = runs[-1][-1] if runs else None
        if (
            isinstance(item, Call)
            and isinstance(last, Call)
            and item.instance.group is last.instance.group
            and item.instance.raw() == last.instance.raw()
        ):
            runs[-1].append(item)
        else:
            runs.append([item])
    stems = [re.sub(r"_?\d+$", "", run[0].name) for run in runs if len(run) > 1]
    taken = {item.name for run in runs if len(run) == 1 for item in run if isinstance(item, Call | Layer) and item.name}
    out: list[Any] = []
    for run in runs:
        if len(run) == 1:
            out.append(run[0])
            continue
        stem = re.sub(r"_?\d+$", "", run[0].name)
        unique = stem and stem != run[0].name and stems.count(stem) == 1 and stem not in taken
        last = re.sub(r".*?(\d+)$", r"\1", run[-1].name)
        out.append(Repeat(stem if unique else f"{run[0].name}_{last}", run))
    return out


# -- compile, acknowledge intended drops, format, and the state_dict keys -----------------------------


def _finish(spec: str, body: list[Any], source: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The spec checked, with `drop=ok` where the source's windows leave rows unread, formatted as
    `archc fmt` prints it; and the compiled model's state_dict key → the source's."""
    from ..backends.arch import format_program
    from ..backends.pytorch import torch_paths
    from ..compiler import compile_source
    from ..diagnostics import Diagnostics
    from ..parse import parse

    comp = compile_source(spec, "<import>")
    drops = {d.span.line for d in comp.diagnostics if d.code == "dropped-rows"}
    if drops:
        lines = spec.split("\n")
        for line in drops:
            lines[line - 1] += " drop=ok"
        spec = "\n".join(lines)
        comp = compile_source(spec, "<import>")
    errors = [d for d in comp.diagnostics if d.severity == "error"]
    if errors:  # e.g. two source names that read alike once `.` is `_` (`a.b` and `a_b`)
        raise TorchImportError([Refusal(f"(spec line {d.span.line})", d.code, d.message) for d in errors])
    program = parse(spec, "<import>", Diagnostics())
    assert program is not None
    spec = format_program(program, spec)
    net = comp.networks[0]
    return spec, _keys(net, torch_paths(net), body, source)


def _keys(net: Any, paths: dict[tuple[str, ...], str], body: list[Any], source: dict[str, Any]) -> dict[str, str]:
    """The compiled model's key → the source's, matched through the layers' source paths."""
    from ..graph import Node, walk

    branches = {br.path for item in walk(net.body) if isinstance(item, Node) for br in item.branches}
    origin = dict(_origins(body, ()))
    keys: dict[str, str] = {}
    for item in walk(net.body):
        if not isinstance(item, Node) or item.op not in torch_ops.STATEFUL:
            continue
        bare = tuple(c for k, c in enumerate(item.path) if item.path[: k + 1] not in branches)
        src = origin[bare]
        for key in source:
            if key.startswith(src + "."):
                keys[f"{paths[item.path]}{key[len(src) :]}"] = key
    return keys


def _origins(items: list[Any], at: tuple[str, ...]) -> Any:
    """(spec path without its branch steps, source module path) of every named layer."""
    for item in items:
        if isinstance(item, Layer) and item.name and item.unit.path:
            yield (*at, item.name), item.unit.path
        elif isinstance(item, Merge):
            for _, br in item.branches:
                yield from _origins(br, at)
        elif isinstance(item, Call):
            yield from _origins(item.instance.items, (*at, item.name))
        elif isinstance(item, Repeat):
            for k, call in enumerate(item.calls):
                yield from _origins(call.instance.items, (*at, item.name, str(k)))
