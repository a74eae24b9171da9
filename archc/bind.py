"""Binds an op's written arguments to the catalogue's options: positions, flags, types, defaults."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from . import ir, ops
from .diagnostics import Diagnostics, Span
from .expr import ExprError, Param, Result, evaluate
from .suggest import OPTION_ALIASES, alias_of, did_you_mean

__all__ = ["Bound", "Param", "bind", "evaluate"]


@dataclass
class Bound:
    attrs: dict[str, Any]
    exprs: dict[str, str] = field(default_factory=dict)  # option → its Python source over parameters
    spans: dict[str, Span] = field(default_factory=dict)
    activation: str | None = None
    ok: bool = True
    taints: dict[str, frozenset[str]] = field(default_factory=dict)  # option → the network parameters it reads
    shown: dict[str, str] = field(default_factory=dict)  # option → `c*4 = 256`, for --explain


def bind(opdef: ops.OpDef, op: ir.Op, env: dict[str, Param], diags: Diagnostics) -> Bound:
    out = Bound(attrs={})
    given: dict[str, Span] = {}
    failed = False
    for arg in op.args:
        try:
            res = evaluate(arg.value, env)
        except ExprError as exc:
            diags.error(exc.code, exc.message, exc.span, hint=exc.hint)
            out.ok, failed = False, True
            if arg.key is not None:
                given.setdefault(arg.key, arg.span)
            continue
        value, expr = res.value, res.python
        if arg.key is not None:
            _keyword(opdef, arg, value, expr, given, out, diags, res)
        else:
            _positional(opdef, arg, value, expr, given, out, diags, res)
    for option in opdef.options:
        if option.name in out.attrs:
            continue
        if option.name in given:  # given, but with a value already reported as wrong
            out.ok = False
            continue
        if option.required and failed:  # an expression that failed may have been meant for it
            out.ok = False
        elif option.required:
            diags.error(
                "missing-option",
                f"{opdef.name} needs {option.name} ({ops.KIND_TEXT[option.kind]})",
                op.op.span,
                hint=f"for example: {opdef.example}",
            )
            out.ok = False
        else:
            out.attrs[option.name] = option.default
    return out


def _keyword(
    opdef: ops.OpDef,
    arg: ir.Arg,
    value: ir.Scalar,
    expr: str | None,
    given: dict[str, Span],
    out: Bound,
    diags: Diagnostics,
    res: Result | None = None,
) -> None:
    key = arg.key or ""
    if key == "activation" and opdef.activation:
        _set_activation(opdef, arg, value, out, diags)
        return
    option = opdef.option(key)
    if option is None:
        names = [o.name for o in opdef.options] + (["activation"] if opdef.activation else [])
        alias = alias_of(key, OPTION_ALIASES, names)
        hint = (
            (f"did you mean `{alias}`? (`{key}` is {alias} in archc)" if alias else None)
            or did_you_mean(key, names)
            or (f"{opdef.name} takes: {', '.join(names)}" if names else f"{opdef.name} takes no options")
        )
        meant = alias or _suggested(hint)
        if meant is not None and meant not in given:  # `dropout p=0.5`: one mistake, not also a missing rate
            given[meant] = arg.span
        diags.error("unknown-option", f"{opdef.name} has no option `{key}`", arg.span, hint=hint)
        out.ok = False
        return
    _assign(opdef, option, arg, value, expr, given, out, diags, res=res)


def _suggested(hint: str) -> str | None:
    """The option a did-you-mean hint names."""
    m = re.match(r"did you mean `([a-z_]+)`\?", hint)
    return m[1] if m else None


def _positional(
    opdef: ops.OpDef,
    arg: ir.Arg,
    value: ir.Scalar,
    expr: str | None,
    given: dict[str, Span],
    out: Bound,
    diags: Diagnostics,
    res: Result | None = None,
) -> None:
    if isinstance(value, ir.Ref):
        if value.name in opdef.flags:
            name, flag_value = opdef.flags[value.name]
            option = opdef.option(name)
            assert option is not None
            _assign(
                opdef, option, arg, ir.Ref(str(flag_value)) if isinstance(flag_value, str) else value, None, given, out, diags, flag_value
            )
            return
        if value.name in ops.ACTIVATIONS:
            _set_activation(opdef, arg, value, out, diags)
            return
        words = sorted(opdef.flags) + (list(ops.ACTIVATIONS) if opdef.activation else [])
        if opdef.option(value.name) is not None:
            hint: str | None = f"{value.name} is an option: write it as {value.name}=VALUE"
        else:
            hint = did_you_mean(value.name, words) or (f"{opdef.name} takes the words: {', '.join(words)}" if words else None)
        diags.error("unknown-argument", f"{opdef.name} does not take `{value.name}`", arg.span, hint=hint)
        out.ok = False
        return
    for name in opdef.positional:
        option = opdef.option(name)
        if option is not None and name not in given and _accepts(option, _whole(value, res)):
            _assign(opdef, option, arg, value, expr, given, out, diags, res=res)
            return
    free = [o for o in (opdef.option(name) for name in opdef.positional) if o is not None and o.name not in given]
    if free:  # a value of the wrong kind in a free slot: `conv 6.5 3x3`, `conv 64 2.5`
        given[free[0].name] = arg.span
        diags.error(
            "option-type",
            f"{opdef.name} {free[0].name} takes {ops.KIND_TEXT[free[0].kind]}, got {value}{_from_param(expr, bool(res and res.taint))}",
            arg.span,
        )
        out.ok = False
        return
    slots = ", ".join(opdef.positional) or "nothing"
    diags.error(
        "unknown-argument",
        f"{opdef.name} has no place for the value {value}{_from_param(expr, bool(res and res.taint))}",
        arg.span,
        hint=f"{opdef.name} takes by position: {slots}; name other options, e.g. stride=2",
    )
    out.ok = False


def _from_param(expr: str | None, network: bool = False) -> str:
    if expr is None:
        return ""
    if not expr.isidentifier():
        return f" (= {expr})"
    return f" (the {'network' if network else 'module'} parameter {expr})"


def _whole(value: ir.Scalar, res: Result | None) -> ir.Scalar:
    """An expression's whole float (`c/2` = 32.0) counts as the whole number it is."""
    if res is not None and res.text is not None and isinstance(value, float):
        return int(value) if value.is_integer() else _Fraction(value)
    return value


