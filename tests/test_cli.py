"""The command line: exit codes, stdin, --json, --strict and --input.

Exit codes: 0 clean (warnings allowed), 1 errors in a spec (or warnings under --strict),
2 usage errors (bad flags, a missing file, a directory); bytes that are not UTF-8 are a spec error (1).
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from archc.cli import main
from tests.golden import ROOT

LENET = str(ROOT / "specs" / "lenet5.arch")
ALEXNET = str(ROOT / "specs" / "alexnet.arch")
BOTTLENECK = str(ROOT / "specs" / "examples" / "bottleneck.arch")
ERRORS = ROOT / "tests" / "errors"
ALEXNET_224 = str(ERRORS / "alexnet_224.arch")  # no assertions; input 224: warnings only
UNKNOWN_OP = str(ERRORS / "unknown_op.arch")


def run(*argv: str) -> tuple[int, str, str]:
    """archc.cli.main in this process, with stdout and stderr captured."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def process(*argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """archc as its own process, the way a shell runs it."""
    return subprocess.run([sys.executable, "-m", "archc", *argv], input=stdin, capture_output=True, cwd=ROOT, timeout=60)


# -- exit codes ------------------------------------------------------------------------------------
def test_clean_spec_exits_0_silently() -> None:
    assert run("check", LENET) == (0, "", "")


def test_several_clean_specs() -> None:
    specs = [str(p) for p in sorted((ROOT / "specs").rglob("*.arch"))]
    assert len(specs) >= 6
    assert run("check", *specs) == (0, "", "")


def test_errors_exit_1_with_rendered_diagnostics() -> None:
    code, out, err = run("check", UNKNOWN_OP)
    assert code == 1 and out == ""
    assert f"{UNKNOWN_OP}:3:12: error: unknown op `konv`  [unknown-op]" in err
    assert "hint: did you mean `conv`?" in err


def test_one_broken_spec_fails_the_run_but_all_are_checked() -> None:
    code, _, err = run("check", UNKNOWN_OP, LENET, str(ERRORS / "duplicate_option.arch"))
    assert code == 1
    assert "[unknown-op]" in err and "[duplicate-option]" in err


def test_warnings_pass_unless_strict() -> None:
    code, _, err = run("check", ALEXNET_224)
    assert code == 0
    assert err.count(": warning: ") == 4 and ": error: " not in err
    code, _, err = run("check", "--strict", ALEXNET_224)
    assert code == 1
    assert err.count(": warning: ") == 4
    assert run("check", "--strict", LENET) == (0, "", "")


def test_strict_with_json() -> None:
    assert run("check", "--json", ALEXNET_224)[0] == 0
    assert run("check", "--json", "--strict", ALEXNET_224)[0] == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["check"],  # no spec
        ["check", "--nope", "x.arch"],
        ["bogus"],
        [],
        ["summary"],
        ["summary", "specs/lenet5.arch", "--input", "3x"],
        ["summary", "specs/lenet5.arch", "--input", "0x32x32"],
        ["summary", "specs/lenet5.arch", "--input", "axbxc"],
    ],
)
def test_bad_usage_exits_2(argv: list[str]) -> None:
    code, _, err = run(*argv)
    assert code == 2
    assert "usage:" in err or "error:" in err


def test_missing_file_exits_2(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.arch")
    code, out, err = run("check", missing)
    assert (code, out) == (2, "")
    assert err.strip() == f"archc: error: {missing}: no such file"
    assert run("summary", missing)[0] == 2


def test_directory_exits_2(tmp_path: Path) -> None:
    code, _, err = run("check", str(tmp_path))
    assert code == 2 and "is a directory" in err
    assert run("summary", str(ROOT / "specs"))[0] == 2


def test_bytes_that_are_not_utf8_are_a_located_spec_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.arch"
    path.write_bytes("network Caf\xe9 {\n    input x: 3x8x8\n}\n".encode("latin-1"))
    code, _, err = run("check", str(path))
    assert code == 1
    assert f"{path}:1:12: error: the spec is not UTF-8 text: byte 0xe9 (offset 11)" in err and "[encoding]" in err
    assert err.splitlines()[2] == "    " + " " * 11 + "^"  # under the bad byte, shown as U+FFFD
    path.write_bytes("network N {\n    input x: 3x8x8\n    r\u00e9lu: relu # \xff\n}\n".encode("utf-8").replace(b"\xc3\xbf", b"\xff"))
    code, out, _ = run("check", str(path), "--json")
    (diag,) = json.loads(out)
    assert code == 1 and (diag["line"], diag["column"], diag["code"]) == (3, 18, "encoding")  # columns count characters


def test_help_and_version_exit_0() -> None:
    code, out, _ = run("--version")
    assert code == 0 and out.startswith("archc ")
    assert run("check", "--help")[0] == 0


def test_a_real_process_agrees() -> None:
    assert process("check", "specs/lenet5.arch").returncode == 0
    broken = process("check", "tests/errors/unknown_op.arch")
    assert broken.returncode == 1
    assert b"tests/errors/unknown_op.arch:3:12: error: unknown op `konv`  [unknown-op]" in broken.stderr
    assert process("check", "no/such/file.arch").returncode == 2
    assert process("--bogus").returncode == 2


# -- standard input ----------------------------------------------------------------------------------
def test_stdin() -> None:
    spec = Path(LENET).read_bytes()
    assert process("check", "-", stdin=spec).returncode == 0
    summary = process("summary", "-", "--json", stdin=spec)
    assert summary.returncode == 0 and json.loads(summary.stdout)["total_params"] == 60_840
    broken = process("check", "-", stdin=b"network N {\n    input x: 3x8x8\n    konv 8 3x3\n}\n")
    assert broken.returncode == 1
    assert b"<stdin>:3:5: error: unknown op `konv`" in broken.stderr
    undecodable = process("check", "-", stdin=b"\xff\xfe")
    assert undecodable.returncode == 1 and b"<stdin>:1:1: error: the spec is not UTF-8 text" in undecodable.stderr
    assert process("check", "-", stdin=b"").returncode == 1  # an empty spec is an error in the spec


# -- --json ------------------------------------------------------------------------------------------
def test_check_json_lists_every_diagnostic() -> None:
    code, out, err = run("check", "--json", str(ERRORS / "multiple_errors.arch"))
    assert code == 1 and err == ""
    diags = json.loads(out)
    assert len(diags) == 9
    assert {"file", "line", "column", "end_line", "end_column", "severity", "code", "message", "hint", "notes"} <= set(diags[0])
    assert [d["severity"] for d in diags].count("warning") == 1
    assert [d["line"] for d in diags] == sorted(d["line"] for d in diags)
    assert json.loads(run("check", "--json", LENET)[1]) == []


def test_summary_json_is_one_object_per_network() -> None:
    code, out, _ = run("summary", "--json", LENET)
    assert code == 0
    net = json.loads(out)
    assert net["network"] == "LeNet5" and net["input"] == [1, 32, 32]
    assert [e["name"] for e in net["layers"]][:3] == ["C1", "S2", "C3"]
    both = json.loads(run("summary", "--json", BOTTLENECK)[1])
    assert [n["network"] for n in both["networks"]] == ["Direct5x5", "Reduced5x5"]
    one = json.loads(run("summary", "--json", "--network", "Reduced5x5", BOTTLENECK)[1])
    assert one["network"] == "Reduced5x5"
    assert run("summary", "--network", "Nope", BOTTLENECK)[0] == 2


def test_summary_of_a_broken_spec_exits_1_and_marks_what_is_unknown() -> None:
    code, out, err = run("summary", "--json", UNKNOWN_OP)
    assert code == 1
    assert "[unknown-op]" in err
    (conv1,) = [layer for layer in json.loads(out)["layers"] if layer["name"] == "conv1"]
    assert (conv1["op"], conv1["params"], conv1["output_shape"]) == ("konv", None, None)


# -- --input -------------------------------------------------------------------------------------------
def test_input_override_alexnet_at_224_warns_and_names_227() -> None:
    code, _, err = run("summary", ALEXNET, "--input", "3x224x224")
    # the spec's assertions state the 227-input shapes: skipped, with one note; conv1's warning says why 224 drops
    assert code == 0
    assert ": warning: 224 − 11 is not divisible by stride 4: conv1 drops 1 row and column" in err
    assert "227x227" in err
    assert "[shape-assert]" not in err and err.count("[input-override]") == 1


def test_input_override_changes_every_count() -> None:
    code, out, err = run("summary", "--json", ALEXNET_224)
    assert code == 0 and err.count(": warning: ") == 4
    at_224 = json.loads(out)
    # fc6 reads 256·5·5 = 6,400 inputs instead of 9,216: 60,965,224 − (9,216 − 6,400)·4,096
    assert at_224["total_params"] == 49_430_888
    code, out, err = run("summary", "--json", ALEXNET_224, "--input", "3x227x227")
    assert (code, err) == (0, "")
    at_227 = json.loads(out)
    assert at_227["input"] == [3, 227, 227]
    assert at_227["total_params"] == 60_965_224


def test_input_override_of_the_wrong_rank() -> None:
    code, _, err = run("summary", LENET, "--input", "32x32")
    assert code == 2  # a usage error: the spec is fine
    assert "CxHxW" in err and "[input-shape]" not in err
