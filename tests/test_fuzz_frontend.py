"""`archc check FILE` on hostile input: random text, and every spec truncated or mutated byte by byte.

The property: archc.cli.main(["check", file]) returns 0 or 1 and never raises (2 only when the
bytes are not UTF-8: a located error), and every diagnostic it prints is located inside the file:
`FILE:LINE:COL: error|warning: message  [code]`. A run that fails prints at least one error, and
never the resolver's `internal` error (a layer left unshaped without a diagnostic).

Fast by default (a few hundred inputs per test); set ARCHC_FUZZ_EXAMPLES for a longer campaign.
tests/test_fuzz.py fuzzes the whole pipeline (summary, render, build) from the API; this file
drives the command line through real files. A crash found here becomes a file in tests/errors/.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import re
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archc.cli import main
from tests.golden import ROOT

EXAMPLES = int(os.environ.get("ARCHC_FUZZ_EXAMPLES", "250"))
SPECS = sorted((ROOT / "specs").rglob("*.arch"))
SOURCES = [p.read_bytes() for p in SPECS]
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

TOKENS = [
    "network", "module", "input", "branch", "concat", "add", "repeat", "aux", "from", "connections",
    "conv", "maxpool", "avgpool", "subsample", "lrn", "batchnorm", "dense", "rbf", "dropout", "flatten",
    "global_avgpool", "relu", "softmax", "ceil", "same", "valid", "true", "false", "stride=", "pad=",
    "groups=", "kernel=", "bias=", "{", "}", "(", ")", ",", ":", ";", "=", "->", "-", "#", "\n", " ",
    "x", "X", ".", "0", "1", "3", "3x3", "3x3x3", "1e-4", "0.5", "99999999999", "N", "a", "b1", "é", "\t", "\r\n",
]  # fmt: skip

_counter = itertools.count()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def check(workdir: Path, data: bytes) -> None:
    path = workdir / f"case{next(_counter)}.arch"
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["check", str(path)])
    lines = data.decode("utf-8", "replace").removeprefix("\ufeff").split("\n")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:  # an error in the spec like any other, located at the first bad byte
        assert code == 1, f"undecodable bytes must be a spec error, got {code}"
        assert "not UTF-8" in err.getvalue()
    assert code in (0, 1), f"exit {code} for {data!r}\n{err.getvalue()}"
    assert "  [internal]" not in err.getvalue(), f"the front end lost track of an error for {data!r}\n{err.getvalue()}"
    headers = re.findall(rf"^{re.escape(str(path))}:(\d+):(\d+): (error|warning): .+  \[[a-z-]+\]$", err.getvalue(), re.M)
    for line, column, _ in headers:
        assert 1 <= int(line) <= len(lines), f"line {line} outside the file\n{err.getvalue()}"
        assert 1 <= int(column) <= len(lines[int(line) - 1]) + 1, f"column {column} outside line {line}\n{err.getvalue()}"
    if code == 1:
        assert any(sev == "error" for *_, sev in headers), f"exit 1 without a located error:\n{err.getvalue()}"
    else:
        assert all(sev == "warning" for *_, sev in headers)


@FUZZ
@given(st.text(max_size=300))
def test_random_text(workdir: Path, text: str) -> None:
    check(workdir, text.encode("utf-8", errors="surrogatepass"))


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=80))
def test_random_tokens(workdir: Path, tokens: list[str]) -> None:
    check(workdir, " ".join(tokens).encode())


@FUZZ
@given(st.sampled_from(SOURCES), st.floats(0, 1))
def test_truncated_specs(workdir: Path, source: bytes, fraction: float) -> None:
    text = source.decode()
    check(workdir, text[: int(len(text) * fraction)].encode())


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SOURCES)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.integers(0, 3))
        if kind == 0 and at < len(data):  # replace a byte
            data[at] = draw(st.integers(0, 255))
        elif kind == 1:  # delete a run
            del data[at : at + draw(st.integers(1, 30))]
        elif kind == 2:  # insert a token
            data[at:at] = draw(st.sampled_from(TOKENS)).encode()
        else:  # insert an ASCII byte
            data[at:at] = bytes([draw(st.integers(9, 126))])
    return bytes(data)


@FUZZ
@given(mutated())
def test_mutated_specs(workdir: Path, data: bytes) -> None:
    check(workdir, data)


def test_the_property_itself(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """check() accepts the clean specs and located errors, and catches what it must catch."""
    for source in SOURCES:
        check(workdir, source)
    check(workdir, b"network N {\n    input x: 3x8x8\n    konv 8 3x3\n}\n")
    check(workdir, b"\xff\xfe not utf-8")
    module = sys.modules[__name__]

    def unlocated(argv: list[str]) -> int:
        print(f"{argv[1]}:99:1: error: somewhere else  [syntax]", file=sys.stderr)
        return 1

    def silent_failure(argv: list[str]) -> int:
        return 1

    def crash(argv: list[str]) -> int:
        raise RecursionError

    for fake in (unlocated, silent_failure, crash, lambda argv: 2):
        monkeypatch.setattr(module, "main", fake)
        with pytest.raises((AssertionError, RecursionError)):
            check(workdir, b"network N {\n    input x: 3x8x8\n}\n")
