"""One atomic writer for build, render and report; verifiable headers; output independent of the path (issue 12, part 3)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from archc import files
from archc.cli import main
from tests.golden import ROOT

LENET = ROOT / "specs" / "lenet5.arch"


def archc(*args: str, cwd: Path = ROOT) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "archc", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.slow
def test_concurrent_builds_of_one_spec_all_succeed_and_leave_one_complete_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    procs = [archc("build", str(LENET), "--target", "torch", "-o", str(out)) for _ in range(18)]
    results = [(p.wait(timeout=120), p.stderr.read().decode() if p.stderr else "") for p in procs]
    for p in procs:
        for stream in (p.stdout, p.stderr):
            if stream:
                stream.close()
    assert [code for code, _ in results] == [0] * 18, [err for code, err in results if code]
    assert sorted(p.name for p in out.iterdir()) == ["lenet5_torch.py"]  # no temporary file left behind
    assert files.is_signed((out / "lenet5_torch.py").read_bytes())


def test_cleanup_removes_only_a_dead_writers_own_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "l_torch.py"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".l_torch.py.abcd1234.{dead_pid}.archc-tmp"
    live = tmp_path / f".l_torch.py.abcd1234.{os.getppid()}.archc-tmp"  # a writer that is still running
    users = [
        tmp_path / ".l_torch.py.backup.tmp",
        tmp_path / f".l_torch.py.{dead_pid}.archc-tmp",
        tmp_path / f".l_torch.py.abcd1234.{dead_pid}.tmp",
    ]
    for path in (stale, live, *users):
        path.write_text("someone's data\n")
    files.write_atomic(target, "new\n")
    assert target.read_text() == "new\n"
    assert not stale.exists()
    assert live.exists() and all(p.exists() for p in users)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "x.py"
    target.write_text("old\n")

    def broken(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", broken)
    with pytest.raises(OSError):
        files.write_atomic(target, "new\n")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.py"]


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_new_files_get_the_mode_open_would_give(tmp_path: Path, mask: int) -> None:
    with umask(mask):
        plain = tmp_path / "plain"
        plain.write_text("x")
        assert main(["build", str(LENET), "--target", "torch", "-o", str(tmp_path)]) == 0
        assert main(["render", str(LENET), "--format", "dot", "-o", str(tmp_path / "l.dot")]) == 0
        assert main(["report", str(LENET), "-o", str(tmp_path / "l.html")]) == 0 or shutil.which("dot") is None
    assert mode(tmp_path / "lenet5_torch.py") == mode(plain) == 0o666 & ~mask
    assert mode(tmp_path / "l.dot") == 0o666 & ~mask
    if (tmp_path / "l.html").exists():
        assert mode(tmp_path / "l.html") == 0o666 & ~mask


def test_an_existing_files_mode_is_kept(tmp_path: Path) -> None:
    assert main(["build", str(LENET), "--target", "torch", "-o", str(tmp_path)]) == 0
    built = tmp_path / "lenet5_torch.py"
    for wanted in (0o640, 0o755, 0o600):
        built.chmod(wanted)
        assert main(["build", str(LENET), "--target", "torch", "-o", str(tmp_path)]) == 0
        assert mode(built) == wanted
    dot = tmp_path / "l.dot"
    dot.write_text("old")
    dot.chmod(0o604)
    assert main(["render", str(LENET), "--format", "dot", "-o", str(dot)]) == 0
    assert mode(dot) == 0o604 and dot.read_text().startswith("digraph")


def test_header_is_verified_not_a_prefix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "lenet5_torch.py"
    forged = [
        "# archc-generated\nmy own model\n",  # the old marker alone: anyone can type it
        "# archc-generated sha256=" + "0" * 64 + "\nmy own model\n",  # a hash that does not match
    ]
    for text in forged:
        target.write_text(text)
        assert main(["build", str(LENET), "--target", "torch", "-o", str(tmp_path)]) == 2
        assert "--force" in capsys.readouterr().err
        assert target.read_text() == text
    target.unlink()
    assert main(["build", str(LENET), "--target", "torch", "-o", str(tmp_path)]) == 0
    assert files.is_generated(target)
    assert main(["build", str(LENET), "--target", "torch", "-o", str(tmp_path)]) == 0  # its own file: overwritten
    with target.open("a") as fh:
        fh.write("# an edit\n")
    assert not files.is_generated(target)  # edited since: no longer archc's to overwrite
    assert main(["build", str(LENET), "--target", "torch", "-o", str(tmp_path)]) == 2
    assert main(["build", str(LENET), "--target", "torch", "-o", str(tmp_path), "--force"]) == 0
    assert files.is_generated(target)


def test_sign_round_trip() -> None:
    text = files.sign("# archc-generated\nx = 1\n")
    assert text.startswith("# archc-generated sha256=") and text.endswith("\nx = 1\n")
    assert files.is_signed(text.encode())
    assert not files.is_signed(text.replace("x = 1", "x = 2").encode())


@pytest.mark.parametrize("target", ["torch", "keras"])
def test_output_is_byte_identical_whatever_the_cwd_and_path_spelling(tmp_path: Path, target: str) -> None:
    work = tmp_path / "work"
    (work / "nested").mkdir(parents=True)
    shutil.copy(LENET, work / "lenet5.arch")
    spellings = [
        (work, "lenet5.arch"),
        (work, "./lenet5.arch"),
        (work / "nested", "../lenet5.arch"),
        (work / "nested", str(work / "lenet5.arch")),
        (tmp_path, "work//nested/../lenet5.arch"),
    ]
    outputs = []
    for i, (cwd, spelling) in enumerate(spellings):
        out = tmp_path / f"out{i}"
        proc = archc("build", spelling, "--target", target, "-o", str(out), "--line-comments", cwd=cwd)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        outputs.append((out / f"lenet5_{target}.py").read_bytes())
    assert all(o == outputs[0] for o in outputs)
    assert str(work).encode() not in outputs[0] and b"lenet5.arch:" in outputs[0]
