"""The shaped graph as a paper figure's blocks: what is drawn, before any geometry.

One block per drawn layer (conv, pooling, dense, RBF, the input), with the layers that keep
the shape (activations, dropout, LRN, batch norm, flatten) folded into the block before them;
a merge with branches becomes a Group: its branches as lanes side by side and a merge mark
(⊕ for add, ⊗ for multiply, ‖ for concat); aux heads become side chains drawn dashed. With a
depth, module instances and repeat blocks below it become one block each, and a run of
convolutions followed by a pool folds into one stage (VGG16 at depth 1: five stages).

Sizes are drawn to scale with a logarithmic compression (archc/backends/blocks_layout.py):
a map C×H×W is a box H tall, W deep and C thick, each as `unit · (1 + log2 n)`, so that a
224×224 map and a 7×7 one both stay legible on a 3.33 in column; a vector of N features is a
thin bar `unit · (1 + log2 N)` tall. The figure depends on the IR alone: same network, same bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Union

from ..graph import Instance, Item, Network, Node, RepeatBlock, item_nodes
from ..ops import CATALOGUE, MERGES
from ..shapes import Shape

# layers that keep the drawing's shape: folded into the block before them (norms are named there)
FOLDED = {name for name, op in CATALOGUE.items() if op.family in ("activation", "regularizer", "norm")} | {"flatten"}
NORM_TEXT = {"lrn": "LRN", "batchnorm": "BN", "layernorm": "LN", "groupnorm": "GN"}
POOLS = {"maxpool", "avgpool", "subsample"}
POOL_TEXT = {"maxpool": "max", "avgpool": "avg", "subsample": "subsample"}


@dataclass
class Slab:
    """One 3-D box: a feature map (or a vector) of `shape`, split into `towers` side by side."""

    shape: Shape
    family: str
    towers: int = 1
    thin: bool = False  # the pooling slab closing a stage


@dataclass
class Block:
    key: str  # qualified name of the layer, stage or module; unique in a figure
    kind: str  # "layer", "stage", "module", "merge"
    lines: list[str]  # label: what it is, then its output shape
    slabs: list[Slab]
    nodes: list[int]  # the graph nodes it stands for
    aux: bool = False
    merge: str = ""  # the merge op (add, multiply, concat) for a merge mark
    inputs: tuple[int, ...] = ()  # node ids feeding the block from outside it
    output: int = -1  # the node whose tensor leaves the block


@dataclass
class Group:
    """A merge with branches: one lane per branch (an empty lane is the identity), then the mark."""

    lanes: list[list[Unit]]
    mark: Block
    input: int  # the node every branch reads
    caption: list[str] = field(default_factory=list)


Unit = Union[Block, Group]


@dataclass
class AuxHead:
    source: int  # the node it reads
    units: list[Unit]


@dataclass
class Figure:
    name: str
    title: str
    main: list[Unit]
    aux: list[AuxHead]

    def blocks(self) -> list[Block]:
        """Every block, main path then aux heads, lanes in order; merge marks included."""
        out: list[Block] = []
        for units in [self.main, *(a.units for a in self.aux)]:
            out += list(_blocks(units))
        return out


def _blocks(units: list[Unit]) -> list[Block]:
    out: list[Block] = []
    for unit in units:
        if isinstance(unit, Group):
            for lane in unit.lanes:
                out += _blocks(lane)
            out.append(unit.mark)
        else:
            out.append(unit)
    return out


def shape_label(shape: Shape) -> str:
    return "×".join(str(d) for d in shape)


def stride_of(node: Node) -> str:
    stride = node.attrs.get("stride") or (node.attrs.get("kernel") if node.op in POOLS else 1)
    if isinstance(stride, tuple):
        return str(stride[0]) if len(set(stride)) == 1 else "x".join(map(str, stride))
    return str(stride)


def kernel_label(value: object) -> str:
    """The spatial window: (11, 11) → 11×11; a declared filter depth (5x5x48) is left to the shape labels."""
    if isinstance(value, tuple):
        value = value[:2] if len(value) > 1 else (value[0], value[0])
        return "×".join(str(v) for v in value)
    return f"{value}×{value}"


def op_label(node: Node) -> str:
    """The op as a figure's label prints it: `conv 11×11/4`, `max 3×3/2`, `dense`."""
    a = node.attrs
    if node.op == "conv":
        text = f"conv {kernel_label(a['kernel'])}" + (f"/{stride_of(node)}" if stride_of(node) != "1" else "")
        return text + (f", {a['groups']} towers" if _towers(node) > 1 else "")
    if node.op in POOLS:
        return f"{POOL_TEXT[node.op]} {kernel_label(a['kernel'])}/{stride_of(node)}"
    return {"global_avgpool": "global avg", "rbf": "RBF", "input": "input"}.get(node.op, node.op)


