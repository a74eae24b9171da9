"""The summary table and the --explain text of every spec, compared with tests/golden/summary/."""

from __future__ import annotations

import contextlib
import io
import os

import pytest

from archc.cli import main
from tests import golden, golden_summary

CASES = golden_summary.cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_summary(name: str) -> None:
    problem = golden.mismatch("summary", name, CASES[name])
    assert problem is None, problem


@pytest.mark.parametrize(("spec", "flags", "suffix"), [("lenet5", [], ".txt"), ("examples/bottleneck", ["--explain"], ".explain.txt")])
def test_golden_is_what_the_cli_prints(spec: str, flags: list[str], suffix: str) -> None:
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(golden.ROOT)
    try:
        with contextlib.redirect_stdout(out):
            assert main(["summary", f"specs/{spec}.arch", *flags]) == 0
    finally:
        os.chdir(cwd)
    assert out.getvalue() == CASES[spec.split("/")[-1] + suffix]


def test_explain_reads_like_a_textbook() -> None:
    lenet = CASES["lenet5.explain.txt"].split("\n")
    assert "C3         (5·5·3+1)·6 + (5·5·4+1)·6 + (5·5·4+1)·3 + (5·5·6+1)·1 = 1,516 params" in lenet
    assert lenet[-2] == "total params = 156 + 12 + 1,516 + 32 + 48,120 + 10,164 + 840 = 60,840"
    alexnet = CASES["alexnet.explain.txt"].split("\n")
    assert any(line.startswith("conv1") and line.endswith("floor((227 − 11)/4) + 1 = 55") for line in alexnet)
    googlenet = CASES["googlenet.explain.txt"]
    assert "pool1" in googlenet and "ceil((112 − 3)/2) + 1 = 56" in googlenet


def test_table_totals() -> None:
    text = CASES["googlenet.txt"]
    assert "total params            13,378,280" in text
    assert "inference params         6,998,552   (without aux heads)" in text
    assert "training MACs        1,591,044,096   (with aux heads)" in text
    assert "aux1" in text and "(aux, training only)" in text
