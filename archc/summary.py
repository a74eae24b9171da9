"""Per-layer shapes, parameters and MACs: a table for people, JSON for tools, arithmetic for learners."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .graph import Instance, Network, RepeatBlock, item_nodes
from .shapes import fmt_shape


@dataclass(frozen=True)
class Row:
    name: str
    op: str
    module: str
    shape: str
    params: int
    macs: int
    aux: bool


@dataclass(frozen=True)
class Subtotal:
    path: str
    module: str
    params: int
    macs: int
    aux: bool


def layer_rows(net: Network) -> list[Row]:
    return [Row(n.qualname, _op_text(n.op, n.activation), n.module, fmt_shape(n.shape), n.params, n.macs, n.aux) for n in net.layers]


def subtotals(net: Network) -> list[Subtotal]:
    """One line per module instance or repeat block at the network's top level."""
    out = []
    for item in net.body:
        if isinstance(item, (Instance, RepeatBlock)):
            nodes = list(item_nodes(item))
            kind = item.module if isinstance(item, Instance) else f"repeat ×{item.count}"
            out.append(Subtotal(item.qualname, kind, sum(n.params for n in nodes), sum(n.macs for n in nodes), item.aux))
    return out


def _op_text(op: str, activation: str | None) -> str:
    return f"{op}+{activation}" if activation else op


def to_json(net: Network) -> dict[str, Any]:
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
                "output_shape": list(n.shape),
                "params": n.params,
                "macs": n.macs,
                "aux": n.aux,
            }
            for n in net.layers
        ],
        "modules": [{"path": s.path, "module": s.module, "params": s.params, "macs": s.macs, "aux": s.aux} for s in subtotals(net)],
        "outputs": [net.nodes[net.output].qualname] + [net.node_of(item).qualname for item in net.aux_heads],
        "total_params": net.total_params,
        "inference_params": net.inference_params,
        "macs": net.macs,
        "training_macs": net.training_macs,
    }


def to_text(net: Network) -> str:
    rows = layer_rows(net)
    header = ("layer", "op", "module", "output", "params", "MACs")
    body = [
        (r.name + (" (aux)" if r.aux and r.name.count(".") == 0 else ""), r.op, r.module, r.shape, f"{r.params:,}", f"{r.macs:,}")
        for r in rows
    ]
    table = [header, *body]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    right = {4, 5}

    def line(row: tuple[str, ...]) -> str:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [f"{net.name}  (input {fmt_shape(net.input_shape)}, {net.file})", "", line(header), rule]
    out.extend(line(r) for r in body)
    subs = subtotals(net)
    if subs:
        out += ["", "per module instance:"]
        sw = max(len(s.path) for s in subs)
        mw = max(len(s.module) for s in subs)
        for s in subs:
            tag = "  (aux, training only)" if s.aux else ""
            out.append(f"  {s.path.ljust(sw)}  {s.module.ljust(mw)}  {s.params:>13,} params  {s.macs:>15,} MACs{tag}")
    out += [
        "",
        f"total params      {net.total_params:>16,}",
        f"inference params  {net.inference_params:>16,}   (without aux heads)",
        f"MACs              {net.macs:>16,}   (inference, batch 1; FLOPs ≈ 2 × MACs)",
    ]
    if net.training_macs != net.macs:
        out.append(f"training MACs     {net.training_macs:>16,}   (with aux heads)")
    return "\n".join(out)


def explain(net: Network) -> str:
    """The arithmetic behind every shape and count, one line each, as a textbook writes it."""
    out = [f"{net.name}: input {fmt_shape(net.input_shape)}"]
    width = max((len(n.qualname) for n in net.layers), default=0)
    for n in net.layers:
        for text in n.explain or [f"{n.op} → {fmt_shape(n.shape)}"]:
            out.append(f"{n.qualname.ljust(width)}  {text}")
    counted = [f"{n.params:,}" for n in net.layers if n.params]
    sums = f"{' + '.join(counted)} = " if len(counted) > 1 else ""
    out += ["", f"total params = {sums}{net.total_params:,}"]
    return "\n".join(out)
