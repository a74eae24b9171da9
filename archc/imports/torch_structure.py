"""The structure of an imported model: torch_ops' units as the spec's items.

The module hierarchy gives the scopes: a child module with one input and one output is one
step of its parent's sequence, and a class used more than once becomes a spec module (a Group
per structure, with a parameter for each value that differs between its instances). Within a
scope, dominators find each merge's fork, so that forks and merges become branches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import torch_ops
from .torch_ops import Refusal, Unit

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
            if not inst.items:  # it computes nothing archc states (ConvNeXt's Permute): no module to call
                return []
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
            if unit.op in torch_ops.MERGES:
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
