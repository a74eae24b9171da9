"""Atomic, deterministic output and clear messages for every way a spec can fail to be read (issue 6)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archc.cli import main
from tests.golden import ROOT

LENET = ROOT / "specs" / "lenet5.arch"


def run(*args: str, stdin: bytes | None = None, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "archc", *args],
        input=stdin.decode("utf-8", "replace") if stdin is not None else None,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
    )


@pytest.mark.parametrize(
    ("make", "exit_code", "message"),
    [
        (lambda d: d / "missing.arch", 2, "no such file"),
        (lambda d: d, 2, "is a directory"),
        (lambda d: _write(d / "latin1.arch", b"network N { # caf\xe9\n}\n"), 1, "1:18: error: the spec is not UTF-8"),
        (lambda d: _write(d / "empty.arch", b""), 1, "the spec is empty"),
        (lambda d: _write(d / "blank.arch", b"  \n\n# only a comment\n"), 1, "the spec defines no network"),
        (lambda d: _big(d / "big.arch"), 2, "larger than"),
        (lambda d: _link(d / "dangling.arch"), 2, "no such file"),
    ],
)
def test_unreadable_specs_get_one_clear_message(tmp_path: Path, make, exit_code: int, message: str, capsys) -> None:
    path = make(tmp_path)
    assert main(["check", str(path)]) == exit_code
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _big(path: Path) -> Path:
    with path.open("wb") as fh:  # 50 MB of comments
        line = b"# " + b"x" * 1000 + b"\n"
        for _ in range(50 * 1024):
            fh.write(line)
    return path


def _link(path: Path) -> Path:
    path.symlink_to(path.parent / "nowhere.arch")
    return path


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied(tmp_path: Path, capsys) -> None:
    path = _write(tmp_path / "secret.arch", LENET.read_bytes())
    path.chmod(0)
    assert main(["check", str(path)]) == 2
    assert "permission denied" in capsys.readouterr().err


def test_standard_input() -> None:
    ok = run("summary", "-", stdin=LENET.read_bytes())
    assert ok.returncode == 0 and "60,840" in ok.stdout
    bad = run("check", "-", stdin=b"network N {\n input x: 3x8x8\n conv 4 3x3 bogus=1\n}\n")
    assert bad.returncode == 1 and "<stdin>:3:" in bad.stderr


def test_exit_codes_for_usage_and_environment(tmp_path: Path) -> None:
    assert run("check").returncode == 2  # no spec given
    assert run("frobnicate", str(LENET)).returncode == 2
    assert run("summary", str(LENET), "--input", "3xAx4").returncode == 2
    no_dot = run("render", str(LENET), "--format", "svg", "-o", str(tmp_path / "x.svg"), env={"PATH": str(tmp_path)})
    assert no_dot.returncode == 3 and "apt-get install graphviz" in no_dot.stderr


def test_build_is_identical_across_hash_seeds_and_working_directories(tmp_path: Path) -> None:
    outputs = []
    for seed, cwd, spec in [
        ("0", ROOT, "specs/googlenet.arch"),
        ("4242", ROOT / "specs", "googlenet.arch"),
        ("random", tmp_path, str(ROOT / "specs/googlenet.arch")),
    ]:
        out = tmp_path / f"out_{seed}"
        result = run("build", spec, "--target", "torch", "-o", str(out), cwd=cwd, env={"PYTHONHASHSEED": seed})
        assert result.returncode == 0, result.stderr
        outputs.append((out / "googlenet_torch.py").read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]


def test_build_killed_mid_write_leaves_previous_file_intact(tmp_path: Path) -> None:
    out = tmp_path / "out"
    old = tmp_path / "spec.arch"
    old.write_text(LENET.read_text())
    assert run("build", str(old), "--target", "torch", "-o", str(out)).returncode == 0
    target = out / "spec_torch.py"
    previous = target.read_bytes()
    # a much larger spec under the same name makes the new file take a while to generate and write
    layers = "\n".join(f"    c{i}: conv 4 3x3 pad=1 relu" for i in range(3000))
    old.write_text(f"network Big {{\n    input x: 4x8x8\n{layers}\n}}\n")
    code = "import sys; from archc.cli import main; sys.exit(main(sys.argv[1:]))"
    outcomes = set()
    for delay in (0.05, 0.2, 0.4, 0.6, 0.8, 1.0, 1.5):
        proc = subprocess.Popen([sys.executable, "-c", code, "build", str(old), "--target", "torch", "-o", str(out), "--force"], cwd=ROOT)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        data = target.read_bytes()
        assert data == previous or (data.startswith(b"# archc-generated") and data.endswith(b"return x\n")), "a torn file"
        outcomes.add(data == previous)
        previous = data
    assert True in outcomes  # at least one kill landed before the rename
    assert run("build", str(old), "--target", "torch", "-o", str(out), "--force").returncode == 0
    assert not list(out.glob(".*.archc-tmp"))  # the next build clears what a killed one left


def test_foreign_file_is_never_overwritten_without_force(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "lenet5_torch.py"
    mine.write_text("# my hand-written model\n")
    refused = run("build", str(LENET), "--target", "torch", "-o", str(out))
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert mine.read_text() == "# my hand-written model\n"
    assert run("build", str(LENET), "--target", "torch", "-o", str(out), "--force").returncode == 0
    assert mine.read_text().startswith("# archc-generated")


def test_param_budget_rejected_at_check_time() -> None:
    huge = "network Huge {\n input x: 512x224x224\n flatten\n dense 100000\n}\n"
    result = run("check", "-", stdin=huge.encode())
    assert result.returncode == 1 and "budget" in result.stderr


def test_build_model_refuses_oversized_models() -> None:
    pytest.importorskip("torch")
    import archc
    from archc.runtime import ModelTooLarge

    with pytest.raises(ModelTooLarge, match=r"GiB"):
        archc.build_model(LENET, "torch", max_bytes=1000)
    result = run("verify", str(ROOT / "specs" / "vgg16.arch"), env={"ARCHC_MAX_MODEL_BYTES": "1000000"})
    assert result.returncode == 1 and "ARCHC_MAX_MODEL_BYTES" in result.stderr
