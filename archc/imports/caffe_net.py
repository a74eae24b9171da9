"""A Caffe net's layers, in file order, → a Graph of archc Nodes (caffe.py maps each layer).

Blobs are followed by name: an in-place layer (`top == bottom`, Caffe's ReLU and Dropout) makes
the blob the new node's; Split layers alias their tops; data, loss and metric layers are left out
with a note; TEST-only layers too (the training graph is the superset). A refused layer's tops are
poisoned, so that what reads them is skipped quietly rather than reported again.
"""

from __future__ import annotations

import math

from .. import codes
from ..diagnostics import Diagnostic, Severity, Span
from .caffe import (
    ACCEPTED,
    DATA_TYPES,
    DROPPED_TYPES,
    MAPPING,
    POISON,
    Graph,
    Layer,
    Node,
    Refusal,
    at,
    in_training,
    layers_of,
)
from .prototxt import Field, Message


# -- the graph ---------------------------------------------------------------------------------------
def dims_of(layer_or_top: str, fields: list[Field], span: Span) -> tuple[int, ...]:
    """N, C, H, W (or N, C) → CxHxW (or C): the batch is implicit in archc."""
    dims = [f.value for f in fields]
    wholes = [d for d in dims if isinstance(d, int) and not isinstance(d, bool) and d >= 1]
    if len(dims) not in (2, 4) or len(wholes) != len(dims):
        shown = " ".join(map(str, dims)) or "no dims"
        raise Refusal(f"{layer_or_top}: the input's shape {shown} is not N C H W or N C (whole numbers of at least 1)", span)
    return tuple(wholes[1:])


