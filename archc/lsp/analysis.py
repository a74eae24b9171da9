"""What the language server knows about one document: symbols, links, hovers, completions.

Everything here works on the compiler's own results (archc.compiler.compile_source) and on
Spans, 1-based and end-exclusive like the diagnostics; server.py turns them into LSP ranges.
Names are bound the way resolve.py binds them: a `from` sees the layers before it in its own
scope and the scopes around it, a module body sees only itself, unnamed layers get the same
generated names (`conv_1`) the summary shows.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from .. import ir, naming, ops
from ..compiler import Compilation, compile_source
from ..diagnostics import Span
from ..graph import Instance, Item, Network, Node, RepeatBlock, item_nodes, walk
from ..shapes import fmt_shape

Pos = tuple[int, int]  # (line, column), 1-based, as in Span


@dataclass
class Symbol:
    """A network, module, input, layer or branch, with where it stands and where its name is."""

    name: str
    kind: str  # network | module | input | layer | call | repeat | branch
    span: Span
    selection: Span
    detail: str = ""
    children: list[Symbol] = field(default_factory=list)
    head: Span | None = None  # a layer's op or module name


@dataclass(frozen=True)
class Link:
    """A name that refers to a definition: a module call, a `from` reference, a module parameter."""

    use: Span
    target: Span


def contains(span: Span, pos: Pos) -> bool:
    return (span.line, span.column) <= pos <= (span.end_line, span.end_column)


def _size(span: Span) -> tuple[int, int]:
    return (span.end_line - span.line, span.end_column - span.column if span.end_line == span.line else 10**6)


class _Scope:
    """resolve.Scope without node ids: the names a layer can read, and generated names."""

    def __init__(self, parent: _Scope | None) -> None:
        self.parent = parent
        self.names: dict[str, Span] = {}
        self.taken: set[str] = set()
        self.reserved: set[str] = set()
        self.counters: dict[str, int] = {}

    def lookup(self, name: str) -> Span | None:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            scope = scope.parent
        return None

    def auto_name(self, base: str) -> str:
        return naming.auto_name(base, self.counters, self.taken, self.reserved)


class _Indexer:
    """One walk over the syntax IR: the outline and every name → definition link."""

    def __init__(self, program: ir.Program) -> None:
        self.modules = {m.name.text: m for m in program.modules}
        self.links: list[Link] = []
        self.params: dict[str, Span] = {}
        self.symbols: list[Symbol] = []
        defs: list[ir.ModuleDef | ir.NetworkDef] = [*program.modules, *program.networks]
        for d in sorted(defs, key=lambda d: (d.span.line, d.span.column)):
            if isinstance(d, ir.ModuleDef):
                self.params = {p.text: p.span for p in d.params}
                sym = Symbol(d.name.text, "module", d.span, d.name.span, f"({', '.join(p.text for p in d.params)})")
            else:
                self.params = {p.name.text: p.name.span for p in d.params}
                sym = Symbol(d.name.text, "network", d.span, d.name.span)
            sym.children = self.block(d.body, _Scope(None))
            self.symbols.append(sym)

    def block(self, block: ir.Block, scope: _Scope) -> list[Symbol]:
        naming.reserve(block.stmts, scope.taken, scope.reserved)
        out = []
        for stmt in block.stmts:
            if isinstance(stmt, ir.Input):
                name = stmt.name.text if stmt.name else "input"
                where = stmt.name.span if stmt.name else stmt.span
                scope.names.setdefault(name, where)
                out.append(Symbol(name, "input", stmt.span, where, "input " + fmt_shape(stmt.shape.dims)))
            else:
                out.append(self.layer(stmt, scope))
        return out

    def layer(self, stmt: ir.Layer, scope: _Scope) -> Symbol:
        body = stmt.body
        if stmt.name is not None and stmt.name.text not in scope.names:
            name = stmt.name.text
        else:
            base = stmt.name.text if stmt.name else body.op.text if isinstance(body, ir.Op) else _call_or_repeat(body)
            name = scope.auto_name(base)
        for ref in stmt.sources:
            target = scope.lookup(ref.text)
            if target is not None:
                self.links.append(Link(ref.span, target))
        where = stmt.name.span if stmt.name else _head(body)
        sym = Symbol(name, "layer", stmt.span, where, _describe(body), head=_head(body))
        if isinstance(body, ir.Call):
            sym.kind = "call"
            mdef = self.modules.get(body.module.text)
            if mdef is not None:
                self.links.append(Link(body.module.span, mdef.name.span))
            self.values(body.args)
        elif isinstance(body, ir.Repeat):
            sym.kind = "repeat"
            self.values((body.count,))
            sym.children = self.block(body.body, _Scope(scope))
            only = body.body.stmts[0] if len(body.body.stmts) == 1 else None
            if isinstance(only, ir.Layer) and only.name is None:  # each iteration is this layer: layer1.0, layer1.1
                n = body.count.value
                last = f"{n - 1}" if isinstance(n, int) else "…"
                sym.children[0].name = f"{name}.0" + (f"–{name}.{last}" if last != "0" else "")
        else:
            self.values(a.value for a in body.args)
            sym.children = self.branches(body, stmt.name is not None, scope)
        scope.names[name] = where
        return sym

    def branches(self, op: ir.Op, named: bool, scope: _Scope) -> list[Symbol]:
        names = _Scope(None) if named else scope
        names.taken.update(br.name.text for br in op.branches or () if br.name is not None)
        out = []
        for br in op.branches or ():
            if br.name is not None:
                bname = br.name.text
                names.taken.add(bname)
            else:
                bname = names.auto_name("branch")
            sym = Symbol(bname, "branch", br.span, br.name.span if br.name else br.span, "identity" if br.body is None else "")
            if br.body is not None:
                sym.children = self.block(br.body, _Scope(scope))
            out.append(sym)
        return out

    def values(self, values: object) -> None:
        todo = [v for v in values if isinstance(v, ir.Value)]  # type: ignore[attr-defined]
        while todo:  # the names inside expressions (`c*4`, `max(a, b)`) link to their parameters too
            v = todo.pop(0)
            t = v.value
            if isinstance(t, ir.Ref) and t.name in self.params:
                self.links.append(Link(v.span, self.params[t.name]))
            elif isinstance(t, ir.BinOp):
                todo[:0] = [t.left, t.right]
            elif isinstance(t, ir.Neg):
                todo.insert(0, t.operand)
            elif isinstance(t, ir.Func):
                todo[:0] = list(t.args)
            elif isinstance(t, ir.Values):
                todo[:0] = list(t.items)


def _call_or_repeat(body: ir.Call | ir.Repeat) -> str:
    return body.module.text if isinstance(body, ir.Call) else "repeat"


def _head(body: ir.Body) -> Span:
    if isinstance(body, ir.Op):
        return body.op.span
    if isinstance(body, ir.Call):
        return body.module.span
    s = body.span
    return Span(s.file, s.line, s.column, s.line, s.column + len("repeat"))


def _describe(body: ir.Body) -> str:
    if isinstance(body, ir.Call):
        return f"{body.module.text}({', '.join(str(v.value) for v in body.args)})"
    if isinstance(body, ir.Repeat):
        return f"repeat {body.count.value}"
    words = [body.op.text] + [(f"{a.key}=" if a.key else "") + str(a.value.value) for a in body.args]
    return " ".join(words)


# -- the analysis of one version of a document ------------------------------------------------------
class Analysis:
    def __init__(self, text: str, file: str) -> None:
        self.text = text
        # The compiler drops a byte-order mark; a space in its place keeps line 1's columns the editor's.
        self.comp: Compilation = compile_source(" " + text[1:] if text.startswith("\ufeff") else text, file)
        self._index: _Indexer | None = None
        self._items: dict[Span, list[tuple[Network, Item]]] | None = None

    @property
    def index(self) -> _Indexer | None:
        if self._index is None and self.comp.program is not None:
            self._index = _Indexer(self.comp.program)
        return self._index

    @property
    def symbols(self) -> list[Symbol]:
        return self.index.symbols if self.index else []

    def items(self, span: Span) -> list[tuple[Network, Item]]:
        """The graph items (one per instance of a module body) that a statement became."""
        if self._items is None:
            self._items = defaultdict(list)
            for net in self.comp.networks:
                self._items[net.input.span].append((net, net.input))
                for item in walk(net.body):
                    self._items[item.span].append((net, item))
        return self._items.get(span, [])

    def symbol_path(self, pos: Pos) -> list[Symbol]:
        """The symbols around a position, outermost first."""
        path: list[Symbol] = []
        level = self.symbols
        while True:
            inside = [s for s in level if contains(s.span, pos)]
            if not inside:
                return path
            best = min(inside, key=lambda s: _size(s.span))
            path.append(best)
            level = best.children

    def definition(self, pos: Pos) -> Span | None:
        if self.index is None:
            return None
        for link in self.index.links:
            if contains(link.use, pos):
                return link.target
        return None

    def formatted(self) -> str | None:
        """`archc fmt`'s output, or None while the spec does not parse (fmt stops at syntax errors too)."""
        from ..backends.arch import format_program

        if self.comp.program is None:
            return None
        return format_program(self.comp.program, self.comp.source)

    # -- hover -----------------------------------------------------------------------------------
    def hover(self, pos: Pos) -> tuple[str, Span] | None:
        path = self.symbol_path(pos)
        for sym in reversed(path):
            if sym.kind == "network":
                return self._hover_network(sym), sym.selection
            if sym.kind == "module":
                return self._hover_module(sym), sym.selection
            if sym.kind in ("input", "layer", "call", "repeat"):
                items = self.items(sym.span)
                text = _hover_items(sym, items) if items else f"**{sym.name}** `{sym.detail}`\n\nno shape: the spec has an error here"
                return text + _op_doc(sym, pos), sym.span
        return None

    def _hover_network(self, sym: Symbol) -> str:
        net = next((n for n in self.comp.networks if n.name == sym.name), None)
        if net is None:
            return f"**network {sym.name}**"
        out = net.nodes[net.output]
        lines = [
            f"**network {net.name}**: {fmt_shape(net.input_shape)} → {_shape(out.shape)}",
            "",
            f"{len(net.layers):,} layers · {net.total_params:,} params ({net.inference_params:,} without aux heads) · {net.macs:,} MACs",
        ]
        return "\n".join(lines)

    def _hover_module(self, sym: Symbol) -> str:
        calls = [item for net in self.comp.networks for item in walk(net.body) if isinstance(item, Instance) and item.module == sym.name]
        lines = [f"**module {sym.name}**{sym.detail}", ""]
        if not calls:
            lines.append("not called by any network")
        for inst in calls[:MAX_ROWS]:
            nodes = list(item_nodes(inst))
            params, macs = sum(n.params for n in nodes), sum(n.macs for n in nodes)
            lines.append(f"- `{inst.qualname}`({', '.join(map(str, inst.args))}) → {_shape(inst.shape)}, {params:,} params, {macs:,} MACs")
        if len(calls) > MAX_ROWS:
            lines.append(f"- … {len(calls) - MAX_ROWS} more")
        return "\n".join(lines)


