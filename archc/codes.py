"""Every diagnostic code, with its severity and what it means: the one registry (as mypy's errorcodes.py).

The table in docs/language.md "## Diagnostics" lists exactly these, with these descriptions
(tests/test_docs.py), and every code the front end emits is one of them
(tests/test_diagnostics_registry.py). Emit a code through its constant here, `codes.SYNTAX`,
or at least by a name that is registered: a test fails on any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Code:
    name: str
    severity: Literal["error", "warning", "note"]
    description: str  # Markdown, as the docs table shows it

    def __str__(self) -> str:
        return self.name


CODES: dict[str, Code] = {}


def _code(name: str, severity: Literal["error", "warning", "note"], description: str) -> str:
    assert name not in CODES, name
    CODES[name] = Code(name, severity, description)
    return name


SYNTAX = _code("syntax", "error", "the text does not parse: an unexpected token or character, a missing `}`, the end of the file too early")
EMPTY = _code("empty", "error", "the spec holds nothing")
MISSING_NETWORK = _code("missing-network", "error", "the spec defines no network")
MISSING_INPUT = _code("missing-input", "error", "a network has no `input`")
DUPLICATE_INPUT = _code("duplicate-input", "error", "a second `input`")
INPUT_ORDER = _code("input-order", "error", "`input` after a layer, or inside a block")
INPUT_SHAPE = _code("input-shape", "error", "the input is not CxHxW or N, or a size is below 1")
INPUT_LAYOUT = _code("input-layout", "warning", "an image input that reads as channels-last (`224x224x3`): archc shapes are CxHxW")
INPUT_OVERRIDE = _code(
    "input-override",
    "note",
    "`--input` replaced the declared input, so the shape assertions (`-> SHAPE`), which state the shapes at the declared input, were not checked",
)
UNKNOWN_OP = _code("unknown-op", "error", "no such op (with a did-you-mean, or a hint when it is a module)")
UNKNOWN_OPTION = _code("unknown-option", "error", "the op has no option of that name")
UNKNOWN_ARGUMENT = _code("unknown-argument", "error", "a value or word the op has no place for")
DUPLICATE_OPTION = _code("duplicate-option", "error", "an option (or the activation) given twice")
MISSING_OPTION = _code("missing-option", "error", "a required option (e.g. a conv's kernel) is missing")
OPTION_TYPE = _code("option-type", "error", "a value of the wrong kind (`kernel=3.5`, `bias=no`, `repeat 2.5`)")
OPTION_VALUE = _code(
    "option-value",
    "error",
    "a value out of range (stride 0, dropout 1.5, `pad=same` with stride 2, pool padding over half the kernel, a number that is not finite such as `1e400`, batch-norm `eps` ≤ 0 or `momentum` outside [0, 1], LRN `k` ≤ 0 or `alpha` < 0)",
)
EXPR_NAME = _code("expr-name", "error", "an expression reads a name that is no parameter in scope, or calls an unknown function")
EXPR_TYPE = _code(
    "expr-type", "error", "an expression on something that is not a number (a size, a word), or a function given the wrong arguments"
)
EXPR_ZERO_DIVISION = _code("expr-zero-division", "error", "an expression divides by zero (`/`, `//` or `%`)")
EXPR_OVERFLOW = _code("expr-overflow", "error", "an expression's value reaches ±2**53 or is not finite")
EXPR_NOT_WHOLE = _code(
    "expr-not-whole", "error", "an expression that gives a whole-number option (filters, a size, a repeat count) a fraction"
)
NETWORK_PARAM = _code(
    "network-param",
    "error",
    "a network parameter used where the generated code, written for fixed shapes, cannot follow it: an option other than filters, units, groups, bias, rate, eps, beta or k, a repeat count, or a shape a later layer reads; or a default that is not a number",
)
UNEXPECTED_BLOCK = _code("unexpected-block", "error", "a connection table or branches on an op that takes none")
DUPLICATE_NAME = _code("duplicate-name", "error", "a layer, branch, module or module parameter name used twice")
UNDEFINED_NAME = _code("undefined-name", "error", "`from` names no earlier layer in sight")
TOO_MANY_SOURCES = _code("too-many-sources", "error", "`from a, b` on an op that is not a merge, or a merge with both branches and `from`")
EMPTY_MERGE = _code("empty-merge", "error", "a merge (`concat`, `add`, `multiply`) with neither branches nor `from`")
EMPTY_BLOCK = _code("empty-block", "error", "`repeat` with nothing to repeat")
UNKNOWN_MODULE = _code("unknown-module", "error", "a call of an undefined module")
MODULE_ARITY = _code("module-arity", "error", "a call with the wrong number of arguments")
RECURSIVE_MODULE = _code("recursive-module", "error", "a module that calls itself")
UNUSED_PARAM = _code("unused-param", "warning", "a module parameter the body never reads")
UNUSED_LAYER = _code(
    "unused-layer",
    "warning",
    "nothing reads a layer's output (and it is no output): it and the layers only it reads are left out of both generated models and of the totals",
)
AUX_SOURCE = _code("aux-source", "error", "an aux head without `from`")
AUX_PLACEMENT = _code("aux-placement", "error", "an aux head inside a module or a branch")
AUX_REFERENCE = _code("aux-reference", "error", "a main-path layer reads an aux head (aux heads may read one another)")
CHANNEL_MISMATCH = _code("channel-mismatch", "error", "a declared filter depth (`3x3x256`) contradicts the input")
CHANNEL_COUNT = _code(
    "channel-count", "error", "a per-channel list (`normalize mean=...`) whose length is neither 1 nor the input's channels"
)
GROUPS = _code("groups", "error", "`groups` does not divide the input maps or the filters (conv), or the maps (shuffle)")
CONNECTION_TABLE = _code(
    "connection-table",
    "error",
    "a table names a map that does not exist, has the wrong number of rows or columns, leaves a map unconnected, or is combined with `groups`",
)
EMPTY_OUTPUT = _code("empty-output", "error", "a window does not fit: the output size would be below 1 (the arithmetic is shown)")
NEEDS_SPATIAL = _code("needs-spatial", "error", "a spatial op (conv, pool, lrn) after `flatten`")
NEEDS_FLATTEN = _code("needs-flatten", "error", "`dense` or `rbf` on a CxHxW tensor: insert `flatten`")
CONCAT_SHAPE = _code("concat-shape", "error", "concat of branches with different HxW, or flat with spatial")
ADD_SHAPE = _code("add-shape", "error", "add of branches with different shapes")
MULTIPLY_SHAPE = _code("multiply-shape", "error", "multiply of branches whose shapes differ other than by a Cx1x1 scale of CxHxW maps")
SPLIT_PARTS = _code("split-parts", "error", "`split` into parts that do not divide the maps, or a `part` outside 0 to parts − 1")
SHAPE_ASSERT = _code("shape-assert", "error", "a `-> SHAPE` assertion that does not hold (declared vs computed, with the arithmetic)")
DROPPED_ROWS = _code("dropped-rows", "warning", "a stride leaves the last rows and columns of the input unread")
LIMIT = _code("limit", "error", "one of the [limits](#limits)")
ENCODING = _code("encoding", "error", "the spec's bytes are not UTF-8 text (located at the first bad byte)")
INTERNAL = _code(
    "internal", "error", "a layer left without a shape and without a diagnostic: an archc bug to report (no spec is known to cause it)"
)
UNSUPPORTED = _code(
    "unsupported", "error", "a target cannot express a layer (`archc build`, `verify`): the message names the layer, its op and the reason"
)
