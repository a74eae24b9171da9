"""Generated PyTorch passes review: mypy --strict on every golden file; TorchScript and
torch.export on every shipped spec, computing what the eager model computes (issue 10)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import archc
from archc.backends.pytorch import entry_point
from archc.build import generate

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = sorted((ROOT / "tests" / "golden" / "pytorch").glob("*.py"))
SPECS = sorted([*ROOT.glob("specs/*.arch"), *ROOT.glob("specs/examples/*.arch")])

torch = pytest.importorskip("torch")


@pytest.mark.slow
def test_golden_pytorch_files_are_mypy_strict_clean() -> None:
    assert len(GOLDEN) >= 5
    run = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--ignore-missing-imports", "--no-incremental", *map(str, GOLDEN)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def _import(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_every_spec_scripts_and_exports(spec: Path, tmp_path: Path) -> None:
    for k, net in enumerate(archc.compile_source(spec.read_text(encoding="utf-8"), spec.name).networks):
        path = tmp_path / f"review_{spec.stem}_{k}.py"
        path.write_text(generate([net], "torch", spec.name), encoding="utf-8")
        model = getattr(_import(path), entry_point(net))().eval()
        x = torch.randn(2, *net.input_shape)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TorchScript's deprecation notice
            scripted = torch.jit.script(model)
        with torch.no_grad():
            want = model(x)
            torch.testing.assert_close(scripted(x), want, rtol=0, atol=0)
            exported = torch.export.export(model, (x,))
            torch.testing.assert_close(exported.module()(x), want, rtol=1e-6, atol=1e-6)
        if net.aux_heads:  # train(): the scripted model returns every aux head too
            model.train(), scripted.train()
            outs, scripted_outs = model(x), scripted(x)
            assert len(scripted_outs) == len(outs) == 1 + len(net.aux_heads)
            assert [o.shape for o in scripted_outs] == [o.shape for o in outs]