class _Fraction(float):
    """An expression's value with a fraction, while its positional slot is sought."""


def _set_activation(opdef: ops.OpDef, arg: ir.Arg, value: ir.Scalar, out: Bound, diags: Diagnostics) -> None:
    if not opdef.activation:
        diags.error(
            "unknown-argument",
            f"{opdef.name} takes no activation",
            arg.span,
            hint=f"write the activation as its own layer after the {opdef.name}",
        )
        out.ok = False
    elif not isinstance(value, ir.Ref) or value.name not in ops.ACTIVATIONS:
        diags.error("option-type", f"activation must be one of {', '.join(ops.ACTIVATIONS)}, got {value}", arg.span)
        out.ok = False
    elif out.activation is not None:
        diags.error("duplicate-option", f"{opdef.name} already has the activation {out.activation}", arg.span)
        out.ok = False
    else:
        out.activation = value.name


def _accepts(option: ops.Option, value: ir.Scalar) -> bool:
    if isinstance(value, _Fraction):  # an expression's fraction: the whole-number slot it lands in says it is one
        return option.kind in (ops.INT, ops.FLOAT, ops.FLOATS, ops.DIMS, ops.PAD)
    if option.kind == ops.INT:
        return isinstance(value, int)
    if option.kind == ops.FLOAT:
        return isinstance(value, (int, float))
    if option.kind == ops.FLOATS:  # by position one number (a list is written as a keyword's value)
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if option.kind in (ops.DIMS, ops.PAD):
        return isinstance(value, (int, ir.Dims))
    return False


