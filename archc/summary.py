"""Per-layer shapes, parameters and MACs: a table for people, JSON for tools, arithmetic for learners.

`depth` folds what lies deeper than it: at depth 1 every top-level module instance or repeat is one
row, at depth 2 the instances and repeats directly inside those, and so on (branches of a merge
are not a level). A folded row adds up its live layers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from typing import Any

from .graph import Instance, Item, Network, Node, RepeatBlock, item_nodes
from .memory import CONVENTION, activation_bytes, non_trainable, param_bytes, saved_bytes
from .shapes import Shape, fmt_shape


@dataclass(frozen=True)
class Row:
    name: str
    op: str
    module: str
    shape: str
    params: int
    macs: int
    aux: bool
    input: str = ""
    non_trainable: int = 0
    saved: int = 0
    live: bool = True
    kind: str = "layer"  # or "module", "repeat": a folded instance or repeat block
    input_shapes: tuple[Shape, ...] = ()
    output_shape: Shape = ()
    known: bool = True  # False: an error left its params and MACs unknown (shown as `?`)


@dataclass(frozen=True)
class Subtotal:
    path: str
    module: str
    params: int
    macs: int
    aux: bool


def layer_rows(net: Network) -> list[Row]:
    """One row per layer, dead ones included (marked `live=False`)."""
    return rows(net)


def rows(net: Network, depth: int | None = None, batch: int = 1) -> list[Row]:
    """The table's rows: every layer, or with `depth`, the items nested deeper folded into one row each."""
    saved = saved_bytes(net, batch) if complete(net) else {}
    chains = _chains(net)
    groups: dict[int, tuple[Item, list[Node]]] = {}
    for node in net.layers:
        chain = chains[node.id]
        item: Item = chain[depth - 1] if depth is not None and len(chain) >= depth else node
        groups.setdefault(id(item), (item, []))[1].append(node)
    out = []
    for item, nodes in groups.values():
        if isinstance(item, Node):
            out.append(_node_row(net, item, saved))
            continue
        parent = chains[nodes[0].id][depth - 2].qualname if depth is not None and depth >= 2 else ""
        live = [n for n in nodes if n.id in net.live]
        kind, op = ("module", item.module) if isinstance(item, Instance) else ("repeat", f"repeat ×{item.count}")
        ins = (net.nodes[item.input].shape,)
        out.append(
            Row(
                item.qualname, op, parent, _shown(item.shape), sum(n.params for n in live), sum(n.macs for n in live), item.aux,
                fmt_inputs(ins), sum(non_trainable(n) for n in live), sum(saved.get(n.id, 0) for n in live), bool(live), kind,
                ins, item.shape, all(n.known for n in nodes),
            )
        )  # fmt: skip
    return out


def _node_row(net: Network, n: Node, saved: dict[int, int]) -> Row:
    ins = tuple(net.nodes[i].shape for i in n.inputs)
    return Row(
        n.qualname, _op_text(n.op, n.activation), n.module, _shown(n.shape), n.params, n.macs, n.aux,
        fmt_inputs(ins), non_trainable(n), saved.get(n.id, 0), n.id in net.live, "layer", ins, n.shape, n.known,
    )  # fmt: skip


def complete(net: Network) -> bool:
    """Every layer's shape, params and MACs known: false only for a spec with errors."""
    return all(n.known for n in net.layers)


def _shown(shape: Shape) -> str:
    """A shape as the table shows it; `?` for one an error left unknown."""
    return fmt_shape(shape) if shape else "?"


def _chains(net: Network) -> dict[int, tuple[Instance | RepeatBlock, ...]]:
    """For every layer, the module instances and repeat blocks around it, outermost first."""
    out: dict[int, tuple[Instance | RepeatBlock, ...]] = {}

    def visit(items: list[Item], chain: tuple[Instance | RepeatBlock, ...]) -> None:
        for item in items:
            if isinstance(item, Node):
                out[item.id] = chain
                for branch in item.branches:
                    visit(branch.items, chain)
            elif isinstance(item, Instance):
                visit(item.body, (*chain, item))
            else:
                for body in item.iterations:
                    visit(body, (*chain, item))

    visit(net.body, ())
    return out


