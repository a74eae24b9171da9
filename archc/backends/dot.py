"""IR → Graphviz DOT text: the diagram people put in papers and slides.

Pure string building (Graphviz itself is needed only to lay the text out, in archc/render.py).
One node per layer, labelled with its name, its op in the notation papers use
(`conv 3x3/1, 64 · ReLU`) and its parameter count; every edge carries the tensor shape; one
cluster per module instance; aux heads dashed and marked training-only. `depth=1` draws each
top-level module instance or repeat block as one node with its totals. The output depends on
the IR alone: the same network gives the same bytes on every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from ..graph import Instance, Item, Network, Node, RepeatBlock, item_nodes
from ..ops import CATALOGUE
from ..shapes import Shape
from .base import Backend

FONT = "Helvetica,Arial,sans-serif"

# Fill per op family: light enough for black text, and a step apart in grey (the luma
# 0.21 R + 0.72 G + 0.07 B in the comments) so that the families stay apart in a grey-scale print.
PALETTE: dict[str, str] = {
    "input": "#ffffff",  # 1.00, double border
    "activation": "#ffffff",  # 1.00
    "shape": "#ffffff",  # 1.00
    "regularizer": "#f3f3f3",  # 0.95
    "module": "#eeeeee",  # 0.93, a collapsed module instance or repeat block; heavier border
    "norm": "#fbe7a1",  # 0.90
    "pool": "#c4e0b2",  # 0.84
    "merge": "#bdbdbd",  # 0.74
    "conv": "#86acdc",  # 0.66
    "output": "#a48ad0",  # 0.58
    "dense": "#d97777",  # 0.55
}
FAMILY_NAMES = {
    "input": "input",
    "conv": "convolution",
    "pool": "pooling",
    "norm": "normalisation",
    "dense": "dense",
    "output": "RBF output",
    "merge": "concat / add",
    "activation": "activation, flatten",
    "regularizer": "dropout",
    "module": "module (collapsed)",
}
ACTIVATION_TEXT = {name: op.label or name for name, op in CATALOGUE.items() if op.family == "activation"}


# -- escaping: every user-supplied text goes through one of these ---------------------------------
def _clean(text: str) -> str:
    """Control characters (other than newline) become spaces; they have no place in a label."""
    return "".join(" " if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0 else c for c in text)


def quote(text: str) -> str:
    """A DOT double-quoted string whose escString value is exactly `text` (newlines kept)."""
    body = _clean(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{body}"'


def html(text: str) -> str:
    """Text for a Graphviz HTML-like label: XML-escaped, newlines as line breaks."""
    body = _clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return body.replace('"', "&quot;").replace("'", "&#39;").replace("\n", "<BR/>")


# -- numbers and shapes as a paper prints them ------------------------------------------------------
def shape_text(shape: Shape) -> str:
    return "×".join(str(d) for d in shape)


def compact(value: int) -> str:
    """102764544 → 102.8M; exact below ten thousand."""
    for size, unit in ((10**9, "G"), (10**6, "M"), (10**3, "K")):
        if value >= size and value >= 10_000:
            return f"{value / size:.1f}{unit}"
    return f"{value:,}"


def dims(value: object) -> str:
    """(3, 3) → 3x3, (2, 2) → 2, 1 → 1; a 3-tuple kernel keeps its declared depth (5x5x48)."""
    if isinstance(value, tuple):
        if len(value) == 2 and value[0] == value[1]:
            return str(value[0])
        return "x".join(str(v) for v in value)
    return str(value)


def kernel_text(value: object) -> str:
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value) if len(value) > 1 else f"{value[0]}x{value[0]}"
    return f"{value}x{value}"


def _nonzero(value: object) -> bool:
    return value not in (0, (0, 0), (0,), "valid", None)


class DotBackend(Backend):
    """The op of a layer in paper notation; one `emit_<op>` per op, one-liners in SIMPLE."""

    target = "dot"
    SIMPLE: ClassVar[dict[str, str]] = {
        "input": "input",
        "flatten": "flatten",
        "rescale": "rescale",
        "normalize": "normalize",
        "concat": "concat",
        **ACTIVATION_TEXT,
    }

    @classmethod
    def handles(cls, op: str) -> bool:
        return op in cls.SIMPLE or super().handles(op)

    def op_text(self, node: Node) -> str:
        method = getattr(self, f"emit_{node.op}", None)
        text = method(node) if method is not None else self.SIMPLE.get(node.op, node.op)
        if node.activation:
            text += " · " + ACTIVATION_TEXT.get(node.activation, node.activation)
        return str(text)

    def emit_conv(self, node: Node) -> str:
        a = node.attrs
        return f"conv {kernel_text(a['kernel'])}/{dims(a['stride'])}, {a['filters']}"

    def _pool(self, node: Node, name: str) -> str:
        a = node.attrs
        stride = a.get("stride") or a["kernel"]
        return f"{name} {kernel_text(a['kernel'])}/{dims(stride)}" + (" ceil" if a.get("ceil") else "")

    def emit_maxpool(self, node: Node) -> str:
        return self._pool(node, "maxpool")

    def emit_avgpool(self, node: Node) -> str:
        return self._pool(node, "avgpool")

    def emit_subsample(self, node: Node) -> str:
        return self._pool(node, "subsample")

    def emit_adaptive_avgpool(self, node: Node) -> str:
        return f"adaptive avgpool → {kernel_text(node.attrs['size'])}"

    def emit_adaptive_maxpool(self, node: Node) -> str:
        return f"adaptive maxpool → {kernel_text(node.attrs['size'])}"

    def emit_lrn(self, node: Node) -> str:
        return f"LRN n={node.attrs['size']}"

    def emit_batchnorm(self, node: Node) -> str:
        return "batchnorm"

    def emit_layernorm(self, node: Node) -> str:
        return "layer norm"

    def emit_groupnorm(self, node: Node) -> str:
        return f"group norm {node.attrs['groups']}"

    def emit_layer_scale(self, node: Node) -> str:
        return "layer scale"

    def emit_stochastic_depth(self, node: Node) -> str:
        return f"stochastic depth {node.attrs['rate']:g}"

    def emit_dense(self, node: Node) -> str:
        return f"dense {node.attrs['units']}"

    def emit_pointwise_dense(self, node: Node) -> str:
        return f"pointwise dense {node.attrs['units']}"

    def emit_rbf(self, node: Node) -> str:
        return f"RBF {node.attrs['units']}"

    def emit_dropout(self, node: Node) -> str:
        return f"dropout {node.attrs['rate']:g}"

    def emit_add(self, node: Node) -> str:
        return "add"

    def emit_multiply(self, node: Node) -> str:
        return "multiply"

    def emit_split(self, node: Node) -> str:
        return f"split {node.attrs['part']}/{node.attrs['parts']}"

    def emit_shuffle(self, node: Node) -> str:
        return f"channel shuffle {node.attrs['groups']}"

    def emit_global_avgpool(self, node: Node) -> str:
        return str(CATALOGUE["global_avgpool"].label) + (" (keep 1x1)" if node.attrs.get("keep") else "")

    def notes(self, node: Node, in_maps: int) -> list[str]:
        """What sets a layer apart from the plain op: towers, partial tables, no bias, dilation."""
        a, out = node.attrs, []
        if a.get("table"):
            links = sum(len(row) for row in a["table"])
            out.append(f"{links}/{a['filters'] * in_maps} links")
        conv_groups = a.get("groups") if node.op == "conv" else None  # groupnorm's and shuffle's groups are their own
        if isinstance(conv_groups, int) and 1 < conv_groups == in_maps:  # one group per map (MobileNet)
            multiplier = a["filters"] // a["groups"]
            out.append("depthwise" + (f" ×{multiplier}" if multiplier > 1 else ""))
        elif isinstance(conv_groups, int) and conv_groups > 1:
            out.append(f"groups={a['groups']} ({a['groups']} towers)")
        if _nonzero(a.get("dilation")) and dims(a.get("dilation")) != "1":
            out.append(f"dilation {dims(a['dilation'])}")
        if node.op in ("conv", "dense", "pointwise_dense") and a.get("bias") is False:
            out.append("no bias")
        return out

    def detail(self, node: Node) -> str:
        """The op with every option that matters, for the tooltip."""
        text = self.op_text(node)
        pad = node.attrs.get("pad")
        if node.op != "input" and _nonzero(pad):
            text += f", pad {dims(pad)}"
        return text


class Drawing:
    """Builds the DOT text of one network; `depth` and `phase` decide what is drawn."""

    def __init__(self, net: Network, rankdir: str = "TB", depth: int | None = None, phase: str = "train") -> None:
        if rankdir not in ("TB", "LR", "BT", "RL"):
            raise ValueError(f"rankdir must be TB or LR, not {rankdir!r}")
        if depth is not None and depth < 1:
            raise ValueError(f"depth must be 1 or more (or None for every layer), not {depth}")
        if phase not in ("train", "eval"):
            raise ValueError(f"phase must be train or eval, not {phase!r}")
        self.net, self.rankdir, self.depth, self.phase = net, rankdir, depth, phase
        self.ops = DotBackend()
        self.lines: list[str] = []
        self.rep: dict[int, str] = {}  # node id → the DOT node that stands for it
        self.skip_inputs: set[int] = set()  # later iterations of a repeat drawn once
        self.hidden: set[int] = set()  # aux heads in the eval phase
        self.groups = 0
        self.chain: dict[str, str] = {}  # DOT node → its group (the chain it belongs to)

    # -- the document ------------------------------------------------------------------------------
    def text(self) -> str:
        net = self.net
        title = f"{net.name}  ·  {net.total_params:,} params  ·  {compact(net.macs)} MACs"
        if net.total_params != net.inference_params:
            title += f"\n{net.inference_params:,} params without the training-only aux heads"
        # Left to right, parallel edges of a merge run side by side within a rank with their
        # shape labels between them: a little more room there keeps the labels apart whatever
        # the font's widths (with DejaVu Sans, 0.3 let one of GoogLeNet's edges cross a label).
        nodesep = 0.35 if self.rankdir in ("LR", "RL") else 0.3
        self.lines = [
            f"digraph {quote(net.name)} {{",
            f'  graph [rankdir={self.rankdir}, newrank=true, ordering=out, nodesep={nodesep}, ranksep=0.28, fontname="{FONT}",',
            f"         fontsize=12, labelloc=t, label={quote(title)}, tooltip={quote(net.name)}];",
            f'  node [shape=box, style="rounded,filled", fontname="{FONT}", fontsize=10, margin="0.14,0.05", penwidth=1, color="#333333"];',
            f'  edge [fontname="{FONT}", fontsize=9, fontcolor="#222222", color="#555555", arrowsize=0.6];',
        ]
        self.node(net.input, "  ", [])
        self.items(net.body, 0, "  ", ())
        self.edges()
        self.outputs()
        self.lines.append("}")
        return "\n".join(self.lines) + "\n"

    # -- items: layers, module instances, repeat blocks -------------------------------------------
    def items(self, items: list[Item], level: int, pad: str, scope: tuple[str, ...]) -> None:
        if level == 0:  # aux heads last, so that Graphviz puts them beside the main path, not before it
            items = [it for it in items if not it.aux] + [it for it in items if it.aux]
        for item in items:
            if self.phase == "eval" and item.aux:
                self.hidden.update(n.id for n in item_nodes(item))
            elif isinstance(item, Node):
                for branch in item.branches:
                    self.items(branch.items, level, pad, scope)
                self.same_rank([b.items[0] for b in item.branches if b.items], pad)
                self.node(item, pad, list(scope))
            elif self.depth is not None and level >= self.depth - 1:
                self.collapsed(item, pad)
            elif isinstance(item, Instance):
                label = self.cluster(item, self.call_text(item), pad)
                self.items(item.body, level + 1, pad + "  ", item.path)
                self.close_cluster(item, label, pad)
            else:
                self.repeat(item, level, pad)

    def same_rank(self, firsts: list[Item], pad: str) -> None:
        """The first layers of parallel branches side by side, as the papers draw them."""
        names = [f"n{it.id}" for it in firsts if isinstance(it, Node) and self.rep.get(it.id) == f"n{it.id}"]
        self.same_rank_names(names, pad)
        if len(names) > 1:  # invisible flat edges keep the branches in source order, left to right
            self.lines.append(f"{pad}{' -> '.join(names)} [style=invis];")

    def same_rank_names(self, names: list[str], pad: str) -> None:
        if len(names) > 1:
            self.lines.append(f"{pad}{{rank=same; {'; '.join(names)};}}")

    def repeat(self, block: RepeatBlock, level: int, pad: str) -> None:
        once = block.count > 1 and _identical(block.iterations)
        label = self.cluster(block, f"repeat ×{block.count}" + (", one iteration drawn" if once else ""), pad)
        for k, body in enumerate(block.iterations[:1] if once else block.iterations):
            self.items(body, level + 1, pad + "  ", block.path + (str(k),))
        if once:
            first = [n.id for b in block.iterations[:1] for it in b for n in item_nodes(it)]
            for body in block.iterations[1:]:
                later = [n.id for it in body for n in item_nodes(it)]
                for nid, twin in zip(later, first, strict=True):
                    self.rep[nid] = self.rep[twin]
                    self.skip_inputs.add(nid)
        self.close_cluster(block, label, pad)

    def cluster(self, item: Instance | RepeatBlock, what: str, pad: str) -> str:
        """Opens the box around a module instance or repeat block; returns the text of its label."""
        params = sum(n.params for n in item_nodes(item))
        lines = [f"<B>{html(item.qualname)}</B>", html(what)] + ([f"{params:,} params"] if params else [])
        if item.aux and not self.net.nodes[item.input].aux:
            lines.append("<I>aux head: training only</I>")
        style = "rounded,dashed" if item.aux else "rounded"
        self.lines += [
            f"{pad}subgraph {quote('cluster_' + item.qualname)} {{",
            f'{pad}  graph [label="", style="{style}", color="#777777", margin=10, tooltip={quote(self.group_tooltip(item))}];',
        ]
        return "".join(line + '<BR ALIGN="RIGHT"/>' for line in lines)

    def close_cluster(self, item: Instance | RepeatBlock, label: str, pad: str) -> None:
        """The cluster's label is a borderless node beside its last layer rather than Graphviz's own
        cluster label, which edges entering or leaving the box would cross: edges avoid nodes."""
        self.groups += 1
        name = f"c{self.groups}"
        self.lines.append(
            f"{pad}  {name} [label=<{label}>, shape=plain, style=solid, fontsize=9, tooltip={quote(self.group_tooltip(item))}];"
        )
        self.same_rank_names([name, self.rep[item.output]], pad + "  ")
        self.lines.append(pad + "}")

    @staticmethod
    def call_text(item: Instance) -> str:
        return f"{item.module}({', '.join(_arg(a) for a in item.args)})"

    def collapsed(self, item: Instance | RepeatBlock, pad: str) -> None:
        self.groups += 1
        name = f"g{self.groups}"
        nodes = list(item_nodes(item))
        for n in nodes:
            self.rep[n.id] = name
        params, macs = sum(n.params for n in nodes), sum(n.macs for n in nodes)
        if isinstance(item, Instance):
            what = self.call_text(item)
        else:
            inner = item.iterations[0]
            what = (self.call_text(inner[0]) if len(inner) == 1 and isinstance(inner[0], Instance) else "repeat") + f" ×{item.count}"
        lines = [f"<B>{html(item.qualname)}</B>", html(what), html(f"{params:,} params  ·  {compact(macs)} MACs")]
        if item.aux:
            lines.append("<I>training only</I>")
        attrs = {"fillcolor": PALETTE["module"], "group": "/".join(item.path[:-1]) or "/", "penwidth": "1.8"}
        if isinstance(item, RepeatBlock):
            attrs["peripheries"] = "2"
        self.emit_node(name, pad, "<BR/>".join(lines), attrs, item.aux, self.group_tooltip(item))

    def group_tooltip(self, item: Instance | RepeatBlock) -> str:
        nodes = list(item_nodes(item))
        kind = f"{item.qualname}: " + (self.call_text(item) if isinstance(item, Instance) else f"repeat ×{item.count}")
        lines = [
            kind,
            f"{len(nodes)} layers, output {shape_text(item.shape)}",
            f"params {sum(n.params for n in nodes):,}",
            f"MACs {sum(n.macs for n in nodes):,}",
        ]
        return "\n".join(lines + (["aux head: training only"] if item.aux else []))

    # -- layers ---------------------------------------------------------------------------------------
    def node(self, node: Node, pad: str, scope: list[str]) -> None:
        name = f"n{node.id}"
        self.rep[node.id] = name
        short = ".".join(node.path[len(scope) :]) if node.path[: len(scope)] == tuple(scope) else node.qualname
        family = "input" if node.op == "input" else CATALOGUE[node.op].family if node.op in CATALOGUE else "shape"
        in_maps = self.net.nodes[node.inputs[0]].shape[0] if node.inputs else 0
        lines = [f"<B>{html(short)}</B>", html(self.ops.op_text(node) if node.op != "input" else f"input {shape_text(node.shape)}")]
        lines += [html(note) for note in self.ops.notes(node, in_maps)]
        if node.params:
            lines.append(f'<FONT POINT-SIZE="9">{node.params:,} params</FONT>')
        if node.aux and not scope:
            lines.append("<I>training only</I>")
        # one group per chain (a branch, a module body, the main path): Graphviz keeps its edges straight
        attrs = {"fillcolor": PALETTE.get(family, "#ffffff"), "group": "/".join(node.path[:-1]) or "/"}
        if node.op == "input" or (isinstance(node.attrs.get("groups"), int) and node.attrs["groups"] > 1):
            attrs["peripheries"] = "2"
        self.emit_node(name, pad, "<BR/>".join(lines), attrs, node.aux, self.tooltip(node))

    def emit_node(self, name: str, pad: str, label: str, attrs: dict[str, str], aux: bool, tooltip: str) -> None:
        extra = "".join(f", {k}={quote(v)}" for k, v in attrs.items())
        self.chain[name] = attrs.get("group", "")
        if aux:
            extra += ', style="rounded,filled,dashed"'
        self.lines.append(f"{pad}{name} [label=<{label}>{extra}, tooltip={quote(tooltip)}];")

    def tooltip(self, node: Node) -> str:
        ins = " + ".join(shape_text(self.net.nodes[i].shape) for i in node.inputs)
        lines = [node.qualname, self.ops.detail(node) if node.op != "input" else "input"]
        lines.append(f"{ins} → {shape_text(node.shape)}" if ins else f"output {shape_text(node.shape)}")
        lines += [f"params {node.params:,}", f"MACs {node.macs:,}", *node.explain]
        if node.aux:
            lines.append("aux head: training only")
        lines.append(f"spec line {node.span.line}")
        return "\n".join(lines)

    # -- edges ----------------------------------------------------------------------------------------
    def edges(self) -> None:
        seen: set[tuple[int, str]] = set()
        out: list[tuple[bool, str]] = []
        for node in self.net.layers:
            if node.id in self.hidden or node.id in self.skip_inputs:
                continue
            dst = self.rep[node.id]
            for i in node.inputs:
                src = self.rep[i]
                if src == dst or (i, dst) in seen:
                    continue
                seen.add((i, dst))
                style = ", style=dashed" if node.aux else ""
                label = _edge_label(self.net.nodes[i].shape)
                if node.aux and not self.net.nodes[i].aux:  # a long, shallow edge: keep its label further off
                    label = "    " + label
                tip = f"{self.net.nodes[i].qualname} → {node.qualname}: {shape_text(self.net.nodes[i].shape)}"
                if self.rankdir in ("TB", "BT") and not node.aux and self.chain.get(src) == self.chain.get(dst):  # chains straight
                    style += ", weight=3"
                out.append((node.aux, f"  {src} -> {dst} [label={quote(label)}{style}, tooltip={quote(tip)}];"))
        # main path first: with ordering=out an aux head then sits to the right of the main path
        self.lines += [line for aux, line in out if not aux] + [line for aux, line in out if aux]

    def outputs(self) -> None:
        """The network's output shape on a last edge; aux heads say `training only` in their label."""
        nid = self.net.output
        self.lines.append(
            f"  out [label=<<I>network output</I>>, shape=plaintext, style=solid, fontsize=9, tooltip={quote('output of ' + self.net.name)}];"
        )
        tip = f"output of {self.net.name}: {shape_text(self.net.nodes[nid].shape)}"
        self.lines.append(f"  {self.rep[nid]} -> out [label={quote(_edge_label(self.net.nodes[nid].shape))}, tooltip={quote(tip)}];")


def _edge_label(shape: Shape) -> str:
    return "  " + shape_text(shape) + " "


def _arg(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _identical(iterations: list[list[Item]]) -> bool:
    """Iterations with the same layers, options and shapes, so drawing one stands for all."""

    def signature(body: list[Item]) -> Iterator[tuple[object, ...]]:
        for it in body:
            for n in item_nodes(it):
                yield (n.op, repr(sorted(n.attrs.items())), n.activation, n.shape, n.params, len(n.inputs))

    first = list(signature(iterations[0]))
    return all(list(signature(body)) == first for body in iterations[1:])


def to_dot(net: Network, rankdir: str = "TB", depth: int | None = None, phase: str = "train") -> str:
    """The network as Graphviz DOT text; deterministic."""
    return Drawing(net, rankdir, depth, phase).text()
