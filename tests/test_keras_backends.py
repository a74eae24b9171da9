"""The generated Keras code runs under the TensorFlow, JAX and torch backends, as docs/targets.md
claims: `archc verify --backend B` on a spec that reaches every layer archc writes for Keras
(connection table, subsampling, LRN, padded and ceil-mode pools, RBF, scaled tanh), each in a
fresh process, since a process's Keras backend is fixed at its first import."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

import archc
from archc.runtime import BadBudget, ModelTooLarge, memory_budget
from archc.verify import verify

SPEC = Path(__file__).parent / "data" / "every_special_layer.arch"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "tensorflow", "torch"])
def test_generated_keras_runs_and_agrees_under_each_backend(backend: str) -> None:
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    run = subprocess.run(
        [sys.executable, "-m", "archc", "verify", str(SPEC), "--backend", backend], capture_output=True, text=True, env=env, timeout=600
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"PyTorch vs Keras ({backend} backend)" in run.stdout and "Every: ok" in run.stdout
    phases = [line for line in run.stderr.splitlines() if line.startswith("archc verify: Every: ")]
    assert [p.split(": ", 2)[2].split(" (")[0] for p in phases] == ["built the PyTorch model", "built the Keras model", "ran both"]
    assert "oneDNN" not in run.stderr and "absl" not in run.stderr  # no framework noise


def test_the_memory_budget_is_checked_before_anything_is_allocated(monkeypatch: pytest.MonkeyPatch) -> None:
    # 60,000 parameters, but a 1x60000x60000 input: verify would ask for tens of GiB, and the network
    # takes no smaller input (its kernel is as tall as the image), so verify cannot shrink it
    net = archc.load("network Wide {\n    input image: 1x60000x60000\n    conv 1 60000x1 bias=false\n}\n")
    monkeypatch.setenv("ARCHC_MAX_MODEL_BYTES", str(1024**3))
    with pytest.raises(ModelTooLarge, match="inputs and activations"):
        verify(net)
    monkeypatch.setenv("ARCHC_MAX_MODEL_BYTES", "abc")
    with pytest.raises(BadBudget, match="not a positive whole number"):
        memory_budget()


def test_a_bad_budget_is_a_usage_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from archc.cli import main

    monkeypatch.setenv("ARCHC_MAX_MODEL_BYTES", "abc")
    assert main(["verify", str(SPEC)]) == 2
    assert "ARCHC_MAX_MODEL_BYTES='abc'" in capsys.readouterr().err
