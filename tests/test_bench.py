"""bench/: the hand-written references, the synthetic specs, the timing helpers, and a smoke run.

No timing assertions: the benchmark's figures go to docs/benchmarks.md, not into pass/fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import archc
from bench import run
from bench.synthetic import synthetic_spec

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- references (numbers.md)

REFERENCE_PARAMS = {"lenet5": 60_840, "alexnet": 60_965_224, "vgg16": 138_357_544, "googlenet": 13_378_280}


@pytest.mark.parametrize("name", sorted(REFERENCE_PARAMS))
def test_reference_parameter_counts(name: str) -> None:
    pytest.importorskip("torch")
    from bench import reference_torch

    model = reference_torch.build(name)
    assert sum(p.numel() for p in model.parameters()) == REFERENCE_PARAMS[name]


def test_reference_googlenet_main_network_and_heads() -> None:
    torch = pytest.importorskip("torch")
    from bench import reference_torch

    main_only = reference_torch.GoogLeNet(aux_logits=False)
    assert sum(p.numel() for p in main_only.parameters()) == 6_998_552
    full = reference_torch.GoogLeNet()
    assert sum(p.numel() for p in full.aux1.parameters()) == 3_188_840
    assert sum(p.numel() for p in full.aux2.parameters()) == 3_190_888
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        outs = full.train()(x)
        assert isinstance(outs, tuple) and [tuple(o.shape) for o in outs] == [(1, 1000)] * 3
        y = full.eval()(x)
    assert y.shape == (1, 1000)
    torch.testing.assert_close(y.sum(), torch.tensor(1.0))


def test_reference_lenet5_table_conv_is_the_masked_dense_conv() -> None:
    """C3 = a conv whose (16, 6) kernel grid holds the 60 kernels at Table I's links and zeros elsewhere."""
    torch = pytest.importorskip("torch")
    from bench import reference_torch

    torch.manual_seed(0)
    table = reference_torch.LENET_TABLE
    c3 = reference_torch.TableConv2d(table, 5)
    assert sum(p.numel() for p in c3.parameters()) == 1_516
    assert tuple(c3.weight.shape) == (60, 5, 5)
    with torch.no_grad():
        grid = torch.zeros(16, 6, 5, 5)
        link = 0
        for j, src in enumerate(table):
            for i in src:
                grid[j, i] = c3.weight[link]
                link += 1
        x = torch.randn(3, 6, 14, 14)
        torch.testing.assert_close(c3(x), torch.nn.functional.conv2d(x, grid, c3.bias), rtol=1e-5, atol=1e-5)
        for i in range(6):  # and each S2 map reaches exactly the C3 maps the table links it to
            bumped = x.clone()
            bumped[:, i] += 1.0
            changed = (c3(bumped) - c3(x)).abs().amax(dim=(0, 2, 3)) > 1e-6
            assert changed.tolist() == [i in src for src in table]
    x.requires_grad_(True)
    c3(x).sum().backward()
    assert c3.weight.grad is not None and c3.weight.grad.abs().sum() > 0


def test_reference_lenet5_rbf_and_output() -> None:
    torch = pytest.importorskip("torch")
    from bench import reference_torch

    rbf = reference_torch.RBF(84, 10)
    x = torch.randn(4, 84)
    direct = ((x[:, None, :] - rbf.weight[None]) ** 2).sum(-1)
    torch.testing.assert_close(rbf(x), direct, rtol=1e-4, atol=1e-3)
    assert reference_torch.build("lenet5")(torch.randn(2, 1, 32, 32)).shape == (2, 10)


# ---------------------------------------------------------------- synthetic specs and helpers


@pytest.mark.parametrize("layers", [3, 10, 101])
def test_synthetic_spec_has_exactly_that_many_layers(layers: int) -> None:
    comp = archc.compile_source(synthetic_spec(layers))
    assert comp.ok, [d.message for d in comp.errors]
    net = comp.networks[0]
    assert len(net.nodes) - 1 == layers  # nodes[0] is the input
    assert tuple(net.nodes[net.output].shape) == (10,)


def test_synthetic_spec_rejects_too_few_layers() -> None:
    with pytest.raises(ValueError):
        synthetic_spec(2)


def test_fit_exponent() -> None:
    sizes = [100, 1_000, 10_000]
    assert run.fit_exponent(sizes, [3e-6 * n**1.5 for n in sizes]) == pytest.approx(1.5)
    assert run.fit_exponent(sizes, [1e-4 * n for n in sizes]) == pytest.approx(1.0)


def test_compare_interleaves_and_alternates_the_order() -> None:
    calls: list[str] = []
    t = run.compare(lambda: calls.append("a"), lambda: calls.append("b"), reps=4, warmup=1, min_time=0, sync=lambda: None)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b", "b", "a"]
    assert len(t.a) == len(t.b) == 4 and t.number == 1


def test_checks_compare_against_the_target() -> None:
    assert run.Check("x", 1.04, 1.05).ok
    assert not run.Check("x", 1.06, 1.05).ok
    assert "MISS" in run.Check("slow", 0.5, 0.3, unit="s").line()


def test_unknown_section_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        run.parse_args(["--only", "bogus"])
    assert exc.value.code == 2
    assert run.parse_args(["--only", "d,e"]).sections == ["compiler", "cli"]


def test_sections_skip_cleanly_without_their_generator(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(run, "have_backend", lambda target: False)
    args = run.parse_args(["--quick"])
    for name in ("models", "c3", "keras"):
        report = run.run_section(name, args)
        assert report.skipped and not report.rows, name
    report = run.run_section("compiler", args)
    assert any("emit" in m for m in report.skipped)
    assert [r["emit_median_s"] for r in report.rows] == [None]
    assert "skipped:" in capsys.readouterr().out


# ---------------------------------------------------------------- smoke runs


@pytest.mark.slow
def test_quick_benchmark_runs_every_section(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--json", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr
    for title in run.TITLES.values():
        assert f"== {title}" in done.stdout
    data = json.loads(out.read_text())
    assert [s["section"] for s in data["sections"]] == list(run.SECTIONS)
    assert data["failed"] == []
    for section in data["sections"]:  # each section either measured something or said why not
        assert section["rows"] or section["skipped"], section


@pytest.mark.slow
def test_gpu_check_runs_on_the_cpu() -> None:
    pytest.importorskip("torch")
    done = subprocess.run(
        [sys.executable, "bench/gpu_check.py", "--models", "lenet5", "--batch", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert any(line.startswith("lenet5") and "60,840" in line for line in lines), done.stdout
    if "no CUDA" in done.stdout:
        assert "skipping the GPU parts" in done.stdout