MAX_ROWS = 12


def _shape(shape: tuple[int, ...]) -> str:
    return fmt_shape(shape) if shape else "unknown (an error before it)"


def _totals(item: Item) -> tuple[int, int]:
    nodes = list(item_nodes(item))
    return sum(n.params for n in nodes), sum(n.macs for n in nodes)


def _hover_items(sym: Symbol, items: list[tuple[Network, Item]]) -> str:
    first = items[0][1]
    title = f"**{sym.name}** `{sym.detail}`" if sym.kind != "input" else f"**{sym.name}** (input)"
    if first.aux:
        title += " — aux head, training only"
    if len(items) == 1:
        params, macs = _totals(first)
        lines = [title, "", f"output **{_shape(first.shape)}** · {params:,} params · {macs:,} MACs"]
        if isinstance(first, Instance):
            lines.append(f"\n{len(list(item_nodes(first)))} layers in this instance of module `{first.module}`")
        if isinstance(first, RepeatBlock):
            lines.append(f"\n{first.count} iterations, {len(list(item_nodes(first)))} layers")
        lines += _explain(first)
        return "\n".join(lines)
    lines = [title, "", f"{len(items)} instances:", "", "| layer | output | params | MACs |", "|---|--:|--:|--:|"]
    for _, item in items[:MAX_ROWS]:
        params, macs = _totals(item)
        lines.append(f"| `{item.qualname}` | {_shape(item.shape)} | {params:,} | {macs:,} |")
    if len(items) > MAX_ROWS:
        lines.append(f"| … {len(items) - MAX_ROWS} more | | | |")
    explained = _explain(first)
    if explained:
        lines += ["", f"arithmetic of `{first.qualname}`:", *explained]
    return "\n".join(lines)


