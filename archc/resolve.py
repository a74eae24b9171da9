"""Syntax IR → typed graph: names bound, options defaulted, modules instantiated, shapes inferred.

One walk does it all, because a module body can only be shaped once its input is known.
Every problem becomes a diagnostic and the walk goes on, so a run reports all errors; a layer
whose input is already broken is skipped quietly instead of cascading.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import ir, naming, ops
from .bind import Bound, Param, bind
from .diagnostics import Diagnostics, Span
from .expr import ExprError, Result, evaluate, names_in
from .graph import BranchSeq, Instance, Item, Network, Node, RepeatBlock
from .shapes import RULES, Outcome, Shape, ShapeProblem, fmt_shape, layout_problem
from .suggest import OP_ALIASES, NameIndex, alias_of, suggest_in
from .sym import IN_CHANNELS, Sym, sym_of
from .tables import table_inputs

# Limits that keep hostile or mistaken specs from exhausting the machine (docs/language.md).
MAX_NESTING = 64  # module calls, branches and repeats inside one another
MAX_REPEAT = 10_000
MAX_LAYERS = 50_000
MAX_STEPS = 2 * MAX_LAYERS  # layer statements visited and repeat iterations: empty bodies make no layers
PARAM_BUDGET = 10**10

POISON: Shape = ()  # the shape of a value whose producer already failed
OP_INDEX = NameIndex(ops.CATALOGUE)


@dataclass
class Scope:
    path: tuple[str, ...]
    parent: Scope | None
    names: dict[str, int] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)
    counters: dict[str, int] = field(default_factory=dict)
    # explicit branch names of this scope's unnamed merges: never given to an unnamed branch
    reserved: set[str] = field(default_factory=set)
    index: NameIndex = field(default_factory=NameIndex)  # `names`, for did-you-mean in bounded time

    def define(self, name: str, value: int) -> None:
        if name not in self.names:
            self.index.add(name)
        self.names[name] = value

    def suggest(self, word: str) -> str | None:
        scopes = []
        scope: Scope | None = self
        while scope is not None:
            scopes.append(scope.index)
            scope = scope.parent
        return suggest_in(word, scopes)

    def lookup(self, name: str) -> int | None:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.names:
                return scope.names[name]
            scope = scope.parent
        return None

    def visible(self) -> list[str]:
        out: list[str] = []
        scope: Scope | None = self
        while scope is not None:
            out.extend(scope.names)
            scope = scope.parent
        return out

    def auto_name(self, base: str) -> str:
        return naming.auto_name(base, self.counters, self.taken, self.reserved)


@dataclass
class Ctx:
    """What a module instance (or the network) sees: its parameters and its symbolic channels."""

    env: dict[str, Param]
    syms: dict[int, Sym]
    module: str
    stack: tuple[str, ...]
    depth: int = 0
    aux: bool = False


class Resolver:
    def __init__(
        self, program: ir.Program, diags: Diagnostics, input_override: Shape | None = None, params: dict[str, Any] | None = None
    ) -> None:
        self.program = program
        self.params_override = dict(params or {})
        self.param_values: dict[str, tuple[Any, Any]] = {}
        # the network parameters a value's shape depends on, each with the expression that made it so
        self.shape_taint: dict[int, dict[str, Span]] = {}
        self.taint_reported: set[tuple[str, Span]] = set()
        self.diags = diags
        self.input_override = input_override
        self.declared: Shape = ()  # the input the spec declares: its shape assertions hold for it
        self.skipped: set[Span] = set()  # the assertions not checked because another input was given
        self.modules: dict[str, ir.ModuleDef] = {}
        self.module_index = NameIndex()
        self.used: dict[str, ir.ModuleDef] = {}
        self.nodes: list[Node] = []
        self.too_big = False
        self.steps = 0
        for mdef in program.modules:
            if mdef.name.text in self.modules:
                diags.error("duplicate-name", f"module {mdef.name.text} is defined twice", mdef.name.span)
            else:
                self.modules[mdef.name.text] = mdef
                self.module_index.add(mdef.name.text)
            check_module_params(mdef, diags)
        seen: set[str] = set()
        for ndef in program.networks:
            if ndef.name.text in seen:
                diags.error("duplicate-name", f"network {ndef.name.text} is defined twice", ndef.name.span)
            seen.add(ndef.name.text)

    # -- network -------------------------------------------------------------------------------
    def network(self, ndef: ir.NetworkDef, source: str) -> Network | None:
        self.nodes, self.used, self.too_big, self.steps = [], {}, False, 0
        inputs = [s for s in ndef.body.stmts if isinstance(s, ir.Input)]
        if not inputs:
            self.diags.error(
                "missing-input",
                f"network {ndef.name.text} has no input",
                ndef.name.span,
                hint="declare it first, e.g. `input image: 3x224x224`",
            )
            return None
        for extra in inputs[1:]:
            self.diags.error("duplicate-input", "a network has exactly one input", extra.span)
        first = inputs[0]
        if ndef.body.stmts[0] is not first:
            self.diags.error("input-order", "the input must come before the layers", first.span)
        shape = self.input_override or first.shape.dims
        if len(shape) not in (1, 3) or min(shape) < 1:
            hint = None
            if len(shape) == 2:
                hint = f"an image input is channels x height x width: 1x{fmt_shape(shape)} for one {fmt_shape(shape)} map, e.g. 1x32x32 for LeNet-5"
            self.diags.error(
                "input-shape", f"input shape {fmt_shape(shape)} must be CxHxW or a length N, every size ≥ 1", first.shape.span, hint=hint
            )
            return None
        self.declared, self.skipped = first.shape.dims, set()
        self._check_layout(shape, first.shape.span)
        name = first.name.text if first.name else "input"
        inp = self._node(name, (name,), "input", {}, None, (), shape, first.span, Ctx({}, {}, "", ()))
        scope = Scope((), None, {name: inp.id}, {name})
        env = self._network_params(ndef)
        if env is None:
            return None
        ctx = Ctx(env, {inp.id: Sym.of(shape[0])}, "", ())
        body = [s for s in ndef.body.stmts if not isinstance(s, ir.Input)]
        errors_before = len(self.diags.errors)
        items, out = self.block(body, scope, ctx, inp.id)
        if len(self.diags.errors) == errors_before:
            self._no_silent_failure()
        if self.skipped:
            self._note_skipped(first.shape.span)
        net = Network(ndef.name.text, self.program.file, source, name, self.nodes, items, out, dict(self.used), dict(self.param_values))
        if self.too_big:
            return None
        if len(self.diags.errors) == errors_before:  # after an error, liveness would only cascade
            self._warn_unread(net)
        if not self._poisoned(out) and net.total_params > PARAM_BUDGET:
            self.diags.error(
                "limit",
                f"network {net.name} holds {net.total_params:,} parameters, over the budget of {PARAM_BUDGET:,}",
                ndef.name.span,
                hint="check the sizes; the budget protects the machine from an accidental giant",
            )
        return net

    def _network_params(self, ndef: ir.NetworkDef) -> dict[str, Param] | None:
        """`network N(classes=1000)`: each parameter at its default, or at the value asked for (`params=`)."""
        env: dict[str, Param] = {}
        self.param_values, self.shape_taint, self.taint_reported = {}, {}, set()
        ok = True
        for param in ndef.params:
            key = param.name.text
            if key in env:
                self.diags.error("duplicate-name", f"network {ndef.name.text} has two parameters named {key}", param.name.span)
                ok = False
                continue
            try:
                default = evaluate(param.default, {}).value
            except ExprError as exc:
                self.diags.error(exc.code, exc.message, exc.span, hint=exc.hint)
                ok = False
                continue
            if isinstance(default, bool) or not isinstance(default, int | float):
                self.diags.error(
                    "network-param",
                    f"network parameter {key} needs a number as its default, got {default}",
                    param.default.span,
                    hint="`archc check` shapes the network at its defaults",
                )
                ok = False
                continue
            value = self.params_override.get(key, default)
            self.param_values[key] = (default, value)
            env[key] = Param(value, key, frozenset({key}))
        return env if ok else None

    def _overridden(self) -> bool:
        return any(default != value for default, value in self.param_values.values())

    def _check_taint(self, opdef: ops.OpDef, bound: Bound, node: Node, inputs: tuple[int, ...]) -> None:
        """A network parameter may set only what the generated code writes as the parameter itself,
        and nothing whose generated code is written for a fixed shape may read a shape that follows one."""
        symbolic = ops.SYMBOLIC_OPTIONS.get(opdef.name, ())
        for key, taint in bound.taints.items():
            if key not in symbolic:
                param = sorted(taint)[0]
                self.diags.error(
                    "network-param",
                    f"network parameter {param} sets {opdef.name} {key}: the generated code is written for fixed shapes, "
                    f"and it writes {key} as a number",
                    bound.spans.get(key, node.span),
                    hint=f"a network parameter may set {_options_text()}",
                )
        incoming: dict[str, Span] = {}
        for i in inputs:
            for param, origin in self.shape_taint.get(i, {}).items():
                incoming.setdefault(param, origin)
        if incoming and opdef.name not in ops.SHAPE_FREE:
            for param, origin in incoming.items():
                if (param, origin) in self.taint_reported:
                    continue
                self.taint_reported.add((param, origin))
                self.diags.error(
                    "network-param",
                    f"network parameter {param} sets a shape that {node.qualname} ({opdef.name}) reads: "
                    f"its generated code is written for that shape and cannot follow {param}",
                    origin,
                    notes=(f"{node.qualname} reads it at line {node.span.line}",),
                    hint="a network parameter may size only layers whose output goes on through activations, dropout "
                    "and flatten alone, such as the classifier's `dense classes`",
                )
            incoming = {}
        out = dict(incoming) if opdef.name in ops.SHAPE_FREE else {}
        for key in ops.SHAPE_OPTIONS:
            for param in sorted(bound.taints.get(key, ())):
                out.setdefault(param, bound.spans.get(key, node.span))
        if out:
            self.shape_taint[node.id] = out

    def _check_layout(self, shape: Shape, span: Span) -> None:
        written = f"--input {fmt_shape(shape)}" if self.input_override else f"input {fmt_shape(shape)}"
        problem = layout_problem(shape, written)
        if problem is not None:
            self.diags.warning(problem.code, problem.message, span, hint=problem.hint)

    def _asserting(self, lit: ir.ShapeLit) -> bool:
        """A `-> SHAPE` states the shape at the declared input; at another (`--input`) it is skipped and counted."""
        if self.input_override is None or tuple(self.input_override) == self.declared:
            return True
        self.skipped.add(lit.span)
        return False

    def _note_skipped(self, span: Span) -> None:
        count, declared = len(self.skipped), fmt_shape(self.declared)
        self.diags.note(
            "input-override",
            f"--input {fmt_shape(tuple(self.input_override or ()))} replaces the declared input {declared}: "
            f"the {count} shape assertion{'s' if count != 1 else ''} (`-> SHAPE`) state the shapes at {declared} and were not checked",
            span,
        )

    def _warn_unread(self, net: Network) -> None:
        """One warning per dead end: a layer whose output nothing reads and that is no output."""
        read = {i for node in net.nodes for i in node.inputs}
        for node in net.layers:
            if node.id not in net.live and node.id not in read:
                self.diags.warning(
                    "unused-layer",
                    f"nothing reads the output of {node.qualname}",
                    node.span,
                    hint="it, and the layers only it reads, are left out of the generated models and the totals; "
                    "did a later layer mean to read it (`from`)?",
                )

    # -- blocks and layers -----------------------------------------------------------------------
    def block(self, stmts: Sequence[ir.Stmt], scope: Scope, ctx: Ctx, cur: int) -> tuple[list[Item], int]:
        naming.reserve(stmts, scope.taken, scope.reserved)
        items: list[Item] = []
        for stmt in stmts:
            if self.too_big:
                break
            if isinstance(stmt, ir.Input):
                self.diags.error("input-order", "`input` belongs at the top of a network", stmt.span)
                continue
            item = self.layer(stmt, scope, ctx, cur)
            if item is None:
                continue
            items.append(item)
            if not stmt.aux:  # an aux head branches off; the main path goes on from before it
                cur = item.id if isinstance(item, Node) else item.output
        return items, cur

    def layer(self, stmt: ir.Layer, scope: Scope, ctx: Ctx, cur: int, forced_name: str | None = None) -> Item | None:
        if ctx.depth > MAX_NESTING:
            self.diags.error("limit", f"nesting deeper than {MAX_NESTING} levels", stmt.span)
            self.too_big = True
            return None
        if not self._step(stmt.span):
            return None
        name = forced_name or self._claim_name(stmt, scope)
        sources = [self._source(s, scope) for s in stmt.sources]
        if stmt.aux:
            ctx = self._aux_ctx(stmt, scope, ctx)
        if any(s is None for s in sources):
            return None
        src = [s for s in sources if s is not None]
        for ref, node_id in zip(stmt.sources, src, strict=True):
            if self.nodes[node_id].aux and not ctx.aux:
                self.diags.error(
                    "aux-reference",
                    f"{ref.text} is an aux head, a training-time output: the main network cannot read it",
                    ref.span,
                    hint=f"read the layer {ref.text} reads, or make this layer an aux head too",
                )
                return None
        body = stmt.body
        if len(src) > 1 and not (isinstance(body, ir.Op) and body.op.text in ops.MERGES):
            self.diags.error("too-many-sources", f"only the merges ({', '.join(ops.MERGES)}) read several layers", stmt.sources[1].span)
            return None
        start = src[0] if src else cur
        item: Item | None
        if isinstance(body, ir.Op):
            item = self.op(stmt, body, name, scope, ctx, start, src)
        elif isinstance(body, ir.Call):
            item = self.call(stmt, body, name, scope, ctx, start)
        else:
            item = self.repeat(stmt, body, name, scope, ctx, start)
        if item is None:
            return None
        item.sourced = bool(src)
        scope.define(name, item.id if isinstance(item, Node) else item.output)
        if stmt.assertion is not None and self._asserting(stmt.assertion):
            self._check_assertion(stmt.assertion, name, self.nodes[scope.names[name]], ctx)
            if not isinstance(item, Node):
                item.shape = self.nodes[item.output].shape
        return item

    def _claim_name(self, stmt: ir.Layer, scope: Scope) -> str:
        if stmt.name is None:
            body = stmt.body
            base = body.op.text if isinstance(body, ir.Op) else body.module.text if isinstance(body, ir.Call) else "repeat"
            return scope.auto_name(base)
        name = stmt.name.text
        if name in scope.names:
            self.diags.error("duplicate-name", f"layer name {name} is already used in this scope", stmt.name.span)
            return scope.auto_name(name)
        return name

    def _source(self, ref: ir.Name, scope: Scope) -> int | None:
        found = scope.lookup(ref.text)
        if found is None:
            self.diags.error(
                "undefined-name",
                f"no layer named {ref.text} before this point",
                ref.span,
                hint=scope.suggest(ref.text),
            )
        return found

    def _aux_ctx(self, stmt: ir.Layer, scope: Scope, ctx: Ctx) -> Ctx:
        if not stmt.sources:
            self.diags.error(
                "aux-source", "an aux head needs `from LAYER`", stmt.span, hint="e.g. `aux1: aux classifier(1000) from inception4a`"
            )
        if scope.parent is not None or ctx.module:
            self.diags.error("aux-placement", "aux heads belong at the top level of a network", stmt.span)
        return dataclasses.replace(ctx, aux=True)

    def _check_assertion(self, lit: ir.ShapeLit, name: str, node: Node, ctx: Ctx) -> None:
        """`-> SHAPE` must hold; whether it does or not, the check goes on with the declared shape.

        After an error (in this layer or before it) the assertion is what the spec says the layer
        outputs, so the layers after it are checked against the author's intent: every independent
        mistake is reported, and none is the echo of another.
        """
        if lit.dims == node.shape:
            return
        if node.id in self.shape_taint and self._overridden():
            return  # the assertion states the shape at the parameters' defaults
        if self._poisoned(node.id):
            if len(lit.dims) in (1, 3) and min(lit.dims) >= 1:
                node.shape = lit.dims
                ctx.syms[node.id] = Sym.of(lit.dims[0])
            return
        self.diags.error(
            "shape-assert",
            f"{name} is declared {fmt_shape(lit.dims)} but computes {fmt_shape(node.shape)}",
            lit.span,
            notes=tuple(node.explain[:2]),
            hint=self._rounding_hint(lit.dims, node),
        )
        if len(lit.dims) in (1, 3) and min(lit.dims) >= 1:
            node.explain = [*node.explain, f"declared {fmt_shape(lit.dims)}: the check goes on with that"]
            node.shape = lit.dims  # the layers after it read what the spec declares
            ctx.syms[node.id] = Sym.of(lit.dims[0])

    def _rounding_hint(self, declared: Shape, node: Node) -> str | None:
        """A pool whose other rounding mode gives the declared shape: say so."""
        if node.op not in ("maxpool", "avgpool") or len(node.inputs) != 1:
            return None
        flipped = {**node.attrs, "ceil": not node.attrs.get("ceil", False)}
        try:
            other = RULES[node.op](node.name, flipped, [self.nodes[node.inputs[0]].shape]).shape
        except ShapeProblem:
            return None
        if other != declared:
            return None
        if flipped["ceil"]:
            return f"ceil rounding gives {fmt_shape(declared)}: add `ceil` (Caffe's pools, and GoogLeNet's, round up)"
        return f"floor rounding gives {fmt_shape(declared)}: drop `ceil`"

    # -- ops --------------------------------------------------------------------------------------
    def op(self, stmt: ir.Layer, op: ir.Op, name: str, scope: Scope, ctx: Ctx, cur: int, src: list[int]) -> Node | None:
        opdef = ops.CATALOGUE.get(op.op.text)
        if opdef is None:
            self._unknown_op(op)
            return self._node(name, scope.path + (name,), op.op.text, {}, None, (cur,), POISON, stmt.span, ctx)
        bound = bind(opdef, op, ctx.env, self.diags)
        self._check_block(opdef, op)
        branches: tuple[BranchSeq, ...] = ()
        if opdef.merge:
            if op.branches and src:
                self.diags.error("too-many-sources", f"{opdef.name} takes branches or `from`, not both", stmt.sources[0].span)
            if op.branches:
                branches = self._branches(op, name, stmt.name is not None, scope, ctx, cur)
                inputs = tuple(b.output for b in branches)
            elif src:
                inputs = tuple(src)
            else:
                self.diags.error(
                    "empty-merge", f"{opdef.name} needs branches or `from a, b`", op.op.span, hint=f"for example: {opdef.example}"
                )
                inputs = ()
        else:
            inputs = (cur,)
        shape, outcome = self._shape(name, opdef, op, bound, inputs)
        node = self._node(name, scope.path + (name,), opdef.name, bound.attrs, bound.activation, inputs, shape, stmt.span, ctx)
        node.exprs, node.branches = bound.exprs, branches
        node.tainted = frozenset(key for key, taint in bound.taints.items() if taint)
        self._check_taint(opdef, bound, node, inputs)
        if outcome is not None:
            node.params, node.macs, node.explain = outcome.params, outcome.macs, outcome.explain
            node.known = outcome.known
        if bound.shown:
            node.explain = [f"{key} = {text}" for key, text in bound.shown.items()] + node.explain
        in_syms = [ctx.syms.get(i, Sym()) for i in inputs]
        node.in_sym = in_syms[0] if in_syms else Sym()
        node.out_sym = self._out_sym(node, in_syms, bound)
        ctx.syms[node.id] = node.out_sym
        return node

    def _unknown_op(self, op: ir.Op) -> None:
        word = op.op.text
        if word in self.modules:
            hint = f"{word} is a module: call it with its arguments, `{word}(...)`"
        elif (alias := alias_of(word, OP_ALIASES, ops.CATALOGUE)) is not None:
            hint = f"did you mean `{alias}`? (`{word}` is {alias} in archc)"
        else:
            hint = (
                suggest_in(word, (OP_INDEX, self.module_index)) or '`archc docs` prints the language reference, with every op under "Ops"'
            )
        self.diags.error("unknown-op", f"unknown op `{word}`", op.op.span, hint=hint)

    def _check_block(self, opdef: ops.OpDef, op: ir.Op) -> None:
        if op.table is not None and opdef.block != "table":
            self.diags.error("unexpected-block", f"{opdef.name} takes no connection table", op.table.span)
        if op.branches is not None and opdef.block != "branches":
            self.diags.error(
                "unexpected-block",
                f"{opdef.name} takes no branches",
                op.span,
                hint=f"branches belong to the merges ({', '.join(ops.MERGES)})",
            )

    def _branches(self, op: ir.Op, name: str, named: bool, scope: Scope, ctx: Ctx, cur: int) -> tuple[BranchSeq, ...]:
        out = []
        base = scope.path + (name,) if named else scope.path
        inner = dataclasses.replace(ctx, depth=ctx.depth + 1)
        # A named merge holds its branches' names (sum.branch1, counted from 1 in each merge); an
        # unnamed one puts them in the enclosing scope (inception's b1.conv_1), beside its layers.
        names = Scope(base, None) if named else scope
        # Explicit branch names are reserved before any unnamed branch is numbered, so that
        # `branch { } branch branch1 { }` numbers the first one branch2 instead of refusing the second.
        explicit = [br.name.text for br in op.branches or () if br.name is not None]
        taken_before = set() if named else {n for n in explicit if n in scope.taken}
        names.taken.update(explicit)
        seen: set[str] = set()
        for br in op.branches or ():
            if br.name is not None:
                bname = br.name.text
                if bname in seen:
                    self.diags.error("duplicate-name", f"branch name {bname} is already used in this {op.op.text}", br.name.span)
                elif bname in taken_before:
                    self.diags.error("duplicate-name", f"branch name {bname} is already used in this scope", br.name.span)
            else:
                bname = names.auto_name("branch")
            seen.add(bname)
            bscope = Scope(base + (bname,), scope)
            items, end = self.block(br.body.stmts, bscope, inner, cur) if br.body else ([], cur)
            out.append(BranchSeq(bname, base + (bname,), items, cur, end))
        return tuple(out)

    def _shape(self, name: str, opdef: ops.OpDef, op: ir.Op, bound: Bound, inputs: tuple[int, ...]) -> tuple[Shape, Outcome | None]:
        if not bound.ok or not inputs or any(self._poisoned(i) for i in inputs):
            return POISON, None
        shapes = [self.nodes[i].shape for i in inputs]
        attrs = bound.attrs
        if "stride" in attrs and attrs["stride"] is None:
            attrs["stride"] = attrs["kernel"][:2]
        if opdef.name == "conv" and op.table is not None and len(shapes[0]) == 3:  # else the rule says needs-spatial
            table = table_inputs(op.table, shapes[0][0], attrs["filters"], self.diags)
            if table is None:
                return POISON, None
            if attrs["groups"] != 1:
                self.diags.error("connection-table", "a connection table replaces groups; drop groups=", op.table.span)
                return POISON, None
            attrs["table"] = table
        try:
            outcome = RULES[opdef.name](name, attrs, shapes)
        except ShapeProblem as problem:
            where = bound.spans.get(problem.option or "", op.op.span)
            self.diags.error(problem.code, problem.message, where, hint=self._hint(problem, inputs))
            return self._recover(name, opdef, attrs, shapes, problem)
        for warn in outcome.warnings:
            self.diags.warning(warn.code, warn.message, bound.spans.get(warn.option or "", op.op.span), hint=warn.hint)
        return outcome.shape, outcome

    def _recover(
        self, name: str, opdef: ops.OpDef, attrs: dict[str, Any], shapes: list[Shape], problem: ShapeProblem
    ) -> tuple[Shape, Outcome | None]:
        """After a wrong filter depth, the shape the conv declares (its filters, kernel, stride, pad);
        its params and MACs stay unknown. After any other shape error, POISON (the assertion may say more)."""
        if problem.code != "channel-mismatch":
            return POISON, None
        try:
            outcome = RULES[opdef.name](name, {**attrs, "kernel": attrs["kernel"][:2]}, shapes)
        except ShapeProblem:
            return POISON, None
        outcome.params = outcome.macs = 0
        outcome.explain = [line for line in outcome.explain if not line.endswith(("params", "MACs"))]
        outcome.warnings, outcome.known = [], False
        return outcome.shape, outcome

    def _hint(self, problem: ShapeProblem, inputs: tuple[int, ...]) -> str | None:
        if problem.hint or not inputs or problem.code == "option-value":  # a bad option is wrong whatever the input
            return problem.hint
        prev = self.nodes[inputs[0]]
        return f"the previous layer {prev.name} outputs {fmt_shape(prev.shape)}"

    def _out_sym(self, node: Node, in_syms: list[Sym], bound: Bound) -> Sym:
        if node.shape == POISON:
            return Sym()
        if ops.CATALOGUE[node.op].out_channels:
            return _attr_sym(bound, ops.CATALOGUE[node.op].out_channels)
        if node.op == "concat":
            total = Sym()
            for s in in_syms:
                total = total + s
            return total
        if node.op == "split":  # a linear count only when every term divides; else the number itself
            parts, sym = node.attrs["parts"], in_syms[0]
            if sym.const % parts == 0 and all(c % parts == 0 for _, c in sym.terms):
                return Sym(sym.const // parts, tuple((a, c // parts) for a, c in sym.terms))
            return Sym.of(node.shape[0])
        if node.op == "flatten":
            area = 1
            for d in self.nodes[node.inputs[0]].shape[1:]:
                area *= d
            return in_syms[0].scale(area)
        return in_syms[0] if in_syms else Sym()

    # -- modules and repeats ---------------------------------------------------------------------
    def call(self, stmt: ir.Layer, call: ir.Call, name: str, scope: Scope, ctx: Ctx, cur: int) -> Instance | None:
        mname = call.module.text
        mdef = self.modules.get(mname)
        if mdef is None:
            hint = (
                f"`{mname}` is an op: write it without parentheses" if mname in ops.CATALOGUE else suggest_in(mname, (self.module_index,))
            )
            self.diags.error("unknown-module", f"unknown module `{mname}`", call.module.span, hint=hint)
            return None
        if len(call.args) != len(mdef.params):
            params = ", ".join(p.text for p in mdef.params)
            self.diags.error(
                "module-arity",
                f"module {mname} takes {len(mdef.params)} argument{'s' if len(mdef.params) != 1 else ''}, got {len(call.args)}",
                call.span,
                hint=f"{mname}({params}) is defined at line {mdef.span.line}",
            )
            return None
        if mname in ctx.stack:
            self.diags.error("recursive-module", f"module {mname} calls itself", call.span)
            return None
        self.used.setdefault(mname, mdef)
        env: dict[str, Param] = {}
        caller_syms: dict[str, Sym] = {IN_CHANNELS: ctx.syms.get(cur, Sym())}
        args, exprs = [], []
        for param, arg in zip(mdef.params, call.args, strict=True):
            res = self._evaluate(arg, ctx)
            if res is None:
                return None
            value, expr = res.value, res.python
            env[param.text] = Param(value, param.text, res.taint)
            args.append(value)
            exprs.append(expr if expr is not None else python_literal(value))
            if isinstance(value, int) and not isinstance(value, bool):
                caller_syms[param.text] = sym_of(expr, value)
        path = scope.path + (name,)
        inner = Ctx(env, {cur: Sym.atom(IN_CHANNELS)}, ".".join(path), ctx.stack + (mname,), ctx.depth + 1, ctx.aux)
        before = len(self.diags.items)
        items, out = self.block(mdef.body.stmts, Scope(path, None), inner, cur)
        self._note_call_site(before, f"in {'.'.join(path)} = {mname}({', '.join(map(str, args))}), line {call.span.line}")
        inst = Instance(name, path, mname, tuple(args), tuple(exprs), items, cur, out, self.nodes[out].shape, ctx.aux, stmt.span)
        inst.in_sym = caller_syms[IN_CHANNELS]
        inst.out_sym = inner.syms.get(out, Sym()).subst(caller_syms)
        ctx.syms[out] = inst.out_sym
        return inst

    def _note_call_site(self, since: int, note: str) -> None:
        """Diagnostics inside module bodies say which calls led there (the first, once deduplicated)."""
        items = self.diags.items
        for i in range(since, len(items)):
            d = items[i]
            if any(_inside(d.span, m.span) for m in self.program.modules):
                items[i] = dataclasses.replace(d, notes=(*d.notes, note))

    def repeat(self, stmt: ir.Layer, rep: ir.Repeat, name: str, scope: Scope, ctx: Ctx, cur: int) -> RepeatBlock | None:
        res = self._evaluate(rep.count, ctx)
        if res is None:
            return None
        count = res.value
        if res.taint:
            self.diags.error(
                "network-param",
                f"network parameter {sorted(res.taint)[0]} sets a repeat count: the generated code is written for fixed shapes",
                rep.count.span,
            )
            return None
        if res.text is not None and isinstance(count, float) and count.is_integer():
            count = int(count)
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_REPEAT:
            self.diags.error("option-type", f"repeat takes a count from 1 to {MAX_REPEAT:,}, got {count}", rep.count.span)
            return None
        if not rep.body.stmts:
            self.diags.error("empty-block", "repeat has nothing to repeat", rep.span, hint="put at least one layer inside the braces")
            return None
        start, iterations = cur, []
        path = scope.path + (name,)
        inner = dataclasses.replace(ctx, depth=ctx.depth + 1)
        single = len(rep.body.stmts) == 1 and isinstance(rep.body.stmts[0], ir.Layer) and rep.body.stmts[0].name is None
        for i in range(count):
            if not self._step(rep.span):
                break
            errors_before = len(self.diags.errors)
            if single:  # `repeat 2 { basic(64) }`: iteration i is the call itself, path layer1.i
                item = self.layer(rep.body.stmts[0], Scope(path, scope), inner, cur, forced_name=str(i))  # type: ignore[arg-type]
                items = [item] if item is not None else []
                cur = cur if item is None else item.id if isinstance(item, Node) else item.output
            else:
                items, cur = self.block(rep.body.stmts, Scope(path + (str(i),), scope), inner, cur)
            iterations.append(items)
            if self.too_big or len(self.diags.errors) > errors_before:
                break  # every further iteration would report the same mistakes again
        return RepeatBlock(name, path, count, iterations, start, cur, self.nodes[cur].shape, ctx.aux, stmt.span)

    # -- helpers ---------------------------------------------------------------------------------
    def _evaluate(self, value: ir.Value, ctx: Ctx) -> Result | None:
        try:
            return evaluate(value, ctx.env)
        except ExprError as exc:
            self.diags.error(exc.code, exc.message, exc.span, hint=exc.hint)
            return None

    def _node(
        self,
        name: str,
        path: tuple[str, ...],
        op: str,
        attrs: dict[str, Any],
        activation: str | None,
        inputs: tuple[int, ...],
        shape: Shape,
        span: Span,
        ctx: Ctx,
    ) -> Node:
        node = Node(len(self.nodes), name, path, op, attrs, activation, inputs, shape, 0, 0, ctx.aux, ctx.module, span)
        node.known = shape != POISON
        self.nodes.append(node)
        if len(self.nodes) > MAX_LAYERS and not self.too_big:
            self.too_big = True
            self.diags.error("limit", f"the network has more than {MAX_LAYERS:,} layers", span, hint="check the repeat counts")
        return node

    def _no_silent_failure(self) -> None:
        """A layer left unshaped must have been reported; if not, say so rather than pass it on."""
        for node in self.nodes:
            if node.shape == POISON:
                self.diags.error(
                    "internal",
                    f"archc could not work out the shape of {node.qualname}, and did not say why",
                    node.span,
                    hint="please report this spec as an archc bug",
                )
                return

    def _step(self, span: Span) -> bool:
        """Count one unit of work; False (with one `limit` error) once the budget is spent."""
        self.steps += 1
        if self.steps > MAX_STEPS and not self.too_big:
            self.too_big = True
            self.diags.error(
                "limit", f"expanding the network takes more than {MAX_STEPS:,} steps", span, hint="check the repeat counts and module calls"
            )
        return not self.too_big

    def _poisoned(self, node_id: int) -> bool:
        return self.nodes[node_id].shape == POISON


def python_literal(value: ir.Scalar) -> str:
    if isinstance(value, ir.Dims):
        return repr(value.values)
    if isinstance(value, ir.Ref):
        return repr(value.name)
    return repr(value)


def _inside(span: Span, outer: Span) -> bool:
    return span.file == outer.file and (outer.line, outer.column) <= (span.line, span.column) <= (outer.end_line, outer.end_column)


def _attr_sym(bound: Bound, key: str) -> Sym:
    return sym_of(bound.exprs.get(key), bound.attrs[key])


def _options_text() -> str:
    return "; ".join(f"{op} {', '.join(keys)}" for op, keys in ops.SYMBOLIC_OPTIONS.items())


def check_module_params(mdef: ir.ModuleDef, diags: Diagnostics) -> None:
    """Duplicate parameters are errors; parameters the body never reads are warnings."""
    used = _names_read(mdef.body)
    seen: set[str] = set()
    for param in mdef.params:
        if param.text in seen:
            diags.error("duplicate-name", f"module {mdef.name.text} has two parameters named {param.text}", param.span)
        seen.add(param.text)
        if param.text not in used:
            diags.warning("unused-param", f"module {mdef.name.text} never uses its parameter {param.text}", param.span)


def _names_read(block: ir.Block) -> set[str]:
    found: set[str] = set()
    todo: list[ir.Block] = [block]
    while todo:
        for stmt in todo.pop().stmts:
            if not isinstance(stmt, ir.Layer):
                continue
            body = stmt.body
            values: list[ir.Value] = []
            if isinstance(body, ir.Op):
                values = [a.value for a in body.args]
                todo.extend(b.body for b in body.branches or () if b.body is not None)
            elif isinstance(body, ir.Call):
                values = list(body.args)
            else:
                values = [body.count]
                todo.append(body.body)
            for v in values:
                found |= names_in(v.value)
    return found
