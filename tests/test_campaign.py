"""The differential campaign: random valid specs and every regression spec through tests/campaign.py.

CI runs ARCHC_CAMPAIGN_SPECS (default 1,000) generated specs; `make fuzz-models` runs a long
campaign. Every bug the campaign finds is kept as a spec in tests/regressions/.
"""

from __future__ import annotations

import re
import textwrap
import time
import warnings
from collections import Counter
from pathlib import Path

import pytest

import archc
from archc.build import BuildError, generate

from .campaign import campaign_size, check_spec
from .specgen import spec

pytest.importorskip("torch")
pytest.importorskip("keras")

REGRESSIONS = sorted((Path(__file__).parent / "regressions").glob("*.arch"))


@pytest.fixture(autouse=True)
def _quiet() -> None:
    # Keras warns that a softmax over one map is constant: random specs write such softmaxes.
    warnings.filterwarnings("ignore", message="You are using a softmax over axis")


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.stem for p in REGRESSIONS])
def test_regression_spec(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    seed = re.search(r"^# campaign seed: (\d+)$", text, re.MULTILINE)  # the weights and input that showed the bug
    assert check_spec(text, int(seed[1]) if seed else 0) == []


def test_every_regression_spec_compiles_without_errors() -> None:
    assert len(REGRESSIONS) >= 10
    for path in REGRESSIONS:
        assert archc.compile_source(path.read_text(encoding="utf-8"), path.name).ok, path


@pytest.mark.slow
def test_generated_specs() -> None:
    count = campaign_size(1000)
    start = time.process_time()
    findings: dict[str, list[int]] = {}
    skipped = Counter[str]()
    for seed in range(count):
        for problem in check_spec(spec(seed), seed):
            if problem.startswith("skipped: "):
                skipped[re.sub(r"the keras backend cannot express \S+ ", "", problem)] += 1
                continue
            findings.setdefault(re.sub(r"[-+0-9.e]+", "N", problem)[:120], []).append(seed)
    elapsed = time.process_time() - start
    print(f"\ncampaign: {count} specs in {elapsed:.0f} s of CPU; Keras skipped on {sum(skipped.values())} ({dict(skipped)})")
    report = "\n".join(f"{len(seeds)} × {kind}  (seeds {seeds[:8]})" for kind, seeds in findings.items())
    assert not findings, f"the campaign found bugs; keep each as a spec in tests/regressions/:\n{report}"


def test_the_generator_writes_valid_specs_that_reach_everything() -> None:
    """A campaign over specs that the checker refuses, or that miss an op, would prove nothing."""
    texts = [spec(seed) for seed in range(300)]
    comps = [archc.compile_source(t) for t in texts]
    assert sum(c.ok for c in comps) >= 290
    nets = [net for c in comps for net in c.networks]
    ops = {n.op for net in nets for n in net.layers} | {n.activation for net in nets for n in net.layers if n.activation}
    assert ops >= set(archc.ops.CATALOGUE), set(archc.ops.CATALOGUE) - ops
    joined = "\n".join(texts)
    for construct in ("connections {", ": X", "repeat ", " aux ", " from ", "branch\n", "groups=", "dilation=", "ceil", "same"):
        assert construct in joined, construct
    assert any(n.name in ("class", "def", "x", "self", "main", "print") for net in nets for n in net.layers)
    convs = [(net, n) for net in nets for n in net.layers if n.op == "conv"]
    depthwise = [n for net, n in convs if 1 < n.attrs["groups"] == net.nodes[n.inputs[0]].shape[0]]
    assert len(depthwise) >= 10 and any(n.attrs["filters"] > n.attrs["groups"] for n in depthwise)  # Keras' DepthwiseConv2D
    assert sum(isinstance(n.attrs["pad"], tuple) and len(n.attrs["pad"]) == 4 for _, n in convs) >= 10  # pad=TxBxLxR
    assert any(len(net.modules) >= 2 for net in nets)
    assert any(net.input_shape[1] != net.input_shape[2] for net in nets)


def test_the_property_catches_a_wrong_generator(monkeypatch: pytest.MonkeyPatch) -> None:
    """The campaign's property fails on the bug class the issue reported: a value read after
    the running variable was overwritten (here forced by an emitter that ignores liveness)."""
    from archc.backends import pytorch

    text = (Path(__file__).parent / "regressions" / "overwritten_input.arch").read_text()
    monkeypatch.setattr(pytorch.Body, "free_after", lambda self, var, item: True)
    problems = check_spec(text, keras=False)
    assert any("differs from the reference" in p for p in problems), problems


def test_dead_layers_warn_and_both_targets_leave_them_out() -> None:
    comp = archc.compile_source((Path(__file__).parent / "regressions" / "dead_layer.arch").read_text())
    assert [d.code for d in comp.warnings] == ["unused-layer"] and "unread" in comp.warnings[0].message
    (net,) = comp.networks
    assert net.total_params == 3 * 4 * 9 + 4  # `used` alone
    for target in ("torch", "keras"):
        assert "unread" not in generate([net], target, "dead.arch")


def test_what_a_framework_would_refuse_is_a_check_error() -> None:
    cases = {
        "batchnorm eps=-1": "eps must be above 0",
        "lrn 3 alpha=1e400": "must be a finite number",
        "lrn 3 k=0": "k > 0",
        "batchnorm momentum=2": "momentum must be in [0, 1]",
    }
    for body, message in cases.items():
        comp = archc.compile_source(f"network N {{\n    input image: 2x6x6\n    {body}\n}}\n")
        assert [d.code for d in comp.errors] == ["option-value"] and message in comp.errors[0].message, body


def test_a_combination_keras_cannot_express_is_an_unsupported_diagnostic() -> None:
    net = archc.load("network N {\n    input image: 2x9x9\n    c: conv 2 3x3 stride=2 dilation=2\n}\n")
    with pytest.raises(BuildError) as info:
        generate([net], "keras", "n.arch")
    (diag,) = info.value.compilation.errors
    assert diag.code == "unsupported" and "keras" in diag.message and "dilation" in diag.message
    assert check_spec(textwrap.dedent("network N {\n    input image: 2x9x9\n    c: conv 2 3x3 stride=2 dilation=2\n}\n")) == [
        "skipped: the keras backend cannot express c (conv): Keras' Conv2D refuses a stride above 1 together with a dilation above 1"
    ]
