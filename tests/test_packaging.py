"""What a user who ran `pip install archc` can reach: every missing package named in one hint, the
documentation (`archc docs`), the example specs (`archc examples`), and extras whose requirements
exist on Linux, macOS (x86 and arm64) and Windows. tests/test_wheel.py checks the same from a built wheel."""

from __future__ import annotations

import ast
import io
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import archc
from archc import cli, env, shipped
from tests.golden import ROOT

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SPECS = sorted(ROOT.glob("specs/**/*.arch"))
STEMS = [p.stem for p in SPECS]
# `archc examples` names a spec by its stem, or by its path below specs/ when two folders share the stem
NAMES = {p: p.stem if STEMS.count(p.stem) == 1 else p.relative_to(ROOT / "specs").with_suffix("").as_posix() for p in SPECS}
DOCS = sorted((ROOT / "docs").glob("*.md"))


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


# -- one hint for everything missing --------------------------------------------------------------
def test_verify_names_every_missing_package_in_one_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setattr(env, "installed", lambda module: module not in ("torch", "keras", "jax", "tensorflow"))
    code, out, err = run("verify", str(ROOT / "specs" / "lenet5.arch"))
    assert code == 3 and out == ""
    (line,) = err.strip().split("\n")
    assert re.search(r"\btorch\b.*\bkeras\b.*\bjax\b", line), line
    assert "pip install 'archc[torch,keras]'" in line


def test_one_missing_package_is_named_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(env, "installed", lambda module: module != "graphviz")
    with pytest.raises(
        env.MissingDependency, match=r"^render needs graphviz, which is not installed; install it with: pip install 'archc\[render\]'$"
    ):
        env.require_all(["graphviz"], "render")


def test_render_names_dot_and_the_graphviz_package_in_one_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(env, "installed", lambda module: module != "graphviz")
    monkeypatch.setattr(env.shutil, "which", lambda name: None)
    code, out, err = run("render", str(ROOT / "specs" / "lenet5.arch"), "-o", str(tmp_path / "lenet5.svg"))
    assert code == 3 and out == ""
    (line,) = err.strip().split("\n")
    assert "`dot`" in line and "apt-get install graphviz" in line and "pip install 'archc[render]'" in line


def test_require_all_returns_when_everything_is_there() -> None:
    env.require_all(["json", "re"], "a test")


# -- documentation the user can reach ---------------------------------------------------------------
def test_hints_name_documentation_that_ships() -> None:
    comp = archc.compile_source("network N {\n    input x: 3x8x8\n    qqqqqqqq 3\n}\n")
    (d,) = comp.errors
    assert d.hint is not None and "`archc docs`" in d.hint and "docs/language.md" not in d.hint


def test_no_message_in_archc_points_at_a_repository_path() -> None:
    """No string archc can print (a hint, a message, help text) names docs/*.md: a wheel user has no such file."""
    offenders = []
    for path in sorted((ROOT / "archc").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:  # noqa: SIM102
                if re.search(r"\bdocs/\w+\.md", node.value):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:80]!r}")
    assert offenders == []


@pytest.mark.parametrize("path", DOCS, ids=[p.stem for p in DOCS])
def test_archc_docs_prints_each_document(path: Path) -> None:
    topic = path.stem
    argv = ["docs"] if topic == "language" else ["docs", topic]
    code, out, _ = run(*argv)
    assert code == 0
    assert out == path.read_text(encoding="utf-8")


def test_archc_docs_lists_topics_for_an_unknown_one() -> None:
    code, out, err = run("docs", "nope")
    assert code == 2 and out == ""
    assert "language" in err and "targets" in err


def test_every_document_is_shipped_in_the_wheel() -> None:
    included = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    for path in DOCS:
        assert included.get(f"docs/{path.name}") == f"archc/docs/{path.name}"
    assert shipped.doc_topics() == [p.stem for p in DOCS]


# -- example specs ----------------------------------------------------------------------------------
def test_archc_examples_lists_every_spec() -> None:
    code, out, _ = run("examples")
    assert code == 0
    names = [line.split()[0] for line in out.strip().split("\n")]
    assert names == sorted(NAMES.values())
    lenet = next(line for line in out.split("\n") if line.startswith("lenet5 "))
    assert "LeNet" in lenet  # each with the first line of its opening comment


