"""A failure inside archc, generated code or a framework is an internal error (exit 4), never a spec error."""

from __future__ import annotations

from pathlib import Path

import pytest

import archc.build
from archc.cli import EXIT_INTERNAL, main

SPEC = Path(__file__).resolve().parents[1] / "specs" / "lenet5.arch"


def test_a_crash_inside_a_command_exits_4_with_a_bug_report_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def broken(*args: object, **kwargs: object) -> str:
        raise ZeroDivisionError("inside the generator")

    monkeypatch.setattr(archc.build, "generate", broken)
    assert main(["build", str(SPEC), "--target", "torch", "-o", str(tmp_path)]) == EXIT_INTERNAL == 4
    err = capsys.readouterr().err
    assert "archc: internal error: ZeroDivisionError: inside the generator" in err
    assert "please report it with the spec" in err and "Traceback (most recent call last)" in err
    assert not list(tmp_path.iterdir())  # nothing half-written
