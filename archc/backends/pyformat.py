"""Just enough of ruff's (black's) layout for the calls we emit, so generated files pass `ruff format --check`."""

from __future__ import annotations

LINE_LENGTH = 88
INDENT = "    "


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
    return [f"{pad}{prefix}{func}(", *(f"{inner}{a}," for a in args), f"{pad}){suffix}"]


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