def _family(node: Node) -> str:
    return "input" if node.op == "input" else CATALOGUE[node.op].family if node.op in CATALOGUE else "shape"


def _towers(node: Node) -> int:
    groups = node.attrs.get("groups")
    return groups if node.op == "conv" and isinstance(groups, int) and 1 < groups <= 8 else 1


class Builder:
    """Walks the item tree once; `depth` as in the Graphviz diagram (None: every layer)."""

    def __init__(self, net: Network, depth: int | None, phase: str) -> None:
        self.net, self.depth, self.phase = net, depth, phase
        self.aux: list[AuxHead] = []

    def units(self, items: list[Item], level: int) -> list[Unit]:
        out: list[Unit] = []
        for item in items:
            if item.aux and level == 0:
                if self.phase == "train":
                    self.aux.append(AuxHead(self._source(item), self.units_of(item, level, [])))
                continue
            out = self.units_of(item, level, out)
        return fold_stages(out) if self.depth is not None else out

    def _source(self, item: Item) -> int:
        return item.inputs[0] if isinstance(item, Node) else item.input

    def units_of(self, item: Item, level: int, out: list[Unit]) -> list[Unit]:
        """`out` with `item` appended: a block, a group, its expanded body, or folded into the last block."""
        if isinstance(item, (Instance, RepeatBlock)):
            if self.depth is not None and level >= self.depth - 1:
                return [*out, self.collapsed(item)]
            bodies = [item.body] if isinstance(item, Instance) else item.iterations
            for body in bodies:
                for sub in body:
                    out = self.units_of(sub, level + 1, out)
            return out
        if item.branches:
            return [*out, self.group(item, level)]
        if item.op in FOLDED and out and isinstance(out[-1], Block):
            last = out[-1]
            last.nodes.append(item.id)
            last.output = item.id
            if item.op in NORM_TEXT and last.kind == "layer" and len(last.lines) > 1 and NORM_TEXT[item.op] not in last.lines[-2]:
                last.lines[-2] += f" · {NORM_TEXT[item.op]}"
            return out
        if item.op in FOLDED and out and isinstance(out[-1], Group):
            out[-1].mark.nodes.append(item.id)
            out[-1].mark.output = item.id
            return out
        return [*out, self.layer(item)]

    def layer(self, node: Node) -> Block:
        if node.op in MERGES:  # a merge of named layers (`from a, b`)
            return Block(
                node.qualname, "merge", [node.name, shape_label(node.shape)], [], [node.id], node.aux, node.op, node.inputs, node.id
            )
        named = not re.fullmatch(rf"{node.op}_\d+", node.name)  # `conv_1`: a name archc made up, not worth a line
        lines = [node.name] if named else []
        lines = ["input", shape_label(node.shape)] if node.op == "input" else [*lines, op_label(node), shape_label(node.shape)]
        slab = Slab(node.shape, _family(node), _towers(node))
        return Block(node.qualname, "layer", lines, [slab], [node.id], node.aux, "", node.inputs, node.id)

    def group(self, node: Node, level: int) -> Group:
        lanes = [self.units(branch.items, level) for branch in node.branches]
        mark = Block(node.qualname, "merge", [], [], [node.id], node.aux, node.op, node.inputs, node.id)
        owner = ".".join(node.path[:-1]) if len(node.path) > 1 and node.name.startswith(node.op + "_") else node.qualname
        return Group(lanes, mark, node.branches[0].input, [f"{owner} ({node.op})", shape_label(node.shape)])

    def collapsed(self, item: Instance | RepeatBlock) -> Block:
        nodes = list(item_nodes(item))
        inner = item.iterations[0] if isinstance(item, RepeatBlock) else []
        what = (
            item.module
            if isinstance(item, Instance)
            else f"{item.count}× " + (inner[0].module if len(inner) == 1 and isinstance(inner[0], Instance) else "repeat")
        )
        lines = [item.name, what, shape_label(item.shape)]
        slab = Slab(item.shape, "module")
        return Block(item.qualname, "module", lines, [slab], [n.id for n in nodes], item.aux, "", (item.input,), item.output)


