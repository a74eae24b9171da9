"""Just enough of ruff's (black's) layout for the calls we emit, so generated files pass `ruff format --check`."""

from __future__ import annotations

import re

LINE_LENGTH = 88
INDENT = "    "


SEQUENCE_ARG = re.compile(r"^(\w+=)?([\[(])([^\[\]()]*)([\])])$")  # `[a, b]`, `key=(a, b)`: a flat list or tuple


def exploded(arg: str, inner: str, width: int) -> list[str]:
    """One argument on its own lines at `inner`, as ruff lays it out: when it is too long for
    `width` and is a flat list or tuple (a value per channel), one element per line with a
    trailing comma; otherwise on one line."""
    m = SEQUENCE_ARG.match(arg)
    if len(inner) + len(arg) + 1 <= width or m is None:
        return [f"{inner}{arg},"]
    key, open_, items, close = m.groups()
    return [f"{inner}{key or ''}{open_}", *(f"{inner}{INDENT}{item}," for item in items.rstrip(",").split(", ")), f"{inner}{close},"]


def call_lines(prefix: str, func: str, args: list[str], level: int, suffix: str = "") -> list[str]:
    """`prefix + func(args) + suffix` laid out as ruff would: one line, hugged, or one argument per line."""
    pad = INDENT * level
    one = f"{pad}{prefix}{func}({', '.join(args)}){suffix}"
    if len(one) <= LINE_LENGTH or not args:
        return [one]
    inner = INDENT * (level + 1)
    joined = f"{inner}{', '.join(args)}"
    if len(joined) <= LINE_LENGTH and not any("(" in a and len(a) > 40 for a in args):
        return [f"{pad}{prefix}{func}(", joined, f"{pad}){suffix}"]
    return [f"{pad}{prefix}{func}(", *(line for a in args for line in exploded(a, inner, LINE_LENGTH)), f"{pad}){suffix}"]


def seq_lines(prefix: str, items: list[str], level: int, open_: str = "[", close: str = "]") -> list[str]:
    pad = INDENT * level
    one = f"{pad}{prefix}{open_}{', '.join(items)}{close}"
    if len(one) <= LINE_LENGTH:
        return [one]
    inner = INDENT * (level + 1)
    joined = f"{inner}{', '.join(items)}"
    if len(joined) <= LINE_LENGTH:
        return [f"{pad}{prefix}{open_}", joined, f"{pad}{close}"]
    return [f"{pad}{prefix}{open_}", *(f"{inner}{i}," for i in items), f"{pad}{close}"]