def fmt_inputs(shapes: tuple[Shape, ...]) -> str:
    """`3x224x224`; `2×64x56x56` for equal inputs; `(64+128+32+32)x28x28` for maps of one size."""
    if len(shapes) <= 1:
        return "".join(_shown(s) for s in shapes)
    if len(set(shapes)) == 1:
        return f"{len(shapes)}×{fmt_shape(shapes[0])}"
    if all(len(s) == 3 for s in shapes) and len({s[1:] for s in shapes}) == 1:
        return f"({'+'.join(str(s[0]) for s in shapes)})x{fmt_shape(shapes[0][1:])}"
    return ", ".join(fmt_shape(s) for s in shapes)


def subtotals(net: Network) -> list[Subtotal]:
    """One line per module instance or repeat block at the network's top level (live layers only)."""
    out = []
    for item in net.body:
        if isinstance(item, (Instance, RepeatBlock)):
            nodes = [n for n in item_nodes(item) if n.id in net.live]
            kind = item.module if isinstance(item, Instance) else f"repeat ×{item.count}"
            out.append(Subtotal(item.qualname, kind, sum(n.params for n in nodes), sum(n.macs for n in nodes), item.aux))
    return out


def _op_text(op: str, activation: str | None) -> str:
    return f"{op}+{activation}" if activation else op


def to_json(net: Network, depth: int | None = None, batch: int = 1) -> dict[str, Any]:
    saved = saved_bytes(net, batch) if complete(net) else {}
    return {
        "network": net.name,
        "file": net.file,
        "input": list(net.input_shape),
        "layers": [
            {
                "name": n.qualname,
                "op": n.op,
                "activation": n.activation,
                "module": n.module,
                "input_shapes": [list(net.nodes[i].shape) for i in n.inputs],
                "output_shape": list(n.shape) if n.shape else None,
                "params": n.params if n.known else None,
                "non_trainable_params": non_trainable(n),
                "macs": n.macs if n.known else None,
                "saved_bytes": saved.get(n.id, 0),
                "aux": n.aux,
                "live": n.id in net.live,
            }
            for n in net.layers
        ],
        "depth": depth,
        "rows": [_row_json(r) for r in rows(net, depth, batch)],
        "modules": [{"path": s.path, "module": s.module, "params": s.params, "macs": s.macs, "aux": s.aux} for s in subtotals(net)],
        "outputs": [net.nodes[net.output].qualname] + [net.node_of(item).qualname for item in net.aux_heads],
        "total_params": net.total_params,
        "trainable_params": net.total_params,
        "non_trainable_params": _non_trainable(net),
        "inference_params": net.inference_params,
        "macs": net.macs,
        "training_macs": net.training_macs,
        "param_bytes": param_bytes(net),
        "batch": batch,
        "activation_bytes": sum(saved.values()),
        "activation_convention": CONVENTION,
    }


def _row_json(r: Row) -> dict[str, Any]:
    return {
        "name": r.name,
        "kind": r.kind,
        "op": r.op,
        "module": r.module,
        "input_shapes": [list(s) for s in r.input_shapes],
        "output_shape": list(r.output_shape) if r.output_shape else None,
        "params": r.params if r.known else None,
        "non_trainable_params": r.non_trainable,
        "macs": r.macs if r.known else None,
        "saved_bytes": r.saved,
        "aux": r.aux,
        "live": r.live,
    }


def _non_trainable(net: Network) -> int:
    return sum(non_trainable(n) for n in net.layers if n.id in net.live)


