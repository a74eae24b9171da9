"""Integer expressions in values (docs/language.md, "Expressions").

An expression is evaluated when its network is shaped, with the module parameters (and the
network parameters) in scope; the backends write it as Python over the parameters it reads
(`nn.Linear(2048, classes)`), and `archc fmt` prints it back with the fewest parentheses that
keep its tree. Every mistake is an ExprError that the caller reports at the expression.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from . import ir
from .diagnostics import Span
from .suggest import did_you_mean

# name → (fewest, most) arguments; None: any number
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "min": (2, None),
    "max": (2, None),
    "make_divisible": (2, 2),
    "ceil": (1, 1),
    "floor": (1, 1),
}
# How generated Python spells each function: builtins, the math module, a helper the file defines.
PYTHON_FUNCTION = {"min": "min", "max": "max", "make_divisible": "make_divisible", "ceil": "math.ceil", "floor": "math.floor"}
BOUND = 2**53  # the largest magnitude an expression may reach: every whole number below it is exact as a float
PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "//": 2, "%": 2}
NEG, ATOM = 3, 4

Number = int | float


@dataclass
class Param:
    """A parameter's value where it is in scope: a module call's argument, or a network parameter."""

    value: ir.Scalar
    expr: str  # how generated code names it: the parameter itself
    taint: frozenset[str] = field(default_factory=frozenset)  # the network parameters it depends on


@dataclass
class Result:
    value: ir.Scalar
    python: str | None  # the Python source over the parameters it reads; None when it reads none
    taint: frozenset[str] = frozenset()
    text: str | None = None  # the expression as written (canonical), when it is one: for --explain


class ExprError(Exception):
    def __init__(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.span, self.hint = code, message, span, hint


def make_divisible(v: Number, divisor: int) -> int:
    """torchvision's `_make_divisible(v, divisor, min_value=None)`, exactly."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def evaluate(value: ir.Value, env: Mapping[str, Param]) -> Result:
    """A written value with the parameters in scope: a literal or flag as it is, an expression computed."""
    v = value.value
    if isinstance(v, ir.Values):  # one per channel: each item as it would be alone
        items = [evaluate(item, env) for item in v.items]
        taint = frozenset().union(*(r.taint for r in items))
        return Result(ir.Numbers(r.value for r in items), None, taint)
    if isinstance(v, ir.Ref):
        if v.name in env:
            p = env[v.name]
            return Result(p.value, p.expr, p.taint)
        return Result(v, None)
    if not isinstance(v, ir.BinOp | ir.Neg | ir.Func):
        return Result(v, None)
    names: dict[str, Param] = {}
    number = _eval(value, env, names)
    taint = frozenset().union(*(p.taint for p in names.values()))
    python = python_source(value, lambda n: env[n].expr) if names else None
    return Result(number, python, taint, arch_source(value))


def _eval(value: ir.Value, env: Mapping[str, Param], names: dict[str, Param]) -> Number:
    v, span = value.value, value.span
    if isinstance(v, bool):
        raise ExprError("expr-type", f"{v} is not a number", span)
    if isinstance(v, int | float):
        return v
    if isinstance(v, ir.Ref):
        if v.name not in env:
            known = sorted(env)
            hint = did_you_mean(v.name, known) or (
                f"the parameters in scope: {', '.join(known)}" if known else "an expression reads the parameters of its module or network"
            )
            raise ExprError("expr-name", f"unknown name `{v.name}` in an expression", span, hint)
        p = env[v.name]
        if isinstance(p.value, bool) or not isinstance(p.value, int | float):
            raise ExprError("expr-type", f"{v.name} is {p.value}, not a number: it cannot take part in arithmetic", span)
        names[v.name] = p
        return p.value
    if isinstance(v, ir.Dims):
        raise ExprError(
            "expr-type", f"the size {v} cannot take part in arithmetic", span, hint="a whole number stands for a square size: kernel=k*2+1"
        )
    if isinstance(v, ir.Neg):
        return _bounded(-_eval(v.operand, env, names), span)
    if isinstance(v, ir.BinOp):
        a, b = _eval(v.left, env, names), _eval(v.right, env, names)
        return _bounded(_binary(v.op, a, b, value), span)
    assert isinstance(v, ir.Func)
    return _bounded(_call(v, [_eval(a, env, names) for a in v.args], span), span)


def _binary(op: str, a: Number, b: Number, value: ir.Value) -> Number:
    if op in ("/", "//", "%") and b == 0:
        raise ExprError("expr-zero-division", f"division by zero: {arch_source(value)} divides {_num(a)} by 0", value.span)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        if abs(a) * abs(b) >= BOUND:  # checked before multiplying: a product of 30-digit numbers is slow to form
            raise ExprError("expr-overflow", f"{arch_source(value)} is beyond ±2**53", value.span)
        return a * b
    if op == "/":
        return a / b
    if op == "//":
        return a // b
    return a % b