@pytest.mark.parametrize("path", SPECS, ids=[NAMES[p] for p in SPECS])
def test_archc_examples_prints_a_spec_that_checks(path: Path) -> None:
    code, out, _ = run("examples", NAMES[path])
    assert code == 0
    assert out == path.read_text(encoding="utf-8")
    assert archc.compile_source(out, path.name).ok


def test_an_unknown_example_is_a_usage_error_with_a_suggestion() -> None:
    code, out, err = run("examples", "lenet")
    assert code == 2 and out == ""
    assert "did you mean `lenet5`?" in err


def test_a_stem_two_folders_share_is_named_by_its_path() -> None:
    assert {"examples/resnet18", "zoo/resnet18"} <= set(shipped.example_names())
    assert "resnet18" not in shipped.example_names()
    code, out, err = run("examples", "resnet18")
    assert code == 2 and out == ""
    assert "'resnet18' names several examples: examples/resnet18, zoo/resnet18" in err


def test_the_specs_are_shipped_in_the_wheel() -> None:
    included = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert included.get("specs") == "archc/specs"


def test_examples_and_docs_have_help_examples() -> None:
    assert "archc examples" in cli.EXAMPLES["examples"] and "archc docs" in cli.EXAMPLES["docs"]


# -- extras that install everywhere -----------------------------------------------------------------
PLATFORMS = {
    "linux-x86_64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "python_version": "3.11"},
    "macos-x86_64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "x86_64", "python_version": "3.11"},
    "macos-x86_64-py313": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "x86_64", "python_version": "3.13"},
    "macos-arm64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64", "python_version": "3.13"},
    "windows-amd64": {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64", "python_version": "3.13"},
}
# Packages a platform has no wheels for, at the versions archc needs (PyPI, checked with
# `pip install --dry-run --only-binary=:all: --platform ...` on 2026-12-01): tensorflow-cpu is Linux and
# Windows only; torch stopped macOS x86-64 wheels at 2.2.2, and generated models need torch.compiler (2.4);
# tensorflow's last for Intel Macs, 2.16.2, stops at Python 3.12.
NO_WHEELS = {
    "macos-x86_64": {"tensorflow-cpu", "torch"},
    "macos-x86_64-py313": {"tensorflow-cpu", "torch", "tensorflow"},
    "macos-arm64": {"tensorflow-cpu"},
}
UNAVAILABLE = {("torch", "macos-x86_64"), ("torch", "macos-x86_64-py313")}  # extras that can only install nothing there


def requirements(extra: str, platform: dict[str, str]) -> set[str]:
    """The package names an extra installs on a platform, with `archc[...]` extras expanded."""
    names: set[str] = set()
    for text in PYPROJECT["project"]["optional-dependencies"][extra]:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({**platform, "extra": extra}):
            continue
        if req.name == "archc":
            for sub in req.extras:
                names |= requirements(sub, platform)
        else:
            names.add(req.name)
    return names


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("extra", ["torch", "keras", "tensorflow", "render", "lsp", "all"])
def test_every_extra_installs_on_every_platform(extra: str, platform: str) -> None:
    names = requirements(extra, PLATFORMS[platform])
    assert bool(names) != ((extra, platform) in UNAVAILABLE), f"{extra} on {platform}: {names}"
    assert names & NO_WHEELS.get(platform, set()) == set()
    if extra == "tensorflow" and platform != "macos-x86_64-py313":
        assert names & {"tensorflow", "tensorflow-cpu"}, f"the tensorflow extra has no TensorFlow on {platform}"


def test_without_torch_the_hint_says_why_on_an_intel_mac(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(env.sys, "platform", "darwin")
    monkeypatch.setattr(env.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(env, "installed", lambda module: module != "torch")
    with pytest.raises(env.MissingDependency, match=r"no PyTorch 2\.4 for Intel Macs"):
        env.require_all(["torch"], "archc verify")


def test_the_keras_extra_is_keras_on_jax_without_tensorflow() -> None:
    for platform in PLATFORMS.values():
        assert requirements("keras", platform) == {"keras", "jax"}
