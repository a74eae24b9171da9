"""Regenerate golden files: `python -m tests.regenerate [KIND ...]` (all kinds by default).

The kind `editors` rewrites the op word lists of editors/vim and editors/vscode from the op
catalogue (tests/test_highlight.py checks them).
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys

from archc.ops import CATALOGUE
from tests.golden import KINDS, ROOT, write

VIM = ROOT / "editors" / "vim" / "syntax" / "arch.vim"
VSCODE = ROOT / "editors" / "vscode" / "syntaxes" / "arch.tmLanguage.json"


def editors() -> None:
    vim = VIM.read_text(encoding="utf-8")
    vim = re.sub(r"^syn keyword archOp .*$", "syn keyword archOp " + " ".join(sorted(CATALOGUE)), vim, count=1, flags=re.M)
    VIM.write_text(vim, encoding="utf-8")
    longest_first = "|".join(sorted(CATALOGUE, key=lambda op: (-len(op), op)))
    grammar = VSCODE.read_text(encoding="utf-8")
    pattern = re.compile(r'("match": "\\\\b\(\?:)[\w|]+(\)\\\\b",\s*"name": "support\.function\.op\.arch")')
    grammar, count = pattern.subn(lambda m: m[1] + longest_first + m[2], grammar)
    if count != 1:
        json.loads(grammar)  # still valid; the op rule was not found where expected
        raise SystemExit(f"{VSCODE}: the op rule was not found")
    VSCODE.write_text(grammar, encoding="utf-8")
    print(f"wrote {VIM.relative_to(ROOT)}\nwrote {VSCODE.relative_to(ROOT)}")


def main(kinds: list[str]) -> None:
    if not kinds or "editors" in kinds:
        editors()
    for kind in [k for k in kinds if k != "editors"] if kinds else list(KINDS):
        if importlib.util.find_spec(f"tests.golden_{kind}") is None:
            print(f"skip {kind}: no tests/golden_{kind}.py yet")
            continue
        for path in write(kind):
            print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
