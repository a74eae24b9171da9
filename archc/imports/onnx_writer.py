"""archc layers → spec text: fused activations, merges with branches, module instances, modules
and repeats (the structure from_onnx.py's docstring describes), written as `archc fmt` prints them.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from ..ops import CATALOGUE
from . import spec
from .onnx_reader import FUSES, KEYWORDS, NETWORK_INPUT, Block, Item, Layer, Module, OnnxImportError, Reader, Unit

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


class Scope(spec.Scope):
    """The names taken in one network or module body (spec.py's, shared with the other importers)."""

    def name(self, wanted: str) -> str:
        """`wanted`, or `wanted_2`, ... if taken; "" stays "" (an unnamed layer)."""
        return self.claim(wanted) if wanted else ""


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