def _explain(item: Item) -> list[str]:
    """The `archc summary --explain` lines of a layer (summary.explain prints the same list)."""
    if not isinstance(item, Node) or item.op == "input":
        return []
    lines = item.explain or [f"{item.op} → {fmt_shape(item.shape)}"]
    return ["", "```text", *lines, "```"]


def _op_doc(sym: Symbol, pos: Pos) -> str:
    """The catalogue's description when the cursor is on the op's name."""
    if sym.kind != "layer" or sym.head is None or not contains(sym.head, pos):
        return ""
    word = sym.detail.split(" ", 1)[0]
    opdef = ops.CATALOGUE.get(word)
    if opdef is None:
        return ""
    return f"\n\n---\n`{opdef.name}`: {opdef.doc}"


# -- completion -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Completion:
    label: str
    kind: str  # op | module | keyword | option | flag | activation | layer | value | param
    detail: str = ""
    doc: str = ""
    insert: str | None = None


KEYWORDS = ("input", "repeat", "branch", "aux", "from", "connections", "network", "module")
_HEAD = re.compile(r"^\s*(?:[^\W\d]\w*\s*:\s*)?(?:aux\s+)?[^\W\d]?\w*$")
_ARGS = re.compile(r"^\s*(?:[^\W\d]\w*\s*:\s*)?(?:aux\s+)?([^\W\d]\w*)\s+(.*)$")
_FROM = re.compile(r"\bfrom\s+(?:[^\W\d]\w*\s*,\s*)*[^\W\d]?\w*$")
_KEY = re.compile(r"([^\W\d]\w*)=[^\s=]*$")
_DEFINED = re.compile(r"(?<![=\w])([^\W\d]\w*)\s*:(?!\s*=)")
_DEF_START = re.compile(r"^\s*(network|module)\b")
_MODULE = re.compile(r"^\s*module\s+([^\W\d]\w*)\s*\(([^)]*)\)", re.M)