def _assign(
    opdef: ops.OpDef,
    option: ops.Option,
    arg: ir.Arg,
    value: ir.Scalar,
    expr: str | None,
    given: dict[str, Span],
    out: Bound,
    diags: Diagnostics,
    flag_value: object = None,
    res: Result | None = None,
) -> None:
    if option.name in given:
        diags.error(
            "duplicate-option",
            f"{opdef.name} is given {option.name} twice",
            arg.span,
            notes=(f"first given at line {given[option.name].line}, column {given[option.name].column}",),
        )
        out.ok = False
        return
    given[option.name] = arg.span
    out.spans[option.name] = arg.value.span
    if res is not None and res.text is not None and option.kind in (ops.INT, ops.DIMS, ops.PAD) and isinstance(value, float):
        if not value.is_integer():
            diags.error(
                "expr-not-whole",
                f"{opdef.name} {option.name} takes a whole number, but {res.text} = {value!r}",
                arg.value.span,
                hint="round it: floor(...), ceil(...), // or make_divisible(...)",
            )
            out.ok = False
            return
        # the generated code checks it too: other values than the checked ones may reach it
        value, expr = int(value), None if expr is None else f"whole({expr})"
    converted = flag_value if flag_value is not None else _convert(opdef, option, value)
    if converted is None:
        expected = ops.KIND_TEXT[option.kind]
        if option.kind == ops.CHOICE:
            expected += " " + ", ".join(option.choices)
        diags.error(
            "option-type",
            f"{opdef.name} {option.name} takes {expected}, got {value}{_from_param(expr, bool(res and res.taint))}",
            arg.value.span,
        )
        out.ok = False
        return
    if any(isinstance(v, float) and not math.isfinite(v) for v in (converted if isinstance(converted, tuple) else (converted,))):
        diags.error(
            "option-value",
            f"{opdef.name} {option.name} must be a finite number, got {value}{_from_param(expr, bool(res and res.taint))}",
            arg.value.span,
            hint="a float overflows past about 1.8e308",
        )
        out.ok = False
        return
    out.attrs[option.name] = converted
    if expr is not None:
        out.exprs[option.name] = expr
    if res is not None:
        if res.taint:
            out.taints[option.name] = res.taint
        if res.text is not None:
            out.shown[option.name] = f"{res.text} = {_shown(converted)}"


def _shown(value: object) -> str:
    if isinstance(value, tuple):
        return "x".join(map(str, value))
    return repr(value) if isinstance(value, float) else str(value)


def _convert(opdef: ops.OpDef, option: ops.Option, value: ir.Scalar) -> Any:
    kind = option.kind
    if kind == ops.INT:
        return value if isinstance(value, int) else None
    if kind == ops.FLOAT:
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if kind == ops.FLOATS:  # one number per channel, or one for all (the shape rule counts them)
        items = tuple(value) if isinstance(value, ir.Numbers) else (value,)
        numbers = [float(v) for v in items if isinstance(v, (int, float)) and not isinstance(v, bool)]
        return tuple(numbers) if len(numbers) == len(items) else None
    if kind == ops.BOOL:
        if isinstance(value, ir.Ref) and value.name in ("true", "false"):
            return value.name == "true"
        return None
    if kind == ops.CHOICE:
        return value.name if isinstance(value, ir.Ref) and value.name in option.choices else None
    if kind == ops.PAD and isinstance(value, ir.Ref):
        return value.name if value.name in ("same", "valid") else None
    if kind in (ops.DIMS, ops.PAD):
        return _dims(opdef, option, value)
    return None


def _dims(opdef: ops.OpDef, option: ops.Option, value: ir.Scalar) -> tuple[int, ...] | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if isinstance(value, ir.Dims):
        vals = value.values
        if len(vals) == 2:
            return vals
        if len(vals) == 3 and opdef.name == "conv" and option.name == "kernel":
            return vals  # HxWxdepth: the depth is checked against the input
        if len(vals) == 4 and option.kind == ops.PAD:
            return vals  # top x bottom x left x right, as keras.applications' ZeroPadding2D pads
    return None
