"""Regenerate golden files: `python -m tests.regenerate [KIND ...]` (all kinds by default)."""

from __future__ import annotations

import importlib.util
import sys

from tests.golden import KINDS, ROOT, write


def main(kinds: list[str]) -> None:
    for kind in kinds or list(KINDS):
        if importlib.util.find_spec(f"tests.golden_{kind}") is None:
            print(f"skip {kind}: no tests/golden_{kind}.py yet")
            continue
        for path in write(kind):
            print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