def complete(text: str, pos: Pos) -> list[Completion]:
    """Completions at a position; works on the text alone, so a half-typed line still completes."""
    lines = text.split("\n")
    if not 1 <= pos[0] <= len(lines):
        return []
    prefix = lines[pos[0] - 1][: pos[1] - 1]
    if "#" in prefix:
        return []
    seg = re.split(r"[;{]", prefix)[-1]
    if "->" in seg:
        return []
    if _FROM.search(seg):
        return _layer_names(lines, pos)
    if _HEAD.match(seg):
        return _heads(text)
    found = _ARGS.match(seg)
    if found is None:
        return []
    opdef = ops.CATALOGUE.get(found.group(1))
    if opdef is None:
        return [Completion("from", "keyword")]
    key = _KEY.search(found.group(2))
    if key:
        return _option_values(opdef, key.group(1))
    return _options(opdef, found.group(2), _module_params(lines, pos))


def _heads(text: str) -> list[Completion]:
    out = [Completion(op.name, "op", op.family, f"{op.doc}\n\n    {op.example}") for op in ops.CATALOGUE.values()]
    for m in _MODULE.finditer(text):
        params = [p.strip() for p in m.group(2).split(",") if p.strip()]
        out.append(Completion(m.group(1), "module", f"module {m.group(1)}({', '.join(params)})", insert=f"{m.group(1)}("))
    out += [Completion(k, "keyword") for k in ("input", "repeat", "branch", "aux")]
    return out