def _call(func: ir.Func, args: list[Number], span: Span) -> Number:
    arity = FUNCTIONS.get(func.name)
    if arity is None:
        hint = did_you_mean(func.name, list(FUNCTIONS)) or f"the functions: {', '.join(FUNCTIONS)}"
        raise ExprError("expr-name", f"unknown function `{func.name}`", span, hint)
    low, high = arity
    if len(args) < low or (high is not None and len(args) > high):
        wanted = f"{low}" if low == high else f"at least {low}" if high is None else f"{low} to {high}"
        raise ExprError("expr-type", f"{func.name} takes {wanted} argument{'s' if high != 1 else ''}, got {len(args)}", span)
    if func.name == "min":
        return min(args)
    if func.name == "max":
        return max(args)
    if func.name == "ceil":
        return math.ceil(args[0])
    if func.name == "floor":
        return math.floor(args[0])
    v, divisor = args
    if not isinstance(divisor, int) or divisor < 1:
        raise ExprError("expr-type", f"make_divisible's divisor must be a whole number ≥ 1, got {_num(divisor)}", func.args[1].span)
    return make_divisible(v, divisor)


def _bounded(x: Number, span: Span) -> Number:
    if (isinstance(x, float) and not math.isfinite(x)) or abs(x) >= BOUND:
        raise ExprError("expr-overflow", f"the value {_num(x)} is beyond ±2**53", span, hint="check the expression's numbers")
    return x


def _num(x: Number) -> str:
    return repr(x) if isinstance(x, float) else str(x)


# -- writing expressions -------------------------------------------------------------------------
def render(value: ir.Value, leaf: Callable[[ir.Value], str], spaced: bool, call: Callable[[str], str] = str) -> str:
    """The expression with the fewest parentheses that keep its tree (binary operators group left)."""
    return _render(value, leaf, spaced, call)[0]


def _render(value: ir.Value, leaf: Callable[[ir.Value], str], spaced: bool, call: Callable[[str], str]) -> tuple[str, int]:
    v = value.value
    if isinstance(v, ir.BinOp):
        p = PRECEDENCE[v.op]
        left, lp = _render(v.left, leaf, spaced, call)
        right, rp = _render(v.right, leaf, spaced, call)
        left = f"({left})" if lp < p else left
        right = f"({right})" if rp <= p else right
        return (f"{left} {v.op} {right}" if spaced else f"{left}{v.op}{right}"), p
    if isinstance(v, ir.Neg):
        inner, ip = _render(v.operand, leaf, spaced, call)
        return "-" + (f"({inner})" if ip < NEG else inner), NEG
    if isinstance(v, ir.Func):
        return f"{call(v.name)}({', '.join(render(a, leaf, spaced, call) for a in v.args)})", ATOM
    if isinstance(v, ir.Values):
        return ", ".join(render(item, leaf, spaced, call) for item in v.items), ATOM
    text = leaf(value)
    return text, NEG if text.startswith("-") else ATOM


def arch_leaf(value: ir.Value) -> str:
    v = value.value
    if isinstance(v, float):
        text = repr(v)
        return text if "e" in text or "." in text else text + ".0"
    return str(v)


def arch_source(value: ir.Value) -> str:
    """The value as .arch text: compact (`c*4`, `make_divisible(c*0.75, 8)`), as `archc fmt` prints it."""
    return render(value, arch_leaf, spaced=False)


def python_source(value: ir.Value, name: Callable[[str], str]) -> str:
    """The expression as Python, each parameter written as `name` gives it."""

    def leaf(v: ir.Value) -> str:
        if isinstance(v.value, ir.Ref):
            return name(v.value.name)
        return repr(v.value)

    return render(value, leaf, spaced=True, call=PYTHON_FUNCTION.__getitem__)


def names_in(term: ir.Term) -> set[str]:
    """The names an expression reads (a bare name too)."""
    found: set[str] = set()
    todo = [term]
    while todo:
        t = todo.pop()
        if isinstance(t, ir.Ref):
            found.add(t.name)
        elif isinstance(t, ir.BinOp):
            todo += [t.left.value, t.right.value]
        elif isinstance(t, ir.Neg):
            todo.append(t.operand.value)
        elif isinstance(t, ir.Func):
            todo += [a.value for a in t.args]
        elif isinstance(t, ir.Values):
            todo += [a.value for a in t.items]
    return found


# A parameter in Python source: a name that is no function, attribute or module, outside a string.
IDENTIFIER = re.compile(r"'[^']*'|\"[^\"]*\"|(?<![\w.])([^\W\d]\w*)(?![\w(.])")


def reads_names(source: str) -> bool:
    return any(m[1] for m in IDENTIFIER.finditer(source))


def rename_python(source: str, rename: Callable[[str], str | None]) -> str | None:
    """Python source from `python_source` with each parameter renamed; None if `rename` knows one not."""
    missing = False

    def sub(m: re.Match[str]) -> str:
        nonlocal missing
        if m[1] is None:  # a string
            return m[0]
        new = rename(m[1])
        if new is None:
            missing = True
            return m[1]
        return new

    out = IDENTIFIER.sub(sub, source)
    return None if missing else out
