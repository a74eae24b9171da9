"""Specs of the shapes that once made the front end slow or hungry (issue 12), at any size.

Each generator takes a size `n` and returns the spec's text; CASES names them with the size that
reproduces the case as it was reported. tests/test_scaling.py checks each against the target
(≤ 5 s of CPU, ≤ 1 GB of memory for `archc check`), bench/scaling.py times them at growing sizes.
"""

from __future__ import annotations

import random
from collections.abc import Callable


def _names(n: int, seed: int = 12) -> list[str]:
    """n distinct names of 28 letters from a small alphabet: every pair looks alike to difflib's quick filters."""
    rng = random.Random(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        out["".join(rng.choice("abcdefgh") for _ in range(28))] = None
    return list(out)


def typo_refs(n: int) -> str:
    """n layers, then n layers whose `from` misspells one of them (the last letter): n did-you-means."""
    names = _names(n)
    lines = ["network Typos {", "    input x: 4x8x8"]
    lines += [f"    {name}: relu" for name in names]
    lines += [f"    t{i}: relu from {name[:-1]}z" for i, name in enumerate(names)]
    return "\n".join(lines) + "\n}\n"


def table(n: int, in_maps: int = 2000) -> str:
    """A valid connection table: n output maps, each reading all `in_maps` input maps (n=150: 1.3 MB)."""
    ins = " ".join(map(str, range(in_maps)))
    rows = "\n".join(f"        {j}: {ins}" for j in range(n))
    return f"network T {{\n    input x: {in_maps}x8x8\n    c: conv {n} 1x1 connections {{\n{rows}\n    }}\n}}\n"


def matrix(n: int, out_maps: int = 150) -> str:
    """A valid X-matrix table: n input maps (rows) by `out_maps` columns, every other one marked."""
    rows = "\n".join(f"        {i}: " + " ".join("X" if (i + j) % 2 == 0 else "." for j in range(out_maps)) for i in range(n))
    return f"network X {{\n    input x: {n}x8x8\n    c: conv {out_maps} 1x1 connections {{\n{rows}\n    }}\n}}\n"


def one_line(n: int) -> str:
    """n layers on one line, `relu; relu; ...` (n=1,600,000: 9.6 MB)."""
    return "network L { input x: 4x8x8; " + "relu; " * n + "}\n"


def many_lines(n: int) -> str:
    """n layer lines (n=1,000,000)."""
    return "network M {\n    input x: 4x8x8\n" + "    relu\n" * n + "}\n"


def comment_lines(n: int) -> str:
    """n comment lines before a 3-line network (n=1,000,000: 4 MB)."""
    return "# c\n" * n + "network C {\n    input x: 4x8x8\n    relu\n}\n"


def syntax_errors(n: int, errors: int = 20) -> str:
    """n layer lines in one block, `errors` of them broken (n=400,000: 3.6 MB)."""
    step = max(1, n // errors)
    body = "".join("    relu ::\n" if i % step == step // 2 else "    relu\n" for i in range(n))
    return "network S {\n    input x: 4x8x8\n" + body + "}\n"


def many_args(n: int) -> str:
    """One op with n arguments, all misplaced."""
    return "network A {\n    input x: 4x8x8\n    relu " + " ".join("1" for _ in range(n)) + "\n}\n"


def many_sources(n: int) -> str:
    """One merge reading n layers by name, half of them misspelt."""
    names = _names(64)
    lines = ["network F {", "    input x: 4x8x8"] + [f"    {name}: relu from x" for name in names]
    refs = ", ".join(names[i % 64] if i % 2 else names[i % 64][:-1] + "z" for i in range(n))
    return "\n".join(lines) + f"\n    sum: add from {refs}\n}}\n"


def unknown_modules(n: int) -> str:
    """n modules, then n calls of misspelt ones."""
    names = _names(n, seed=5)
    mods = "".join(f"module {name}() {{\n    relu\n}}\n" for name in names)
    calls = "".join(f"    {name[:-1]}z()\n" for name in names)
    return mods + "network U {\n    input x: 4x8x8\n" + calls + "}\n"


def many_kwargs(n: int) -> str:
    """One op given the same option n times."""
    return "network K {\n    input x: 3x8x8\n    conv 8 3x3 " + " ".join(f"pad={i}" for i in range(n)) + "\n}\n"


def many_networks(n: int) -> str:
    """n small networks."""
    return "".join(f"network N{i} {{\n    input x: 3x8x8\n    relu\n}}\n" for i in range(n))


def many_calls(n: int) -> str:
    """n calls of one two-layer module."""
    return "module m(c) {\n    conv c 3x3 pad=1 relu\n    relu\n}\nnetwork C {\n    input x: 8x8x8\n" + "    m(8)\n" * n + "}\n"


def nested_repeats(n: int) -> str:
    """n nested `repeat 2` blocks (n=13: 550 bytes, 8,192 layers)."""
    return "network R {\n    input x: 4x8x8\n" + "repeat 2 {\n" * n + "relu\n" + "}\n" * n + "}\n"


def expanded(n: int) -> str:
    """A few lines that expand to about n layers (two nested repeats of a conv)."""
    inner = min(n, 500)
    return (
        f"network E {{\n    input x: 8x16x16\n    repeat {max(1, n // inner)} {{\n        repeat {inner} {{\n"
        "            conv 8 3x3 pad=1 relu\n        }\n    }\n}\n"
    )


def chain(n: int) -> str:
    """A valid chain of n written layers (bench/synthetic.py)."""
    from bench.synthetic import synthetic_spec

    return synthetic_spec(n)


def deep_blocks(n: int) -> str:
    """n nested braces (far past the 64-level nesting limit)."""
    return "network D {\n    input x: 4x8x8\n" + "    repeat 1 {\n" * n + "    relu\n" + "    }\n" * n + "}\n"


def big_comment(n: int) -> str:
    """One comment of n characters."""
    return "network B {\n    input x: 4x8x8\n    relu # " + "x" * n + "\n}\n"


# name → (generator, the size of the case as reported or the size where it reaches ~10 MB)
CASES: dict[str, tuple[Callable[[int], str], int]] = {
    "typo_refs": (typo_refs, 1_000),
    "typo_refs_large": (typo_refs, 10_000),
    "table": (table, 150),
    "matrix": (matrix, 2_000),
    "one_line": (one_line, 1_600_000),
    "many_lines": (many_lines, 1_000_000),
    "comment_lines": (comment_lines, 1_000_000),
    "syntax_errors": (syntax_errors, 400_000),
    "many_args": (many_args, 4_000_000),
    "many_sources": (many_sources, 155_000),
    "unknown_modules": (unknown_modules, 10_000),
    "many_kwargs": (many_kwargs, 150_000),
    "many_networks": (many_networks, 40_000),
    "many_calls": (many_calls, 19_990),
    "nested_repeats": (nested_repeats, 13),
    "expanded": (expanded, 40_000),
    "chain_at_statement_limit": (chain, 19_990),
    "deep_blocks": (deep_blocks, 200_000),
    "big_comment": (big_comment, 10_000_000),
}