# Columns of the table, and the order in which a narrow terminal gives them up: the input shapes
# first, then the module, the MACs, the op abbreviated (`conv+relu` → `conv`, `global_avgpool` →
# `global_a…`), the op; then layer names are shortened in the middle (`layer…conv1`), and what is
# still too wide is cut with `…`, a note in parentheses first (the subtotals lose their MACs, the
# title its file). Rows never wrap.
COLUMNS = ("layer", "op", "module", "input", "output", "params", "MACs")
RIGHT = frozenset({"params", "MACs"})
NARROWING = ("input", "module", "MACs", "op+", "op")
MIN_NAME = 8
OP_WIDTH = 9


def to_text(net: Network, depth: int | None = None, batch: int = 1, width: int | None = None) -> str:
    """The summary table; `width` (a terminal's columns) drops and shortens columns so that no line is wider."""
    table = rows(net, depth, batch)
    cells = [{c: v for c, v in zip(COLUMNS, _cells(r), strict=True)} for r in table]
    columns = list(COLUMNS)
    for step in NARROWING:
        if width is None or _table_width(columns, cells) <= width:
            break
        if step == "op+":
            cells = [{**c, "op": _abbreviated(c["op"])} for c in cells]
        else:
            columns.remove(step)
    if width is not None and _table_width(columns, cells) > width:
        others = _table_width([c for c in columns if c != "layer"], cells) + 2
        keep = max(width - others, MIN_NAME)
        cells = [{**c, "layer": _middle(c["layer"], keep)} for c in cells]
    title = f"{net.name}  (input {fmt_shape(net.input_shape)}, {net.file})"
    if width is not None and len(title) > width:
        title = f"{net.name}  (input {fmt_shape(net.input_shape)})"
    out = [title, "", *_table(columns, cells)]
    subs = subtotals(net)
    if subs:
        out += ["", "per module instance:"]
        sw = max(len(s.path) for s in subs)
        mw = max(len(s.module) for s in subs)
        lines = [
            (
                f"  {s.path.ljust(sw)}  {s.module.ljust(mw)}  {s.params:>13,} params",
                f"  {s.macs:>15,} MACs",
                "  (aux, training only)" if s.aux else "",
            )
            for s in subs
        ]
        macs = width is None or max(len("".join(parts)) for parts in lines) <= width  # a narrow terminal: params only
        out += ["".join(parts) if macs else parts[0] + parts[2] for parts in lines]
    out += [""] + _totals(net, batch)
    return "\n".join(_fit(line, width) for line in out)


def _cells(r: Row) -> tuple[str, ...]:
    name = r.name + (" (aux)" if r.aux and r.name.count(".") == 0 else "") + ("" if r.live else " (dead)")
    if not r.known:
        return (name, r.op, r.module, r.input, r.shape, "?", "?")
    return (name, r.op, r.module, r.input, r.shape, f"{r.params:,}", f"{r.macs:,}")


def _widths(columns: list[str], cells: list[dict[str, str]]) -> list[int]:
    return [max([len(c), *(len(row[c]) for row in cells)]) for c in columns]  # a network may have no layers


def _table_width(columns: list[str], cells: list[dict[str, str]]) -> int:
    return sum(_widths(columns, cells)) + 2 * (len(columns) - 1)


def _table(columns: list[str], cells: list[dict[str, str]]) -> list[str]:
    widths = _widths(columns, cells)

    def line(values: list[str]) -> str:
        return "  ".join(v.rjust(w) if c in RIGHT else v.ljust(w) for c, v, w in zip(columns, values, widths, strict=True)).rstrip()

    return [line(columns), "  ".join("-" * w for w in widths), *(line([row[c] for c in columns]) for row in cells)]


def _abbreviated(op: str) -> str:
    """`conv+relu` → `conv`, `global_avgpool` → `global_a…`: at most OP_WIDTH characters."""
    op = op.split("+")[0]
    return op if len(op) <= OP_WIDTH else op[: OP_WIDTH - 1] + "…"


