"""The built wheel works on its own: grammar/arch.lark ships inside it as archc/grammar/arch.lark,
the documentation as archc/docs/ (`archc docs`) and the example specs as archc/specs/ (`archc examples`).

Builds the wheel, installs it with its one dependency (lark, from the package index, pinned by
constraints.txt) into a fresh virtual environment without the system's site-packages, and runs
that environment's `archc check` from outside the source tree.
"""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from archc import shipped
from tests.golden import ROOT

pytestmark = pytest.mark.slow


def sh(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    run = subprocess.run([str(a) for a in argv], capture_output=True, text=True, cwd=cwd, timeout=600)
    assert run.returncode == 0, f"{argv} failed:\n{run.stdout}\n{run.stderr}"
    return run


def test_wheel_installs_and_checks_a_spec(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    sh(sys.executable, "-m", "build", "--wheel", "--outdir", dist, ROOT, cwd=ROOT)
    (wheel,) = dist.glob("archc-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert "archc/grammar/arch.lark" in names
        assert zf.read("archc/grammar/arch.lark") == (ROOT / "grammar" / "arch.lark").read_bytes()
        assert not any(n.startswith(("tests/", "specs/")) for n in names)
        for doc in (ROOT / "docs").glob("*.md"):  # `archc docs`: what the hints point at
            assert zf.read(f"archc/docs/{doc.name}") == doc.read_bytes()
        for spec in (ROOT / "specs").rglob("*.arch"):  # `archc examples`
            assert zf.read(f"archc/{spec.relative_to(ROOT).as_posix()}") == spec.read_bytes()
        assert not any(n.startswith("archc/docs/images") for n in names)

    env = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=True, system_site_packages=False, clear=True).create(env)
    bindir = env / ("Scripts" if sys.platform == "win32" else "bin")
    sh(bindir / "python", "-m", "pip", "install", "-q", "-c", ROOT / "constraints.txt", wheel, cwd=tmp_path)

    outside = tmp_path / "elsewhere"  # not the repository: its archc/ and grammar/ must not be found
    outside.mkdir()
    where = sh(bindir / "python", "-c", "import archc, lark; print(archc.__file__)", cwd=outside).stdout.strip()
    assert Path(where).is_relative_to(env), where

    spec = outside / "lenet5.arch"
    spec.write_bytes((ROOT / "specs" / "lenet5.arch").read_bytes())
    ok = subprocess.run([bindir / "archc", "check", spec.name], capture_output=True, text=True, cwd=outside, timeout=120)
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")
    summary = sh(bindir / "archc", "summary", spec.name, cwd=outside).stdout
    assert "total params                60,840" in summary

    broken = outside / "broken.arch"
    broken.write_text("network N {\n    input x: 3x8x8\n    konv 8 3x3\n}\n", encoding="utf-8")
    bad = subprocess.run([bindir / "archc", "check", broken.name], capture_output=True, text=True, cwd=outside, timeout=120)
    assert bad.returncode == 1
    assert "broken.arch:3:5: error: unknown op `konv`" in bad.stderr

    # what the hints and the README point at is there without the repository
    unknown = outside / "unknown.arch"
    unknown.write_text("network N {\n    input x: 3x8x8\n    qqqqqqqq 8\n}\n", encoding="utf-8")
    hint = subprocess.run([bindir / "archc", "check", unknown.name], capture_output=True, text=True, cwd=outside, timeout=120)
    assert "hint: `archc docs` prints the language reference" in hint.stderr
    docs = sh(bindir / "archc", "docs", cwd=outside).stdout
    assert docs == (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    listed = sh(bindir / "archc", "examples", cwd=outside).stdout
    assert [line.split()[0] for line in listed.strip().split("\n")] == shipped.example_names()  # as the repository's
    vgg = sh(bindir / "archc", "examples", "vgg16", cwd=outside).stdout
    assert vgg == (ROOT / "specs" / "vgg16.arch").read_text(encoding="utf-8")