def _options(opdef: ops.OpDef, given: str, params: list[str]) -> list[Completion]:
    done = given.split() if given[-1:].isspace() or not given else given.split()[:-1]  # not the word being typed
    used = {w.split("=", 1)[0] for w in done if "=" in w}
    words = set(done)
    positional = [w for w in done if "=" not in w and w not in opdef.flags and w not in ops.ACTIVATIONS]
    used.update(opdef.positional[: len(positional)])
    out = [Completion(f"{o.name}=", "option", _option_detail(o), o.doc) for o in opdef.options if o.name not in used]
    out += [Completion(flag, "flag", f"{opt}={value}".lower()) for flag, (opt, value) in opdef.flags.items() if flag not in words]
    if opdef.activation and not words & set(ops.ACTIVATIONS) and "activation" not in used:
        out += [Completion(a, "activation", "activation") for a in ops.ACTIVATIONS]
        out.append(Completion("activation=", "option", "an activation applied to the output"))
    if opdef.block == "table":
        out.append(Completion("connections", "keyword", "a connection table { row: X . X ... }"))
    out += [Completion(p, "param", "module parameter") for p in params]
    out.append(Completion("from", "keyword", "read another layer"))
    return out


def _option_detail(o: ops.Option) -> str:
    kind = ops.KIND_TEXT[o.kind] + (" " + ", ".join(o.choices) if o.choices else "")
    default = "required" if o.required else f"default {str(o.default).lower() if isinstance(o.default, bool) else o.default}"
    return f"{kind}; {default}"


def _option_values(opdef: ops.OpDef, key: str) -> list[Completion]:
    if key == "activation" and opdef.activation:
        return [Completion(a, "activation") for a in ops.ACTIVATIONS]
    o = opdef.option(key)
    if o is None:
        return []
    if o.kind == ops.BOOL:
        return [Completion("true", "value"), Completion("false", "value")]
    if o.kind == ops.CHOICE:
        return [Completion(c, "value") for c in o.choices]
    if o.kind == ops.PAD:
        return [Completion("same", "value"), Completion("valid", "value")]
    return []


def _definition_start(lines: list[str], line: int) -> int:
    for k in range(line - 1, -1, -1):
        if _DEF_START.match(lines[k]):
            return k
    return 0


def _layer_names(lines: list[str], pos: Pos) -> list[Completion]:
    start = _definition_start(lines, pos[0])
    seen: dict[str, None] = {}
    for k in range(start, pos[0] - 1):
        code = lines[k].split("#", 1)[0]
        for m in _DEFINED.finditer(code):
            seen.setdefault(m.group(1), None)
    return [Completion(name, "layer") for name in seen]


def _module_params(lines: list[str], pos: Pos) -> list[str]:
    start = _definition_start(lines, pos[0])
    found = _MODULE.match(lines[start]) if lines else None
    return [p.strip() for p in found.group(2).split(",") if p.strip()] if found else []