def _middle(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


def _totals(net: Network, batch: int) -> list[str]:
    if not complete(net):
        unknown = sum(1 for n in net.layers if not n.known)
        return [
            f"total params      {net.total_params:>16,}   (of the layers the errors left countable; {unknown} marked ? are not counted)",
            f"MACs              {net.macs:>16,}   (the same layers; no memory figures for a spec with errors)",
        ]
    params = param_bytes(net)
    saved = activation_bytes(net, batch)
    out = [
        f"total params      {net.total_params:>16,}",
        f"non-trainable     {_non_trainable(net):>16,}   (batch-norm running means and variances, not in total params)",
        f"inference params  {net.inference_params:>16,}   (without aux heads)",
        f"MACs              {net.macs:>16,}   (inference, batch 1; FLOPs ≈ 2 × MACs)",
    ]
    stored = [n for n in net.layers if n.id in net.live and n.op == "normalize" and n.attrs.get("stored")]
    if stored:  # constants, not parameters; Keras keeps these as non-trainable weights
        values = sum(2 * n.shape[0] + 1 for n in stored)
        names = ", ".join(n.qualname for n in stored[:3]) + (", ..." if len(stored) > 3 else "")
        out.insert(2, f"stored statistics {values:>16,}   (Keras non-trainable weights mean, variance, count of {names}; in no total)")
    if net.training_macs != net.macs:
        out.append(f"training MACs     {net.training_macs:>16,}   (with aux heads)")
    out += [
        f"parameter memory  {params:>16,} bytes   ({_human(params)}: float32, running statistics included)",
        f"activation memory {saved:>16,} bytes   ({_human(saved)} at batch {batch}: the tensors a PyTorch training step saves for backward)",
    ]
    return out


def _human(n: int) -> str:
    """`312.5 KiB`, `44.6 MiB`, `1.2 GiB`: binary units, one decimal."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n} bytes"


def _fit(line: str, width: int | None) -> str:
    """A line no wider than `width`: first without its note in parentheses, then cut with `…`."""
    if width is None or len(line) <= width:
        return line
    bare = re.sub(r"\s+\([^()]*\)$", "", line)
    if len(bare) <= width:
        return bare
    return line[: max(width - 1, 0)] + "…"


class Display:
    """What a notebook shows for `net.display(depth=...)`: the diagram and the summary, folded at `depth`."""

    def __init__(self, net: Network, depth: int | None = None) -> None:
        self.net, self.depth = net, depth
        self._svg: tuple[str | None] | None = None  # drawn once: a notebook asks for every format

    def _repr_svg_(self) -> str | None:
        """The diagram at this depth; None when Graphviz is missing."""
        from .env import MissingDependency
        from .render import render_svg

        if self._svg is None:
            try:
                self._svg = (render_svg(self.net, depth=self.depth),)
            except MissingDependency:
                self._svg = (None,)
        return self._svg[0]

    def _repr_html_(self) -> str:
        svg = self._repr_svg_()
        picture = svg[svg.index("<svg") :] if svg and "<svg" in svg else ""
        return f"<div>{picture}<pre>{escape(to_text(self.net, self.depth))}</pre></div>"

    def __repr__(self) -> str:
        return to_text(self.net, self.depth)


def explain(net: Network) -> str:
    """The arithmetic behind every shape and count, one line each, as a textbook writes it."""
    out = [f"{net.name}: input {fmt_shape(net.input_shape)}"]
    width = max((len(n.qualname) for n in net.layers), default=0)
    for n in net.layers:
        lines = n.explain or [f"{n.op} → {_shown(n.shape)}"]
        if not n.known:
            lines = (
                [*n.explain, f"{n.op} → {fmt_shape(n.shape)} as declared; params unknown (an error here or before)"]
                if n.shape
                else ["? (not checked: an error here or before)"]
            )
        for text in lines:
            out.append(f"{n.qualname.ljust(width)}  {text}")
    counted = [f"{n.params:,}" for n in net.layers if n.params]
    sums = f"{' + '.join(counted)} = " if len(counted) > 1 else ""
    out += ["", f"total params = {sums}{net.total_params:,}"]
    if not complete(net):
        out[-1] += f"   (without the {sum(1 for n in net.layers if not n.known)} layers marked ?/unknown: the spec has errors)"
    return "\n".join(out)
