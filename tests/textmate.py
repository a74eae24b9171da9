"""A small TextMate grammar tokenizer, enough for editors/vscode/syntaxes/arch.tmLanguage.json.

It follows the rules editors apply (vscode-textmate's): a line at a time; at each position the
rule whose regex matches leftmost wins, ties going to the earlier rule, and an open `begin`
rule's `end` is tried before its patterns; `include` of `#name` and `$self`; `captures`,
`beginCaptures` and `endCaptures`. The grammar's regexes are the subset that Python's `re` and
Oniguruma read alike (no \\G, \\h, possessive or atomic groups), so that what passes here
holds in an editor; `check_portable` rejects the Oniguruma-only syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ONIGURUMA_ONLY = re.compile(r"\\[GhHAzZK]|\(\?>|[*+?}]\+|\\p\{|\(\?<[a-zA-Z]")


@dataclass(frozen=True)
class Token:
    line: int  # 1-based
    start: int  # 0-based column, end-exclusive
    end: int
    text: str
    scopes: tuple[str, ...]


def check_portable(grammar: dict[str, Any]) -> list[str]:
    """Every regex of the grammar; raises on one that Python cannot compile or Oniguruma reads differently."""
    found: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("match", "begin", "end"):
                if key in node:
                    pattern = node[key]
                    if ONIGURUMA_ONLY.search(pattern):
                        raise ValueError(f"not portable between Oniguruma and Python: {pattern!r}")
                    re.compile(pattern)
                    found.append(pattern)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(grammar)
    return found


class Grammar:
    def __init__(self, grammar: dict[str, Any]) -> None:
        self.grammar = grammar
        self.repository: dict[str, Any] = grammar.get("repository", {})
        self.compiled: dict[str, re.Pattern[str]] = {}

    def regex(self, pattern: str) -> re.Pattern[str]:
        if pattern not in self.compiled:
            self.compiled[pattern] = re.compile(pattern)
        return self.compiled[pattern]

    def rules(self, patterns: list[dict[str, Any]], seen: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
        """The patterns with every include expanded, in order."""
        out: list[dict[str, Any]] = []
        for rule in patterns:
            if "include" in rule:
                ref = rule["include"]
                if ref in seen:
                    continue
                target = self.grammar if ref == "$self" else self.repository[ref.removeprefix("#")]
                if "match" in target or "begin" in target:
                    out.append(target)
                else:
                    out.extend(self.rules(target.get("patterns", []), seen | {ref}))
            elif "match" in rule or "begin" in rule:
                out.append(rule)
            else:
                out.extend(self.rules(rule.get("patterns", []), seen))
        return out

    def tokenize(self, text: str) -> list[Token]:
        root = {"name": self.grammar["scopeName"], "patterns": self.grammar["patterns"]}
        stack: list[dict[str, Any]] = [root]
        tokens: list[Token] = []
        for lineno, body in enumerate(text.split("\n"), 1):
            line = body + "\n"
            scopes: list[tuple[str, ...]] = [()] * len(line)
            pos = 0
            while pos < len(line):
                top = stack[-1]
                base = tuple(r["name"] for r in stack if "name" in r)
                best: tuple[int, int, dict[str, Any], re.Match[str], str] | None = None
                candidates: list[tuple[dict[str, Any], str]] = []
                if "end" in top:
                    candidates.append((top, "end"))
                candidates += [(r, "match" if "match" in r else "begin") for r in self.rules(top.get("patterns", []))]
                for order, (rule, kind) in enumerate(candidates):
                    m = self.regex(rule[kind]).search(line, pos)
                    if m is not None and (best is None or m.start() < best[0]):
                        best = (m.start(), order, rule, m, kind)
                if best is None:
                    for k in range(pos, len(line)):
                        scopes[k] = base
                    break
                start, _, rule, m, kind = best
                for k in range(pos, start):
                    scopes[k] = base
                if kind == "end":
                    self._paint(scopes, m, base, None, rule.get("endCaptures", rule.get("captures", {})))
                    stack.pop()
                elif kind == "match":
                    self._paint(scopes, m, base, rule.get("name"), rule.get("captures", {}))
                else:
                    self._paint(scopes, m, base, rule.get("name"), rule.get("beginCaptures", rule.get("captures", {})))
                    stack.append(rule)
                pos = m.end() if m.end() > pos else pos + 1  # a zero-width match must not stall
            tokens.extend(_runs(lineno, body, scopes[: len(body)]))
        return tokens

    @staticmethod
    def _paint(scopes: list[tuple[str, ...]], m: re.Match[str], base: tuple[str, ...], name: str | None, captures: dict[str, Any]) -> None:
        outer = base + ((name,) if name else ())
        for k in range(m.start(), m.end()):
            scopes[k] = outer
        for group, capture in sorted(captures.items(), key=lambda kv: int(kv[0])):
            g = int(group)
            if m.start(g) < 0 or "name" not in capture:
                continue
            for k in range(m.start(g), m.end(g)):
                scopes[k] = scopes[k] + (capture["name"],)


def _runs(lineno: int, body: str, scopes: list[tuple[str, ...]]) -> list[Token]:
    out: list[Token] = []
    start = 0
    for k in range(1, len(body) + 1):
        if k == len(body) or scopes[k] != scopes[start]:
            out.append(Token(lineno, start, k, body[start:k], scopes[start]))
            start = k
    return out
