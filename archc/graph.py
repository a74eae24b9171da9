"""The typed IR after resolution: every layer bound, instantiated and shaped.

Two views of one network, built together by resolve.py:
- a tree (`Network.body`: Node, Instance, RepeatBlock) that keeps module structure, read by
  the code generators to emit one class or builder per module;
- a flat dataflow list (`Network.nodes`, indexed by id) read by the summary and the renderer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Union

from . import ir
from .diagnostics import Span
from .shapes import Shape, fmt_shape
from .sym import Sym

if TYPE_CHECKING:
    from .summary import Display


@dataclass
class Node:
    """One layer: an op with bound options, its inputs and its inferred output."""

    id: int
    name: str
    path: tuple[str, ...]
    op: str
    attrs: dict[str, Any]
    activation: str | None
    inputs: tuple[int, ...]
    shape: Shape
    params: int
    macs: int
    aux: bool
    module: str
    span: Span
    exprs: dict[str, str] = field(default_factory=dict)  # options given by a parameter: their Python source
    # options whose value depends on a network parameter: the generated code must not choose its
    # form by their value (it is written once, for every value the parameter takes)
    tainted: frozenset[str] = frozenset()
    in_sym: Sym = field(default_factory=Sym)
    out_sym: Sym = field(default_factory=Sym)
    explain: list[str] = field(default_factory=list)
    branches: tuple[BranchSeq, ...] = ()
    sourced: bool = False  # reads a named layer (`from X`) rather than the previous one
    # False when an error (here or before) left its params and MACs unknown; its shape is then the one the
    # spec declares (the filters of a conv, the layer's `-> SHAPE`), or () when nothing says it either
    known: bool = True

    @property
    def qualname(self) -> str:
        return ".".join(self.path)


@dataclass
class BranchSeq:
    name: str
    path: tuple[str, ...]
    items: list[Item]
    input: int
    output: int


@dataclass
class Instance:
    """A module call: one instance of a `module` definition."""

    name: str
    path: tuple[str, ...]
    module: str
    args: tuple[Any, ...]
    arg_exprs: tuple[str, ...]
    body: list[Item]
    input: int
    output: int
    shape: Shape
    aux: bool
    span: Span
    in_sym: Sym = field(default_factory=Sym)
    out_sym: Sym = field(default_factory=Sym)
    sourced: bool = False

    @property
    def qualname(self) -> str:
        return ".".join(self.path)


@dataclass
class RepeatBlock:
    name: str
    path: tuple[str, ...]
    count: int
    iterations: list[list[Item]]
    input: int
    output: int
    shape: Shape
    aux: bool
    span: Span
    sourced: bool = False

    @property
    def qualname(self) -> str:
        return ".".join(self.path)


Item = Union[Node, Instance, RepeatBlock]


@dataclass
class Network:
    name: str
    file: str
    source: str
    input_name: str
    nodes: list[Node]
    body: list[Item]
    output: int
    modules: dict[str, ir.ModuleDef]
    # The network parameters: name → (the spec's default, the value this network was shaped at)
    params: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def input(self) -> Node:
        return self.nodes[0]

    @property
    def input_shape(self) -> Shape:
        return self.nodes[0].shape

    @property
    def layers(self) -> list[Node]:
        return self.nodes[1:]

    @property
    def aux_heads(self) -> list[Item]:
        return [item for item in self.body if item.aux]

    @cached_property
    def live(self) -> frozenset[int]:
        """The nodes some output depends on. A layer nothing reads (nor anything after it) is
        dead: check warns about it, neither generated model contains it, and no total counts it."""
        todo = [self.output, *(self.node_of(item).id for item in self.aux_heads)]
        seen: set[int] = set()
        while todo:
            nid = todo.pop()
            if nid not in seen:
                seen.add(nid)
                todo.extend(self.nodes[nid].inputs)
        return frozenset(seen)

    def is_live(self, item: Item) -> bool:
        return self.node_of(item).id in self.live

    @cached_property
    def final_softmaxes(self) -> frozenset[int]:
        """The outputs (main or aux) that end in a softmax no other layer reads: the softmaxes a
        target may leave out to return logits. One that another layer reads (an aux head off the
        main output, say) is part of the function and always stays."""
        read = {i for node in self.nodes if node.id in self.live for i in node.inputs}
        heads = {self.output, *(self.node_of(item).id for item in self.aux_heads)}
        return frozenset(h for h in heads if h not in read and "softmax" in (self.nodes[h].op, self.nodes[h].activation))

    @property
    def total_params(self) -> int:
        return sum(n.params for n in self.layers if n.id in self.live)

    @property
    def inference_params(self) -> int:
        return sum(n.params for n in self.layers if not n.aux and n.id in self.live)

    @property
    def macs(self) -> int:
        return sum(n.macs for n in self.layers if not n.aux and n.id in self.live)

    @property
    def training_macs(self) -> int:
        return sum(n.macs for n in self.layers if n.id in self.live)

    def node_of(self, item: Item) -> Node:
        return self.nodes[item.id if isinstance(item, Node) else item.output]

    def summary(self, depth: int | None = None, batch: int = 1, width: int | None = None) -> str:
        """The text of `archc summary`: `depth` folds module instances and repeats nested deeper."""
        from .summary import to_text

        return to_text(self, depth=depth, batch=batch, width=width)

    def display(self, depth: int | None = None) -> Display:
        """For a notebook cell: the diagram and the summary table, module instances folded below `depth`."""
        from .summary import Display

        return Display(self, depth)

    def __repr__(self) -> str:
        """One line: `<Network GoogLeNet: 3x224x224 → 1000, 6,998,552 params, 1,582,671,872 MACs, 84 layers, 2 aux heads>`
        (inference figures; the aux heads are counted apart)."""
        layers = sum(1 for n in self.layers if not n.aux and n.id in self.live)
        aux = len(self.aux_heads)
        heads = f", {aux} aux head{'s' if aux != 1 else ''}" if aux else ""
        return (
            f"<Network {self.name}: {fmt_shape(self.input_shape)} → {fmt_shape(self.nodes[self.output].shape)}, "
            f"{self.inference_params:,} params, {self.macs:,} MACs, {layers} layers{heads}>"
        )

    def _repr_svg_(self) -> str | None:
        """Jupyter shows the diagram inline; None falls back to the text repr when Graphviz is missing."""
        from .env import MissingDependency
        from .render import render_svg

        try:
            return render_svg(self)
        except MissingDependency:
            return None


def walk(items: list[Item]) -> Iterator[Item]:
    """Every item of a tree, depth first, in source order."""
    for item in items:
        yield item
        if isinstance(item, Instance):
            yield from walk(item.body)
        elif isinstance(item, RepeatBlock):
            for body in item.iterations:
                yield from walk(body)
        else:
            for branch in item.branches:
                yield from walk(branch.items)


def item_nodes(item: Item) -> Iterator[Node]:
    """The layers an item holds, itself included when it is a layer."""
    for sub in walk([item]):
        if isinstance(sub, Node):
            yield sub
