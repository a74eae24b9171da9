"""`import archc`, `archc check` and `archc summary` never import a deep-learning framework.

Run in a fresh interpreter, because this test process may already hold torch from other tests.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.golden import ROOT

FRAMEWORKS = ("torch", "tensorflow", "keras", "jax")

PROBE = """
import contextlib, io, json, sys
import archc
after_import = sorted(m for m in sys.modules if m.split(".")[0] in FRAMEWORKS)
from archc.cli import main
codes = []
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    codes.append(main(["check", "specs/googlenet.arch", "specs/lenet5.arch", "tests/errors/unknown_op.arch"]))
    codes.append(main(["summary", "specs/googlenet.arch"]))
    codes.append(main(["summary", "specs/examples/resnet18.arch", "--json"]))
    codes.append(main(["summary", "specs/lenet5.arch", "--explain"]))
    archc.load("specs/alexnet.arch")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in FRAMEWORKS)
print(json.dumps({"after_import": after_import, "loaded": loaded, "codes": codes, "archc": len([m for m in sys.modules if m.startswith("archc")])}))
"""


def probe(code: str) -> dict[str, object]:
    run = subprocess.run(
        [sys.executable, "-c", f"FRAMEWORKS = {FRAMEWORKS!r}\n{code}"], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert run.returncode == 0, run.stderr
    result: dict[str, object] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def test_check_and_summary_import_no_framework() -> None:
    result = probe(PROBE)
    assert result["codes"] == [1, 0, 0, 0]  # the commands really ran (one spec has an error)
    assert result["after_import"] == []
    assert result["loaded"] == []


def test_the_probe_would_see_a_framework() -> None:
    """The same probe notices a framework once something imports it: the test above can fail."""
    stand_in = "import archc\nimport types\nsys.modules['torch.nn'] = types.ModuleType('torch.nn')\n"
    result = probe(PROBE.replace("import archc\n", stand_in, 1))
    assert result["after_import"] == result["loaded"] == ["torch.nn"]