def fold_stages(units: list[Unit]) -> list[Unit]:
    """A run of convolutions closed by a pool becomes one stage block (one slab per conv, a thin pool slab)."""
    out: list[Unit] = []
    run: list[Block] = []
    for unit in units:
        if isinstance(unit, Block) and unit.kind == "layer" and unit.slabs and unit.slabs[0].family == "conv":
            run.append(unit)
            continue
        if run and isinstance(unit, Block) and unit.kind == "layer" and _is_pool(unit):
            out.append(_stage(run, unit))
        else:
            out += run
            out.append(unit)
        run = []
    return out + run


def _is_pool(block: Block) -> bool:
    return bool(block.slabs) and block.slabs[0].family == "pool" and len(block.slabs[0].shape) == 3


def _stage(convs: list[Block], pool: Block) -> Block:
    stem = _common_stem([b.key.rsplit(".", 1)[-1] for b in convs])
    ops = list(dict.fromkeys(b.lines[-2].split(" · ")[0] for b in convs))
    op = (
        f"{len(convs)}× {ops[0]}"
        if len(ops) == 1 and len(convs) > 1
        else ops[0]
        if len(ops) == 1
        else "conv " + ", ".join(o.removeprefix("conv ") for o in ops)
    )
    lines = [stem, op, f"+ {pool.lines[-2]}", shape_label(pool.slabs[0].shape)]
    slabs = [s for b in convs for s in b.slabs] + [Slab(pool.slabs[0].shape, "pool", thin=True)]
    nodes = [n for b in [*convs, pool] for n in b.nodes]
    return Block(convs[0].key, "stage", lines, slabs, nodes, convs[0].aux, "", convs[0].inputs, pool.output)


def _common_stem(names: list[str]) -> str:
    """conv1_1, conv1_2 → conv1; C1 → C1; conv3, conv4, conv5 → conv3–5."""
    if len(names) == 1:
        return names[0]
    prefix = names[0]
    for name in names[1:]:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    stem = prefix.rstrip("_.-")
    if stem and prefix != stem:  # a separator ended the common part: conv1_
        return stem
    tail = names[-1][len(prefix) :]
    return f"{names[0]}–{tail}" if prefix and tail else f"{names[0]}–{names[-1]}"


def build_figure(net: Network, depth: int | None = None, phase: str = "train", title: str | None = None) -> Figure:
    """The blocks of `net`; `title` None gives the network's name, "" none."""
    if depth is not None and depth < 1:
        raise ValueError(f"depth must be 1 or more (or None for every layer), not {depth}")
    if phase not in ("train", "eval"):
        raise ValueError(f"phase must be train or eval, not {phase!r}")
    builder = Builder(net, depth, phase)
    main = [builder.layer(net.input), *builder.units(net.body, 0)]
    return Figure(net.name, net.name if title is None else title, main, builder.aux)
