"""Golden files: generated text compared byte for byte with a reviewed copy under tests/golden/.

Each kind (summary, pytorch, keras, dot) is a module `tests/golden_<kind>.py` with a function
`cases() -> dict[str, str]` mapping a file name under tests/golden/<kind>/ to its expected text.
Regenerate them all with `make golden` (python -m tests.regenerate), review the diff, commit.
"""

from __future__ import annotations

import difflib
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
KINDS = ("summary", "pytorch", "keras", "dot")


def cases(kind: str) -> dict[str, str]:
    module = importlib.import_module(f"tests.golden_{kind}")
    result: dict[str, str] = module.cases()
    return result


def write(kind: str) -> list[Path]:
    out = []
    for name, text in cases(kind).items():
        path = GOLDEN / kind / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        out.append(path)
    return out


def mismatch(kind: str, name: str, actual: str) -> str | None:
    """None when the golden file matches; otherwise a unified diff to show."""
    path = GOLDEN / kind / name
    if not path.exists():
        return f"missing golden file {path.relative_to(ROOT)}: run `make golden`"
    expected = path.read_text(encoding="utf-8")
    if expected == actual:
        return None
    diff = difflib.unified_diff(expected.splitlines(), actual.splitlines(), str(path), "generated", lineterm="", n=2)
    return "\n".join(list(diff)[:80]) + "\n(run `make golden` if the change is intended, and review the diff)"