class Builder:
    def __init__(self, top: Message, file: str, input_shape: tuple[int, ...] | None) -> None:
        self.top, self.file, self.input_shape = top, file, input_shape
        self.graph = Graph(str(top.value("name", "") or ""))
        self.blobs: dict[str, Node] = {}
        self.data_layers: list[Layer] = []

    def note(self, message: str, span: Span) -> None:
        self.graph.notes.append(Diagnostic(Severity.NOTE, codes.UNSUPPORTED, message, span))

    def refuse(self, exc: Refusal) -> None:
        self.graph.errors.append(Diagnostic(Severity.ERROR, codes.UNSUPPORTED, str(exc), exc.span, exc.hint))

    def add_input(self, name: str, shape: tuple[int, ...], span: Span) -> None:
        if any(n.op == "input" for n in self.graph.nodes):
            raise Refusal(f"{name}: a second input: an archc network has one input", span)
        node = Node(name, "input", [], [], shape, span)
        self.graph.nodes.append(node)
        self.blobs[name] = node

    def declared_inputs(self) -> None:
        names = self.top.all("input")
        shapes, dims = self.top.all("input_shape"), self.top.all("input_dim")
        for i, f in enumerate(names):
            if shapes:
                shape = shapes[i] if i < len(shapes) else None
                fields = shape.value.all("dim") if shape is not None and isinstance(shape.value, Message) else []
            else:
                fields = dims[4 * i : 4 * i + 4]
            shape_given = dims_of(str(f.value), fields, f.span)
            self.add_input(str(f.value), self.input_shape or shape_given, f.span)

    def run(self) -> Graph:
        try:
            self.declared_inputs()
        except Refusal as exc:
            self.refuse(exc)
            return self.graph
        for layer in layers_of(self.top):
            try:
                self.layer(layer)
            except Refusal as exc:
                self.refuse(exc)
                for top in layer.tops:
                    self.blobs[top] = POISON
        if not any(n.op == "input" for n in self.graph.nodes) and not self.graph.errors:
            self.refuse(Refusal("the net declares no input (input:, input_shape, an Input layer or a Data layer)", self.top.span))
        return self.graph

    def layer(self, layer: Layer) -> None:
        for f in layer.msg.fields:
            if f.name not in ACCEPTED and not f.name.endswith("_param"):
                raise layer.refuse(f"field {f.name} is not supported by archc's import", f.span)
        if not in_training(layer):
            self.note(f"{layer.name} ({layer.type}) left out: a TEST-phase layer", layer.span)
            return
        if layer.type == "Input":
            shapes = layer.params("input_param").all("shape")
            if len(layer.tops) != 1 or len(shapes) != 1 or not isinstance(shapes[0].value, Message):
                raise layer.refuse("an Input layer needs one top and one shape")
            dims = dims_of(layer.name, shapes[0].value.all("dim"), shapes[0].span)
            self.add_input(layer.tops[0], self.input_shape or dims, layer.span)
            return
        if layer.type in DATA_TYPES:
            self.data(layer)
            return
        if layer.type in DROPPED_TYPES:
            self.note(f"{layer.name} ({layer.type}) left out: {DROPPED_TYPES[layer.type]}, not part of the network", layer.span)
            return
        ins = [self.read(layer, b) for b in layer.bottoms]
        if any(n is POISON for n in ins):
            for top in layer.tops:
                self.blobs[top] = POISON
            return
        if layer.type == "Split":
            for top in layer.tops:
                self.blobs[top] = ins[0]
            return
        mapping = MAPPING.get(layer.type)
        if mapping is None:
            raise layer.refuse("this layer type has no archc op", at(layer.msg, "type", layer))
        multi = layer.type in ("Concat", "Eltwise")
        if not ins or (len(ins) != 1 and not multi) or (multi and len(ins) < 2) or len(layer.tops) != 1:
            raise layer.refuse(f"{len(ins)} bottoms and {len(layer.tops)} tops: it takes {'two or more' if multi else 'one'} and gives one")
        node = mapping(layer, ins)
        node.kind = node.kind or layer.type
        if node not in self.graph.nodes:
            if node.op == "dense" and len(ins[0].shape) == 3:  # Caffe's InnerProduct flattens CxHxW itself
                flat = Node("", "flatten", [], ins, (math.prod(ins[0].shape),), layer.span, kind="InnerProduct")
                self.graph.nodes.append(flat)
                node.inputs = [flat]
            self.graph.nodes.append(node)
        elif layer.type == "Scale" and layer.tops[0] != layer.bottoms[0]:
            self.blobs[layer.bottoms[0]] = POISON  # the unscaled BatchNorm output is no archc layer's
        self.blobs[layer.tops[0]] = node

    def read(self, layer: Layer, blob: str) -> Node:
        node = self.blobs.get(blob)
        if node is None:
            raise Refusal(f"{layer.name} ({layer.type}): bottom {blob!r} is no earlier layer's top", layer.span)
        if node.op == "batchnorm_pending" and layer.type != "Scale":
            raise layer.refuse(f"it reads BatchNorm {node.caffe} before a Scale: archc's batchnorm has the scale and shift built in")
        return node

    def data(self, layer: Layer) -> None:
        self.note(f"{layer.name} ({layer.type}) left out: it reads a dataset; its data top is the network's input", layer.span)
        if any(n.op == "input" for n in self.graph.nodes):
            return  # train and test data layers both feed the one input
        if self.input_shape is None:
            raise layer.refuse("a data layer takes its shape from the dataset: give the input shape (archc import --input CxHxW)")
        if layer.tops:
            self.add_input(layer.tops[0], self.input_shape, layer.span)
        for top in layer.tops[1:]:
            self.blobs[top] = POISON  # labels: only losses and metrics read them


def build(top: Message, file: str, input_shape: tuple[int, ...] | None = None) -> Graph:
    graph = Builder(top, file, input_shape).run()
    for node in graph.nodes:
        if node.op == "batchnorm_pending":
            graph.errors.append(
                Diagnostic(
                    Severity.ERROR,
                    codes.UNSUPPORTED,
                    f"{node.caffe} (BatchNorm): no Scale follows it: archc's batchnorm always learns a scale and shift",
                    node.span,
                )
            )
    return graph
