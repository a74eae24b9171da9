"""Command-line conventions people expect: `-o` as a file or a directory, examples and help text in
every `--help`, shell completion, `render` refusing a format its output's extension contradicts,
and a word on stderr about which network of several a command used.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from archc.cli import _parser
from tests.golden import ROOT
from tests.test_cli import LENET, run

SHELLS = ("bash", "zsh", "fish")
TWO = "network First {\n    input x: 3x8x8\n    conv 4 3x3\n}\n\nnetwork Second {\n    input x: 3x8x8\n    relu\n}\n"


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


COMMANDS = sorted(subcommands(_parser()))


# -- build -o ---------------------------------------------------------------------------------------
def test_build_output_ending_in_py_is_the_file(tmp_path: Path) -> None:
    target = tmp_path / "models" / "lenet.py"
    code, out, _ = run("build", LENET, "--target", "torch", "-o", str(target))
    assert code == 0 and f"wrote {target}" in out
    assert target.is_file() and target.read_text(encoding="utf-8").startswith("# archc-generated")
    assert sorted(p.name for p in target.parent.iterdir()) == ["lenet.py"]
    assert run("build", LENET, "--target", "torch", "-o", str(target))[0] == 0  # archc's own file: overwritten


def test_build_output_otherwise_is_a_directory(tmp_path: Path) -> None:
    for out_dir in (tmp_path / "out", tmp_path / "out.d"):
        assert run("build", LENET, "--target", "keras", "-o", str(out_dir))[0] == 0
        assert (out_dir / "lenet5_keras.py").is_file()


def test_build_never_overwrites_a_strangers_file_named_by_o(tmp_path: Path) -> None:
    mine = tmp_path / "mine.py"
    mine.write_text("print('hello')\n", encoding="utf-8")
    code, _, err = run("build", LENET, "--target", "torch", "-o", str(mine))
    assert code == 2 and "--force" in err
    assert mine.read_text(encoding="utf-8") == "print('hello')\n"


# -- help -------------------------------------------------------------------------------------------
def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]


def test_every_command_and_option_has_help_text() -> None:
    parser = _parser()
    missing = [f"archc {'/'.join(a.option_strings) or a.dest}" for a in options(parser) if not a.help]
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    described = {c.dest for c in sub._choices_actions if c.help}
    missing += [f"archc {name} (the command)" for name in subcommands(parser) if name not in described]
    for name, command in subcommands(parser).items():
        missing += [f"archc {name} {'/'.join(a.option_strings) or a.dest}" for a in options(command) if not a.help]
    assert missing == []


def test_the_help_walk_would_see_an_option_without_help() -> None:
    parser = _parser()
    subcommands(parser)["check"].add_argument("--undocumented", action="store_true")
    assert [a for a in options(subcommands(parser)["check"]) if not a.help]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_examples_that_parse(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0
    assert "\nexamples:\n" in out, out
    examples = [
        line.split("#")[0].split(" > ")[0].strip() for line in out.split("\nexamples:\n", 1)[1].splitlines() if line.startswith("  archc ")
    ]
    assert examples, out
    for example in examples:
        argv = shlex.split(example)[1:]
        assert argv[0] == command, example
        _parser().parse_args(argv)  # a real command line: argparse exits on anything else
    assert "  archc " in out.split("\nexamples:\n", 1)[1]


def test_top_level_help_shows_examples() -> None:
    code, out, _ = run("--help")
    assert code == 0 and "\nexamples:\n" in out and "archc completion" in out


# -- completion -------------------------------------------------------------------------------------
@pytest.mark.parametrize("shell", SHELLS)
def test_completion_names_every_command_and_option(shell: str) -> None:
    code, script, err = run("completion", shell)
    assert (code, err) == (0, "")
    for name, command in subcommands(_parser()).items():
        assert name in script
        for action in options(command):
            for flag in action.option_strings:
                spelled = flag.lstrip("-") if shell == "fish" else flag
                assert spelled in script, (shell, name, flag)
    assert "torch" in script and "keras" in script  # choices are offered


@pytest.mark.parametrize("shell", SHELLS)
def test_completion_script_is_valid_for_its_shell(shell: str, tmp_path: Path) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    code, text, _ = run("completion", shell)
    assert code == 0 and text.count("\n") > 10
    script = tmp_path / f"archc.{shell}"
    script.write_text(text, encoding="utf-8")
    done = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def complete_bash(tmp_path: Path, *words: str) -> list[str]:
    """What bash offers after `archc WORDS` (the last word is the one being completed)."""
    script = tmp_path / "archc.bash"
    script.write_text(run("completion", "bash")[1], encoding="utf-8")
    line = " ".join(shlex.quote(w) for w in ("archc", *words))
    probe = (
        f"source {shlex.quote(str(script))}\nCOMP_WORDS=({line})\nCOMP_CWORD={len(words)}\n_archc\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n"
    )
    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert done.returncode == 0, done.stderr
    return sorted(filter(None, done.stdout.splitlines()))


def test_bash_completes_commands_options_choices_and_specs(tmp_path: Path) -> None:
    assert complete_bash(tmp_path, "") == COMMANDS
    assert complete_bash(tmp_path, "--v") == ["--version"]
    assert complete_bash(tmp_path, "re") == ["render", "report"]
    assert complete_bash(tmp_path, "build", "--ta") == ["--target"]
    assert complete_bash(tmp_path, "build", "--target", "") == ["keras", "torch"]
    assert complete_bash(tmp_path, "render", "--format", "p") == ["pdf", "png"]
    assert complete_bash(tmp_path, "completion", "") == sorted(SHELLS)
    assert complete_bash(tmp_path, "check", "specs/l") == ["specs/lenet5.arch"]
    assert "specs/examples" in complete_bash(tmp_path, "fmt", "--check", "specs/")
    assert complete_bash(tmp_path, "summary", "--network", "") == []  # a name: nothing to guess


def test_completion_of_an_unknown_shell_is_a_usage_error() -> None:
    assert run("completion", "tcsh")[0] == 2


# -- render: --format against the output's extension ------------------------------------------------
@pytest.mark.parametrize(
    ("fmt", "out"), [("png", "fig.svg"), ("svg", "fig.png"), ("tex", "fig.pdf"), ("dot", "fig.svg"), ("pdf", "fig.tex")]
)
def test_render_refuses_a_format_the_extension_contradicts(fmt: str, out: str, tmp_path: Path) -> None:
    code, stdout, err = run("render", LENET, "--format", fmt, "-o", str(tmp_path / out))
    assert code == 2 and stdout == ""
    assert f"--format {fmt}" in err and Path(out).suffix in err
    assert not (tmp_path / out).exists()


def test_render_format_that_agrees_or_an_extension_of_no_format(tmp_path: Path) -> None:
    assert run("render", LENET, "--format", "dot", "-o", str(tmp_path / "fig.dot"))[0] == 0
    assert run("render", LENET, "--format", "dot", "-o", str(tmp_path / "fig.gv"))[0] == 0
    assert (tmp_path / "fig.gv").read_text(encoding="utf-8").startswith("digraph")


# -- several networks -------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["render", "report"])
def test_a_command_that_uses_one_network_of_several_says_which(command: str, tmp_path: Path) -> None:
    spec = tmp_path / "two.arch"
    spec.write_text(TWO, encoding="utf-8")
    out = tmp_path / ("two.dot" if command == "render" else "two.html")
    code, _, err = run(command, str(spec), "-o", str(out))
    assert code == 0
    assert "archc: using network First (the spec has First, Second; choose with --network)" in err
    code, _, err = run(command, str(spec), "-o", str(out), "--network", "Second")
    assert (code, err) == (0, "")
    assert "Second" in out.read_text(encoding="utf-8")
    code, _, err = run(command, LENET, "-o", str(out))
    assert (code, err) == (0, "")  # one network: nothing to say


def test_build_of_several_networks_writes_them_all_and_says_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "two.arch"
    spec.write_text(TWO, encoding="utf-8")
    code, _, err = run("build", str(spec), "--target", "torch", "-o", str(tmp_path / "two.py"))
    assert (code, err) == (0, "")
    text = (tmp_path / "two.py").read_text(encoding="utf-8")
    assert "class First(" in text and "class Second(" in text


def test_fish_completes_commands_options_choices_and_specs(tmp_path: Path) -> None:
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed")
    script = tmp_path / "archc.fish"
    script.write_text(run("completion", "fish")[1], encoding="utf-8")

    def complete(line: str) -> list[str]:
        probe = f"source {shlex.quote(str(script))}; complete -C {shlex.quote(line)}"
        done = subprocess.run(["fish", "--no-config", "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=30)
        assert done.returncode == 0, done.stderr
        return sorted(row.split("\t")[0] for row in done.stdout.splitlines())

    assert complete("archc re") == ["render", "report"]
    assert complete("archc build --target ") == ["keras", "torch"]
    assert complete("archc check specs/l") == ["specs/lenet5.arch"]
    assert complete("archc fmt --") == ["--check", "--help", "--in-place"]


ZPTY = r"""
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z 'PS1="%% "; fpath=(%(dir)s $fpath); autoload -U compinit; compinit -u -D; archc() { : }; setopt nobeep; LISTMAX=1000'
zpty -w -n z %(line)s$'\t'
local all="" chunk
for i in {1..300}; do
    if zpty -r -t z chunk; then all+="$chunk"; else sleep 0.1; fi
    [[ "$all" == *%(until)s* ]] && break
done
print -r -- "$all"
zpty -d z
"""


def test_zsh_completes_commands_and_choices(tmp_path: Path) -> None:
    """Completion as zsh's line editor runs it, on a pseudo-terminal (zsh/zpty)."""
    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed")
    (tmp_path / "_archc").write_text(run("completion", "zsh")[1], encoding="utf-8")
    for line, until, want in [("archc build --target ", "torch", ["keras", "torch"]), ("archc re", "report", ["render", "report"])]:
        probe = ZPTY % {"dir": shlex.quote(str(tmp_path)), "line": shlex.quote(line), "until": until}
        done = subprocess.run(["zsh", "-f", "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
        shown = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", done.stdout).split(line, 1)[-1]  # after the line as typed
        assert all(word in shown for word in want), shown
